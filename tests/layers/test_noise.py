"""DropoutLayer and GaussianNoiseLayer: identity when deterministic, noise statistics,
reproducible streams, gradients."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, rng
from nnframe.layers import InputLayer, LayerError, get_output, get_output_shape
from nnframe.layers.noise import DropoutLayer, GaussianNoiseLayer


def compiled(layer, **kwargs):
    l_in = layer.input_layer
    return function([l_in.input_var], get_output(layer, **kwargs))


@pytest.mark.parametrize("shape", [(None, 5), (3, None, 4, 4), (None,)])
@pytest.mark.parametrize("make", [lambda l: DropoutLayer(l, 0.3),
                                  lambda l: DropoutLayer(l, 0.5, shared_axes=(0,)),
                                  lambda l: GaussianNoiseLayer(l, 0.2)])
def test_output_shape_is_the_input_shape(run_layer, shape, make):
    layer = make(InputLayer(shape))
    assert layer.output_shape == shape
    assert get_output_shape(layer) == shape
    assert get_output_shape(layer, (2,) * len(shape)) == (2,) * len(shape)
    x = np.ones(tuple(n or 3 for n in shape), dtype="float32")
    run_layer(layer, x)


@pytest.mark.parametrize("make", [lambda l: DropoutLayer(l, 0.5),
                                  lambda l: GaussianNoiseLayer(l, 1.0)])
def test_identity_when_deterministic(make):
    l_in = InputLayer((None, 4))
    layer = make(l_in)
    assert get_output(layer, deterministic=True) is l_in.input_var
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(compiled(layer, deterministic=True)(x), x)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("rescale", [True, False])
def test_dropout_zeroes_a_fraction_p_and_rescales(p, rescale):
    layer = DropoutLayer(InputLayer((None, 500)), p=p, rescale=rescale)
    f = compiled(layer)
    x = np.ones((200, 500), dtype="float32")
    out = f(x)
    kept = 1 / (1 - p) if rescale else 1.0
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.unique(out), [0.0, kept], rtol=1e-6)
    assert abs((out == 0).mean() - p) < 0.01          # 100,000 draws: std < 0.0016
    assert abs(out.mean() - (1 - p) * kept) < 0.02
    assert (f(x) != out).any()                         # a new mask every call


def test_dropout_p_zero_is_the_identity():
    l_in = InputLayer((None, 3))
    assert get_output(DropoutLayer(l_in, p=0.0)) is l_in.input_var


def test_dropout_shared_axes_share_the_mask():
    layer = DropoutLayer(InputLayer((None, 6, 5, 5)), p=0.5, shared_axes=(2, 3))
    out = compiled(layer)(np.ones((40, 6, 5, 5), dtype="float32"))
    assert (out == out[:, :, :1, :1]).all()            # whole feature maps kept or dropped
    assert 0.35 < (out[:, :, 0, 0] == 0).mean() < 0.65


def test_dropout_gradient_is_the_rescaled_mask():
    l_in = InputLayer((None, 50))
    layer = DropoutLayer(l_in, p=0.4)
    out = get_output(layer)
    x = l_in.input_var
    f = function([x], [out, T.grad(out.sum(), x)])
    value, grad = f(np.full((20, 50), 2.0, dtype="float32"))
    np.testing.assert_allclose(grad, value / 2.0)       # out = x * mask / 0.6
    assert set(np.unique(grad)) == {0.0, np.float32(1 / 0.6)}


def test_streams_are_seeded_from_nnframe_rng_and_named_after_the_layer():
    def draw():
        rng.set_rng(123)
        layer = DropoutLayer(InputLayer((None, 30)), p=0.5, name="drop1")
        return layer, compiled(layer)(np.ones((10, 30), dtype="float32"))

    layer, first = draw()
    _, again = draw()
    np.testing.assert_array_equal(first, again)
    assert [v.name for v in layer._srng.state_variables] == ["drop1/state0"]
    rng.set_rng(124)
    other = DropoutLayer(InputLayer((None, 30)), p=0.5)
    assert (compiled(other)(np.ones((10, 30), dtype="float32")) != first).any()


@pytest.mark.parametrize("sigma", [0.1, 2.0])
def test_gaussian_noise_statistics(sigma):
    layer = GaussianNoiseLayer(InputLayer((None, 400)), sigma=sigma)
    f = compiled(layer)
    x = np.random.default_rng(1).normal(size=(250, 400)).astype("float32")
    noise = f(x) - x
    assert abs(noise.mean()) < 0.01 * sigma * 3
    assert abs(noise.std() - sigma) < 0.01 * sigma
    assert (f(x) != noise + x).any()


def test_gaussian_noise_gradient_is_one():
    l_in = InputLayer((None, 3))
    out = get_output(GaussianNoiseLayer(l_in, 0.5))
    g = function([l_in.input_var], T.grad(out.sum(), l_in.input_var))
    np.testing.assert_array_equal(g(np.zeros((4, 3), dtype="float32")), np.ones((4, 3)))


@pytest.mark.parametrize("make", [lambda l: DropoutLayer(l, 0.3),
                                  lambda l: GaussianNoiseLayer(l, 0.2)])
def test_deterministic_gradients(float64, check_grad, make):
    check_grad(make(InputLayer((None, 4))), np.random.default_rng(2).normal(size=(3, 4)))


@pytest.mark.parametrize("make, message", [
    (lambda l: DropoutLayer(l, p=1.0, name="d"), r"DropoutLayer 'd': p .* \[0, 1\)"),
    (lambda l: DropoutLayer(l, p=-0.1, name="d"), r"DropoutLayer 'd': p"),
    (lambda l: DropoutLayer(l, shared_axes=(2,), name="d"),
     r"DropoutLayer 'd': shared_axes \(2,\) .* \(None, 5\)"),
    (lambda l: GaussianNoiseLayer(l, sigma=-1, name="g"), "GaussianNoiseLayer 'g': sigma"),
])
def test_errors(make, message):
    with pytest.raises(LayerError, match=message):
        make(InputLayer((None, 5)))


def test_lasagne_short_name_dropout_is_the_layer():
    from nnframe import layers
    assert layers.dropout is layers.DropoutLayer
