"""C loops for Elemwise and fused Composite nodes.

Each step of the chain is the row's form in the table both code generators
read (:data:`~nnframe.backends.opencl.scalar_forms.FORMS`, OpenCL C made
valid C by the prelude), one statement per step in the step's own dtype,
as :class:`~nnframe.core.ops.scalar.Composite` evaluates on NumPy::

    #pragma GCC ivdep
    for (long i = 0; i < M[3]; i++) {
        float t3 = ((x0 * p1[i]));          /* mul */
        float t4 = ((t3 + x2));             /* add */
        ...
        p5[i] = t7;
    }

The loop is flat when every operand is contiguous with the output's shape
or holds one element (hoisted out of the loop); otherwise it is a nest over
the output's axes, where an axis an operand broadcasts along has stride 0
and the innermost stride of a contiguous operand is 1, so GCC vectorises
the inner loop (a bias added to every row).  ``ivdep``: an in-place node
reads and writes the same element only, which GCC cannot prove.
"""
import numpy as np

from nnframe.backends.native.registry import register
from nnframe.backends.opencl.codegen import ctype, helpers_for, scalar_expr
from nnframe.backends.opencl.scalar_forms import form_of, math_form
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.scalar import Composite

__all__ = ["emit_elemwise", "loop_nest", "CHECKS"]


def _steps(node):
    """``(in_dtypes, steps, value_dtypes)`` of the node, a plain row being a chain of one."""
    scalar = node.op.scalar_op
    if isinstance(scalar, Composite):
        return list(scalar.input_dtypes), scalar.steps, list(scalar.value_dtypes)
    in_dtypes = [str(x.dtype) for x in node.inputs]
    return in_dtypes, ((scalar, tuple(range(len(in_dtypes)))),), \
        in_dtypes + [str(node.outputs[0].dtype)]


def _negative_integer_power(args, dtypes, out_dtype):
    """NumPy refuses integers to negative integer powers (C would return 0)."""
    if np.dtype(out_dtype).kind in "iu" and np.dtype(dtypes[1]).kind == "i":
        return f"({args[1]}) < 0", "Integers to negative integer powers are not allowed."
    return None


#: Row name -> the C form this backend uses instead of the shared one
#: (:data:`~nnframe.backends.opencl.scalar_forms.FORMS`), for float results: one call of
#: the math module's function (cmath.py), more accurate and as fast.  Same signature as a
#: shared form's ``render``.
NATIVE_FORMS = {
    "sigmoid": math_form("nnf_sigmoid({0})").render,
    "softplus": math_form("nnf_softplus({0})").render,
}

#: Row name -> ``check(args, arg_dtypes, out_dtype) -> (C condition, message) | None``:
#: the values for which NumPy raises where the C form would return a number.
CHECKS = {"pow": _negative_integer_power}


@register(Elemwise)
def emit_elemwise(node, seg):
    in_dtypes, steps, value_dtypes = _steps(node)
    try:
        for row, _ in steps:
            form_of(row)
    except NotImplementedError:
        return None
    if [str(x.dtype) for x in node.inputs] != in_dtypes:
        return None
    ins = [seg.operand(x) for x in node.inputs]
    out = seg.operand(node.outputs[0])
    nin = len(ins)
    names = []
    hoisted = []
    for k, op in enumerate(ins):
        if op.literal is not None:
            names.append(op.literal)
        elif all(op.broadcastable):
            hoisted.append(f"const {op.ctype} x{k} = {op.ptr}[0];")
            names.append(f"x{k}")
        else:
            names.append(f"IN{k}")
    body = []
    for j, (row, refs) in enumerate(steps):
        v = nin + j
        args = [names[r] if r < nin else f"t{r}" for r in refs]
        arg_dtypes = [value_dtypes[r] for r in refs]
        check = CHECKS.get(row.name)
        condition = check and check(args, arg_dtypes, value_dtypes[v])
        if condition:
            body.append(f"if ({condition[0]}) {seg.fail(condition[1])}")
        native = NATIVE_FORMS.get(row.name)
        if native is not None and value_dtypes[v] in ("float32", "float64"):
            expr = native(args, arg_dtypes, value_dtypes[v], False)
        else:
            expr = scalar_expr(row, arg_dtypes, value_dtypes[v], args)
        for name, src in helpers_for(expr).items():
            seg.helper(name, src)
        body.append(f"{ctype(value_dtypes[v])} t{v} = {expr};")
    result = f"t{nin + len(steps) - 1}"
    arrays = [k for k, n in enumerate(names) if n == f"IN{k}"]
    return "\n".join(hoisted + loop_nest(out, [ins[k] for k in arrays],
                                         [f"IN{k}" for k in arrays], body, result))


def loop_nest(out, operands, placeholders, body, result):
    """C loops writing ``result`` (after ``body``) into every element of ``out``.

    ``placeholders[k]`` in ``body`` stands for the current element of
    ``operands[k]``, an array of ``out``'s rank that may broadcast.
    """
    flat = out.contiguous and all(
        op.contiguous and op.broadcastable == out.broadcastable for op in operands)
    if flat or out.ndim == 0:
        reads = {p: f"{op.ptr}[i]" for op, p in zip(operands, placeholders)}
        inner = [_substitute(line, reads) for line in body] + [f"{out.ptr}[i] = {result};"]
        return ["#pragma GCC ivdep", f"for (long i = 0; i < {out.size}; i++) {{"] + \
            ["    " + line for line in inner] + ["}"]
    nd = out.ndim

    def stride(op, axis):
        if op.broadcastable[axis]:
            return "0"
        if op.contiguous and axis == nd - 1:
            return "1"
        return op.stride(axis)

    every = [out] + list(operands)
    lines = []
    for axis in range(nd - 1):
        lines.append(f"for (long c{axis} = 0; c{axis} < {out.dim(axis)}; c{axis}++) {{")
    outer = {id(op): " + ".join(f"c{a} * {stride(op, a)}" for a in range(nd - 1)) or "0"
             for op in every}
    for k, op in enumerate(every):
        lines.append(f"    {op.ctype} *q{k} = {op.ptr} + {outer[id(op)]};")
    reads = {p: f"q{k + 1}[i * {stride(op, nd - 1)}]"
             for k, (op, p) in enumerate(zip(operands, placeholders))}
    inner = [_substitute(line, reads) for line in body]
    inner.append(f"q0[i * {stride(out, nd - 1)}] = {result};")
    lines += ["#pragma GCC ivdep", f"for (long i = 0; i < {out.dim(nd - 1)}; i++) {{"]
    lines += ["    " + line for line in inner] + ["}"]
    lines += ["}"] * (nd - 1)
    return lines


def _substitute(line, reads):
    # Placeholders are whole tokens (IN0, IN1...): replace longer names first.
    for name in sorted(reads, key=len, reverse=True):
        line = line.replace(name, reads[name])
    return line
