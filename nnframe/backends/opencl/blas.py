"""Matrix products on the device: a register-blocked GEMM for Dot, BatchedDot and Gemm.

Each work-item computes an ``RM x W`` tile of the result (by default 8 x 8
for float32 with 256-bit vectors: eight ``float8`` accumulators; the width is
the SIMD width of the device's target, :mod:`~nnframe.backends.opencl.target`;
the tile is tuned per device at first use, :mod:`~nnframe.backends.opencl.tune`),
reading one row segment of B as a vector and one entry of A per tile row for
every k.  On PoCL's CPU device this
reaches ~70 GFLOP/s on 1024^2 float32 (a local-memory tiled kernel gets 3;
see benchmarks/RESULTS-opencl.md).  A is read through any strides (so
transposed operands cost nothing); a B without contiguous rows (a transposed
weight in a backward pass) is read by a kernel gathering its vectors, instead
of being copied first.  Tiles at the right and bottom edges take a scalar path.
On a CPU device a large B is packed in column strips first and read in bands of
tile rows (:meth:`GemmCode._packs`, :meth:`GemmCode._banded_order`): 4096^2 went
from 30 to 118 GFLOP/s on PoCL, with the same bits.
``alpha``, ``beta`` and ``z`` (for Gemm) are applied in the epilogue, and so
is an elementwise node reading a Dot's product (a bias add and an activation:
:mod:`~nnframe.backends.opencl.fusion`).

Products with a vector operand use a matrix-vector kernel (one work-item
per output).  Products accumulate in k order everywhere, with fused
multiply-adds where the device has them (``a * b + c`` under
``FP_CONTRACT ON``, see :data:`~nnframe.backends.opencl.codegen.CONTRACT`).
"""
import numpy as np

from nnframe.backends.opencl import elemwise as EW
from nnframe.backends.opencl import tune
from nnframe.backends.opencl.array import device_args, empty, host_scalar
from nnframe.backends.opencl.codegen import CONTRACT, ctype, kernel_name, vector_access
from nnframe.backends.opencl.fusion import register_epilogue
from nnframe.backends.opencl.registry import host_fallback, register
from nnframe.core.ops.blas import BatchedDot, Dot, Gemm

__all__ = ["GemmCode", "GemvCode"]

#: on a CPU device, a B larger than this is read in bands of BAND tile rows
#: (GemmCode._banded_order), and one larger than PACKED_BYTES is packed first
#: (GemmCode._packs)
BANDED_BYTES, BAND, PACKED_BYTES = 4 << 20, 8, 4 << 20


def _scalar_param(name, t):
    return f"__global const {t}* p{name}, long o{name}, {t} s{name}, int f{name}"


def _np_scalar(dtype):
    return np.uint8 if dtype == "bool" else np.dtype(dtype).type


def scalar_args(ctx, value, default):
    """Arguments of a one-element operand: by value from the host, else from its buffer."""
    if value is None:
        return [ctx.err, 0, default, 0]
    if value.data is None:
        return [ctx.err, 0, host_scalar(value), 0]
    return [value.data, value.offset, 0, 1]


class GemmCode:
    """``C[b] = alpha * A[b] @ B[b] (+ beta * Z)`` for A and B of any strides.

    The kernel reads B by the layout it has at the launch: rows contiguous, a
    vector load per k; columns contiguous (a transposed matrix), several k at
    a time (:meth:`_column_steps`); other strides, entry by entry.  A transposed
    operand is read where it is instead of being copied first (one kernel, not
    two).
    With an ``epilogue`` (:class:`~nnframe.backends.opencl.fusion.Epilogue`,
    for batches of one) the kernels store the epilogue's value of each entry
    of the product, in the epilogue's dtype, instead of the product.
    ``tile`` (a :class:`~nnframe.backends.opencl.tune.Tile`) sets the rows, vector
    width and work-group of the kernel; by default the device's tuned one
    (:func:`~nnframe.backends.opencl.tune.tile_for`).
    """

    def __init__(self, builder, dtype, epilogue=None, tile=None):
        self.ctx = builder.ctx
        self.dtype = str(np.dtype(dtype))
        self.itemsize = np.dtype(dtype).itemsize
        # the device's tuned tile (tuned at the first GEMM for this dtype), unless given
        if tile is None:
            tile = tune.tile_for(self.ctx, self.dtype, GemmCode)
        self.rm, self.w, self.local = tile
        self.epilogue = epilogue
        self.kernel = self._kernel(builder)
        self.pack = self._pack_kernel(builder) if self.ctx.cpu else None

    def _kernel(self, builder):
        rm, w = self.rm, self.w
        t = ctype(self.dtype)
        vt = f"{t}{w}"
        load, store = vector_access(builder, self.dtype, w)
        gathered = f"({vt})(" + ", ".join(f"B[k * bs0 + (j0 + {c}) * bs1]" for c in range(w)) + ")"
        acc = [f"{vt} c{r} = 0;" for r in range(rm)]
        rows = [f"const __global {t}* a{r} = A + (i0 + {r}) * as0;" for r in range(rm)]
        stores = [store(f"c{r}", f"C + (i0 + {r}) * N + j0") for r in range(rm)]
        # The layout of B is known at the launch only: one loop per layout, picked once.
        k_loop = ["long k = 0;",
                  "if (bs1 == 1)",
                  "  for (; k < K; ++k) {",
                  "    " + CONTRACT,
                  *["    " + s for s in self._update(load("B + gx * bsj + k * bs0"), "k")],
                  "  }",
                  "else if (bs0 == 1)",
                  *self._column_steps(builder),
                  "for (; k < K; ++k) {",
                  "  " + CONTRACT,
                  *["  " + s for s in self._update(gathered, "k")],
                  "}"]
        lines = [
            "long gx = get_global_id(0), gy = get_global_id(1), bt = get_global_id(2);",
            *self._banded_order(),
            f"long j0 = gx * {w}, i0 = gy * {rm};",
            "if (i0 >= M || j0 >= N) return;",
            f"const long i1 = M < i0 + {rm} ? M : i0 + {rm}, j1 = N < j0 + {w} ? N : j0 + {w};",
            "A += ao + bt * ab; B += bo + bt * bb; C += bt * cb;",
            f"if (i1 == i0 + {rm} && j1 == j0 + {w}) {{",
            *["  " + s for s in acc + rows],
            *["  " + s for s in k_loop],
            *["  " + s for s in stores],
            "} else {",
            "  for (long i = i0; i < i1; ++i)",
            "    for (long j = j0; j < j1; ++j) {",
            f"      {t} s = 0;",
            "      for (long k = 0; k < K; ++k) {",
            "        " + CONTRACT,
            f"        s = A[i * as0 + k * as1] * B[(j / {w}) * bsj + (j % {w}) * bs1 + k * bs0] + s;",
            "      }",
            "      C[i * N + j] = s;",
            "    }",
            "}",
            *self._finish(t),
        ]
        params = [
            "long M", "long N", "long K",
            f"__global const {t}* A", "long ao", "long as0", "long as1", "long ab",
            f"__global const {t}* B", "long bo", "long bs0", "long bs1", "long bb",
            f"__global {t}* C", "long cb",
            f"__global const {t}* Z", "long zo", "long zs0", "long zs1", "long zb", "int use_z",
            _scalar_param("a", t), _scalar_param("b", t), "long band", "long bsj"]
        i64 = np.int64
        s = _np_scalar(self.dtype)
        dtypes = ([i64] * 3 + [None] + [i64] * 4 + [None] + [i64] * 4 + [None, i64]
                  + [None] + [i64] * 4 + [np.int32] + [None, i64, s, np.int32] * 2 + [i64, i64])
        if self.epilogue is not None:
            params += [f"__global {ctype(self.epilogue.out_dtype)}* E"] + self.epilogue.params()
            dtypes += [None] + self.epilogue.scalar_dtypes()
        text = ("__kernel void KNAME(" + ", ".join(params) + ") {\n  " + "\n  ".join(lines)
                + "\n}\n")
        return builder.kernel(text.replace("KNAME", kernel_name("gemm", text)), dtypes)

    def _pack_kernel(self, builder):
        """Copies a B with contiguous rows into column strips of the tile's width, each
        strip's K rows one after the other (zeros past N): see :meth:`_packs`."""
        t, w = ctype(self.dtype), self.w
        text = (f"__kernel void KNAME(long K, long N, __global const {t}* B, long bo, long bs0, "
                f"long bb, __global {t}* P, long strips) {{\n"
                "  const long k = get_global_id(0), s = get_global_id(1), bt = get_global_id(2);\n"
                "  if (k >= K || s >= strips) return;\n"
                f"  const __global {t}* src = B + bo + bt * bb + k * bs0 + s * {w};\n"
                f"  __global {t}* dst = P + ((bt * strips + s) * K + k) * {w};\n"
                f"  for (int c = 0; c < {w}; ++c) dst[c] = s * {w} + c < N ? src[c] : 0;\n}}\n")
        i64 = np.int64
        return builder.kernel(text.replace("KNAME", kernel_name("gemmpack", text)),
                              [i64, i64, None, i64, i64, i64, None, i64])

    def _packs(self, k, n, bstr):
        """Whether B is packed before the product: on a CPU device, for a B with contiguous
        rows larger than :data:`PACKED_BYTES`. Each work-item then reads its strip of B in
        order instead of K rows N entries apart, one memory page each (a 4096^2 product
        walked 4096 pages per tile)."""
        return (self.pack is not None and bstr[2] == 1
                and k * n * self.itemsize > PACKED_BYTES)

    @staticmethod
    def _banded_order():
        """With ``band`` > 0, tiles in bands of ``band`` tile rows, each band column by column.

        The kernel's own order (tile columns fastest) streams all of B once per tile row;
        on a CPU, once B outgrows the caches, that is what the product waits for (4096^2 at
        30 GFLOP/s instead of ~100). In bands, a column strip of B is read for ``band``
        tile rows at once while their rows of A stay in cache. A bijection of the launched
        grid: every tile is computed once, by the same code, so results do not change."""
        return ["if (band > 0) {",
                "  const long nx = get_global_size(0), ny = get_global_size(1);",
                "  const long lin = gy * nx + gx, b = lin / (band * nx), r = lin - b * band * nx;",
                "  const long rows = ny - b * band < band ? ny - b * band : band;",
                "  gy = b * band + r % rows; gx = r / rows;",
                "}"]

    def _update(self, b_vector, k):
        """One step of the accumulation: ``c_r += A[i0 + r, k] * B[k, j0:j0 + w]``."""
        vt = f"{ctype(self.dtype)}{self.w}"
        return [f"const {vt} bv = {b_vector};"] + [
            f"c{r} = ({vt})(a{r}[({k}) * as1]) * bv + c{r};" for r in range(self.rm)]

    def _column_steps(self, builder):
        """For a B whose columns are contiguous (a transposed matrix: ``bs0 == 1``), steps of
        ``u`` k at once (4, or the tile's width when narrower, so no vector is wider than the
        tile's): each column's ``u`` entries in one vector load, transposed in registers (the
        same products, in the same k order, as the entry-by-entry gather)."""
        t = ctype(self.dtype)
        u = min(4, self.w)
        load, _ = vector_access(builder, self.dtype, u)
        columns = [f"const {t}{u} q{c} = {load(f'B + (j0 + {c}) * bs1 + k')};"
                   for c in range(self.w)]
        steps = []
        for d in range(u):
            b_vector = f"({t}{self.w})(" + ", ".join(f"q{c}.s{d}" for c in range(self.w)) + ")"
            steps += ["  {", *["    " + s for s in self._update(b_vector, f"k + {d}")], "  }"]
        return [f"  for (; k + {u} <= K; k += {u}) {{",
                "    " + CONTRACT,
                *["    " + s for s in columns],
                *["  " + s for s in steps],
                "  }"]

    def _finish(self, t):
        """The statements after the product: ``alpha``, ``beta * Z``, then the epilogue."""
        scale = [f"const {t} alpha = fa ? pa[oa] : sa;", f"const {t} beta = fb ? pb[ob] : sb;"]
        z_term = "beta * Z[zo + bt * zb + i * zs0 + j * zs1]"
        if self.epilogue is None:
            return [
                "if (use_z || fa || sa != 1) {",
                *["  " + s for s in scale],
                "  for (long i = i0; i < i1; ++i)",
                "    for (long j = j0; j < j1; ++j) {",
                "      const long at = i * N + j;",
                f"      C[at] = use_z ? {z_term} + alpha * C[at] : alpha * C[at];",
                "    }",
                "}"]
        code, result = self.epilogue.code("v", ["i", "j"])
        return [
            *scale,
            "E += bt * cb;",
            "for (long i = i0; i < i1; ++i)",
            "  for (long j = j0; j < j1; ++j) {",
            "    const long at = i * N + j;",
            f"    {t} v = C[at];",
            f"    if (use_z || fa || sa != 1) v = use_z ? {z_term} + alpha * v : alpha * v;",
            *["    " + s for s in code],
            f"    E[at] = {result};",
            "  }"]

    def run(self, a, b, alpha=None, beta=None, z=None, epilogue_args=None):
        """``alpha * a @ b + beta * z`` for 3-d ``a`` (batch, M, K), ``b`` (batch, K, N);
        with an epilogue, its value of that, ``epilogue_args`` being its node's inputs."""
        ctx = self.ctx
        batch = max(a.shape[0], b.shape[0])  # a batch of 1 broadcasts (stride 0)
        _, m, k = a.shape
        n = b.shape[2]
        out = empty(ctx, (batch, m, n), self.dtype)
        result = out
        if self.epilogue is not None and self.epilogue.out_dtype != self.dtype:
            result = empty(ctx, (batch, m, n), self.epilogue.out_dtype)
        if out.size == 0:
            return result
        abuf, ao = device_args(a)
        bbuf, bo = device_args(b)
        if z is not None:
            zbuf, zo = device_args(z)
            zargs = [zbuf, zo, z.strides[1], z.strides[2], z.strides[0], 1]
        else:
            zargs = [ctx.err, 0, 0, 0, 0, 0]
        lx, ly = self.local
        gx = (n + self.w - 1) // self.w
        gy = (m + self.rm - 1) // self.rm
        gsize = ((gx + lx - 1) // lx * lx, (gy + ly - 1) // ly * ly, batch)
        astr = [0 if a.shape[d] == 1 else a.strides[d] for d in range(3)]
        bstr = [0 if b.shape[d] == 1 else b.strides[d] for d in range(3)]
        bsj = self.w * bstr[2]   # from one column strip of B to the next
        if self._packs(k, n, bstr):
            strips, copies = gx, (batch if bstr[0] else 1)
            packed = ctx.allocate(copies * strips * k * self.w * self.itemsize)
            self.pack(ctx.queue, ((k + 63) // 64 * 64, strips, copies), (64, 1, 1), k, n,
                      bbuf, bo, bstr[1], bstr[0], packed, strips)
            bbuf, bo, bsj = packed, 0, k * self.w
            bstr = [strips * k * self.w if bstr[0] else 0, self.w, 1]
        extra = []
        if self.epilogue is not None:
            extra = [result.data] + self.epilogue.args(epilogue_args)
        self.kernel(ctx.queue, gsize, (lx, ly, 1), m, n, k,
                    abuf, ao, astr[1], astr[2], astr[0],
                    bbuf, bo, bstr[1], bstr[2], bstr[0],
                    out.data, m * n, *zargs,
                    *scalar_args(ctx, alpha, 1), *scalar_args(ctx, beta, 0),
                    self._band(k, n), bsj, *extra)
        return result

    def _band(self, k, n):
        """Tile rows per band (:meth:`_banded_order`): on a CPU device once B is larger than
        :data:`BANDED_BYTES`, else 0 (the kernel's own order)."""
        if not self.ctx.cpu or k * n * self.itemsize <= BANDED_BYTES:
            return 0
        return BAND


class GemvCode:
    """``out[i] = sum_k A[i, k] * x[k]`` with any strides (one work-item per output)."""

    def __init__(self, builder, dtype):
        self.ctx = builder.ctx
        self.dtype = str(np.dtype(dtype))
        t = ctype(dtype)
        # fused multiply-adds (where the device has them), in k order, like the GEMM
        update = (f"{{\n    {CONTRACT}\n"
                  "    s = A[ao + i * as0 + k * as1] * X[xo + k * xs] + s;\n  }")
        text = (f"__kernel void KNAME(long M, long K, __global const {t}* A, long ao, long as0, "
                f"long as1, __global const {t}* X, long xo, long xs, __global {t}* out) {{\n"
                f"  long i = get_global_id(0); if (i >= M) return;\n"
                f"  {t} s = 0;\n"
                f"  for (long k = 0; k < K; ++k) {update}\n"
                f"  out[i] = s;\n}}\n")
        i64 = np.int64
        self.kernel = builder.kernel(text.replace("KNAME", kernel_name("gemv", text)),
                                     [i64, i64, None, i64, i64, i64, None, i64, i64, None])

    def run(self, a_shape, a_strides, a, x, out_shape):
        ctx = self.ctx
        m, k = a_shape
        out = empty(ctx, out_shape, self.dtype)
        if m == 0:
            return out
        abuf, ao = device_args(a)
        xbuf, xo = device_args(x)
        xs = x.strides[0] if x.ndim else 0
        self.kernel(ctx.queue, ((m + 63) // 64 * 64,), (64,), m, k, abuf, ao + 0,
                    a_strides[0], a_strides[1], xbuf, xo, xs, out.data)
        return out


def _caster(builder, var, dtype):
    """A function giving ``var``'s value in ``dtype`` (a cast copy when it differs)."""
    if var.dtype == dtype:
        return lambda v: v
    copy = EW.strided_copy(builder, var.dtype, dtype, var.ndim)
    ctx = builder.ctx

    def cast(v):
        out = empty(ctx, v.shape, dtype)
        return copy(out, v)
    return cast


def _as3(v):
    """A 2-d array as a batch of one (a view)."""
    return v.view((1,) + v.shape, (0,) + v.strides, v.offset, lambda h: h[None])


def _check_inner(op, x, y, ax, ay):
    if x.shape[ax] != y.shape[ay]:
        raise ValueError(f"{op}: shapes {x.shape} and {y.shape} not aligned: {x.shape[ax]} "
                         f"(dim {ax}) != {y.shape[ay]} (dim {ay})")


@register(Dot)
def dot_kernel(node, builder):
    x_var, y_var = node.inputs
    dtype = node.outputs[0].dtype
    if dtype == "bool":  # a logical OR of ANDs, which the kernels' sums of products are not
        return host_fallback(node, builder.ctx, "a product of bool arrays")
    cx, cy = _caster(builder, x_var, dtype), _caster(builder, y_var, dtype)
    if x_var.ndim == 2 and y_var.ndim == 2:
        gemm = GemmCode(builder, dtype)

        def run(x, y):
            _check_inner("dot", x, y, 1, 0)
            out = gemm.run(_as3(cx(x)), _as3(cy(y)))
            return out.view(out.shape[1:], out.strides[1:], 0, None)
        return run
    gemv = GemvCode(builder, dtype)
    nx, ny = x_var.ndim, y_var.ndim

    def run(x, y):
        _check_inner("dot", x, y, nx - 1, 0)
        x, y = cx(x), cy(y)
        if nx == 2:        # (m, k) . (k,)
            return gemv.run(x.shape, x.strides, x, y, (x.shape[0],))
        if ny == 2:        # (k,) . (k, n): rows of y.T
            return gemv.run((y.shape[1], y.shape[0]), (y.strides[1], y.strides[0]), y, x,
                            (y.shape[1],))
        return gemv.run((1, x.shape[0]), (0, x.strides[0]), x, y, ())
    return run


@register_epilogue(Dot)
def dot_epilogue(node, epilogue, builder):
    """A matrix product computing ``epilogue`` on each entry as it stores it (None for
    products with a vector operand: those take the matrix-vector kernel)."""
    x_var, y_var = node.inputs
    if x_var.ndim != 2 or y_var.ndim != 2:
        return None
    dtype = node.outputs[0].dtype
    cx, cy = _caster(builder, x_var, dtype), _caster(builder, y_var, dtype)
    gemm = GemmCode(builder, dtype, epilogue)

    def fused(producer_args, consumer_args):
        x, y = producer_args
        _check_inner("dot", x, y, 1, 0)
        if not epilogue.fits(consumer_args, (x.shape[0], y.shape[1])):
            return None
        out = gemm.run(_as3(cx(x)), _as3(cy(y)), epilogue_args=consumer_args)
        return out.view(out.shape[1:], out.strides[1:], 0, None)
    return fused


@register(BatchedDot)
def batched_dot_kernel(node, builder):
    x_var, y_var = node.inputs
    dtype = node.outputs[0].dtype
    if dtype == "bool":
        return host_fallback(node, builder.ctx, "a product of bool arrays")
    cx, cy = _caster(builder, x_var, dtype), _caster(builder, y_var, dtype)
    gemm = GemmCode(builder, dtype)

    def run(x, y):
        if x.shape[0] != y.shape[0] or x.shape[2] != y.shape[1]:
            raise ValueError(f"batched_dot: shapes {x.shape} and {y.shape} do not match "
                             "(batch, m, k) x (batch, k, n)")
        return gemm.run(cx(x), cy(y))
    return run


@register(Gemm)
def gemm_kernel(node, builder):
    # An in-place Gemm (destroy_map) writes a new array instead: device arrays
    # are never modified after they are written, which keeps views safe.
    z_var, _, x_var, y_var, _ = node.inputs
    dtype = node.outputs[0].dtype
    cx, cy = _caster(builder, x_var, dtype), _caster(builder, y_var, dtype)
    gemm = GemmCode(builder, dtype)
    check_shapes = node.op.check_shapes

    def run(z, alpha, x, y, beta):
        check_shapes(z.shape, x.shape, y.shape)
        out = gemm.run(_as3(cx(x)), _as3(cy(y)), alpha, beta, _as3(z))
        return out.view(out.shape[1:], out.strides[1:], 0, None)
    return run
