"""EmbeddingLayer: W[input] for integer inputs, shapes, gradient w.r.t. W, errors."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad
from nnframe.core.graph import clone_replace
from nnframe.layers import InputLayer, LayerError, get_all_params, get_output, get_output_shape
from nnframe.layers.embedding import EmbeddingLayer


@pytest.mark.parametrize("shape, var", [((None,), T.ivector), ((None, 5), T.imatrix),
                                        ((2, 3), T.lmatrix), ((None, 2, 3), T.ltensor3)])
def test_lookup_and_shapes(run_layer, shape, var):
    l_in = InputLayer(shape, input_var=var("idx"))
    layer = EmbeddingLayer(l_in, input_size=7, output_size=4, name="emb")
    assert layer.output_shape == shape + (4,)
    assert get_output_shape(layer) == shape + (4,)
    assert [p.name for p in get_all_params(layer)] == ["emb/W"]
    idx = np.random.default_rng(0).integers(0, 7, size=tuple(n or 3 for n in shape))
    idx = idx.astype(l_in.input_var.dtype)
    np.testing.assert_array_equal(run_layer(layer, idx), layer.W.get_value()[idx])


def test_gradient_accumulates_repeated_rows():
    l_in = InputLayer((None, 4), input_var=T.imatrix("idx"))
    layer = EmbeddingLayer(l_in, 6, 3)
    out = get_output(layer)
    g_out = T.tensor("float32", shape=(None, 4, 3))
    grad = T.grad((out * g_out).sum(), layer.W)
    f = function([l_in.input_var, g_out], grad)
    rng = np.random.default_rng(1)
    idx = np.array([[0, 1, 1, 5], [5, 5, 2, 0]], dtype="int32")
    g = rng.normal(size=(2, 4, 3)).astype("float32")
    want = np.zeros((6, 3), dtype="float32")
    np.add.at(want, idx, g)
    np.testing.assert_allclose(f(idx, g), want, rtol=1e-6)


def test_numerical_gradient_wrt_W(float64):
    l_in = InputLayer((None, 3), input_var=T.imatrix("idx"))
    layer = EmbeddingLayer(l_in, 5, 2)
    idx = np.array([[0, 4, 4], [1, 0, 3]], dtype="int32")
    out = get_output(layer, inputs=T.constant(idx))
    verify_grad(lambda W: clone_replace([out], {layer.W: W})[0], [layer.W.get_value()])


@pytest.mark.parametrize("kwargs, message", [
    (dict(input_size=0), "input_size must be a positive integer"),
    (dict(output_size=2.5), "output_size must be a positive integer"),
    (dict(W=np.zeros((3, 3))), r"parameter W has shape \(3, 3\), but the layer needs \(5, 2\)"),
])
def test_errors(kwargs, message):
    args = dict(incoming=(None, 3), input_size=5, output_size=2, name="emb")
    args.update(kwargs)
    with pytest.raises(LayerError, match="EmbeddingLayer 'emb'") as info:
        EmbeddingLayer(**args)
    assert info.match(message)


def test_float_input_is_an_error():
    layer = EmbeddingLayer(InputLayer((None, 3)), 5, 2, name="emb")
    with pytest.raises(LayerError, match="EmbeddingLayer 'emb': needs integer indices"):
        get_output(layer)
