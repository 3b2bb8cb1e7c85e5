"""C for softmax, log-softmax, their gradient, one-hot and the 1-hot crossentropies.

Each op is computed the way its NumPy kernel computes it, step for step, so
the two backends differ only where ``exp``/``log`` do (the native backend's
own polynomials against NumPy's): the maximum of the row is subtracted
before ``exp``, the normaliser is NumPy's pairwise sum
(:func:`~nnframe.backends.native.reduce.pairwise_sum`) along a contiguous
row and a running sum across rows otherwise, and the division is a true
division.

Softmax, LogSoftmax and SoftmaxGrad see their operand as a C-contiguous
``(A, L, B)`` array reduced along ``L`` (``axis``; ``axis=None`` is
``(1, size, 1)``).  With ``B == 1`` (the last axis) each row is done in
turn; otherwise each step runs over a whole row of ``B`` lanes, with the
lanes' maxima and sums in a workspace, so the loops stay contiguous.  A
view (a transpose inside the graph) is first copied into a contiguous
buffer.

The 1-hot ops take a ``(rows, classes)`` matrix (any strides) and one class
index per row.  An index outside ``[0, classes)`` stops the call with the
NumPy kernel's message (``categorical_crossentropy: class index 7 (at
position 1) is out of range for 3 classes; valid indices are 0..2``),
raised as a ValueError naming the node (the NumPy kernel raises IndexError).

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x = T.fmatrix('x')
>>> f = function([x], T.nnet.softmax(x), mode='native')
>>> f(np.zeros((1, 4), 'float32'))
array([[0.25, 0.25, 0.25, 0.25]], dtype=float32)
"""
import numpy as np

from nnframe.backends.native.reduce import extreme, gather, pairwise_sum, suffix
from nnframe.backends.native.registry import register
from nnframe.backends.native.segment import fill
from nnframe.core.graph import Constant
from nnframe.core.ops.nnet import (
    CrossentropyCategorical1Hot,
    CrossentropyCategorical1HotGrad,
    CrossentropySoftmax1Hot,
    CrossentropySoftmax1HotDx,
    LogSoftmax,
    OneHot,
    Softmax,
    SoftmaxGrad,
)

__all__ = ["emit_softmax", "emit_log_softmax", "emit_softmax_grad", "emit_one_hot",
           "emit_crossentropy_softmax_1hot", "emit_crossentropy_softmax_1hot_dx",
           "emit_crossentropy_1hot", "emit_crossentropy_1hot_grad"]

_FLOATS = ("float32", "float64")

# -- along an axis: (A, L, B) -------------------------------------------------------------
# The max with NaN kept, as NumPy's maximum.reduce (a NaN row gives a NaN softmax), for
# a strided row; contiguous rows use reduce.extreme (vectorised).
_ROW_MAX = "{ const {T} v = {X}; m = ((v > m) | (v != v)) ? v : m; }"

_SOFTMAX = r"""
/* y = softmax of x along the middle axis of a C-contiguous (A, L, B) array (y may be x);
   w: 2 * B elements of workspace when B > 1 */
__attribute__((noinline))
static void nnf_softmax_{S}(const {T} *x, {T} *y, long A, long L, long B, {T} *w)
{
    if (L == 0) return;
    for (long a = 0; a < A; a++) {
        const {T} *xa = x + a * L * B;
        {T} *ya = y + a * L * B;
        if (B == 1) {
            const {T} m = {MAX}(xa, L);
            #pragma GCC ivdep
            for (long l = 0; l < L; l++) ya[l] = exp(xa[l] - m);
            const {T} s = {PSUM}(ya, L);
            for (long l = 0; l < L; l++) ya[l] = ya[l] / s;
            continue;
        }
        {T} *mx = w, *sum = w + B;
        for (long b = 0; b < B; b++) { mx[b] = xa[b]; sum[b] = 0; }
        for (long l = 1; l < L; l++)
            for (long b = 0; b < B; b++) {
                const {T} v = xa[l * B + b];
                mx[b] = ((v > mx[b]) | (v != v)) ? v : mx[b];
            }
        for (long l = 0; l < L; l++) {
            #pragma GCC ivdep
            for (long b = 0; b < B; b++) {
                const {T} e = exp(xa[l * B + b] - mx[b]);
                ya[l * B + b] = e;
                sum[b] = sum[b] + e;
            }
        }
        for (long l = 0; l < L; l++)
            for (long b = 0; b < B; b++) ya[l * B + b] = ya[l * B + b] / sum[b];
    }
}
"""

_LOG_SOFTMAX = r"""
/* y = log-softmax of x along the middle axis of a C-contiguous (A, L, B) array (y may be x):
   (x - max) - log(sum(exp(x - max))); w: 2 * B elements of workspace when B > 1 */
__attribute__((noinline))
static void nnf_log_softmax_{S}(const {T} *x, {T} *y, long A, long L, long B, {T} *w)
{
    if (L == 0) return;
    for (long a = 0; a < A; a++) {
        const {T} *xa = x + a * L * B;
        {T} *ya = y + a * L * B;
        if (B == 1) {
            const {T} m = {MAX}(xa, L);
            #pragma GCC ivdep
            for (long l = 0; l < L; l++) ya[l] = xa[l] - m;
            const {T} ls = log({PSUMEXP}(ya, L));
            for (long l = 0; l < L; l++) ya[l] = ya[l] - ls;
            continue;
        }
        {T} *mx = w, *sum = w + B;
        for (long b = 0; b < B; b++) { mx[b] = xa[b]; sum[b] = 0; }
        for (long l = 1; l < L; l++)
            for (long b = 0; b < B; b++) {
                const {T} v = xa[l * B + b];
                mx[b] = ((v > mx[b]) | (v != v)) ? v : mx[b];
            }
        for (long l = 0; l < L; l++) {
            #pragma GCC ivdep
            for (long b = 0; b < B; b++) {
                const {T} t = xa[l * B + b] - mx[b];
                ya[l * B + b] = t;
                sum[b] = sum[b] + exp(t);
            }
        }
        for (long b = 0; b < B; b++) sum[b] = log(sum[b]);
        for (long l = 0; l < L; l++)
            for (long b = 0; b < B; b++) ya[l * B + b] = ya[l * B + b] - sum[b];
    }
}
"""

_SOFTMAX_GRAD = r"""
/* y = s * (g - sum(g * s)) along the middle axis of C-contiguous (A, L, B) arrays, as
   NumPy's kernel: y = g * s; y -= s * sum(y); w: B elements of workspace when B > 1 */
__attribute__((noinline))
static void nnf_softmax_grad_{S}(const {T} *g, const {T} *s, {T} *y, long A, long L, long B,
                                 {T} *w)
{
    for (long a = 0; a < A; a++) {
        const long base = a * L * B;
        const {T} *ga = g + base, *sa = s + base;
        {T} *ya = y + base;
        if (B == 1) {
            for (long l = 0; l < L; l++) ya[l] = ga[l] * sa[l];
            const {T} t = {PSUM}(ya, L);
            for (long l = 0; l < L; l++) ya[l] = ya[l] - sa[l] * t;
            continue;
        }
        for (long b = 0; b < B; b++) w[b] = 0;
        for (long l = 0; l < L; l++)
            for (long b = 0; b < B; b++) {
                const {T} p = ga[l * B + b] * sa[l * B + b];
                ya[l * B + b] = p;
                w[b] = w[b] + p;
            }
        for (long l = 0; l < L; l++)
            for (long b = 0; b < B; b++) ya[l * B + b] = ya[l * B + b] - sa[l * B + b] * w[b];
    }
}
"""


def _fill(seg, template, dtype, name):
    """Add helper ``template`` for ``dtype`` (with the pairwise sums it calls); its C name."""
    t = "float" if dtype == "float32" else "double"
    fields = {"{S}": suffix(dtype), "{T}": t}
    if "{MAX}" in template:
        fields["{MAX}"] = extreme(seg, dtype, "max")
    if "{PSUM}" in template:
        fields["{PSUM}"] = pairwise_sum(seg, dtype)
    if "{PSUMEXP}" in template:
        fields["{PSUMEXP}"] = pairwise_sum(seg, dtype, shift_exp=True)
    name = f"{name}_{suffix(dtype)}"
    seg.helper(name, fill(template, fields))
    return name


def _product(op, axes):
    return " * ".join(f"{op.dim(k)}" for k in axes) or "1"


def _alb(op, axis):
    """``(A, L, B)`` C expressions of ``op`` seen along ``axis`` (None: all axes)."""
    if axis is None:
        return "1", op.size, "1"
    return (_product(op, range(axis)), op.dim(axis),
            _product(op, range(axis + 1, op.ndim)))


def _lane_workspace(seg, x, axis, count):
    """``count * B`` elements of workspace for the lanes after ``axis``, or a null pointer."""
    t = "float" if x.dtype == "float32" else "double"
    if axis is None or all(n == 1 for n in x.type.shape[axis + 1:]):
        return f"({t} *)0"  # B == 1 for sure: rows are done one at a time
    item = np.dtype(x.dtype).itemsize

    def nbytes(geo):
        return count * int(np.prod(geo.shape(x)[axis + 1:], dtype=np.int64)) * item
    return f"({t} *){seg.scratch_buffer(nbytes)}"


def _contiguous_copy(seg, var, op, lines):
    """A C pointer to ``var``'s elements in C order: ``op.ptr``, or a copy in a workspace."""
    if op.contiguous:
        return op.ptr
    item = np.dtype(var.dtype).itemsize

    def nbytes(geo):
        return int(np.prod(geo.shape(var), dtype=np.int64)) * item
    buf = f"(({op.ctype} *){seg.scratch_buffer(nbytes)})"
    lines.append(gather(seg, op, buf))
    return buf


def _along_axis(seg, node, template, name):
    """Softmax or LogSoftmax (``template``) of ``x`` along ``node.op.axis``."""
    (x,), (z,) = node.inputs, node.outputs
    if str(x.dtype) not in _FLOATS or z.dtype != x.dtype:
        return None
    axis = node.op.axis
    xo, zo = seg.operand(x), seg.operand(z)
    lines = []
    src = xo.ptr
    if not xo.contiguous:  # the output's buffer holds the copy; the helper works in place
        lines.append(gather(seg, xo, zo.ptr))
        src = zo.ptr
    fn = _fill(seg, template, str(x.dtype), name)
    a, length, b = _alb(zo, axis)
    work = _lane_workspace(seg, x, axis, 2)
    lines.append(f"{fn}({src}, {zo.ptr}, {a}, {length}, {b}, {work});")
    return "\n".join(lines)


@register(Softmax)
def emit_softmax(node, seg):
    return _along_axis(seg, node, _SOFTMAX, "nnf_softmax")


@register(LogSoftmax)
def emit_log_softmax(node, seg):
    return _along_axis(seg, node, _LOG_SOFTMAX, "nnf_log_softmax")


@register(SoftmaxGrad)
def emit_softmax_grad(node, seg):
    """``g * s - s * sum(g * s, axis)``, NumPy's kernel step for step."""
    (g, s), (z,) = node.inputs, node.outputs
    if str(s.dtype) not in _FLOATS or not (g.dtype == s.dtype == z.dtype):
        return None
    go, so, zo = seg.operand(g), seg.operand(s), seg.operand(z)
    lines = []
    gp = _contiguous_copy(seg, g, go, lines)
    sp = _contiguous_copy(seg, s, so, lines)
    fn = _fill(seg, _SOFTMAX_GRAD, str(s.dtype), "nnf_softmax_grad")
    a, length, b = _alb(zo, node.op.axis)
    work = _lane_workspace(seg, s, node.op.axis, 1)
    lines.append(f"{fn}({gp}, {sp}, {zo.ptr}, {a}, {length}, {b}, {work});")
    return "\n".join(lines)


# -- one class index per row ----------------------------------------------------------------
def _message(what):
    """The NumPy kernels' message (check_class_indices): details label, row, classes, classes-1."""
    return (what + ": class index {0} (at position {1}) is out of range for {2} classes; "
            "valid indices are 0..{3}")


def _row_label(seg, yo, what):
    """C lines setting ``long lab`` to row ``r``'s class index (``yo[r * ys]``), failing
    when it is not in ``[0, n)``."""
    fail = seg.fail(_message(what), "lab", "r", "n", "n - 1", error=IndexError)
    if np.dtype(yo.dtype).kind == "u":
        # unsigned: compare unsigned, so 2**64 - 1 is out of range, not -1
        return [f"const long lab = (long){yo.ptr}[r * ys];",
                f"if ((ulong){yo.ptr}[r * ys] >= (ulong)n) {fail}"]
    return [f"const long lab = (long){yo.ptr}[r * ys];", f"if (lab < 0 || lab >= n) {fail}"]


def _labels_ok(y):
    return y.ndim == 1 and np.dtype(y.dtype).kind in "iu"


def _per_row(sizes, body):
    """``body`` in a loop over rows ``r``, after ``const long`` locals ``sizes`` (name ->
    C expression: ``rows``, ``n``, strides).

    Lengths are copied out of ``meta`` first: without strict aliasing a store into the
    output could change ``M[k]``, so GCC would reload it at every step of a loop.
    """
    decl = "const long " + ", ".join(f"{k} = {v}" for k, v in sizes.items()) + ";"
    return "\n".join([decl, "for (long r = 0; r < rows; r++) {"] +
                     ["    " + line for line in body] + ["}"])


def _step(op, axis):
    """Element stride of ``op`` along ``axis``: a literal 1 when it is the last axis of a
    contiguous value (GCC then vectorises the loop)."""
    return "1" if op.contiguous and axis == op.ndim - 1 else op.stride(axis)


def _gradient_step(op):
    """Element stride of the incoming gradient ``g_y``: 0 when it has one element, which
    NumPy broadcasts to every row."""
    return f"({op.dim(0)} == 1 ? 0 : {_step(op, 0)})"


_XENT_SOFTMAX_ROW = r"""
/* softmax of one row of n logits x (element stride xs) into sm, and the row's loss
   log(sum(exp(x - max))) - (x[lab] - max), in the NumPy kernel's order; sm is the node's
   own output (restrict: GCC need not check at run time that it misses x) */
__attribute__((noinline))
static {T} nnf_xent_softmax_{S}(const {T} *restrict x, long xs, long n, long lab,
                                {T} *restrict sm)
{
    {T} m = x[0];
    if (xs == 1) m = {MAX}(x, n);
    else for (long c = 1; c < n; c++) {ROW_MAX}
    for (long c = 0; c < n; c++) sm[c] = x[c * xs] - m;
    const {T} picked = sm[lab];
    for (long c = 0; c < n; c++) sm[c] = exp(sm[c]);
    const {T} norm = {PSUM}(sm, n);
    for (long c = 0; c < n; c++) sm[c] = sm[c] / norm;
    return log(norm) - picked;
}
"""


@register(CrossentropySoftmax1Hot)
def emit_crossentropy_softmax_1hot(node, seg):
    """Per row: the softmax of the logits and ``-log`` of its entry at the row's class."""
    (x, y), (loss, sm) = node.inputs, node.outputs
    dtype = str(x.dtype)
    if dtype not in _FLOATS or not _labels_ok(y) or not (loss.dtype == sm.dtype == x.dtype):
        return None
    xo, yo, lo, so = (seg.operand(v) for v in (x, y, loss, sm))
    source = _XENT_SOFTMAX_ROW.replace("{ROW_MAX}", _ROW_MAX.replace("{X}", "x[c * xs]"))
    source = source.replace("{PSUM}", pairwise_sum(seg, dtype))
    source = source.replace("{MAX}", extreme(seg, dtype, "max"))
    name = f"nnf_xent_softmax_{suffix(dtype)}"
    seg.helper(name, source.replace("{S}", suffix(dtype)).replace("{T}", xo.ctype))
    sizes = {"rows": xo.dim(0), "n": xo.dim(1), "xs0": xo.stride(0), "xs1": _step(xo, 1),
             "ys": _step(yo, 0)}
    body = _row_label(seg, yo, "categorical_crossentropy_from_logits")
    body.append(f"{lo.ptr}[r] = {name}({xo.ptr} + r * xs0, xs1, n, lab, {so.ptr} + r * n);")
    return _per_row(sizes, body)


@register(CrossentropySoftmax1HotDx)
def emit_crossentropy_softmax_1hot_dx(node, seg):
    """``out = sm * g[:, None]``, then ``g`` taken off each row's entry at its class."""
    (g, s, y), (z,) = node.inputs, node.outputs
    if str(s.dtype) not in _FLOATS or not _labels_ok(y) or not (g.dtype == s.dtype == z.dtype):
        return None
    go, so, yo, zo = (seg.operand(v) for v in (g, s, y, z))
    sizes = {"rows": so.dim(0), "n": so.dim(1), "ss0": so.stride(0), "ss1": _step(so, 1),
             "ys": _step(yo, 0), "gs": _gradient_step(go)}
    body = _row_label(seg, yo, "categorical_crossentropy gradient")
    body += [f"const {zo.ctype} g = {go.ptr}[r * gs];",
             f"const {so.ctype} *sr = {so.ptr} + r * ss0;",
             f"{zo.ctype} *zr = {zo.ptr} + r * n;",
             "#pragma GCC ivdep",
             "for (long c = 0; c < n; c++) zr[c] = sr[c * ss1] * g;",
             "zr[lab] = zr[lab] - g;"]
    return _per_row(sizes, body)


@register(CrossentropyCategorical1Hot)
def emit_crossentropy_1hot(node, seg):
    """``loss[r] = -log(coding[r, y[r]])``."""
    (c, y), (z,) = node.inputs, node.outputs
    if str(c.dtype) not in _FLOATS or not _labels_ok(y) or z.dtype != c.dtype:
        return None
    co, yo, zo = (seg.operand(v) for v in (c, y, z))
    sizes = {"rows": co.dim(0), "n": co.dim(1), "cs0": co.stride(0), "cs1": _step(co, 1),
             "ys": _step(yo, 0)}
    body = _row_label(seg, yo, "categorical_crossentropy")
    body.append(f"{zo.ptr}[r] = -log({co.ptr}[r * cs0 + lab * cs1]);")
    return _per_row(sizes, body)


@register(CrossentropyCategorical1HotGrad)
def emit_crossentropy_1hot_grad(node, seg):
    """Zeros, and ``-g[r] / coding[r, y[r]]`` at each row's class."""
    (g, c, y), (z,) = node.inputs, node.outputs
    if str(c.dtype) not in _FLOATS or not _labels_ok(y) or not (g.dtype == c.dtype == z.dtype):
        return None
    go, co, yo, zo = (seg.operand(v) for v in (g, c, y, z))
    sizes = {"rows": co.dim(0), "n": co.dim(1), "cs0": co.stride(0), "cs1": _step(co, 1),
             "ys": _step(yo, 0), "gs": _gradient_step(go)}
    body = _row_label(seg, yo, "categorical_crossentropy gradient")
    body += [f"{zo.ctype} *zr = {zo.ptr} + r * n;",
             "for (long k = 0; k < n; k++) zr[k] = 0;",
             f"zr[lab] = -{go.ptr}[r * gs] / {co.ptr}[r * cs0 + lab * cs1];"]
    return _per_row(sizes, body)


def _fixed_per_plan(seg, var):
    """Whether ``var``'s value is the same for every call with the same input shapes."""
    if isinstance(var, Constant):
        return True
    value = seg.values.get(id(var))
    return value is not None and value.kind == "plan"


@register(OneHot)
def emit_one_hot(node, seg):
    """``out[r, y[r]] = 1``, zeros elsewhere; the number of classes is the output's width."""
    (y, n), (z,) = node.inputs, node.outputs
    # The output's shape comes from the plan, made once per input shapes: a number of
    # classes that may change between calls of the same shapes stays on NumPy.
    if not _labels_ok(y) or not _fixed_per_plan(seg, n):
        return None
    yo, zo = seg.operand(y), seg.operand(z)
    seg.operand(n)
    body = _row_label(seg, yo, "one_hot")
    body += [f"{zo.ctype} *zr = {zo.ptr} + r * n;",
             "for (long k = 0; k < n; k++) zr[k] = 0;",
             "zr[lab] = 1;"]
    return _per_row({"rows": yo.dim(0), "n": zo.dim(1), "ys": _step(yo, 0)}, body)
