"""Composable helpers around update rules: norm constraints and weight decay.

They rewrite gradients or update expressions, so they combine with any rule:

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import shared
>>> from nnframe.optim import adam, apply_weight_decay, total_norm_constraint
>>> w = shared(np.ones((3, 2)), name='w')
>>> grads = T.grad(T.sum(w ** 2), [w])
>>> grads = total_norm_constraint(apply_weight_decay(grads, [w], 1e-4), max_norm=5.0)
>>> updates = adam(grads, [w])
"""
from nnframe.core.graph import Variable
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.reduce import sum as _sum
from nnframe.core.types import is_float, upcast
from nnframe.optim._checks import as_dtype, check_hyper, check_number
from nnframe.optim.updates import _grads_and_params

__all__ = ["total_norm_constraint", "norm_constraint", "apply_weight_decay"]


def _float_tensor(var, what):
    try:
        var = as_tensor_variable(var)
    except TypeError as exc:
        raise TypeError(f"{what} is not a tensor expression: {exc}") from None
    if not is_float(var.dtype):
        raise TypeError(f"{what} has dtype {var.dtype}; norm constraints apply to float tensors")
    return var


def total_norm_constraint(tensor_vars, max_norm, epsilon=1e-7, return_norm=False):
    """Rescales a list of tensors based on their combined norm.

    If the combined L2 norm of the tensors exceeds ``max_norm``, all of them
    are scaled by the same factor so that their combined norm is
    ``max_norm``:

    * ``norm = sqrt(sum_i sum(tensor_i ** 2))``
    * ``tensor_i := tensor_i * min(norm, max_norm) / (norm + epsilon)``

    This is gradient clipping by global norm (Pascanu et al., 2012) when the
    tensors are gradients.

    Parameters
    ----------
    tensor_vars : list of Variables
        The float tensors to be rescaled (typically gradients).
    max_norm : float
        Threshold value for the total norm.
    epsilon : float, optional
        Value used to prevent numerical instability when dividing by very
        small or zero norms.
    return_norm : bool
        If true the total norm is also returned.

    Returns
    -------
    tensor_vars_scaled : list of Variables
        The scaled tensors, each with the dtype of its input.
    norm : Variable
        The combined norm of the input tensors before rescaling (only when
        ``return_norm=True``).

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.ones(4), name='w')
    >>> grads = T.grad(T.sum(w ** 2), [w])              # norm 4
    >>> scaled, norm = total_norm_constraint(grads, 1.0, return_norm=True)
    >>> np.round(scaled[0].eval(), 4)
    array([0.5, 0.5, 0.5, 0.5])
    """
    if isinstance(tensor_vars, Variable) or not isinstance(tensor_vars, (list, tuple)):
        raise TypeError("tensor_vars must be a list of tensors, got "
                        f"{type(tensor_vars).__name__}; wrap a single tensor in a list")
    if not tensor_vars:
        raise ValueError("tensor_vars is empty; give the tensors (gradients) to rescale")
    tensors = [_float_tensor(v, f"tensor_vars[{k}]") for k, v in enumerate(tensor_vars)]
    max_norm = check_number(max_norm, "max_norm")
    epsilon = check_number(epsilon, "epsilon")
    # The norm is accumulated in the widest dtype present; each tensor is then
    # scaled in its own dtype, so float32 gradients stay float32.
    dtype = upcast(*[t.dtype for t in tensors])
    squares = [E.cast(_sum(E.sqr(t)), dtype) for t in tensors]
    total = squares[0]
    for s in squares[1:]:
        total = total + s
    norm = E.sqrt(total)
    multiplier = E.clip(norm, 0.0, max_norm) / (epsilon + norm)
    scaled = [t * E.cast(multiplier, t.dtype) for t in tensors]
    return (scaled, norm) if return_norm else scaled


def norm_constraint(tensor_var, max_norm, norm_axes=None, epsilon=1e-7):
    """Max weight norm constraints and gradient clipping.

    Takes a TensorVariable and rescales it so that incoming weight norms are
    below a specified constraint value; vectors violating the constraint are
    rescaled so that they are within the allowed range:

    * ``norms = sqrt(sum(tensor ** 2, axis=norm_axes, keepdims=True))``
    * ``tensor := tensor * min(norms, max_norm) / (norms + epsilon)``

    Parameters
    ----------
    tensor_var : Variable
        The float tensor (weights or an update expression) to constrain.
    max_norm : float
        The maximum norm of each vector.
    norm_axes : sequence of ints, optional
        The axes over which to compute the norm.  By default, axis 0 for a
        matrix (the incoming weights of each unit of a DenseLayer), and all
        axes but the first for 3-D, 4-D and 5-D tensors (each filter of a
        convolution).  Other numbers of dimensions need ``norm_axes``.
    epsilon : float, optional
        Value used to prevent numerical instability when dividing by very
        small or zero norms.

    Returns
    -------
    Variable
        The constrained tensor, with the dtype and shape of ``tensor_var``.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> from nnframe.optim import sgd
    >>> W = shared(np.ones((3, 2)), name='W')
    >>> updates = sgd(T.sum(W), [W], learning_rate=0.1)
    >>> updates[W] = norm_constraint(updates[W], max_norm=1.0)
    """
    var = _float_tensor(tensor_var, "tensor_var")
    max_norm = check_number(max_norm, "max_norm")
    epsilon = check_number(epsilon, "epsilon")
    axes = _norm_axes(var.ndim, norm_axes)
    norms = E.sqrt(_sum(E.sqr(var), axis=axes, keepdims=True))
    target = E.clip(norms, 0.0, max_norm)
    return var * (target / (epsilon + norms))


def _norm_axes(ndim, norm_axes):
    if norm_axes is None:
        if ndim == 2:
            return (0,)
        if ndim in (3, 4, 5):
            return tuple(range(1, ndim))
        raise ValueError(f"norm_constraint: no default norm_axes for a tensor of {ndim} "
                         "dimension(s); give norm_axes")
    try:
        axes = tuple(int(a) for a in norm_axes)
    except TypeError:
        raise TypeError(f"norm_axes must be a sequence of ints, got {norm_axes!r}") from None
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"norm_axes {norm_axes!r}: axis {a} is out of range for a tensor "
                             f"of {ndim} dimension(s)")
    normalized = tuple(sorted({a % ndim for a in axes}))
    if len(normalized) != len(axes) or not axes:
        raise ValueError(f"norm_axes {norm_axes!r} must name distinct axes, at least one")
    return normalized


def apply_weight_decay(grads, params, weight_decay):
    """Adds coupled L2 weight decay to gradients: ``g + weight_decay * param``.

    This is the gradient of ``loss + weight_decay / 2 * sum(param ** 2)``.
    Apply it before any rule; with adaptive rules the decay is rescaled like
    the gradient (for decoupled decay use :func:`~nnframe.optim.adamw`).

    Parameters
    ----------
    grads : list of Variables
        One gradient per parameter.
    params : list of shared variables
        The parameters the gradients are for.
    weight_decay : float or symbolic scalar
        The decay coefficient (>= 0).

    Returns
    -------
    list of Variables
        The decayed gradients, each with its parameter's dtype.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> from nnframe.optim import momentum
    >>> w = shared(np.ones(3), name='w')
    >>> grads = apply_weight_decay(T.grad(T.sum(w), [w]), [w], weight_decay=0.5)
    >>> grads[0].eval()
    array([1.5, 1.5, 1.5])
    >>> updates = momentum(grads, [w], learning_rate=0.1)
    """
    weight_decay = check_hyper(weight_decay, "weight_decay")
    if not isinstance(grads, (list, tuple)):
        raise TypeError(f"grads must be a list of gradient expressions, got "
                        f"{type(grads).__name__}")
    grads, params = _grads_and_params(list(grads), params)
    return [g + as_dtype(weight_decay, p.dtype) * p for g, p in zip(grads, params)]
