"""Layers that change the shape of their input: ReshapeLayer, FlattenLayer,
DimshuffleLayer, PadLayer, SliceLayer (Lasagne's ``lasagne.layers.shape``), and
ExpressionLayer (Lasagne's ``lasagne.layers.special``).

Each one checks its specification against the input shape when it is
built; errors name the layer, the input shape and the layer it comes from.
"""
import numpy as np

import nnframe.tensor as T
from nnframe.core.graph import Variable
from nnframe.layers.base import Layer

__all__ = ["ReshapeLayer", "reshape", "FlattenLayer", "flatten", "DimshuffleLayer",
           "dimshuffle", "PadLayer", "pad", "SliceLayer", "ExpressionLayer"]


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


class _ShapeLayer(Layer):
    """Shared error wording: the input shape and where it comes from."""

    def _input_text(self, input_shape):
        source = f" from {self.input_layer.describe()}" if self.input_layer else ""
        return f"the input shape {tuple(input_shape)}{source}"


class ReshapeLayer(_ShapeLayer):
    """Reshapes the input to ``shape``.

    Entries of ``shape`` are:

    - a positive int: that length;
    - ``-1`` (at most once): whatever length makes the total size match;
    - ``[i]``: the length of input axis ``i`` (known or not);
    - an integer scalar Variable: a length known only at run time.

    The total size must match where it is known (checked when the layer is
    built and by the reshape at run time).

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    shape : tuple
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_in = InputLayer((None, 100, 20))
    >>> ReshapeLayer(l_in, ([0], 2, 50, -1)).output_shape
    (None, 2, 50, 20)
    """

    default_name = "reshape"

    def __init__(self, incoming, shape, name=None):
        super().__init__(incoming, name)
        self.shape = self._check_spec(shape)
        self.get_output_shape_for(self.input_shape)  # a size mismatch fails now

    def _check_spec(self, shape):
        try:
            shape = tuple(shape)
        except TypeError:
            raise self.fail(f"shape must be a tuple of ints, -1, [i] and int scalars, got "
                            f"{shape!r}") from None
        for entry in shape:
            if _is_int(entry):
                if entry == 0 or entry < -1:
                    raise self.fail(f"shape {shape!r} has the length {entry}; lengths must be "
                                    "positive or -1")
            elif isinstance(entry, list):
                if len(entry) != 1 or not _is_int(entry[0]) or \
                        not 0 <= entry[0] < len(self.input_shape):
                    raise self.fail(f"shape {shape!r}: the input reference {entry!r} must be "
                                    f"[i] with i an axis of {self._input_text(self.input_shape)}")
            elif isinstance(entry, Variable):
                if entry.ndim != 0 or entry.dtype[:3] not in ("int", "uin"):
                    raise self.fail(f"shape {shape!r}: the symbolic length {entry!r} must be "
                                    f"an integer scalar, got {entry.type}")
            else:
                raise self.fail(f"shape {shape!r}: entries must be ints, -1, [i] or integer "
                                f"scalars, got {entry!r}")
        if sum(_is_int(e) and e == -1 for e in shape) > 1:
            raise self.fail(f"shape {shape!r} has more than one -1")
        return shape

    def get_output_shape_for(self, input_shape):
        # Known lengths; an unknown input length copied by [i] matches itself,
        # so both sides leave it out of the size comparison.
        output, in_sizes, out_sizes = [], list(input_shape), []
        for entry in self.shape:
            if isinstance(entry, list):
                n = input_shape[entry[0]]
                output.append(n)
                if n is None and in_sizes[entry[0]] is None:
                    in_sizes[entry[0]] = 1
                    n = 1
                out_sizes.append(n)
            elif isinstance(entry, Variable):
                output.append(None)
                out_sizes.append(None)
            else:
                output.append(entry)
                if entry != -1:
                    out_sizes.append(entry)
        in_size = None if None in in_sizes else int(np.prod(in_sizes, dtype=np.int64))
        out_size = None if None in out_sizes else int(np.prod(out_sizes, dtype=np.int64))
        if -1 in output:
            k = output.index(-1)
            if in_size is None or out_size is None:
                output[k] = None
            elif in_size % out_size:
                raise self.fail(f"cannot reshape {self._input_text(input_shape)} to "
                                f"{self.shape}: the total size {in_size} is not a multiple "
                                f"of {out_size}")
            else:
                output[k] = in_size // out_size
        elif in_size is not None and out_size is not None and in_size != out_size:
            raise self.fail(f"cannot reshape {self._input_text(input_shape)} to {self.shape}: "
                            f"the total sizes differ ({in_size} vs {out_size})")
        return tuple(output)

    def get_output_for(self, input, **kwargs):
        shape = [T.shape_i(input, e[0]) if isinstance(e, list) else e for e in self.shape]
        return T.reshape(input, shape)


reshape = ReshapeLayer  # Lasagne's short name


class FlattenLayer(_ShapeLayer):
    """Flattens the trailing axes so that the output has ``outdim`` axes.

    ``(batch, 16, 4, 4)`` with ``outdim=2`` gives ``(batch, 256)``.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    outdim : int in [1, input ndim]
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> FlattenLayer(InputLayer((None, 16, 4, 4))).output_shape
    (None, 256)
    """

    default_name = "flatten"

    def __init__(self, incoming, outdim=2, name=None):
        super().__init__(incoming, name)
        if not _is_int(outdim) or not 1 <= outdim <= len(self.input_shape):
            raise self.fail(f"outdim must be an int in [1, {len(self.input_shape)}] for "
                            f"{self._input_text(self.input_shape)}, got {outdim!r}")
        self.outdim = int(outdim)

    def get_output_shape_for(self, input_shape):
        rest = input_shape[self.outdim - 1:]
        flat = None if None in rest else int(np.prod(rest, dtype=np.int64))
        return tuple(input_shape[:self.outdim - 1]) + (flat,)

    def get_output_for(self, input, **kwargs):
        return T.flatten(input, self.outdim)


flatten = FlattenLayer  # Lasagne's short name


class DimshuffleLayer(_ShapeLayer):
    """Permutes axes, inserts broadcastable axes ('x') and drops length-1 axes.

    ``pattern`` lists, for each output axis, an input axis or 'x' (a new
    axis of length 1).  Input axes left out are dropped: their length must
    be 1 (checked at build time where known, else at run time).

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    pattern : tuple of int and 'x'
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> DimshuffleLayer(InputLayer((None, 3, 1)), (0, 'x', 1)).output_shape
    (None, 1, 3)
    """

    default_name = "dimshuffle"

    def __init__(self, incoming, pattern, name=None):
        super().__init__(incoming, name)
        self.pattern = self._check_pattern(pattern)
        self.get_output_shape_for(self.input_shape)  # dropping a long axis fails now

    def _check_pattern(self, pattern):
        try:
            pattern = tuple(pattern)
        except TypeError:
            raise self.fail(f"pattern must be a tuple of axes and 'x', got {pattern!r}") from None
        ndim = len(self.input_shape)
        axes = [p for p in pattern if p != "x"]
        if not all(_is_int(p) and 0 <= p < ndim for p in axes):
            raise self.fail(f"pattern {pattern!r} must hold 'x' and axes in [0, {ndim}) of "
                            f"{self._input_text(self.input_shape)}")
        if len(set(axes)) != len(axes):
            raise self.fail(f"pattern {pattern!r} uses an input axis more than once")
        return tuple(p if p == "x" else int(p) for p in pattern)

    def _dropped(self, ndim):
        return [a for a in range(ndim) if a not in self.pattern]

    def get_output_shape_for(self, input_shape):
        for axis in self._dropped(len(input_shape)):
            if input_shape[axis] not in (1, None):
                raise self.fail(f"pattern {self.pattern} drops axis {axis} of "
                                f"{self._input_text(input_shape)}, whose length is "
                                f"{input_shape[axis]}; only length-1 axes can be dropped")
        return tuple(1 if p == "x" else input_shape[p] for p in self.pattern)

    def get_output_for(self, input, **kwargs):
        dropped = self._dropped(input.ndim)
        if dropped:
            input = T.addbroadcast(input, *dropped)  # length 1, checked at run time
        return T.dimshuffle(input, self.pattern)


dimshuffle = DimshuffleLayer  # Lasagne's short name


class PadLayer(_ShapeLayer):
    """Pads the trailing axes (those after the first ``batch_ndim``) with ``val``.

    ``width`` is an int (that many entries on both sides of every padded
    axis) or a sequence with one entry per padded axis, starting at axis
    ``batch_ndim``: an int (both sides) or a pair ``(before, after)``.  A
    sequence shorter than the trailing axes leaves the last ones alone.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    width : int, or a sequence of ints and pairs of ints
    val : float
        The padding value.
    batch_ndim : int
        The number of leading axes left alone (2: batch and channels).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> PadLayer(InputLayer((None, 3, 28, 28)), width=2).output_shape
    (None, 3, 32, 32)
    >>> PadLayer(InputLayer((None, 3, 28, 28)), width=[(1, 0), 3]).output_shape
    (None, 3, 29, 34)
    """

    default_name = "pad"

    def __init__(self, incoming, width, val: float = 0, batch_ndim=2, name=None):
        super().__init__(incoming, name)
        ndim = len(self.input_shape)
        if not _is_int(batch_ndim) or not 0 <= batch_ndim <= ndim:
            raise self.fail(f"batch_ndim must be an int in [0, {ndim}] for "
                            f"{self._input_text(self.input_shape)}, got {batch_ndim!r}")
        self.batch_ndim = int(batch_ndim)
        self.width = width
        self.widths = self._check_width(width)
        if isinstance(val, bool) or not isinstance(val, (int, float, np.integer, np.floating)):
            raise self.fail(f"val must be a number, got {val!r}")
        self.val = val

    def _check_width(self, width):
        """One ``(before, after)`` pair per padded axis."""
        padded = len(self.input_shape) - self.batch_ndim
        if _is_int(width):
            entries = [width] * padded
        else:
            try:
                entries = list(width)
            except TypeError:
                entries = None
            if entries is None or len(entries) > padded:
                raise self.fail(f"width must be an int or a sequence of at most {padded} ints or "
                                f"pairs (one per axis after the first {self.batch_ndim}) for "
                                f"{self._input_text(self.input_shape)}, got {width!r}")
        pairs = []
        for entry in entries:
            pair = (entry, entry) if _is_int(entry) else entry
            if not isinstance(pair, (tuple, list)) or len(pair) != 2 or \
                    not all(_is_int(w) and w >= 0 for w in pair):
                raise self.fail(f"width {width!r}: entries must be ints >= 0 or pairs of them, "
                                f"got {entry!r}")
            pairs.append((int(pair[0]), int(pair[1])))
        return pairs

    def get_output_shape_for(self, input_shape):
        output = list(input_shape)
        for k, (before, after) in enumerate(self.widths):
            axis = k + self.batch_ndim
            if output[axis] is not None:
                output[axis] += before + after
        return tuple(output)

    def get_output_for(self, input, **kwargs):
        shape = [T.shape_i(input, axis) for axis in range(input.ndim)]
        index = [slice(None)] * input.ndim
        for k, (before, after) in enumerate(self.widths):
            axis = k + self.batch_ndim
            index[axis] = slice(before, before + shape[axis])
            shape[axis] = shape[axis] + (before + after)
        out = T.alloc(np.asarray(self.val, dtype=input.dtype), *shape)
        return T.set_subtensor(out[tuple(index)], input)


pad = PadLayer  # Lasagne's short name


class SliceLayer(_ShapeLayer):
    """Slices the input along one axis: ``input[..., indices]`` on ``axis``.

    An int index drops the axis; a ``slice`` keeps it (its length is
    computed where the input's is known).

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    indices : int or slice
    axis : int
        May be negative (counted from the end).
    name : str, optional

    Examples
    --------
    >>> from nnframe.layers import InputLayer
    >>> l_in = InputLayer((None, 10, 6))
    >>> SliceLayer(l_in, indices=slice(2, None, 2), axis=1).output_shape
    (None, 4, 6)
    >>> SliceLayer(l_in, indices=-1).output_shape
    (None, 10)
    """

    default_name = "slice"

    def __init__(self, incoming, indices, axis=-1, name=None):
        super().__init__(incoming, name)
        ndim = len(self.input_shape)
        if not _is_int(axis) or not -ndim <= axis < ndim:
            raise self.fail(f"axis {axis!r} is not an axis of "
                            f"{self._input_text(self.input_shape)}")
        self.axis = int(axis)
        if _is_int(indices):
            indices = int(indices)
        elif not isinstance(indices, slice) or not all(
                v is None or _is_int(v) for v in (indices.start, indices.stop, indices.step)) \
                or indices.step == 0:
            raise self.fail(f"indices must be an int or a slice of ints, got {indices!r}")
        self.slice = indices
        self.get_output_shape_for(self.input_shape)  # an index out of range fails now

    def get_output_shape_for(self, input_shape):
        output = list(input_shape)
        length = input_shape[self.axis]
        if isinstance(self.slice, int):
            if length is not None and not -length <= self.slice < length:
                raise self.fail(f"index {self.slice} is out of range for axis {self.axis} of "
                                f"{self._input_text(input_shape)}")
            del output[self.axis]
        else:
            output[self.axis] = None if length is None else \
                len(range(*self.slice.indices(length)))
        return tuple(output)

    def get_output_for(self, input, **kwargs):
        axis = self.axis % input.ndim
        return input[(slice(None),) * axis + (self.slice,)]


class ExpressionLayer(Layer):
    """Applies ``function`` to the input: ``function(input)``.

    Parameters
    ----------
    incoming : a Layer or a shape tuple
    function : callable
        Maps a Variable to a Variable.
    output_shape : None, tuple, callable or 'auto'
        None: the input's shape (the default); a tuple: that shape; a
        callable: ``output_shape(input_shape)``; 'auto': the static shape of
        ``function`` applied to a variable of the input's shape, or, when that
        leaves lengths unknown and the input's shape is fully known, the
        shape of ``function`` applied to zeros.  (Lasagne always applies it
        to zeros, with 0 for unknown lengths.)
    name : str, optional

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> from nnframe.layers import InputLayer
    >>> l_in = InputLayer((32, 100, 20))
    >>> ExpressionLayer(l_in, lambda X: X.mean(-1), output_shape='auto').output_shape
    (32, 100)
    >>> ExpressionLayer(l_in, T.sqr).output_shape
    (32, 100, 20)
    """

    default_name = "expression"

    def __init__(self, incoming, function, output_shape=None, name=None):
        super().__init__(incoming, name)
        if not callable(function):
            raise self.fail(f"function must be callable, got {function!r}")
        if not (output_shape is None or output_shape == "auto" or callable(output_shape)
                or (isinstance(output_shape, (tuple, list))
                    and all(s is None or _is_int(s) for s in output_shape))):
            raise self.fail(f"output_shape must be None, 'auto', a callable or a shape tuple, "
                            f"got {output_shape!r}")
        self.function = function
        self._auto_shapes = {}
        self._output_shape = tuple(output_shape) if isinstance(output_shape, list) \
            else output_shape

    def get_output_shape_for(self, input_shape):
        if self._output_shape is None:
            return input_shape
        if isinstance(self._output_shape, str):  # 'auto', computed once per input shape
            key = tuple(input_shape)
            if key not in self._auto_shapes:
                self._auto_shapes[key] = self._infer_shape(key)
            return self._auto_shapes[key]
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        return self._output_shape

    def _infer_shape(self, input_shape):
        """'auto': the static shape of ``function`` applied to a placeholder of
        ``input_shape``; when that leaves lengths unknown and the input's are all
        known, the shape of ``function`` applied to zeros."""
        from nnframe import config, function
        placeholder = T.tensor(config.floatX, shape=input_shape)
        shape = tuple(self.function(placeholder).type.shape)
        if None in shape and None not in input_shape:
            zeros = T.alloc(np.asarray(0, dtype=config.floatX), *input_shape)
            shape = function([], T.shape(self.function(zeros)))()
        return tuple(None if s is None else int(s) for s in shape)

    def get_output_for(self, input, **kwargs):
        return self.function(input)
