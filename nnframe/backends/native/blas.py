"""Dot and Gemm as calls to the GEMM of the BLAS NumPy bundles.

The function pointer (OpenBLAS's ``cblas_sgemm``/``dgemm``, found by
:mod:`nnframe.backends.numpy.cblas`) reaches the C through ``meta``: the
compiled code never links a BLAS itself.  Each operand is passed with the
transpose flag and leading dimension its strides allow (a transposed weight
costs nothing); an operand no BLAS layout describes (a broadcast, a stride
of 2) is first copied into a contiguous scratch buffer.  Vectors are
matrices of one row or column, so ``dot(x, W)``, ``dot(W, v)`` and
``dot(u, v)`` are all one GEMM call.  Without a BLAS these nodes run their
NumPy kernels.

Large float32 products run nnframe's own kernel instead where the CPU has
AVX-512 (:mod:`nnframe.backends.native.sgemm`; ``config.native_gemm='blas'``
turns it off): it packs any strides itself, so it needs no copies, only a
workspace in the same scratch buffer.
"""
import numpy as np

from nnframe.backends.native import sgemm
from nnframe.backends.native.registry import register
from nnframe.config import config
from nnframe.core.ops.blas import Dot, Gemm

__all__ = ["emit_dot", "emit_gemm"]

_HELPER = r"""
/* row-major BLAS layout of a rows x cols operand with element strides s0, s1:
   1 with (*trans, *ld) set, or 0 when no layout fits (copy it first) */
static int nnf_blas_layout(long rows, long cols, long s0, long s1, int *trans, long *ld)
{
    if ((cols == 1 || s1 == 1) && (rows == 1 || s0 >= cols)) {
        long l = rows > 1 ? s0 : cols; *trans = 111; *ld = l > cols ? l : (cols > 1 ? cols : 1);
        return 1;
    }
    if ((rows == 1 || s0 == 1) && (cols == 1 || s1 >= rows)) {
        long l = cols > 1 ? s1 : rows; *trans = 112; *ld = l > rows ? l : (rows > 1 ? rows : 1);
        return 1;
    }
    return 0;
}
"""

# One copy loop for every operand copied (a, b, Gemm's z): each loop costs GCC ~6 ms to
# vectorise, and restrict spares it the aliasing checks (and their scalar copy).
_COPY = r"""
/* dst (rows x cols, C-contiguous) = src, element strides s0, s1; no overlap */
__attribute__((noinline))
static void nnf_copy2d_{S}({T} *restrict dst, const {T} *restrict src, long rows, long cols,
                         long s0, long s1)
{
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) dst[i * cols + j] = src[i * s0 + j * s1];
}
"""

_OVERLAP = r"""
/* whether na elements from a and nb elements from b share memory (compared as integers:
   C leaves < between pointers into different arrays undefined) */
static int nnf_overlap(const void *a, long na, const void *b, long nb, long item)
{
    __UINTPTR_TYPE__ p = (__UINTPTR_TYPE__)a, q = (__UINTPTR_TYPE__)b;
    return na > 0 && nb > 0 && p < q + (__UINTPTR_TYPE__)(nb * item)
           && q < p + (__UINTPTR_TYPE__)(na * item);
}
"""

# noinline: one copy however many products call it (GCC would inline it where one does).
_MATMUL = r"""
/* c[m, n] = alpha * a[m, k] b[k, n] + beta * c (c contiguous); scratch holds copies
   (NULL: the operands fit a BLAS layout) */
__attribute__((noinline))
static void nnf_matmul_{S}({T} alpha, const {T} *a, long m, long k, long as0, long as1,
                         const {T} *b, long n, long bs0, long bs1, {T} beta, {T} *c,
                         {T} *scratch, nnf_gemm_{S}_t gemm)
{
    if (m == 0 || n == 0) return;
    if (k == 0) {
        for (long i = 0; i < m * n; i++) c[i] = beta == 0 ? 0 : beta * c[i];
        return;
    }
    int ta, tb; long lda, ldb;
    if (!nnf_blas_layout(m, k, as0, as1, &ta, &lda)) {
        nnf_copy2d_{S}(scratch, a, m, k, as0, as1);
        a = scratch; scratch += m * k; ta = 111; lda = k;
    }
    if (!nnf_blas_layout(k, n, bs0, bs1, &tb, &ldb)) {
        nnf_copy2d_{S}(scratch, b, k, n, bs0, bs1);
        b = scratch; tb = 111; ldb = n;
    }
    gemm(101, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, n);
}
"""


# Dot and Gemm call this one (conv calls nnf_matmul_f32): own is nnf_sgemm_own's address
# from the segment's meta array, 0 where it is not compiled (sgemm.address)
_OWN_DISPATCH = r"""
typedef void (*nnf_own_f32_t)(long, long, long, float, const float *, long, long,
                              const float *, long, long, float, float *, long, void *);

/* nnf_matmul_f32, or nnframe's own GEMM for a large product where the CPU has AVX-512;
   scratch: at least sgemm.PACK_BYTES bytes */
__attribute__((noinline))
static void nnf_matmul_own_f32(float alpha, const float *a, long m, long k, long as0,
                               long as1, const float *b, long n, long bs0, long bs1, float beta,
                               float *c, float *scratch, nnf_gemm_f32_t gemm, long own)
{
    if (own && ({USE})) {
        ((nnf_own_f32_t)own)(m, n, k, alpha, a, as0, as1, b, bs0, bs1, beta, c, n, scratch);
        return;
    }
    nnf_matmul_f32(alpha, a, m, k, as0, as1, b, n, bs0, bs1, beta, c, scratch, gemm);
}
"""


def _suffix(dtype):
    return {"float32": "f32", "float64": "f64"}.get(str(dtype))


def _matmul_helper(seg, dtype, own=False):
    """The name of the C matmul for ``dtype`` (added to the segment), or None without BLAS.

    ``own``: large float32 products may run the own kernel, whose workspace the caller's
    scratch holds (:func:`_scratch`).
    """
    suffix = _suffix(dtype)
    if suffix is None or seg.gemm(dtype) is None:
        return None
    seg.helper("nnf_blas_layout", _HELPER)
    t = "float" if suffix == "f32" else "double"
    seg.helper(f"nnf_copy2d_{suffix}", _COPY.replace("{S}", suffix).replace("{T}", t))
    seg.helper(f"nnf_matmul_{suffix}", _MATMUL.replace("{S}", suffix).replace("{T}", t))
    if own and _own_gemm(dtype):
        seg.helper("nnf_matmul_own_f32", _OWN_DISPATCH.replace("{USE}", sgemm.use_condition()))
        return "nnf_matmul_own_f32"
    return f"nnf_matmul_{suffix}"


def _own_pointer(seg, matmul):
    """The extra argument of the own-GEMM dispatcher (its address, from meta), or ''."""
    return f", {seg.meta_ref(('own_gemm',))}" if matmul == "nnf_matmul_own_f32" else ""


def _own_gemm(dtype):
    """Whether float products of ``dtype`` may use nnframe's own kernel (config.native_gemm);
    the C still checks the CPU (AVX-512) and each product's shape."""
    return np.dtype(dtype) == np.float32 and config.native_gemm == "auto"


def _as_matrix(op, rows_first):
    """``(rows, cols, s0, s1)`` C expressions of a vector or matrix operand.

    A vector is a row (``rows_first``: the left operand) or a column.
    """
    if op.ndim == 2:
        return op.dim(0), op.dim(1), op.stride(0), op.stride(1)
    if op.ndim == 1:
        if rows_first:
            return "1", op.dim(0), "0", op.stride(0)
        return op.dim(0), "1", op.stride(0), "0"
    return None


def _scratch(seg, x, y, own=False):
    """Scratch big enough for copies of both operands (bytes), and with ``own`` for the own
    kernel's workspace."""
    item = np.dtype(x.dtype).itemsize
    least = sgemm.PACK_BYTES if own and _own_gemm(x.dtype) else 0

    def nbytes(geo):
        return max((int(np.prod(geo.shape(x))) + int(np.prod(geo.shape(y)))) * item, least)
    return seg.scratch_buffer(nbytes)


@register(Dot)
def emit_dot(node, seg):
    x, y = node.inputs
    (z,) = node.outputs
    if x.ndim not in (1, 2) or y.ndim not in (1, 2) or not (x.dtype == y.dtype == z.dtype):
        return None
    matmul = _matmul_helper(seg, z.dtype, own=True)
    if matmul is None:
        return None
    a, b, c = seg.operand(x), seg.operand(y), seg.operand(z)
    if not c.contiguous:
        return None
    scratch = _scratch(seg, x, y, own=True)
    m, k, as0, as1 = _as_matrix(a, True)
    _, n, bs0, bs1 = _as_matrix(b, False)
    return (f"{matmul}(1, {a.ptr}, {m}, {k}, {as0}, {as1}, {b.ptr}, {n}, {bs0}, {bs1}, 0, "
            f"{c.ptr}, ({c.ctype} *){scratch}, nnf_gemm_{_suffix(z.dtype)}"
            f"{_own_pointer(seg, matmul)});")


@register(Gemm)
def emit_gemm(node, seg):
    z, alpha, x, y, beta = node.inputs
    (out,) = node.outputs
    if not (z.dtype == x.dtype == y.dtype == out.dtype):
        return None
    matmul = _matmul_helper(seg, out.dtype, own=True)
    if matmul is None:
        return None
    zo, ao, xo, yo, bo, oo = (seg.operand(v) for v in (z, alpha, x, y, beta, out))
    if not oo.contiguous:
        return None
    suffix = _suffix(out.dtype)
    lines = []
    if oo.value.alias is None:  # not in place: start from a copy of z (another buffer)
        lines.append(f"nnf_copy2d_{suffix}({oo.ptr}, {zo.ptr}, {zo.dim(0)}, "
                     f"{zo.dim(1)}, {zo.stride(0)}, {zo.stride(1)});")
    a, b = _unshared(seg, node, xo, yo, lines)
    scratch = _scratch(seg, x, y, own=True)
    lines.append(f"{matmul}({ao.scalar()}, {a[0]}, {xo.dim(0)}, {xo.dim(1)}, {a[1]}, {a[2]}, "
                 f"{b[0]}, {yo.dim(1)}, {b[1]}, {b[2]}, {bo.scalar()}, {oo.ptr}, "
                 f"({oo.ctype} *){scratch}, nnf_gemm_{suffix}{_own_pointer(seg, matmul)});")
    return "\n".join(lines)  # the segment puts each node's C in a block of its own


# Gemm may update z in place even when z and x (or y) both come from outside the segment
emit_gemm.copies_overlapping_inputs = True


def _unshared(seg, node, xo, yo, lines):
    """``(pointer, stride0, stride1)`` C expressions of Gemm's x and y, each replaced by a
    contiguous copy (C appended to ``lines``) when it came from outside the segment and
    its buffer overlaps the buffer the Gemm updates in place (checked at every call: two
    arrays from outside may share memory, which only their addresses tell)."""
    out = seg.operand(node.outputs[0]).value
    checks = out.overlap_checks
    operands = [(xo, xo.ptr, xo.stride(0), xo.stride(1)), (yo, yo.ptr, yo.stride(0), yo.stride(1))]
    if not checks:
        return [o[1:] for o in operands]
    seg.helper("nnf_overlap", _OVERLAP)
    target = seg.operand(out.alias.owner().var)
    copies = _scratch(seg, node.inputs[2], node.inputs[3])
    result, offset = [], "0"
    for k, (o, ptr, s0, s1) in enumerate(operands):
        owner = o.value.owner()
        if not any(owner is c for c in checks):
            result.append((ptr, s0, s1))
            continue
        source = seg.operand(owner.var)
        name = f"g{o.value.index}_{k}"
        lines.append(f"const {o.ctype} *{name} = {ptr}; long {name}s0 = {s0}, {name}s1 = {s1};")
        lines.append(f"if (nnf_overlap({source.ptr}, {source.size}, {target.ptr}, {target.size}, "
                     f"sizeof({o.ctype}))) {{ {o.ctype} *c = ({o.ctype} *){copies} + {offset}; "
                     f"nnf_copy2d_{_suffix(o.dtype)}(c, {ptr}, {o.dim(0)}, {o.dim(1)}, {s0}, {s1}); "
                     f"{name} = c; {name}s0 = {o.dim(1)}; {name}s1 = 1; }}")
        result.append((name, f"{name}s0", f"{name}s1"))
        offset = f"{xo.dim(0)} * {xo.dim(1)}"  # y's copy follows x's
    return result
