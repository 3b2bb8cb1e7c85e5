"""Indexing on the device: views for basic indexing, gather/scatter kernels for the rest.

- ``Subtensor`` (ints, slices, None) is a view: new shape, strides and
  offset, no kernel;
- ``AdvancedSubtensor`` gathers with one work-item per output entry; integer
  index arrays broadcast together and are placed as NumPy places them;
- ``IncSubtensor``/``AdvancedIncSubtensor`` copy ``x`` then add (or set)
  ``y`` into the indexed part.  For advanced indices each work-item owns
  one position of the basic (sliced) axes and walks the index positions in
  order, so repeated indices accumulate exactly like ``np.add.at`` (same
  order, same result, no atomics) and the last repeat wins when setting.

Constant and scalar indices are resolved on the host (they are there), with
NumPy's error messages.  Index arrays are checked on the host when they are
there; otherwise the kernel checks them, never reads or writes out of
bounds, and the error is reported at the next download.  Boolean masks give
data-dependent shapes: those nodes run on the host (counted fallback).
"""
import math

import numpy as np

from nnframe.backends.numpy.subtensor import _index_builder
from nnframe.backends.opencl import elemwise as EW
from nnframe.backends.opencl.array import device_args, empty, host_check, host_view, raw_host
from nnframe.backends.opencl.codegen import ctype, kernel_name
from nnframe.backends.opencl.registry import numpy_kernel, register
from nnframe.core.ops import subtensor as subtensor_ops
from nnframe.core.ops.scalar import SCALAR_OPS

__all__ = ["IndexPlan"]

_LOCAL = 64


class IndexPlan:
    """The static structure of an ``idx_list`` against an input of ``ndim`` axes.

    ``entries``: ('new',), ('slice', axis, bounds) with bounds None, ints or
    ('in', k); ('int', axis, value or ('in', k)); ('arr', axis, k, ndim).
    ``dims`` gives, per output axis, ('new',), ('slice', entry) or ('adv', j).
    """

    def __init__(self, idx_list, index_vars, ndim):
        self.ndim = ndim
        self._build_index = _index_builder(idx_list)
        self.supported = not any(v.dtype == "bool" for v in index_vars)
        inputs = iter(range(len(index_vars)))
        resolved = []
        for e in idx_list:
            if isinstance(e, subtensor_ops.SliceSpec):
                bounds = tuple(("in", next(inputs)) if b == subtensor_ops.SYMBOLIC else b
                               for b in e)
                resolved.append(("slice", bounds))
            elif e == subtensor_ops.SYMBOLIC:
                k = next(inputs)
                var = index_vars[k]
                resolved.append(("int", ("in", k)) if var.ndim == 0 else ("arr", k, var.ndim))
            elif e is None or e is Ellipsis:
                resolved.append((e,))
            else:
                resolved.append(("int", int(e)))
        consumed = sum(1 for e in resolved if e[0] in ("slice", "int", "arr"))
        before, after, adv_pos = [], [], []
        self.slices, self.ints, self.arrays = [], [], []
        axis = 0
        for pos, e in enumerate(resolved):
            dims = after if adv_pos else before
            if e[0] is None:
                dims.append(("new",))
            elif e[0] is Ellipsis:
                for _ in range(ndim - consumed):
                    self.slices.append((axis, (None, None, None)))
                    dims.append(("slice", len(self.slices) - 1))
                    axis += 1
            elif e[0] == "slice":
                self.slices.append((axis, e[1]))
                dims.append(("slice", len(self.slices) - 1))
                axis += 1
            else:
                adv_pos.append(pos)
                if e[0] == "int":
                    self.ints.append((axis, e[1]))
                else:
                    self.arrays.append((axis, e[1], e[2]))
                axis += 1
        for a in range(axis, ndim):
            self.slices.append((a, (None, None, None)))
            after.append(("slice", len(self.slices) - 1))
        self.n_adv = max([nd for _, _, nd in self.arrays], default=0)
        adv = [("adv", j) for j in range(self.n_adv)]
        contiguous = not adv_pos or adv_pos == list(range(adv_pos[0], adv_pos[-1] + 1))
        self.dims = before + adv + after if contiguous else adv + before + after
        self.adv_axes = [d for d, dim in enumerate(self.dims) if dim[0] == "adv"]

    def index_error(self, exc, x_shape, index_values):
        """``exc`` as the NumPy backend raises it, naming the index and the indexed shape.

        Index arrays may be on the device: a dummy of their dtype and shape stands in
        (the message shows no values).
        """
        values = [host_view(v) if v.ndim == 0 else np.broadcast_to(np.zeros((), v.dtype), v.shape)
                  for v in index_values]
        return subtensor_ops.index_error(exc, self._build_index(values), tuple(x_shape))

    def resolve(self, x_shape, x_strides, index_values):
        """Per call: (base offset, output shape, per-axis x strides, adv shape, index arrays).

        Ints and slice bounds come from the host; errors are NumPy's, with the
        index and the shape as the NumPy backend adds them.
        """
        try:
            return self._resolve(x_shape, x_strides, index_values)
        except IndexError as exc:
            raise self.index_error(exc, x_shape, index_values) from None

    def _resolve(self, x_shape, x_strides, index_values):
        def value(b):
            if isinstance(b, tuple):
                return int(host_view(index_values[b[1]]))
            return b
        base = 0
        slice_info = []
        for axis, bounds in self.slices:
            n = x_shape[axis]
            start, stop, step = slice(*(value(b) for b in bounds)).indices(n)
            slice_info.append((len(range(start, stop, step)), step * x_strides[axis]))
            base += start * x_strides[axis] if len(range(start, stop, step)) else 0
        for axis, v in self.ints:
            i, n = value(v), x_shape[axis]
            if not -n <= i < n:
                raise subtensor_ops.out_of_bounds_error(i, axis, n)
            base += (i % n) * x_strides[axis]
        arrays = [index_values[k] for _, k, _ in self.arrays]
        try:
            adv_shape = np.broadcast_shapes(*[a.shape for a in arrays]) if arrays else ()
        except ValueError:
            raise IndexError("shape mismatch: indexing arrays could not be broadcast together "
                             f"with shapes {' '.join(str(a.shape) for a in arrays)}") from None
        shape, strides = [], []
        for dim in self.dims:
            if dim[0] == "new":
                shape.append(1)
                strides.append(0)
            elif dim[0] == "slice":
                length, stride = slice_info[dim[1]]
                shape.append(length)
                strides.append(stride)
            else:
                shape.append(adv_shape[dim[1]])
                strides.append(0)
        return base, tuple(shape), strides, adv_shape, arrays

    def check_array_axes(self, x_shape):
        """Raise IndexError when an index array indexes an axis of length 0 (no valid index)."""
        if any(x_shape[axis] == 0 for axis, _, _ in self.arrays):
            raise IndexError("index is out of bounds: cannot index an axis of length 0")

    def check_host(self, x_shape, arrays, index_values):
        """Check index arrays that are on the host; True when all were.

        Each check is a :func:`~nnframe.backends.opencl.array.host_check`, so a launch
        plan runs it again at every call; its arguments describe the index without the
        arrays' values, which the error message needs only when it is raised.
        """
        described = tuple(("int", v.dtype, host_view(v).item()) if v.ndim == 0 else
                          ("array", v.dtype, v.shape) for v in index_values)
        ok = True
        for (axis, _, _), a in zip(self.arrays, arrays):
            if raw_host(a) is None:
                ok = False
                continue
            host_check(self._check_bounds, a, axis, tuple(x_shape), described)
        return ok

    def _check_bounds(self, values, axis, x_shape, described):
        """Raise IndexError (NumPy's, naming the index) if an index in ``values`` is out of
        bounds for ``axis``."""
        n = x_shape[axis]
        bad = (values < -n) | (values >= n)
        if bad.any():
            exc = subtensor_ops.out_of_bounds_error(int(values[bad].reshape(-1)[0]), axis, n)
            index = [np.asarray(d[2], d[1]) if d[0] == "int" else
                     np.broadcast_to(np.zeros((), d[1]), d[2]) for d in described]
            raise subtensor_ops.index_error(exc, self._build_index(index), x_shape) from None


def _adv_code(plan):
    """C code adding the advanced indices' offsets to ``xo`` (and ``yo`` when scattering).

    Coordinates c0.. are the output (indexed part) coordinates.  Each index
    array p is read at its broadcast position, wrapped, checked.
    """
    lines = []
    for p, (_axis, _k, nd) in enumerate(plan.arrays):
        terms = " + ".join(f"c{plan.adv_axes[plan.n_adv - nd + j]} * it{p}.s{j}"
                           for j in range(nd)) or "0"
        lines += [f"long v{p} = (long)ip{p}[io{p} + {terms}];",
                  f"if (v{p} < 0) v{p} += n{p};",
                  f"if (v{p} < 0 || v{p} >= n{p}) {{ NNF_ERR(err, code, v{p}); v{p} = 0; }}",
                  f"xo += v{p} * xs{p};"]
    return lines


def _index_params(plan, index_vars):
    import pyopencl.cltypes as cltypes
    params, dtypes = [], []
    for p, (_axis, k, _nd) in enumerate(plan.arrays):
        params += [f"__global const {ctype(index_vars[k].dtype)}* ip{p}", f"long io{p}",
                   f"long8 it{p}", f"long n{p}", f"long xs{p}"]
        dtypes += [None, np.int64, cltypes.long8, np.int64, np.int64]
    return params, dtypes


def _index_args(plan, x_shape, x_strides, arrays):
    args = []
    for (axis, _, _nd), a in zip(plan.arrays, arrays):
        buf, off = device_args(a)
        strides = [0 if n == 1 else s for n, s in zip(a.shape, a.strides)]
        args += [buf, off, EW.long8(strides), x_shape[axis], x_strides[axis]]
    return args


def _decode(ndim, var, shape="os"):
    if ndim == 0:
        return []
    lines = [f"long q = {var};"]
    for d in range(ndim - 1, 0, -1):
        lines.append(f"long c{d} = 0; if ({shape}.s{d} != 1) {{ c{d} = q % {shape}.s{d}; "
                     f"q /= {shape}.s{d}; }}")
    lines.append("long c0 = q;")
    return lines


@register(subtensor_ops.Subtensor)
def subtensor_kernel(node, builder):
    x_var = node.inputs[0]
    plan = IndexPlan(node.op.idx_list, node.inputs[1:], x_var.ndim)
    host = numpy_kernel(node)

    def run(x, *indices):
        base, shape, strides, _, _ = plan.resolve(x.shape, x.strides, indices)
        return x.view(shape, strides, x.offset + base,
                      lambda h: host(h, *[host_view(i) for i in indices]))
    return run


class _Gather:
    def __init__(self, builder, node, plan):
        import pyopencl.cltypes as cltypes
        self.ctx = builder.ctx
        self.plan = plan
        x_var = node.inputs[0]
        self.dtype = x_var.dtype
        t = ctype(self.dtype)
        nd = node.outputs[0].ndim
        self.nd = nd
        self.code = self.ctx.register_error(f"{node.op}: an index is out of bounds")
        iparams, idtypes = _index_params(plan, node.inputs[1:])
        params = ["long n", "long8 os", "long8 xst", f"__global const {t}* x", "long xb",
                  f"__global {t}* out", "__global int* err", "int code"] + iparams
        terms = " + ".join(f"c{d} * xst.s{d}" for d in range(nd)) or "0"
        lines = (["long g = get_global_id(0);", "if (g >= n) return;"] + _decode(nd, "g")
                 + [f"long xo = xb + {terms};"] + _adv_code(plan)
                 + ["out[g] = x[xo];"])
        text = ("__kernel void KNAME(" + ", ".join(params) + ") {\n  " + "\n  ".join(lines)
                + "\n}\n")
        self.kernel = builder.kernel(text.replace("KNAME", kernel_name("gather", text)),
                                     [np.int64, cltypes.long8, cltypes.long8, None, np.int64,
                                      None, None, np.int32] + idtypes)

    def run(self, x, indices):
        plan = self.plan
        base, shape, strides, _, arrays = plan.resolve(x.shape, x.strides, indices)
        out = empty(self.ctx, shape, self.dtype)
        n = out.size
        if n == 0:
            return out
        plan.check_array_axes(x.shape)
        checked = plan.check_host(x.shape, arrays, indices)
        xbuf, xo = device_args(x)
        self.kernel(self.ctx.queue, ((n + _LOCAL - 1) // _LOCAL * _LOCAL,), (_LOCAL,), n,
                    EW.long8(shape), EW.long8(strides), xbuf, xo + base, out.data, self.ctx.err,
                    self.code, *_index_args(plan, x.shape, x.strides, arrays))
        if not checked:
            self.ctx.pending_check = True
        return out


@register(subtensor_ops.AdvancedSubtensor)
def advanced_subtensor_kernel(node, builder):
    plan = IndexPlan(node.op.idx_list, node.inputs[1:], node.inputs[0].ndim)
    if not plan.supported:
        return None  # boolean masks: data-dependent shapes (host fallback)
    gather = _Gather(builder, node, plan)
    return lambda x, *indices: gather.run(x, indices)


@register(subtensor_ops.IncSubtensor)
def inc_subtensor_kernel(node, builder):
    x_var, y_var = node.inputs[:2]
    plan = IndexPlan(node.op.idx_list, node.inputs[2:], x_var.ndim)
    dtype = x_var.dtype
    nd = len(plan.dims)
    ctx = builder.ctx
    copy = EW.strided_copy(builder, dtype, dtype, x_var.ndim)
    y_kind = "scalar" if all(n == 1 for n in y_var.type.shape) else "array"
    if node.op.set_instead_of_inc:
        row = SCALAR_OPS["identity"]
        code = EW.ElementwiseCode(builder, [dtype], ((row, (0,)),), [dtype, dtype], [y_kind], nd)
    else:
        row = SCALAR_OPS["add"]
        code = EW.ElementwiseCode(builder, [dtype, dtype], ((row, (0, 1)),), [dtype] * 3,
                                  ["array", y_kind], nd)
    code.vector = None  # the target is a strided view
    set_ = node.op.set_instead_of_inc
    _, check_value = node.op.value_shape_checker(y_var.type)

    def run(x, y, *indices):
        out = empty(ctx, x.shape, dtype)
        copy(out, x)
        base, shape, strides, _, _ = plan.resolve(out.shape, out.strides, indices)
        check_value(y.shape, shape)
        target = out.view(shape, strides, base, None)
        if target.size:
            code.run(target, [y] if set_ else [target, y])
        return out
    return run


class _Scatter:
    """``out[idx] += y`` (or ``= y``) with the basic axes in parallel, index positions in order."""

    def __init__(self, builder, node, plan):
        import pyopencl.cltypes as cltypes
        self.ctx = builder.ctx
        self.plan = plan
        x_var = node.inputs[0]
        self.dtype = x_var.dtype
        t = ctype(self.dtype)
        nd = len(plan.dims)
        self.nd = nd
        self.code = self.ctx.register_error(f"{node.op}: an index is out of bounds")
        iparams, idtypes = _index_params(plan, node.inputs[2:])
        params = ["long nb", "long na", "long8 os", "long8 xst", "long8 yst", f"__global {t}* out",
                  "long xb", f"__global const {t}* y", "long yb", "__global int* err",
                  "int code"] + iparams
        adv = set(plan.adv_axes)
        basic = [d for d in range(nd) if d not in adv]
        lines = ["long g = get_global_id(0);", "if (g >= nb) return;", "long q = g;"]
        for d in reversed(basic):
            lines.append(f"long c{d} = q % os.s{d}; q /= os.s{d};")
        lines.append("for (long a = 0; a < na; ++a) {")
        lines.append("  long qa = a;")
        for d in reversed(plan.adv_axes):
            lines.append(f"  long c{d} = qa % os.s{d}; qa /= os.s{d};")
        xterms = " + ".join(f"c{d} * xst.s{d}" for d in range(nd)) or "0"
        yterms = " + ".join(f"c{d} * yst.s{d}" for d in range(nd)) or "0"
        lines.append(f"  long xo = xb + {xterms};")
        lines += ["  " + s for s in _adv_code(plan)]
        op = "=" if node.op.set_instead_of_inc else "+="
        lines += [f"  out[xo] {op} y[yb + {yterms}];", "}"]
        text = ("__kernel void KNAME(" + ", ".join(params) + ") {\n  " + "\n  ".join(lines)
                + "\n}\n")
        self.kernel = builder.kernel(
            text.replace("KNAME", kernel_name("scatter", text)),
            [np.int64, np.int64] + [cltypes.long8] * 3 + [None, np.int64, None, np.int64, None,
                                                         np.int32] + idtypes)
        self.copy = EW.strided_copy(builder, self.dtype, self.dtype, x_var.ndim)
        _, self.check_value = node.op.value_shape_checker(node.inputs[1].type)

    def run(self, x, y, indices):
        plan = self.plan
        out = empty(self.ctx, x.shape, self.dtype)
        self.copy(out, x)
        base, shape, strides, _, arrays = plan.resolve(out.shape, out.strides, indices)
        self.check_value(y.shape, shape)
        if int(math.prod(shape)) == 0:
            return out
        plan.check_array_axes(x.shape)
        checked = plan.check_host(x.shape, arrays, indices)
        adv = set(plan.adv_axes)
        nb = int(math.prod([n for d, n in enumerate(shape) if d not in adv]))
        na = int(math.prod([n for d, n in enumerate(shape) if d in adv]))
        ybuf, yo = device_args(y)
        ystrides = [0 if n == 1 else s for n, s in zip(y.shape, y.strides)]
        self.kernel(self.ctx.queue, ((nb + _LOCAL - 1) // _LOCAL * _LOCAL,), (_LOCAL,), nb, na,
                    EW.long8(shape), EW.long8(strides), EW.long8(ystrides), out.data, base, ybuf, yo,
                    self.ctx.err, self.code,
                    *_index_args(plan, out.shape, out.strides, arrays))
        if not checked:
            self.ctx.pending_check = True
        return out


@register(subtensor_ops.AdvancedIncSubtensor)
def advanced_inc_subtensor_kernel(node, builder):
    plan = IndexPlan(node.op.idx_list, node.inputs[2:], node.inputs[0].ndim)
    if not plan.supported:
        return None
    scatter = _Scatter(builder, node, plan)
    return lambda x, y, *indices: scatter.run(x, y, indices)
