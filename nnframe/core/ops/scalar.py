"""The table of elementwise scalar operations.

One row per operation: name, arity, NumPy implementation, gradient,
output-dtype rule, and how ``pp`` prints it.  The row knows nothing of
backends: :class:`~nnframe.core.ops.elemwise.Elemwise` lifts it to tensors
with broadcasting, fusion chains rows into a :class:`Composite`, the NumPy
backend calls ``impl``.  A backend that generates code keeps ONE table of its
own forms for these rows, keyed by row name (the OpenCL C forms:
:mod:`nnframe.backends.opencl.scalar_forms`), and a test fails when a row has
no form there and is not declared host-only.  Adding a row: add it here, then
give it a form in each such backend table (or mark it host-only there).

Gradient rules get ``(inputs, output, gout)`` as Variables and return one
entry per input (None where no gradient flows).  They build graphs with the
elementwise builders, reached through :func:`_E` to avoid an import cycle.
"""
import math

import numpy as np

from nnframe.core.types import is_complex, is_discrete, real_dtype, upcast, upgrade_to_float

__all__ = ["ScalarOp", "Cast", "SCALAR_OPS", "scalar_op"]


def _E():
    from nnframe.core.ops import elemwise
    return elemwise


# -- output dtype rules (input dtypes -> output dtype) ---------------------
def same(*dtypes):
    return upcast(*dtypes)


def to_float(*dtypes):
    return upgrade_to_float(upcast(*dtypes))


def to_bool(*dtypes):
    return "bool"


def to_real(*dtypes):
    return real_dtype(upcast(*dtypes))


def of_switch(cond, a, b):
    return upcast(a, b)


def of_second(x, y):
    return y


def to_complex(re, im):
    return "complex64" if upcast(re, im) in ("float32", "float16") else "complex128"


# -- input checks -------------------------------------------------------------
def no_complex(name, dtypes):
    if any(is_complex(d) for d in dtypes):
        raise TypeError(f"{name} is not defined for complex inputs (got {', '.join(dtypes)})")


def discrete_only(name, dtypes):
    if not all(is_discrete(d) for d in dtypes):
        raise TypeError(f"{name} needs bool or integer inputs (got {', '.join(dtypes)}); "
                        f"compare floats first or cast them with T.cast")


def no_bool_subtraction(name, dtypes):
    if all(d == "bool" for d in dtypes):
        raise TypeError(f"{name} is not defined for bool inputs (NumPy refuses it too; got "
                        f"{', '.join(dtypes)}): use T.xor or ~x (T.invert) for logic, or cast "
                        "to an integer first")


class ScalarOp:
    """One row of the table.  Compared by name (and, for Cast, the dtype)."""

    def __init__(self, name, nin, impl, grad, out_dtype, infix=None, check=None,
                 float_inputs=False):
        self.name = name
        self.nin = nin
        self.impl = impl              # NumPy function over arrays
        self.grad = grad              # gradient rule, or None
        self.out_dtype = out_dtype    # rule: input dtypes -> output dtype
        self.infix = infix            # (symbol, precedence) for pp, or None
        self.check = check            # rule: (name, dtypes) -> raise on bad inputs
        # Compute in the output dtype: ints are cast to float *before* the call,
        # so exp(int8) is float32 math, not NumPy's float16.
        self.float_inputs = float_inputs
        #: the NumPy implementation can write into a given buffer (``out=``)
        self.accepts_out = isinstance(impl, np.ufunc) or getattr(impl, "accepts_out", False)

    def output_dtype(self, dtypes):
        if len(dtypes) != self.nin:
            raise TypeError(f"{self.name} takes {self.nin} input(s), got {len(dtypes)}")
        if self.check is not None:
            self.check(self.name, dtypes)
        return self.out_dtype(*dtypes)

    def _key(self):
        return (type(self), self.name)

    def __eq__(self, other):
        return isinstance(other, ScalarOp) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return self.name

    def __reduce__(self):
        # Rows hold lambdas: pickle a row as a lookup of its name in the table.
        if SCALAR_OPS.get(self.name) is not self:
            raise TypeError(f"cannot pickle the scalar op {self.name!r}: it is not a row of "
                            "nnframe.core.ops.scalar.SCALAR_OPS")
        return (scalar_op, (self.name,))


class Cast(ScalarOp):
    """Conversion to ``dtype``; differentiable between float dtypes."""

    def __init__(self, dtype):
        dtype = str(np.dtype(dtype))
        self.dtype = dtype
        super().__init__(f"cast{{{dtype}}}", 1, lambda x: x.astype(dtype), _grad_cast,
                         lambda _: dtype, check=self._check)

    def _check(self, name, dtypes):
        if is_complex(dtypes[0]) and not is_complex(self.dtype):
            raise TypeError(f"casting complex {dtypes[0]} to {self.dtype} would drop the "
                            "imaginary part; use T.real, T.imag or T.abs")

    def _key(self):
        return (Cast, self.dtype)

    def __reduce__(self):
        return (Cast, (self.dtype,))


# -- gradient rules -------------------------------------------------------------
def _zeros_for_floats(inputs, output, g):
    """Piecewise-constant ops (sgn, floor, round...): zero gradient, as in Theano."""
    E = _E()
    return [None if is_discrete(x.dtype) else E.zeros_like(x) for x in inputs]


def _as(x, like):
    """Cast a boolean mask ``x`` to the dtype of ``like``."""
    return _E().cast(x, like.dtype)


def _grad_cast(inputs, output, g):
    (x,) = inputs
    if is_discrete(x.dtype):
        return [None]
    return [_E().cast(g, x.dtype)]


def _grad_pow(inputs, z, g):
    E = _E()
    x, y = inputs
    gx = g * y * E.pow(x, y - 1)
    gy = None if is_discrete(y.dtype) else g * E.log(x) * z
    return [gx, gy]


def _grad_clip(inputs, z, g):
    E = _E()
    x, lo, hi = inputs
    inside = E.and_(E.ge(x, lo), E.le(x, hi))
    return [g * _as(inside, g),
            None if is_discrete(lo.dtype) else g * _as(E.lt(x, lo), g),
            None if is_discrete(hi.dtype) else g * _as(E.gt(x, hi), g)]


def _grad_switch(inputs, z, g):
    E = _E()
    c, a, b = inputs
    zero = E.zeros_like(g)
    return [None, E.switch(c, g, zero), E.switch(c, zero, g)]


def _grad_second(inputs, z, g):
    x, y = inputs
    return [None if is_discrete(x.dtype) else _E().zeros_like(x), g]


def _grad_mod(inputs, z, g):
    E = _E()
    x, y = inputs
    return [g, -g * E.floor(x / y)]


def _unary(name, impl, grad, rule=to_float, float_inputs=True, check=no_complex):
    return ScalarOp(name, 1, impl, grad, rule, check=check, float_inputs=float_inputs)


def _sigmoid(x, out=None):
    # tanh form: no overflow warnings, absolute error ~1e-16 (relative
    # accuracy of tiny outputs is lost; use -softplus(-x) for log-sigmoid).
    out = np.multiply(x, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


_sigmoid.accepts_out = True


def _relu(x, out=None):
    return np.maximum(x, 0, out=out)


_relu.accepts_out = True


def _grad_relu(inputs, z, g):
    # The mask comes from the output, so the input (often a bias sum) is
    # dead after the ReLU and both fuse into one node.  At 0 the gradient is 0.
    return [g * _as(_E().gt(z, 0), g)]


def _round_half_away(x):
    if np.asarray(x).dtype.kind in "biu":    # integers and booleans are whole already
        return np.array(x, copy=True)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _sign(x, out=None):
    # NumPy has no sign of a bool; as numbers, True and False are their own signs.
    if np.asarray(x).dtype == np.bool_:
        if out is None:
            return np.array(x, copy=True)
        np.copyto(out, x)
        return out
    return np.sign(x, out=out)


_sign.accepts_out = True


def _second(x, y, out=None):
    if out is None:
        out = np.empty(np.broadcast_shapes(x.shape, y.shape), dtype=y.dtype)
    out[...] = y
    return out


_second.accepts_out = True


def _complex(re, im):
    dtype = np.complex64 if np.result_type(re, im) == np.float32 else np.complex128
    out = np.empty(np.broadcast_shapes(re.shape, im.shape), dtype=dtype)
    out.real = re
    out.imag = im
    return out


def _build_table():
    E = _E
    LN2, LN10 = math.log(2.0), math.log(10.0)
    rows = [
        # binary arithmetic ---------------------------------------------------
        ScalarOp("add", 2, np.add, lambda i, z, g: [g, g], same, infix=("+", 4)),
        ScalarOp("sub", 2, np.subtract, lambda i, z, g: [g, -g], same, infix=("-", 4),
                 check=no_bool_subtraction),
        ScalarOp("mul", 2, np.multiply, lambda i, z, g: [g * i[1], g * i[0]], same,
                 infix=("*", 5)),
        ScalarOp("true_div", 2, np.true_divide, lambda i, z, g: [g / i[1], -g * z / i[1]],
                 to_float, infix=("/", 5), float_inputs=True),
        ScalarOp("int_div", 2, np.floor_divide, _zeros_for_floats, same, infix=("//", 5),
                 check=no_complex),
        ScalarOp("mod", 2, np.mod, _grad_mod, same, infix=("%", 5), check=no_complex),
        ScalarOp("pow", 2, np.power, _grad_pow, same, infix=("**", 7)),
        ScalarOp("maximum", 2, np.maximum,
                 lambda i, z, g: [g * _as(E().ge(i[0], i[1]), g), g * _as(E().lt(i[0], i[1]), g)],
                 same, check=no_complex),
        ScalarOp("minimum", 2, np.minimum,
                 lambda i, z, g: [g * _as(E().le(i[0], i[1]), g), g * _as(E().gt(i[0], i[1]), g)],
                 same, check=no_complex),
        # comparisons and logic (discrete outputs carry no gradient) ----------
        ScalarOp("eq", 2, np.equal, None, to_bool, infix=("==", 3)),
        ScalarOp("neq", 2, np.not_equal, None, to_bool, infix=("!=", 3)),
        ScalarOp("lt", 2, np.less, None, to_bool, infix=("<", 3), check=no_complex),
        ScalarOp("le", 2, np.less_equal, None, to_bool, infix=("<=", 3), check=no_complex),
        ScalarOp("gt", 2, np.greater, None, to_bool, infix=(">", 3), check=no_complex),
        ScalarOp("ge", 2, np.greater_equal, None, to_bool, infix=(">=", 3), check=no_complex),
        ScalarOp("and_", 2, np.bitwise_and, None, same, infix=("&", 2), check=discrete_only),
        ScalarOp("or_", 2, np.bitwise_or, None, same, infix=("|", 1), check=discrete_only),
        ScalarOp("xor", 2, np.bitwise_xor, None, same, infix=("^", 2), check=discrete_only),
        ScalarOp("invert", 1, np.invert, None, same, check=discrete_only),
        ScalarOp("isnan", 1, np.isnan, None, to_bool),
        ScalarOp("isinf", 1, np.isinf, None, to_bool),
        # ternary -------------------------------------------------------------
        ScalarOp("switch", 3, np.where, _grad_switch, of_switch),
        ScalarOp("clip", 3, np.clip, _grad_clip, same, check=no_complex),
        ScalarOp("second", 2, _second, _grad_second, of_second),
        # unary ---------------------------------------------------------------
        ScalarOp("neg", 1, np.negative, lambda i, z, g: [-g], same, infix=("-", 6),
                 check=no_bool_subtraction),
        ScalarOp("identity", 1, np.array, lambda i, z, g: [g], same),
        _unary("exp", np.exp, lambda i, z, g: [g * z]),
        _unary("expm1", np.expm1, lambda i, z, g: [g * (z + 1)]),
        _unary("log", np.log, lambda i, z, g: [g / i[0]]),
        _unary("log1p", np.log1p, lambda i, z, g: [g / (i[0] + 1)]),
        _unary("log2", np.log2, lambda i, z, g: [g / (i[0] * LN2)]),
        _unary("log10", np.log10, lambda i, z, g: [g / (i[0] * LN10)]),
        _unary("sqrt", np.sqrt, lambda i, z, g: [g * 0.5 / z]),
        _unary("reciprocal", np.reciprocal, lambda i, z, g: [-g * z * z]),
        _unary("sqr", np.square, lambda i, z, g: [g * 2 * i[0]], rule=same, float_inputs=False),
        _unary("tanh", np.tanh, lambda i, z, g: [g * (1 - z * z)]),
        _unary("sinh", np.sinh, lambda i, z, g: [g * E().cosh(i[0])]),
        _unary("cosh", np.cosh, lambda i, z, g: [g * E().sinh(i[0])]),
        _unary("sin", np.sin, lambda i, z, g: [g * E().cos(i[0])]),
        _unary("cos", np.cos, lambda i, z, g: [-g * E().sin(i[0])]),
        _unary("tan", np.tan, lambda i, z, g: [g * (1 + z * z)]),
        _unary("arctan", np.arctan, lambda i, z, g: [g / (1 + i[0] * i[0])]),
        _unary("sigmoid", _sigmoid, lambda i, z, g: [g * z * (1 - z)]),
        _unary("softplus", lambda x: np.logaddexp(0, x), lambda i, z, g: [g * E().sigmoid(i[0])]),
        _unary("relu", _relu, _grad_relu, rule=same, float_inputs=False),
        _unary("abs", np.abs, lambda i, z, g: [g * E().sgn(i[0])], rule=to_real,
               float_inputs=False, check=None),
        _unary("sgn", _sign, _zeros_for_floats, rule=same, float_inputs=False),
        _unary("floor", np.floor, _zeros_for_floats, rule=same, float_inputs=False),
        _unary("ceil", np.ceil, _zeros_for_floats, rule=same, float_inputs=False),
        _unary("trunc", np.trunc, _zeros_for_floats, rule=same, float_inputs=False),
        _unary("round_half_to_even", np.round, _zeros_for_floats, rule=same,
               float_inputs=False),
        _unary("round_half_away_from_zero", _round_half_away, _zeros_for_floats, rule=same,
               float_inputs=False),
        # complex -------------------------------------------------------------
        _unary("real", lambda x: np.array(np.real(x)), None, rule=to_real, float_inputs=False,
               check=None),
        _unary("imag", lambda x: np.array(np.imag(x)), None, rule=to_real, float_inputs=False,
               check=None),
        _unary("conj", np.conjugate, None, rule=same, float_inputs=False, check=None),
        _unary("angle", np.angle, None, rule=to_real, float_inputs=False, check=None),
        ScalarOp("complex", 2, _complex, None, to_complex, check=no_complex),
    ]
    return {row.name: row for row in rows}


SCALAR_OPS = _build_table()


def scalar_op(name):
    """The table row called ``name``."""
    return SCALAR_OPS[name]


class Composite(ScalarOp):
    """Several table rows fused into one elementwise operation.

    ``steps`` is a tuple of ``(row, refs)``: ``row`` is a ScalarOp and
    ``refs`` are ints, ``k < nin`` meaning input k and ``k >= nin`` meaning
    the result of step ``k - nin``.  The last step is the output.  Built by
    the fusion rewrite (gradients are taken before fusing, so a Composite
    has no gradient); backends read ``steps`` to generate one kernel.

    >>> c = Composite(["float32", "float32"],
    ...               [(SCALAR_OPS["mul"], (0, 1)), (SCALAR_OPS["tanh"], (2,))])
    >>> c.name
    'composite{tanh(mul(i0, i1))}'
    """

    def __init__(self, input_dtypes, steps, value_broadcastable=None):
        self.input_dtypes = tuple(str(np.dtype(d)) for d in input_dtypes)
        #: for each value (inputs, then steps), which axes are broadcastable
        #: (static length 1); None when unknown.  Lets a backend reuse a
        #: buffer for a later step of the same shape.
        self.value_broadcastable = (None if value_broadcastable is None else
                                    tuple(tuple(bool(b) for b in v) for v in value_broadcastable))
        self.steps = tuple((row, tuple(int(r) for r in refs)) for row, refs in steps)
        nin = len(self.input_dtypes)
        dtypes = list(self.input_dtypes)
        for k, (row, refs) in enumerate(self.steps):
            if any(not 0 <= r < nin + k for r in refs):
                raise ValueError(f"Composite step {k} refers to a later value: {refs}")
            dtypes.append(row.output_dtype([dtypes[r] for r in refs]))
        #: dtype of every value: the inputs, then each step's result
        self.value_dtypes = tuple(dtypes)
        out_dtype = dtypes[-1]
        super().__init__(f"composite{{{self._text(len(self.steps) - 1 + nin)}}}", nin,
                         self._evaluate, None, lambda *_: out_dtype)
        self.accepts_out = self.steps[-1][0].accepts_out

    def _text(self, ref):
        nin = len(self.input_dtypes)
        if ref < nin:
            return f"i{ref}"
        row, refs = self.steps[ref - nin]
        return f"{row.name}({', '.join(self._text(r) for r in refs)})"

    def _evaluate(self, *inputs, out=None):
        values = list(inputs)
        for (row, refs), dtype in zip(self.steps, self.value_dtypes[len(inputs):]):
            args = [values[r] for r in refs]
            if row.float_inputs:
                args = [a.astype(dtype) if a.dtype != dtype else a for a in args]
            result = np.asarray(row.impl(*args))
            values.append(result if result.dtype == dtype else result.astype(dtype))
        if out is not None:
            out[...] = values[-1]
            return out
        return values[-1]

    def output_dtype(self, dtypes):
        if tuple(dtypes) != self.input_dtypes:
            raise TypeError(f"{self.name} takes inputs of dtypes {self.input_dtypes}, got "
                            f"{tuple(dtypes)}")
        return self.value_dtypes[-1]

    def _key(self):
        return (Composite, self.input_dtypes, self.steps, self.value_broadcastable)

    def __reduce__(self):
        return (Composite, (self.input_dtypes, self.steps, self.value_broadcastable))
