"""Helpers shared by layers (Lasagne's ``lasagne.utils``).

``floatX``, ``as_tuple``, ``create_param``, ``one_hot``, ``shared_empty`` and
``unroll_scan`` take Lasagne's arguments (``nnframe.compat.lasagne.utils``
re-exports them).

:func:`unroll_scan` writes a loop out as one graph node per step: the same
calling convention as ``T.scan``, for code that wants the unrolled graph
(short, fixed-length sequences, where the unrolled graph is rewritten and
fused as a whole).

>>> import numpy as np
>>> import nnframe.tensor as T
>>> from nnframe import function
>>> x = T.dmatrix('x')
>>> running_sum, = unroll_scan(lambda x_t, total: total + x_t, sequences=[x],
...                            outputs_info=[T.zeros_like(x[0])], non_sequences=[], n_steps=3)
>>> function([x], running_sum)(np.ones((3, 2)))
array([[1., 1.],
       [2., 2.],
       [3., 3.]])
"""
import numbers
import operator

import numpy as np

import nnframe.tensor as T
from nnframe.config import config
from nnframe.core.graph import Variable
from nnframe.core.shared import SharedVariable, shared

__all__ = ["floatX", "as_tuple", "create_param", "one_hot", "shared_empty", "unroll_scan"]


def floatX(arr):
    """``arr`` as a NumPy array of ``config.floatX`` (no copy when it already is one).

    >>> floatX([1, 2]).dtype == np.dtype(config.floatX)
    True
    """
    return np.asarray(arr, dtype=config.floatX)


def as_tuple(x, N, t=None):
    """``x`` as a tuple of length ``N``: an iterable is converted (and must have N items),
    anything else is repeated N times.  ``t`` (a type or tuple of types) checks every item.

    >>> as_tuple(3, 2), as_tuple([1, 2], 2)
    ((3, 3), (1, 2))
    """
    try:
        X = tuple(x)
    except TypeError:
        X = (x,) * N
    if t is not None and not all(isinstance(v, t) for v in X):
        what = t.__name__ if isinstance(t, type) else " or ".join(c.__name__ for c in t)
        raise TypeError(f"expected a single {what} or an iterable of {N} of them, got {x!r}")
    if len(X) != N:
        raise ValueError(f"expected a single value or an iterable with {N} items, got {x!r}")
    return X


def create_param(spec, shape, name=None):
    """A parameter of ``shape`` from ``spec`` (Lasagne's ``create_param``).

    ``spec`` is a shared variable (returned as is; its number of dimensions must
    match), a symbolic expression (returned as is, same check), a NumPy array
    (checked against ``shape`` and wrapped in a ``config.floatX`` shared variable
    named ``name``) or a callable ``spec(shape)`` returning either of those (an
    initialiser).

    >>> from nnframe import init
    >>> create_param(init.Constant(1.0), (2, 3), name='W').get_value().shape
    (2, 3)
    """
    shape = tuple(shape)
    if any(not isinstance(d, numbers.Integral) or d <= 0 for d in shape):
        raise ValueError(f"create_param: the shape {shape} must contain positive integers")
    what = f"parameter {name!r}" if name else "the parameter"
    if isinstance(spec, Variable):
        if spec.ndim != len(shape):
            raise ValueError(f"create_param: {what} is a variable with {spec.ndim} "
                             f"dimension(s), but the shape {shape} has {len(shape)}")
        if isinstance(spec, SharedVariable):
            have = spec.get_value(borrow=True).shape
            if have != shape:
                raise ValueError(f"create_param: {what} is a shared variable of shape {have}, "
                                 f"expected {shape}")
        return spec
    if isinstance(spec, np.ndarray):
        if spec.shape != shape:
            raise ValueError(f"create_param: {what} has shape {spec.shape}, expected {shape}")
        return shared(floatX(spec), name=name)
    if callable(spec):
        value = spec(shape)
        if isinstance(value, Variable):
            return create_param(value, shape, name)
        value = np.asarray(value)
        if value.shape != shape:
            raise ValueError(f"create_param: the initialiser gave {what} shape {value.shape}, "
                             f"expected {shape}")
        return shared(floatX(value), name=name)
    raise TypeError(f"create_param: {what} must be a shared variable, an expression, a NumPy "
                    f"array or a callable, got {type(spec).__name__}")


def one_hot(x, m=None):
    """One-hot encoding of the integer tensor ``x`` (Lasagne's ``one_hot``).

    The result has a new last axis of length ``m`` (default: ``max(x) + 1``,
    computed in the graph) and ``x``'s dtype, like ``T.eye(m)[x]``.

    >>> from nnframe import function
    >>> y = T.ivector('y')
    >>> function([y], one_hot(y, 3))(np.array([0, 2], dtype='int32'))
    array([[1, 0, 0],
           [0, 0, 1]], dtype=int32)
    """
    x = T.as_tensor_variable(x)
    if m is None:
        m = T.cast(T.max(x) + 1, "int64")
    hot = T.eq(T.shape_padright(x), T.arange(m))
    return T.cast(hot, x.dtype)


def shared_empty(dim=2, dtype=None):
    """A shared variable of ``dim`` dimensions (each of length 1, zeros) and ``dtype``
    (default ``config.floatX``), to be filled with ``set_value`` later.

    >>> shared_empty(3).get_value().shape
    (1, 1, 1)
    """
    return shared(np.zeros((1,) * dim, dtype=dtype or config.floatX))


def unroll_scan(fn, sequences, outputs_info, non_sequences, n_steps, go_backwards=False):
    """Unroll a loop that ``T.scan`` would run: ``n_steps`` calls of ``fn`` in the graph.

    The arguments are ``T.scan``'s: ``fn(*sequence_slices, *previous_outputs,
    *non_sequences)`` returns the new outputs (one variable, or a list or
    tuple of them), each fed back as the previous output of the next step.
    ``truncate_gradient`` is not supported (the unrolled graph is an
    ordinary graph: the gradient goes through every step).

    Parameters
    ----------
    fn : callable
        The step.
    sequences : variable or list of variables
        Iterated over their first axis.
    outputs_info : list of variables
        The initial value of every recurrent output.
    non_sequences : list of variables
        Passed unchanged to every step.
    n_steps : int
        Number of steps: a Python integer, since the graph is written out.
    go_backwards : bool
        Start at ``sequences[n_steps - 1]`` and go down to ``sequences[0]``.

    Returns
    -------
    list of variables
        One per output of ``fn``: the outputs of every step stacked along a new
        first axis, in the order the steps ran (as ``T.scan`` returns them, so a
        backwards loop's outputs are in reverse time order).
    """
    if isinstance(sequences, Variable):
        sequences = [sequences]
    sequences, prev_vals = list(sequences or []), list(outputs_info or [])
    non_sequences = list(non_sequences or [])
    try:
        n_steps = operator.index(n_steps)
    except TypeError:
        raise TypeError(f"unroll_scan: n_steps must be a Python integer (the number of steps "
                        f"written into the graph), got {n_steps!r}") from None
    if n_steps <= 0:
        raise ValueError(f"unroll_scan: n_steps must be positive, got {n_steps}")
    if any(v is None for v in prev_vals):
        raise ValueError("unroll_scan: every outputs_info entry needs an initial value "
                         "(None, an output that is not fed back, is not supported)")

    counter = range(n_steps)
    if go_backwards:
        counter = counter[::-1]
    steps = []
    for i in counter:
        out = fn(*([s[i] for s in sequences] + prev_vals + non_sequences))
        # fn may return one variable, a tuple or a list: always a list from here on
        out = list(out) if isinstance(out, (list, tuple)) else [out]
        if len(out) != len(prev_vals):
            raise ValueError(f"unroll_scan: the step returned {len(out)} output(s) but "
                             f"outputs_info has {len(prev_vals)} initial value(s)")
        steps.append(out)
        prev_vals = out
    return [T.stack([step[k] for step in steps]) for k in range(len(steps[0]))]
