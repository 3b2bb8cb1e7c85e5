"""Canonicalisation: remove operations that do nothing, simplify the obvious.

``x * 1``, ``x + 0``, ``x - 0``, ``x / 1``, ``x ** 1`` become ``x``;
``--x`` becomes ``x``; ``x ** 2`` becomes ``sqr(x)``; ``(a / z) * z`` becomes
``a``; chains of DimShuffles become one (or none); ``second(x, y)`` where y
already has the result's type becomes ``y``.  Every rewrite keeps the
result's type: an identity that would change the broadcast shape is left
alone.
"""
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.shape import DimShuffle, dimshuffle
from nnframe.core.rewrite.increments import disjoint_increments
from nnframe.core.rewrite.local import (
    apply_local_rewrites,
    is_constant_value,
    local_rewrite,
    scalar_op_name,
)

__all__ = ["canonicalize", "CANONICALIZE"]


def _same_type(var, out):
    return var.type == out.type


@local_rewrite(Elemwise)
def useless_arithmetic(node):
    """``x*1``, ``1*x``, ``x+0``, ``0+x``, ``x-0``, ``x/1``, ``x**1`` -> ``x``."""
    name = scalar_op_name(node)
    out = node.outputs[0]
    identities = {"mul": (1, (0, 1)), "add": (0, (0, 1)), "sub": (0, (1,)),
                  "true_div": (1, (1,)), "pow": (1, (1,))}
    if name not in identities:
        return None
    neutral, positions = identities[name]
    for pos in positions:
        other = node.inputs[1 - pos]
        if is_constant_value(node.inputs[pos], neutral) and _same_type(other, out):
            return [other]
    return None


@local_rewrite(Elemwise)
def double_negation(node):
    """``-(-x)`` -> ``x``."""
    if scalar_op_name(node) == "neg" and scalar_op_name(node.inputs[0].owner) == "neg":
        inner = node.inputs[0].owner.inputs[0]
        if _same_type(inner, node.outputs[0]):
            return [inner]
    return None


@local_rewrite(Elemwise)
def square(node):
    """``x ** 2`` -> ``sqr(x)`` (one multiplication instead of a power)."""
    if scalar_op_name(node) == "pow" and is_constant_value(node.inputs[1], 2):
        x = node.inputs[0]
        new = E.sqr(x)
        if _same_type(new, node.outputs[0]):
            return [new]
    return None


@local_rewrite(Elemwise)
def divide_then_multiply(node):
    """``(a / z) * z`` -> ``a`` (gradients of ``log(sigmoid)`` produce this)."""
    if scalar_op_name(node) != "mul":
        return None
    for pos in (0, 1):
        quotient, z = node.inputs[pos], node.inputs[1 - pos]
        if scalar_op_name(quotient.owner) == "true_div" and quotient.owner.inputs[1] is z:
            a = quotient.owner.inputs[0]
            if _same_type(a, node.outputs[0]):
                return [a]
    return None


@local_rewrite(Elemwise)
def useless_second(node):
    """``second(x, y)`` -> ``y`` when y already has the result's shape and dtype."""
    if scalar_op_name(node) == "second" and _same_type(node.inputs[1], node.outputs[0]):
        return [node.inputs[1]]
    return None


@local_rewrite(DimShuffle)
def dimshuffle_chain(node):
    """``DimShuffle(DimShuffle(x))`` -> one DimShuffle, or ``x`` itself."""
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, DimShuffle):
        return None
    x = inner.inputs[0]
    first, second = inner.op.new_order, node.op.new_order
    combined = tuple("x" if o == "x" else first[o] for o in second)
    # Axes of x dropped by the chain must be broadcastable for a single DimShuffle.
    dropped = [a for a in range(x.ndim) if a not in combined]
    if any(x.type.shape[a] != 1 for a in dropped):
        return None
    out = dimshuffle(x, combined)
    return [out] if out.type.is_super(node.outputs[0].type) or out.type == node.outputs[0].type \
        else None


CANONICALIZE = [useless_arithmetic, double_negation, square, divide_then_multiply,
                useless_second, dimshuffle_chain, disjoint_increments]


def canonicalize(fgraph):
    """Apply the canonicalising rewrites until none fires."""
    return apply_local_rewrites(fgraph, CANONICALIZE)
