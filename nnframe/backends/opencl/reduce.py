"""Reductions along any axes: sum, prod, max, min, all, any, argmax, argmin.

The input is read through its strides: the kept axes and the reduced axes
are each merged where the layout allows (on the host, per call), then one
work-item per output (and per chunk of the outermost reduced axis, when the
reduction is long) loops over the reduced elements.  Long reductions run in
two stages (partials per chunk, then one pass over the partials), which
keeps both parallelism and accuracy.  float32 sums and products accumulate
in double where the device has fp64 (NumPy's pairwise float32 sum is more
accurate than a plain float32 loop).  max/min propagate NaN and
argmax/argmin return the first maximum (or the first NaN), as NumPy does.
"""
import numpy as np

from nnframe.backends.opencl.array import empty, device_args
from nnframe.backends.opencl.codegen import ctype, kernel_name, literal
from nnframe.backends.opencl.elemwise import long8
from nnframe.backends.opencl.registry import register
from nnframe.core.ops import reduce as R

__all__ = ["Reduction"]

#: reduced elements per work-item above which a reduction is split in chunks
CHUNK = 4096
_LOCAL = 64


def _init(kind, dtype):
    kindc = np.dtype(dtype).kind
    if kind == "sum" or kind == "any":
        return literal(0, dtype)
    if kind in ("prod", "all"):
        return literal(1, dtype)
    if kind == "max":
        return literal(-np.inf, dtype) if kindc == "f" else literal(np.iinfo(dtype).min, dtype)
    if kind == "min":
        return literal(np.inf, dtype) if kindc == "f" else literal(np.iinfo(dtype).max, dtype)
    raise ValueError(kind)


def _update(kind, acc_dtype):
    """A C statement folding value ``v`` into ``acc``."""
    t = ctype(acc_dtype)
    isf = np.dtype(acc_dtype).kind == "f"
    if kind == "sum":
        return f"acc += ({t})v;"
    if kind == "prod":
        return f"acc *= ({t})v;"
    if kind in ("max", "min"):
        op = ">" if kind == "max" else "<"
        nan = "isnan(v) || " if isf else ""
        return f"if ({nan}v {op} acc) acc = v;"
    if kind == "all":
        return "acc = acc && (v != 0);"
    if kind == "any":
        return "acc = acc || (v != 0);"
    raise ValueError(kind)


def _decode(nk, var):
    """Statements decoding output index ``var`` into kept coordinates k0..."""
    lines = [f"long q = {var};"]
    for d in range(nk - 1, 0, -1):
        lines.append(f"long k{d} = 0; if (ks.s{d} != 1) {{ k{d} = q % ks.s{d}; q /= ks.s{d}; }}")
    lines.append("long k0 = q;")
    return lines


def _loops(nr, body, chunked):
    """Nested loops over the reduced axes (the first one limited to [lo, hi) when chunked)."""
    lines = []
    for d in range(nr):
        lo, hi = ("lo", "hi") if d == 0 and chunked else ("0", f"rs.s{d}")
        lines.append("  " * d + f"for (long r{d} = {lo}; r{d} < {hi}; ++r{d}) {{")
    lines += ["  " * nr + b for b in body]
    lines += ["  " * d + "}" for d in reversed(range(nr))]
    return lines


class Reduction:
    """The kernels of one reduction of an input of ``nk`` kept and ``nr`` reduced axes."""

    def __init__(self, builder, kind, in_dtype, out_dtype, nk, nr):
        import pyopencl.cltypes as cltypes
        self.ctx = builder.ctx
        self.kind = kind
        self.out_dtype = out_dtype
        self.nk, self.nr = max(nk, 1), max(nr, 1)
        self.arg = kind in ("argmax", "argmin")
        acc = out_dtype
        if kind in ("sum", "prod") and out_dtype == "float32" and self.ctx.fp64:
            acc = "float64"
        if kind in ("all", "any"):
            acc = "int32"
        self.acc_dtype = acc
        it, at = ctype(in_dtype), ctype(acc)
        offset = " + ".join([f"k{d} * kt.s{d}" for d in range(self.nk)]
                            + [f"r{d} * rt.s{d}" for d in range(self.nr)])
        head = ["long g = get_global_id(0);", "if (g >= n_out * n_chunks) return;",
                "long o = g / n_chunks, c = g % n_chunks;"] + _decode(self.nk, "o")
        head += ["long lo = c * chunk, hi = min(rs.s0, lo + chunk);"]
        if self.arg:
            isf = np.dtype(in_dtype).kind == "f"
            op = ">" if kind == "argmax" else "<"
            nan_best = "!isnan(best) && " if isf else ""
            nan_v = "isnan(v) || " if isf else ""
            lin = "r0"
            for d in range(1, self.nr):
                lin = f"({lin}) * rs.s{d} + r{d}"
            body = [f"const {it} v = x[xo + {offset}];", f"const long lin = {lin};",
                    f"if (first) {{ best = v; bi = lin; first = 0; }}",
                    f"else if ({nan_best}({nan_v}v {op} best)) {{ best = v; bi = lin; }}"]
            lines = head + [f"{it} best = 0; long bi = 0; int first = 1;"]
            lines += _loops(self.nr, body, False)
            lines.append("out[o] = bi;")
            out_t = "long"
        else:
            body = [f"const {it} v = x[xo + {offset}];", _update(kind, acc)]
            lines = head + [f"{at} acc = {_init(kind, acc)};"]
            lines += _loops(self.nr, body, True)
            lines.append("part[g] = acc;")
            out_t = at
        params = ("long n_out, long n_chunks, long chunk, long8 ks, long8 kt, long8 rs, "
                  f"long8 rt, __global const {it}* x, long xo, __global {out_t}* "
                  + ("out" if self.arg else "part"))
        self.partial = self._add(builder, "red", params, lines,
                                 [np.int64] * 3 + [cltypes.long8] * 4 + [None, np.int64, None])
        if not self.arg:
            ot = ctype(out_dtype)
            combine = ["long o = get_global_id(0);", "if (o >= n_out) return;",
                       f"{at} acc = {_init(kind, acc)};",
                       "for (long c = 0; c < n_chunks; ++c) {",
                       f"  const {at} v = part[o * n_chunks + c];", "  " + _update(kind, acc), "}",
                       f"out[o] = ({ot})acc;"]
            params = f"long n_out, long n_chunks, __global const {at}* part, __global {ot}* out"
            self.combine = self._add(builder, "redc", params, combine,
                                     [np.int64, np.int64, None, None])

    @staticmethod
    def _add(builder, prefix, params, lines, scalar_dtypes):
        text = f"__kernel void KNAME({params}) {{\n  " + "\n  ".join(lines) + "\n}\n"
        return builder.kernel(text.replace("KNAME", kernel_name(prefix, text)), scalar_dtypes)

    def run(self, x, axes):
        """Reduce DeviceArray ``x`` over ``axes``; returns the output (kept axes, in order)."""
        ctx = self.ctx
        kept = [a for a in range(x.ndim) if a not in axes]
        out_shape = tuple(x.shape[a] for a in kept)
        out = empty(ctx, out_shape, "int64" if self.arg else self.out_dtype)
        n_out = out.size
        if n_out == 0:
            return out
        ks, kt = _merge([x.shape[a] for a in kept], [x.strides[a] for a in kept])
        rs, rt = _merge([x.shape[a] for a in axes], [x.strides[a] for a in axes])
        if len(ks) > self.nk or len(rs) > self.nr:
            raise AssertionError("merged axes exceed the kernel's")
        ks, kt = [1] * (self.nk - len(ks)) + ks, [0] * (self.nk - len(kt)) + kt
        rs, rt = rs + [1] * (self.nr - len(rs)), rt + [0] * (self.nr - len(rt))
        total = int(np.prod(rs))
        rest = max(total // max(rs[0], 1), 1)
        if self.arg or total <= CHUNK:
            chunk, n_chunks = max(rs[0], 1), 1
        else:
            chunk = max(1, CHUNK // rest)
            n_chunks = (rs[0] + chunk - 1) // chunk
        buf, xo = device_args(x)
        queue = ctx.queue
        n = n_out * n_chunks
        gsize = ((n + _LOCAL - 1) // _LOCAL * _LOCAL,)
        args = [n_out, n_chunks, chunk, long8(ks), long8(kt), long8(rs), long8(rt), buf, xo]
        if self.arg or n_chunks == 1 and self.acc_dtype == self.out_dtype:
            self.partial(queue, gsize, (_LOCAL,), *args, out.data)
            return out
        part = empty(ctx, (n,), self.acc_dtype)
        self.partial(queue, gsize, (_LOCAL,), *args, part.data)
        self.combine(queue, ((n_out + _LOCAL - 1) // _LOCAL * _LOCAL,), (_LOCAL,), n_out,
                     n_chunks, part.data, out.data)
        return out


def _merge(shape, strides):
    """Drop length-1 axes and merge adjacent axes that are contiguous with each other."""
    dims = [(n, s) for n, s in zip(shape, strides) if n != 1]
    if not dims:
        return [], []
    merged = [list(dims[0])]
    for n, s in dims[1:]:
        if merged[-1][1] == s * n:
            merged[-1] = [merged[-1][0] * n, s]
        else:
            merged.append([n, s])
    return [m[0] for m in merged], [m[1] for m in merged]


_KINDS = {R.Sum: "sum", R.Prod: "prod", R.Max: "max", R.Min: "min", R.All: "all", R.Any: "any"}


@register(R.Sum, R.Prod, R.Max, R.Min, R.All, R.Any)
def reduce_kernel(node, builder):
    kind = _KINDS[type(node.op)]
    axes = node.op.axis
    x_type = node.inputs[0].type
    red = Reduction(builder, kind, x_type.dtype, node.outputs[0].dtype,
                    x_type.ndim - len(axes), len(axes))
    empty_error = kind in ("max", "min")

    def run(x):
        if empty_error and x.size == 0:
            raise ValueError(f"{kind} of an empty array (shape {x.shape}) has no value")
        return red.run(x, axes)
    return run


@register(R.Argmax, R.Argmin)
def arg_kernel(node, builder):
    kind = "argmax" if isinstance(node.op, R.Argmax) else "argmin"
    x_type = node.inputs[0].type
    axes = tuple(range(x_type.ndim)) if node.op.axis is None else (node.op.axis,)
    red = Reduction(builder, kind, x_type.dtype, "int64", x_type.ndim - len(axes), len(axes))

    def run(x):
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"attempt to get {kind} of an empty sequence (shape {x.shape})")
        return red.run(x, axes)
    return run
