"""InputLayer: where data enters a network."""
import nnframe.tensor as T
from nnframe.config import config
from nnframe.core.graph import Variable
from nnframe.layers.base import Layer, LayerError

__all__ = ["InputLayer"]


class InputLayer(Layer):
    """The input of a network: a shape (``None`` = any length) and a variable.

    Parameters
    ----------
    shape : tuple of int or None
    input_var : symbolic variable, optional
        Created as a ``config.floatX`` tensor of ``len(shape)`` dimensions if not given.
    name : str, optional

    >>> l_in = InputLayer((None, 1, 28, 28))
    >>> l_in.input_var.ndim
    4
    """

    default_name = "input"

    def __init__(self, shape, input_var=None, name=None):
        super().__init__(tuple(shape), name)
        if any(s is not None and s <= 0 for s in self.input_shape):
            raise self.fail(f"shape {self.input_shape} has a non-positive length")
        if input_var is None:
            input_var = T.tensor(config.floatX, shape=(None,) * len(self.input_shape),
                                 name=self.name)
        elif not isinstance(input_var, Variable):
            raise LayerError(f"InputLayer: input_var must be a symbolic variable, got "
                             f"{type(input_var).__name__}")
        elif input_var.ndim != len(self.input_shape):
            raise self.fail(f"input_var {input_var!r} has {input_var.ndim} dimensions but the "
                            f"shape {self.input_shape} has {len(self.input_shape)}")
        self.input_var = input_var

    @property
    def output_shape(self):
        return self.input_shape
