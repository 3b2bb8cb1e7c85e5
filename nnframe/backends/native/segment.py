"""A run of nodes written as ONE C function, and what it needs at each call.

:class:`SegmentSource` collects nodes (the grouping in ``__init__.py`` adds
them in schedule order while their emitters give C for them) and writes the
C entry point ``int nnf_segment(tuple)``.  The tuple holds, in this order:
``meta`` (int64 lengths, strides and offsets of the values, for the shapes
of this call), ``err`` (int64 details of a failure), the constant arrays,
the values computed when the plan was made (shape arithmetic), the
workspace (intermediates that never leave a call), the segment's inputs and
the arrays allocated for this call (values that leave the call).

Lengths and strides are never in the C source: the code is compiled once
per function and serves every batch size.  For each new combination of input
shapes a :class:`~nnframe.backends.native.plan.Plan` is made once (a dry run
of the nodes' NumPy kernels gives every shape) and kept.

Every value of a segment is one of:

- ``input``: computed outside (an argument, a shared variable, an earlier
  group's output), made C-contiguous of its dtype by the wrapper;
- ``const``: a Constant (one element: an exact C literal);
- ``plan``: computed once per plan (``Shape_i``, and arithmetic on shapes
  and constants only); C reads the stored value;
- ``view``: elements of another value's buffer (DimShuffle, Reshape of a
  contiguous value): no C, a pointer offset and strides in ``meta``;
- ``computed``: written by the node's C, into its own contiguous buffer or,
  for an in-place node, into the buffer of the input it destroys.
"""
import re

import numpy as np

from nnframe.backends.native.cprelude import prelude
from nnframe.backends.native.units import split
from nnframe.backends.opencl.codegen import ctype, literal
from nnframe.core.graph import Constant
from nnframe.core.ops.shape import Shape, ShapeI

__all__ = ["Operand", "SegmentSource", "Value", "fill"]

#: ops computed at plan time whatever their inputs: their result depends on shapes only
_SHAPE_ONLY = (Shape, ShapeI)
#: dtypes the C code handles
_DTYPES = frozenset(["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                     "uint64", "float32", "float64"])
#: C comments carry an op's str() only when it is made of these characters
_SAFE_COMMENT = re.compile(r"^[A-Za-z0-9_{}(),.=+\- ]{0,120}$")


def fill(template, fields):
    """``template`` (C of a helper) with each key of ``fields`` (``"{T}"``...) replaced.

    >>> fill("{T} f({T} x)", {"{T}": "float"})
    'float f(float x)'
    """
    for key, value in dict(fields).items():
        template = template.replace(key, value)
    return template


def supported(var):
    """Whether the C code can hold ``var``'s values (dtype)."""
    return str(var.dtype) in _DTYPES


class Value:
    """What a segment knows of one variable: its kind and its buffer."""

    __slots__ = ("var", "kind", "index", "base", "alias", "fresh", "contiguous", "slot",
                 "view_node", "overlap_checks")

    def __init__(self, var, kind, index, contiguous=True):
        self.var = var
        self.kind = kind          # input, const, plan, view, computed
        self.index = index        # number of the value in the segment (C names p<index>)
        self.base = None          # view: the Value whose buffer it reads
        self.alias = None         # computed in place: the Value whose buffer it overwrites
        self.fresh = False        # computed: a new array per call (it outlives the call)
        self.contiguous = contiguous
        self.slot = None          # index in the tuple (set when the source is finished)
        self.view_node = None     # view: the node making it
        # computed in place over an input: the other inputs from outside whose buffers the
        # emitter must compare with the alias's at run time (and copy when they overlap)
        self.overlap_checks = ()

    def owner(self):
        """The Value whose array holds this value's elements."""
        value = self
        while value.base is not None or value.alias is not None:
            value = value.base if value.base is not None else value.alias
        return value


class Operand:
    """One input or output of a node, as C expressions for its emitter.

    ``ptr`` points at element ``[0, ..., 0]``; ``dim(k)`` and ``stride(k)``
    (in elements) are ``long`` expressions read from ``meta``; ``size`` is
    the number of elements.  ``literal`` is the exact C literal of a
    one-element constant (else None).  ``contiguous`` is True when the
    value is C-contiguous for sure (then ``ptr[i]`` walks it in order).
    """

    def __init__(self, seg, value):
        self.seg = seg
        self.value = value
        var = value.var
        self.dtype = str(var.dtype)
        self.ctype = ctype(self.dtype)
        self.ndim = var.ndim
        self.broadcastable = tuple(n == 1 for n in var.type.shape)
        self.contiguous = value.contiguous
        self.ptr = f"p{value.index}"
        self.literal = None
        if isinstance(var, Constant) and np.size(var.data) == 1:
            self.literal = literal(np.asarray(var.data).reshape(()), self.dtype)

    def dim(self, k):
        return self.seg.meta_ref(("dim", self.value.index, k))

    def stride(self, k):
        return self.seg.meta_ref(("stride", self.value.index, k))

    @property
    def size(self):
        return self.seg.meta_ref(("size", self.value.index))

    def scalar(self):
        """A C expression of the value's one element (literal, or ``ptr[0]``)."""
        return self.literal if self.literal is not None else f"{self.ptr}[0]"


class SegmentSource:
    """The C text and the layout of one segment (see the module docstring)."""

    def __init__(self):
        self.nodes = []
        self.values = {}          # id(var) -> Value
        self.order = []           # Values in creation order
        self.blocks = []          # C of each node (None for plan/view nodes)
        self.helpers = {}
        self.meta_keys = {}       # key -> meta index
        self.plan_ints = []       # (meta index, fn(plan) -> int)
        self.failures = []        # message templates, code = position + 1
        self.scratch = []         # (meta index of its size, fn(plan) -> bytes)
        self.blas_types = set()
        self._current = None      # the node being emitted (its failures name it)

    # -- the emitters' interface ------------------------------------------------------
    def operand(self, var):
        """The :class:`Operand` of ``var`` (an input or an output of the node being added)."""
        return Operand(self, self._value(var))

    def helper(self, name, source):
        """Add a C function (once per segment, in the order first asked)."""
        self.helpers.setdefault(name, source)

    def meta_ref(self, key):
        """``m<k>``: the entry of ``meta`` holding ``key`` (a geometry fact).

        The entry point copies ``meta`` into ``const long`` locals first: a
        store through a ``float *`` may alias ``M`` as far as the compiler
        knows, which would reload a loop bound at every step and stop
        vectorisation.
        """
        index = self.meta_keys.get(key)
        if index is None:
            index = self.meta_keys[key] = len(self.meta_keys) + len(self.plan_ints)
        return f"m{index}"

    def plan_int(self, fn):
        """``m<k>``, where the plan stores ``fn(plan)`` (an int) when it is made."""
        index = len(self.meta_keys) + len(self.plan_ints)
        self.plan_ints.append((index, fn))
        return f"m{index}"

    def fail(self, message, *details, error=ValueError):
        """A C statement ending the call with ``error(message.format(*details))``.

        ``details`` are C ``long`` expressions stored in ``err`` first; ``error`` is the
        exception class the NumPy kernel raises for the same input.
        """
        self.failures.append((message, self._current, error))
        code = len(self.failures)
        stores = "".join(f"E[{k}] = (long)({d}); " for k, d in enumerate(details))
        return f"{{ {stores}return {code}; }}"

    def scratch_buffer(self, nbytes):
        """A ``char *`` C expression: a workspace buffer of ``nbytes(plan)`` bytes."""
        k = len(self.scratch)
        self.scratch.append(nbytes)
        return f"S{k}"

    def gemm(self, dtype):
        """The C name of the BLAS GEMM for ``dtype`` (cblas argument order), or None."""
        from nnframe.backends.numpy import cblas
        if np.dtype(dtype) not in cblas._GEMM:
            return None
        suffix = "f32" if np.dtype(dtype) == np.float32 else "f64"
        self.blas_types.add(suffix)
        return f"nnf_gemm_{suffix}"

    # -- building ---------------------------------------------------------------------
    def _value(self, var):
        value = self.values.get(id(var))
        if value is None:
            kind = "const" if isinstance(var, Constant) else "input"
            value = self._new(var, kind)
        return value

    def _new(self, var, kind, contiguous=True):
        value = Value(var, kind, len(self.order), contiguous)
        self.values[id(var)] = value
        self.order.append(value)
        return value

    def _snapshot(self):
        return (dict(self.values), list(self.order), dict(self.helpers), dict(self.meta_keys),
                list(self.plan_ints), list(self.failures), list(self.scratch),
                set(self.blas_types))

    def _restore(self, state):
        (self.values, self.order, self.helpers, self.meta_keys, self.plan_ints,
         self.failures, self.scratch, self.blas_types) = state

    def try_add(self, node):
        """Add ``node`` if it has a C form (or is shape arithmetic or a view); True if added."""
        from nnframe.backends.native.registry import emitter_for, view_rule_for
        if not all(supported(v) for v in list(node.inputs) + list(node.outputs)):
            return False
        ins = [self.values.get(id(v)) for v in node.inputs]
        known = [v is not None and v.kind == "plan" or isinstance(i, Constant)
                 for v, i in zip(ins, node.inputs)]
        if isinstance(node.op, _SHAPE_ONLY) or (all(known) and self._plan_op(node)):
            for i in node.inputs:
                self._value(i)
            for out in node.outputs:
                self._new(out, "plan")
            self._finish_node(node, None)
            return True
        rule = view_rule_for(node.op)
        if rule is not None:
            state = self._snapshot()
            base = self._value(node.inputs[0])
            # the other inputs (a Reshape's shape) must be known when the plan is made
            fixed = all(isinstance(i, Constant) or getattr(self.values.get(id(i)), "kind", None)
                        == "plan" for i in node.inputs[1:])
            contiguous = rule(node, base) if fixed else None
            if contiguous is not None:
                for i in node.inputs[1:]:
                    self._value(i)
                out = self._new(node.outputs[0], "view", contiguous)
                out.base, out.view_node = base, node
                self._finish_node(node, None)
                return True
            self._restore(state)
        emit = emitter_for(node.op)
        if emit is None:
            return False
        state = self._snapshot()
        self._current = node
        for out in node.outputs:
            value = self._new(out, "computed")
            destroyed = getattr(node.op, "destroy_map", {}).get(node.outputs.index(out))
            if destroyed:
                target = self._value(node.inputs[destroyed[0]])
                checks = self._may_overwrite(node, destroyed[0], target,
                                             getattr(emit, "copies_overlapping_inputs", False))
                if checks is not None:
                    value.alias = target
                    value.contiguous = target.contiguous
                    value.overlap_checks = checks
        code = emit(node, self)
        if code is None:
            self._restore(state)
            return False
        self._finish_node(node, code)
        return True

    def _may_overwrite(self, node, k, target, checks_at_run_time=False):
        """Whether ``node`` may write its output into input ``k`` (``target``) as it reads:
        None if not, else the owners of the inputs to compare with the target's buffer at
        run time (a tuple, empty when none need it).

        NumPy copies an operand that overlaps the output; C loops and BLAS do not.
        So no other input may read the target's buffer through another view of
        it, and when the buffer came from outside the segment, no other input may
        come from outside either (two arrays from outside may share memory, which
        the C cannot see) -- unless the emitter ``checks_at_run_time``: it compares
        the buffers and copies an overlapping input first (Gemm, whose in-place
        update of a weight matrix from the batch input would otherwise copy the
        weights at every call).
        """
        owner = target.owner()
        if owner.kind in ("const", "plan"):  # their values serve every call
            return None
        checks = []
        for j, var in enumerate(node.inputs):
            if j == k or var is node.inputs[k]:
                continue
            other = self._value(var).owner()
            if other.kind in ("const", "plan"):
                continue
            if other is owner:
                return None
            if owner.kind == "input" and other.kind == "input":
                if not checks_at_run_time:
                    return None
                checks.append(other)
        return tuple(checks)

    def _plan_op(self, node):
        """Whether ``node`` may run once per plan when its inputs are known then."""
        from nnframe.core.ops.elemwise import Elemwise
        from nnframe.core.ops.shape import DimShuffle, MakeVector
        return isinstance(node.op, (Elemwise, MakeVector, DimShuffle)) and all(
            o.ndim <= 1 for o in node.outputs)

    def _finish_node(self, node, code):
        self.nodes.append(node)
        self.blocks.append(code)

    def emits_code(self):
        """Whether any node of the segment has C (else its nodes run on NumPy)."""
        return any(block is not None for block in self.blocks)

    def comment(self, node):
        text = str(node.op)
        return text if _SAFE_COMMENT.match(text) else type(node.op).__name__

    def source(self, tuple_items, array_data, blas_int, first_scratch_slot):
        """The C source as a list of translation units, for objects laid out at these
        offsets (layout.py), BLAS integers of C type ``blas_int`` and scratch buffers from
        tuple slot ``first_scratch_slot`` on.

        Each unit is the prelude, every helper (GCC drops the ones a unit does not call
        before optimising them) and one function running a run of the nodes: the
        entry point ``nnf_segment`` runs the first and calls the next unit's
        ``nnf_segment_1`` (hidden in the library) for the rest.  A big segment makes
        two units that the compiler builds at the same time (see units.py).
        """
        parts = [prelude(tuple_items, array_data)]
        for suffix in sorted(self.blas_types):
            t = "float" if suffix == "f32" else "double"
            parts.append(f"typedef void (*nnf_gemm_{suffix}_t)(int, int, int, {blas_int}, "
                         f"{blas_int}, {blas_int}, {t}, const {t} *, {blas_int}, const {t} *, "
                         f"{blas_int}, {t}, {t} *, {blas_int});")
        parts += [src.replace("inline ", "static inline ", 1) if src.startswith("inline ")
                  else src for src in self.helpers.values()]
        common = "\n\n".join(parts) + "\n\n"
        # The pointers and BLAS entries first: they ask for meta entries of their own.
        declarations = []
        for suffix in sorted(self.blas_types):
            declarations.append(f"    nnf_gemm_{suffix}_t nnf_gemm_{suffix} = "
                                f"(nnf_gemm_{suffix}_t){self.meta_ref(('gemm', suffix))};")
        for k in range(len(self.scratch)):
            declarations.append(f"    char *S{k} = NNF_DATA(NNF_ITEM(items, "
                                f"{first_scratch_slot + k}));")
        for value in self.order:
            t = ctype(value.var.dtype)
            owner = value.owner()
            offset = f" + {self.meta_ref(('offset', value.index))}" if value.kind == "view" else ""
            declarations.append(f"    {t} *p{value.index} = ({t} *)NNF_DATA(NNF_ITEM(items, "
                                f"{owner.slot})){offset};")
        prologue = ["    const long *M = (const long *)NNF_DATA(NNF_ITEM(items, 0));",
                    "    long *E = (long *)NNF_DATA(NNF_ITEM(items, 1));",
                    "    (void)M; (void)E;"]
        n_meta = len(self.meta_keys) + len(self.plan_ints)
        prologue += [f"    const long m{k} = M[{k}]; (void)m{k};" for k in range(n_meta)]
        prologue += declarations
        blocks = []
        for node, block in zip(self.nodes, self.blocks):
            if block is not None:
                blocks.append("\n".join([f"    /* {self.comment(node)} */", "    {"]
                                        + ["        " + line for line in block.splitlines()]
                                        + ["    }"]))
        runs = split(blocks, self.helpers)
        units = []
        for j, run in enumerate(runs):
            # every run reads meta and the pointers again: a few loads, once per call
            name = "nnf_segment" + (f"_{j}" if j else "")
            head = [f"NNF_EXPORT int {name}(void *items)" if j == 0
                    else f"NNF_HIDDEN int {name}(void *items)"]
            tail = ["    return 0;", "}"]
            if j + 1 < len(runs):
                head.insert(0, f"NNF_HIDDEN int nnf_segment_{j + 1}(void *items);\n")
                tail = [f"    return nnf_segment_{j + 1}(items);", "}"]
            units.append(common + "\n".join(head + ["{"] + prologue + run + tail) + "\n")
        return units
