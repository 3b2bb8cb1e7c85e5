"""Launch plans: from the third call with the same input shapes an OpenCL function replays the
kernels it recorded (nnframe.backends.opencl.replay).  A replayed call must give what the
call run node by node gives, bit for bit, whatever changes between calls that the plan
cannot see: the data, labels out of range, a learning rate set by set_value, a random
generator's state, a branch, a result whose shape depends on data, hidden state."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

import nnframe.tensor as T  # noqa: E402
from nnframe import config, function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.core.function import Out  # noqa: E402
from nnframe.core.ops import random as R  # noqa: E402
from nnframe.ifelse import ifelse  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from nnframe_workloads import mlp_step, w1_problem  # noqa: E402

rng = np.random.default_rng(11)


def replayer(f):
    return f.maker.linked.run


def unplanned(build):
    """``build()`` compiled with launch plans off (the reference)."""
    with config.change_flags(opencl_replay=False):
        return build()


def small_mlp_problem(seed=0):
    r = np.random.default_rng(seed)
    params = [r.normal(0, 0.3, (20, 16)).astype("float32"), np.zeros(16, "float32"),
              r.normal(0, 0.3, (16, 16)).astype("float32"), np.zeros(16, "float32"),
              r.normal(0, 0.3, (16, 10)).astype("float32"), np.zeros(10, "float32")]
    return params


def batches(n, rows=32, cols=20, seed=3):
    r = np.random.default_rng(seed)
    return [(r.normal(size=(rows, cols)).astype("float32"), r.integers(0, 10, rows))
            for _ in range(n)]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_steps_replayed_equal_steps_run_node_by_node_bit_for_bit(optimizer):
    params = small_mlp_problem()
    step, ps = mlp_step(params, 0.05, mode="opencl", optimizer=optimizer)
    ref, qs = unplanned(lambda: mlp_step(params, 0.05, mode="opencl", optimizer=optimizer))
    for X, y in batches(8):
        assert float(step(X, y)) == float(ref(X, y))
    for p, q in zip(ps, qs):
        np.testing.assert_array_equal(p.get_value(), q.get_value())
    stats = replayer(step).stats
    # the first call (parameters still on the host), the first with them on the device,
    # two captures, then plans
    assert stats["plans"] == 1 and stats["replayed"] == 8 - 4, stats
    assert "live" not in replayer(step).describe().replace("DimShuffle", "")  \
        or optimizer == "adam"          # Adam's step counter is computed on the host


def test_the_w1_step_replays_every_group_and_enqueues_what_a_plain_call_does():
    params, X, y, _ = w1_problem()
    step, _ = mlp_step(params, 0.01, mode="opencl", lazy_loss=True)
    ref, _ = unplanned(lambda: mlp_step(params, 0.01, mode="opencl", lazy_loss=True))
    for _ in range(3):
        step(X, y), ref(X, y)
    counts = []
    for f in (step, ref):
        opencl.reset_transfer_counts()
        f(X, y).get()
        counts.append(opencl.device_counts())
    for c in counts:
        c.pop("wait_seconds")
    assert counts[0] == counts[1]
    description = replayer(step).describe()
    assert "live" not in description, description   # labels are checked, not run live


def test_labels_out_of_range_still_raise_when_replayed():
    params = small_mlp_problem()
    step, ps = mlp_step(params, 0.05, mode="opencl")
    data = batches(4)
    for X, y in data + data[:1]:
        step(X, y)
    assert replayer(step).stats["replayed"] == 1
    before = [p.get_value() for p in ps]
    X, y = data[0]
    bad = y.copy()
    bad[5] = 10
    with pytest.raises(IndexError, match="class index 10"):
        step(X, bad)
    for p, b in zip(ps, before):     # a failed call changes nothing
        np.testing.assert_array_equal(p.get_value(), b)
    bad[5] = -1
    with pytest.raises(IndexError, match="class index -1"):
        step(X, bad)
    step(X, y)                       # and the plan goes on
    assert replayer(step).stats["replayed"] == 2


def test_a_learning_rate_set_between_replayed_calls_is_used():
    x = shared(np.ones(1000, "float32"), name="x")
    lr = shared(np.float32(0.5), name="lr")
    f = function([], x.sum(), updates=[(x, x - lr * x)], mode="opencl")
    sums = [f() for _ in range(4)]
    lr.set_value(np.float32(0.25))
    sums += [f() for _ in range(3)]
    expected = [1000.0 * 0.5 ** k for k in range(5)] + [1000 * 0.5 ** 4 * 0.75 ** k
                                                        for k in (1, 2)]
    np.testing.assert_allclose(sums, expected, rtol=1e-6)
    assert replayer(f).stats["replayed"] >= 2


def test_another_batch_size_gets_its_own_plan_and_the_first_is_kept():
    params = small_mlp_problem()
    step, ps = mlp_step(params, 0.05, mode="opencl")
    ref, qs = unplanned(lambda: mlp_step(params, 0.05, mode="opencl"))
    sizes = [32] * 4 + [7] * 4 + [32] * 2 + [7] * 2
    for k, rows in enumerate(sizes):
        (X, y), = batches(1, rows=rows, seed=k)
        assert float(step(X, y)) == float(ref(X, y))
    stats = replayer(step).stats
    # 32 rows: 2 plain calls, 2 captures; 7 rows: 1 plain, 2 captures, 1 replayed; then all
    assert stats["plans"] == 2 and stats["replayed"] == 1 + 2 + 2, stats
    for p, q in zip(ps, qs):
        np.testing.assert_array_equal(p.get_value(), q.get_value())


def test_set_value_of_a_weight_between_replayed_calls():
    params = small_mlp_problem()
    step, ps = mlp_step(params, 0.05, mode="opencl")
    ref, qs = unplanned(lambda: mlp_step(params, 0.05, mode="opencl"))
    data = batches(9)
    for k, (X, y) in enumerate(data):
        if k == 5:
            new = rng.normal(size=(16, 16)).astype("float32")
            ps[2].set_value(new)
            qs[2].set_value(new)
        assert float(step(X, y)) == float(ref(X, y))
    for p, q in zip(ps, qs):
        np.testing.assert_array_equal(p.get_value(), q.get_value())


def test_random_draws_continue_the_stream_when_replayed():
    def build():
        state = shared(np.array([7, 3, 5], dtype="uint64"), shape=(3,))
        s1, u = R.RandomUniform(2, "float32")(state, [33, 7])
        s2, z = R.RandomNormal(1, "float32")(s1, [101])
        return function([], [u, z], updates=[(state, s2)], mode="opencl")
    f, g = build(), unplanned(build)
    for _ in range(6):
        for a, b in zip(f(), g()):
            np.testing.assert_array_equal(a, b)


def test_a_branch_chosen_by_data_is_followed_when_replayed():
    def build():
        x = T.fvector("x")
        return function([x], ifelse(x.sum() > 0, T.exp(x), x * 2.0) + 1.0, mode="opencl")
    f, g = build(), unplanned(build)
    for k in range(8):
        x = rng.normal(size=50).astype("float32") + (3 if k % 3 == 0 else -3)
        np.testing.assert_array_equal(f(x), g(x))


def test_a_result_whose_shape_depends_on_data_drops_the_plan():
    def build():
        n = T.lscalar("n")
        return function([n], T.exp(T.arange(n).astype("float32")) * 2.0, mode="opencl")
    f, g = build(), unplanned(build)
    for n in [3, 3, 3, 3, 5, 5, 3, 2]:
        np.testing.assert_array_equal(f(n), g(n))
    stats = replayer(f).stats
    assert stats["mismatches"] == 1, stats


def test_device_index_checks_are_still_flagged_when_replayed():
    x = shared(rng.normal(size=(200, 3)).astype("float32"), name="x")
    i = T.lvector("i")
    f = function([i], x[i * 2] * 1.0, mode="opencl")   # i * 2: computed on the device
    good = np.arange(100)
    for _ in range(5):      # x still on the host, then on the device; two captures; a plan
        f(good)
    assert replayer(f).stats["replayed"] == 1
    with pytest.raises(IndexError):
        f(np.arange(101))     # 2 * 100 = 200 is out of range for 200 rows
    np.testing.assert_array_equal(f(good), x.get_value()[good * 2])


def test_groups_whose_captures_differ_run_live():
    x = T.fvector("x")
    f = function([x], [T.exp(x) * 2.0, x.sum()], mode="opencl")
    other = function([x], [T.exp(x) * 3.0, x.sum()], mode="opencl")

    def elementwise(g):
        return next(group for group in g.maker.linked.groups
                    if type(group.nodes[0].op).__name__ == "Elemwise")
    group = elementwise(f)
    twice, thrice = group.kernel, elementwise(other).kernel
    calls, factor = [0], [None]

    def alternating(*args):      # hidden state: the plan cannot see which one runs
        calls[0] += 1
        factor[0] = 2.0 if calls[0] % 2 else 3.0
        return (twice if calls[0] % 2 else thrice)(*args)
    group.kernel = alternating   # (what captures and live groups call; not the plain run)
    v = rng.normal(size=400).astype("float32")
    for _ in range(7):
        factor[0] = 2.0          # a plain call runs the original kernel
        np.testing.assert_allclose(f(v)[0], np.exp(v) * factor[0], rtol=1e-6)
    assert calls[0] == 6          # two captures, then live at each of four calls
    assert replayer(f).stats["replayed"] == 4
    assert "its captures differ" in replayer(f).describe()


def test_errors_of_live_groups_name_their_node_when_replayed():
    x = T.fmatrix("x")
    y = T.lvector("y")
    f = function([x, y], T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).sum() +
                 T.arange(y.sum()).sum(), mode="opencl")   # the arange reads y: live
    data = rng.normal(size=(4, 3)).astype("float32")
    for _ in range(4):
        f(data, np.array([0, 1, 2, 0]))
    with pytest.raises(IndexError) as info:
        f(data, np.array([0, 1, 3, 0]))
    assert "Apply node that caused the error" in str(info.value)


def test_lazy_and_copied_outputs_and_updates_of_a_replayed_call():
    w = shared(np.ones(6, "float32"), name="w")
    x = T.fvector("x")
    y = x * w
    f = function([x], [Out(y, borrow=True), y * 1.0, w], updates=[(w, w + x)], mode="opencl")
    v = np.arange(6, dtype="float32")
    results = [f(v) for _ in range(6)]
    lazy, copied, old_w = results[-1]
    assert isinstance(lazy, opencl.array.DeviceArray) and isinstance(copied, np.ndarray)
    np.testing.assert_array_equal(old_w, 1 + 5 * v)
    np.testing.assert_array_equal(lazy.get(), v * (1 + 5 * v))
    np.testing.assert_array_equal(copied, v * (1 + 5 * v))
    np.testing.assert_array_equal(w.get_value(), 1 + 6 * v)
    assert replayer(f).stats["replayed"] == 2


def test_no_plans_when_off_or_profiled():
    x = T.fvector("x")
    with config.change_flags(opencl_replay=False):
        f = function([x], T.exp(x), mode="opencl")
    g = function([x], T.exp(x), mode="opencl", profile=True)
    assert f.maker.linked.run is f.maker.linked.plain_run
    assert g.maker.linked.run is g.maker.linked.plain_run


def test_describe_says_what_each_group_does():
    x = T.fvector("x")
    f = function([x], T.exp(x) * 2.0, mode="opencl")
    assert "no plan yet" in replayer(f).describe()
    for _ in range(3):
        f(np.ones(4, "float32"))
    assert replayer(f).describe().startswith("replayed")


def test_at_most_eight_plans_the_least_recently_used_is_dropped_and_planned_again():
    from nnframe.backends.opencl import replay
    x = T.fvector("x")
    f = function([x], T.exp(x) * 2.0, mode="opencl")
    sizes = list(range(100, 100 + replay.MAX_PLANS + 1)) + [100]
    for n in sizes:
        v = rng.normal(size=n).astype("float32")
        for _ in range(4):
            np.testing.assert_allclose(f(v), np.exp(v) * 2, rtol=1e-6)
    r = replayer(f)
    assert len(r.plans) == replay.MAX_PLANS
    assert r.stats["plans"] == len(sizes) and r.stats["replayed"] == len(sizes)


def test_a_device_index_error_raises_in_the_captured_call_that_made_it():
    # the index is checked on the device; a later group of the same call downloads (the
    # ifelse's condition): the error must raise there, before the update is applied
    def build():
        x = shared(np.arange(600, dtype="float32").reshape(200, 3), name="x")
        w = shared(np.zeros(3, "float32"), name="w")
        i = T.lvector("i")
        g = x[i * 2]
        new = ifelse(g.sum() > -1e9, w + g.sum(axis=0), w)
        return function([i], [], updates=[(w, new)], mode="opencl"), w
    f, w = build()
    ok, bad = np.arange(100), np.arange(101)
    f(ok), f(ok)
    for _ in range(4):        # a plain call, two captures, a replayed call
        with pytest.raises(IndexError):
            f(bad)
    np.testing.assert_array_equal(w.get_value(), 2 * np.arange(600).reshape(200, 3)[::2].sum(0))


def test_a_live_result_that_was_an_input_at_the_captures_is_not_taken_for_it():
    def build():
        w = shared(np.full(100, 2.0, "float32"), name="w")
        v = shared(np.full(100, 5.0, "float32"), name="v")
        c = T.lscalar("c")
        out = ifelse(c > 0, w, v)          # live; returns w itself while c > 0
        return function([c], [(out * 3.0 + w)[:3], (v * 3.0).sum()], mode="opencl")
    f, g = build(), unplanned(build)
    for c in [1, 1, 1, 1, 0, 0, 1, 0]:
        np.testing.assert_array_equal(f(c)[0], g(c)[0])


def test_one_array_given_for_two_inputs_at_the_captures_is_not_taken_for_both_later():
    n = T.fscalar("n")
    make = function([n], Out(n * 1.0, borrow=True), mode="opencl")    # host-only 0-d values
    a, b, v = T.fscalar("a"), T.fscalar("b"), T.fvector("v")
    f = function([a, b, v], T.exp(v.sum()) * a + b * 100.0, mode="opencl", trust_input=True)
    two, three = make(np.float32(2)), make(np.float32(3))
    zeros = np.zeros(9, "float32")
    for _ in range(4):
        f(two, two, zeros)
    assert f(two, three, zeros) == 302.0
    x, y = shared(np.float32(0), name="x"), shared(np.float32(0), name="y")
    g = function([v], T.exp(v.sum()) * x + y * 100.0, mode="opencl")
    x.container[0] = y.container[0] = two      # (what set_value(..., borrow=True) may leave)
    for _ in range(4):
        g(zeros)
    y.container[0] = three
    assert g(zeros) == 302.0


@pytest.mark.parametrize("replay", [True, False])
def test_functions_called_from_two_threads_give_their_own_results(replay):
    # Each call sets its kernel objects' arguments, then enqueues them: two threads
    # interleaving those steps gave wrong results, with or without plans (one call at a
    # time per device now: the context's lock).
    import threading
    with config.change_flags(opencl_replay=replay):
        x, y = T.fmatrix("x"), T.fmatrix("y")
        f = function([x], (x.T * 2.0 + 1.0).sum(axis=0), mode="opencl")
        g = function([y], T.exp(y.T) * 3.0 - y, mode="opencl")
    errors = []

    def worker(fn, reference, seed):
        r = np.random.default_rng(seed)
        for _ in range(2000):    # (without the lock, about one run in two went wrong)
            n = int(r.integers(2, 40))
            v = r.normal(size=(n, n)).astype("float32")
            if not np.allclose(fn(v), reference(v), rtol=1e-5, atol=1e-5):
                errors.append(n)
    threads = [threading.Thread(target=worker, args=(f, lambda v: (v.T * 2 + 1).sum(0), 1)),
               threading.Thread(target=worker, args=(g, lambda v: np.exp(v.T) * 3 - v, 2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert opencl.get_backend().ctx.recorder is None
