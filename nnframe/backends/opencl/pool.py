"""2-d pooling on the device: one work-item per output window, gradients as gathers.

The leading axes are flattened (the input is made contiguous first when it
is not).  Windows combine their entries in the NumPy kernel's order (row-major
offsets), so sums and averages round the same way; max propagates NaN.
Gradients are gathers over the windows that contain each input entry (no
atomics); a max window's gradient goes to its *first* maximal entry, as in
the NumPy kernels.  Padding reads as -inf for max (the lowest integer for
integer dtypes) and 0 otherwise.
"""
import numpy as np

from nnframe.backends.numpy.pool import _Windows
from nnframe.backends.opencl import elemwise as EW
from nnframe.backends.opencl.array import device_args, empty, host_view
from nnframe.backends.opencl.codegen import ctype, kernel_name, literal
from nnframe.backends.opencl.registry import register
from nnframe.core.ops.pool import AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool

__all__ = []

_LOCAL = 64
_GEOM = "long H, long W, long PR, long PC"


def _lowest(dtype):
    if np.dtype(dtype).kind == "f":
        return literal(-np.inf, dtype)
    return literal(np.iinfo(dtype).min, dtype)


def _count_code(win, mode):
    """C statements computing ``cnt`` (entries averaged) for window (i, j)."""
    (wr, wc), (sr, sc), (pr, pc) = win.ws, win.stride, win.pad
    exc = mode == "average_exc_pad"
    lines = []
    for axis, (idx, w, s, p, n) in enumerate((("i", wr, sr, pr, "H"), ("j", wc, sc, pc, "W"))):
        lines.append(f"long st{axis} = {idx} * {s}, en{axis} = min(st{axis} + {w}, {n} + {2 * p});")
        if exc:
            lines.append(f"st{axis} = max(st{axis}, (long){p}); en{axis} = min(en{axis}, {n} + {p});")
    lines.append("const long cnt = (en0 - st0) * (en1 - st1);")
    return lines


def _value(t, fill, r, c):
    """Entry (r, c) of the padded input of image ``l`` (``fill`` outside the real image)."""
    return (f"(({r}) >= 0 && ({r}) < H && ({c}) >= 0 && ({c}) < W ? "
            f"x[l * H * W + ({r}) * W + ({c})] : {fill})")


def _first_hit(win, t, fill, m, a, b):
    """C expression: is offset (a, b) of the window at (r0, c0) its first entry equal to m?"""
    wc = win.ws[1]
    return (f"nnf_first_{t}_{wc}(x + l * H * W, H, W, r0, c0, {a}, {b}, {m}, {fill})")


def _first_helper(t, wc):
    return (f"inline int nnf_first_{t}_{wc}(__global const {t}* x, long H, long W, long r0, "
            f"long c0, long a, long b, {t} m, {t} fill) {{\n"
            f"  for (long aa = 0; aa <= a; ++aa)\n"
            f"    for (long bb = 0; bb < (aa < a ? {wc} : b + 1); ++bb) {{\n"
            f"      const long r = r0 + aa, c = c0 + bb;\n"
            f"      const {t} v = (r >= 0 && r < H && c >= 0 && c < W) ? x[r * W + c] : fill;\n"
            f"      if (v == m) return aa == a && bb == b;\n"
            f"    }}\n  return 0;\n}}\n")


class _Pooling:
    """Shared per-node state: window geometry, the contiguous-copy kernel, launches."""

    def __init__(self, builder, node, x_index=0):
        self.ctx = builder.ctx
        self.win = _Windows(node.op)
        x_type = node.inputs[x_index].type
        self.dtype = node.outputs[0].dtype
        self.ndim = x_type.ndim
        self.copy = EW.strided_copy(builder, x_type.dtype, x_type.dtype, x_type.ndim)

    def dense(self, a):
        if a.is_contiguous():
            return a
        out = empty(self.ctx, a.shape, a.dtype)
        return self.copy(out, a)

    def launch(self, kernel, n, *args):
        if n:
            kernel(self.ctx.queue, ((n + _LOCAL - 1) // _LOCAL * _LOCAL,), (_LOCAL,), n, *args)


def _add(builder, prefix, text, dtypes):
    return builder.kernel(text.replace("KNAME", kernel_name(prefix, text)), dtypes)


@register(Pool)
def pool_kernel(node, builder):
    pool = _Pooling(builder, node)
    win, mode, dtype = pool.win, node.op.mode, pool.dtype
    t = ctype(dtype)
    (wr, wc), (sr, sc), (pr, pc) = win.ws, win.stride, win.pad
    fill = _lowest(dtype) if mode == "max" else literal(0, dtype)
    if mode == "max":
        combine = "acc = (acc >= v || isnan(acc)) ? acc : v;" if t in ("float", "double") \
            else "acc = acc >= v ? acc : v;"
    else:
        combine = "acc += v;"
    lines = ["const long g = get_global_id(0);", "if (g >= n) return;",
             "const long j = g % PC, i = (g / PC) % PR, l = g / (PC * PR);",
             f"const long r0 = i * {sr} - {pr}, c0 = j * {sc} - {pc};",
             f"{t} acc = {_value(t, fill, 'r0', 'c0')};",
             f"for (long a = 0; a < {wr}; ++a)",
             f"  for (long b = (a == 0); b < {wc}; ++b) {{",
             f"    const {t} v = {_value(t, fill, 'r0 + a', 'c0 + b')};",
             f"    {combine}", "  }"]
    if mode.startswith("average"):
        lines += _count_code(win, mode) + [f"acc /= ({t})cnt;"]
    lines.append("out[g] = acc;")
    text = (f"__kernel void KNAME(long n, {_GEOM}, __global const {t}* x, long xo, "
            f"__global {t}* out) {{\n  x += xo;\n  " + "\n  ".join(lines) + "\n}\n")
    kernel = _add(builder, "pool", text, [np.int64] * 5 + [None, np.int64, None])

    def run(x):
        image = x.shape[-2:]
        pooled = win.pooled(image)
        out = empty(pool.ctx, x.shape[:-2] + pooled, dtype)
        buf, xo = device_args(pool.dense(x))
        if out.size:
            pool.launch(kernel, out.size, image[0], image[1], pooled[0], pooled[1], buf, xo,
                        out.data)
        return out
    return run


def _buffers(pool, arrays):
    """(buffer, offset) arguments of ``arrays``, made contiguous first."""
    args = []
    for a in arrays:
        args += list(device_args(pool.dense(a)))
    return args


def _window_range(s, w, p, idx, n_pooled):
    """C: the range of windows ``lo{idx}..hi{idx}`` (inclusive) containing position ``idx``."""
    return [f"long hi{idx} = ({idx} + {p}) / {s};",
            f"if (hi{idx} > {n_pooled} - 1) hi{idx} = {n_pooled} - 1;",
            f"long lo{idx} = ({idx} + {p} - {w} + 1 + {s} - 1); "
            f"lo{idx} = lo{idx} > 0 ? lo{idx} / {s} : 0;"]


@register(MaxPoolGrad)
def max_pool_grad_kernel(node, builder):
    pool = _Pooling(builder, node)
    win, dtype = pool.win, pool.dtype
    t = ctype(dtype)
    (wr, wc), (sr, sc), (pr, pc) = win.ws, win.stride, win.pad
    fill = _lowest(node.inputs[0].dtype)
    builder.helper(f"nnf_first_{t}_{wc}", _first_helper(t, wc))
    lines = ["const long g = get_global_id(0);", "if (g >= n) return;",
             "const long z = g % W, y = (g / W) % H, l = g / (W * H);"]
    lines += _window_range(sr, wr, pr, "y", "PR") + _window_range(sc, wc, pc, "z", "PC")
    lines += [f"{t} acc = 0;",
              "for (long i = hiy; i >= loy; --i)",
              "  for (long j = hiz; j >= loz; --j) {",
              f"    const long r0 = i * {sr} - {pr}, c0 = j * {sc} - {pc};",
              "    const long w = (l * PR + i) * PC + j;",
              # NumPy adds gz * hit: a NaN gradient spreads over its whole window
              f"    acc += {_first_hit(win, t, fill, 'm[w]', 'y - r0', 'z - c0')} ? gz[w] : gz[w] * 0;",
              "  }",
              "out[g] = acc;"]
    text = (f"__kernel void KNAME(long n, {_GEOM}, __global const {t}* x, long xo, "
            f"__global const {t}* m, long mo, __global const {t}* gz, long gzo, __global {t}* out) "
            "{\n  x += xo; m += mo; gz += gzo;\n  " + "\n  ".join(lines) + "\n}\n")
    kernel = _add(builder, "maxpoolg", text, [np.int64] * 5 + [None, np.int64] * 3 + [None])

    def run(x, maxout, gz):
        image = x.shape[-2:]
        pooled = win.pooled(image)
        node.op.check_pooled_shape(maxout.shape, x.shape[:-2], pooled, "max-pooled input")
        node.op.check_pooled_shape(gz.shape, x.shape[:-2], pooled)
        out = empty(pool.ctx, x.shape, dtype)
        if 0 in pooled:
            return _zeros(pool, out)
        pool.launch(kernel, out.size, image[0], image[1], pooled[0], pooled[1],
                    *_buffers(pool, (x, maxout, gz)), out.data)
        return out
    return run


def _zeros(pool, out):
    if out.size:
        from nnframe.backends.opencl.array import DeviceArray
        zero = DeviceArray(pool.ctx, (), out.dtype, host=np.zeros((), out.dtype))
        zero = zero.view((1,) * out.ndim, (0,) * out.ndim, 0, lambda h: h.reshape((1,) * out.ndim))
        pool.copy(out, zero)
    return out


@register(MaxPoolGradGrad)
def max_pool_grad_grad_kernel(node, builder):
    pool = _Pooling(builder, node)
    win, dtype = pool.win, pool.dtype
    t = ctype(dtype)
    (wr, wc), (sr, sc), (pr, pc) = win.ws, win.stride, win.pad
    fill = _lowest(node.inputs[0].dtype)
    builder.helper(f"nnf_first_{t}_{wc}", _first_helper(t, wc))
    lines = ["const long g = get_global_id(0);", "if (g >= n) return;",
             "const long j = g % PC, i = (g / PC) % PR, l = g / (PC * PR);",
             f"const long r0 = i * {sr} - {pr}, c0 = j * {sc} - {pc};",
             f"{t} acc = 0;",
             f"for (long a = 0; a < {wr}; ++a)",
             f"  for (long b = 0; b < {wc}; ++b) {{",
             "    const long r = r0 + a, c = c0 + b;",
             f"    const {t} v = (r >= 0 && r < H && c >= 0 && c < W) ? gg[l * H * W + r * W + c] : 0;",
             # NumPy adds ggx * hit over every offset: NaNs elsewhere in the window spread
             f"    acc += {_first_hit(win, t, fill, 'm[g]', 'a', 'b')} ? v : v * 0;", "  }",
             "out[g] = acc;"]
    text = (f"__kernel void KNAME(long n, {_GEOM}, __global const {t}* x, long xo, "
            f"__global const {t}* m, long mo, __global const {t}* gg, long ggo, __global {t}* out) "
            "{\n  x += xo; m += mo; gg += ggo;\n  " + "\n  ".join(lines) + "\n}\n")
    kernel = _add(builder, "maxpoolgg", text, [np.int64] * 5 + [None, np.int64] * 3 + [None])

    def run(x, maxout, ggx):
        node.op.check_grad_shape(ggx.shape, x.shape)
        image = x.shape[-2:]
        pooled = win.pooled(image)
        node.op.check_pooled_shape(maxout.shape, x.shape[:-2], pooled, "max-pooled input")
        out = empty(pool.ctx, maxout.shape, dtype)
        if 0 in pooled:
            return _zeros(pool, out)
        pool.launch(kernel, out.size, image[0], image[1], pooled[0], pooled[1],
                    *_buffers(pool, (x, maxout, ggx)), out.data)
        return out
    return run


@register(AveragePoolGrad)
def average_pool_grad_kernel(node, builder):
    pool = _Pooling(builder, node)
    win, dtype, mode = pool.win, pool.dtype, node.op.mode
    t = ctype(dtype)
    (wr, wc), (sr, sc), (pr, pc) = win.ws, win.stride, win.pad
    lines = ["const long g = get_global_id(0);", "if (g >= n) return;",
             "const long z = g % W, y = (g / W) % H, l = g / (W * H);"]
    lines += _window_range(sr, wr, pr, "y", "PR") + _window_range(sc, wc, pc, "z", "PC")
    lines += [f"{t} acc = 0;",
              "for (long i = hiy; i >= loy; --i)",
              "  for (long j = hiz; j >= loz; --j) {",
              f"    {t} v = gz[(l * PR + i) * PC + j];"]
    if mode != "sum":
        lines += ["    " + s for s in _count_code(win, mode)] + [f"    v /= ({t})cnt;"]
    lines += ["    acc += v;", "  }", "out[g] = acc;"]
    text = (f"__kernel void KNAME(long n, {_GEOM}, __global const {t}* gz, long gzo, "
            f"__global {t}* out) {{\n  gz += gzo;\n  " + "\n  ".join(lines) + "\n}\n")
    kernel = _add(builder, "avgpoolg", text, [np.int64] * 5 + [None, np.int64, None])

    def run(gz, rows, cols):
        image = (int(host_view(rows)), int(host_view(cols)))
        pooled = win.pooled(image)
        lead = gz.shape[:-2]
        node.op.check_pooled_shape(gz.shape, lead, pooled)
        out = empty(pool.ctx, lead + image, dtype)
        if 0 in pooled:
            return _zeros(pool, out)
        pool.launch(kernel, out.size, image[0], image[1], pooled[0], pooled[1],
                    *_buffers(pool, (gz,)), out.data)
        return out
    return run
