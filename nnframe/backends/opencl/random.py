"""Random draws on the device: Philox4x32-10 blocks computed where they are used.

Each work-item computes the Philox blocks it needs from (key, counter) and
turns their words into numbers exactly as :mod:`nnframe.core.ops.random`
defines (the NumPy kernels are the reference): uniforms and integers are
bit-for-bit the same on every device; normals may differ in the last ulp
of log/cos/sin.

The state ``[key, substream, counter]`` is tiny: when it is on the host (a
random stream's shared state is, until a device kernel produces one) it is
passed by value and the next state is computed on the host, so drawing
costs no transfer at all.  A state that only lives on the device is read
from its buffer and advanced by a one-work-item kernel.

Parameter checks that need the values (``0 <= p <= 1``, ``low <= high``...)
are made when the parameters are on the host; device-resident parameters
are not checked.  ``choice`` and ``permutation`` (sorts) run on the host
(counted fallback).
"""
import math

import numpy as np

from nnframe.backends.numpy import random as NR
from nnframe.backends.opencl import elemwise as EW
from nnframe.backends.opencl.array import (
    DeviceArray,
    device_args,
    empty,
    host_scalar,
    host_view,
    raw_host,
)
from nnframe.backends.opencl.codegen import ctype, kernel_name
from nnframe.backends.opencl.registry import register
from nnframe.core.ops import random as random_ops

__all__ = ["PHILOX_HELPERS"]

_LOCAL = 64

PHILOX_HELPERS = {
    "nnf_philox": r"""
inline uint4 nnf_philox(ulong key, ulong sub, ulong ctr, ulong block) {
  const ulong c = ctr + block;
  uint c0 = (uint)c, c1 = (uint)(c >> 32), c2 = (uint)sub, c3 = (uint)(sub >> 32);
  uint k0 = (uint)key, k1 = (uint)(key >> 32);
  for (int r = 0; r < 10; ++r) {
    const uint hi0 = mul_hi(c0, 0xD2511F53u), lo0 = c0 * 0xD2511F53u;
    const uint hi1 = mul_hi(c2, 0xCD9E8D57u), lo1 = c2 * 0xCD9E8D57u;
    c0 = hi1 ^ c1 ^ k0; c1 = lo1; c2 = hi0 ^ c3 ^ k1; c3 = lo0;
    k0 += 0x9E3779B9u; k1 += 0xBB67AE85u;
  }
  return (uint4)(c0, c1, c2, c3);
}
""",
    "nnf_word": r"""
inline uint nnf_word(ulong key, ulong sub, ulong ctr, ulong i) {
  const uint4 b = nnf_philox(key, sub, ctr, i >> 2);
  const uint l = (uint)(i & 3);
  return l == 0 ? b.x : (l == 1 ? b.y : (l == 2 ? b.z : b.w));
}
""",
    "nnf_u32": r"""
inline float nnf_u32(uint w) { return (float)(w >> 8) * 0x1p-24f; }
""",
    "nnf_u64": r"""
#ifdef cl_khr_fp64
inline double nnf_u64(uint a, uint b) {
  return (double)((((ulong)(a >> 5)) << 26) + (ulong)(b >> 6)) * 0x1p-53;
}
#endif
""",
}

_STATE_PARAMS = "__global const ulong* st, long sto, ulong key, ulong sub, ulong ctr, int from_buf"
_STATE_LOAD = ("  if (from_buf) { key = st[sto]; sub = st[sto + 1]; ctr = st[sto + 2]; }\n")
_STATE_DTYPES = [None, np.int64, np.uint64, np.uint64, np.uint64, np.int32]


class _Draw:
    """What every draw shares: state arguments, the advance kernel, shapes."""

    def __init__(self, builder, node):
        self.ctx = builder.ctx
        self.op = node.op
        for name, src in PHILOX_HELPERS.items():
            builder.helper(name, src)
        text = ("__kernel void KNAME(__global const ulong* st, long sto, ulong blocks, "
                "__global ulong* out) {\n  out[0] = st[sto]; out[1] = st[sto + 1]; "
                "out[2] = st[sto + 2] + blocks;\n}\n")
        self.advance_kernel = builder.kernel(text.replace("KNAME", kernel_name("rngadv", text)),
                                             [None, np.int64, np.uint64, None])

    def state_args(self, state):
        self.op.check_state_shape(state.shape)
        if state.host is not None:
            key, sub, ctr = (int(v) for v in state.host)
            return [self.ctx.err, 0, key, sub, ctr, 0]
        buf, off = device_args(state)
        return [buf, off, 0, 0, 0, 1]

    def advance(self, state, words):
        blocks = (words + 3) // 4
        if state.host is not None:
            value = NR._advance(np.asarray(state.host), words)
            return DeviceArray(self.ctx, value.shape, value.dtype, host=value)
        out = empty(self.ctx, (random_ops.STATE_LENGTH,), "uint64")
        buf, off = device_args(state)
        self.advance_kernel(self.ctx.queue, (1,), (1,), buf, off, blocks, out.data)
        return out

    def shape(self, size):
        return self.op.runtime_size(host_view(size))

    def launch(self, kernel, n, *args):
        if n:
            kernel(self.ctx.queue, ((n + _LOCAL - 1) // _LOCAL * _LOCAL,), (_LOCAL,), n, *args)


def _add(builder, prefix, text, dtypes):
    return builder.kernel(text.replace("KNAME", kernel_name(prefix, text)), dtypes)


@register(random_ops.RandomUniform)
def uniform_kernel(node, builder):
    draw = _Draw(builder, node)
    dtype = node.op.dtype
    if dtype == "float32":
        body = ("  const uint4 w = nnf_philox(key, sub, ctr, b);\n"
                "  const uint ws[4] = {w.x, w.y, w.z, w.w};\n"
                "  for (int l = 0; l < 4; ++l) if (4 * b + l < n) out[4 * b + l] = nnf_u32(ws[l]);")
        per_block, wpu = 4, 1
    else:
        body = ("  const uint4 w = nnf_philox(key, sub, ctr, b);\n"
                "  out[2 * b] = nnf_u64(w.x, w.y);\n"
                "  if (2 * b + 1 < n) out[2 * b + 1] = nnf_u64(w.z, w.w);")
        per_block, wpu = 2, 2
    return _per_block_draw(builder, draw, "uniform", dtype, body + "\n", per_block,
                           lambda n: n * wpu)


def _per_block_draw(builder, draw, prefix, dtype, body, per_block, words_used):
    """A draw whose work-item ``b`` turns Philox block ``b`` into ``per_block``
    values of ``out`` (``body``); ``words_used(n)`` is how far n values advance
    the stream's counter."""
    t = ctype(dtype)
    text = (f"__kernel void KNAME(long nb, long n, {_STATE_PARAMS}, __global {t}* out) {{\n"
            "  const long b = get_global_id(0);\n  if (b >= nb) return;\n" + _STATE_LOAD + body
            + "}\n")
    kernel = _add(builder, prefix, text, [np.int64, np.int64] + _STATE_DTYPES + [None])

    def run(state, size):
        sargs = draw.state_args(state)
        out = empty(draw.ctx, draw.shape(size), dtype)
        n = out.size
        draw.launch(kernel, (n + per_block - 1) // per_block, n, *sargs, out.data)
        return draw.advance(state, words_used(n)), out
    return run


@register(random_ops.RandomNormal)
def normal_kernel(node, builder):
    draw = _Draw(builder, node)
    dtype = node.op.dtype
    t = ctype(dtype)
    two_pi = "0x1.921fb6p+2f" if dtype == "float32" else "0x1.921fb54442d18p+2"
    one, m2 = ("1.0f", "-2.0f") if dtype == "float32" else ("1.0", "-2.0")
    if dtype == "float32":
        # a block holds uniforms 4b..4b+3: the pairs (4b, 4b+1) and (4b+2, 4b+3)
        pairs = [("nnf_u32(w.x)", "nnf_u32(w.y)", "4 * b"), ("nnf_u32(w.z)", "nnf_u32(w.w)",
                                                             "4 * b + 2")]
        per_block = 4
    else:
        pairs = [("nnf_u64(w.x, w.y)", "nnf_u64(w.z, w.w)", "2 * b")]
        per_block = 2
    wpu = 1 if dtype == "float32" else 2
    body = "  const uint4 w = nnf_philox(key, sub, ctr, b);\n"
    for _k, (ua, ub, first) in enumerate(pairs):
        body += (f"  {{ const {t} r = sqrt(({t}){m2} * log({one} - {ua}));\n"
                 f"    const {t} a = ({t}){two_pi} * {ub};\n"
                 f"    const long i = {first};\n"
                 f"    if (i < n) out[i] = r * cos(a);\n"
                 f"    if (i + 1 < n) out[i + 1] = r * sin(a); }}\n")
    # Box-Muller uses the uniforms in pairs: an odd n still consumes the last pair.
    return _per_block_draw(builder, draw, "normal", dtype, body, per_block,
                           lambda n: 2 * ((n + 1) // 2) * wpu)


class _Params:
    """Parameters broadcast to the sample's shape: by value when one element on the host."""

    def __init__(self, builder, var, name, ndim):
        self.ctx = builder.ctx
        self.name = name
        self.dtype = var.dtype
        self.copy = EW.strided_copy(builder, var.dtype, var.dtype, max(ndim, 1))

    def param(self):
        t = ctype(self.dtype)
        return f"__global const {t}* {self.name}p, {t} {self.name}v, int {self.name}a"

    def read(self):
        return f"({self.name}a ? {self.name}p[j] : {self.name}v)"

    def dtypes(self):
        return [None, np.uint8 if self.dtype == "bool" else np.dtype(self.dtype).type, np.int32]

    def check(self, value, shape, op, name):
        """NumPy's broadcasting rule, with the Op's message."""
        try:
            if np.broadcast_shapes(value.shape, shape) != tuple(shape):
                raise ValueError
        except ValueError:
            raise op.param_broadcast_error(name, value.shape, shape) from None

    def args(self, value, shape):
        if value.size == 1 and raw_host(value) is not None:
            return [self.ctx.err, host_scalar(value), 0]
        dense = empty(self.ctx, shape, self.dtype)
        src = value
        pad = len(shape) - value.ndim
        if pad:
            src = value.view((1,) * pad + value.shape, (0,) * pad + value.strides,
                             value.offset, None)
        if dense.size:
            if not shape:  # 0-d: copy as one element
                dense1 = dense.view((1,), (1,), 0, None)
                self.copy(dense1, src.view((1,), (0,), src.offset, None))
            else:
                self.copy(dense, src)
        return [dense.data, 0, 1]


@register(random_ops.RandomIntegers)
def integers_kernel(node, builder):
    draw = _Draw(builder, node)
    dtype = node.op.dtype
    t = ctype(dtype)
    nd = node.op.ndim
    low, high = _Params(builder, node.inputs[2], "lo", nd), _Params(builder, node.inputs[3], "hi", nd)
    text = (f"__kernel void KNAME(long n, {_STATE_PARAMS}, {low.param()}, {high.param()}, "
            f"__global {t}* out) {{\n"
            "  const long j = get_global_id(0);\n  if (j >= n) return;\n" + _STATE_LOAD
            + f"  const long lo = (long){low.read()}, hi = (long){high.read()};\n"
            "  const ulong span = (ulong)(hi - lo + 1);\n"
            "  const ulong w = nnf_word(key, sub, ctr, (ulong)j);\n"
            f"  out[j] = ({t})(lo + (long)((w * span) >> 32));\n}}\n")
    kernel = _add(builder, "randint", text,
                  [np.int64] + _STATE_DTYPES + low.dtypes() + high.dtypes() + [None])

    def run(state, size, lo, hi):
        sargs = draw.state_args(state)
        shape = draw.shape(size)
        low.check(lo, shape, node.op, "low")
        high.check(hi, shape, node.op, "high")
        if lo.host is not None and hi.host is not None and int(math.prod(shape)):
            node.op.check_range(np.broadcast_to(lo.host, shape).astype(np.int64),
                                np.broadcast_to(hi.host, shape).astype(np.int64))
        out = empty(draw.ctx, shape, dtype)
        n = out.size
        if n:
            draw.launch(kernel, n, *sargs, *low.args(lo, shape), *high.args(hi, shape), out.data)
        return draw.advance(state, n), out
    return run


@register(random_ops.RandomBinomial)
def binomial_kernel(node, builder):
    draw = _Draw(builder, node)
    dtype = node.op.dtype
    t = ctype(dtype)
    pdtype = node.inputs[3].dtype
    nd = node.op.ndim
    trials = _Params(builder, node.inputs[2], "tr", nd)
    prob = _Params(builder, node.inputs[3], "pr", nd)
    if pdtype == "float32":
        uniform = "nnf_u32(nnf_word(key, sub, ctr, (ulong)i))"
    else:
        uniform = ("nnf_u64(nnf_word(key, sub, ctr, 2 * (ulong)i), "
                   "nnf_word(key, sub, ctr, 2 * (ulong)i + 1))")
    text = (f"__kernel void KNAME(long n, {_STATE_PARAMS}, {trials.param()}, {prob.param()}, "
            f"__global {t}* out) {{\n"
            "  const long j = get_global_id(0);\n  if (j >= n) return;\n" + _STATE_LOAD
            + f"  const long nt = (long){trials.read()};\n"
            f"  const {ctype(pdtype)} p = {prob.read()};\n"
            "  long count = 0;\n"
            "  for (long tr = 0; tr < nt; ++tr) {\n"
            "    const long i = tr * n + j;\n"
            f"    if ({uniform} < p) ++count;\n"
            "  }\n"
            f"  out[j] = ({t})count;\n}}\n")
    kernel = _add(builder, "binomial", text,
                  [np.int64] + _STATE_DTYPES + trials.dtypes() + prob.dtypes() + [None])
    wpu = 1 if pdtype == "float32" else 2

    def run(state, size, n_trials, p):
        sargs = draw.state_args(state)
        shape = draw.shape(size)
        trials.check(n_trials, shape, node.op, "n")
        prob.check(p, shape, node.op, "p")
        total = int(math.prod(shape))
        # The draw reads max(n) * N uniforms: max(n) is needed on the host.
        nh = np.broadcast_to(host_view(n_trials), shape).astype(np.int64)
        if total:
            node.op.check_trials(nh)
        if p.host is not None and total:
            node.op.check_probabilities(np.broadcast_to(p.host, shape))
        out = empty(draw.ctx, shape, dtype)
        if total:
            draw.launch(kernel, total, *sargs, *trials.args(n_trials, shape),
                        *prob.args(p, shape), out.data)
        max_trials = int(nh.max()) if total else 0
        return draw.advance(state, max_trials * total * wpu), out
    return run


@register(random_ops.RandomChoice, random_ops.RandomPermutation)
def sorting_draws(node, builder):
    return None  # argsort and searchsorted: the host fallback
