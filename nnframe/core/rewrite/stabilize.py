"""Stabilisation: rewrite expressions that overflow or underflow into stable forms.

- ``log(softmax(x))`` -> ``log_softmax(x)``, also through indexing:
  ``log(softmax(x)[idx])`` -> ``log_softmax(x)[idx]``
- ``log(1 + x)`` -> ``log1p(x)``; ``log(exp(x))`` -> ``x``
- a hand-written sigmoid, ``1 / (1 + exp(-x))`` (also ``inv(1 + exp(-x))``,
  ``(1 + exp(-x)) ** -1`` and ``exp(x) / (1 + exp(x))``) -> ``sigmoid(x)``
- ``log(sigmoid(x))`` -> ``-softplus(-x)``; ``log(1 - sigmoid(x))`` -> ``-softplus(x)``
  (``1 - sigmoid(x)`` is ``sigmoid(-x)``), so Theano's tutorial cross-entropy
  ``-y * log(p) - (1 - y) * log(1 - p)`` with ``p = 1 / (1 + exp(-z))`` is finite
  at any ``z``, and so is its gradient
- ``log(1 + exp(x))`` and ``log1p(exp(x))`` -> ``softplus(x)``
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


def _negated(x):
    """``-x`` without a double negation: ``neg(u)`` -> ``u``, ``-a - b`` -> ``a + b``."""
    name = scalar_op_name(x.owner)
    if name == "neg":
        return x.owner.inputs[0]
    if name == "sub" and scalar_op_name(x.owner.inputs[0].owner) == "neg":
        new = E.add(x.owner.inputs[0].owner.inputs[0], x.owner.inputs[1])
        if new.type == x.type:
            return new
    return E.neg(x)


def _one_plus_exp(var):
    """``t`` if ``var`` is ``1 + exp(t)`` (either order), else None."""
    if scalar_op_name(var.owner) != "add" or len(var.owner.inputs) != 2:
        return None
    a, b = var.owner.inputs
    for one, e in ((a, b), (b, a)):
        if is_constant_value(one, 1) and scalar_op_name(e.owner) == "exp":
            return e.owner.inputs[0]
    return None


def _sigmoid_argument(var):
    """``x`` if ``var`` is ``sigmoid(x)`` or a hand-written sigmoid, else None."""
    node = var.owner
    name = scalar_op_name(node)
    if name == "sigmoid":
        return node.inputs[0]
    if name == "true_div":
        num, den = node.inputs
        t = _one_plus_exp(den)
        if t is None:
            return None
        if is_constant_value(num, 1):                          # 1 / (1 + exp(t))
            return _negated(t)
        if scalar_op_name(num.owner) == "exp" and num.owner.inputs[0] is t:
            return t                                           # exp(t) / (1 + exp(t))
        return None
    if name == "reciprocal" or (name == "pow" and is_constant_value(node.inputs[1], -1)):
        t = _one_plus_exp(node.inputs[0])                      # (1 + exp(t)) ** -1
        return None if t is None else _negated(t)
    return None


@local_rewrite(Elemwise)
def hand_written_sigmoid(node):
    """``1 / (1 + exp(-x))``, ``inv(1 + exp(-x))``, ``(1 + exp(-x)) ** -1``,
    ``exp(x) / (1 + exp(x))`` -> ``sigmoid(x)``."""
    if scalar_op_name(node) == "sigmoid":
        return None
    x = _sigmoid_argument(node.outputs[0])
    if x is None:
        return None
    new = E.sigmoid(x)
    return [new] if new.type == node.outputs[0].type else None


@local_rewrite(Elemwise)
def log_of_one_plus_exp(node):
    """``log(1 + exp(x))``, ``log1p(exp(x))`` -> ``softplus(x)``."""
    name = scalar_op_name(node)
    if name == "log":
        x = _one_plus_exp(node.inputs[0])
    elif name == "log1p" and scalar_op_name(node.inputs[0].owner) == "exp":
        x = node.inputs[0].owner.inputs[0]
    else:
        return None
    if x is None:
        return None
    new = E.softplus(x)
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
    """``log(sigmoid(x))`` -> ``-softplus(-x)``; ``log(1 - sigmoid(x))`` -> ``-softplus(x)``
    (the sigmoid may be hand-written: ``1 / (1 + exp(-x))``...)."""
    if scalar_op_name(node) != "log":
        return None
    inner = node.inputs[0]
    x = _sigmoid_argument(inner)
    if x is not None:
        new = -E.softplus(_negated(x))
    elif scalar_op_name(inner.owner) == "sub" and is_constant_value(inner.owner.inputs[0], 1):
        x = _sigmoid_argument(inner.owner.inputs[1])   # 1 - sigmoid(x) == sigmoid(-x)
        if x is None:
            return None
        new = -E.softplus(x)
    else:
        return None
    return [new] if new.type == node.outputs[0].type else None


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


# log_of_sigmoid and log_of_one_plus_exp come before log_of_one_plus, which would
# otherwise turn log(1 + exp(x)) into log1p(exp(x)) (both inf at x = 800).
STABILIZE = [log_of_softmax, log_of_indexed_softmax, hand_written_sigmoid, log_of_sigmoid,
             log_of_one_plus_exp, log_of_one_plus, log_of_exp,
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
