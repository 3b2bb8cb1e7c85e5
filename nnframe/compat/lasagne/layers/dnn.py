"""``lasagne.layers.dnn``: the cuDNN layers' names for nnframe's plain layers.

nnframe has no cuDNN-specific layers; these names are the ordinary layers,
which run on every backend (``Conv2DDNNLayer`` is ``Conv2DLayer`` ...).
"""
from nnframe.layers import BatchNormLayer, Conv2DLayer, MaxPool2DLayer, Pool2DLayer, batch_norm

__all__ = ["Conv2DDNNLayer", "MaxPool2DDNNLayer", "Pool2DDNNLayer", "BatchNormDNNLayer",
           "batch_norm_dnn"]

Conv2DDNNLayer = Conv2DLayer
MaxPool2DDNNLayer = MaxPool2DLayer
Pool2DDNNLayer = Pool2DLayer
BatchNormDNNLayer = BatchNormLayer
batch_norm_dnn = batch_norm
