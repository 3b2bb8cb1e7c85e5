"""Tests of nnframe.printing: pp, debugprint and pydotprint."""
import io
import os
import re
import stat
import sys

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, printing, shared
from nnframe.printing import debugprint, pp, pydotprint


@pytest.fixture
def xyz():
    return T.dscalars("x", "y", "z")


# -- pp -------------------------------------------------------------------------------
def test_pp_acceptance():
    x, y = T.dscalars("x", "y")
    assert pp(x + y) == "(x + y)"


def test_printing_functions_are_also_on_the_package_as_in_theano():
    import nnframe
    assert (nnframe.pp, nnframe.debugprint, nnframe.pydotprint) == (pp, debugprint, pydotprint)
    with pytest.raises(AttributeError, match="no attribute 'ppp'"):
        nnframe.ppp  # noqa: B018  (the attribute lookup is what raises)


PRECEDENCE_CASES = [
    (lambda x, y, z: (x + y) * z, "((x + y) * z)"),
    (lambda x, y, z: x + y * z, "(x + (y * z))"),
    (lambda x, y, z: x - (y - z), "(x - (y - z))"),
    (lambda x, y, z: (x - y) - z, "((x - y) - z)"),
    (lambda x, y, z: x / (y / z), "(x / (y / z))"),
    (lambda x, y, z: -x, "-x"),
    (lambda x, y, z: -(x + y), "-(x + y)"),
    (lambda x, y, z: -(-x), "-(-x)"),  # noqa: B002  (a double negation, printed)
    (lambda x, y, z: x * -y, "(x * -y)"),
    (lambda x, y, z: x ** 2, "(x ** 2.0)"),
    (lambda x, y, z: (-x) ** 2, "((-x) ** 2.0)"),
    (lambda x, y, z: -x ** 2, "-(x ** 2.0)"),
    (lambda x, y, z: x ** -y, "(x ** (-y))"),
    (lambda x, y, z: x ** -1, "(x ** (-1.0))"),
    (lambda x, y, z: (x + y) ** (z - 1.0), "((x + y) ** (z - 1.0))"),
]


@pytest.mark.parametrize("build, expected", PRECEDENCE_CASES)
def test_pp_precedence(xyz, build, expected):
    assert pp(build(*xyz)) == expected


@pytest.mark.parametrize("build, _", PRECEDENCE_CASES)
def test_pp_formula_computes_what_the_graph_computes(xyz, build, _):
    # The printed formula, read as Python, must give the graph's value.
    values = {"x": 1.5, "y": 2.0, "z": 0.75}
    f = function(list(xyz), build(*xyz), on_unused_input="ignore")
    assert eval(pp(build(*xyz)), {}, dict(values)) == pytest.approx(float(f(1.5, 2.0, 0.75)))


def test_pp_comparisons_and_logic(xyz):
    x, y, z = xyz
    assert pp(x < y) == "(x < y)"
    assert pp(T.eq(x, y)) == "(x == y)"
    assert pp(T.and_(x < y, y >= z)) == "((x < y) & (y >= z))"


def test_pp_function_calls(xyz):
    x, y, z = xyz
    assert pp(T.exp(x)) == "exp(x)"
    assert pp(T.exp(x + y)) == "exp((x + y))"
    assert pp(T.maximum(x, y)) == "maximum(x, y)"
    assert pp(T.switch(x < y, x, z)) == "switch((x < y), x, z)"
    assert pp(T.cast(x, "float32")) == "cast{float32}(x)"
    assert pp(-T.exp(x)) == "-exp(x)"


def test_pp_constants(xyz):
    x, _, _ = xyz
    assert pp(x * 2.0) == "(x * 2.0)"
    assert pp(3.0 - x) == "(3.0 - x)"
    v = T.dvector("v")
    assert pp(v + T.constant(np.array([1.0, 2.0]))) == "(v + [1.0, 2.0])"
    assert pp(v + T.constant(np.arange(10.0))) == \
        "(v + Constant{TensorType(float64, shape=(10,))})"
    assert pp(x + T.constant(2.0, dtype="float64", name="two")) == "(x + two)"


def test_pp_leaves():
    assert pp(T.dscalar() + T.dscalar("b")) == "(<TensorType(float64, scalar)> + b)"
    w = shared(np.zeros(3), name="w")
    assert pp(w * 2.0) == "(w * 2.0)"


def test_pp_transposes_and_dimshuffles():
    m, n = T.dmatrices("m", "n")
    assert pp(m.T) == "m.T"
    assert pp((m + n).T) == "(m + n).T"
    assert pp((-m).T) == "(-m).T"
    assert pp(m.dimshuffle(1, "x", 0)) == "DimShuffle{1,x,0}(m)"
    assert pp(T.tensor3("t").dimshuffle(2, 1, 0)) == "t.T"
    # The broadcasting Elemwise adds to lower-rank operands is not shown.
    v = T.dvector("v")
    assert pp(v + 1.0) == "(v + 1.0)"
    assert pp(m * v) == "(m * v)"


def test_pp_reductions_and_other_ops():
    m, v = T.dmatrix("m"), T.dvector("v")
    assert pp(T.sum(m, axis=0)) == "sum(m, axis=(0,))"
    assert pp(T.sum(m)) == "sum(m)"
    assert pp(T.max(m, axis=1)) == "max(m, axis=(1,))"
    assert pp(T.argmax(m, axis=1)) == "argmax(m, axis=1)"
    assert pp(T.argmax(v)) == "argmax(v)"
    assert pp(T.dot(m, v)) == "Dot(m, v)"
    a, b = T.split(v, [1, 2])
    assert pp(a + b) == ("(Split{n_splits=2, axis=0}(v, [1, 2]).0 + "
                         "Split{n_splits=2, axis=0}(v, [1, 2]).1)")


def test_pp_named_intermediates_print_their_expression(xyz):
    x, y, z = xyz
    s = x + y
    s.name = "s"
    assert pp(s) == "(x + y)"
    assert pp(s * z) == "((x + y) * z)"


def test_pp_function_with_updates():
    x = T.dvector("x")
    w = shared(np.ones(3), name="w")
    count = shared(np.array(0), name="count")
    f = function([x], [T.sum(x * w), x.T], updates=[(w, w - x * 0.5), (count, count + 1)])
    assert pp(f).splitlines() == ["sum((x * w))", "x", "w <- (w - (x * 0.5))",
                                  "count <- (count + 1)"]


def test_pp_list_and_bad_input(xyz):
    x, y, _ = xyz
    assert pp([x + y, x * y]) == "(x + y)\n(x * y)"
    with pytest.raises(TypeError, match="cannot print a str"):
        pp("x + y")


def test_pp_deep_graph_has_no_recursion_limit():
    x = T.dscalar("x")
    y = x
    for _ in range(3000):
        y = y + 1.0
    text = pp(y)
    assert text.startswith("(" * 3000 + "x + 1.0)")
    assert len(debugprint(y, file="str").splitlines()) == 6001


# -- debugprint -----------------------------------------------------------------------
def test_debugprint_structure_and_repeated_nodes(xyz):
    x, y, _ = xyz
    s = x + y
    out = s * s
    assert debugprint(out, file="str") == (
        "Elemwise{mul} [id A] ''\n"
        " |Elemwise{add} [id B] ''\n"
        " | |x [id C]\n"
        " | |y [id D]\n"
        " |Elemwise{add} [id B] ''\n")


def test_debugprint_names_types_and_int_ids(xyz):
    x, y, z = xyz
    s = x + y
    s.name = "s"
    out = T.exp(s) / z
    out.name = "out"
    assert debugprint(out, file="str", print_type=True, ids="int") == (
        "Elemwise{true_div} [id 0] <TensorType(float64, scalar)> 'out'\n"
        " |Elemwise{exp} [id 1] <TensorType(float64, scalar)> ''\n"
        " | |Elemwise{add} [id 2] <TensorType(float64, scalar)> 's'\n"
        " | | |x [id 3] <TensorType(float64, scalar)>\n"
        " | | |y [id 4] <TensorType(float64, scalar)>\n"
        " |z [id 5] <TensorType(float64, scalar)>\n")
    assert debugprint(out, file="str", ids="") == (
        "Elemwise{true_div} 'out'\n |Elemwise{exp} ''\n | |Elemwise{add} 's'\n"
        " | | |x\n | | |y\n |z\n")
    ids = re.findall(r"\[id (\d+)\]", debugprint(out, file="str", ids="id"))
    assert ids[0] == str(id(out.owner)) and ids[-1] == str(id(z))


def test_debugprint_depth_and_stop_on_name(xyz):
    x, y, z = xyz
    s = x + y
    s.name = "s"
    out = T.exp(s) * z
    assert debugprint(out, file="str", depth=1) == "Elemwise{mul} [id A] ''\n"
    assert debugprint(out, file="str", depth=2).splitlines() == [
        "Elemwise{mul} [id A] ''", " |Elemwise{exp} [id B] ''", " |z [id C]"]
    assert debugprint(out, file="str", stop_on_name=True).splitlines() == [
        "Elemwise{mul} [id A] ''", " |Elemwise{exp} [id B] ''",
        " | |Elemwise{add} [id C] 's'", " |z [id D]"]
    # the printed root itself is always expanded
    assert len(debugprint(s, file="str", stop_on_name=True).splitlines()) == 3


def test_debugprint_char_ids_go_past_z():
    assert [printing._letters(n) for n in (0, 1, 25, 26, 27, 51, 52, 675, 676)] == \
        ["A", "B", "Z", "BA", "BB", "BZ", "CA", "ZZ", "BAA"]
    leaves = T.dscalars(*[f"a{k}" for k in range(30)])
    total = leaves[0]
    for leaf in leaves[1:]:
        total = total + leaf
    ids = re.findall(r"\[id (\w+)\]", debugprint(total, file="str"))
    assert len(ids) == len(set(ids)) == 59
    assert ids[:3] == ["A", "B", "C"] and ids[26:28] == ["BA", "BB"]


def test_debugprint_file_arguments(xyz, capsys):
    x, y, _ = xyz
    expected = "Elemwise{add} [id A] ''\n |x [id B]\n |y [id C]\n"
    assert debugprint(x + y) is sys.stdout
    assert capsys.readouterr().out == expected
    buffer = io.StringIO()
    assert debugprint(x + y, file=buffer) is buffer
    assert buffer.getvalue() == expected
    with pytest.raises(ValueError, match="ids must be"):
        debugprint(x + y, ids="hex")


def test_debugprint_list_shares_ids_and_multi_output_nodes():
    v = T.dvector("v")
    a, b = T.split(v, [1, 2])
    assert debugprint([a, b], file="str").splitlines() == [
        "Split{n_splits=2, axis=0}.0 [id A] ''", " |v [id B]", " |[1, 2] [id C]",
        "Split{n_splits=2, axis=0}.1 [id A] ''"]


def test_debugprint_function_with_updates():
    x = T.dvector("x")
    w = shared(np.ones(3), name="w")
    f = function([x], T.sum(x * w), updates=[(w, w - x)])
    assert debugprint(f, file="str").splitlines() == [
        "Sum{axis=(0,)} [id A] ''",
        # x * w is written into w's old buffer: w - x (the update) reads it first
        " |Elemwise{mul,inplace=1} [id B] ''",
        " | |x [id C]",
        " | |w [id D]",
        "Elemwise{sub} [id E] '' -> update of w",
        " |w [id D]",
        " |x [id C]"]


# -- pydotprint: the DOT text ---------------------------------------------------------
_NODE = re.compile(r"^  (\w+) \[(.*)\];$")
_EDGE = re.compile(r"^  (\w+) -> (\w+)(?: \[(.*)\])?;$")
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^,\s]+)')


def parse_dot(text):
    """``(nodes, edges)``: {name: attrs} and [(source, target, attrs)] of our DOT text."""
    lines = text.splitlines()
    assert lines[0] == "digraph nnframe {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        edge, node = _EDGE.match(line), _NODE.match(line)
        assert edge or node, f"unexpected DOT line {line!r}"
        if edge:
            edges.append((edge[1], edge[2], _attrs(edge[3] or "")))
        else:
            assert node[1] not in nodes
            nodes[node[1]] = _attrs(node[2])
    assert all(a in nodes and b in nodes for a, b, _ in edges)
    return nodes, edges


def _attrs(text):
    return {k: v[1:-1].replace('\\"', '"').replace("\\n", "\n") if v.startswith('"') else v
            for k, v in _ATTR.findall(text)}


def dot_of(tmp_path, fct, **kw):
    path = pydotprint(fct, tmp_path / "graph.dot", print_output_file=False, **kw)
    assert path == str(tmp_path / "graph.dot")
    return parse_dot(open(path).read())


def by_label(nodes, label):
    return [name for name, a in nodes.items() if a["label"].split("\n")[0] == label]


def test_dot_counts_shapes_and_colours(tmp_path, xyz):
    x, y, z = xyz
    out = (x + y) * z * 2.0
    nodes, edges = dot_of(tmp_path, out)
    boxes = [n for n, a in nodes.items() if a["shape"] == "box"]
    ellipses = [n for n, a in nodes.items() if a["shape"] == "ellipse"]
    # 3 Apply nodes; x, y, z, the constant and the output (compact: no intermediates)
    assert len(boxes) == 3 and len(ellipses) == 5
    assert len(edges) == 3 * 2 + 1
    assert {nodes[by_label(nodes, v)[0]]["fillcolor"] for v in "xyz"} == {"green"}
    assert nodes[by_label(nodes, "2.0")[0]]["fillcolor"] == "grey"
    (output,) = [n for n in ellipses if nodes[n].get("fillcolor") == "blue"]
    assert nodes[output]["label"] == "TensorType(float64, scalar)"
    assert {nodes[b]["label"] for b in boxes} == {"Elemwise{add}", "Elemwise{mul}"}
    assert {nodes[b]["fillcolor"] for b in boxes} == {"#FFAABB"}
    # every input edge of a 2-input node is labelled with its position
    into = {}
    for _a, b, attrs in edges:
        if b in boxes:
            into.setdefault(b, []).append(attrs["label"])
    assert sorted(map(sorted, into.values())) == [["0", "1"]] * 3
    assert nodes[by_label(nodes, "x")[0]]["label"] == "x\nTensorType(float64, scalar)"


def test_dot_not_compact_draws_every_variable(tmp_path, xyz):
    x, y, z = xyz
    nodes, edges = dot_of(tmp_path, T.exp(x + y) * z, compact=False)
    assert len(nodes) == 3 + 3 + 3  # Apply nodes, leaves, computed variables
    assert len(edges) == 5 + 3  # 5 inputs, 3 outputs
    # a single-input node's edge has no label
    (exp,) = by_label(nodes, "Elemwise{exp}")
    assert [attrs for a, b, attrs in edges if b == exp] == [{}]


def test_dot_named_intermediates_and_labels(tmp_path, xyz):
    x, y, z = xyz
    s = x + y
    s.name = "s"
    nodes, edges = dot_of(tmp_path, s * z, var_with_name_simple=True)
    assert sorted(a["label"] for a in nodes.values() if a["shape"] == "ellipse") == \
        ["TensorType(float64, scalar)", "s", "x", "y", "z"]
    nodes, _ = dot_of(tmp_path, s * z, max_label_size=8)
    assert all(len(a["label"]) <= 8 for a in nodes.values())
    assert "Elemw..." in [a["label"] for a in nodes.values()]


def test_dot_function_with_shared_and_updates(tmp_path):
    x = T.dvector("x")
    w = shared(np.ones(3), name="w")
    f = function([x], T.sum(x * w), updates=[(w, w - x)])
    nodes, edges = dot_of(tmp_path, f)
    (w_node,) = by_label(nodes, "w")
    (x_node,) = by_label(nodes, "x")
    assert nodes[w_node]["fillcolor"] == "cyan" and nodes[x_node]["fillcolor"] == "green"
    outputs = [n for n, a in nodes.items() if a.get("fillcolor") == "blue"]
    assert len(outputs) == 2  # the output and the new value of w
    (update,) = [(a, b, attrs) for a, b, attrs in edges if attrs.get("label") == "update"]
    assert update[0] in outputs and update[1] == w_node and update[2]["style"] == "dashed"
    assert len([n for n, a in nodes.items() if a["shape"] == "box"]) == 3


def test_dot_quotes_labels(tmp_path):
    x = T.dscalar('say "hi" \\ there')
    text = open(pydotprint(x * 2.0, tmp_path / "q.dot", print_output_file=False)).read()
    assert '"say \\"hi\\" \\\\ there\\nTensorType(float64, scalar)"' in text


# -- pydotprint: files and Graphviz ---------------------------------------------------
def test_output_paths_and_formats(tmp_path, monkeypatch, capsys, xyz):
    x, y, _ = xyz
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(printing.shutil, "which", lambda name: None)
    assert pydotprint(x + y, format="dot") == "nnframe_graph.dot"
    assert capsys.readouterr().out == "The output file is available at nnframe_graph.dot\n"
    assert open("nnframe_graph.dot").read().startswith("digraph nnframe {")
    assert pydotprint(x + y, "g.gv", print_output_file=False) == "g.gv"
    with pytest.warns(UserWarning, match="nnframe_graph.png could not be drawn"):
        assert pydotprint(x + y, print_output_file=False) == "nnframe_graph.dot"
    with pytest.raises(ValueError, match="extension"):
        pydotprint(x + y, "graph")
    with pytest.raises(ValueError, match="format must be"):
        pydotprint(x + y, "graph.png", format="-Tpng")


def test_without_graphviz_writes_dot_and_warns(tmp_path, monkeypatch, xyz):
    x, y, _ = xyz
    monkeypatch.setattr(printing.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match=r"'dot' program was not found.*apt install graphviz"):
        path = pydotprint(x + y, tmp_path / "graph.png", print_output_file=False)
    assert path == str(tmp_path / "graph.dot")
    assert not (tmp_path / "graph.png").exists()
    nodes, edges = parse_dot(open(path).read())
    assert len(nodes) == 4 and len(edges) == 3


FAKE_DOT = """#!{python}
import sys
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(repr(args) + "\\n")
source = sys.stdin.read()
if {fail}:
    sys.stderr.write("Error: <stdin>: syntax error in line 1\\n")
    sys.exit(1)
with open(args[args.index("-o") + 1], "w") as out:
    out.write("drawn:" + args[0] + ":" + source)
"""


def install_fake_dot(tmp_path, monkeypatch, fail=False):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "dot"
    log = tmp_path / "argv.log"
    script.write_text(FAKE_DOT.format(python=sys.executable, log=str(log), fail=fail))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))
    return log


@pytest.mark.parametrize("name, format, flag", [
    ("graph.png", None, "-Tpng"), ("graph.svg", None, "-Tsvg"), ("graph.img", "svg", "-Tsvg"),
    ("graph.PNG", None, "-Tpng")])
def test_with_graphviz_runs_dot(tmp_path, monkeypatch, xyz, name, format, flag):
    x, y, _ = xyz
    log = install_fake_dot(tmp_path, monkeypatch)
    target = tmp_path / name
    path = pydotprint(x + y, target, format=format, print_output_file=False)
    assert path == str(target)
    assert open(log).read() == repr([flag, "-o", str(target)]) + "\n"
    drawn = open(path).read()
    assert drawn.startswith(f"drawn:{flag}:digraph nnframe {{")
    parse_dot(drawn.split(":", 2)[2])


def test_failing_dot_raises(tmp_path, monkeypatch, xyz):
    x, y, _ = xyz
    install_fake_dot(tmp_path, monkeypatch, fail=True)
    with pytest.raises(RuntimeError, match="syntax error in line 1"):
        pydotprint(x + y, tmp_path / "graph.svg", print_output_file=False)


def test_pp_prints_cumulative_ops_as_numpy_calls():
    x = T.dmatrix("x")
    assert pp(T.cumsum(x, axis=1)) == "cumsum(x, axis=1)"
    assert pp(T.cumprod(x, axis=-2)) == "cumprod(x, axis=0)"
