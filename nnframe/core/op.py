"""The Op base class: the math of one operation, no numeric code.

An Op says what it computes, not how: ``make_node`` checks the inputs and
returns an :class:`~nnframe.core.graph.Apply` with typed outputs,
``infer_shape`` gives the output shapes symbolically, and ``L_op`` builds the
gradient graph.  Each backend registers the kernel that runs the Op.

Ops are compared by their ``__props__`` (PyTensor's discipline), so two
``Sum(axis=(0,))`` instances are equal and graphs built with them merge.

>>> class Double(Op):
...     __props__ = ()
...     def make_node(self, x):
...         x = as_tensor_variable(x)
...         return Apply(self, [x], [x.type])
...     def L_op(self, inputs, outputs, output_grads):
...         return [output_grads[0] * 2]
"""
from collections.abc import Sequence
from typing import Any

from nnframe.core.graph import Apply, Variable

__all__ = ["Op", "GradUndefined", "as_tensor_variable"]


class GradUndefined:
    """Returned by ``L_op`` for an input whose gradient is mathematically undefined.

    ``T.grad`` raises with ``reason`` only if the user asks for a gradient
    that actually flows through this input.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"GradUndefined({self.reason!r})"


class Op:
    """Base class of every operation.

    Subclasses set ``__props__`` (the names of the attributes that define the
    Op), implement ``make_node`` and, where they can, ``infer_shape`` and
    ``L_op``.  ``view_map = {output_index: [input_index]}`` declares outputs
    that may share memory with an input (e.g. a transpose), so that compiled
    functions copy such outputs before handing them to the user.
    """

    __props__: tuple[str, ...] = ()
    view_map: dict[int, list[int]] = {}

    # -- identity ---------------------------------------------------------
    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        if not self.__props__:
            return type(self).__name__
        props = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.__props__)
        return f"{type(self).__name__}{{{props}}}"

    __repr__ = __str__

    # -- graph building ---------------------------------------------------
    def make_node(self, *inputs: Any) -> Apply:
        """Check ``inputs`` and return an Apply node with typed outputs."""
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def __call__(self, *inputs: Any, **kwargs: Any) -> Any:
        node = self.make_node(*inputs, **kwargs)
        return node.outputs[0] if len(node.outputs) == 1 else node.outputs

    def infer_shape(self, node: Apply,
                    input_shapes: Sequence[Sequence[Variable]]) -> list[Sequence[Variable]]:
        """Output shapes (lists of symbolic int64 scalars) from input shapes."""
        raise NotImplementedError(f"{type(self).__name__} has no infer_shape")

    def L_op(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
             output_grads: Sequence[Variable | None]) -> list[Variable | GradUndefined | None]:
        """Gradients of the cost w.r.t. each input, as graphs.

        ``output_grads[i]`` is the gradient w.r.t. ``outputs[i]`` (None when
        no gradient reaches that output).  Return one entry per input: a
        Variable, None (the input is not differentiable here: no gradient
        flows to it) or :class:`GradUndefined`.
        """
        raise NotImplementedError(f"{type(self).__name__} has no gradient (L_op)")

    #: False for Ops that must not be constant-folded (e.g. random draws)
    do_constant_folding: bool = True


def as_tensor_variable(x: Any, name: str | None = None, dtype: Any = None) -> Variable:
    """Return ``x`` as a tensor Variable; Python and NumPy values become Constants.

    Python scalars become *weak* constants (``fvector * 2.0`` stays float32):
    their dtype is decided by the elementwise op that uses them.
    """
    if isinstance(x, Variable):
        if dtype is not None and x.type.dtype != dtype:
            from nnframe.core.ops.elemwise import cast
            return cast(x, dtype)
        return x
    from nnframe.core.variable import constant
    return constant(x, name=name, dtype=dtype)
