"""OpenCL elementwise kernels against the NumPy backend: every row of the scalar table,
dtypes, casts, switch, comparisons, weak constants, broadcasting, views and fused chains."""
import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from elemwise_cases import (  # noqa: E402
    FLOAT_ROWS,
    INT_ROWS,
    TRANSCENDENTAL,
    N,
    integer_powers,
    typed_composite,
    value_generators,
)
from opencl_helpers import assert_same, compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import function  # noqa: E402
from nnframe.core.mode import Mode  # noqa: E402
from nnframe.core.ops.elemwise import Elemwise, elemwise  # noqa: E402
from nnframe.core.ops.scalar import SCALAR_OPS, Composite  # noqa: E402

rng = np.random.default_rng(0)
float_values, int_values = value_generators(rng)
NO_REWRITE = {"opencl": Mode("opencl", rewrite=False), "numpy": Mode("numpy", rewrite=False)}


def run_rows(rows, dtype, values, rtol):
    """All ``rows`` of one dtype in one function (one program), unrewritten, vs NumPy."""
    n_in = 3
    xs = [T.tensor(dtype, shape=(None,)) for _ in range(n_in)]
    outs = [elemwise(name, *xs[:SCALAR_OPS[name].nin]) for name in rows]
    f = function(xs, outs, mode=NO_REWRITE["opencl"], on_unused_input="ignore")
    g = function(xs, outs, mode=NO_REWRITE["numpy"], on_unused_input="ignore")
    with np.errstate(all="ignore"):
        want = g(*values)
    got = f(*values)
    for name, a, b in zip(rows, got, want):
        tol = rtol if name in TRANSCENDENTAL else 0.0
        assert_same(a, b, rtol=tol, atol=tol * 1e-30, what=f"{name} on {dtype}")


# float64 math is other code on the device: its rows too, but the trigonometric and
# hyperbolic ones (slow to compile on PoCL) only in float32.
SLOW_TO_BUILD = {"sin", "cos", "tan", "sinh", "cosh", "arctan", "expm1", "log2", "log10"}


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-6), ("float64", 1e-14)])
def test_every_float_row_matches_numpy(dtype, rtol):
    values = [float_values(dtype), float_values(dtype)[::-1].copy(), float_values(dtype) * 2]
    rows = FLOAT_ROWS if dtype == "float32" else [r for r in FLOAT_ROWS if r not in SLOW_TO_BUILD]
    run_rows(rows, dtype, values, rtol)


@pytest.mark.parametrize("dtype", ["int64", "uint16"])
def test_integer_rows_match_numpy_exactly(dtype):
    # Division by zero gives 0 (NumPy's value, no trap); floor division and modulo round
    # towards -inf; small ints are cast to float32 for exp/true_div as NumPy is told to.
    values = [int_values(dtype), int_values(dtype)[::-1].copy(), int_values(dtype)]
    rows = [r for r in INT_ROWS if not (np.dtype(dtype).kind == "u" and r in ("neg",))]
    run_rows(rows, dtype, values, 2e-6)


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint32"])
def test_integer_power_matches_numpy(dtype):
    inputs, outputs, values = integer_powers(int_values, dtype)
    compare(inputs, outputs, values, rewrite=False)


def test_bool_rows_match_numpy():
    a = rng.random(N) > 0.5
    b = rng.random(N) > 0.3
    x, y = T.tensor("bool", shape=(None,)), T.tensor("bool", shape=(None,))
    outs = [x & y, x | y, x ^ y, ~x, T.eq(x, y), T.lt(x, y), T.maximum(x, y), T.mul(x, y),
            T.add(x, y), T.switch(x, y, x), T.cast(x, "float32"), T.cast(x, "int8")]
    compare([x, y], outs, [a, b], rewrite=False)


def test_casts_between_all_device_dtypes():
    dtypes = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float32", "float64"]
    x = T.dvector("x")
    v = np.concatenate([[0.0, -0.0, 1.0, 0.25, -3.75, 100.5], rng.uniform(0, 100, N)])
    outs = [T.cast(x, d) for d in dtypes]
    outs += [T.cast(T.cast(x, "int32"), d) for d in dtypes]
    compare([x], outs, [v])


def test_mixed_dtypes_and_weak_constants_follow_numpy2():
    i8, f32 = T.tensor("int8", shape=(None,)), T.fvector("f")
    i64, u8 = T.lvector("l"), T.tensor("uint8", shape=(None,))
    outs = [i8 + f32, i8 * 3, f32 * 2.5, i64 / 3, u8 + i8, i64 > 2.5, f32 ** 2, i8 // 3, u8 % 7,
            T.exp(i8), T.switch(i8 > 0, f32, 1.5)]
    for o, want in zip(outs[:3], ["float32", "int8", "float32"]):
        assert o.dtype == want
    vals = [int_values("int8"), float_values("float32"), int_values("int64"), int_values("uint8")]
    compare([i8, f32, i64, u8], outs, vals, rtol=2e-6)


def test_broadcasting_views_and_scalars():
    x, r, c, s = T.fmatrix("x"), T.frow("r"), T.fcol("c"), T.fscalar("s")
    xv = rng.normal(size=(37, 53)).astype("float32")
    rv = rng.normal(size=(1, 53)).astype("float32")
    cv = rng.normal(size=(37, 1)).astype("float32")
    outs = [x + r, x * c + s, r + c, x.T * 2 + r.T, x[::2, ::-3] - 1, x * s, s * 2 + 1,
            T.tanh(x.T[3:, :]) * c.T, x.dimshuffle(1, "x", 0) + c.dimshuffle("x", 1, 0)]
    compare([x, r, c, s], outs, [xv, rv, cv, np.float32(0.75)], rtol=2e-6)


def test_3d_and_0d_and_empty_arrays():
    x, y, s = T.dtensor3("x"), T.dtensor3("y"), T.dscalar("s")
    outs = [x * y + s, T.exp(x) - y.dimshuffle(2, 1, 0).dimshuffle(2, 1, 0), s * s, (x > y).sum()]
    vals = [rng.normal(size=(4, 5, 6)), rng.normal(size=(4, 5, 6)), np.float64(1.5)]
    compare([x, y, s], outs, vals, rtol=1e-14)
    empty = [np.zeros((0, 5, 6)), np.zeros((0, 5, 6)), np.float64(2.0)]
    compare([x, y, s], outs[:2], empty)


def test_non_broadcastable_axis_of_length_one_is_an_error():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = function([x, y], x + y, mode="opencl")
    with pytest.raises(ValueError, match="not broadcastable"):
        f(np.ones((3, 4)), np.ones((1, 4)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_chain_is_one_kernel_and_matches_numpy(dtype):
    x, a, b = T.vector("x", dtype=dtype), T.scalar("a", dtype=dtype), T.scalar("b", dtype=dtype)
    w3 = T.tanh(a * x + b) * T.sigmoid(x)
    f = function([x, a, b], w3, mode="opencl")
    fused = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Elemwise)]
    assert len(fused) == 1 and isinstance(fused[0].op.scalar_op, Composite)
    # contiguous (vectorised kernel, with a tail) and strided (general kernel)
    for v in (rng.normal(size=1003), rng.normal(size=2006)[::2]):
        v = v.astype(dtype)
        got = f(v, 0.7, 0.1)
        want = np.tanh(np.asarray(0.7, dtype) * v + np.asarray(0.1, dtype)) / (1 + np.exp(-v))
        tol = 2e-6 if dtype == "float32" else 1e-14
        assert_same(got, want.astype(dtype), rtol=tol)


def test_composite_with_casts_comparisons_and_switch():
    inputs, outputs, values = typed_composite(float_values, int_values)
    compare(inputs, outputs, values, rtol=2e-6)


def test_inplace_nodes_do_not_modify_inputs():
    x = T.dvector("x")
    f = function([x], [T.exp(x) * 2 + x, (x + 1) * x], mode="opencl")
    v = rng.normal(size=N)
    before = v.copy()
    f(v)
    np.testing.assert_array_equal(v, before)


def test_complex_and_float16_run_on_the_host():
    from nnframe.backends import opencl
    x = T.tensor("float16", shape=(None,))
    v = rng.normal(size=N).astype("float16")
    got = function([x], x * 2 + 1, mode="opencl")(v)
    assert_same(got, v * np.float16(2) + np.float16(1))
    assert any("float16" in k for k in opencl.fallbacks())


@pytest.mark.parametrize("limit", [1, 5])
def test_a_bool_computed_on_the_host_is_passed_by_value(limit):
    """A boolean scalar from host-side shape arithmetic reaches a kernel as a by-value
    uint8 argument (pyopencl refused a NumPy bool: scan's truncate_gradient met this)."""
    x = T.dmatrix("x")
    n = T.lscalar("n")
    out = T.switch(T.lt(n, 3).dimshuffle("x", "x"), x, x * 2) + 1
    compare([x, n], [out], [np.arange(6.0).reshape(2, 3), np.int64(limit)])
