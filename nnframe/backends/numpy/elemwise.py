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
                return node.op.not_broadcastable_error(
                    k, var, shape, f"the other inputs have shapes {shapes}", axis)
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


#: Large fused chains run in row blocks of about this many bytes per buffer, so that
#: their intermediates stay in the L2 cache instead of streaming through memory once
#: per step as hand-written NumPy does (benchmark W3, ``tanh(a*x+b)*sigmoid(x)`` on
#: 4M float32: 0.57-0.66x the time of whole-array in-place ufuncs, from 1.07x).
BLOCK_BYTES = 1 << 17
#: ... when the output holds at least this many blocks' worth of elements.
MIN_BLOCKS = 4


def composite_kernel(node):
    """A fused chain as straight-line NumPy code reusing its intermediate buffers.

    A step writes into the buffer of an intermediate argument (``out=``) when
    that argument is not used later and has the step's dtype and broadcast
    pattern (hence its shape); the in-place variant writes its last step into
    the destroyed input.  Example, ``tanh(a*x + b) * sigmoid(x)``::

        t0 = mul(i0, i1); add(t0, i2, out=t0); tanh(t0, out=t0)
        t1 = sigmoid(i1); mul(t0, t1, out=t0); return t0

    A large output is computed block by block (:func:`_blocked_lines`); the
    results are the same.
    """
    comp = node.op.scalar_op
    nin = len(comp.input_dtypes)
    args = [f"i{k}" for k in range(nin)]
    namespace = {"_error": _broadcast_error, "_node": node, "_asarray": np.asarray,
                 "_empty": np.empty, "_may_share": np.may_share_memory, "_buffers": []}
    for j in range(len(comp.steps)):
        namespace[f"_f{j}"] = comp.steps[j][0].impl
        namespace[f"_d{j}"] = np.dtype(comp.value_dtypes[nin + j])
    lines = [f"def run({', '.join(args)}):"]
    checks = _axis_checks(node)
    if checks:
        condition = " or ".join(f"i{k}.shape[{a}] != i{j}.shape[{a}]" for k, a, j in checks)
        lines.append(f"    if {condition}: raise _error(_node, [{', '.join(args)}])")
    lines += _blocked_lines(node, namespace) + _straight_lines(node, namespace)
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<composite {comp.name[:60]}>", "exec"), namespace)
    run = namespace["run"]
    run.source = source
    return run


def _step_lines(comp, j, names, out=None, fresh=None, scalar_output=False):
    """Step ``j`` of ``comp`` on the values ``names``: written into the buffer
    ``out`` when given, else computed into a new array called ``fresh``."""
    row, refs = comp.steps[j]
    dtype = np.dtype(comp.value_dtypes[len(comp.input_dtypes) + j])
    args = []
    for r in refs:
        cast = row.float_inputs and np.dtype(comp.value_dtypes[r]) != dtype
        args.append(f"{names[r]}.astype(_d{j})" if cast else names[r])
    call = f"_f{j}({', '.join(args)}"
    if out is not None:
        return [f"{call}, out={out})"]
    lines = [f"{fresh} = {call})"]
    sample = _numpy_step_dtype(row, [np.dtype(comp.value_dtypes[r]) for r in refs], dtype)
    if sample != dtype or scalar_output:
        lines.append(f"{fresh} = _asarray({fresh}, dtype=_d{j})")
    return lines


def _last_uses(comp):
    """Value index -> the last step that reads it."""
    return {r: j for j, (_, refs) in enumerate(comp.steps) for r in refs}


def _kept_buffer(namespace):
    """A new slot of ``_buffers`` (arrays kept from call to call); its index."""
    namespace["_buffers"].append(None)
    return len(namespace["_buffers"]) - 1


def _straight_lines(node, namespace):
    """The body computing the whole output with one NumPy call per step."""
    comp = node.op.scalar_op
    nin = len(comp.input_dtypes)
    dtypes = comp.value_dtypes
    bcast = comp.value_broadcastable
    last_use = _last_uses(comp)
    names = [f"i{k}" for k in range(nin)]
    lines = []
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
    kept = set()     # names of the buffers kept between calls
    scalar_output = node.outputs[0].ndim == 0
    for j, (row, refs) in enumerate(comp.steps):
        v = nin + j
        dtype = np.dtype(dtypes[v])
        reusable = [r for r in refs if r >= nin and last_use[r] == j and r in free
                    and np.dtype(dtypes[r]) == dtype and bcast is not None
                    and bcast[r] == bcast[v]
                    # a kept buffer may hold the result only if the result may be kept
                    and (j != final or keep_result or names[r] not in kept)]
        if j == final and node.op.inplace is not None:
            target = f"i{node.op.inplace}"
            lines += _step_lines(comp, j, names, out=target)
            names.append(target)
        elif row.accepts_out and reusable:
            buf = names[reusable[0]]
            lines += _step_lines(comp, j, names, out=buf)
            names.append(buf)
        else:
            name = f"t{j}"
            ref = same_shape_input.get(v)
            if (row.accepts_out and ref is not None and not scalar_output
                    and (j != final or keep_result)):
                slot = _kept_buffer(namespace)
                kept.add(name)
                lines.append(f"{name} = _buffers[{slot}]")
                lines.append(f"if {name} is None or {name}.shape != i{ref}.shape: "
                             f"{name} = _buffers[{slot}] = _empty(i{ref}.shape, _d{j})")
                lines += _step_lines(comp, j, names, out=name)
            else:
                lines += _step_lines(comp, j, names, fresh=name, scalar_output=scalar_output)
            names.append(name)
        if bcast is not None and not (j == final and node.op.inplace is not None):
            free.add(v)
    lines.append(f"return {names[-1]}")
    return ["    " + line for line in lines]


def _blocked_lines(node, namespace):
    """Lines computing a large output in blocks of rows and returning it; ``[]``
    when the chain cannot be split so.

    Rows ``s:e`` of the output need only rows ``s:e`` of the inputs that are
    not broadcast along axis 0 (the others are read whole), so each block is
    the chain on small arrays whose intermediates stay in the cache.  Steps
    that read only inputs broadcast along axis 0 give the same value for
    every block and run once, before the loop.  Block-sized intermediates
    live in buffers allocated once per call.  When the output buffer (the
    destroyed input, or one kept between calls) may share memory with an
    input, the straight-line body runs instead: NumPy's ufuncs copy
    overlapping operands, whereas a later block could read rows an earlier
    one has written.
    """
    comp = node.op.scalar_op
    bcast = comp.value_broadcastable
    nin = len(comp.input_dtypes)
    if bcast is None or node.outputs[0].ndim == 0 or bcast[-1][0]:
        return []
    ref = next((k for k in range(nin) if bcast[k] == bcast[-1]), None)
    if ref is None:          # no input has the output's shape: rare, left whole
        return []
    itemsize = max(np.dtype(d).itemsize for d in comp.value_dtypes)
    namespace["_block"] = max(1, BLOCK_BYTES // itemsize)
    final = len(comp.steps) - 1
    whole = f"i{ref}"
    # -- the output buffer, and when the blocks may not write into it ----------------
    # Blocks of whole rows: when a row alone is larger than a block, the kept
    # whole-array buffers of the straight-line body serve better.
    head = [f"if {whole}.size >= {MIN_BLOCKS} * _block and {whole}.size <= _block * "
            f"{whole}.shape[0]:"]
    body = []
    if node.op.inplace is not None:
        target = node.op.inplace
        body.append(f"_out = i{target}")
        others = [k for k in range(nin) if k != target]
    elif node.tag.get("reuse_output", False):
        slot = _kept_buffer(namespace)
        body.append(f"_out = _buffers[{slot}]")
        body.append(f"if _out is None or _out.shape != {whole}.shape: "
                    f"_out = _buffers[{slot}] = _empty({whole}.shape, _d{final})")
        others = list(range(nin))
    else:
        body.append(f"_out = _empty({whole}.shape, _d{final})")
        others = []
    # -- steps: loop-invariant ones first, then the loop over blocks ------------------
    sliced = [k for k in range(nin) if not bcast[k][0]]
    names = [f"b{k}" if k in sliced else f"i{k}" for k in range(nin)]
    before, loop = [], []
    last_use = _last_uses(comp)
    slot_of, free_slots, slot_dtypes = {}, [], []
    for j, (row, refs) in enumerate(comp.steps):
        v = nin + j
        if bcast[v][0]:
            before += _step_lines(comp, j, names, fresh=f"t{j}")
            names.append(f"t{j}")
            continue
        free_slots += [slot_of[r] for r in dict.fromkeys(refs)   # each dead value once
                       if r in slot_of and last_use[r] == j]
        if j == final:
            loop += (_step_lines(comp, j, names, out="_o") if row.accepts_out else
                     _step_lines(comp, j, names, fresh="_r") + ["_o[...] = _r"])
            names.append("_o")
        elif row.accepts_out and bcast[v] == bcast[-1]:
            dtype = comp.value_dtypes[v]
            slot = next((s for s in free_slots if slot_dtypes[s] == dtype), None)
            if slot is None:
                slot = len(slot_dtypes)
                slot_dtypes.append(dtype)
                before.append(f"_c{slot} = _empty((_rows,) + {whole}.shape[1:], _d{j})")
            else:
                free_slots.remove(slot)
            slot_of[v] = slot
            loop += _step_lines(comp, j, names, out=f"w{slot}")
            names.append(f"w{slot}")
        else:
            loop += _step_lines(comp, j, names, fresh=f"t{j}")
            names.append(f"t{j}")
    blocks = ([f"_n = {whole}.shape[0]",
               f"_rows = max(1, _block * _n // {whole}.size)"] + before +
              ["for _s in range(0, _n, _rows):",
               "    _e = _s + _rows",
               "    _o = _out[_s:_e]"] +
              [f"    b{k} = i{k}[_s:_e]" for k in sliced] +
              [f"    w{s} = _c{s}[:_o.shape[0]]" for s in range(len(slot_dtypes))] +
              ["    " + line for line in loop] +
              ["return _out"])
    if others:
        overlap = " or ".join(f"_may_share(_out, i{k})" for k in others)
        body += [f"if not ({overlap}):"] + ["    " + line for line in blocks]
    else:
        body += blocks
    return ["    " + line for line in head + ["    " + line for line in body]]


def _numpy_step_dtype(row, dtypes, target):
    """NumPy's result dtype for one step (after the casts the kernel makes)."""
    try:
        samples = [np.ones(1, dtype=target if row.float_inputs and d != target else d)
                   for d in dtypes]
        with np.errstate(all="ignore"):
            return np.asarray(row.impl(*samples)).dtype
    except Exception:
        return None
