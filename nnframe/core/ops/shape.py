"""Ops that move, view or build shapes: dimshuffle, reshape, concatenate...

>>> import nnframe.tensor as T
>>> x = T.fmatrix('x')
>>> x.dimshuffle(1, 'x', 0).type
TensorType(float32, shape=(?, 1, ?))
"""
import numpy as np

from nnframe.core.graph import Apply, Constant
from nnframe.core.op import GradUndefined, Op, as_tensor_variable
from nnframe.core.types import TensorType, is_discrete, is_float, upcast

__all__ = ["DimShuffle", "Reshape", "Shape", "ShapeI", "MakeVector", "Join", "Split",
           "Alloc", "ARange", "SpecifyShape", "dimshuffle", "transpose", "reshape",
           "flatten", "shape", "shape_i", "make_vector", "concatenate", "stack",
           "split", "alloc", "zeros", "ones", "full", "arange", "specify_shape",
           "addbroadcast", "unbroadcast", "squeeze", "expand_dims"]


def normalize_axis(axis, ndim, what="axis"):
    """``axis`` as a non-negative int, or a clear IndexError."""
    axis = int(axis)
    if not -ndim <= axis < max(ndim, 1):
        raise IndexError(f"{what} {axis} is out of range for a tensor of {ndim} dimension(s)")
    return axis % ndim if ndim else 0


class DimShuffle(Op):
    """Permute axes, insert broadcastable axes ('x') and drop broadcastable ones.

    ``new_order`` lists, for each output axis, an input axis or 'x'.  Input
    axes not listed are dropped; they must be broadcastable (static length 1).
    The output is a view of the input.
    """

    __props__ = ("input_ndim", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_ndim, new_order):
        self.input_ndim = int(input_ndim)
        self.new_order = tuple(o if o == "x" else int(o) for o in new_order)
        kept = [o for o in self.new_order if o != "x"]
        if len(set(kept)) != len(kept) or any(not 0 <= o < self.input_ndim for o in kept):
            raise ValueError(f"dimshuffle pattern {self.new_order} is not valid for a "
                             f"{self.input_ndim}-d tensor (axes must be distinct, in range)")
        self.dropped = tuple(a for a in range(self.input_ndim) if a not in kept)

    def __str__(self):
        return f"DimShuffle{{{','.join(map(str, self.new_order))}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"{self} expects a {self.input_ndim}-d input, got {x.type}")
        for a in self.dropped:
            if x.type.shape[a] != 1:
                raise ValueError(f"dimshuffle {self.new_order} drops axis {a} of {x.type}, "
                                 f"which is not broadcastable (static length 1)")
        shape = tuple(1 if o == "x" else x.type.shape[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)])

    def infer_shape(self, node, input_shapes):
        (s,) = input_shapes
        return [tuple(1 if o == "x" else s[o] for o in self.new_order)]

    def L_op(self, inputs, outputs, output_grads):
        (x,), (g,) = inputs, output_grads
        if is_discrete(x.dtype):
            return [None]
        inserted = [i for i, o in enumerate(self.new_order) if o == "x"]
        loose = [i for i in inserted if g.type.shape[i] != 1]
        if loose:
            from nnframe.core.ops.reduce import sum as sum_
            g = sum_(g, axis=loose, keepdims=True)
        back = [self.new_order.index(a) if a in self.new_order else "x"
                for a in range(self.input_ndim)]
        return [dimshuffle(g, back)]


def dimshuffle(x, pattern):
    """``x`` with axes rearranged by ``pattern`` (ints and 'x'), see :class:`DimShuffle`."""
    x = as_tensor_variable(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, pattern)(x)


def transpose(x, axes=None):
    """Axes reversed, or permuted by ``axes`` (NumPy's ``transpose``)."""
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(reversed(range(x.ndim)))
    axes = tuple(normalize_axis(a, x.ndim) for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose axes {axes} are not a permutation of {x.ndim} axes")
    return dimshuffle(x, axes)


def squeeze(x, axis=None):
    """``x`` without its broadcastable (static length 1) axes, or the given ones."""
    x = as_tensor_variable(x)
    if axis is None:
        drop = [a for a, n in enumerate(x.type.shape) if n == 1]
    else:
        drop = [normalize_axis(a, x.ndim) for a in np.atleast_1d(axis)]
        for a in drop:
            if x.type.shape[a] != 1:
                x = specify_shape(x, tuple(1 if i == a else n for i, n in enumerate(x.type.shape)))
    return dimshuffle(x, [a for a in range(x.ndim) if a not in drop])


def expand_dims(x, axis):
    """``x`` with a new broadcastable axis at position ``axis``."""
    x = as_tensor_variable(x)
    axis = normalize_axis(axis, x.ndim + 1)
    pattern = list(range(x.ndim))
    pattern.insert(axis, "x")
    return dimshuffle(x, pattern)


class Shape(Op):
    """The shape of a tensor, as an int64 vector."""

    __props__ = ()
    # The shape does not depend on the values: no (zero) gradient flows back.
    zero_grad_through_discrete = False

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))])

    def infer_shape(self, node, input_shapes):
        return [(node.inputs[0].ndim,)]

    def L_op(self, inputs, outputs, output_grads):
        return [None]


class ShapeI(Op):
    """The length of axis ``i`` of a tensor, as an int64 scalar."""

    __props__ = ("i",)
    zero_grad_through_discrete = False

    def __init__(self, i):
        self.i = int(i)

    def __str__(self):
        return f"Shape_i{{{self.i}}}"

    def make_node(self, x):
        x = as_tensor_variable(x)
        if not 0 <= self.i < x.ndim:
            raise IndexError(f"Shape_i{{{self.i}}} of a {x.ndim}-d tensor")
        return Apply(self, [x], [TensorType("int64", ())])

    def infer_shape(self, node, input_shapes):
        return [()]

    def L_op(self, inputs, outputs, output_grads):
        return [None]


def shape(x):
    """The symbolic shape of ``x`` (an int64 vector); ``x.shape`` calls this."""
    return Shape()(as_tensor_variable(x))


def shape_i(x, i):
    """Length of axis ``i`` of ``x``: a constant when the type knows it."""
    from nnframe.core.variable import constant
    x = as_tensor_variable(x)
    i = normalize_axis(i, x.ndim)
    if x.type.shape[i] is not None:
        return constant(x.type.shape[i], dtype="int64")
    if isinstance(x, Constant):
        return constant(x.data.shape[i], dtype="int64")
    return ShapeI(i)(x)


class MakeVector(Op):
    """A vector built from scalars."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, *scalars):
        from nnframe.core.ops.elemwise import cast
        scalars = [as_tensor_variable(s) for s in scalars]
        for i, s in enumerate(scalars):
            if s.ndim != 0:
                raise TypeError(f"make_vector: element {i} is {s.type}, not a scalar")
        scalars = [cast(s, self.dtype) for s in scalars]
        return Apply(self, scalars, [TensorType(self.dtype, (len(scalars),))])

    def infer_shape(self, node, input_shapes):
        return [(len(node.inputs),)]

    def L_op(self, inputs, outputs, output_grads):
        from nnframe.core.ops.elemwise import cast
        pieces = split(output_grads[0], [1] * len(inputs), 0)
        return [None if is_discrete(x.dtype) else cast(reshape(p, ()), x.dtype)
                for x, p in zip(inputs, pieces)]


def make_vector(*scalars, dtype=None):
    """``make_vector(a, b, c)``: a vector of the given scalars."""
    scalars = [as_tensor_variable(s) for s in scalars]
    if dtype is None:
        dtype = upcast(*[s.dtype for s in scalars]) if scalars else "int64"
    return MakeVector(dtype)(*scalars)


def _as_shape_vector(shape):
    """A shape given as ints, scalars or a vector, as an int64 vector Variable."""
    from nnframe.core.ops.elemwise import cast
    from nnframe.core.variable import TensorVariable, constant
    if isinstance(shape, TensorVariable):
        if shape.ndim == 0:
            shape = [shape]
        else:
            if shape.ndim != 1 or not is_discrete(shape.dtype):
                raise TypeError(f"a shape must be an integer vector, got {shape.type}")
            return cast(shape, "int64")
    if isinstance(shape, (int, np.integer)):
        shape = [shape]
    entries = list(shape)
    if all(isinstance(e, (int, np.integer)) for e in entries):
        return constant(np.asarray(entries, dtype="int64").reshape(len(entries)))
    for i, e in enumerate(entries):
        e = as_tensor_variable(e)
        if e.ndim != 0 or not is_discrete(e.dtype):
            raise TypeError(f"shape entry {i} must be an integer scalar, got {e.type}")
    return make_vector(*entries, dtype="int64")


def _static_entries(vec):
    """Entries of a shape vector known at build time (None where unknown)."""
    if isinstance(vec, Constant):
        return [int(v) for v in vec.data]
    if vec.owner is not None and isinstance(vec.owner.op, MakeVector):
        return [int(i.data) if isinstance(i, Constant) else None for i in vec.owner.inputs]
    return [None] * (vec.type.shape[0] or 0)


class Reshape(Op):
    """``x`` with a new shape (an int64 vector; one entry may be -1)."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim):
        self.ndim = int(ndim)

    def make_node(self, x, shp):
        x = as_tensor_variable(x)
        shp = _as_shape_vector(shp)
        if shp.type.shape[0] is not None and shp.type.shape[0] != self.ndim:
            raise ValueError(f"reshape to {self.ndim} dims got a shape of length {shp.type.shape[0]}")
        static = _static_entries(shp) or [None] * self.ndim
        shape = tuple(n if n is not None and n >= 0 else None for n in static)
        if x.type.shape and all(n is not None for n in x.type.shape):
            known = [n for n in static if n is not None and n >= 0]
            if len(known) == self.ndim and int(np.prod(known)) != int(np.prod(x.type.shape)):
                raise ValueError(f"cannot reshape {x.type} to {tuple(static)}")
        return Apply(self, [x, shp], [TensorType(x.dtype, shape)])

    def infer_shape(self, node, input_shapes):
        from nnframe.core.ops import elemwise as E
        from nnframe.core.ops.reduce import prod
        x, shp = node.inputs
        size = prod(make_vector(*input_shapes[0], dtype="int64")) if x.ndim else 1
        entries = [shp[i] for i in range(self.ndim)]
        known = -prod(shp)
        return [tuple(E.switch(E.lt(e, 0), size // known, e) for e in entries)]

    def L_op(self, inputs, outputs, output_grads):
        x, _ = inputs
        if is_discrete(x.dtype):
            return [None, None]
        return [reshape(output_grads[0], shape(x)), None]

    @staticmethod
    def size_error(x_shape, shape):
        """The ValueError for reshaping a value of ``x_shape`` into the impossible ``shape``.

        Backends raise it where their reshape fails (NumPy's ``reshape`` decides).
        """
        size = int(np.prod(x_shape))
        return ValueError(f"cannot reshape an array of shape {tuple(x_shape)} (size {size}) "
                          f"into shape {tuple(shape)}")


def reshape(x, shape, ndim=None):
    """``x`` reshaped to ``shape`` (ints, scalars or an int vector; -1 allowed once)."""
    x = as_tensor_variable(x)
    vec = _as_shape_vector(shape)
    if ndim is None:
        ndim = vec.type.shape[0]
        if ndim is None:
            raise ValueError("reshape: the length of a symbolic shape vector is unknown; "
                             "pass ndim=")
    return Reshape(ndim)(x, vec)


def flatten(x, ndim=1):
    """``x`` with its trailing axes collapsed so that it has ``ndim`` axes."""
    x = as_tensor_variable(x)
    if not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten(ndim={ndim}) of a {x.ndim}-d tensor")
    if ndim == x.ndim:
        return x
    return reshape(x, [shape_i(x, i) for i in range(ndim - 1)] + [-1])


class Join(Op):
    """Concatenation of tensors along ``axis``."""

    __props__ = ("axis",)

    def __init__(self, axis):
        self.axis = int(axis)

    def make_node(self, *tensors):
        from nnframe.core.ops.elemwise import cast
        tensors = [as_tensor_variable(t) for t in tensors]
        if not tensors:
            raise ValueError("concatenate needs at least one tensor")
        ndim = tensors[0].ndim
        for i, t in enumerate(tensors):
            if t.ndim != ndim:
                raise TypeError(f"concatenate: tensor {i} has {t.ndim} dims, tensor 0 has {ndim}")
        if not 0 <= self.axis < ndim:
            raise IndexError(f"concatenate axis {self.axis} for {ndim}-d tensors")
        dtype = upcast(*[t.dtype for t in tensors])
        tensors = [cast(t, dtype) for t in tensors]
        shape = []
        for a in range(ndim):
            lengths = [t.type.shape[a] for t in tensors]
            if a == self.axis:
                shape.append(sum(lengths) if None not in lengths else None)
            else:
                known = {n for n in lengths if n is not None}
                if len(known) > 1:
                    raise ValueError(f"concatenate: static lengths {sorted(known)} differ on "
                                     f"axis {a}")
                shape.append(known.pop() if known else None)
        return Apply(self, tensors, [TensorType(dtype, tuple(shape))])

    def infer_shape(self, node, input_shapes):
        out = list(input_shapes[0])
        total = input_shapes[0][self.axis]
        for s in input_shapes[1:]:
            total = total + s[self.axis]
        out[self.axis] = total
        return [tuple(out)]

    def L_op(self, inputs, outputs, output_grads):
        (g,) = output_grads
        if is_discrete(outputs[0].dtype):
            return [None] * len(inputs)
        if len(inputs) == 1:
            return [g]
        sizes = [shape_i(t, self.axis) for t in inputs]
        return split(g, sizes, self.axis)

    def shapes_error(self, shapes, reason):
        """The ValueError for joining values of ``shapes``; ``reason`` says what is wrong."""
        return ValueError(f"concatenate along axis {self.axis} of shapes {shapes}: {reason}")

    def check_shapes(self, shapes):
        """Raise ValueError unless ``shapes`` agree on every axis but ``axis``.

        For backends whose copies do not check; it says what NumPy's ``concatenate``
        says (the NumPy backend lets it check and passes its message to :meth:`shapes_error`).
        """
        for s in shapes[1:]:
            if any(a != self.axis and n != m for a, (n, m) in enumerate(zip(s, shapes[0]))):
                raise self.shapes_error(shapes, "all the input array dimensions except for "
                                        "the concatenation axis must match exactly")


def concatenate(tensors, axis=0):
    """Join ``tensors`` along an existing ``axis`` (``np.concatenate``)."""
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("concatenate needs at least one tensor")
    return Join(normalize_axis(axis, tensors[0].ndim))(*tensors)


def stack(tensors, axis=0):
    """Join ``tensors`` along a new ``axis`` (``np.stack``)."""
    tensors = [as_tensor_variable(t) for t in tensors]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    axis = normalize_axis(axis, tensors[0].ndim + 1)
    if all(t.ndim == 0 for t in tensors):
        return make_vector(*tensors)
    return Join(axis)(*[expand_dims(t, axis) for t in tensors])


class Split(Op):
    """``x`` cut along ``axis`` into ``n_splits`` pieces of the given lengths."""

    __props__ = ("n_splits", "axis")

    def __init__(self, n_splits, axis):
        self.n_splits = int(n_splits)
        self.axis = int(axis)
        # np.split returns views of the input
        self.view_map = {k: [0] for k in range(self.n_splits)}

    def make_node(self, x, sizes):
        x = as_tensor_variable(x)
        sizes = _as_shape_vector(sizes)
        static = _static_entries(sizes)
        outs = []
        for k in range(self.n_splits):
            shape = list(x.type.shape)
            shape[self.axis] = static[k] if k < len(static) else None
            outs.append(TensorType(x.dtype, tuple(shape)))
        return Apply(self, [x, sizes], outs)

    def infer_shape(self, node, input_shapes):
        sizes = node.inputs[1]
        return [tuple(sizes[k] if a == self.axis else n for a, n in enumerate(input_shapes[0]))
                for k in range(self.n_splits)]

    def L_op(self, inputs, outputs, output_grads):
        from nnframe.core.ops.elemwise import zeros_like
        x, _ = inputs
        if is_discrete(x.dtype):
            return [None, None]
        grads = [zeros_like(o) if g is None else g for o, g in zip(outputs, output_grads)]
        return [Join(self.axis)(*grads), None]

    def check_sizes(self, sizes, x_shape):
        """Raise ValueError unless ``sizes`` (an int array) cut ``axis`` of ``x_shape`` exactly.

        Only the values tell (the lengths are an input), so backends call this per call.
        """
        if sizes.sum() != x_shape[self.axis] or (sizes < 0).any():
            raise ValueError(f"split lengths {sizes.tolist()} do not add up to the length "
                             f"{x_shape[self.axis]} of axis {self.axis} of an array of shape "
                             f"{x_shape}")


def split(x, sizes, axis=0):
    """The pieces of ``x`` along ``axis`` with lengths ``sizes`` (a list of outputs)."""
    x = as_tensor_variable(x)
    axis = normalize_axis(axis, x.ndim)
    n = len(sizes) if isinstance(sizes, (list, tuple)) else sizes.type.shape[0]
    outs = Split(n, axis)(x, sizes)
    return outs if isinstance(outs, list) else [outs]


class Alloc(Op):
    """A new tensor of the given shape filled with (a broadcast of) ``value``."""

    __props__ = ()

    def make_node(self, value, *shape):
        value = as_tensor_variable(value)
        dims = []
        static = []
        for i, s in enumerate(shape):
            s = as_tensor_variable(int(s) if isinstance(s, np.integer) else s)
            if s.ndim != 0 or not is_discrete(s.dtype):
                raise TypeError(f"alloc: shape entry {i} must be an integer scalar, got {s.type}")
            dims.append(s)
            static.append(int(s.data) if isinstance(s, Constant) else None)
        if value.ndim > len(dims):
            raise ValueError(f"alloc: value of {value.ndim} dims does not fit shape of {len(dims)}")
        offset = len(dims) - value.ndim
        for a, n in enumerate(value.type.shape):
            if n is not None and n != 1 and static[offset + a] is None:
                static[offset + a] = n
        return Apply(self, [value] + dims, [TensorType(value.dtype, tuple(static))])

    def infer_shape(self, node, input_shapes):
        return [tuple(node.inputs[1:])]

    def L_op(self, inputs, outputs, output_grads):
        from nnframe.core.ops.reduce import sum as sum_
        value, dims = inputs[0], inputs[1:]
        (g,) = output_grads
        if is_discrete(value.dtype):
            return [None] * len(inputs)
        offset = len(dims) - value.ndim
        if offset:
            g = sum_(g, axis=list(range(offset)))
        loose = [a for a, b in enumerate(value.broadcastable) if b and g.type.shape[a] != 1]
        if loose:
            g = sum_(g, axis=loose, keepdims=True)
        return [g] + [None] * len(dims)


def alloc(value, *shape):
    """A tensor of ``shape`` filled with ``value`` (which broadcasts to it)."""
    return Alloc()(value, *shape)


def full(shape, fill_value, dtype=None):
    """``np.full``: ``shape`` (ints or scalars) filled with ``fill_value``."""
    from nnframe.config import config
    from nnframe.core.variable import constant
    if isinstance(shape, (int, np.integer)) or getattr(shape, "ndim", None) == 0:
        shape = [shape]
    if dtype is None:
        dtype = config.floatX if isinstance(fill_value, float) else None
    value = constant(fill_value, dtype=dtype) if not hasattr(fill_value, "type") else fill_value
    return alloc(value, *shape)


def zeros(shape, dtype=None):
    """``np.zeros`` of a (possibly symbolic) shape; dtype defaults to floatX."""
    from nnframe.config import config
    return full(shape, 0, dtype or config.floatX)


def ones(shape, dtype=None):
    """``np.ones`` of a (possibly symbolic) shape; dtype defaults to floatX."""
    from nnframe.config import config
    return full(shape, 1, dtype or config.floatX)


class ARange(Op):
    """``np.arange(start, stop, step)`` with symbolic scalar bounds."""

    __props__ = ("dtype",)

    def __init__(self, dtype):
        self.dtype = str(np.dtype(dtype))

    def make_node(self, start, stop, step):
        bounds = [as_tensor_variable(b) for b in (start, stop, step)]
        for name, b in zip(("start", "stop", "step"), bounds):
            if b.ndim != 0:
                raise TypeError(f"arange {name} must be a scalar, got {b.type}")
        length = None
        if all(isinstance(b, Constant) for b in bounds):
            length = len(np.arange(*[b.data.item() for b in bounds]))
        return Apply(self, bounds, [TensorType(self.dtype, (length,))])

    def infer_shape(self, node, input_shapes):
        from nnframe.core.ops import elemwise as E
        start, stop, step = node.inputs
        if all(is_discrete(b.dtype) for b in node.inputs):
            n = E.int_div(stop - start + step - E.sgn(step), step)
        else:
            n = E.ceil(E.true_div(stop - start, step))
        return [(E.maximum(E.cast(n, "int64"), 0),)]

    def L_op(self, inputs, outputs, output_grads):
        return [None if is_discrete(b.dtype) else
                GradUndefined("arange is not differentiable w.r.t. its bounds")
                for b in inputs]


def arange(start, stop=None, step=1, dtype=None):
    """``np.arange`` with symbolic bounds: ``T.arange(n)``, ``T.arange(a, b, 2)``."""
    if stop is None:
        start, stop = 0, start
    bounds = [as_tensor_variable(b) for b in (start, stop, step)]
    if dtype is None:
        dtype = upcast(*[b.dtype for b in bounds if not getattr(b, "weak", False)] or ["int64"])
        if any(getattr(b, "weak", False) and is_float(b.dtype) for b in bounds):
            dtype = upcast(dtype, bounds[0].dtype if is_float(bounds[0].dtype) else "float64")
    return ARange(dtype)(*bounds)


class SpecifyShape(Op):
    """``x`` unchanged, with the static shape ``shape``; checked at run time."""

    __props__ = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape):
        self.shape = tuple(None if s is None else int(s) for s in shape)

    def make_node(self, x):
        x = as_tensor_variable(x)
        if len(self.shape) != x.ndim:
            raise TypeError(f"specify_shape: {len(self.shape)} lengths for {x.type}")
        for a, (want, have) in enumerate(zip(self.shape, x.type.shape)):
            if want is not None and have is not None and want != have:
                raise ValueError(f"specify_shape: axis {a} of {x.type} cannot have length {want}")
        return Apply(self, [x], [TensorType(x.dtype, self.shape)])

    def infer_shape(self, node, input_shapes):
        return [tuple(s if s is not None else i for s, i in zip(self.shape, input_shapes[0]))]

    def L_op(self, inputs, outputs, output_grads):
        x, g = inputs[0], output_grads[0]
        if is_discrete(x.dtype):
            return [None]
        return [g if x.type.is_super(g.type) else specify_shape(g, x.type.shape)]

    def check_value_shape(self, value_shape):
        """Raise ValueError unless ``value_shape`` has the declared lengths (the run-time check)."""
        for w, n in zip(self.shape, value_shape):  # a loop, not any(...): no generator per call
            if w is not None and w != n:
                raise ValueError(f"specify_shape: value of shape {value_shape} does not have "
                                 f"the declared static shape {self.shape}")


def specify_shape(x, shape):
    """``x`` with static lengths ``shape`` (None = any), checked when the function runs."""
    x = as_tensor_variable(x)
    shape = tuple(shape)
    if shape == x.type.shape:
        return x
    return SpecifyShape(shape)(x)


def addbroadcast(x, *axes):
    """``x`` with ``axes`` made broadcastable (their length must be 1 at run time)."""
    x = as_tensor_variable(x)
    axes = {normalize_axis(a, x.ndim) for a in axes}
    return specify_shape(x, tuple(1 if a in axes else n for a, n in enumerate(x.type.shape)))


def unbroadcast(x, *axes):
    """``x`` with ``axes`` no longer broadcastable."""
    x = as_tensor_variable(x)
    axes = {normalize_axis(a, x.ndim) for a in axes}
    return specify_shape(x, tuple(None if a in axes and n == 1 else n
                                  for a, n in enumerate(x.type.shape)))
