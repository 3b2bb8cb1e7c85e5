"""nnframe's own float32 GEMM for CPUs with AVX-512, in the BLIS style.

Why not the bundled BLAS for everything: on the machine the budgets are measured on (AMD
EPYC Zen 4, one core, FMA peak ~117 GFLOP/s) OpenBLAS's SkylakeX kernels run the W1 step's
products at 88-100 GFLOP/s; this kernel runs them at 102-108 (benchmarks/RESULTS-native.md,
docs/native.md). Small or narrow products stay with the BLAS, whose kernels pad less.

How: the product is cut into blocks of ``KC`` steps of the sum. For each block, ``MC`` rows of
``a`` are packed into panels of ``MR`` rows (``p[k][i]``, in L2); each ``NR``-column panel of
``b`` is packed just before use (``p[k][j]``, in L1) and swept by the micro-kernel, which keeps
an ``MR x NR`` tile of ``c`` in 16 vector registers and does ``MR * NR / 16`` FMAs per step.
Packing reads any strides, so transposed, strided and broadcast operands cost no copy (a
transposed operand is packed with 8x8 register transposes). A tile's sums run over the
whole of ``k`` in order, one FMA per step (blocks of ``KC`` add to the tile ``c`` holds), so
the result does not depend on the machine's load or on threads: bit-for-bit repeatable.

:data:`SOURCE` is a library of its own, compiled once per machine and cached like any native
code (:func:`library`); segments call ``nnf_sgemm_own`` through a pointer they find in their
meta array (:func:`address`), as they call the BLAS, so a function's C does not compile it
again (it costs ~80 ms of compile). It defines ``NNF_OWN_SGEMM`` 1 where GCC targets
AVX-512 (``-march=native``), 0 elsewhere: then nothing of it is compiled and the address
is 0, so every product uses the BLAS.

    >>> from nnframe.backends.native import sgemm
    >>> sgemm.PACK_BYTES > 0 and "nnf_sgemm_own" in sgemm.SOURCE
    True
    >>> sgemm.address() >= 0                          # doctest: +SKIP
    True
"""

import ctypes
import logging
import os
import threading

__all__ = ["SOURCE", "PACK_BYTES", "use_condition", "library", "address", "start_loading"]

_LOG = logging.getLogger("nnframe")

MR, NR, KC, MC = 8, 32, 128, 512
#: bytes of the workspace nnf_sgemm_own needs: packed a, one packed b panel, 64 for alignment
PACK_BYTES = 4 * (MC * KC + KC * NR) + 64

# The products the own kernel takes: a C condition on m, n, k and b's element strides.
# Measured against the BLAS (one thread, Zen 4, operands in cache, benchmarks in docs/native.md):
# - b transposed (a . B^T, each gradient of a dense layer's input): the BLAS packs it
#   slowly; the own kernel takes 0.49-0.95x of its time from 2^17 multiply-adds when c has
#   64 columns or more (0.91-1.13x with 32);
# - other layouts: at 2^18 multiply-adds the own kernel is 1.07-1.7x slower (its packing
#   and per-panel work weigh more); from 2^20 it takes 0.66-0.98x of the BLAS's time when c
#   has 128 columns or more (4 panels), 1.0-1.16x with 32 or 64.
_USE = ("m >= 8 && k >= 8 && (bs0 == 1 && bs1 != 1"
        " ? n >= 64 && (double)m * n * k >= 131072.0"
        " : n >= 128 && (double)m * n * k >= 1048576.0)")


def use_condition():
    """The C expression (on ``m``, ``n``, ``k``, ``bs0``, ``bs1``) that picks the own kernel."""
    return _USE


SOURCE = r"""
#if defined(__AVX512F__) && defined(__GNUC__) && !defined(__clang__)
#define NNF_OWN_SGEMM 1
/* Contraction on here only: the tile's multiply-adds are fused (one rounding each, as the
   BLAS's kernels do); the rest of the source is compiled with contraction off.  The
   vectoriser off: the hot loops are written with vector types, and the others (edges) are
   not worth its compile time (it would triple this code's). */
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast", "no-tree-vectorize")
/* GCC vector types, not <immintrin.h>: the generated source includes no system header */
typedef float nnf_f16 __attribute__((vector_size(64)));
typedef float nnf_f16u __attribute__((vector_size(64), aligned(4), may_alias));
typedef float nnf_f8u __attribute__((vector_size(32), aligned(4), may_alias));
typedef float nnf_f8 __attribute__((vector_size(32)));
typedef int nnf_i8 __attribute__((vector_size(32)));
#define NNF_MR {MR}
#define NNF_NR {NR}
#define NNF_KC {KC}
#define NNF_MC {MC}

/* dst[k * ds + r] = src[r * ld + k] for r < 8, k < kc: 8 rows of a matrix whose rows are
   contiguous, transposed 8x8 at a time in registers (unpack, shuffle, swap halves) */
static void nnf_pack_t8(const float *src, long ld, long kc, float *dst, long ds)
{
    const nnf_i8 lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
    const nnf_i8 ev = {0, 1, 8, 9, 4, 5, 12, 13}, od = {2, 3, 10, 11, 6, 7, 14, 15};
    const nnf_i8 h0 = {0, 1, 2, 3, 8, 9, 10, 11}, h1 = {4, 5, 6, 7, 12, 13, 14, 15};
    long k0 = 0;
    for (; k0 + 8 <= kc; k0 += 8) {
        nnf_f8 r[8], t[8], u[8];
        /* unrolled, so the rows stay in registers (-O2 would keep them on the stack) */
#pragma GCC unroll 8
        for (int i = 0; i < 8; i++) r[i] = *(const nnf_f8u *)(src + i * ld + k0);
#pragma GCC unroll 4
        for (int i = 0; i < 8; i += 2) {
            t[i] = __builtin_shuffle(r[i], r[i + 1], lo);
            t[i + 1] = __builtin_shuffle(r[i], r[i + 1], hi);
        }
#pragma GCC unroll 2
        for (int i = 0; i < 8; i += 4) {
            u[i] = __builtin_shuffle(t[i], t[i + 2], ev);
            u[i + 1] = __builtin_shuffle(t[i], t[i + 2], od);
            u[i + 2] = __builtin_shuffle(t[i + 1], t[i + 3], ev);
            u[i + 3] = __builtin_shuffle(t[i + 1], t[i + 3], od);
        }
        float *d = dst + k0 * ds;
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            *(nnf_f8u *)(d + i * ds) = __builtin_shuffle(u[i], u[i + 4], h0);
            *(nnf_f8u *)(d + (i + 4) * ds) = __builtin_shuffle(u[i], u[i + 4], h1);
        }
    }
    for (long r = 0; r < 8; r++)
        for (long k = k0; k < kc; k++) dst[k * ds + r] = src[r * ld + k];
}

/* x[0:kc, 0:w] (element strides s_k along the sum, s_w across) into p[k * pw + j], j < w,
   zeros in columns w..pw-1: a panel of a (pw = MR = 8) or of b (pw = NR = 32) */
static void nnf_pack_panel(const float *x, long kc, long w, long s_k, long s_w, float *p,
                           long pw)
{
    if (s_w == 1 && w == pw) {  /* whole rows of the panel are contiguous: vector copies */
        for (long k = 0; k < kc; k++, x += s_k, p += pw) {
            if (pw == 8) { *(nnf_f8u *)p = *(const nnf_f8u *)x; continue; }
            ((nnf_f16u *)p)[0] = ((const nnf_f16u *)x)[0];
            ((nnf_f16u *)p)[1] = ((const nnf_f16u *)x)[1];
        }
        return;
    }
    long j0 = 0;
    if (s_k == 1 && s_w != 1)  /* columns of the panel are contiguous: transpose 8 at a time */
        for (; j0 + 8 <= w; j0 += 8) nnf_pack_t8(x + j0 * s_w, s_w, kc, p + j0, pw);
    for (long k = 0; k < kc; k++) {  /* the rest (edges, other strides) element by element */
        const float *xk = x + k * s_k;
        float *pk = p + k * pw;
        for (long j = j0; j < w; j++) pk[j] = xk[j * s_w];
        for (long j = w; j < pw; j++) pk[j] = 0;
    }
}

#define NNF_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* c[0:mr, 0:nr] = alpha * (pa panel . pb panel) + beta * c (c not read when beta == 0) */
static void nnf_sgemm_tile(long kc, const float *restrict pa, const float *restrict pb,
                           float *c, long ldc, float alpha, float beta, long mr, long nr)
{
#define NNF_DECL(i) nnf_f16 c##i##0 = {0}, c##i##1 = {0};
    NNF_ROWS(NNF_DECL)
    for (long k = 0; k < kc; k++) {
        nnf_f16 b0 = *(const nnf_f16 *)pb, b1 = *(const nnf_f16 *)(pb + 16);
#define NNF_FMA(i) { float ai = pa[i]; c##i##0 += ai * b0; c##i##1 += ai * b1; }
        NNF_ROWS(NNF_FMA)
        pa += NNF_MR; pb += NNF_NR;
    }
    if (mr == NNF_MR && nr == NNF_NR) {
#define NNF_STORE(i) { nnf_f16u *ci = (nnf_f16u *)(c + i * ldc); \
        if (beta != 0) { ci[0] = alpha * c##i##0 + beta * ci[0]; ci[1] = alpha * c##i##1 + beta * ci[1]; } \
        else { ci[0] = alpha * c##i##0; ci[1] = alpha * c##i##1; } }
        NNF_ROWS(NNF_STORE)
        return;
    }
    /* an edge tile: through a local copy, then the rows and columns that exist */
    float t[NNF_MR][NNF_NR] __attribute__((aligned(64)));
#define NNF_KEEP(i) *(nnf_f16 *)t[i] = c##i##0; *(nnf_f16 *)(t[i] + 16) = c##i##1;
    NNF_ROWS(NNF_KEEP)
    for (long i = 0; i < mr; i++)
        for (long j = 0; j < nr; j++)
            c[i * ldc + j] = beta != 0 ? alpha * t[i][j] + beta * c[i * ldc + j] : alpha * t[i][j];
#undef NNF_DECL
#undef NNF_FMA
#undef NNF_STORE
#undef NNF_KEEP
}

/* c[m, n] (row-major, row stride ldc) = alpha * a[m, k] b[k, n] + beta * c; a and b have
   any element strides; work: PACK_BYTES bytes; c must not overlap a or b */
__attribute__((visibility("default")))
void nnf_sgemm_own(long m, long n, long k, float alpha, const float *a, long as0, long as1,
                   const float *b, long bs0, long bs1, float beta, float *c, long ldc,
                   void *work)
{
    float *pa = (float *)(((__UINTPTR_TYPE__)work + 63) & ~(__UINTPTR_TYPE__)63);
    float *pb = pa + NNF_MC * NNF_KC;
    if (k <= 0)  /* an empty sum: c = beta * c, as the BLAS does (c not read when beta == 0) */
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta != 0 ? beta * c[i * ldc + j] : 0;
    for (long pc = 0; pc < k; pc += NNF_KC) {
        long kc = k - pc < NNF_KC ? k - pc : NNF_KC;
        float beta_block = pc == 0 ? beta : 1.0f;  /* later blocks add to the partial sums */
        for (long ic = 0; ic < m; ic += NNF_MC) {
            long mc = m - ic < NNF_MC ? m - ic : NNF_MC;
            for (long ir = 0; ir < mc; ir += NNF_MR) {
                long mr = mc - ir < NNF_MR ? mc - ir : NNF_MR;
                nnf_pack_panel(a + (ic + ir) * as0 + pc * as1, kc, mr, as1, as0, pa + ir * kc,
                               NNF_MR);
            }
            for (long jr = 0; jr < n; jr += NNF_NR) {
                long nr = n - jr < NNF_NR ? n - jr : NNF_NR;
                nnf_pack_panel(b + pc * bs0 + jr * bs1, kc, nr, bs0, bs1, pb, NNF_NR);
                for (long ir = 0; ir < mc; ir += NNF_MR)
                    nnf_sgemm_tile(kc, pa + ir * kc, pb, c + (ic + ir) * ldc + jr, ldc, alpha,
                                   beta_block, mc - ir < NNF_MR ? mc - ir : NNF_MR, nr);
            }
        }
    }
}
#pragma GCC pop_options
#else
#define NNF_OWN_SGEMM 0
#endif
__attribute__((visibility("default"))) int nnf_sgemm_own_compiled(void) { return NNF_OWN_SGEMM; }
""".replace("{MR}", str(MR)).replace("{NR}", str(NR)).replace("{KC}", str(KC)).replace(
    "{MC}", str(MC))


# -- the library: compiled once per machine (cached like any native code), shared by every
# -- segment, which calls it through a pointer in its meta array (as it calls the BLAS)
_STATE = {"library": None, "address": None, "thread": None}
_STATE_LOCK = threading.Lock()


def _after_fork_in_child():
    """A child forked while the loading thread ran must not inherit its held lock (its first
    product would wait forever): a new lock, and a load not finished is started again."""
    global _STATE_LOCK
    _STATE_LOCK = threading.Lock()
    if _STATE["thread"] is not None:  # the loading thread does not exist in the child
        _STATE["thread"] = None
        if _STATE["library"] is None:  # it may not have finished: load again when asked
            _STATE["address"] = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def library():
    """The loaded library of :data:`SOURCE` (compiled, or from the cache); None when it could
    not be built (then logged once and every product uses the BLAS)."""
    with _STATE_LOCK:
        if _STATE["address"] is None:
            _STATE["address"] = 0
            try:
                from nnframe.backends.native import compiler
                lib = compiler.load_library(SOURCE, what="nnframe's own float32 GEMM")
                if lib.nnf_sgemm_own_compiled():
                    _STATE["library"] = lib
                    _STATE["address"] = ctypes.cast(lib.nnf_sgemm_own, ctypes.c_void_p).value
            except RuntimeError as exc:  # NativeCompileError / NativeUnavailable
                _LOG.error("nnframe: products run on the BLAS: %s", exc)
        return _STATE["library"]


def address():
    """The address of ``nnf_sgemm_own``, or 0 where it is not compiled (no AVX-512, clang)."""
    thread = _STATE["thread"]
    if thread is not None:
        thread.join()
    library()
    return _STATE["address"]


def start_loading():
    """Start building the library in a thread (first call only), so that its compiler runs
    at the same time as a segment's; :func:`address` waits for it (and so does the segment
    before ``function()`` returns: no loading thread outlives it)."""
    with _STATE_LOCK:
        if _STATE["address"] is not None or _STATE["thread"] is not None:
            return
        _STATE["thread"] = threading.Thread(target=library, name="nnframe-sgemm", daemon=True)
        _STATE["thread"].start()
