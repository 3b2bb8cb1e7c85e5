"""NumPy kernels for Elemwise: one ufunc (or NumPy function) call per node.

Each node gets a kernel specialised when the function is compiled: casts
only where an input's dtype differs from the computation's, a shape check
only on the axes that must agree, a dtype fix only if NumPy's own result
dtype differs, and ``out=`` for the in-place variant.
"""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.scalar import Composite


def _broadcast_error(node, inputs):
    """The error for NumPy broadcasting along an axis the types do not allow."""
    shapes = [v.shape for v in inputs]
    for k, (var, shape) in enumerate(zip(node.inputs, shapes)):
        for axis, length in enumerate(shape):
            others = [s[axis] for s in shapes]
            if length == 1 and max(others) != 1 and var.type.shape[axis] != 1:
                return ValueError(
                    f"input {k} ({var}) of {node.op} has shape {shape} but the other inputs have "
                    f"shapes {shapes}: axis {axis} is not broadcastable in its type {var.type}. "
                    "Declare it broadcastable (T.row/T.col, T.addbroadcast, dimshuffle with 'x') "
                    "or give inputs of equal shapes")
    return ValueError(f"{node.op}: input shapes {shapes} cannot be broadcast together")


def _axis_checks(node):
    """``(k, axis, j)``: input k's length on ``axis`` must equal input j's.

    Only axes where both are non-broadcastable are compared; NumPy itself
    rejects other mismatches (neither length 1).  The first input that is
    non-broadcastable on an axis is the reference for that axis.
    """
    checks = []
    ndim = node.outputs[0].ndim
    for axis in range(ndim):
        ref = None
        for k, var in enumerate(node.inputs):
            if var.type.shape[axis] == 1:
                continue
            if ref is None:
                ref = k
            else:
                checks.append((k, axis, ref))
    return checks


def _numpy_result_dtype(impl, node, cast_to):
    """The dtype NumPy gives on inputs of the node's dtypes (None if unknown)."""
    try:
        samples = [np.ones((1,) * x.ndim, dtype=cast_to if cast_to and x.dtype != cast_to
                           else x.dtype) for x in node.inputs]
        with np.errstate(all="ignore"):
            return np.asarray(impl(*samples)).dtype
    except Exception:
        return None


@register(Elemwise)
def elemwise_kernel(node):
    if isinstance(node.op.scalar_op, Composite):
        return composite_kernel(node)
    row = node.op.scalar_op
    impl = row.impl
    out_dtype = np.dtype(node.outputs[0].dtype)
    cast_to = out_dtype if row.float_inputs else None
    to_cast = [k for k, x in enumerate(node.inputs)
               if cast_to is not None and np.dtype(x.dtype) != out_dtype]
    needs_fix = _numpy_result_dtype(impl, node, cast_to) != out_dtype
    target = node.op.inplace
    args = [f"i{k}" for k in range(len(node.inputs))]
    lines = [f"def run({', '.join(args)}):"]
    checks = _axis_checks(node)
    if checks:
        condition = " or ".join(f"i{k}.shape[{a}] != i{j}.shape[{a}]" for k, a, j in checks)
        lines.append(f"    if {condition}: raise _error(_node, [{', '.join(args)}])")
    for k in to_cast:
        lines.append(f"    i{k} = i{k}.astype(_dtype)")
    call = f"_impl({', '.join(args)}"
    if target is not None:
        lines.append(f"    {call}, out=i{target})")
        lines.append(f"    return i{target}")
    else:
        lines.append(f"    r = {call})")
        if node.outputs[0].ndim == 0:
            lines.append("    r = _asarray(r)")
        if needs_fix:
            lines.append("    if r.dtype != _dtype: r = r.astype(_dtype)")
        lines.append("    return r")
    namespace = {"_impl": impl, "_dtype": out_dtype, "_asarray": np.asarray,
                 "_error": _broadcast_error, "_node": node}
    exec(compile("\n".join(lines) + "\n", f"<elemwise {row.name}>", "exec"), namespace)
    return namespace["run"]


def composite_kernel(node):
    """A fused chain as straight-line NumPy code reusing its intermediate buffers.

    A step writes into the buffer of an intermediate argument (``out=``) when
    that argument is not used later and has the step's dtype and broadcast
    pattern (hence its shape); the in-place variant writes its last step into
    the destroyed input.  Example, ``tanh(a*x + b) * sigmoid(x)``::

        t0 = mul(i0, i1); add(t0, i2, out=t0); tanh(t0, out=t0)
        t1 = sigmoid(i1); mul(t0, t1, out=t0); return t0
    """
    comp = node.op.scalar_op
    nin = len(comp.input_dtypes)
    dtypes = comp.value_dtypes
    bcast = comp.value_broadcastable
    last_use = {}
    for j, (_, refs) in enumerate(comp.steps):
        for r in refs:
            last_use[r] = j
    names = [f"i{k}" for k in range(nin)]
    namespace = {"_error": _broadcast_error, "_node": node, "_asarray": np.asarray}
    lines = [f"def run({', '.join(names)}):"]
    checks = _axis_checks(node)
    if checks:
        condition = " or ".join(f"i{k}.shape[{a}] != i{j}.shape[{a}]" for k, a, j in checks)
        lines.append(f"    if {condition}: raise _error(_node, [{', '.join(names)}])")
    free = set()     # intermediates whose buffers may be taken over
    final = len(comp.steps) - 1
    # A new array is needed for a step: keep it from call to call when its
    # shape is that of an input of the same broadcast pattern (so known
    # cheaply) and, for the result, when the function lets it outlive no call.
    same_shape_input = {}
    if bcast is not None:
        for v in range(nin, nin + len(comp.steps)):
            same_shape_input[v] = next((k for k in range(nin) if bcast[k] == bcast[v]), None)
    keep_result = node.tag.get("reuse_output", False)
    buffers = []
    kept = set()     # names of the buffers kept between calls
    namespace["_buffers"] = buffers
    namespace["_empty"] = np.empty
    for j, (row, refs) in enumerate(comp.steps):
        v = nin + j
        dtype = np.dtype(dtypes[v])
        namespace[f"_f{j}"] = row.impl
        namespace[f"_d{j}"] = dtype
        args = []
        for r in refs:
            cast = row.float_inputs and np.dtype(dtypes[r]) != dtype
            args.append(f"{names[r]}.astype(_d{j})" if cast else names[r])
        call = f"_f{j}({', '.join(args)}"
        reusable = [r for r in refs if r >= nin and last_use[r] == j and r in free
                    and np.dtype(dtypes[r]) == dtype and bcast is not None
                    and bcast[r] == bcast[v]
                    # a kept buffer may hold the result only if the result may be kept
                    and (j != final or keep_result or names[r] not in kept)]
        if j == final and node.op.inplace is not None:
            target = f"i{node.op.inplace}"
            lines.append(f"    {call}, out={target})")
            names.append(target)
        elif row.accepts_out and reusable:
            buf = names[reusable[0]]
            lines.append(f"    {call}, out={buf})")
            names.append(buf)
        else:
            name = f"t{j}"
            ref = same_shape_input.get(v)
            if (row.accepts_out and ref is not None and node.outputs[0].ndim > 0
                    and (j != final or keep_result)):
                slot = len(buffers)
                buffers.append(None)
                kept.add(name)
                lines.append(f"    {name} = _buffers[{slot}]")
                lines.append(f"    if {name} is None or {name}.shape != i{ref}.shape: "
                             f"{name} = _buffers[{slot}] = _empty(i{ref}.shape, _d{j})")
                lines.append(f"    {call}, out={name})")
            else:
                lines.append(f"    {name} = {call})")
                sample = _numpy_step_dtype(row, [np.dtype(dtypes[r]) for r in refs], dtype)
                if sample != dtype or node.outputs[0].ndim == 0:
                    lines.append(f"    {name} = _asarray({name}, dtype=_d{j})")
            names.append(name)
        if bcast is not None and not (j == final and node.op.inplace is not None):
            free.add(v)
    lines.append(f"    return {names[-1]}")
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<composite {comp.name[:60]}>", "exec"), namespace)
    run = namespace["run"]
    run.source = source
    return run


def _numpy_step_dtype(row, dtypes, target):
    """NumPy's result dtype for one step (after the casts the kernel makes)."""
    try:
        samples = [np.ones(1, dtype=target if row.float_inputs and d != target else d)
                   for d in dtypes]
        with np.errstate(all="ignore"):
            return np.asarray(row.impl(*samples)).dtype
    except Exception:
        return None
