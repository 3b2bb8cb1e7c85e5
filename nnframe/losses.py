"""Loss functions as graph expressions (Lasagne's ``lasagne.objectives``).

A loss function returns one loss per sample (or per element); reduce it to a
scalar to train with :func:`aggregate` (or ``.mean()``):

>>> import nnframe.tensor as T
>>> from nnframe import losses
>>> logits, y = T.fmatrix('logits'), T.ivector('y')
>>> loss = losses.aggregate(losses.categorical_crossentropy_from_logits(logits, y))
>>> loss.dtype
'float32'

Train with the ``*_from_logits`` forms: they are finite and exact where the
probability forms take the log of an underflowed 0.  Errors in ranks and in
static shapes are reported when the graph is built.  The penalties
:func:`l1` and :func:`l2` of :mod:`nnframe.regularization` are re-exported.
"""
import numpy as np

import nnframe.tensor as T
from nnframe import metrics
from nnframe.regularization import l1, l2

__all__ = ["binary_crossentropy", "categorical_crossentropy",
           "binary_crossentropy_from_logits", "categorical_crossentropy_from_logits",
           "squared_error", "binary_hinge_loss", "multiclass_hinge_loss", "aggregate",
           "binary_accuracy", "categorical_accuracy", "align_targets", "l1", "l2"]

AGGREGATE_MODES = ("mean", "sum", "normalized_sum")


# -- checks shared by the losses ---------------------------------------------------------
def _static_shape(x):
    return x.type.shape


def align_targets(predictions, targets):
    """Targets ``(n,)`` next to predictions ``(n, 1)`` become a column ``(n, 1)``.

    This is Lasagne's helper: a network ending in a one-unit layer predicts
    a column, while binary targets usually come as a vector; without it,
    broadcasting would silently build an ``(n, n)`` loss.

    >>> import nnframe.tensor as T
    >>> p, t = align_targets(T.fcol('p'), T.fvector('t'))
    >>> t.ndim
    2
    """
    predictions = T.as_tensor_variable(predictions)
    targets = T.as_tensor_variable(targets)
    if predictions.ndim == 2 and _static_shape(predictions)[1] == 1 and targets.ndim == 1:
        targets = T.dimshuffle(targets, [0, "x"])
    return predictions, targets


def _check_same_shape(predictions, targets, name):
    """An elementwise loss needs equal ranks and equal known lengths (no broadcasting)."""
    p_shape, t_shape = _static_shape(predictions), _static_shape(targets)
    if predictions.ndim != targets.ndim:
        raise TypeError(f"{name}: rank mismatch between predictions {predictions.type} and "
                        f"targets {targets.type}; they must have the same shape (reshape or "
                        "dimshuffle one of them)")
    for axis, (m, n) in enumerate(zip(p_shape, t_shape)):
        if m is not None and n is not None and m != n:
            raise ValueError(f"{name}: predictions of shape {p_shape} and targets of shape "
                             f"{t_shape} differ in axis {axis} ({m} vs {n})")


def _check_rows(predictions, targets, name):
    rows, n = _static_shape(predictions)[0], _static_shape(targets)[0]
    if rows is not None and n is not None and rows != n:
        raise ValueError(f"{name}: predictions {predictions.type} have {rows} rows but targets "
                         f"{targets.type} have {n} entries")


def _is_discrete(x):
    return np.dtype(x.dtype).kind in "biu"


def _float_like(targets, predictions):
    """Integer or boolean targets take the predictions' float dtype (no float64 upcast)."""
    if _is_discrete(targets) and np.dtype(predictions.dtype).kind == "f":
        return T.cast(targets, predictions.dtype)
    return targets


def _elementwise_inputs(predictions, targets, name):
    predictions, targets = align_targets(predictions, targets)
    _check_same_shape(predictions, targets, name)
    return predictions, _float_like(targets, predictions)


def _categorical_targets(predictions, targets):
    """One-hot targets given as integers take the predictions' float dtype."""
    predictions = T.as_tensor_variable(predictions)
    targets = T.as_tensor_variable(targets)
    if targets.ndim == predictions.ndim and targets.ndim > 1:
        targets = _float_like(targets, predictions)
    return predictions, targets


# -- crossentropies ----------------------------------------------------------------------
def binary_crossentropy(predictions, targets):
    """Elementwise binary crossentropy of predicted probabilities.

    .. math:: L = -t \\log(p) - (1 - t) \\log(1 - p)

    Parameters
    ----------
    predictions : tensor of probabilities in (0, 1), e.g. a sigmoid output
    targets : tensor of the same shape with targets in [0, 1] (labels may be
        integers); a vector next to predictions ``(n, 1)`` is aligned

    Returns a tensor of the predictions' shape.  Prefer
    :func:`binary_crossentropy_from_logits`: this form gives inf where a
    probability has rounded to 0 or 1.

    >>> import nnframe.tensor as T
    >>> p = T.nnet.sigmoid(T.fvector('a'))
    >>> loss = binary_crossentropy(p, T.fvector('t')).mean()
    """
    predictions, targets = _elementwise_inputs(predictions, targets, "binary_crossentropy")
    return T.nnet.binary_crossentropy(predictions, targets)


def binary_crossentropy_from_logits(logits, targets):
    """Binary crossentropy of ``sigmoid(logits)``, computed stably from the logits.

    .. math:: L = \\log(1 + e^{x}) - t x

    Finite and exact for any finite logits (e.g. +-1000); the gradient is
    ``sigmoid(x) - t``.

    Parameters
    ----------
    logits : float tensor of unnormalised scores ``x``
    targets : tensor of the same shape with targets in [0, 1]

    Returns a tensor of the logits' shape.

    >>> import nnframe.tensor as T
    >>> loss = binary_crossentropy_from_logits(T.fvector('x'), T.fvector('t')).mean()
    """
    logits, targets = _elementwise_inputs(logits, targets, "binary_crossentropy_from_logits")
    return T.nnet.binary_crossentropy_from_logits(logits, targets)


def categorical_crossentropy(predictions, targets):
    """Categorical crossentropy of predicted class probabilities, per row.

    .. math:: L_i = -\\sum_j t_{ij} \\log(p_{ij})

    which for an integer class vector is ``-log(p[i, targets[i]])``.

    Parameters
    ----------
    predictions : matrix ``(n, C)`` of probabilities (rows sum to 1, e.g. softmax)
    targets : integer vector ``(n,)`` of class indices in ``[0, C)``, or a
        ``(n, C)`` matrix of one-hot rows or probabilities (integer one-hot
        rows are cast to the predictions' dtype)

    Returns a vector ``(n,)``.  Prefer :func:`categorical_crossentropy_from_logits`.

    >>> import nnframe.tensor as T
    >>> p = T.nnet.softmax(T.fmatrix('logits'))
    >>> loss = categorical_crossentropy(p, T.ivector('y')).mean()
    """
    predictions, targets = _categorical_targets(predictions, targets)
    return T.nnet.categorical_crossentropy(predictions, targets)


def categorical_crossentropy_from_logits(logits, targets):
    """Categorical crossentropy of ``softmax(logits)``, computed with ``log_softmax``.

    .. math:: L_i = -\\sum_j t_{ij} \\Big(x_{ij} - \\log \\sum_k e^{x_{ik}}\\Big)

    Finite and exact for any finite logits (e.g. +-1000).

    Parameters
    ----------
    logits : matrix ``(n, C)`` of unnormalised scores
    targets : integer vector ``(n,)`` of class indices, or ``(n, C)`` one-hot
        rows or probabilities

    Returns a vector ``(n,)``.

    >>> import nnframe.tensor as T
    >>> loss = categorical_crossentropy_from_logits(T.fmatrix('x'), T.ivector('y')).mean()
    """
    logits, targets = _categorical_targets(logits, targets)
    return T.nnet.categorical_crossentropy_from_logits(logits, targets)


# -- regression and margins --------------------------------------------------------------
def squared_error(a, b):
    """Elementwise squared difference.

    .. math:: L = (a - b)^2

    Parameters
    ----------
    a, b : tensors of the same shape (a vector next to a column ``(n, 1)``
        is aligned)

    >>> import nnframe.tensor as T
    >>> loss = squared_error(T.fmatrix('pred'), T.fmatrix('target')).mean()
    """
    a, b = _elementwise_inputs(a, b, "squared_error")
    return T.sqr(a - b)


def binary_hinge_loss(predictions, targets, delta=1, log_odds=None, binary=True):
    """Elementwise hinge loss of a binary classifier.

    .. math:: L = \\max(0, \\delta - t \\, p)

    with targets ``t`` in {-1, +1} and ``p`` the log-odds (a logit).

    Parameters
    ----------
    predictions : tensor of log-odds (``log_odds=True``) or of probabilities
        in (0, 1) (``log_odds=False``: converted with ``log(p / (1 - p))``)
    targets : tensor of the same shape: labels in {0, 1} (``binary=True``,
        mapped to {-1, +1}) or in {-1, +1} (``binary=False``)
    delta : the margin
    log_odds : bool, required (as in Lasagne, which refuses the old implicit default)
    binary : whether targets are {0, 1} labels

    >>> import nnframe.tensor as T
    >>> loss = binary_hinge_loss(T.fvector('logit'), T.ivector('y'), log_odds=True).mean()
    """
    if log_odds is None:
        raise ValueError("binary_hinge_loss: pass log_odds explicitly: log_odds=True if the "
                         "predictions are log-odds (logits), log_odds=False if they are "
                         "probabilities in (0, 1)")
    predictions, targets = _elementwise_inputs(predictions, targets, "binary_hinge_loss")
    if not log_odds:
        predictions = T.log(predictions / (1 - predictions))
    if binary:
        targets = 2 * targets - 1
    return T.maximum(delta - predictions * targets, 0)


def multiclass_hinge_loss(predictions, targets, delta=1):
    """Multi-class hinge loss (Crammer and Singer), per row.

    .. math:: L_i = \\max\\big(0, \\max_{j \\ne y_i} p_{ij} - p_{i y_i} + \\delta\\big)

    Parameters
    ----------
    predictions : matrix ``(n, C)`` of class scores, ``C >= 2``
    targets : integer vector ``(n,)`` of class indices, or ``(n, C)`` one-hot rows
    delta : the margin

    Returns a vector ``(n,)``.  A class index outside ``[0, C)`` raises
    IndexError when the function runs.

    >>> import nnframe.tensor as T
    >>> loss = multiclass_hinge_loss(T.fmatrix('scores'), T.ivector('y')).mean()
    """
    name = "multiclass_hinge_loss"
    predictions = T.as_tensor_variable(predictions)
    targets = T.as_tensor_variable(targets)
    if predictions.ndim != 2:
        raise TypeError(f"{name}: predictions must be a matrix (n, classes), got "
                        f"{predictions.type}")
    if _static_shape(predictions)[1] == 1:
        raise ValueError(f"{name}: predictions {predictions.type} have one class; the hinge "
                         "needs at least 2 (use binary_hinge_loss for one output)")
    if targets.ndim == 1:
        if not _is_discrete(targets) or targets.dtype == "bool":
            raise TypeError(f"{name}: targets {targets.type} must be integer class indices "
                            "(cast them with T.cast(y, 'int64')) or a one-hot matrix")
        _check_rows(predictions, targets, name)
        correct = T.nnet.one_hot(targets, predictions.shape[1], dtype="bool")
    elif targets.ndim == 2:
        _check_same_shape(predictions, targets, name)
        correct = T.neq(targets, 0)
    else:
        raise TypeError(f"{name}: rank mismatch between predictions {predictions.type} and "
                        f"targets {targets.type}; targets must be class indices (n,) or one-hot "
                        "rows (n, classes)")
    target_score = T.sum(T.switch(correct, predictions, 0), axis=1)
    # The row's minimum stands in for the correct entry: it never exceeds the best
    # other score, and unlike -inf it is finite (debug mode refuses infinities).
    row_min = T.disconnected_grad(T.min(predictions, axis=1, keepdims=True))
    best_other = T.max(T.switch(correct, row_min, predictions), axis=1)
    return T.maximum(best_other - target_score + delta, 0)


# -- aggregation ---------------------------------------------------------------------------
def _check_weights(loss, weights):
    """Weights must broadcast to the loss's shape without enlarging it."""
    if weights.ndim == 0:
        return
    if weights.ndim != loss.ndim:
        raise TypeError(f"aggregate: weights {weights.type} and loss {loss.type} have different "
                        "ranks; give weights of the loss's shape (or length-1 axes to "
                        "broadcast), or a scalar")
    for axis, (w, n) in enumerate(zip(_static_shape(weights), _static_shape(loss))):
        if w is not None and w != 1 and n is not None and w != n:
            raise ValueError(f"aggregate: weights of shape {_static_shape(weights)} do not "
                             f"broadcast to the loss's shape {_static_shape(loss)} (axis {axis}: "
                             f"{w} vs {n})")


def aggregate(loss, weights=None, mode="mean"):
    """Reduce an elementwise loss to a scalar, optionally weighting the elements.

    - ``'mean'``: :math:`\\frac{1}{N} \\sum_i w_i L_i` (the mean of the
      weighted loss; weights do not change the denominator)
    - ``'sum'``: :math:`\\sum_i w_i L_i`
    - ``'normalized_sum'``: :math:`\\sum_i w_i L_i / \\sum_i w_i` (needs weights)

    Parameters
    ----------
    loss : tensor of per-sample or per-element losses
    weights : None, or a tensor of the loss's shape (length-1 axes broadcast)
        or a scalar
    mode : 'mean', 'sum' or 'normalized_sum'

    Returns a scalar expression.

    >>> import nnframe.tensor as T
    >>> per_sample = squared_error(T.fvector('pred'), T.fvector('t'))
    >>> loss = aggregate(per_sample, T.fvector('w'), mode='normalized_sum')
    """
    if mode not in AGGREGATE_MODES:
        raise ValueError(f"aggregate: mode must be one of {', '.join(map(repr, AGGREGATE_MODES))}"
                         f"; got {mode!r}")
    loss = T.as_tensor_variable(loss)
    if weights is None:
        if mode == "normalized_sum":
            raise ValueError("aggregate: mode='normalized_sum' divides by the sum of the "
                             "weights, so it needs weights")
        return T.mean(loss) if mode == "mean" else T.sum(loss)
    weights = T.as_tensor_variable(weights)
    _check_weights(loss, weights)
    weighted = loss * weights
    if mode == "mean":
        return T.mean(weighted)
    if mode == "sum":
        return T.sum(weighted)
    return T.sum(weighted) / T.sum(weights)


# -- accuracies per sample (Lasagne's objectives) ------------------------------------------
def binary_accuracy(predictions, targets, threshold=0.5):
    """Elementwise accuracy of thresholded binary predictions (Lasagne's objective).

    .. math:: a_j = [\\,[p_j \\geq \\text{threshold}] = t_j\\,]

    Unlike :func:`nnframe.metrics.binary_accuracy` (the mean), this gives one
    0/1 value per element, to aggregate yourself.

    Parameters
    ----------
    predictions : tensor of probabilities
    targets : 0/1 labels of the same shape
    threshold : predictions at or above it predict 1

    Returns a tensor of the predictions' float dtype (``config.floatX`` for integers).

    >>> import nnframe.tensor as T
    >>> acc = aggregate(binary_accuracy(T.fvector('p'), T.ivector('y')))
    """
    predictions, targets = T.as_tensor_variable(predictions), T.as_tensor_variable(targets)
    hits = metrics._binary_hits(predictions, targets, threshold, metrics._SymbolicPath)
    return T.cast(hits, metrics._float_dtype(predictions))


def categorical_accuracy(predictions, targets, top_k=1):
    """Per-sample accuracy of class scores, or top-k accuracy (Lasagne's objective).

    .. math:: a_i = [\\operatorname{argmax}_j p_{ij} = y_i] \\quad (top\\_k = 1)

    With ``top_k > 1`` a sample is a hit when fewer than ``top_k`` classes
    score strictly higher than the true one (ties count for the target; see
    :func:`nnframe.metrics.top_k_accuracy`).  Unlike the metrics, this gives
    one 0/1 value per sample, to aggregate yourself.

    Parameters
    ----------
    predictions : matrix ``(n, C)`` of scores or probabilities
    targets : integer vector ``(n,)`` of classes, or ``(n, C)`` one-hot rows
    top_k : int

    Returns a vector of the predictions' float dtype (``config.floatX`` for integers).

    >>> import nnframe.tensor as T
    >>> acc = aggregate(categorical_accuracy(T.fmatrix('p'), T.ivector('y')))
    """
    predictions, targets = T.as_tensor_variable(predictions), T.as_tensor_variable(targets)
    if predictions.ndim != 2:
        raise TypeError("categorical_accuracy: predictions must be a matrix (n, classes), got "
                        f"{predictions.type}")
    xp = metrics._SymbolicPath
    if top_k == 1:
        hits = metrics._label_hits(predictions, targets, xp)
    else:
        hits = metrics._top_k_hits(predictions, targets, top_k, xp)
    return T.cast(hits, metrics._float_dtype(predictions))
