"""Hand-written, in-place NumPy implementations of the benchmark steps.

These are the yardsticks: what a careful NumPy programmer writes for one
training step (preallocated nothing fancy, but in-place wherever NumPy allows:
``+=``, ``out=``, no needless temporaries).
"""
import numpy as np


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
        z = h                                    # logits, softmax in place
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        loss = -np.log(z[rows, y]).mean()
        z[rows, y] -= 1                          # d loss / d logits
        z /= n
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
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        loss = -np.log(z[rows, y]).mean()
        z[rows, y] -= 1
        z /= n
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
