"""IfElse: Theano's lazy ``ifelse(condition, then_branch, else_branch)``.

Only the branch the condition selects is computed.  The linker runs every
node of a function (straight-line code), so the laziness lives in the Op: it
holds both branches as inner graphs, and its kernel runs one of them.  At
``ifelse()`` time the branch expressions are copied into the inner graphs;
their free leaves (inputs, shared variables, any non-constant leaf) become
inner input variables, and the outer node's inputs are ``[condition,
*free_leaves]``.  Everything between those leaves and the branch results is
therefore computed inside the taken branch only (an expression also used
outside the ``ifelse`` is computed there too).  ``T.grad``, ``givens`` and
``clone_replace`` reach the branches through those leaves only: an
intermediate expression used only inside a branch is not in the outer graph.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> a, b = T.dscalars('a', 'b')
>>> x, y = T.dvectors('x', 'y')
>>> f = function([a, b, x, y], ifelse(T.lt(a, b), T.exp(x), y.sum() * y))
>>> f(1.0, 2.0, np.zeros(2), np.ones(2))      # a < b: only exp(x) is computed
array([1., 1.])
>>> f(3.0, 2.0, np.zeros(2), np.ones(2))
array([2., 2.])

The gradient is lazy too: it is again an ``IfElse`` choosing between the
gradients of the two branches (so second derivatives work).  Use
``T.switch`` for an elementwise choice (both sides are computed).
"""
import numpy as np

from nnframe.core.graph import Apply, Constant, Variable, clone_replace, graph_inputs
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.types import TensorType, is_float

__all__ = ["IfElse", "ifelse"]


class IfElse(Op):
    """``then_outputs(*free)`` if ``condition`` else ``else_outputs(*free)``.

    Inputs of the node: the scalar condition (any dtype, nonzero is true),
    then the values of ``inner_inputs`` in order.  ``then_outputs[k]`` and
    ``else_outputs[k]`` are graphs over ``inner_inputs`` (and constants) of the
    same dtype and number of dimensions; output ``k``'s static shape keeps
    the lengths both branches agree on.  Build it with :func:`ifelse`; each
    IfElse is its own Op (compared by identity, as ``Map``).

    >>> import nnframe.tensor as T
    >>> c = T.bscalar('c'); x = T.dmatrix('x')
    >>> z = ifelse(c, x.T, x)
    >>> z.owner.op, z.owner.inputs[1] is x
    (IfElse, True)
    """

    def __init__(self, inner_inputs, then_outputs, else_outputs, name=None):
        self.inner_inputs = list(inner_inputs)
        self.then_outputs = list(then_outputs)
        self.else_outputs = list(else_outputs)
        self.name = name
        if not self.then_outputs or len(self.then_outputs) != len(self.else_outputs):
            raise ValueError(f"IfElse needs one or more outputs per branch, the same number in "
                             f"both: got {len(self.then_outputs)} and {len(self.else_outputs)}")
        self.output_types = [
            _output_type(t, e, f"then output {k}", f"else output {k}")
            for k, (t, e) in enumerate(zip(self.then_outputs, self.else_outputs))]

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __str__(self):
        if self.name:
            return f"IfElse{{{self.name}}}"
        n = len(self.then_outputs)
        return "IfElse" if n == 1 else f"IfElse{{{n} outputs}}"

    __repr__ = __str__

    def make_node(self, condition, *free):
        cond = _as_condition(condition)
        if len(free) != len(self.inner_inputs):
            raise TypeError(f"{self} takes the condition and {len(self.inner_inputs)} input(s), "
                            f"got {len(free)} input(s) after the condition")
        free = [as_tensor_variable(f) for f in free]
        for outer, inner in zip(free, self.inner_inputs):
            if not inner.type.is_super(outer.type):
                raise TypeError(f"{self}: {outer} ({outer.type}) does not fit {inner.type}")
        return Apply(self, [cond] + free, self.output_types)

    def infer_shape(self, node, input_shapes):
        # Lengths both branches know statically are constants; the others are
        # chosen by an IfElse too, so only the taken branch's shape is computed.
        from nnframe.core.ops.shape import shape_i
        from nnframe.core.variable import constant
        shapes = [[None] * out.ndim for out in node.outputs]
        where, then_dims, else_dims = [], [], []
        for k, out in enumerate(node.outputs):
            for d, length in enumerate(out.type.shape):
                if length is not None:
                    shapes[k][d] = constant(length, dtype="int64")
                else:
                    where.append((k, d))
                    then_dims.append(shape_i(self.then_outputs[k], d))
                    else_dims.append(shape_i(self.else_outputs[k], d))
        if where:
            dims = _build(node.inputs[0], self.inner_inputs, node.inputs[1:], then_dims,
                          else_dims, None)
            for (k, d), dim in zip(where, dims):
                shapes[k][d] = dim
        return [tuple(s) for s in shapes]

    def L_op(self, inputs, outputs, output_grads):
        """The gradient of each float input is ``ifelse(condition, grad_then, grad_else)``.

        ``grad_then`` is the gradient of ``sum_k sum(then_k * g_k)`` (zeros
        where the branch does not use the input).  The condition is piecewise
        constant: a float condition gets a zero gradient, others none.
        """
        from nnframe.core.gradient import grad
        from nnframe.core.ops.elemwise import mul, zeros_like
        from nnframe.core.ops.reduce import sum as sum_
        cond, free = inputs[0], list(inputs[1:])
        result = [zeros_like(cond) if is_float(cond.dtype) else None] + [None] * len(free)
        wanted = [k for k, f in enumerate(free) if is_float(f.dtype)]
        used = [k for k, (out, g) in enumerate(zip(outputs, output_grads))
                if g is not None and is_float(out.dtype)]
        if not wanted or not used:
            return result
        # The output gradients enter the inner graphs as inputs (bound to the outer
        # gradients), so they are not recomputed inside the branches.
        g_inner = [output_grads[k].type.make_variable(name=f"g{k}") for k in used]
        wrt = [self.inner_inputs[k] for k in wanted]
        branch_grads = []
        for branch in (self.then_outputs, self.else_outputs):
            terms = [sum_(mul(branch[k], g)) for k, g in zip(used, g_inner)]
            cost = terms[0]
            for t in terms[1:]:
                cost = cost + t
            branch_grads.append(grad(cost, wrt, disconnected_inputs="ignore"))
        name = f"grad of {self.name}" if self.name else None
        grads = _build(cond, self.inner_inputs + g_inner, free + [output_grads[k] for k in used],
                       branch_grads[0], branch_grads[1], name)
        for k, g in zip(wanted, grads):
            result[1 + k] = g
        return result

    # -- for the kernels ---------------------------------------------------------------------
    def compile_branches(self, mode):
        """``(run_then, run_else)``: each branch compiled once with ``mode``.

        ``run(*free_values)`` returns the branch's output values as a tuple,
        in the backend's own format (the mode's backend decides).  On a host
        backend outputs that would alias an input or a constant come back
        copied, as from any function; with a device backend an output may be
        an input's array itself (the OpenCL kernel copies what must not be
        shared, see ``backends/opencl/ifelse.py``).  An error raised by a node of a
        branch names that node and the branch.
        """
        from nnframe.core.function import function
        runs = []
        for label, outputs in (("then", self.then_outputs), ("else", self.else_outputs)):
            f = function(self.inner_inputs, list(outputs), mode=mode, on_unused_input="ignore",
                         name=f"{self} {label} branch")
            runs.append(_branch_runner(f))
        return tuple(runs)

    @staticmethod
    def is_true(value):
        """Whether the condition's value (a 0-d array) selects the ``then`` branch: nonzero."""
        return bool(np.asarray(value))

    def inner_graphs(self):
        """For the printers (nnframe/printing.py): the two branches as ``(title, inputs,
        outputs)``; inputs are ``(role, inner variable, position of the outer input bound
        to it)``."""
        inputs = [(f"input {k}", v, 1 + k) for k, v in enumerate(self.inner_inputs)]
        return [(title, inputs, [(f"output {k}", v) for k, v in enumerate(outputs)])
                for title, outputs in (("then", self.then_outputs), ("else", self.else_outputs))]


def _branch_runner(f):
    """The linked code of the compiled branch ``f``, returning its outputs as a tuple."""
    from nnframe.core.link import attach_node_to_exception
    linked = f.maker.linked
    run = linked.run

    def run_branch(*free):
        try:
            return run(*free)[0]
        except Exception as exc:
            node, values = linked.node_of_exception(exc)
            if node is None:
                raise
            raise attach_node_to_exception(exc, node, values, f.name) from exc
    run_branch.function = f
    return run_branch


def _as_condition(condition):
    cond = as_tensor_variable(condition)
    if cond.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar, got {cond!r} of type "
                        f"{cond.type}; reduce it first (e.g. T.any(condition) or "
                        "T.all(condition)), or use T.switch for an elementwise choice")
    return cond


def _output_type(then_var, else_var, then_what, else_what):
    """The type of an output choosing between ``then_var`` and ``else_var`` (or a TypeError
    naming them as ``then_what`` and ``else_what``)."""
    t, e = then_var.type, else_var.type
    if t.ndim != e.ndim:
        raise TypeError(f"ifelse: {then_what} has type {t} and {else_what} has type {e}: "
                        f"{t.ndim} and {e.ndim} dimension(s); both branches must have the same "
                        "number of dimensions")
    if t.dtype != e.dtype:
        raise TypeError(f"ifelse: {then_what} has type {t} and {else_what} has type {e}; both "
                        "branches must have the same dtype: cast one of them (e.g. "
                        f"T.cast(x, {t.dtype!r}) or x.astype({t.dtype!r}))")
    shape = tuple(a if a == b else None for a, b in zip(t.shape, e.shape))
    return TensorType(t.dtype, shape)


def _is_weak(value):
    """A Python number (or a weak constant made from one): its dtype follows the other branch."""
    if isinstance(value, Variable):
        return isinstance(value, Constant) and getattr(value, "weak", False)
    return isinstance(value, (bool, int, float)) and not isinstance(value, np.generic)


def _pair(then_value, else_value, then_what, else_what):
    """The two branch values of one output as Variables; a Python number takes the dtype of
    the other branch when that one is typed (``ifelse(c, x, 0.0)`` with ``x`` float32)."""
    from nnframe.core.variable import constant

    def typed_like(value, other, what):
        number = value.py_value if isinstance(value, Variable) else value
        if number is None:
            number = value.data.item()
        data = np.asarray(number).astype(other.dtype)
        if np.dtype(other.dtype).kind not in "fc" and data != number:
            raise TypeError(f"ifelse: {what} is {number!r}, which does not fit the type "
                            f"{other.type} of the other branch; cast one of the branches")
        return constant(data.item(), dtype=other.dtype)

    then_weak, else_weak = _is_weak(then_value), _is_weak(else_value)
    if then_weak and not else_weak:
        else_value = as_tensor_variable(else_value)
        then_value = typed_like(then_value, else_value, then_what)
    elif else_weak and not then_weak:
        then_value = as_tensor_variable(then_value)
        else_value = typed_like(else_value, then_value, else_what)
    return as_tensor_variable(then_value), as_tensor_variable(else_value)


def _build(condition, bound_inner, bound_outer, then_list, else_list, name):
    """The outputs of an IfElse choosing between the graphs ``then_list`` and ``else_list``.

    Leaves of those graphs listed in ``bound_inner`` become inner inputs bound
    to the outer variables ``bound_outer`` (which may be any expressions);
    every other non-constant leaf is captured: a fresh inner input bound to
    the leaf itself.  The graphs are copied, so the Op's inner graphs are its
    own.
    """
    outs = list(then_list) + list(else_list)
    leaves = graph_inputs(outs)
    leaf_ids = {id(v) for v in leaves}
    pairs = [(i, o) for i, o in zip(bound_inner, bound_outer) if id(i) in leaf_ids]
    listed = {id(i) for i, _ in pairs}
    extra = [v for v in leaves if id(v) not in listed and not isinstance(v, Constant)]
    fresh = [v.type.make_variable(name=v.name) for v in extra]
    inner = clone_replace(outs, dict(zip(extra, fresh)))
    n = len(then_list)
    op = IfElse([i for i, _ in pairs] + fresh, inner[:n], inner[n:], name)
    result = op(condition, *[o for _, o in pairs], *extra)
    return result if isinstance(result, list) else [result]


def ifelse(condition, then_branch, else_branch, name=None):
    """``then_branch`` if the scalar ``condition`` is nonzero, else ``else_branch``: lazily.

    Theano's ``theano.ifelse.ifelse``: only the selected branch is computed
    when the function runs (``T.switch`` computes both, elementwise).
    ``then_branch`` and ``else_branch`` are each a Variable (or a value) or a
    list of them of the same length; the result has ``then_branch``'s form (a
    Variable, a list or a tuple).  Paired values must have the same dtype and
    number of dimensions (a Python number takes the other branch's dtype);
    the result's static lengths are those both branches agree on.
    ``condition`` is a scalar of any dtype.  ``name`` names the node.

    >>> import numpy as np, nnframe.tensor as T
    >>> from nnframe import function
    >>> x = T.dvector('x')
    >>> i = T.lscalar('i')
    >>> # x[i] is only read when i is in range: no IndexError otherwise
    >>> f = function([x, i], ifelse(T.lt(i, x.shape[0]), x[i], -1.0))
    >>> f(np.array([5.0, 6.0]), 1), f(np.array([5.0, 6.0]), 7)
    (array(6.), array(-1.))
    >>> lo, hi = ifelse(T.gt(x.sum(), 0), [x.min(), x.max()], [x.max(), x.min()])
    """
    then_is_list = isinstance(then_branch, (list, tuple))
    then_list = list(then_branch) if then_is_list else [then_branch]
    else_list = list(else_branch) if isinstance(else_branch, (list, tuple)) else [else_branch]
    if len(then_list) != len(else_list):
        raise ValueError(f"ifelse: then_branch has {len(then_list)} value(s) and else_branch "
                         f"{len(else_list)}; both branches must give the same number of values")
    if not then_list:
        raise ValueError("ifelse: then_branch and else_branch are empty; give at least one value")
    cond = _as_condition(condition)
    pairs = []
    for k, (t, e) in enumerate(zip(then_list, else_list)):
        names = (f"then_branch[{k}]", f"else_branch[{k}]") if then_is_list else \
            ("then_branch", "else_branch")
        t, e = _pair(t, e, *names)
        _output_type(t, e, *names)
        pairs.append((t, e))
    outs = _build(cond, [], [], [t for t, _ in pairs], [e for _, e in pairs], name)
    if not then_is_list:
        return outs[0]
    return tuple(outs) if isinstance(then_branch, tuple) else outs
