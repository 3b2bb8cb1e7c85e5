"""C loops for the reductions: Sum, Prod, Max, Min, All, Any, Argmax, Argmin.

A reduction is one call of a C helper (one per op and dtypes) that walks
the input as NumPy's iterator does, at run time, so the geometry of every
call (a batch of 1, a transposed view) gets the loop NumPy would run: axes
of length 1 are dropped, the others ordered by stride (the largest
outermost) and neighbours that are one run in both the input and the
output merged.  Then the innermost axis is either reduced (its elements go
into one register) or kept (an input row goes into the output row, a
vectorised loop when both are contiguous)::

    sum(x)           out[0] = 0 + pairwise(x, size)
    sum(x, axis=1)   for each row a: out[a] = 0 + pairwise(x + a*n, n)
    sum(x, axis=0)   out = 0; for each row r: out[:] += x[r, :]

Float sums are NumPy's own summation, so a float sum is the same bits as
the NumPy backend's: pairwise along a contiguous reduced axis (8
accumulators, blocks of 128, :func:`pairwise_sum`), one row after the other
across a reduced outer axis, the output starting at 0.  Products and
extrema go in index order; Max and Min propagate NaN as NumPy's
``maximum``/``minimum`` (signed zeros may differ: ``max(0.0, -0.0)``).
Argmax/Argmin give the first index of the extreme, a NaN being the extreme
(the first NaN wins).  Empty max/min/argmax never reach the C: the plan's
dry run raises the NumPy kernel's error first.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x = T.fmatrix('x')
>>> f = function([x], x.sum(axis=0), mode='native')
>>> f(np.ones((3, 2), 'float32'))
array([3., 3.], dtype=float32)
"""
import numpy as np

from nnframe.backends.native.registry import register
from nnframe.backends.native.segment import fill
from nnframe.backends.opencl.codegen import ctype, literal
from nnframe.core.ops.reduce import All, Any, Argmax, Argmin, Max, Min, Prod, Sum

__all__ = ["emit_reduce", "emit_argreduce", "pairwise_sum", "extreme", "gather", "suffix"]

_SUFFIX = {"bool": "b", "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
           "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
           "float32": "f32", "float64": "f64"}
_KIND = {Sum: "sum", Prod: "prod", Max: "max", Min: "min", All: "all", Any: "any"}
#: NumPy's pairwise summation: below this many elements, one block of 8 accumulators
_PW_BLOCKSIZE = 128


def suffix(dtype):
    """Short name of ``dtype`` in helper names (``float32`` -> ``f32``)."""
    return _SUFFIX[str(np.dtype(dtype))]


def _is_float(dtype):
    return np.dtype(dtype).kind == "f"


# -- C helpers ----------------------------------------------------------------------------
# Every helper is ``__attribute__((noinline))``: otherwise GCC inlines and vectorises
# each copy again (the recursive pairwise sum several levels deep), which tripled the
# compile time of a segment with one sum (0.3 s -> 0.1 s of CPU) for no speed.
_PAIRWISE = r"""
/* NumPy's pairwise sum of {ELEM} for i < n (same order, same roundings) */
__attribute__((noinline))
static {T} {NAME}(const {T} *a, long n)
{
    if (n < 8) {
        {T} res = 0;
        for (long i = 0; i < n; i++) res += {E_i};
        return res;
    }
    if (n <= {BLOCK}) {
        {T} r0 = {E_0}, r1 = {E_1}, r2 = {E_2}, r3 = {E_3};
        {T} r4 = {E_4}, r5 = {E_5}, r6 = {E_6}, r7 = {E_7};
        long i;
        for (i = 8; i < n - (n % 8); i += 8) {
            r0 += {E_i0}; r1 += {E_i1}; r2 += {E_i2}; r3 += {E_i3};
            r4 += {E_i4}; r5 += {E_i5}; r6 += {E_i6}; r7 += {E_i7};
        }
        {T} res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7));
        for (; i < n; i++) res += {E_i};
        return res;
    }
    long n2 = n / 2;
    n2 -= n2 % 8;
    return {NAME}(a, n2) + {NAME}(a + n2, n - n2);
}
"""

# A strided row is summed block by block: each block of at most {BLOCK} elements (a leaf
# of the pairwise sum) copied into a contiguous row for the contiguous sum, which then
# does the same operations in the same order.  A strided copy of the whole pairwise sum
# would cost GCC as much time again (~15 ms) for a path that views rarely take.
_PAIRWISE_STRIDED = r"""
/* NumPy's pairwise sum of {ELEM} for i < n, a[i] being the element at a + i * s */
__attribute__((noinline))
static {T} {NAME}(const {T} *a, long n, long s)
{
    if (n <= {BLOCK}) {
        {T} row[{BLOCK}];
        for (long i = 0; i < n; i++) row[i] = a[i * s];
        return {CONTIGUOUS}(row, n);
    }
    long n2 = n / 2;
    n2 -= n2 % 8;
    return {NAME}(a, n2, s) + {NAME}(a + n2 * s, n - n2, s);
}
"""


def pairwise_sum(seg, dtype, strided=False, shift_exp=False):
    """The C name of a function summing ``n`` floats of ``dtype`` as NumPy's pairwise sum.

    ``name(a, n)`` sums ``a[0..n)``; ``strided``: ``name(a, n, s)`` sums
    ``a[i * s]``; ``shift_exp``: ``name(a, n)`` sums ``exp(a[i])`` (a log-softmax's
    normaliser, the exponentials never stored).  Added to ``seg`` once.
    """
    t = ctype(dtype)
    name = f"nnf_psum{'exp' if shift_exp else ''}_{suffix(dtype)}"
    elem = (lambda k: f"exp(a[{k}])") if shift_exp else (lambda k: f"a[{k}]")
    fields = {"{NAME}": name, "{T}": t, "{BLOCK}": str(_PW_BLOCKSIZE), "{ELEM}": elem("i"),
              "{E_i}": elem("i")}
    if strided:
        fields["{CONTIGUOUS}"] = pairwise_sum(seg, dtype, shift_exp=shift_exp)
        fields["{NAME}"] = name = name + "_s"
        seg.helper(name, fill(_PAIRWISE_STRIDED, fields))
        return name
    for k in range(8):
        fields[f"{{E_{k}}}"] = elem(str(k))
        fields[f"{{E_i{k}}}"] = elem(f"i + {k}")
    seg.helper(name, fill(_PAIRWISE, fields))
    return name


_GATHER = r"""
/* dst (C-contiguous) = the nd-axis array at src with lengths d and element strides s */
__attribute__((noinline))
static void {NAME}(const {T} *src, {T} *dst, int nd, const long *d, const long *s)
{
    long total = 1, idx[64] = {0}, off = 0;
    for (int k = 0; k < nd; k++) total *= d[k];
    if (total == 0) return;
    if (nd == 0) { dst[0] = src[0]; return; }
    const long inner = d[nd - 1], step = s[nd - 1];
    for (long done = 0; done < total; done += inner) {
        for (long i = 0; i < inner; i++) dst[done + i] = src[off + i * step];
        for (int k = nd - 2; k >= 0; k--) {
            off += s[k];
            if (++idx[k] < d[k]) break;
            off -= s[k] * d[k];
            idx[k] = 0;
        }
    }
}
"""


def gather(seg, operand, dst):
    """C statements copying ``operand`` (any strides) into ``dst``, a C-contiguous ``T *``."""
    name = f"nnf_gather_{suffix(operand.dtype)}"
    seg.helper(name, _GATHER.replace("{NAME}", name).replace("{T}", operand.ctype))
    nd = operand.ndim
    dims = ", ".join(operand.dim(k) for k in range(nd)) or "0"
    strides = ", ".join(operand.stride(k) for k in range(nd)) or "0"
    return (f"{{ const long d[] = {{{dims}}}, s[] = {{{strides}}}; "
            f"{name}({operand.ptr}, {dst}, {nd}, d, s); }}")


# -- Argmax's loops ----------------------------------------------------------------------
def _outer_loops(xo, skip):
    """Loops over the axes of ``xo`` but ``skip`` (in order), declaring ``xp`` inside.

    Axes of static length 1 are left out (their index is always 0); the loops read
    lengths and strides from ``const long`` locals, not from ``meta``: without strict
    aliasing a store could change ``M[k]``, so GCC would reload it at every step.
    """
    axes = [a for a in range(xo.ndim) if a != skip and not xo.broadcastable[a]]
    decls = [f"n{a} = {xo.dim(a)}, s{a} = {xo.stride(a)}" for a in axes]
    lines = [f"const long {', '.join(decls)};"] if decls else []
    lines += [f"for (long c{a} = 0; c{a} < n{a}; c{a}++) {{" for a in axes]
    offset = " + ".join(f"c{a} * s{a}" for a in axes) or "0"
    lines.append(f"const {xo.ctype} *xp = {xo.ptr} + {offset};")
    return lines, len(axes)


# -- Sum, Prod, Max, Min, All, Any --------------------------------------------------------
def _identity(kind, dtype):
    if kind in ("sum", "any"):
        value = 0
    elif kind in ("prod", "all"):
        value = 1
    elif np.dtype(dtype).kind == "f":
        value = -np.inf if kind == "max" else np.inf
    elif np.dtype(dtype) == np.bool_:
        value = kind == "min"
    else:
        info = np.iinfo(dtype)
        value = info.min if kind == "max" else info.max
    return literal(value, dtype)


def _elem(kind, acc_t, v):
    """The input element ``v`` as the accumulator sees it."""
    if kind in ("all", "any"):
        return f"(uchar)(({v}) != 0)"
    if kind in ("sum", "prod"):
        return f"({acc_t})({v})"
    return v


def _combine(kind, dtype, acc, v):
    """C of the accumulator ``acc`` combined with the element ``v`` (no side effects)."""
    if kind == "sum":
        return f"{acc} + {v}"
    if kind == "prod":
        return f"{acc} * {v}"
    if kind in ("all", "any"):
        return f"{acc} {'&' if kind == 'all' else '|'} {v}"
    cmp = ">" if kind == "max" else "<"
    if _is_float(dtype):  # a NaN wins and stays (NumPy's maximum/minimum); | vectorises
        return f"((({v}) {cmp} ({acc})) | (({v}) != ({v}))) ? ({v}) : ({acc})"
    return f"({v}) {cmp} ({acc}) ? ({v}) : ({acc})"


_INNER = r"""
__attribute__((noinline))
static {ACC} {NAME}(const {T} *a, long n{PARAMS})
{
    {ACC} r = {IDENT};
    for (long i = 0; i < n; i++) { const {ACC} v = {ELEM}; r = {COMBINE}; }
    return r;
}
"""


def _inner_reduce(seg, kind, in_dtype, acc_dtype, strided):
    """The C name of ``f(a, n[, s]) -> acc``: ``n`` elements reduced into a register."""
    if kind == "sum" and _is_float(acc_dtype):
        return pairwise_sum(seg, acc_dtype, strided)
    if kind in ("max", "min") and _is_float(in_dtype) and not strided:
        return extreme(seg, in_dtype, kind)
    acc_t = ctype(acc_dtype)
    name = f"nnf_red_{kind}_{suffix(in_dtype)}_{suffix(acc_dtype)}{'_s' if strided else ''}"
    fields = {"{NAME}": name, "{T}": ctype(in_dtype), "{ACC}": acc_t,
              "{PARAMS}": ", long s" if strided else "",
              "{IDENT}": _identity(kind, acc_dtype),
              "{ELEM}": _elem(kind, acc_t, "a[i * s]" if strided else "a[i]"),
              "{COMBINE}": _combine(kind, acc_dtype, "r", "v")}
    seg.helper(name, fill(_INNER, fields))
    return name


_EXTREME = r"""
/* the {KIND} of a[0..n), n >= 1, NaN if there is one (NumPy's {KIND}imum.reduce).  A NaN
   test keeps one running extreme from vectorising: 128 of them run as a row, a vectorised
   loop (GCC unrolls a row of 16 and vectorises nothing; rows shorter than 128 lose to
   the row's loads and stores at -O2) */
__attribute__((noinline))
static {T} {NAME}(const {T} *a, long n)
{
    long i = 1;
    {T} m = a[0];
    if (n >= 256) {
        {T} r[128];
        for (int j = 0; j < 128; j++) r[j] = a[j];
        for (i = 128; i + 128 <= n; i += 128) {
            const {T} *b = a + i;
            for (int j = 0; j < 128; j++) { const {T} v = b[j]; r[j] = {PICK_RJ}; }
        }
        /* halves folded: vectorised too (ivdep: they never overlap, no run-time check) */
        for (int w = 64; w > 0; w /= 2) {
            #pragma GCC ivdep
            for (int j = 0; j < w; j++) { const {T} v = r[j + w]; r[j] = {PICK_RJ}; }
        }
        m = r[0];
    }
    for (; i < n; i++) { const {T} v = a[i]; m = {PICK_M}; }
    return m;
}
"""


def extreme(seg, dtype, kind):
    """The C name of ``f(a, n)``: the max (``kind``) or min of ``n >= 1`` contiguous
    floats, NaN when one is NaN, in vectorised lanes.  Added to ``seg`` once."""
    name = f"nnf_{kind}_{suffix(dtype)}"
    fields = {"{NAME}": name, "{T}": ctype(dtype), "{KIND}": kind[:3],
              "{PICK_RJ}": _combine(kind, dtype, "r[j]", "v"),
              "{PICK_M}": _combine(kind, dtype, "m", "v")}
    seg.helper(name, fill(_EXTREME, fields))
    return name


_REDUCE = r"""
/* out (total elements) = the reduction of the nd-axis input x (lengths d, element strides
   xs) over the axes where os, the output's strides by input axis, is 0 */
__attribute__((noinline))
static void {NAME}(const {T} *x, {ACC} *out, long total, int nd, const long *d,
                   const long *xs, const long *os)
{
    for (long i = 0; i < total; i++) out[i] = {IDENT};
    /* NumPy's iterator: drop length-1 axes, largest input stride outermost (stable), ... */
    long n[64], s[64], o[64], idx[64] = {0};
    int m = 0;
    for (int k = 0; k < nd; k++) {
        if (d[k] == 0) return;
        if (d[k] == 1) continue;
        const long key = xs[k] < 0 ? -xs[k] : xs[k];
        int j = m++;
        for (; j > 0 && (s[j - 1] < 0 ? -s[j - 1] : s[j - 1]) < key; j--) {
            n[j] = n[j - 1]; s[j] = s[j - 1]; o[j] = o[j - 1];
        }
        n[j] = d[k]; s[j] = xs[k]; o[j] = os[k];
    }
    if (m == 0) { const {ACC} v = {ELEM0}; out[0] = {COMBINEOUT}; return; }
    /* ... and neighbours that are one run in both arrays merged */
    int q = 0;
    for (int k = 1; k < m; k++) {
        if (s[q] == s[k] * n[k] && o[q] == o[k] * n[k]) {
            n[q] *= n[k]; s[q] = s[k]; o[q] = o[k];
        } else {
            q++; n[q] = n[k]; s[q] = s[k]; o[q] = o[k];
        }
    }
    m = q + 1;
    const long len = n[m - 1], step = s[m - 1], ostep = o[m - 1];
    long xoff = 0, ooff = 0;
    for (;;) {
        const {T} *xp = x + xoff;
        {ACC} *op = out + ooff;
        if (ostep == 0) {
            const {ACC} v = step == 1 ? {INNER1}(xp, len) : {INNERS}(xp, len, step);
            op[0] = {COMBINE0};
        } else if (step == 1 && ostep == 1) {
            #pragma GCC ivdep
            for (long i = 0; i < len; i++) { const {ACC} v = {ELEM1}; op[i] = {COMBINE1}; }
        } else {
            for (long i = 0; i < len; i++) {
                const {ACC} v = {ELEMS};
                op[i * ostep] = {COMBINES};
            }
        }
        int k = m - 2;
        for (; k >= 0; k--) {
            xoff += s[k]; ooff += o[k];
            if (++idx[k] < n[k]) break;
            xoff -= s[k] * n[k]; ooff -= o[k] * n[k]; idx[k] = 0;
        }
        if (k < 0) return;
    }
}
"""


@register(Sum, Prod, Max, Min, All, Any)
def emit_reduce(node, seg):
    """``out`` = the reduction of ``x`` over ``node.op.axis`` (see the module docstring)."""
    kind = next(k for cls, k in _KIND.items() if isinstance(node.op, cls))
    (x,), (z,) = node.inputs, node.outputs
    xo, zo = seg.operand(x), seg.operand(z)
    axes = set(node.op.axis)
    name = f"nnf_red_{kind}_{suffix(x.dtype)}_{suffix(z.dtype)}_nd"
    acc_t = zo.ctype
    fields = {"{NAME}": name, "{T}": xo.ctype, "{ACC}": acc_t,
              "{INNER1}": _inner_reduce(seg, kind, x.dtype, z.dtype, False),
              "{INNERS}": _inner_reduce(seg, kind, x.dtype, z.dtype, True),
              "{ELEM0}": _elem(kind, acc_t, "x[0]"),
              "{ELEM1}": _elem(kind, acc_t, "xp[i]"),
              "{ELEMS}": _elem(kind, acc_t, "xp[i * step]"),
              "{COMBINE0}": _combine(kind, z.dtype, "op[0]", "v"),
              "{COMBINE1}": _combine(kind, z.dtype, "op[i]", "v"),
              "{COMBINES}": _combine(kind, z.dtype, "op[i * ostep]", "v"),
              "{COMBINEOUT}": _combine(kind, z.dtype, "out[0]", "v"),
              "{IDENT}": _identity(kind, z.dtype)}
    seg.helper(name, fill(_REDUCE, fields))
    nd = x.ndim
    kept = [a for a in range(nd) if a not in axes]
    dims = ", ".join(xo.dim(a) for a in range(nd)) or "0"
    strides = ", ".join(xo.stride(a) for a in range(nd)) or "0"
    ostrides = ", ".join("0" if a in axes else zo.stride(kept.index(a)) for a in range(nd)) or "0"
    return (f"const long d[] = {{{dims}}}, xs[] = {{{strides}}}, os[] = {{{ostrides}}};\n"
            f"{name}({xo.ptr}, {zo.ptr}, {zo.size}, {nd}, d, xs, os);")


# -- Argmax, Argmin -----------------------------------------------------------------------
_ARG = r"""
/* index of the first {KIND} of a[0..n), n >= 1, or of the first NaN (NumPy's arg{KIND}):
   the extreme first (vectorised), then a search by rows of 128 */
__attribute__((noinline))
static long {NAME}(const {T} *a, long n)
{
    const {T} m = {EXTREME}(a, n);
    long i = 0;
    if (m != m) {
        for (; i < n; i++) if (a[i] != a[i]) return i;
    }
    for (; i + 128 <= n; i += 128) {
        int hit = 0;
        for (int j = 0; j < 128; j++) hit |= a[i + j] == m;
        if (hit) break;
    }
    for (; i < n; i++) if (a[i] == m) return i;
    return 0;
}
"""


def _arg_helper(seg, op, dtype):
    """The C name of ``f(a, n) -> long``: Argmax/Argmin of ``n >= 1`` contiguous elements."""
    kind = "max" if isinstance(op, Argmax) else "min"
    best = (extreme(seg, dtype, kind) if _is_float(dtype)
            else _inner_reduce(seg, kind, dtype, dtype, False))
    name = f"nnf_arg{kind}_{suffix(dtype)}"
    seg.helper(name, fill(_ARG, {"{NAME}": name, "{T}": ctype(dtype), "{KIND}": kind,
                                 "{EXTREME}": best}))
    return name


def _better(op, dtype, v, best):
    """Whether ``v`` replaces ``best``: strictly more extreme, or the first NaN."""
    cmp = ">" if isinstance(op, Argmax) else "<"
    if _is_float(dtype):
        return f"({v} {cmp} {best} || ({v} != {v} && {best} == {best}))"
    return f"({v} {cmp} {best})"


@register(Argmax, Argmin)
def emit_argreduce(node, seg):
    """Index (int64) of the first extreme along ``axis``, or in the flattened value."""
    (x,), (z,) = node.inputs, node.outputs
    xo, zo = seg.operand(x), seg.operand(z)
    axis, t = node.op.axis, xo.ctype
    better = _better(node.op, x.dtype, "v", "best")
    if axis is None:
        if xo.contiguous:
            return f"{zo.ptr}[0] = {_arg_helper(seg, node.op, x.dtype)}({xo.ptr}, {xo.size});"
        # a view: every element in C order, counting
        lines, depth = _outer_loops(xo, None)
        lines = [f"{t} best = {xo.ptr}[0];", "long at = 0, flat = 0;"] + lines
        lines += [f"const {t} v = xp[0];", f"if {better} {{ best = v; at = flat; }}", "flat++;"]
        lines += ["}"] * depth + [f"{zo.ptr}[0] = at;"]
        return "\n".join(lines)
    if xo.broadcastable[axis]:  # one candidate: index 0
        return f"const long total = {zo.size};\nfor (long i = 0; i < total; i++) {zo.ptr}[i] = 0;"
    last = all(xo.broadcastable[a] for a in range(axis + 1, x.ndim))
    lane = "1" if xo.contiguous and last else xo.stride(axis)
    lines, depth = _outer_loops(xo, axis)
    lines = [f"const long len = {xo.dim(axis)}, ls = {lane};", "long o = 0;"] + lines
    if lane == "1":  # contiguous lanes (the last axis)
        lines.append(f"{zo.ptr}[o++] = {_arg_helper(seg, node.op, x.dtype)}(xp, len);")
        return "\n".join(lines + ["}"] * depth)
    lines += [f"{t} best = xp[0];", "long at = 0;",
              "for (long i = 1; i < len; i++) {",
              f"    const {t} v = xp[i * ls];",
              f"    if {better} {{ best = v; at = i; }}",
              "}",
              f"{zo.ptr}[o++] = at;"]
    lines += ["}"] * depth
    return "\n".join(lines)
