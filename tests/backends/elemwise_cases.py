"""The cases both code generators' elementwise tests run: which rows, on which values.

The OpenCL tests (test_opencl_elemwise.py) and the native C tests
(test_native_elemwise.py) check every row of core's scalar table against
the NumPy backend on the same kinds of values: NaN, +-Inf, +-0, halves that
round either way, huge and tiny numbers, then random ones.  Each test module
draws from its own generator, so what one module draws never depends on
which other tests ran before::

    rng = np.random.default_rng(0)
    float_values, int_values = value_generators(rng)
    float_values("float32")[:4]      # nan, inf, -inf, 0.0 ...
"""
import numpy as np

from nnframe.core.ops.scalar import SCALAR_OPS

__all__ = ["N", "TRANSCENDENTAL", "COMPLEX", "FLOAT_ROWS", "INT_ROWS", "DTYPES",
           "value_generators", "typed_composite", "integer_powers"]

N = 300  # more than the OpenCL host shortcut's size: every node runs a device kernel

# Rows computed with transcendental functions: another libm may differ in the last ulps.
TRANSCENDENTAL = {"true_div", "pow", "exp", "expm1", "log", "log1p", "log2", "log10", "sqrt",
                  "tanh", "sinh", "cosh", "sin", "cos", "tan", "arctan", "sigmoid", "softplus",
                  "reciprocal"}
COMPLEX = {"real", "imag", "conj", "angle", "complex"}
FLOAT_ROWS = [name for name in SCALAR_OPS if name not in COMPLEX
              and name not in ("and_", "or_", "xor", "invert")]
INT_ROWS = ["add", "sub", "mul", "int_div", "mod", "maximum", "minimum", "eq", "neq",
            "lt", "le", "gt", "ge", "and_", "or_", "xor", "invert", "switch", "clip", "second",
            "neg", "identity", "sqr", "abs", "sgn", "floor", "ceil", "trunc", "relu",
            "round_half_to_even", "round_half_away_from_zero", "isnan", "isinf", "exp",
            "true_div"]
#: every dtype the generated code holds (complex and float16 stay on the host)
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64"]


def value_generators(rng, n=N):
    """``(float_values, int_values)``: functions of a dtype drawing ``n`` values from ``rng``.

    ``float_values`` starts with NaN, +-Inf, +-0, +-0.5, 1.5, +-2.5, 1e30 and
    -1e-30, then uniform values in [-3, 3); ``int_values`` starts with 0 and
    the dtype's extremes clipped to [-20, 20], then uniform integers there.
    """

    def float_values(dtype):
        v = rng.uniform(-3, 3, size=n)
        v[:12] = [np.nan, np.inf, -np.inf, 0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e30, -1e-30]
        return v.astype(dtype)

    def int_values(dtype):
        info = np.iinfo(dtype)
        lo, hi = max(info.min, -20), min(info.max, 20)
        v = rng.integers(lo, hi + 1, size=n).astype(dtype)
        v[:3] = [0, lo, hi]
        return v

    return float_values, int_values


def typed_composite(float_values, int_values):
    """``(inputs, outputs, values)`` of a fused chain whose steps have different dtypes:
    int8 (wraps) -> float32 -> bool -> float64, each step computed in its own dtype."""
    import nnframe.tensor as T
    from nnframe.core.ops.elemwise import Elemwise
    from nnframe.core.ops.scalar import Composite
    steps = [(SCALAR_OPS["mul"], (0, 0)),                       # 3: int8 (wraps)
             (SCALAR_OPS["exp"], (3,)),                          # 4: float32
             (SCALAR_OPS["gt"], (4, 1)),                         # 5: bool
             (SCALAR_OPS["switch"], (5, 2, 4)),                  # 6: float64
             (SCALAR_OPS["int_div"], (6, 1))]                    # 7: float64
    comp = Composite(["int8", "float32", "float64"], steps)
    a = T.tensor("int8", shape=(None,))
    b, c = T.fvector("b"), T.dvector("c")
    values = [int_values("int8"), np.abs(float_values("float32")) + 0.5,
              float_values("float64")]
    return [a, b, c], [Elemwise(comp)(a, b, c)], values


def integer_powers(int_values, dtype):
    """``(inputs, outputs, values)``: integer ``x ** y`` (exact repeated squaring, as NumPy)
    with exponents 0..8, a constant exponent and a product after it."""
    import nnframe.tensor as T
    x, y = T.tensor(dtype, shape=(None,)), T.tensor(dtype, shape=(None,))
    exponent = (np.abs(int_values(dtype)) % 9).astype(dtype)
    return [x, y], [x ** y, x ** 3, x ** y * 2], [int_values(dtype), exponent]
