"""Hand-written, in-place NumPy implementations of the benchmark steps.

These are the yardsticks: what a careful NumPy programmer writes for one
training step (preallocated nothing fancy, but in-place wherever NumPy allows:
``+=``, ``out=``, no needless temporaries).
"""
import numpy as np


def softmax_crossentropy_(z, rows, y):
    """The mean softmax cross-entropy of logits ``z`` (n, classes) for labels ``y``; ``z`` is
    overwritten with the loss's gradient with respect to the logits."""
    z -= z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    loss = -np.log(z[rows, y]).mean()
    z[rows, y] -= 1
    z /= len(z)
    return loss


class MLPStep:
    """One SGD step of a ReLU MLP with a softmax cross-entropy loss."""

    def __init__(self, params, lr):
        self.params = [p.copy() for p in params]   # W1, b1, W2, b2, ..., Wk, bk
        self.lr = np.float32(lr)

    def __call__(self, X, y):
        params = self.params
        n = X.shape[0]
        rows = np.arange(n)
        acts = [X]
        h = X
        layers = len(params) // 2
        for k in range(layers):
            W, b = params[2 * k], params[2 * k + 1]
            h = h @ W
            h += b
            if k < layers - 1:
                np.maximum(h, 0, out=h)
                acts.append(h)
        z = h                                    # logits -> d loss / d logits, in place
        loss = softmax_crossentropy_(z, rows, y)
        d = z
        grads = [None] * len(params)
        for k in reversed(range(layers)):
            a = acts[k]
            grads[2 * k] = a.T @ d
            grads[2 * k + 1] = d.sum(axis=0)
            if k > 0:
                d = d @ params[2 * k].T
                d *= a > 0
        for p, g in zip(params, grads):
            g *= self.lr
            p -= g
        return loss


def elementwise(a, x, b, out, tmp):
    """``tanh(a*x + b) * sigmoid(x)`` into ``out`` with one temporary buffer."""
    np.multiply(x, a, out=out)
    out += b
    np.tanh(out, out=out)
    np.negative(x, out=tmp)
    np.exp(tmp, out=tmp)
    tmp += 1
    out /= tmp
    return out


def im2col(x, kh, kw):
    """(n, c, h, w) -> (n, oh, ow, c*kh*kw) windows of a 'valid' stride-1 conv."""
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(2, 3))
    n, c, oh, ow = windows.shape[:4]
    return windows.transpose(0, 2, 3, 1, 4, 5).reshape(n, oh, ow, c * kh * kw)


class CNNStep:
    """2 x (conv3x3 'valid' + ReLU + maxpool 2x2) + dense + softmax CE, SGD.

    Convolution as cross-correlation (filters not flipped) via im2col and one
    matmul; pooling by reshaping; everything float32.
    """

    def __init__(self, params, lr):
        self.params = [p.copy() for p in params]   # C1, c1, C2, c2, W, b
        self.lr = np.float32(lr)

    def _conv_relu_pool(self, x, w, b):
        f, c, kh, kw = w.shape
        cols = im2col(x, kh, kw)                     # (n, oh, ow, c*kh*kw)
        out = cols @ w.reshape(f, -1).T              # (n, oh, ow, f)
        out += b
        np.maximum(out, 0, out=out)
        n, oh, ow, _ = out.shape
        ph, pw = oh // 2, ow // 2                    # pooling ignores a last odd row/column
        blocks = out[:, :2 * ph, :2 * pw].reshape(n, ph, 2, pw, 2, f)
        pooled = blocks.max(axis=(2, 4))             # (n, ph, pw, f)
        return cols, out, blocks, pooled

    def _pool_relu_conv_backward(self, d_pooled, cols, out, blocks, pooled, w, x_shape):
        f, c, kh, kw = w.shape
        n, oh, ow, _ = out.shape
        ph, pw = pooled.shape[1:3]
        mask = blocks == pooled[:, :, None, :, None, :]
        d_out = np.zeros_like(out)
        d_out[:, :2 * ph, :2 * pw] = (mask * d_pooled[:, :, None, :, None, :]).reshape(
            n, 2 * ph, 2 * pw, f)
        d_out *= out > 0
        flat = d_out.reshape(-1, f)
        d_w = (flat.T @ cols.reshape(-1, c * kh * kw)).reshape(w.shape)
        d_b = flat.sum(axis=0)
        if x_shape is None:
            return None, d_w, d_b
        d_cols = (flat @ w.reshape(f, -1)).reshape(n, oh, ow, c, kh, kw)
        d_x = np.zeros(x_shape, dtype=d_cols.dtype)
        for i in range(kh):
            for j in range(kw):
                d_x[:, :, i:i + oh, j:j + ow] += d_cols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
        return d_x, d_w, d_b

    def __call__(self, X, y):
        C1, c1, C2, c2, W, b = self.params
        n = X.shape[0]
        rows = np.arange(n)
        cols1, out1, blocks1, p1 = self._conv_relu_pool(X, C1, c1)
        x2 = np.ascontiguousarray(p1.transpose(0, 3, 1, 2))
        cols2, out2, blocks2, p2 = self._conv_relu_pool(x2, C2, c2)
        flat = np.ascontiguousarray(p2.transpose(0, 3, 1, 2)).reshape(n, -1)
        z = flat @ W
        z += b
        loss = softmax_crossentropy_(z, rows, y)
        dW = flat.T @ z
        db = z.sum(axis=0)
        d_flat = z @ W.T
        d_p2 = d_flat.reshape(p2.shape[0], p2.shape[3], p2.shape[1], p2.shape[2]).transpose(0, 2, 3, 1)
        d_x2, dC2, dc2 = self._pool_relu_conv_backward(d_p2, cols2, out2, blocks2, p2, C2, x2.shape)
        d_p1 = d_x2.transpose(0, 2, 3, 1)
        _, dC1, dc1 = self._pool_relu_conv_backward(d_p1, cols1, out1, blocks1, p1, C1, None)
        for p, g in zip(self.params, (dC1, dc1, dC2, dc2, dW, db)):
            g *= self.lr
            p -= g
        return loss


class LSTMStep:
    """One Adam step of an LSTM (final hidden state) + dense + softmax cross-entropy.

    ``params`` are ``W_in (F, 4H)``, ``W_hid (H, 4H)``, ``b (4H,)``, ``W (H, C)``,
    ``c (C,)``, the gates stacked as ``[ingate, forgetgate, cell, outgate]``
    (Lasagne's LSTMLayer without peepholes: sigmoid gates, tanh cell input and
    output; zero initial states, not learned).  Adam as in Lasagne:
    ``p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)``.

    Written as a careful NumPy programmer would: the input projection of all
    steps in one GEMM; the sigmoids as ``0.5 * tanh(x / 2) + 0.5`` so the four
    gates take one ``tanh`` over the stacked block (the halving folded into the
    projected input and a halved copy of ``W_hid``: scaling by 0.5 is exact);
    every activation the backward pass needs is stored; what does not depend
    on the recurrence (the gates' derivatives, ``o * (1 - tanh(c)^2)``, the
    weight gradients) is computed for all steps at once, outside the loops; each
    iteration is one GEMM and in-place ufuncs on rows of the stored arrays.  The
    work arrays (about 13 MiB) are allocated on the first call for a shape and
    reused; ``reuse=False`` allocates them afresh every call, as MLPStep does
    (on the project's VMs their page faults then cost a few ms a step).
    """

    def __init__(self, params, lr, beta1=0.9, beta2=0.999, epsilon=1e-8, reuse=True):
        self.reuse = reuse
        self.params = [p.copy() for p in params]
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, epsilon
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.grads = [np.empty_like(p) for p in self.params]
        self.tmp = [np.empty_like(p) for p in self.params]
        self.t = 0
        H = self.params[1].shape[0]
        # per column of the stacked gates, x -> scale * tanh(scale * x) + shift is
        # sigmoid (scale 0.5, shift 0.5) for i, f, o and tanh (1, 0) for the cell
        self.scale = np.full(4 * H, 0.5, np.float32)
        self.scale[2 * H:3 * H] = 1
        self.shift = np.full(4 * H, 0.5, np.float32)
        self.shift[2 * H:3 * H] = 0
        # the derivative of activation a: a - a^2 (sigmoid) or 1 - a^2 (tanh)
        self.lin = self.shift * 2                        # 1 for sigmoid columns, 0 for tanh
        self.one_minus_lin = 1 - self.lin
        self.W_hid_s = np.empty_like(self.params[1])
        self.work = {}

    def _work(self, n, steps, F, H):
        key = (n, steps, F)
        if key not in self.work:
            f32 = np.float32
            work = dict(
                Xt=np.empty((steps, n, F), f32),         # time-major copy of X
                P=np.empty((steps, n, 4 * H), f32),      # input projections, then dG
                A=np.empty((steps, n, 4 * H), f32),      # gate activations
                D=np.empty((steps, n, 4 * H), f32),      # their derivatives
                Hs=np.zeros((steps + 1, n, H), f32),     # h_{t-1} at row t (row 0: h_0 = 0)
                Cs=np.zeros((steps + 1, n, H), f32),     # c_{t-1} at row t
                TC=np.empty((steps, n, H), f32),         # tanh(c_t)
                OD=np.empty((steps, n, H), f32),         # o_t * (1 - tanh(c_t)^2)
                dh=np.empty((n, H), f32), dcell=np.empty((n, H), f32),
                tmp=np.empty((n, H), f32))
            if not self.reuse:
                return work
            self.work[key] = work
        return self.work[key]

    def __call__(self, X, y):
        W_in, W_hid, b, W, c = self.params
        n, steps, F = X.shape
        H = W_hid.shape[0]
        w = self._work(n, steps, F, H)
        A, D, Hs, Cs, TC, OD, tmp = w["A"], w["D"], w["Hs"], w["Cs"], w["TC"], w["OD"], w["tmp"]
        rows = np.arange(n)
        scale, shift = self.scale, self.shift
        # -- forward ---------------------------------------------------------------
        np.copyto(w["Xt"], X.transpose(1, 0, 2))
        Xt = w["Xt"].reshape(steps * n, F)
        P = w["P"]
        np.matmul(Xt, W_in, out=P.reshape(steps * n, 4 * H))   # all steps' input projection
        P += b
        P *= scale
        W_hid_s = np.multiply(W_hid, scale, out=self.W_hid_s)
        for t in range(steps):
            a = A[t]
            np.matmul(Hs[t], W_hid_s, out=a)
            a += P[t]
            np.tanh(a, out=a)
            a *= scale
            a += shift
            cell = Cs[t + 1]
            np.multiply(a[:, H:2 * H], Cs[t], out=cell)          # f * c_{t-1}
            np.multiply(a[:, :H], a[:, 2 * H:3 * H], out=tmp)    # i * g
            cell += tmp
            np.tanh(cell, out=TC[t])
            np.multiply(a[:, 3 * H:], TC[t], out=Hs[t + 1])      # h = o * tanh(c)
        h = Hs[steps]
        z = h @ W
        z += c
        loss = softmax_crossentropy_(z, rows, y)                 # z: d loss / d logits
        dW_in, dW_hid, db, dW, dc = self.grads
        np.matmul(h.T, z, out=dW)
        np.sum(z, axis=0, out=dc)
        dh = np.matmul(z, W.T, out=w["dh"])
        # -- backward through time -------------------------------------------------
        np.multiply(A, self.lin, out=D)                          # the gates' derivatives
        D += self.one_minus_lin
        dG = np.square(A, out=P)                                 # P is free: dG reuses it
        D -= dG
        np.square(TC, out=OD)
        np.subtract(1, OD, out=OD)
        OD *= A[:, :, 3 * H:]
        dcell = w["dcell"]
        dcell.fill(0)
        for t in reversed(range(steps)):
            a, g = A[t], dG[t]
            np.multiply(dh, TC[t], out=g[:, 3 * H:])             # d o
            np.multiply(dh, OD[t], out=tmp)
            dcell += tmp
            np.multiply(dcell, a[:, 2 * H:3 * H], out=g[:, :H])  # d i
            np.multiply(dcell, Cs[t], out=g[:, H:2 * H])         # d f
            np.multiply(dcell, a[:, :H], out=g[:, 2 * H:3 * H])  # d g
            dcell *= a[:, H:2 * H]
            g *= D[t]                                            # d pre-activations
            if t:
                np.matmul(g, W_hid.T, out=dh)
        dG_flat = dG.reshape(steps * n, 4 * H)
        np.matmul(Xt.T, dG_flat, out=dW_in)
        np.matmul(Hs[:steps].reshape(steps * n, H).T, dG_flat, out=dW_hid)
        np.sum(dG_flat, axis=0, out=db)
        # -- Adam -------------------------------------------------------------------
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        a_t = np.float32(self.lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t))
        for p, g, m, v, s in zip(self.params, self.grads, self.m, self.v, self.tmp):
            m *= np.float32(b1)
            np.multiply(g, np.float32(1 - b1), out=s)
            m += s
            v *= np.float32(b2)
            np.square(g, out=s)
            s *= np.float32(1 - b2)
            v += s
            np.sqrt(v, out=s)
            s += np.float32(self.eps)
            np.divide(m, s, out=s)
            s *= a_t
            p -= s
        return loss
