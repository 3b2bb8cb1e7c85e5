"""A compiled segment as a kernel: its buffers, its plans, its call.

:class:`SegmentKernel` numbers the tuple slots of a finished
:class:`~nnframe.backends.native.segment.SegmentSource`, compiles its C, and
writes the Python wrapper that link() calls::

    def run(a0, a1):                          # the segment's inputs
        if type(a0) is not _nd or a0.dtype is not _d0 or not a0.flags.c_contiguous:
            a0 = _conv(a0, _d0)               # C reads contiguous arrays of the type's dtype
        ...
        plan = _plans.get((a0.shape, a1.shape)) or _make_plan((a0, a1))
        f0 = _empty(plan.fresh[0], _fd0)      # values that outlive the call
        items = plan.fixed + (a0, a1, f0)
        code = _call(items)                   # ONE ctypes call runs every node
        if code: _fail(code, items)
        return (f0, items[5])

A :class:`Plan` is made once per combination of input shapes: a dry run of
the segment's NumPy kernels on the inputs gives every value's shape (and
raises the NumPy backend's own error for shapes that do not fit), the
values of shape arithmetic, and each view's offset and strides (the view's
NumPy kernel applied to a stand-in array of its base's layout).  The plan
holds ``meta`` (every length, stride and offset the C reads) and the
workspace.
"""
import ctypes

import numpy as np

from nnframe.backends.native import sgemm
from nnframe.core.ops.blas import Dot, Gemm

__all__ = ["SegmentKernel", "Plan"]

#: plans kept per segment; past this, the oldest is dropped (shapes that keep changing)
MAX_PLANS = 64


class Plan:
    """The buffers and geometry of one segment for one combination of input shapes."""

    __slots__ = ("fixed", "fresh", "values")

    def __init__(self, fixed, fresh, values):
        self.fixed = fixed        # (meta, err, consts..., plan values..., workspace..., scratch...)
        self.fresh = fresh        # shape of each array allocated per call
        self.values = values      # plan values by Value.index


class _Geometry:
    """Shapes and strides (elements) of the values while a plan is made; what plan_int sees."""

    def __init__(self, env):
        self.env = env            # id(var) -> dry-run array
        self.layout = {}          # Value.index -> (offset, shape, strides)

    def shape(self, var):
        return self.env[id(var)].shape

    def value(self, var):
        return self.env[id(var)]


def _contiguous(value, dtype):
    """``value`` as a C-contiguous array of ``dtype`` (0-d stays 0-d; no copy when it is one)."""
    return np.asarray(value, dtype=dtype, order="C")


def _contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(strides))


def _check_type(var, value):
    """TypeError unless ``value``'s rank and lengths fit ``var``'s type.

    The function checks its arguments, except with ``trust_input=True``; C that
    trusted a broadcastable axis would read past a buffer, so a plan checks the
    shapes it is made for (once per shape, nothing per call).
    """
    shape = value.shape
    fits = len(shape) == var.ndim and all(
        want is None or want == got for want, got in zip(var.type.shape, shape))
    if not fits:
        raise TypeError(f"{var} of type {var.type} cannot hold a value of shape {shape} "
                        "(an argument passed with trust_input=True that does not fit its type)")


# -- the dry run -----------------------------------------------------------------------------
# A plan needs every value's shape, not its numbers: the costliest nodes get a kernel that
# checks the shapes as the NumPy kernel would and returns zeros of the output's shape (zeros,
# so that no node downstream meets garbage it would refuse).  The NumPy kernel still runs
# when the shapes do not fit, to raise the NumPy backend's own error.

def _dot_shape(node, numpy_kernel):
    dtype = node.outputs[0].dtype

    def run(x, y):
        k = 0 if y.ndim == 1 else y.ndim - 2
        if x.shape[-1:] != y.shape[k:k + 1]:
            return numpy_kernel(x, y)
        return np.zeros(x.shape[:-1] + y.shape[:k] + y.shape[k + 1:], dtype)
    return run


def _gemm_shape(node, numpy_kernel):
    check = node.op.check_shapes

    def run(z, alpha, x, y, beta):
        check(z.shape, x.shape, y.shape)
        return np.zeros(z.shape, z.dtype)
    return run


#: Op class -> ``factory(node, numpy_kernel) -> kernel`` of the dry run (others: NumPy's)
SHAPE_RUNS = {Dot: _dot_shape, Gemm: _gemm_shape}


def _dry_kernel(node, kernel_for):
    numpy_kernel = kernel_for(node)
    factory = SHAPE_RUNS.get(type(node.op))
    return numpy_kernel if factory is None else factory(node, numpy_kernel)


class SegmentKernel:
    """The kernel of one segment: ``kernel(*inputs) -> outputs``."""

    def __init__(self, seg, outputs, library_loader, blas):
        from nnframe.backends.native.layout import offsets
        from nnframe.backends.numpy import kernel_for
        self.seg = seg
        self.outputs = list(outputs)
        values = seg.order
        self.inputs = [v for v in values if v.kind == "input"]
        consts = [v for v in values if v.kind == "const"]
        plans = [v for v in values if v.kind == "plan"]
        computed = [v for v in values if v.kind == "computed" and v.alias is None]
        # reuse_output (function.py) says whether a node's buffer may be kept between calls.
        # An in-place node's buffer is the one it destroys, so its tag says nothing of a
        # buffer of its own: when the segment did not let it write in place, its result
        # gets a new array per call.
        escaping = {id(var) for node in seg.nodes for k, var in enumerate(node.outputs)
                    if not node.tag.get("reuse_output", False)
                    or k in getattr(node.op, "destroy_map", {})}
        for v in computed:
            v.fresh = id(v.var) in escaping
        workspace = [v for v in computed if not v.fresh]
        fresh = [v for v in computed if v.fresh]
        slot = 2
        for group in (consts, plans, workspace):
            for v in group:
                v.slot = slot
                slot += 1
        first_scratch_slot = slot
        slot += len(seg.scratch)
        self.first_input_slot = slot
        for group in (self.inputs, fresh):
            for v in group:
                v.slot = slot
                slot += 1
        self.consts = [_contiguous(v.var.data, v.var.dtype) for v in consts]
        self.plan_values = plans
        self.workspace = workspace
        self.fresh = fresh
        self.blas = blas
        tuple_items, array_data = offsets()
        units = seg.source(tuple_items, array_data, blas.int_type if blas else "long",
                           first_scratch_slot)
        self.source = "\n".join(units)  # to read: the translation units one after the other
        what = ", ".join(seg.comment(n) for n in seg.nodes if n is not None)[:300]
        calls_own_gemm = ("own_gemm",) in seg.meta_keys
        if calls_own_gemm:
            sgemm.start_loading()  # its compiler runs beside the segment's (first time only)
        library = library_loader(units, what)
        if calls_own_gemm:
            sgemm.address()  # waits for the loading thread: none outlives function()
        self.call = library.nnf_segment
        self.call.argtypes = [ctypes.py_object]
        self.call.restype = ctypes.c_int
        self.dry_kernels = [_dry_kernel(node, kernel_for) for node in seg.nodes]
        self.plans = {}
        destroyed = set()
        for node in seg.nodes:
            for ins in getattr(node.op, "destroy_map", {}).values():
                for j in ins:
                    value = seg.values.get(id(node.inputs[j]))
                    if value is not None:
                        destroyed.add(value.owner().index)
        self.destroyed_inputs = [k for k, v in enumerate(self.inputs) if v.index in destroyed]
        self.run = self._wrapper()

    # -- plans ------------------------------------------------------------------------
    def make_plan(self, arrays):
        """The :class:`Plan` for the shapes of ``arrays`` (the converted inputs)."""
        seg = self.seg
        for v, a in zip(self.inputs, arrays):
            _check_type(v.var, a)
        env = {}
        for k, (v, a) in enumerate(zip(self.inputs, arrays)):
            env[id(v.var)] = a.copy() if k in self.destroyed_inputs else a
        for v, data in zip([v for v in seg.order if v.kind == "const"], self.consts):
            env[id(v.var)] = data
        plan_values = {}
        with np.errstate(all="ignore"):
            for node, kernel in zip(seg.nodes, self.dry_kernels):
                args = [env[id(i)] if id(i) in env else i.data for i in node.inputs]
                try:
                    result = kernel(*args)
                except Exception as exc:
                    exc.nnframe_origin = (node, args)  # the function names it (link.py)
                    raise
                results = result if len(node.outputs) > 1 else (result,)
                for out, r in zip(node.outputs, results):
                    r = np.asarray(r)
                    value = seg.values[id(out)]
                    if value.kind == "plan":  # a copy: a later in-place kernel may overwrite r
                        plan_values[value.index] = np.array(r, order="C", copy=True)
                    env[id(out)] = r
        geo = _Geometry(env)
        for v in seg.order:
            self._layout(v, geo)
        meta = np.zeros(max(len(seg.meta_keys) + len(seg.plan_ints), 1), np.int64)
        for key, index in seg.meta_keys.items():
            meta[index] = self._meta_entry(key, geo)
        for index, fn in seg.plan_ints:
            meta[index] = int(fn(geo))
        err = np.zeros(8, np.int64)
        workspace = [np.empty(env[id(v.var)].shape, v.var.dtype) for v in self.workspace]
        scratch = [np.empty(max(int(fn(geo)), 1), np.uint8) for fn in seg.scratch]
        fixed = (meta, err, *self.consts, *[plan_values[v.index] for v in self.plan_values],
                 *workspace, *scratch)
        fresh = [env[id(v.var)].shape for v in self.fresh]
        plan = Plan(fixed, fresh, plan_values)
        if len(self.plans) >= MAX_PLANS:
            self.plans.pop(next(iter(self.plans)))
        self.plans[tuple(a.shape for a in arrays)] = plan
        return plan

    def _layout(self, v, geo):
        """``(offset, shape, strides)`` of ``v`` in elements of its buffer (kept in ``geo``)."""
        if v.index not in geo.layout:
            geo.layout[v.index] = self._find_layout(v, geo)
        return geo.layout[v.index]

    def _find_layout(self, v, geo):
        if v.alias is not None:
            return self._layout(v.alias, geo)
        shape = geo.shape(v.var)
        if v.kind != "view":
            return 0, shape, _contiguous_strides(shape)
        base_offset, base_shape, base_strides = self._layout(v.base, geo)
        item = np.dtype(v.var.dtype).itemsize
        stand_in = np.lib.stride_tricks.as_strided(
            np.zeros(1, v.base.var.dtype), base_shape, [s * item for s in base_strides])
        node = v.view_node
        args = [stand_in] + [geo.value(i) if id(i) in geo.env else i.data
                             for i in node.inputs[1:]]
        from nnframe.backends.numpy import kernel_for
        view = np.asarray(kernel_for(node)(*args))
        start = stand_in.__array_interface__["data"][0]
        moved = view.__array_interface__["data"][0] - start
        if view.size == 0:  # no element is read: any layout will do
            return base_offset, view.shape, _contiguous_strides(view.shape)
        if not np.may_share_memory(view, stand_in) or moved % item or any(
                s % item for s in view.strides):
            raise RuntimeError(f"nnframe native backend: {node.op} did not give a view of its "
                               "input; please report this")
        return (base_offset + moved // item, view.shape, tuple(s // item for s in view.strides))

    def _meta_entry(self, key, geo):
        kind = key[0]
        if kind == "gemm":
            return self.blas.address(key[1])
        if kind == "own_gemm":
            return sgemm.address()
        offset, shape, strides = geo.layout[key[1]]
        if kind == "dim":
            return shape[key[2]]
        if kind == "stride":
            return strides[key[2]]
        if kind == "size":
            return int(np.prod(shape, dtype=np.int64))
        if kind == "offset":
            return offset
        raise KeyError(key)

    # -- the call -----------------------------------------------------------------------
    def fail(self, code, items):
        message, node, error = self.seg.failures[code - 1]
        details = [int(d) for d in items[1]]
        exc = error(message.format(*details))
        exc.nnframe_origin = (node, None)  # the function names it (link.py)
        raise exc

    def _wrapper(self):
        """The Python function link() calls (see the module docstring)."""
        ns = {"_nd": np.ndarray, "_conv": _contiguous, "_empty": np.empty,
              "_plans": self.plans, "_make_plan": self.make_plan, "_call": self.call,
              "_fail": self.fail}
        args = [f"a{k}" for k in range(len(self.inputs))]
        lines = [f"def run({', '.join(args)}):"]
        for k, v in enumerate(self.inputs):
            ns[f"_d{k}"] = np.dtype(v.var.dtype)
            lines.append(f"    if type(a{k}) is not _nd or a{k}.dtype is not _d{k} or "
                         f"not a{k}.flags.c_contiguous: a{k} = _conv(a{k}, _d{k})")
        key = "(" + "".join(f"a{k}.shape, " for k in range(len(args))) + ")"
        lines.append(f"    plan = _plans.get({key})")
        lines.append(f"    if plan is None: plan = _make_plan(({''.join(a + ', ' for a in args)}))")
        fresh = []
        for k, v in enumerate(self.fresh):
            ns[f"_fd{k}"] = np.dtype(v.var.dtype)
            lines.append(f"    f{k} = _empty(plan.fresh[{k}], _fd{k})")
            fresh.append(f"f{k}")
        lines.append(f"    items = plan.fixed + ({''.join(x + ', ' for x in args + fresh)})")
        lines.append("    code = _call(items)")
        lines.append("    if code: _fail(code, items)")
        exprs = [self._expression(var, ns) for var in self.outputs]
        if len(exprs) == 1:
            lines.append(f"    return {exprs[0]}")
        else:
            lines.append(f"    return ({', '.join(exprs)})")
        source = "\n".join(lines) + "\n"
        exec(compile(source, "<nnframe-native-segment>", "exec"), ns)
        run = ns["run"]
        run.source = source
        run.segment = self  # the C source and plans, for tests and the curious
        return run

    def _expression(self, var, ns):
        """Python expression of ``var``'s value after the call, inside run()."""
        from nnframe.backends.numpy import kernel_for
        v = self.seg.values[id(var)]
        if v.kind == "plan":
            return f"plan.values[{v.index}].copy()"
        if v.kind == "view":
            name = f"_view{v.index}"
            ns[name] = kernel_for(v.view_node)
            args = [self._expression(i, ns) if id(i) in self.seg.values
                    and self.seg.values[id(i)].kind != "const" else self._constant(i, ns)
                    for i in v.view_node.inputs]
            return f"{name}({', '.join(args)})"
        if v.kind == "const":
            return self._constant(var, ns)
        if v.kind == "input":
            return f"a{self.inputs.index(v)}"
        if v.alias is not None:  # written into the value it destroys (which may be a view)
            return self._expression(v.alias.var, ns)
        if v.fresh:
            return f"f{self.fresh.index(v)}"
        return f"items[{v.slot}]"

    @staticmethod
    def _constant(var, ns):
        name = f"_c{len(ns)}"
        ns[name] = var.data
        return name
