"""The benchmark steps written with nnframe, the way a Theano user writes them."""

import numpy as np

import nnframe.tensor as T
from nnframe import function, shared


def w1_problem(seed=0):
    """The W1 MLP's initial parameters (784-512-512-10, He init), a minibatch X (128 rows)
    and labels y, and the generator that drew them."""
    rng = np.random.default_rng(seed)
    sizes = [784, 512, 512, 10]
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        params += [rng.normal(0, np.sqrt(2 / n_in), (n_in, n_out)).astype("float32"),
                   np.zeros(n_out, "float32")]
    X = rng.normal(size=(128, 784)).astype("float32")
    y = rng.integers(0, 10, 128).astype("int64")
    return params, X, y, rng


def mlp_step(params, lr, mode=None, optimizer="sgd", lazy_loss=False):
    """A compiled SGD (or ``optimizer="adam"``) step of a ReLU MLP with softmax
    cross-entropy; returns the loss (with ``lazy_loss`` as ``Out(borrow=True)``: on OpenCL
    a device array, not read)."""
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
    if optimizer == "adam":
        from nnframe import optim
        updates = optim.adam(grads, shared_params, learning_rate=lr)
    else:
        updates = [(p, p - lr * g) for p, g in zip(shared_params, grads)]
    if lazy_loss:
        from nnframe.core.function import Out
        loss = Out(loss, borrow=True)
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


def lstm_step(params, lr, mode=None, profile=None):
    """LSTMLayer (final hidden state) + DenseLayer + softmax cross-entropy, Adam.

    ``params`` as ``numpy_reference.LSTMStep``'s: ``W_in (F, 4H)``, ``W_hid (H, 4H)``,
    ``b (4H,)`` with the gates stacked ``[ingate, forgetgate, cell, outgate]``,
    then the dense layer's ``W (H, C)`` and ``b (C,)``.  Returns the compiled step
    (sequences ``(batch, time, F)`` float32, int64 labels -> loss) and the output layer.
    """
    import numpy as np

    from nnframe import layers, losses, optim
    W_in, W_hid, b, W, c = params
    n_in, n_units = W_in.shape[0], W_hid.shape[0]
    X = T.ftensor3("X")
    y = T.lvector("y")
    l_in = layers.InputLayer((None, None, n_in), input_var=X)
    l_lstm = layers.LSTMLayer(l_in, n_units, peepholes=False, only_return_final=True,
                              precompute_input=True, name="lstm")
    l_out = layers.DenseLayer(l_lstm, W.shape[1], nonlinearity=None, name="out")
    for k, gate in enumerate(("ingate", "forgetgate", "cell", "outgate")):
        cols = slice(k * n_units, (k + 1) * n_units)
        getattr(l_lstm, f"W_in_to_{gate}").set_value(np.ascontiguousarray(W_in[:, cols]))
        getattr(l_lstm, f"W_hid_to_{gate}").set_value(np.ascontiguousarray(W_hid[:, cols]))
        getattr(l_lstm, f"b_{gate}").set_value(b[cols].copy())
    l_out.W.set_value(W.copy())
    l_out.b.set_value(c.copy())
    params = layers.get_all_params(l_out, trainable=True)
    logits = layers.get_output(l_out)
    loss = losses.categorical_crossentropy_from_logits(logits, y).mean()
    updates = optim.adam(loss, params, learning_rate=lr)
    step = function([X, y], loss, updates=updates, mode=mode, trust_input=True, profile=profile)
    return step, l_out


def scan_count(mode=None):
    """``h[-1]`` of ``h_t = h_{t-1} + 1`` run ``n`` steps from 0 (float32), ``n`` an input."""
    import numpy as np
    n = T.lscalar("n")
    h, _ = T.scan(lambda h: h + 1, outputs_info=T.constant(np.float32(0)), n_steps=n)
    return function([n], h[-1], mode=mode)
