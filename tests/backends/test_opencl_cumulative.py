"""OpenCL cumsum/cumprod against the NumPy backend: bit for bit, through any strides."""
import numpy as np
import pytest

pytest.importorskip("pyopencl",
                    reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import both, compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe.backends import opencl  # noqa: E402

rng = np.random.default_rng(3)
AXES = [None, 0, 1, 2, -1]


def scans(x, axes=AXES):
    return [fn(x, a) for fn in (T.cumsum, T.cumprod) for a in axes]


def fallbacks_of_cumop():
    return {k: n for k, n in opencl.fallbacks().items() if k.startswith("CumOp")}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_floats_accumulate_in_numpys_order(dtype):
    # NumPy's accumulate adds (multiplies) one entry after the other: so does each work-item
    x = T.tensor3("x", dtype=dtype)
    before = fallbacks_of_cumop()
    v = (rng.uniform(0.9, 1.1, size=(5, 6, 300)) * rng.choice([-1, 1], (5, 6, 300))).astype(dtype)
    compare([x], scans(x), [v])
    assert fallbacks_of_cumop() == before   # every node ran on the device


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint8", "uint16", "bool"])
def test_integers_and_bools(dtype):
    x = T.tensor3("x", dtype=dtype)
    v = rng.integers(0, 3, size=(4, 5, 70)).astype(dtype)
    compare([x], scans(x), [v])


def test_integer_overflow_wraps_as_numpy():
    v = T.lvector("v")
    b = T.bvector("b")
    big = np.array([2 ** 62, 2 ** 62, 2 ** 62, -7, 3 ** 39, 5], "int64")
    compare([v, b], [T.cumsum(v), T.cumprod(v), T.cumprod(b)],
            [big, np.array([-128, 127, -3, 100], "int8")])


def test_views_are_read_through_their_strides():
    m = T.dmatrix("m")
    t = T.dtensor3("t")
    outs = [T.cumsum(m.T, 1), T.cumprod(m[::-1, 1::3], 0), T.cumsum(m[:, ::-2], 1),
            T.cumsum(t.dimshuffle(2, 0, 1), 0), T.cumprod(t[:, 1], -1),
            T.cumsum(m.dimshuffle(0, "x", 1), 1)]
    compare([m, t], outs, [rng.normal(size=(9, 40)), rng.uniform(0.5, 1.5, size=(3, 4, 5))])


def test_shapes_long_lines_many_lines_and_empty():
    x = T.dmatrix("x")
    s = T.fscalar("s")
    compare([x, s], [T.cumsum(x, 1), T.cumsum(x, 0), T.cumprod(x), T.cumsum(s)],
            [rng.normal(size=(3, 20000)), np.float32(1.5)])
    for shape in [(0, 4), (4, 0), (1, 1)]:
        compare([x], scans(x, [None, 0, 1]), [np.ones(shape)])


def test_gradients_with_zeros_match():
    x = T.dmatrix("x")
    g = T.dmatrix("g")
    v = rng.uniform(0.5, 2.0, size=(6, 9))
    v[1, 3] = v[2, 0] = v[2, 5] = v[3, 8] = 0.0
    v[4, :] = 0.0
    outs = [T.grad((fn(x, a) * g).sum(), x) for fn in (T.cumsum, T.cumprod) for a in (0, 1)]
    compare([x, g], outs, [v, rng.normal(size=v.shape)], rtol=1e-14)


def test_half_and_complex_run_on_the_host():
    # no device arithmetic for them: the NumPy kernel runs (see docs/opencl.md, Fallbacks)
    h = T.tensor("float16", shape=(None,), name="h")
    z = T.zvector("z")
    f, _ = both([h, z], [T.cumsum(h), T.cumprod(z)])
    got = f(np.array([1, 2, 3], "float16"), np.array([1j, 2, 1 + 1j]))
    np.testing.assert_array_equal(got[0], np.cumsum(np.array([1, 2, 3], "float16")))
    np.testing.assert_array_equal(got[1], np.cumprod([1j, 2, 1 + 1j]))
    assert any(k.startswith("CumOp: dtype") for k in opencl.fallbacks())
