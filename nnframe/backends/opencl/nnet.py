"""The nnet family on the device: softmaxes, their gradient, one-hot and 1-hot crossentropies.

Softmax-like ops run one work-item per row (the softmax axis), rows being
enumerated over the other axes through their strides.  Each row is reduced
twice (max, then the sum of exponentials) as the NumPy kernels do, with the
maximum subtracted so nothing overflows.  The sums are NumPy's: pairwise
when the NumPy kernel's temporary is summed along its innermost axis,
else in order, in the input's dtype, so results round identically.

Class indices are checked like the NumPy kernels do: on the host when the
indices are there (a minibatch of labels passed to the function), else on
the device, where a bad index sets the error flag that the next download
reports (and the kernel never reads outside the row).
"""
import math

import numpy as np

from nnframe.backends.opencl.array import device_args, empty, host_check, raw_host
from nnframe.backends.opencl.codegen import ctype, kernel_name, literal
from nnframe.backends.opencl.elemwise import long8
from nnframe.backends.opencl.reduce import pairwise_helpers
from nnframe.backends.opencl.registry import register
from nnframe.core.ops import nnet as N

__all__ = ["RowCode", "IndexCheck"]

_LOCAL = 64


def _decode(nk):
    lines = ["long q = row;"]
    for d in range(nk - 1, 0, -1):
        lines.append(f"long k{d} = 0; if (ks.s{d} != 1) {{ k{d} = q % ks.s{d}; q /= ks.s{d}; }}")
    lines.append("long k0 = q;")
    return lines


class RowCode:
    """A kernel looping over rows along one axis of same-shaped operands.

    ``body`` is C code using ``n`` (the row length) and, per operand ``p``,
    ``p[j * pr]`` for entry j of the row (``pr`` its stride along the row;
    the pointer already points at the row's start).  ``operands`` lists
    (name, dtype, writable); the output is one of them.
    """

    def __init__(self, builder, prefix, operands, nk, body):
        import pyopencl.cltypes as cltypes
        self.ctx = builder.ctx
        self.nk = max(nk, 1)
        self.operands = operands
        params = ["long rows", "long n", "int pw", "long8 ks"]
        dtypes = [np.int64, np.int64, np.int32, cltypes.long8]
        lines = ["long row = get_global_id(0);", "if (row >= rows) return;"] + _decode(self.nk)
        for name, dtype, writable in operands:
            const = "" if writable else "const "
            params += [f"__global {const}{ctype(dtype)}* {name}", f"long {name}o",
                       f"long8 {name}t", f"long {name}r"]
            dtypes += [None, np.int64, cltypes.long8, np.int64]
            offset = " + ".join(f"k{d} * {name}t.s{d}" for d in range(self.nk))
            lines.append(f"{name} += {name}o + {offset};")
        text = ("__kernel void KNAME(" + ", ".join(params) + ") {\n  " + "\n  ".join(lines)
                + "\n" + body + "\n}\n")
        self.kernel = builder.kernel(text.replace("KNAME", kernel_name(prefix, text)), dtypes)

    def run(self, arrays, axis):
        """Launch over ``arrays`` (DeviceArrays of one shape, in ``operands`` order)."""
        shape = arrays[0].shape
        kept = [a for a in range(len(shape)) if a != axis]
        rows = int(math.prod([shape[a] for a in kept]))
        n = shape[axis] if axis is not None else 1
        if rows == 0 or n == 0:
            return
        ks = [shape[a] for a in kept][-self.nk:] if kept else []
        ks = [1] * (self.nk - len(ks)) + ks
        args = []
        for a in arrays:
            buf, off = device_args(a)
            kt = [a.strides[d] for d in kept]
            kt = [0] * (self.nk - len(kt)) + kt
            args += [buf, off, long8(kt), a.strides[axis] if axis is not None else 1]
        # NumPy sums its (C-contiguous) temporary pairwise when ``axis`` is innermost.
        pw = int(axis is None or all(m == 1 for m in shape[axis + 1:]))
        self.kernel(self.ctx.queue, ((rows + _LOCAL - 1) // _LOCAL * _LOCAL,), (_LOCAL,),
                    rows, n, pw, long8(ks), *args)


def _exp_sum(builder, t, x, stride, pw="pw"):
    """C statements: ``s``, the sum of exp(x[j] - m) over the row, rounded as NumPy does."""
    name = f"nnf_pwexp_{t}"
    for key, src in pairwise_helpers(t, name, f"__global const {t}* a, {t} m, long s",
                                     "a, m, s", "exp(a[({q}) * s] - m)").items():
        builder.helper(key, src)
    return (f"  {t} s = 0;\n"
            f"  if ({pw}) s = {name}({x}, m, {stride}, n);\n"
            f"  else for (long j = 0; j < n; ++j) s += exp({x}[j * {stride}] - m);\n")


def _row_max(t, src):
    return (f"  {t} m = -INFINITY;\n"
            f"  for (long j = 0; j < n; ++j) {{ const {t} v = {src}; "
            f"if (isnan(v) || v > m) m = v; }}\n")


class _Softmax:
    """Softmax or log-softmax along ``axis`` (None: over all axes, as one row)."""

    def __init__(self, builder, node, log):
        from nnframe.backends.opencl.elemwise import strided_copy
        self.ctx = builder.ctx
        x_type = node.inputs[0].type
        self.dtype = x_type.dtype
        self.axis = node.op.axis
        t = ctype(self.dtype)
        body = _row_max(t, "x[j * xr]") + _exp_sum(builder, t, "x", "xr")
        if log:
            body += (f"  const {t} ls = log(s);\n"
                     "  for (long j = 0; j < n; ++j) out[j * outr] = (x[j * xr] - m) - ls;")
        else:
            body += "  for (long j = 0; j < n; ++j) out[j * outr] = exp(x[j * xr] - m) / s;"
        nk = x_type.ndim - 1 if self.axis is not None else 1
        self.code = RowCode(builder, "lsm" if log else "sm",
                            [("x", self.dtype, False), ("out", self.dtype, True)], nk, body)
        self.copy = strided_copy(builder, self.dtype, self.dtype, x_type.ndim)

    def run(self, x):
        out = empty(self.ctx, x.shape, self.dtype)
        if self.axis is None:
            # One row over every entry: make it contiguous, view it as (1, size).
            if not x.is_contiguous():
                dense = empty(self.ctx, x.shape, self.dtype)
                self.copy(dense, x)
                x = dense
            flat = x.view((1, x.size), (0, 1), x.offset, lambda h: h.reshape(1, -1))
            self.code.run([flat, out.view((1, x.size), (0, 1), 0, None)], 1)
            return out
        self.code.run([x, out], self.axis)
        return out


@register(N.Softmax)
def softmax_kernel(node, builder):
    return _Softmax(builder, node, log=False).run


@register(N.LogSoftmax)
def log_softmax_kernel(node, builder):
    return _Softmax(builder, node, log=True).run


@register(N.SoftmaxGrad)
def softmax_grad_kernel(node, builder):
    if node.op.axis is None:
        return None  # rare: the host fallback
    dtype = node.outputs[0].dtype
    t = ctype(dtype)
    name = f"nnf_pwmul_{t}"
    for key, src in pairwise_helpers(t, name, f"__global const {t}* a, long sa, "
                                     f"__global const {t}* b, long sb", "a, sa, b, sb",
                                     "a[({q}) * sa] * b[({q}) * sb]").items():
        builder.helper(key, src)
    # NumPy: out = g * s; total = out.sum(axis); out -= s * total
    body = (f"  {t} total = 0;\n"
            f"  if (pw) total = {name}(g, gr, sm, smr, n);\n"
            "  else for (long j = 0; j < n; ++j) total += g[j * gr] * sm[j * smr];\n"
            "  for (long j = 0; j < n; ++j) "
            "out[j * outr] = g[j * gr] * sm[j * smr] - sm[j * smr] * total;")
    ndim = node.outputs[0].ndim
    code = RowCode(builder, "smg", [("g", dtype, False), ("sm", dtype, False),
                                    ("out", dtype, True)], ndim - 1, body)
    axis = node.op.axis
    ctx = builder.ctx

    def run(g, s):
        if g.shape != s.shape:
            raise ValueError(f"SoftmaxGrad: gradient of shape {g.shape} for a softmax of "
                             f"shape {s.shape}")
        out = empty(ctx, s.shape, dtype)
        code.run([g, s, out], axis)
        return out
    return run


class IndexCheck:
    """Checks class indices: on the host when they are there, else flags a device error."""

    def __init__(self, builder, what):
        self.ctx = builder.ctx
        self.what = what
        self.code = self.ctx.register_error(
            f"{what}: a class index is out of range for the number of classes")

    def host(self, coding, indices, rows):
        """True when checked on the host (raises there); False: the kernel must check."""
        if raw_host(indices) is None:
            return False
        if rows:
            host_check(N.check_index_rows, coding.shape, indices, self.what)
        else:
            host_check(N.check_class_indices, indices, coding.shape[1], self.what)
        return True

    def flag(self, checked):
        if not checked:
            self.ctx.pending_check = True


def _crossentropy(builder, node, prefix, what, row_body, out_is_matrix, with_softmax=False):
    """Kernels over rows i of a (rows, classes) matrix with class index y[i].

    ``with_softmax``: a second output ``sm``, the (rows, classes) softmax.
    """
    ctx = builder.ctx
    check = IndexCheck(builder, what)
    t = ctype(node.outputs[0].dtype)
    operands = node.inputs
    params = ["long rows", "long n", "__global int* err", "int code"]
    dtypes = [np.int64, np.int64, None, np.int32]
    names = ["g", "c", "y"] if len(operands) == 3 else ["c", "y"]
    for name, var in zip(names, operands):
        params += [f"__global const {ctype(var.dtype)}* {name}", f"long {name}o"]
        params += [f"long {name}s0"] + ([f"long {name}s1"] if var.ndim == 2 else [])
        dtypes += [None, np.int64, np.int64] + ([np.int64] if var.ndim == 2 else [])
    params += [f"__global {t}* out", "long outs0", "long outs1"]
    dtypes += [None, np.int64, np.int64]
    if with_softmax:
        params += [f"__global {t}* sm"]
        dtypes += [None]
    lines = ["long i = get_global_id(0);", "if (i >= rows) return;",
             "const long yi = (long)y[yo + i * ys0];",
             "const int bad = yi < 0 || yi >= n;",
             "if (bad) NNF_ERR(err, code, yi);",
             "const long cls = bad ? 0 : yi;"]
    text = ("__kernel void KNAME(" + ", ".join(params) + ") {\n  " + "\n  ".join(lines) + "\n"
            + row_body + "\n}\n")
    kernel = builder.kernel(text.replace("KNAME", kernel_name(prefix, text)), dtypes)
    out_dtype = node.outputs[0].dtype

    def run(*values):
        coding = values[-2]
        indices = values[-1]
        rows, n = coding.shape
        checked = check.host(coding, indices, True)
        if not checked and indices.shape[0] != rows:  # the kernel checks only the values
            raise N.row_count_error(coding.shape, indices.shape[0], what)
        out = empty(ctx, (rows, n) if out_is_matrix else (rows,), out_dtype)
        extra = [empty(ctx, (rows, n), out_dtype)] if with_softmax else []
        if rows == 0:
            return (out, *extra) if extra else out
        args = []
        for v in values:
            buf, off = device_args(v)
            args += [buf, off] + list(v.strides)
        out_strides = list(out.strides) + ([0] if not out_is_matrix else [])
        kernel(ctx.queue, ((rows + _LOCAL - 1) // _LOCAL * _LOCAL,), (_LOCAL,), rows, n,
               ctx.err, check.code, *args, out.data, *out_strides, *[e.data for e in extra])
        check.flag(checked)
        return (out, *extra) if extra else out
    return run


@register(N.CrossentropyCategorical1Hot)
def crossentropy_1hot_kernel(node, builder):
    t = ctype(node.outputs[0].dtype)
    body = f"  out[i * outs0] = bad ? ({t})NAN : -log(c[co + i * cs0 + cls * cs1]);"
    return _crossentropy(builder, node, "xent", "categorical_crossentropy", body, False)


@register(N.CrossentropyCategorical1HotGrad)
def crossentropy_1hot_grad_kernel(node, builder):
    t = ctype(node.outputs[0].dtype)
    body = (f"  const {t} gi = g[go + i * gs0];\n"
            "  for (long j = 0; j < n; ++j)\n"
            f"    out[i * outs0 + j * outs1] = (j == yi) ? -gi / c[co + i * cs0 + j * cs1] : "
            f"({t})0;")
    return _crossentropy(builder, node, "xentg", "categorical_crossentropy gradient", body, True)


@register(N.CrossentropySoftmax1Hot)
def crossentropy_softmax_kernel(node, builder):
    dtype = node.outputs[0].dtype
    t = ctype(dtype)
    # The loss and the softmax (which the gradient reuses), as the NumPy kernel rounds them.
    body = (_row_max(t, "c[co + i * cs0 + j * cs1]")
            + f"  const __global {t}* row = c + co + i * cs0;\n"
            + _exp_sum(builder, t, "row", "cs1", pw="1")
            + f"  const {t} norm = s;\n"
            f"  out[i * outs0] = bad ? ({t})NAN : log(norm) - (c[co + i * cs0 + cls * cs1] - m);\n"
            "  for (long j = 0; j < n; ++j) "
            "sm[i * n + j] = exp(c[co + i * cs0 + j * cs1] - m) / norm;")
    return _crossentropy(builder, node, "xsm", "categorical_crossentropy_from_logits", body,
                         False, with_softmax=True)


@register(N.CrossentropySoftmax1HotDx)
def crossentropy_softmax_dx_kernel(node, builder):
    t = ctype(node.outputs[0].dtype)
    body = (f"  const {t} gi = g[go + i * gs0];\n"
            "  for (long j = 0; j < n; ++j) {\n"
            f"    const {t} v = c[co + i * cs0 + j * cs1] * gi;\n"
            "    out[i * outs0 + j * outs1] = (j == yi) ? v - gi : v;\n  }")
    return _crossentropy(builder, node, "xsmdx", "categorical_crossentropy gradient", body, True)


@register(N.OneHot)
def one_hot_kernel(node, builder):
    from nnframe.backends.opencl.array import host_view
    ctx = builder.ctx
    dtype = node.outputs[0].dtype
    t = ctype(dtype)
    yt = ctype(node.inputs[0].dtype)
    code = ctx.register_error("one_hot: a class index is out of range for the number of classes")
    text = (f"__kernel void KNAME(long rows, long n, __global const {yt}* y, long yo, long ys, "
            f"__global {t}* out, __global int* err, int code) {{\n"
            "  long i = get_global_id(1), j = get_global_id(0);\n"
            "  if (i >= rows || j >= n) return;\n"
            "  const long yi = (long)y[yo + i * ys];\n"
            "  if (j == 0 && (yi < 0 || yi >= n)) NNF_ERR(err, code, yi);\n"
            f"  out[i * n + j] = (j == yi) ? {literal(1, dtype)} : {literal(0, dtype)};\n}}\n")
    kernel = builder.kernel(text.replace("KNAME", kernel_name("onehot", text)),
                            [np.int64, np.int64, None, np.int64, np.int64, None, None, np.int32])

    def run(y, n):
        n = int(host_view(n))
        N.OneHot.check_n_classes(n)
        checked = raw_host(y) is not None
        if checked:
            host_check(N.check_class_indices, y, n, "one_hot")
        rows = y.shape[0]
        out = empty(ctx, (rows, n), dtype)
        if out.size == 0:
            return out
        buf, off = device_args(y)
        kernel(ctx.queue, ((n + 15) // 16 * 16, (rows + 3) // 4 * 4), (16, 4), rows, n, buf, off,
               y.strides[0], out.data, ctx.err, code)
        if not checked:
            ctx.pending_check = True
        return out
    return run
