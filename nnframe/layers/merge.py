"""Layers that merge several inputs: ConcatLayer, ElemwiseMergeLayer and
ElemwiseSumLayer (Lasagne's ``lasagne.layers.merge``), with Lasagne's
``cropping`` of inputs of different sizes (``autocrop``).

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

__all__ = ["autocrop", "autocrop_array_shapes", "ConcatLayer", "concat", "ElemwiseMergeLayer",
           "ElemwiseSumLayer"]

_CROPS = (None, "lower", "center", "upper")


def _check_cropping(cropping, ndim):
    """``cropping`` padded with None to ``ndim`` entries, or a ValueError."""
    cropping = list(cropping)
    if any(c not in _CROPS for c in cropping):
        raise ValueError(f"cropping entries must be None, 'lower', 'center' or 'upper', "
                         f"got {cropping!r}")
    if len(cropping) > ndim:
        raise ValueError(f"cropping {cropping!r} has more entries than the inputs' {ndim} axes")
    return cropping + [None] * (ndim - len(cropping))


def autocrop(inputs, cropping):
    """Crops ``inputs`` (Variables of one ndim) to the smallest length along each axis
    whose ``cropping`` entry is not None (Lasagne's ``autocrop``).

    Entries: None (no cropping), 'lower' (keep the first entries), 'upper'
    (the last ones) or 'center' (the middle ones, the offset rounded down).
    ``cropping`` may be shorter than the inputs' axes; ``None`` returns
    ``inputs`` unchanged.

    >>> import numpy as np
    >>> import nnframe.tensor as T
    >>> a, b = T.tensor('float64', shape=(2, 3)), T.tensor('float64', shape=(2, 5))
    >>> ca, cb = autocrop([a, b], [None, 'center'])
    >>> cb.eval({b: np.arange(10.).reshape(2, 5)})
    array([[1., 2., 3.],
           [6., 7., 8.]])
    """
    if cropping is None:
        return inputs
    ndim = inputs[0].ndim
    if not all(x.ndim == ndim for x in inputs):
        raise ValueError(f"autocrop: the inputs have different numbers of axes: "
                         f"{[x.ndim for x in inputs]}")
    cropping = _check_cropping(cropping, ndim)
    slices = [[] for _ in inputs]
    for axis, crop in enumerate(cropping):
        if crop is None:
            for s in slices:
                s.append(slice(None))
            continue
        static = [x.type.shape[axis] for x in inputs]
        lengths = static if None not in static else [T.shape_i(x, axis) for x in inputs]
        smallest = min(lengths) if None not in static else lengths[0]
        if None in static:
            for n in lengths[1:]:
                smallest = T.minimum(smallest, n)
        for s, n in zip(slices, lengths):
            start = 0 if crop == "lower" else n - smallest if crop == "upper" \
                else (n - smallest) // 2
            s.append(slice(start, start + smallest))
    return [x[tuple(s)] for x, s in zip(inputs, slices)]


def autocrop_array_shapes(input_shapes, cropping):
    """The shapes :func:`autocrop` gives inputs of ``input_shapes`` (None = unknown).

    >>> autocrop_array_shapes([(1, 2, 7), (1, 3, 5)], [None, 'lower', 'center'])
    [(1, 2, 5), (1, 2, 5)]
    """
    if cropping is None:
        return [tuple(s) for s in input_shapes]
    ndim = len(input_shapes[0])
    if not all(len(s) == ndim for s in input_shapes):
        raise ValueError(f"autocrop_array_shapes: the shapes {input_shapes} have different "
                         "numbers of axes")
    cropping = _check_cropping(cropping, ndim)
    columns = []
    for lengths, crop in zip(zip(*input_shapes), cropping):
        if crop is None:
            columns.append(lengths)
        else:
            smallest = None if None in lengths else min(lengths)
            columns.append([smallest] * len(lengths))
    return [tuple(s) for s in zip(*columns)]


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

    def _check_crop(self, cropping):
        if cropping is None:
            return None
        try:
            return _check_cropping(cropping, len(self.input_shapes[0]))
        except (TypeError, ValueError) as e:
            raise self.fail(str(e)) from None

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
    cropping : None or a list of None, 'lower', 'center', 'upper'
        Crops the inputs to a common size first (see :func:`autocrop`; the
        entry of ``axis`` should be None).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> a, b = InputLayer((None, 8, 5, 5)), InputLayer((None, 16, 5, 5))
    >>> ConcatLayer([a, b], axis=1).output_shape
    (None, 24, 5, 5)
    """

    default_name = "concat"

    def __init__(self, incomings, axis=1, cropping=None, name=None):
        super().__init__(incomings, name)
        self.cropping = self._check_crop(cropping)
        ndim = len(self.input_shapes[0])
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or \
                not -ndim <= axis < ndim:
            raise self.fail(f"axis {axis!r} is not an axis of the inputs "
                            f"({self.describe_inputs()})")
        self.axis = int(axis) % ndim
        self.get_output_shape_for(self.input_shapes)  # a shape mismatch fails now

    def get_output_shape_for(self, input_shapes):
        self._check_ndim(input_shapes)
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        output = []
        for axis in range(len(input_shapes[0])):
            if axis == self.axis:
                lengths = [s[axis] for s in input_shapes]
                output.append(None if None in lengths else sum(lengths))
            else:
                output.append(self._merge_axis(input_shapes, axis))
        return tuple(output)

    def get_output_for(self, inputs, **kwargs):
        return T.concatenate(autocrop(inputs, self.cropping), axis=self.axis)


concat = ConcatLayer  # Lasagne's short name


class ElemwiseMergeLayer(_CheckedMerge):
    """Merges inputs of one shape elementwise: ``merge_function(merge_function(x0, x1), x2)...``

    Parameters
    ----------
    incomings : list of Layers or shape tuples
        All of the same shape (an unknown length matches any), after cropping.
    merge_function : callable ``f(a, b) -> Variable``
        e.g. ``T.mul``, ``T.maximum``.
    cropping : None or a list of None, 'lower', 'center', 'upper'
        Crops the inputs to a common size first (see :func:`autocrop`).
    name : str, optional

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> from nnframe.layers import InputLayer
    >>> a, b = InputLayer((None, 10)), InputLayer((None, 12))
    >>> ElemwiseMergeLayer([a, b], T.maximum, cropping=[None, 'center']).output_shape
    (None, 10)
    """

    default_name = "merge"

    def __init__(self, incomings, merge_function, cropping=None, name=None):
        super().__init__(incomings, name)
        if not callable(merge_function):
            raise self.fail(f"merge_function must be callable, got {merge_function!r}")
        self.merge_function = merge_function
        self.cropping = self._check_crop(cropping)
        self.get_output_shape_for(self.input_shapes)  # a shape mismatch fails now

    def get_output_shape_for(self, input_shapes):
        self._check_ndim(input_shapes)
        input_shapes = autocrop_array_shapes(input_shapes, self.cropping)
        return tuple(self._merge_axis(input_shapes, axis) for axis in range(len(input_shapes[0])))

    def get_output_for(self, inputs, **kwargs):
        output = None
        for input in autocrop(inputs, self.cropping):
            output = input if output is None else self.merge_function(output, input)
        return output


class ElemwiseSumLayer(ElemwiseMergeLayer):
    """The weighted sum ``sum_k coeffs[k] * input_k`` of inputs of one shape.

    Parameters
    ----------
    incomings : list of Layers or shape tuples
        All of the same shape (an unknown length matches any), after cropping.
    coeffs : number or list of numbers (one per input)
    cropping : None or a list of None, 'lower', 'center', 'upper'
        Crops the inputs to a common size first (see :func:`autocrop`).
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

    def __init__(self, incomings, coeffs=1, cropping=None, name=None):
        _CheckedMerge.__init__(self, incomings, name)
        self.merge_function = T.add
        self.cropping = self._check_crop(cropping)
        n = len(self.input_shapes)
        coeffs = list(coeffs) if isinstance(coeffs, (list, tuple)) else [coeffs] * n
        if len(coeffs) != n or not all(isinstance(c, (int, float, np.integer, np.floating))
                                       and not isinstance(c, bool) for c in coeffs):
            raise self.fail(f"coeffs must be a number or a list of {n} numbers (one per input), "
                            f"got {coeffs!r}")
        self.coeffs = coeffs
        self.get_output_shape_for(self.input_shapes)  # a shape mismatch fails now

    def get_output_for(self, inputs, **kwargs):
        total = None
        for coeff, input in zip(self.coeffs, autocrop(inputs, self.cropping)):
            term = input if coeff == 1 else coeff * input
            total = term if total is None else total + term
        return total
