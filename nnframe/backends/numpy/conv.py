"""NumPy kernels for 2-d convolution: im2col through strided views and one matmul.

The windows of the padded input are a strided view
(``sliding_window_view``), copied once into a column matrix (batch,
channels * taps, pixels) and multiplied with the filters in one matmul call.
Layouts avoid transposing large arrays: the forward pass is one batched
matmul whose result is already NCHW; the gradients pick, from the sizes,
between a batched matmul and a single GEMM over the whole batch (see the
comments there; measured on 2 cores with OpenBLAS).  The input gradient's
column-to-image step adds one strided slice per filter tap, never per pixel.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from nnframe.backends.numpy.registry import register
from nnframe.core.ops.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights, effective_size


class _Geometry:
    """Stride, dilation and flip of one node, and its im2col on NumPy arrays.

    Padding and output sizes, with their checks, are the Op's (``runtime_sizes``).
    """

    def __init__(self, op):
        self.op = op
        self.stride = op.subsample
        self.dilation = op.filter_dilation
        self.flip = op.filter_flip

    def columns(self, x, kshape, pads, out):
        """The im2col matrix of ``x``: shape (batch, channels * kr * kc, out_rows * out_cols)."""
        if pads != (0, 0):
            x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[0]), (pads[1], pads[1])))
        extent = tuple(effective_size(k, d) for k, d in zip(kshape, self.dilation))
        (sr, sc), (dr, dc) = self.stride, self.dilation
        windows = sliding_window_view(x, extent, axis=(2, 3))
        windows = windows[:, :, :(out[0] - 1) * sr + 1:sr, :(out[1] - 1) * sc + 1:sc, ::dr, ::dc]
        b, c = x.shape[:2]
        # (b, c, kr, kc, rows, cols): the copy that makes the column matrix.
        return windows.transpose(0, 1, 4, 5, 2, 3).reshape(b, c * kshape[0] * kshape[1],
                                                           out[0] * out[1])

    def oriented(self, w):
        """The filters as correlated with the input: flipped for a true convolution."""
        return w[:, :, ::-1, ::-1] if self.flip else w


@register(Conv2d)
def conv2d_kernel(node):
    geo = _Geometry(node.op)
    dtype = np.dtype(node.outputs[0].dtype)

    def run(x, w):
        node.op.check_channels("input", x.shape, 1, "filters", w.shape, 1)
        kshape = w.shape[2:]
        pads, out = node.op.runtime_sizes(x.shape[2:], kshape)
        cols = geo.columns(x.astype(dtype, copy=False), kshape, pads, out)
        w2 = geo.oriented(w).astype(dtype, copy=False).reshape(w.shape[0], -1)
        # One batched matmul: (o, ckk) @ (b, ckk, p) -> (b, o, p), already NCHW.
        return np.matmul(w2, cols).reshape(x.shape[0], w.shape[0], *out)
    return run


@register(Conv2dGradWeights)
def conv2d_grad_weights_kernel(node):
    geo = _Geometry(node.op)
    dtype = np.dtype(node.outputs[0].dtype)

    def run(x, g, krows, kcols):
        kshape = (int(krows), int(kcols))
        pads, out = node.op.runtime_sizes(x.shape[2:], kshape)
        node.op.check_grad_shape(g.shape, (x.shape[0], g.shape[1]) + out)
        b, o, p = x.shape[0], g.shape[1], out[0] * out[1]
        cols = geo.columns(x.astype(dtype, copy=False), kshape, pads, out)
        g3 = g.astype(dtype, copy=False).reshape(b, o, p)
        ckk = cols.shape[1]
        if o * ckk <= p * (o + ckk):
            # Per-image products summed: the (b, o, ckk) temporary is no larger than
            # the inputs, and this avoids transposing g (slow for large images).
            gw = np.matmul(g3, cols.transpose(0, 2, 1)).sum(axis=0, dtype=dtype)
        else:
            # Small images, many filters: one GEMM over the batch and pixels.
            g2 = g3.transpose(1, 0, 2).reshape(o, b * p)
            gw = g2 @ cols.transpose(0, 2, 1).reshape(b * p, ckk)
        gw = gw.reshape(o, x.shape[1], *kshape)
        return np.ascontiguousarray(geo.oriented(gw))
    return run


@register(Conv2dGradInputs)
def conv2d_grad_inputs_kernel(node):
    geo = _Geometry(node.op)
    dtype = np.dtype(node.outputs[0].dtype)
    (sr, sc), (dr, dc) = geo.stride, geo.dilation

    def run(w, g, rows, cols):
        node.op.check_channels("filters", w.shape, 0, "output_grad", g.shape, 1)
        image = (int(rows), int(cols))
        o, c, kr, kc = w.shape
        pads, out = node.op.runtime_sizes(image, (kr, kc))
        b = g.shape[0]
        node.op.check_grad_shape(g.shape, (b, o) + out)
        w2 = geo.oriented(w).astype(dtype, copy=False).transpose(2, 3, 1, 0).reshape(-1, o)
        g = g.astype(dtype, copy=False)
        # taps[u, v] is the (batch, channel) slab that filter tap (u, v) adds back.
        channel_major = w2.shape[0] >= o
        if channel_major:
            # One GEMM over the batch; channel-major so that each tap's slab is contiguous.
            taps = (w2 @ g.transpose(1, 0, 2, 3).reshape(o, -1)).reshape(kr, kc, c, b, *out)
        else:
            # Fewer taps * channels than output channels: per-image products straight
            # from g, whose transposition would cost more than the whole col2im.
            taps = np.matmul(w2, g.reshape(b, o, -1)).reshape(b, kr, kc, c, *out)
            taps = taps.transpose(1, 2, 0, 3, 4, 5)
        padded = np.zeros(taps.shape[2:4] + (image[0] + 2 * pads[0], image[1] + 2 * pads[1]),
                          dtype=dtype)
        for u in range(kr):
            for v in range(kc):
                padded[:, :, u * dr:u * dr + (out[0] - 1) * sr + 1:sr,
                       v * dc:v * dc + (out[1] - 1) * sc + 1:sc] += taps[u, v]
        inner = padded[:, :, pads[0]:pads[0] + image[0], pads[1]:pads[1] + image[1]]
        return np.ascontiguousarray(inner.transpose(1, 0, 2, 3) if channel_major else inner)
    return run
