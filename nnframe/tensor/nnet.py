"""``T.nnet``: neural-network ops (activations, softmax, crossentropies, conv, pooling).

``softmax`` and ``conv2d`` here take Theano 1.0's parameter lists (checked by
tests/tensor/test_theano_signatures.py); ``xlogx``/``xlogy0`` are theano.tensor.xlogx's.
"""
import warnings as _warnings

from nnframe.core.ops import conv as _conv
from nnframe.core.ops import nnet as _nnet
from nnframe.core.ops.conv import *  # noqa: F401,F403
from nnframe.core.ops.nnet import *  # noqa: F401,F403
from nnframe.core.ops.pool import *  # noqa: F401,F403
from nnframe.tensor.basic import xlogx, xlogy0  # noqa: F401  (theano.tensor.xlogx)


def softmax(c, axis=-1):
    """Softmax of ``c`` along ``axis`` (the last by default), Theano's ``softmax(c)``;
    see :func:`nnframe.core.ops.nnet.softmax`."""
    return _nnet.softmax(c, axis=axis)


def conv2d(input, filters, input_shape=None, filter_shape=None, border_mode="valid",
           subsample=(1, 1), filter_flip=True, image_shape=None, filter_dilation=(1, 1),
           num_groups=1, unshared=False, **kwargs):
    """Theano 1.0's ``conv2d`` parameters; see :func:`nnframe.core.ops.conv.conv2d`.

    ``image_shape`` is Theano's deprecated name of ``input_shape``.  Grouped
    (``num_groups > 1``) and unshared convolutions are not implemented.  Other keywords
    are ignored with a warning, as in Theano.
    """
    if image_shape is not None:
        if input_shape is not None:
            raise ValueError("conv2d: give input_shape or image_shape (its deprecated "
                             "name), not both")
        _warnings.warn("conv2d: image_shape is deprecated, use input_shape",
                       DeprecationWarning, stacklevel=2)
        input_shape = image_shape
    if num_groups != 1:
        raise NotImplementedError(f"conv2d: num_groups={num_groups} (grouped convolution) is "
                                  "not implemented; only num_groups=1")
    if unshared:
        raise NotImplementedError("conv2d: unshared=True (locally connected) is not "
                                  "implemented")
    if kwargs:
        if "imshp_logical" in kwargs or "kshp_logical" in kwargs:
            raise ValueError("conv2d: imshp_logical and kshp_logical are not supported")
        _warnings.warn(f"conv2d: {sorted(kwargs)} are deprecated and ignored", stacklevel=2)
    return _conv.conv2d(input, filters, input_shape=input_shape, filter_shape=filter_shape,
                        border_mode=border_mode, subsample=subsample, filter_flip=filter_flip,
                        filter_dilation=filter_dilation)
