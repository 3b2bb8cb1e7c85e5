"""Theano's ``theano.scan_module`` spelling: ``scan``, ``until`` and the folds.

>>> from nnframe.scan_module import scan, until
"""
from nnframe.tensor.scan import ScanError, foldl, foldr, map, reduce, scan, until

__all__ = ["scan", "until", "map", "reduce", "foldl", "foldr", "ScanError"]
