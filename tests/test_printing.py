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


# -- inner graphs: Scan, Map, IfElse --------------------------------------------------
def rnn():
    X, W = T.dmatrices("X", "W")
    h0 = T.dvector("h0")
    h, _ = T.scan(lambda x, h, W: T.tanh(T.dot(h, W) + x), sequences=X, outputs_info=h0,
                  non_sequences=W)
    return h, X, h0, W


def nested_scan():
    X = T.dmatrix("X")
    zero = T.constant(0.0, dtype="float64")

    def row_total(row, acc):
        inner, _ = T.scan(lambda v, a: a + T.exp(v), sequences=row, outputs_info=zero,
                          name="inner")
        return acc + inner[-1]
    total, _ = T.scan(row_total, sequences=X, outputs_info=zero, name="outer")
    return total, X


def outer_ids(text):
    """{leaf or op text: id} of the outer graph's lines of a debugprint."""
    outer = text.split("\nInner graphs:\n")[0]
    return {m[1]: m[2] for m in re.finditer(r"^[ |]*(\S+) \[id (\w+)\]", outer, re.M)}


def inner_sections(text):
    """{header line: [lines]} of debugprint's ``Inner graphs:`` section."""
    _, inner = text.split("\nInner graphs:\n")
    sections = {}
    for block in inner.strip("\n").split("\n\n"):
        header, *lines = block.splitlines()
        assert all(line.startswith(" >") for line in lines), block
        sections[header] = lines
    return sections


def test_debugprint_scan_prints_its_step_with_roles_and_links():
    h, X, h0, W = rnn()
    text = debugprint(h, file="str")
    ids = outer_ids(text)
    scan_line = [line for line in text.splitlines() if "Scan{scan} [id" in line][0]
    scan_id = re.search(r"\[id (\w+)\]", scan_line)[1]
    sections = inner_sections(text)
    assert list(sections) == [f"Scan{{scan}} [id {scan_id}] step"]
    lines = sections[f"Scan{{scan}} [id {scan_id}] step"]
    assert re.fullmatch(r" >Elemwise\{tanh\} \[id \w+\] '' \(state 0\)", lines[0])
    assert [re.sub(r"\[id \w+\] ", "", line) for line in lines[1:3]] == [
        " > |Elemwise{add} ''", " > | |Dot ''"]
    # each inner input: its role, then the id of the outer variable bound to it
    (w,) = [line for line in lines if "scan.W" in line]
    assert w.endswith(f"(non-sequence 0) -> [id {ids['W']}]")
    # the sequence and the initial rows of the state are bound to outer nodes (X, h0 sliced)
    (seq,) = [line for line in lines if "scan.seq0[t+0]" in line]
    (tap,) = [line for line in lines if "scan.out0[t-1]" in line]
    for line, role in ((seq, "sequence 0"), (tap, "state 0 tap -1")):
        bound = re.search(rf"\({role}\) -> \[id (\w+)\]$", line)[1]
        assert bound in ids.values()
    # ids of the inner nodes continue the outer series: no id means two things
    inner_ids = {re.search(r"\[id (\w+)\]", line)[1] for line in lines}
    assert inner_ids and not inner_ids & set(ids.values())


def test_debugprint_scan_options_apply_to_inner_graphs():
    h, *_ = rnn()
    plain = debugprint(h, file="str", ids="")
    assert "\nInner graphs:\n\nScan{scan} step\n >Elemwise{tanh} '' (state 0)\n" in plain
    assert " > | | |scan.W (non-sequence 0)\n" in plain  # no ids, no links
    typed = debugprint(h, file="str", print_type=True)
    assert re.search(r"scan\.W \[id \w+\] <TensorType\(float64, matrix\)> \(non-sequence 0\) "
                     r"-> \[id \w+\]", typed)
    shallow = inner_sections(debugprint(h, file="str", depth=2))
    (lines,) = shallow.values()
    assert len(lines) == 2 and "tanh" in lines[0] and "Elemwise{add}" in lines[1]


def test_debugprint_scan_inside_scan_prints_both_steps():
    total, X = nested_scan()
    text = debugprint(total, file="str")
    sections = inner_sections(text)
    headers = list(sections)
    assert [h.split(" [id")[0] for h in headers] == ["Scan{outer}", "Scan{inner}"]
    assert all(h.endswith(" step") for h in headers)
    outer_step, inner_step = sections.values()
    # the inner Scan node is printed inside the outer step, with the id its section uses
    inner_id = re.search(r"\[id (\w+)\]", headers[1])[1]
    assert any(re.search(rf"\|Scan\{{inner\}} \[id {inner_id}\] ''", line)
               for line in outer_step)
    # the inner step's sequence is bound to the outer step's row
    (row_line,) = {line.split(" |")[-1] for line in outer_step if "outer.seq0[t+0]" in line}
    row_id = re.search(r"\[id (\w+)\]", row_line)[1]
    assert any(line.endswith(f"(sequence 0) -> [id {row_id}]") and "inner.seq0[t+0]" in line
               for line in inner_step)
    assert any("Elemwise{exp}" in line for line in inner_step)
    assert any("(state 0 tap -1)" in line for line in inner_step)


def test_debugprint_function_with_scan_shows_the_step_it_runs():
    h, X, h0, W = rnn()
    f = function([X, h0, W], h)
    text = debugprint(f, file="str")
    (lines,) = inner_sections(text).values()
    assert "tanh" in lines[0] and "(state 0)" in lines[0]
    assert f(np.ones((3, 2)), np.zeros(2), np.eye(2)).shape == (3, 2)


def test_debugprint_scan_roles_of_carried_collected_and_until():
    x = T.dvector("x")
    s = shared(np.array(0.0), name="s")
    out, updates = T.scan(lambda v: (v * 2, {s: s + v}, T.until(v > 3)), sequences=x)
    text = debugprint([out] + list(updates.values()), file="str")
    (lines,) = inner_sections(text).values()
    roots = [line for line in lines if not line.startswith(" > ")]
    assert [re.sub(r" \[id \w+\]", "", r) for r in roots] == [
        " >Elemwise{add} '' (carried 0)", " >Elemwise{mul} '' (collected 0)",
        " >Elemwise{gt} '' (until)"]
    ids = outer_ids(text)
    assert any(re.search(rf"\|scan\.s \[id \w+\] \(carried 0\) -> \[id {ids['s']}\]$", line)
               for line in lines)


def test_debugprint_map_of_a_jacobian():
    x = T.dvector("x")
    J = T.jacobian(T.tanh(x) * x.sum(), x)
    text = debugprint(J, file="str")
    ids = outer_ids(text)
    sections = inner_sections(text)
    (header,) = sections
    assert re.fullmatch(r"Map\{1 output\(s\)\} \[id \w+\] body", header)
    lines = sections[header]
    assert lines[0].endswith("'' (output 0)")
    assert any("Elemwise{tanh}" in line for line in lines)
    assert any(re.search(r"\|i \[id \w+\] \(index\)$", line) for line in lines)
    assert any(line.endswith(f"(free 0) -> [id {ids['x']}]") for line in lines)


def test_debugprint_ifelse_prints_both_branches():
    x = T.dvector("x")
    y = T.ifelse(T.lt(x.sum(), 0), T.exp(x), x * 2.0)
    text = debugprint(y, file="str")
    ids = outer_ids(text)
    sections = inner_sections(text)
    assert len(sections) == 2
    (then_lines, else_lines) = sections.values()
    assert [h.split()[-1] for h in sections] == ["then", "else"]
    assert "Elemwise{exp}" in then_lines[0] and "Elemwise{mul}" in else_lines[0]
    for lines in (then_lines, else_lines):
        assert any(line.endswith(f"-> [id {ids['x']}]") for line in lines)


def test_pp_scan_writes_the_step():
    h, *_ = rnn()
    lines = pp(h).splitlines()
    assert lines[0].startswith("Subtensor{1:}(Scan{scan}(")
    assert lines[1:] == [
        "Inner graphs:",
        "Scan{scan} step: scan.seq0[t+0] (sequence 0), scan.out0[t-1] (state 0 tap -1), "
        "scan.W (non-sequence 0)",
        "  state 0 = tanh((Dot(scan.out0[t-1], scan.W) + scan.seq0[t+0]))"]


def test_pp_scan_inside_scan_and_map_and_ifelse():
    total, _ = nested_scan()
    lines = pp(total).splitlines()
    assert lines[1] == "Inner graphs:"
    assert lines[2] == "Scan{outer} step: outer.seq0[t+0] (sequence 0), " \
        "outer.out0[t-1] (state 0 tap -1)"
    assert lines[3].startswith("  state 0 = (outer.out0[t-1] + ") and "Scan{inner}(" in lines[3]
    assert lines[4:] == ["Scan{inner} step: inner.seq0[t+0] (sequence 0), "
                         "inner.out0[t-1] (state 0 tap -1)",
                         "  state 0 = (inner.out0[t-1] + exp(inner.seq0[t+0]))"]
    x = T.dvector("x")
    lines = pp(T.jacobian(T.tanh(x) * x.sum(), x)).splitlines()
    # an unnamed inner input is written as its role
    assert lines[1:3] == ["Inner graphs:", "Map{1 output(s)} body: i (index), <free 0>"]
    assert lines[3].startswith("  output 0 = ") and "tanh(<free 0>)" in lines[3]
    y = T.ifelse(T.lt(x.sum(), 0), T.exp(x), x * 2.0)
    assert pp(y).splitlines()[1:] == ["Inner graphs:", "IfElse then: x (input 0)",
                                      "  output 0 = exp(x)", "IfElse else: x (input 0)",
                                      "  output 0 = (x * 2.0)"]


def test_pp_function_with_scan():
    h, X, h0, W = rnn()
    lines = pp(function([X, h0, W], h)).splitlines()
    assert "Inner graphs:" in lines
    assert lines[-1] == "  state 0 = tanh((Dot(scan.out0[t-1], scan.W) + scan.seq0[t+0]))"


_CLUSTER = re.compile(r"^(\s*)subgraph (cluster\w+) \{$")
_GRAPH_ATTRS = re.compile(r"^\s*graph \[(.*)\];$")


def parse_dot_clusters(text):
    """``(nodes, edges, clusters)`` of DOT text with (nested) clusters: each node's
    attributes get ``cluster``, the label of the innermost cluster holding it (None at the
    top); ``clusters`` maps a cluster's label to its parent's label."""
    lines = text.splitlines()
    assert lines[0] == "digraph nnframe {" and lines[-1] == "}"
    nodes, edges, clusters, stack = {}, [], {}, [None]
    for line in lines[1:-1]:
        depth = len(stack) - 1
        assert line.startswith("  " * (depth + 1)) and not line.startswith(
            "  " * (depth + 2)) or line.strip() == "}", f"bad indentation: {line!r}"
        if _CLUSTER.match(line):
            stack.append("?")
            continue
        if line.strip() == "}":
            stack.pop()
            continue
        graph_attrs = _GRAPH_ATTRS.match(line)
        if graph_attrs:
            label = _attrs(graph_attrs[1])["label"]
            assert _attrs(graph_attrs[1])["style"] == "dashed"
            stack[-1] = label
            clusters[label] = stack[-2]
            continue
        edge, node = _EDGE.match("  " + line.strip()), _NODE.match("  " + line.strip())
        assert edge or node, f"unexpected DOT line {line!r}"
        if edge:
            assert depth == 0 or (edge[1] in nodes and edge[2] in nodes and
                                  nodes[edge[1]]["cluster"] == nodes[edge[2]]["cluster"]
                                  == stack[-1]), f"edge leaves its cluster: {line!r}"
            edges.append((edge[1], edge[2], _attrs(edge[3] or "")))
        else:
            assert node[1] not in nodes
            nodes[node[1]] = dict(_attrs(node[2]), cluster=stack[-1])
    assert stack == [None]
    assert all(a in nodes and b in nodes for a, b, _ in edges)
    return nodes, edges, clusters


def dot_text(tmp_path, fct, **kw):
    return open(pydotprint(fct, tmp_path / "graph.dot", print_output_file=False, **kw)).read()


def test_dot_scan_step_is_a_cluster_bound_to_its_node(tmp_path, monkeypatch):
    monkeypatch.setattr(printing.shutil, "which", lambda name: None)  # no Graphviz needed
    h, *_ = rnn()
    nodes, edges, clusters = parse_dot_clusters(dot_text(tmp_path, h))
    assert clusters == {"Scan{scan} step": None}
    inner = {n: a for n, a in nodes.items() if a["cluster"] == "Scan{scan} step"}
    assert {a["label"] for a in inner.values() if a["shape"] == "box"} == \
        {"Elemwise{tanh}", "Elemwise{add}", "Dot"}
    # inner inputs: green, their role on the first line
    roles = {a["label"].split("\n")[0]: n for n, a in inner.items() if a["shape"] == "ellipse"}
    assert set(roles) == {"sequence 0", "state 0 tap -1", "non-sequence 0", "state 0"}
    assert inner[roles["non-sequence 0"]]["label"].split("\n")[1] == "scan.W"
    assert inner[roles["sequence 0"]]["fillcolor"] == "green"
    assert inner[roles["state 0"]]["fillcolor"] == "blue"
    # dotted edges: outer W -> inner W, the new state -> the Scan box
    dotted = [(a, b) for a, b, attrs in edges if attrs.get("style") == "dotted"]
    (w,) = [n for n, a in nodes.items() if a["label"].split("\n")[0] == "W"]
    (scan_box,) = [n for n, a in nodes.items() if a["label"] == "Scan{scan}"]
    assert nodes[w]["cluster"] is None and nodes[scan_box]["cluster"] is None
    assert (w, roles["non-sequence 0"]) in dotted
    assert (roles["state 0"], scan_box) in dotted
    assert len(dotted) == 4  # three inputs bound, one output


def test_dot_scan_inside_scan_nests_clusters(tmp_path):
    total, _ = nested_scan()
    nodes, edges, clusters = parse_dot_clusters(dot_text(tmp_path, total))
    assert clusters == {"Scan{outer} step": None, "Scan{inner} step": "Scan{outer} step"}
    (inner_box,) = [n for n, a in nodes.items() if a["label"] == "Scan{inner}"]
    assert nodes[inner_box]["cluster"] == "Scan{outer} step"
    (exp,) = [n for n, a in nodes.items() if a["label"] == "Elemwise{exp}"]
    assert nodes[exp]["cluster"] == "Scan{inner} step"
    (new_state,) = [n for n, a in nodes.items() if a["cluster"] == "Scan{inner} step"
                    and a["label"].startswith("state 0\n")]
    assert (new_state, inner_box, {"style": "dotted"}) in edges


def test_dot_map_and_ifelse_clusters(tmp_path):
    x = T.dvector("x")
    J = T.jacobian(T.tanh(x) * x.sum(), x)
    y = T.ifelse(T.lt(x.sum(), 0), T.exp(x), x * 2.0)
    nodes, edges, clusters = parse_dot_clusters(dot_text(tmp_path, [J, y]))
    assert clusters == {"Map{1 output(s)} body": None, "IfElse then": None, "IfElse else": None}
    assert any(a["label"] == "Elemwise{tanh}" and a["cluster"] == "Map{1 output(s)} body"
               for a in nodes.values())
    assert any(a["label"] == "Elemwise{exp}" and a["cluster"] == "IfElse then"
               for a in nodes.values())
    (x_node,) = [n for n, a in nodes.items() if a["label"].split("\n")[0] == "x"
                 and a["cluster"] is None]
    bound = {nodes[b]["cluster"] for a, b, attrs in edges if a == x_node
             and attrs.get("style") == "dotted"}
    assert bound == {"Map{1 output(s)} body", "IfElse then", "IfElse else"}


def test_inner_graph_labels_are_escaped(tmp_path):
    # names are user text (recipes): quoted in DOT as the outer graph's are
    x = T.dvector('say "hi" \\ x')
    out, _ = T.scan(lambda v: v * 2.0, sequences=x, name='loop "1"\nend')
    text = dot_text(tmp_path, out)
    assert 'graph [label="Scan{loop \\"1\\"\\nend} step", style=dashed];' in text
    nodes, _, clusters = parse_dot_clusters(text)
    assert list(clusters) == ['Scan{loop "1"\nend} step']
    # debugprint and pp write names as they are (as for the outer graph)
    assert 'Scan{loop "1"\nend} [id A] step' in debugprint(out, file="str")


def test_an_op_without_inner_graphs_method_shows_its_inner_outputs():
    from nnframe.core.ops.loop import Map

    class BareMap(Map):  # holds inner_inputs/inner_outputs but says nothing of them
        inner_graphs = None
    i, v = T.lscalar("i"), T.dvector("v")
    (rows,) = [BareMap([i, v], [v * i])(T.constant(3, dtype="int64"), T.dvector("w"))]
    text = debugprint(rows, file="str")
    (header,) = inner_sections(text)
    assert header.endswith(" inner graph")
    assert " > |v [id " in text and "(input 1)" in text and " -> [id" not in text
    assert pp(rows).splitlines()[1:3] == ["Inner graphs:",
                                          "Map{1 output(s)} inner graph: i (input 0), v (input 1)"]
