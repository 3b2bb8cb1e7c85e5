"""Map: evaluate an inner graph for i = 0..n-1 and stack the results.

``T.jacobian`` and ``T.hessian`` are built on it: row i of a Jacobian is the
gradient of the i-th entry, an inner graph with ``i`` as its input.  The
inner graph's free variables (inputs, shared variables) become inputs of
the outer node, so the outer graph stays an ordinary graph.
"""
from nnframe.core.graph import Apply, Constant, clone_replace, graph_inputs
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.types import TensorType, is_discrete

__all__ = ["Map", "map_range"]


class Map(Op):
    """``outputs[k][i] = inner_outputs[k](i, *free)`` for ``i in range(n)``.

    Inputs of the node: ``n`` then the free variables, in the order of
    ``inner_inputs[1:]``.  Each Map is its own Op (compared by identity).
    """

    def __init__(self, inner_inputs, inner_outputs):
        self.inner_inputs = list(inner_inputs)
        self.inner_outputs = list(inner_outputs)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __str__(self):
        return f"Map{{{len(self.inner_outputs)} output(s)}}"

    def make_node(self, n, *free):
        n = as_tensor_variable(n)
        if n.ndim != 0 or not is_discrete(n.dtype):
            raise TypeError(f"Map needs an integer scalar count, got {n.type}")
        free = [as_tensor_variable(f) for f in free]
        for outer, inner in zip(free, self.inner_inputs[1:]):
            if not inner.type.is_super(outer.type):
                raise TypeError(f"Map: {outer} ({outer.type}) does not fit {inner.type}")
        types = [TensorType(o.dtype, (None,) + o.type.shape) for o in self.inner_outputs]
        return Apply(self, [n] + free, types)

    def L_op(self, inputs, outputs, output_grads):
        from nnframe.core.gradient import grad
        from nnframe.core.ops.elemwise import mul
        from nnframe.core.ops.reduce import sum as sum_
        n, free = inputs[0], inputs[1:]
        i, inner_free = self.inner_inputs[0], self.inner_inputs[1:]
        wanted = [k for k, f in enumerate(inner_free) if not is_discrete(f.dtype)]
        if not wanted:
            return [None] * len(inputs)
        # Row i contributes grad(sum(inner_k(i) * g_k[i]), free); sum the rows.
        g_inner = [o.type() if g is not None else None for o, g in zip(outputs, output_grads)]
        terms = [sum_(mul(inner, gk[i])) for inner, gk in zip(self.inner_outputs, g_inner)
                 if gk is not None]
        cost = terms[0]
        for t in terms[1:]:
            cost = cost + t
        row_grads = grad(cost, [inner_free[k] for k in wanted], disconnected_inputs="ignore")
        used_g = [g for g in g_inner if g is not None]
        outer_g = [g for g in output_grads if g is not None]
        stacked = map_range(n, [i] + inner_free + used_g, row_grads, [*free, *outer_g])
        result = [None] * len(inputs)
        for k, s in zip(wanted, stacked):
            result[1 + k] = sum_(s, axis=0)
        return result

    def inner_graphs(self):
        """For the printers (nnframe/printing.py): ``[(title, inputs, outputs)]``, inputs as
        ``(role, inner variable, position of the outer input bound to it or None)``."""
        inputs = [("index", self.inner_inputs[0], None)]
        inputs += [(f"free {k}", v, 1 + k) for k, v in enumerate(self.inner_inputs[1:])]
        return [("body", inputs, [(f"output {k}", v) for k, v in enumerate(self.inner_outputs)])]


def map_range(n, inner_inputs, inner_outputs, outer_free):
    """Stack ``inner_outputs`` for ``i = 0..n-1``.

    ``inner_inputs[0]`` is the index variable, the others are bound to
    ``outer_free``.  Leaves of ``inner_outputs`` that are not listed
    (shared variables, other inputs) are captured automatically.
    """
    listed = {id(v) for v in inner_inputs}
    extra = [v for v in graph_inputs(inner_outputs)
             if id(v) not in listed and not isinstance(v, Constant)]
    fresh = [v.type() for v in extra]
    inner_outputs = clone_replace(inner_outputs, dict(zip(extra, fresh)))
    op = Map(list(inner_inputs) + fresh, inner_outputs)
    outs = op(n, *outer_free, *extra)
    return outs if isinstance(outs, list) else [outs]
