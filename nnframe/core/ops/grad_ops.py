"""Ops that are the identity forward and change only the gradient.

``zero_grad(x)``: the gradient through it is zero.  ``disconnected_grad(x)``:
no gradient flows through it (a stop-gradient).  ``grad_clip(x, lo, hi)``:
the gradient is clipped.  ``grad_scale(x, k)``: the gradient is multiplied by
``k``.  ``ste(forward, backward)``: the value of ``forward`` with the gradient
of ``backward`` (a straight-through estimator); ``ste_sign`` builds the two
classic ones for ``sgn``.

>>> import nnframe.tensor as T
>>> x = T.dvector('x')
>>> b = T.ste_sign(x, estimator='hardtanh')   # forward: +-1, backward: 1{|x|<=1}
"""
from nnframe.core.graph import Apply
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.types import is_discrete

__all__ = ["ZeroGrad", "DisconnectedGrad", "GradClip", "GradScale", "StraightThrough",
           "zero_grad", "disconnected_grad", "grad_clip", "grad_scale", "ste", "ste_sign"]


class _IdentityForward(Op):
    """Forward: the input itself (a view)."""

    __props__ = ()
    view_map = {0: [0]}

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]


class ZeroGrad(_IdentityForward):
    """Identity whose gradient is zero (but connected)."""

    def L_op(self, inputs, outputs, output_grads):
        x = inputs[0]
        return [None if is_discrete(x.dtype) else E.zeros_like(x)]


class DisconnectedGrad(_IdentityForward):
    """Identity through which no gradient flows (the input counts as a constant)."""

    def L_op(self, inputs, outputs, output_grads):
        return [None]


class GradClip(_IdentityForward):
    """Identity whose gradient is clipped to ``[lower, upper]``."""

    __props__ = ("lower", "upper")

    def __init__(self, lower, upper):
        if lower > upper:
            raise ValueError(f"grad_clip: lower bound {lower} is above upper bound {upper}")
        self.lower = float(lower)
        self.upper = float(upper)

    def L_op(self, inputs, outputs, output_grads):
        return [E.clip(output_grads[0], self.lower, self.upper)]


class GradScale(_IdentityForward):
    """Identity whose gradient is multiplied by ``multiplier``."""

    __props__ = ("multiplier",)

    def __init__(self, multiplier):
        self.multiplier = float(multiplier)

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * self.multiplier]


class StraightThrough(Op):
    """The value of ``forward``; the gradient goes to ``backward`` unchanged."""

    __props__ = ()
    view_map = {0: [0]}

    def make_node(self, forward, backward):
        forward, backward = as_tensor_variable(forward), as_tensor_variable(backward)
        if forward.ndim != backward.ndim:
            raise TypeError(f"ste: forward {forward.type} and backward {backward.type} must have "
                            "the same number of dimensions")
        return Apply(self, [forward, backward], [forward.type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        return [None, E.fit_grad(inputs[1], output_grads[0])]


def zero_grad(x):
    """``x`` in the forward pass; a zero gradient in the backward pass."""
    return ZeroGrad()(x)


def disconnected_grad(x):
    """``x`` in the forward pass; treated as a constant by ``T.grad``."""
    return DisconnectedGrad()(x)


def grad_clip(x, lower_bound, upper_bound):
    """``x`` in the forward pass; its gradient clipped to the bounds."""
    return GradClip(lower_bound, upper_bound)(x)


def grad_scale(x, multiplier):
    """``x`` in the forward pass; its gradient multiplied by ``multiplier``."""
    return GradScale(multiplier)(x)


def ste(forward, backward):
    """A straight-through pair: the value of ``forward``, the gradient of ``backward``.

    >>> import nnframe.tensor as T
    >>> x = T.dvector()
    >>> y = T.ste(T.round(x), x)    # rounds, but backpropagates as the identity
    """
    return StraightThrough()(forward, backward)


def sign_pm1(x):
    """``sgn`` with values in {-1, +1}: 0 maps to +1."""
    x = as_tensor_variable(x)
    one = E.ones_like(x)
    return E.switch(E.ge(x, 0), one, -one)


def ste_sign(x, estimator="identity"):
    """Binary code ``sgn(x)`` in {-1, +1} (0 -> +1) with a straight-through gradient.

    ``estimator='identity'`` passes the gradient unchanged (Bengio et al. 2013);
    ``'hardtanh'`` passes it where ``|x| <= 1`` and zeroes it elsewhere
    (BinaryNet).  Plain ``T.sgn`` has a zero gradient instead.
    """
    x = as_tensor_variable(x)
    if estimator == "identity":
        backward = x
    elif estimator == "hardtanh":
        backward = E.clip(x, -1, 1)
    else:
        raise ValueError(f"ste_sign estimator must be 'identity' or 'hardtanh', got {estimator!r}")
    return ste(sign_pm1(x), backward)
