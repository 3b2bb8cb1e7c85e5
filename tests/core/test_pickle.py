"""Pickling graphs, Ops, shared variables and compiled functions (as Theano and PyTensor can)."""
import copy
import pickle

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared
from nnframe.core.function import Function
from nnframe.core.graph import Tag, graph_inputs, toposort
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.scalar import SCALAR_OPS, Cast, Composite
from nnframe.tensor.random import RandomStream


def roundtrip(obj):
    return pickle.loads(pickle.dumps(obj))


def test_expression_graph_pickles_and_evaluates():
    x = T.dmatrix("x")
    y = T.dvector("y")
    z = (T.tanh(T.dot(x, y)) * 2 + T.cast(x, "float32").sum()).sum()
    z2, x2, y2 = roundtrip((z, x, y))
    assert x2.name == "x" and x2.type == x.type
    xv, yv = np.arange(6.0).reshape(2, 3) / 10, np.array([1.0, -1.0, 0.5])
    f = function([x, y], z)
    f2 = function([x2, y2], z2)
    np.testing.assert_allclose(f2(xv, yv), f(xv, yv))
    # The copy is a graph of its own.
    assert x2 is not x and z2.owner.inputs[0] is not z.owner.inputs[0]


def test_pickled_variable_keeps_tag_but_not_eval_cache():
    x = T.dscalar("x")
    y = x * 3
    assert y.eval({x: 2.0}) == 6.0
    y.tag.note = "hello"
    y2 = roundtrip(y)
    assert y2.tag.note == "hello"
    assert "eval_cache" not in y2.tag
    assert y2.eval({y2.owner.inputs[0]: 1.0}) == 3.0


@pytest.mark.parametrize("name", sorted(SCALAR_OPS))
def test_every_scalar_row_pickles_by_name(name):
    row = SCALAR_OPS[name]
    assert roundtrip(row) is row
    op = Elemwise(row)
    assert roundtrip(op) == op


def test_cast_and_composite_pickle():
    cast = Cast("int16")
    assert roundtrip(cast) == cast and roundtrip(cast).dtype == "int16"
    comp = Composite(["float32", "float32"],
                     [(SCALAR_OPS["mul"], (0, 1)), (SCALAR_OPS["tanh"], (2,))])
    comp2 = roundtrip(comp)
    assert comp2 == comp
    a, b = np.array([0.5, 1.0], "float32"), np.array([2.0, -1.0], "float32")
    np.testing.assert_allclose(comp2.impl(a, b), np.tanh(a * b))


def test_training_function_with_shared_params_and_updates():
    rng = np.random.default_rng(0)
    xv = rng.normal(size=(8, 3))
    tv = xv @ np.array([1.0, -2.0, 0.5])
    W = shared(np.zeros(3), name="W")
    b = shared(np.array(0.0), name="b")
    x, t = T.dmatrix("x"), T.dvector("t")
    cost = T.mean(T.sqr(T.dot(x, W) + b - t))
    gW, gb = T.grad(cost, [W, b])
    train = function([x, t], cost, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)],
                     name="train")
    train(xv, tv)
    W_before, b_before = W.get_value(), b.get_value()

    train2, W2, b2 = roundtrip((train, W, b))
    assert isinstance(train2, Function) and train2.name == "train"
    # The unpickled function updates the unpickled shared variables ...
    np.testing.assert_array_equal(W2.get_value(), W_before)
    c2 = train2(xv, tv)
    assert not np.allclose(W2.get_value(), W_before)
    # ... and leaves the original's alone.
    np.testing.assert_array_equal(W.get_value(), W_before)
    np.testing.assert_array_equal(b.get_value(), b_before)
    # Both continue the same training.
    c1 = train(xv, tv)
    np.testing.assert_allclose(c2, c1)
    np.testing.assert_allclose(W2.get_value(), W.get_value())


def test_unpickled_function_alone_keeps_its_shared_values():
    acc = shared(np.array(1.0), name="acc")
    inc = T.dscalar("inc")
    f = function([inc], acc, updates={acc: acc + inc}, mode="fast_compile")
    f(1.0)
    g = roundtrip(f)
    assert g.maker.mode.name == "fast_compile"
    assert g(10.0) == 2.0
    assert g(0.0) == 12.0
    assert acc.get_value() == 2.0


def test_function_keeps_keywords_defaults_and_givens():
    from nnframe.core.function import In
    x, y = T.dscalars("x", "y")
    data = shared(np.arange(4.0), name="data")
    v = T.dvector("v")
    f = function([x, In(y, value=2.0)], (v * x + y).sum(), givens=[(v, data)])
    g = roundtrip(f)
    assert g(1.0) == f(1.0) == 14.0
    assert g(1.0, y=0.0) == 6.0


def test_random_streams_pickle():
    srng = RandomStream(seed=7)
    u = srng.uniform(size=(3,))
    f = function([], u)
    f()
    g, = roundtrip((f,))
    # Same state: the copy draws what the original draws next; then both advance.
    np.testing.assert_array_equal(g(), f())
    np.testing.assert_array_equal(g(), f())
    assert not np.array_equal(f(), f())
    u2 = roundtrip(u)
    assert function([], u2)().shape == (3,)


def test_scan_graph_pickles():
    x = T.dvector("x")
    h0 = T.dscalar("h0")
    hs, _ = T.scan(lambda xt, h: T.tanh(xt + h), sequences=x, outputs_info=h0)
    total = hs.sum()
    g = T.grad(total, x)
    f = function([x, h0], [total, g])
    f2 = roundtrip(f)
    xv = np.array([0.1, -0.2, 0.3])
    for a, b in zip(f2(xv, 0.5), f(xv, 0.5)):
        np.testing.assert_allclose(a, b)
    total2, x2, h02 = roundtrip((total, x, h0))
    np.testing.assert_allclose(function([x2, h02], total2)(xv, 0.5), f(xv, 0.5)[0])


def test_ifelse_graph_pickles():
    a, b = T.dscalars("a", "b")
    z = T.ifelse(T.lt(a, b), a * 2, b * 3)
    z2, a2, b2 = roundtrip((z, a, b))
    f2 = function([a2, b2], z2)
    assert f2(1.0, 2.0) == 2.0 and f2(3.0, 2.0) == 6.0
    assert roundtrip(function([a, b], z))(1.0, 2.0) == 2.0


def test_deep_graph_pickles():
    # Nodes are pickled inputs first, so a deep graph does not exhaust the recursion limit.
    x = T.dscalar("x")
    y = x
    for _ in range(1500):
        y = y + 1.0
    y2 = roundtrip(y)
    (x2,) = [v for v in graph_inputs([y2]) if v.name == "x"]
    assert x2 is not x and x2.type == x.type
    assert len(toposort([y2])) == 1500


def test_copying_a_variable_leaves_pickling_flat():
    x = T.dscalar("x")
    y = x + 1.0
    assert copy.copy(y).owner is y.owner
    z = x
    for _ in range(1500):
        z = z * 1.0
    assert len(toposort([roundtrip(z)])) == 1500


def test_tag_is_attributes_and_items():
    x = T.dscalar("x")
    x.tag.trace = "here"
    assert x.tag["trace"] == "here"
    assert getattr(x.tag, "missing", None) is None
    with pytest.raises(AttributeError):
        x.tag.missing  # noqa: B018
    del x.tag.trace
    assert "trace" not in x.tag
    node = (x + 1).owner
    assert isinstance(node.tag, Tag) and node.tag.site == node.tag["site"]
    assert roundtrip(node.tag) == node.tag
