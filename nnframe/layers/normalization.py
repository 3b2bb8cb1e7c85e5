"""Batch normalization (Lasagne's ``BatchNormLayer`` and ``batch_norm``) and local
response normalization (``LocalResponseNormalization2DLayer``).

How the running averages are updated
------------------------------------
As in Lasagne, the running statistics (the parameters ``mean`` and
``inv_std``, tagged ``trainable=False, regularizable=False``) are updated by
any function compiled from a *training* output, without listing them in
``updates``: the training output of the layer uses *aliases* of them (new
shared variables on the same storage, the same ``container``) whose
``default_update`` is the new running average, and ``0 * alias`` is added to
the batch statistics so that the aliases are part of the graph.  So::

    train = function([x, y], loss, updates=adam(loss, params))   # updates the averages
    predict = function([x], get_output(net, deterministic=True))  # only reads them

Explicit ``updates`` given to ``function`` for the same variables win, and
``batch_norm_update_averages=False`` builds a training output that leaves
them alone.  A function that uses two training outputs of the same layer
(say, the layer applied to two inputs) writes one of the two new averages.
"""
import numpy as np

import nnframe.tensor as T
from nnframe import init, nonlinearities
from nnframe.core.shared import SharedVariable
from nnframe.layers.base import Layer
from nnframe.layers.dense import NonlinearityLayer

__all__ = ["LocalResponseNormalization2DLayer", "BatchNormLayer", "batch_norm"]


def storage_alias(variable):
    """A new shared variable on the storage of ``variable`` (same ``container``).

    ``SharedVariable.clone()`` returns the variable itself, so this is how a
    graph gets a second handle on the same value, with its own
    ``default_update``.  Setting either one's value sets both.

    >>> import numpy as np
    >>> from nnframe import shared
    >>> a = shared(np.zeros(2), name='a')
    >>> b = storage_alias(a)
    >>> a.set_value(np.ones(2)); b.get_value()
    array([1., 1.])
    """
    alias = SharedVariable(variable.type, variable.container[0], name=variable.name)
    alias.container = variable.container
    return alias


class BatchNormLayer(Layer):
    """Batch normalization (Ioffe & Szegedy 2015).

    Computes ``(input - mean) * inv_std * gamma + beta`` where ``mean`` and
    ``inv_std = 1 / sqrt(var + epsilon)`` are taken over ``axes``:

    - in training, from the batch (``var`` is the biased variance), and the
      running averages are updated as ``avg = (1 - alpha) * avg + alpha *
      batch_stat`` for ``mean`` and for ``inv_std`` (see the module
      docstring for how the update happens);
    - with ``deterministic=True``, the running averages are used and left
      unchanged.

    ``batch_norm_use_averages`` and ``batch_norm_update_averages`` (keywords
    of ``get_output``) override these two choices, as in Lasagne.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    axes : 'auto', int or tuple of int
        The axes to normalize over.  'auto': all but the second, i.e. over
        the batch for dense layers and over batch and positions for
        convolutional ones.  The lengths of the other axes must be known.
    epsilon : float
        Added to the variance before the square root.
    alpha : float
        Weight of the new batch statistics in the running averages.
    beta, gamma : initialiser, array, shared variable, or None
        Shift (default 0, not regularizable) and scale (default 1); None
        leaves them out.
    mean, inv_std : initialiser, array or shared variable
        Initial running averages (not trainable).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer, DenseLayer
    >>> l_hid = DenseLayer(InputLayer((None, 10)), 20, nonlinearity=None, b=None)
    >>> l_bn = BatchNormLayer(l_hid, name='bn1')
    >>> [p.name for p in l_bn.get_params(trainable=True)]
    ['bn1/beta', 'bn1/gamma']
    """

    default_name = "batchnorm"

    def __init__(self, incoming, axes="auto", epsilon=1e-4, alpha=0.1,
                 beta=init.Constant(0), gamma=init.Constant(1), mean=init.Constant(0),
                 inv_std=init.Constant(1), name=None):
        super().__init__(incoming, name)
        self.axes = self._check_axes(axes)
        self.epsilon = float(epsilon)
        self.alpha = float(alpha)
        shape = [n for axis, n in enumerate(self.input_shape) if axis not in self.axes]
        if any(n is None for n in shape):
            raise self.fail(f"the input shape {self.input_shape} has unknown lengths on axes "
                            f"that are not normalized (axes={self.axes}); give them in the "
                            "InputLayer shape")
        self.beta = None if beta is None else self.add_param(beta, shape, "beta",
                                                              regularizable=False)
        self.gamma = None if gamma is None else self.add_param(gamma, shape, "gamma")
        self.mean = self.add_param(mean, shape, "mean", trainable=False, regularizable=False)
        self.inv_std = self.add_param(inv_std, shape, "inv_std", trainable=False,
                                      regularizable=False)

    def _check_axes(self, axes):
        ndim = len(self.input_shape)
        if axes == "auto":
            axes = (0,) + tuple(range(2, ndim))
        elif isinstance(axes, (int, np.integer)):
            axes = (axes,)
        if not all(isinstance(a, (int, np.integer)) and -ndim <= a < ndim for a in axes):
            raise self.fail(f"axes {axes!r} must be 'auto' or axes of the input of shape "
                            f"{self.input_shape}")
        return tuple(sorted({int(a) % ndim for a in axes}))

    def get_output_for(self, input, deterministic=False, batch_norm_use_averages=None,
                       batch_norm_update_averages=None, **kwargs):
        use_averages = deterministic if batch_norm_use_averages is None \
            else batch_norm_use_averages
        update_averages = (not deterministic) if batch_norm_update_averages is None \
            else batch_norm_update_averages
        if use_averages:
            mean, inv_std = self.mean, self.inv_std
        if not use_averages or update_averages:
            batch_mean = T.mean(input, axis=self.axes)
            batch_inv_std = T.inv(T.sqrt(T.var(input, axis=self.axes) + self.epsilon))
        if not use_averages:
            mean, inv_std = batch_mean, batch_inv_std
        if update_averages:
            mean = mean + 0 * self._updating_alias(self.mean, batch_mean)
            inv_std = inv_std + 0 * self._updating_alias(self.inv_std, batch_inv_std)
        # Parameters have the non-normalized axes, in order; broadcast them.
        kept = iter(range(input.ndim - len(self.axes)))
        pattern = ["x" if axis in self.axes else next(kept) for axis in range(input.ndim)]
        scale = T.dimshuffle(inv_std, pattern)
        if self.gamma is not None:
            scale = scale * T.dimshuffle(self.gamma, pattern)
        normalized = (input - T.dimshuffle(mean, pattern)) * scale
        if self.beta is not None:
            normalized = normalized + T.dimshuffle(self.beta, pattern)
        return normalized

    def _updating_alias(self, running, batch_stat):
        """An alias of ``running`` whose default update is the new running average."""
        alias = storage_alias(running)
        new_value = (1 - self.alpha) * alias + self.alpha * batch_stat
        if new_value.dtype != alias.dtype:
            new_value = T.cast(new_value, alias.dtype)
        alias.default_update = new_value
        return alias


def batch_norm(layer, **kwargs):
    """Batch-normalize the output of ``layer`` before its nonlinearity (Lasagne's
    ``batch_norm``).

    Removes the bias of ``layer`` (``beta`` takes its role) and its
    nonlinearity, stacks a :class:`BatchNormLayer` on it (named
    ``<layer>_bn`` unless ``name=`` is given), then a
    :class:`NonlinearityLayer` with the removed nonlinearity
    (``<bn name>_nonlin``) unless it was linear.  Keyword arguments go to
    the BatchNormLayer.

    Examples
    --------
    >>> from nnframe.layers import InputLayer, DenseLayer
    >>> l = batch_norm(DenseLayer(InputLayer((None, 10)), 20, name='enc1'))
    >>> l.name, l.input_layer.name, l.input_layer.input_layer.b is None
    ('enc1_bn_nonlin', 'enc1_bn', True)
    """
    nonlinearity = getattr(layer, "nonlinearity", None)
    if nonlinearity is not None:
        layer.nonlinearity = nonlinearities.identity
    if getattr(layer, "b", None) is not None:
        del layer.params[layer.b]
        layer.b = None
    bn_name = kwargs.pop("name", None) or f"{layer.name}_bn"
    layer = BatchNormLayer(layer, name=bn_name, **kwargs)
    if nonlinearity is not None and nonlinearity is not nonlinearities.identity:
        layer = NonlinearityLayer(layer, nonlinearity, name=f"{bn_name}_nonlin")
    return layer


class LocalResponseNormalization2DLayer(Layer):
    """Cross-channel local response normalization (Krizhevsky et al. 2012), as Lasagne:

    ``output[b, c] = input[b, c] / (k + alpha * sum_{c'} input[b, c']**2) ** beta``

    where ``c'`` runs over the ``n`` channels centred on ``c`` (those past
    either end count as zeros).  Note that ``alpha`` is not divided by ``n``.

    Parameters
    ----------
    incoming : a Layer or a shape tuple (4-d: batch, channels, rows, cols)
    alpha, k, beta : float
    n : int
        The number of channels summed over; must be odd.
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_norm = LocalResponseNormalization2DLayer(InputLayer((None, 96, 55, 55)), n=5)
    >>> l_norm.output_shape
    (None, 96, 55, 55)
    """

    default_name = "lrn"

    def __init__(self, incoming, alpha=1e-4, k: float = 2, beta=0.75, n=5, name=None):
        super().__init__(incoming, name)
        if len(self.input_shape) != 4:
            source = f" from {self.input_layer.describe()}" if self.input_layer else ""
            raise self.fail(f"needs a 4-d input (batch, channels, rows, cols), got the shape "
                            f"{self.input_shape}{source}")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1 or n % 2 == 0:
            raise self.fail(f"n must be an odd positive int (the channels summed over), "
                            f"got {n!r}")
        for what, value in (("alpha", alpha), ("k", k), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                                 np.floating)):
                raise self.fail(f"{what} must be a number, got {value!r}")
        self.alpha, self.k, self.beta, self.n = alpha, k, beta, int(n)

    def get_output_for(self, input, **kwargs):
        half = self.n // 2
        b, ch, rows, cols = [T.shape_i(input, axis) for axis in range(4)]
        squares = T.sqr(input)
        if half:
            zeros = T.alloc(np.asarray(0, dtype=input.dtype), b, half, rows, cols)
            squares = T.concatenate([zeros, squares, zeros], axis=1)
        total = None
        for i in range(self.n):
            window = squares[:, i:i + ch, :, :]
            total = window if total is None else total + window
        scale = (self.k + self.alpha * total) ** self.beta
        return input / scale
