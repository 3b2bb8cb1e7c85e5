"""The benchmark steps in PyTensor, compiled with its Numba backend: an optional peer.

Imported by bench_native.py only when pytensor (and numba) are installed.  Written
with PyTensor's own graph API as its users write it: ``pytensor.tensor as pt``,
shared variables for the parameters, ``pytensor.grad``, and
``pytensor.function(..., updates=...)`` with ``mode="NUMBA"`` (pass ``mode=None``
for PyTensor's default C mode, which needs a C++ compiler and, for fast GEMMs, a
BLAS PyTensor can link to: a pip install finds none).  floatX is float32, as the
other contestants compute.

PyTensor has no CNN convolution Op (``pt.signal.convolve2d`` is SciPy's signal
convolution, one 2-D pair at a time); the convolution here is im2col from nine
slices and one product, as the hand-written NumPy step does it, and 2x2 max
pooling is a reshape and a max.

>>> import numpy as np, pytensor_workloads as pw
>>> step = pw.mlp_step([np.eye(2, dtype='float32'), np.zeros(2, 'float32')], 0.1)
>>> round(float(step(np.eye(2, dtype='float32'), np.array([0, 1]))), 4)
0.3133
"""
import numpy as np
import pytensor
import pytensor.tensor as pt

pytensor.config.floatX = "float32"

MODE = "NUMBA"


def _crossentropy(z, y):
    """The mean softmax cross-entropy of logits ``z`` (n, classes) for int labels ``y``."""
    logp = pt.special.log_softmax(z, axis=1)
    return -logp[pt.arange(y.shape[0]), y].mean()


def _sgd_function(X, y, loss, params, lr, mode):
    grads = pytensor.grad(loss, params)
    updates = [(p, p - np.float32(lr) * g) for p, g in zip(params, grads)]
    return pytensor.function([X, y], loss, updates=updates, mode=mode, trust_input=True)


def mlp_step(params, lr, mode=MODE):
    """A compiled SGD step of a ReLU MLP; ``step(X, y)`` -> the loss (a 0-d array)."""
    X = pt.fmatrix("X")
    y = pt.lvector("y")
    shared = [pytensor.shared(p.copy(), name=f"p{k}") for k, p in enumerate(params)]
    h = X
    layers = len(params) // 2
    for k in range(layers):
        h = pt.dot(h, shared[2 * k]) + shared[2 * k + 1]
        if k < layers - 1:
            h = pt.maximum(h, 0)
    return _sgd_function(X, y, _crossentropy(h, y), shared, lr, mode)


def elementwise(a, x, b, mode=MODE):
    """A zero-argument callable computing ``tanh(a*x + b) * sigmoid(x)``."""
    sa, sb = pt.fscalars("a", "b")
    sx = pt.fvector("x")
    out = pt.tanh(sa * sx + sb) * pt.sigmoid(sx)
    f = pytensor.function([sa, sx, sb], pytensor.Out(out, borrow=True), mode=mode,
                          trust_input=True)
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return lambda: f(a, x, b)


def _conv_relu_pool(x, w, b, w_shape):
    """conv 'valid' (NCHW, OIHW, not flipped) + bias + ReLU + 2x2 max pooling.

    ``w_shape`` is the filters' (f, c, kh, kw): the windows are one slice per (kh, kw).
    """
    f, c, kh, kw = w_shape
    n = x.shape[0]
    oh, ow = x.shape[2] - kh + 1, x.shape[3] - kw + 1
    # (n, c, kh*kw, oh, ow): the windows, in the order of w.reshape(f, c*kh*kw)'s columns
    cols = pt.stack([x[:, :, i:i + oh, j:j + ow] for i in range(kh) for j in range(kw)], axis=2)
    cols = cols.reshape((n, c * kh * kw, oh * ow)).dimshuffle(0, 2, 1).reshape(
        (n * oh * ow, c * kh * kw))
    out = pt.dot(cols, w.reshape((f, c * kh * kw)).T) + b          # (n*oh*ow, f)
    out = pt.maximum(out.reshape((n, oh, ow, f)).dimshuffle(0, 3, 1, 2), 0)
    ph, pw = oh // 2, ow // 2                  # pooling ignores a last odd row/column
    return out[:, :, :2 * ph, :2 * pw].reshape((n, f, ph, 2, pw, 2)).max(axis=(3, 5))


def cnn_step(params, lr, mode=MODE):
    """SGD step of 2 x (conv3x3 + ReLU + maxpool2) + dense; ``step(X, y)`` -> the loss."""
    X = pt.ftensor4("X")
    y = pt.lvector("y")
    C1, c1, C2, c2, W, b = [pytensor.shared(p.copy(), name=f"p{k}") for k, p in enumerate(params)]
    h = _conv_relu_pool(X, C1, c1, params[0].shape)
    h = _conv_relu_pool(h, C2, c2, params[2].shape)
    z = pt.dot(h.reshape((h.shape[0], -1)), W) + b
    return _sgd_function(X, y, _crossentropy(z, y), [C1, c1, C2, c2, W, b], lr, mode)
