"""Random draws: Ops that turn a counter-based generator state into samples.

Every draw is an Op taking ``(state, size, *params)`` and returning
``(new_state, sample)``.  The numbers come from Philox4x32-10 (Salmon et al.
2011, Random123), a counter-based generator: block ``b`` of a stream is a
pure function of (key, counter), so every backend can reproduce the same
streams bit for bit.  This module fixes the *definition* of each stream; the
backends implement it (the NumPy backend is the reference).

The stream definition
---------------------
``state`` is a uint64 vector ``[key, substream, counter]``.  Block ``b``
(b = 0, 1, ...) of a draw is ``philox4x32_10(ctr, k)`` with
``ctr = (lo32(counter + b), hi32(counter + b), lo32(substream), hi32(substream))``
(addition mod 2**64) and ``k = (lo32(key), hi32(key))``; its four 32-bit
outputs are words ``4b .. 4b+3``, so word ``i`` is lane ``i % 4`` of block
``i // 4``.  A draw that reads ``W`` words returns ``new_state`` with
``counter + ceil(W / 4)`` (mod 2**64): successive draws never reuse a block.

Uniform number ``k`` in the dtype's precision uses ``wpu`` words (1 for
float32, 2 for float64) starting at word ``k * wpu``:

- float32: ``(w >> 8) * 2**-24`` (24 bits, in [0, 1));
- float64: ``((w_a >> 5) * 2**26 + (w_b >> 6)) * 2**-53`` (53 bits, in [0, 1)).

What each Op derives from them is in its docstring.  Sizes are int64
vectors; parameters broadcast to ``size`` as in NumPy (static length-1 axes
and length-1 runtime axes both broadcast).  No gradient flows through the
draws: differentiable distributions are built in the graph from a standard
draw (``avg + std * z``, see ``nnframe.tensor.random``).

>>> import numpy as np
>>> from nnframe import shared, function
>>> state = shared(np.array([7, 0, 0], dtype='uint64'), shape=(3,))
>>> new_state, u = RandomUniform(ndim=1, dtype='float64')(state, [3])
>>> function([], u, updates=[(state, new_state)])().shape
(3,)
"""
import functools

import numpy as np

from nnframe.core.graph import Apply, Constant
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.types import TensorType, is_discrete

__all__ = ["STATE_LENGTH", "RandomOp", "RandomUniform", "RandomNormal", "RandomBinomial",
           "RandomIntegers", "RandomChoice", "RandomPermutation", "as_size_vector",
           "static_size", "check_broadcast"]

#: the state vector is uint64 ``[key, substream, counter]``
STATE_LENGTH = 3

_FLOATS = ("float32", "float64")


def as_size_vector(size, ndim=None):
    """``size`` (ints, int scalars or an int vector) as an int64 vector and its length.

    ``ndim`` is needed only when ``size`` is a symbolic vector of unknown
    length; when given it must agree with ``size``.

    >>> vec, n = as_size_vector((2, 3))
    >>> n
    2
    """
    from nnframe.core.ops.shape import _as_shape_vector
    if isinstance(size, (int, np.integer)):
        size = (size,)
    if isinstance(size, np.ndarray):
        size = tuple(size.tolist())
    if isinstance(size, (tuple, list)):
        for i, s in enumerate(size):
            if isinstance(s, (int, np.integer)) and s < 0:
                raise ValueError(f"size {tuple(size)} has the negative length {s} at "
                                 f"position {i}; lengths must be >= 0")
    vec = _as_shape_vector(size)
    length = vec.type.shape[0]
    if length is None:
        if ndim is None:
            raise ValueError(f"the length of the symbolic size {size!r} ({size.type}) is not "
                             "known; pass ndim= (the number of dimensions of the sample)")
        return vec, int(ndim)
    if ndim is not None and int(ndim) != length:
        raise ValueError(f"ndim={ndim} does not match size, which has {length} entries")
    return vec, length


def static_size(size, ndim):
    """The entries of the int64 vector ``size`` known at build time (None elsewhere)."""
    from nnframe.core.ops.shape import MakeVector
    if isinstance(size, Constant):
        return tuple(int(v) for v in size.data)
    if size.owner is not None and isinstance(size.owner.op, MakeVector):
        return tuple(int(i.data) if isinstance(i, Constant) else None for i in size.owner.inputs)
    return (None,) * ndim


def _symbolic_size(size, ndim):
    """The entries of the int64 vector ``size`` as scalars (for ``infer_shape``)."""
    if isinstance(size, Constant):
        return [int(v) for v in size.data]
    return [size[i] for i in range(ndim)]  # make_vector(...)[i] folds to its entry


def check_broadcast(what, p, shape):
    """Raise unless ``p`` broadcasts to the static size ``shape`` (NumPy's rule)."""
    if p.ndim > len(shape):
        raise ValueError(f"{what} ({p.type}) has more dimensions than the size "
                         f"({len(shape)}); parameters must broadcast to size, as in NumPy")
    for axis, (have, want) in enumerate(zip(p.type.shape, shape[len(shape) - p.ndim:])):
        if have not in (None, 1) and want is not None and have != want:
            raise ValueError(f"{what} ({p.type}) does not broadcast to size "
                             f"{tuple('?' if n is None else n for n in shape)} (axis {axis})")


@functools.lru_cache(maxsize=None)
def _int_bounds(dtype):
    """The least and greatest values of the integer ``dtype`` (looked up once per dtype)."""
    info = np.iinfo(dtype)
    return info.min, info.max


class RandomOp(Op):
    """Base of the draws: ``(state, size, *params) -> (new_state, sample)``.

    ``ndim`` is the length of ``size``; ``dtype`` the sample's dtype.
    Subclasses list their parameters in ``param_names`` and check them in
    ``check_params`` (which returns them as Variables).
    """

    __props__ = ("ndim", "dtype")
    do_constant_folding = False
    param_names = ()
    #: the parameters that broadcast to ``size``
    broadcast_params = ()
    #: dtypes the sample may have (None: any real dtype)
    allowed_dtypes = None

    def __init__(self, ndim, dtype):
        self.ndim = int(ndim)
        self.dtype = str(np.dtype(dtype))
        if self.ndim < 0:
            raise ValueError(f"{type(self).__name__}: ndim must be >= 0, got {ndim}")
        allowed = self.allowed_dtypes
        if allowed is not None and self.dtype not in allowed:
            raise TypeError(f"{type(self).__name__} cannot draw dtype {self.dtype}; use one of "
                            f"{', '.join(allowed)}")
        if np.dtype(self.dtype).kind == "c":
            raise TypeError(f"{type(self).__name__} cannot draw complex numbers")

    def __str__(self):
        return f"{type(self).__name__}{{{self.dtype}, ndim={self.ndim}}}"

    def make_node(self, state, size, *params):
        name = type(self).__name__
        state = as_tensor_variable(state)
        if state.dtype != "uint64" or state.ndim != 1 or state.type.shape[0] not in (
                None, STATE_LENGTH):
            raise TypeError(f"{name}: the state must be a uint64 vector of length "
                            f"{STATE_LENGTH} ([key, substream, counter]), got {state.type}")
        size, _ = as_size_vector(size, self.ndim)
        if len(params) != len(self.param_names):
            raise TypeError(f"{name} takes the parameters ({', '.join(self.param_names)}), got "
                            f"{len(params)} of them")
        params = self.check_params([as_tensor_variable(p) for p in params])
        shape = static_size(size, self.ndim)
        for pname, p in zip(self.param_names, params):
            if pname in self.broadcast_params:
                check_broadcast(f"{type(self).__name__}: parameter {pname}", p, shape)
        sample = TensorType(self.dtype, self.sample_shape(shape, params))
        return Apply(self, [state, size] + list(params), [state.type, sample])

    def check_params(self, params):
        return params

    def sample_shape(self, shape, params):
        return shape

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0], tuple(_symbolic_size(node.inputs[1], self.ndim))]

    def L_op(self, inputs, outputs, output_grads):
        # Raw draws are not differentiable: the state and size are discrete, and
        # differentiable parameters are applied in the graph (reparameterisation).
        return [None] * len(inputs)

    # -- run-time checks (of host values: every backend calls them) --
    def check_state_shape(self, state_shape):
        """Raise ValueError unless a state value of ``state_shape`` holds the three words."""
        if state_shape != (STATE_LENGTH,):
            raise ValueError(f"{self}: the random state must have shape ({STATE_LENGTH},) "
                             f"([key, substream, counter]), got {state_shape}")

    def runtime_size(self, size):
        """The value of ``size`` (an int array) as a shape tuple; ValueError unless it has
        ``ndim`` non-negative entries."""
        shape = tuple(int(s) for s in size)
        if len(shape) != self.ndim or any(s < 0 for s in shape):
            raise ValueError(f"{self}: size {shape} must have {self.ndim} non-negative entries")
        return shape

    def param_broadcast_error(self, name, param_shape, shape):
        """The ValueError for parameter ``name`` of ``param_shape`` not broadcasting to ``shape``.

        Backends raise it where NumPy's broadcasting rule, which they follow, fails.
        """
        return ValueError(f"{self}: parameter {name} of shape {param_shape} does not broadcast "
                          f"to size {tuple(shape)}")


class RandomUniform(RandomOp):
    """Uniform numbers in [0, 1) of ``dtype`` (float32: 24 bits, float64: 53 bits).

    Number ``k`` is uniform ``k`` of the stream (see the module docstring);
    the draw reads ``prod(size) * wpu`` words.
    """

    allowed_dtypes = _FLOATS


class RandomNormal(RandomOp):
    """Standard normal numbers of ``dtype`` by the Box-Muller transform.

    Pair ``k`` uses uniforms ``u_a = u[2k]`` and ``u_b = u[2k+1]``:
    ``r = sqrt(-2 log(1 - u_a))`` (1 - u_a is in (0, 1], so log(0) never
    happens), ``z[2k] = r cos(2 pi u_b)``, ``z[2k+1] = r sin(2 pi u_b)``,
    computed in ``dtype``.  An odd count drops the last sine; the draw reads
    ``2 * ceil(prod(size) / 2) * wpu`` words.
    """

    allowed_dtypes = _FLOATS


class RandomBinomial(RandomOp):
    """Binomial(n, p) counts as sums of ``n`` Bernoulli trials ``u < p``.

    ``n`` (integers) and ``p`` (float32 or float64; the uniforms have p's
    dtype) broadcast to ``size``.  With ``N = prod(size)`` and ``T = max(n)``,
    trial ``t`` of element ``j`` (row-major) uses uniform ``t * N + j``; trials
    ``t >= n[j]`` do not count.  The draw reads ``T * N * wpu`` words.
    """

    param_names = ("n", "p")
    broadcast_params = ("n", "p")

    def check_params(self, params):
        n, p = params
        if not is_discrete(n.dtype):
            raise TypeError(f"binomial: n must be an integer tensor, got {n.type}")
        if p.dtype not in _FLOATS:
            raise TypeError(f"binomial: p must be a float32 or float64 tensor, got {p.type}")
        return [n, p]

    @staticmethod
    def check_trials(n):
        """Raise ValueError for a negative number of trials in ``n`` (an int array)."""
        if (n < 0).any():
            raise ValueError(f"binomial: n must be >= 0, got a minimum of {n.min()}")

    @staticmethod
    def check_probabilities(p):
        """Raise ValueError unless every entry of ``p`` (a float array) lies in [0, 1]."""
        if not ((p >= 0) & (p <= 1)).all():
            raise ValueError("binomial: p must lie in [0, 1] (and not be NaN)")


class RandomIntegers(RandomOp):
    """Integers in [low, high] (both inclusive), of an integer ``dtype``.

    ``low`` and ``high`` broadcast to ``size``.  Number ``j`` uses word
    ``w = word[j]``: ``low + ((w * (high - low + 1)) >> 32)`` in 64-bit
    integer arithmetic (Lemire's multiply-shift: exact everywhere, bias at
    most ``range / 2**32``).  The range must be at most 2**32.
    """

    param_names = ("low", "high")
    broadcast_params = ("low", "high")

    def __init__(self, ndim, dtype="int64"):
        super().__init__(ndim, dtype)
        if np.dtype(self.dtype).kind not in "iu":
            raise TypeError(f"random integers need an integer dtype, got {self.dtype}")

    def check_params(self, params):
        for name, p in zip(self.param_names, params):
            if not is_discrete(p.dtype):
                raise TypeError(f"random_integers: {name} must be an integer tensor, got {p.type}")
        return params

    def check_range(self, low, high):
        """``high - low + 1`` for the broadcast bounds ``low``, ``high`` (non-empty int64
        arrays); ValueError unless every range is 1 to 2**32 long and fits ``dtype``."""
        span = high - low + 1
        if (span < 1).any() or (span > 2 ** 32).any():
            raise ValueError("random_integers: need low <= high and high - low < 2**32; "
                             f"got low in [{low.min()}, {low.max()}], high in "
                             f"[{high.min()}, {high.max()}]")
        lowest, highest = _int_bounds(self.dtype)
        if low.min() < lowest or high.max() > highest:
            raise ValueError(f"random_integers: the range [{low.min()}, {high.max()}] "
                             f"does not fit dtype {self.dtype}")
        return span


class RandomChoice(RandomOp):
    """Indices drawn from ``range(a)``: the sample has shape ``size``.

    Inputs ``(state, size, a)`` or, when ``weighted``, ``(state, size, a, p)``
    with ``p`` a float vector of ``a`` non-negative weights (normalised by
    their sum).  With ``N = prod(size)``:

    - replace, unweighted: index ``j`` is ``(word[j] * a) >> 32`` (as
      :class:`RandomIntegers`; ``a <= 2**32``).
    - replace, weighted: uniform ``j`` (p's dtype) times ``cdf[-1]``, with
      ``cdf = cumsum(p)`` summed sequentially in p's dtype, gives ``x``; the
      index is the number of ``cdf`` entries ``<= x`` (binary search), capped
      at the last index with a positive weight.
    - without replacement, unweighted: 64-bit keys ``(word[2i] << 32) |
      word[2i+1]`` for ``i < a``; the first ``N`` indices of a stable argsort
      of the keys (reads ``2a`` words, O(a) memory).
    - without replacement, weighted (Efraimidis-Spirakis): keys
      ``-log(1 - u[i]) / p[i]`` from float64 uniforms (inf where p is 0); the
      first ``N`` indices of a stable argsort (reads ``2a`` words).
    """

    __props__ = ("ndim", "dtype", "replace", "weighted")

    def __init__(self, ndim, replace=True, weighted=False, dtype="int64"):
        super().__init__(ndim, dtype)
        if np.dtype(self.dtype).kind not in "iu":
            raise TypeError(f"choice indices need an integer dtype, got {self.dtype}")
        self.replace = bool(replace)
        self.weighted = bool(weighted)
        self.param_names = ("a", "p") if self.weighted else ("a",)

    def __str__(self):
        return (f"RandomChoice{{ndim={self.ndim}, replace={self.replace}, "
                f"weighted={self.weighted}}}")

    def check_params(self, params):
        a = params[0]
        if a.ndim != 0 or not is_discrete(a.dtype):
            raise TypeError(f"choice: a must be an integer scalar (the number of items), got "
                            f"{a.type}")
        if self.weighted:
            p = params[1]
            if p.ndim != 1 or p.dtype not in _FLOATS:
                raise TypeError(f"choice: p must be a float32 or float64 vector of weights, "
                                f"got {p.type}")
        return params


class RandomPermutation(RandomOp):
    """Permutations of ``range(n)``: the sample has shape ``size + (n,)``.

    Each of the ``N = prod(size)`` rows is the stable argsort of ``n`` 64-bit
    keys ``(word[2i] << 32) | word[2i+1]``, key ``i`` of row ``r`` being number
    ``r * n + i``.  The draw reads ``2 * N * n`` words.
    """

    param_names = ("n",)

    def __init__(self, ndim, dtype="int64"):
        super().__init__(ndim, dtype)
        if np.dtype(self.dtype).kind not in "iu":
            raise TypeError(f"permutations need an integer dtype, got {self.dtype}")

    def check_params(self, params):
        (n,) = params
        if n.ndim != 0 or not is_discrete(n.dtype):
            raise TypeError(f"permutation: n must be an integer scalar, got {n.type}")
        return params

    def sample_shape(self, shape, params):
        (n,) = params
        return shape + (int(n.data) if isinstance(n, Constant) else None,)

    def infer_shape(self, node, input_shapes):
        from nnframe.core.ops.elemwise import cast
        rows = tuple(_symbolic_size(node.inputs[1], self.ndim))
        return [input_shapes[0], rows + (cast(node.inputs[2], "int64"),)]
