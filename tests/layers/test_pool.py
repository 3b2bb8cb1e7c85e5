"""Pool2DLayer, MaxPool2DLayer, GlobalPoolLayer: shapes, NumPy values, gradients, errors."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe.layers import InputLayer, LayerError, get_output_shape
from nnframe.layers.pool import GlobalPoolLayer, MaxPool2DLayer, Pool2DLayer


def ref_length(n, ws, stride, pad, ignore_border):
    """Lasagne's pool_output_length."""
    if n is None:
        return None
    if ignore_border:
        return (n + 2 * pad - ws) // stride + 1
    if stride >= ws:
        return (n + stride - 1) // stride
    return max(0, (n - ws + stride - 1) // stride) + 1


def ref_pool(x, ws, stride, pad, ignore_border, mode):
    """One window at a time; padding is -inf for max and excluded by 'average_exc_pad'."""
    rows, cols = (ref_length(x.shape[2 + a], ws[a], stride[a], pad[a], ignore_border)
                  for a in range(2))
    fill = -np.inf if mode == "max" else 0.0
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0],) * 2, (pad[1],) * 2), constant_values=fill)
    real = np.pad(np.ones(x.shape[2:]), ((pad[0],) * 2, (pad[1],) * 2))
    out = np.zeros(x.shape[:2] + (rows, cols))
    for i in range(rows):
        for j in range(cols):
            r, c = slice(i * stride[0], i * stride[0] + ws[0]), slice(j * stride[1],
                                                                      j * stride[1] + ws[1])
            window = xp[:, :, r, c]
            if mode == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            elif mode == "average_inc_pad":
                # the window's size within the padded input (partial windows are cut)
                out[:, :, i, j] = window.sum(axis=(2, 3)) / real[r, c].size
            else:
                out[:, :, i, j] = window.sum(axis=(2, 3)) / real[r, c].sum()
    return out


# (input shape, pool_size, stride, pad, ignore_border)
CONFIGS = [
    ((None, 2, 8, 8), 2, None, 0, True),
    ((None, 2, 9, 7), 2, None, 0, True),
    ((None, 2, 9, 7), 2, None, 0, False),
    ((3, 1, 9, 9), 3, 2, 0, True),
    ((None, 2, 9, 8), 3, 2, 0, False),
    ((None, 2, 7, 6), (3, 2), (2, 1), (1, 1), True),
    ((None, 2, None, 6), 2, 1, 0, True),
]


@pytest.mark.parametrize("mode", ["max", "average_inc_pad", "average_exc_pad"])
@pytest.mark.parametrize("shape, ws, stride, pad, ignore_border", CONFIGS)
def test_output_shape_and_values_match_numpy(run_layer, shape, ws, stride, pad,
                                             ignore_border, mode):
    layer = Pool2DLayer(InputLayer(shape), ws, stride=stride, pad=pad,
                        ignore_border=ignore_border, mode=mode)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    ws, pad = pair(ws), pair(pad)
    stride = ws if stride is None else pair(stride)
    want = shape[:2] + tuple(ref_length(shape[2 + a], ws[a], stride[a], pad[a], ignore_border)
                             for a in range(2))
    assert layer.output_shape == want
    assert get_output_shape(layer) == want
    x = np.random.default_rng(0).normal(size=(3, shape[1], shape[2] or 5, shape[3]))
    out = run_layer(layer, x.astype("float32"))
    ref = ref_pool(x, ws, stride, pad, ignore_border, mode)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)


def test_maxpool_is_pool_with_max_and_shape_for_other_inputs():
    layer = MaxPool2DLayer(InputLayer((None, 4, 28, 28)), 2, name="p")
    assert layer.mode == "max" and layer.name == "p"
    assert get_output_shape(layer, (7, 4, 11, None)) == (7, 4, 5, None)


@pytest.mark.parametrize("mode, ws, stride, pad, ignore_border", [
    ("max", 2, None, 0, True),
    ("max", 3, 2, 1, True),
    ("average_inc_pad", 3, 2, 1, True),
    ("average_exc_pad", 2, 1, 0, False),
])
def test_gradients(float64, check_grad, mode, ws, stride, pad, ignore_border):
    layer = Pool2DLayer(InputLayer((None, 2, 5, 6)), ws, stride=stride, pad=pad,
                        ignore_border=ignore_border, mode=mode)
    # distinct values: no ties in the maxima, so the max gradient is defined
    x = np.random.default_rng(1).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.1
    check_grad(layer, x)


@pytest.mark.parametrize("pool_function, ref", [(T.mean, np.mean), (T.max, np.max),
                                                (T.sum, np.sum)])
def test_global_pool(run_layer, pool_function, ref):
    layer = GlobalPoolLayer(InputLayer((None, 3, 4, 5)), pool_function)
    assert layer.output_shape == (None, 3)
    assert get_output_shape(layer, (2, 6, 1, 1)) == (2, 6)
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 5)).astype("float32")
    np.testing.assert_allclose(run_layer(layer, x), ref(x, axis=(2, 3)), rtol=1e-5)
    layer3 = GlobalPoolLayer(InputLayer((None, 3, 7)), pool_function)
    np.testing.assert_allclose(run_layer(layer3, x[:, :, 0]), ref(x[:, :, 0], axis=2),
                               rtol=1e-5)


def test_global_pool_gradient(float64, check_grad):
    check_grad(GlobalPoolLayer(InputLayer((None, 3, 4, 5))),
               np.random.default_rng(3).normal(size=(2, 3, 4, 5)))


@pytest.mark.parametrize("kwargs, message", [
    (dict(pool_size=5), r"pool_size \(5, 5\) .* does not fit in the input of shape "
                        r"\(None, 2, 4, 4\)"),
    (dict(incoming=(None, 4, 4)), r"4-d input .* \(None, 4, 4\)"),
    (dict(mode="average"), "mode 'average' is unknown"),
    (dict(pad=1, ignore_border=False), "ignore_border"),
    (dict(pad=2), "smaller than pool_size"),
    (dict(stride=(1, 0)), "stride"),
])
def test_errors_name_the_layer_and_the_shape(kwargs, message):
    args = dict(incoming=(None, 2, 4, 4), pool_size=2, name="pool7")
    args.update(kwargs)
    with pytest.raises(LayerError, match="Pool2DLayer 'pool7'") as info:
        Pool2DLayer(**args)
    assert info.match(message)


def test_global_pool_needs_three_axes():
    with pytest.raises(LayerError, match=r"GlobalPoolLayer 'g'.*\(None, 5\) from InputLayer"):
        GlobalPoolLayer(InputLayer((None, 5)), name="g")
