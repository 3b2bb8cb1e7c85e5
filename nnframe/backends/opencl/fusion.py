"""Fewer, bigger kernels: elementwise nodes computed in the kernel producing their input.

A GEMM or a reduction has each result in hand when it stores it.  An Elemwise
node reading that result (a bias add and an activation after a product, the
ReLU gradient's mask after the backward product, a parameter update after a
bias gradient's column sum, the mean after a sum) is computed there, in an
*epilogue*, instead of by a kernel of its own that reads the result back:
one launch and one pass over memory fewer.

:func:`make_groups` (the backend's ``make_groups``, see
:class:`~nnframe.core.link.Group`) pairs a producer (an Op with a factory in
:data:`EPILOGUES`) with its consumer when

- the consumer is an Elemwise node with one output, whose broadcast pattern
  is the producer's (the epilogue computes one value per produced value);
- nobody else reads the producer's output and it is not a result of the
  function: the fused kernel never stores it;
- neither node runs on the host fallback, and every scalar row of the
  consumer has a device form.

The fused group runs where the consumer ran (its other inputs are computed
by then).  At run time the fused kernel takes what its producer's kernel
takes in one pass (a product of two matrices, a reduction not split in
chunks) when the consumer's other inputs fit the produced shape; otherwise
the group runs the two nodes' own kernels one after the other, so results
and errors are those of the unfused nodes.

Elemwise nodes left over that read each other's values and share one
broadcast pattern (an optimizer's moment updates and the parameter update
reading them) become one kernel too (:func:`elementwise_sets`,
:class:`~nnframe.backends.opencl.elemwise.ElementwiseGroupCode`), storing the
values read after the group; a set is left alone when a node outside it both
reads from it and computes what it reads.

Groups are ordered so that each follows the groups computing its inputs,
otherwise where its last node was.  Moving a node later is safe here: device
arrays are never written after they are computed (in-place Ops write new
arrays, the host fallback copies what it would destroy).

An epilogue factory is ``factory(producer, epilogue, builder) -> fused``,
with ``fused(producer_args, consumer_args)`` returning the consumer's output
(a DeviceArray) or None where it does not apply; ``consumer_args`` has None
where the consumer reads the produced value.
"""
import heapq
import math

import numpy as np

from nnframe.backends.dispatch import KernelTable
from nnframe.backends.opencl.array import device_args
from nnframe.backends.opencl.codegen import MAX_NDIM, ctype, helpers_for
from nnframe.backends.opencl.elemwise import (
    chain_lines,
    input_kinds,
    long8,
    np_scalar,
    scalar_kernel_args,
    steps_of,
)
from nnframe.backends.opencl.registry import make_runner
from nnframe.core.ops.elemwise import Elemwise

__all__ = ["Epilogue", "EPILOGUES", "register_epilogue", "make_groups", "fusion_pairs",
           "elementwise_sets"]

_TABLE = KernelTable()

#: Op class -> epilogue factory (see the module's docstring)
EPILOGUES = _TABLE.kernels

#: Decorator: ``@register_epilogue(OpClass, ...)`` on an epilogue factory
register_epilogue = _TABLE.register


class Epilogue:
    """C code computing Elemwise ``node`` on a value a kernel has in hand.

    The inputs at positions ``fed`` are that value; the others are read at the
    output coordinates the host kernel names (``coords``), through their
    strides (0 along broadcast axes), or are one-element inputs or literals as
    in :class:`~nnframe.backends.opencl.elemwise.ElementwiseCode`.  Kernel
    parameters are prefixed ``ep``/``eo``/``et``/``es``/``ef`` and the code's
    variables ``ex``/``ew``, so they do not clash with the host kernel's.
    Raises NotImplementedError when a scalar row has no device form.
    """

    def __init__(self, builder, node, fed):
        self.builder = builder
        self.ctx = builder.ctx
        self.node = node
        in_dtypes, self.steps, value_dtypes = steps_of(node)
        self.in_dtypes = [str(np.dtype(d)) for d in in_dtypes]
        self.value_dtypes = [str(np.dtype(d)) for d in value_dtypes]
        self.out_dtype = self.value_dtypes[-1]
        self.ndim = node.outputs[0].ndim
        self.fed = frozenset(fed)
        self.kinds = input_kinds(node)
        self.code("v", [f"c{d}" for d in range(self.ndim)])  # NotImplementedError now, not later

    def _others(self):
        """(position, kind) of the inputs the kernel reads itself."""
        return [(k, kind) for k, kind in enumerate(self.kinds) if k not in self.fed]

    def params(self):
        """The kernel's parameters for the other inputs."""
        params = []
        for k, kind in self._others():
            t = ctype(self.in_dtypes[k])
            if kind == "array":
                params.append(f"__global const {t}* ep{k}, long eo{k}, long8 et{k}")
            elif kind == "scalar":
                params.append(f"__global const {t}* ep{k}, long eo{k}, {t} es{k}, int ef{k}")
        return params

    def scalar_dtypes(self):
        """pyopencl's argument dtypes for :meth:`params`."""
        import pyopencl.cltypes as cltypes
        dtypes = []
        for k, kind in self._others():
            if kind == "array":
                dtypes += [None, np.int64, cltypes.long8]
            elif kind == "scalar":
                dtypes += [None, np.int64, np_scalar(self.in_dtypes[k]), np.int32]
        return dtypes

    def code(self, value, coords):
        """``(lines, result)``: statements computing the node's value from ``value`` (a C
        variable of the produced dtype) at coordinates ``coords`` (C expressions, one per
        output axis); ``result`` names the variable holding it."""
        lines, names = [], []
        for k, kind in enumerate(self.kinds):
            t = ctype(self.in_dtypes[k])
            if k in self.fed:
                names.append(value)
                continue
            if kind == "array":
                at = " + ".join([f"eo{k}"] + [f"({c}) * et{k}.s{d}" for d, c in enumerate(coords)])
                lines.append(f"const {t} ex{k} = ep{k}[{at}];")
            elif kind == "scalar":
                lines.append(f"const {t} ex{k} = ef{k} ? ep{k}[eo{k}] : es{k};")
            else:                                # a literal
                names.append(kind)
                continue
            names.append(f"ex{k}")
        body, result = chain_lines(self.steps, self.value_dtypes, names, prefix="ew")
        lines += body
        for name, src in helpers_for("\n".join(body)).items():
            self.builder.helper(name, src)
        return lines, result

    def fits(self, args, shape):
        """Whether every other array input broadcasts to ``shape`` without enlarging it
        (else the node's output is not one value per produced value), along the axes its
        type lets it broadcast (else the node's own kernel raises NumPy's error)."""
        if len(shape) != self.ndim:
            return False
        for k, kind in self._others():
            if kind == "array":
                static = self.node.inputs[k].type.shape
                for have, want, length in zip(args[k].shape, shape, static):
                    if have != want and (have != 1 or length != 1):
                        return False
        return True

    def args(self, args):
        """The kernel's arguments for the other inputs (``args``: the consumer's inputs)."""
        out = []
        for k, kind in self._others():
            value = args[k]
            if kind == "array":
                buf, offset = device_args(value)
                strides = [0 if n == 1 else s for n, s in zip(value.shape, value.strides)]
                out += [buf, offset, long8(strides)]
            elif kind == "scalar":
                out += scalar_kernel_args(self.ctx, value)
        return out


def fusion_pairs(nodes, final):
    """``[(producer, consumer)]``: the pairs of ``nodes`` an epilogue may fuse (see the
    module's docstring), each node in at most one pair; ``final`` are the function's
    results (never fused away)."""
    readers = {}
    for node in nodes:
        for var in node.inputs:
            readers.setdefault(id(var), {})[id(node)] = node
    final_ids = {id(v) for v in final}
    pairs, taken = [], set()
    for node in nodes:
        if _TABLE.lookup(node.op) is None or len(node.outputs) != 1:
            continue
        out = node.outputs[0]
        consumers = list(readers.get(id(out), {}).values())
        if id(out) in final_ids or len(consumers) != 1:
            continue
        (consumer,) = consumers
        if (id(consumer) in taken or id(node) in taken or not isinstance(consumer.op, Elemwise)
                or len(consumer.outputs) != 1 or consumer.outputs[0].ndim > MAX_NDIM
                or _pattern(consumer.outputs[0]) != _pattern(out)):
            continue
        pairs.append((node, consumer))
        taken.update((id(node), id(consumer)))
    return pairs


def _pattern(var):
    """Which axes of ``var`` are broadcastable (length 1 by its type)."""
    return tuple(n == 1 for n in var.type.shape)


def make_groups(builder, nodes, final, one_per_node):
    """The :class:`~nnframe.core.link.Group` s of ``nodes``: fused pairs, groups of
    elementwise nodes and single nodes, in an order where every group follows the groups
    computing its inputs; their kernels are added to ``builder`` (built by the caller).
    ``one_per_node`` (profiling, debug checks): one node per group, in the given order."""
    from nnframe.core.link import Group
    runners = {id(node): make_runner(node, builder) for node in nodes}
    if one_per_node:
        return [Group([node], node.inputs, node.outputs, runners[id(node)]) for node in nodes]
    groups, taken = [], {}            # taken: id(node) -> number of its group
    for producer, consumer in fusion_pairs(nodes, final):
        run = _fuse(producer, consumer, runners[id(producer)], runners[id(consumer)], builder)
        if run is not None:
            value = producer.outputs[0]
            others = [v for v in consumer.inputs if v is not value]
            groups.append(Group([producer, consumer], list(producer.inputs) + others,
                                consumer.outputs, run))
            taken.update({id(producer): len(groups), id(consumer): len(groups)})
    for members in elementwise_sets(nodes, runners, taken):
        # Each set alone is convex, but two sets may each need a value of the other
        # (through a transpose, or a reduction that is also an output): such a set is
        # left unfused.
        trial = {**taken, **{id(node): len(groups) + 1 for node in members}}
        if not _groups_acyclic(nodes, trial):
            continue
        group = _elementwise_group(builder, members, nodes, final, runners)
        if group is not None:
            groups.append(group)
            taken = trial
    groups += [Group([node], node.inputs, node.outputs, runners[id(node)])
               for node in nodes if id(node) not in taken]
    return _in_order(groups, nodes)


def _groups_acyclic(nodes, group_of):
    """Whether running each group of ``group_of`` (id(node) -> group number; other nodes
    alone) as one step leaves an order where every step follows those it reads from."""
    step = {id(node): group_of.get(id(node), ("node", k)) for k, node in enumerate(nodes)}
    maker = {id(out): step[id(node)] for node in nodes for out in node.outputs}
    waits_on = {key: set() for key in step.values()}
    for node in nodes:
        for var in node.inputs:
            source = maker.get(id(var))
            if source is not None and source != step[id(node)]:
                waits_on[step[id(node)]].add(source)
    readers = {key: [] for key in waits_on}
    for key, sources in waits_on.items():
        for source in sources:
            readers[source].append(key)
    ready = [key for key, sources in waits_on.items() if not sources]
    done = 0
    while ready:
        key = ready.pop()
        done += 1
        for reader in readers[key]:
            waits_on[reader].discard(key)
            if not waits_on[reader]:
                ready.append(reader)
    return done == len(waits_on)


def elementwise_sets(nodes, runners, taken=()):
    """Sets of Elemwise nodes (each in topological order) one kernel may compute together:
    nodes connected by what they read from each other, of one broadcast pattern, none of
    them in ``taken`` or on the host fallback, and no node outside a set both reading
    from it and computing something it reads (the set runs as one step)."""
    candidates = {id(node): node for node in nodes
                  if id(node) not in taken and isinstance(node.op, Elemwise)
                  and len(node.outputs) == 1 and node.outputs[0].ndim <= MAX_NDIM
                  and not hasattr(runners[id(node)], "fallback")}
    producer_of = {id(node.outputs[0]): node for node in candidates.values()}
    root = {key: key for key in candidates}

    def find(key):
        while root[key] != key:
            root[key] = root[root[key]]
            key = root[key]
        return key
    for node in candidates.values():
        for var in node.inputs:
            producer = producer_of.get(id(var))
            if producer is not None and _pattern(var) == _pattern(node.outputs[0]):
                root[find(id(node))] = find(id(producer))
    sets = {}
    for node in nodes:
        if id(node) in candidates:
            sets.setdefault(find(id(node)), []).append(node)
    return [members for members in sets.values()
            if len(members) > 1 and _convex(members, nodes)]


def _convex(members, nodes):
    """Whether no node outside ``members`` reads from them and computes what one reads."""
    inside = {id(node) for node in members}
    computed = {id(node.outputs[0]) for node in members}
    depends = set()                    # values computed outside the set from its values
    for node in nodes:
        if id(node) in inside:
            if any(id(var) in depends for var in node.inputs):
                return False
        elif any(id(var) in computed or id(var) in depends for var in node.inputs):
            depends.update(id(out) for out in node.outputs)
    return True


def _elementwise_group(builder, members, nodes, final, runners):
    """The Group computing ``members`` in one kernel (None when a row has no device form).

    The kernel stores the values read after the group; at run time, inputs all on the
    host or shapes the nodes do not share run the nodes' own kernels instead.
    """
    from nnframe.backends.opencl.elemwise import ElementwiseGroupCode, on_host
    from nnframe.core.link import Group
    inside = {id(node) for node in members}
    final_ids = {id(v) for v in final}
    read_after = {id(var) for node in nodes if id(node) not in inside for var in node.inputs}
    outputs = [node.outputs[0] for node in members
               if id(node.outputs[0]) in read_after or id(node.outputs[0]) in final_ids]
    try:
        code = ElementwiseGroupCode(builder, members, outputs)
    except NotImplementedError:
        return None

    def run(*values):
        shape = code.shape(values)
        if shape is None or on_host(values, int(math.prod(shape)), code.out_dtypes[0]):
            known = {id(var): value for var, value in zip(code.inputs, values)}
            for node in members:
                args = [known[id(var)] for var in node.inputs]
                known[id(node.outputs[0])] = _named(node, args, runners[id(node)], *args)
            outs = [known[id(var)] for var in outputs]
        else:
            outs = _named(members[0], values, code.run, values, shape)
        return outs[0] if len(outs) == 1 else tuple(outs)
    return Group(members, code.inputs, outputs, run)


def _in_order(groups, nodes):
    """``groups`` in an order where each follows those computing its inputs; otherwise as
    near as can be to where its last node was (so values live as long as before)."""
    position = {id(node): k for k, node in enumerate(nodes)}
    key = [max(position[id(node)] for node in group.nodes) for group in groups]
    maker = {id(var): g for g, group in enumerate(groups) for var in group.outputs}
    waits_on = [{maker[id(var)] for var in group.inputs if id(var) in maker} - {g}
                for g, group in enumerate(groups)]
    readers = [[] for _ in groups]
    for g, before in enumerate(waits_on):
        for b in before:
            readers[b].append(g)
    ready = [(key[g], g) for g, before in enumerate(waits_on) if not before]
    heapq.heapify(ready)
    ordered = []
    while ready:
        _, g = heapq.heappop(ready)
        ordered.append(groups[g])
        for r in readers[g]:
            waits_on[r].discard(g)
            if not waits_on[r]:
                heapq.heappush(ready, (key[r], r))
    if len(ordered) != len(groups):
        raise AssertionError("fusion: the groups of a function depend on each other in a cycle")
    return ordered


def _fuse(producer, consumer, producer_run, consumer_run, builder):
    """The kernel of the group ``producer`` + ``consumer``, or None when they do not fuse.

    It takes the producer's inputs then the consumer's other inputs, as the
    group does; errors name the node they come from (``nnframe_origin``).
    """
    if hasattr(producer_run, "fallback") or hasattr(consumer_run, "fallback"):
        return None
    value = producer.outputs[0]
    fed = [k for k, var in enumerate(consumer.inputs) if var is value]
    try:
        epilogue = Epilogue(builder, consumer, fed)
    except NotImplementedError:
        return None
    fused = _TABLE.lookup(producer.op)(producer, epilogue, builder)
    if fused is None:
        return None
    n_producer = len(producer.inputs)

    def run(*args):
        producer_args = args[:n_producer]
        others = iter(args[n_producer:])
        consumer_args = [None if k in epilogue.fed else next(others)
                         for k in range(len(consumer.inputs))]
        out = _named(producer, producer_args, fused, producer_args, consumer_args)
        if out is not None:
            return out
        produced = _named(producer, producer_args, producer_run, *producer_args)
        consumer_args = [produced if v is None else v for v in consumer_args]
        return _named(consumer, consumer_args, consumer_run, *consumer_args)
    return run


def _named(node, values, kernel, *args):
    """``kernel(*args)``; an exception it raises names ``node`` and its input ``values``
    (``nnframe_origin``, which the linked function reports, see link.py)."""
    try:
        return kernel(*args)
    except Exception as exc:
        if getattr(exc, "nnframe_origin", None) is None:
            exc.nnframe_origin = (node, list(values))
        raise
