"""Layers that merge several inputs: ConcatLayer and ElemwiseSumLayer
(Lasagne's ``lasagne.layers.merge``).

Shapes are checked when the layer is built; a mismatch names the two
incoming layers that disagree and their shapes.

>>> from nnframe.layers import InputLayer
>>> a, b = InputLayer((None, 3), name='a'), InputLayer((None, 4), name='b')
>>> ConcatLayer([a, b]).output_shape
(None, 7)
"""
import numpy as np

import nnframe.tensor as T
from nnframe.layers.base import MergeLayer

__all__ = ["ConcatLayer", "concat", "ElemwiseSumLayer"]


class _CheckedMerge(MergeLayer):
    """Merging with shape checks: lengths must agree where both are known."""

    def _check_ndim(self, input_shapes):
        ndims = {len(s) for s in input_shapes}
        if len(ndims) > 1:
            first = input_shapes[0]
            k = next(k for k, s in enumerate(input_shapes) if len(s) != len(first))
            raise self.fail(f"the inputs have different numbers of axes: "
                            f"{self._describe(0, input_shapes)} and "
                            f"{self._describe(k, input_shapes)}")

    def _merge_axis(self, input_shapes, axis):
        """The common length of ``axis`` (None if unknown everywhere), or an error."""
        known = [(k, s[axis]) for k, s in enumerate(input_shapes) if s[axis] is not None]
        for k, n in known[1:]:
            if n != known[0][1]:
                raise self.fail(f"the input shapes differ on axis {axis}: "
                                f"{self._describe(known[0][0], input_shapes)} and "
                                f"{self._describe(k, input_shapes)}")
        return known[0][1] if known else None

    def _describe(self, k, input_shapes):
        """``InputLayer 'a' with shape (None, 3)`` for input ``k``."""
        layer = self._input_layers[k] if k < len(self._input_layers) else None
        who = layer.describe() if layer is not None else f"input {k}"
        return f"{who} with shape {tuple(input_shapes[k])}"


class ConcatLayer(_CheckedMerge):
    """Concatenates the inputs along ``axis``.

    All other axes must have the same length (an unknown length matches
    any); the output length along ``axis`` is the sum (None if one is
    unknown).

    Parameters
    ----------
    incomings : list of Layers or shape tuples
    axis : int
        May be negative (counted from the end).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> a, b = InputLayer((None, 8, 5, 5)), InputLayer((None, 16, 5, 5))
    >>> ConcatLayer([a, b], axis=1).output_shape
    (None, 24, 5, 5)
    """

    default_name = "concat"

    def __init__(self, incomings, axis=1, name=None):
        super().__init__(incomings, name)
        ndim = len(self.input_shapes[0])
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or \
                not -ndim <= axis < ndim:
            raise self.fail(f"axis {axis!r} is not an axis of the inputs "
                            f"({self.describe_inputs()})")
        self.axis = int(axis) % ndim
        self.get_output_shape_for(self.input_shapes)  # a shape mismatch fails now

    def get_output_shape_for(self, input_shapes):
        self._check_ndim(input_shapes)
        output = []
        for axis in range(len(input_shapes[0])):
            if axis == self.axis:
                lengths = [s[axis] for s in input_shapes]
                output.append(None if None in lengths else sum(lengths))
            else:
                output.append(self._merge_axis(input_shapes, axis))
        return tuple(output)

    def get_output_for(self, inputs, **kwargs):
        return T.concatenate(inputs, axis=self.axis)


concat = ConcatLayer  # Lasagne's short name


class ElemwiseSumLayer(_CheckedMerge):
    """The weighted sum ``sum_k coeffs[k] * input_k`` of inputs of one shape.

    Parameters
    ----------
    incomings : list of Layers or shape tuples
        All of the same shape (an unknown length matches any).
    coeffs : number or list of numbers (one per input)
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer, DenseLayer
    >>> l_in = InputLayer((None, 10))
    >>> l_res = ElemwiseSumLayer([l_in, DenseLayer(l_in, 10)], coeffs=[1, 0.5])
    >>> l_res.output_shape
    (None, 10)
    """

    default_name = "sum"

    def __init__(self, incomings, coeffs=1, name=None):
        super().__init__(incomings, name)
        n = len(self.input_shapes)
        coeffs = list(coeffs) if isinstance(coeffs, (list, tuple)) else [coeffs] * n
        if len(coeffs) != n or not all(isinstance(c, (int, float, np.integer, np.floating))
                                       and not isinstance(c, bool) for c in coeffs):
            raise self.fail(f"coeffs must be a number or a list of {n} numbers (one per input), "
                            f"got {coeffs!r}")
        self.coeffs = coeffs
        self.get_output_shape_for(self.input_shapes)  # a shape mismatch fails now

    def get_output_shape_for(self, input_shapes):
        self._check_ndim(input_shapes)
        return tuple(self._merge_axis(input_shapes, axis) for axis in range(len(input_shapes[0])))

    def get_output_for(self, inputs, **kwargs):
        total = None
        for coeff, input in zip(self.coeffs, inputs):
            term = input if coeff == 1 else coeff * input
            total = term if total is None else total + term
        return total
