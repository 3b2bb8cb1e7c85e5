"""``T.random``: streams of random numbers inside graphs (Theano's RandomStreams).

>>> import nnframe.tensor as T
>>> from nnframe import function
>>> srng = T.random.RandomStream(seed=42)
>>> u = srng.uniform((2, 3))
>>> f = function([], u)
>>> f().shape, bool((f() != f()).any())     # every call draws new numbers
((2, 3), True)

Each draw (each call of a stream method) gets its own shared state variable
``[key, substream, counter]`` = ``[seed, draw index, 0]``, so the same
program with the same seed gives the same numbers, on every backend (the
numbers come from Philox4x32-10; see :mod:`nnframe.core.ops.random` for the
exact definition of every distribution).

Decision: the state's ``default_update`` is the draw's new state, so
:func:`nnframe.function` adds it automatically and every call of a compiled
function advances the stream, as with Theano's shared random streams.
Updates given explicitly to ``function`` win over default updates;
``stream.updates()`` lists the pairs for code that passes them explicitly.

Distribution parameters may be symbolic.  ``uniform`` and ``normal`` are
built in the graph from a standard draw (``low + (high - low) * u`` and
``avg + std * z``), so gradients flow to their parameters
(reparameterisation); the raw draws themselves have no gradient.
"""
import os

import numpy as np

from nnframe.core.graph import Constant, Variable
from nnframe.core.op import as_tensor_variable
from nnframe.core.ops import random as random_ops
from nnframe.core.ops.shape import shape_i
from nnframe.core.shared import shared
from nnframe.core.types import is_float, upcast

__all__ = ["RandomStream", "RandomStreams"]


def _check_seed(seed):
    """``seed`` as an int in [0, 2**64); None draws one from the OS."""
    if seed is None:
        return int.from_bytes(os.urandom(8), "little")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"a random seed must be an int, got {type(seed).__name__} {seed!r}")
    seed = int(seed)
    if not 0 <= seed < 2 ** 64:
        raise ValueError(f"a random seed must be in [0, 2**64), got {seed}")
    return seed


def _initial_state(seed, index):
    return np.array([seed, index, 0], dtype=np.uint64)


def _is_value(x, value):
    """True when ``x`` is the Python number ``value`` or a constant holding it."""
    if isinstance(x, Constant):
        return x.data.ndim == 0 and x.data.item() == value
    return isinstance(x, (int, float)) and x == value


def _float_dtype(dtype, params):
    """``dtype``, or floatX upcast with the dtypes of the symbolic float parameters."""
    if dtype is not None:
        return str(np.dtype(dtype))
    from nnframe.config import config
    dtypes = [p.dtype for p in params if isinstance(p, Variable) and not getattr(p, "weak", False)
              and is_float(p.dtype)]
    return upcast(config.floatX, *dtypes)


def _broadcast_size(params):
    """The NumPy broadcast shape of ``params`` (Variables), as a list of lengths."""
    ndim = max((p.ndim for p in params), default=0)
    shape = []
    for axis in range(ndim):
        owners = [(p, axis - (ndim - p.ndim)) for p in params if axis >= ndim - p.ndim]
        known = [p.type.shape[a] for p, a in owners if p.type.shape[a] not in (None, 1)]
        loose = [(p, a) for p, a in owners if p.type.shape[a] is None]
        if known:
            shape.append(known[0])
        elif loose:
            shape.append(shape_i(*loose[0]))
        else:
            shape.append(1)
    return shape


def _size(size, ndim, params=None):
    """``size`` as (int64 vector, ndim); None means the broadcast shape of ``params``.

    ``params`` maps names to the parameters, which must broadcast to ``size``.
    """
    params = params or {}
    if size is None:
        size = _broadcast_size(list(params.values()))
        if ndim is not None and int(ndim) != len(size):
            raise ValueError(f"ndim={ndim} does not match the {len(size)} dimension(s) of the "
                             "broadcast parameters; pass size=")
    vec, ndim = random_ops.as_size_vector(size, ndim)
    shape = random_ops.static_size(vec, ndim)
    for name, p in params.items():
        random_ops.check_broadcast(f"parameter {name}", p, shape)
    return vec, ndim


def _as_param(x, dtype):
    """A parameter as a Variable of ``dtype`` (Python and NumPy values become constants)."""
    return as_tensor_variable(x, dtype=dtype)


class RandomStream:
    """A source of random draws for graphs, seeded once.

    Parameters
    ----------
    seed : int in [0, 2**64) or None
        None picks a seed from the operating system (kept in ``base_seed``).
    name : str
        Prefix of the state variables' names (``'rng/state0'``, ...).

    Attributes
    ----------
    state_variables : list of SharedVariable
        One uint64 ``[key, substream, counter]`` state per draw, in draw order.
    base_seed : int
        The seed of the stream.

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> from nnframe import function
    >>> srng = T.random.RandomStream(seed=1)
    >>> x = T.fmatrix('x')
    >>> mask = srng.binomial(x.shape, p=0.5, dtype='float32', ndim=2)
    >>> dropout = function([x], x * mask)
    """

    def __init__(self, seed=None, name="rng"):
        self.base_seed = _check_seed(seed)
        self.name = name
        self.state_variables = []
        self._new_states = []

    def __repr__(self):
        return (f"RandomStream(seed={self.base_seed}, name={self.name!r}, "
                f"{len(self.state_variables)} draw(s))")

    # -- state ---------------------------------------------------------------
    def seed(self, seed=None):
        """Reseed every draw of the stream (and later ones) from ``seed``.

        Draw ``k`` restarts at ``[seed, k, 0]``: the numbers are those of a new
        stream built with ``seed`` and the same draws.
        """
        self.base_seed = _check_seed(seed)
        for index, state in enumerate(self.state_variables):
            state.set_value(_initial_state(self.base_seed, index))

    def updates(self):
        """The ``(state, new_state)`` pairs of every draw, for ``function(updates=...)``."""
        return list(zip(self.state_variables, self._new_states))

    def _draw(self, op, size, *params):
        index = len(self.state_variables)
        state = shared(_initial_state(self.base_seed, index), name=f"{self.name}/state{index}",
                       shape=(random_ops.STATE_LENGTH,))
        new_state, sample = op(state, size, *params)
        state.default_update = new_state
        self.state_variables.append(state)
        self._new_states.append(new_state)
        return sample

    # -- distributions ------------------------------------------------------
    def uniform(self, size=None, low=0.0, high=1.0, ndim=None, dtype=None):
        """Uniform numbers in [low, high).

        Parameters
        ----------
        size : tuple of ints / int scalars, int vector, or None
            The shape of the sample; None means the broadcast shape of
            ``low`` and ``high``.  Parameters broadcast to it as in NumPy.
        low, high : numbers or tensors
            Bounds (gradients flow to them: ``low + (high - low) * u``).
        ndim : int, optional
            Length of ``size`` when it is a symbolic vector of unknown length.
        dtype : 'float32', 'float64' or None
            None: ``config.floatX``, upcast with symbolic float parameters.

        Returns
        -------
        TensorVariable of shape ``size``.  ``u`` has 24 (float32) or 53
        (float64) random bits; rounding of ``low + (high - low) * u`` may
        reach ``high`` for some bounds.

        Examples
        --------
        >>> srng = RandomStream(seed=3)
        >>> u = srng.uniform((100,), low=-1.0, high=1.0)
        """
        dtype = _float_dtype(dtype, (low, high))
        low, high = _as_param(low, dtype), _as_param(high, dtype)
        vec, ndim = _size(size, ndim, {"low": low, "high": high})
        u = self._draw(random_ops.RandomUniform(ndim, dtype), vec)
        if _is_value(low, 0) and _is_value(high, 1):
            return u
        return low + (high - low) * u

    def normal(self, size=None, avg=0.0, std=1.0, ndim=None, dtype=None):
        """Normal numbers with mean ``avg`` and standard deviation ``std``.

        Built as ``avg + std * z`` with ``z`` standard normal (Box-Muller), so
        gradients flow to ``avg`` and ``std``.  ``size``, ``ndim`` and
        ``dtype`` are as for :meth:`uniform`.

        Examples
        --------
        >>> import nnframe.tensor as T
        >>> mu, sigma = T.fscalar('mu'), T.fscalar('sigma')
        >>> x = RandomStream(seed=3).normal((10,), avg=mu, std=sigma)
        >>> g = T.grad(x.sum(), mu)
        """
        dtype = _float_dtype(dtype, (avg, std))
        avg, std = _as_param(avg, dtype), _as_param(std, dtype)
        vec, ndim = _size(size, ndim, {"avg": avg, "std": std})
        z = self._draw(random_ops.RandomNormal(ndim, dtype), vec)
        if not _is_value(std, 1):
            z = std * z
        if not _is_value(avg, 0):
            z = avg + z
        return z

    def binomial(self, size=None, n=1, p=0.5, ndim=None, dtype="int64"):
        """Binomial(n, p) counts (Bernoulli ``u < p`` when n = 1).

        ``n`` (integers) and ``p`` broadcast to ``size``; ``p`` keeps its float
        dtype when symbolic, else it is ``config.floatX`` (the uniforms use
        p's precision).  No gradient flows to ``p``.

        Examples
        --------
        >>> mask = RandomStream(seed=0).binomial((4, 5), p=0.8, dtype='float32')
        """
        from nnframe.config import config
        p_dtype = p.dtype if isinstance(p, Variable) and is_float(p.dtype) else config.floatX
        n, p = as_tensor_variable(n), _as_param(p, p_dtype)
        vec, ndim = _size(size, ndim, {"n": n, "p": p})
        return self._draw(random_ops.RandomBinomial(ndim, dtype), vec, n, p)

    def random_integers(self, size=None, low=0, high=1, ndim=None, dtype="int64"):
        """Integers in [low, high], both inclusive (``high - low < 2**32``).

        Examples
        --------
        >>> dice = RandomStream(seed=0).random_integers((10,), low=1, high=6)
        """
        low, high = as_tensor_variable(low), as_tensor_variable(high)
        vec, ndim = _size(size, ndim, {"low": low, "high": high})
        return self._draw(random_ops.RandomIntegers(ndim, dtype), vec, low, high)

    def choice(self, size=None, a=2, replace=True, p=None, ndim=None, dtype=None):
        """Items chosen from ``range(a)`` (``a`` an int) or from the vector ``a``.

        Parameters
        ----------
        size : the shape of the sample (None: a scalar)
        a : int, int scalar or vector
            The number of items, or the items themselves (the result is then
            ``a[indices]``, which needs advanced indexing).
        replace : bool
            Without replacement, ``prod(size)`` distinct items are chosen.
        p : vector of weights, optional
            Probabilities of the items (normalised by their sum); uniform when
            None.  Symbolic vectors keep their dtype, others are floatX.
        dtype : the result's dtype (default: int64 for indices, a's dtype
            for items).

        Examples
        --------
        >>> srng = RandomStream(seed=0)
        >>> letters = srng.choice((5,), a=3, p=[0.5, 0.25, 0.25])
        """
        from nnframe.config import config
        items = None
        a_var = as_tensor_variable(a)
        if a_var.ndim == 1:
            items, a_var = a_var, shape_i(a_var, 0)
        elif a_var.ndim != 0:
            raise TypeError(f"choice: a must be an int or a vector of items, got {a_var.type}")
        if p is not None:
            p_dtype = p.dtype if isinstance(p, Variable) and is_float(p.dtype) else config.floatX
            p = _as_param(p, p_dtype)
            self._check_weights_length(a_var, p)
        vec, ndim = _size(() if size is None else size, ndim)
        op = random_ops.RandomChoice(ndim, replace=replace, weighted=p is not None)
        index = self._draw(op, vec, a_var, *([] if p is None else [p]))
        result = index if items is None else items[index]
        if dtype is not None:
            from nnframe.core.ops.elemwise import cast
            result = cast(result, dtype)
        return result

    @staticmethod
    def _check_weights_length(a, p):
        if p.ndim != 1:
            raise TypeError(f"choice: p must be a vector of weights, got {p.type}")
        if isinstance(a, Constant) and p.type.shape[0] is not None:
            if int(a.data) != p.type.shape[0]:
                raise ValueError(f"choice: p has {p.type.shape[0]} weights for a = "
                                 f"{int(a.data)} items")

    def permutation(self, size=None, n=1, ndim=None, dtype="int64"):
        """Random permutations of ``range(n)``: shape ``size + (n,)``.

        ``size=None`` (or ``()``) gives one permutation (a vector of length n).

        Examples
        --------
        >>> order = RandomStream(seed=0).permutation(n=10)
        """
        vec, ndim = _size(() if size is None else size, ndim)
        return self._draw(random_ops.RandomPermutation(ndim, dtype), vec, as_tensor_variable(n))


#: Theano's name
RandomStreams = RandomStream
