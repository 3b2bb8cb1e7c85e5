"""BatchNormLayer and batch_norm: batch statistics in training, running averages when
deterministic, running averages updated by compiled training functions only."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, nonlinearities
from nnframe.layers import (
    DenseLayer,
    InputLayer,
    LayerError,
    NonlinearityLayer,
    get_all_params,
    get_output,
    get_output_shape,
)
from nnframe.layers.conv import Conv2DLayer
from nnframe.layers.normalization import BatchNormLayer, batch_norm

EPS, ALPHA = 1e-4, 0.1


def ref_bn(x, axes, mean, inv_std, beta, gamma):
    """(x - mean) * inv_std * gamma + beta, with the parameters on the kept axes."""
    shape = [1 if a in axes else n for a, n in enumerate(x.shape)]
    r = lambda v: np.reshape(v, shape) if np.ndim(v) else v  # noqa: E731
    return (x - r(mean)) * r(inv_std) * r(gamma) + r(beta)


def batch_stats(x, axes):
    return x.mean(axis=axes), 1 / np.sqrt(x.var(axis=axes) + EPS)


def random_params(layer, rng):
    """Non-trivial beta, gamma and running averages."""
    shape = layer.mean.get_value().shape
    for p, low, high in ((layer.beta, -1, 1), (layer.gamma, 0.5, 2), (layer.mean, -1, 1),
                         (layer.inv_std, 0.5, 2)):
        p.set_value(rng.uniform(low, high, size=shape).astype(p.dtype))


@pytest.mark.parametrize("shape, axes, want_axes, param_shape", [
    ((None, 5), "auto", (0,), (5,)),
    ((None, 3, 4, 4), "auto", (0, 2, 3), (3,)),
    ((None, 3, None, None), "auto", (0, 2, 3), (3,)),
    ((None, 3, 4), (0, 1), (0, 1), (4,)),
    ((2, 3, 4), -1, (2,), (2, 3)),
])
def test_shapes_and_parameters(shape, axes, want_axes, param_shape):
    layer = BatchNormLayer(InputLayer(shape), axes=axes, name="bn")
    assert layer.axes == want_axes
    assert layer.output_shape == shape and get_output_shape(layer) == shape
    for p in (layer.beta, layer.gamma, layer.mean, layer.inv_std):
        assert p.get_value().shape == param_shape
    assert [p.name for p in get_all_params(layer)] == ["bn/beta", "bn/gamma", "bn/mean",
                                                       "bn/inv_std"]
    assert get_all_params(layer, trainable=True) == [layer.beta, layer.gamma]
    assert get_all_params(layer, regularizable=True) == [layer.gamma]
    np.testing.assert_array_equal(layer.gamma.get_value(), 1)
    np.testing.assert_array_equal(layer.inv_std.get_value(), 1)


@pytest.mark.parametrize("shape, axes", [((6, 5), (0,)), ((4, 3, 2, 5), (0, 2, 3))])
def test_training_uses_batch_stats_and_deterministic_the_averages(run_layer, shape, axes):
    rng = np.random.default_rng(0)
    layer = BatchNormLayer(InputLayer((None,) + shape[1:]))
    random_params(layer, rng)
    x = rng.normal(2.0, 3.0, size=shape).astype("float32")
    beta, gamma = layer.beta.get_value(), layer.gamma.get_value()
    mean = layer.mean.get_value()

    train = run_layer(layer, x)
    np.testing.assert_allclose(train, ref_bn(x, axes, *batch_stats(x, axes), beta, gamma),
                               rtol=1e-4, atol=1e-4)
    # normalized by the batch statistics: (out - beta) / gamma has mean 0 and std 1
    kept = [1 if a in axes else n for a, n in enumerate(shape)]
    z = (train - beta.reshape(kept)) / gamma.reshape(kept)
    np.testing.assert_allclose(z.mean(axis=axes), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(axis=axes), 1, atol=1e-3)

    averages_after_train = layer.mean.get_value(), layer.inv_std.get_value()
    test = run_layer(layer, x, deterministic=True)
    np.testing.assert_allclose(test, ref_bn(x, axes, *averages_after_train, beta, gamma),
                               rtol=1e-4, atol=1e-4)
    assert not np.allclose(averages_after_train[0], mean)   # training did update them


def test_running_averages_updated_by_training_function_only():
    rng = np.random.default_rng(1)
    l_in = InputLayer((None, 4))
    layer = BatchNormLayer(l_in, alpha=ALPHA)
    random_params(layer, rng)
    x = l_in.input_var
    train = function([x], get_output(layer))
    predict = function([x], get_output(layer, deterministic=True))
    mean, inv_std = layer.mean.get_value(), layer.inv_std.get_value()
    for _ in range(3):
        batch = rng.normal(1.0, 2.0, size=(8, 4)).astype("float32")
        predict(batch)
        np.testing.assert_array_equal(layer.mean.get_value(), mean)
        np.testing.assert_array_equal(layer.inv_std.get_value(), inv_std)
        train(batch)
        batch_mean, batch_inv_std = batch_stats(batch, (0,))
        mean = (1 - ALPHA) * mean + ALPHA * batch_mean
        inv_std = (1 - ALPHA) * inv_std + ALPHA * batch_inv_std
        np.testing.assert_allclose(layer.mean.get_value(), mean, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(layer.inv_std.get_value(), inv_std, rtol=1e-5)
        # the deterministic output uses the new averages
        np.testing.assert_allclose(
            predict(batch), ref_bn(batch, (0,), mean, inv_std, layer.beta.get_value(),
                                   layer.gamma.get_value()), rtol=1e-4, atol=1e-5)


def test_running_averages_updated_alongside_explicit_parameter_updates():
    """A training step compiled from the loss (with SGD updates) also updates them."""
    rng = np.random.default_rng(2)
    l_in = InputLayer((None, 3))
    layer = BatchNormLayer(DenseLayer(l_in, 4, nonlinearity=None, b=None), name="bn")
    x = l_in.input_var
    loss = T.sqr(get_output(layer) - 1.0).mean()
    params = get_all_params(layer, trainable=True)
    assert layer.mean not in params and layer.inv_std not in params
    step = function([x], loss, updates=[(p, p - 0.1 * g)
                                        for p, g in zip(params, T.grad(loss, params))])
    batch = rng.normal(size=(16, 3)).astype("float32")
    h = batch @ layer.input_layer.W.get_value()
    step(batch)
    np.testing.assert_allclose(layer.mean.get_value(), ALPHA * h.mean(axis=0), rtol=1e-4,
                               atol=1e-6)
    np.testing.assert_allclose(layer.inv_std.get_value(),
                               (1 - ALPHA) + ALPHA / np.sqrt(h.var(axis=0) + EPS), rtol=1e-4)


@pytest.mark.parametrize("use, update, stats", [
    (True, True, "averages"), (True, False, "averages"),
    (False, False, "batch"), (None, False, "batch")])
def test_lasagne_keywords(use, update, stats):
    rng = np.random.default_rng(3)
    l_in = InputLayer((None, 3))
    layer = BatchNormLayer(l_in)
    random_params(layer, rng)
    averages = layer.mean.get_value(), layer.inv_std.get_value()
    out = get_output(layer, batch_norm_use_averages=use, batch_norm_update_averages=update)
    batch = rng.normal(size=(5, 3)).astype("float32")
    value = function([l_in.input_var], out)(batch)
    used = averages if stats == "averages" else batch_stats(batch, (0,))
    np.testing.assert_allclose(value, ref_bn(batch, (0,), *used, layer.beta.get_value(),
                                             layer.gamma.get_value()), rtol=1e-4, atol=1e-5)
    changed = not np.array_equal(layer.mean.get_value(), averages[0])
    assert changed == update


def test_no_beta_no_gamma(run_layer):
    layer = BatchNormLayer(InputLayer((None, 3)), beta=None, gamma=None)
    assert get_all_params(layer, trainable=True) == []
    x = np.random.default_rng(4).normal(size=(6, 3)).astype("float32")
    np.testing.assert_allclose(run_layer(layer, x), ref_bn(x, (0,), *batch_stats(x, (0,)), 0, 1),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(None, 4), (None, 2, 3, 3)])
@pytest.mark.parametrize("deterministic", [False, True])
def test_gradients(float64, check_grad, shape, deterministic):
    rng = np.random.default_rng(5)
    layer = BatchNormLayer(InputLayer(shape))
    random_params(layer, rng)
    x = rng.normal(size=(5,) + shape[1:])
    check_grad(layer, x, deterministic=deterministic)


def test_batch_norm_wrapper():
    l_in = InputLayer((None, 1, 5, 5))
    conv = Conv2DLayer(l_in, 3, 3, nonlinearity=nonlinearities.tanh, name="conv1")
    top = batch_norm(conv, alpha=0.2)
    bn = top.input_layer
    assert isinstance(top, NonlinearityLayer) and top.nonlinearity is nonlinearities.tanh
    assert (top.name, bn.name) == ("conv1_bn_nonlin", "conv1_bn")
    assert isinstance(bn, BatchNormLayer) and bn.alpha == 0.2 and bn.axes == (0, 2, 3)
    assert conv.b is None and conv.nonlinearity is nonlinearities.identity
    assert [p.name for p in get_all_params(top)] == ["conv1/W", "conv1_bn/beta",
                                                     "conv1_bn/gamma", "conv1_bn/mean",
                                                     "conv1_bn/inv_std"]
    linear = batch_norm(DenseLayer(InputLayer((None, 3)), 2, nonlinearity=None), name="n")
    assert isinstance(linear, BatchNormLayer) and linear.name == "n"


def test_unknown_kept_length_is_an_error():
    with pytest.raises(LayerError, match=r"BatchNormLayer 'bn'.*\(None, None, 4\)"):
        BatchNormLayer(InputLayer((None, None, 4)), name="bn")
    with pytest.raises(LayerError, match="BatchNormLayer 'bn': axes"):
        BatchNormLayer(InputLayer((None, 4)), axes=(2,), name="bn")
