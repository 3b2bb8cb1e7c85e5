"""The benchmark steps written with nnframe, the way a Theano user writes them."""

import nnframe.tensor as T
from nnframe import function, shared


def mlp_step(params, lr, mode=None):
    """A compiled SGD step of a ReLU MLP with softmax cross-entropy; returns the loss."""
    X = T.fmatrix("X")
    y = T.lvector("y")
    shared_params = [shared(p.copy(), name=f"p{k}") for k, p in enumerate(params)]
    h = X
    layers = len(params) // 2
    for k in range(layers):
        W, b = shared_params[2 * k], shared_params[2 * k + 1]
        h = T.dot(h, W) + b
        if k < layers - 1:
            h = T.nnet.relu(h)
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(h), y).mean()
    grads = T.grad(loss, shared_params)
    updates = [(p, p - lr * g) for p, g in zip(shared_params, grads)]
    return function([X, y], loss, updates=updates, mode=mode, trust_input=True), shared_params


def elementwise(mode=None):
    """``tanh(a*x + b) * sigmoid(x)`` with scalar a, b and a float32 vector x."""
    from nnframe.core.function import Out
    a, b = T.fscalars("a", "b")
    x = T.fvector("x")
    out = T.tanh(a * x + b) * T.nnet.sigmoid(x)
    return function([a, x, b], Out(out, borrow=True), mode=mode, trust_input=True)


def cnn_step(params, lr, mode=None):
    """2 x (conv3x3 + ReLU + maxpool2) + dense + softmax CE, SGD; returns the loss."""
    X = T.ftensor4("X")
    y = T.lvector("y")
    C1, c1, C2, c2, W, b = [shared(p.copy(), name=f"p{k}") for k, p in enumerate(params)]
    h = T.nnet.relu(T.nnet.conv2d(X, C1, filter_flip=False) + c1.dimshuffle("x", 0, "x", "x"))
    h = T.nnet.max_pool_2d(h, (2, 2))
    h = T.nnet.relu(T.nnet.conv2d(h, C2, filter_flip=False) + c2.dimshuffle("x", 0, "x", "x"))
    h = T.nnet.max_pool_2d(h, (2, 2))
    z = T.dot(h.flatten(2), W) + b
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).mean()
    ps = [C1, c1, C2, c2, W, b]
    grads = T.grad(loss, ps)
    step = function([X, y], loss, updates=[(p, p - lr * g) for p, g in zip(ps, grads)],
                    mode=mode, trust_input=True)
    return step, ps
