"""``from theano.ifelse import ifelse`` (nnframe's lazy ``ifelse``)."""
from nnframe.ifelse import IfElse, ifelse

__all__ = ["ifelse", "IfElse"]
