"""NumPy kernels for the shape family: views where NumPy gives them, else copies."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops import shape as shape_ops


@register(shape_ops.DimShuffle)
def dimshuffle_kernel(node):
    op = node.op
    remaining = [a for a in range(op.input_ndim) if a not in op.dropped]
    perm = tuple(remaining.index(o) for o in op.new_order if o != "x")
    # Trailing Ellipses keep 0-d results 0-d array views (x[()] would be a NumPy scalar).
    drop_index = tuple(0 if a in op.dropped else slice(None) for a in range(op.input_ndim)) + (Ellipsis,)
    expand_index = tuple(None if o == "x" else slice(None) for o in op.new_order) + (Ellipsis,)
    identity_perm = perm == tuple(range(len(perm)))

    def run(x):
        if op.dropped:
            x = x[drop_index]
        if not identity_perm:
            x = x.transpose(perm)
        return x[expand_index]
    return run


@register(shape_ops.Reshape)
def reshape_kernel(node):
    size_error = node.op.size_error

    def run(x, shape):
        try:
            return x.reshape(tuple(shape.tolist()))
        except ValueError:
            raise size_error(x.shape, shape.tolist()) from None
    return run


@register(shape_ops.Shape)
def shape_kernel(node):
    return lambda x: np.array(x.shape, dtype=np.int64)


@register(shape_ops.ShapeI)
def shape_i_kernel(node):
    i = node.op.i
    return lambda x: np.array(x.shape[i], dtype=np.int64)


@register(shape_ops.MakeVector)
def make_vector_kernel(node):
    dtype = node.op.dtype
    return lambda *scalars: np.array(scalars, dtype=dtype)


@register(shape_ops.Join)
def join_kernel(node):
    axis = node.op.axis
    shapes_error = node.op.shapes_error

    def run(*tensors):
        try:
            return np.concatenate(tensors, axis=axis)
        except ValueError as exc:  # NumPy checked the shapes: its words are the reason
            raise shapes_error([t.shape for t in tensors], exc) from None
    return run


@register(shape_ops.Split)
def split_kernel(node):
    axis = node.op.axis
    single = node.op.n_splits == 1  # a one-output node returns an array, not a tuple
    check_sizes = node.op.check_sizes

    def run(x, sizes):
        check_sizes(sizes, x.shape)
        pieces = np.split(x, np.cumsum(sizes)[:-1], axis=axis)
        return pieces[0] if single else tuple(pieces)
    return run


@register(shape_ops.Alloc)
def alloc_kernel(node):
    dtype = node.outputs[0].dtype

    def run(value, *shape):
        out = np.empty(tuple(int(s) for s in shape), dtype=dtype)
        out[...] = value
        return out
    return run


@register(shape_ops.ARange)
def arange_kernel(node):
    dtype = node.op.dtype
    return lambda start, stop, step: np.arange(start.item(), stop.item(), step.item(), dtype=dtype)


@register(shape_ops.SpecifyShape)
def specify_shape_kernel(node):
    check = node.op.check_value_shape

    def run(x):
        check(x.shape)
        return x
    return run
