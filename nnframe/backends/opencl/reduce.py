"""Reductions along any axes: sum, prod, max, min, all, any, argmax, argmin.

The input is read through its strides: the kept axes and the reduced axes
are each merged where the layout allows (on the host, per call), then one
work-item per output loops over the reduced entries in row-major order.

Float sums reproduce NumPy's rounding exactly: NumPy sums a reduced run that
is contiguous in memory pairwise (blocks of 8 accumulators, halving above
128 entries) and adds runs (or entries, along other axes) one after the
other into a zero; the kernel does the same, in the same order.  Products
multiply in order, as NumPy does.  max/min propagate NaN and argmax/argmin
return the first maximum (or the first NaN).

Reductions whose order does not change the result (integers, max, min,
all, any) split long reduced axes in chunks over several work-items and
combine the partials in a second pass; float sums and products do so only
for very long reductions (over 2**20 entries per output) with few outputs,
where parallelism matters more than NumPy's exact rounding.
"""
import math

import numpy as np

from nnframe.backends.opencl.array import device_args, empty
from nnframe.backends.opencl.codegen import ctype, kernel_name, literal
from nnframe.backends.opencl.elemwise import long8
from nnframe.backends.opencl.fusion import register_epilogue
from nnframe.backends.opencl.registry import register
from nnframe.core.ops import reduce as reduce_ops

__all__ = ["Reduction", "pairwise_helpers"]

#: reduced entries per work-item above which order-free reductions split in chunks
CHUNK = 4096
#: float sums/products longer than this (with few outputs) split too (not NumPy-exact)
LONG = 1 << 20
_LOCAL = 64


def pairwise_helpers(t, name=None, params=None, args=None, value=None):
    """C helpers summing ``n`` values as NumPy's pairwise sum does, without recursion.

    By default ``nnf_pw_<t>(a, s, n)`` sums ``a[0], a[s], ...``.  Other sums
    give their own ``name``, C ``params`` (and the ``args`` passing them on)
    and ``value``, a C expression of the index ``{q}`` (e.g. ``exp(a[({q}) * s] - m)``).
    NumPy: fewer than 8 values are added in order to 0; up to 128 go to 8
    accumulators combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)) plus the rest in
    order; longer runs are split at half (rounded down to a multiple of 8).
    """
    name = name or f"nnf_pw_{t}"
    params = params or f"__global const {t}* a, long s"
    args = args or "a, s"
    value = value or "a[({q}) * s]"
    val = lambda q: value.format(q=q)  # noqa: E731
    leaf = (f"inline {t} {name}_leaf({params}, long q0, long n) {{\n"
            f"  if (n < 8) {{ {t} res = 0; for (long i = 0; i < n; ++i) res += {val('q0 + i')}; "
            "return res; }\n"
            + "".join(f"  {t} r{k} = {val(f'q0 + {k}')};\n" for k in range(8))
            + "  long i;\n  for (i = 8; i < n - (n % 8); i += 8) {\n"
            + "".join(f"    r{k} += {val(f'q0 + i + {k}')};\n" for k in range(8))
            + f"  }}\n  {t} res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));\n"
            f"  for (; i < n; ++i) res += {val('q0 + i')};\n  return res;\n}}\n")
    tree = (f"inline {t} {name}({params}, long n) {{\n"
            f"  if (n <= 128) return {name}_leaf({args}, 0, n);\n"
            f"  long fs[64], fn[64]; {t} fl[64]; int st[64]; int sp = 1;\n"
            "  fs[0] = 0; fn[0] = n; st[0] = 0;\n"
            "  while (sp) {\n"
            "    const int t = sp - 1;\n"
            "    if (st[t] == 0 && fn[t] > 128) {\n"
            "      long h = fn[t] / 2; h -= h % 8;\n"
            "      st[t] = 1; fs[sp] = fs[t]; fn[sp] = h; st[sp] = 0; ++sp; continue;\n"
            "    }\n"
            f"    {t} v = {name}_leaf({args}, fs[t], fn[t]); --sp;\n"
            "    while (sp) {\n"
            "      const int p = sp - 1;\n"
            "      if (st[p] == 1) {\n"
            "        long h = fn[p] / 2; h -= h % 8;\n"
            "        fl[p] = v; st[p] = 2; fs[sp] = fs[p] + h; fn[sp] = fn[p] - h; st[sp] = 0;\n"
            "        ++sp; break;\n"
            "      }\n"
            "      v = fl[p] + v; --sp;\n"
            "    }\n"
            "    if (!sp) return v;\n"
            "  }\n  return 0;\n}\n")
    return {f"{name}_leaf": leaf, name: tree}


def _init(kind, dtype):
    kindc = np.dtype(dtype).kind
    if kindc == "b" and kind in ("max", "min"):
        return literal(kind == "min", dtype)
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


def _loops(nr, body, first=0):
    """Nested loops over reduced axes ``first..nr-1``; axis ``cdim`` is limited to [lo, hi)."""
    lines = []
    for k, d in enumerate(range(first, nr)):
        lines.append("  " * k + f"for (long r{d} = (cdim == {d} ? lo : 0); "
                     f"r{d} < (cdim == {d} ? hi : rs.s{d}); ++r{d}) {{")
    depth = nr - first
    lines += ["  " * depth + b for b in body]
    lines += ["  " * k + "}" for k in reversed(range(depth))]
    return lines


class Reduction:
    """The kernels of one reduction of an input of ``nk`` kept and ``nr`` reduced axes.

    With an ``epilogue`` (:class:`~nnframe.backends.opencl.fusion.Epilogue`; not for
    argmax/argmin) the one-pass kernel stores the epilogue's value of each result
    (:meth:`run_fused`): a bias gradient's sum and the parameter's update in one kernel.
    """

    def __init__(self, builder, kind, in_dtype, out_dtype, nk, nr, epilogue=None):
        import pyopencl.cltypes as cltypes
        self.ctx = builder.ctx
        self.epilogue = epilogue
        self.kind = kind
        self.out_dtype = out_dtype
        self.nk, self.nr = max(nk, 1), max(nr, 1)
        self.arg = kind in ("argmax", "argmin")
        acc = "int32" if kind in ("all", "any") else out_dtype
        self.acc_dtype = acc
        self.exact_order = kind in ("sum", "prod") and np.dtype(out_dtype).kind == "f"
        self.pairwise = kind == "sum" and np.dtype(in_dtype).kind == "f" and in_dtype == out_dtype
        it, at = ctype(in_dtype), ctype(acc)
        nk_, nr_ = self.nk, self.nr
        kept = " + ".join(f"k{d} * kt.s{d}" for d in range(nk_))
        red = " + ".join(f"r{d} * rt.s{d}" for d in range(nr_))
        head = ["long g = get_global_id(0);", "if (g >= n_out * n_chunks) return;",
                "long o = g / n_chunks, c = g % n_chunks;"] + _decode(nk_, "o")
        head += ["long lo = c * chunk, hi = min(clen, lo + chunk);",
                 f"const __global {it}* xb = x + xo + {kept};"]
        if self.arg:
            isf = np.dtype(in_dtype).kind == "f"
            op = ">" if kind == "argmax" else "<"
            nan_best = "!isnan(best) && " if isf else ""
            nan_v = "isnan(v) || " if isf else ""
            lin = "r0"
            for d in range(1, nr_):
                lin = f"({lin}) * rs.s{d} + r{d}"
            body = [f"const {it} v = xb[{red}];", f"const long lin = {lin};",
                    "if (first) { best = v; bi = lin; first = 0; }",
                    f"else if ({nan_best}({nan_v}v {op} best)) {{ best = v; bi = lin; }}"]
            lines = head + [f"{it} best = 0; long bi = 0; int first = 1;"]
            lines += _loops(nr_, body)
            lines.append("out[o] = bi;")
            out_t = "long"
        else:
            body = [f"const {it} v = xb[{red}];", _update(kind, acc)]
            lines = head + [f"{at} acc = {_init(kind, acc)};"]
            if self.pairwise:
                for name, src in pairwise_helpers(it).items():
                    builder.helper(name, src)
                outer = " + ".join([f"r{d} * rt.s{d}" for d in range(nr_ - 1)] + ["0"])
                lines.append("if (pw) {")
                lines += ["  " + s for s in _loops(nr_ - 1, [
                    f"acc += nnf_pw_{it}(xb + {outer}, rt.s{nr_ - 1}, rs.s{nr_ - 1});"])]
                lines.append("} else {")
                lines += ["  " + s for s in _loops(nr_, body)]
                lines.append("}")
            else:
                lines += _loops(nr_, body)
            if epilogue is None:
                lines.append("part[g] = acc;")
                out_t = at
            else:
                lines += self._epilogue_lines(out_dtype)
                out_t = ctype(epilogue.out_dtype)
        params = ("long n_out, long n_chunks, long chunk, long clen, int cdim, int pw, long8 ks, "
                  f"long8 kt, long8 rs, long8 rt, __global const {it}* x, long xo, "
                  f"__global {out_t}* " + ("out" if self.arg else "part"))
        dtypes = [np.int64] * 4 + [np.int32] * 2 + [cltypes.long8] * 4 + [None, np.int64, None]
        if epilogue is not None:
            params = ", ".join([params, "long8 es"] + epilogue.params())
            dtypes += [cltypes.long8] + epilogue.scalar_dtypes()
        self.partial = self._add(builder, "red", params, lines, dtypes)
        if not self.arg and epilogue is None:
            ot = ctype(out_dtype)
            combine = ["long o = get_global_id(0);", "if (o >= n_out) return;",
                       f"{at} acc = {_init(kind, acc)};",
                       "for (long c = 0; c < n_chunks; ++c) {",
                       f"  const {at} v = part[o * n_chunks + c];", "  " + _update(kind, acc), "}",
                       f"out[o] = ({ot})acc;"]
            params = f"long n_out, long n_chunks, __global const {at}* part, __global {ot}* out"
            self.combine = self._add(builder, "redc", params, combine,
                                     [np.int64, np.int64, None, None])

    def _epilogue_lines(self, out_dtype):
        """The one-pass kernel's store with an epilogue: the result's coordinates ``ec0..``
        (decoded from ``o`` over the output's shape ``es``), then the epilogue's value."""
        ndim = self.epilogue.ndim
        lines = [f"const {ctype(out_dtype)} ev = ({ctype(out_dtype)})acc;", "long eq = o;"]
        for d in range(ndim - 1, 0, -1):
            lines.append(f"const long ec{d} = eq % es.s{d}; eq /= es.s{d};")
        if ndim:
            lines.append("const long ec0 = eq;")
        code, result = self.epilogue.code("ev", [f"ec{d}" for d in range(ndim)])
        return lines + code + [f"part[g] = {result};"]

    @staticmethod
    def _add(builder, prefix, params, lines, scalar_dtypes):
        text = f"__kernel void KNAME({params}) {{\n  " + "\n  ".join(lines) + "\n}\n"
        return builder.kernel(text.replace("KNAME", kernel_name(prefix, text)), scalar_dtypes)

    def run(self, x, axes):
        """Reduce DeviceArray ``x`` over ``axes``; returns the output (kept axes, in order)."""
        ctx = self.ctx
        out_shape, n_chunks, args = self._plan(x, axes)
        out = empty(ctx, out_shape, "int64" if self.arg else self.out_dtype)
        n_out = out.size
        if n_out == 0:
            return out
        queue = ctx.queue
        n = n_out * n_chunks
        if self.arg or n_chunks == 1 and self.acc_dtype == self.out_dtype:
            self.partial(queue, _global_size(n), (_LOCAL,), *args, out.data)
            return out
        part = empty(ctx, (n,), self.acc_dtype)
        self.partial(queue, _global_size(n), (_LOCAL,), *args, part.data)
        self.combine(queue, _global_size(n_out), (_LOCAL,), n_out, n_chunks, part.data, out.data)
        return out

    def run_fused(self, x, axes, epilogue_args):
        """The epilogue's value of the reduction of ``x`` over ``axes`` (``epilogue_args``:
        its node's inputs), or None when the reduction would be split in chunks (two passes:
        the caller runs the nodes unfused)."""
        out_shape, n_chunks, args = self._plan(x, axes)
        if n_chunks != 1:
            return None
        out = empty(self.ctx, out_shape, self.epilogue.out_dtype)
        if out.size == 0:
            return out
        self.partial(self.ctx.queue, _global_size(out.size), (_LOCAL,), *args, out.data,
                     long8(out_shape), *self.epilogue.args(epilogue_args))
        return out

    def _plan(self, x, axes):
        """``(output shape, chunks per output, the partial kernel's arguments before its
        output)`` of reducing ``x`` over ``axes`` (arguments None for an empty output)."""
        kept = [a for a in range(x.ndim) if a not in axes]
        out_shape = tuple(x.shape[a] for a in kept)
        n_out = int(math.prod(out_shape))
        if n_out == 0:
            return out_shape, 1, None
        ks, kt = _merge([x.shape[a] for a in kept], [x.strides[a] for a in kept])
        rs, rt = _merge([x.shape[a] for a in axes], [x.strides[a] for a in axes])
        if len(ks) > self.nk or len(rs) > self.nr:
            raise AssertionError("merged axes exceed the kernel's")
        real = len(rs)
        ks, kt = [1] * (self.nk - len(ks)) + ks, [0] * (self.nk - len(kt)) + kt
        rs, rt = [1] * (self.nr - len(rs)) + rs, [0] * (self.nr - len(rt)) + rt
        cdim = self.nr - max(real, 1)      # the outermost real reduced axis
        total = int(math.prod(rs))
        clen = rs[cdim]
        rest = max(total // max(clen, 1), 1)
        # NumPy sums a run pairwise when the innermost axis in memory is reduced.
        pw = int(self.pairwise and real > 0 and rt[-1] == 1
                 and all(abs(s) > 1 for s, n in zip(kt, ks) if n > 1))
        if self.arg:
            split = False
        elif self.exact_order:
            split = total > LONG and n_out < 64 and not pw
        else:
            split = total > CHUNK
        if split:
            chunk = max(1, CHUNK // rest)
            n_chunks = (clen + chunk - 1) // chunk
        else:
            chunk, n_chunks = max(clen, 1), 1
        buf, xo = device_args(x)
        return out_shape, n_chunks, [n_out, n_chunks, chunk, clen, cdim, pw, long8(ks),
                                     long8(kt), long8(rs), long8(rt), buf, xo]


def _global_size(n):
    """A 1-d launch of ``n`` work-items, rounded up to whole work-groups."""
    return ((n + _LOCAL - 1) // _LOCAL * _LOCAL,)


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


_KINDS = {reduce_ops.Sum: "sum", reduce_ops.Prod: "prod", reduce_ops.Max: "max",
          reduce_ops.Min: "min", reduce_ops.All: "all", reduce_ops.Any: "any"}


def _reduction(node, builder, epilogue=None):
    """``(Reduction, check)`` of reduction ``node``: ``check(x)`` raises NumPy's error for
    an empty input where the op has one."""
    axes = node.op.axis
    x_type = node.inputs[0].type
    red = Reduction(builder, _KINDS[type(node.op)], x_type.dtype, node.outputs[0].dtype,
                    x_type.ndim - len(axes), len(axes), epilogue)
    empty_is_error, empty_error = node.op.empty_is_error, node.op.empty_error

    def check(x):
        if empty_is_error and x.size == 0:
            raise empty_error(x.shape)
    return red, check


@register(*_KINDS)
def reduce_kernel(node, builder):
    red, check = _reduction(node, builder)
    axes = node.op.axis

    def run(x):
        check(x)
        return red.run(x, axes)
    return run


@register_epilogue(*_KINDS)
def reduce_epilogue(node, epilogue, builder):
    """A reduction computing ``epilogue`` on each result as it stores it."""
    red, check = _reduction(node, builder, epilogue)
    axes = node.op.axis

    def fused(producer_args, consumer_args):
        (x,) = producer_args
        check(x)
        kept_shape = tuple(n for a, n in enumerate(x.shape) if a not in axes)
        if not epilogue.fits(consumer_args, kept_shape):
            return None
        return red.run_fused(x, axes, consumer_args)
    return fused


@register(reduce_ops.Argmax, reduce_ops.Argmin)
def arg_kernel(node, builder):
    kind = "argmax" if isinstance(node.op, reduce_ops.Argmax) else "argmin"
    x_type = node.inputs[0].type
    axes = tuple(range(x_type.ndim)) if node.op.axis is None else (node.op.axis,)
    red = Reduction(builder, kind, x_type.dtype, "int64", x_type.ndim - len(axes), len(axes))

    def run(x):
        if any(x.shape[a] == 0 for a in axes):
            raise ValueError(f"attempt to get {kind} of an empty sequence (shape {x.shape})")
        return red.run(x, axes)
    return run
