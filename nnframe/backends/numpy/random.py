"""NumPy kernels for random draws, and the reference Philox4x32-10.

The stream each Op reads is defined in :mod:`nnframe.core.ops.random`; this
module is the reference implementation that other backends must match bit
for bit (for the integer results and the uniforms; transcendental functions
of the normal draws may differ in the last ulp between devices).

Philox works on 32-bit words; products of two 32-bit words are taken in
uint64, where they fit exactly.
"""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops import random as random_ops

__all__ = ["philox4x32", "stream_words", "uniforms", "PHILOX_M", "PHILOX_W"]

#: Philox4x32 round multipliers (M0, M1) and Weyl key increments (W0, W1)
PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
_WORDS_PER_UNIFORM = {"float32": 1, "float64": 2}
# Trials of a binomial draw generated at once (bounds its memory use).
_CHUNK_WORDS = 1 << 22


def _philox_rounds(c0, c1, c2, c3, k0, k1, rounds):
    """Philox4x32 rounds on uint64 arrays holding 32-bit lanes; returns the four lanes."""
    m0, m1 = np.uint64(PHILOX_M[0]), np.uint64(PHILOX_M[1])
    for _ in range(rounds):
        p0 = c0 * m0  # 32x32 -> 64 bits: exact in uint64
        p1 = c2 * m1
        c0, c1, c2, c3 = ((p1 >> _SHIFT32) ^ c1 ^ np.uint64(k0), p1 & _MASK32,
                          (p0 >> _SHIFT32) ^ c3 ^ np.uint64(k1), p0 & _MASK32)
        k0 = (k0 + PHILOX_W[0]) & 0xFFFFFFFF
        k1 = (k1 + PHILOX_W[1]) & 0xFFFFFFFF
    return c0, c1, c2, c3


def philox4x32(counter, key, rounds=10):
    """The Philox4x32 block function (Random123) on many counters at once.

    Parameters
    ----------
    counter : array_like of shape (..., 4)
        32-bit counter words.
    key : pair of ints
        The two 32-bit key words.
    rounds : int
        10 for Philox4x32-10.

    Returns
    -------
    uint32 array of shape (..., 4)

    Examples
    --------
    >>> [hex(w) for w in philox4x32([0, 0, 0, 0], (0, 0))]
    ['0x6627e8d5', '0xe169c58d', '0xbc57ac4c', '0x9b00dbd8']
    """
    c = np.asarray(counter, dtype=np.uint64) & _MASK32
    if c.shape[-1:] != (4,):
        raise ValueError(f"philox4x32: the counter needs 4 words on its last axis, got shape "
                         f"{c.shape}")
    k0, k1 = (int(k) & 0xFFFFFFFF for k in key)
    lanes = _philox_rounds(c[..., 0], c[..., 1], c[..., 2], c[..., 3], k0, k1, rounds)
    return np.stack(lanes, axis=-1).astype(np.uint32)


def stream_words(state, start, count):
    """Words ``[start, start + count)`` of the stream at ``state`` (uint64 array, < 2**32).

    Word ``i`` is lane ``i % 4`` of block ``i // 4``, computed with counter
    ``(lo32(c), hi32(c), lo32(substream), hi32(substream))``, ``c = counter +
    i // 4`` (mod 2**64), and key ``(lo32(key), hi32(key))``.
    """
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    key, substream, counter = (int(v) for v in state)
    first, last = start // 4, (start + count + 3) // 4
    blocks = np.arange(first, last, dtype=np.uint64) + np.uint64(counter)  # wraps mod 2**64
    lanes = _philox_rounds(blocks & _MASK32, blocks >> _SHIFT32,
                           np.uint64(substream & 0xFFFFFFFF), np.uint64(substream >> 32),
                           key & 0xFFFFFFFF, key >> 32, 10)
    lanes = [np.broadcast_to(lane, blocks.shape) for lane in lanes]
    words = np.stack(lanes, axis=-1).reshape(-1)
    offset = start - 4 * first
    return words[offset:offset + count]


def uniforms(state, start, count, dtype):
    """Uniforms ``[start, start + count)`` in [0, 1) of ``dtype`` (see the Op module)."""
    if dtype == "float32":
        w = stream_words(state, start, count)
        return (w >> np.uint64(8)).astype(np.float32) * np.float32(2.0 ** -24)
    w = stream_words(state, 2 * start, 2 * count)
    bits = ((w[0::2] >> np.uint64(5)) << np.uint64(26)) + (w[1::2] >> np.uint64(6))
    return bits.astype(np.float64) * 2.0 ** -53


def _keys64(state, count):
    """``count`` 64-bit sort keys ``(word[2i] << 32) | word[2i+1]``."""
    w = stream_words(state, 0, 2 * count)
    return (w[0::2] << _SHIFT32) | w[1::2]


def _advance(state, words):
    """``state`` with its counter moved past the blocks holding ``words`` words."""
    new = state.copy()
    new[2] = np.uint64((int(state[2]) + (words + 3) // 4) % 2 ** 64)
    return new


def _broadcast(value, shape, name, op):
    """``value`` broadcast to ``shape``, flattened (NumPy's rule; the Op words the error)."""
    try:
        return np.broadcast_to(value, shape).reshape(-1)
    except ValueError:
        raise op.param_broadcast_error(name, value.shape, shape) from None


@register(random_ops.RandomUniform)
def uniform_kernel(node):
    op, dtype = node.op, node.op.dtype
    wpu = _WORDS_PER_UNIFORM[dtype]

    def run(state, size):
        op.check_state_shape(state.shape)
        shape = op.runtime_size(size)
        n = int(np.prod(shape))
        return _advance(state, n * wpu), uniforms(state, 0, n, dtype).reshape(shape)
    return run


@register(random_ops.RandomNormal)
def normal_kernel(node):
    op, dtype = node.op, node.op.dtype
    wpu = _WORDS_PER_UNIFORM[dtype]
    two_pi = np.asarray(2 * np.pi, dtype=dtype)

    def run(state, size):
        op.check_state_shape(state.shape)
        shape = op.runtime_size(size)
        n = int(np.prod(shape))
        pairs = (n + 1) // 2
        u = uniforms(state, 0, 2 * pairs, dtype)
        radius = np.sqrt(np.asarray(-2, dtype=dtype) * np.log(1 - u[0::2]))
        angle = two_pi * u[1::2]
        z = np.empty(2 * pairs, dtype=dtype)
        z[0::2] = radius * np.cos(angle)
        z[1::2] = radius * np.sin(angle)
        return _advance(state, 2 * pairs * wpu), z[:n].reshape(shape)
    return run


@register(random_ops.RandomBinomial)
def binomial_kernel(node):
    op, dtype = node.op, node.op.dtype
    pdtype = node.inputs[3].dtype
    wpu = _WORDS_PER_UNIFORM[pdtype]

    def run(state, size, n, p):
        op.check_state_shape(state.shape)
        shape = op.runtime_size(size)
        n = _broadcast(n, shape, "n", op).astype(np.int64)
        p = _broadcast(p, shape, "p", op)
        op.check_trials(n)
        op.check_probabilities(p)
        total = n.size
        trials = int(n.max()) if total else 0
        counts = np.zeros(total, dtype=np.int64)
        step = max(1, _CHUNK_WORDS // max(total, 1))
        for t0 in range(0, trials, step):
            t1 = min(trials, t0 + step)
            u = uniforms(state, t0 * total, (t1 - t0) * total, pdtype).reshape(t1 - t0, total)
            live = np.arange(t0, t1)[:, None] < n
            counts += ((u < p) & live).sum(axis=0)
        return _advance(state, trials * total * wpu), counts.reshape(shape).astype(dtype)
    return run


def _bounded_integers(words, span):
    """``(word * span) >> 32`` for spans in [1, 2**32] (uint64 arithmetic, exact)."""
    return ((words * span.astype(np.uint64)) >> _SHIFT32).astype(np.int64)


@register(random_ops.RandomIntegers)
def integers_kernel(node):
    op, dtype = node.op, node.op.dtype

    def run(state, size, low, high):
        op.check_state_shape(state.shape)
        shape = op.runtime_size(size)
        low = _broadcast(low, shape, "low", op).astype(np.int64)
        high = _broadcast(high, shape, "high", op).astype(np.int64)
        n = low.size
        if n:
            span = op.check_range(low, high)
            values = low + _bounded_integers(stream_words(state, 0, n), span)
        else:
            values = low
        return _advance(state, n), values.reshape(shape).astype(dtype)
    return run


def _check_weights(p, a):
    if p.shape != (a,):
        raise ValueError(f"choice: p has shape {p.shape} but a = {a} items need shape ({a},)")
    if not (np.isfinite(p).all() and (p >= 0).all() and p.sum() > 0):
        raise ValueError("choice: the weights p must be finite, >= 0 and not all zero")


def _choice_with_replacement(state, n, a, p):
    if p is None:
        if a > 2 ** 32:
            raise ValueError(f"choice: a = {a} items is more than 2**32")
        span = np.full(n, a, dtype=np.int64)
        return _bounded_integers(stream_words(state, 0, n), span), n
    cdf = np.cumsum(p)  # sequential, in p's dtype
    x = uniforms(state, 0, n, str(p.dtype)) * cdf[-1]
    last = int(np.flatnonzero(p > 0)[-1])
    index = np.minimum(np.searchsorted(cdf, x, side="right"), last)
    return index, n * _WORDS_PER_UNIFORM[str(p.dtype)]


def _choice_without_replacement(state, n, a, p):
    available = a if p is None else int((p > 0).sum())
    if n > available:
        what = "items" if p is None else "items with a positive weight"
        raise ValueError(f"choice without replacement: cannot draw {n} from {available} {what}")
    if p is None:
        keys = _keys64(state, a)
    else:
        with np.errstate(divide="ignore"):
            keys = -np.log(1 - uniforms(state, 0, a, "float64")) / p.astype(np.float64)
    return np.argsort(keys, kind="stable")[:n], 2 * a


@register(random_ops.RandomChoice)
def choice_kernel(node):
    op, dtype = node.op, node.op.dtype
    draw = _choice_with_replacement if op.replace else _choice_without_replacement

    def run(state, size, a, p=None):
        op.check_state_shape(state.shape)
        shape = op.runtime_size(size)
        a = int(a)
        n = int(np.prod(shape))
        if a < 1 and n:
            raise ValueError(f"choice: cannot choose from a = {a} items")
        if p is not None:
            _check_weights(p, a)
        if n == 0:
            return state.copy(), np.zeros(shape, dtype=dtype)
        index, words = draw(state, n, a, p)
        return _advance(state, words), index.reshape(shape).astype(dtype)
    return run


@register(random_ops.RandomPermutation)
def permutation_kernel(node):
    op, dtype = node.op, node.op.dtype

    def run(state, size, n):
        op.check_state_shape(state.shape)
        shape = op.runtime_size(size)
        n = int(n)
        if n < 0:
            raise ValueError(f"permutation: n must be >= 0, got {n}")
        rows = int(np.prod(shape))
        keys = _keys64(state, rows * n).reshape(shape + (n,))
        return _advance(state, 2 * rows * n), np.argsort(keys, axis=-1, kind="stable").astype(dtype)
    return run
