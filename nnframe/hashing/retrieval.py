r"""Retrieval metrics for binary codes under Hamming ranking.

Every query ranks the whole database by Hamming distance.  Many database
items share a distance (a 16-bit code has only 17 possible distances), so
the order *inside* a distance bucket is arbitrary; the ranking metrics here
are **tie-aware**: they are the expectation of the metric over all orderings
of the items at equal distance, each equally likely (McSherry & Najork,
ECIR 2008; the "tie-aware" AP of He, Cakir, Bargal & Sclaroff, CVPR 2018).
They do not depend on how a sort happens to break ties, and a method cannot
gain by emitting many equal codes.

Tie-aware average precision, in closed form
-------------------------------------------
Sort the distance buckets of one query in increasing distance.  For a bucket
with :math:`n` items, :math:`r` of them relevant, preceded by :math:`N` items
of which :math:`R` are relevant, the bucket's positions are
:math:`N + 1, ..., N + n`.  In a uniformly random order of the bucket,
position :math:`N + j` holds a relevant item with probability :math:`r / n`,
and given that it does, the number of relevant items among the :math:`j - 1`
bucket positions before it is hypergeometric with mean
:math:`(j - 1)(r - 1)/(n - 1)`.  Precision at a position has a fixed
denominator, so by linearity of expectation the bucket's expected sum of
precisions at its relevant items is

.. math::

    S = \sum_{j=1}^{n} \frac{r}{n}\,
        \frac{R + 1 + (j - 1)\frac{r - 1}{n - 1}}{N + j}
      = \frac{r}{n}\Big[(R + 1)\,h + \frac{r - 1}{n - 1}\big(n - (N + 1)\,h\big)\Big],
    \qquad h = H_{N + n} - H_N,

with :math:`H_m = \sum_{i \le m} 1/i` the harmonic numbers (for
:math:`n = 1` the second term is 0).  The query's AP is
:math:`\sum_{\text{buckets}} S / R_{\text{total}}`, computed for all queries
at once from per-bucket counts.  With every distance equal (one bucket of
:math:`n` items, :math:`r` relevant) this is the expected AP of a random
ranking, :math:`\frac{r - 1}{n - 1} + H_n \frac{n - r}{n (n - 1)}`, which is
the fraction of relevant items :math:`r / n` up to :math:`O(\log n / n)`
(exactly 1 when all are relevant).

>>> import numpy as np
>>> q = np.array([[1, 1, -1]], dtype=np.int8)
>>> db = np.array([[1, 1, -1], [1, -1, -1], [-1, -1, 1]], dtype=np.int8)
>>> hamming_distances(q, db)
array([[0, 1, 3]], dtype=int32)
>>> float(mean_average_precision(hamming_distances(q, db), np.array([[True, False, True]])))
0.8333333333333333
"""
import numpy as np

__all__ = ["hamming_distances", "tie_aware_average_precision", "mean_average_precision",
           "tie_aware_precision_at_k", "euclidean_neighbours", "knn_precision",
           "affine_decoder", "reconstruction_error", "bit_balance", "distinct_codes",
           "evaluate"]


def _check_codes(codes, name):
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix (items x bits), got shape {codes.shape}")
    if not np.all(np.abs(codes) == 1):
        raise ValueError(f"{name} must hold only -1 and +1 (map {{0, 1}} bits with 2 * b - 1)")
    return codes


def hamming_distances(query_codes, db_codes):
    """Hamming distances between every query code and every database code.

    With codes in {-1, +1} of length L, ``d = (L - q . b) / 2``, so the whole
    matrix is one matrix product (exact in float32 for any practical L).

    Parameters
    ----------
    query_codes : array ``(Q, L)`` of -1 / +1
    db_codes : array ``(N, L)`` of -1 / +1

    Returns an ``int32`` array ``(Q, N)``.

    >>> hamming_distances(np.array([[1, -1]]), np.array([[1, -1], [-1, 1]]))
    array([[0, 2]], dtype=int32)
    """
    query_codes = _check_codes(query_codes, "query_codes")
    db_codes = _check_codes(db_codes, "db_codes")
    if query_codes.shape[1] != db_codes.shape[1]:
        raise ValueError(f"query codes have {query_codes.shape[1]} bits but database codes "
                         f"have {db_codes.shape[1]}")
    bits = query_codes.shape[1]
    dots = query_codes.astype(np.float32) @ db_codes.astype(np.float32).T
    return np.rint((bits - dots) / 2).astype(np.int32)


def _buckets(distances, relevance):
    """Per query and distance: items ``n``, relevant ``r``, and the items ``N`` and
    relevant ``R`` at strictly smaller distances; each ``(Q, max distance + 1)``."""
    distances = np.asarray(distances)
    relevance = np.asarray(relevance)
    if distances.ndim != 2 or distances.shape != relevance.shape:
        raise ValueError(f"distances {distances.shape} and relevance {relevance.shape} must "
                         "be matrices of the same shape (queries x database items)")
    if not np.issubdtype(distances.dtype, np.integer) or distances.size and distances.min() < 0:
        raise ValueError("distances must be non-negative integers (Hamming distances)")
    n_queries = distances.shape[0]
    levels = int(distances.max()) + 1 if distances.size else 1
    flat = (distances + levels * np.arange(n_queries)[:, None]).ravel()
    n = np.bincount(flat, minlength=n_queries * levels).reshape(n_queries, levels)
    r = np.bincount(flat, weights=relevance.astype(bool).ravel(),
                    minlength=n_queries * levels).reshape(n_queries, levels)
    N = np.cumsum(n, axis=1) - n
    R = np.cumsum(r, axis=1) - r
    return n.astype(np.float64), r, N, R


def tie_aware_average_precision(distances, relevance):
    """Expected average precision of each query over random orders of ties.

    See the module docstring for the closed form.  Relevance is binary.

    Parameters
    ----------
    distances : non-negative int array ``(Q, N)``, e.g. :func:`hamming_distances`
    relevance : bool array ``(Q, N)``, True where the database item is relevant
        to the query

    Returns a float array ``(Q,)``; a query without any relevant item gets NaN.

    >>> float(tie_aware_average_precision(np.array([[0, 0]]), np.array([[True, False]]))[0])
    0.75
    """
    n, r, N, R = _buckets(distances, relevance)
    n_items = np.asarray(distances).shape[1]
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, n_items + 1))])
    h = harmonic[(N + n).astype(int)] - harmonic[N]
    occupied = n > 0
    rel_fraction = np.divide(r, n, out=np.zeros_like(r), where=occupied)
    tie_fraction = np.divide(r - 1, n - 1, out=np.zeros_like(r), where=n > 1)
    per_bucket = rel_fraction * ((R + 1) * h + tie_fraction * (n - (N + 1) * h))
    total_relevant = r.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total_relevant > 0, per_bucket.sum(axis=1) / total_relevant, np.nan)


def mean_average_precision(distances, relevance):
    """Mean of :func:`tie_aware_average_precision` over the queries that have at
    least one relevant item (NaN if none has)."""
    ap = tie_aware_average_precision(distances, relevance)
    return float(np.mean(ap[~np.isnan(ap)])) if np.any(~np.isnan(ap)) else float("nan")


def tie_aware_precision_at_k(distances, relevance, k):
    """Expected precision among the ``k`` first-ranked items, ties in random order.

    Buckets that fit entirely in the top ``k`` count in full; the bucket that
    straddles rank ``k`` contributes its ``k - N`` first places, each relevant
    with probability ``r / n``.  ``k`` larger than the database is cut to its
    size.

    Returns a float array ``(Q,)``.

    >>> distances = np.array([[0, 1, 1, 1]])
    >>> tie_aware_precision_at_k(distances, np.array([[False, True, False, False]]), k=2)
    array([0.16666667])
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    n, r, N, _ = _buckets(distances, relevance)
    k = min(int(k), np.asarray(distances).shape[1])
    taken = np.clip(k - N, 0, n)
    expected = np.divide(taken * r, n, out=np.zeros_like(r), where=n > 0)
    return expected.sum(axis=1) / k


def euclidean_neighbours(query_x, db_x, k):
    """Indices ``(Q, k)`` of each query's ``k`` nearest database rows (Euclidean),
    nearest first; equal distances keep database order."""
    query_x = np.asarray(query_x, dtype=np.float64)
    db_x = np.asarray(db_x, dtype=np.float64)
    if query_x.ndim != 2 or db_x.ndim != 2 or query_x.shape[1] != db_x.shape[1]:
        raise ValueError(f"query_x {query_x.shape} and db_x {db_x.shape} must be matrices "
                         "with the same number of columns")
    if not 1 <= k <= db_x.shape[0]:
        raise ValueError(f"k={k} must be between 1 and the database size {db_x.shape[0]}")
    sq = (np.sum(query_x ** 2, axis=1)[:, None] - 2 * query_x @ db_x.T
          + np.sum(db_x ** 2, axis=1)[None, :])
    return np.argsort(sq, axis=1, kind="stable")[:, :k]


def knn_precision(distances, query_x, db_x, k=50):
    """kNN-precision@k: expected fraction of the ``k`` first Hamming-ranked items
    (ties in random order) that are among the query's ``k`` Euclidean nearest
    database items.  Returns a float array ``(Q,)``.
    """
    distances = np.asarray(distances)
    neighbours = euclidean_neighbours(query_x, db_x, k)
    relevance = np.zeros(distances.shape, dtype=bool)
    np.put_along_axis(relevance, neighbours, True, axis=1)
    return tie_aware_precision_at_k(distances, relevance, k)


def affine_decoder(codes, X):
    """Least-squares affine decoder of ``X`` from ``codes``: ``X ~ codes @ W + b``.

    Returns ``(W, b)`` of shapes ``(L, D)`` and ``(D,)`` minimising the summed
    squared error (``numpy.linalg.lstsq`` on ``[codes, 1]``; the minimum-norm
    solution when codes are collinear).

    >>> W, b = affine_decoder(np.array([[1, 1], [1, -1], [-1, 1]]), np.array([[3.], [1.], [-1.]]))
    >>> np.allclose(W.ravel(), [2, 1]), np.allclose(b, 0)
    (True, True)
    """
    codes = np.asarray(codes, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    if codes.ndim != 2 or X.ndim != 2 or codes.shape[0] != X.shape[0]:
        raise ValueError(f"codes {codes.shape} and X {X.shape} must be matrices with one row "
                         "per item")
    design = np.hstack([codes, np.ones((codes.shape[0], 1))])
    solution = np.linalg.lstsq(design, X, rcond=None)[0]
    return solution[:-1], solution[-1]


def reconstruction_error(codes, X):
    """Error of the best affine decoder of ``X`` from its ``codes``.

    Fits :func:`affine_decoder` on ``(codes, X)`` and returns the mean over
    items (rows) of the per-item summed squared error
    ``sum_d (X[i, d] - Xhat[i, d])^2`` (the hashing autoencoder's loss).
    """
    W, b = affine_decoder(codes, X)
    residual = np.asarray(X, dtype=np.float64) - (np.asarray(codes, dtype=np.float64) @ W + b)
    return float(np.mean(np.sum(residual ** 2, axis=1)))


def bit_balance(codes):
    """Mean over bits of ``|mean of the bit over items|`` for codes in {-1, +1}.

    0 when every bit is +1 for exactly half of the items; 1 when every bit is
    constant.

    >>> bit_balance(np.array([[1, 1], [-1, 1]]))
    0.5
    """
    codes = _check_codes(codes, "codes")
    return float(np.mean(np.abs(codes.mean(axis=0))))


def distinct_codes(codes):
    """Number of different codes (rows).

    >>> distinct_codes(np.array([[1, -1], [1, -1], [-1, -1]]))
    2
    """
    return int(np.unique(_check_codes(codes, "codes"), axis=0).shape[0])


def evaluate(query_codes, db_codes, query_labels, db_labels, query_x, db_x,
             precision_k=100, knn_k=50):
    """All retrieval metrics of a hashing method, as a dict of Python numbers.

    Parameters
    ----------
    query_codes, db_codes : codes in {-1, +1}, ``(Q, L)`` and ``(N, L)``
    query_labels, db_labels : class labels ``(Q,)`` and ``(N,)``; a database
        item is relevant to a query when their labels are equal
    query_x, db_x : the (preprocessed) inputs ``(Q, D)`` and ``(N, D)``
    precision_k, knn_k : the ``k`` of ``precision@k`` and ``knn_precision@k``

    Returns a dict with keys

    - ``mAP``: mean tie-aware average precision over the whole database ranking;
    - ``precision@100``: mean tie-aware precision of the first 100 items;
    - ``knn_precision@50``: mean :func:`knn_precision` with k = 50;
    - ``recon``: :func:`reconstruction_error` of the database codes (decoder
      fitted and scored on the database);
    - ``bit_balance``, ``distinct_codes``: of the database codes.

    (The key names follow ``precision_k`` and ``knn_k``.)
    """
    query_labels, db_labels = np.asarray(query_labels), np.asarray(db_labels)
    if query_labels.shape != (len(query_codes),) or db_labels.shape != (len(db_codes),):
        raise ValueError(f"labels {query_labels.shape} / {db_labels.shape} must be vectors "
                         f"with one entry per code ({len(query_codes)} / {len(db_codes)})")
    distances = hamming_distances(query_codes, db_codes)
    relevance = query_labels[:, None] == db_labels[None, :]
    return {
        "mAP": mean_average_precision(distances, relevance),
        f"precision@{precision_k}": float(np.mean(
            tie_aware_precision_at_k(distances, relevance, precision_k))),
        f"knn_precision@{knn_k}": float(np.mean(knn_precision(distances, query_x, db_x, knn_k))),
        "recon": reconstruction_error(db_codes, db_x),
        "bit_balance": bit_balance(db_codes),
        "distinct_codes": distinct_codes(db_codes),
    }
