"""Initialisers: shapes, dtypes, statistics, seeding."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, init, nonlinearities, rng


@pytest.mark.parametrize("make, std", [
    (lambda: init.Normal(std=0.5, seed=1), 0.5),
    (lambda: init.Uniform(range=0.3, seed=1), 0.3 / np.sqrt(3)),
    (lambda: init.Uniform(std=0.2, seed=1), 0.2),
    (lambda: init.GlorotUniform(seed=1), np.sqrt(2 / (400 + 300))),
    (lambda: init.GlorotNormal(seed=1), np.sqrt(2 / (400 + 300))),
    (lambda: init.HeUniform(seed=1), np.sqrt(1 / 400)),
    (lambda: init.HeNormal(gain="relu", seed=1), np.sqrt(2 / 400)),
])
def test_scales(make, std):
    w = make()((400, 300))
    assert w.dtype == np.dtype(config.floatX) and w.shape == (400, 300)
    assert abs(w.std() - std) / std < 0.03
    assert abs(w.mean()) < 0.05 * std + 1e-3


def test_conv_fans_use_the_receptive_field():
    w = init.GlorotUniform(seed=0)((32, 16, 3, 3))
    assert abs(w.std() - np.sqrt(2 / (16 * 9 + 32 * 9))) < 0.003


def test_constant_and_uniform_range_pair():
    np.testing.assert_array_equal(init.Constant(2.5)((2, 2)), np.full((2, 2), 2.5))
    w = init.Uniform(range=(1.0, 2.0), seed=3)((1000,))
    assert w.min() >= 1.0 and w.max() < 2.0


def test_orthogonal():
    q = init.Orthogonal(seed=0)((6, 4))
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    q = init.Orthogonal(gain=2.0, seed=0)((3, 5))
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(3), atol=1e-4)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.Orthogonal()((5,))


def test_seeding():
    a = init.GlorotUniform(seed=5)((3, 3))
    np.testing.assert_array_equal(a, init.GlorotUniform(seed=5)((3, 3)))
    rng.set_rng(11)
    b = init.Normal()((3, 3))
    rng.set_rng(11)
    np.testing.assert_array_equal(b, init.Normal()((3, 3)))
    assert not np.array_equal(b, init.Normal()((3, 3)))
    with pytest.raises(TypeError, match="seed"):
        rng.set_rng("eleven")


def test_floatX_is_followed():
    with config.change_flags(floatX="float64"):
        assert init.HeNormal(seed=0)((2, 2)).dtype == np.float64


def test_nonlinearities_match_numpy():
    x = T.dvector("x")
    v = np.array([-2.0, -0.5, 0.0, 0.7, 3.0])
    cases = {
        nonlinearities.rectify: np.maximum(v, 0),
        nonlinearities.tanh: np.tanh(v),
        nonlinearities.sigmoid: 1 / (1 + np.exp(-v)),
        nonlinearities.softplus: np.log1p(np.exp(v)),
        nonlinearities.linear: v,
        nonlinearities.elu: np.where(v > 0, v, np.expm1(v)),
        nonlinearities.leaky_rectify: np.where(v > 0, v, 0.01 * v),
        nonlinearities.ScaledTanH(2.0, 3.0): 3 * np.tanh(2 * v),
    }
    for fn, want in cases.items():
        np.testing.assert_allclose(function([x], fn(x))(v), want, rtol=1e-12)
    selu = function([x], nonlinearities.selu(x))(v)
    np.testing.assert_allclose(selu, 1.0507009873554805 * np.where(v > 0, v, 1.6732632423543772 * np.expm1(v)))
