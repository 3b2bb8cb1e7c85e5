"""The OpenCL backend's table of C forms covers core's scalar table, and only it.

Core's rows (:data:`~nnframe.core.ops.scalar.SCALAR_OPS`) carry no C; every
row has an entry in :data:`~nnframe.backends.opencl.scalar_forms.FORMS` or is
declared host-only there, and the code generator names no op in an ``if``.
The table itself imports without pyopencl, so these checks always run.
"""
import ast
import pathlib

import numpy as np
import pytest

from nnframe.backends.opencl import codegen, scalar_forms
from nnframe.backends.opencl.scalar_forms import CAST, FORMS, HOST_ONLY, VECTOR_SAFE, form_of
from nnframe.core.ops.scalar import SCALAR_OPS, Cast, ScalarOp, same

#: the modules that turn rows into C: none may test a row's name
GENERATORS = [codegen, scalar_forms]


def test_every_row_has_a_form_or_is_host_only():
    missing = sorted(set(SCALAR_OPS) - set(FORMS) - HOST_ONLY)
    assert not missing, (f"rows of the scalar table without an OpenCL form: {missing}; give "
                         "each an entry in scalar_forms.FORMS or add it to HOST_ONLY")


def test_the_table_names_only_rows_of_core():
    unknown = sorted((set(FORMS) | HOST_ONLY) - set(SCALAR_OPS))
    assert not unknown, f"scalar_forms names rows core does not have: {unknown}"


def test_a_row_is_either_generated_or_host_only():
    assert not set(FORMS) & HOST_ONLY


def test_vector_safe_rows_have_forms_and_exclude_the_broken_pocl_vector_trig():
    assert VECTOR_SAFE <= set(FORMS)
    assert not VECTOR_SAFE & {"sin", "cos", "tan"}


def test_core_rows_carry_no_c():
    for row in list(SCALAR_OPS.values()) + [Cast("float32")]:
        assert not hasattr(row, "c_expr"), row


def test_cast_rows_share_one_entry():
    assert form_of(Cast("int8")) is CAST and form_of(Cast("float64")) is CAST
    assert codegen.scalar_expr(Cast("bool"), ["float32"], "bool", ["x"]) == "((uchar)((x) != 0))"


@pytest.mark.parametrize("name", sorted(HOST_ONLY))
def test_host_only_rows_have_no_device_form(name):
    row = SCALAR_OPS[name]
    with pytest.raises(NotImplementedError, match="host-only"):
        codegen.scalar_expr(row, ["float32"] * row.nin, "float32", ["x"] * row.nin)


def test_a_row_missing_from_the_table_has_no_device_form():
    row = ScalarOp("not_in_forms", 1, np.negative, None, same)
    with pytest.raises(NotImplementedError, match="no entry in FORMS"):
        codegen.scalar_expr(row, ["float32"], "float32", ["x"])


def test_a_row_missing_from_the_table_runs_on_the_host():
    pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl")
    import nnframe.tensor as T
    from nnframe import function
    from nnframe.backends import opencl
    from nnframe.core.ops.elemwise import Elemwise
    x = T.fvector("x")
    row = ScalarOp("not_in_forms", 1, np.negative, None, same)
    v = np.arange(300, dtype="float32")
    before = sum(n for k, n in opencl.fallbacks().items() if k.startswith("Elemwise"))
    np.testing.assert_array_equal(function([x], Elemwise(row)(x), mode="opencl")(v), -v)
    after = sum(n for k, n in opencl.fallbacks().items() if k.startswith("Elemwise"))
    assert after == before + 1


# -- no op named in an if -------------------------------------------------------------
def _is_row_name(node):
    """``name`` or ``<anything>.name``: how code refers to a row's name."""
    return ((isinstance(node, ast.Name) and node.id == "name")
            or (isinstance(node, ast.Attribute) and node.attr == "name"))


def _is_op_text(node):
    """A row's name as a string constant, or a tuple/list/set holding one (``("eq", "neq")``).

    Other strings are no op (``dtype.name == "bool"``, ``kind == "f"``).
    """
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_is_op_text(e) for e in node.elts)
    return isinstance(node, ast.Constant) and node.value in SCALAR_OPS


def name_comparisons(source):
    """Line numbers in ``source`` of comparisons between a name and an op's name."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            operands = [node.left] + node.comparators
            if any(map(_is_row_name, operands)) and any(map(_is_op_text, operands)):
                lines.append(node.lineno)
    return lines


def test_the_name_check_sees_the_old_if_chain():
    old = 'if name == "maximum" or row.name in ("eq", "neq"):\n    pass\n'
    assert name_comparisons(old) == [1, 1]
    new = "if to.name == 'bool' and row.name in VECTOR_SAFE:\n    pass\n"
    assert name_comparisons(new) == []


@pytest.mark.parametrize("module", GENERATORS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_no_generator_names_an_op(module):
    lines = name_comparisons(pathlib.Path(module.__file__).read_text())
    assert not lines, (f"{module.__name__} compares a row's name with a string on lines "
                       f"{lines}: give the row an entry in scalar_forms.FORMS instead")
