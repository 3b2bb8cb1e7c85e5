"""Generated elementwise kernels: one kernel per Elemwise or fused Composite node.

For a node the generator writes two kernels from the scalar table
(:func:`~nnframe.backends.opencl.codegen.scalar_expr`, one statement per
fused step, each in its own dtype, exactly as
:class:`~nnframe.core.ops.scalar.Composite` evaluates on NumPy):

- a *strided* kernel over a 2-d range (innermost axis x the others):
  inputs are read through their strides, 0 along broadcast axes, so
  broadcasting, transposed and sliced inputs need no copies.  Axes that are
  contiguous in every operand are merged on the host before the launch;
- a *vectorised* kernel (``float8``/``double4``... as wide as the SIMD
  registers of the device's target, see :mod:`~nnframe.backends.opencl.target`)
  for the common case of contiguous inputs of the output's shape and
  one float dtype throughout.

Inputs known to hold one element are read once per work-item from a
buffer, or passed by value when they live on the host (a learning rate, a
``1 / n`` from shape arithmetic): no upload.  Constants of one element are
written into the kernel as exact literals.  When every input is on the host
and the result is small (shape arithmetic), the node runs on the host.

The strided kernel also serves copies and casts into views
(:func:`strided_copy`), which the shape, indexing and GEMM modules use, and,
with several outputs, groups of elementwise nodes computed together
(:class:`ElementwiseGroupCode`, see :mod:`~nnframe.backends.opencl.fusion`).
"""
import math

import numpy as np

from nnframe.backends.opencl.array import (
    SMALL,
    DeviceArray,
    device_args,
    empty,
    host_scalar,
    raw_host,
)
from nnframe.backends.opencl.codegen import (
    ctype,
    helpers_for,
    index_code,
    kernel_name,
    literal,
    scalar_expr,
    vector_access,
)
from nnframe.backends.opencl.registry import numpy_kernel, register
from nnframe.backends.opencl.scalar_forms import VECTOR_SAFE
from nnframe.backends.opencl.target import lanes, vector_bits
from nnframe.core.graph import Constant
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.scalar import SCALAR_OPS, Composite

__all__ = ["ElementwiseCode", "ElementwiseGroupCode", "strided_copy", "long8", "collapse", "pad",
           "launch_2d", "LOCAL", "chain_lines", "steps_of", "input_kinds", "input_kind",
           "scalar_kernel_args", "np_scalar"]

#: work-group size of the 1-d and 2-d elementwise launches
LOCAL = 64

#: Shape arithmetic stays on the host: when every input is there, a result of
#: one element, or of at most this many integers, is computed with NumPy.
HOST_MAX = SMALL


def on_host(values, size, dtype):
    """Whether a small result of host values is computed on the host (see HOST_MAX)."""
    if not all(raw_host(v) is not None for v in values):   # (where values are, not what)
        return False
    return size <= 1 or (size <= HOST_MAX and np.dtype(dtype).kind in "biu"
                         and all(v.dtype.kind in "biu" for v in values))


def long8(values):
    """A long8 kernel argument from up to 8 ints (padded with zeros)."""
    import pyopencl.cltypes as cltypes
    vals = list(values) + [0] * (8 - len(values))
    return np.array(tuple(vals), dtype=cltypes.long8)


def collapse(shape, strides_list):
    """Merge axes that are contiguous in every operand; drop length-1 axes.

    Returns (shape, [strides...]) with at least one axis.
    """
    dims = [(n, [s[a] for s in strides_list]) for a, n in enumerate(shape) if n != 1]
    if not dims:
        return [1], [[0] for _ in strides_list]
    merged = [dims[0]]
    for n, st in dims[1:]:
        pn, pst = merged[-1]
        if all(p == s * n for p, s in zip(pst, st)):
            merged[-1] = (pn * n, st)
        else:
            merged.append((n, st))
    return [n for n, _ in merged], [[st[k] for _, st in merged] for k in range(len(strides_list))]


def launch_2d(handle, queue, shape, ndim, args_before, args_after):
    """Launch a strided kernel decoding ``ndim`` axes over ``shape`` (collapsed, <= ndim axes).

    Shapes are padded with leading 1s to ``ndim`` axes (strides with 0s, see :func:`pad`).
    """
    inner = shape[-1]
    outer = 1
    for n in shape[:-1]:
        outer *= n
    # Wide rows: work-groups along the row; short rows: along the other axes.
    if inner >= LOCAL // 2:
        gsize = ((inner + LOCAL - 1) // LOCAL * LOCAL, outer)
        lsize = (LOCAL, 1)
    else:
        gsize = (inner, (outer + LOCAL - 1) // LOCAL * LOCAL)
        lsize = (1, LOCAL)
    return handle(queue, gsize, lsize, inner, outer, long8([1] * (ndim - len(shape)) + list(shape)),
                  *args_before, *args_after)


class ElementwiseCode:
    """The kernels of one elementwise computation (a chain of scalar-table rows).

    Parameters
    ----------
    in_dtypes : the inputs' dtypes
    steps : tuple of (row, refs), as in :class:`~nnframe.core.ops.scalar.Composite`
    value_dtypes : dtypes of the inputs then of each step's result
    kinds : per input 'array', 'scalar' (one element) or a C literal (a constant)
    ndim : the output's rank (the strided kernel decodes that many axes)
    """

    def __init__(self, builder, in_dtypes, steps, value_dtypes, kinds, ndim):
        self.ctx = builder.ctx
        self.ndim = max(int(ndim), 1)
        self.in_dtypes = [str(np.dtype(d)) for d in in_dtypes]
        self.steps = steps
        self.value_dtypes = [str(np.dtype(d)) for d in value_dtypes]
        self.out_dtype = self.value_dtypes[-1]
        self.kinds = kinds
        self.nin = len(in_dtypes)
        self.arrays = [k for k, kind in enumerate(kinds) if kind == "array"]
        self.scalars = [k for k, kind in enumerate(kinds) if kind == "scalar"]
        self.general = self._general(builder)
        self.vector = self._vector(builder) if self._vectorisable() else None

    # -- code -------------------------------------------------------------------
    def _vectorisable(self):
        out = self.out_dtype
        return (out in ("float32", "float64") and all(d == out for d in self.value_dtypes)
                and all(row.name in VECTOR_SAFE for row, _ in self.steps))

    def _body(self, names, vector):
        """Statements computing each step; returns (lines, name of the result)."""
        return chain_lines(self.steps, self.value_dtypes, names,
                           self._vtype if vector else None)

    def _vtype(self, dtype):
        return f"{ctype(dtype)}{self.width}"

    def _scalar_loads(self):
        return [f"const {ctype(self.in_dtypes[k])} v{k} = f{k} ? p{k}[o{k}] : s{k};"
                for k in self.scalars]

    def _names(self, arrays_as):
        names = []
        for k, kind in enumerate(self.kinds):
            if kind == "array":
                names.append(arrays_as(k))
            elif kind == "scalar":
                names.append(f"v{k}")
            else:
                names.append(kind)
        return names

    def _scalar_dtypes(self, array_args):
        import pyopencl.cltypes as cltypes
        dts = []
        for k in range(self.nin):
            kind = self.kinds[k]
            if kind == "array":
                dts += [None, np.int64] + ([cltypes.long8] if array_args == 3 else [])
            elif kind == "scalar":
                dts += [None, np.int64, np_scalar(self.in_dtypes[k]), np.int32]
        return dts

    def _ordered_params(self, array_param):
        params = []
        for k, kind in enumerate(self.kinds):
            if kind == "array":
                params.append(array_param(k))
            elif kind == "scalar":
                t = ctype(self.in_dtypes[k])
                params.append(f"__global const {t}* p{k}, long o{k}, {t} s{k}, int f{k}")
        return params

    def _general(self, builder):
        import pyopencl.cltypes as cltypes
        ot = ctype(self.out_dtype)
        params = ["long inner", "long outer", "long8 shape", f"__global {ot}* out", "long oo",
                  "long8 ot"]
        params += self._ordered_params(
            lambda k: f"__global const {ctype(self.in_dtypes[k])}* p{k}, long o{k}, long8 t{k}")
        operands = [("ao", "oo", "ot")] + [(f"a{k}", f"o{k}", f"t{k}") for k in self.arrays]
        lines = ["long i = get_global_id(0), o = get_global_id(1);",
                 "if (i >= inner || o >= outer) return;"]
        lines += index_code(self.ndim, operands)
        lines += self._scalar_loads()
        lines += [f"const {ctype(self.in_dtypes[k])} x{k} = p{k}[a{k}];" for k in self.arrays]
        body, result = self._body(self._names(lambda k: f"x{k}"), False)
        lines += body
        lines.append(f"out[ao] = {result};")
        return self._add(builder, "ew", params, lines,
                         [np.int64, np.int64, cltypes.long8, None, np.int64, cltypes.long8]
                         + self._scalar_dtypes(3))

    def _vector(self, builder):
        self.width = lanes(vector_bits(self.ctx), self.out_dtype)
        w = self.width
        ot = ctype(self.out_dtype)
        vt = self._vtype(self.out_dtype)
        params = ["long n", f"__global {ot}* out", "long oo"]
        params += self._ordered_params(
            lambda k: f"__global const {ctype(self.in_dtypes[k])}* p{k}, long o{k}")
        load, store = vector_access(builder, self.out_dtype, w)
        # Whole vectors only: the last n % w entries go to the strided kernel.
        lines = ["long base = get_global_id(0) * %d;" % w, "if (base + %d > n) return;" % w]
        lines += self._scalar_loads()
        names = []
        for k, kind in enumerate(self.kinds):
            if kind == "array":
                lines.append(f"const {vt} x{k} = {load(f'p{k} + o{k} + base')};")
                names.append(f"x{k}")
            else:
                src = f"v{k}" if kind == "scalar" else kind
                names.append(f"(({vt})({src}))")
        body, result = self._body(names, True)
        lines += body
        lines.append(store(result, "out + oo + base"))
        return self._add(builder, "ewv", params, lines,
                         [np.int64, None, np.int64] + self._scalar_dtypes(2))

    def _add(self, builder, prefix, params, lines, scalar_dtypes):
        text = ("__kernel void KNAME(" + ", ".join(params) + ") {\n  "
                + "\n  ".join(lines) + "\n}\n")
        for name, src in helpers_for(text).items():
            builder.helper(name, src)
        source = text.replace("KNAME", kernel_name(prefix, text))
        return builder.kernel(source, scalar_dtypes)

    # -- launches ----------------------------------------------------------------
    def run(self, out, inputs):
        """Compute into ``out`` (a DeviceArray, maybe a strided view) from ``inputs``.

        Inputs of kind 'array' must have ``out``'s rank; their length-1 axes broadcast.
        """
        n = out.size
        if n == 0:
            return out
        queue = self.ctx.queue
        arrays = [inputs[k] for k in self.arrays]
        for a in arrays:
            device_args(a)
        if (self.vector is not None and out.is_contiguous()
                and all(a.shape == out.shape and a.is_contiguous() for a in arrays)):
            args = []
            for k, kind in enumerate(self.kinds):
                if kind == "array":
                    args += [inputs[k].data, inputs[k].offset]
                elif kind == "scalar":
                    args += scalar_kernel_args(self.ctx, inputs[k])
            w = self.width
            groups = n // w
            if groups:
                self.vector(queue, ((groups + LOCAL - 1) // LOCAL * LOCAL,), (LOCAL,), n,
                            out.data, out.offset, *args)
            tail = n - groups * w
            if tail:
                self._tail(out, inputs, groups * w, tail)
            return out
        self._strided(out, inputs, arrays)
        return out

    def _tail(self, out, inputs, start, length):
        """The last ``length`` entries of contiguous same-shape operands, by the strided kernel."""
        flat = lambda a: a.view((length,), (1,), a.offset + start, None)  # noqa: E731
        inputs = [flat(v) if kind == "array" else v for v, kind in zip(inputs, self.kinds)]
        self._strided(flat(out), inputs, [v for v, kind in zip(inputs, self.kinds)
                                          if kind == "array"])

    def _strided(self, out, inputs, arrays):
        queue = self.ctx.queue
        strides = [list(out.strides)]
        for a in arrays:
            strides.append([0 if n_in == 1 else s for n_in, s in zip(a.shape, a.strides)])
        shape, strides = collapse(out.shape, strides)
        args = []
        pos = 1
        for k, kind in enumerate(self.kinds):
            if kind == "array":
                args += [inputs[k].data, inputs[k].offset, long8(pad(strides[pos], self.ndim))]
                pos += 1
            elif kind == "scalar":
                args += scalar_kernel_args(self.ctx, inputs[k])
        launch_2d(self.general, queue, shape, self.ndim,
                  [out.data, out.offset, long8(pad(strides[0], self.ndim))], args)


def chain_lines(steps, value_dtypes, names, vector_type=None, prefix="w"):
    """C statements computing each step of a chain (as in a Composite) on ``names``.

    ``names`` are C expressions of the inputs (the steps' variables are named
    ``prefix`` + step number); ``value_dtypes`` are the
    inputs' then the steps' dtypes; ``vector_type(dtype)`` gives the vector
    type when the values are vectors.  Returns (lines, name of the result).
    The elementwise kernels and the epilogues of other kernels
    (:mod:`~nnframe.backends.opencl.fusion`) share it, so a fused node computes
    exactly what its own kernel would.
    """
    lines = []
    names = list(names)
    nin = len(value_dtypes) - len(steps)
    for j, (row, refs) in enumerate(steps):
        dtype = value_dtypes[nin + j]
        expr = scalar_expr(row, [value_dtypes[r] for r in refs], dtype,
                           [names[r] for r in refs], vector_type is not None)
        t = vector_type(dtype) if vector_type is not None else ctype(dtype)
        lines.append(f"{t} {prefix}{j} = {expr};")
        names.append(f"{prefix}{j}")
    return lines, names[-1]


def pad(values, ndim):
    """Strides of collapsed axes, padded with leading zeros to ``ndim`` axes."""
    return [0] * (ndim - len(values)) + list(values)


def np_scalar(dtype):
    """The NumPy type of a by-value kernel argument of ``dtype`` (bool travels as uint8)."""
    return np.uint8 if dtype == "bool" else np.dtype(dtype).type


def scalar_kernel_args(ctx, value):
    """The four kernel arguments of a one-element input (``p, o, s, f``): by value when it
    is on the host (no upload), else its buffer and offset (``f`` = 1)."""
    if value.data is None:
        return [ctx.err, 0, host_scalar(value), 0]
    return [value.data, value.offset, 0, 1]


# -- Elemwise nodes -------------------------------------------------------------------
def steps_of(node):
    """``(input dtypes, steps, value dtypes)`` of an Elemwise node: its Composite's chain, or
    one step."""
    op = node.op.scalar_op
    if isinstance(op, Composite):
        return op.input_dtypes, op.steps, op.value_dtypes
    in_dtypes = tuple(i.dtype for i in node.inputs)
    return in_dtypes, ((op, tuple(range(len(in_dtypes)))),), in_dtypes + (node.outputs[0].dtype,)


def input_kinds(node):
    """Per input of an Elemwise node: a C literal (a one-element constant), 'scalar' (one
    element by its type) or 'array'."""
    return [input_kind(var) for var in node.inputs]


def input_kind(var):
    """How a kernel reads ``var``: as a C literal, a 'scalar' or an 'array'."""
    if isinstance(var, Constant) and var.data.size == 1:
        return literal(var.data.reshape(-1)[0], var.dtype)
    if all(n == 1 for n in var.type.shape):
        return "scalar"
    return "array"


def output_shape(node, values):
    """The broadcast shape, with the NumPy backend's error for a non-broadcastable axis."""
    shape = np.broadcast_shapes(*[v.shape for v in values])
    for k, (var, value) in enumerate(zip(node.inputs, values)):
        if value.shape == shape:
            continue
        for axis, (have, want) in enumerate(zip(value.shape, shape)):
            if have != want and var.type.shape[axis] != 1:
                raise node.op.not_broadcastable_error(
                    k, var, value.shape, f"the result has shape {shape}", axis)
    return shape


@register(Elemwise)
def elemwise_kernel(node, builder):
    in_dtypes, steps, value_dtypes = steps_of(node)
    try:
        code = ElementwiseCode(builder, in_dtypes, steps, value_dtypes, input_kinds(node),
                              node.outputs[0].ndim)
    except NotImplementedError:
        return None
    host_kernel = numpy_kernel(node)
    ctx = builder.ctx
    out_dtype = node.outputs[0].dtype

    def run(*inputs):
        shape = output_shape(node, inputs)
        size = int(math.prod(shape))
        if on_host(inputs, size, out_dtype):
            value = np.asarray(host_kernel(*[v.host for v in inputs]))
            return DeviceArray(ctx, value.shape, value.dtype, host=value)
        return code.run(empty(ctx, shape, out_dtype), inputs)
    return run


class ElementwiseGroupCode:
    """One kernel computing several Elemwise nodes of one shape (e.g. an optimizer's
    moment and parameter updates), each value once, storing the values read after it.

    ``nodes`` are in topological order; a node reads the inputs of the group
    (:attr:`inputs`: every value no node of the group computes, each once) or
    the values of earlier nodes, which stay in registers.  ``outputs`` are the
    nodes' outputs the kernel stores.  Each node's chain is the one its own
    kernel runs (:func:`chain_lines`), so the results are the same.  The kernel
    is the strided one of :class:`ElementwiseCode` with several outputs.
    """

    def __init__(self, builder, nodes, outputs):
        import pyopencl.cltypes as cltypes
        self.ctx = builder.ctx
        self.nodes = list(nodes)
        self.ndim = max(self.nodes[0].outputs[0].ndim, 1)
        computed = {id(node.outputs[0]): node for node in self.nodes}
        self.inputs = []
        for node in self.nodes:
            for var in node.inputs:
                if id(var) not in computed and all(var is not v for v in self.inputs):
                    self.inputs.append(var)
        self.kinds = [input_kind(var) for var in self.inputs]
        self.outputs = list(outputs)
        self.out_dtypes = [str(np.dtype(var.dtype)) for var in self.outputs]
        params = ["long inner", "long outer", "long8 shape", "long8 ot"]
        params += [f"__global {ctype(d)}* out{m}" for m, d in enumerate(self.out_dtypes)]
        dtypes = [np.int64, np.int64, cltypes.long8, cltypes.long8] + [None] * len(self.outputs)
        operands = [("ao", "0", "ot")]
        loads, names = [], {}
        for x, (var, kind) in enumerate(zip(self.inputs, self.kinds)):
            t = ctype(var.dtype)
            if kind == "array":
                params.append(f"__global const {t}* p{x}, long o{x}, long8 t{x}")
                dtypes += [None, np.int64, cltypes.long8]
                operands.append((f"a{x}", f"o{x}", f"t{x}"))
                loads.append(f"const {t} x{x} = p{x}[a{x}];")
                names[id(var)] = f"x{x}"
            elif kind == "scalar":
                params.append(f"__global const {t}* p{x}, long o{x}, {t} s{x}, int f{x}")
                dtypes += [None, np.int64, np_scalar(var.dtype), np.int32]
                loads.append(f"const {t} x{x} = f{x} ? p{x}[o{x}] : s{x};")
                names[id(var)] = f"x{x}"
            else:
                names[id(var)] = kind
        lines = ["long i = get_global_id(0), o = get_global_id(1);",
                 "if (i >= inner || o >= outer) return;"]
        lines += index_code(self.ndim, operands) + loads
        for j, node in enumerate(self.nodes):
            _, steps, value_dtypes = steps_of(node)
            body, names[id(node.outputs[0])] = chain_lines(
                steps, [str(np.dtype(d)) for d in value_dtypes],
                [names[id(var)] for var in node.inputs], prefix=f"n{j}w")
            lines += body
        lines += [f"out{m}[ao] = {names[id(var)]};" for m, var in enumerate(self.outputs)]
        text = ("__kernel void KNAME(" + ", ".join(params) + ") {\n  "
                + "\n  ".join(lines) + "\n}\n")
        for name, src in helpers_for(text).items():
            builder.helper(name, src)
        self.kernel = builder.kernel(text.replace("KNAME", kernel_name("ewg", text)), dtypes)

    def shape(self, values):
        """The one output shape of every node for the group's input ``values``, or None
        when the nodes' shapes differ or a node would raise (its own kernel says why)."""
        shapes = {id(var): value.shape for var, value in zip(self.inputs, values)}
        for node in self.nodes:
            try:
                shapes[id(node.outputs[0])] = output_shape(
                    node, [_Shaped(shapes[id(var)]) for var in node.inputs])
            except ValueError:
                return None
        found = {shapes[id(node.outputs[0])] for node in self.nodes}
        return found.pop() if len(found) == 1 else None

    def run(self, values, shape):
        """The group's outputs (new arrays of ``shape``) from its input ``values``."""
        outs = [empty(self.ctx, shape, dtype) for dtype in self.out_dtypes]
        if not outs[0].size:
            return outs
        arrays = [(value, kind) for value, kind in zip(values, self.kinds) if kind == "array"]
        strides = [list(outs[0].strides)]
        strides += [[0 if n == 1 else s for n, s in zip(value.shape, value.strides)]
                    for value, _ in arrays]
        merged_shape, merged = collapse(shape, strides)
        args, pos = [], 1
        for value, kind in zip(values, self.kinds):
            if kind == "array":
                buf, offset = device_args(value)
                args += [buf, offset, long8(pad(merged[pos], self.ndim))]
                pos += 1
            elif kind == "scalar":
                args += scalar_kernel_args(self.ctx, value)
        launch_2d(self.kernel, self.ctx.queue, merged_shape, self.ndim,
                  [long8(pad(merged[0], self.ndim))] + [out.data for out in outs], args)
        return outs


class _Shaped:
    """A stand-in with only a ``shape``, for :func:`output_shape`'s checks."""

    __slots__ = ("shape",)

    def __init__(self, shape):
        self.shape = shape


_IDENTITY = SCALAR_OPS["identity"]


def strided_copy(builder, in_dtype, out_dtype, ndim):
    """A function ``copy(dst, src)`` writing ``src`` (cast, broadcast) into the view ``dst``.

    ``dst`` has ``ndim`` axes; ``src`` as many or fewer (left-padded, like NumPy).
    """
    from nnframe.core.ops.scalar import Cast
    row = _IDENTITY if str(np.dtype(in_dtype)) == str(np.dtype(out_dtype)) else Cast(out_dtype)
    code = ElementwiseCode(builder, [in_dtype], ((row, (0,)),), [in_dtype, out_dtype], ["array"],
                           ndim)
    code.vector = None  # dst may be a view: always the strided kernel

    def copy(dst, src):
        if src.ndim != dst.ndim:
            src = src.view((1,) * (dst.ndim - src.ndim) + src.shape,
                           (0,) * (dst.ndim - src.ndim) + src.strides, src.offset,
                           lambda h: h.reshape((1,) * (dst.ndim - h.ndim) + h.shape))
        return code.run(dst, [src])
    return copy
