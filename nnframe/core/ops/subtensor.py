"""Indexing: ``x[...]`` with NumPy semantics, ``set_subtensor`` and ``inc_subtensor``.

Two families of Ops, following Theano:

- :class:`Subtensor` does *basic* indexing (ints, slices, ``None``): its
  output is a view of the input.  Constant ints and slice bounds live in the
  hashable ``idx_list`` prop; symbolic integer scalars are inputs.
- :class:`AdvancedSubtensor` does NumPy *fancy* indexing (integer arrays,
  boolean masks, mixed with ints and slices): its output is a copy.

:class:`IncSubtensor` and :class:`AdvancedIncSubtensor` return a copy of ``x``
with the indexed part incremented (``np.add.at``: repeated indices
accumulate) or set (``set_instead_of_inc``: the last repeat wins, as in NumPy).

In ``idx_list``, an entry is an int (a constant index), ``"?"`` (the next
input: a symbolic scalar, or an index array for the advanced Ops), a
:class:`SliceSpec` whose bounds are None, ints or ``"?"``, ``None`` (a new
axis) or ``Ellipsis`` (advanced Ops only: there it separates advanced
indices, which matters for NumPy's placement rule).

>>> import nnframe.tensor as T
>>> x = T.dmatrix('x'); i = T.lscalar('i')
>>> x[i:i + 2, ::-1].type
TensorType(float64, matrix)
>>> T.set_subtensor(x[0], 5.0).type
TensorType(float64, matrix)
"""
from typing import NamedTuple

import numpy as np

from nnframe.core.graph import Apply, Constant, Variable
from nnframe.core.op import Op, as_tensor_variable
from nnframe.core.ops import elemwise as E
from nnframe.core.ops.elemwise import broadcast_static_shapes, fit_grad
from nnframe.core.ops.shape import (
    MakeVector,
    Shape,
    dimshuffle,
    flatten,
    make_vector,
    normalize_axis,
    shape_i,
)
from nnframe.core.types import TensorType, is_discrete

__all__ = ["SliceSpec", "Subtensor", "AdvancedSubtensor", "IncSubtensor",
           "AdvancedIncSubtensor", "subtensor", "set_subtensor", "inc_subtensor", "take"]

#: marks an ``idx_list`` entry (or slice bound) given by the node's next input
SYMBOLIC = "?"


class SliceSpec(NamedTuple):
    """A hashable slice: each bound is None, an int or ``"?"`` (a symbolic scalar input)."""

    start: object = None
    stop: object = None
    step: object = None

    def __str__(self):
        text = ":".join("" if b is None else str(b) for b in self)
        return text[:-1] if text.endswith(":") else text


FULL_SLICE = SliceSpec()


def _format_idx_list(idx_list):
    names = {None: "None", Ellipsis: "..."}
    return ", ".join(names.get(e, str(e)) if not isinstance(e, SliceSpec) else str(e)
                     for e in idx_list) or ":"


def _symbolic_count(idx_list):
    """How many node inputs (besides x, y) ``idx_list`` consumes."""
    count = 0
    for e in idx_list:
        if isinstance(e, SliceSpec):
            count += sum(b == SYMBOLIC for b in e)
        elif e is not None and e is not Ellipsis and not isinstance(e, int):
            count += 1
    return count


# -- the layout of an indexing result ------------------------------------------
class _Layout:
    """Where each output axis of ``x[idx_list]`` comes from, NumPy's way.

    Walks ``idx_list`` against ``x`` (a Variable) and the index inputs,
    checks what the static types allow (too many indices, constant indices
    out of range, mask shapes) and records:

    - ``dims``: per output axis, ``("slice", axis, bounds)`` (bounds are
      None, ints or index-input Variables), ``("new",)`` or ``("adv", j)``
      (axis j of the broadcast shape of the advanced indices);
    - ``parts``: the advanced indices, as ``("int",)``, ``("array", var)`` or
      ``("mask", var)``.

    Integer indices count as advanced indices of shape (): in basic indexing
    they broadcast to nothing, so treating them alike changes no result.
    """

    def __init__(self, x, idx_list, inputs):
        self.x = x
        self.parts = []
        inputs = iter(inputs)
        entries = [self._resolve(e, inputs) for e in idx_list]
        consumed = sum(self._consumes(e) for e in entries)
        if consumed > x.ndim:
            raise IndexError(f"too many indices for {x.type}: the index uses {consumed} "
                             f"dimension(s) but the tensor has {x.ndim}")
        if sum(e is Ellipsis for e in entries) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        before, after, adv_positions = [], [], []
        axis = 0
        for pos, e in enumerate(entries):
            dims = after if adv_positions else before
            if e is None:
                dims.append(("new",))
            elif e is Ellipsis:
                for _ in range(x.ndim - consumed):
                    dims.append(("slice", axis, (None, None, None)))
                    axis += 1
            elif isinstance(e, tuple):
                self._check_step(e[2])
                dims.append(("slice", axis, e))
                axis += 1
            else:
                adv_positions.append(pos)
                axis = self._add_part(e, axis)
        after.extend(("slice", a, (None, None, None)) for a in range(axis, x.ndim))
        self.bshape = self._broadcast_static_shape()
        adv = [("adv", j) for j in range(len(self.bshape))]
        # NumPy: advanced indices next to each other put their broadcast axes in
        # their place; separated ones (by a slice, None or ...) put them first.
        contiguous = not adv_positions or adv_positions == list(
            range(adv_positions[0], adv_positions[-1] + 1))
        self.dims = before + adv + after if contiguous else adv + before + after

    @staticmethod
    def _resolve(entry, inputs):
        """``entry`` with its "?" parts replaced by the index input Variables."""
        if isinstance(entry, SliceSpec):
            return tuple(next(inputs) if b == SYMBOLIC else b for b in entry)
        if entry == SYMBOLIC:
            return next(inputs)
        return entry

    @staticmethod
    def _consumes(e):
        if e is None or e is Ellipsis:
            return 0
        if isinstance(e, Variable) and e.dtype == "bool":
            return e.ndim
        return 1

    @staticmethod
    def _check_step(step):
        if isinstance(step, int) and step == 0:
            raise ValueError("slice step cannot be zero")

    def _add_part(self, e, axis):
        """Record the advanced index ``e`` at ``axis``; return the next axis."""
        x = self.x
        if isinstance(e, int):
            self._check_range(np.asarray(e), axis, f"index {e}")
            self.parts.append(("int",))
            return axis + 1
        if e.dtype == "bool":
            for k, (want, have) in enumerate(zip(x.type.shape[axis:], e.type.shape)):
                if want is not None and have is not None and want != have:
                    raise IndexError(f"boolean index of {e.type} does not match {x.type}: "
                                     f"axis {axis + k} has length {want}, the mask {have}")
            self.parts.append(("mask", e))
            return axis + e.ndim
        if isinstance(e, Constant):
            self._check_range(e.data, axis, "index array")
        self.parts.append(("array", e))
        return axis + 1

    def _check_range(self, values, axis, what):
        n = self.x.type.shape[axis]
        if n is None or values.size == 0:
            return
        bad = values[(values < -n) | (values >= n)]
        if bad.size:
            raise IndexError(f"{what}: {int(bad.flat[0])} is out of bounds for axis {axis} "
                             f"of static length {n} of {self.x.type}")

    def _part_static_shape(self, part):
        if part[0] == "int":
            return ()
        if part[0] == "mask":
            var = part[1]
            return (int(var.data.sum()),) if isinstance(var, Constant) else (None,)
        return part[1].type.shape

    def _broadcast_static_shape(self):
        shapes = [self._part_static_shape(p) for p in self.parts]
        if not shapes:
            return ()
        ndim = max(len(s) for s in shapes)
        padded = [(1,) * (ndim - len(s)) + tuple(s) for s in shapes]
        try:
            return broadcast_static_shapes(padded, "advanced indexing")
        except ValueError as exc:
            raise IndexError(f"shape mismatch: index arrays cannot be broadcast together: "
                             f"{exc}") from None

    # -- output shapes --------------------------------------------------------
    def static_shape(self):
        out = []
        for dim in self.dims:
            if dim[0] == "new":
                out.append(1)
            elif dim[0] == "adv":
                out.append(self.bshape[dim[1]])
            else:
                out.append(_static_slice_length(dim[2], self.x.type.shape[dim[1]]))
        return tuple(out)

    def symbolic_shape(self, x_shape, input_shapes):
        """Output shape from ``x_shape`` and the index inputs' shapes (by Variable id)."""
        bshape = self._broadcast_symbolic_shape(input_shapes)
        out = []
        for dim in self.dims:
            if dim[0] == "new":
                out.append(1)
            elif dim[0] == "adv":
                out.append(bshape[dim[1]])
            else:
                out.append(_slice_length(*dim[2], x_shape[dim[1]]))
        return tuple(out)

    def _broadcast_symbolic_shape(self, input_shapes):
        from nnframe.core.ops.reduce import sum as sum_
        ndim = len(self.bshape)
        candidates = [[] for _ in range(ndim)]
        for part in self.parts:
            if part[0] == "int":
                continue
            var = part[1]
            if part[0] == "mask":
                static, lengths = (None,), (sum_(var),)
            else:
                static, lengths = var.type.shape, input_shapes[id(var)]
            offset = ndim - len(static)
            for k, (s, length) in enumerate(zip(static, lengths)):
                if s != 1:
                    candidates[offset + k].append(length)
        # Any non-broadcasting index gives the length (they agree at run time).
        return [s if s is not None else (c[0] if c else 1)
                for s, c in zip(self.bshape, candidates)]


def _static_slice_length(bounds, n):
    """The static length of ``slice(*bounds)`` on an axis of static length ``n``."""
    if bounds == (None, None, None):
        return n
    if n is None or not all(b is None or isinstance(b, int) for b in bounds):
        return None
    return len(range(*slice(*bounds).indices(n)))


def _i64(v):
    """``v`` (an int or an integer scalar Variable) as an int64 Variable."""
    from nnframe.core.variable import constant
    if isinstance(v, Variable):
        return E.cast(v, "int64")
    return constant(int(v), dtype="int64")


def _slice_length(start, stop, step, n):
    """The length of ``range(n)[start:stop:step]``, symbolically where needed.

    Bounds are None, ints or integer scalar Variables; ``n`` is an int or an
    int64 scalar.  This is the arithmetic of Python's ``slice.indices``:
    negative bounds count from the end, then bounds are clamped to
    ``[0, n]`` (step > 0) or ``[-1, n - 1]`` (step < 0).
    """
    if start is None and stop is None and step is None:
        return n
    if not isinstance(n, Variable) and all(b is None or isinstance(b, int)
                                           for b in (start, stop, step)):
        return len(range(*slice(start, stop, step).indices(n)))
    n = _i64(n)
    step = _i64(1 if step is None else step)
    negative = E.lt(step, 0)
    lower = E.switch(negative, _i64(-1), _i64(0))
    upper = E.switch(negative, n - 1, n)

    def clamp(bound, default):
        if bound is None:
            return default
        bound = _i64(bound)
        bound = E.switch(E.lt(bound, 0), bound + n, bound)
        return E.minimum(E.maximum(bound, lower), upper)

    first = clamp(start, E.switch(negative, upper, lower))
    last = clamp(stop, E.switch(negative, lower, upper))
    # ceil((last - first) / step) for either sign of step
    length = E.int_div(last - first + step - E.switch(negative, _i64(-1), _i64(1)), step)
    return E.maximum(length, 0)


# -- Ops ------------------------------------------------------------------------
class _IndexOp(Op):
    """Shared by the four Ops: ``idx_list`` and its checks."""

    __props__ = ("idx_list",)
    advanced = False

    def __init__(self, idx_list):
        self.idx_list = tuple(idx_list)

    def __str__(self):
        return f"{type(self).__name__}{{{_format_idx_list(self.idx_list)}}}"

    def _index_inputs(self, inputs):
        """``inputs`` as Variables, checked against ``idx_list``."""
        inputs = [as_tensor_variable(i) for i in inputs]
        want = _symbolic_count(self.idx_list)
        if len(inputs) != want:
            raise TypeError(f"{self} takes {want} index input(s), got {len(inputs)}")
        for k, i in enumerate(inputs):
            scalar_int = i.ndim == 0 and i.dtype != "bool"
            if not is_discrete(i.dtype) or not (self.advanced or scalar_int):
                raise TypeError(f"indices must be integers or booleans: index input {k} of "
                                f"{self} is {i.type}")
        return inputs

    def _layout(self, x, index_inputs):
        return _Layout(x, self.idx_list, index_inputs)

    def _indexed_shape(self, node, input_shapes, first_index):
        """The symbolic shape of ``x[idx]`` (inputs from ``first_index`` on are indices)."""
        x, indices = node.inputs[0], node.inputs[first_index:]
        shapes = {id(v): s for v, s in zip(indices, input_shapes[first_index:])}
        return self._layout(x, indices).symbolic_shape(input_shapes[0], shapes)


class _GetBase(_IndexOp):
    """``x[idx_list]``; the gradient is ``setter`` (an increment of zeros) at the index."""

    setter = None  # the matching increment Op class, set once it is defined

    def make_node(self, x, *indices):
        x = as_tensor_variable(x)
        indices = self._index_inputs(indices)
        shape = self._layout(x, indices).static_shape()
        return Apply(self, [x] + indices, [TensorType(x.dtype, shape)])

    def infer_shape(self, node, input_shapes):
        return [self._indexed_shape(node, input_shapes, 1)]

    def L_op(self, inputs, outputs, output_grads):
        x, rest = inputs[0], inputs[1:]
        if is_discrete(x.dtype):
            return [None] * len(inputs)
        gx = self.setter(self.idx_list)(E.zeros_like(x), output_grads[0], *rest)
        return [gx] + [None] * len(rest)


class Subtensor(_GetBase):
    """Basic indexing ``x[idx_list]`` (ints, slices, None): a view of ``x``.

    Inputs: ``x`` then one integer scalar per ``"?"`` in ``idx_list``.
    Use :func:`subtensor` (or ``x[...]``) rather than building it directly.
    """

    view_map = {0: [0]}


class AdvancedSubtensor(_GetBase):
    """NumPy fancy indexing ``x[idx_list]`` with index arrays or masks: a copy.

    Inputs: ``x`` then one Variable per ``"?"`` (integer scalars, integer
    index arrays, boolean masks).  Separated advanced indices put their
    broadcast axes first, as in NumPy.
    """

    advanced = True


class _IncBase(_IndexOp):
    """``x`` with ``x[idx_list]`` incremented by ``y`` (or set to ``y``): a new tensor.

    ``y`` is cast to ``x``'s dtype (a cast within the same kind: no float
    into an int) and left-padded to the indexed part's rank; it broadcasts
    along its axes of static length 1 only.
    """

    __props__ = ("idx_list", "set_instead_of_inc", "inplace")
    getter = None  # the matching indexing Op class

    def __init__(self, idx_list, set_instead_of_inc=False, inplace=False):
        super().__init__(idx_list)
        self.set_instead_of_inc = bool(set_instead_of_inc)
        #: write into ``x``'s buffer (set by the in-place pass when nothing reads x later)
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self):
        kind = "Set" if self.set_instead_of_inc else "Inc"
        name = type(self).__name__.replace("Inc", kind)
        return f"{name}{{{_format_idx_list(self.idx_list)}{',inplace' if self.inplace else ''}}}"

    def make_node(self, x, y, *indices):
        x = as_tensor_variable(x)
        indices = self._index_inputs(indices)
        target = self._layout(x, indices).static_shape()
        y = _fit_value(x, as_tensor_variable(y), target, self._verb())
        return Apply(self, [x, y] + indices, [x.type])

    def _verb(self):
        return "set_subtensor" if self.set_instead_of_inc else "inc_subtensor"

    def infer_shape(self, node, input_shapes):
        return [input_shapes[0]]

    def L_op(self, inputs, outputs, output_grads):
        x, y, rest = inputs[0], inputs[1], inputs[2:]
        (g,) = output_grads
        if is_discrete(x.dtype):
            return [None] * len(inputs)
        if self.set_instead_of_inc:
            gx = type(self)(self.idx_list, True)(g, 0, *rest)
        else:
            gx = g
        gy = fit_grad(y, self.getter(self.idx_list)(g, *rest))
        return [gx, gy] + [None] * len(rest)

    def value_shape_checker(self, y_type):
        """``(axes, check)``: ``check(y_shape, target_shape)`` raises the run-time error
        for a value ``y`` (of type ``y_type``) that does not fit the indexed part.

        Only ``axes``, those of ``y`` whose static length is not 1, are compared:
        on the others ``y`` has length 1 (values follow their types) and broadcasts.
        """
        axes = [a for a, n in enumerate(y_type.shape) if n != 1]

        def check(y_shape, target_shape):
            for a in axes:
                if y_shape[a] != target_shape[a]:
                    raise ValueError(
                        f"{self}: the value has shape {y_shape} but the indexed part has shape "
                        f"{target_shape}; axis {a} of the value ({y_type}) is not broadcastable. "
                        "Give a value of the indexed shape, or make that axis broadcastable "
                        "(T.addbroadcast, dimshuffle with 'x')")
        return axes, check


class IncSubtensor(_IncBase):
    """``x`` with the basic-indexed part ``x[idx_list]`` incremented or set by ``y``."""

    getter = Subtensor


class AdvancedIncSubtensor(_IncBase):
    """``x`` with ``x[idx_list]`` (fancy indexing) incremented or set by ``y``.

    Increments at repeated indices accumulate (``np.add.at``); when setting,
    the last repeated index wins, as in NumPy.
    """

    advanced = True
    getter = AdvancedSubtensor


Subtensor.setter = IncSubtensor
AdvancedSubtensor.setter = AdvancedIncSubtensor


# -- run-time errors, worded once for every backend ----------------------------------
def describe_index(idx):
    """A short text for an index tuple (arrays by dtype and shape, not values).

    >>> describe_index((1, slice(None, 5, None), np.zeros((2, 3), "int64"), None))
    '[1, :5:, int64 array of shape (2, 3), None]'
    """
    def one(e):
        if isinstance(e, np.ndarray) and e.ndim:
            return f"{e.dtype} array of shape {e.shape}"
        if isinstance(e, slice):
            return ":".join("" if b is None else str(b) for b in (e.start, e.stop, e.step))
        return "None" if e is None else "..." if e is Ellipsis else str(e)
    return "[" + ", ".join(one(e) for e in idx) + "]"


def index_error(exc, idx, shape):
    """``exc`` (an indexing error) as an IndexError naming the index and the indexed shape."""
    return IndexError(f"{exc} (index {describe_index(idx)} into an array of shape {shape})")


def out_of_bounds_error(index, axis, size):
    """NumPy's IndexError for ``index`` outside an axis of length ``size``.

    For backends that check indices themselves, so that they say what NumPy says.
    """
    return IndexError(f"index {index} is out of bounds for axis {axis} with size {size}")


def _fit_value(x, y, target, verb):
    """``y`` cast to ``x``'s dtype and padded/checked against the indexed static shape."""
    from nnframe.core.variable import constant
    if y.dtype != x.dtype:
        if not np.can_cast(y.dtype, x.dtype, "same_kind"):
            raise TypeError(f"{verb}: cannot store a {y.dtype} value into {x.type} without "
                            f"changing its kind; cast it with T.cast(y, {x.dtype!r})")
        if getattr(y, "weak", False):
            value = y.py_value if y.py_value is not None else y.data.item()
            y = constant(value, dtype=x.dtype)
        else:
            y = E.cast(y, x.dtype)
    if y.ndim > len(target):
        raise ValueError(f"{verb}: the value has {y.ndim} dimension(s) ({y.type}) but the "
                         f"indexed part of {x.type} has {len(target)} (static shape {target})")
    y = dimshuffle(y, ["x"] * (len(target) - y.ndim) + list(range(y.ndim)))
    for axis, (have, want) in enumerate(zip(y.type.shape, target)):
        if have not in (None, 1) and want is not None and have != want:
            raise ValueError(f"{verb}: a value of static shape {y.type.shape} cannot be "
                             f"broadcast to the indexed static shape {target} (axis {axis})")
    return y


# -- parsing Python indices --------------------------------------------------------
def _bad_index(what):
    return TypeError(f"indices must be integers or booleans (or slices, None, Ellipsis, "
                     f"integer/boolean arrays and symbolic integer tensors); got {what}")


def _slice_bound(b):
    """A slice bound as None, an int or a symbolic integer scalar."""
    if b is None or (isinstance(b, (int, np.integer)) and not isinstance(b, (bool, np.bool_))):
        return None if b is None else int(b)
    if isinstance(b, Variable) and b.ndim == 0 and is_discrete(b.dtype) and b.dtype != "bool":
        return int(b.data) if isinstance(b, Constant) else b
    what = b.type if isinstance(b, Variable) else f"{type(b).__name__} {b!r}"
    raise TypeError(f"slice indices must be integers or None (or symbolic integer "
                    f"scalars); got {what}")


def _array_index(value):
    """A list/array index as a constant Variable (integer or boolean)."""
    from nnframe.core.variable import constant
    items = value if isinstance(value, (list, tuple)) else None
    if items is not None and any(isinstance(v, Variable) for v in items):
        return make_vector(*items)
    data = np.asarray(value)
    if data.size == 0 and data.dtype.kind == "f":
        data = data.astype("int64")  # NumPy reads [] as an empty integer index
    if data.dtype.kind not in "biu":
        raise _bad_index(f"an array of dtype {data.dtype}")
    return constant(data)


def _parse_entry(e):
    """One Python index entry as an ``idx_list`` entry plus its input Variables."""
    if e is None or e is Ellipsis:
        return e, []
    if isinstance(e, slice):
        bounds = [_slice_bound(b) for b in (e.start, e.stop, e.step)]
        if bounds[2] == 1:
            bounds[2] = None  # x[a:b:1] is x[a:b]: one Op for both
        spec = SliceSpec(*[SYMBOLIC if isinstance(b, Variable) else b for b in bounds])
        return spec, [b for b in bounds if isinstance(b, Variable)]
    if isinstance(e, (bool, np.bool_)):
        return SYMBOLIC, [_array_index(e)]
    if isinstance(e, (int, np.integer)):
        return int(e), []
    if isinstance(e, Variable):
        if not is_discrete(e.dtype):
            raise _bad_index(f"{e!r} of type {e.type}")
        if e.ndim == 0 and e.dtype != "bool" and isinstance(e, Constant):
            return int(e.data), []
        return SYMBOLIC, [e]
    if isinstance(e, (list, tuple, range, np.ndarray)):
        data = _array_index(list(e) if isinstance(e, range) else e)
        if data.ndim == 0 and data.dtype != "bool":  # a 0-d integer array is an int
            return int(data.data), []
        return SYMBOLIC, [data]
    if isinstance(e, (float, complex, np.floating, np.complexfloating)):
        raise _bad_index(f"the {type(e).__name__} {e!r}")
    raise _bad_index(f"{type(e).__name__} {e!r}")


def _is_advanced(entry, inputs):
    return entry == SYMBOLIC and (inputs[0].ndim > 0 or inputs[0].dtype == "bool")


def _basic_idx_list(x, entries):
    """Basic entries with the Ellipsis expanded and trailing full slices dropped."""
    if Ellipsis in entries:
        if entries.count(Ellipsis) > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        at = entries.index(Ellipsis)
        used = sum(e is not None for e in entries) - 1
        fill = [FULL_SLICE] * max(x.ndim - used, 0)
        entries = entries[:at] + fill + entries[at + 1:]
    while entries and entries[-1] == FULL_SLICE:
        entries.pop()
    return tuple(entries)


def _fold_vector_entry(x, index):
    """``x[index]`` without a Subtensor when x is a shape vector or a make_vector."""
    if not isinstance(index, (int, np.integer)) or isinstance(index, (bool, np.bool_)):
        return None
    node = x.owner
    if node is None or not isinstance(node.op, (Shape, MakeVector)):
        return None
    if not -x.type.shape[0] <= index < x.type.shape[0]:
        return None  # out of range: the Subtensor path raises the error
    if isinstance(node.op, Shape):
        return shape_i(node.inputs[0], index)
    return node.inputs[index]


def subtensor(x, index):
    """``x[index]`` with NumPy semantics; ``x[...]`` calls this.

    Parameters
    ----------
    x : tensor Variable (or array-like)
    index : int, slice, None, Ellipsis, integer/boolean array or list,
        symbolic integer scalar or tensor, or a tuple of those.  Slice bounds
        may be symbolic integer scalars.

    Returns
    -------
    A view of ``x`` (:class:`Subtensor`) for basic indices, a copy
    (:class:`AdvancedSubtensor`) when an index array or mask is involved.

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> x = T.dmatrix('x'); y = T.lvector('y')
    >>> x[T.arange(y.shape[0]), y].type      # one entry per row
    TensorType(float64, vector)
    >>> x[:, None, 0].type
    TensorType(float64, shape=(?, 1))
    """
    x = as_tensor_variable(x)
    folded = _fold_vector_entry(x, index)
    if folded is not None:
        return folded
    parsed = [_parse_entry(e) for e in (index if isinstance(index, tuple) else (index,))]
    entries = [entry for entry, _ in parsed]
    inputs = [v for _, vs in parsed for v in vs]
    if any(_is_advanced(entry, vs) for entry, vs in parsed):
        return AdvancedSubtensor(tuple(entries))(x, *inputs)
    return Subtensor(_basic_idx_list(x, entries))(x, *inputs)


def _indexing_node(x, verb):
    node = x.owner if isinstance(x, Variable) else None
    if node is None or not isinstance(node.op, (Subtensor, AdvancedSubtensor)):
        raise TypeError(f"{verb}'s first argument must be the result of indexing a tensor, as "
                        f"in {verb}(x[2:], y); got {x!r}")
    return node


def inc_subtensor(x, y, set_instead_of_inc=False):
    """A copy of the tensor that ``x`` indexes, with the part ``x`` increased by ``y``.

    ``x`` is the result of indexing, e.g. ``inc_subtensor(a[idx], y)``
    returns ``a`` with ``y`` added at ``idx``.  Repeated advanced indices
    accumulate (``np.add.at``).  ``y`` broadcasts to the indexed shape along
    its axes of static length 1 (and is left-padded when it has fewer dims).

    >>> import nnframe.tensor as T
    >>> a = T.dvector('a')
    >>> T.inc_subtensor(a[[0, 0, 2]], 1.0).eval({a: [0., 0., 0.]})
    array([2., 0., 1.])
    """
    verb = "set_subtensor" if set_instead_of_inc else "inc_subtensor"
    node = _indexing_node(x, verb)
    op_class = IncSubtensor if isinstance(node.op, Subtensor) else AdvancedIncSubtensor
    return op_class(node.op.idx_list, set_instead_of_inc)(node.inputs[0], y, *node.inputs[1:])


def set_subtensor(x, y):
    """A copy of the tensor that ``x`` indexes, with the part ``x`` replaced by ``y``.

    ``set_subtensor(a[1:], 0)`` is NumPy's ``b = a.copy(); b[1:] = 0``.  With
    repeated advanced indices the last one wins, as in NumPy.

    >>> import nnframe.tensor as T
    >>> a = T.dvector('a')
    >>> T.set_subtensor(a[1:], 7.0).eval({a: [1., 2., 3.]})
    array([1., 7., 7.])
    """
    return inc_subtensor(x, y, set_instead_of_inc=True)


def take(a, indices, axis=None):
    """``np.take``: entries of ``a`` at ``indices`` along ``axis`` (of flattened ``a`` if None).

    >>> import nnframe.tensor as T
    >>> T.take(T.dmatrix('a'), [2, 0], axis=1).type
    TensorType(float64, shape=(?, 2))
    """
    a = as_tensor_variable(a)
    if isinstance(indices, Variable):
        if indices.dtype == "bool":
            indices = E.cast(indices, "int64")  # np.take reads booleans as 0/1
    else:
        data = np.asarray(indices)
        indices = data.astype("int64") if data.dtype == bool else indices
    if axis is None:
        return subtensor(flatten(a, 1), indices)
    axis = normalize_axis(axis, a.ndim)
    return subtensor(a, (slice(None),) * axis + (indices,))
