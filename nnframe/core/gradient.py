"""Reverse-mode differentiation over the graph: ``T.grad`` and friends.

Gradients are graphs built from the same Ops, so they are rewritten, run on
every backend and can be differentiated again.

>>> import nnframe.tensor as T
>>> x = T.dscalar('x')
>>> gx = T.grad(x ** 3, x)
>>> float(gx.eval({x: 2.0}))
12.0

Semantics follow Theano:

- ``sgn``, ``floor``, ``round`` and comparisons have a *zero* gradient (the
  input stays connected); use ``T.ste_sign`` / ``T.ste`` for straight-through
  estimators.
- A variable the cost does not depend on is *disconnected*:
  ``disconnected_inputs='raise'`` (default) raises
  :class:`DisconnectedInputError`, 'warn' or 'ignore' return zeros.
- Gradients through complex values, and with respect to integers, are
  refused with a clear error.
"""
import warnings

import numpy as np

from nnframe.core.graph import Variable, clone_replace, toposort
from nnframe.core.op import GradUndefined, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.types import is_complex, is_discrete

__all__ = ["grad", "jacobian", "hessian", "Lop", "Rop", "DisconnectedInputError",
           "GradientError", "NullGradError", "verify_grad"]


class DisconnectedInputError(ValueError):
    """The cost does not depend on a variable the gradient was asked for."""


class NullGradError(TypeError):
    """A gradient is mathematically undefined (or not implemented) along the way."""


class GradientError(AssertionError):
    """``verify_grad``: the symbolic gradient differs from finite differences."""

    def __init__(self, arg, abs_err, rel_err, analytic, numeric, abs_tol, rel_tol):
        self.arg = arg
        self.abs_err = abs_err
        self.rel_err = rel_err
        self.analytic = analytic
        self.numeric = numeric
        super().__init__(
            f"verify_grad: gradient of input {arg} differs from finite differences: "
            f"max abs error {abs_err:.3g} (tolerance {abs_tol:.3g}), max rel error "
            f"{rel_err:.3g} (tolerance {rel_tol:.3g})\n  analytic: {analytic}\n  numeric:  {numeric}")


def _add_all(terms):
    total = terms[0]
    for t in terms[1:]:
        total = total + t
    return total


def _as_list(x):
    return (list(x), False) if isinstance(x, (list, tuple)) else ([x], True)


def grad(cost, wrt, consider_constant=None, disconnected_inputs="raise", known_grads=None,
         return_disconnected="zero"):
    """Symbolic gradient of the scalar ``cost`` with respect to ``wrt``.

    Parameters
    ----------
    cost : scalar Variable, or None when ``known_grads`` gives the start
    wrt : Variable or list of Variables
    consider_constant : list of Variables treated as constants
    disconnected_inputs : 'raise', 'warn' or 'ignore'
    known_grads : dict {Variable: gradient} to start from (besides ``cost``)
    return_disconnected : 'zero' (zeros) or 'None' for disconnected ``wrt``

    Returns a Variable, or a list when ``wrt`` is a list.
    """
    if disconnected_inputs not in ("raise", "warn", "ignore"):
        raise ValueError(f"disconnected_inputs must be 'raise', 'warn' or 'ignore', got "
                         f"{disconnected_inputs!r}")
    wrt_list, single = _as_list(wrt)
    for k, w in enumerate(wrt_list):
        if not isinstance(w, Variable):
            raise TypeError(f"T.grad: wrt[{k}] is {type(w).__name__}, not a symbolic variable")
        if is_discrete(w.dtype):
            raise TypeError(f"T.grad: cannot differentiate with respect to {w!r} of integer "
                            f"type {w.type}; gradients are defined for float variables")
        if is_complex(w.dtype):
            raise TypeError(f"T.grad: cannot differentiate with respect to complex {w!r} "
                            f"({w.type}); gradients of complex values are not supported")

    start = {}
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"T.grad: the cost must be a scalar, got {cost.type}; reduce it "
                            "(e.g. .sum() or .mean()) or use known_grads / T.jacobian")
        if is_discrete(cost.dtype) or is_complex(cost.dtype):
            raise TypeError(f"T.grad: the cost must be a real float scalar, got {cost.type}")
        start[id(cost)] = (cost, E.ones_like(cost))
    for var, g in (known_grads or {}).items():
        g = as_tensor_variable(g)
        if g.ndim != var.ndim:
            raise TypeError(f"known_grads: gradient of {var!r} ({var.type}) has type {g.type}")
        start[id(var)] = (var, g)
    if not start:
        raise ValueError("T.grad needs a cost or known_grads")

    # Differentiate the stable forms (log(sigmoid) -> -softplus(-x), ...): the
    # gradient of an unstable expression stays unstable whatever rewrites run
    # on it later.  wrt, constants and known-gradient variables are kept.
    protected = wrt_list + list(consider_constant or []) + [v for v, _ in start.values()]
    if cost is not None:
        from nnframe.core.rewrite.stabilize import stable_clone
        stable_cost = stable_clone([cost], protected)[0]
        if stable_cost is not cost:
            start.pop(id(cost))
            start[id(stable_cost)] = (stable_cost, E.ones_like(stable_cost))
    roots = [v for v, _ in start.values()]
    constants = {id(c) for c in (consider_constant or [])}
    nodes = toposort(roots)

    # Forward: which variables depend on some wrt (through non-constant paths)?
    connected = {id(w) for w in wrt_list}
    for node in nodes:
        if any(id(i) in connected for i in node.inputs):
            connected.update(id(o) for o in node.outputs if id(o) not in constants)

    # Backward: accumulate the gradient contributions of each variable.
    contributions = {key: [g] for key, (_, g) in start.items() if key in connected}
    for node in reversed(nodes):
        live = [i for i in node.inputs if id(i) in connected]
        if not live or not any(id(o) in contributions or is_discrete(o.dtype)
                               for o in node.outputs if id(o) in connected):
            continue
        if all(is_discrete(o.dtype) for o in node.outputs):
            # Discrete results carry a zero gradient, as in Theano (x > 0, argmax...).
            if getattr(node.op, "zero_grad_through_discrete", True):
                for i in live:
                    if not is_discrete(i.dtype):
                        contributions.setdefault(id(i), []).append(E.zeros_like(i))
            continue
        out_grads = [_add_all(contributions[id(o)]) if id(o) in contributions else None
                     for o in node.outputs]
        if all(g is None for g in out_grads):
            continue
        _refuse_complex(node, live)
        try:
            in_grads = node.op.L_op(node.inputs, node.outputs, out_grads)
        except NotImplementedError as exc:
            raise NullGradError(f"T.grad: {node.op} has no gradient: {exc} (node {node})") from None
        if len(in_grads) != len(node.inputs):
            raise RuntimeError(f"{node.op}.L_op returned {len(in_grads)} gradients for "
                               f"{len(node.inputs)} inputs")
        for inp, g in zip(node.inputs, in_grads):
            if id(inp) not in connected or g is None:
                continue
            if isinstance(g, GradUndefined):
                raise NullGradError(f"T.grad: the gradient of {node.op} with respect to its "
                                    f"input {inp!r} is undefined: {g.reason}")
            contributions.setdefault(id(inp), []).append(_check_grad(node, inp, g))

    results = []
    for w in wrt_list:
        terms = contributions.get(id(w))
        if terms:
            g = _add_all(terms)
            results.append(E.cast(g, w.dtype) if g.dtype != w.dtype else g)
            continue
        message = (f"T.grad: the cost does not depend on {w!r} ({w.type}) - it is disconnected. "
                   "Pass disconnected_inputs='ignore' (or 'warn') to get a zero gradient")
        if disconnected_inputs == "raise":
            raise DisconnectedInputError(message)
        if disconnected_inputs == "warn":
            warnings.warn(message, stacklevel=2)
        results.append(None if return_disconnected == "None" else E.zeros_like(w))
    return results[0] if single else results


def _refuse_complex(node, live):
    dtypes = [v.dtype for v in list(live) + list(node.outputs)]
    if any(is_complex(d) for d in dtypes):
        raise TypeError(f"T.grad: the gradient goes through {node.op}, which handles complex "
                        f"values ({', '.join(sorted(set(dtypes)))}); gradients of complex "
                        "expressions are not supported. Differentiate a real function of "
                        "real inputs instead")


def _check_grad(node, inp, g):
    g = as_tensor_variable(g)
    if g.ndim != inp.ndim:
        raise TypeError(f"{node.op}.L_op gave a gradient of type {g.type} for input {inp!r} of "
                        f"type {inp.type}")
    if g.dtype != inp.dtype:
        g = E.cast(g, inp.dtype)
    return g


# -- Jacobians, Hessians, L and R operators ---------------------------------------------
def jacobian(expression, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Jacobian of ``expression`` with respect to ``wrt``.

    The result has shape ``expression.shape + wrt.shape`` (a list of such for a
    list ``wrt``).  Row i is the gradient of entry i, computed by a Map over i.
    """
    from nnframe.core.ops.loop import map_range
    from nnframe.core.ops.shape import concatenate, flatten, reshape, shape, shape_i
    expression = as_tensor_variable(expression)
    wrt_list, single = _as_list(wrt)
    if expression.ndim == 0:
        out = grad(expression, wrt_list, consider_constant, disconnected_inputs)
        return out[0] if single else out
    import nnframe.tensor as T
    flat = flatten(expression, 1)
    i = T.lscalar("i")
    rows = grad(flat[i], wrt_list, consider_constant, disconnected_inputs)
    stacked = map_range(shape_i(flat, 0), [i], rows, [])
    out = [reshape(s, concatenate([shape(expression), shape(w)]), ndim=expression.ndim + w.ndim)
           for s, w in zip(stacked, wrt_list)]
    return out[0] if single else out


def hessian(cost, wrt, consider_constant=None, disconnected_inputs="raise"):
    """The Hessian of the scalar ``cost`` with respect to ``wrt`` (a vector or list of them)."""
    wrt_list, single = _as_list(wrt)
    out = []
    for w in wrt_list:
        if w.ndim != 1:
            raise TypeError(f"T.hessian: wrt must be vectors, got {w!r} of type {w.type}")
        g = grad(cost, w, consider_constant, disconnected_inputs)
        out.append(jacobian(g, w, consider_constant, disconnected_inputs))
    return out[0] if single else out


def Lop(f, wrt, eval_points, consider_constant=None, disconnected_inputs="raise"):
    """``eval_points`` (shaped like ``f``) times the Jacobian of ``f``: v^T J."""
    f_list, _ = _as_list(f)
    v_list, _ = _as_list(eval_points)
    if len(f_list) != len(v_list):
        raise ValueError("Lop: one eval point per expression is needed")
    known = dict(zip(f_list, [as_tensor_variable(v) for v in v_list]))
    return grad(None, wrt, consider_constant, disconnected_inputs, known_grads=known)


def Rop(f, wrt, eval_points, disconnected_inputs="raise"):
    """The Jacobian of ``f`` times ``eval_points`` (shaped like ``wrt``): J v.

    Computed with two reverse passes: J v = d/du (u^T J) v, exact because
    u^T J is linear in u.
    """
    wrt_list, single_wrt = _as_list(wrt)
    v_list, _ = _as_list(eval_points)
    f_list, single_f = _as_list(f)
    if len(wrt_list) != len(v_list):
        raise ValueError("Rop: one eval point per wrt variable is needed")
    dummies = [fi.type() for fi in f_list]
    pulled = Lop(f_list, wrt_list, dummies, disconnected_inputs=disconnected_inputs)
    pulled = pulled if isinstance(pulled, list) else [pulled]
    inner = _add_all([(p * as_tensor_variable(v)).sum() for p, v in zip(pulled, v_list)])
    out = grad(inner, dummies, disconnected_inputs="ignore")
    # The result does not depend on the dummies' values; replace them by zeros
    # so the compiled graph does not ask for them.
    out = clone_replace(out, {d: E.zeros_like(fi) for d, fi in zip(dummies, f_list)})
    return out[0] if single_f else out


# -- numerical gradient check --------------------------------------------------------
def verify_grad(fun, pt, n_tests=2, rng=None, eps=None, abs_tol=None, rel_tol=None,
                mode=None):
    """Check ``T.grad`` of ``fun`` at the point ``pt`` against finite differences.

    ``fun`` takes symbolic inputs (one per array of ``pt``) and returns a
    symbolic output.  The output is projected on a random tensor to make a
    scalar cost; its symbolic gradient is compared with central differences.
    Raises :class:`GradientError` on a mismatch.

    >>> import numpy as np, nnframe.tensor as T
    >>> verify_grad(lambda x: T.tanh(x) * x, [np.array([0.1, -0.7, 2.0])])
    """
    from nnframe.core.function import function
    from nnframe.core.types import TensorType
    rng = rng if rng is not None else np.random.default_rng(42)
    pt = [np.array(p) for p in pt]
    for k, p in enumerate(pt):
        if p.dtype.kind != "f":
            raise TypeError(f"verify_grad: point {k} has dtype {p.dtype}; use float arrays")
    float64 = all(p.dtype == np.float64 for p in pt)
    eps = eps if eps is not None else (1e-7 if float64 else 1e-3)
    abs_tol = abs_tol if abs_tol is not None else (1e-4 if float64 else 1e-2)
    rel_tol = rel_tol if rel_tol is not None else (1e-4 if float64 else 1e-2)

    # Length-1 axes of the point are broadcastable, as for constants.
    inputs = [TensorType(p.dtype, tuple(1 if n == 1 else None for n in p.shape))(f"input{k}")
              for k, p in enumerate(pt)]
    out = as_tensor_variable(fun(*inputs))
    out_fn = function(inputs, out, mode=mode, on_unused_input="ignore")
    out_value = np.asarray(out_fn(*pt))
    for _ in range(n_tests):
        projection = rng.uniform(0.5, 1.5, size=out_value.shape) * rng.choice([-1, 1], out_value.shape)
        proj = as_tensor_variable(projection.astype(out.dtype))
        cost = (out * proj).sum()
        grads = grad(cost, inputs, disconnected_inputs="ignore")
        cost_fn = function(inputs, cost, mode=mode, on_unused_input="ignore")
        grad_fn = function(inputs, grads, mode=mode, on_unused_input="ignore")
        analytic = grad_fn(*pt)
        for k, p in enumerate(pt):
            numeric = np.zeros_like(p, dtype=np.float64)
            flat = p.reshape(-1)
            for j in range(flat.size):
                old = flat[j]
                flat[j] = old + eps
                plus = float(cost_fn(*pt))
                flat[j] = old - eps
                minus = float(cost_fn(*pt))
                flat[j] = old
                numeric.reshape(-1)[j] = (plus - minus) / (2 * eps)
            a = np.asarray(analytic[k], dtype=np.float64)
            abs_err = np.abs(a - numeric)
            rel_err = abs_err / np.maximum(np.abs(a) + np.abs(numeric), 1e-8)
            bad = (abs_err > abs_tol) & (rel_err > rel_tol)
            if bad.any():
                raise GradientError(k, float(abs_err.max()), float(rel_err.max()), a, numeric,
                                    abs_tol, rel_tol)
