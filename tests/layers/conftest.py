"""Shared checks for the layer tests: running a layer, shapes and numerical gradients."""
import numpy as np
import pytest

from nnframe import config, function, verify_grad
from nnframe.core.graph import clone_replace
from nnframe.layers import InputLayer, get_all_layers, get_output


def assert_shape_matches(actual, static):
    """``actual`` (a NumPy shape) equals ``static`` where ``static`` is known."""
    assert len(actual) == len(static), (actual, static)
    for a, s in zip(actual, static):
        assert s is None or a == s, (actual, static)


def _run(layer, *values, mode="debug", **kwargs):
    """The output of ``layer`` for the values of its InputLayers (in network order),
    computed in ``mode`` (debug checks every node's shape and dtype); the
    output's shape must fit ``layer.output_shape``."""
    inputs = [l.input_var for l in get_all_layers(layer) if isinstance(l, InputLayer)]
    out = function(inputs, get_output(layer, **kwargs), mode=mode)(*values)
    assert_shape_matches(out.shape, layer.output_shape)
    return out


def _check_grad(layer, *values, params=None, deterministic=True, **kwargs):
    """verify_grad of ``get_output(layer)`` w.r.t. the InputLayers' values and ``params``
    (default: the trainable parameters of the whole network)."""
    inputs = [l for l in get_all_layers(layer) if isinstance(l, InputLayer)]
    if params is None:
        params = [p for l in get_all_layers(layer) for p in l.get_params(trainable=True)]

    def fun(*variables):
        xs, ps = variables[:len(inputs)], variables[len(inputs):]
        out = get_output(layer, inputs=dict(zip(inputs, xs)), deterministic=deterministic,
                         **kwargs)
        return clone_replace([out], dict(zip(params, ps)))[0]

    point = [np.asarray(v, dtype="float64") for v in values] + [p.get_value() for p in params]
    assert all(p.dtype == np.float64 for p in point)
    verify_grad(fun, point, rng=np.random.default_rng(1))


@pytest.fixture
def run_layer():
    return _run


@pytest.fixture
def check_grad():
    return _check_grad


@pytest.fixture
def float64():
    """Build layers (inputs and parameters) in float64, for gradient checks."""
    with config.change_flags(floatX="float64"):
        yield
