"""Random streams: Philox4x32-10 reference, stream definition, reproducibility,
distributions, shapes and dtypes, gradients by reparameterisation, updates."""
import math

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, shared, verify_grad
from nnframe.backends.numpy.random import philox4x32
from nnframe.core.ops import random as random_ops
from nnframe.tensor.random import RandomStream, RandomStreams

N = 100_000


# -- Philox4x32-10 and the stream definition ----------------------------------------------
KNOWN_ANSWERS = [  # Random123's kat_vectors for philox4x32_10
    ((0, 0, 0, 0), (0, 0), (0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8)),
    ((0xffffffff,) * 4, (0xffffffff, 0xffffffff), (0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd)),
    ((0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344), (0xa4093822, 0x299f31d0),
     (0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1)),
]


@pytest.mark.parametrize("counter, key, expected", KNOWN_ANSWERS)
def test_philox_known_answers(counter, key, expected):
    out = philox4x32(counter, key)
    assert out.dtype == np.uint32
    assert tuple(int(w) for w in out) == expected


def test_philox_is_vectorised_over_counters():
    counters = np.array([c for c, _, _ in KNOWN_ANSWERS[:2]], dtype=np.uint32)
    batch = philox4x32(counters, (0, 0))
    assert batch.shape == (2, 4)
    np.testing.assert_array_equal(batch[0], philox4x32(counters[0], (0, 0)))
    np.testing.assert_array_equal(batch[1], philox4x32(counters[1], (0, 0)))


def reference_words(state, n_words):
    """Words of the stream at state = [key, substream, counter], block by block (the spec)."""
    key, sub, ctr = (int(v) for v in state)
    words = []
    for b in range((n_words + 3) // 4):
        c = (ctr + b) % 2 ** 64
        block = philox4x32([c & 0xffffffff, c >> 32, sub & 0xffffffff, sub >> 32],
                           (key & 0xffffffff, key >> 32))
        words.extend(int(w) for w in block)
    return np.array(words[:n_words], dtype=np.uint64)


def raw_draw(op, state_value, size, *params):
    """Run a raw draw Op once on a fixed state: (new_state, sample)."""
    state = shared(np.array(state_value, dtype=np.uint64), shape=(3,))
    new_state, sample = op(state, size, *params)
    return function([], [new_state, sample])()


@pytest.mark.parametrize("state", [[7, 3, 0], [2 ** 64 - 1, 2 ** 40 + 5, 2 ** 32 - 1],
                                   [1, 0, 2 ** 64 - 1]])
def test_uniform_float32_follows_the_stream_definition(state):
    # Counter carries across 32 bits and wraps mod 2**64; substream in lanes 2 and 3.
    new_state, u = raw_draw(random_ops.RandomUniform(1, "float32"), state, [6])
    w = reference_words(state, 6)
    np.testing.assert_array_equal(u, (w >> 8).astype(np.float32) * np.float32(2.0 ** -24))
    assert u.dtype == np.float32
    assert new_state.tolist() == [state[0], state[1], (state[2] + 2) % 2 ** 64]


def test_uniform_float64_and_normal_follow_the_stream_definition():
    state = [11, 2, 5]
    w = reference_words(state, 8)
    u = (((w[0::2] >> 5) << 26) + (w[1::2] >> 6)).astype(np.float64) * 2.0 ** -53
    new_state, got = raw_draw(random_ops.RandomUniform(1, "float64"), state, [4])
    np.testing.assert_array_equal(got, u)
    assert int(new_state[2]) == 5 + 2
    # Box-Muller on pairs (u[2k], u[2k+1]); an odd count drops the last sine.
    new_state, z = raw_draw(random_ops.RandomNormal(1, "float64"), state, [3])
    r = np.sqrt(-2 * np.log(1 - u[0::2]))
    expected = np.stack([r * np.cos(2 * np.pi * u[1::2]), r * np.sin(2 * np.pi * u[1::2])], 1)
    np.testing.assert_allclose(z, expected.reshape(-1)[:3], rtol=1e-15)
    assert int(new_state[2]) == 5 + 2


def test_integer_draws_follow_the_stream_definition():
    state = [3, 1, 0]
    w = reference_words(state, 2 * 5)
    _, ints = raw_draw(random_ops.RandomIntegers(1), state, [5], -2, 4)
    np.testing.assert_array_equal(ints, -2 + ((w[:5] * 7) >> 32).astype(np.int64))
    _, perm = raw_draw(random_ops.RandomPermutation(0), state, [], 5)
    keys = (w[0::2] << np.uint64(32)) | w[1::2]
    np.testing.assert_array_equal(perm, np.argsort(keys, kind="stable"))


def test_successive_calls_read_successive_blocks():
    srng = RandomStream(seed=9)
    f = function([], srng.uniform((3,), dtype="float32"))
    first, second = f(), f()
    w = reference_words([9, 0, 0], 8)
    np.testing.assert_array_equal(first, (w[0:3] >> 8).astype(np.float32) * np.float32(2.0 ** -24))
    np.testing.assert_array_equal(second, (w[4:7] >> 8).astype(np.float32) * np.float32(2.0 ** -24))
    assert srng.state_variables[0].get_value().tolist() == [9, 0, 2]


# -- reproducibility --------------------------------------------------------------
def draws(seed, calls=2):
    srng = RandomStream(seed=seed)
    f = function([], [srng.uniform((5,)), srng.normal((5,)), srng.binomial((5,), p=0.5)])
    return [v for _ in range(calls) for v in f()]


def test_same_seed_same_numbers_and_different_seeds_differ():
    a, b, c = draws(123), draws(123), draws(124)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])


def test_successive_calls_and_draws_in_one_stream_differ():
    srng = RandomStream(seed=5)
    u, v = srng.uniform((50,)), srng.uniform((50,))
    f = function([], [u, v])
    first_u, first_v = f()
    second_u, _ = f()
    assert not np.array_equal(first_u, first_v)
    assert not np.array_equal(first_u, second_u)
    assert len(srng.state_variables) == 2


def test_reseeding_restarts_every_draw():
    srng = RandomStream(seed=1)
    f = function([], [srng.uniform((4,)), srng.permutation(n=6)])
    first = f()
    f()
    srng.seed(1)
    np.testing.assert_array_equal(f()[0], first[0])
    srng.seed(77)
    fresh = RandomStream(seed=77)
    g = function([], [fresh.uniform((4,)), fresh.permutation(n=6)])
    for x, y in zip(f(), g()):
        np.testing.assert_array_equal(x, y)


def test_values_do_not_depend_on_the_mode():
    srng = RandomStream(seed=31)
    outs = [srng.uniform((7,), low=-2.0, high=3.0), srng.normal((2, 3), avg=1.0, std=2.0),
            srng.binomial((6,), n=4, p=0.3), srng.choice((5,), a=4, p=[0.1, 0.2, 0.3, 0.4]),
            srng.choice((3,), a=6, replace=False), srng.permutation((2,), n=4),
            srng.random_integers((5,), low=-3, high=3)]
    fast = function([], outs, mode="numpy")()
    srng.seed(31)
    debug = function([], outs, mode="debug")()
    for x, y in zip(fast, debug):
        np.testing.assert_array_equal(x, y)


# -- updates ------------------------------------------------------------------------
def test_explicit_updates_equal_default_updates():
    a, b = RandomStream(seed=4), RandomStream(seed=4)
    fa = function([], a.normal((3,)))
    fb = function([], b.normal((3,)), updates=b.updates())
    for _ in range(3):
        np.testing.assert_array_equal(fa(), fb())
    (state, new_state), = b.updates()
    assert state is b.state_variables[0] and state.default_update is new_state


def test_explicit_updates_win_over_default_updates():
    srng = RandomStream(seed=4)
    u = srng.uniform((3,))
    state = srng.state_variables[0]
    frozen = function([], u, updates=[(state, state)])
    np.testing.assert_array_equal(frozen(), frozen())
    moving = function([], u)
    assert not np.array_equal(moving(), moving())


def test_functions_without_the_draw_leave_its_state_alone():
    srng = RandomStream(seed=4)
    srng.uniform((3,))
    x = T.dscalar('x')
    function([x], x * 2)(1.0)
    assert srng.state_variables[0].get_value().tolist() == [4, 0, 0]


# -- distributions ----------------------------------------------------------------
def sample(expr, inputs=(), values=()):
    return function(list(inputs), expr)(*values)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_range_mean_and_variance(dtype):
    u = sample(RandomStream(seed=1).uniform((N,), low=-1.0, high=3.0, dtype=dtype))
    assert u.dtype == dtype
    assert u.min() >= -1.0 and u.max() < 3.0
    assert abs(u.mean() - 1.0) < 0.02
    assert abs(u.var() - 16 / 12) < 0.02


def normal_cdf(x):
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_moments_and_ks_distance(dtype):
    z = sample(RandomStream(seed=2).normal((N,), dtype=dtype))
    assert z.dtype == dtype and np.isfinite(z).all()
    assert abs(z.mean()) < 0.015 and abs(z.var() - 1) < 0.02
    x = np.sort(z.astype(np.float64))[::100]  # KS distance on every 100th order statistic
    empirical = (np.arange(z.size)[::100] + 0.5) / z.size
    assert np.abs(normal_cdf(x) - empirical).max() < 0.01
    shifted = sample(RandomStream(seed=2).normal((N,), avg=3.0, std=0.5, dtype=dtype))
    np.testing.assert_allclose(shifted, 3 + 0.5 * z, rtol=1e-6)


@pytest.mark.parametrize("n, p", [(1, 0.3), (10, 0.25)])
def test_binomial_mean_and_variance(n, p):
    b = sample(RandomStream(seed=3).binomial((N // 2,), n=n, p=p))
    assert b.dtype == np.int64 and b.min() >= 0 and b.max() <= n
    assert abs(b.mean() - n * p) < 0.02 * n
    assert abs(b.var() - n * p * (1 - p)) < 0.05 * n


def test_binomial_with_broadcast_parameters():
    p = T.dvector('p')
    b = RandomStream(seed=3).binomial((20000, 3), n=[[1, 2, 4]], p=p)
    counts = function([p], b)(np.array([0.0, 0.5, 1.0]))
    assert counts.shape == (20000, 3)
    assert (counts[:, 0] == 0).all() and (counts[:, 2] == 4).all()
    assert abs(counts[:, 1].mean() - 1.0) < 0.03


def test_choice_frequencies_follow_p():
    weights = np.array([0.1, 0.0, 0.6, 0.3])
    c = sample(RandomStream(seed=4).choice((N,), a=4, p=weights))
    freq = np.bincount(c, minlength=4) / N
    np.testing.assert_allclose(freq, weights, atol=0.01)
    assert freq[1] == 0


def test_choice_uniform_and_symbolic_weights():
    c = sample(RandomStream(seed=5).choice((N,), a=5))
    np.testing.assert_allclose(np.bincount(c, minlength=5) / N, 0.2, atol=0.01)
    p = T.fvector('p')
    c = function([p], RandomStream(seed=5).choice((N,), a=3, p=p))(
        np.array([2, 1, 1], dtype='float32'))  # weights are normalised
    np.testing.assert_allclose(np.bincount(c, minlength=3) / N, [0.5, 0.25, 0.25], atol=0.01)


def test_choice_without_replacement():
    srng = RandomStream(seed=6)
    f = function([], srng.choice((2, 5), a=10, replace=False))
    firsts = []
    for _ in range(300):
        c = f()
        assert c.shape == (2, 5) and sorted(c.ravel().tolist()) == list(range(10))
        firsts.append(c[0, 0])
    assert len(set(firsts)) == 10


def test_weighted_choice_without_replacement():
    # First pick ~ p; zero-weight items are never picked.
    weights = np.array([0.5, 0.3, 0.2, 0.0])
    f = function([], RandomStream(seed=7).choice((3,), a=4, replace=False, p=weights))
    picks = np.array([f() for _ in range(3000)])
    assert (picks != 3).all() and all(len(set(row)) == 3 for row in picks[:50])
    np.testing.assert_allclose(np.bincount(picks[:, 0], minlength=4) / 3000, weights, atol=0.03)


def test_permutations_are_uniform():
    perms = sample(RandomStream(seed=8).permutation((60000,), n=3))
    assert perms.shape == (60000, 3) and perms.dtype == np.int64
    assert (np.sort(perms, axis=1) == [0, 1, 2]).all()
    codes = perms[:, 0] * 9 + perms[:, 1] * 3 + perms[:, 2]
    _, counts = np.unique(codes, return_counts=True)
    assert len(counts) == 6
    np.testing.assert_allclose(counts / 60000, 1 / 6, atol=0.01)


def test_permutation_of_symbolic_n():
    n = T.lscalar('n')
    perm = function([n], RandomStream(seed=8).permutation(n=n))
    assert sorted(perm(7).tolist()) == list(range(7))
    assert perm(0).shape == (0,)


def test_random_integers_are_inclusive_and_uniform():
    r = sample(RandomStream(seed=9).random_integers((N,), low=-2, high=2))
    np.testing.assert_allclose(np.bincount(r + 2, minlength=5) / N, 0.2, atol=0.01)
    assert r.min() == -2 and r.max() == 2


# -- dtypes and shapes ------------------------------------------------------------
def test_default_dtypes():
    srng = RandomStream(seed=0)
    assert config.floatX == "float32"
    assert srng.uniform((2,)).dtype == "float32" and srng.normal((2,)).dtype == "float32"
    assert srng.normal((2,), dtype="float64").dtype == "float64"
    assert srng.normal((2,), avg=T.dscalar()).dtype == "float64"  # symbolic float64 upcasts
    assert srng.binomial((2,)).dtype == "int64"
    assert srng.binomial((2,), dtype="float32").dtype == "float32"
    assert srng.choice((2,)).dtype == "int64" and srng.permutation(n=3).dtype == "int64"
    with config.change_flags(floatX="float64"):
        assert srng.uniform((2,)).dtype == "float64"


def test_tuple_and_symbolic_sizes():
    srng = RandomStream(seed=0)
    rows, vec = T.lscalar('rows'), T.lvector('shape')
    u = srng.uniform((rows, 3))
    v = srng.normal(vec, ndim=3)
    assert u.type.shape == (None, 3) and v.ndim == 3
    a, b = function([rows, vec], [u, v])(4, np.array([2, 1, 5]))
    assert a.shape == (4, 3) and b.shape == (2, 1, 5)
    assert srng.uniform(5).type.shape == (5,) and srng.uniform(()).ndim == 0


def test_parameters_broadcast_with_size():
    srng = RandomStream(seed=0)
    avg = T.dvector('avg')
    z = srng.normal((1000, 3), avg=avg, std=0.01)
    out = function([avg], z)(np.array([-5.0, 0.0, 5.0]))
    assert out.shape == (1000, 3)
    np.testing.assert_allclose(out.mean(axis=0), [-5, 0, 5], atol=0.01)
    # size=None: the broadcast shape of the parameters, as in NumPy
    low, high = T.dcol('low'), T.drow('high')
    u = srng.uniform(low=low, high=high)
    value = function([low, high], u)(np.zeros((2, 1)), np.arange(1.0, 4.0)[None])
    assert value.shape == (2, 3) and (value < np.arange(1.0, 4.0)).all()


def test_bad_arguments_raise_clear_errors():
    srng = RandomStream(seed=0)
    with pytest.raises(ValueError, match="ndim="):
        srng.uniform(T.lvector())
    with pytest.raises(ValueError, match="avg .* does not broadcast to size"):
        srng.normal((2, 4), avg=np.zeros(3))
    assert srng.state_variables == []  # no draw was made
    with pytest.raises(ValueError, match="more dimensions"):
        srng.normal((3,), avg=T.dmatrix())
    with pytest.raises(ValueError, match="negative"):
        srng.uniform((2, -1))
    with pytest.raises(TypeError, match="use one of float32, float64"):
        srng.uniform((2,), dtype="int32")
    with pytest.raises(TypeError, match="seed"):
        RandomStream(seed=1.5)
    with pytest.raises(ValueError, match="2\\*\\*64"):
        RandomStream(seed=-1)
    with pytest.raises(ValueError, match="3 weights"):
        srng.choice((2,), a=4, p=[0.5, 0.25, 0.25])
    f = function([], srng.choice((5,), a=3, replace=False))
    with pytest.raises(ValueError, match="cannot draw 5 from 3"):
        f()
    p = T.dvector('p')
    g = function([p], srng.binomial((4,), p=p))
    with pytest.raises(ValueError, match="does not broadcast"):
        g(np.full(3, 0.5))
    with pytest.raises(ValueError, match="p must lie"):
        g(np.full(4, 1.5))


# -- gradients ----------------------------------------------------------------------
def test_gradients_through_normal_by_reparameterisation():
    avg, std = T.dscalars('avg', 'std')
    x = RandomStream(seed=10).normal((200,), avg=avg, std=std)
    loss = (x ** 2).sum()
    g_avg, g_std = T.grad(loss, [avg, std])
    value, ga, gs = function([avg, std], [x, g_avg, g_std])(1.5, 0.7)
    z = (value - 1.5) / 0.7
    np.testing.assert_allclose(ga, 2 * value.sum(), rtol=1e-10)
    np.testing.assert_allclose(gs, 2 * (value * z).sum(), rtol=1e-10)


def test_gradients_through_uniform_bounds():
    low, high = T.dscalars('low', 'high')
    x = RandomStream(seed=11).uniform((50,), low=low, high=high)
    g_low, g_high = T.grad(x.sum(), [low, high])
    value, gl, gh = function([low, high], [x, g_low, g_high])(-1.0, 2.0)
    u = (value + 1.0) / 3.0
    np.testing.assert_allclose([gl, gh], [(1 - u).sum(), u.sum()], rtol=1e-10)


def test_verify_grad_with_a_frozen_draw():
    # A draw whose state never advances gives the same numbers to every
    # evaluation, so finite differences see a fixed function of avg and std.
    state = shared(np.array([5, 0, 0], dtype=np.uint64), shape=(3,))
    _, z = random_ops.RandomNormal(1, "float64")(state, [4])
    verify_grad(lambda avg, std: T.tanh(avg + std * z), [np.array([0.3]), np.array([1.2])])


def test_raw_draws_have_no_gradient_and_are_not_folded():
    for op in (random_ops.RandomUniform(1, "float32"), random_ops.RandomNormal(0, "float64"),
               random_ops.RandomBinomial(1, "int64"), random_ops.RandomChoice(1),
               random_ops.RandomPermutation(0)):
        assert op.do_constant_folding is False
    state = shared(np.array([5, 0, 0], dtype=np.uint64), shape=(3,))
    node = random_ops.RandomNormal(1, "float64").make_node(state, [4])
    assert node.op.L_op(node.inputs, node.outputs, [None, T.dvector()]) == [None, None]


def test_choice_of_items_indexes_the_vector():
    items = np.array([10.0, 20.0, 30.0])
    c = sample(RandomStream(seed=12).choice((1000,), a=items))
    assert c.dtype == np.float64 and set(np.unique(c)) == {10.0, 20.0, 30.0}


def test_theano_alias_and_state_variables():
    assert RandomStreams is RandomStream
    srng = RandomStreams(seed=3, name="drop")
    srng.uniform((2,))
    srng.normal((2,))
    names = [s.name for s in srng.state_variables]
    assert names == ["drop/state0", "drop/state1"]
    assert all(s.get_value().dtype == np.uint64 for s in srng.state_variables)
    assert RandomStream().base_seed != RandomStream().base_seed  # OS entropy


def test_no_default_updates_freezes_the_streams_it_names():
    # Theano's tutorial: g = function([], rv_n, no_default_updates=True) repeats itself.
    srng, other = RandomStream(seed=234), RandomStream(seed=5)
    rv_u, rv_n = srng.uniform((2, 2)), other.normal((2, 2))
    frozen = function([], [rv_u, rv_n], no_default_updates=True)
    first = frozen()
    for x, y in zip(first, frozen()):
        np.testing.assert_array_equal(x, y)
    only_n = function([], [rv_u, rv_n], no_default_updates=other.state_variables)
    a, b = only_n(), only_n()
    assert not np.array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(TypeError, match="no_default_updates must be True, False or a list"):
        function([], rv_u, no_default_updates="yes")
