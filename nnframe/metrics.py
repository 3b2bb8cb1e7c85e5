"""Classification metrics on symbolic expressions or on NumPy arrays.

Every metric takes ``(predictions, targets)``.  If either is a symbolic
variable, the result is a graph expression to compile with ``function``;
otherwise both are read as NumPy arrays and the result is computed at once,
so a training loop can score the predictions it collected.  The two paths
follow the same rules and give the same numbers.

How labels are read:

- predictions, an integer or boolean vector ``(n,)`` or column ``(n, 1)``:
  predicted labels;
- predictions, a float vector ``(n,)`` or column ``(n, 1)``: the
  probability of class 1 in a binary problem, so the label is
  ``p >= 0.5``;
- predictions, a matrix ``(n, C)`` with ``C >= 2``: class scores or
  probabilities, so the label is the argmax (the first one on ties);
- targets, an integer or boolean vector ``(n,)`` or column ``(n, 1)``:
  true labels (float label vectors are refused: cast them to int);
- targets, a matrix ``(n, C)`` with ``C >= 2``: one-hot rows, the label is
  the argmax.

A symbolic matrix of unknown width is read at run time as a column if it has
one column and as a score/one-hot matrix otherwise (a float target matrix of
unknown width is read as one-hot).

>>> import numpy as np
>>> from nnframe import metrics
>>> p = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
>>> float(metrics.accuracy(p, np.array([1, 0, 0])))
0.6666666666666666
>>> import nnframe.tensor as T
>>> acc = metrics.accuracy(T.fmatrix('p'), T.ivector('y'))     # a float32 scalar expression
"""
import numpy as np

import nnframe.tensor as T
from nnframe.config import config
from nnframe.core.graph import Variable

__all__ = ["accuracy", "binary_accuracy", "top_k_accuracy", "confusion_matrix"]


# -- the two paths --------------------------------------------------------------------
class _NumPyPath:
    """The operations the metrics need, on NumPy arrays."""

    ge, gt, eq, both = np.greater_equal, np.greater, np.equal, np.logical_and

    @staticmethod
    def int64(x):
        return np.asarray(x).astype(np.int64)

    @staticmethod
    def argmax_rows(x):
        return np.argmax(x, axis=1)

    @staticmethod
    def pick(x, labels):
        return x[np.arange(x.shape[0]), labels]

    @staticmethod
    def count_true(mask, axis=None):
        return np.sum(mask, axis=axis, dtype=np.int64)

    @staticmethod
    def fraction(hits, dtype):
        with np.errstate(invalid="ignore"):  # an empty batch gives NaN, as symbolically
            return np.asarray(np.sum(hits, dtype=np.int64), dtype)[()] / np.asarray(
                hits.size, dtype)[()]

    @staticmethod
    def checked_labels(labels, n_classes, what):
        bad = (labels < 0) | (labels >= n_classes)
        if bad.any():
            pos = int(np.argmax(bad))
            raise IndexError(f"{what} {int(labels[pos])} (at position {pos}) is out of range "
                             f"for {n_classes} classes; labels must be in 0..{n_classes - 1}")
        return labels

    @staticmethod
    def confusion(true, pred, num_classes):
        counts = np.zeros((num_classes, num_classes), dtype=np.int64)
        np.add.at(counts, (true, pred), 1)
        return counts


class _SymbolicPath:
    """The same operations as graph expressions."""

    ge, gt, eq, both = T.ge, T.gt, T.eq, T.and_

    @staticmethod
    def int64(x):
        return T.cast(x, "int64")

    @staticmethod
    def argmax_rows(x):
        return T.argmax(x, axis=1)

    @staticmethod
    def width_switch(x, column, rows):
        """``column`` if ``x`` has one column, else ``rows`` (only the symbolic path needs
        this: a NumPy array's width is always known)."""
        return T.switch(T.eq(x.shape[1], 1), column, rows)

    @staticmethod
    def pick(x, labels):
        return x[T.arange(x.shape[0]), labels]

    @staticmethod
    def count_true(mask, axis=None):
        return T.sum(T.cast(mask, "int64"), axis=axis)

    @staticmethod
    def fraction(hits, dtype):
        total = T.prod(T.shape(hits))
        return T.cast(T.sum(T.cast(hits, "int64")), dtype) / T.cast(total, dtype)

    @staticmethod
    def checked_labels(labels, n_classes, what):
        # Indexing wraps negative labels around; send every label outside
        # [0, n_classes) to n_classes instead, so that indexing raises IndexError.
        valid = T.and_(T.ge(labels, 0), T.lt(labels, n_classes))
        return T.switch(valid, labels, n_classes)

    @staticmethod
    def confusion(true, pred, num_classes):
        counts = T.zeros((num_classes, num_classes), dtype="int64")
        return T.inc_subtensor(counts[true, pred], 1)


def _prepare(predictions, targets):
    """Both inputs as Variables (if either is one) or as NumPy arrays, and their path."""
    if isinstance(predictions, Variable) or isinstance(targets, Variable):
        return T.as_tensor_variable(predictions), T.as_tensor_variable(targets), _SymbolicPath
    return np.asarray(predictions), np.asarray(targets), _NumPyPath


def _shape(x):
    """The static shape (None for unknown lengths) of a Variable, or an array's shape."""
    return x.type.shape if isinstance(x, Variable) else x.shape


def _kind(x, role, name):
    kind = np.dtype(x.dtype).kind
    if kind not in "biuf":
        raise TypeError(f"{name}: {role} must be real numbers or booleans, got dtype {x.dtype}")
    return kind


def _float_dtype(predictions):
    """The dtype of an accuracy: the predictions' float dtype, else floatX."""
    return str(predictions.dtype) if np.dtype(predictions.dtype).kind == "f" else config.floatX


# -- reading labels ---------------------------------------------------------------------
def _vector_labels(v, kind, role, name, xp):
    if kind in "biu":
        return xp.int64(v)
    if role == "targets":
        raise TypeError(f"{name}: float targets of shape {_shape(v)} cannot be read as labels; "
                        "pass integer labels (y.astype('int64') or T.cast(y, 'int64')) or a "
                        "one-hot matrix")
    return xp.int64(xp.ge(v, 0.5))


def _labels(x, role, name, xp):
    """The labels (an int64 vector) read from ``predictions`` or ``targets`` (see module doc)."""
    kind = _kind(x, role, name)
    if x.ndim == 1:
        return _vector_labels(x, kind, role, name, xp)
    if x.ndim != 2:
        raise TypeError(f"{name}: {role} must be a vector (n,) or a matrix (n, classes), got "
                        f"{x.ndim} dimensions (shape {_shape(x)})")
    width = _shape(x)[1]
    if width == 1:
        return _vector_labels(x[:, 0], kind, role, name, xp)
    if width is None and not (role == "targets" and kind == "f"):
        return xp.width_switch(x, _vector_labels(x[:, 0], kind, role, name, xp),
                               xp.argmax_rows(x))
    return xp.argmax_rows(x)


def _check_rows(predictions, targets, name):
    p_shape, t_shape = _shape(predictions), _shape(targets)
    if predictions.ndim and targets.ndim and None not in (p_shape[0], t_shape[0]) \
            and p_shape[0] != t_shape[0]:
        raise ValueError(f"{name}: predictions of shape {p_shape} and targets of shape "
                         f"{t_shape} have different numbers of samples ({p_shape[0]} vs "
                         f"{t_shape[0]})")


def _class_count(x):
    """The number of classes a (n, C >= 2) matrix gives, or None."""
    if x.ndim == 2 and _shape(x)[1] is not None and _shape(x)[1] >= 2:
        return _shape(x)[1]
    return None


def _check_classes(predictions, targets, name, num_classes=None):
    counts = {"predictions": _class_count(predictions), "targets": _class_count(targets)}
    if num_classes is not None:
        counts["num_classes"] = num_classes
    known = {k: c for k, c in counts.items() if c is not None}
    if len(set(known.values())) > 1:
        detail = ", ".join(f"{k}: {c}" for k, c in known.items())
        raise ValueError(f"{name}: the numbers of classes disagree ({detail}; predictions "
                         f"{_shape(predictions)}, targets {_shape(targets)})")


def _both_labels(predictions, targets, name, xp, num_classes=None):
    _check_rows(predictions, targets, name)
    _check_classes(predictions, targets, name, num_classes)
    return (_labels(predictions, "predictions", name, xp),
            _labels(targets, "targets", name, xp))


# -- hits per sample (also used by losses.categorical_accuracy / binary_accuracy) -------
def _label_hits(predictions, targets, xp):
    pred, true = _both_labels(predictions, targets, "accuracy", xp)
    return xp.eq(pred, true)


def _top_k_hits(predictions, targets, k, xp):
    name = "top_k_accuracy"
    if predictions.ndim != 2:
        raise TypeError(f"{name}: predictions must be a matrix of class scores (n, classes), "
                        f"got shape {_shape(predictions)}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"{name}: k must be a positive int, got {k!r}")
    n_classes = _shape(predictions)[1]
    if k < 1 or (n_classes is not None and k > n_classes):
        upper = "" if n_classes is None else f" and at most the number of classes ({n_classes})"
        raise ValueError(f"{name}: k={k} is out of range; k must be at least 1{upper}")
    _kind(predictions, "predictions", name)
    _check_rows(predictions, targets, name)
    _check_classes(predictions, targets, name)
    true = _labels(targets, "targets", name, xp)
    width = predictions.shape[1]
    score = xp.pick(predictions, xp.checked_labels(true, width, "top_k_accuracy: target label"))
    # Ties count for the target: it is a hit when fewer than k classes score strictly
    # higher.  A NaN score of the target is a miss (NaN compares false with everything).
    higher = xp.count_true(xp.gt(predictions, score[:, None]), axis=1)
    return xp.both(xp.gt(k, higher), xp.eq(score, score))


def _align_columns(predictions, targets):
    """A column ``(n, 1)`` and a vector ``(n,)`` are compared as two vectors."""
    if predictions.ndim == 2 and targets.ndim == 1 and _shape(predictions)[1] == 1:
        return predictions[:, 0], targets
    if targets.ndim == 2 and predictions.ndim == 1 and _shape(targets)[1] == 1:
        return predictions, targets[:, 0]
    return predictions, targets


def _binary_hits(predictions, targets, threshold, xp):
    name = "binary_accuracy"
    _kind(predictions, "predictions", name)
    _kind(targets, "targets", name)
    predictions, targets = _align_columns(predictions, targets)
    p_shape, t_shape = _shape(predictions), _shape(targets)
    mismatch = predictions.ndim != targets.ndim or any(
        a is not None and b is not None and a != b for a, b in zip(p_shape, t_shape))
    if mismatch:
        raise ValueError(f"{name}: predictions of shape {p_shape} and targets of shape "
                         f"{t_shape} must have the same shape (one label per prediction)")
    return xp.eq(xp.int64(xp.ge(predictions, threshold)), targets)


# -- the metrics ------------------------------------------------------------------------
def accuracy(predictions, targets):
    """Fraction of samples whose predicted label equals the true label.

    .. math:: \\frac{1}{n} \\sum_i [\\hat y_i = y_i]

    Parameters
    ----------
    predictions : scores/probabilities ``(n, C)`` (argmax taken), binary
        probabilities ``(n,)`` or ``(n, 1)`` (threshold 0.5), or integer
        labels ``(n,)``; symbolic or NumPy
    targets : integer labels ``(n,)`` or one-hot rows ``(n, C)``

    Returns a scalar of the predictions' float dtype (``config.floatX`` for
    integer predictions): a graph expression for symbolic inputs, a NumPy
    float for arrays.  An empty batch gives NaN.

    >>> import numpy as np
    >>> float(accuracy(np.array([[2.0, 1.0], [0.0, 3.0]]), np.array([0, 0])))
    0.5
    """
    predictions, targets, xp = _prepare(predictions, targets)
    return xp.fraction(_label_hits(predictions, targets, xp), _float_dtype(predictions))


def binary_accuracy(predictions, targets, threshold=0.5):
    """Fraction of thresholded predictions that equal binary targets.

    .. math:: \\frac{1}{N} \\sum_j [\\,[p_j \\geq \\text{threshold}] = t_j\\,]

    over all elements ``j`` (so it also scores several binary outputs per sample).

    Parameters
    ----------
    predictions : probabilities (any shape; a column ``(n, 1)`` may meet targets ``(n,)``)
    targets : 0/1 labels of the same shape (integer, boolean or float)
    threshold : predictions at or above it predict 1

    Returns a scalar of the predictions' float dtype (or ``config.floatX``).

    >>> import numpy as np
    >>> float(binary_accuracy(np.array([0.2, 0.6, 0.9]), np.array([0, 0, 1])))
    0.6666666666666666
    """
    predictions, targets, xp = _prepare(predictions, targets)
    hits = _binary_hits(predictions, targets, threshold, xp)
    return xp.fraction(hits, _float_dtype(predictions))


def top_k_accuracy(predictions, targets, k=5):
    """Fraction of samples whose true class is among the ``k`` highest scores.

    .. math:: \\frac{1}{n} \\sum_i \\big[\\#\\{c : s_{ic} > s_{i y_i}\\} < k\\big]

    Ties count in the target's favour (as ``tf.nn.in_top_k``): a sample is a
    hit when fewer than ``k`` classes score *strictly* higher than its true
    class.  So with ties ``top_k_accuracy(p, y, k=1)`` can exceed
    :func:`accuracy`, which takes the first argmax.  A NaN score of the true
    class is a miss.

    Parameters
    ----------
    predictions : matrix ``(n, C)`` of class scores or probabilities
    targets : integer labels ``(n,)`` or one-hot rows ``(n, C)``
    k : int, ``1 <= k <= C`` (checked when C is known)

    Returns a scalar of the predictions' float dtype (or ``config.floatX``).
    A target label outside ``[0, C)`` raises IndexError (when the function
    runs, for symbolic inputs).

    >>> import numpy as np
    >>> p = np.array([[0.5, 0.3, 0.2], [0.1, 0.3, 0.6]])
    >>> float(top_k_accuracy(p, np.array([1, 0]), k=2))
    0.5
    """
    predictions, targets, xp = _prepare(predictions, targets)
    hits = _top_k_hits(predictions, targets, k, xp)
    return xp.fraction(hits, _float_dtype(predictions))


def confusion_matrix(predictions, targets, num_classes):
    """Counts of (true class, predicted class) pairs.

    ``M[i, j]`` is the number of samples of true class ``i`` predicted as
    class ``j``: rows are true classes, columns predicted classes, so the
    diagonal holds the correct predictions.

    Parameters
    ----------
    predictions : scores ``(n, C)``, binary probabilities ``(n,)``/``(n, 1)``
        or integer labels ``(n,)`` (read as in :func:`accuracy`)
    targets : integer labels ``(n,)`` or one-hot rows ``(n, C)``
    num_classes : int, the number of classes C

    Returns an int64 ``(num_classes, num_classes)`` matrix (a graph
    expression for symbolic inputs, an array otherwise).  A label outside
    ``[0, num_classes)`` raises IndexError (when the function runs, for
    symbolic inputs).

    >>> import numpy as np
    >>> confusion_matrix(np.array([0, 1, 1]), np.array([0, 0, 1]), 2)
    array([[1, 1],
           [0, 1]])
    """
    name = "confusion_matrix"
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) \
            or num_classes < 1:
        raise ValueError(f"{name}: num_classes must be a positive int, got {num_classes!r}")
    num_classes = int(num_classes)
    predictions, targets, xp = _prepare(predictions, targets)
    pred, true = _both_labels(predictions, targets, name, xp, num_classes)
    true = xp.checked_labels(true, num_classes, f"{name}: true label")
    pred = xp.checked_labels(pred, num_classes, f"{name}: predicted label")
    return xp.confusion(true, pred, num_classes)
