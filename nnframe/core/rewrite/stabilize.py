"""Stabilisation: rewrite expressions that overflow or underflow into stable forms.

- ``log(softmax(x))`` -> ``log_softmax(x)``, also through indexing:
  ``log(softmax(x)[idx])`` -> ``log_softmax(x)[idx]``
- ``log(1 + x)`` -> ``log1p(x)``; ``log(exp(x))`` -> ``x``
- ``log(sigmoid(x))`` -> ``-softplus(-x)``; ``log(1 - sigmoid(x))`` -> ``-softplus(x)``
- ``categorical_crossentropy(softmax(z), y)`` (class indices) -> the crossentropy
  computed from the logits ``z``, and the gradient pattern
  ``SoftmaxGrad(CrossentropyGrad(g, softmax(z), y), softmax(z))`` ->
  ``(softmax(z) - one_hot(y)) * g``.

:func:`stable_clone` applies the same rewrites to a graph before ``T.grad``
differentiates it, so the *gradient* is built from the stable forms too
(the gradient of ``log(sigmoid(x))`` at x = -1000 is 1, not NaN).
"""
from nnframe.core.graph import ancestors, toposort
from nnframe.core.ops import elemwise as E
from nnframe.core.ops import nnet as N
from nnframe.core.ops import subtensor as subtensor_ops
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.rewrite.local import (
    apply_local_rewrites,
    is_constant_value,
    local_rewrite,
    scalar_op_name,
)

__all__ = ["stabilize", "stable_clone", "STABILIZE"]


def _owner_op(var, op_class):
    return var.owner is not None and isinstance(var.owner.op, op_class)


@local_rewrite(Elemwise)
def log_of_softmax(node):
    """``log(softmax(x))`` -> ``log_softmax(x)``."""
    if scalar_op_name(node) == "log" and _owner_op(node.inputs[0], N.Softmax):
        inner = node.inputs[0].owner
        return [N.LogSoftmax(inner.op.axis)(inner.inputs[0])]
    return None


@local_rewrite(Elemwise)
def log_of_indexed_softmax(node):
    """``log(softmax(x)[idx])`` -> ``log_softmax(x)[idx]`` (the classic
    ``-log(p[arange(n), y])`` loss); indexing commutes with ``log``."""
    if scalar_op_name(node) != "log" or not _owner_op(node.inputs[0], subtensor_ops._GetBase):
        return None
    index = node.inputs[0].owner
    if not _owner_op(index.inputs[0], N.Softmax):
        return None
    softmax = index.inputs[0].owner
    new = index.op(N.LogSoftmax(softmax.op.axis)(softmax.inputs[0]), *index.inputs[1:])
    return [new] if new.type == node.outputs[0].type else None


@local_rewrite(Elemwise)
def log_of_one_plus(node):
    """``log(1 + x)`` -> ``log1p(x)``."""
    if scalar_op_name(node) != "log" or scalar_op_name(node.inputs[0].owner) != "add":
        return None
    a, b = node.inputs[0].owner.inputs
    for one, x in ((a, b), (b, a)):
        if is_constant_value(one, 1):
            new = E.log1p(x)
            if new.type == node.outputs[0].type:
                return [new]
    return None


@local_rewrite(Elemwise)
def log_of_exp(node):
    """``log(exp(x))`` -> ``x``."""
    if scalar_op_name(node) == "log" and scalar_op_name(node.inputs[0].owner) == "exp":
        x = node.inputs[0].owner.inputs[0]
        if x.type == node.outputs[0].type:
            return [x]
    return None


@local_rewrite(Elemwise)
def log_of_sigmoid(node):
    """``log(sigmoid(x))`` -> ``-softplus(-x)``; ``log(1 - sigmoid(x))`` -> ``-softplus(x)``."""
    if scalar_op_name(node) != "log":
        return None
    inner = node.inputs[0].owner
    if scalar_op_name(inner) == "sigmoid":
        return [-E.softplus(-inner.inputs[0])]
    if scalar_op_name(inner) == "sub" and is_constant_value(inner.inputs[0], 1):
        s = inner.inputs[1].owner
        if scalar_op_name(s) == "sigmoid":
            new = -E.softplus(s.inputs[0])
            if new.type == node.outputs[0].type:
                return [new]
    return None


@local_rewrite(N.CrossentropyCategorical1Hot)
def crossentropy_of_softmax(node):
    """``crossentropy(softmax(z), y)`` -> computed from the logits ``z``."""
    coding, y = node.inputs
    if _owner_op(coding, N.Softmax) and coding.owner.op.axis in (1, -1):
        return [N.CrossentropySoftmax1Hot()(coding.owner.inputs[0], y)[0]]
    return None


@local_rewrite(N.SoftmaxGrad)
def crossentropy_softmax_gradient(node):
    """``SoftmaxGrad(CrossentropyGrad(g, s, y), s)`` -> ``(s - one_hot(y)) * g``."""
    g, s = node.inputs
    if _owner_op(g, N.CrossentropyCategorical1HotGrad) and node.op.axis in (1, -1):
        g_y, coding, y = g.owner.inputs
        if coding is s:
            return [N.CrossentropySoftmax1HotDx()(g_y, s, y)]
    return None


STABILIZE = [log_of_softmax, log_of_indexed_softmax, log_of_one_plus, log_of_exp, log_of_sigmoid,
             crossentropy_of_softmax, crossentropy_softmax_gradient]


def stabilize(fgraph):
    """Apply the stabilising rewrites until none fires."""
    return apply_local_rewrites(fgraph, STABILIZE)


def _keeps(keep, old, new):
    """True if every protected variable ``old`` depends on is still used by ``new``."""
    if not keep:
        return True
    before = {id(v) for v in ancestors(old)} & keep
    return before <= {id(v) for v in ancestors([v for v in new if v is not None])}


def stable_clone(outputs, protected=()):
    """Copies of ``outputs`` with the stabilising rewrites applied.

    Variables in ``protected`` (e.g. the ``wrt`` of a gradient) are kept, not
    rewritten away.  Returns ``outputs`` themselves when nothing changes.
    """
    keep = {id(v) for v in protected}
    memo = {}
    changed = False
    for node in toposort(outputs):
        inputs = [memo.get(id(i), i) for i in node.inputs]
        if any(a is not b for a, b in zip(inputs, node.inputs)):
            new_node = node.clone_with_new_inputs(inputs)
        else:
            new_node = node
        replaced = None
        if not any(id(o) in keep for o in node.outputs):
            for rewrite in STABILIZE:
                if isinstance(new_node.op, rewrite.op_classes):
                    replaced = rewrite(new_node)
                    if replaced is not None and not _keeps(keep, new_node.outputs, replaced):
                        replaced = None
                    if replaced is not None:
                        break
        outs = replaced if replaced is not None else new_node.outputs
        for old, new in zip(node.outputs, outs):
            if new is not old:
                memo[id(old)] = new
                changed = True
    if not changed:
        return list(outputs)
    return [memo.get(id(o), o) for o in outputs]
