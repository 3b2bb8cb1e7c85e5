"""``theano.gradient``: ``grad``, ``jacobian``, ``hessian``, ``Lop``, ``Rop``, ``verify_grad``,
``grad_clip``, ``disconnected_grad``, ``zero_grad``, ``grad_scale`` (nnframe's)."""
from nnframe.core.gradient import (
    DisconnectedInputError,
    GradientError,
    Lop,
    NullGradError,
    Rop,
    hessian,
    jacobian,
    verify_grad,
)
from nnframe.core.ops.grad_ops import disconnected_grad, grad_clip, grad_scale, zero_grad
from nnframe.tensor import grad

__all__ = ["grad", "jacobian", "hessian", "Lop", "Rop", "verify_grad", "grad_clip",
           "disconnected_grad", "zero_grad", "grad_scale", "DisconnectedInputError",
           "GradientError", "NullGradError"]
