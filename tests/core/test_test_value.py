"""config.compute_test_value: nodes evaluated on test values as the graph is built (Theano's)."""
import warnings

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, shared
from nnframe.config import ConfigError


@pytest.fixture
def raising():
    with config.change_flags(compute_test_value="raise"):
        yield


def test_flag_is_validated():
    assert config.compute_test_value == "off"
    with pytest.raises(ConfigError, match="compute_test_value"):
        config.compute_test_value = "sometimes"


def test_values_propagate_through_elemwise_dot_and_reductions(raising):
    x = T.dmatrix("x")
    x.tag.test_value = np.ones((4, 3))
    W = shared(np.full((3, 2), 0.5), name="W")
    h = T.tanh(T.dot(x, W) + 1.0)
    cost = h.sum(axis=1).mean()
    assert h.tag.test_value.shape == (4, 2)
    np.testing.assert_allclose(h.tag.test_value, np.tanh(np.full((4, 2), 2.5)))
    assert cost.tag.test_value.shape == ()
    np.testing.assert_allclose(cost.tag.test_value, 2 * np.tanh(2.5))
    # The compiled function agrees with the test values.
    np.testing.assert_allclose(function([x], cost)(np.ones((4, 3))), cost.tag.test_value)


def test_gradients_get_test_values(raising):
    x = T.dvector("x")
    x.tag.test_value = np.array([1.0, 2.0])
    g = T.grad(T.sum(x ** 2), x)
    np.testing.assert_allclose(g.tag.test_value, [2.0, 4.0])


def test_shape_error_raises_at_the_line_that_built_the_node(raising):
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    x.tag.test_value = np.ones((4, 3))
    y.tag.test_value = np.ones((5, 2))
    with pytest.raises(ValueError) as info:
        T.dot(x, y)  # the line the error must name
    message = str(info.value)
    assert "compute_test_value" in message
    assert "(4, 3), (5, 2)" in message          # the input shapes
    assert "Dot" in message or "dot" in message   # the node
    assert f"{__file__}:" in message                 # the user's line
    tb = info.traceback
    assert any(str(entry.path) == __file__ and "T.dot(x, y)" in str(entry.statement) for entry in tb)


def test_shape_error_is_a_warning_under_warn():
    with config.change_flags(compute_test_value="warn"):
        x = T.dvector("x")
        x.tag.test_value = np.ones(3)
        y = T.dvector("y")
        y.tag.test_value = np.ones(4)
        with pytest.warns(UserWarning, match=r"compute_test_value.*\(3,\), \(4,\)") as rec:
            z = x + y
        assert rec[0].filename == __file__
        assert "test_value" not in z.tag


def test_missing_test_value_raise_warn_ignore():
    with config.change_flags(compute_test_value="raise"):
        x = T.dvector("x")
        with pytest.raises(ValueError, match=r"input 0 \(x.*no test value"):
            T.exp(x)
    with config.change_flags(compute_test_value="warn"):
        x = T.dvector("x")
        with pytest.warns(UserWarning, match="no test value") as rec:
            y = T.exp(x)
        assert rec[0].filename == __file__
        assert "test_value" not in y.tag
    with config.change_flags(compute_test_value="ignore"):
        x = T.dvector("x")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            y = T.exp(x) + 1
        assert "test_value" not in y.tag


def test_constants_and_shared_values_are_test_values(raising):
    w = shared(np.array([1.0, 2.0]), name="w")
    y = w * 3 + np.array([1.0, 1.0])
    np.testing.assert_allclose(y.tag.test_value, [4.0, 7.0])


def test_off_costs_nothing():
    x = T.dvector("x")
    x.tag.test_value = np.ones(2)
    y = T.exp(x) * 2
    assert "test_value" not in y.tag
    assert not hasattr(y.tag, "test_value")


def test_wrong_test_value_is_refused():
    x = T.fmatrix("x")
    with pytest.raises(TypeError, match=r"test value of x has 1 dimension.*expects 2"):
        x.tag.test_value = np.ones(3, dtype="float32")
    with pytest.raises(TypeError, match="test value of x.*float64.*without loss"):
        x.tag.test_value = np.ones((2, 2))
    col = T.dcol("c")
    with pytest.raises(TypeError, match="requires length 1 on axis 1"):
        col.tag.test_value = np.ones((3, 2))
    with pytest.raises(TypeError, match="test value of x"):
        x.tag["test_value"] = np.ones(3, dtype="float32")
    # A value that converts without loss is stored in the variable's dtype.
    x.tag.test_value = np.ones((2, 2), dtype="int8")
    assert x.tag.test_value.dtype == np.float32


def test_scan_and_function_compile_under_raise(raising):
    x = T.dvector("x")
    x.tag.test_value = np.array([0.1, 0.2, 0.3])
    h0 = T.dscalar("h0")
    h0.tag.test_value = np.array(0.0)
    hs, _ = T.scan(lambda xt, h: T.tanh(xt + h), sequences=x, outputs_info=h0)
    total = hs.sum()
    f = function([x, h0], [total, T.grad(total, x)])
    out = f(np.array([0.1, 0.2, 0.3]), 0.0)
    if "test_value" in total.tag:
        np.testing.assert_allclose(total.tag.test_value, out[0])


def test_inplace_nodes_do_not_overwrite_test_values(raising):
    x = T.dvector("x")
    x.tag.test_value = np.array([1.0, 2.0])
    y = T.exp(x) + 1.0
    before = y.tag.test_value.copy()
    f = function([x], [y * 2.0, y])   # the inplace rewrite builds nodes over y's value
    f(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(y.tag.test_value, before)
    np.testing.assert_array_equal(x.tag.test_value, [1.0, 2.0])
