"""Conv2DLayer: shapes, values against a NumPy convolution, gradients and errors."""
import numpy as np
import pytest

from nnframe import nonlinearities
from nnframe.layers import InputLayer, LayerError, get_all_params, get_output_shape
from nnframe.layers.conv import Conv2DLayer


def ref_conv(x, w, pad, stride, dilation, flip):
    """Naive convolution: one output pixel at a time over the zero-padded input."""
    if flip:
        w = w[:, :, ::-1, ::-1]
    (pr, pc), (sr, sc), (dr, dc) = pad, stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pr, pr), (pc, pc)))
    er, ec = (w.shape[2] - 1) * dr + 1, (w.shape[3] - 1) * dc + 1
    rows, cols = (xp.shape[2] - er) // sr + 1, (xp.shape[3] - ec) // sc + 1
    out = np.zeros((x.shape[0], w.shape[0], rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = xp[:, :, i * sr:i * sr + er:dr, j * sc:j * sc + ec:dc]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


def ref_pad(pad, k, dilation):
    """Lasagne's padding of one axis: 'valid' 0, 'full' extent - 1, 'same' extent // 2."""
    extent = (k - 1) * dilation + 1
    return {"valid": 0, "full": extent - 1, "same": extent // 2}.get(pad, pad)


def expected_length(n, k, pad, stride, dilation):
    extent = (k - 1) * dilation + 1
    return None if n is None else (n + 2 * pad - extent) // stride + 1


# (input shape, num_filters, filter_size, stride, pad, dilation)
CONFIGS = [
    ((None, 3, 9, 8), 4, 3, 1, "valid", 1),
    ((None, 3, 9, 8), 4, 3, 1, "same", 1),
    ((None, 3, 9, 8), 2, (3, 2), 1, "full", 1),
    ((2, 1, 9, 8), 5, 3, 2, 1, 1),
    ((None, 2, 10, 7), 3, (2, 3), (2, 1), (1, 0), 1),
    ((None, 2, 10, 9), 3, 3, 1, "same", 2),
    ((None, 2, 11, 9), 3, (3, 2), (1, 2), "valid", (2, 3)),
    ((None, 2, None, 9), 3, 3, 1, "valid", 1),
]


def pairs(v):
    return v if isinstance(v, tuple) else (v, v)


@pytest.mark.parametrize("shape, nf, fs, stride, pad, dilation", CONFIGS)
def test_output_shape_and_values_match_numpy(run_layer, shape, nf, fs, stride, pad, dilation):
    l_in = InputLayer(shape)
    layer = Conv2DLayer(l_in, nf, fs, stride=stride, pad=pad, dilation=dilation,
                        nonlinearity=None, b=np.arange(nf) * 0.1)
    fs, stride, dilation = pairs(fs), pairs(stride), pairs(dilation)
    pads = tuple(ref_pad(pad if isinstance(pad, str) else pairs(pad)[a], fs[a], dilation[a])
                 for a in range(2))
    want = (shape[0], nf) + tuple(expected_length(shape[2 + a], fs[a], pads[a], stride[a],
                                                  dilation[a]) for a in range(2))
    assert layer.output_shape == want
    assert get_output_shape(layer) == want
    assert layer.W.get_value().shape == (nf, shape[1]) + fs

    x = np.random.default_rng(0).normal(size=(2, shape[1], shape[2] or 7, shape[3]))
    out = run_layer(layer, x.astype("float32"))
    ref = ref_conv(x, layer.W.get_value(), pads, stride, dilation, flip=True)
    ref += (np.arange(nf) * 0.1)[None, :, None, None]
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


def test_shape_for_other_input_shapes():
    layer = Conv2DLayer(InputLayer((None, 3, 9, 9)), 4, 3, stride=2, pad="same")
    assert get_output_shape(layer, (5, 3, 21, 11)) == (5, 4, 11, 6)
    assert get_output_shape(layer, (None, 3, None, 4)) == (None, 4, None, 2)


@pytest.mark.parametrize("flip", [True, False])
def test_untied_biases_nonlinearity_and_flip(run_layer, flip):
    rng = np.random.default_rng(1)
    b = rng.normal(size=(2, 4, 5)).astype("float32")
    layer = Conv2DLayer(InputLayer((None, 3, 6, 7)), 2, 3, untie_biases=True, b=b,
                        flip_filters=flip, nonlinearity=nonlinearities.tanh, name="c")
    assert layer.b.get_value().shape == (2, 4, 5)
    assert [p.name for p in get_all_params(layer)] == ["c/W", "c/b"]
    assert [p.name for p in get_all_params(layer, regularizable=True)] == ["c/W"]
    x = rng.normal(size=(3, 3, 6, 7)).astype("float32")
    ref = np.tanh(ref_conv(x, layer.W.get_value(), (0, 0), (1, 1), (1, 1), flip) + b)
    np.testing.assert_allclose(run_layer(layer, x), ref, rtol=1e-4, atol=1e-5)


def test_no_bias_and_default_relu(run_layer):
    layer = Conv2DLayer(InputLayer((None, 1, 5, 5)), 3, 2, b=None)
    assert layer.b is None and get_all_params(layer) == [layer.W]
    x = np.random.default_rng(2).normal(size=(2, 1, 5, 5)).astype("float32")
    ref = np.maximum(ref_conv(x, layer.W.get_value(), (0, 0), (1, 1), (1, 1), True), 0)
    np.testing.assert_allclose(run_layer(layer, x), ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fs, stride, pad, dilation, untie", [
    ((3, 2), 1, "valid", 1, False),
    (3, 2, "same", 1, False),
    ((3, 2), (1, 2), 1, (2, 1), False),
    ((3, 2), 1, "full", 1, True),
])
def test_gradients(float64, check_grad, fs, stride, pad, dilation, untie):
    rng = np.random.default_rng(3)
    layer = Conv2DLayer(InputLayer((None, 2, 6, 5)), 3, fs, stride=stride, pad=pad,
                        dilation=dilation, untie_biases=untie, nonlinearity=nonlinearities.tanh,
                        b=lambda shape: rng.normal(size=shape))
    check_grad(layer, rng.normal(size=(2, 2, 6, 5)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(incoming=(None, 3, 8)), r"4-d input .* \(None, 3, 8\)"),
    (dict(incoming=(None, None, 8, 8)), r"input channels .* \(None, None, 8, 8\)"),
    (dict(pad="same", filter_size=2), "odd"),
    (dict(pad="half"), "'half' is unknown"),
    (dict(filter_size=9), r"does not fit in the input of shape \(None, 3, 8, 8\)"),
    (dict(num_filters=0), "num_filters"),
    (dict(stride=0), "stride"),
    (dict(untie_biases=True, incoming=(None, 3, None, 8)), "untie_biases"),
])
def test_errors_name_the_layer_and_the_shape(kwargs, message):
    args = dict(incoming=(None, 3, 8, 8), num_filters=2, filter_size=3, name="conv9")
    args.update(kwargs)
    with pytest.raises(LayerError, match="Conv2DLayer 'conv9'") as info:
        Conv2DLayer(**args)
    assert info.match(message)


def test_error_names_the_incoming_layer():
    l_in = InputLayer((None, 3, 8), name="pixels")
    with pytest.raises(LayerError, match=r"\(None, 3, 8\) from InputLayer 'pixels'"):
        Conv2DLayer(l_in, 2, 3)


def test_duplicate_names_are_made_unique():
    l1 = Conv2DLayer(InputLayer((None, 1, 8, 8)), 2, 3, name="enc1")
    with pytest.warns(UserWarning, match="duplicate layer name 'enc1'.* named 'enc1_2'"):
        l2 = Conv2DLayer(l1, 2, 3, name="enc1")
    assert (l2.name, l2.W.name, l2.b.name) == ("enc1_2", "enc1_2/W", "enc1_2/b")
    assert Conv2DLayer(l1, 2, 3).name == "conv1"
