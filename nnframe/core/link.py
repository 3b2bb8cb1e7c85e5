"""Linking: turn a FunctionGraph into one flat Python function over kernels.

For every Apply node, in topological order, the backend gives a kernel (a
plain function of arrays).  The linker writes the call sequence as Python
source and compiles it once, so a call runs straight-line code: each value
lives in a local variable (its storage cell), each kernel is a default
argument (no global or dict lookup), and a value is deleted right after its
last use so its memory is freed.  The source is kept as
``f.maker.linked.source`` for anyone who wants to read what runs::

    def run(i0, i1, *, _c0=<W's container>, _k0=<Dot kernel>, _k1=<add kernel>):
        s0 = _c0[0]
        if type(s0) is not _native: s0 = _c0[0] = _to_native(s0)
        v0 = _k0(i0, s0)            # Dot(x, W)
        v1 = _k1(v0, i1)            # Elemwise{add}(Dot.0, b)
        del v0
        return (v1,), ()

Profiling and debug checks wrap kernels; the generated code stays the same.
"""

from nnframe.core.graph import Constant

__all__ = ["LinkedGraph", "Group", "link"]


class Group:
    """Nodes that one kernel runs together: ``kernel(*inputs) -> outputs``.

    Backends run one node per kernel, except a backend with ``make_groups``
    (the native backend compiles runs of nodes into one C function): its
    kernel takes the group's ``inputs`` (values computed outside it) and
    returns its ``outputs`` (values read after it), a tuple when there are
    several.  An error the kernel raises carries ``nnframe_origin = (node,
    input_values)``, which :meth:`LinkedGraph.node_of_exception` reports.
    """

    __slots__ = ("nodes", "inputs", "outputs", "kernel")

    def __init__(self, nodes, inputs, outputs, kernel):
        self.nodes = list(nodes)
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.kernel = kernel

    def describe(self):
        names = sorted({type(node.op).__name__ for node in self.nodes})
        return _describe_text(", ".join(names))


class LinkedGraph:
    """The compiled call sequence of one FunctionGraph.

    ``run`` is what a call runs: ``plain_run`` (the generated ``source``), or a backend's
    replacement for it (OpenCL's launch plans, see
    :mod:`nnframe.backends.opencl.replay`), which reads the structure kept here:
    ``groups``, ``inputs``, ``shared_vars``, ``outputs``, ``update_values``,
    ``constants`` (``{id(var): value}``), ``copy_outputs``, ``copy_updates``, ``lazy``,
    ``last_use`` (``{id(var): index of the last group reading it}``) and ``keep`` (the ids
    of the values never freed during a call: inputs, shared values, outputs, updates).
    """

    def __init__(self, run, source, nodes, line_to_node):
        self.run = self.plain_run = run
        self.source = source
        self.nodes = nodes
        self.line_to_node = line_to_node
        #: code object -> {line: (node, argument names)}, for every code that runs kernels
        self.line_maps = {run.__code__: line_to_node}

    def node_of_exception(self, exc):
        """``(node, input_values)`` of the kernel that raised ``exc``, or (None, None)
        (also when ``exc`` names its node already)."""
        if getattr(exc, "nnframe_node", None) is not None:
            return None, None
        origin = getattr(exc, "nnframe_origin", None)  # set by a kernel running many nodes
        if origin is not None:
            return origin
        tb = exc.__traceback__
        while tb is not None:
            line_to_node = self.line_maps.get(tb.tb_frame.f_code)
            if line_to_node is not None:
                entry = line_to_node.get(tb.tb_lineno)
                if entry is not None:
                    node, arg_names = entry
                    frame_locals = tb.tb_frame.f_locals
                    return node, [frame_locals.get(a) for a in arg_names]
            tb = tb.tb_next
        return None, None


def link(fgraph, inputs, shared_vars, outputs, update_values, backend, copy_outputs=(),
         copy_updates=(), wrap_kernel=None, lazy_outputs=()):
    """Compile ``fgraph`` into a :class:`LinkedGraph` running on ``backend``.

    ``inputs`` become positional arguments (host arrays, already checked
    against their types); ``shared_vars`` are read from their containers at
    the start of each call.  The function returns ``(outputs,
    update_values)`` as tuples: outputs as host arrays, update values in the
    backend's own format (they go back into the shared containers, so
    device-resident state stays on the device).  Outputs at the positions in
    ``copy_outputs`` (and update values in ``copy_updates``) are copied
    because they may alias memory the caller or another variable owns.
    ``wrap_kernel(node, kernel)`` may replace each kernel (profiling, debug).
    Outputs at the positions in ``lazy_outputs`` (``Out(borrow=True)``) stay in the
    backend's format when it has ``lazy_outputs = True`` (OpenCL: a DeviceArray, read
    when the caller asks with ``.get()``, ``float()`` or ``np.asarray``).

    The backend protocol (see :class:`nnframe.backends.numpy.NumpyBackend`):
    ``make_kernel(node)``, or ``make_groups(nodes, final, one_per_node)`` for one
    that builds all kernels of a function at once or runs several nodes per kernel (a list of :class:`Group`; ``final`` are the outputs and
    update values; ``one_per_node`` when kernels are wrapped);
    ``native_type``, the type of its values;
    ``to_native(value)``, from a host ndarray (or another backend's value,
    which has ``.get()``) to its own format; ``to_host(value)``; and
    ``host``: True when its values are host ndarrays (no conversions needed); and
    optionally ``end_call()``, run at the end of every call, after the outputs' downloads,
    and ``make_replayer(linked)``, a replacement for the linked run (or None), asked for
    unless kernels are wrapped; and ``call_lock``, a lock each call holds.
    """
    names = {}
    defaults = {"_native": backend.native_type, "_to_native": backend.to_native,
                "_to_host": backend.to_host}
    lines = []
    for k, var in enumerate(inputs):
        names[id(var)] = f"i{k}"
        if not backend.host:
            lines.append(f"    i{k} = _to_native(i{k})")
    for k, var in enumerate(shared_vars):
        defaults[f"_c{k}"] = var.container
        names[id(var)] = f"s{k}"
        lines.append(f"    s{k} = _c{k}[0]")
        # A value left by another backend (or set_value) is converted once and
        # kept in the container, so device-resident state stays resident.
        lines.append(f"    if type(s{k}) is not _native: s{k} = _c{k}[0] = _to_native(s{k})")

    constants = {}

    def name_of(var):
        key = id(var)
        if key not in names:
            if not isinstance(var, Constant):
                raise RuntimeError(f"link: {var} has no value (not an input, shared or computed)")
            cname = f"_const{len(names)}"
            defaults[cname] = var.data if backend.host else backend.to_native(var.data)
            constants[key] = defaults[cname]
            names[key] = cname
        return names[key]

    nodes = fgraph.toposort()
    if hasattr(backend, "make_groups"):
        # Profiling and debug checks time or check each node: one node per group then.
        groups = backend.make_groups(nodes, list(outputs) + list(update_values),
                                     one_per_node=wrap_kernel is not None)
    else:
        groups = [Group([node], node.inputs, node.outputs, backend.make_kernel(node))
                  for node in nodes]
    final = [id(v) for v in list(outputs) + list(update_values)]
    last_use = {}
    for n, group in enumerate(groups):
        for inp in group.inputs:
            last_use[id(inp)] = n
    keep = set(final) | {id(v) for v in inputs} | {id(v) for v in shared_vars}

    line_to_node = {}
    # A backend with a call_lock runs one call at a time (OpenCL: per device).
    lock = getattr(backend, "call_lock", None)
    if lock is not None:
        defaults["_lock"] = lock
    header_lines = 2  # "def run(...)" is line 1 of the source
    counter = 0
    for n, group in enumerate(groups):
        kname = f"_k{n}"
        node = group.nodes[0]
        single = len(group.nodes) == 1
        kernel = group.kernel
        defaults[kname] = wrap_kernel(node, kernel) if wrap_kernel and single else kernel
        arg_names = [name_of(i) for i in group.inputs]
        args = ", ".join(arg_names)
        outs = []
        for out in group.outputs:
            names[id(out)] = f"v{counter}"
            outs.append(f"v{counter}")
            counter += 1
        target = outs[0] if len(outs) == 1 else ", ".join(outs)
        if single:
            line_to_node[header_lines + len(lines)] = (node, arg_names)
        comment = _describe(node) if single else f"{len(group.nodes)} nodes: {group.describe()}"
        lines.append(f"    {target} = {kname}({args})  # {comment}")
        dead = sorted({names[id(i)] for i in group.inputs
                       if last_use.get(id(i)) == n and id(i) not in keep
                       and not isinstance(i, Constant)})
        # Outputs nobody reads are dead at once (e.g. an unused output of a split).
        dead += [names[id(o)] for o in group.outputs
                 if id(o) not in last_use and id(o) not in keep]
        if dead:
            lines.append(f"    del {', '.join(dead)}")

    lazy = set(lazy_outputs) if getattr(backend, "lazy_outputs", False) else set()

    def result(var, copy, to_host=False):
        if to_host and not backend.host:
            return f"_to_host({name_of(var)})"  # a download is a new host array
        return f"{name_of(var)}.copy()" if copy else name_of(var)

    out_expr = "".join(result(v, k in copy_outputs, k not in lazy) + ", "
                       for k, v in enumerate(outputs))
    upd_expr = "".join(result(v, k in copy_updates) + ", " for k, v in enumerate(update_values))
    if hasattr(backend, "end_call"):    # e.g. OpenCL: uploads of the caller's arrays finished
        defaults["_end_call"] = backend.end_call
        lines.append(f"    _result = ({out_expr}), ({upd_expr})")
        lines.append("    _end_call()")
        lines.append("    return _result")
    else:
        lines.append(f"    return ({out_expr}), ({upd_expr})")

    params = ", ".join(f"i{k}" for k in range(len(inputs)))
    kw = ", ".join(f"{d}={d}" for d in defaults)
    signature = ", ".join(p for p in (params, "*" if kw else "", kw) if p)
    if lock is not None:   # the body under "with _lock:" (line 2): every line one further
        lines = ["    with _lock:"] + ["    " + line for line in lines]
        line_to_node = {n + 1: entry for n, entry in line_to_node.items()}
    source = f"def run({signature}):\n" + "\n".join(lines) + "\n"
    namespace = {}
    code = compile(source, "<nnframe-linked>", "exec")
    exec(code, dict(defaults), namespace)
    linked = LinkedGraph(namespace["run"], source, nodes, line_to_node)
    linked.groups, linked.constants, linked.lazy = groups, constants, lazy
    linked.inputs, linked.shared_vars = list(inputs), list(shared_vars)
    linked.outputs, linked.update_values = list(outputs), list(update_values)
    linked.copy_outputs, linked.copy_updates = set(copy_outputs), set(copy_updates)
    linked.last_use, linked.keep = last_use, keep
    if wrap_kernel is None and hasattr(backend, "make_replayer"):
        linked.run = backend.make_replayer(linked) or linked.run
    return linked


def _describe(node):
    """``repr(node)`` as printable ASCII for a ``#`` comment of the generated source.

    Names are user text (a recipe's layer name): ``ascii`` escapes every line
    break Python knows (``\\r`` included), NUL and non-ASCII, so no name can end
    the comment and become code.
    """
    return _describe_text(repr(node))


def _describe_text(text):
    text = ascii(text)[1:-1]
    return text if len(text) < 100 else text[:97] + "..."


def attach_node_to_exception(exc, node, values=None, fname=None):
    """A new exception of ``exc``'s type whose message names ``node`` and its site."""
    parts = [f"{exc}"]
    where = f" of function {fname!r}" if fname else ""
    parts.append(f"Apply node that caused the error{where}: {node}")
    parts.append(f"Op: {node.op}")
    parts.append("Input types: " + ", ".join(str(i.type) for i in node.inputs))
    if values is not None:
        parts.append("Input shapes: " + ", ".join(str(getattr(v, "shape", "?")) for v in values))
    site = node.tag.get("site")
    if site:
        parts.append(f"Created at: {site[0]}:{site[1]}")
    message = "\n".join(parts)
    try:
        new = type(exc)(message)
    except Exception:  # exceptions whose constructor wants other arguments
        new = RuntimeError(message)
    new.nnframe_node = node  # named already: callers up the stack leave it as it is
    return new
