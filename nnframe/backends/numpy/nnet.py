"""NumPy kernels for the nnet family: stable softmaxes, one-hot and 1-hot crossentropy."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops import nnet as N
from nnframe.core.ops.nnet import check_class_indices, check_index_rows


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


def _pick(matrix, indices, what):
    """``matrix[i, indices[i]]`` for each row, with a clear error for bad indices."""
    try:
        return matrix[np.arange(matrix.shape[0]), indices]
    except IndexError:
        check_class_indices(indices, matrix.shape[1], what)
        raise


@register(N.OneHot)
def one_hot_kernel(node):
    dtype = node.outputs[0].dtype
    check_n_classes = node.op.check_n_classes

    def run(y, n):
        n = int(n)
        check_n_classes(n)
        check_class_indices(y, n, "one_hot")
        out = np.zeros((y.shape[0], n), dtype=dtype)
        out[np.arange(y.shape[0]), y] = 1
        return out
    return run


@register(N.CrossentropyCategorical1Hot)
def crossentropy_1hot_kernel(node):
    def run(coding, indices):
        check_index_rows(coding.shape, indices, "categorical_crossentropy")
        return -np.log(coding[np.arange(coding.shape[0]), indices])
    return run


@register(N.CrossentropyCategorical1HotGrad)
def crossentropy_1hot_grad_kernel(node):
    def run(g_y, coding, indices):
        check_index_rows(coding.shape, indices, "categorical_crossentropy gradient")
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
        check_index_rows(logits.shape, indices, what, upper_checked=True)
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
        check_index_rows(sm.shape, indices, "categorical_crossentropy gradient",
                         upper_checked=True)
        out = sm * g_y[:, None]
        try:
            out[np.arange(sm.shape[0]), indices] -= g_y
        except IndexError:
            check_class_indices(indices, sm.shape[1], "categorical_crossentropy gradient")
            raise
        return out
    return run
