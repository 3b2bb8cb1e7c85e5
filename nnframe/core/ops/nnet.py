"""Neural-network activations and losses (``T.nnet``), with Theano's names.

Activations are elementwise graphs (``relu``, ``elu``, ``softsign``,
``hard_sigmoid``; ``sigmoid``, ``softplus`` and ``tanh`` come from the
elementwise table).  ``softmax`` and ``log_softmax`` are Ops of their own
with numerically stable kernels and gradients built as graphs, so second
derivatives work.  ``categorical_crossentropy`` follows Theano: class
indices go through the dedicated :class:`CrossentropyCategorical1Hot` Op,
probability targets through ``-sum(t * log(p))``.  The ``*_from_logits``
losses are the stable forms to train with.

>>> import nnframe.tensor as T
>>> x = T.fmatrix('x'); y = T.ivector('y')
>>> loss = T.nnet.categorical_crossentropy_from_logits(x, y).mean()
>>> loss.dtype
'float32'
"""
import numpy as np

from nnframe.core.graph import Apply, Constant
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.grad_ops import disconnected_grad
from nnframe.core.ops.reduce import max as max_
from nnframe.core.ops.reduce import normalize_axes
from nnframe.core.ops.reduce import sum as sum_
from nnframe.core.ops.shape import dimshuffle, shape_i
from nnframe.core.types import TensorType, is_complex, is_discrete, upgrade_to_float

__all__ = ["Softmax", "SoftmaxGrad", "LogSoftmax", "OneHot", "CrossentropyCategorical1Hot",
           "CrossentropySoftmax1Hot", "CrossentropySoftmax1HotDx",
           "CrossentropyCategorical1HotGrad", "relu", "elu", "softsign", "hard_sigmoid",
           "sigmoid", "softplus", "tanh", "softmax", "log_softmax", "logsumexp", "one_hot",
           "to_one_hot", "categorical_crossentropy", "crossentropy_categorical_1hot",
           "binary_crossentropy", "categorical_crossentropy_from_logits",
           "binary_crossentropy_from_logits"]

# Re-exports of the elementwise table, so that ``T.nnet.sigmoid`` works as in Theano.
sigmoid = E.sigmoid
softplus = E.softplus
tanh = E.tanh


def _float_input(x, what):
    """``x`` as a real float tensor: integers are upgraded (as ``exp`` does), complex refused."""
    x = as_tensor_variable(x)
    if is_complex(x.dtype):
        raise TypeError(f"{what} is not defined for complex inputs (got {x.type})")
    if is_discrete(x.dtype):
        x = E.cast(x, upgrade_to_float(x.dtype))
    return x


def _is_int_dtype(dtype):
    return np.dtype(dtype).kind in "iu"


# -- softmax and log-softmax --------------------------------------------------------
class _SoftmaxBase(Op):
    """Shared checks of Softmax and LogSoftmax: ``axis`` is an int or None (all axes)."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = None if axis is None else int(axis)

    def __str__(self):
        return f"{type(self).__name__}{{axis={self.axis}}}"

    def make_node(self, x):
        name = type(self).__name__.lower()
        x = _float_input(x, name)
        if x.ndim == 0:
            raise TypeError(f"{name} needs a tensor of at least 1 dimension, got the scalar "
                            f"{x.type}")
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise np.exceptions.AxisError(self.axis, x.ndim, name)
        return Apply(self, [x], [x.type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]


class Softmax(_SoftmaxBase):
    """``exp(x) / sum(exp(x), axis)``, computed with the maximum subtracted."""

    def L_op(self, inputs, outputs, output_grads):
        (s,), (g,) = outputs, output_grads
        return [SoftmaxGrad(self.axis)(g, s)]


class SoftmaxGrad(Op):
    """The gradient of a softmax: ``s * (g - sum(g * s, axis))`` for output ``s``.

    One Op rather than five elementwise nodes, so that rewrites can recognise
    it (a crossentropy of a softmax becomes ``softmax - one_hot``).
    """

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = None if axis is None else int(axis)

    def make_node(self, g, s):
        g, s = as_tensor_variable(g), as_tensor_variable(s)
        if g.ndim != s.ndim:
            raise TypeError(f"SoftmaxGrad: gradient {g.type} and softmax {s.type} differ in rank")
        return Apply(self, [E.cast(g, s.dtype), s], [s.type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        # out = s*g - s*sum(g*s): linear and symmetric in g; d/ds gives
        # gg*(g - sum(g*s)) - g*sum(gg*s).
        (g, s), (gg,) = inputs, output_grads
        sum_gs = sum_(g * s, axis=self.axis, keepdims=True)
        sum_ggs = sum_(gg * s, axis=self.axis, keepdims=True)
        return [SoftmaxGrad(self.axis)(gg, s), gg * (g - sum_gs) - g * sum_ggs]


class LogSoftmax(_SoftmaxBase):
    """``x - logsumexp(x, axis)``, computed with the maximum subtracted."""

    def L_op(self, inputs, outputs, output_grads):
        (out,), (g,) = outputs, output_grads
        return [g - E.exp(out) * sum_(g, axis=self.axis, keepdims=True)]


def _softmax_axis(x, axis, name):
    if axis is None:
        return None
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} takes one axis (an int) or None (all axes), got {axis!r}")
    axis = int(axis)
    if -x.ndim <= axis < x.ndim:
        return axis % x.ndim
    return axis  # make_node reports the scalar input or the out-of-range axis


def softmax(x, axis=-1):
    """Softmax along ``axis``: ``exp(x) / sum(exp(x), axis, keepdims=True)``.

    Stable for large inputs (the maximum is subtracted before ``exp``).

    Parameters
    ----------
    x : tensor of at least one dimension (integers are upgraded to floats)
    axis : int (default: the last axis), or None for all axes together

    >>> import nnframe.tensor as T
    >>> p = T.nnet.softmax(T.dmatrix('logits'))   # each row sums to 1
    """
    x = _float_input(x, "softmax")
    return Softmax(_softmax_axis(x, axis, "softmax"))(x)


def log_softmax(x, axis=-1):
    """Log of the softmax along ``axis``: ``x - logsumexp(x, axis, keepdims=True)``.

    Finite wherever ``x`` is, unlike ``log(softmax(x))`` which underflows.

    Parameters
    ----------
    x : tensor of at least one dimension (integers are upgraded to floats)
    axis : int (default: the last axis), or None for all axes together

    >>> import nnframe.tensor as T
    >>> logp = T.nnet.log_softmax(T.dmatrix('logits'))
    """
    x = _float_input(x, "log_softmax")
    return LogSoftmax(_softmax_axis(x, axis, "log_softmax"))(x)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x), axis))`` computed stably.

    The maximum along ``axis`` is subtracted before ``exp`` and added back;
    it does not take part in the gradient (the result does not depend on it),
    so the gradient is ``softmax(x)`` along ``axis``.

    Parameters
    ----------
    x : tensor (integers are upgraded to floats)
    axis : None (all axes), an int or a sequence of ints
    keepdims : keep the reduced axes with length 1

    >>> import nnframe.tensor as T
    >>> lse = T.nnet.logsumexp(T.dmatrix('x'), axis=1)
    """
    x = _float_input(x, "logsumexp")
    axes = normalize_axes(axis, x.ndim)
    m = disconnected_grad(max_(x, axis=axes))
    # An infinite maximum (a row of -inf, or a +inf) would turn x - m into NaN.
    m = E.switch(E.isinf(m), E.zeros_like(m), m)
    m_kept = _keep_axes(m, x.ndim, axes)
    total = sum_(E.exp(x - m_kept), axis=axes, keepdims=keepdims)
    return E.log(total) + (m_kept if keepdims else m)


def _keep_axes(reduced, ndim, axes):
    """``reduced`` with the reduced ``axes`` of an ``ndim``-d tensor put back with length 1."""
    kept = iter(range(reduced.ndim))
    return dimshuffle(reduced, ["x" if a in axes else next(kept) for a in range(ndim)])


# -- activations ----------------------------------------------------------------------
def relu(x, alpha=0):
    """Rectified linear unit: ``max(x, 0)``, or leaky ``x if x > 0 else alpha * x``.

    Parameters
    ----------
    x : tensor
    alpha : slope for negative inputs (a number or a tensor); 0 gives the plain ReLU

    >>> import nnframe.tensor as T
    >>> h = T.nnet.relu(T.fmatrix('a'), alpha=0.01)   # leaky ReLU, stays float32
    """
    x = as_tensor_variable(x)
    if isinstance(alpha, (int, float)) and alpha == 0:
        return E.relu(x)
    return E.switch(E.gt(x, 0), x, alpha * x)


def elu(x, alpha=1.0):
    """Exponential linear unit: ``x if x > 0 else alpha * (exp(x) - 1)``.

    Parameters
    ----------
    x : tensor (integers are upgraded to floats)
    alpha : scale of the negative part

    >>> import nnframe.tensor as T
    >>> h = T.nnet.elu(T.fmatrix('a'))
    """
    x = _float_input(x, "elu")
    # expm1 sees only x <= 0: for large x, exp(x) would overflow and the
    # unused branch's gradient would be 0 * inf = NaN.
    return E.switch(E.gt(x, 0), x, alpha * E.expm1(E.minimum(x, 0)))


def softsign(x):
    """Softsign: ``x / (1 + |x|)``, a tanh-like squashing into (-1, 1).

    >>> import nnframe.tensor as T
    >>> h = T.nnet.softsign(T.fmatrix('a'))
    """
    x = _float_input(x, "softsign")
    return x / (1 + E.abs(x))


def hard_sigmoid(x):
    """Theano's piecewise-linear sigmoid: ``clip(0.2 * x + 0.5, 0, 1)``.

    >>> import nnframe.tensor as T
    >>> h = T.nnet.hard_sigmoid(T.fmatrix('a'))
    """
    x = _float_input(x, "hard_sigmoid")
    return E.clip(x * 0.2 + 0.5, 0, 1)


# -- one-hot ---------------------------------------------------------------------------
class OneHot(Op):
    """``(len(y), n)`` matrix of ``dtype`` with a 1 at ``[i, y[i]]`` and 0 elsewhere.

    Indices outside ``[0, n)`` raise IndexError when the function runs.
    """

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, y, n):
        y = as_tensor_variable(y)
        n = as_tensor_variable(n)
        if y.ndim != 1 or not _is_int_dtype(y.dtype):
            raise TypeError(f"one_hot: y must be an integer vector of class indices, got "
                            f"{y.type}")
        if n.ndim != 0 or not _is_int_dtype(n.dtype):
            raise TypeError(f"one_hot: the number of classes must be an integer scalar, got "
                            f"{n.type}")
        n_static = int(n.data) if isinstance(n, Constant) else None
        n = E.cast(n, "int64")
        if n_static is not None and n_static < 0:
            raise ValueError(f"one_hot: the number of classes must be >= 0, got {n_static}")
        return Apply(self, [y, n], [TensorType(self.dtype, (y.type.shape[0], n_static))])

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0], node.inputs[1])]

    def L_op(self, inputs, outputs, output_grads):
        return [None, None]

    @staticmethod
    def check_n_classes(n):
        """Raise ValueError for a negative number of classes ``n`` (an int, at run time)."""
        if n < 0:
            raise ValueError(f"one_hot: the number of classes must be >= 0, got {n}")


def one_hot(y, n, dtype=None):
    """One-hot encoding of the class indices ``y`` (Theano's ``to_one_hot``).

    Parameters
    ----------
    y : integer vector of class indices in ``[0, n)``
    n : number of classes (an int or an integer scalar)
    dtype : dtype of the result (default ``config.floatX``)

    Returns a ``(len(y), n)`` matrix.

    >>> import nnframe.tensor as T
    >>> T.nnet.one_hot(T.ivector('y'), 10).type
    TensorType(float32, shape=(?, 10))
    """
    if dtype is None or dtype == "floatX":
        from nnframe.config import config
        dtype = config.floatX
    return OneHot(dtype)(y, n)


to_one_hot = one_hot


def _picked(mask, x):
    """``x[i, y[i]]`` for each row, where ``mask`` is ``one_hot(y)``; a vector."""
    return sum_(mask * x, axis=1)


def _column(v):
    return dimshuffle(v, [0, "x"])


# -- crossentropy with class indices --------------------------------------------------
def _check_index_targets(coding_dist, true_dist, name):
    if coding_dist.ndim != 2:
        raise TypeError(f"{name}: coding_dist must be a matrix (batch, classes) when true_dist "
                        f"holds class indices, got {coding_dist.type}")
    if true_dist.ndim != 1 or not _is_int_dtype(true_dist.dtype):
        raise TypeError(f"{name}: true_dist must be an integer vector of class indices, got "
                        f"{true_dist.type}")
    rows, n = coding_dist.type.shape[0], true_dist.type.shape[0]
    if rows is not None and n is not None and rows != n:
        raise ValueError(f"{name}: coding_dist has {rows} rows ({coding_dist.type}) but "
                         f"true_dist has {n} class indices ({true_dist.type})")


def check_class_indices(indices, n_classes, what, upper_checked=False):
    """Raise IndexError naming the first of ``indices`` (an int array) outside ``[0, n_classes)``.

    The run-time check of every Op taking class indices; ``what`` names the
    operation.  ``upper_checked``: the caller's own indexing rejects too large
    indices anyway (NumPy's fancy indexing does), so only negative ones, which
    NumPy would wrap, are looked for.

    >>> check_class_indices(np.array([0, 3]), 3, "one_hot")
    Traceback (most recent call last):
    IndexError: one_hot: class index 3 (at position 1) is out of range for 3 classes; valid \
indices are 0..2
    """
    if indices.size == 0 or (indices.min() >= 0 and
                             (upper_checked or indices.max() < n_classes)):
        return
    bad = (indices < 0) | (indices >= n_classes)
    if bad.any():
        pos = int(np.argmax(bad))
        raise IndexError(f"{what}: class index {int(indices[pos])} (at position {pos}) is out of "
                         f"range for {n_classes} classes; valid indices are 0..{n_classes - 1}")


def row_count_error(coding_shape, n_indices, what):
    """The ValueError for a (rows, classes) matrix of ``coding_shape`` whose number of rows
    is not ``n_indices``, the number of class indices."""
    return ValueError(f"{what}: coding_dist has shape {coding_shape} ({coding_shape[0]} rows) "
                      f"but true_dist has {n_indices} class indices")


def check_index_rows(coding_shape, indices, what, upper_checked=False):
    """Both checks of a 1-hot crossentropy's inputs: one index per row, each in range."""
    if indices.shape[0] != coding_shape[0]:
        raise row_count_error(coding_shape, indices.shape[0], what)
    check_class_indices(indices, coding_shape[1], what, upper_checked)


def _gradient_inputs(name, g_y, matrix, true_one_of_n):
    """The checked inputs of a 1-hot crossentropy gradient Op: the incoming
    gradient (a vector, cast to the matrix's dtype), the matrix, the indices."""
    matrix = _float_input(matrix, name)
    true_one_of_n = as_tensor_variable(true_one_of_n)
    _check_index_targets(matrix, true_one_of_n, name)
    g_y = E.cast(as_tensor_variable(g_y), matrix.dtype)
    if g_y.ndim != 1:
        raise TypeError(f"{name}: g_y must be a vector, got {g_y.type}")
    return [g_y, matrix, true_one_of_n]


class CrossentropyCategorical1Hot(Op):
    """``-log(coding_dist[i, true_one_of_n[i]])`` for each row i (Theano's Op).

    Inputs: a float matrix ``coding_dist`` (rows of probabilities) and an
    integer vector of class indices; the output is a vector of the rows'
    losses.  Indices outside ``[0, classes)`` raise IndexError at run time.
    """

    __props__ = ()

    def make_node(self, coding_dist, true_one_of_n):
        coding_dist = _float_input(coding_dist, "categorical_crossentropy")
        true_one_of_n = as_tensor_variable(true_one_of_n)
        _check_index_targets(coding_dist, true_one_of_n, "categorical_crossentropy")
        rows = coding_dist.type.shape[0]
        if rows is None:
            rows = true_one_of_n.type.shape[0]
        return Apply(self, [coding_dist, true_one_of_n],
                     [TensorType(coding_dist.dtype, (rows,))])

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],)]

    def L_op(self, inputs, outputs, output_grads):
        coding_dist, true_one_of_n = inputs
        (g,) = output_grads
        return [CrossentropyCategorical1HotGrad()(g, coding_dist, true_one_of_n), None]


class CrossentropyCategorical1HotGrad(Op):
    """Gradient of :class:`CrossentropyCategorical1Hot` w.r.t. ``coding_dist``.

    A matrix shaped like ``coding_dist``: ``-g_y[i] / coding_dist[i, y[i]]``
    at the picked entries ``[i, y[i]]`` and 0 elsewhere.
    """

    __props__ = ()

    def make_node(self, g_y, coding_dist, true_one_of_n):
        inputs = _gradient_inputs("CrossentropyCategorical1HotGrad", g_y, coding_dist,
                                  true_one_of_n)
        return Apply(self, inputs, [inputs[1].type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        # out[i, y_i] = -g_i / c_i with c_i = coding[i, y_i], zero elsewhere, so
        # d/dg_i = -G[i, y_i] / c_i and d/dc_i = G[i, y_i] * g_i / c_i**2.
        g_y, coding_dist, true_one_of_n = inputs
        (gz,) = output_grads
        mask = OneHot(coding_dist.dtype)(true_one_of_n, shape_i(coding_dist, 1))
        picked_coding = _picked(mask, coding_dist)
        picked_gz = _picked(mask, gz)
        d_g_y = -picked_gz / picked_coding
        d_coding = mask * _column(picked_gz * g_y / E.sqr(picked_coding))
        return [d_g_y, d_coding, None]


class CrossentropySoftmax1Hot(Op):
    """``-log(softmax(logits)[i, y[i]])`` per row, computed from the logits.

    What ``categorical_crossentropy(softmax(z), y)`` becomes after the
    stabilising rewrite (Theano's ``crossentropy_softmax_1hot``): finite for
    any finite logits.  Outputs the losses and the softmax itself, which the
    gradient ``(softmax(z) - one_hot(y)) * g`` reuses.
    """

    __props__ = ()

    def make_node(self, logits, true_one_of_n):
        logits = _float_input(logits, "categorical_crossentropy_from_logits")
        true_one_of_n = as_tensor_variable(true_one_of_n)
        _check_index_targets(logits, true_one_of_n, "categorical_crossentropy_from_logits")
        rows = logits.type.shape[0]
        if rows is None:
            rows = true_one_of_n.type.shape[0]
        return Apply(self, [logits, true_one_of_n],
                     [TensorType(logits.dtype, (rows,)), logits.type])

    def infer_shape(self, node, input_shapes):
        return [(input_shapes[0][0],), input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        logits, y = inputs
        g_loss, g_softmax = output_grads
        grads = []
        if g_loss is not None:
            grads.append(CrossentropySoftmax1HotDx()(g_loss, outputs[1], y))
        if g_softmax is not None:
            grads.append(SoftmaxGrad(1)(g_softmax, outputs[1]))
        total = grads[0]
        for extra in grads[1:]:
            total = total + extra
        return [total, None]


class CrossentropySoftmax1HotDx(Op):
    """Gradient of :class:`CrossentropySoftmax1Hot`: ``(sm - one_hot(y)) * g[:, None]``
    where ``sm`` is the softmax of the logits."""

    __props__ = ()

    def make_node(self, g_y, sm, true_one_of_n):
        inputs = _gradient_inputs("CrossentropySoftmax1HotDx", g_y, sm, true_one_of_n)
        return Apply(self, inputs, [inputs[1].type])

    def infer_shape(self, node, input_shapes):
        return [input_shapes[1]]

    def L_op(self, inputs, outputs, output_grads):
        g_y, sm, y = inputs
        (gz,) = output_grads
        mask = OneHot(sm.dtype)(y, shape_i(sm, 1))
        d_g = sum_(gz * sm, axis=1) - _picked(mask, gz)
        return [d_g, gz * _column(g_y), None]


def crossentropy_categorical_1hot(coding_dist, true_one_of_n):
    """``-log(coding_dist[i, true_one_of_n[i]])`` per row (Theano's Op as a function)."""
    return CrossentropyCategorical1Hot()(coding_dist, true_one_of_n)


# -- crossentropy losses ----------------------------------------------------------------
def _target_kind(coding_dist, true_dist, name):
    """'index' (class-index vector) or 'dist' (probabilities), or a clear TypeError."""
    if coding_dist.ndim == 0:
        raise TypeError(f"{name}: the predictions must be at least a vector, got "
                        f"{coding_dist.type}")
    class_vector = true_dist.ndim == 1 and _is_int_dtype(true_dist.dtype)
    if class_vector or true_dist.ndim == coding_dist.ndim - 1:
        _check_index_targets(coding_dist, true_dist, name)
        return "index"
    if true_dist.ndim == coding_dist.ndim:
        if is_discrete(true_dist.dtype):
            raise TypeError(f"{name}: true_dist of type {true_dist.type} has the rank of the "
                            "predictions but is integer; pass class indices as an integer "
                            "vector, or probabilities as floats (T.cast(t, 'floatX'))")
        return "dist"
    raise TypeError(f"{name}: rank mismatch between the predictions ({coding_dist.type}) and "
                    f"true_dist ({true_dist.type}); true_dist must be an integer vector of "
                    "class indices or probabilities of the predictions' shape")


def categorical_crossentropy(coding_dist, true_dist):
    """Categorical crossentropy between predicted and true distributions (Theano).

    - ``true_dist`` an integer vector of class indices: ``-log(coding_dist[i,
      true_dist[i]])`` per row, with :class:`CrossentropyCategorical1Hot`.
    - ``true_dist`` probabilities of the shape of ``coding_dist``:
      ``-sum(true_dist * log(coding_dist), axis=-1)``.

    Parameters
    ----------
    coding_dist : float matrix of predicted probabilities (e.g. a softmax output)
    true_dist : integer class vector, or float matrix of target probabilities

    Returns a vector: the loss of each row.  Prefer
    :func:`categorical_crossentropy_from_logits` for training: it never
    takes the log of an underflowed probability.

    >>> import nnframe.tensor as T
    >>> p = T.nnet.softmax(T.fmatrix('logits'))
    >>> loss = T.nnet.categorical_crossentropy(p, T.ivector('y')).mean()
    """
    coding_dist = _float_input(coding_dist, "categorical_crossentropy")
    true_dist = as_tensor_variable(true_dist)
    if _target_kind(coding_dist, true_dist, "categorical_crossentropy") == "index":
        return CrossentropyCategorical1Hot()(coding_dist, true_dist)
    return -sum_(true_dist * E.log(coding_dist), axis=-1)


def categorical_crossentropy_from_logits(logits, targets):
    """Categorical crossentropy of ``softmax(logits)``, computed from ``log_softmax``.

    Finite and accurate for any finite logits (e.g. +-1000), where
    ``categorical_crossentropy(softmax(logits), ...)`` gives inf.

    Parameters
    ----------
    logits : float matrix (batch, classes) of unnormalised scores
    targets : integer vector of class indices, or float matrix of probabilities

    Returns a vector: the loss of each row.

    >>> import nnframe.tensor as T
    >>> loss = T.nnet.categorical_crossentropy_from_logits(
    ...     T.fmatrix('logits'), T.ivector('y')).mean()
    """
    name = "categorical_crossentropy_from_logits"
    logits = _float_input(logits, name)
    targets = as_tensor_variable(targets)
    kind = _target_kind(logits, targets, name)
    if kind == "index":
        return CrossentropySoftmax1Hot()(logits, targets)[0]
    return -sum_(targets * log_softmax(logits, axis=-1), axis=-1)


def _binary_target(output, target):
    """Integer or boolean labels take the predictions' float dtype."""
    target = as_tensor_variable(target)
    if is_discrete(target.dtype):
        target = E.cast(target, output.dtype)
    return target


def binary_crossentropy(output, target):
    """Binary crossentropy: ``-(t * log(o) + (1 - t) * log(1 - o))`` elementwise.

    Parameters
    ----------
    output : float tensor of predicted probabilities in (0, 1)
    target : tensor of targets in [0, 1] (labels may be integers)

    Prefer :func:`binary_crossentropy_from_logits` for training.

    >>> import nnframe.tensor as T
    >>> o = T.nnet.sigmoid(T.fvector('a'))
    >>> loss = T.nnet.binary_crossentropy(o, T.fvector('t')).mean()
    """
    output = _float_input(output, "binary_crossentropy")
    target = _binary_target(output, target)
    return -(target * E.log(output) + (1 - target) * E.log(1 - output))


def binary_crossentropy_from_logits(logits, target):
    """Binary crossentropy of ``sigmoid(logits)``: ``softplus(x) - t * x``, stably.

    Finite and accurate for any finite logits (e.g. +-1000); its gradient is
    ``sigmoid(x) - t``.

    Parameters
    ----------
    logits : float tensor of unnormalised scores
    target : tensor of targets in [0, 1] (labels may be integers)

    >>> import nnframe.tensor as T
    >>> loss = T.nnet.binary_crossentropy_from_logits(T.fvector('a'), T.fvector('t'))
    """
    logits = _float_input(logits, "binary_crossentropy_from_logits")
    target = _binary_target(logits, target)
    return E.softplus(logits) - target * logits
