"""nnframe.compat: Theano's and Lasagne's module paths, importable both ways, resolve to
nnframe's objects; lasagne.random and lasagne.utils behave as Lasagne's."""
import importlib
import warnings

import numpy as np
import pytest

import nnframe
import nnframe.tensor as nT
from nnframe import function, init, layers, losses, optim, random_state
from nnframe import rng as nnrng
from nnframe.config import config

MODULES = [
    "nnframe.compat.theano", "nnframe.compat.theano.tensor", "nnframe.compat.theano.tensor.nnet",
    "nnframe.compat.theano.tensor.signal", "nnframe.compat.theano.tensor.signal.pool",
    "nnframe.compat.theano.tensor.shared_randomstreams", "nnframe.compat.theano.sandbox",
    "nnframe.compat.theano.sandbox.rng_mrg", "nnframe.compat.theano.ifelse",
    "nnframe.compat.theano.gradient", "nnframe.compat.theano.scan_module",
    "nnframe.compat.theano.printing",
    "nnframe.compat.lasagne", "nnframe.compat.lasagne.layers", "nnframe.compat.lasagne.layers.dnn",
    "nnframe.compat.lasagne.nonlinearities", "nnframe.compat.lasagne.init",
    "nnframe.compat.lasagne.updates", "nnframe.compat.lasagne.objectives",
    "nnframe.compat.lasagne.regularization", "nnframe.compat.lasagne.random",
    "nnframe.compat.lasagne.utils",
]


@pytest.mark.parametrize("path", MODULES)
def test_every_module_imports_both_ways(path):
    module = importlib.import_module(path)          # import a.b.c
    parent, _, leaf = path.rpartition(".")
    if parent != "nnframe.compat":                  # from a.b import c
        assert getattr(importlib.import_module(parent), leaf) is module
    for name in getattr(module, "__all__", ()):
        assert hasattr(module, name), f"{path}.{name}"


def test_theano_names_are_nnframes():
    import nnframe.compat.theano as theano
    import nnframe.compat.theano.tensor as T
    from nnframe.compat.theano import tensor as T2
    from nnframe.compat.theano.gradient import disconnected_grad, grad_clip, verify_grad
    from nnframe.compat.theano.ifelse import ifelse
    from nnframe.compat.theano.sandbox.rng_mrg import MRG_RandomStreams
    from nnframe.compat.theano.tensor.shared_randomstreams import RandomStreams
    from nnframe.compat.theano.tensor.signal.pool import pool_2d
    assert T is T2 is theano.tensor
    assert theano.function is nnframe.function and theano.shared is nnframe.shared
    assert theano.config is config and theano.In is nnframe.In and theano.Out is nnframe.Out
    assert theano.grad is nT.grad and theano.scan is nT.scan and theano.pp is nnframe.pp
    assert theano.printing.debugprint is nnframe.debugprint
    assert T.dmatrix is nT.dmatrix and T.tanh is nT.tanh and T.switch is nT.switch
    assert T.nnet.conv2d is nT.nnet.conv2d and T.nnet.sigmoid is nT.nnet.sigmoid
    assert T.nnet.softmax is nT.nnet.softmax and pool_2d is nT.nnet.pool_2d
    assert T.signal.pool.pool_2d is pool_2d
    assert T.shared_randomstreams.RandomStreams is RandomStreams is nT.random.RandomStreams
    assert ifelse is nT.ifelse and theano.ifelse.ifelse is ifelse
    assert verify_grad is nnframe.verify_grad and grad_clip is nT.grad_clip
    assert disconnected_grad is nT.disconnected_grad
    assert theano.scan_module.until is nT.until
    assert issubclass(MRG_RandomStreams, nT.random.RandomStream)
    assert MRG_RandomStreams().base_seed == 12345


def test_a_theano_program_runs_through_the_compat_namespace():
    import nnframe.compat.theano as theano
    import nnframe.compat.theano.tensor as T
    x = T.dvector("x")
    y = theano.clone(T.nnet.sigmoid(x).sum(), replace={x: 2 * x})
    g = theano.grad(y, x)
    f = theano.function([x], [y, g])
    out, grad = f(np.array([0.0, 1.0]))
    s = 1 / (1 + np.exp(-2 * np.array([0.0, 1.0])))
    np.testing.assert_allclose(out, s.sum())
    np.testing.assert_allclose(grad, 2 * s * (1 - s))
    srng = theano.sandbox.rng_mrg.MRG_RandomStreams(seed=1)
    assert theano.function([], srng.uniform((3,)))().shape == (3,)


def test_lasagne_names_are_nnframes():
    import nnframe.compat.lasagne as lasagne
    from nnframe.compat.lasagne.layers import dnn
    assert lasagne.layers.DenseLayer is layers.DenseLayer
    assert lasagne.layers.get_output is layers.get_output
    assert dnn.Conv2DDNNLayer is layers.Conv2DLayer and dnn.MaxPool2DDNNLayer is layers.MaxPool2DLayer
    assert dnn.Pool2DDNNLayer is layers.Pool2DLayer and lasagne.layers.dnn is dnn
    assert lasagne.nonlinearities.rectify is nnframe.nonlinearities.rectify
    assert lasagne.init.GlorotUniform is init.GlorotUniform
    assert lasagne.updates.adam is optim.adam and lasagne.updates.sgd is optim.sgd
    assert lasagne.objectives.categorical_crossentropy is losses.categorical_crossentropy
    assert lasagne.regularization.l2 is nnframe.regularization.l2
    assert lasagne.random.get_rng is random_state.get_rng
    assert lasagne.utils.floatX is nnframe.utils.floatX
    assert lasagne.utils.unroll_scan is nnframe.utils.unroll_scan


@pytest.fixture
def saved_rng():
    saved = nnrng.get_rng()
    yield
    nnrng.set_rng(saved)


def test_lasagne_random_gives_and_takes_a_randomstate(saved_rng):
    import nnframe.compat.lasagne as lasagne
    rs = np.random.RandomState(42)
    lasagne.random.set_rng(rs)
    assert lasagne.random.get_rng() is rs
    a = init.GlorotUniform()((3, 3))
    # initialisers draw from the RandomState's stream: reseeding it repeats them
    lasagne.random.set_rng(np.random.RandomState(42))
    np.testing.assert_array_equal(a, init.GlorotUniform()((3, 3)))
    # the RandomState interface Lasagne code calls
    rs = lasagne.random.get_rng()
    assert 0 <= rs.randint(1, 2147462579) < 2147462579
    assert rs.uniform(size=(2, 3)).shape == (2, 3) and rs.normal(size=4).shape == (4,)
    assert rs.rand(2, 2).shape == (2, 2) and rs.randn(3).shape == (3,)
    assert rs.binomial(1, 0.5, size=5).shape == (5,)
    # a noise layer built after set_rng gets a reproducible seed
    lasagne.random.set_rng(np.random.RandomState(7))
    s1 = layers.DropoutLayer((None, 4))._srng.base_seed
    lasagne.random.set_rng(np.random.RandomState(7))
    assert layers.DropoutLayer((None, 4))._srng.base_seed == s1


def test_lasagne_random_over_nnframes_generator(saved_rng):
    import nnframe.compat.lasagne as lasagne
    nnrng.set_rng(5)                      # what recipes do: unchanged numbers
    expected = np.random.default_rng(5).uniform(size=3)
    rs = lasagne.random.get_rng()
    assert isinstance(rs, np.random.RandomState) and rs is lasagne.random.get_rng()
    np.testing.assert_array_equal(nnrng.get_rng().uniform(size=3), expected)
    lasagne.random.set_rng(np.random.default_rng(3))     # a Generator is accepted too
    assert nnrng.get_rng().bit_generator is lasagne.random.get_rng()._bit_generator
    with pytest.raises(TypeError, match="seed"):
        lasagne.random.set_rng("three")


def test_lasagne_utils():
    from nnframe.compat.lasagne import utils
    assert utils.floatX([1, 2]).dtype == np.dtype(config.floatX)
    assert utils.as_tuple(3, 2) == (3, 3) and utils.as_tuple([1, 2], 2, int) == (1, 2)
    with pytest.raises(ValueError, match="2 items"):
        utils.as_tuple([1, 2, 3], 2)
    with pytest.raises(TypeError, match="int"):
        utils.as_tuple(1.5, 2, int)
    W = utils.create_param(init.Constant(2.0), (2, 3), name="W")
    assert W.name == "W" and W.get_value().dtype == np.dtype(config.floatX)
    np.testing.assert_array_equal(W.get_value(), np.full((2, 3), 2.0))
    assert utils.create_param(W, (2, 3)) is W
    assert utils.create_param(np.ones((2, 3)), (2, 3)).get_value().shape == (2, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 3\), expected \(3, 2\)"):
        utils.create_param(np.ones((2, 3)), (3, 2))
    x = nT.dmatrix("x")
    assert utils.create_param(lambda shape: x, (2, 2)) is x
    empty = utils.shared_empty(3, dtype="int32")
    assert empty.get_value().shape == (1, 1, 1) and empty.get_value().dtype == np.int32
    y = nT.ivector("y")
    f = function([y], [utils.one_hot(y), utils.one_hot(y, 4)])
    auto, fixed = f(np.array([0, 2, 1], dtype="int32"))
    np.testing.assert_array_equal(auto, np.eye(3, dtype="int32")[[0, 2, 1]])
    np.testing.assert_array_equal(fixed, np.eye(4, dtype="int32")[[0, 2, 1]])
    assert auto.dtype == np.int32


def test_a_lasagne_program_runs_through_the_compat_namespace():
    import nnframe.compat.lasagne as lasagne
    import nnframe.compat.theano as theano
    import nnframe.compat.theano.tensor as T
    l_in = lasagne.layers.InputLayer((None, 1, 8, 8))
    l = lasagne.layers.dnn.Conv2DDNNLayer(l_in, 2, 3, pad=1)
    l = lasagne.layers.dnn.MaxPool2DDNNLayer(l, 2)
    l = lasagne.layers.DenseLayer(l, 3, nonlinearity=lasagne.nonlinearities.softmax)
    y = T.ivector("y")
    loss = lasagne.objectives.categorical_crossentropy(lasagne.layers.get_output(l), y).mean()
    params = lasagne.layers.get_all_params(l, trainable=True)
    updates = lasagne.updates.sgd(loss, params, learning_rate=0.1)
    train = theano.function([l_in.input_var, y], loss, updates=updates,
                            allow_input_downcast=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        value = train(np.random.default_rng(0).normal(size=(4, 1, 8, 8)),
                      np.array([0, 1, 2, 0], dtype="int32"))
    assert np.isfinite(value)
