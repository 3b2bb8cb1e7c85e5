"""The C that comes before every generated function.

The elementwise forms are shared with the OpenCL backend
(:data:`~nnframe.backends.opencl.scalar_forms.FORMS`, one table for both
code generators), so they are written in OpenCL C.  This prelude makes
that text mean the same in C11: OpenCL's type names (``uchar``, ``ulong``...;
``char`` is signed because the compiler gets ``-fsigned-char``), its
type-generic math (``exp``, ``fabs``, ``max``, ``sign``...) as ``_Generic``
selections, and ``NAN``/``INFINITY``.  The transcendental functions are
nnframe's own vectorisable polynomials (:mod:`~nnframe.backends.native.cmath`),
never libm's scalar calls, which stop GCC from vectorising the loop.
No ``#include``: nothing here depends on the system's headers.
"""
__all__ = ["prelude", "MATH_CALLS"]

_TYPES = r"""
typedef unsigned char uchar;
typedef unsigned short ushort;
typedef unsigned int uint;
typedef unsigned long ulong;
typedef char nnf_check_long[sizeof(long) == 8 ? 1 : -1];  /* OpenCL's long is 64-bit */
#define NNF_EXPORT __attribute__((visibility("default")))
/* a function another translation unit of the same library calls */
#define NNF_HIDDEN __attribute__((visibility("hidden")))
#define NAN __builtin_nanf("")
#define INFINITY __builtin_inff()
#define isnan(x) __builtin_isnan(x)
#define isinf(x) __builtin_isinf(x)
#define NNF_FD(f, d, x) _Generic((x), float: f, default: d)(x)
#define NNF_FD2(f, d, x, y) _Generic((x) + (y), float: f, default: d)((x), (y))
#define fabs(x) NNF_FD(__builtin_fabsf, __builtin_fabs, x)
#define floor(x) NNF_FD(__builtin_floorf, __builtin_floor, x)
#define ceil(x) NNF_FD(__builtin_ceilf, __builtin_ceil, x)
#define trunc(x) NNF_FD(__builtin_truncf, __builtin_trunc, x)
#define rint(x) NNF_FD(__builtin_rintf, __builtin_rint, x)
#define sqrt(x) NNF_FD(__builtin_sqrtf, __builtin_sqrt, x)
#define fmod(x, y) NNF_FD2(__builtin_fmodf, __builtin_fmod, x, y)
#define copysign(x, y) NNF_FD2(__builtin_copysignf, __builtin_copysign, x, y)
#define pow(x, y) NNF_FD2(__builtin_powf, __builtin_pow, x, y)
/* integer max/min/abs (the forms use fabs and selects on floats) */
#define max(a, b) ((a) > (b) ? (a) : (b))
#define min(a, b) ((a) < (b) ? (a) : (b))
#define abs(x) ((x) < 0 ? -(x) : (x))
static inline float nnf_sign_f32(float x) { return x > 0 ? 1.0f : (x < 0 ? -1.0f : 0.0f); }
static inline double nnf_sign_f64(double x) { return x > 0 ? 1.0 : (x < 0 ? -1.0 : 0.0); }
#define sign(x) NNF_FD(nnf_sign_f32, nnf_sign_f64, x)
"""

# Functions the forms call by their OpenCL names, with the C builtins used
# when nnframe's math module has no polynomial for them.
_MATH_NAMES = {"exp": "exp", "expm1": "expm1", "log": "log", "log1p": "log1p",
               "log2": "log2", "log10": "log10", "tanh": "tanh", "sinh": "sinh",
               "cosh": "cosh", "sin": "sin", "cos": "cos", "tan": "tan", "atan": "arctan"}

#: rows computed by one function of the math module rather than the shared form
#: (sigmoid as 1 / (1 + exp(-x)) loses accuracy for large negative x)
_ROW_FUNCTIONS = ("sigmoid", "softplus")

#: the names generated C calls the elementary functions by (each a macro of the prelude)
MATH_CALLS = tuple(_MATH_NAMES) + tuple(f"nnf_{row}" for row in _ROW_FUNCTIONS)

_OBJECTS = r"""
/* the Python objects the entry point reads (offsets measured by layout.py) */
#define NNF_ITEM(t, k) (((void *const *)((const char *)(t) + {tuple_items}))[k])
#define NNF_DATA(a) (*(char *const *)((const char *)(a) + {array_data}))
"""


def prelude(tuple_items, array_data):
    """The prelude's C text for objects laid out at these offsets (see layout.py)."""
    from nnframe.backends.native.cmath import MATH_FUNCTIONS, MATH_SOURCE
    lines = [MATH_SOURCE, _TYPES]  # the math first: the macros below must not touch it
    for c_name, row in _MATH_NAMES.items():
        fns = MATH_FUNCTIONS.get(row)
        if fns is None:
            f32, f64 = f"__builtin_{c_name}f", f"__builtin_{c_name}"
        else:
            f32, f64 = fns
        lines.append(f"#define {c_name}(x) NNF_FD({f32}, {f64}, x)")
    # whole-row functions the native forms call (elemwise.NATIVE_FORMS)
    for row in _ROW_FUNCTIONS:
        f32, f64 = MATH_FUNCTIONS[row]
        lines.append(f"#define nnf_{row}(x) NNF_FD({f32}, {f64}, x)")
    lines.append(_OBJECTS.replace("{tuple_items}", str(tuple_items))
                 .replace("{array_data}", str(array_data)))
    return "\n".join(lines)
