"""Graph rewrites: each fires on its pattern, stays off where it would be wrong, and
never changes results (compared with the unrewritten graph, mode='fast_compile')."""
import numpy as np
import pytest
from random_graphs import random_elementwise  # noqa: E402  (tests/core/random_graphs.py)

import nnframe.tensor as T
from nnframe import Out, function, shared
from nnframe.core.mode import Mode
from nnframe.core.ops import nnet as N
from nnframe.core.ops.blas import Dot, Gemm
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.scalar import Composite

rng = np.random.default_rng(7)


def ops_of(f):
    return [n.op for n in f.maker.fgraph.toposort()]


def only(*passes):
    """A mode running only the given passes."""
    from nnframe.core.rewrite import PASSES
    return Mode(exclude=[name for name, _ in PASSES if name not in passes])


def same_as_unrewritten(inputs, outputs, values, mode=None):
    fast = function(inputs, outputs, mode=mode)
    slow = function(inputs, outputs, mode="fast_compile")
    for a, b in zip(fast(*values), slow(*values)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    return fast


# -- merge and constant folding ---------------------------------------------------------
def test_merge_computes_equal_subgraphs_once():
    x = T.dmatrix("x")
    a = T.exp(x).sum()
    b = T.exp(x).sum()        # built twice
    f = function([x], [a, b], mode=only("merge"))
    assert sum(isinstance(op, Elemwise) for op in ops_of(f)) == 1
    out = f(np.ones((2, 2)))
    assert out[0] is not out[1]   # the two outputs are still separate arrays


def test_constant_folding():
    x = T.dvector("x")
    c = T.constant(np.arange(3.0))
    f = function([x], x + T.exp(c) * 2, mode=only("constant_folding"))
    assert len(ops_of(f)) == 1
    np.testing.assert_allclose(f(np.zeros(3)), np.exp(np.arange(3.0)) * 2)


def test_constant_folding_leaves_random_draws_and_large_results():
    srng = T.random.RandomStream(seed=1)
    f = function([], srng.uniform((3,)) * 2, mode=only("constant_folding"))
    assert f().tolist() != f().tolist()
    big = function([], T.zeros((1024, 1024)) + 1, mode=only("constant_folding"))
    assert any(type(op).__name__ == "Alloc" for op in ops_of(big))


# -- canonicalisation -----------------------------------------------------------------------
@pytest.mark.parametrize("build", [lambda x: x * 1, lambda x: 1 * x, lambda x: x + 0,
                                   lambda x: x - 0, lambda x: x / 1, lambda x: -(-x),  # noqa: B002
                                   lambda x: x ** 1])
def test_useless_arithmetic_is_removed(build):
    x = T.dmatrix("x")
    f = function([x], build(x) * 3, mode=only("canonicalize", "constant_folding"))
    assert len(ops_of(f)) == 1
    np.testing.assert_allclose(f(np.ones((2, 2))), 3 * np.ones((2, 2)))


def test_identity_that_broadcasts_is_kept():
    r = T.drow("r")
    ones = T.constant(np.ones((3, 2)))
    f = function([r], r * ones, mode=only("canonicalize", "constant_folding"))
    assert f(np.array([[1.0, 2.0]])).shape == (3, 2)


def test_dimshuffle_chains_collapse():
    x = T.dmatrix("x")
    f = function([x], x.T.T * 2, mode=only("canonicalize", "constant_folding"))
    assert not any(type(op).__name__ == "DimShuffle" for op in ops_of(f))
    y = x.dimshuffle(0, "x", 1).dimshuffle(2, 0, 1)
    g = same_as_unrewritten([x], [y], [rng.normal(size=(2, 3))], mode=only("canonicalize", "constant_folding"))
    assert sum(type(op).__name__ == "DimShuffle" for op in ops_of(g)) == 1


def test_square_and_divide_then_multiply():
    x, z = T.dvectors("x", "z")
    f = function([x, z], [x ** 2, (x / z) * z], mode=only("canonicalize", "constant_folding"))
    names = [op.scalar_op.name for op in ops_of(f) if isinstance(op, Elemwise)]
    assert names == ["sqr"]
    np.testing.assert_allclose(f(np.array([3.0]), np.array([0.5]))[0], [9.0])


# -- stabilisation ----------------------------------------------------------------------------
EXTREME = np.array([[-1000.0, 0.0, 1000.0], [3.0, -2.0, 0.5]])


def test_log_softmax_is_finite_and_correct_at_extremes():
    x = T.dmatrix("x")
    out = T.log(T.nnet.softmax(x))
    f = function([x], [out, T.grad(out[:, 0].sum(), x)])
    assert any(isinstance(op, N.LogSoftmax) for op in ops_of(f))
    value, grad = f(EXTREME)
    shifted = EXTREME - EXTREME.max(axis=1, keepdims=True)
    want = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(value, want)
    assert np.isfinite(grad).all()
    sm = np.exp(want)
    np.testing.assert_allclose(grad, np.eye(3)[0] - sm, atol=1e-12)


def test_log_of_an_indexed_softmax_is_finite_and_correct_at_extremes():
    # -log(p[arange(n), y]): the loss as many Theano programs write it.
    x, y = T.dmatrix("x"), T.lvector("y")
    loss = -T.log(T.nnet.softmax(x)[T.arange(y.shape[0]), y]).mean()
    f = function([x, y], [loss, T.grad(loss, x)])
    assert any(isinstance(op, N.LogSoftmax) for op in ops_of(f))
    assert not any(isinstance(op, N.Softmax) for op in ops_of(f))
    yv = np.array([2, 0])
    value, grad = f(EXTREME, yv)
    shifted = EXTREME - EXTREME.max(axis=1, keepdims=True)
    log_sm = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(value, -log_sm[np.arange(2), yv].mean())
    np.testing.assert_allclose(grad, (np.exp(log_sm) - np.eye(3)[yv]) / 2, atol=1e-12)
    moderate = rng.normal(size=(4, 3))
    same_as_unrewritten([x, y], [loss, T.grad(loss, x)], [moderate, np.array([0, 2, 1, 1])])


def test_log_of_an_indexed_softmax_plus_one_is_left_alone():
    x = T.dmatrix("x")
    f = function([x], T.log(T.nnet.softmax(x)[0] + 1))
    assert not any(isinstance(op, N.LogSoftmax) for op in ops_of(f))


def test_crossentropy_of_softmax_is_computed_from_logits():
    x, y = T.dmatrix("x"), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).mean()
    f = function([x, y], [loss, T.grad(loss, x)])
    kinds = [type(op) for op in ops_of(f)]
    assert N.CrossentropySoftmax1Hot in kinds and N.Softmax not in kinds
    value, grad = f(EXTREME, np.array([0, 1]))
    shifted = EXTREME - EXTREME.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(value, -(logp[0, 0] + logp[1, 1]) / 2)
    np.testing.assert_allclose(grad, (np.exp(logp) - np.eye(3)[[0, 1]]) / 2, atol=1e-12)


def test_binary_crossentropy_of_sigmoid_is_finite_at_extremes():
    x, t = T.dvectors("x", "t")
    loss = T.nnet.binary_crossentropy(T.nnet.sigmoid(x), t).sum()
    f = function([x, t], [loss, T.grad(loss, x)])
    xv, tv = np.array([-1000.0, 1000.0, 0.0]), np.array([1.0, 0.0, 1.0])
    value, grad = f(xv, tv)
    np.testing.assert_allclose(value, 1000 + 1000 + np.log(2))
    np.testing.assert_allclose(grad, 1 / (1 + np.exp(-xv)) - tv)


def test_log1p_and_log_exp():
    x = T.dvector("x")
    f = function([x], [T.log(1 + x), T.log(T.exp(x))], mode=only("stabilize"))
    names = [op.scalar_op.name for op in ops_of(f) if isinstance(op, Elemwise)]
    assert names == ["log1p"]
    out = f(np.array([1e-20, 2.0]))
    assert out[0][0] == 1e-20               # log(1 + 1e-20) would be 0


def test_stabilisation_keeps_a_variable_the_gradient_is_taken_for():
    x = T.dvector("x")
    s = T.nnet.sigmoid(x)
    g = T.grad(T.log(s).sum(), s)           # w.r.t. the sigmoid output itself
    np.testing.assert_allclose(function([x], g)(np.array([0.0])), [2.0])


# -- specialisation and in-place ---------------------------------------------------------------
def sgd_step(W_value):
    W = shared(W_value.copy(), name="W")
    a, d = T.dmatrices("a", "d")
    f = function([a, d], [], updates=[(W, W - 0.1 * T.dot(a.T, d))])
    return W, f


def test_sgd_update_becomes_one_inplace_gemm():
    W, f = sgd_step(rng.normal(size=(3, 4)))
    gemms = [op for op in ops_of(f) if isinstance(op, Gemm)]
    assert len(gemms) == 1 and gemms[0].inplace
    assert not any(isinstance(op, Dot) for op in ops_of(f))
    before = W.get_value()
    av, dv = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    f(av, dv)
    np.testing.assert_allclose(W.get_value(), before - 0.1 * av.T @ dv)


@pytest.mark.parametrize("scaled", [True, False])
def test_a_product_read_elsewhere_is_not_recomputed_in_a_gemm(scaled):
    """Adam's ``m = 0.9 * m + 0.1 * g`` with ``g = dot(a.T, d)`` also squared for ``v``: a
    GEMM for ``m`` would compute the product a second time."""
    m = shared(np.zeros((3, 4)), name="m")
    v = shared(np.zeros((3, 4)), name="v")
    a, d = T.dmatrices("a", "d")
    g = T.dot(a.T, d)
    new_m = 0.9 * m + (0.1 * g if scaled else g)
    f = function([a, d], [], updates=[(m, new_m), (v, 0.99 * v + 0.01 * g ** 2)])
    assert not any(isinstance(op, Gemm) for op in ops_of(f))
    assert sum(isinstance(op, Dot) for op in ops_of(f)) == 1
    av, dv = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))
    f(av, dv)
    gv = av.T @ dv
    np.testing.assert_allclose(m.get_value(), 0.1 * gv if scaled else gv)
    np.testing.assert_allclose(v.get_value(), 0.01 * gv ** 2)


def test_large_gemm_goes_through_blas_and_matches_numpy():
    W, f = sgd_step(rng.normal(size=(200, 300)).astype("float64"))
    before = W.get_value()
    av, dv = rng.normal(size=(64, 200)), rng.normal(size=(64, 300))
    f(av, dv)
    np.testing.assert_allclose(W.get_value(), before - 0.1 * av.T @ dv, rtol=1e-10)


def test_inplace_gemm_whose_product_reads_the_matrix_it_updates():
    # W - 0.1 * dot(W.T, W) in place: the BLAS must not read W as it writes it (512 is more
    # than its block of k, so the second block would read the half-updated W)
    w0 = rng.normal(size=(512, 512))
    W = shared(w0.copy(), name="W")
    f = function([], [], updates=[(W, W - 0.1 * T.dot(W.T, W))])
    f()
    np.testing.assert_allclose(W.get_value(), w0 - 0.1 * w0.T @ w0, rtol=1e-10, atol=1e-10)


def test_inplace_update_never_touches_a_borrowed_array():
    W, f = sgd_step(np.ones((3, 4)))
    held = W.get_value(borrow=True)          # the caller keeps the stored array
    f(np.ones((2, 3)), np.ones((2, 4)))
    np.testing.assert_array_equal(held, np.ones((3, 4)))
    assert not np.array_equal(W.get_value(), held)
    mine = np.ones((3, 4))
    W.set_value(mine, borrow=True)           # and an array handed over with borrow
    f(np.ones((2, 3)), np.ones((2, 4)))
    np.testing.assert_array_equal(mine, np.ones((3, 4)))


def test_inplace_update_is_off_when_the_old_value_is_an_output():
    W = shared(np.ones((2, 2)), name="W")
    a = T.dmatrix("a")
    f = function([a], W, updates=[(W, W - T.dot(a, a))])
    assert not any(getattr(op, "destroy_map", None) for op in ops_of(f))
    old = f(np.ones((2, 2)))
    np.testing.assert_array_equal(old, np.ones((2, 2)))
    np.testing.assert_array_equal(W.get_value(), -np.ones((2, 2)))


def test_inplace_elemwise_does_not_destroy_a_buffer_read_later():
    x = T.dvector("x")
    h = T.exp(x)
    a = h * 2            # could overwrite h ...
    b = h + a            # ... but h is still read here
    f = same_as_unrewritten([x], [b], [np.array([0.0, 1.0])], mode=only("inplace"))
    np.testing.assert_allclose(f(np.array([0.0, 1.0]))[0], 3 * np.exp([0.0, 1.0]))


def test_inplace_never_destroys_inputs_or_constants():
    x = T.dvector("x")
    c = T.constant(np.array([1.0, 2.0]))
    f = function([x], (x + 1) * 2 + c, mode=only("inplace"))
    value = np.array([1.0, 2.0])
    f(value)
    f(value)
    np.testing.assert_array_equal(value, [1.0, 2.0])
    np.testing.assert_array_equal(c.data, [1.0, 2.0])


# -- fusion ----------------------------------------------------------------------------------
def test_fusion_makes_one_node_of_an_elementwise_chain():
    a, b = T.fscalars("a", "b")
    x = T.fvector("x")
    out = T.tanh(a * x + b) * T.nnet.sigmoid(x)
    f = same_as_unrewritten([a, x, b], [out], [np.float32(0.7), rng.normal(size=50).astype("float32"),
                                                np.float32(-0.2)])
    composites = [op for op in ops_of(f) if isinstance(op, Elemwise)
                  and isinstance(op.scalar_op, Composite)]
    assert len(composites) == 1 and len(composites[0].scalar_op.steps) == 5


def test_fusion_keeps_values_used_outside_the_group():
    x = T.dvector("x")
    h = T.exp(x)
    f = same_as_unrewritten([x], [h * 2 + 1, h.sum()], [np.array([0.0, 1.0])])
    assert any(isinstance(op, Elemwise) and op.scalar_op.name == "exp" for op in ops_of(f))


def test_mode_can_leave_fusion_out():
    x = T.dvector("x")
    f = function([x], T.exp(x) * 2 + 1, mode=Mode(exclude=["fusion"]))
    assert not any(isinstance(op, Elemwise) and isinstance(op.scalar_op, Composite)
                   for op in ops_of(f))


# -- buffers kept between calls ---------------------------------------------------------------
def test_outputs_of_successive_calls_are_independent():
    x = T.dvector("x")
    f = function([x], T.exp(x) * 2 + 1)
    first = f(np.zeros(1000))
    second = f(np.ones(1000))
    assert not np.shares_memory(first, second)
    np.testing.assert_allclose(first, 3.0)


def test_borrowed_output_buffer_is_reused():
    x = T.dvector("x")
    # A NumPy-backend optimisation (a device backend downloads into a new array).
    f = function([x], Out(T.exp(x) * 2 + 1, borrow=True), mode="numpy")
    first = f(np.zeros(1000))
    second = f(np.ones(1000))
    assert np.shares_memory(first, second)
    np.testing.assert_allclose(second, 2 * np.e + 1)


@pytest.mark.parametrize("n", [1000, 400_000])      # straight-line and blocked kernels
def test_a_borrowed_output_passed_back_as_input_is_read_before_it_is_overwritten(n):
    # x = f(x) in a loop: the next call writes into the buffer it reads as x.
    a, b = T.fscalars("a", "b")
    x = T.fvector("x")
    expr = T.tanh(a * x + b) * T.nnet.sigmoid(x)
    f = function([a, x, b], [Out(expr, borrow=True), x.sum()], mode="numpy")
    g = function([a, x, b], [expr, x.sum()], mode="fast_compile")
    xv = np.random.default_rng(0).normal(size=n).astype(np.float32)
    want, got = xv, xv
    for _ in range(3):
        want, want_sum = g(0.5, want, 0.1)
        got, got_sum = f(0.5, got, 0.1)
        np.testing.assert_array_equal(got, want)
        assert got_sum == want_sum


def test_update_values_are_never_reused_buffers():
    s = shared(np.zeros(1000), name="s")
    f = function([], [], updates=[(s, T.exp(s) * 2 + 1)])
    f()
    kept = s.get_value(borrow=True)
    f()
    np.testing.assert_allclose(kept, 3.0)


# -- random graphs: rewritten == unrewritten ----------------------------------------------------
def random_graph(seed, leaves):
    pool, outs = random_elementwise(seed, leaves)
    return outs + [T.dot(outs[0], pool[len(leaves)].T).sum()]


@pytest.mark.parametrize("seed", range(25))
def test_random_graphs_and_their_gradients_match_the_unrewritten_graph(seed):
    x, y = T.dmatrices("x", "y")
    b = T.drow("b")
    outs = random_graph(seed, [x, y, b])
    cost = sum(o.sum() for o in outs)
    grads = T.grad(cost, [x, y, b], disconnected_inputs="ignore")
    values = [rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(1, 3))]
    f = same_as_unrewritten([x, y, b], outs + grads, values)
    for _ in range(2):   # kept buffers and in-place ops: repeated calls agree too
        f2 = function([x, y, b], outs + grads, mode="fast_compile")
        for a, c in zip(f(*values), f2(*values)):
            np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-9)


def test_increments_of_disjoint_parts_of_zeros_fill_one_buffer_in_place():
    from nnframe.core.ops.subtensor import IncSubtensor
    g = T.dmatrix("g")
    z = T.zeros_like(g)
    parts = [T.inc_subtensor(z[:, a:b], T.tanh(g[:, a:b])) for a, b in ((0, 2), (2, 5), (5, None))]
    total = parts[0] + parts[1] + parts[2]
    f = function([g], total)
    nodes = f.maker.fgraph.toposort()
    incs = [n for n in nodes if isinstance(n.op, IncSubtensor)]
    assert len(incs) == 3 and all(n.op.inplace for n in incs)
    assert not any(getattr(n.op, "scalar_op", None) is not None and n.op.scalar_op.name == "add"
                   for n in nodes)
    gv = np.random.default_rng(1).normal(size=(3, 7))
    np.testing.assert_allclose(f(gv), np.tanh(gv))


def test_overlapping_increments_are_summed_not_chained():
    g = T.dmatrix("g")
    z = T.zeros_like(g)
    total = T.inc_subtensor(z[:, :3], g[:, :3]) + T.inc_subtensor(z[:, 2:], g[:, 2:])
    gv = np.arange(12.0).reshape(3, 4)
    want = gv.copy()
    want[:, 2] *= 2
    np.testing.assert_allclose(function([g], total)(gv), want)


def test_a_very_long_elementwise_chain_is_fused_in_pieces():
    from nnframe.core.rewrite.fusion import MAX_STEPS
    x = T.dvector("x")
    y = x
    for _ in range(1500):
        y = T.tanh(y) * 1.0001 + 0.001
    f = function([x], y)
    composites = [n.op.scalar_op for n in f.maker.fgraph.nodes()
                  if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]
    assert composites and all(len(c.steps) <= MAX_STEPS for c in composites)
    expected = np.ones(3)
    for _ in range(1500):
        expected = np.tanh(expected) * 1.0001 + 0.001
    np.testing.assert_allclose(f(np.ones(3)), expected)
