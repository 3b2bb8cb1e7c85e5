"""The benchmark steps in PyTorch (eager, CPU, one thread): an optional peer.

Imported by run.py only when torch is installed (``pip install torch``).
"""
import numpy as np
import torch

torch.set_num_threads(1)


def mlp_step(params, lr):
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = torch.optim.SGD(ps, lr=lr)
    layers = len(ps) // 2

    def step(X, y):
        x, t = torch.from_numpy(X), torch.from_numpy(y)
        opt.zero_grad(set_to_none=True)
        h = x
        for k in range(layers):
            h = h @ ps[2 * k] + ps[2 * k + 1]
            if k < layers - 1:
                h = torch.relu(h)
        loss = torch.nn.functional.cross_entropy(h, t)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def elementwise(a, x, b):
    ta, tx, tb = torch.from_numpy(np.asarray(a)), torch.from_numpy(x), torch.from_numpy(np.asarray(b))
    out = torch.empty_like(tx)
    tmp = torch.empty_like(tx)

    def run():
        torch.mul(tx, ta, out=out).add_(tb).tanh_()
        torch.sigmoid(tx, out=tmp)
        return out.mul_(tmp)
    return run


def cnn_step(params, lr):
    ps = [torch.tensor(p, requires_grad=True) for p in params]
    opt = torch.optim.SGD(ps, lr=lr)
    F = torch.nn.functional

    def step(X, y):
        x, t = torch.from_numpy(X), torch.from_numpy(y)
        opt.zero_grad(set_to_none=True)
        C1, c1, C2, c2, W, b = ps
        h = F.max_pool2d(F.relu(F.conv2d(x, C1, c1)), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, C2, c2)), 2)
        z = h.flatten(1) @ W + b
        loss = F.cross_entropy(z, t)
        loss.backward()
        opt.step()
        return loss.item()
    return step


def lstm_step(params, lr):
    """``torch.nn.LSTM`` (final hidden state) + Linear + cross-entropy, Adam.

    ``params`` as ``numpy_reference.LSTMStep``'s (gates stacked ``[i, f, g, o]``,
    which is also torch's order).  torch's LSTM has two biases: ``bias_ih`` gets
    the bias, ``bias_hh`` is zero and frozen (were it trained, Adam would move the
    effective bias twice as fast as in the other contestants).
    """
    W_in, W_hid, b, W, c = params
    n_in, n_units = W_in.shape[0], W_hid.shape[0]
    lstm = torch.nn.LSTM(n_in, n_units, batch_first=True)
    dense = torch.nn.Linear(n_units, W.shape[1])
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(torch.from_numpy(W_in.T.copy()))
        lstm.weight_hh_l0.copy_(torch.from_numpy(W_hid.T.copy()))
        lstm.bias_ih_l0.copy_(torch.from_numpy(b))
        lstm.bias_hh_l0.zero_()
        dense.weight.copy_(torch.from_numpy(W.T.copy()))
        dense.bias.copy_(torch.from_numpy(c))
    lstm.bias_hh_l0.requires_grad_(False)
    trained = [lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, dense.weight, dense.bias]
    opt = torch.optim.Adam(trained, lr=lr)

    def step(X, y):
        x, t = torch.from_numpy(X), torch.from_numpy(y)
        opt.zero_grad(set_to_none=True)
        _, (h, _) = lstm(x)
        loss = torch.nn.functional.cross_entropy(dense(h[0]), t)
        loss.backward()
        opt.step()
        return loss.item()
    return step
