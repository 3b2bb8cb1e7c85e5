"""Debug mode: check every node's outputs while a function runs.

``function(..., mode='debug')`` runs the NumPy kernels unrewritten and, after
each node, checks that every output is an ndarray of the declared dtype,
number of dimensions and static lengths, that its shape equals what the Op's
``infer_shape`` predicts, that it holds no NaN or Inf, that the kernel left
its inputs unchanged, and that no output is an undeclared view of an input.  A failure raises :class:`DebugModeError` naming
the node and the line that created it.
"""
import numpy as np

from nnframe.core.types import is_complex, is_float

__all__ = ["DebugModeError", "checking_kernel"]


class DebugModeError(ValueError):
    """A node produced a wrong or non-finite value (debug mode)."""


def _where(node):
    site = node.tag.get("site")
    return f" (created at {site[0]}:{site[1]})" if site else ""


def _shape_function(node):
    """A compiled function from the node's input values to its inferred output shapes."""
    from nnframe.core.function import function
    fresh = [i.type() for i in node.inputs]
    try:
        new_node = node.op.make_node(*fresh)
        from nnframe.core.ops.shape import shape_i
        shapes = node.op.infer_shape(new_node, [tuple(shape_i(f, d) for d in range(f.ndim))
                                                for f in fresh])
    except NotImplementedError:
        return None
    flat = [s for out in shapes for s in out]
    lengths = [len(out) for out in shapes]
    if not flat:
        return lambda *values: [()] * len(shapes)
    from nnframe.core.op import as_tensor_variable
    fn = function(fresh, [as_tensor_variable(s) for s in flat], mode="fast_compile",
                  on_unused_input="ignore")

    def run(*values):
        out = [int(v) for v in fn(*values)]
        result, k = [], 0
        for n in lengths:
            result.append(tuple(out[k:k + n]))
            k += n
        return result
    return run


def checking_kernel(node, kernel):
    """``kernel`` wrapped with the debug-mode checks for ``node``."""
    shape_fn = []  # compiled lazily: building it for every node up front is slow

    def check_value(var, value, k):
        name = f"output {k} of {node.op}{_where(node)}"
        if not isinstance(value, np.ndarray):
            raise DebugModeError(f"{name} is a {type(value).__name__}, not a numpy array")
        if value.dtype != np.dtype(var.type.dtype):
            raise DebugModeError(f"{name} has dtype {value.dtype}, its type says {var.type}")
        if value.ndim != var.type.ndim:
            raise DebugModeError(f"{name} has {value.ndim} dims (shape {value.shape}), "
                                 f"its type says {var.type}")
        for axis, (want, got) in enumerate(zip(var.type.shape, value.shape)):
            if want is not None and want != got:
                raise DebugModeError(f"{name} has shape {value.shape}, its type {var.type} "
                                     f"requires length {want} on axis {axis}")
        if (is_float(var.type.dtype) or is_complex(var.type.dtype)) and value.size:
            if not np.isfinite(value).all():
                kind = "NaN" if np.isnan(value).any() else "Inf"
                raise DebugModeError(f"{name} contains {kind} (node {node})")

    def checked(*inputs):
        before = [np.array(x, copy=True) for x in inputs]
        result = kernel(*inputs)
        values = result if len(node.outputs) > 1 else (result,)
        for k, (var, value) in enumerate(zip(node.outputs, values)):
            check_value(var, value, k)
        # An in-place node (destroy_map, set by the inplace rewrite) may overwrite its input.
        destroyed = {j for ins in getattr(node.op, "destroy_map", {}).values() for j in ins}
        for k, (old, new) in enumerate(zip(before, inputs)):
            if k in destroyed:
                continue
            if not np.array_equal(old, new, equal_nan=old.dtype.kind in "fc"):
                raise DebugModeError(f"{node.op}{_where(node)} modified its input {k} in place")
        # An output sharing memory with an input must be declared in view_map,
        # or in-place rewrites could overwrite the caller's data through it.
        destroy_map = getattr(node.op, "destroy_map", {})
        for k, value in enumerate(values):
            # an in-place output IS its destroyed input's buffer
            declared = set(node.op.view_map.get(k, ())) | set(destroy_map.get(k, ()))
            for j, inp in enumerate(inputs):
                if (j not in declared and isinstance(inp, np.ndarray) and inp.size
                        and np.may_share_memory(value, inp)):
                    raise DebugModeError(f"output {k} of {node.op}{_where(node)} is a view of "
                                         f"input {j}, but the Op's view_map does not say so")
        if not shape_fn:
            shape_fn.append(_shape_function(node))
        if shape_fn[0] is not None:
            expected = shape_fn[0](*inputs)
            for k, (want, value) in enumerate(zip(expected, values)):
                if tuple(want) != value.shape:
                    raise DebugModeError(f"output {k} of {node.op}{_where(node)} has shape "
                                         f"{value.shape} but infer_shape says {tuple(want)}")
        return result
    return checked
