"""Specialisation: products followed by additions become one GEMM.

``z - s * dot(x, y)``, ``z + s * dot(x, y)``, ``z - dot(x, y)`` and
``z + dot(x, y)`` (matrices, ``s`` a scalar) become
``Gemm(z, ±s, x, y, 1)``.  An SGD step ``W - lr * dot(a.T, d)`` is exactly
this pattern; the ``inplace`` pass then lets the GEMM write into ``W``.

Only when the product (and its scaled copy) is used by nothing else: Adam's
``m = b1 * m + (1 - b1) * g`` with ``g = dot(a.T, d)`` also squared for ``v`` would
otherwise compute the product twice, once in the GEMM and once for ``g ** 2`` (a
784-1024-1024-10 Adam step was 25% slower for it).
"""
from nnframe.core.graph import Constant
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.blas import Dot, Gemm
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.shape import DimShuffle
from nnframe.core.rewrite.local import apply_local_rewrites, local_rewrite, scalar_op_name
from nnframe.core.variable import constant

__all__ = ["specialize"]


def _matrix_dot(var):
    """``(x, y)`` if ``var`` is ``dot(x, y)`` of two matrices, else None."""
    node = var.owner
    if node is not None and isinstance(node.op, Dot) and all(i.ndim == 2 for i in node.inputs):
        return node.inputs
    return None


def _scalar(var):
    """``var`` as a 0-d Variable when it is a broadcast scalar, else None."""
    if isinstance(var, Constant) and var.data.size == 1:
        return constant(var.data.reshape(()).item(), dtype=var.dtype)
    node = var.owner
    if (node is not None and isinstance(node.op, DimShuffle) and node.inputs[0].ndim == 0):
        return node.inputs[0]
    if var.ndim == 0:
        return var
    return None


def _scaled_dot(var, used_only_by):
    """``(scale, x, y)`` if ``var`` is ``dot(x, y)`` or ``s * dot(x, y)`` whose product
    nothing but its consumer reads (``used_only_by(v, node)``), else None."""
    xy = _matrix_dot(var)
    if xy is not None:
        return None, xy[0], xy[1]
    if scalar_op_name(var.owner) != "mul":
        return None
    a, b = var.owner.inputs
    for s, d in ((a, b), (b, a)):
        xy, scale = _matrix_dot(d), _scalar(s)
        if xy is not None and scale is not None and used_only_by(d, var.owner):
            return scale, xy[0], xy[1]
    return None


def _gemm_of(node, used_only_by):
    """``z ± s * dot(x, y)`` -> ``Gemm(z, ±s, x, y, 1)`` (see the module docstring)."""
    name = scalar_op_name(node)
    if name not in ("add", "sub") or node.op.inplace is not None:
        return None
    out = node.outputs[0]
    z_first = [(0, 1)] if name == "sub" else [(0, 1), (1, 0)]
    for zi, pi in z_first:
        z, product = node.inputs[zi], node.inputs[pi]
        if z.type != out.type or z.ndim != 2:
            continue
        if not used_only_by(product, node):
            continue
        found = _scaled_dot(product, used_only_by)
        if found is None:
            continue
        scale, x, y = found
        if scale is None:
            scale = constant(1, dtype=out.dtype)
        alpha = E.neg(scale) if name == "sub" else scale
        try:
            gemm = Gemm()(z, alpha, x, y, constant(1, dtype=out.dtype))
        except TypeError:
            continue  # mixed dtypes: leave it to Dot
        if gemm.type == out.type:
            return [gemm]
    return None


def specialize(fgraph):
    """Turn additions of matrix products into GEMMs."""

    def used_only_by(var, node):
        # the clients are looked up only for the few nodes that match the pattern
        return all(user is node for user, _ in fgraph.clients().get(id(var), []))

    @local_rewrite(Elemwise)
    def add_of_dot_to_gemm(node):
        return _gemm_of(node, used_only_by)

    return apply_local_rewrites(fgraph, [add_of_dot_to_gemm])
