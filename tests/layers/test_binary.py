"""BinaryCodeLayer: codes exactly +-1 (0 -> +1), the gradient of each estimator, and a
zero gradient for the encoder with estimator 'none'."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, rng
from nnframe.layers import DenseLayer, InputLayer, LayerError, get_output, get_output_shape
from nnframe.layers.binary import BinaryCodeLayer

ESTIMATORS = ["none", "identity", "hardtanh", "noise"]
# includes exact zeros and the hardtanh boundary |z| = 1
Z = np.array([[-2.0, -1.0, -0.5, 0.0, 0.25, 1.0, 3.0],
              [0.0, -0.0, 1.5, -1.5, 0.999, -1e-3, 7.0]], dtype="float32")


def sign_pm1(z):
    return np.where(z >= 0, 1.0, -1.0)


def output_and_grad(layer, z, g, **kwargs):
    """The layer's output at ``z`` and the gradient of ``sum(output * g)`` w.r.t. the input,
    from one call (so both see the same noise)."""
    l_in = layer.input_layer
    out = get_output(layer, **kwargs)
    g_var = T.tensor(out.dtype, shape=(None,) * out.ndim)
    grad = T.grad((out * g_var).sum(), l_in.input_var)
    return function([l_in.input_var, g_var], [out, grad], on_unused_input="ignore")(z, g)


@pytest.mark.parametrize("estimator", ESTIMATORS)
@pytest.mark.parametrize("deterministic", [False, True])
def test_codes_are_exactly_plus_minus_one(run_layer, estimator, deterministic):
    layer = BinaryCodeLayer(InputLayer((None, 7)), estimator=estimator)
    assert layer.output_shape == (None, 7) and get_output_shape(layer, (3, 7)) == (3, 7)
    if estimator == "noise" and not deterministic:
        return  # the training output of 'noise' is tanh(z + sigma * eps), tested below
    out = run_layer(layer, Z, deterministic=deterministic)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, sign_pm1(Z))
    assert set(np.unique(out)) == {-1.0, 1.0}


@pytest.mark.parametrize("estimator, want", [
    ("none", lambda z, g: np.zeros_like(g)),
    ("identity", lambda z, g: g),
    ("hardtanh", lambda z, g: g * (np.abs(z) <= 1)),
])
def test_gradient_per_estimator(estimator, want):
    layer = BinaryCodeLayer(InputLayer((None, 7)), estimator=estimator)
    g = np.random.default_rng(0).normal(size=Z.shape).astype("float32")
    for deterministic in (False, True):
        out, grad = output_and_grad(layer, Z, g, deterministic=deterministic)
        np.testing.assert_array_equal(out, sign_pm1(Z))
        np.testing.assert_array_equal(grad, want(Z, g))


def test_noise_estimator_in_training():
    rng.set_rng(0)
    sigma = 0.5
    layer = BinaryCodeLayer(InputLayer((None, 1000)), estimator="noise", sigma=sigma,
                            name="code")
    assert [v.name for v in layer._srng.state_variables] == []
    z = np.zeros((20, 1000), dtype="float32")
    g = np.random.default_rng(1).normal(size=z.shape).astype("float32")
    out, grad = output_and_grad(layer, z, g)
    assert [v.name for v in layer._srng.state_variables] == ["code/state0"]
    # out = tanh(sigma * eps): the drawn eps is standard normal
    eps = np.arctanh(out.astype("float64")) / sigma
    assert abs(eps.mean()) < 0.02 and abs(eps.std() - 1) < 0.02
    # gradient of tanh(z + sigma * eps) with the drawn eps: g * (1 - out**2)
    np.testing.assert_allclose(grad, g * (1 - out.astype("float64") ** 2), rtol=1e-5,
                               atol=1e-6)
    out2, _ = output_and_grad(layer, z, g)
    assert (out2 != out).any()                    # new noise on every call


def test_noise_estimator_at_nonzero_inputs():
    layer = BinaryCodeLayer(InputLayer((None, 7)), estimator="noise", sigma=3.0)
    g = np.ones_like(Z)
    out, grad = output_and_grad(layer, Z, g)
    np.testing.assert_allclose(grad, 1 - out.astype("float64") ** 2, rtol=1e-5, atol=1e-6)
    out, grad = output_and_grad(layer, Z, g, deterministic=True)
    np.testing.assert_array_equal(out, sign_pm1(Z))
    np.testing.assert_array_equal(grad, np.zeros_like(Z))


@pytest.mark.parametrize("estimator, encoder_grad_is_zero", [
    ("none", True), ("identity", False), ("hardtanh", False), ("noise", False)])
def test_encoder_gradient(estimator, encoder_grad_is_zero):
    rng.set_rng(2)
    l_in = InputLayer((None, 6))
    l_enc = DenseLayer(l_in, 5, nonlinearity=None, name="enc1")
    l_code = BinaryCodeLayer(l_enc, estimator=estimator, sigma=0.5, name="code")
    target = T.matrix("target")
    loss = T.sqr(get_output(l_code) - target).sum()
    grads = T.grad(loss, [l_enc.W, l_enc.b])
    f = function([l_in.input_var, target], grads, on_unused_input="ignore")
    data = np.random.default_rng(3)
    x = (data.normal(size=(8, 6)) * 0.3).astype("float32")
    t = sign_pm1(data.normal(size=(8, 5))).astype("float32")
    g_W, g_b = f(x, t)
    if encoder_grad_is_zero:
        assert not g_W.any() and not g_b.any()      # exactly zero
    else:
        assert np.abs(g_W).max() > 1e-3 and np.abs(g_b).max() > 1e-3


def test_identity_estimator_passes_the_dense_gradient():
    """With 'identity', the encoder's gradient is that of the loss at the code, passed
    straight through: dL/dW = x.T @ dL/dcode."""
    l_in = InputLayer((None, 4))
    l_enc = DenseLayer(l_in, 3, nonlinearity=None)
    l_code = BinaryCodeLayer(l_enc, estimator="identity")
    code = get_output(l_code)
    f = function([l_in.input_var], [code, T.grad(T.sqr(code - 0.5).sum(), l_enc.W)])
    x = np.random.default_rng(4).normal(size=(5, 4)).astype("float32")
    c, g_W = f(x)
    np.testing.assert_allclose(g_W, x.T @ (2 * (c - 0.5)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    (dict(estimator="sign"), "estimator 'sign' is unknown"),
    (dict(sigma=-1.0), "sigma must be a number >= 0"),
])
def test_errors(kwargs, message):
    with pytest.raises(LayerError, match="BinaryCodeLayer 'code': " + message):
        BinaryCodeLayer(InputLayer((None, 4)), name="code", **kwargs)
