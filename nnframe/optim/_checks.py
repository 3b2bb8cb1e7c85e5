"""Argument checks shared by the update rules, constraints and schedules.

Each check returns the cleaned value or raises a TypeError / ValueError that
names the argument and says how to fix it.
"""
import math
import numbers

import numpy as np

from nnframe.core.graph import Variable
from nnframe.core.ops import elemwise as E
from nnframe.core.shared import SharedVariable
from nnframe.core.types import is_float

__all__ = ["check_number", "check_int", "check_hyper", "check_scalar_expr", "check_params",
           "param_labels", "check_name", "as_dtype"]


def _is_real_number(value):
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, numbers.Real)


def check_number(value, what, below_one=False):
    """``value`` as a Python float: finite, >= 0 (and < 1 if ``below_one``)."""
    if not _is_real_number(value):
        raise TypeError(f"{what} must be a number, got {type(value).__name__} {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number}")
    if number < 0:
        raise ValueError(f"{what} must be >= 0, got {number}")
    if below_one and number >= 1:
        raise ValueError(f"{what} must be in [0, 1), got {number}")
    return number


def check_int(value, what, minimum):
    """``value`` as a Python int >= ``minimum``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{what} must be an integer, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return int(value)


def check_scalar_expr(var, what):
    """A symbolic hyperparameter: a float scalar Variable."""
    if var.ndim != 0:
        raise ValueError(f"{what} must be a scalar, got the expression {var!r} of type "
                         f"{var.type}")
    if not is_float(var.dtype):
        raise TypeError(f"{what} must be a float scalar, got {var!r} of type {var.type}; "
                        f"cast it with T.cast(..., 'floatX')")
    return var


def check_hyper(value, what, below_one=False):
    """A hyperparameter: a Python float (checked) or a symbolic float scalar."""
    if isinstance(value, Variable):
        return check_scalar_expr(value, what)
    return check_number(value, what, below_one=below_one)


def as_dtype(hyper, dtype):
    """``hyper`` ready to combine with tensors of ``dtype`` without upcasting them.

    Python floats are weak constants and already take the tensor's dtype;
    symbolic ones are cast.
    """
    return hyper if isinstance(hyper, float) else E.cast(hyper, dtype)


def check_params(params, what="params"):
    """``params`` as a list of distinct float shared variables."""
    if isinstance(params, Variable):
        raise TypeError(f"{what} must be a list of shared variables, got the single variable "
                        f"{params!r}; wrap it in a list")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"{what} must be a list of shared variables, got "
                        f"{type(params).__name__}") from None
    if not params:
        raise ValueError(f"{what} is empty; give the shared variables to optimize "
                         "(e.g. get_all_params(network, trainable=True))")
    seen = {}
    for k, param in enumerate(params):
        if not isinstance(param, SharedVariable):
            kind = "a symbolic expression" if isinstance(param, Variable) else type(param).__name__
            raise TypeError(f"{what}[{k}] ({param!r}) is {kind}, not a shared variable; "
                            "optimizers update shared variables only")
        if not is_float(param.dtype):
            raise TypeError(f"{what}[{k}] ({param!r}) has dtype {param.dtype}; only float "
                            "parameters can be optimized")
        if id(param) in seen:
            raise ValueError(f"{what}[{seen[id(param)]}] and {what}[{k}] are the same shared "
                             f"variable {param!r}; list each parameter once")
        seen[id(param)] = k
    return params


def param_labels(params):
    """The names optimizer state is named after: ``param.name`` or ``param<k>``.

    Two parameters with the same label would give clashing state names, which
    checkpoints could not tell apart, so that is an error.
    """
    labels = [p.name or f"param{k}" for k, p in enumerate(params)]
    first = {}
    for k, label in enumerate(labels):
        if label in first:
            raise ValueError(f"params[{first[label]}] and params[{k}] are both named "
                             f"{label!r}; optimizer state is named after its parameter, so "
                             "give the parameters distinct names")
        first[label] = k
    return labels


def check_name(name, default):
    """The prefix of an optimizer's state names: ``name`` or the rule's name."""
    if name is None:
        return default
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty string, got {name!r}")
    return name
