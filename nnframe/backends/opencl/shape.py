"""The shape family on the device: views where the layout allows, strided copies otherwise.

- DimShuffle, SpecifyShape and Split are views (no kernel, no copy);
  Reshape is a view of contiguous data and a copy of other layouts;
- Shape, ShapeI and MakeVector of host scalars are computed on the host
  (shapes are known there), so shape arithmetic never crosses to the device;
- Join, Alloc and ARange run kernels (strided copies into slices of the
  output, a broadcast fill, an index fill).
"""
import math

import numpy as np

from nnframe.backends.opencl import elemwise as EW
from nnframe.backends.opencl.array import DeviceArray, contiguous_strides, empty, host_view
from nnframe.backends.opencl.codegen import ctype, kernel_name
from nnframe.backends.opencl.registry import numpy_kernel, register
from nnframe.core.ops import shape as shape_ops
from nnframe.core.ops.scalar import SCALAR_OPS, Cast

__all__ = ["reshaped", "host_array"]


def host_array(ctx, value):
    """A host-only DeviceArray holding ``value``."""
    value = np.asarray(value)
    return DeviceArray(ctx, value.shape, value.dtype, host=value)


@register(shape_ops.DimShuffle)
def dimshuffle_kernel(node, builder):
    return _view_runner(node.op, numpy_kernel(node))


def _view_runner(op, host):
    def run(x):
        shape, strides = [], []
        for o in op.new_order:
            if o == "x":
                shape.append(1)
                strides.append(0)
            else:
                shape.append(x.shape[o])
                strides.append(x.strides[o])
        return x.view(shape, strides, x.offset, host)
    return run


@register(shape_ops.SpecifyShape)
def specify_shape_kernel(node, builder):
    check = node.op.check_value_shape

    def run(x):
        check(x.shape)
        return x
    return run


def _resolve_shape(x_shape, shape):
    """``shape`` with its -1 resolved, or NumPy's error for an impossible reshape."""
    dummy = np.broadcast_to(np.empty((), np.int8), x_shape)
    try:
        return dummy.reshape(shape).shape
    except ValueError:
        raise shape_ops.Reshape.size_error(x_shape, shape) from None


def reshaped(x, shape, copy):
    """``x`` with ``shape``: a view when ``x`` is contiguous, else a contiguous copy first
    (``copy(dst, x)`` on the device; NumPy's for a view of a not yet uploaded array, whose
    strides refer to its root's layout)."""
    if not x.is_contiguous():
        if x.data is None:
            return host_array(x.ctx, np.reshape(host_view(x), shape))
        dense = empty(x.ctx, x.shape, x.dtype)
        copy(dense, x)
        x = dense
    return x.view(shape, contiguous_strides(shape), x.offset,
                  lambda h: h.reshape(shape))


@register(shape_ops.Reshape)
def reshape_kernel(node, builder):
    x_type = node.inputs[0].type
    copy = EW.strided_copy(builder, x_type.dtype, x_type.dtype, x_type.ndim)

    def run(x, shp):
        shape = _resolve_shape(x.shape, tuple(int(s) for s in host_view(shp).tolist()))
        return reshaped(x, shape, copy)
    return run


@register(shape_ops.Shape)
def shape_kernel(node, builder):
    ctx = builder.ctx
    return lambda x: host_array(ctx, np.array(x.shape, dtype=np.int64))


@register(shape_ops.ShapeI)
def shape_i_kernel(node, builder):
    ctx = builder.ctx
    i = node.op.i
    return lambda x: host_array(ctx, np.array(x.shape[i], dtype=np.int64))


@register(shape_ops.MakeVector)
def make_vector_kernel(node, builder):
    ctx = builder.ctx
    dtype = node.op.dtype
    codes = [_scalar_writer(builder, var.dtype, dtype) for var in node.inputs]

    def run(*scalars):
        if all(s.host is not None for s in scalars):
            return host_array(ctx, np.array([s.host.reshape(()) for s in scalars], dtype=dtype))
        out = empty(ctx, (len(scalars),), dtype)
        for k, (code, s) in enumerate(zip(codes, scalars)):
            code.run(out.view((1,), (1,), k, None), [s])
        return out
    return run


def _scalar_writer(builder, in_dtype, out_dtype):
    """Elementwise code copying (casting) a one-element value, by value when on the host."""
    same = str(np.dtype(in_dtype)) == str(np.dtype(out_dtype))
    row = SCALAR_OPS["identity"] if same else Cast(out_dtype)
    return EW.ElementwiseCode(builder, [in_dtype], ((row, (0,)),), [in_dtype, out_dtype],
                              ["scalar"], 1)


@register(shape_ops.Join)
def join_kernel(node, builder):
    axis = node.op.axis
    out_type = node.outputs[0].type
    copy = EW.strided_copy(builder, out_type.dtype, out_type.dtype, out_type.ndim)
    ctx = builder.ctx

    check_shapes = node.op.check_shapes

    def run(*tensors):
        shapes = [t.shape for t in tensors]
        check_shapes(shapes)
        shape = list(shapes[0])
        shape[axis] = sum(s[axis] for s in shapes)
        out = empty(ctx, shape, out_type.dtype)
        start = 0
        for t in tensors:
            if t.shape[axis]:
                copy(out.view(t.shape, out.strides, start * out.strides[axis], None), t)
            start += t.shape[axis]
        return out
    return run


@register(shape_ops.Split)
def split_kernel(node, builder):
    axis = node.op.axis
    single = node.op.n_splits == 1
    check_sizes = node.op.check_sizes

    def run(x, sizes):
        sizes = host_view(sizes)
        check_sizes(sizes, x.shape)
        pieces = []
        start = 0
        for n in sizes.tolist():
            shape = list(x.shape)
            shape[axis] = n
            index = (slice(None),) * axis + (slice(start, start + n),)
            pieces.append(x.view(shape, x.strides, x.offset + start * x.strides[axis],
                                 lambda h, index=index: h[index]))
            start += n
        return pieces[0] if single else tuple(pieces)
    return run


@register(shape_ops.Alloc)
def alloc_kernel(node, builder):
    ctx = builder.ctx
    value_type = node.inputs[0].type
    out_type = node.outputs[0].type
    kind = "scalar" if all(n == 1 for n in value_type.shape) else "array"
    row = SCALAR_OPS["identity"]
    code = EW.ElementwiseCode(builder, [value_type.dtype], ((row, (0,)),),
                              [value_type.dtype, out_type.dtype], [kind], out_type.ndim)
    host = numpy_kernel(node)

    def run(value, *dims):
        shape = tuple(int(host_view(d)) for d in dims)
        if np.broadcast_shapes(value.shape, shape) != shape:
            raise ValueError(f"alloc: a value of shape {value.shape} cannot be broadcast to "
                             f"the shape {shape}")
        if EW.on_host([value], int(math.prod(shape)), out_type.dtype):
            return host_array(ctx, host(value.host, *shape))
        if kind == "array" and value.ndim < len(shape):
            pad = len(shape) - value.ndim
            value = value.view((1,) * pad + value.shape, (0,) * pad + value.strides,
                               value.offset, lambda h: h.reshape((1,) * pad + h.shape))
        return code.run(empty(ctx, shape, out_type.dtype), [value])
    return run


@register(shape_ops.ARange)
def arange_kernel(node, builder):
    ctx = builder.ctx
    dtype = node.op.dtype
    t = ctype(dtype)
    is_float = np.dtype(dtype).kind == "f"
    # NumPy fills out[i] = v0 + i * (v1 - v0) in the output dtype (v0, v1 the first two).
    body = (f"__kernel void KNAME(__global {t}* out, long n, {t} v0, {t} delta, long istart, "
            f"long istep) {{ long i = get_global_id(0); if (i >= n) return; "
            + (f"out[i] = (i == 0) ? v0 : (i == 1 ? v0 + delta : v0 + ({t})i * delta); }}"
               if is_float else f"out[i] = ({t})(istart + i * istep); }}"))
    scalar = np.dtype(dtype).type
    handle = builder.kernel(body.replace("KNAME", kernel_name("arange", body)),
                            [None, np.int64, scalar, scalar, np.int64, np.int64])
    host = numpy_kernel(node)

    def run(start, stop, step):
        start, stop, step = (host_view(b) for b in (start, stop, step))
        if step == 0:
            raise ValueError("arange: the step must not be 0")
        n = _arange_length(start.item(), stop.item(), step.item())
        if n <= 1 or (n <= EW.HOST_MAX and not is_float):
            return host_array(ctx, host(start, stop, step))
        out = empty(ctx, (n,), dtype)
        v0 = np.array(start.item(), dtype=dtype)
        v1 = np.array(start.item() + step.item(), dtype=dtype)
        delta = (v1 - v0) if is_float else np.array(0, dtype)
        istart = 0 if is_float else int(start.item())
        istep = 0 if is_float else int(step.item())
        handle(ctx.queue, ((n + 63) // 64 * 64,), (64,), out.data, n, v0, delta, istart, istep)
        return out
    return run


def _arange_length(start, stop, step):
    if isinstance(start + stop + step, float):
        return max(0, math.ceil((stop - start) / step))
    return max(0, -(-(stop - start) // step))
