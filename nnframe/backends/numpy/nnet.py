"""NumPy kernels for the nnet family: stable softmaxes, one-hot and 1-hot crossentropy."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops import nnet as N


def _shifted(x, axis):
    """``x - max(x, axis)`` (a new array): exp of it cannot overflow."""
    return x - x.max(axis=axis, keepdims=True)


@register(N.Softmax)
def softmax_kernel(node):
    axis = node.op.axis

    def run(x):
        if x.size == 0:
            return np.empty_like(x)
        e = _shifted(x, axis)
        np.exp(e, out=e)
        e /= e.sum(axis=axis, keepdims=True)
        return e
    return run


@register(N.LogSoftmax)
def log_softmax_kernel(node):
    axis = node.op.axis

    def run(x):
        if x.size == 0:
            return np.empty_like(x)
        out = _shifted(x, axis)
        out -= np.log(np.exp(out).sum(axis=axis, keepdims=True))
        return out
    return run


def _check_class_indices(indices, n_classes, what, upper_checked=False):
    """Raise IndexError naming the first index outside ``[0, n_classes)``.

    ``upper_checked``: NumPy's fancy indexing will reject too large indices
    anyway, so only negative ones (which NumPy would wrap) are looked for.
    """
    if indices.size == 0 or (indices.min() >= 0 and
                             (upper_checked or indices.max() < n_classes)):
        return
    bad = (indices < 0) | (indices >= n_classes)
    if bad.any():
        pos = int(np.argmax(bad))
        raise IndexError(f"{what}: class index {int(indices[pos])} (at position {pos}) is out of "
                         f"range for {n_classes} classes; valid indices are 0..{n_classes - 1}")


def _check_rows(coding, indices, what, upper_checked=False):
    if indices.shape[0] != coding.shape[0]:
        raise ValueError(f"{what}: coding_dist has shape {coding.shape} ({coding.shape[0]} rows) "
                         f"but true_dist has {indices.shape[0]} class indices")
    _check_class_indices(indices, coding.shape[1], what, upper_checked)


def _pick(matrix, indices, what):
    """``matrix[i, indices[i]]`` for each row, with a clear error for bad indices."""
    try:
        return matrix[np.arange(matrix.shape[0]), indices]
    except IndexError:
        _check_class_indices(indices, matrix.shape[1], what)
        raise


@register(N.OneHot)
def one_hot_kernel(node):
    dtype = node.outputs[0].dtype

    def run(y, n):
        n = int(n)
        if n < 0:
            raise ValueError(f"one_hot: the number of classes must be >= 0, got {n}")
        _check_class_indices(y, n, "one_hot")
        out = np.zeros((y.shape[0], n), dtype=dtype)
        out[np.arange(y.shape[0]), y] = 1
        return out
    return run


@register(N.CrossentropyCategorical1Hot)
def crossentropy_1hot_kernel(node):
    def run(coding, indices):
        _check_rows(coding, indices, "categorical_crossentropy")
        return -np.log(coding[np.arange(coding.shape[0]), indices])
    return run


@register(N.CrossentropyCategorical1HotGrad)
def crossentropy_1hot_grad_kernel(node):
    def run(g_y, coding, indices):
        _check_rows(coding, indices, "categorical_crossentropy gradient")
        rows = np.arange(coding.shape[0])
        out = np.zeros_like(coding)
        out[rows, indices] = -g_y / coding[rows, indices]
        return out
    return run


@register(N.SoftmaxGrad)
def softmax_grad_kernel(node):
    axis = node.op.axis

    def run(g, s):
        out = g * s
        total = out.sum(axis=axis, keepdims=True)
        out -= s * total
        return out
    return run


@register(N.CrossentropySoftmax1Hot)
def crossentropy_softmax_1hot_kernel(node):
    what = "categorical_crossentropy_from_logits"

    def run(logits, indices):
        _check_rows(logits, indices, what, upper_checked=True)
        shifted = logits - np.maximum.reduce(logits, axis=1, keepdims=True)
        picked = _pick(shifted, indices, what)
        np.exp(shifted, out=shifted)
        norm = np.add.reduce(shifted, axis=1)
        shifted /= norm[:, None]              # now the softmax
        loss = np.log(norm)
        loss -= picked
        return loss, shifted
    return run


@register(N.CrossentropySoftmax1HotDx)
def crossentropy_softmax_1hot_dx_kernel(node):
    def run(g_y, sm, indices):
        _check_rows(sm, indices, "categorical_crossentropy gradient", upper_checked=True)
        out = sm * g_y[:, None]
        try:
            out[np.arange(sm.shape[0]), indices] -= g_y
        except IndexError:
            _check_class_indices(indices, sm.shape[1], "categorical_crossentropy gradient")
            raise
        return out
    return run
