"""Lasagne-style layers on nnframe's graph: ``from nnframe.layers import DenseLayer``.

>>> import nnframe.tensor as T
>>> from nnframe import function, layers
>>> l_in = layers.InputLayer((None, 4))
>>> l_out = layers.DenseLayer(l_in, 2, nonlinearity=None, name='out')
>>> f = function([l_in.input_var], layers.get_output(l_out))
"""
from nnframe.layers.base import Layer, LayerError, MergeLayer
from nnframe.layers.input import InputLayer
from nnframe.layers.dense import DenseLayer, NonlinearityLayer
from nnframe.layers.helper import (count_params, get_all_layers, get_all_param_values,
                                   get_all_params, get_output, get_output_shape,
                                   set_all_param_values, summary)
from nnframe.layers.noise import DropoutLayer, GaussianNoiseLayer, dropout
from nnframe.layers.conv import Conv2DLayer
from nnframe.layers.pool import GlobalPoolLayer, MaxPool2DLayer, Pool2DLayer
from nnframe.layers.normalization import BatchNormLayer, batch_norm
from nnframe.layers.shape import DimshuffleLayer, FlattenLayer, ReshapeLayer
from nnframe.layers.merge import ConcatLayer, ElemwiseSumLayer
from nnframe.layers.embedding import EmbeddingLayer
from nnframe.layers.binary import BinaryCodeLayer
