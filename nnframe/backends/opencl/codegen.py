"""OpenCL C code generation shared by the kernel modules.

- :func:`ctype` and :func:`literal`: C types and exact literals of NumPy dtypes;
- :func:`scalar_expr`: one row of the scalar table
  (:mod:`nnframe.core.ops.scalar`) as a C expression with NumPy's semantics for
  the given dtypes.  The table's ``c_expr`` is used as is where C agrees with
  NumPy; integer division and modulo (floor semantics, no trap on zero),
  NaN-propagating maximum/minimum/clip, ``sign`` of NaN, casts to bool and
  the integer forms of float functions are written here;
- :func:`kernel_name`: names derived from a kernel's text, so identical
  kernels are compiled once per program;
- :func:`index_code`: coordinates and offsets of strided operands;
- :func:`vector_access`: loads and stores of vectors at element-aligned addresses.
"""
import hashlib
import math

import numpy as np

from nnframe.core.ops.scalar import Cast
from nnframe.core.types import upcast

__all__ = ["ctype", "literal", "supported_dtype", "scalar_expr", "kernel_name",
           "index_code", "MAX_NDIM", "VECTOR_SAFE", "helpers_for", "vector_access",
           "CONTRACT"]

#: dimensions a device kernel handles (shapes and strides travel as long8)
MAX_NDIM = 8

_CTYPES = {"bool": "uchar", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
           "uint8": "uchar", "uint16": "ushort", "uint32": "uint", "uint64": "ulong",
           "float32": "float", "float64": "double"}

#: rows whose expression is also valid on floatN vectors (all values one float dtype).
#: Not sin/cos/tan: PoCL 3.0's float vector forms return wrong values in every lane
#: of a vector that also holds a huge argument (sin(-1e-30) gives -0.0099 next to 1e30).
VECTOR_SAFE = frozenset([
    "add", "sub", "mul", "true_div", "neg", "identity", "second", "exp", "expm1", "log",
    "log1p", "log2", "log10", "sqrt", "reciprocal", "sqr", "tanh", "sinh", "cosh",
    "arctan", "sigmoid", "softplus", "abs", "pow", "maximum", "minimum",
    "clip", "floor", "ceil", "trunc", "round_half_to_even", "round_half_away_from_zero",
    "sgn", "switch", "relu"])


def supported_dtype(dtype, ctx=None):
    """Whether device kernels handle ``dtype`` (no complex, no float16; float64 needs fp64)."""
    name = str(np.dtype(dtype))
    if name not in _CTYPES:
        return False
    return not (name == "float64" and ctx is not None and not ctx.fp64)


def ctype(dtype):
    return _CTYPES[str(np.dtype(dtype))]


def literal(value, dtype):
    """An exact C literal of ``value`` converted to ``dtype``."""
    dtype = str(np.dtype(dtype))
    t = ctype(dtype)
    if dtype == "bool":
        return f"((uchar){int(bool(value))})"
    kind = np.dtype(dtype).kind
    if kind == "f":
        v = float(np.asarray(value).astype(dtype))
        if math.isnan(v):
            return f"(({t})NAN)"
        if math.isinf(v):
            return f"(({t})INFINITY)" if v > 0 else f"(-({t})INFINITY)"
        text = v.hex()
        return f"(({t}){text}{'f' if dtype == 'float32' else ''})"
    v = int(np.asarray(value).astype(dtype))
    if kind == "u":
        return f"(({t}){v}UL)"
    if v == -2 ** 63:
        return "((long)(-9223372036854775807L - 1))"
    return f"(({t}){v}L)"


def kernel_name(prefix, text):
    """``prefix`` plus a hash of ``text`` (a kernel body using ``KNAME`` for its name)."""
    return f"{prefix}_{hashlib.sha1(text.encode()).hexdigest()[:12]}"


def index_code(ndim, operands, inner="i", outer="o", shape="shape"):
    """C statements computing coordinates ``c0..`` and each operand's offset.

    Axis ``ndim - 1`` is ``inner``; the other axes are decoded from ``outer``
    (their lengths are ``shape.s0``...; an axis of length 1 costs no
    division).  ``operands`` is a list of (offset variable, base offset,
    strides variable): each gets ``long var = base + sum(c_d * strides.s_d)``.
    """
    lines = []
    if ndim == 0:
        for var, base, _ in operands:
            lines.append(f"long {var} = {base};")
        return lines
    lines.append(f"long c{ndim - 1} = {inner};")
    if ndim > 1:
        lines.append(f"long r = {outer};")
        for d in range(ndim - 2, 0, -1):
            lines.append(f"long c{d} = 0; if ({shape}.s{d} != 1) {{ c{d} = r % {shape}.s{d}; "
                         f"r /= {shape}.s{d}; }}")
        lines.append("long c0 = r;")
    for var, base, strides in operands:
        terms = " + ".join(f"c{d} * {strides}.s{d}" for d in range(ndim))
        lines.append(f"long {var} = {base} + {terms};")
    return lines


#: Starts a block in which ``a * b + c`` may become one fused multiply-add.  The
#: program is compiled with contraction off (NumPy rounds twice); the GEMM and
#: GEMV accumulate with fused multiply-adds, written this way rather than as
#: ``fma()`` calls, which PoCL may not inline (see :func:`vector_access`).
CONTRACT = "#pragma OPENCL FP_CONTRACT ON"


def vector_access(builder, dtype, width):
    """``(load, store)``: C for reading/writing ``width`` entries at an element-aligned pointer.

    ``load(ptr)`` is an expression; ``store(value, ptr)`` a statement.  On CPU
    devices they dereference a vector type declared with the element's
    alignment (a typedef added to the program): ``vloadN``/``vstoreN`` are
    calls into PoCL's builtin library, which PoCL 3.0 does not inline when the
    library was built for other CPU features than its target (on AMD Zen 4 it
    links its AVX-512 library into code for ``znver3``); the calls made the
    GEMM 3-5x slower there.  Other devices get ``vloadN``/``vstoreN``.

    >>> load, store = vector_access(builder, "float32", 8)       # doctest: +SKIP
    >>> load("p + i")                                             # doctest: +SKIP
    '(*(const __global nnf_ufloat8*)(p + i))'
    """
    vt = f"{ctype(dtype)}{width}"
    if not builder.ctx.cpu:
        return (lambda ptr: f"vload{width}(0, {ptr})",
                lambda value, ptr: f"vstore{width}({value}, 0, {ptr});")
    name = f"nnf_u{vt}"
    builder.helper(name, f"typedef {vt} __attribute__((aligned({np.dtype(dtype).itemsize}))) "
                         f"{name};")
    return (lambda ptr: f"(*(const __global {name}*)({ptr}))",
            lambda value, ptr: f"*(__global {name}*)({ptr}) = {value};")


# -- scalar expressions ----------------------------------------------------------
def _helpers_int(t, signed):
    if signed:
        floordiv = (f"inline {t} nnf_floordiv_{t}({t} a, {t} b) {{ if (b == 0) return 0; "
                    f"if (b == -1) return ({t})(0 - a); {t} q = a / b; "
                    f"if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; return q; }}")
        mod = (f"inline {t} nnf_mod_{t}({t} a, {t} b) {{ if (b == 0 || b == -1) return 0; "
               f"{t} r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; }}")
    else:
        floordiv = f"inline {t} nnf_floordiv_{t}({t} a, {t} b) {{ return b == 0 ? 0 : a / b; }}"
        mod = f"inline {t} nnf_mod_{t}({t} a, {t} b) {{ return b == 0 ? 0 : a % b; }}"
    power = (f"inline {t} nnf_pow_{t}({t} a, {t} b) {{ {t} r = 1; "
             + ("if (b < 0) return (a == 1) ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0); "
                if signed else "")
             + f"while (b) {{ if (b & 1) r *= a; a *= a; b >>= 1; }} return r; }}")
    return {f"nnf_floordiv_{t}": floordiv, f"nnf_mod_{t}": mod, f"nnf_pow_{t}": power}


def _helpers_float(t):
    # NumPy's npy_divmod: the floor quotient and the remainder with the divisor's sign.
    z = "0.0f" if t == "float" else "0.0"
    half = "0.5f" if t == "float" else "0.5"
    one = "1.0f" if t == "float" else "1.0"
    floordiv = (f"inline {t} nnf_floordiv_{t}({t} a, {t} b) {{ if (b == 0) return a / b; "
                f"{t} m = fmod(a, b); {t} d = (a - m) / b; "
                f"if (m != 0) {{ if ((b < 0) != (m < 0)) d -= {one}; }} "
                f"if (d != 0) {{ {t} f = floor(d); if (d - f > {half}) f += {one}; return f; }} "
                f"return copysign({z}, a / b); }}")
    mod = (f"inline {t} nnf_mod_{t}({t} a, {t} b) {{ if (b == 0) return fmod(a, b); "
           f"{t} m = fmod(a, b); if (m != 0) {{ if ((b < 0) != (m < 0)) m += b; }} "
           f"else m = copysign({z}, b); return m; }}")
    return {f"nnf_floordiv_{t}": floordiv, f"nnf_mod_{t}": mod}


_HELPERS = {}
for _t, _signed in (("char", True), ("short", True), ("int", True), ("long", True),
                    ("uchar", False), ("ushort", False), ("uint", False), ("ulong", False)):
    _HELPERS.update(_helpers_int(_t, _signed))
_HELPERS.update(_helpers_float("float"))
_HELPERS.update(_helpers_float("double"))


def helpers_for(expr):
    """``{name: source}`` of the helper functions ``expr`` calls."""
    return {name: src for name, src in _HELPERS.items() if name + "(" in expr}


def _cast(expr, from_dtype, to_dtype, vector):
    if vector or str(np.dtype(from_dtype)) == str(np.dtype(to_dtype)):
        return expr
    to = np.dtype(to_dtype)
    if to.name == "bool":
        return f"((uchar)(({expr}) != 0))"
    if to.kind == "u" and np.dtype(from_dtype).kind == "f":
        # Negative floats to unsigned: C leaves it undefined; NumPy (x86) wraps
        # through a signed 64-bit conversion.
        if to.itemsize < 8:
            return f"(({ctype(to)})(long)({expr}))"
        return f"(({expr}) < 0 ? (ulong)(long)({expr}) : (ulong)({expr}))"
    return f"(({ctype(to)})({expr}))"


def scalar_expr(row, in_dtypes, out_dtype, args, vector=False):
    """The C expression of scalar op ``row`` on ``args`` (C expressions of ``in_dtypes``).

    The result has type ``ctype(out_dtype)`` (or its vector form when
    ``vector``: then every value has the one float dtype ``out_dtype``).
    Raises NotImplementedError for rows without a device form (complex).
    """
    name = row.name
    out = str(np.dtype(out_dtype))
    kind = np.dtype(out).kind
    t = ctype(out)
    if isinstance(row, Cast):
        return _cast(args[0], in_dtypes[0], out, vector)
    if row.float_inputs:
        args = [_cast(a, d, out, vector) for a, d in zip(args, in_dtypes)]
        if name == "softplus":
            return softplus_expr(args[0], out)
        return f"({row.c_expr.format(*args)})"
    if name in ("eq", "neq", "lt", "le", "gt", "ge"):
        common = upcast(*in_dtypes)
        a, b = (_cast(x, d, common, vector) for x, d in zip(args, in_dtypes))
        op = {"eq": "==", "neq": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}[name]
        return f"((uchar)(({a}) {op} ({b})))"
    if name in ("isnan", "isinf"):
        if np.dtype(in_dtypes[0]).kind != "f":
            return "((uchar)0)"
        return f"((uchar)({name}({args[0]}) != 0))"
    if name == "switch":
        c = args[0]
        a, b = (_cast(x, d, out, vector) for x, d in zip(args[1:], in_dtypes[1:]))
        return f"((({c}) != 0) ? ({a}) : ({b}))"
    if name == "second":
        return _cast(args[1], in_dtypes[1], out, vector)
    if name in ("real", "imag", "conj", "angle", "complex"):
        raise NotImplementedError(f"{name} of complex numbers has no OpenCL kernel")
    # the remaining rows compute in the output dtype
    args = [_cast(a, d, out, vector) for a, d in zip(args, in_dtypes)]
    expr = _same_type_expr(name, row, args, out, kind, t, vector)
    if out == "bool":
        return f"((uchar)(({expr}) != 0))"
    return expr


def _same_type_expr(name, row, a, out, kind, t, vector):
    lit = lambda v: literal(v, out)  # noqa: E731
    if name == "maximum" or name == "minimum":
        if kind != "f":
            return f"({'max' if name == 'maximum' else 'min'}({a[0]}, {a[1]}))"
        op = ">=" if name == "maximum" else "<="
        # NumPy propagates NaN (C's fmax/max do not).
        return f"((({a[0]}) {op} ({a[1]}) || isnan({a[0]})) ? ({a[0]}) : ({a[1]}))"
    if name == "relu":
        zero = lit(0)
        if kind == "f":  # np.maximum(x, 0): NaN propagates
            return f"((({a[0]}) >= {zero} || isnan({a[0]})) ? ({a[0]}) : {zero})"
        return f"(max({a[0]}, {zero}))" if kind == "i" else a[0]
    if name == "clip":
        if kind != "f":
            return f"(min(max({a[0]}, {a[1]}), {a[2]}))"
        lo = f"(isnan({a[0]}) ? ({a[0]}) : (({a[0]}) > ({a[1]}) ? ({a[0]}) : ({a[1]})))"
        return f"(isnan({lo}) ? ({lo}) : (({lo}) < ({a[2]}) ? ({lo}) : ({a[2]})))"
    if name in ("int_div", "mod"):
        helper = "floordiv" if name == "int_div" else "mod"
        return f"(nnf_{helper}_{t}({a[0]}, {a[1]}))"
    if name == "pow":
        if kind == "f":
            return f"(pow({a[0]}, {a[1]}))"
        return f"(nnf_pow_{t}({a[0]}, {a[1]}))"
    if name == "invert":
        return f"((uchar)!({a[0]}))" if out == "bool" else f"(({t})~({a[0]}))"
    if name in ("add", "sub", "mul", "and_", "or_", "xor", "neg", "sqr"):
        expr = row.c_expr.format(*a)
        return expr if vector or kind == "f" else f"(({t}){expr})"
    if name == "identity":
        return a[0]
    if name == "abs":
        if kind == "f":
            return f"(fabs({a[0]}))"
        return f"(({t})abs({a[0]}))" if kind == "i" else a[0]
    if name == "sgn":
        if kind == "f":
            return f"(isnan({a[0]}) ? ({a[0]}) : sign({a[0]}))"
        if kind == "i":
            return f"(({t})((({a[0]}) > 0) - (({a[0]}) < 0)))"
        return f"(({t})(({a[0]}) > 0))"
    if name in ("floor", "ceil", "trunc", "round_half_to_even"):
        return f"({row.c_expr.format(a[0])})" if kind == "f" else a[0]
    if name == "round_half_away_from_zero":
        if kind != "f":
            return a[0]
        return f"(sign({a[0]}) * floor(fabs({a[0]}) + {lit(0.5)}))"
    raise NotImplementedError(f"no OpenCL form for the scalar op {name}")


def softplus_expr(arg, dtype):
    """log(1 + exp(x)) without overflow (the table's form needs max(float, int))."""
    zero = literal(0, dtype)
    return f"((({arg}) > {zero} ? ({arg}) : {zero}) + log1p(exp(-fabs({arg}))))"
