"""EmbeddingLayer: integer indices to learned vectors (Lasagne's ``EmbeddingLayer``)."""
import numpy as np

from nnframe import init
from nnframe.core.types import is_discrete
from nnframe.layers.base import Layer

__all__ = ["EmbeddingLayer"]


class EmbeddingLayer(Layer):
    """Looks up a row of ``W`` for every integer of the input: ``W[input]``.

    An input of shape ``s`` gives an output of shape ``s + (output_size,)``.
    Only the rows that were looked up get a gradient.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
        Its output holds integers in ``[0, input_size)`` (e.g. an InputLayer
        with ``input_var=T.imatrix()``).
    input_size : int
        Number of distinct indices (the vocabulary size).
    output_size : int
        Length of each embedding vector.
    W : initialiser, array or shared variable of shape (input_size, output_size)
    name : str, optional

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> from nnframe.layers import InputLayer
    >>> l_in = InputLayer((None, 20), input_var=T.imatrix('words'))
    >>> l_emb = EmbeddingLayer(l_in, input_size=1000, output_size=50, name='emb')
    >>> l_emb.W.name, l_emb.output_shape
    ('emb/W', (None, 20, 50))
    """

    default_name = "embedding"

    def __init__(self, incoming, input_size, output_size, W=init.Normal(), name=None):
        super().__init__(incoming, name)
        for what, value in (("input_size", input_size), ("output_size", output_size)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
                raise self.fail(f"{what} must be a positive integer, got {value!r}")
        self.input_size, self.output_size = int(input_size), int(output_size)
        self.W = self.add_param(W, (self.input_size, self.output_size), "W")

    def get_output_shape_for(self, input_shape):
        return tuple(input_shape) + (self.output_size,)

    def get_output_for(self, input, **kwargs):
        if not is_discrete(input.dtype) or input.dtype == "bool":
            raise self.fail(f"needs integer indices, got {input.type}; use an integer input "
                            "variable, e.g. InputLayer(shape, input_var=T.imatrix())")
        return self.W[input]
