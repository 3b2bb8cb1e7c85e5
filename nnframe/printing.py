"""Printing graphs: one-line formulas, indented trees and drawings.

- :func:`pp` gives a readable formula, ``(x + y)``;
- :func:`debugprint` prints the graph as an indented tree with ids and types
  (Theano's format), so shared subgraphs and rewrites can be inspected;
- :func:`pydotprint` draws the graph with Graphviz (DOT text always; PNG or
  SVG when Graphviz's ``dot`` program is installed).

All three accept a Variable, a list of Variables or a compiled Function (then
they show the rewritten graph that actually runs, updates included).

Ops that hold graphs of their own (``Scan``'s step, ``Map``'s body,
``IfElse``'s two branches) show them too, loops inside loops included:
``debugprint`` and ``pp`` in an ``Inner graphs:`` section after the outer
graph, ``pydotprint`` as a dashed cluster.  Each inner input is labelled with
its role (``sequence 0``, ``state 0 tap -1``, ``non-sequence 0``...) and each
inner output with what it becomes (``state 0``, ``collected 0``...).  An Op
describes its inner graphs with a method ``inner_graphs()`` returning a list
of ``(title, inputs, outputs)``: ``inputs`` are ``(role, inner variable,
position in the node's inputs of the outer variable bound to it, or None)``,
``outputs`` are ``(role, inner variable)``.

>>> import nnframe.tensor as T
>>> x, y = T.dscalars('x', 'y')
>>> pp(x + y)
'(x + y)'
"""
import os
import shutil
import subprocess
import sys
import warnings

from nnframe.core.fgraph import FunctionGraph
from nnframe.core.function import Function
from nnframe.core.graph import Apply, Constant, Variable, toposort
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.reduce import Reduce
from nnframe.core.ops.scalar import Composite
from nnframe.core.ops.shape import DimShuffle
from nnframe.core.shared import SharedVariable

__all__ = ["pp", "debugprint", "pydotprint"]


# -- what to print ------------------------------------------------------------------
def _roots(obj):
    """``(outputs, updates)`` of what the user asked to print.

    ``updates`` is a list of ``(shared variable, update expression)`` pairs;
    for a Function both come from the rewritten graph it runs.
    """
    if isinstance(obj, Function):
        fgraph = obj.maker.fgraph
        targets = [target for target, _ in obj.maker.updates]
        n_outputs = len(fgraph.outputs) - len(targets)
        return list(fgraph.outputs[:n_outputs]), list(zip(targets, fgraph.outputs[n_outputs:]))
    if isinstance(obj, FunctionGraph):
        return list(obj.outputs), []
    if isinstance(obj, Apply):
        return list(obj.outputs), []
    if isinstance(obj, Variable):
        return [obj], []
    if isinstance(obj, (list, tuple)):
        outputs, updates = [], []
        for item in obj:
            more_outputs, more_updates = _roots(item)
            outputs += more_outputs
            updates += more_updates
        return outputs, updates
    raise TypeError(f"cannot print a {type(obj).__name__}; pass a Variable, a list of "
                    "Variables or a compiled Function")


def _inner_graphs(op):
    """The graphs ``op`` holds, as ``[(title, inputs, outputs)]`` (see the module docstring).

    Ops with an ``inner_graphs()`` method (Scan, Map, IfElse) say it
    themselves; any other Op holding ``inner_inputs`` and ``inner_outputs``
    has one graph, its inputs unbound.  Other Ops have none.
    """
    method = getattr(op, "inner_graphs", None)
    if callable(method):
        return list(method())
    inner, outputs = getattr(op, "inner_inputs", None), getattr(op, "inner_outputs", None)
    if inner is None or outputs is None:
        return []
    return [("inner graph", [(f"input {k}", v, None) for k, v in enumerate(inner)],
             [(f"output {k}", v) for k, v in enumerate(outputs)])]


def _has_inner_graphs(op):
    if not (callable(getattr(op, "inner_graphs", None)) or hasattr(op, "inner_inputs")):
        return False
    return bool(_inner_graphs(op))


# -- pp -------------------------------------------------------------------------------
# Precedences of what pp writes: atoms (names, calls, parenthesized binary
# operations) bind tightest; unary prefix operators use their table entry.
_ATOM = 100
_NEG = 6  # the precedence of unary minus in the scalar table; also for "-1.0"


def pp(obj):
    """A readable one-line formula for a Variable (one line per output of a Function).

    Binary operators of the scalar table are written infix and, in Theano's
    style, every binary operation is wrapped in parentheses, so the grouping
    is always explicit.  Unary minus is written ``-x`` and parenthesized
    where it binds less tightly than its surroundings (``((-x) ** 2.0)``).
    Other elementwise operations are calls (``exp(x)``, ``cast{float32}(x)``),
    reductions read like NumPy (``sum(x, axis=(0,))``), a plain transpose is
    ``x.T`` and other Ops are ``str(op)(inputs)``.  Leaves are printed by
    name; unnamed inputs by type (``<TensorType(float64, scalar)>``),
    constants by value when short.

    The graphs held by Ops such as ``Scan`` follow, after a line ``Inner
    graphs:``: for each, a line with the Op, the graph's title and its inputs
    with their roles (an unnamed inner input is written as its role,
    ``<free 0>``), then one ``role = formula`` line per inner output.

    Named intermediate results are printed as the expression that computes
    them, not by their name (as Theano does): ``pp(z)`` shows what ``z`` is.
    The left-padding with broadcastable axes that elementwise operations add
    to lower-rank operands is not shown (``(v + 1.0)`` rather than
    ``(v + DimShuffle{x}(1.0))``).  A subexpression used several times is
    written each time.

    Parameters
    ----------
    obj : Variable, list of Variables or Function
        For a Function: one line per output of its (rewritten) graph, then
        one ``shared <- expression`` line per update.

    Returns
    -------
    str

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> x, y, z = T.dscalars('x', 'y', 'z')
    >>> pp((x + y) * z)
    '((x + y) * z)'
    >>> pp(-T.exp(x) ** 2)
    '-(exp(x) ** 2.0)'
    >>> m = T.dmatrix('m')
    >>> pp(T.sum(m.T, axis=0))
    'sum(m.T, axis=(0,))'
    >>> X, W = T.dmatrices('X', 'W')
    >>> h0 = T.dvector('h0')
    >>> h, _ = T.scan(lambda x, h, W: T.tanh(x + T.dot(h, W)), sequences=X,
    ...               outputs_info=h0, non_sequences=W)
    >>> print(pp(h))  # doctest: +ELLIPSIS, +NORMALIZE_WHITESPACE
    Subtensor{1:}(Scan{scan}(...))
    Inner graphs:
    Scan{scan} step: scan.seq0[t+0] (sequence 0), scan.out0[t-1] (state 0 tap -1),
    scan.W (non-sequence 0)
      state 0 = tanh((scan.seq0[t+0] + Dot(scan.out0[t-1], scan.W)))
    """
    outputs, updates = _roots(obj)
    formulas = _Formulas()
    lines = [formulas.text(v) for v in outputs]
    lines += [f"{_leaf_text(target)} <- {formulas.text(expr)}" for target, expr in updates]
    lines += _pp_inner_graphs(formulas, outputs + [expr for _, expr in updates])
    return "\n".join(lines)


def _pp_inner_graphs(formulas, roots):
    """The lines of pp's ``Inner graphs:`` section for the nodes under ``roots``."""
    lines = []
    queue = [node for node in toposort(roots) if _has_inner_graphs(node.op)]
    seen = {id(node) for node in queue}
    while queue:  # grows while it is read: loops inside loops
        node = queue.pop(0)
        for title, inputs, outputs in _inner_graphs(node.op):
            named = []
            for role, var, _ in inputs:
                if var.name is None and not isinstance(var, Constant):
                    formulas.leaf_text[id(var)] = f"<{role}>"
                    named.append(f"<{role}>")
                else:
                    named.append(f"{_leaf_text(var)} ({role})")
            lines.append(f"{node.op} {title}: {', '.join(named)}")
            lines += [f"  {role} = {formulas.text(var)}" for role, var in outputs]
            for inner in toposort([var for _, var in outputs]):
                if _has_inner_graphs(inner.op) and id(inner) not in seen:
                    seen.add(id(inner))
                    queue.append(inner)
    return ["Inner graphs:"] + lines if lines else []


class _Formulas:
    """The formula of each variable, computed once (iteratively: deep graphs are fine)."""

    def __init__(self):
        self.bare = {}  # id(variable) -> (text, precedence), before any parentheses
        self.leaf_text = {}  # id(leaf) -> its text, where not _leaf_text (inner inputs)

    def text(self, var):
        for node in toposort([var]):
            for out in node.outputs:
                if id(out) not in self.bare:
                    self.bare[id(out)] = self._node_formula(node, out)
        return self.use(var, -1)

    def use(self, var, outer):
        """``var``'s formula inside an operator of precedence ``outer``."""
        return _wrap(self._operand(var), outer)

    def _operand(self, var):
        """``(text, precedence)`` of ``var``, without enclosing parentheses."""
        if var.owner is None:
            text = self.leaf_text.get(id(var)) or _leaf_text(var)
            return text, (_NEG if text.startswith("-") else _ATOM)
        return self.bare[id(var)]

    def _node_formula(self, node, out):
        op = node.op
        inputs = node.inputs
        if isinstance(op, Elemwise):
            return self._elemwise(op.scalar_op, [_unpadded(v) for v in inputs])
        if isinstance(op, DimShuffle):
            (x,) = inputs
            if x.ndim >= 2 and op.new_order == tuple(reversed(range(x.ndim))):
                return f"{self.use(x, _ATOM)}.T", _ATOM
            return f"{op}({self.use(x, -1)})", _ATOM
        if isinstance(op, Reduce) and op.numpy_name:
            (x,) = inputs
            if set(op.axis) == set(range(x.ndim)):
                return f"{op.numpy_name}({self.use(x, -1)})", _ATOM
            return f"{op.numpy_name}({self.use(x, -1)}, axis={op.axis})", _ATOM
        if getattr(op, "numpy_name", None):   # ArgReduce, CumOp: one axis or None
            (x,) = inputs
            axis = "" if op.axis is None else f", axis={op.axis}"
            return f"{op.numpy_name}({self.use(x, -1)}{axis})", _ATOM
        suffix = f".{out.index}" if len(node.outputs) > 1 else ""
        return f"{op}({', '.join(self.use(v, -1) for v in inputs)}){suffix}", _ATOM

    def _elemwise(self, scalar_op, inputs):
        return _apply_row(scalar_op, [self._operand(v) for v in inputs])


def _wrap(operand, outer):
    text, precedence = operand
    return f"({text})" if precedence < outer else text


def _apply_row(scalar_op, operands):
    """The formula of a scalar-table row (or a fused Composite) applied to operands."""
    if isinstance(scalar_op, Composite):  # a fused chain prints as what it computes
        values = list(operands)
        for row, refs in scalar_op.steps:
            values.append(_apply_row(row, [values[r] for r in refs]))
        return values[-1]
    if scalar_op.infix is not None and len(operands) == 2:
        symbol, precedence = scalar_op.infix
        left, right = (_wrap(o, precedence) for o in operands)
        return f"({left} {symbol} {right})", _ATOM
    if scalar_op.infix is not None and len(operands) == 1:
        symbol, precedence = scalar_op.infix
        # "+ 0.5": a prefix operator applied to itself is parenthesized, -(-x).
        return f"{symbol}{_wrap(operands[0], precedence + 0.5)}", precedence
    return f"{scalar_op.name}({', '.join(_wrap(o, -1) for o in operands)})", _ATOM


def _unpadded(var):
    """``var`` without the leading broadcastable axes Elemwise adds to lower-rank inputs."""
    node = var.owner
    if node is not None and isinstance(node.op, DimShuffle):
        order = node.op.new_order
        k = len(order) - node.op.input_ndim
        if k > 0 and order == ("x",) * k + tuple(range(node.op.input_ndim)):
            return node.inputs[0]
    return var


def _leaf_text(var):
    """A leaf by name, by value (constants) or by type (``<TensorType(...)>``)."""
    return repr(var)


# -- debugprint ---------------------------------------------------------------------
def debugprint(obj, file=None, depth=-1, print_type=False, ids="CHAR", stop_on_name=False):
    """Print the graph as an indented tree, one line per variable (Theano's format).

    Each line is ``<op or variable> [id A] <type> 'name'``: a computed
    variable shows its Op (``.k`` for output ``k`` of a multi-output Op) and
    its name (``''`` when unnamed); a leaf shows its name, value or type.
    The inputs of a node follow, indented by ``" |"`` per level.  A node
    printed before is printed again only as a reference line (same text and
    id) without its inputs, so shared subgraphs appear once.

    Ops that hold graphs (``Scan``, ``Map``, ``IfElse``) are followed by an
    ``Inner graphs:`` section (Theano's): for each such node printed, a line
    with its Op, id and the graph's title, then the tree of each inner output
    with lines starting ``" >"`` and ending with the output's role in
    parentheses, ``(state 0)``.  Each inner input ends with its role,
    ``(sequence 0)``, and ``-> [id X]``, the id of the outer variable bound
    to it.  Nodes inside inner graphs get ids of the same series, and loops
    inside loops get their own entries.

    Parameters
    ----------
    obj : Variable, Apply, list of Variables or Function
        For a Function: the trees of its (rewritten) outputs, then one tree
        per update, whose first line ends with ``-> update of <shared>``.
    file : None, 'str' or a file-like object
        Where to print: None prints to ``sys.stdout``; ``'str'`` returns the
        text instead of printing it.
    depth : int
        Number of levels to print (-1: all).
    print_type : bool
        Also print each variable's type.
    ids : 'CHAR', 'int', 'id' or ''
        Node ids as letters (A, B, ..., Z, BA, BB...), as numbers in print
        order, as Python ``id()`` s, or not at all.
    stop_on_name : bool
        Do not expand the inputs of named intermediate variables (the
        printed roots are always expanded).

    Returns
    -------
    The text if ``file='str'``, else the file printed to.

    Examples
    --------
    >>> import nnframe.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> s = x + y
    >>> _ = debugprint(s * s)
    Elemwise{mul} [id A] ''
     |Elemwise{add} [id B] ''
     | |x [id C]
     | |y [id D]
     |Elemwise{add} [id B] ''

    A loop's step (most ids elided here; ``-> [id X]`` is the id of the
    sequence, the initial value and ``W`` in the outer graph):

    >>> X, W = T.dmatrices('X', 'W')
    >>> h0 = T.dvector('h0')
    >>> h, _ = T.scan(lambda x, h, W: T.tanh(x + T.dot(h, W)), sequences=X,
    ...               outputs_info=h0, non_sequences=W)
    >>> _ = debugprint(h)  # doctest: +ELLIPSIS
    Subtensor{1:} [id A] 'scan'
     |Scan{scan} [id B] ''
    ...
    Inner graphs:
    <BLANKLINE>
    Scan{scan} [id B] step
     >Elemwise{tanh} [id ...] '' (state 0)
     > |Elemwise{add} [id ...] ''
     > | |scan.seq0[t+0] [id ...] (sequence 0) -> [id ...]
     > | |Dot [id ...] ''
     > | | |scan.out0[t-1] [id ...] (state 0 tap -1) -> [id ...]
     > | | |scan.W [id ...] (non-sequence 0) -> [id ...]
    """
    if ids not in ("CHAR", "int", "id", ""):
        raise ValueError(f"ids must be 'CHAR', 'int', 'id' or '', got {ids!r}")
    outputs, updates = _roots(obj)
    tree = _Tree(depth, print_type, ids, stop_on_name)
    for var in outputs:
        tree.add(var)
    for target, expr in updates:
        tree.add(expr, note=f" -> update of {_leaf_text(target)}")
    tree.add_inner_graphs()
    text = "".join(line + "\n" for line in tree.lines)
    if file == "str":
        return text
    out = sys.stdout if file is None else file
    out.write(text)
    return out


class _Tree:
    """The lines of debugprint, with the ids given so far."""

    def __init__(self, depth, print_type, ids, stop_on_name):
        self.depth = depth
        self.print_type = print_type
        self.ids = ids
        self.stop_on_name = stop_on_name
        self.id_of = {}  # id(Apply) or id(leaf Variable) -> its id text
        self.expanded = set()  # id(Apply) of the nodes whose inputs were printed
        self.lines = []
        self.holders = []  # the printed Apply nodes whose Op holds graphs, in print order
        self.leaf_notes = {}  # id(inner input) -> " (role) -> [id X]"

    def add(self, root, note="", prefix=""):
        stack = [(root, prefix, 1)]  # (variable, indentation, level); iterative for deep graphs
        while stack:
            var, prefix, level = stack.pop()
            node = var.owner
            leaf_note = self.leaf_notes.get(id(var), "") if node is None else ""
            self.lines.append(prefix + self._line(var) + leaf_note
                              + (note if var is root else ""))
            if node is None or id(node) in self.expanded or level == self.depth:
                continue
            if self.stop_on_name and var.name is not None and var is not root:
                continue
            self.expanded.add(id(node))
            stack.extend((inp, prefix + " |", level + 1) for inp in reversed(node.inputs))

    def add_inner_graphs(self):
        """The ``Inner graphs:`` section: each holder's graphs, and those found in them."""
        if not self.holders:
            return
        self.lines += ["", "Inner graphs:"]
        done = 0
        while done < len(self.holders):  # grows while it is read: loops inside loops
            node = self.holders[done]
            done += 1
            ident = f" [id {self.id_of[id(node)]}]" if self.ids else ""
            for title, inputs, outputs in _inner_graphs(node.op):
                self.lines += ["", f"{node.op}{ident} {title}"]
                for role, var, position in inputs:
                    self.leaf_notes[id(var)] = f" ({role})" + self._link(node, position)
                for role, var in outputs:
                    self.add(var, note=f" ({role})", prefix=" >")

    def _link(self, node, position):
        """`` -> [id X]``: the id of the outer input at ``position`` (when it was printed)."""
        if position is None or not self.ids:
            return ""
        outer = node.inputs[position]
        ident = self.id_of.get(id(outer) if outer.owner is None else id(outer.owner))
        return "" if ident is None else f" -> [id {ident}]"

    def _line(self, var):
        node = var.owner
        key = id(var) if node is None else id(node)
        if key not in self.id_of:
            self.id_of[key] = self._new_id(var if node is None else node)
            if node is not None and _has_inner_graphs(node.op):
                self.holders.append(node)
        ident = f" [id {self.id_of[key]}]" if self.ids else ""
        type_text = f" <{var.type}>" if self.print_type else ""
        if node is None:
            return f"{_leaf_text(var)}{ident}{type_text}"
        suffix = f".{var.index}" if len(node.outputs) > 1 else ""
        return f"{node.op}{suffix}{ident}{type_text} '{var.name or ''}'"

    def _new_id(self, thing):
        if self.ids == "id":
            return str(id(thing))
        number = len(self.id_of)
        return _letters(number) if self.ids == "CHAR" else str(number)


def _letters(number):
    """0 -> 'A', 25 -> 'Z', 26 -> 'BA': base 26 with A as the zero digit (Theano's ids)."""
    text = ""
    while True:
        number, digit = divmod(number, 26)
        text = chr(ord("A") + digit) + text
        if number == 0:
            return text


# -- pydotprint -----------------------------------------------------------------------
# Theano's colours: inputs green, outputs blue, shared variables cyan; and
# constants grey.  Apply nodes are coloured by the family of their Op.
_VAR_COLOURS = {"output": "blue", "shared": "cyan", "constant": "grey", "input": "green"}
_OP_COLOURS = {"Elemwise": "#FFAABB", "Shape": "brown", "ShapeI": "brown",
               "Alloc": "#FFAA22"}
_TEXT_FORMATS = ("dot", "gv")


def pydotprint(fct, outfile=None, format=None, compact=True, var_with_name_simple=False,
               print_output_file=True, max_label_size=70):
    """Draw the graph of a Variable, list of Variables or Function with Graphviz.

    Apply nodes are boxes labelled with their Op; variables are ellipses
    labelled with their name (or value, for constants) and type.  Inputs are
    green, outputs blue, shared variables cyan and constants grey (an output
    is blue whatever else it is).  When a node has several inputs, each edge
    into it is labelled with the input's position.  For a Function, a dashed
    edge labelled ``update`` goes from each update expression to its shared
    variable.  The graphs held by Ops such as ``Scan`` are dashed clusters
    (nested for loops inside loops) titled with the Op and the graph's title
    (``Scan{scan} step``), each inner input and output labelled with its role
    on a first line; dotted edges go from the outer variables to the inner
    inputs bound to them and from the inner outputs to the node.

    The DOT text is written by nnframe itself (no pydot needed).  PNG, SVG
    and the other Graphviz formats need Graphviz's ``dot`` program; when it
    is not installed the DOT text is written next to the requested file
    (same name, ``.dot`` extension) with a warning, and that path is
    returned.

    Parameters
    ----------
    fct : Variable, list of Variables or Function
        What to draw; for a Function, the rewritten graph it runs.
    outfile : str or path, optional
        The file to write (default ``nnframe_graph.<format>``, with format
        png by default, in the current directory).
    format : str, optional
        ``'dot'`` (the DOT text), ``'png'``, ``'svg'`` or any other format of
        ``dot -T``; by default the extension of ``outfile``.
    compact : bool
        Do not draw unnamed intermediate variables: their edge goes straight
        from the node computing them to the node using them.
    var_with_name_simple : bool
        Label named variables with their name only (no type).
    print_output_file : bool
        Print the path of the file written.
    max_label_size : int
        Longer labels are cut, ending with ``...``.

    Returns
    -------
    str
        The path of the file written.

    Raises
    ------
    RuntimeError
        If ``dot`` fails (its error output is in the message).

    Examples
    --------
    >>> import os, tempfile
    >>> import nnframe.tensor as T
    >>> x, y = T.dscalars('x', 'y')
    >>> path = os.path.join(tempfile.mkdtemp(), 'sum.dot')
    >>> pydotprint(x + y, path, print_output_file=False) == path
    True
    >>> print(open(path).read().splitlines()[0])
    digraph nnframe {
    """
    outfile, format = _output_target(outfile, format)
    text = _dot_source(fct, compact, var_with_name_simple, max_label_size)
    if format in _TEXT_FORMATS:
        written = _write_text(outfile, text)
    else:
        program = shutil.which("dot")
        if program is None:
            written = _write_text(os.path.splitext(outfile)[0] + ".dot", text)
            warnings.warn(f"Graphviz's 'dot' program was not found, so {outfile} could not be "
                          f"drawn; wrote {written} instead. Install Graphviz (e.g. `apt install "
                          f"graphviz`) for PNG/SVG", stacklevel=2)
        else:
            written = _run_dot(program, format, outfile, text)
    if print_output_file:
        print(f"The output file is available at {written}")
    return written


def _output_target(outfile, format):
    """The path to write and its format, from whichever of the two is given."""
    if outfile is None:
        format = (format or "png").lower()
        return f"nnframe_graph.{format}", format
    outfile = os.fspath(outfile)
    if format is None:
        format = os.path.splitext(outfile)[1][1:]
        if not format:
            raise ValueError(f"cannot tell which format to write {outfile!r} in; give the file "
                             "an extension (.png, .svg, .dot) or pass format='png'")
    format = format.lower()
    if not format.isalnum():
        raise ValueError(f"format must be a Graphviz format name such as 'png', 'svg' or "
                         f"'dot', got {format!r}")
    return outfile, format


def _write_text(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def _run_dot(program, format, outfile, text):
    done = subprocess.run([program, f"-T{format}", "-o", outfile], input=text,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"Graphviz's dot could not draw {outfile} (exit status "
                           f"{done.returncode}): {done.stderr.strip()}")
    return outfile


def _dot_source(fct, compact, var_with_name_simple, max_label_size):
    """The DOT text of the graph (see :func:`pydotprint`)."""
    outputs, updates = _roots(fct)
    dot = _Dot(compact, var_with_name_simple, max_label_size)
    graph = dot.graph(outputs + [expr for _, expr in updates], indent="  ")
    for target, expr in updates:
        dot.lines.append(f"  {graph.var_node(expr)} -> {graph.var_node(target)} "
                         "[label=\"update\", style=dashed, constraint=false];")
    dot.clusters(graph, indent="  ")
    return "\n".join(dot.lines + dot.links + ["}"]) + "\n"


class _Dot:
    """The DOT text being written: the outer graph, then each inner graph as a cluster
    (nested for loops inside loops), then the edges that bind inner graphs to their node.

    Those edges come last, at the top level: in DOT, a node named inside a
    ``subgraph`` block becomes part of that cluster, so a cluster's block
    names only its own nodes.
    """

    def __init__(self, compact, name_only, max_label_size):
        self.compact = compact
        self.name_only = name_only
        self.max_label_size = max_label_size
        self.lines = ["digraph nnframe {"]
        self.links = []  # edges between a node and its inner graphs
        self.n_vars = 0
        self.n_nodes = 0

    def label(self, text):
        if len(text) > self.max_label_size:
            text = text[:max(self.max_label_size - 3, 0)] + "..."
        return _quote(text)

    def graph(self, roots, indent, leaves=(), roles=None):
        """Draw the graph computing ``roots`` (after the ``leaves`` given, drawn even if
        unused); ``roles`` maps ``id(variable)`` to a first line of its label."""
        return _DotGraph(self, roots, indent, leaves, roles or {})

    def clusters(self, graph, indent):
        """A cluster for each inner graph of ``graph``'s nodes, recursively."""
        for node in graph.nodes:
            for k, (title, inputs, outputs) in enumerate(_inner_graphs(node.op)):
                roles = {}
                for role, var, *_ in list(inputs) + list(outputs):
                    roles[id(var)] = f"{roles[id(var)]}, {role}" if id(var) in roles else role
                self.lines.append(f"{indent}subgraph cluster_{graph.node_names[id(node)]}_{k} {{")
                self.lines.append(f"{indent}  graph [label={self.label(f'{node.op} {title}')}, "
                                  "style=dashed];")
                inner = self.graph([var for _, var in outputs], indent + "  ",
                                   leaves=[var for _, var, _ in inputs], roles=roles)
                self.clusters(inner, indent + "  ")
                self.lines.append(f"{indent}}}")
                box = graph.node_names[id(node)]
                for _, var, position in inputs:
                    if position is not None:
                        source = graph.source(node.inputs[position])
                        self.links.append(f"  {source} -> {inner.var_node(var)} [style=dotted];")
                for _, var in outputs:
                    self.links.append(f"  {inner.var_node(var)} -> {box} [style=dotted];")


class _DotGraph:
    """One graph of the DOT text (the outer graph or an inner graph): its nodes and names."""

    def __init__(self, dot, roots, indent, leaves, roles):
        self.dot = dot
        self.indent = indent
        self.roles = roles
        self.nodes = toposort(roots)
        self.root_ids = {id(v) for v in roots}
        self.node_names = {}
        for node in self.nodes:
            self.node_names[id(node)] = f"n{dot.n_nodes}"
            dot.n_nodes += 1
        self.var_names = {}
        for leaf in list(leaves) + [v for node in self.nodes for v in node.inputs] + roots:
            if leaf.owner is None:
                self.var_node(leaf)
        for node in self.nodes:
            self._draw_node(node)

    def var_node(self, var):
        """The DOT name of ``var``, declaring it on first use."""
        if id(var) not in self.var_names:
            dot = self.dot
            self.var_names[id(var)] = name = f"v{dot.n_vars}"
            dot.n_vars += 1
            kind = _var_kind(var, self.root_ids)
            fill = f', style=filled, fillcolor="{_VAR_COLOURS[kind]}"' if kind else ""
            text = _var_label(var, dot.name_only)
            if id(var) in self.roles:
                text = f"{self.roles[id(var)]}\n{text}"
            dot.lines.append(f"{self.indent}{name} [label={dot.label(text)}, "
                             f"shape=ellipse{fill}];")
        return self.var_names[id(var)]

    def drawn(self, var):
        if (not self.dot.compact or var.owner is None or id(var) in self.root_ids
                or var.name is not None):
            return True
        return len(var.owner.outputs) > 1  # keep the output number of multi-output nodes

    def source(self, var):
        """The DOT name an edge from ``var`` starts at (its node's, when it is not drawn)."""
        return self.var_node(var) if self.drawn(var) else self.node_names[id(var.owner)]

    def _draw_node(self, node):
        dot, indent = self.dot, self.indent
        name = self.node_names[id(node)]
        fill = _OP_COLOURS.get(type(node.op).__name__)
        if fill is None and "Subtensor" in type(node.op).__name__:
            fill = "#FFAAFF"
        style = f', style=filled, fillcolor="{fill}"' if fill else ""
        dot.lines.append(f"{indent}{name} [label={dot.label(str(node.op))}, shape=box{style}];")
        for k, inp in enumerate(node.inputs):
            edge_label = f" [label={_quote(str(k))}]" if len(node.inputs) > 1 else ""
            dot.lines.append(f"{indent}{self.source(inp)} -> {name}{edge_label};")
        for out in node.outputs:
            if self.drawn(out):
                dot.lines.append(f"{indent}{name} -> {self.var_node(out)};")


def _var_kind(var, root_ids):
    """The colour class of a variable (None: no fill)."""
    if id(var) in root_ids:
        return "output"
    if isinstance(var, SharedVariable):
        return "shared"
    if isinstance(var, Constant):
        return "constant"
    if var.owner is None:
        return "input"
    return None


def _var_label(var, name_only):
    if name_only and var.name:
        return var.name
    if var.name or isinstance(var, Constant):
        return f"{_leaf_text(var)}\n{var.type}"
    return str(var.type)


def _quote(text):
    """``text`` as a quoted DOT string (newlines become DOT's centred line breaks)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
