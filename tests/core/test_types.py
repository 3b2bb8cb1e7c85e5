"""Type constructors, static shapes and input filtering."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config
from nnframe.core.types import TensorType

PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
            "d": "float64", "c": "complex64", "z": "complex128"}
KINDS = {"scalar": (), "vector": (None,), "row": (1, None), "col": (None, 1),
         "matrix": (None, None), "tensor3": (None,) * 3, "tensor4": (None,) * 4}


@pytest.mark.parametrize("prefix", list(PREFIXES) + [""])
@pytest.mark.parametrize("kind", list(KINDS))
def test_every_constructor(prefix, kind):
    var = getattr(T, prefix + kind)("v")
    assert var.dtype == (PREFIXES[prefix] if prefix else config.floatX)
    assert var.type.shape == KINDS[kind]
    assert var.name == "v"


PLURALS = {"scalar": "scalars", "vector": "vectors", "row": "rows", "col": "cols",
           "matrix": "matrices", "tensor3": "tensor3s", "tensor4": "tensor4s"}


@pytest.mark.parametrize("kind", list(PLURALS))
def test_plural_constructors(kind):
    a, b = getattr(T, "d" + PLURALS[kind])("a", "b")
    assert (a.name, b.name) == ("a", "b")
    assert a.dtype == "float64" and a.type.shape == KINDS[kind]


def test_unprefixed_constructors_follow_floatX_at_call_time():
    with config.change_flags(floatX="float64"):
        assert T.matrix().dtype == "float64"
        assert T.scalar().dtype == "float64"
    assert T.matrix().dtype == "float32"


def test_general_tensor_constructor():
    t = T.tensor("float32", shape=(None, 1, 3), name="t")
    assert t.type.broadcastable == (False, True, False)
    assert T.tensor("int8", broadcastable=(True, False)).type.shape == (1, None)
    assert T.tensor5().ndim == 5
    with pytest.raises(TypeError, match="static shape"):
        T.tensor("float32")


def test_type_equality_and_repr():
    assert TensorType("float32", (None, None)) == TensorType("float32", (None, None))
    assert TensorType("float32", (None, 1)) != TensorType("float32", (None, None))
    assert repr(T.fmatrix().type) == "TensorType(float32, matrix)"
    assert repr(T.dcol().type) == "TensorType(float64, shape=(?, 1))"


def test_filter_conversions():
    t = TensorType("float32", (None,))
    arr = np.ones(3, dtype="float32")
    assert t.filter(arr) is arr                         # exact dtype: no copy
    assert t.filter(np.ones(3, dtype="int8")).dtype == np.float32   # safe cast
    with pytest.raises(TypeError, match="without loss"):
        t.filter(np.ones(3, dtype="float64"))
    assert t.filter(np.ones(3, dtype="float64"), allow_downcast=True).dtype == np.float32
    with pytest.raises(TypeError, match="strict"):
        t.filter(np.ones(3, dtype="int8"), strict=True)
    with pytest.raises(TypeError, match="not a numeric"):
        t.filter(["a", "b"])


def test_float64_data_for_a_float32_input_names_both_fixes():
    from nnframe import function
    x = T.fvector("x")
    f = function([x], x * 2)
    with pytest.raises(TypeError, match="without loss") as info:
        f(np.ones(3))
    message = str(info.value)
    assert "allow_input_downcast=True" in message and "config.floatX = 'float64'" in message
    with pytest.raises(TypeError, match="allow_input_downcast.*config.floatX"):
        x.type.filter(np.ones(3))


def test_unsupported_dtype():
    with pytest.raises(TypeError, match="unsupported dtype"):
        TensorType("datetime64[s]", ())


def test_symbolic_variables_refuse_truth_len_and_iteration():
    x = T.dvector("x")
    # Theano 1.0: a variable is true (``if W:``, ``lr or 0.01``); a comparison refuses
    assert bool(x) and (x or None) is x
    with pytest.raises(TypeError, match="switch"):
        bool(x > 0)
    with pytest.raises(TypeError, match="switch"):
        0 < x < 1  # noqa: B015  (Python's chained comparison needs a truth value)
    with pytest.raises(TypeError, match="switch"):
        bool(T.eq(x, 0).any())
    with pytest.raises(TypeError, match="shape"):
        len(x)
    with pytest.raises(TypeError, match="iterated"):
        list(x)


def test_variables_compare_by_identity():
    x, y = T.dscalars("x", "y")
    assert x == x and x != y
    assert len({x, y, x}) == 2


def test_warn_float64_flag():
    with config.change_flags(warn_float64="raise"):
        with pytest.raises(TypeError, match="float64"):
            T.dvector("d")
        T.fvector("f")
