"""Stabilising rewrites of a hand-written sigmoid (issue 15, item 3).

Theano's logistic-regression tutorial writes ``p = 1 / (1 + T.exp(-z))`` and the
cross-entropy ``-y * log(p) - (1 - y) * log(1 - p)``.  The stabilize pass (and
``stable_clone``, which ``T.grad`` runs on the cost) turns ``p`` into ``sigmoid(z)`` and
the logs into softplus, so values and gradients stay finite at any ``z``.
"""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared
from nnframe.core.mode import Mode
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.rewrite.stabilize import stable_clone

NO_FUSION = Mode(exclude=["fusion"])
SAFE = np.linspace(-8.0, 8.0, 17)
EXTREME = np.array([-800.0, -30.0, 0.0, 30.0, 800.0])
DTYPES = ["float32", "float64"]

HAND_WRITTEN = {
    "one_over": lambda z: 1 / (1 + T.exp(-z)),
    "one_over_swapped": lambda z: 1 / (T.exp(-z) + 1),
    "inv": lambda z: T.inv(1 + T.exp(-z)),
    "true_div": lambda z: T.true_div(1, 1 + T.exp(-z)),
    "power": lambda z: (1 + T.exp(-z)) ** -1,
    "exp_over": lambda z: T.exp(z) / (1 + T.exp(z)),
}
SIGMOIDS = dict(HAND_WRITTEN, library=T.nnet.sigmoid)


def np_sigmoid(z):
    return np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))


def np_softplus(z):
    return np.logaddexp(0, z)


def scalar_names(f):
    return [n.op.scalar_op.name for n in f.maker.fgraph.toposort() if isinstance(n.op, Elemwise)]


def vector(dtype):
    return T.vector("z", dtype=dtype)


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == "float32" else dict(rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", sorted(HAND_WRITTEN))
def test_a_hand_written_sigmoid_becomes_sigmoid(form, dtype):
    z = vector(dtype)
    p = HAND_WRITTEN[form](z)
    g = T.grad(p.sum(), z)
    f = function([z], [p, g], mode=NO_FUSION)
    names = scalar_names(f)
    assert "sigmoid" in names and "exp" not in names, names
    for values in (SAFE, EXTREME):
        with np.errstate(over="raise"):
            value, grad = f(values.astype(dtype))
        assert value.dtype == dtype and grad.dtype == dtype
        assert np.isfinite(value).all() and np.isfinite(grad).all()
        want = np_sigmoid(values)
        np.testing.assert_allclose(value, want, **tol(dtype))
        np.testing.assert_allclose(grad, want * (1 - want), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", sorted(SIGMOIDS))
def test_log_of_a_sigmoid_becomes_softplus(form, dtype):
    z = vector(dtype)
    p = SIGMOIDS[form](z)
    log_p, log_q = T.log(p), T.log(1 - p)
    outputs = [log_p, log_q, T.grad(log_p.sum(), z), T.grad(log_q.sum(), z)]
    f = function([z], outputs, mode=NO_FUSION)
    names = scalar_names(f)
    assert "softplus" in names and "log" not in names and "exp" not in names, names
    for values in (SAFE, EXTREME):
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            got = f(values.astype(dtype))
        for out in got:
            assert out.dtype == dtype and np.isfinite(out).all()
        s = np_sigmoid(values)
        want = [-np_softplus(-values), -np_softplus(values), 1 - s, -s]
        for a, b in zip(got, want):
            np.testing.assert_allclose(a, b, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_gradient_alone_is_stable_without_rewrites_of_the_function(dtype):
    # mode='fast_compile' runs no rewrites: the gradient is finite because T.grad
    # differentiated stable_clone's copy of the cost.
    z, y = vector(dtype), T.vector("y", dtype=dtype)
    p = 1 / (1 + T.exp(-z))
    xent = (-y * T.log(p) - (1 - y) * T.log(1 - p)).sum()
    f = function([z, y], T.grad(xent, z), mode="fast_compile")
    yv = np.array([1, 0, 1, 0, 1], dtype=dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        grad = f(EXTREME.astype(dtype), yv)
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(grad, np_sigmoid(EXTREME) - yv, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_grad_of_a_hand_written_cross_entropy_is_finite_at_extreme_z(dtype):
    x = T.matrix("x", dtype=dtype)
    y = T.vector("y", dtype=dtype)
    w = T.vector("w", dtype=dtype)
    b = T.scalar("b", dtype=dtype)
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean()
    gw, gb = T.grad(cost, [w, b])
    f = function([x, y, w, b], [cost, gw, gb])
    xv = np.array([[-800.0, 0.0], [800.0, 0.0], [800.0, 0.0], [-800.0, 0.0], [0.5, 1.0]], dtype)
    yv = np.array([1, 0, 1, 0, 1], dtype=dtype)
    wv, bv = np.array([1.0, 0.0], dtype), np.asarray(0.0, dtype)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        cost_v, gw_v, gb_v = f(xv, yv, wv, bv)
    zv = xv.astype("float64") @ wv
    want_cost = np.mean(yv * np_softplus(-zv) + (1 - yv) * np_softplus(zv))
    residual = (np_sigmoid(zv) - yv) / len(yv)
    np.testing.assert_allclose(cost_v, want_cost, **tol(dtype))
    np.testing.assert_allclose(gw_v, xv.astype("float64").T @ residual, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(gb_v, residual.sum(), rtol=1e-5, atol=1e-6)


def test_stable_clone_rewrites_a_hand_written_sigmoid_cost():
    z = T.dvector("z")
    p = 1 / (1 + T.exp(-z))
    cost = (T.log(p) + T.log(1 - p)).sum()
    stable = stable_clone([cost], [z])[0]
    assert stable is not cost
    f = function([z], stable, mode="fast_compile")
    names = scalar_names(f)
    assert "softplus" in names and "log" not in names and "exp" not in names, names
    np.testing.assert_allclose(f(EXTREME), -np_softplus(-EXTREME).sum() - np_softplus(EXTREME).sum())


def test_a_hand_written_softplus_becomes_softplus():
    z = T.dvector("z")
    outs = [T.log(1 + T.exp(z)), T.log1p(T.exp(z))]
    f = function([z], outs + [T.grad(o.sum(), z) for o in outs], mode=NO_FUSION)
    names = scalar_names(f)
    assert "softplus" in names and "exp" not in names and "log1p" not in names, names
    with np.errstate(over="raise", invalid="raise"):
        a, b, ga, gb = f(EXTREME)
    np.testing.assert_allclose(a, np_softplus(EXTREME))
    np.testing.assert_allclose(b, np_softplus(EXTREME))
    # the sigmoid kernel has an absolute (not relative) error ~1e-16
    np.testing.assert_allclose(ga, np_sigmoid(EXTREME), atol=1e-15)
    np.testing.assert_allclose(gb, np_sigmoid(EXTREME), atol=1e-15)


@pytest.mark.parametrize("build", [
    lambda z, u: 2 / (1 + T.exp(-z)),          # not a sigmoid
    lambda z, u: 1 / (2 + T.exp(-z)),
    lambda z, u: T.exp(u) / (1 + T.exp(z)),    # different exponents
    lambda z, u: (1 + T.exp(-z)) ** -2,
], ids=["numerator_2", "two_plus", "other_exponent", "power_minus_2"])
def test_look_alikes_are_left_alone(build):
    z, u = T.dvectors("z", "u")
    out = build(z, u)
    f = function([z, u], out, mode=NO_FUSION, on_unused_input="ignore")
    assert "sigmoid" not in scalar_names(f)
    zv, uv = np.array([-1.0, 0.0, 2.0]), np.array([0.5, -1.0, 1.0])
    slow = function([z, u], out, mode="fast_compile", on_unused_input="ignore")
    np.testing.assert_allclose(f(zv, uv), slow(zv, uv))


def test_a_broadcasting_constant_that_would_change_the_type_is_left_alone():
    z = T.dscalar("z")
    out = T.constant(np.ones((2, 3))) / (1 + T.exp(-z))
    f = function([z], out, mode=NO_FUSION)
    np.testing.assert_allclose(f(0.0), np.full((2, 3), 0.5))


def test_the_gradient_wrt_the_hand_written_probability_itself_is_kept():
    z = T.dvector("z")
    p = 1 / (1 + T.exp(-z))
    g = T.grad(T.log(p).sum(), p)             # d log(p) / dp = 1 / p
    np.testing.assert_allclose(function([z], g)(np.array([0.0])), [2.0])


@pytest.mark.parametrize("dtype", DTYPES)
def test_theano_tutorial_logistic_regression_stays_finite_at_z_800(dtype):
    # Theano's tutorial, hand-written sigmoid and all; examples 0 and 1 have z = -800
    # and +800 at the start, on the wrong side of their labels.
    rng = np.random.default_rng(0)
    feats = 5
    x = T.matrix("x", dtype=dtype)
    y = T.vector("y", dtype=dtype)
    w = shared(np.array([1.0, 0, 0, 0, 0], dtype=dtype), name="w")
    b = shared(np.asarray(0.0, dtype=dtype), name="b")
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = function([x, y], [prediction, xent],
                     updates=((w, w - 0.1 * gw), (b, b - 0.1 * gb)))
    predict = function([x], prediction)

    X = rng.normal(size=(20, feats)).astype(dtype)
    Y = (X[:, 1] > 0).astype(dtype)
    X[0, 0], Y[0] = -800.0, 1.0
    X[1, 0], Y[1] = 800.0, 0.0
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        pred, err = train(X, Y)
    assert np.isfinite(err).all() and err.dtype == dtype
    np.testing.assert_allclose(err[:2], [800.0, 800.0], rtol=1e-5)
    assert np.isfinite(w.get_value()).all() and np.isfinite(b.get_value())
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        for _ in range(50):
            pred, err = train(X, Y)
            assert np.isfinite(err).all()
            assert np.isfinite(w.get_value()).all() and np.isfinite(b.get_value())
        assert predict(X).shape == (20,)
