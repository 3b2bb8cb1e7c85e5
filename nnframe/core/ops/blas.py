"""Matrix products: dot (vectors and matrices), tensordot, batched_dot, outer.

>>> import nnframe.tensor as T
>>> T.dot(T.fmatrix(), T.fvector()).type
TensorType(float32, vector)
"""
import numpy as np

from nnframe.core.graph import Apply
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.shape import dimshuffle, make_vector, normalize_axis, reshape, shape_i
from nnframe.core.types import TensorType, is_discrete, upcast

__all__ = ["Dot", "BatchedDot", "Gemm", "dot", "tensordot", "batched_dot", "outer"]


def _check_inner(x, y, ax, ay, what):
    nx, ny = x.type.shape[ax], y.type.shape[ay]
    if nx is not None and ny is not None and nx != ny:
        raise ValueError(f"{what}: inner lengths differ: {x.type} (axis {ax}) and "
                         f"{y.type} (axis {ay})")


class Dot(Op):
    """``np.dot`` of two tensors of 1 or 2 dimensions each."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if not (1 <= x.ndim <= 2 and 1 <= y.ndim <= 2):
            raise TypeError(f"Dot takes vectors or matrices, got {x.type} and {y.type}; "
                            "use T.dot (which handles other ranks) or T.tensordot")
        _check_inner(x, y, x.ndim - 1, 0, "dot")
        shape = x.type.shape[:-1] + y.type.shape[1:]
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), shape)])

    def infer_shape(self, node, input_shapes):
        sx, sy = input_shapes
        return [tuple(sx[:-1]) + tuple(sy[1:])]

    def L_op(self, inputs, outputs, output_grads):
        (x, y), (g,) = inputs, output_grads
        if x.ndim == 1 and y.ndim == 1:
            gx, gy = g * y, g * x
        elif x.ndim == 1:      # (k,) . (k, m) -> (m,)
            gx, gy = dot(y, g), outer(x, g)
        elif y.ndim == 1:      # (n, k) . (k,) -> (n,)
            gx, gy = outer(g, y), dot(x.T, g)
        else:
            gx, gy = dot(g, y.T), dot(x.T, g)
        return [None if is_discrete(v.dtype) else E.cast(gv, v.dtype)
                for v, gv in ((x, gx), (y, gy))]


_dot = Dot()


def dot(x, y):
    """Matrix product with NumPy's rules for 1-d and 2-d operands.

    Scalars multiply; operands of more than two dimensions contract the last
    axis of ``x`` with the second-to-last of ``y`` (via :func:`tensordot`).
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim == 0 or y.ndim == 0:
        return x * y
    if x.ndim <= 2 and y.ndim <= 2:
        return _dot(x, y)
    return tensordot(x, y, [[x.ndim - 1], [max(y.ndim - 2, 0)]])


def outer(x, y):
    """Outer product of two vectors."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    return dimshuffle(x, [0, "x"]) * dimshuffle(y, ["x", 0])


def _product(scalars):
    """Symbolic product of shape scalars (1 for none)."""
    out = None
    for s in scalars:
        out = s if out is None else out * s
    return 1 if out is None else out


def tensordot(a, b, axes=2):
    """Sum products over the given axes, like ``np.tensordot``.

    ``axes`` is an int n (the last n axes of ``a`` with the first n of ``b``)
    or a pair of axis lists.  Built from transposes, reshapes and one Dot,
    so it is differentiable.
    """
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, (int, np.integer)):
        axes = [list(range(a.ndim - axes, a.ndim)), list(range(axes))]
    ax_a, ax_b = ([normalize_axis(i, t.ndim) for i in np.atleast_1d(ax)]
                  for ax, t in zip(axes, (a, b)))
    if len(ax_a) != len(ax_b):
        raise ValueError(f"tensordot: {len(ax_a)} axes of a against {len(ax_b)} axes of b")
    for i, j in zip(ax_a, ax_b):
        _check_inner(a, b, i, j, "tensordot")
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]
    a2 = reshape(dimshuffle(a, free_a + ax_a),
                 make_vector(_product([shape_i(a, i) for i in free_a]),
                             _product([shape_i(a, i) for i in ax_a]), dtype="int64"))
    b2 = reshape(dimshuffle(b, ax_b + free_b),
                 make_vector(_product([shape_i(b, i) for i in ax_b]),
                             _product([shape_i(b, i) for i in free_b]), dtype="int64"))
    out_shape = [shape_i(a, i) for i in free_a] + [shape_i(b, i) for i in free_b]
    out = _dot(a2, b2)
    if not out_shape:
        return reshape(out, ())
    return reshape(out, make_vector(*out_shape, dtype="int64"))


class BatchedDot(Op):
    """``np.matmul`` of two 3-d tensors: one matrix product per leading index."""

    __props__ = ()

    def make_node(self, x, y):
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim != 3 or y.ndim != 3:
            raise TypeError(f"BatchedDot takes 3-d tensors, got {x.type} and {y.type}")
        _check_inner(x, y, 2, 1, "batched_dot")
        _check_inner(x, y, 0, 0, "batched_dot (batch axis)")
        b = x.type.shape[0] if x.type.shape[0] is not None else y.type.shape[0]
        shape = (b, x.type.shape[1], y.type.shape[2])
        return Apply(self, [x, y], [TensorType(upcast(x.dtype, y.dtype), shape)])

    def infer_shape(self, node, input_shapes):
        sx, sy = input_shapes
        return [(sx[0], sx[1], sy[2])]

    def L_op(self, inputs, outputs, output_grads):
        (x, y), (g,) = inputs, output_grads
        gx = self(g, dimshuffle(y, (0, 2, 1)))
        gy = self(dimshuffle(x, (0, 2, 1)), g)
        return [None if is_discrete(v.dtype) else E.cast(gv, v.dtype)
                for v, gv in ((x, gx), (y, gy))]


_batched_dot = BatchedDot()


def batched_dot(x, y):
    """One dot product per leading index: ``out[i] = dot(x[i], y[i])``.

    ``x`` and ``y`` are 2-d (a batch of vectors) or 3-d (a batch of matrices).
    """
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim not in (2, 3) or y.ndim not in (2, 3):
        raise TypeError(f"batched_dot takes 2-d or 3-d tensors, got {x.type} and {y.type}")
    x3 = dimshuffle(x, (0, "x", 1)) if x.ndim == 2 else x
    y3 = dimshuffle(y, (0, 1, "x")) if y.ndim == 2 else y
    out = _batched_dot(x3, y3)
    keep = [0] + ([1] if x.ndim == 3 else []) + ([2] if y.ndim == 3 else [])
    return dimshuffle(out, keep)


class Gemm(Op):
    """``beta * z + alpha * dot(x, y)`` for matrices (BLAS's GEMM).

    Made by the ``specialize`` rewrite from ``z - lr * dot(x, y)`` and friends;
    with ``inplace=True`` (the ``inplace`` rewrite) it overwrites ``z``'s
    buffer, which turns an SGD update into one BLAS call on the weights.
    """

    __props__ = ("inplace",)

    def __init__(self, inplace=False):
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self):
        return "Gemm{inplace}" if self.inplace else "Gemm{no_inplace}"

    def make_node(self, z, alpha, x, y, beta):
        z, x, y = (as_tensor_variable(v) for v in (z, x, y))
        alpha, beta = as_tensor_variable(alpha), as_tensor_variable(beta)
        if z.ndim != 2 or x.ndim != 2 or y.ndim != 2:
            raise TypeError(f"Gemm takes matrices, got {z.type}, {x.type}, {y.type}")
        if alpha.ndim != 0 or beta.ndim != 0:
            raise TypeError(f"Gemm: alpha and beta must be scalars, got {alpha.type}, {beta.type}")
        _check_inner(x, y, 1, 0, "gemm")
        dtype = upcast(z.dtype, x.dtype, y.dtype)
        if dtype != z.dtype:
            raise TypeError(f"Gemm: the product of {x.type} and {y.type} does not fit {z.type}")
        return Apply(self, [z, E.cast(alpha, dtype), x, y, E.cast(beta, dtype)], [z.type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        z, alpha, x, y, beta = inputs
        (g,) = output_grads
        prod = dot(x, y)
        return [g * beta, (g * prod).sum(), dot(g, y.T) * alpha, dot(x.T, g) * alpha,
                (g * z).sum()]

    @staticmethod
    def check_shapes(z_shape, x_shape, y_shape):
        """Raise ValueError unless ``z + x @ y`` is defined for these run-time shapes."""
        if x_shape[1] != y_shape[0] or z_shape != (x_shape[0], y_shape[1]):
            raise ValueError(f"gemm: shapes {z_shape} + {x_shape} x {y_shape} do not match")
