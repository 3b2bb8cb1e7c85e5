"""Native C elementwise loops against the NumPy backend: every row of the scalar table,
dtypes, casts, switch, comparisons, weak constants, broadcasting, views and fused chains.

Each test asserts the nodes it checks ran in C (``native_nodes``), so a node
that silently fell back to its NumPy kernel fails the test instead of passing
trivially.

Tolerances: rows made of IEEE operations (+ - * /, sqrt, comparisons, casts,
rounding) must give NumPy's bits exactly in C (``-ffp-contract=off``, no
fast-math).  Transcendental rows are nnframe's own polynomials
(:mod:`nnframe.backends.native.cmath`, error bound ``MATH_ERRORS`` in ulp)
where NumPy calls its SIMD or libm code, each a few ulp off the true value:
they are compared with ``rtol = (bound + NUMPY_ULPS) * COMPOSITION * eps``,
see :func:`transcendental_rtol` (about 3e-6 in float32, 5e-15 in float64; the
measured differences are 2 ulp at most).
"""
import numpy as np
import pytest
from elemwise_cases import (
    DTYPES,
    FLOAT_ROWS,
    INT_ROWS,
    TRANSCENDENTAL,
    N,
    integer_powers,
    typed_composite,
    value_generators,
)
from opencl_helpers import assert_same, both

import nnframe.tensor as T
from nnframe import function
from nnframe.backends import native
from nnframe.backends.native import native_nodes
from nnframe.backends.native.cmath import MATH_ERRORS
from nnframe.core.mode import Mode
from nnframe.core.ops.elemwise import Elemwise, elemwise
from nnframe.core.ops.scalar import SCALAR_OPS, Composite

pytestmark = pytest.mark.skipif(native.fallback_reason() is not None,
                                reason=f"no native backend here: {native.fallback_reason()}")

rng = np.random.default_rng(1)
float_values, int_values = value_generators(rng)
NO_REWRITE = {"native": Mode("native", rewrite=False), "numpy": Mode("numpy", rewrite=False)}

#: rows exact in C as in NumPy: one correctly rounded IEEE operation
IEEE_EXACT = {"true_div", "sqrt", "reciprocal"}
#: ulp NumPy's own float functions may be off the true value (its SIMD exp/log/trig)
NUMPY_ULPS = 4
#: rows built of several rounded steps (sigmoid = 1 / (1 + exp(-x)), pow = exp(y log x)...)
COMPOSITION = 4
#: ulp assumed for a row the math module does not list (the C library's builtins)
LIBM_ULPS = 4
#: rows whose NumPy kernel promises an absolute error only: sigmoid is computed there as
#: 0.5 + 0.5 tanh(x / 2), which gives 0 for sigmoid(-20) = 2e-9 (scalar.py, _sigmoid)
ABSOLUTE = {"sigmoid"}


def transcendental_rtol(row, dtype):
    """Relative tolerance of transcendental ``row`` in ``dtype`` against NumPy.

    ``(bound + NUMPY_ULPS) * COMPOSITION`` ulp, ``bound`` being the row's
    documented error in ulp (``MATH_ERRORS``) for nnframe's polynomials, or
    ``LIBM_ULPS`` where the C library's function is used (sin, arctan, pow...).
    """
    if row in IEEE_EXACT:
        return 0.0
    bound = MATH_ERRORS.get((row, dtype), LIBM_ULPS)
    return (bound + NUMPY_ULPS) * COMPOSITION * float(np.finfo(dtype).eps)


def assert_native(f, count=None, op=None):
    """``f``'s nodes (all, or those whose op is an ``op``) run in C; ``count`` of them."""
    nodes = [n for n in f.maker.fgraph.toposort() if op is None or isinstance(n.op, op)]
    in_c = native_nodes(f)
    missing = [n for n in nodes if n not in in_c]
    assert not missing, f"these nodes did not run in C: {missing}"
    if count is not None:
        assert len(nodes) == count, nodes
    return nodes


def native_compare(inputs, outputs, values, rtol=0.0, atol=0.0, **kwargs):
    """The native results of ``outputs`` (a list), NumPy's within rtol/atol; every
    Elemwise node ran in C."""
    f, g = both(inputs, outputs, mode="native", **kwargs)
    assert_native(f, op=Elemwise)
    got = f(*values)
    with np.errstate(all="ignore"):
        want = g(*values)
    if not isinstance(outputs, (list, tuple)):
        got, want = [got], [want]
    for k, (a, b) in enumerate(zip(got, want)):
        assert_same(a, b, rtol, atol, what=f"output {k}")
    return got


def run_rows(rows, dtype, values):
    """All ``rows`` of one dtype in one function (one C segment), unrewritten, vs NumPy."""
    xs = [T.tensor(dtype, shape=(None,)) for _ in range(3)]
    outs = [elemwise(name, *xs[:SCALAR_OPS[name].nin]) for name in rows]
    f = function(xs, outs, mode=NO_REWRITE["native"], on_unused_input="ignore")
    g = function(xs, outs, mode=NO_REWRITE["numpy"], on_unused_input="ignore")
    assert_native(f, count=len(rows))
    with np.errstate(all="ignore"):
        want = g(*values)
    got = f(*values)
    for name, a, b in zip(rows, got, want):
        out_dtype = str(np.asarray(b).dtype)
        tol = (transcendental_rtol(name, out_dtype)
               if name in TRANSCENDENTAL and out_dtype.startswith("float") else 0.0)
        atol = tol if name in ABSOLUTE else tol * 1e-30
        assert_same(a, b, rtol=tol, atol=atol, what=f"{name} on {dtype}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_float_row_matches_numpy(dtype):
    values = [float_values(dtype), float_values(dtype)[::-1].copy(), float_values(dtype) * 2]
    run_rows(FLOAT_ROWS, dtype, values)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_rows_on_huge_and_tiny_values(dtype):
    # Overflow to Inf, underflow to (signed) zero, subnormals, the largest finite value.
    info = np.finfo(dtype)
    edge = np.array([info.max, -info.max, info.tiny, -info.tiny, info.tiny / 4, info.eps,
                     88.0, -88.0, 89.0, 710.0, -745.0, -750.0, 1e-8, -1e-8, 20.0, -20.0,
                     np.pi, -np.pi / 2, 1e10, -1e10], dtype)
    values = [edge, edge[::-1].copy(), np.full_like(edge, 0.5)]
    rows = [r for r in FLOAT_ROWS if r not in ("sin", "cos", "tan")]  # huge trig arguments:
    run_rows(rows, dtype, values)  # libraries reduce them differently; not a promise


@pytest.mark.parametrize("dtype", ["int64", "uint16", "int8", "uint64"])
def test_integer_rows_match_numpy_exactly(dtype):
    # Division by zero gives 0 (NumPy's value, no trap); floor division and modulo round
    # towards -inf; small ints are cast to float32 for exp/true_div as NumPy is told to.
    values = [int_values(dtype), int_values(dtype)[::-1].copy(), int_values(dtype)]
    rows = [r for r in INT_ROWS if not (np.dtype(dtype).kind == "u" and r in ("neg",))]
    run_rows(rows, dtype, values)


def test_int8_arithmetic_wraps_as_numpy():
    x, y = T.tensor("int8", shape=(None,)), T.tensor("int8", shape=(None,))
    a = np.array([127, -128, 100, -100, 64, -1, 0, 11], "int8")
    b = np.array([1, -1, 100, 100, 2, -128, -128, 12], "int8")
    got = native_compare([x, y], [x + y, x - y, x * y, -x, abs(x), x // y, x % y, x * 3],
                         [a, b], rewrite=False)
    assert got[0][0] == -128 and got[1][1] == -127  # 127 + 1 wraps; -128 - (-1)


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint32"])
def test_integer_power_matches_numpy(dtype):
    inputs, outputs, values = integer_powers(int_values, dtype)
    native_compare(inputs, outputs, values, rewrite=False)


def test_negative_integer_exponent_is_numpys_error_on_every_call():
    # The first call of a shape runs the NumPy kernels once (the plan's dry run); the error
    # must not depend on whether a call of the same shape came before.
    a, b = T.lvector("a"), T.lvector("b")
    f = function([a, b], a ** b, mode="native")
    assert_native(f, count=1)
    np.testing.assert_array_equal(f(np.array([2, 3, -2]), np.array([1, 2, 3])), [2, 9, -8])
    for _ in range(2):
        with pytest.raises(ValueError, match="Integers to negative integer powers"):
            f(np.array([2, 3, -2]), np.array([-1, 2, 3]))
    np.testing.assert_array_equal(f(np.array([5]), np.array([0])), [1])


def test_bool_rows_match_numpy():
    a = rng.random(N) > 0.5
    b = rng.random(N) > 0.3
    x, y = T.tensor("bool", shape=(None,)), T.tensor("bool", shape=(None,))
    outs = [x & y, x | y, x ^ y, ~x, T.eq(x, y), T.lt(x, y), T.maximum(x, y), T.mul(x, y),
            T.add(x, y), T.switch(x, y, x), T.cast(x, "float32"), T.cast(x, "int8")]
    got = native_compare([x, y], outs, [a, b], rewrite=False)
    assert got[0].dtype == bool and set(np.unique(got[3])) <= {False, True}


@pytest.mark.parametrize("source", ["float64", "int32", "uint8", "bool", "float32"])
def test_casts_between_all_dtypes(source):
    # Values every dtype holds (a float outside the target's range is undefined in C and
    # platform-dependent in NumPy): 0 to 127, halves and quarters, -0.0; negative values
    # go through int32 first, whose casts to every dtype (wrapping) are defined.
    x = T.tensor(source, shape=(None,))
    if source == "bool":
        v = rng.random(N) > 0.5
    else:
        v = np.concatenate([[0.0, -0.0, 1.0, 0.25, 100.5, 127.0, 126.75],
                            rng.uniform(0, 127, N)]).astype(source)
    native_compare([x], [T.cast(x, d) for d in DTYPES], [v])
    signed = T.cast(x, "int32") - 64
    native_compare([x], [T.cast(signed, d) for d in DTYPES], [v])


def test_mixed_dtypes_and_weak_constants_follow_numpy2():
    i8, f32 = T.tensor("int8", shape=(None,)), T.fvector("f")
    i64, u8 = T.lvector("l"), T.tensor("uint8", shape=(None,))
    outs = [i8 + f32, i8 * 3, f32 * 2.5, i64 / 3, u8 + i8, i64 > 2.5, f32 ** 2, i8 // 3, u8 % 7,
            T.exp(i8), T.switch(i8 > 0, f32, 1.5), f32 * 1e-45, i64 + 2 ** 40]
    for o, want in zip(outs[:3], ["float32", "int8", "float32"]):
        assert o.dtype == want
    vals = [int_values("int8"), float_values("float32"), int_values("int64"), int_values("uint8")]
    native_compare([i8, f32, i64, u8], outs, vals, rtol=transcendental_rtol("exp", "float32"))


def test_broadcasting_views_and_scalars():
    x, r, c, s = T.fmatrix("x"), T.frow("r"), T.fcol("c"), T.fscalar("s")
    xv = rng.normal(size=(37, 53)).astype("float32")
    rv = rng.normal(size=(1, 53)).astype("float32")
    cv = rng.normal(size=(37, 1)).astype("float32")
    outs = [x + r, x * c + s, r + c, x.T * 2 + r.T, x[::2, ::-3] - 1, x * s, s * 2 + 1,
            T.tanh(x.T[3:, :]) * c.T, x.dimshuffle(1, "x", 0) + c.dimshuffle("x", 1, 0)]
    native_compare([x, r, c, s], outs, [xv, rv, cv, np.float32(0.75)],
                   rtol=transcendental_rtol("tanh", "float32"))


def test_non_contiguous_arguments():
    # Views passed by the caller: a transpose, a stride of 2, a negative stride.
    x, y = T.dmatrix("x"), T.dmatrix("y")
    big = rng.normal(size=(20, 30))
    outs = [x * y + 1, T.maximum(x, 0) - y]
    for xv, yv in [(big[:10, :10].T, big[10:, ::3]), (big[::2, ::-3], big[10:, :10]),
                   (big[:1, :10], big[5:6, 10:20])]:
        before = big.copy()
        native_compare([x, y], outs, [xv, yv])
        np.testing.assert_array_equal(big, before)


def test_3d_and_0d_and_empty_arrays():
    x, y, s = T.dtensor3("x"), T.dtensor3("y"), T.dscalar("s")
    outs = [x * y + s, T.exp(x) - y.dimshuffle(2, 1, 0).dimshuffle(2, 1, 0), s * s,
            (x > y) * 1.0, x.dimshuffle(2, 0, 1) * s]
    vals = [rng.normal(size=(4, 5, 6)), rng.normal(size=(4, 5, 6)), np.float64(1.5)]
    # exp(x) - y cancels: its error is relative to exp(x) (at most e**4), not to the result
    tol = transcendental_rtol("exp", "float64")
    native_compare([x, y, s], outs, vals, rtol=tol, atol=60 * tol)
    empty = [np.zeros((0, 5, 6)), np.zeros((0, 5, 6)), np.float64(2.0)]
    got = native_compare([x, y, s], outs, empty)
    assert got[0].shape == (0, 5, 6) and got[4].shape == (6, 0, 5)
    one_row = [rng.normal(size=(1, 5, 6)), rng.normal(size=(1, 5, 6)), np.float64(-1.0)]
    native_compare([x, y, s], outs, one_row, rtol=tol, atol=60 * tol)


def test_0d_inputs_and_outputs():
    a, b = T.dscalar("a"), T.fscalar("b")
    f = function([a, b], [a * 2 + b, T.cast(b, "int32") + 1, T.exp(a) * a], mode="native")
    assert_native(f, op=Elemwise)
    got = f(1.25, np.float32(3.5))
    assert [np.asarray(v).shape for v in got] == [(), (), ()]
    assert got[0] == 6.0 and got[0].dtype == np.float64 and got[1] == 4
    np.testing.assert_allclose(got[2], np.exp(1.25) * 1.25, rtol=1e-13)


def test_non_broadcastable_axis_of_length_one_is_an_error():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    f = function([x, y], x + y, mode="native")
    assert_native(f)
    with pytest.raises(ValueError, match="not broadcastable") as got:
        f(np.ones((3, 4)), np.ones((1, 4)))
    g = function([x, y], x + y, mode="numpy")
    with pytest.raises(ValueError) as want:
        g(np.ones((3, 4)), np.ones((1, 4)))
    assert str(got.value).splitlines()[0] == str(want.value).splitlines()[0]
    assert "Apply node that caused the error" in str(got.value)


def test_shapes_that_do_not_broadcast_are_an_error():
    x, y = T.dvector("x"), T.dvector("y")
    f = function([x, y], T.exp(x) * y + 1, mode="native")
    with pytest.raises(ValueError, match="Apply node that caused the error"):
        f(np.ones(3), np.ones(4))
    np.testing.assert_allclose(f(np.zeros(2), np.ones(2)), [2.0, 2.0])  # still works after


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_fused_chain_is_one_node_in_c_and_matches_numpy(dtype):
    x, a, b = T.vector("x", dtype=dtype), T.scalar("a", dtype=dtype), T.scalar("b", dtype=dtype)
    w3 = T.tanh(a * x + b) * T.sigmoid(x)
    f = function([x, a, b], w3, mode="native")
    (fused,) = assert_native(f, count=1, op=Elemwise)
    assert isinstance(fused.op.scalar_op, Composite)
    g = function([x, a, b], w3, mode="numpy")
    tol = transcendental_rtol("tanh", dtype) + transcendental_rtol("sigmoid", dtype)
    # contiguous (flat loop, with a vector tail), strided, one element, none
    for v in (rng.normal(size=1003), rng.normal(size=2006)[::2], rng.normal(size=1),
              np.zeros(0)):
        v = v.astype(dtype)
        assert_same(f(v, 0.7, 0.1), g(v, 0.7, 0.1), rtol=tol, atol=tol * 1e-30)


def test_composite_with_casts_comparisons_and_switch():
    inputs, outputs, values = typed_composite(float_values, int_values)
    native_compare(inputs, outputs, values, rtol=transcendental_rtol("exp", "float32"))


def test_inplace_nodes_do_not_modify_inputs():
    x, y = T.dvector("x"), T.dmatrix("y")
    f = function([x, y], [T.exp(x) * 2 + x, (x + 1) * x, (y.T + 1).T * 2], mode="native")
    assert_native(f, op=Elemwise)
    v, w = rng.normal(size=N), rng.normal(size=(3, N))
    before = v.copy(), w.copy()
    got = f(v, w)
    np.testing.assert_array_equal(v, before[0])
    np.testing.assert_array_equal(w, before[1])
    np.testing.assert_allclose(got[1], (v + 1) * v, rtol=1e-15)
    np.testing.assert_allclose(got[2], (w + 1) * 2, rtol=1e-15)
    for out in got:
        assert not np.shares_memory(out, v) and not np.shares_memory(out, w)


def test_outputs_of_two_calls_are_distinct_arrays():
    x = T.dvector("x")
    f = function([x], x * 2 + 1, mode="native")
    first = f(np.ones(4))
    second = f(np.zeros(4))
    assert not np.shares_memory(first, second)
    np.testing.assert_array_equal(first, np.full(4, 3.0))


@pytest.mark.parametrize("dtype", ["float16", "complex128"])
def test_float16_and_complex_run_on_numpy(dtype):
    x = T.tensor(dtype, shape=(None,))
    v = rng.normal(size=N).astype(dtype)
    if dtype.startswith("complex"):
        v = v + 1j * rng.normal(size=N)
    f, g = both([x], x * 2 + 1, mode="native")
    assert native_nodes(f) == []
    assert_same(f(v), g(v))
