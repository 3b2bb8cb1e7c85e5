"""Launch plans: a call of an OpenCL function replayed as its kernel launches, without
running each node's Python again.

A call of a linked function runs every group's Python: it looks at its inputs' shapes
and strides, allocates outputs, packs geometry arguments and launches its kernels.
For a W1 training step that is ~1,300 Python calls (~0.7 ms of host time), while
launching its 15 kernels costs ~30 us.  Almost all of it depends only on the inputs'
shapes, so it is done once and replayed, as tinygrad's JIT and CUDA graphs do:

1. The first call with given input geometry (shapes, dtypes, strides and where each
   value lives, of the inputs and the shared variables: the *signature*) runs as usual.
2. The next two are *captured*: the groups run as usual, and a :class:`GroupRecorder`
   notes what each one does through the backend's hooks (``ctx.allocate``, uploads,
   ``KernelHandle`` launches, ``host_scalar``, blocking waits) and which inputs'
   host values it reads.
3. Each group then becomes one of:

   * **replayed**: its allocations, uploads and launches, with every buffer argument
     traced to one of its inputs, its own allocations or a buffer the function holds
     (constants, the error flag), and every by-value scalar taken from an input's host
     copy (a learning rate) read again at each call;
   * **static**: host-only results computed from shapes alone (``Shape_i``, ``1/n``),
     reused as they are;
   * **live**: everything else runs its Python at every call, as before: a group
     that read data on the host (labels checked against the number of classes, a
     host fallback, a branch condition, a random generator's state), waited for the
     device, or did something the recorder could not trace.

   A group whose two captures differ (hidden state) is live too.
4. The plan is written as straight-line Python (like :mod:`nnframe.core.link`), kept
   per signature, and later calls with that signature run it.

Replaying is safe to abandon halfway: kernels only ever write new arrays (see
docs/opencl.md), so if a live group's result does not have the geometry the plan was
built for, the call starts again without the plan and the signature is not planned
again.  Profiled and debug functions are not planned (they time or check each node);
``config.opencl_replay = False`` (read when a function is compiled) turns plans off.

>>> step(X, y); step(X, y); step(X, y)        # doctest: +SKIP
>>> step.maker.linked.run.stats                # doctest: +SKIP
{'plain': 1, 'captured': 2, 'replayed': 0, 'plans': 1, ...}
"""
import struct
from collections import Counter, OrderedDict

import numpy as np

from nnframe.backends.opencl.array import (
    TRANSFERS,
    DeviceArray,
    device_args,
    host_scalar,
    to_native,
)
from nnframe.backends.opencl.record import GroupRecorder, Watched, agree, geometry

__all__ = ["Replayer", "PlanMismatch"]

#: plans kept per function (the least recently used is dropped), and signatures remembered
MAX_PLANS, MAX_SIGNATURES = 8, 64
#: calls with one signature before its plan is used: one plain, two captured
CAPTURES_FROM, PLAN_FROM = 1, 3
#: every replayed call also runs plainly and must agree bit for bit (tests' --replay-verify)
VERIFY = False


#: NumPy scalar types a plan packs itself (struct's format characters are NumPy's)
_PACKED = set("?bBhHiIlLqQefd")


class PlanMismatch(Exception):
    """A live group's result does not have the geometry the plan was built for."""


class Replayer:
    """The run of an OpenCL linked function: plain calls, captures, then plans.

    Calls it like the linked run (``run(*inputs) -> (outputs, update values)``).
    ``stats`` counts the calls of each kind; :meth:`describe` says what the plan of the
    last signature does with each group, and why a group stays live.
    """

    def __init__(self, linked, backend):
        self.linked = linked
        self.backend = backend
        self.ctx = backend.ctx
        self.plain = linked.plain_run
        self.containers = [v.container for v in linked.shared_vars]
        self.plans = OrderedDict()        # signature -> plan function
        self.seen = {}                    # signature -> [calls, first capture's entries]
        self.entries = None               # the last plan's entries (for describe())
        self.stats = Counter()

    # -- dispatch ----------------------------------------------------------------------
    def __call__(self, *inputs):
        with self.ctx.lock:               # (the plain run holds it too: one call at a time)
            return self._call(inputs)

    def _call(self, inputs):
        ctx = self.ctx
        if ctx.recorder is not None:      # called by a group being captured: not planned
            return self.plain(*inputs)
        ins = [to_native(ctx, x) for x in inputs]
        shared = []
        for cell in self.containers:
            value = cell[0]
            if type(value) is not DeviceArray:
                value = cell[0] = to_native(ctx, value)
            shared.append(value)
        key = tuple(map(geometry, ins)) + tuple(map(geometry, shared))
        plan = self.plans.get(key)
        if plan is not None:
            self.plans.move_to_end(key)       # (the least recently used goes first)
            try:
                result = plan(*ins, *shared)
            except PlanMismatch:
                del self.plans[key]
                self.seen[key] = [-1, None]   # never planned again
                self.stats["mismatches"] += 1
                return self.plain(*ins)
            self.stats["replayed"] += 1
            if VERIFY:
                _verify(result, self.plain(*ins), self.linked)
            return result
        return self._learn(key, ins, shared)

    def _learn(self, key, ins, shared):
        """A call with a signature that has no plan: plain, or captured (then planned)."""
        seen = self.seen.get(key)
        if seen is None:
            if len(self.seen) >= MAX_SIGNATURES:
                self.seen.clear()
            seen = self.seen[key] = [0, None]
        calls = seen[0]
        if calls < CAPTURES_FROM or calls >= PLAN_FROM:
            if calls >= 0:
                seen[0] += 1
            self.stats["plain"] += 1
            return self.plain(*ins)
        result, entries = self._capture(ins, shared)
        self.stats["captured"] += 1
        seen[0] += 1
        if seen[1] is None:
            seen[1] = entries
            return result
        entries = [agree(a, b) for a, b in zip(seen[1], entries)]
        seen[1] = None
        self.entries = entries
        if any(e[0] == "replay" and any(a[0] == "launch" for a in e[1]) for e in entries):
            self.plans[key] = self._compile(entries)
            self.stats["plans"] += 1
            while len(self.plans) > MAX_PLANS:
                dropped, old = self.plans.popitem(last=False)
                self.seen.pop(dropped, None)      # planned again if it comes back
                self.linked.line_maps.pop(old.__code__, None)
        return result

    # -- capture -------------------------------------------------------------------------
    def _capture(self, ins, shared):
        """Run the groups as the plain run does, recording each: (result, entries)."""
        linked = self.linked
        env, roots, static = {}, {}, set()
        for k, (var, value) in enumerate(zip(linked.inputs, ins)):
            env[id(var)], roots[id(var)] = value, ("input", k)
        for k, (var, value) in enumerate(zip(linked.shared_vars, shared)):
            env[id(var)], roots[id(var)] = value, ("shared", k)
        for key, value in linked.constants.items():
            env[key], roots[key] = value, ("constant", key)
            static.add(key)
        last_use, keep = linked.last_use, linked.keep | set(linked.constants)
        entries = []
        for n, group in enumerate(linked.groups):
            args = [env[id(v)] for v in group.inputs]
            arg_roots = [roots[id(v)] for v in group.inputs]
            dynamic = [id(v) not in static for v in group.inputs]
            outs, checks, recorder = self._run_recorded(group, args, arg_roots, dynamic)
            entry = recorder.finish(outs, checks)
            if entry[0] == "live":   # the geometry its results had (checked when replaying)
                entry = entry + (tuple(geometry(o) for o in outs),)
            entries.append(entry)
            for k, (var, value) in enumerate(zip(group.outputs, outs)):
                env[id(var)] = value
                roots[id(var)] = _root_of(entry, k, n, arg_roots)
                if entry[0] == "static":
                    static.add(id(var))
            for var in list(group.inputs) + list(group.outputs):
                if last_use.get(id(var), n) <= n and id(var) not in keep:
                    env.pop(id(var), None)
        return self._result(env), entries

    def _run_recorded(self, group, args, arg_roots, dynamic):
        """Run one group with a recorder: (outputs, whether it set the error check, recorder)."""
        ctx = self.ctx
        recorder = GroupRecorder(args, arg_roots, dynamic)
        watched = {id(a): a for a, d in zip(args, dynamic)
                   if d and type(a) is DeviceArray}.values()
        # Whether the group asks for the error flag to be read: the flag's state evolves the
        # same way in a replayed call (same sets, same downloads), so a set is recorded where
        # the group finds it unset. (It is never cleared here: a download in a later group
        # of this call must still raise.)
        pending = ctx.pending_check
        try:
            for a in watched:
                a.__class__ = Watched
            ctx.recorder = recorder
            result = group.kernel(*args)
        except Exception as exc:
            if len(group.nodes) == 1 and not hasattr(exc, "nnframe_origin"):
                try:
                    exc.nnframe_origin = (group.nodes[0], args)
                except AttributeError:
                    pass
            raise
        finally:
            ctx.recorder = None
            for a in watched:
                a.__class__ = DeviceArray
        checks = ctx.pending_check and not pending
        outs = (result,) if len(group.outputs) == 1 else tuple(result)
        return outs, checks, recorder

    def _result(self, env):
        """``(outputs, update values)`` as the plain run returns them."""
        linked = self.linked
        outputs = []
        for k, var in enumerate(linked.outputs):
            value = env[id(var)]
            if k not in linked.lazy:
                value = self.backend.to_host(value)
            elif k in linked.copy_outputs:
                value = value.copy()
            outputs.append(value)
        updates = [env[id(v)].copy() if k in linked.copy_updates else env[id(v)]
                   for k, v in enumerate(linked.update_values)]
        self.backend.end_call()
        return tuple(outputs), tuple(updates)

    # -- the plan ------------------------------------------------------------------------
    def _compile(self, entries):
        """The plan of ``entries`` as a Python function of the inputs and shared values."""
        writer = _PlanWriter(self.linked, self.backend, entries)
        run, code, line_to_node = writer.write()
        self.linked.line_maps[code] = line_to_node
        self.source = writer.source
        return run

    def describe(self):
        """One line per group of the last plan: replayed, static or live (and why)."""
        if self.entries is None:
            return "no plan yet (a signature is planned at its third call)"
        lines = []
        for group, entry in zip(self.linked.groups, self.entries):
            what = group.describe()
            if entry[0] == "live":
                lines.append(f"live      {what}: {entry[1]}")
            elif entry[0] == "static":
                lines.append(f"static    {what}")
            else:
                launches = sum(a[0] == "launch" for a in entry[1])
                lines.append(f"replayed  {what}: {launches} launch(es)")
        return "\n".join(lines)


def _verify(got, want, linked):
    """Raise AssertionError unless a replayed call's results are the plain call's, bit for bit."""
    names = [f"output {k}" for k in range(len(got[0]))]
    names += [f"update {k}" for k in range(len(got[1]))]
    for name, a, b in zip(names, list(got[0]) + list(got[1]), list(want[0]) + list(want[1])):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != b.dtype or a.shape != b.shape or not np.array_equal(
                a, b, equal_nan=a.dtype.kind in "fc"):
            raise AssertionError(f"a replayed launch plan gave another {name} than the plain "
                                 f"call:\n{a!r}\n!=\n{b!r}\nplan:\n{linked.run.source}")


def _root_of(entry, k, n, arg_roots):
    """What the buffer of output ``k`` of group ``n`` comes from (two values with one root
    may share a buffer; see GroupRecorder.buffer_ref)."""
    if entry[0] == "replay":
        ref = entry[2][k]
        if ref[0] == "in":
            return arg_roots[ref[1]]
        return ("group", n, ref[1]) if ref[0] == "alloc" else ("persist", id(ref[1]))
    # A live group's result may be one of its inputs at the captures and not later (an
    # ifelse's branch): a root of its own, so that a replayed group reading both finds
    # them ambiguous and runs live.
    return ("output", n, k)


class _PlanWriter:
    """Writes a plan's entries as straight-line Python (compare nnframe.core.link).

    Values of replayed groups are plain buffers (``b3``) with a geometry known when the
    plan is written; they become DeviceArrays (``_mk``) only where a live group, an
    output or an update needs one.
    """

    def __init__(self, linked, backend, entries):
        ctx = self.ctx = backend.ctx
        self.linked, self.entries = linked, entries
        self.defaults = {"_T": TRANSFERS, "_q": ctx.queue, "_alloc": ctx.pool.allocate,
                         "_dev": device_args, "_hs": host_scalar, "_mk": _array_maker(ctx),
                         "_geo": geometry, "_Mismatch": PlanMismatch, "_ctx": ctx,
                         "_to_host": backend.to_host, "_end_call": backend.end_call,
                         "_enqueue": ctx.cl._cl.enqueue_nd_range_kernel, "_pack": struct.pack}
        self.lines = []
        self.line_to_node = {}
        self.arrays = {}      # id(var) -> name of its DeviceArray
        self.buffers = {}     # id(var) -> (name of its buffer, name of its geometry)
        self.counter = 0
        self.source = None

    def const(self, value, prefix="_a"):
        if type(value) is int:
            return repr(value)
        name = f"{prefix}{len(self.defaults)}"
        self.defaults[name] = value
        return name

    def fresh(self, prefix):
        self.counter += 1
        return f"{prefix}{self.counter}"

    def emit(self, line, node=None, args=()):
        if node is not None:
            self.line_to_node[len(self.lines) + 2] = (node, list(args))
        self.lines.append("    " + line)

    def array(self, var):
        """The name of ``var``'s DeviceArray (made from its buffer the first time)."""
        name = self.arrays.get(id(var))
        if name is None:
            buffer, geom = self.buffers[id(var)]
            name = self.arrays[id(var)] = self.fresh("v")
            self.emit(f"{name} = _mk({buffer}, {geom})")
        return name

    def buffer(self, var):
        """An expression for ``var``'s device buffer (a DeviceArray's is asked for through
        device_args, which uploads it if it is not on the device: never a null buffer, even
        if the plan missed an upload)."""
        entry = self.buffers.get(id(var))
        return entry[0] if entry is not None else f"_dev({self.arrays[id(var)]})[0]"

    def write(self):
        linked = self.linked
        params = [f"i{k}" for k in range(len(linked.inputs))]
        params += [f"s{k}" for k in range(len(linked.shared_vars))]
        for var, name in zip(linked.inputs + linked.shared_vars, params):
            self.arrays[id(var)] = name
        for key, value in linked.constants.items():
            self.arrays[key] = self.const(value, "_c")
        launches = sum(a[0] == "launch" for e in self.entries if e[0] == "replay" for a in e[1])
        self.emit(f"_T['kernels'] += {launches}")
        checked = _needs_check(linked, self.entries)
        last_use, keep = linked.last_use, linked.keep | set(linked.constants)
        for n, (group, entry) in enumerate(zip(linked.groups, self.entries)):
            if entry[0] == "static":
                for var, value in zip(group.outputs, entry[1]):
                    self.arrays[id(var)] = self.const(value, "_st")
                    keep.add(id(var))
            elif entry[0] == "live":
                self.live(group, checked)
            else:
                self.replayed(group, entry)
            self.free(group, n, last_use, keep)
        self.finish()
        kw = ", ".join(f"{d}={d}" for d in self.defaults)
        self.source = (f"def plan({', '.join(params)}, *, {kw}):\n" + "\n".join(self.lines) + "\n")
        namespace = {}
        code = compile(self.source, "<nnframe-launch-plan>", "exec")
        exec(code, dict(self.defaults), namespace)
        run = namespace["plan"]
        return run, run.__code__, self.line_to_node

    def live(self, group, checked):
        args = [self.array(v) for v in group.inputs]
        kernel = self.const(group.kernel, "_g")
        outs = [self.fresh("v") for _ in group.outputs]
        for var, name in zip(group.outputs, outs):
            self.arrays[id(var)] = name
        single = group.nodes[0] if len(group.nodes) == 1 else None
        self.emit(f"{', '.join(outs)} = {kernel}({', '.join(args)})", single, args)
        for var, name in zip(group.outputs, outs):
            if id(var) in checked:
                geom = self.const(checked[id(var)], "_G")
                self.emit(f"if _geo({name}) != {geom}: raise _Mismatch")

    def replayed(self, group, entry):
        _, actions, refs, geoms, checks = entry
        single = group.nodes[0] if len(group.nodes) == 1 else None
        allocs = []
        for action in actions:
            if action[0] == "alloc":
                name = self.fresh("b")
                allocs.append(name)
                self.emit(f"{name} = _alloc({max(action[1], 8)})")
            elif action[0] == "upload":
                self.emit(f"_dev({self.array(group.inputs[action[1]])})")
            elif action[0] == "check":
                args = [f"{self.array(group.inputs[r[1]])}.host" if r[0] == "host"
                        else self.const(r[1]) for r in action[2]]
                self.emit(f"{self.const(action[1], '_f')}({', '.join(args)})", single, ())
            else:
                self.launch(action, group, allocs, single)
        if checks:
            self.emit("_ctx.pending_check = True")
        bound = set()
        for var, ref, geom in zip(group.outputs, refs, geoms):
            expr = self.launch_arg(ref, group, allocs)
            if ref[0] == "alloc" and expr not in bound:
                bound.add(expr)
            else:   # a name of its own (names are deleted at their value's last use)
                name = self.fresh("b")
                self.emit(f"{name} = {expr}")
                expr = name
            self.buffers[id(var)] = (expr, self.const(geom[:4], "_G"))
        temps = [a for a in allocs if a not in bound]
        if temps:
            self.emit(f"del {', '.join(temps)}")

    def launch(self, action, group, allocs, single):
        """A launch: its own kernel object, whose constant arguments are set once; each call
        sets the others and enqueues it (half the host time of pyopencl's invoker, which
        packs every argument)."""
        _, handle, global_size, local_size, refs = action
        sizes = f"{self.const(global_size, '_s')}, {self.const(local_size, '_s')}"
        dtypes = handle.scalar_dtypes
        if dtypes is None or any(ref[0] == "scalar" and np.dtype(dtypes[i]).char not in _PACKED
                                 for i, ref in enumerate(refs)):   # pyopencl's invoker
            args = [self.launch_arg(ref, group, allocs) for ref in refs]
            kernel = self.const(handle.kernel, "_k")
            self.emit(f"{kernel}(_q, {sizes}, {', '.join(args)})", single, ())
            return
        kernel = self.ctx.cl.Kernel(handle.kernel.program, handle.name)
        kernel.set_scalar_arg_dtypes(dtypes)
        initial = [ref[1] if ref[0] in ("const", "persist") else
                   (self.ctx.err if dtypes[i] is None else 0) for i, ref in enumerate(refs)]
        kernel.set_args(*initial)
        name = self.const(kernel, "_k")
        buffers, scalars = [], []
        for i, ref in enumerate(refs):
            if ref[0] in ("const", "persist"):
                continue
            value = self.launch_arg(ref, group, allocs)
            if ref[0] == "scalar":   # packed as pyopencl's invoker packs it
                char = np.dtype(dtypes[i]).char
                scalars.append(f"{name}._set_arg_buf({i}, _pack({char!r}, {value}))")
            else:
                buffers += [str(i), value]
        if buffers:   # one call into pyopencl for all of them
            self.emit(f"{name}._set_arg_multi(({', '.join(buffers)},))")
        for line in scalars:
            self.emit(line)
        self.emit(f"_enqueue(_q, {name}, {sizes}, None, None, False, False)", single, ())

    def launch_arg(self, ref, group, allocs):
        kind = ref[0]
        if kind == "alloc":
            return allocs[ref[1]]
        if kind == "in":
            return self.buffer(group.inputs[ref[1]])
        if kind == "scalar":
            return f"_hs({self.array(group.inputs[ref[1]])})"
        return self.const(ref[1], "_p" if kind == "persist" else "_a")

    def free(self, group, n, last_use, keep):
        dead = []
        for var in list(group.inputs) + list(group.outputs):
            if last_use.get(id(var), n) <= n and id(var) not in keep:
                dead += [self.arrays.pop(id(var), None), (self.buffers.pop(id(var), None)
                                                          or (None,))[0]]
        dead = sorted({d for d in dead if d is not None and d[0] in "vb"})
        if dead:
            self.emit(f"del {', '.join(dead)}")

    def finish(self):
        linked = self.linked
        outs = []
        for k, var in enumerate(linked.outputs):
            name = self.array(var)
            if k not in linked.lazy:
                outs.append(f"_to_host({name})")
            else:
                outs.append(f"{name}.copy()" if k in linked.copy_outputs else name)
        updates = [f"{self.array(v)}.copy()" if k in linked.copy_updates else self.array(v)
                   for k, v in enumerate(linked.update_values)]
        self.emit(f"_result = ({''.join(o + ', ' for o in outs)}), "
                  f"({''.join(u + ', ' for u in updates)})")
        self.emit("_end_call()")
        self.emit("return _result")


def _needs_check(linked, entries):
    """``{id(var): geometry}`` of live groups' results that a replayed or static group reads:
    the plan assumed their geometry, so each call checks it."""
    live_outputs = {}
    for group, entry in zip(linked.groups, entries):
        if entry[0] == "live":
            for var, geom in zip(group.outputs, entry[2]):
                live_outputs[id(var)] = geom
    checked = {}
    for group, entry in zip(linked.groups, entries):
        if entry[0] != "live":
            for var in group.inputs:
                if id(var) in live_outputs:
                    checked[id(var)] = live_outputs[id(var)]
    return checked


def _array_maker(ctx):
    """``mk(buffer, (shape, dtype, strides, offset))``: a DeviceArray, without checks."""
    new = DeviceArray.__new__

    def mk(buffer, geom):
        a = new(DeviceArray)
        a.ctx = ctx
        a.shape, a.dtype, a.strides, a.offset = geom
        a.data, a.host, a.base = buffer, None, None
        return a
    return mk
