"""Norm constraints and weight decay against NumPy, and adamw's decoupled decay."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared
from nnframe.optim import (
    adam,
    adamw,
    apply_weight_decay,
    norm_constraint,
    sgd,
    total_norm_constraint,
)

RNG = np.random.default_rng(1)


def np_total_norm_constraint(arrays, max_norm, epsilon=1e-7):
    norm = np.sqrt(sum(np.sum(a ** 2) for a in arrays))
    return [a * min(norm, max_norm) / (norm + epsilon) for a in arrays], norm


def np_norm_constraint(a, max_norm, axes, epsilon=1e-7):
    norms = np.sqrt(np.sum(a ** 2, axis=axes, keepdims=True))
    return a * np.minimum(norms, max_norm) / (norms + epsilon)


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
def test_total_norm_constraint_matches_numpy(max_norm):
    arrays = [RNG.normal(size=(3, 4)), RNG.normal(size=(4,)), RNG.normal(size=(2, 1, 3))]
    xs = [T.tensor("float64", (None,) * a.ndim) for a in arrays]
    scaled, norm = total_norm_constraint(xs, max_norm, return_norm=True)
    f = function(xs, scaled + [norm], mode="debug")
    *got, got_norm = f(*arrays)
    want, want_norm = np_total_norm_constraint(arrays, max_norm)
    np.testing.assert_allclose(got_norm, want_norm, rtol=1e-12)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    new_norm = np.sqrt(sum(np.sum(g ** 2) for g in got))
    assert new_norm == pytest.approx(min(want_norm, max_norm), rel=1e-6)


def test_total_norm_constraint_keeps_each_dtype_and_zero_stays_zero():
    a = T.fvector("a")
    b = T.dvector("b")
    scaled = total_norm_constraint([a, b], max_norm=1.0)
    assert [s.dtype for s in scaled] == ["float32", "float64"]
    out = function([a, b], scaled)(np.zeros(3, "float32"), np.zeros(2))
    assert not np.any(out[0]) and not np.any(out[1])
    only32 = total_norm_constraint([a], 1.0)
    assert only32[0].dtype == "float32"


@pytest.mark.parametrize("shape, norm_axes, axes", [
    ((5, 3), None, (0,)),                       # dense: incoming weights of each unit
    ((4, 3, 2, 2), None, (1, 2, 3)),            # conv: each filter
    ((4, 3, 5), None, (1, 2)),
    ((5, 3), (1,), (1,)),
    ((6,), (0,), (0,)),
    ((2, 3, 4), [-1], (2,)),
])
def test_norm_constraint_matches_numpy(shape, norm_axes, axes):
    a = RNG.normal(size=shape) * 2.0
    x = T.tensor("float64", (None,) * len(shape))
    out = norm_constraint(x, max_norm=1.5, norm_axes=norm_axes)
    got = function([x], out, mode="debug")(a)
    np.testing.assert_allclose(got, np_norm_constraint(a, 1.5, axes), rtol=1e-12)
    assert np.all(np.sqrt(np.sum(got ** 2, axis=axes)) <= 1.5 + 1e-9)


def test_norm_constraint_on_an_update_keeps_float32():
    W = shared(RNG.normal(size=(4, 3)).astype("float32"), name="W")
    updates = sgd(T.sum(W), [W], learning_rate=0.1)
    updates[W] = norm_constraint(updates[W], max_norm=0.5)
    assert updates[W].dtype == "float32"
    before = W.get_value()
    function([], [], updates=updates)()
    np.testing.assert_allclose(W.get_value(), np_norm_constraint(before - 0.1, 0.5, (0,)),
                               rtol=1e-5)


@pytest.mark.parametrize("call, exc, match", [
    (lambda: total_norm_constraint(T.dvector(), 1.0), TypeError, "list of tensors"),
    (lambda: total_norm_constraint([], 1.0), ValueError, "tensor_vars is empty"),
    (lambda: total_norm_constraint([T.ivector()], 1.0), TypeError, r"tensor_vars\[0\].*int32"),
    (lambda: total_norm_constraint([T.dvector()], -1.0), ValueError, "max_norm must be >= 0"),
    (lambda: total_norm_constraint([T.dvector()], "1"), TypeError, "max_norm must be a number"),
    (lambda: norm_constraint(T.dvector(), 1.0), ValueError, "give norm_axes"),
    (lambda: norm_constraint(T.dmatrix(), 1.0, norm_axes=(2,)), ValueError, "out of range"),
    (lambda: norm_constraint(T.dmatrix(), 1.0, norm_axes=(0, -2)), ValueError, "distinct"),
    (lambda: norm_constraint(T.dmatrix(), 1.0, epsilon=-1), ValueError, "epsilon must be >= 0"),
    (lambda: norm_constraint(T.imatrix(), 1.0), TypeError, "float tensors"),
])
def test_constraint_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# -- weight decay ------------------------------------------------------------------------
def test_apply_weight_decay_matches_numpy_and_composes_with_a_rule():
    W0, b0 = RNG.normal(size=(3, 2)), RNG.normal(size=2)
    W, b = shared(W0, name="W"), shared(b0, name="b")
    loss = T.sum(T.sqr(W)) + T.sum(b)
    grads = apply_weight_decay(T.grad(loss, [W, b]), [W, b], weight_decay=0.1)
    got = function([], grads, mode="debug")()
    np.testing.assert_allclose(got[0], 2 * W0 + 0.1 * W0, rtol=1e-12)
    np.testing.assert_allclose(got[1], 1.0 + 0.1 * b0, rtol=1e-12)
    function([], [], updates=sgd(grads, [W, b], learning_rate=0.5))()
    np.testing.assert_allclose(W.get_value(), W0 - 0.5 * (2.1 * W0), rtol=1e-12)


def test_apply_weight_decay_float32_and_symbolic():
    w = shared(np.ones(3, dtype="float32"), name="w")
    wd = T.dscalar("wd")
    grads = apply_weight_decay([T.grad(T.sum(w), w)], [w], wd)
    assert grads[0].dtype == "float32"
    np.testing.assert_allclose(function([wd], grads[0])(0.25), [1.25] * 3)


@pytest.mark.parametrize("call, exc, match", [
    (lambda w: apply_weight_decay([w], [w], -0.1), ValueError, "weight_decay must be >= 0"),
    (lambda w: apply_weight_decay([w], [w], "0.1"), TypeError, "weight_decay must be a number"),
    (lambda w: apply_weight_decay(w, [w], 0.1), TypeError, "grads must be a list"),
    (lambda w: apply_weight_decay([w, w], [w], 0.1), ValueError, "2 gradient"),
    (lambda w: apply_weight_decay([w], [w * 2], 0.1), TypeError, "not a shared variable"),
])
def test_weight_decay_errors(call, exc, match):
    w = shared(np.ones(3), name="w")
    with pytest.raises(exc, match=match):
        call(w)


def test_adamw_decay_is_decoupled():
    """With a zero gradient adamw only shrinks the parameters by (1 - lr * wd) per step;
    coupled decay through adam normalises the decay term instead."""
    w0 = RNG.normal(size=4)
    w = shared(w0, name="w")
    zero_grad = [T.zeros_like(w)]
    updates = adamw(zero_grad, [w], learning_rate=0.1, weight_decay=0.5)
    step = function([], [], updates=updates)
    for _ in range(3):
        step()
    lr = float(updates.learning_rate.get_value())
    np.testing.assert_allclose(w.get_value(), w0 * (1 - lr * 0.5) ** 3, rtol=1e-12)

    v = shared(w0, name="v")
    coupled = adam(apply_weight_decay([T.zeros_like(v)], [v], 0.5), [v], learning_rate=0.1)
    function([], [], updates=coupled)()
    # adam's first step moves every coordinate by about lr, whatever its size
    np.testing.assert_allclose(np.abs(w0 - v.get_value()), lr, rtol=1e-4)
