"""Update rules: functions that return the ``updates`` handed to ``function``.

Each rule takes a scalar loss (or a list of gradients) and a list of shared
parameters, and returns an :class:`Updates` dictionary mapping every shared
variable to its new value: the parameters and the optimizer's state.  The
signatures are Lasagne's, so Lasagne code ports by renaming imports.

>>> import numpy as np
>>> import nnframe.tensor as T
>>> from nnframe import function, shared
>>> from nnframe.optim import adam
>>> x = T.fvector('x')
>>> w = shared(np.ones(3, dtype='float32'), name='w')
>>> loss = T.sum(T.sqr(w - x))
>>> updates = adam(loss, [w], learning_rate=0.1)
>>> [v.name for v in updates.state]
['w/adam/m', 'w/adam/v', 'adam/t']
>>> train = function([x], loss, updates=updates)
>>> float(train(np.zeros(3, dtype='float32')))
3.0

Conventions:

- The learning rate is a shared scalar (``updates.learning_rate``) when a
  number is given, so schedules change it between calls without recompiling;
  a symbolic scalar is used as is.
- Optimizer state is zero-initialised shared variables named
  ``<param name>/<rule>/<slot>`` (``enc1/W/adam/m``), and ``<rule>/t`` for
  the step counter of adam, adamax and adamw.  ``name=`` replaces ``<rule>``
  so that two optimizers in one model do not clash.  Unnamed parameters are
  called ``param<k>`` after their position.
- Every update has exactly the dtype of the variable it updates: float32
  parameters get float32 state and float32 arithmetic.
"""
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from nnframe.config import config
from nnframe.core.gradient import grad as _grad
from nnframe.core.graph import Variable
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.shared import SharedVariable, shared
from nnframe.core.types import is_complex, is_float
from nnframe.optim._checks import (
    as_dtype,
    check_hyper,
    check_name,
    check_number,
    check_params,
    check_scalar_expr,
    param_labels,
)

__all__ = ["Updates", "get_or_compute_grads", "sgd", "momentum", "nesterov_momentum",
           "apply_momentum", "apply_nesterov_momentum", "adagrad", "rmsprop", "adadelta",
           "adam", "adamax", "adamw", "RULES"]

#: What every update rule takes (Lasagne's signature) and returns (an :class:`Updates`):
#: a loss or its gradients, the parameters, and a learning rate that is a number or a
#: shared scalar (so schedules change it without recompiling).
LossOrGrads = Variable | Sequence[Variable]
Params = Sequence[SharedVariable]
LearningRate = float | Variable


class Updates(OrderedDict):
    """An ordered ``{shared variable: new value expression}`` dict with what made it.

    Attributes
    ----------
    learning_rate : SharedVariable, Variable or None
        The shared scalar the rule created (set it, or use a schedule's
        ``apply``, to change the step size without recompiling), or the
        symbolic learning rate that was given.
    state : list of SharedVariable
        The optimizer's state in a stable order (what checkpoints save).
    rule : str
        The rule's name (``'adam'``; ``'adam+momentum'`` after
        :func:`apply_momentum`).
    hyperparameters : dict
        The hyperparameters that were given as numbers, by argument name.
    """

    def __init__(self, pairs=(), learning_rate=None, state=(), rule=None,
                 hyperparameters=None):
        super().__init__(pairs)
        self.learning_rate = learning_rate
        self.state = list(state)
        self.rule = rule
        self.hyperparameters = dict(hyperparameters or {})

    def copy(self):
        return Updates(self, self.learning_rate, self.state, self.rule, self.hyperparameters)

    def __repr__(self):
        return (f"<Updates {self.rule!r}: {len(self)} updates, state "
                f"[{', '.join(v.name for v in self.state)}]>")


# -- gradients -------------------------------------------------------------------------
def get_or_compute_grads(loss_or_grads, params):
    """Gradients of a loss with respect to ``params``, or the given gradients checked.

    Parameters
    ----------
    loss_or_grads : scalar Variable or list of Variables
        A scalar loss expression, or one gradient expression per parameter.
    params : list of shared variables
        The float parameters the gradients are for.

    Returns
    -------
    list of Variables
        One gradient per parameter, cast to the parameter's dtype.

    Raises a TypeError or ValueError when ``params`` holds something other
    than distinct float shared variables, when the loss is not a float
    scalar, or when the gradients do not match the parameters in number or
    number of dimensions.

    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(2), name='w')
    >>> [g.ndim for g in get_or_compute_grads(T.sum(w ** 2), [w])]
    [1]
    """
    return _grads_and_params(loss_or_grads, params)[0]


def _grads_and_params(loss_or_grads, params):
    params = check_params(params)
    if isinstance(loss_or_grads, (list, tuple)):
        if len(loss_or_grads) != len(params):
            raise ValueError(f"loss_or_grads has {len(loss_or_grads)} gradient(s) but params "
                             f"has {len(params)} variable(s); give one gradient per parameter")
        grads = [_check_grad(g, p, k) for k, (g, p) in enumerate(zip(loss_or_grads, params))]
        return grads, params
    if not isinstance(loss_or_grads, Variable):
        raise TypeError("loss_or_grads must be a scalar loss expression or a list of gradient "
                        f"expressions, got {type(loss_or_grads).__name__}")
    loss = loss_or_grads
    if loss.ndim != 0:
        raise ValueError(f"loss_or_grads: the loss must be a scalar, got {loss!r} of type "
                         f"{loss.type}; reduce it with .mean() or .sum(), or pass a list of "
                         "gradients")
    if not is_float(loss.dtype):
        raise TypeError(f"loss_or_grads: the loss must be a float scalar, got {loss.type}")
    grads = _grad(loss, params)
    return [E.cast(g, p.dtype) for g, p in zip(grads, params)], params


def _check_grad(g, param, k):
    try:
        g = as_tensor_variable(g)
    except TypeError as exc:
        raise TypeError(f"loss_or_grads[{k}] is not a tensor expression: {exc}") from None
    if g.ndim != param.ndim:
        raise ValueError(f"loss_or_grads[{k}] has type {g.type} but params[{k}] ({param!r}) "
                         f"has type {param.type}; each gradient must have its parameter's shape")
    for axis, (have, want) in enumerate(zip(g.type.shape, param.type.shape)):
        if have is not None and want is not None and have != 1 and have != want:
            raise ValueError(f"loss_or_grads[{k}] has static length {have} on axis {axis} but "
                             f"params[{k}] ({param!r}) has length {want}")
    if is_complex(g.dtype):
        raise TypeError(f"loss_or_grads[{k}] has dtype {g.dtype}; gradients must be real")
    return E.cast(g, param.dtype)


# -- the machinery shared by all rules --------------------------------------------------
def _learning_rate(learning_rate, prefix):
    """The shared learning rate made from a number, or the checked symbolic one."""
    if isinstance(learning_rate, Variable):
        return check_scalar_expr(learning_rate, "learning_rate"), None
    value = check_number(learning_rate, "learning_rate")
    return shared(np.asarray(value, dtype=config.floatX), name=f"{prefix}/learning_rate"), value


class _Rule:
    """What one application of a rule collects: grads, state, updates, counters.

    ``hypers`` maps hyperparameter names to ``(value, below_one)``.
    """

    def __init__(self, rule, name, loss_or_grads, params, learning_rate, hypers):
        self.prefix = check_name(name, rule)
        self.hyper = {key: check_hyper(value, key, below_one=below_one)
                      for key, (value, below_one) in hypers.items()}
        self.params = check_params(params)
        self.labels = param_labels(self.params)
        self.grads = _grads_and_params(loss_or_grads, self.params)[0]
        lr, lr_value = _learning_rate(learning_rate, self.prefix)
        numbers = {} if lr_value is None else {"learning_rate": lr_value}
        numbers.update((k, v) for k, v in self.hyper.items() if isinstance(v, float))
        self.updates = Updates(learning_rate=lr, rule=rule, hyperparameters=numbers)
        self._counter = None
        self._per_dtype = {}

    def __iter__(self):
        """``(k, param, grad)`` for each parameter."""
        return ((k, p, g) for k, (p, g) in enumerate(zip(self.params, self.grads)))

    def state(self, k, slot):
        """A new zero state variable shaped like parameter ``k``."""
        return _new_state(self.params[k], self.labels[k], self.prefix, slot, self.updates)

    def lr(self, dtype):
        return self.per_dtype("lr", dtype, lambda: E.cast(self.updates.learning_rate, dtype))

    def h(self, key, dtype):
        return as_dtype(self.hyper[key], dtype)

    def set(self, var, expr):
        # A no-op cast when the arithmetic kept the dtype, which it does for
        # every rule; it guards the invariant "update dtype == variable dtype".
        self.updates[var] = E.cast(expr, var.dtype)

    def step(self, dtype):
        """The step number t (1 on the first call) as a ``dtype`` scalar.

        The counter is an int64 shared variable (exact for any number of
        steps); the float used by bias corrections has the parameter's dtype.
        """
        if self._counter is None:
            t = shared(np.asarray(0, dtype="int64"), name=f"{self.prefix}/t", borrow=True)
            self._counter = (t, t + 1)
        return self.per_dtype("t", dtype, lambda: E.cast(self._counter[1], dtype))

    def per_dtype(self, key, dtype, build):
        """``build()`` once per dtype: scalar factors shared by all parameters."""
        if (key, dtype) not in self._per_dtype:
            self._per_dtype[(key, dtype)] = build()
        return self._per_dtype[(key, dtype)]

    def finish(self):
        if self._counter is not None:
            t, t_new = self._counter
            self.updates[t] = t_new
            self.updates.state.append(t)
        return self.updates


def _new_state(param, label, prefix, slot, updates):
    value = param.get_value(borrow=True)
    var = shared(np.zeros(value.shape, dtype=param.dtype), name=f"{label}/{prefix}/{slot}",
                 borrow=True, shape=param.type.shape)
    updates.state.append(var)
    return var


# -- plain and momentum SGD --------------------------------------------------------------
def sgd(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate,
        name: str | None = None) -> Updates:
    """Stochastic Gradient Descent (SGD) updates.

    Generates update expressions of the form:

    * ``param := param - learning_rate * gradient``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps; a number
        becomes the shared scalar ``updates.learning_rate``
    name : str, optional
        Prefix of the state names instead of ``'sgd'``

    Returns
    -------
    Updates
        An OrderedDict mapping each parameter to its update expression

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import function, shared
    >>> w = shared(np.array([1.0, 2.0]), name='w')
    >>> step = function([], [], updates=sgd(T.sum(w ** 2), [w], learning_rate=0.25))
    >>> _ = step(); w.get_value()
    array([0.5, 1. ])
    """
    return _sgd(loss_or_grads, params, learning_rate, name, "sgd")


def _sgd(loss_or_grads, params, learning_rate, name, rule):
    r = _Rule(rule, name, loss_or_grads, params, learning_rate, {})
    for _k, param, g in r:
        r.set(param, param - r.lr(param.dtype) * g)
    return r.finish()


def apply_momentum(updates, params=None, momentum=0.9, name=None):
    """Returns a modified update dictionary including momentum.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity + updates[param] - param``
    * ``param := param + velocity``

    Parameters
    ----------
    updates : OrderedDict
        A dictionary mapping parameters to update expressions
    params : iterable of shared variables, optional
        The variables to apply momentum to. If omitted, momentum is applied
        to every updated variable that is not optimizer state
        (``updates.state``).
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply, in [0, 1). Defaults to 0.9.
    name : str, optional
        Prefix of the velocity names instead of ``'momentum'``

    Returns
    -------
    Updates
        A copy of ``updates`` with momentum updates for all ``params``; the
        velocities are added to its ``state`` as ``<param>/momentum/velocity``.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> updates = apply_momentum(sgd(T.sum(w ** 2), [w], 0.1), momentum=0.5)
    >>> [v.name for v in updates.state]
    ['w/momentum/velocity']
    """
    return _apply_momentum(updates, params, momentum, name, "momentum", nesterov=False)


def apply_nesterov_momentum(updates, params=None, momentum=0.9, name=None):
    """Returns a modified update dictionary including Nesterov momentum.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity + updates[param] - param``
    * ``param := param + momentum * velocity + updates[param] - param``

    This is the formulation of Sutskever et al. used by Lasagne (pylearn2
    PR 136), which evaluates the gradient at the current parameters.

    Parameters
    ----------
    updates : OrderedDict
        A dictionary mapping parameters to update expressions
    params : iterable of shared variables, optional
        The variables to apply momentum to (default: every updated variable
        that is not optimizer state)
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply, in [0, 1). Defaults to 0.9.
    name : str, optional
        Prefix of the velocity names instead of ``'nesterov_momentum'``

    Returns
    -------
    Updates
        A copy of ``updates`` with Nesterov momentum for all ``params``.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> updates = apply_nesterov_momentum(sgd(T.sum(w ** 2), [w], 0.1))
    >>> updates.state[0].name
    'w/nesterov_momentum/velocity'
    """
    return _apply_momentum(updates, params, momentum, name, "nesterov_momentum", nesterov=True)


def _apply_momentum(updates, params, momentum, name, rule, nesterov):
    if not isinstance(updates, dict):
        raise TypeError(f"updates must be a dict of updates (e.g. from sgd()), got "
                        f"{type(updates).__name__}")
    momentum = check_hyper(momentum, "momentum", below_one=True)
    prefix = check_name(name, rule)
    state = list(getattr(updates, "state", []))
    if params is None:
        state_ids = {id(v) for v in state}
        params = [v for v in updates if id(v) not in state_ids]
    params = check_params(params)
    for k, param in enumerate(params):
        if param not in updates:
            raise ValueError(f"params[{k}] ({param!r}) has no update in updates; momentum "
                             "modifies existing updates")
    labels = param_labels(params)
    inner = getattr(updates, "rule", None)
    hypers = dict(getattr(updates, "hyperparameters", {}))
    if isinstance(momentum, float):
        hypers["momentum"] = momentum
    out = Updates(updates, learning_rate=getattr(updates, "learning_rate", None), state=state,
                  rule=rule if inner in (None, "sgd") else f"{inner}+{rule}",
                  hyperparameters=hypers)
    for param, label in zip(params, labels):
        velocity = _new_state(param, label, prefix, "velocity", out)
        mom = as_dtype(momentum, param.dtype)
        new = E.cast(updates[param], param.dtype)
        if nesterov:
            x = mom * velocity + new - param
            out[velocity] = x
            out[param] = mom * x + new
        else:
            x = mom * velocity + new
            out[velocity] = x - param
            out[param] = x
    return out


def momentum(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate,
             momentum: float = 0.9, name: str | None = None) -> Updates:
    """Stochastic Gradient Descent (SGD) updates with momentum.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity - learning_rate * gradient``
    * ``param := param + velocity``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply, in [0, 1). Defaults to 0.9.
    name : str, optional
        Prefix of the state names instead of ``'momentum'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/momentum/velocity`` state.

    Notes
    -----
    Higher momentum also results in larger update steps. To counter that,
    you can scale your learning rate by ``1 - momentum``.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> updates = momentum(T.sum(w ** 2), [w], learning_rate=0.1, momentum=0.9)
    >>> updates.rule, updates.learning_rate.name
    ('momentum', 'momentum/learning_rate')
    """
    prefix = check_name(name, "momentum")
    updates = _sgd(loss_or_grads, params, learning_rate, prefix, "sgd")
    return _apply_momentum(updates, None, momentum, prefix, "momentum", nesterov=False)


def nesterov_momentum(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate,
                      momentum: float = 0.9, name: str | None = None) -> Updates:
    """Stochastic Gradient Descent (SGD) updates with Nesterov momentum.

    Generates update expressions of the form:

    * ``velocity := momentum * velocity - learning_rate * gradient``
    * ``param := param + momentum * velocity - learning_rate * gradient``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps
    momentum : float or symbolic scalar, optional
        The amount of momentum to apply, in [0, 1). Defaults to 0.9.
    name : str, optional
        Prefix of the state names instead of ``'nesterov_momentum'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/nesterov_momentum/velocity`` state.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> nesterov_momentum(T.sum(w ** 2), [w], 0.1).state[0].name
    'w/nesterov_momentum/velocity'
    """
    prefix = check_name(name, "nesterov_momentum")
    updates = _sgd(loss_or_grads, params, learning_rate, prefix, "sgd")
    return _apply_momentum(updates, None, momentum, prefix, "nesterov_momentum", nesterov=True)


# -- adaptive rules ----------------------------------------------------------------------
def adagrad(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate = 1.0,
            epsilon: float = 1e-6, name: str | None = None) -> Updates:
    """Adagrad updates (Duchi et al., 2011).

    Scales learning rates by dividing by the square root of the accumulated
    squared gradients:

    * ``accu := accu + gradient ** 2``
    * ``param := param - learning_rate * gradient / sqrt(accu + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps
    epsilon : float or symbolic scalar
        Small value added for numerical stability
    name : str, optional
        Prefix of the state names instead of ``'adagrad'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/adagrad/accu`` state.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> adagrad(T.sum(w ** 2), [w]).state[0].name
    'w/adagrad/accu'
    """
    r = _Rule("adagrad", name, loss_or_grads, params, learning_rate,
              {"epsilon": (epsilon, False)})
    for k, param, g in r:
        dt = param.dtype
        accu = r.state(k, "accu")
        accu_new = accu + E.sqr(g)
        r.set(accu, accu_new)
        r.set(param, param - r.lr(dt) * g / E.sqrt(accu_new + r.h("epsilon", dt)))
    return r.finish()


def rmsprop(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate = 1.0,
            rho: float = 0.9, epsilon: float = 1e-6, name: str | None = None) -> Updates:
    """RMSProp updates (Tieleman and Hinton, 2012).

    Scales learning rates by dividing by a moving average of the squared
    gradients:

    * ``accu := rho * accu + (1 - rho) * gradient ** 2``
    * ``param := param - learning_rate * gradient / sqrt(accu + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        The learning rate controlling the size of update steps
    rho : float or symbolic scalar
        Gradient moving average decay factor, in [0, 1)
    epsilon : float or symbolic scalar
        Small value added for numerical stability
    name : str, optional
        Prefix of the state names instead of ``'rmsprop'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/rmsprop/accu`` state.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> rmsprop(T.sum(w ** 2), [w], learning_rate=0.01).hyperparameters['rho']
    0.9
    """
    r = _Rule("rmsprop", name, loss_or_grads, params, learning_rate,
              {"rho": (rho, True), "epsilon": (epsilon, False)})
    for k, param, g in r:
        dt = param.dtype
        rho_ = r.h("rho", dt)
        accu = r.state(k, "accu")
        accu_new = rho_ * accu + (1.0 - rho_) * E.sqr(g)
        r.set(accu, accu_new)
        r.set(param, param - r.lr(dt) * g / E.sqrt(accu_new + r.h("epsilon", dt)))
    return r.finish()


def adadelta(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate = 1.0,
             rho: float = 0.95, epsilon: float = 1e-6, name: str | None = None) -> Updates:
    """Adadelta updates (Zeiler, 2012).

    Scales learning rates by the ratio of accumulated updates to accumulated
    gradients:

    * ``accu := rho * accu + (1 - rho) * gradient ** 2``
    * ``update = gradient * sqrt(delta_accu + epsilon) / sqrt(accu + epsilon)``
      (with the new ``accu`` and the old ``delta_accu``)
    * ``param := param - learning_rate * update``
    * ``delta_accu := rho * delta_accu + (1 - rho) * update ** 2``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        The learning rate (the paper has none, i.e. 1.0)
    rho : float or symbolic scalar
        Squared gradient moving average decay factor, in [0, 1)
    epsilon : float or symbolic scalar
        Small value added for numerical stability (it also makes the very
        first update non-zero)
    name : str, optional
        Prefix of the state names instead of ``'adadelta'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/adadelta/accu``,
        ``<param>/adadelta/delta_accu`` state.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> [v.name for v in adadelta(T.sum(w ** 2), [w]).state]
    ['w/adadelta/accu', 'w/adadelta/delta_accu']
    """
    r = _Rule("adadelta", name, loss_or_grads, params, learning_rate,
              {"rho": (rho, True), "epsilon": (epsilon, False)})
    for k, param, g in r:
        dt = param.dtype
        rho_, eps = r.h("rho", dt), r.h("epsilon", dt)
        accu, delta_accu = r.state(k, "accu"), r.state(k, "delta_accu")
        accu_new = rho_ * accu + (1.0 - rho_) * E.sqr(g)
        update = g * E.sqrt(delta_accu + eps) / E.sqrt(accu_new + eps)
        r.set(accu, accu_new)
        r.set(param, param - r.lr(dt) * update)
        r.set(delta_accu, rho_ * delta_accu + (1.0 - rho_) * E.sqr(update))
    return r.finish()


def _moments(r, k, g, dt):
    """Adam's moment estimates: new ``m`` and ``v`` (their updates are set)."""
    beta1, beta2 = r.h("beta1", dt), r.h("beta2", dt)
    m, v = r.state(k, "m"), r.state(k, "v")
    m_t = beta1 * m + (1.0 - beta1) * g
    v_t = beta2 * v + (1.0 - beta2) * E.sqr(g)
    r.set(m, m_t)
    r.set(v, v_t)
    return m_t, v_t


def _adam_hypers(beta1, beta2, epsilon):
    return {"beta1": (beta1, True), "beta2": (beta2, True), "epsilon": (epsilon, False)}


def adam(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate = 0.001,
         beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
         name: str | None = None) -> Updates:
    """Adam updates (Kingma and Ba, 2014), implemented as in Lasagne.

    With the step number ``t`` (1 on the first call):

    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``a_t = learning_rate * sqrt(1 - beta2 ** t) / (1 - beta1 ** t)``
    * ``param := param - a_t * m / (sqrt(v) + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        Learning rate
    beta1 : float or symbolic scalar
        Exponential decay rate for the first moment estimates, in [0, 1)
    beta2 : float or symbolic scalar
        Exponential decay rate for the second moment estimates, in [0, 1)
    epsilon : float or symbolic scalar
        Constant for numerical stability
    name : str, optional
        Prefix of the state names instead of ``'adam'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/adam/m``, ``<param>/adam/v`` and
        ``adam/t`` (int64 step counter) state.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> [v.name for v in adam(T.sum(w ** 2), [w], name='gen').state]
    ['w/gen/m', 'w/gen/v', 'gen/t']
    """
    r = _Rule("adam", name, loss_or_grads, params, learning_rate,
              _adam_hypers(beta1, beta2, epsilon))
    for k, param, g in r:
        dt = param.dtype
        m_t, v_t = _moments(r, k, g, dt)
        a_t = r.per_dtype("a_t", dt, lambda: (
            r.lr(dt) * E.sqrt(1.0 - r.h("beta2", dt) ** r.step(dt))
            / (1.0 - r.h("beta1", dt) ** r.step(dt))))
        r.set(param, param - a_t * m_t / (E.sqrt(v_t) + r.h("epsilon", dt)))
    return r.finish()


def adamax(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate = 0.002,
           beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
           name: str | None = None) -> Updates:
    """Adamax updates (Kingma and Ba, 2014): Adam with the infinity norm.

    With the step number ``t`` (1 on the first call):

    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``u := max(beta2 * u, abs(gradient))``
    * ``param := param - learning_rate / (1 - beta1 ** t) * m / (u + epsilon)``

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        Learning rate
    beta1 : float or symbolic scalar
        Exponential decay rate for the first moment estimates, in [0, 1)
    beta2 : float or symbolic scalar
        Exponential decay rate for the weighted infinity norm, in [0, 1)
    epsilon : float or symbolic scalar
        Constant for numerical stability
    name : str, optional
        Prefix of the state names instead of ``'adamax'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/adamax/m``, ``<param>/adamax/u``
        and ``adamax/t`` state.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> [v.name for v in adamax(T.sum(w ** 2), [w]).state]
    ['w/adamax/m', 'w/adamax/u', 'adamax/t']
    """
    r = _Rule("adamax", name, loss_or_grads, params, learning_rate,
              _adam_hypers(beta1, beta2, epsilon))
    for k, param, g in r:
        dt = param.dtype
        beta1_, beta2_ = r.h("beta1", dt), r.h("beta2", dt)
        m, u = r.state(k, "m"), r.state(k, "u")
        m_t = beta1_ * m + (1.0 - beta1_) * g
        u_t = E.maximum(beta2_ * u, E.abs(g))
        r.set(m, m_t)
        r.set(u, u_t)
        a_t = r.per_dtype("a_t", dt, lambda: r.lr(dt) / (1.0 - beta1_ ** r.step(dt)))
        r.set(param, param - a_t * m_t / (u_t + r.h("epsilon", dt)))
    return r.finish()


def adamw(loss_or_grads: LossOrGrads, params: Params, learning_rate: LearningRate = 0.001,
          beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
          weight_decay: float = 0.01, name: str | None = None) -> Updates:
    """AdamW updates: Adam with decoupled weight decay (Loshchilov and Hutter, 2019).

    Follows PyTorch's ``torch.optim.AdamW``.  With the step number ``t`` (1 on
    the first call):

    * ``m := beta1 * m + (1 - beta1) * gradient``
    * ``v := beta2 * v + (1 - beta2) * gradient ** 2``
    * ``param := param * (1 - learning_rate * weight_decay)
      - learning_rate / (1 - beta1 ** t) * m
      / (sqrt(v) / sqrt(1 - beta2 ** t) + epsilon)``

    The decay shrinks the parameters directly instead of adding
    ``weight_decay * param`` to the gradient (compare
    :func:`~nnframe.optim.apply_weight_decay`), so it is not rescaled by
    Adam's per-coordinate step sizes.  Note that ``epsilon`` is added to the
    bias-corrected ``sqrt(v)``, unlike in :func:`adam`.

    Parameters
    ----------
    loss_or_grads : symbolic expression or list of expressions
        A scalar loss expression, or a list of gradient expressions
    params : list of shared variables
        The variables to generate update expressions for
    learning_rate : float or symbolic scalar
        Learning rate (it also scales the decay)
    beta1 : float or symbolic scalar
        Exponential decay rate for the first moment estimates, in [0, 1)
    beta2 : float or symbolic scalar
        Exponential decay rate for the second moment estimates, in [0, 1)
    epsilon : float or symbolic scalar
        Constant for numerical stability
    weight_decay : float or symbolic scalar
        Decoupled weight decay coefficient
    name : str, optional
        Prefix of the state names instead of ``'adamw'``

    Returns
    -------
    Updates
        Parameter updates and ``<param>/adamw/m``, ``<param>/adamw/v`` and
        ``adamw/t`` state.

    Examples
    --------
    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import shared
    >>> w = shared(np.zeros(3), name='w')
    >>> adamw(T.sum(w ** 2), [w], weight_decay=0.1).hyperparameters['weight_decay']
    0.1
    """
    hypers = _adam_hypers(beta1, beta2, epsilon)
    hypers["weight_decay"] = (weight_decay, False)
    r = _Rule("adamw", name, loss_or_grads, params, learning_rate, hypers)
    for k, param, g in r:
        dt = param.dtype
        m_t, v_t = _moments(r, k, g, dt)
        lr = r.lr(dt)
        step_size = r.per_dtype("step_size", dt, lambda: (
            lr / (1.0 - r.h("beta1", dt) ** r.step(dt))))
        bc2_sqrt = r.per_dtype("bc2_sqrt", dt, lambda: (
            E.sqrt(1.0 - r.h("beta2", dt) ** r.step(dt))))
        decayed = param * (1.0 - lr * r.h("weight_decay", dt))
        denom = E.sqrt(v_t) / bc2_sqrt + r.h("epsilon", dt)
        r.set(param, decayed - step_size * m_t / denom)
    return r.finish()


#: rule name -> function, for building optimizers from configuration files
RULES = {
    "sgd": sgd,
    "momentum": momentum,
    "nesterov_momentum": nesterov_momentum,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adadelta": adadelta,
    "adam": adam,
    "adamax": adamax,
    "adamw": adamw,
}
