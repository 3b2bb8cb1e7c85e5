"""The OpenCL C form of every row of the scalar table, in one table.

Core's table (:data:`~nnframe.core.ops.scalar.SCALAR_OPS`) says what a row
computes (name, arity, NumPy function, gradient, output dtype, printing);
:data:`FORMS` says how this backend writes it in C.  It maps a row's name to
a :class:`Form`: a function ``render(args, in_dtypes, out_dtype, vector)``
returning a C expression of type ``ctype(out_dtype)`` over ``args`` (C
expressions of ``in_dtypes``), with NumPy's semantics for those dtypes, and
whether the expression is also valid on ``floatN`` vectors.  As in
tinygrad's ``code_for_op``, most entries are a format string over
``{0}``, ``{1}``... given to a constructor that says how the arguments are
prepared; dtype-dependent forms are small functions: integer floor division
and modulo (no trap on zero), NaN-propagating maximum/minimum/clip/relu,
``sign`` of NaN, casts to bool and the integer forms of float functions.
Cast rows (``cast{float32}``...) are one family of core's
:class:`~nnframe.core.ops.scalar.Cast`: their entry is :data:`CAST`.

Rows in :data:`HOST_ONLY` have no device form: their nodes run on the host
(see docs/opencl.md, "Fallbacks").  A test fails when a row of core's table
is in neither, or when this module names a row core does not have.

Adding a row: add it to core's table, then give it an entry here (or put it
in :data:`HOST_ONLY`).  The code generator
(:func:`~nnframe.backends.opencl.codegen.scalar_expr`) only looks rows up.

>>> form = FORMS["add"]
>>> form.render(["x", "y"], ["int8", "int8"], "int8", False), form.vector_safe
('((char)(x + y))', True)
"""
from collections import namedtuple

import numpy as np

from nnframe.backends.opencl.codegen import ctype, literal
from nnframe.core.ops.scalar import Cast
from nnframe.core.types import upcast

__all__ = ["Form", "FORMS", "CAST", "HOST_ONLY", "VECTOR_SAFE", "form_of", "math_form"]

#: ``render(args, in_dtypes, out_dtype, vector) -> C``; ``vector_safe``: the
#: expression is also valid on ``floatN`` vectors (every value one float dtype).
Form = namedtuple("Form", ["render", "vector_safe"])


def _kind(dtype):
    """NumPy's kind letter: 'f' float, 'i' signed, 'u' unsigned, 'b' bool."""
    return np.dtype(dtype).kind


# -- argument preparation ------------------------------------------------------------
def _cast_expr(expr, from_dtype, to_dtype, vector):
    """``expr`` (of ``from_dtype``) converted to ``to_dtype`` as NumPy's ``astype`` does."""
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


def _in_output(body):
    """A render computing ``body(a, out_dtype, vector)`` on arguments cast to the output dtype.

    A bool result is normalised to 0/1 (C's ``2 + 1`` is not a bool).
    """
    def render(args, in_dtypes, out, vector):
        a = [_cast_expr(x, d, out, vector) for x, d in zip(args, in_dtypes)]
        expr = body(a, out, vector)
        return f"((uchar)(({expr}) != 0))" if out == "bool" else expr
    return render


# -- constructors for the common cases ------------------------------------------------
def _math(template):
    """A C expression that agrees with NumPy as written (float functions, ``/``)."""
    return _in_output(lambda a, out, vector: f"({template.format(*a)})")


def _wrapping(template):
    """Integer arithmetic: C computes narrow integers in ``int``; the cast wraps like NumPy."""
    def body(a, out, vector):
        expr = template.format(*a)
        return expr if vector or _kind(out) == "f" else f"(({ctype(out)}){expr})"
    return _in_output(body)


def _float_only(template):
    """A float function that is the identity on integers and bools (floor, ceil...)."""
    return _in_output(lambda a, out, vector: f"({template.format(*a)})"
                      if _kind(out) == "f" else a[0])


def _int_helper(helper):
    """A call to the ``nnf_<helper>_<type>`` functions of codegen (floor semantics, no trap)."""
    return _in_output(lambda a, out, vector: f"(nnf_{helper}_{ctype(out)}({a[0]}, {a[1]}))")


def _extremum(op, int_fn):
    """maximum/minimum: ``int_fn`` on integers; on floats NaN propagates (C's max does not)."""
    def body(a, out, vector):
        if _kind(out) != "f":
            return f"({int_fn}({a[0]}, {a[1]}))"
        return f"((({a[0]}) {op} ({a[1]}) || isnan({a[0]})) ? ({a[0]}) : ({a[1]}))"
    return _in_output(body)


def _compare(op):
    """A comparison in the arguments' common dtype, as a 0/1 bool."""
    def render(args, in_dtypes, out, vector):
        common = upcast(*in_dtypes)
        a, b = (_cast_expr(x, d, common, vector) for x, d in zip(args, in_dtypes))
        return f"((uchar)(({a}) {op} ({b})))"
    return render


def _float_test(fn):
    """isnan/isinf: false for every integer; on floats the C result is made 0/1."""
    def render(args, in_dtypes, out, vector):
        if _kind(in_dtypes[0]) != "f":
            return "((uchar)0)"
        return f"((uchar)({fn}({args[0]}) != 0))"
    return render


def math_form(template):
    """A vector-safe form computing ``template`` (C over ``{0}``...) on arguments cast to
    the output dtype: the constructor of most float rows, for other generators' tables."""
    return _vector(_math(template))


# -- forms that are functions of the dtypes --------------------------------------------
@_in_output
def _pow(a, out, vector):
    """C's pow on floats; exact repeated squaring on integers (as NumPy)."""
    if _kind(out) == "f":
        return f"(pow({a[0]}, {a[1]}))"
    return f"(nnf_pow_{ctype(out)}({a[0]}, {a[1]}))"


@_in_output
def _relu(a, out, vector):
    """max(x, 0) as NumPy computes it, per kind (unsigned and bool are never negative)."""
    zero = literal(0, out)
    if _kind(out) == "f":  # np.maximum(x, 0): NaN propagates
        return f"((({a[0]}) >= {zero} || isnan({a[0]})) ? ({a[0]}) : {zero})"
    return f"(max({a[0]}, {zero}))" if _kind(out) == "i" else a[0]


@_in_output
def _clip(a, out, vector):
    """clip(x, lo, hi): C's min/max on integers; np.clip's NaN rules on floats."""
    if _kind(out) != "f":
        return f"(min(max({a[0]}, {a[1]}), {a[2]}))"
    # np.clip propagates a NaN of x, then of either bound.
    lo = f"(isnan({a[0]}) ? ({a[0]}) : (({a[0]}) > ({a[1]}) ? ({a[0]}) : ({a[1]})))"
    return f"(isnan({lo}) ? ({lo}) : (({lo}) < ({a[2]}) ? ({lo}) : ({a[2]})))"


@_in_output
def _invert(a, out, vector):
    """Bitwise not; of a bool, logical not (C's ~1 is -2)."""
    return f"((uchar)!({a[0]}))" if out == "bool" else f"(({ctype(out)})~({a[0]}))"


@_in_output
def _abs(a, out, vector):
    """fabs on floats, abs wrapped to the type on signed integers, identity otherwise."""
    if _kind(out) == "f":
        return f"(fabs({a[0]}))"
    return f"(({ctype(out)})abs({a[0]}))" if _kind(out) == "i" else a[0]


@_in_output
def _sign(a, out, vector):
    """-1, 0 or 1; NaN of NaN; a bool is its own sign."""
    if _kind(out) == "f":  # C's sign(NaN) is 0, NumPy's is NaN
        return f"(isnan({a[0]}) ? ({a[0]}) : sign({a[0]}))"
    if _kind(out) == "i":
        return f"(({ctype(out)})((({a[0]}) > 0) - (({a[0]}) < 0)))"
    return f"(({ctype(out)})(({a[0]}) > 0))"


@_in_output
def _round_half_away(a, out, vector):
    """Round half away from zero; integers are whole already."""
    # Core's NumPy formula, not C's round(): they differ where fabs(x) + 0.5
    # rounds up (0.49999999999999994 gives 1).
    if _kind(out) != "f":
        return a[0]
    return f"(sign({a[0]}) * floor(fabs({a[0]}) + {literal(0.5, out)}))"


@_in_output
def _softplus(a, out, vector):
    """log(1 + exp(x)) without overflow."""
    # max(x, 0) as a ternary: OpenCL has no max(float, int).
    zero = literal(0, out)
    return f"((({a[0]}) > {zero} ? ({a[0]}) : {zero}) + log1p(exp(-fabs({a[0]}))))"


def _switch(args, in_dtypes, out, vector):
    """cond ? a : b; the condition is tested as it is, the branches cast to the output."""
    c = args[0]
    a, b = (_cast_expr(x, d, out, vector) for x, d in zip(args[1:], in_dtypes[1:]))
    return f"((({c}) != 0) ? ({a}) : ({b}))"


def _second(args, in_dtypes, out, vector):
    """The second argument, in the output dtype (the first only gives the shape)."""
    return _cast_expr(args[1], in_dtypes[1], out, vector)


def _cast(args, in_dtypes, out, vector):
    """The form of every Cast row."""
    return _cast_expr(args[0], in_dtypes[0], out, vector)


def _scalar(render):
    """An entry valid on scalars only."""
    return Form(render, False)


def _vector(render):
    """An entry also valid on ``floatN`` vectors."""
    return Form(render, True)


# -- the table -------------------------------------------------------------------------
#: row name -> Form.  Not vector-safe: sin/cos/tan, whose PoCL 3.0 float vector
#: forms return wrong values in every lane of a vector that also holds a huge
#: argument (sin(-1e-30) gives -0.0099 next to 1e30); int_div and mod (their
#: helpers take scalars); integer-only rows; rows with bool results.
FORMS = {
    # binary arithmetic
    "add": _vector(_wrapping("({0} + {1})")),
    "sub": _vector(_wrapping("({0} - {1})")),
    "mul": _vector(_wrapping("({0} * {1})")),
    "true_div": _vector(_math("({0} / {1})")),
    "int_div": _scalar(_int_helper("floordiv")),
    "mod": _scalar(_int_helper("mod")),
    "pow": _vector(_pow),
    "maximum": _vector(_extremum(">=", "max")),
    "minimum": _vector(_extremum("<=", "min")),
    # comparisons and logic
    "eq": _scalar(_compare("==")),
    "neq": _scalar(_compare("!=")),
    "lt": _scalar(_compare("<")),
    "le": _scalar(_compare("<=")),
    "gt": _scalar(_compare(">")),
    "ge": _scalar(_compare(">=")),
    "and_": _scalar(_wrapping("({0} & {1})")),
    "or_": _scalar(_wrapping("({0} | {1})")),
    "xor": _scalar(_wrapping("({0} ^ {1})")),
    "invert": _scalar(_invert),
    "isnan": _scalar(_float_test("isnan")),
    "isinf": _scalar(_float_test("isinf")),
    # ternary and selection
    "switch": _vector(_switch),
    "clip": _vector(_clip),
    "second": _vector(_second),
    # unary
    "neg": _vector(_wrapping("(-{0})")),
    "identity": _vector(_in_output(lambda a, out, vector: a[0])),
    "exp": _vector(_math("exp({0})")),
    "expm1": _vector(_math("expm1({0})")),
    "log": _vector(_math("log({0})")),
    "log1p": _vector(_math("log1p({0})")),
    "log2": _vector(_math("log2({0})")),
    "log10": _vector(_math("log10({0})")),
    "sqrt": _vector(_math("sqrt({0})")),
    "reciprocal": _vector(_math("(1 / {0})")),
    "sqr": _vector(_wrapping("({0} * {0})")),
    "tanh": _vector(_math("tanh({0})")),
    "sinh": _vector(_math("sinh({0})")),
    "cosh": _vector(_math("cosh({0})")),
    "sin": _scalar(_math("sin({0})")),
    "cos": _scalar(_math("cos({0})")),
    "tan": _scalar(_math("tan({0})")),
    "arctan": _vector(_math("atan({0})")),
    "sigmoid": _vector(_math("(1 / (1 + exp(-{0})))")),
    "softplus": _vector(_softplus),
    "relu": _vector(_relu),
    "abs": _vector(_abs),
    "sgn": _vector(_sign),
    "floor": _vector(_float_only("floor({0})")),
    "ceil": _vector(_float_only("ceil({0})")),
    "trunc": _vector(_float_only("trunc({0})")),
    "round_half_to_even": _vector(_float_only("rint({0})")),
    "round_half_away_from_zero": _vector(_round_half_away),
}

#: The entry of every :class:`~nnframe.core.ops.scalar.Cast` row (one per target dtype).
#: Not vector-safe: the vector kernels hold one float dtype throughout.
CAST = _scalar(_cast)

#: Rows with no device form.  They compute on complex numbers, which have no
#: device arithmetic here (and a complex input or output already sends the
#: node to the host before any form is asked for).
HOST_ONLY = frozenset(["real", "imag", "conj", "angle", "complex"])

#: names of the rows whose form is valid on ``floatN`` vectors
VECTOR_SAFE = frozenset(name for name, form in FORMS.items() if form.vector_safe)


def form_of(row):
    """The :class:`Form` of scalar op ``row``; NotImplementedError when it has none."""
    if isinstance(row, Cast):
        return CAST
    form = FORMS.get(row.name)
    if form is None:
        why = "it is host-only" if row.name in HOST_ONLY else "no entry in FORMS"
        raise NotImplementedError(f"the scalar op {row.name} has no OpenCL form ({why})")
    return form
