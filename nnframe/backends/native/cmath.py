"""Branch-free float32/float64 elementary functions in C for the native backend's loops.

NumPy 2.x evaluates exp, tanh, log, ... with SIMD kernels; a C loop that calls libm's
scalar ``expf`` once per element is several times slower.  :data:`MATH_SOURCE` defines
``static inline`` functions, one per function and dtype, that GCC vectorises inside
the loops the backend emits: range reduction and minimax polynomials, no calls, no
table lookups, and no data-dependent branches (see :data:`MATH_SOURCE` for why even a C
ternary is avoided).  The source includes no header and calls no libm; it is correct with
and without ``-march=native``, with FMA contraction off (``a*b + c`` rounds twice; every
error bound below holds so) and without ``-ffast-math``.  The one exception by design:
float32 tanh and sigmoid call ``fmaf`` explicitly (``NNF_FMA_F32``) where the target has
FMA, so their results differ by an ulp or so between CPUs with and without it; every
other function gives the same bits on every x86-64 target.

Use it by pasting the source ahead of the loops and calling the names in
:data:`MATH_FUNCTIONS`:

>>> from nnframe.backends.native.cmath import MATH_FUNCTIONS, MATH_SOURCE
>>> MATH_FUNCTIONS["tanh"]
('nnf_tanh_f32', 'nnf_tanh_f64')
>>> "float nnf_tanh_f32(float x)" in MATH_SOURCE
True

Accuracy: the largest error in units in the last place of the result's dtype, against
a float64 reference for float32 (every one of the 2^32 float32 inputs) and a long double
reference for float64 (2*10^7 random inputs, log-uniform over the whole range and
uniform over each function's working range, plus the edge cases).  The bounds are
:data:`MATH_ERRORS`, which the tests assert::

    function   float32 measured / bound   float64 measured / bound
    exp        0.99 / 1                   0.81 / 1
    expm1      1.04 / 1.5                 0.96 / 1.5
    log        0.84 / 1                   0.81 / 1
    log1p      0.84 / 1                   0.85 / 1
    log2       0.86 / 1                   0.77 / 1
    log10      0.74 / 1                   0.69 / 1
    tanh       2.48 / 2.5                 1.46 / 2
    sigmoid    2.44 / 2.5                 2.28 / 3
    softplus   1.68 / 2                   1.47 / 2
    erf        0.50 / 1                   1.20 / 2
    sinh       0.50 / 1                   1.54 / 2
    cosh       0.50 / 1                   1.21 / 2

float32 tanh and sigmoid each divide two separately rounded quantities (one division and
no select, see MATH_SOURCE): that takes a third off their cost, which the
tanh(a*x + b) * sigmoid(x) loop of issue 20's W3 needs, and tanh pays 1.15 ulp for it.
Their polynomials and reductions take one ``fmaf`` per ``a*b + c`` on CPUs with FMA (a
fifth off the W3 loop: 3.15 to 2.56 ms on 4M float32); the table gives the variant
without FMA, and with FMA every float32 input measured tanh 2.44 and sigmoid 2.44 ulp.
float64 sigmoid is 1/(1+e) or e/(1+e) with e = exp(-|x|), three roundings.  Hence their
bounds.
Results below the smallest normal number are rounded once, from the exact value times a
power of two, so subnormal results (exp, expm1, sigmoid, softplus) are within the bound
in units of the smallest subnormal; subnormal inputs of the logarithms are scaled exactly.
float32 erf, sinh and cosh are computed in float64 and rounded once (they are not on hot
paths); the others stay in float32 so that a 512-bit vector holds 16 lanes.

Vectorisation (GCC 12, ``-O3``): every function vectorises with ``-march=native`` and
with ``-march=x86-64-v2`` (SSE4.2) and up.  Baseline x86-64 (SSE2) vectorises the float32
functions computed in float32; the float64 ones run as scalar code there, as SSE2 has no
64-bit lane select GCC will use.

NaN/Inf rules (those of NumPy's ufuncs; softplus is ``np.logaddexp(0, x)``, sigmoid the
exact 1/(1+exp(-x)) rounded):

* NaN in gives NaN out (the payload is not guaranteed), for every function.
* exp(+inf) = +inf, exp(-inf) = 0, overflow gives +inf, underflow 0 or a subnormal;
  expm1(-inf) = -1; sinh(+-inf) = +-inf, cosh(+-inf) = +inf; tanh(+-inf) = +-1,
  erf(+-inf) = +-1; sigmoid(-inf) = 0, sigmoid(+inf) = 1, and sigmoid(x) for large
  negative x is exp(x), not 0; softplus(+inf) = +inf, softplus(-inf) = 0, softplus(x) = x
  for large x and exp(x) for large negative x.
* log, log2, log10: of +-0 give -inf, of a negative number NaN, of +inf +inf;
  subnormal inputs are exact-scaled first.  log1p(-1) = -inf, log1p(x < -1) = NaN.
* Signed zeros are kept where NumPy keeps them: expm1, log1p, tanh, sinh and erf of -0.0
  are -0.0; exp, cosh of +-0 are 1, sigmoid(+-0) = 0.5, softplus(+-0) = log(2).
* No floating-point exception is trapped; flags (inexact, overflow) may be raised by
  lanes whose result is then discarded.
"""

#: The C source: ``static inline`` functions ``nnf_<name>_f32(float)`` and
#: ``nnf_<name>_f64(double)``, plus their ``nnf_``-prefixed helpers.
#:
#: Every float conditional is a bit select (``nnf_sel_*``), not a C ternary: GCC turns a
#: ternary into a branch, sinks the arithmetic only one arm needs into that arm, and
#: then, under the default ``-ftrapping-math``, refuses to if-convert float operations
#: that "could trap" - so without AVX-512's masked operations the loop stops vectorising.
#: Clamps also go through the select, so constant-folded arms cannot overflow either.
#: Integer min/max (``nnf_min_i32``) are ternaries: GCC folds those to MIN/MAX before
#: vectorising, with no float compare involved; float32 tanh and sigmoid clamp on the
#: bits with them, one instruction where a select takes three or more.
MATH_SOURCE = r"""
/* ---- nnframe native math: branch-free elementary functions (see cmath.py) ---- */
/* always_inline: the functions must inline into the caller's loop to vectorise, and
   GCC's size heuristics would otherwise keep the larger ones (erf) out of line */
#define NNF_INLINE static inline __attribute__((always_inline))
typedef __UINT32_TYPE__ nnf_u32;
typedef __INT32_TYPE__ nnf_i32;
typedef __UINT64_TYPE__ nnf_u64;
typedef __INT64_TYPE__ nnf_i64;

NNF_INLINE nnf_u32 nnf_bits_f32(float x) { nnf_u32 u; __builtin_memcpy(&u, &x, 4); return u; }
NNF_INLINE float nnf_float_f32(nnf_u32 u) { float x; __builtin_memcpy(&x, &u, 4); return x; }
NNF_INLINE nnf_u64 nnf_bits_f64(double x) { nnf_u64 u; __builtin_memcpy(&u, &x, 8); return u; }
NNF_INLINE double nnf_float_f64(nnf_u64 u) { double x; __builtin_memcpy(&x, &u, 8); return x; }

/* c ? a : b with no control flow (see MATH_SOURCE's docstring in cmath.py) */
NNF_INLINE float nnf_sel_f32(_Bool c, float a, float b) {
    nnf_u32 m = (nnf_u32)0 - (nnf_u32)c;
    return nnf_float_f32((nnf_bits_f32(a) & m) | (nnf_bits_f32(b) & ~m));
}
NNF_INLINE double nnf_sel_f64(_Bool c, double a, double b) {
    nnf_u64 m = (nnf_u64)0 - (nnf_u64)c;
    return nnf_float_f64((nnf_bits_f64(a) & m) | (nnf_bits_f64(b) & ~m));
}
/* a < b ? a : b on integers is safe where the float ternary is not: GCC folds it to a
   MIN_EXPR before vectorising (pminsd; emulated on SSE2), with no float compare to trap */
NNF_INLINE nnf_i32 nnf_min_i32(nnf_i32 a, nnf_i32 b) { return a < b ? a : b; }
NNF_INLINE nnf_i32 nnf_max_i32(nnf_i32 a, nnf_i32 b) { return a > b ? a : b; }
/* x's sign bit set ? a : b: an arithmetic shift and a bit select.  Cheaper than
   nnf_sel_f32(x < 0, ...), which AVX-512 code builds from two compares, two masked moves and
   an OR; here -0.0 and NaNs with the bit set pick a too. */
NNF_INLINE float nnf_sel_sign_f32(float x, float a, float b) {
    nnf_u32 m = (nnf_u32)((nnf_i32)nnf_bits_f32(x) >> 31);
    return nnf_float_f32((nnf_bits_f32(a) & m) | (nnf_bits_f32(b) & ~m));
}

/* a * b + c: one rounding where the target has FMA (__FMA__: -march=native on x86-64 since
   Haswell/Piledriver, and every aarch64), two without.  A chosen operation, not
   contraction (which stays off): only float32 tanh and sigmoid use it, where it takes a
   fifth off the W3 loop of issue 20.  Their results therefore differ by an ulp or so
   between CPUs with and without FMA; each variant is within the bounds of MATH_ERRORS. */
#if defined(__FMA__) || defined(__aarch64__)
#define NNF_FMA_F32(a, b, c) __builtin_fmaf((a), (b), (c))
#else
#define NNF_FMA_F32(a, b, c) ((a) * (b) + (c))
#endif

#define NNF_INF_F32 __builtin_inff()
#define NNF_NAN_F32 __builtin_nanf("")
#define NNF_INF_F64 __builtin_inf()
#define NNF_NAN_F64 __builtin_nan("")
/* largest x whose exp(x) rounds to a finite number */
#define NNF_EXP_MAX_F32 0x1.62e42ep+6f
#define NNF_EXP_MAX_F64 0x1.62e42fefa39efp+9

/* ---- exp reduction: exp(x) = 2^n exp(r), r = x - n ln2, |r| <= ln2/2 ----------------
   n = rint(x / ln2) by adding 1.5 * 2^p (its low mantissa bits then hold n), so there is
   no float-to-int conversion and no rint call.  ln2 = HI + LO with HI short enough that
   n * HI is exact; rc is the rounding error of r (only expm1 uses it: unused fields of
   these structs cost nothing once inlined). */
typedef struct { float r, rc, kf; nnf_i32 n; } nnf_expr_f32;
typedef struct { double r, rc, kf; nnf_i64 n; } nnf_expr_f64;

NNF_INLINE nnf_expr_f32 nnf_exp_reduce_f32(float x) {      /* |x| <= 128 */
    const float shift = 0x1.8p23f;
    float t = x * 0x1.715476p+0f + shift;
    nnf_expr_f32 e;
    e.kf = t - shift;
    float xh = x - e.kf * 0x1.63p-1f;                      /* exact */
    float klo = e.kf * -0x1.bd0106p-13f;
    e.r = xh - klo;
    e.rc = (xh - e.r) - klo;
    e.n = (nnf_i32)(nnf_bits_f32(t) - nnf_bits_f32(shift));
    return e;
}
NNF_INLINE nnf_expr_f64 nnf_exp_reduce_f64(double x) {     /* |x| <= 1100 */
    const double shift = 0x1.8p52;
    double t = x * 0x1.71547652b82fep+0 + shift;
    nnf_expr_f64 e;
    e.kf = t - shift;
    double xh = x - e.kf * 0x1.62e42ffp-1;                 /* exact */
    double klo = e.kf * -0x1.718432a1b0e26p-35;
    e.r = xh - klo;
    e.rc = (xh - e.r) - klo;
    e.n = (nnf_i64)(nnf_bits_f64(t) - nnf_bits_f64(shift));
    return e;
}

/* exp(r) = 1 + r + r^2 P(r), P a minimax fit of (e^r - 1 - r) / r^2 in relative error of
   exp (float32: 0.05 ulp; float64 shares expm1's polynomial below).  In float64 1 + r is
   summed exactly (Fast2Sum, |r| < 1) so only the last addition rounds at the result's
   scale (0.94 -> 0.79 ulp); float32 skips that for speed (3 of ~40 operations; it would
   take 0.99 ulp to 0.81). */
NNF_INLINE float nnf_exp_sum_f32(float r, float r2p) {
    return 1.0f + (r + r2p);
}
NNF_INLINE double nnf_exp_sum_f64(double r, double r2p) {
    double s = 1.0 + r;
    return s + (((1.0 - s) + r) + r2p);
}
NNF_INLINE float nnf_exp_poly_f32(float r) {
    float p = 0x1.6ac502p-10f;
    p = p * r + 0x1.123dcap-7f;
    p = p * r + 0x1.555858p-5f;
    p = p * r + 0x1.55548cp-3f;
    p = p * r + 0x1.fffffcp-2f;
    return nnf_exp_sum_f32(r, r * (r * p));
}

/* expm1(r) - r = r^2 P(r) + rc (1 + r), P a minimax fit of (e^r - 1 - r) / r^2 in
   relative error of expm1 (float32: 0.06 ulp, float64: 0.006 ulp) */
NNF_INLINE float nnf_expm1_lo_f32(nnf_expr_f32 e) {
    float r = e.r, p = 0x1.3b83bap-13f;
    p = p * r + 0x1.6d2e4cp-10f;
    p = p * r + 0x1.1155aap-7f;
    p = p * r + 0x1.555502p-5f;
    p = p * r + 0x1.55552cp-3f;
    p = p * r + 0x1p-1f;
    return r * (r * p) + (e.rc + e.rc * r);
}
NNF_INLINE double nnf_expm1_r2p_f64(double r) {               /* r^2 P(r) */
    double p = 0x1.1f2c29a5afb50p-29;
    p = p * r + 0x1.af5cb66e58e58p-26;
    p = p * r + 0x1.27e4f931e45f8p-22;
    p = p * r + 0x1.71ddf951846f5p-19;
    p = p * r + 0x1.a01a01a059377p-16;
    p = p * r + 0x1.a01a01af9da50p-13;
    p = p * r + 0x1.6c16c16c161edp-10;
    p = p * r + 0x1.111111110f6f7p-7;
    p = p * r + 0x1.5555555555559p-5;
    p = p * r + 0x1.5555555555559p-3;
    p = p * r + 0x1p-1;
    return r * (r * p);
}
NNF_INLINE double nnf_expm1_lo_f64(nnf_expr_f64 e) {
    return nnf_expm1_r2p_f64(e.r) + (e.rc + e.rc * e.r);
}
NNF_INLINE double nnf_exp_poly_f64(nnf_expr_f64 e) {
    return nnf_exp_sum_f64(e.r, nnf_expm1_r2p_f64(e.r));
}

/* m * 2^n as m * 2^n1 * 2^n2 with both factors normal for every n the clamped callers
   produce: an overflowing or subnormal result is rounded once, by the last multiply.
   The float64 halving uses a logical shift of n + 2048 (SSE2 has no 64-bit arithmetic
   shift). */
NNF_INLINE float nnf_exp_scale_f32(float m, nnf_i32 n) {
    nnf_i32 n1 = n >> 1, n2 = n - n1;
    return m * nnf_float_f32((nnf_u32)(n1 + 127) << 23) * nnf_float_f32((nnf_u32)(n2 + 127) << 23);
}
NNF_INLINE double nnf_exp_scale_f64(double m, nnf_i64 n) {
    nnf_i64 n1 = (nnf_i64)((nnf_u64)(n + 2048) >> 1) - 1024, n2 = n - n1;
    return m * nnf_float_f64((nnf_u64)(n1 + 1023) << 52)
             * nnf_float_f64((nnf_u64)(n2 + 1023) << 52);
}

/* exp(x) * 2^bias for x already clamped to [-104, 89] / [-746, 711] (NaN passes) */
NNF_INLINE float nnf_exp_clamped_f32(float xc, nnf_i32 bias) {
    nnf_expr_f32 e = nnf_exp_reduce_f32(xc);
    return nnf_exp_scale_f32(nnf_exp_poly_f32(e.r), e.n + bias);
}
NNF_INLINE double nnf_exp_clamped_f64(double xc, nnf_i64 bias) {
    nnf_expr_f64 e = nnf_exp_reduce_f64(xc);
    return nnf_exp_scale_f64(nnf_exp_poly_f64(e), e.n + bias);
}

NNF_INLINE float nnf_exp_f32(float x) {
    /* comparisons with NaN are false, so NaN passes the clamps and the selects */
    float xc = nnf_sel_f32(x > NNF_EXP_MAX_F32, NNF_EXP_MAX_F32, x);
    xc = nnf_sel_f32(xc < -104.0f, -104.0f, xc);        /* exp(-104) rounds to 0 */
    return nnf_sel_f32(x > NNF_EXP_MAX_F32, NNF_INF_F32, nnf_exp_clamped_f32(xc, 0));
}
NNF_INLINE double nnf_exp_f64(double x) {
    double xc = nnf_sel_f64(x > NNF_EXP_MAX_F64, NNF_EXP_MAX_F64, x);
    xc = nnf_sel_f64(xc < -746.0, -746.0, xc);          /* exp(-746) rounds to 0 */
    return nnf_sel_f64(x > NNF_EXP_MAX_F64, NNF_INF_F64, nnf_exp_clamped_f64(xc, 0));
}

/* expm1 = (2^n r + b) + (2^n lo + ((2^n - b) - 1)), b = 2^n - 1 rounded: the first sum
   is exact by Fast2Sum (2^n r is exact and |b| >= |2^n r| unless n = 0, where b = 0), and
   the last term is the -1 that b loses once 2^n - 1 has more bits than the format.
   For n in [-30, 127] / [-60, 1023]; 2^n overflows beyond. */
NNF_INLINE float nnf_expm1_sum_f32(nnf_expr_f32 e) {
    float s = nnf_float_f32((nnf_u32)(e.n + 127) << 23);
    float a = s * e.r, b = s - 1.0f, t = a + b;
    return t + (((b - t) + a) + (s * nnf_expm1_lo_f32(e) + ((s - b) - 1.0f)));
}
NNF_INLINE double nnf_expm1_sum_f64(nnf_expr_f64 e) {
    double s = nnf_float_f64((nnf_u64)(e.n + 1023) << 52);
    double a = s * e.r, b = s - 1.0, t = a + b;
    return t + (((b - t) + a) + (s * nnf_expm1_lo_f64(e) + ((s - b) - 1.0)));
}

/* Below 2^-25 / 2^-54, expm1(x) rounds to x (this also keeps -0.0).  At the largest n
   2^n is not finite, and exp(x) is used: expm1(x) rounds to it there. */
NNF_INLINE float nnf_expm1_f32(float x) {
    float xc = nnf_sel_f32(x > NNF_EXP_MAX_F32, NNF_EXP_MAX_F32, x);
    xc = nnf_sel_f32(xc < -18.0f, -18.0f, xc);          /* expm1(-18) rounds to -1 */
    nnf_expr_f32 e = nnf_exp_reduce_f32(xc);
    float big = nnf_exp_scale_f32(nnf_exp_sum_f32(e.r, nnf_expm1_lo_f32(e)), e.n);
    float y = nnf_sel_f32(e.kf > 127.5f, big, nnf_expm1_sum_f32(e));
    y = nnf_sel_f32(x > NNF_EXP_MAX_F32, NNF_INF_F32, y);
    return nnf_sel_f32(__builtin_fabsf(x) < 0x1p-25f, x, y);
}
NNF_INLINE double nnf_expm1_f64(double x) {
    double xc = nnf_sel_f64(x > NNF_EXP_MAX_F64, NNF_EXP_MAX_F64, x);
    xc = nnf_sel_f64(xc < -40.0, -40.0, xc);            /* expm1(-40) rounds to -1 */
    nnf_expr_f64 e = nnf_exp_reduce_f64(xc);
    double big = nnf_exp_scale_f64(nnf_exp_sum_f64(e.r, nnf_expm1_lo_f64(e)), e.n);
    double y = nnf_sel_f64(e.kf > 1023.5, big, nnf_expm1_sum_f64(e));
    y = nnf_sel_f64(x > NNF_EXP_MAX_F64, NNF_INF_F64, y);
    return nnf_sel_f64(__builtin_fabs(x) < 0x1p-54, x, y);
}

/* ---- log: x = 2^k (1 + f), 1 + f in [sqrt(1/2), sqrt(2)) ------------------------------
   Adding 1 - sqrt(1/2) to the bits before taking the exponent centres the mantissa
   (f = m - 1 is then exact); the exponent becomes a float by an int conversion (float32)
   or by way of 2^52's mantissa (float64: SSE/AVX2 have no int64 conversion).
   Subnormals are scaled by 2^23 / 2^54 first.  The result for x <= 0, inf and NaN is
   garbage that nnf_log_special_* replaces.
   log(1 + f) = f - hfsq + t with hfsq = f^2/2, t = s (hfsq + R(s^2)), s = f / (2 + f),
   R a minimax fit (float32: 0.014 ulp, float64: 0.011 ulp); kept in pieces so log2 and
   log10 can weight them. */
typedef struct { float f, hfsq, t, kf; } nnf_logr_f32;
typedef struct { double f, hfsq, t, kf; } nnf_logr_f64;

NNF_INLINE nnf_logr_f32 nnf_log_parts_f32(float f, float kf) {
    nnf_logr_f32 l;
    float s = f / (2.0f + f), z = s * s;
    float r = z * (0x1.55557ap-1f + z * (0x1.995ed4p-2f + z * 0x1.31e0dap-2f));
    l.f = f;
    l.hfsq = 0.5f * (f * f);
    l.t = s * (l.hfsq + r);
    l.kf = kf;
    return l;
}
NNF_INLINE nnf_logr_f64 nnf_log_parts_f64(double f, double kf) {
    nnf_logr_f64 l;
    double s = f / (2.0 + f), z = s * s, w = z * z;
    double t1 = w * (0x1.999999997ff04p-2 + w * (0x1.c71c52125890cp-3
                                                  + w * 0x1.39a1dad94ca61p-3));
    double t2 = z * (0x1.5555555555592p-1 + w * (0x1.24924941e338cp-2
                     + w * (0x1.74663d679a1fdp-3 + w * 0x1.2f04552fa24cap-3)));
    l.f = f;
    l.hfsq = 0.5 * (f * f);
    l.t = s * (l.hfsq + (t1 + t2));
    l.kf = kf;
    return l;
}

NNF_INLINE nnf_logr_f32 nnf_log_reduce_f32(float x) {
    _Bool sub = x < 0x1p-126f;
    float xs = x * nnf_sel_f32(sub, 0x1p23f, 1.0f);
    nnf_u32 ix = nnf_bits_f32(xs) + (0x3f800000u - 0x3f3504f3u);
    float kf = (float)((nnf_i32)(ix >> 23) - 127) - nnf_sel_f32(sub, 23.0f, 0.0f);
    float m = nnf_float_f32((ix & 0x007fffffu) + 0x3f3504f3u);
    return nnf_log_parts_f32(m - 1.0f, kf);
}
NNF_INLINE double nnf_exponent_f64(nnf_u64 ix) {                /* (ix >> 52) - 1023 */
    return (nnf_float_f64(0x4330000000000000ull | (ix >> 52)) - 0x1p52) - 1023.0;
}
NNF_INLINE nnf_logr_f64 nnf_log_reduce_f64(double x) {
    _Bool sub = x < 0x1p-1022;
    double xs = x * nnf_sel_f64(sub, 0x1p54, 1.0);
    nnf_u64 ix = (nnf_bits_f64(xs) & 0x7fffffffffffffffull)
                 + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull);
    double kf = nnf_exponent_f64(ix) - nnf_sel_f64(sub, 54.0, 0.0);
    double m = nnf_float_f64((ix & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull);
    return nnf_log_parts_f64(m - 1.0, kf);
}

/* k ln2 + log(1 + f) + c, the exact terms (f, k ln2_hi) added last */
NNF_INLINE float nnf_log_combine_f32(nnf_logr_f32 l, float c) {
    return l.kf * 0x1.63p-1f + (l.f - (l.hfsq - (l.t + (l.kf * -0x1.bd0106p-13f + c))));
}
NNF_INLINE double nnf_log_combine_f64(nnf_logr_f64 l, double c) {
    return l.kf * 0x1.62e42ffp-1
           + (l.f - (l.hfsq - (l.t + (l.kf * -0x1.718432a1b0e26p-35 + c))));
}

NNF_INLINE float nnf_log_special_f32(float x, float y) {
    y = nnf_sel_f32(x == NNF_INF_F32, NNF_INF_F32, y);
    y = nnf_sel_f32(x == 0.0f, -NNF_INF_F32, y);
    return nnf_sel_f32(!(x >= 0.0f), NNF_NAN_F32, y);          /* x < 0 or NaN */
}
NNF_INLINE double nnf_log_special_f64(double x, double y) {
    y = nnf_sel_f64(x == NNF_INF_F64, NNF_INF_F64, y);
    y = nnf_sel_f64(x == 0.0, -NNF_INF_F64, y);
    return nnf_sel_f64(!(x >= 0.0), NNF_NAN_F64, y);
}

NNF_INLINE float nnf_log_f32(float x) {
    return nnf_log_special_f32(x, nnf_log_combine_f32(nnf_log_reduce_f32(x), 0.0f));
}
NNF_INLINE double nnf_log_f64(double x) {
    return nnf_log_special_f64(x, nnf_log_combine_f64(nnf_log_reduce_f64(x), 0.0));
}

/* log2 / log10: f - hfsq split into hi (12 / 21 bits, so hi * C_HI is exact) + lo, and
   the large terms k (k log10(2)_hi) and hi * C_HI summed with their rounding error
   carried (Fast2Sum: |k| >= 1 > |hi * C_HI| or k = 0).  C = 1/ln2 or 1/ln10 = HI + LO. */
NNF_INLINE float nnf_log2_f32(float x) {
    nnf_logr_f32 l = nnf_log_reduce_f32(x);
    float hi = nnf_float_f32(nnf_bits_f32(l.f - l.hfsq) & 0xfffff000u);
    float lo = ((l.f - hi) - l.hfsq) + l.t;
    float vhi = hi * 0x1.716p+0f;
    float vlo = (lo + hi) * -0x1.7135a8p-13f + lo * 0x1.716p+0f;
    float w = l.kf + vhi;
    return nnf_log_special_f32(x, (vlo + ((l.kf - w) + vhi)) + w);
}
NNF_INLINE double nnf_log2_f64(double x) {
    nnf_logr_f64 l = nnf_log_reduce_f64(x);
    double hi = nnf_float_f64(nnf_bits_f64(l.f - l.hfsq) & 0xffffffff00000000ull);
    double lo = ((l.f - hi) - l.hfsq) + l.t;
    double vhi = hi * 0x1.71547652p+0;
    double vlo = (lo + hi) * 0x1.705fc2eefa2p-33 + lo * 0x1.71547652p+0;
    double w = l.kf + vhi;
    return nnf_log_special_f64(x, (vlo + ((l.kf - w) + vhi)) + w);
}
NNF_INLINE float nnf_log10_f32(float x) {
    nnf_logr_f32 l = nnf_log_reduce_f32(x);
    float hi = nnf_float_f32(nnf_bits_f32(l.f - l.hfsq) & 0xfffff000u);
    float lo = ((l.f - hi) - l.hfsq) + l.t;
    float vhi = hi * 0x1.bccp-2f, k2 = l.kf * 0x1.3442p-2f;
    float vlo = l.kf * -0x1.95ec1p-19f + ((lo + hi) * -0x1.09d5b2p-15f + lo * 0x1.bccp-2f);
    float w = k2 + vhi;
    return nnf_log_special_f32(x, (vlo + ((k2 - w) + vhi)) + w);
}
NNF_INLINE double nnf_log10_f64(double x) {
    nnf_logr_f64 l = nnf_log_reduce_f64(x);
    double hi = nnf_float_f64(nnf_bits_f64(l.f - l.hfsq) & 0xffffffff00000000ull);
    double lo = ((l.f - hi) - l.hfsq) + l.t;
    double vhi = hi * 0x1.bcb7b152p-2, k2 = l.kf * 0x1.3441350ap-2;
    double vlo = l.kf * -0x1.0c0219dc1da99p-39
                 + ((lo + hi) * 0x1.b9438ca9aadd5p-36 + lo * 0x1.bcb7b152p-2);
    double w = k2 + vhi;
    return nnf_log_special_f64(x, (vlo + ((k2 - w) + vhi)) + w);
}

/* log1p: u = 1 + x rounded, log(1 + x) = log(u) + c with c = ((1 + x) - u) / u.  When
   u has exponent 0, f = x itself is exact and c = 0.  Below 2^-24 / 2^-54, log1p(x)
   rounds to x (this also keeps -0.0). */
NNF_INLINE float nnf_log1p_core_f32(float x) {               /* x >= -1 or NaN */
    float u = 1.0f + x;
    nnf_u32 iu = nnf_bits_f32(u) + (0x3f800000u - 0x3f3504f3u);
    float kf = (float)((nnf_i32)(iu >> 23) - 127);
    float fm = nnf_float_f32((iu & 0x007fffffu) + 0x3f3504f3u) - 1.0f;
    float c = nnf_sel_f32(kf > 1.5f, 1.0f - (u - x), x - (u - 1.0f)) / u;
    _Bool k0 = kf == 0.0f;
    nnf_logr_f32 l = nnf_log_parts_f32(nnf_sel_f32(k0, x, fm), kf);
    return nnf_log_combine_f32(l, nnf_sel_f32(k0, 0.0f, c));
}
NNF_INLINE double nnf_log1p_core_f64(double x) {
    double u = 1.0 + x;
    nnf_u64 iu = (nnf_bits_f64(u) & 0x7fffffffffffffffull)
                 + (0x3ff0000000000000ull - 0x3fe6a09e667f3bcdull);
    double kf = nnf_exponent_f64(iu);
    double fm = nnf_float_f64((iu & 0x000fffffffffffffull) + 0x3fe6a09e667f3bcdull) - 1.0;
    double c = nnf_sel_f64(kf > 1.5, 1.0 - (u - x), x - (u - 1.0)) / u;
    _Bool k0 = kf == 0.0;
    nnf_logr_f64 l = nnf_log_parts_f64(nnf_sel_f64(k0, x, fm), kf);
    return nnf_log_combine_f64(l, nnf_sel_f64(k0, 0.0, c));
}
NNF_INLINE float nnf_log1p_f32(float x) {
    float y = nnf_log1p_core_f32(x);
    y = nnf_sel_f32(x == NNF_INF_F32, NNF_INF_F32, y);
    y = nnf_sel_f32(x == -1.0f, -NNF_INF_F32, y);
    y = nnf_sel_f32(!(x >= -1.0f), NNF_NAN_F32, y);            /* x < -1 or NaN */
    return nnf_sel_f32(__builtin_fabsf(x) < 0x1p-24f, x, y);
}
NNF_INLINE double nnf_log1p_f64(double x) {
    double y = nnf_log1p_core_f64(x);
    y = nnf_sel_f64(x == NNF_INF_F64, NNF_INF_F64, y);
    y = nnf_sel_f64(x == -1.0, -NNF_INF_F64, y);
    y = nnf_sel_f64(!(x >= -1.0), NNF_NAN_F64, y);
    return nnf_sel_f64(__builtin_fabs(x) < 0x1p-54, x, y);
}

/* ---- tanh, float32: a = |x| = n ln2/2 + r with |r| <= ln2/4, s = 2^n = e^(2a - 2r) and
   T = tanh(r) = r + r^3 P(r^2) (minimax, 0.003 ulp) give the addition formula
       tanh(a) = ((s - 1) + (s + 1) T) / ((s + 1) + (s - 1) T):
   one division and no select: 29 vector instructions where a polynomial for small |x| and
   an exp path for the rest, both evaluated, took 47 (W3 of issue 20).  The price: numerator
   and denominator are rounded separately, 2.48 ulp at most instead of 1.33.  s +- 1 are
   exact up to n = 24 and both round to s beyond, where the quotient is 1, tanh rounded; for
   n = 0 the quotient is 2T / 2 = T exactly, so tiny and subnormal x come out as x.  The
   reduction is exact (ln2/2 in two parts, n <= 26 since |x| is clamped to 9.1, past which
   tanh rounds to 1, on the bits so that NaN stays NaN: +0x7fffff takes +inf to INT32_MAX and
   every NaN below 0, where the signed min keeps it).  The sign is x's, put back by OR:
   tanh(-0) = -0. */
NNF_INLINE float nnf_tanh_f32(float x) {
    nnf_u32 ua = nnf_bits_f32(x) & 0x7fffffffu;
    float a = nnf_float_f32((nnf_u32)nnf_min_i32((nnf_i32)(ua + 0x7fffffu),
                                                 (nnf_i32)(0x4111999au + 0x7fffffu)) - 0x7fffffu);
    const float shift = 0x1.8p23f + 127.0f;                /* low bits of t: n + 127 */
    float t = NNF_FMA_F32(a, 0x1.715476p+1f, shift);
    float kf = t - shift;
    float s = nnf_float_f32(nnf_bits_f32(t) << 23);
    float r = NNF_FMA_F32(-kf, 0x1.7f7d1cp-21f, NNF_FMA_F32(-kf, 0x1.62e4p-2f, a));
    float z = r * r;
    float p = NNF_FMA_F32(z, NNF_FMA_F32(-0x1.afe7eep-5f, z, 0x1.1105b8p-3f), -0x1.55554ep-2f);
    float T = NNF_FMA_F32(r * z, p, r);
    float sm = s - 1.0f, sp = s + 1.0f;
    float y = NNF_FMA_F32(sp, T, sm) / NNF_FMA_F32(sm, T, sp);          /* >= +0 */
    return nnf_float_f32(nnf_bits_f32(y) | (nnf_bits_f32(x) & 0x80000000u));
}
/* ---- tanh, float64: a + a^3 P(a^2) for a = |x| < 0.55 (minimax, 0.005 ulp); beyond,
   1 - 2 / (exp(2a) + 1) with a clamped where tanh rounds to 1; copysign keeps tanh(-0) = -0. */
NNF_INLINE double nnf_tanh_f64(double x) {
    double a = __builtin_fabs(x);
    double z = a * a;
    double p = -0x1.46edde633ebb7p-16;
    p = p * z + 0x1.5d666e542dbf5p-14;
    p = p * z - 0x1.e96b076a1abe6p-13;
    p = p * z + 0x1.34833a0da78e9p-11;
    p = p * z - 0x1.7d8fc5db9c5ebp-10;
    p = p * z + 0x1.d6d29a8ad46f5p-9;
    p = p * z - 0x1.226e2f0e017a5p-7;
    p = p * z + 0x1.664f48593f41bp-6;
    p = p * z - 0x1.ba1ba1b97cb0fp-5;
    p = p * z + 0x1.1111111110790p-3;
    p = p * z - 0x1.555555555554fp-2;
    double small = a + a * (z * p);
    nnf_expr_f64 e = nnf_exp_reduce_f64(2.0 * nnf_sel_f64(a > 20.0, 20.0, a));
    double s = nnf_float_f64((nnf_u64)(e.n + 1023) << 52);        /* n <= 58 */
    double big = 1.0 - 2.0 / (nnf_exp_poly_f64(e) * s + 1.0);
    return __builtin_copysign(nnf_sel_f64(a < 0.55, small, big), x);
}

/* ---- sigmoid, float32: with u = -|x| = n ln2 + r, |r| <= ln2/2 and s = 2^n,
       sigmoid(u) = e^u / (1 + e^u) = s / ((1 + s) + expm1(-r))
   has an exact numerator.  The denominator, in [0.7, 2.5], is 1 + s (exact for n >= -23,
   off by at most s below) plus expm1(-r) = -r + r^2 P(r) (minimax, 0.05 ulp of 1 absolute),
   rounded once: so the error is about that rounding and the division's, 2.44 ulp at most
   (the worst at n = -24).  1 / (1 + e) with e = exp(-|x|) had 2.40 and an exp on top of the
   division: 43 vector instructions against 28.  sigmoid(-u) = 1 - sigmoid(u), rounded once
   more, is within 1.25 ulp (sigmoid(u) <= 1/2 carries its error at half weight).  Both
   sides of the quotient are scaled by 2^64, so that s stays normal for n down to -150 and
   a subnormal result is rounded once, by the division.  n is clamped at -150 (u < -104.3,
   where sigmoid(u) rounds to 0): r is then large, expm1(-r) grows to +inf and the quotient
   goes to 0, as it should; NaN passes (r is NaN).  The sign bit of x picks the side. */
NNF_INLINE float nnf_sigmoid_f32(float x) {
    float u = nnf_float_f32(nnf_bits_f32(x) | 0x80000000u);        /* -|x| */
    const float shift = 0x1.8p23f + 191.0f;                        /* low bits: n + 64 + 127 */
    float t = nnf_float_f32((nnf_u32)nnf_max_i32((nnf_i32)nnf_bits_f32(NNF_FMA_F32(u, 0x1.715476p+0f, shift)),
                                                 (nnf_i32)nnf_bits_f32(shift - 150.0f)));
    float kf = t - shift;
    float r = NNF_FMA_F32(-kf, -0x1.bd0106p-13f, NNF_FMA_F32(-kf, 0x1.63p-1f, u));
    float p = 0x1.6db424p54f;                                      /* P * 2^64 */
    p = NNF_FMA_F32(p, r, -0x1.123b4ep57f);
    p = NNF_FMA_F32(p, r, 0x1.55545ep59f);
    p = NNF_FMA_F32(p, r, -0x1.55548ep61f);
    p = NNF_FMA_F32(p, r, 0x1p63f);
    float s64 = nnf_float_f32(nnf_bits_f32(t) << 23);              /* 2^(n + 64) */
    float e = s64 / ((0x1p64f + s64) + NNF_FMA_F32(r * r, p, -r * 0x1p64f));  /* sigmoid(-|x|) */
    return nnf_sel_sign_f32(x, e, 1.0f - e);
}
/* ---- sigmoid, float64: 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0, e = exp(-|x|):
   no overflow, and for large negative x the result is exp(x), subnormals included. */
NNF_INLINE double nnf_sigmoid_f64(double x) {
    double e = nnf_exp_f64(-__builtin_fabs(x));
    return nnf_sel_f64(x < 0.0, e, 1.0) / (1.0 + e);
}

/* ---- softplus = max(x, 0) + log1p(exp(-|x|)) ---- */
NNF_INLINE float nnf_softplus_f32(float x) {
    float y = nnf_sel_f32(x > 0.0f, x, 0.0f) + nnf_log1p_core_f32(nnf_exp_f32(-__builtin_fabsf(x)));
    return nnf_sel_f32(x != x, x, y);
}
NNF_INLINE double nnf_softplus_f64(double x) {
    double y = nnf_sel_f64(x > 0.0, x, 0.0) + nnf_log1p_core_f64(nnf_exp_f64(-__builtin_fabs(x)));
    return nnf_sel_f64(x != x, x, y);
}

/* ---- sinh, cosh from h = exp(|x|) / 2 (scaled inside the exponent, so no overflow
   below the true threshold): sinh = h - 1/(4h), cosh = h + 1/(4h); sinh for |x| < 1
   is x + x^3 P(x^2) (minimax, 0.002 ulp). */
NNF_INLINE double nnf_exp_half_f64(double ax) {                /* ax >= 0 or NaN */
    return nnf_exp_clamped_f64(nnf_sel_f64(ax > 711.0, 711.0, ax), -1);
}
NNF_INLINE double nnf_sinh_f64(double x) {
    double ax = __builtin_fabs(x);
    double z = x * x;
    double p = 0x1.b5c88f6bc24f4p-41;
    p = p * z + 0x1.6116f4b4b94b6p-33;
    p = p * z + 0x1.ae646ff4e52e8p-26;
    p = p * z + 0x1.71de3a3b06db8p-19;
    p = p * z + 0x1.a01a01a037268p-13;
    p = p * z + 0x1.111111111101ep-7;
    p = p * z + 0x1.5555555555556p-3;
    double small = x + x * (z * p);
    double h = nnf_exp_half_f64(ax);
    return nnf_sel_f64(ax < 1.0, small, __builtin_copysign(h - 0.25 / h, x));
}
NNF_INLINE double nnf_cosh_f64(double x) {
    double h = nnf_exp_half_f64(__builtin_fabs(x));
    return h + 0.25 / h;
}

/* ---- erf: x + x A(x^2) for |x| < 0.85 (minimax, 0.14 ulp; the leading x exact); beyond,
   1 - exp(-x^2) h(|x|) with h = erfc(x) exp(x^2) a degree-12 polynomial on three
   intervals whose coefficients are selected (no table: gathers do not vectorise on
   every target); |x| is clamped at 5.95, where erf rounds to 1. */
NNF_INLINE double nnf_erf_f64(double x) {
    double ax = __builtin_fabs(x);
    double u = x * x;
    double pa = 0x1.6c0b81804ae93p-27;
    pa = pa * u - 0x1.507e34b087e0dp-23;
    pa = pa * u + 0x1.b819b71db4c91p-20;
    pa = pa * u - 0x1.f4af796a7b70dp-17;
    pa = pa * u + 0x1.f9a1724981695p-14;
    pa = pa * u - 0x1.c02da63e0f9ddp-11;
    pa = pa * u + 0x1.565bccc918c5cp-8;
    pa = pa * u - 0x1.b82ce310f0be6p-6;
    pa = pa * u + 0x1.ce2f21a03dedep-4;
    pa = pa * u - 0x1.812746b03798cp-2;
    pa = pa * u + 0x1.06eba8214db69p-3;                  /* 2/sqrt(pi) - 1 */
    double small = x + x * pa;
    double a = nnf_sel_f64(ax > 5.95, 5.95, ax);
    _Bool i1 = a < 1.45, i2 = a < 2.35;
#define NNF_ERF_C(c1, c2, c3) nnf_sel_f64(i1, c1, nnf_sel_f64(i2, c2, c3))
    double t = a - NNF_ERF_C(1.15, 1.9, 4.15);
    double ph = NNF_ERF_C(0x1.1eac8b51bfc25p-17, 0x1.31a57cd89b334p-21, 0x1.7d462ce6e3334p-27);
    ph = ph * t + NNF_ERF_C(-0x1.b43db3490890dp-16, -0x1.f073346952c2ep-20, 0x1.5c0736ae6de49p-24);
    ph = ph * t + NNF_ERF_C(0x1.436929822c200p-14, 0x1.a38b9f6ccfcb5p-18, 0x1.7c1acac3538dbp-22);
    ph = ph * t + NNF_ERF_C(-0x1.ddb525f7fd567p-13, -0x1.6bf0fd4708977p-16, 0x1.631c2abbd80fcp-21);
    ph = ph * t + NNF_ERF_C(0x1.53cd1da6213d5p-11, 0x1.30fabf10add28p-14, 0x1.ba1680fb0b612p-20);
    ph = ph * t + NNF_ERF_C(-0x1.d02fe8959fbf5p-10, -0x1.ee9193e1872c1p-13, -0x1.e7f8ba4586826p-20);
    ph = ph * t + NNF_ERF_C(0x1.2f5a03f1a9f9bp-8, 0x1.83642814dade7p-11, 0x1.d5c14d083947bp-17);
    ph = ph * t + NNF_ERF_C(-0x1.7982339f71b92p-7, -0x1.24327e7ec5585p-9, -0x1.16322eba6cc35p-14);
    ph = ph * t + NNF_ERF_C(0x1.bc94c87b06fb5p-6, 0x1.a6dbf7c803d0ep-8, 0x1.4adfd120d0e5fp-12);
    ph = ph * t + NNF_ERF_C(-0x1.eb93ba12ed386p-5, -0x1.242b76e87d448p-6, -0x1.82e99c032f520p-10);
    ph = ph * t + NNF_ERF_C(0x1.f8f288d400d0dp-4, 0x1.7f46aedfc6e3ap-5, 0x1.bac81666bf801p-8);
    ph = ph * t + NNF_ERF_C(-0x1.daafa7a7587c4p-3, -0x1.d9ad0c522f2c8p-4, -0x1.efa864a502f11p-6);
    ph = ph * t + NNF_ERF_C(0x1.8f2e6f686cf4fp-2, 0x1.10e7d54fd13c7p-2, 0x1.0ef59d9026114p-3);
#undef NNF_ERF_C
    double big = 1.0 - nnf_exp_f64(-(a * a)) * ph;
    return nnf_sel_f64(ax < 0.85, small, __builtin_copysign(big, x));
}

/* ---- float32 functions evaluated in float64 and rounded once (not on hot paths) ---- */
NNF_INLINE float nnf_erf_f32(float x) { return (float)nnf_erf_f64((double)x); }
NNF_INLINE float nnf_sinh_f32(float x) { return (float)nnf_sinh_f64((double)x); }
NNF_INLINE float nnf_cosh_f32(float x) { return (float)nnf_cosh_f64((double)x); }
"""

_NAMES = ("exp", "expm1", "log", "log1p", "log2", "log10", "tanh", "sigmoid", "softplus",
          "erf", "sinh", "cosh")

#: function name -> (float32 C function, float64 C function) in :data:`MATH_SOURCE`
MATH_FUNCTIONS = {name: (f"nnf_{name}_f32", f"nnf_{name}_f64") for name in _NAMES}

#: (function name, dtype name) -> largest error in ulp the tests allow; the measured
#: maxima are in the module docstring.  float32 tanh and sigmoid divide two rounded
#: quantities and float64 sigmoid rounds three times (e, 1 + e, the division), hence
#: their looser bounds.
MATH_ERRORS = {
    ("exp", "float32"): 1, ("exp", "float64"): 1,
    ("expm1", "float32"): 1.5, ("expm1", "float64"): 1.5,
    ("log", "float32"): 1, ("log", "float64"): 1,
    ("log1p", "float32"): 1, ("log1p", "float64"): 1,
    ("log2", "float32"): 1, ("log2", "float64"): 1,
    ("log10", "float32"): 1, ("log10", "float64"): 1,
    ("tanh", "float32"): 2.5, ("tanh", "float64"): 2,
    ("sigmoid", "float32"): 2.5, ("sigmoid", "float64"): 3,
    ("softplus", "float32"): 2, ("softplus", "float64"): 2,
    ("erf", "float32"): 1, ("erf", "float64"): 2,
    ("sinh", "float32"): 1, ("sinh", "float64"): 2,
    ("cosh", "float32"): 1, ("cosh", "float64"): 2,
}
