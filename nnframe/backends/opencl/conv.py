"""2-d convolution on the device: im2col / col2im kernels around the register-blocked GEMM.

- forward: ``cols[b] = im2col(x[b])`` (channels x taps, pixels), then one
  batched GEMM ``w2 @ cols[b]`` whose result is already NCHW;
- weights gradient: im2col written transposed ((batch x pixels), taps) and
  the output gradient moved to (channels, batch x pixels): one GEMM over
  the whole batch;
- input gradient: one batched GEMM ``w2.T @ g[b]`` (taps, pixels), then
  col2im as a *gather* (each input pixel sums the taps that read it: no
  atomics, deterministic).

Flipped filters (a true convolution) are handled by the order in which
im2col writes the taps, so the filters are never copied.  Padding, strides
and dilation are index arithmetic in im2col/col2im.  The geometry (and its
error messages) is the NumPy backend's.
"""
import math

import numpy as np

from nnframe.backends.opencl import elemwise as EW
from nnframe.backends.opencl.array import device_args, empty, host_view
from nnframe.backends.opencl.blas import GemmCode
from nnframe.backends.opencl.codegen import ctype, kernel_name
from nnframe.backends.opencl.registry import register
from nnframe.core.ops.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights

__all__ = ["ConvCode"]

_GEOM_PARAMS = ("long H, long W, long kr, long kc, long orow, long ocol, long sr, long sc, "
                "long dr, long dc, long pr, long pc, int flip")


class ConvCode:
    """im2col and col2im kernels for one dtype."""

    def __init__(self, builder, dtype):
        self.ctx = builder.ctx
        self.dtype = dtype
        t = ctype(dtype)
        i64 = np.int64
        geo_dtypes = [i64] * 12 + [np.int32]
        im2col = (
            f"__kernel void KNAME(long C, __global const {t}* x, long xo, long xs0, long xs1, "
            f"long xs2, long xs3, {_GEOM_PARAMS}, __global {t}* cols, long cb, long cq, "
            "long cp) {\n"
            "  const long p = get_global_id(0), q = get_global_id(1), b = get_global_id(2);\n"
            "  const long P = orow * ocol, taps = kr * kc;\n"
            "  if (p >= P || q >= C * taps) return;\n"
            "  const long ci = q / taps, t = q % taps;\n"
            "  long u = t / kc, v = t % kc;\n"
            "  if (flip) { u = kr - 1 - u; v = kc - 1 - v; }\n"
            "  const long y = (p / ocol) * sr + u * dr - pr, z = (p % ocol) * sc + v * dc - pc;\n"
            f"  {t} val = 0;\n"
            "  if (y >= 0 && y < H && z >= 0 && z < W) val = x[xo + b * xs0 + ci * xs1 + "
            "y * xs2 + z * xs3];\n"
            "  cols[b * cb + q * cq + p * cp] = val;\n}\n")
        self.im2col = builder.kernel(im2col.replace("KNAME", kernel_name("im2col", im2col)),
                                     [i64, None] + [i64] * 5 + geo_dtypes + [None, i64, i64, i64])
        col2im = (
            f"__kernel void KNAME(long N, long C, __global const {t}* taps, {_GEOM_PARAMS}, "
            f"__global {t}* out) {{\n"
            "  const long g = get_global_id(0);\n"
            "  if (g >= N) return;\n"
            "  const long z = g % W, y = (g / W) % H, ci = (g / (W * H)) % C, b = g / (W * H * C);\n"
            "  const long P = orow * ocol, K = C * kr * kc;\n"
            f"  {t} acc = 0;\n"
            "  for (long u = 0; u < kr; ++u) {\n"
            "    const long uu = flip ? kr - 1 - u : u;\n"
            "    const long ry = y + pr - uu * dr;\n"
            "    if (ry < 0 || ry % sr) continue;\n"
            "    const long r = ry / sr;\n"
            "    if (r >= orow) continue;\n"
            "    for (long v = 0; v < kc; ++v) {\n"
            "      const long vv = flip ? kc - 1 - v : v;\n"
            "      const long rz = z + pc - vv * dc;\n"
            "      if (rz < 0 || rz % sc) continue;\n"
            "      const long s = rz / sc;\n"
            "      if (s >= ocol) continue;\n"
            "      acc += taps[(b * K + (ci * kr + u) * kc + v) * P + r * ocol + s];\n"
            "    }\n  }\n  out[g] = acc;\n}\n")
        self.col2im = builder.kernel(col2im.replace("KNAME", kernel_name("col2im", col2im)),
                                     [i64, i64, None] + geo_dtypes + [None])
        self.gemm = GemmCode(builder, dtype)
        self.copy = EW.strided_copy(builder, dtype, dtype, 4)

    def geometry_args(self, image, kshape, pads, out, op):
        """The kernels' geometry arguments for the sizes of one call of ``op``."""
        (sr, sc), (dr, dc) = op.subsample, op.filter_dilation
        return [image[0], image[1], kshape[0], kshape[1], out[0], out[1], sr, sc, dr, dc,
                pads[0], pads[1], int(op.filter_flip)]

    def columns(self, x, geo_args, out, transposed):
        """im2col of ``x``: (b, c*taps, P), or ((b*P), c*taps) when ``transposed``."""
        b, c = x.shape[:2]
        taps = geo_args[2] * geo_args[3]
        p = out[0] * out[1]
        if transposed:
            cols = empty(self.ctx, (b * p, c * taps), self.dtype)
            strides = (p * c * taps, 1, c * taps)
        else:
            cols = empty(self.ctx, (b, c * taps, p), self.dtype)
            strides = (c * taps * p, p, 1)
        if cols.size == 0:
            return cols
        buf, xo = device_args(x)
        gsize = (_round(p, 16), _round(c * taps, 4), b)
        self.im2col(self.ctx.queue, gsize, (16, 4, 1), c, buf, xo, *x.strides, *geo_args,
                    cols.data, *strides)
        return cols

    def cast(self, value, dtype_copy):
        return dtype_copy(value) if dtype_copy else value


def _round(n, k):
    return max((n + k - 1) // k * k, k)


def _caster(builder, var, dtype):
    if var.dtype == dtype:
        return None
    copy = EW.strided_copy(builder, var.dtype, dtype, var.ndim)
    ctx = builder.ctx

    def cast(v):
        return copy(empty(ctx, v.shape, dtype), v)
    return cast


def _filters_2d(w):
    """Filters (o, c, kr, kc) as (o, c*kr*kc), a view when contiguous."""
    o = w.shape[0]
    k = int(math.prod(w.shape[1:]))
    return o, k


@register(Conv2d)
def conv2d_kernel(node, builder):
    op = node.op
    dtype = node.outputs[0].dtype
    code = ConvCode(builder, dtype)
    cx, cw = _caster(builder, node.inputs[0], dtype), _caster(builder, node.inputs[1], dtype)

    def run(x, w):
        op.check_channels("input", x.shape, 1, "filters", w.shape, 1)
        kshape = w.shape[2:]
        pads, out = op.runtime_sizes(x.shape[2:], kshape)
        x, w = code.cast(x, cx), code.cast(w, cw)
        geo_args = code.geometry_args(x.shape[2:], kshape, pads, out, op)
        cols = code.columns(x, geo_args, out, False)
        w2 = _dense(code, w)
        o, k = _filters_2d(w)
        a = w2.view((1, o, k), (0, k, 1), w2.offset, None)
        y = code.gemm.run(a, cols)   # (b, o, P)
        return y.view((x.shape[0], o) + tuple(out), None, 0, None)
    return run


def _dense(code, a):
    if a.is_contiguous():
        return a
    out = empty(code.ctx, a.shape, a.dtype)
    return code.copy(out, a)


@register(Conv2dGradWeights)
def conv2d_grad_weights_kernel(node, builder):
    op = node.op
    dtype = node.outputs[0].dtype
    code = ConvCode(builder, dtype)
    cx, cg = _caster(builder, node.inputs[0], dtype), _caster(builder, node.inputs[1], dtype)
    copy3 = EW.strided_copy(builder, dtype, dtype, 3)
    ctx = builder.ctx

    def run(x, g, krows, kcols):
        kshape = (int(host_view(krows)), int(host_view(kcols)))
        pads, out = op.runtime_sizes(x.shape[2:], kshape)
        op.check_grad_shape(g.shape, (x.shape[0], g.shape[1]) + out)
        x, g = code.cast(x, cx), code.cast(g, cg)
        b, c = x.shape[:2]
        o, p = g.shape[1], out[0] * out[1]
        geo_args = code.geometry_args(x.shape[2:], kshape, pads, out, op)
        cols_t = code.columns(x, geo_args, out, True)          # (b*P, c*taps)
        # g as (o, b, P): one transposing copy makes the GEMM's K axis (b, P) contiguous.
        g3 = g.view((b, o, p), None, g.offset, None) if g.is_contiguous() else _dense(code, g) \
            .view((b, o, p), None, 0, None)
        gt = empty(ctx, (o, b, p), dtype)
        copy3(gt, g3.transpose((1, 0, 2)))
        a = gt.view((1, o, b * p), (0, b * p, 1), 0, None)
        bm = cols_t.view((1, b * p, cols_t.shape[1]), (0, cols_t.shape[1], 1), 0, None)
        gw = code.gemm.run(a, bm)   # (1, o, c*taps)
        return gw.view((o, c) + kshape, None, 0, None)
    return run


@register(Conv2dGradInputs)
def conv2d_grad_inputs_kernel(node, builder):
    op = node.op
    dtype = node.outputs[0].dtype
    code = ConvCode(builder, dtype)
    cw, cg = _caster(builder, node.inputs[0], dtype), _caster(builder, node.inputs[1], dtype)
    ctx = builder.ctx

    def run(w, g, rows, cols):
        op.check_channels("filters", w.shape, 0, "output_grad", g.shape, 1)
        image = (int(host_view(rows)), int(host_view(cols)))
        o, c, kr, kc = w.shape
        pads, out = op.runtime_sizes(image, (kr, kc))
        b = g.shape[0]
        op.check_grad_shape(g.shape, (b, o) + out)
        w, g = code.cast(w, cw), code.cast(g, cg)
        p = out[0] * out[1]
        k = c * kr * kc
        w2 = _dense(code, w)
        a = w2.view((1, k, o), (0, 1, k), w2.offset, None)          # w2.T
        gd = _dense(code, g)
        bm = gd.view((b, o, p), None, gd.offset, None)
        taps = code.gemm.run(a, bm)                                 # (b, k, P)
        gx = empty(ctx, (b, c) + image, dtype)
        n = gx.size
        if n:
            geo_args = code.geometry_args(image, (kr, kc), pads, out, op)
            code.col2im(ctx.queue, (_round(n, 64),), (64,), n, c, taps.data, *geo_args, gx.data)
        return gx
    return run
