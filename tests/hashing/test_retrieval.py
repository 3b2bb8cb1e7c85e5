"""Retrieval metrics: against brute force, exact enumeration of tie orders,
Monte-Carlo averages and hand-made examples."""
import itertools

import numpy as np
import pytest

from nnframe.hashing import retrieval as rt


# -- plain NumPy references ---------------------------------------------------------------
def ranked_ap(relevance_in_rank_order):
    """AP of one fully ordered ranking (rows: rankings; relevance sorted by rank)."""
    rel = np.asarray(relevance_in_rank_order, dtype=float)
    hits = np.cumsum(rel, axis=-1)
    precision = hits / np.arange(1, rel.shape[-1] + 1)
    return np.sum(precision * rel, axis=-1) / rel.sum(axis=-1)


def orders_from_tiebreaks(distances, tiebreaks):
    """Rankings of one query's items: by distance, ties by the tie-break keys (one row
    of keys per ranking)."""
    keys = distances[None, :] * (tiebreaks.shape[1] + 1) + tiebreaks
    return np.argsort(keys, axis=1, kind="stable")


def random_orders(distances, n_orders, rng):
    ranks = np.argsort(rng.random((n_orders, distances.size)), axis=1)
    return orders_from_tiebreaks(distances, ranks)


def random_codes(rng, n, bits):
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, bits))


# -- Hamming distances ------------------------------------------------------------------
@pytest.mark.parametrize("bits", [1, 7, 16, 64])
@pytest.mark.parametrize("dtype", [np.int8, np.float32, np.float64])
def test_hamming_distances_match_brute_force_count(bits, dtype):
    rng = np.random.default_rng(bits)
    q, db = random_codes(rng, 9, bits).astype(dtype), random_codes(rng, 13, bits).astype(dtype)
    expected = np.array([[np.count_nonzero(a != b) for b in db] for a in q])
    d = rt.hamming_distances(q, db)
    assert d.dtype == np.int32
    np.testing.assert_array_equal(d, expected)


def test_hamming_distances_reject_bad_codes():
    with pytest.raises(ValueError, match=r"-1 and \+1"):
        rt.hamming_distances(np.array([[0, 1]]), np.array([[1, 1]]))
    with pytest.raises(ValueError, match="2 bits but database codes have 3"):
        rt.hamming_distances(np.ones((2, 2)), np.ones((2, 3)))


# -- tie-aware average precision --------------------------------------------------------
def test_ap_equals_exact_average_over_every_tie_order():
    # 7 items in three buckets: the average over all 7! tie-break orders weighs every
    # order of every bucket equally, so it is the exact expectation.
    distances = np.array([2, 0, 2, 1, 0, 2, 2])
    relevance = np.array([True, False, True, True, True, False, False])
    tiebreaks = np.array(list(itertools.permutations(range(7))))
    orders = orders_from_tiebreaks(distances, tiebreaks)
    exact = ranked_ap(relevance[orders]).mean()
    got = rt.tie_aware_average_precision(distances[None], relevance[None])[0]
    np.testing.assert_allclose(got, exact, rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ap_matches_monte_carlo_average_over_random_tie_orders(seed):
    rng = np.random.default_rng(seed)
    n_queries, n_items, n_orders = 4, 60, 20000
    distances = rng.integers(0, 5, size=(n_queries, n_items))
    relevance = rng.random((n_queries, n_items)) < 0.3
    got = rt.tie_aware_average_precision(distances, relevance)
    for i in range(n_queries):
        samples = ranked_ap(relevance[i][random_orders(distances[i], n_orders, rng)])
        stderr = samples.std() / np.sqrt(n_orders)
        assert abs(got[i] - samples.mean()) < 5 * stderr + 1e-12, (got[i], samples.mean())


def test_ap_without_ties_is_the_plain_ap():
    rng = np.random.default_rng(3)
    distances = np.stack([rng.permutation(30) for _ in range(5)])
    relevance = rng.random((5, 30)) < 0.4
    relevance[:, 0] = True
    expected = [ranked_ap(relevance[i][np.argsort(distances[i])]) for i in range(5)]
    np.testing.assert_allclose(rt.tie_aware_average_precision(distances, relevance), expected)


def test_ap_is_one_when_all_relevant_items_are_at_distance_zero():
    distances = np.array([[0, 0, 0, 3, 1, 5], [2, 0, 4, 4, 4, 1]])
    relevance = distances == 0
    np.testing.assert_allclose(rt.tie_aware_average_precision(distances, relevance), [1, 1])


@pytest.mark.parametrize("n, r", [(2, 1), (10, 3), (4000, 400), (50, 50)])
def test_all_equal_distances_give_the_fraction_of_relevant_items(n, r):
    # Expected AP of a random ranking: (r-1)/(n-1) + H_n (n-r) / (n (n-1)), which is
    # r/n up to O(log n / n) (the two agree exactly only when r = n).
    relevance = np.zeros((1, n), dtype=bool)
    relevance[0, np.random.default_rng(n).choice(n, r, replace=False)] = True
    got = rt.tie_aware_average_precision(np.zeros((1, n), dtype=np.int64), relevance)[0]
    harmonic = np.sum(1.0 / np.arange(1, n + 1))
    closed_form = (r - 1) / (n - 1) + harmonic * (n - r) / (n * (n - 1))
    np.testing.assert_allclose(got, closed_form, rtol=1e-12)
    assert abs(got - r / n) <= harmonic / n


def test_query_without_relevant_items_is_nan_and_left_out_of_the_mean():
    distances = np.array([[0, 1, 2], [0, 1, 2]])
    relevance = np.array([[False, True, False], [False, False, False]])
    ap = rt.tie_aware_average_precision(distances, relevance)
    np.testing.assert_allclose(ap[0], 0.5)
    assert np.isnan(ap[1])
    assert rt.mean_average_precision(distances, relevance) == pytest.approx(0.5)


def test_ap_rejects_non_integer_or_mismatched_distances():
    with pytest.raises(ValueError, match="integers"):
        rt.tie_aware_average_precision(np.array([[0.5, 1.0]]), np.array([[True, False]]))
    with pytest.raises(ValueError, match="same shape"):
        rt.tie_aware_average_precision(np.array([[0, 1]]), np.array([[True, False, True]]))


# -- precision@k and kNN precision ------------------------------------------------------
def test_precision_at_k_on_a_hand_made_example():
    distances = np.array([[0, 1, 1, 1, 2, 2]])
    relevance = np.array([[True, True, False, False, True, True]])
    # k=1: the lone distance-0 item is relevant; k=2: plus one of 3 tied items
    # (1 relevant): 1 + 1/3; k=4: the bucket in full: 2 relevant of 4; k=5: plus half
    # of a relevant pair; k=10 is cut to the 6 items.
    for k, expected in [(1, 1.0), (2, (1 + 1 / 3) / 2), (4, 0.5), (5, 3 / 5), (10, 4 / 6)]:
        np.testing.assert_allclose(rt.tie_aware_precision_at_k(distances, relevance, k),
                                   [expected])


def test_precision_at_k_matches_monte_carlo_average():
    rng = np.random.default_rng(5)
    distances = rng.integers(0, 4, size=(1, 40))
    relevance = rng.random((1, 40)) < 0.5
    orders = random_orders(distances[0], 20000, rng)
    samples = relevance[0][orders][:, :15].mean(axis=1)
    got = rt.tie_aware_precision_at_k(distances, relevance, 15)[0]
    assert abs(got - samples.mean()) < 5 * samples.std() / np.sqrt(20000)


def test_knn_precision_on_a_hand_made_example():
    # 1-D database; the query at 0 has Euclidean 2-NN {0, 1} (at 0.1 and -0.2).
    db_x = np.array([[0.1], [-0.2], [5.0], [7.0]])
    query_x = np.array([[0.0]])
    perfect = np.array([[0, 1, 2, 3]])
    half = np.array([[0, 2, 1, 3]])        # top 2 by Hamming: items 0 and 2
    tied = np.array([[1, 1, 1, 1]])        # any 2 of the 4: expected 2 * 2/4 neighbours
    assert rt.knn_precision(perfect, query_x, db_x, k=2) == pytest.approx([1.0])
    assert rt.knn_precision(half, query_x, db_x, k=2) == pytest.approx([0.5])
    assert rt.knn_precision(tied, query_x, db_x, k=2) == pytest.approx([0.5])


def test_euclidean_neighbours_match_brute_force():
    rng = np.random.default_rng(6)
    q, db = rng.normal(size=(5, 3)), rng.normal(size=(30, 3))
    expected = np.argsort(((q[:, None, :] - db[None]) ** 2).sum(-1), axis=1)[:, :7]
    np.testing.assert_array_equal(rt.euclidean_neighbours(q, db, 7), expected)


# -- reconstruction, balance, distinct codes --------------------------------------------
def test_recon_is_zero_when_codes_determine_x_exactly():
    rng = np.random.default_rng(7)
    codes = random_codes(rng, 50, 6)
    X = codes @ rng.normal(size=(6, 11)) + rng.normal(size=11)
    assert rt.reconstruction_error(codes, X) == pytest.approx(0.0, abs=1e-20)
    W, b = rt.affine_decoder(codes, X)
    np.testing.assert_allclose(codes @ W + b, X, atol=1e-10)


def test_recon_of_a_constant_code_is_the_mean_squared_deviation():
    X = np.random.default_rng(8).normal(size=(40, 5))
    expected = np.mean(np.sum((X - X.mean(0)) ** 2, axis=1))
    assert rt.reconstruction_error(np.ones((40, 3)), X) == pytest.approx(expected)


def test_bit_balance_and_distinct_codes_on_known_codes():
    codes = np.array([[1, 1, -1], [-1, 1, -1], [1, 1, -1], [-1, 1, 1]])
    # bit means: 0, 1, -0.5
    assert rt.bit_balance(codes) == pytest.approx(0.5)
    assert rt.distinct_codes(codes) == 3
    assert rt.bit_balance(np.array([[1, -1], [-1, 1]])) == 0.0
    assert rt.distinct_codes(np.ones((5, 4))) == 1


def test_evaluate_combines_the_metrics():
    rng = np.random.default_rng(9)
    q_codes, db_codes = random_codes(rng, 12, 8), random_codes(rng, 120, 8)
    q_y, db_y = rng.integers(0, 3, 12), rng.integers(0, 3, 120)
    q_x, db_x = rng.normal(size=(12, 4)), rng.normal(size=(120, 4))
    result = rt.evaluate(q_codes, db_codes, q_y, db_y, q_x, db_x)
    d = rt.hamming_distances(q_codes, db_codes)
    rel = q_y[:, None] == db_y[None]
    assert result == pytest.approx({
        "mAP": np.mean(rt.tie_aware_average_precision(d, rel)),
        "precision@100": np.mean(rt.tie_aware_precision_at_k(d, rel, 100)),
        "knn_precision@50": np.mean(rt.knn_precision(d, q_x, db_x, 50)),
        "recon": rt.reconstruction_error(db_codes, db_x),
        "bit_balance": rt.bit_balance(db_codes),
        "distinct_codes": rt.distinct_codes(db_codes)})
    assert all(type(v) in (float, int) for v in result.values())
