"""OpenCL C code generation shared by the kernel modules.

- :func:`ctype` and :func:`literal`: C types and exact literals of NumPy dtypes;
- :func:`scalar_expr`: one row of the scalar table
  (:mod:`nnframe.core.ops.scalar`) as a C expression with NumPy's semantics for
  the given dtypes.  It only looks the row up: every row's C form, per dtype
  where it matters, is in the one table of
  :mod:`~nnframe.backends.opencl.scalar_forms`, and no op is named here;
- :func:`helpers_for`: the C helper functions those forms call
  (``nnf_floordiv_*``, ``nnf_mod_*``, ``nnf_pow_*``);
- :func:`kernel_name`: names derived from a kernel's text, so identical
  kernels are compiled once per program;
- :func:`index_code`: coordinates and offsets of strided operands;
- :func:`vector_access`: loads and stores of vectors at element-aligned addresses.
"""
import hashlib
import math

import numpy as np

__all__ = ["ctype", "literal", "supported_dtype", "scalar_expr", "kernel_name",
           "index_code", "MAX_NDIM", "helpers_for", "vector_access", "CONTRACT"]

#: dimensions a device kernel handles (shapes and strides travel as long8)
MAX_NDIM = 8

_CTYPES = {"bool": "uchar", "int8": "char", "int16": "short", "int32": "int", "int64": "long",
           "uint8": "uchar", "uint16": "ushort", "uint32": "uint", "uint64": "ulong",
           "float32": "float", "float64": "double"}


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


# -- scalar expressions: the helpers their forms call, and the lookup ---------------
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
             + "while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } return r; }")
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


def scalar_expr(row, in_dtypes, out_dtype, args, vector=False):
    """The C expression of scalar op ``row`` on ``args`` (C expressions of ``in_dtypes``).

    The result has type ``ctype(out_dtype)`` (or its vector form when
    ``vector``: then every value has the one float dtype ``out_dtype``).  The
    form is the row's entry in :data:`~nnframe.backends.opencl.scalar_forms.FORMS`;
    raises NotImplementedError for rows without one (host-only: complex).
    """
    # Imported here: the forms are written with ctype and literal above.
    from nnframe.backends.opencl.scalar_forms import form_of
    return form_of(row).render(list(args), [str(np.dtype(d)) for d in in_dtypes],
                               str(np.dtype(out_dtype)), vector)
