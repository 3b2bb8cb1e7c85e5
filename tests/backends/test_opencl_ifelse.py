"""OpenCL ifelse against the NumPy backend: the selected branch runs on the device with the
node's device arrays; only the condition is read on the host."""
import numpy as np
import pytest

pytest.importorskip("pyopencl",
                    reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import both, compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.ifelse import ifelse  # noqa: E402

rng = np.random.default_rng(5)


def fallbacks_of_ifelse():
    return {k: n for k, n in opencl.fallbacks().items() if k.startswith("IfElse")}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("taken", [1, 0])
def test_branches_match_numpy(dtype, taken):
    c = T.bscalar("c")
    x = T.matrix("x", dtype=dtype)
    y = T.vector("y", dtype=dtype)
    before = fallbacks_of_ifelse()
    outs = ifelse(c, [T.tanh(x) * y, x.sum(axis=0), T.cumsum(y)],
                  [x.T.T - y, x.max(axis=0), y[::-1]])
    v = [np.int8(taken), rng.normal(size=(5, 7)).astype(dtype), rng.normal(size=7).astype(dtype)]
    compare([c, x, y], outs, v, rtol=1e-6 if dtype == "float32" else 1e-14)
    assert fallbacks_of_ifelse() == before     # the IfElse nodes ran on the device


@pytest.mark.parametrize("taken", [1, 0])
def test_condition_computed_on_the_device(taken):
    x = T.fvector("x")
    z = ifelse(T.gt(x.sum(), 0), x * 2, T.exp(x))
    v = rng.uniform(0.5, 1.5, size=300).astype("float32") * (1 if taken else -1)
    compare([x], z, [v], rtol=1e-6)


def test_views_and_inputs_returned_unchanged():
    c = T.lscalar("c")
    m = T.dmatrix("m")
    outs = ifelse(c, [m, m.T, m[1::2, ::-1]], [m[::-1], m, m.dimshuffle(1, 0)])
    v = rng.normal(size=(4, 6))
    for taken in (1, 0):
        keep = v.copy()
        got = compare([c, m], outs, [taken, v])
        for g in got:
            g[...] = 0
        np.testing.assert_array_equal(v, keep)


def test_an_update_that_is_an_input_does_not_keep_the_callers_array():
    # the input is not uploaded yet: its host copy is the caller's array
    s = shared(np.zeros(3), name="s")
    c = T.bscalar("c")
    x = T.dvector("x")
    f = function([c, x], [], updates=[(s, ifelse(c, x, s))], mode="opencl")
    v = np.array([1.0, 2.0, 3.0])
    f(1, v)
    v[0] = 99.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0, 3.0])


def test_gradients_and_second_order_match():
    c = T.bscalar("c")
    x = T.dvector("x")
    y = T.dvector("y")
    cost = ifelse(c, (T.tanh(x) * y).sum(), (x ** 3).sum())
    gx, gy = T.grad(cost, [x, y])
    hx = T.grad(gx.sum(), x)
    for taken in (1, 0):
        compare([c, x, y], [gx, gy, hx], [taken, rng.normal(size=6), rng.normal(size=6)],
                rtol=1e-13)


def test_nested_and_with_lists():
    a = T.fscalar("a")
    x = T.fvector("x")
    inner = ifelse(T.gt(a, 10), [x * 100, x.sum()], [x * 10, x.max()])
    z = ifelse(T.gt(a, 0), inner, [-x, x.min()])
    v = rng.normal(size=9).astype("float32")
    for av in (20, 5, -5):
        compare([a, x], z, [np.float32(av), v], rtol=1e-6)


def test_shared_data_stays_on_the_device():
    w = shared(rng.normal(size=(64, 64)).astype("float32"), name="w")
    c = T.bscalar("c")
    f = function([c], [], updates=[(w, ifelse(c, w * 0.5, w - 1))], mode="opencl")
    g = function([c], ifelse(c, w.sum(), w.max()), mode="opencl")
    want = w.get_value() * 0.5 - 1
    f(1)                                       # uploads w
    opencl.reset_transfer_counts()
    f(0)
    counts = opencl.transfer_counts()
    assert counts["upload"] == 0 and counts["download"] == 0, counts
    g(1)
    counts = opencl.transfer_counts()
    assert counts["upload"] == 0 and counts["download"] == 1, counts   # only the result
    np.testing.assert_allclose(w.get_value(), want, rtol=1e-6)


def test_untaken_branch_is_not_run_on_the_device():
    x = T.fvector("x")
    i = T.lscalar("i")
    f, g = both([x, i], ifelse(T.lt(i, x.shape[0]), x[i], T.constant(-1.0, dtype="float32")))
    v = np.arange(4, dtype="float32")
    assert f(v, 2) == g(v, 2) == 2.0
    assert f(v, 9) == g(v, 9) == -1.0


def test_half_branches_run_on_the_host():
    # no device arithmetic for float16: the NumPy kernel runs (see docs/opencl.md, Fallbacks)
    c = T.bscalar("c")
    h = T.tensor("float16", shape=(None,), name="h")
    f, g = both([c, h], ifelse(c, h * 2, h))
    v = np.array([1, 2, 3], "float16")
    np.testing.assert_array_equal(f(1, v), g(1, v))
    np.testing.assert_array_equal(f(0, v), v)
    assert any(k.startswith("IfElse: dtype float16") for k in opencl.fallbacks())
