"""Elemwise: a row of the scalar table applied to tensors, with broadcasting.

Inputs of lower rank are padded on the left with broadcastable dimensions
(``DimShuffle``), as in NumPy.  Only dimensions of static length 1 broadcast:
a matrix whose first axis happens to have length 1 at run time does not
broadcast unless its type says so (``T.row``), exactly as in Theano.

Python scalars are weak: ``fvector * 2.0`` is float32, ``ivector * 2.5`` is
float64, following NumPy 2.

>>> import nnframe.tensor as T
>>> (T.fvector() * 2.0).dtype
'float32'
"""
from typing import TYPE_CHECKING, Any

import numpy as np

from nnframe.core.graph import Apply
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops.scalar import SCALAR_OPS, Cast, ScalarOp
from nnframe.core.types import TensorType, is_discrete

__all__ = ["Elemwise", "elemwise", "cast", "zeros_like", "ones_like", "fill"] + [
    name for name in SCALAR_OPS]


class Elemwise(Op):
    """Apply ``scalar_op`` elementwise over broadcast inputs.

    ``inplace=k`` (set by the ``inplace`` rewrite) writes the result into
    input k's buffer, which must have the output's dtype and shape.
    """

    __props__ = ("scalar_op", "inplace")

    def __init__(self, scalar_op, inplace=None):
        if not isinstance(scalar_op, ScalarOp):
            raise TypeError(f"Elemwise needs a ScalarOp, got {scalar_op!r}")
        self.scalar_op = scalar_op
        self.inplace = inplace
        self.destroy_map = {0: [inplace]} if inplace is not None else {}

    def __str__(self):
        if self.inplace is not None:
            return f"Elemwise{{{self.scalar_op.name},inplace={self.inplace}}}"
        return f"Elemwise{{{self.scalar_op.name}}}"

    def make_node(self, *inputs):
        inputs = _resolve_weak([as_tensor_variable(x) for x in inputs])
        dtype = self.scalar_op.output_dtype([x.dtype for x in inputs])
        ndim = max(x.ndim for x in inputs)
        inputs = [_pad_left(x, ndim) for x in inputs]
        shape = broadcast_static_shapes([x.type.shape for x in inputs], self.scalar_op.name)
        return Apply(self, inputs, [TensorType(dtype, shape)])

    def infer_shape(self, node, input_shapes):
        out = []
        for axis, length in enumerate(node.outputs[0].type.shape):
            if length is not None:
                out.append(length)
                continue
            # Take the length from an input that does not broadcast on this axis.
            out.append(next(s[axis] for x, s in zip(node.inputs, input_shapes)
                            if x.type.shape[axis] != 1))
        return [tuple(out)]

    def L_op(self, inputs, outputs, output_grads):
        rule = self.scalar_op.grad
        if rule is None:
            raise NotImplementedError(f"{self} has no gradient")
        grads = rule(inputs, outputs[0], output_grads[0])
        return [fit_grad(x, gx) for x, gx in zip(inputs, grads)]

    def not_broadcastable_error(self, k, var, shape, others, axis):
        """The ValueError for input ``k`` (Variable ``var``, a value of ``shape``) needing to
        broadcast along ``axis``, which its type does not allow.

        ``others`` says which shapes it failed to match ("the result has shape ...");
        backends find the axis their own way and word the error with this.
        """
        return ValueError(
            f"input {k} ({var}) of {self} has shape {shape} but {others}: axis {axis} is not "
            f"broadcastable in its type {var.type}. Declare it broadcastable (T.row/T.col, "
            "T.addbroadcast, dimshuffle with 'x') or give inputs of equal shapes")


def broadcast_static_shapes(shapes, what="elemwise"):
    """The static shape of broadcasting ``shapes`` (all of the same length)."""
    out = []
    for axis, lengths in enumerate(zip(*shapes)):
        known = {n for n in lengths if n is not None and n != 1}
        if len(known) > 1:
            raise ValueError(f"{what}: inputs have static lengths {sorted(known)} on axis "
                             f"{axis}; shapes {list(shapes)} cannot be broadcast together")
        if known:
            out.append(known.pop())
        elif all(n == 1 for n in lengths):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def fit_grad(x, gx):
    """Sum ``gx`` over the axes ``x`` was broadcast along, and cast to x's dtype."""
    if gx is None or is_discrete(x.dtype):
        return None
    gx = as_tensor_variable(gx)
    axes = [a for a, (bx, bg) in enumerate(zip(x.broadcastable, gx.broadcastable))
            if bx and not bg]
    if axes:
        from nnframe.core.ops.reduce import sum as sum_
        gx = sum_(gx, axis=axes, keepdims=True)
    if gx.dtype != x.dtype:
        gx = cast(gx, x.dtype)
    return gx


def _resolve_weak(inputs):
    """Give weak (Python scalar) constants the dtype NumPy 2 would give them."""
    weak = [getattr(x, "weak", False) for x in inputs]
    if not any(weak) or all(weak):
        return inputs
    from nnframe.core.variable import constant
    strong = [x.dtype for x, w in zip(inputs, weak) if not w]
    out = []
    for x, w in zip(inputs, weak):
        if w:
            value = x.py_value if x.py_value is not None else x.data.item()
            dtype = str(np.result_type(*strong, value))
            try:
                x = constant(value, dtype=dtype, name=x.name)
            except (OverflowError, TypeError):
                raise TypeError(f"the Python value {value!r} does not fit in {dtype}, the "
                                f"dtype of the tensors it is combined with") from None
        out.append(x)
    return out


def _pad_left(x, ndim):
    if x.ndim == ndim:
        return x
    from nnframe.core.ops.shape import dimshuffle
    return dimshuffle(x, ["x"] * (ndim - x.ndim) + list(range(x.ndim)))


# -- builders -------------------------------------------------------------------
_ELEMWISE_OPS = {name: Elemwise(row) for name, row in SCALAR_OPS.items()}


def elemwise(name, *inputs):
    """Apply the scalar op called ``name`` to ``inputs``."""
    return _ELEMWISE_OPS[name](*inputs)


def _builder(name):
    op = _ELEMWISE_OPS[name]
    row = SCALAR_OPS[name]

    def build(*inputs):
        if len(inputs) != row.nin:
            raise TypeError(f"{name}() takes {row.nin} argument(s), got {len(inputs)}")
        return op(*inputs)
    build.__name__ = name
    build.__doc__ = f"Elementwise ``{name}`` of {row.nin} tensor(s) (see nnframe.core.ops.scalar)."
    return build


for _name in SCALAR_OPS:
    globals()[_name] = _builder(_name)

if TYPE_CHECKING:
    # The builders above are made from the table at import; type checkers cannot see them.
    def __getattr__(name: str) -> Any: ...
del _name


def cast(x, dtype):
    """``x`` converted to ``dtype`` (a no-op when it already has it).

    >>> import nnframe.tensor as T
    >>> T.cast(T.fvector(), 'int32').dtype
    'int32'
    """
    x = as_tensor_variable(x)
    if dtype == "floatX":
        from nnframe.config import config
        dtype = config.floatX
    dtype = str(np.dtype(dtype))
    if x.dtype == dtype:
        return x
    return Elemwise(Cast(dtype))(x)


def fill(model, value):
    """A tensor shaped like ``model`` filled with ``value``."""
    return second(model, value)  # noqa: F821  (built from the table above)


def zeros_like(x, dtype=None):
    """Zeros with the shape of ``x`` and its dtype (or ``dtype``)."""
    x = as_tensor_variable(x)
    from nnframe.core.variable import constant
    return second(x, constant(0, dtype=dtype or x.dtype))  # noqa: F821


def ones_like(x, dtype=None):
    """Ones with the shape of ``x`` and its dtype (or ``dtype``)."""
    x = as_tensor_variable(x)
    from nnframe.core.variable import constant
    return second(x, constant(1, dtype=dtype or x.dtype))  # noqa: F821
