"""NumPy kernels for indexing: NumPy's own indexing, ``np.add.at`` for increments.

The index tuple is assembled from the Op's ``idx_list`` and the index inputs;
when the index holds no symbolic part it is built once, in the factory.
Increments and sets copy ``x`` first: kernels never write to their inputs.
"""
import itertools

import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops import subtensor as subtensor_ops


def _index_builder(idx_list):
    """A function from the index inputs' values to the NumPy index tuple.

    When ``idx_list`` has no symbolic part, the tuple is built here, once.
    """
    if subtensor_ops._symbolic_count(idx_list) == 0:
        idx = tuple(slice(*e) if isinstance(e, subtensor_ops.SliceSpec) else e for e in idx_list)
        return lambda values: idx
    position = itertools.count()  # the index inputs, in order
    getters = []
    for e in idx_list:
        if isinstance(e, subtensor_ops.SliceSpec):
            getters.append(_slice_getter(e, position))
        elif e == subtensor_ops.SYMBOLIC:
            getters.append(lambda values, k=next(position): values[k])
        else:
            getters.append(lambda values, e=e: e)

    def build(values):
        return tuple(get(values) for get in getters)
    return build


def _slice_getter(spec, position):
    parts = []
    for b in spec:
        if b == subtensor_ops.SYMBOLIC:
            parts.append(lambda values, k=next(position): int(values[k]))
        else:
            parts.append(lambda values, b=b: b)
    return lambda values: slice(*(get(values) for get in parts))


@register(subtensor_ops.Subtensor, subtensor_ops.AdvancedSubtensor)
def subtensor_kernel(node):
    build = _index_builder(node.op.idx_list)

    def run(x, *indices):
        idx = build(indices)
        try:
            out = x[idx]
        except IndexError as exc:
            raise subtensor_ops.index_error(exc, idx, x.shape) from None
        return out if type(out) is np.ndarray else np.asarray(out)
    return run


@register(subtensor_ops.IncSubtensor)
def inc_subtensor_kernel(node):
    build = _index_builder(node.op.idx_list)
    set_ = node.op.set_instead_of_inc
    inplace = node.op.inplace
    _, check = node.op.value_shape_checker(node.inputs[1].type)

    def run(x, y, *indices):
        idx = build(indices)
        out = x if inplace else x.copy()
        try:
            part = out[idx]
        except IndexError as exc:
            raise subtensor_ops.index_error(exc, idx, x.shape) from None
        check(y.shape, np.shape(part))
        if not isinstance(part, np.ndarray):  # a single entry: NumPy gave a scalar
            out[idx] = y if set_ else part + y
        elif set_:
            part[...] = y
        else:
            part += y
        return out
    return run


@register(subtensor_ops.AdvancedIncSubtensor)
def advanced_inc_subtensor_kernel(node):
    build = _index_builder(node.op.idx_list)
    set_ = node.op.set_instead_of_inc
    axes, check = node.op.value_shape_checker(node.inputs[1].type)
    inplace = node.op.inplace

    def run(x, y, *indices):
        idx = build(indices)
        out = x if inplace else x.copy()
        try:
            # Only a length-1 value axis can be wrongly broadcast by NumPy; the
            # indexed shape is needed (and computed) only then.
            if any(y.shape[a] == 1 for a in axes):
                check(y.shape, x[idx].shape)
            if set_:
                out[idx] = y
            else:
                np.add.at(out, idx, y)
        except IndexError as exc:
            raise subtensor_ops.index_error(exc, idx, x.shape) from None
        return out
    return run
