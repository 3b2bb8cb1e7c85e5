"""Pool, MaxPoolGrad and AveragePoolGrad as C loops over each window.

The pooled axes are the last two; every other axis is a *plane*, and one
C helper, specialised for the op's window, stride and padding (constants
of the op, so GCC unrolls the window loops), pools one plane.  The
leading axes are loops over strided pointers, so views (a DimShuffle'd
input) are read in place.

The results are those of the NumPy kernels (nnframe/backends/numpy/pool.py),
bit for bit:

- max: padding never wins (the NumPy kernel pads with -inf or the integer
  minimum), a NaN in a window gives NaN (``np.maximum``);
- sum and average: the real entries added in window order, divided by the
  same count ('average_inc_pad' counts padding, 'average_exc_pad' does not);
  the sum starts from 0, not from the first entry, so a window of -0.0 only
  sums to +0.0 where NumPy gives -0.0;
- MaxPoolGrad: each window's gradient goes to the FIRST entry, in row-major
  window order, equal to ``maxout`` (ties: the first wins; a window whose
  maximum is NaN routes nothing), every other entry of the window getting
  ``gz * 0`` as in the NumPy kernel (so an infinite ``gz`` spreads NaN, as
  there);
- AveragePoolGrad: each window's (divided) gradient added to its real
  entries.

Where windows overlap, the gradients visit them last to first, so each entry
receives its contributions by increasing offset inside the window, the order
in which the NumPy kernel adds them (one window offset at a time).

These nodes run their NumPy kernel instead: MaxPoolGradGrad, MaxPoolGrad
whose inputs' dtypes differ, and the average modes of integers.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x = T.ftensor4('x')
>>> f = function([x], T.nnet.max_pool_2d(x, (2, 2)), mode='native')
>>> f(np.arange(16, dtype='float32').reshape(1, 1, 4, 4))[0, 0]
array([[ 5.,  7.],
       [13., 15.]], dtype=float32)
"""
import numpy as np

from nnframe.backends.native.conv import add_ceil_div
from nnframe.backends.native.registry import register
from nnframe.backends.opencl.codegen import ctype, literal
from nnframe.core.ops.pool import AveragePoolGrad, MaxPoolGrad, Pool

__all__ = ["emit_pool", "emit_max_pool_grad", "emit_average_pool_grad"]

# The window of output (i, j) covers input rows r0 .. r0 + WR - 1 (r0 = i * SR - PR), of which
# rlo .. rhi - 1 are inside the input (likewise for columns); the windows of the columns
# jlo .. jhi - 1 lie inside the input's columns.  WR, WC, SR, SC, PR, PC are the helper's
# constants (#define'd around it), so GCC unrolls the window loops.
_COLUMNS = r"""
    long jlo = nnf_ceil_div(PC, SC), jhi = nnf_ceil_div(W + PC - WC + 1, SC);
    if (jlo > pw) jlo = pw;
    if (jhi > pw) jhi = pw;
    if (jhi < jlo) jhi = jlo;
"""
_ROW = r"""
        const long r0 = i * SR - PR;
        const long rlo = r0 > 0 ? r0 : 0, rhi = r0 + WR < H ? r0 + WR : H;
        (void)rlo; (void)rhi;
"""
_COL = r"""
            const long c0 = j * SC - PC;
            const long clo = c0 > 0 ? c0 : 0, chi = c0 + WC < W ? c0 + WC : W;
            (void)clo; (void)chi;
"""

# Windows inside the input: unrolled, no bounds (GCC vectorises along the row); windows
# across the border: clipped loops.  ``#pragma GCC unroll``: at -O2 GCC does not unroll the
# constant window loops by itself, and then does not vectorise the loop around them (2.4
# times slower).  ``acc`` is the result so far, ``v`` the entry, ``cnt``
# the count of the average modes.
_POOL = r"""
/* one plane: out[i, j] = the {MODE} of the window (i, j) of x (H x W, strides xs0, xs1) */
static inline __attribute__((always_inline)) void {N}(
    const {T} *restrict x, long H, long W, long xs0, long xs1, {T} *restrict out, long ph, long pw)
{
""" + _COLUMNS + r"""
    for (long i = 0; i < ph; i++) {
""" + _ROW + r"""
        const long rn = {ROWS};
        const int full_row = r0 >= 0 && r0 + WR <= H;
        const long ilo = full_row ? jlo : 0, ihi = full_row ? jhi : 0;
        {T} *o = out + i * pw;
        (void)rn;
        #pragma GCC ivdep
        for (long j = ilo; j < ihi; j++) {
            const long cnt = rn * WC;
            {T} acc = {INIT};
            (void)cnt;
            #pragma GCC unroll 16
            for (long a = 0; a < WR; a++)
                #pragma GCC unroll 16
                for (long b = 0; b < WC; b++) {
                    const {T} v = x[(r0 + a) * xs0 + (j * SC - PC + b) * xs1];
                    acc = {COMBINE};
                }
            o[j] = {FINISH};
        }
        for (int side = 0; side < 2; side++)
        for (long j = side ? ihi : 0; j < (side ? pw : ilo); j++) {
""" + _COL + r"""
            const long cnt = rn * ({COLS});
            {T} acc = {INIT};
            (void)cnt;
            for (long r = rlo; r < rhi; r++)
                for (long q = clo; q < chi; q++) {
                    const {T} v = x[r * xs0 + q * xs1];
                    acc = {COMBINE};
                }
            o[j] = {FINISH};
        }
    }
}
"""

_MAX_GRAD = r"""
/* one window of MaxPoolGrad: g to its first entry equal to m, g * 0 to the others, as the
   NumPy kernel's gz * hit (full: the window is inside the input).  Flags, not a branch on
   the first hit: ties make that branch unpredictable (three times slower) */
static inline __attribute__((always_inline)) void {N}_window(
    const {T} *restrict x, long H, long W, long xs0, long xs1, long r0, long c0,
    {T} m, {T} g, {T} *restrict gx, int full)
{
    int seen = 0;
    #pragma GCC unroll 16
    for (long a = 0; a < WR; a++)
        #pragma GCC unroll 16
        for (long b = 0; b < WC; b++) {
            const long r = r0 + a, q = c0 + b;
            const int in = full || (r >= 0 && r < H && q >= 0 && q < W);
            /* outside the input: the NumPy kernel's fill, which can equal m */
            const {T} v = in ? x[r * xs0 + q * xs1] : {LOWEST};
            const int first = (v == m) & !seen;
            if (in)
                gx[r * W + q] {STORE} g * ({T})first;
            seen |= first;
        }
}

/* one plane of MaxPoolGrad: gx (contiguous H x W) from x, maxout mx and gz */
static inline __attribute__((always_inline)) void {N}(
    const {T} *restrict x, long H, long W, long xs0, long xs1,
    const {T} *restrict mx, const {T} *restrict gz, long ps0, long ps1,
    long gs0, long gs1, {T} *restrict gx, long ph, long pw)
{
    for (long k = 0; k < H * W; k++) gx[k] = 0;
""" + _COLUMNS + "{WINDOWS}}\n"

_MAX_GRAD_WINDOW = """
            const {T} m = mx[i * ps0 + j * ps1], g = gz[i * gs0 + j * gs1];
            {N}_window(x, H, W, xs0, xs1, r0, c0, m, g, gx, {FULL});"""

_AVG_GRAD = r"""
/* one plane of AveragePoolGrad: gz[i, j] (divided by the window's count) over window (i, j) */
static inline __attribute__((always_inline)) void {N}(
    const {T} *restrict gz, long gs0, long gs1, {T} *restrict gx, long H, long W, long ph, long pw)
{
    for (long k = 0; k < H * W; k++) gx[k] = 0;
""" + _COLUMNS + "{WINDOWS}}\n"

_AVG_GRAD_WINDOW = """
            const long cnt = ({ROWS}) * ({COLS});
            const {T} g = gz[i * gs0 + j * gs1]{DIVIDE};
            (void)cnt;"""
_AVG_GRAD_FULL = """
            #pragma GCC unroll 16
            for (long a = 0; a < WR; a++)
                #pragma GCC unroll 16
                for (long b = 0; b < WC; b++) gx[(r0 + a) * W + c0 + b] += g;"""
_AVG_GRAD_CLIPPED = """
            for (long r = rlo; r < rhi; r++)
                for (long q = clo; q < chi; q++) gx[r * W + q] += g;"""


def _windows(forward, body):
    """C loops over the windows (i, j) of a plane, running ``body(full)`` for each.

    ``full``: the window is inside the input.  ``forward`` (disjoint windows only): in
    row-major order, which GCC vectorises; else last to first, so that each entry receives
    its contributions in the NumPy kernel's order (it adds one window offset at a time).
    """
    if forward:
        rows = "for (long i = 0; i < ph; i++) {"
        ranges = [("0", "ilo", False), ("ilo", "ihi", True), ("ihi", "pw", False)]
        loop = "for (long j = {a}; j < {b}; j++) {{"
    else:
        rows = "for (long i = ph - 1; i >= 0; i--) {"
        ranges = [("ihi", "pw", False), ("ilo", "ihi", True), ("0", "ilo", False)]
        loop = "for (long j = {b} - 1; j >= {a}; j--) {{"
    lines = ["    " + rows, _ROW.strip("\n"),
             "        const int full_row = r0 >= 0 && r0 + WR <= H;",
             "        const long ilo = full_row ? jlo : 0, ihi = full_row ? jhi : 0;"]
    for a, b, full in ranges:
        if forward and full:
            # disjoint windows inside the input: no two iterations touch one entry, which
            # GCC cannot prove (it checks at run time, twice as slow for short rows)
            lines.append("        #pragma GCC ivdep")
        lines += ["        " + loop.format(a=a, b=b), _COL.strip("\n"),
                  body(full).strip("\n"), "        }"]
    return "\n".join(lines + ["    }", ""])


# Rows and columns each window's average counts, as the NumPy kernel's ``counts``:
# 'inc' counts the padding (the window clipped to the padded input), 'exc' the input only.
_ROWS = {"average_inc_pad": "(r0 + WR < H + PR ? r0 + WR : H + PR) - r0",
         "average_exc_pad": "rhi - rlo"}
_COLS = {"average_inc_pad": "(c0 + WC < W + PC ? c0 + WC : W + PC) - c0",
         "average_exc_pad": "chi - clo"}


def _counts(mode):
    """The ROWS and COLS fields of a mode (unused, 0 and 1, for max and sum)."""
    return {"ROWS": _ROWS.get(mode, "0"), "COLS": _COLS.get(mode, "1")}


def _lowest(dtype):
    """C literal of the value that never wins a max (the NumPy kernel's padding)."""
    dtype = np.dtype(dtype)
    value = -np.inf if dtype.kind == "f" else np.iinfo(dtype).min
    return literal(value, dtype)


def _specialise(seg, template, kind, op, dtype, fields):
    """Add ``template`` for ``op``'s window constants, ``dtype`` and ``fields``; its C name."""
    (wr, wc), (sr, sc), (pr, pc) = op.ws, op.stride, op.pad
    consts = {"WR": wr, "WC": wc, "SR": sr, "SC": sc, "PR": pr, "PC": pc}
    name = f"nnf_{kind}_{dtype}_" + "_".join(str(v) for v in consts.values())
    source = template
    for key, text in dict(fields, N=name, T=ctype(dtype)).items():
        source = source.replace("{" + key + "}", text)
    defines = "".join(f"#define {k} {v}L\n" for k, v in consts.items())
    add_ceil_div(seg)
    seg.helper(name, defines + source + "".join(f"#undef {k}\n" for k in consts))
    return name


def _plane_loops(operands, call):
    """C loops over the leading axes of the operands (same leading shape): ``call`` per plane.

    ``call`` uses ``P<k>`` for the pointer to the current plane of ``operands[k]``.
    """
    lead = operands[0].ndim - 2
    lines = []
    for axis in range(lead):
        lines.append(f"{'    ' * axis}for (long l{axis} = 0; l{axis} < {operands[0].dim(axis)}; "
                     f"l{axis}++) {{")
    indent = "    " * lead
    for k, op in enumerate(operands):
        offset = " + ".join(f"l{a} * {op.stride(a)}" for a in range(lead)) or "0"
        lines.append(f"{indent}{op.ctype} *P{k} = {op.ptr} + {offset};")
    lines.append(indent + call)
    lines += ["    " * axis + "}" for axis in reversed(range(lead))]
    return lines


def _spatial_strides(op):
    """Row and column strides of an operand's last two axes (the last is 1 when contiguous)."""
    nd = op.ndim
    return op.stride(nd - 2), "1" if op.contiguous else op.stride(nd - 1)


@register(Pool)
def emit_pool(node, seg):
    op = node.op
    dtype = str(node.outputs[0].dtype)
    if op.mode.startswith("average") and np.dtype(dtype).kind != "f":
        return None
    if node.inputs[0].dtype != dtype:
        return None
    t = ctype(dtype)
    if op.mode == "max":
        # A NaN, in acc or in v, wins as in np.maximum.  This form vectorises (the
        # usual ``v > acc || v != v`` makes GCC branch, ten times slower).
        combine = "acc > v ? acc : v"
        if np.dtype(dtype).kind == "f":
            combine = f"acc != acc ? acc : ({combine})"
        fields = {"MODE": "max", "INIT": _lowest(dtype), "FINISH": "acc", "COMBINE": combine}
    else:
        fields = {"MODE": op.mode, "INIT": f"({t})0", "COMBINE": f"({t})(acc + v)",
                  "FINISH": "acc" if op.mode == "sum" else f"acc / ({t})cnt"}
    fields.update(_counts(op.mode))
    kind = {"max": "maxpool", "sum": "sumpool", "average_inc_pad": "avgincpool",
            "average_exc_pad": "avgexcpool"}[op.mode]
    helper = _specialise(seg, _POOL, kind, op, dtype, fields)
    x, out = seg.operand(node.inputs[0]), seg.operand(node.outputs[0])
    if not out.contiguous:
        return None
    nd = x.ndim
    xs0, xs1 = _spatial_strides(x)
    call = (f"{helper}(P0, {x.dim(nd - 2)}, {x.dim(nd - 1)}, {xs0}, {xs1}, P1, "
            f"{out.dim(nd - 2)}, {out.dim(nd - 1)});")
    return "\n".join(_plane_loops([x, out], call))


@register(MaxPoolGrad)
def emit_max_pool_grad(node, seg):
    op = node.op
    dtype = str(node.outputs[0].dtype)
    if any(v.dtype != dtype for v in node.inputs):
        return None  # the NumPy kernel casts gz; the C does not
    # disjoint windows: each entry in at most one window, written (as the NumPy kernel does)
    disjoint = all(s >= w for s, w in zip(op.stride, op.ws))
    windows = _windows(disjoint, lambda full: _MAX_GRAD_WINDOW.replace("{FULL}", str(int(full))))
    helper = _specialise(seg, _MAX_GRAD.replace("{WINDOWS}", windows), "maxpoolgrad", op, dtype,
                         {"LOWEST": _lowest(dtype), "STORE": "=" if disjoint else "+="})
    x, mx, gz, gx = (seg.operand(v) for v in list(node.inputs) + node.outputs)
    if not gx.contiguous:
        return None
    nd = x.ndim
    xs0, xs1 = _spatial_strides(x)
    ms0, ms1 = _spatial_strides(mx)
    gs0, gs1 = _spatial_strides(gz)
    call = (f"{helper}(P0, {x.dim(nd - 2)}, {x.dim(nd - 1)}, {xs0}, {xs1}, P1, P2, {ms0}, "
            f"{ms1}, {gs0}, {gs1}, P3, {gz.dim(nd - 2)}, {gz.dim(nd - 1)});")
    return "\n".join(_plane_loops([x, mx, gz, gx], call))


@register(AveragePoolGrad)
def emit_average_pool_grad(node, seg):
    op = node.op
    dtype = str(node.outputs[0].dtype)
    if op.mode != "sum" and np.dtype(dtype).kind != "f":
        return None
    t = ctype(dtype)
    divide = "" if op.mode == "sum" else f" / ({t})cnt"
    disjoint = all(s >= w for s, w in zip(op.stride, op.ws))
    windows = _windows(disjoint, lambda full: _AVG_GRAD_WINDOW + (
        _AVG_GRAD_FULL if full else _AVG_GRAD_CLIPPED))
    helper = _specialise(seg, _AVG_GRAD.replace("{WINDOWS}", windows),
                         op.mode.replace("_", "") + "grad", op, dtype,
                         dict(_counts(op.mode), DIVIDE=divide))
    gz, gx = seg.operand(node.inputs[0]), seg.operand(node.outputs[0])
    for size in node.inputs[1:]:
        seg.operand(size)  # the dry run reads them: they must be values of the segment
    if not gx.contiguous:
        return None
    nd = gx.ndim
    gs0, gs1 = _spatial_strides(gz)
    call = (f"{helper}(P0, {gs0}, {gs1}, P1, {gx.dim(nd - 2)}, {gx.dim(nd - 1)}, "
            f"{gz.dim(nd - 2)}, {gz.dim(nd - 1)});")
    return "\n".join(_plane_loops([gz, gx], call))
