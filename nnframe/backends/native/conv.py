"""Conv2d and its two gradients as im2col (or col2im) plus one GEMM per image.

For each image the windows of the zero-padded input are copied into a
column matrix ``cols`` (``ckk = channels * krows * kcols`` rows, ``P =
out_rows * out_cols`` columns) held in a scratch buffer that stays in cache,
and one GEMM of the bundled BLAS
(:func:`~nnframe.backends.native.blas._matmul_helper`) does the rest::

    Conv2d             out[n] (o, P)     = w (o, ckk) @ cols (ckk, P)
    Conv2dGradWeights  gw^T   (ckk, o)  += cols (ckk, P) @ g[n]^T (P, o)
    Conv2dGradInputs   cols   (ckk, P)   = w^T (ckk, o) @ g[n] (o, P), then col2im

Every GEMM is NN (both operands row-major, not transposed): the gradient
with respect to the weights transposes each image's output gradient (and
its sum, once), the one with respect to the inputs the (small) filters,
once.  OpenBLAS 0.3.31 (2 cores, Zen 4) took from 15 us to 1.4 ms, from one
run to the next, on (32, 121) @ (144, 121)^T, where NN took 11 us each
time (with one thread the transposed product took a steady 20 us: the slow
runs come from its threads on a busy machine).  All operands being row-major, the
matmul helper never copies (its scratch is NULL).  One GEMM per image, not per
batch: the buffers of one image stay in L2; W5's second convolution took
1.21 ms with groups of 16 images per GEMM (1.1 MB of columns), 0.96 ms so.

``filter_flip`` never copies the filters: the flip is folded into the
column matrix (row ``(c, u, v)`` reads the input under the flipped tap
``(kr-1-u, kc-1-v)``), so the filters and their gradient keep their own
layout.  Stride, dilation and flip are constants of the op, baked into the
C helpers (one per combination); padding (``'full'``, ``'half'`` and
``'same'`` depend on the filter size) and every length are read from
``meta``.  A 1x1 filter with no padding and stride 1 skips the copy: the
(contiguous) image is its own column matrix.  Inputs that are views are
read through their strides; filters or output gradients that are views are
first copied into the scratch buffer.

The NumPy kernels' dry run checks the shapes (channels, sizes) before the
C runs.  These nodes run on NumPy instead: dtypes other than
float32/float64, inputs whose dtypes differ from the output's (the NumPy
kernels cast), and any machine without a BLAS NumPy bundles.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x, w = T.ftensor4('x'), T.ftensor4('w')
>>> f = function([x, w], T.nnet.conv2d(x, w, border_mode='half'), mode='native')
>>> f(np.ones((1, 1, 3, 3), 'float32'), np.ones((1, 1, 3, 3), 'float32'))[0, 0]
array([[4., 6., 4.],
       [6., 9., 6.],
       [4., 6., 4.]], dtype=float32)
"""
import numpy as np

from nnframe.backends.native.blas import _matmul_helper, _suffix
from nnframe.backends.native.registry import register
from nnframe.core.ops.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights

__all__ = ["emit_conv2d", "emit_conv2d_grad_weights", "emit_conv2d_grad_inputs", "add_ceil_div"]

_CEIL_DIV = r"""
/* ceil(a / b) for b > 0 (C division truncates toward zero) */
static inline long nnf_ceil_div(long a, long b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}
"""

_RANGE = r"""
/* [*lo, *hi): the output positions j < n whose input position j * s + off is in [0, len) */
static inline void nnf_conv_range(long off, long s, long len, long n, long *lo, long *hi)
{
    long a = nnf_ceil_div(-off, s), b = nnf_ceil_div(len - off, s);
    if (a < 0) a = 0;
    if (b > n) b = n;
    if (b < a) b = a;
    *lo = a; *hi = b;
}
"""

# {N}: the helper's name; SR, SC (stride), DR, DC (dilation), FLIP: the op's constants.
_IM2COL = r"""
/* cols[(ci, u, v), (i, j)] = x[ci, i*SR + u'*DR - pr, j*SC + v'*DC - pc], 0 outside the
   input, where (u', v') is the tap (u, v), flipped when FLIP: ckk rows of P pixels, ld apart */
static void {N}(const {T} *restrict x, long c, long H, long W, long xs0, long xs1, long xs2,
                long kr, long kc, long pr, long pc, long oh, long ow, {T} *restrict cols, long ld)
{
    const long P = oh * ow;
    for (long ci = 0; ci < c; ci++)
    for (long u = 0; u < kr; u++)
    for (long v = 0; v < kc; v++) {
        {T} *dst = cols + ((ci * kr + u) * kc + v) * ld;
        const long ro = (FLIP ? kr - 1 - u : u) * DR - pr, co = (FLIP ? kc - 1 - v : v) * DC - pc;
        long ilo, ihi, jlo, jhi;
        nnf_conv_range(ro, SR, H, oh, &ilo, &ihi);
        nnf_conv_range(co, SC, W, ow, &jlo, &jhi);
        for (long k = 0; k < ilo * ow; k++) dst[k] = 0;
        for (long i = ilo; i < ihi; i++) {
            {T} *d = dst + i * ow;
            const {T} *s = x + ci * xs0 + (i * SR + ro) * xs1;
            for (long j = 0; j < jlo; j++) d[j] = 0;
            if (SC == 1 && xs2 == 1) {      /* the usual case: a contiguous run */
                const {T} *s1 = s + co;
                for (long j = jlo; j < jhi; j++) d[j] = s1[j];
            } else {
                for (long j = jlo; j < jhi; j++) d[j] = s[(j * SC + co) * xs2];
            }
            for (long j = jhi; j < ow; j++) d[j] = 0;
        }
        for (long k = ihi * ow; k < P; k++) dst[k] = 0;
    }
}
"""

_TRANSPOSE = r"""
/* b (cols x rows) = the transpose of a (rows x cols, contiguous), by 16 x 16 blocks */
static void {N}(const {T} *restrict a, long rows, long cols, {T} *restrict b)
{
    for (long i0 = 0; i0 < rows; i0 += 16)
        for (long j0 = 0; j0 < cols; j0 += 16) {
            const long i1 = i0 + 16 < rows ? i0 + 16 : rows, j1 = j0 + 16 < cols ? j0 + 16 : cols;
            for (long j = j0; j < j1; j++)
                for (long i = i0; i < i1; i++) b[j * rows + i] = a[i * cols + j];
        }
}
"""

_COL2IM = r"""
/* gx[ci] (contiguous H x W planes) = the sum of the columns over the taps reading each
   input entry: the adjoint of the im2col helper of the same constants */
static void {N}(const {T} *restrict cols, long c, long H, long W, long kr, long kc,
                long pr, long pc, long oh, long ow, {T} *restrict gx)
{
    const long P = oh * ow;
    for (long k = 0; k < c * H * W; k++) gx[k] = 0;
    for (long ci = 0; ci < c; ci++)
    for (long u = 0; u < kr; u++)
    for (long v = 0; v < kc; v++) {
        const {T} *src = cols + ((ci * kr + u) * kc + v) * P;
        const long ro = (FLIP ? kr - 1 - u : u) * DR - pr, co = (FLIP ? kc - 1 - v : v) * DC - pc;
        long ilo, ihi, jlo, jhi;
        nnf_conv_range(ro, SR, H, oh, &ilo, &ihi);
        nnf_conv_range(co, SC, W, ow, &jlo, &jhi);
        for (long i = ilo; i < ihi; i++) {
            {T} *d = gx + (ci * H + i * SR + ro) * W + co;
            const {T} *s = src + i * ow;
            for (long j = jlo; j < jhi; j++) d[j * SC] += s[j];
        }
    }
}
"""

_COPY4 = r"""
/* a 4-d strided array into a contiguous buffer */
static void {N}(const {T} *a, long n0, long n1, long n2, long n3,
                long s0, long s1, long s2, long s3, {T} *restrict out)
{
    for (long i = 0; i < n0; i++)
        for (long j = 0; j < n1; j++)
            for (long k = 0; k < n2; k++)
                for (long l = 0; l < n3; l++)
                    *out++ = a[i * s0 + j * s1 + k * s2 + l * s3];
}
"""


def add_ceil_div(seg):
    """Add the C ``nnf_ceil_div(a, b)`` (ceil of a / b for b > 0) to the segment."""
    seg.helper("nnf_ceil_div", _CEIL_DIV)


def _ctype(dtype):
    return "float" if str(dtype) == "float32" else "double"


def _constants(op):
    (sr, sc), (dr, dc) = op.subsample, op.filter_dilation
    return {"SR": sr, "SC": sc, "DR": dr, "DC": dc, "FLIP": int(op.filter_flip)}


def _geometry_helper(seg, template, prefix, op, dtype):
    """Add ``template`` specialised for ``op``'s constants and ``dtype``; its C name."""
    consts = _constants(op)
    name = f"{prefix}_{_suffix(dtype)}_" + "_".join(str(v) for v in consts.values())
    add_ceil_div(seg)
    seg.helper("nnf_conv_range", _RANGE)
    source = template.replace("{N}", name).replace("{T}", _ctype(dtype))
    defines = "".join(f"#define {k} {v}L\n" for k, v in consts.items())
    undefs = "".join(f"#undef {k}\n" for k in consts)
    seg.helper(name, defines + source + undefs)
    return name


def _float_node(node):
    """float32/float64 throughout (the C never casts), with a BLAS for that dtype."""
    out = node.outputs[0]
    tensors = [v for v in node.inputs if v.ndim == 4]
    return str(out.dtype) in ("float32", "float64") and all(
        v.dtype == out.dtype for v in tensors)


def _bytes(dtype, *counts):
    """A plan-time size in bytes: ``counts`` are functions of the plan's geometry."""
    item = np.dtype(dtype).itemsize
    return lambda geo: item * sum(int(fn(geo)) for fn in counts)


def _size(var):
    return lambda geo: int(np.prod(geo.shape(var), dtype=np.int64))


def _copy(seg, operand, scratch, dtype, order=(0, 1, 2, 3)):
    """C statement: the 4-d operand, its axes in ``order``, into the contiguous ``scratch``."""
    t = _ctype(dtype)
    name = f"nnf_copy4_{_suffix(dtype)}"
    seg.helper(name, _COPY4.replace("{N}", name).replace("{T}", t))
    dims = ", ".join(operand.dim(k) for k in order)
    strides = ", ".join(operand.stride(k) for k in order)
    return f"{name}({operand.ptr}, {dims}, {strides}, ({t} *){scratch});"


def _dense(seg, operand, scratch, dtype):
    """``(lines, pointer)``: the operand's elements in C order (a copy when it is a view)."""
    if operand.contiguous:
        return [], operand.ptr
    t = _ctype(dtype)
    return [_copy(seg, operand, scratch, dtype)], f"({t} *){scratch}"


def _image_strides(x):
    """C strides of axes 1..3 of a 4-d operand (the innermost is 1 when contiguous)."""
    return x.stride(1), x.stride(2), "1" if x.contiguous else x.stride(3)


def _pads(seg, op, kernel_shape):
    """``M[k]`` expressions of the row and column padding (they may depend on the filters)."""
    return tuple(seg.plan_int(lambda geo, a=a: op.pads(kernel_shape(geo))[a]) for a in (0, 1))


def _direct(op, x, pr, pc):
    """C condition: a 1x1 filter needing no copy (the image is its own column matrix)."""
    if not x.contiguous or op.subsample != (1, 1):
        return "0"
    return f"({pr} == 0 && {pc} == 0)"


def _conv_operands(node, seg):
    """``(dtype, matmul, first input, second input, result)`` operands of a conv node
    (image and filters, or one of them and the output gradient), or None when it stays
    on NumPy."""
    (out_var,) = node.outputs
    dtype = str(out_var.dtype)
    if not _float_node(node):
        return None
    matmul = _matmul_helper(seg, dtype)
    if matmul is None:
        return None
    first, g, out = (seg.operand(v) for v in (node.inputs[0], node.inputs[1], out_var))
    for size in node.inputs[2:]:
        seg.operand(size)  # the dry run reads them: they must be values of the segment
    if not out.contiguous:
        return None
    return dtype, matmul, first, g, out


@register(Conv2d)
def emit_conv2d(node, seg):
    op = node.op
    x_var, w_var = node.inputs
    (out_var,) = node.outputs
    prepared = _conv_operands(node, seg)
    if prepared is None:
        return None
    dtype, matmul, x, w, out = prepared
    t = _ctype(dtype)
    im2col = _geometry_helper(seg, _IM2COL, "nnf_im2col", op, dtype)
    pr, pc = _pads(seg, op, lambda geo: geo.shape(w_var)[2:])

    def cols_n(geo):
        (_, c, kr, kc), (_, _, oh, ow) = geo.shape(w_var), geo.shape(out_var)
        return c * kr * kc * oh * ow
    scratch = seg.scratch_buffer(_bytes(dtype, cols_n, _size(w_var)))
    copy, wp = _dense(seg, w, f"(({t} *){scratch} + cols_n)", dtype)
    b, c, H, W = (x.dim(k) for k in range(4))
    o, kr, kc = w.dim(0), w.dim(2), w.dim(3)
    oh, ow = out.dim(2), out.dim(3)
    xs1, xs2, xs3 = _image_strides(x)
    direct = _direct(op, x, pr, pc)
    return "\n".join([
        f"const long ckk = {c} * {kr} * {kc}, P = {oh} * {ow}, cols_n = ckk * P;",
        "(void)cols_n;",
        f"const int direct = {direct} && {kr} == 1 && {kc} == 1;",
        f"{t} *cols = ({t} *){scratch};",
        *copy,
        f"for (long n = 0; n < {b}; n++) {{",
        f"    const {t} *xn = {x.ptr} + n * {x.stride(0)};",
        "    if (!direct)",
        f"        {im2col}(xn, {c}, {H}, {W}, {xs1}, {xs2}, {xs3}, {kr}, {kc}, {pr}, {pc}, "
        f"{oh}, {ow}, cols, P);",
        f"    {matmul}(1, {wp}, {o}, ckk, ckk, 1, direct ? xn : cols, P, P, 1, 0, "
        f"{out.ptr} + n * {o} * P, 0, nnf_gemm_{_suffix(dtype)});",
        "}",
    ])


@register(Conv2dGradWeights)
def emit_conv2d_grad_weights(node, seg):
    op = node.op
    x_var, g_var = node.inputs[:2]
    (out_var,) = node.outputs
    prepared = _conv_operands(node, seg)
    if prepared is None:
        return None
    dtype, matmul, x, g, out = prepared
    t = _ctype(dtype)
    im2col = _geometry_helper(seg, _IM2COL, "nnf_im2col", op, dtype)
    transpose = f"nnf_transpose_{_suffix(dtype)}"
    seg.helper(transpose, _TRANSPOSE.replace("{N}", transpose).replace("{T}", t))
    pr, pc = _pads(seg, op, lambda geo: geo.shape(out_var)[2:])

    def work(geo):
        # the columns, g[n] transposed and the sum gw^T
        (o, c, kr, kc), (_, _, oh, ow) = geo.shape(out_var), geo.shape(g_var)
        ckk = c * kr * kc
        return (ckk + o) * oh * ow + ckk * o
    scratch = seg.scratch_buffer(_bytes(dtype, work, _size(g_var)))
    copy, gp = _dense(seg, g, "(acc + ckk * o)", dtype)
    b, c, H, W = (x.dim(k) for k in range(4))
    o, kr, kc = out.dim(0), out.dim(2), out.dim(3)
    oh, ow = g.dim(2), g.dim(3)
    xs1, xs2, xs3 = _image_strides(x)
    direct = _direct(op, x, pr, pc)
    # gw^T (ckk, o) = sum_n cols_n (ckk, P) @ g[n]^T (P, o), then one transpose: NN GEMMs
    # (cols @ g^T also ran faster than g @ cols^T, its columns transposed, in W5's shapes).
    # Each image adds to the sum (beta 1) from zero, so an empty batch gives zeros.
    return "\n".join([
        f"const long o = {o}, ckk = {c} * {kr} * {kc}, P = {oh} * {ow};",
        f"const int direct = {direct} && {kr} == 1 && {kc} == 1;",
        f"{t} *cols = ({t} *){scratch}, *tr = cols + ckk * P, *acc = tr + P * o;",
        *copy,
        "for (long k = 0; k < o * ckk; k++) acc[k] = 0;",
        f"for (long n = 0; n < {b}; n++) {{",
        f"    const {t} *xn = {x.ptr} + n * {x.stride(0)};",
        "    if (!direct)",
        f"        {im2col}(xn, {c}, {H}, {W}, {xs1}, {xs2}, {xs3}, {kr}, {kc}, {pr}, {pc}, "
        f"{oh}, {ow}, cols, P);",
        f"    {transpose}({gp} + n * o * P, o, P, tr);",
        f"    {matmul}(1, direct ? xn : cols, ckk, P, P, 1, tr, o, o, 1, 1, acc, 0, "
        f"nnf_gemm_{_suffix(dtype)});",
        "}",
        f"{transpose}(acc, ckk, o, {out.ptr});",
    ])


@register(Conv2dGradInputs)
def emit_conv2d_grad_inputs(node, seg):
    op = node.op
    w_var, g_var = node.inputs[:2]
    prepared = _conv_operands(node, seg)
    if prepared is None:
        return None
    dtype, matmul, w, g, out = prepared
    t = _ctype(dtype)
    col2im = _geometry_helper(seg, _COL2IM, "nnf_col2im", op, dtype)
    pr, pc = _pads(seg, op, lambda geo: geo.shape(w_var)[2:])

    def cols_n(geo):
        (_, c, kr, kc), (_, _, oh, ow) = geo.shape(w_var), geo.shape(g_var)
        return c * kr * kc * oh * ow
    scratch = seg.scratch_buffer(_bytes(dtype, cols_n, _size(w_var), _size(g_var)))
    # the filters transposed once, (c, kr, kc, o): the GEMMs are NN (see grad weights)
    w_t = f"(({t} *){scratch} + cols_n)"
    copy_w = _copy(seg, w, w_t, dtype, order=(1, 2, 3, 0))
    copy_g, gp = _dense(seg, g, f"({w_t} + {w.dim(0)} * ckk)", dtype)
    b, c, H, W = (out.dim(k) for k in range(4))
    o, kr, kc = w.dim(0), w.dim(2), w.dim(3)
    oh, ow = g.dim(2), g.dim(3)
    # A 1x1 filter without padding or stride: the GEMM writes the image gradient itself.
    direct = "1" if op.subsample == (1, 1) else "0"
    return "\n".join([
        f"const long ckk = {c} * {kr} * {kc}, P = {oh} * {ow}, cols_n = ckk * P;",
        "(void)cols_n;",
        f"const int direct = {direct} && {pr} == 0 && {pc} == 0 && {kr} == 1 && {kc} == 1;",
        f"{t} *cols = ({t} *){scratch};",
        copy_w,
        *copy_g,
        f"for (long n = 0; n < {b}; n++) {{",
        f"    {t} *gxn = {out.ptr} + n * {c} * {H} * {W};",
        f"    {matmul}(1, {w_t}, ckk, {o}, {o}, 1, {gp} + n * {o} * P, P, P, 1, 0, "
        f"direct ? gxn : cols, 0, nnf_gemm_{_suffix(dtype)});",
        "    if (!direct)",
        f"        {col2im}(cols, {c}, {H}, {W}, {kr}, {kc}, {pr}, {pc}, {oh}, {ow}, gxn);",
        "}",
    ])
