"""nnframe.metrics: symbolic and NumPy paths against NumPy references, and each other."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, metrics

RNG = np.random.default_rng(7)
DTYPES = ["float32", "float64"]


def symbolic(metric, predictions, targets, **kwargs):
    """``metric`` built on symbolic inputs of the arrays' dtypes, run in debug mode.

    Length-1 axes are static, as a layer's one-unit output is.
    """
    p = T.tensor(predictions.dtype, tuple(1 if n == 1 else None for n in predictions.shape))
    t = T.tensor(targets.dtype, tuple(1 if n == 1 else None for n in targets.shape))
    return function([p, t], metric(p, t, **kwargs), mode="debug")(predictions, targets)


def both(metric, predictions, targets, **kwargs):
    """The NumPy result, after checking that the symbolic path gives exactly the same."""
    direct = metric(predictions, targets, **kwargs)
    graph = symbolic(metric, predictions, targets, **kwargs)
    assert np.asarray(direct).dtype == graph.dtype
    np.testing.assert_array_equal(direct, graph)
    return direct


def scores(n, c, dtype="float64"):
    return RNG.standard_normal((n, c)).astype(dtype)


def np_top_k_reference(p, y, k):
    """Hit when the target's score reaches the k-th largest score of its row."""
    kth = np.sort(p, axis=1)[:, -k]
    return np.mean(p[np.arange(len(y)), y] >= kth)


# -- accuracy -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("one_hot", [False, True])
def test_accuracy_of_class_scores(dtype, one_hot):
    p, y = scores(50, 4, dtype), RNG.integers(0, 4, size=50)
    targets = np.eye(4, dtype="int8")[y] if one_hot else y
    got = both(metrics.accuracy, p, targets)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, np.mean(p.argmax(axis=1) == y), rtol=1e-7)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("column", [False, True])
def test_accuracy_of_binary_probabilities(dtype, column):
    prob = RNG.uniform(size=40).astype(dtype)
    prob[:3] = 0.5                                  # the threshold itself predicts class 1
    y = RNG.integers(0, 2, size=40).astype("int32")
    got = both(metrics.accuracy, prob[:, None] if column else prob, y)
    np.testing.assert_allclose(got, np.mean((prob >= 0.5) == y), rtol=1e-7)


def test_accuracy_of_predicted_labels_is_floatx():
    pred, y = RNG.integers(0, 5, size=30), RNG.integers(0, 5, size=30)
    got = both(metrics.accuracy, pred, y)
    assert got.dtype == config.floatX
    np.testing.assert_allclose(got, np.mean(pred == y), rtol=1e-7)


def test_accuracy_of_label_columns():
    pred = np.array([[0], [2], [1]])
    assert both(metrics.accuracy, pred, np.array([[0], [1], [1]])) == pytest.approx(2 / 3)


def test_unknown_width_is_read_when_the_function_runs():
    p, y = T.dmatrix("p"), T.lvector("y")
    f = function([p, y], metrics.accuracy(p, y), mode="debug")
    yv = np.array([1, 0, 1])
    assert f(np.array([[0.9], [0.2], [0.4]]), yv) == pytest.approx(2 / 3)    # threshold
    assert f(np.array([[0.1, 0.9], [0.8, 0.2], [0.6, 0.4]]), yv) == pytest.approx(2 / 3)


def test_accuracy_mixes_symbolic_predictions_and_numpy_targets():
    p = T.fmatrix("p")
    y = np.array([0, 1])
    got = function([p], metrics.accuracy(p, y))(np.array([[1, 0], [1, 0]], dtype="float32"))
    assert got == pytest.approx(0.5)


# -- binary accuracy ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("threshold", [0.5, 0.3])
def test_binary_accuracy(dtype, threshold):
    prob = RNG.uniform(size=(20, 3)).astype(dtype)
    t = RNG.integers(0, 2, size=(20, 3)).astype(dtype)   # float 0/1 targets are fine here
    got = both(metrics.binary_accuracy, prob, t, threshold=threshold)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, np.mean((prob >= threshold) == t), rtol=1e-6)


def test_binary_accuracy_aligns_a_column_with_a_vector():
    got = both(metrics.binary_accuracy, np.array([[0.2], [0.7], [0.9]]), np.array([0, 0, 1]))
    assert got == pytest.approx(2 / 3)


# -- top-k accuracy -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_top_k_accuracy_matches_numpy(dtype, k):
    p, y = scores(60, 7, dtype), RNG.integers(0, 7, size=60)
    got = both(metrics.top_k_accuracy, p, y, k=k)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, np_top_k_reference(p, y, k), rtol=1e-7)
    if k == 7:
        assert got == 1


def test_top_k_accuracy_with_one_hot_targets():
    p, y = scores(20, 6), RNG.integers(0, 6, size=20)
    got = both(metrics.top_k_accuracy, p, np.eye(6)[y], k=2)
    np.testing.assert_allclose(got, np_top_k_reference(p, y, 2))


def test_top_k_ties_count_for_the_target():
    p = np.array([[0.4, 0.4, 0.2],      # target 1 ties the best: a top-1 hit
                  [0.3, 0.3, 0.3],      # all tied: a hit for any target
                  [0.5, 0.3, 0.3],      # target 2 ties second place: a top-2 hit
                  [0.5, 0.4, 0.1]])     # target 2 is third: a miss
    y = np.array([1, 2, 2, 2])
    assert both(metrics.top_k_accuracy, p, y, k=1) == pytest.approx(0.5)
    assert both(metrics.top_k_accuracy, p, y, k=2) == pytest.approx(0.75)
    assert both(metrics.accuracy, p, y) == pytest.approx(0.0)   # argmax takes the first


def test_top_k_nan_score_is_a_miss():
    p = np.array([[np.nan, 0.1], [0.9, 0.1]])
    assert metrics.top_k_accuracy(p, np.array([0, 0]), k=1) == pytest.approx(0.5)


# -- confusion matrix -----------------------------------------------------------------------
def np_confusion(true, pred, c):
    out = np.zeros((c, c), dtype=np.int64)
    for t, p in zip(true, pred):
        out[t, p] += 1
    return out


def test_confusion_matrix_known_example():
    true = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 2, 2, 0, 2])
    expected = np.array([[1, 1, 0],
                         [0, 2, 1],
                         [1, 0, 3]])
    got = both(metrics.confusion_matrix, pred, true, num_classes=3)
    assert got.dtype == np.int64 and got.shape == (3, 3)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("dtype", DTYPES)
def test_confusion_matrix_of_scores_and_one_hot(dtype):
    p, y = scores(80, 5, dtype), RNG.integers(0, 5, size=80)
    got = both(metrics.confusion_matrix, p, np.eye(5, dtype=dtype)[y], num_classes=5)
    np.testing.assert_array_equal(got, np_confusion(y, p.argmax(axis=1), 5))
    assert got.sum() == 80
    assert np.trace(got) / 80 == pytest.approx(float(metrics.accuracy(p, y)))


def test_confusion_matrix_of_binary_probabilities():
    prob, y = np.array([0.1, 0.6, 0.4, 0.9]), np.array([0, 0, 1, 1])
    got = both(metrics.confusion_matrix, prob, y, num_classes=2)
    np.testing.assert_array_equal(got, [[1, 1], [1, 1]])


def test_confusion_matrix_symbolic_type():
    cm = metrics.confusion_matrix(T.fmatrix("p"), T.ivector("y"), 4)
    assert cm.dtype == "int64" and cm.type.shape == (4, 4)


@pytest.mark.parametrize("bad_true,bad_pred", [([0, 3], [0, 1]), ([0, -1], [0, 1]),
                                               ([0, 1], [0, 3]), ([0, 1], [-2, 1])])
def test_confusion_matrix_labels_out_of_range(bad_true, bad_pred):
    true, pred = np.array(bad_true), np.array(bad_pred)
    with pytest.raises(IndexError, match="out of range for 3 classes"):
        metrics.confusion_matrix(pred, true, 3)
    p, t = T.lvector("p"), T.lvector("t")
    f = function([p, t], metrics.confusion_matrix(p, t, 3))
    with pytest.raises(IndexError):   # negative labels are not wrapped around
        f(pred, true)


def test_top_k_target_out_of_range():
    with pytest.raises(IndexError, match="target label 4"):
        metrics.top_k_accuracy(scores(2, 3), np.array([0, 4]), k=2)
    p, t = T.dmatrix("p"), T.lvector("t")
    f = function([p, t], metrics.top_k_accuracy(p, t, k=2))
    with pytest.raises(IndexError):
        f(scores(2, 3), np.array([0, -1]))


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize("metric", [metrics.accuracy, metrics.top_k_accuracy,
                                    metrics.binary_accuracy])
def test_sample_count_mismatch(metric):
    with pytest.raises(ValueError, match="5 vs 4|same shape"):
        metric(scores(5, 6), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="5 vs 4|same shape"):
        metric(T.tensor("float64", (5, 6)), T.tensor("int64", (4,)))


def test_class_count_mismatch():
    with pytest.raises(ValueError, match="numbers of classes disagree"):
        metrics.accuracy(scores(4, 3), np.eye(4)[[0, 1, 2, 3]])
    with pytest.raises(ValueError, match="num_classes: 4"):
        metrics.confusion_matrix(T.tensor("float32", (None, 3)), T.ivector("y"), 4)


def test_float_target_labels_are_refused():
    with pytest.raises(TypeError, match="float targets"):
        metrics.accuracy(scores(3, 2), np.array([0.0, 1.0, 1.0]))
    with pytest.raises(TypeError, match="float targets"):
        metrics.confusion_matrix(T.dmatrix("p"), T.dvector("y"), 2)


def test_bad_ranks_and_arguments():
    with pytest.raises(TypeError, match="vector .* or a matrix"):
        metrics.accuracy(np.zeros((2, 2, 2)), np.zeros(2, dtype=int))
    with pytest.raises(TypeError, match="matrix of class scores"):
        metrics.top_k_accuracy(np.zeros(3), np.zeros(3, dtype=int), k=1)
    with pytest.raises(ValueError, match="positive int"):
        metrics.confusion_matrix(np.zeros(3, dtype=int), np.zeros(3, dtype=int), 0)
    with pytest.raises(TypeError, match="real numbers or booleans"):
        metrics.accuracy(np.array(["a", "b"]), np.zeros(2, dtype=int))


@pytest.mark.parametrize("k", [0, 4, -1])
def test_top_k_out_of_range(k):
    with pytest.raises(ValueError, match=f"k={k} is out of range"):
        metrics.top_k_accuracy(scores(2, 3), np.array([0, 1]), k=k)
    with pytest.raises(ValueError, match=f"k={k} is out of range"):
        metrics.top_k_accuracy(T.tensor("float64", (None, 3)), T.lvector("y"), k=k)


def test_top_k_needs_an_int():
    with pytest.raises(TypeError, match="positive int"):
        metrics.top_k_accuracy(scores(2, 3), np.array([0, 1]), k=2.0)
