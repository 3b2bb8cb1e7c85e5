"""The elementwise table: values against NumPy, dtype rules, and a gradient check per row."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad
from nnframe.core.ops.elemwise import elemwise
from nnframe.core.ops.scalar import SCALAR_OPS

rng = np.random.default_rng(0)


def positive(*shape):
    return rng.uniform(0.5, 2.0, size=shape)


def anywhere(*shape):
    return rng.uniform(-2.0, 2.0, size=shape)


def away_from_integers(*shape):
    return np.floor(anywhere(*shape)) + rng.uniform(0.2, 0.8, size=shape)


def away_from_zero(*shape):
    return rng.choice([-1, 1], size=shape) * rng.uniform(0.3, 2.0, size=shape)


# For every differentiable row: a function of float64 inputs and points away from kinks.
GRAD_CASES = {
    "add": (lambda x, y: T.add(x, y), [anywhere(3, 4), anywhere(3, 4)]),
    "sub": (lambda x, y: T.sub(x, y), [anywhere(3, 4), anywhere(4)]),
    "mul": (lambda x, y: T.mul(x, y), [anywhere(3, 4), anywhere(3, 1)]),
    "true_div": (lambda x, y: T.true_div(x, y), [anywhere(3, 4), positive(3, 4)]),
    "int_div": (lambda x, y: T.int_div(x, y) * x, [away_from_integers(5) + 3, np.full(5, 1.0)]),
    "mod": (lambda x, y: T.mod(x, y), [positive(5) * 3, np.full(5, 0.7) + positive(5) * 0.01]),
    "pow": (lambda x, y: T.pow(x, y), [positive(3, 4), anywhere(3, 4)]),
    "maximum": (lambda x, y: T.maximum(x, y), [anywhere(6), anywhere(6) + 0.05]),
    "minimum": (lambda x, y: T.minimum(x, y), [anywhere(6), anywhere(6) + 0.05]),
    "switch": (lambda x, y: T.switch(np.array([True, False, True, False]), x, y),
               [anywhere(4), anywhere(4)]),
    "clip": (lambda x, lo, hi: T.clip(x, lo, hi),
             [np.array([-1.5, -0.2, 0.3, 1.7]), np.full(4, -1.0), np.full(4, 1.0)]),
    "second": (lambda x, y: T.second(x, y), [anywhere(3, 4), anywhere(4)]),
    "neg": (lambda x: T.neg(x), [anywhere(5)]),
    "identity": (lambda x: T.identity(x), [anywhere(5)]),
    "exp": (lambda x: T.exp(x), [anywhere(5)]),
    "expm1": (lambda x: T.expm1(x), [anywhere(5)]),
    "log": (lambda x: T.log(x), [positive(5)]),
    "log1p": (lambda x: T.log1p(x), [positive(5)]),
    "log2": (lambda x: T.log2(x), [positive(5)]),
    "log10": (lambda x: T.log10(x), [positive(5)]),
    "sqrt": (lambda x: T.sqrt(x), [positive(5)]),
    "reciprocal": (lambda x: T.reciprocal(x), [positive(5)]),
    "sqr": (lambda x: T.sqr(x), [anywhere(5)]),
    "tanh": (lambda x: T.tanh(x), [anywhere(5)]),
    "sinh": (lambda x: T.sinh(x), [anywhere(5)]),
    "cosh": (lambda x: T.cosh(x), [anywhere(5)]),
    "sin": (lambda x: T.sin(x), [anywhere(5)]),
    "cos": (lambda x: T.cos(x), [anywhere(5)]),
    "tan": (lambda x: T.tan(x), [anywhere(5) * 0.5]),
    "arctan": (lambda x: T.arctan(x), [anywhere(5)]),
    "sigmoid": (lambda x: T.sigmoid(x), [anywhere(5) * 3]),
    "softplus": (lambda x: T.softplus(x), [anywhere(5) * 3]),
    "abs": (lambda x: T.abs(x), [away_from_zero(5)]),
    "relu": (lambda x: T.relu(x), [away_from_zero(5)]),
    "sgn": (lambda x: T.sgn(x) * x, [away_from_zero(5)]),
    "floor": (lambda x: T.floor(x) * x, [away_from_integers(5)]),
    "ceil": (lambda x: T.ceil(x) * x, [away_from_integers(5)]),
    "trunc": (lambda x: T.trunc(x) * x, [away_from_integers(5)]),
    "round_half_to_even": (lambda x: T.round(x) * x, [away_from_integers(5) * 0.9]),
    "round_half_away_from_zero": (lambda x: T.round(x, "half_away_from_zero") * x,
                                  [away_from_integers(5) * 0.9]),
}
# Rows whose output is discrete or complex: no gradient is defined through them.
NO_GRAD = {"eq", "neq", "lt", "le", "gt", "ge", "and_", "or_", "xor", "invert", "isnan",
           "isinf", "real", "imag", "conj", "angle", "complex"}


def test_every_row_is_classified():
    assert set(SCALAR_OPS) == set(GRAD_CASES) | NO_GRAD


@pytest.mark.parametrize("name", sorted(GRAD_CASES))
def test_gradient_matches_finite_differences(name):
    fn, point = GRAD_CASES[name]
    verify_grad(fn, point)


def test_cast_gradient_flows_back_in_the_input_dtype():
    x = T.dvector("x")
    g = T.grad(T.sum(T.cast(x, "float32") * 3), x)
    assert g.dtype == "float64"
    np.testing.assert_allclose(g.eval({x: np.ones(3)}), [3, 3, 3])


REFERENCE = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "true_div": np.true_divide,
    "maximum": np.maximum, "minimum": np.minimum, "pow": np.power,
    "exp": np.exp, "log": np.log, "tanh": np.tanh, "sqrt": np.sqrt,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)), "softplus": lambda x: np.log1p(np.exp(x)),
    "abs": np.abs, "sgn": np.sign, "floor": np.floor, "log1p": np.log1p,
    "round_half_to_even": np.round, "round_half_away_from_zero": lambda x: np.sign(x) * np.floor(np.abs(x) + 0.5),
}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_values_match_numpy(name, dtype):
    row = SCALAR_OPS[name]
    args = [np.abs(anywhere(4, 3)).astype(dtype) + 0.1 for _ in range(row.nin)]
    if name.startswith("round"):
        args = [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 0.4], dtype=dtype)]
    symbols = [T.tensor(dtype, shape=(None,) * a.ndim) for a in args]
    out = function(symbols, elemwise(name, *symbols))(*args)
    assert out.dtype == dtype
    np.testing.assert_allclose(out, REFERENCE[name](*args), rtol=1e-6 if dtype == "float32" else 1e-12)


def test_sigmoid_and_softplus_are_finite_at_extremes():
    x = T.dvector()
    f = function([x], [T.sigmoid(x), T.softplus(x)])
    s, sp = f(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(s, [0, 0.5, 1])
    np.testing.assert_allclose(sp, [0, np.log(2), 1000])


@pytest.mark.parametrize("make, other, expected", [
    (T.fvector, 2.0, "float32"),        # weak Python float keeps float32
    (T.fvector, 2, "float32"),
    (T.ivector, 2, "int32"),
    (T.ivector, 2.5, "float64"),        # NumPy 2: int32 array * Python float -> float64
    (T.bvector, 3, "int8"),
    (T.dvector, 1, "float64"),
    (T.cvector, 1.0, "complex64"),
])
def test_python_scalars_are_weakly_typed(make, other, expected):
    x = make("x")
    assert (x * other).dtype == expected
    assert (other * x).dtype == expected


@pytest.mark.parametrize("a, b", [("float32", "float64"), ("int32", "float32"), ("int8", "int16"),
                                  ("int64", "float32"), ("uint8", "int8"), ("float32", "complex64")])
def test_tensor_promotion_follows_numpy(a, b):
    x, y = T.tensor(a, shape=(None,)), T.tensor(b, shape=(None,))
    out = x + y
    assert out.dtype == str(np.result_type(a, b))
    value = function([x, y], out)(np.ones(2, a), np.ones(2, b))
    assert value.dtype == out.dtype


def test_float_functions_of_small_ints_give_float32():
    x = T.bvector()
    assert T.exp(x).dtype == "float32"
    assert T.exp(T.ivector()).dtype == "float64"
    out = function([x], T.exp(x))(np.array([0, 1], dtype="int8"))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, np.exp([0.0, 1.0]), rtol=1e-6)


def test_python_value_out_of_range_for_dtype_is_refused():
    with pytest.raises(TypeError, match="300"):
        T.bvector() + 300


def test_comparisons_and_logic():
    x, y = T.dvectors("x", "y")
    f = function([x, y], [x < y, x <= y, x > y, x >= y, T.eq(x, y), T.neq(x, y),
                          T.and_(x < y, x > 0), T.or_(x < y, x > 0), ~(x < y)])
    a, b = np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, -1.0])
    got = f(a, b)
    want = [a < b, a <= b, a > b, a >= b, a == b, a != b, (a < b) & (a > 0), (a < b) | (a > 0),
            ~(a < b)]
    for g, w in zip(got, want):
        assert g.dtype == np.bool_
        np.testing.assert_array_equal(g, w)


def test_bitwise_ops_refuse_floats():
    with pytest.raises(TypeError, match="bool or integer"):
        T.and_(T.dvector(), T.dvector())


def test_switch_and_clip():
    c, x, y = T.bvector("c"), T.dvector("x"), T.dvector("y")
    f = function([c, x, y], [T.switch(c, x, y), T.clip(x, -1, 1), T.where(c, x, 0.0)])
    cv = np.array([1, 0, 1], dtype="int8")
    xv, yv = np.array([-3.0, 0.5, 2.0]), np.array([9.0, 8.0, 7.0])
    s, cl, w = f(cv, xv, yv)
    np.testing.assert_array_equal(s, np.where(cv, xv, yv))
    np.testing.assert_array_equal(cl, np.clip(xv, -1, 1))
    np.testing.assert_array_equal(w, np.where(cv, xv, 0.0))


def test_complex_arithmetic_and_parts():
    z = T.zvector("z")
    f = function([z], [z * z + 1, T.real(z), T.imag(z), T.conj(z), T.abs(z), T.angle(z)])
    v = np.array([1 + 2j, -3 + 0.5j])
    out = f(v)
    want = [v * v + 1, v.real, v.imag, np.conj(v), np.abs(v), np.angle(v)]
    for o, w in zip(out, want):
        np.testing.assert_allclose(o, w)
    assert [o.dtype for o in out] == [np.complex128] + [np.float64] * 2 + [np.complex128] + [np.float64] * 2
    c = T.complex(T.fvector(), T.fvector())
    assert c.dtype == "complex64"


def test_cast_from_complex_to_real_is_refused():
    with pytest.raises(TypeError, match="imaginary"):
        T.cast(T.zvector(), "float64")


def test_broadcasting_follows_static_patterns():
    m, r = T.dmatrix("m"), T.drow("r")
    f = function([m, r], m + r)
    np.testing.assert_array_equal(f(np.ones((3, 2)), np.array([[1.0, 2.0]])), [[2, 3]] * 3)


def test_runtime_broadcast_of_a_non_broadcastable_axis_is_an_error():
    a, b = T.dmatrices("a", "b")
    f = function([a, b], a + b)
    with pytest.raises(ValueError, match="not broadcastable"):
        f(np.ones((3, 2)), np.ones((1, 2)))


def test_static_length_mismatch_is_an_error_at_build_time():
    a = T.tensor("float64", shape=(3,))
    b = T.tensor("float64", shape=(4,))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        a + b


def test_weak_python_floats_keep_full_precision_with_float64_tensors():
    x = T.dvector('x')
    out = function([x], x * 0.1)(np.array([1.0]))
    assert out[0] == 0.1


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_every_row_accepted_for_bool_inputs_runs_or_is_refused_when_built(name):
    # Either the graph is refused with a TypeError naming the row, or it computes what
    # NumPy computes on the booleans taken as 0/1 (never a NumPy error at run time).
    row = SCALAR_OPS[name]
    b = T.tensor("bool", shape=(None,))
    try:
        out = elemwise(name, *[b] * row.nin)
    except TypeError as err:
        assert name in str(err)
        return
    bv = np.array([True, False, True, False])
    with np.errstate(all="ignore"):
        got = function([b], out, on_unused_input="ignore")(bv)
        if out.dtype.startswith("float"):  # computed in the output's float type
            want = np.asarray(row.impl(*[bv.astype(out.dtype)] * row.nin))
        else:
            try:                               # NumPy's own result where NumPy defines one
                want = np.asarray(getattr(np, name)(*[bv] * row.nin))
            except (AttributeError, TypeError):  # a row of nnframe's, or one NumPy refuses
                want = np.asarray(row.impl(*[bv.astype("int8")] * row.nin))
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               equal_nan=True)


def test_bool_subtraction_is_refused_with_a_hint():
    b = T.tensor("bool", shape=(None,))
    with pytest.raises(TypeError, match=r"neg is not defined for bool inputs .*T\.invert"):
        -b  # noqa: B018  (building the graph is what raises)
    with pytest.raises(TypeError, match="sub is not defined for bool inputs"):
        b - b
    assert (b - 1).dtype == "int64"          # with an integer, as in NumPy
