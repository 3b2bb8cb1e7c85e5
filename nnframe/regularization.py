"""Weight penalties (Lasagne's ``lasagne.regularization``).

A penalty is a function of one tensor that returns a scalar expression
(:func:`l1`, :func:`l2`, or your own).  The helpers apply it to a list of
tensors, to the parameters of some layers, or to every parameter of a
network, selected by tags: by default the ``regularizable`` ones, which are
the weights (``W``) and not the biases.

>>> import nnframe.tensor as T
>>> from nnframe.layers import InputLayer, DenseLayer, get_output
>>> from nnframe import losses, regularization
>>> l_in = InputLayer((None, 4))
>>> l_out = DenseLayer(l_in, 3, nonlinearity=None, name='out')
>>> y = T.dmatrix('y')
>>> loss = losses.squared_error(get_output(l_out), y).mean()
>>> loss = loss + 1e-4 * regularization.regularize_network_params(l_out, regularization.l2)
"""
import operator
from functools import reduce

import numpy as np

import nnframe.tensor as T
from nnframe.config import config
from nnframe.core.graph import Variable
from nnframe.layers.base import Layer
from nnframe.layers.helper import get_all_params

__all__ = ["l1", "l2", "apply_penalty", "regularize_layer_params",
           "regularize_layer_params_weighted", "regularize_network_params"]


def l1(x):
    """The L1 penalty: ``sum(|x|)`` over all elements of ``x``.

    Parameters
    ----------
    x : tensor (a shared parameter, an expression or an array)

    Returns a scalar expression.

    >>> import nnframe.tensor as T
    >>> penalty = l1(T.dmatrix('W'))
    """
    return T.sum(T.abs(T.as_tensor_variable(x)))


def l2(x):
    """The squared L2 penalty: ``sum(x ** 2)`` over all elements of ``x``.

    As in Lasagne there is no factor 1/2 and no square root.

    Parameters
    ----------
    x : tensor (a shared parameter, an expression or an array)

    Returns a scalar expression.

    >>> import nnframe.tensor as T
    >>> penalty = l2(T.dmatrix('W'))
    """
    return T.sum(T.sqr(T.as_tensor_variable(x)))


def _is_single_tensor(obj):
    return isinstance(obj, (Variable, np.ndarray, np.generic, int, float))


def apply_penalty(tensor_or_tensors, penalty, **kwargs):
    """``penalty`` applied to one tensor, or summed over a list of tensors.

    Parameters
    ----------
    tensor_or_tensors : a tensor, or an iterable of tensors
    penalty : callable ``penalty(x, **kwargs) -> scalar expression`` (e.g. :func:`l2`)
    **kwargs : passed on to ``penalty``

    Returns a scalar expression: ``sum(penalty(x) for x in tensors)``; an
    empty list gives the constant 0 (of ``config.floatX``).

    >>> import nnframe.tensor as T
    >>> W1, W2 = T.dmatrix('W1'), T.dmatrix('W2')
    >>> penalty = apply_penalty([W1, W2], l2)      # l2(W1) + l2(W2)
    """
    if not callable(penalty):
        raise TypeError(f"apply_penalty: penalty must be a callable such as "
                        f"nnframe.regularization.l2, got {penalty!r}")
    if _is_single_tensor(tensor_or_tensors):
        return penalty(tensor_or_tensors, **kwargs)
    terms = [penalty(x, **kwargs) for x in tensor_or_tensors]
    if not terms:
        return T.constant(np.asarray(0, dtype=config.floatX))
    return reduce(operator.add, terms)


def _layers_of(layer_or_layers, name):
    if isinstance(layer_or_layers, Layer):
        return [layer_or_layers]
    layers = list(layer_or_layers) if isinstance(layer_or_layers, (list, tuple)) else [
        layer_or_layers]
    for layer in layers:
        if not isinstance(layer, Layer):
            raise TypeError(f"{name}: expected a Layer or a list of Layers, got {layer!r}")
    return layers


def regularize_layer_params(layer, penalty, tags={"regularizable": True}, **kwargs):  # noqa: B006
    """``penalty`` summed over the parameters of ``layer`` itself (not its inputs).

    Parameters
    ----------
    layer : a Layer, or a list of Layers
    penalty : callable, e.g. :func:`l1` or :func:`l2`
    tags : dict of tags the parameters must match (default: the
        regularizable ones, i.e. weights but not biases)
    **kwargs : passed on to ``penalty``

    Returns a scalar expression.

    >>> from nnframe.layers import InputLayer, DenseLayer
    >>> l_hid = DenseLayer(InputLayer((None, 4)), 8, name='hid')
    >>> penalty = regularize_layer_params(l_hid, l2)       # l2(hid/W)
    """
    params = [p for layer in _layers_of(layer, "regularize_layer_params")
              for p in layer.get_params(**tags)]
    return apply_penalty(params, penalty, **kwargs)


def regularize_layer_params_weighted(layers, penalty, tags={"regularizable": True},  # noqa: B006
                                     **kwargs):
    """``sum(coefficient * penalty(params of layer))`` over a dict of layers.

    Parameters
    ----------
    layers : dict mapping Layers to their coefficients (numbers or scalars)
    penalty : callable, e.g. :func:`l1` or :func:`l2`
    tags : dict of tags the parameters must match (default: regularizable)
    **kwargs : passed on to ``penalty``

    Returns a scalar expression.

    >>> from nnframe.layers import InputLayer, DenseLayer
    >>> l1_ = DenseLayer(InputLayer((None, 4)), 8, name='h1')
    >>> l2_ = DenseLayer(l1_, 2, name='h2')
    >>> penalty = regularize_layer_params_weighted({l1_: 1e-4, l2_: 1e-3}, l2)
    """
    if not hasattr(layers, "items"):
        raise TypeError("regularize_layer_params_weighted: layers must be a dict "
                        f"{{layer: coefficient}}, got {type(layers).__name__}")
    terms = [coefficient * regularize_layer_params(layer, penalty, tags, **kwargs)
             for layer, coefficient in layers.items()]
    if not terms:
        return T.constant(np.asarray(0, dtype=config.floatX))
    return reduce(operator.add, terms)


def regularize_network_params(layer, penalty, tags={"regularizable": True}, **kwargs):  # noqa: B006
    """``penalty`` summed over the parameters of every layer the network uses.

    Parameters
    ----------
    layer : the output Layer (or a list of output Layers) of the network
    penalty : callable, e.g. :func:`l1` or :func:`l2`
    tags : dict of tags the parameters must match (default: regularizable)
    **kwargs : passed on to ``penalty``

    Returns a scalar expression.  Shared parameters are counted once.

    >>> from nnframe.layers import InputLayer, DenseLayer
    >>> l_out = DenseLayer(DenseLayer(InputLayer((None, 4)), 8), 2)
    >>> penalty = regularize_network_params(l_out, l2)   # over both W, no b
    """
    _layers_of(layer, "regularize_network_params")
    return apply_penalty(get_all_params(layer, **tags), penalty, **kwargs)
