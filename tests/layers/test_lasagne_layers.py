"""The Lasagne 0.2 layers ported for code that imports them: ExpressionLayer,
ElemwiseMergeLayer (and cropping), SliceLayer, PadLayer, Upscale1D/2DLayer,
Conv1DLayer, Pool1D/MaxPool1DLayer, TransposedConv2DLayer and
LocalResponseNormalization2DLayer: values against NumPy, shapes, parameters,
gradients, the OpenCL backend and recipes."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, layers
from nnframe.layers import (
    ConcatLayer,
    Conv1DLayer,
    Deconv2DLayer,
    ElemwiseMergeLayer,
    ElemwiseSumLayer,
    ExpressionLayer,
    InputLayer,
    LayerError,
    LocalResponseNormalization2DLayer,
    MaxPool1DLayer,
    PadLayer,
    Pool1DLayer,
    SliceLayer,
    TransposedConv2DLayer,
    Upscale1DLayer,
    Upscale2DLayer,
    autocrop_array_shapes,
    get_all_layers,
    get_output,
)

rng = np.random.default_rng(7)


def rand(*shape, dtype="float32"):
    return rng.normal(size=shape).astype(dtype)


# -- NumPy references -------------------------------------------------------------------------
def ref_conv1d(x, w, stride, pad, flip):
    w = w[:, :, ::-1] if flip else w
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    k = w.shape[2]
    n = (xp.shape[2] - k) // stride + 1
    return np.stack([np.einsum("bcu,ocu->bo", xp[:, :, i * stride:i * stride + k], w)
                     for i in range(n)], axis=2)


def ref_transposed(x, w, stride, crop, flip):
    """Each input value scatters the filters (flipped when not ``flip``) ``stride`` apart."""
    w = w if flip else w[:, :, ::-1, ::-1]
    b, _, rows, cols = x.shape
    kr, kc = w.shape[2:]
    out = np.zeros((b, w.shape[1], (rows - 1) * stride[0] + kr, (cols - 1) * stride[1] + kc))
    for i in range(rows):
        for j in range(cols):
            out[:, :, i * stride[0]:i * stride[0] + kr, j * stride[1]:j * stride[1] + kc] += \
                np.einsum("bc,cokl->bokl", x[:, :, i, j], w)
    return out[:, :, crop[0]:out.shape[2] - crop[0], crop[1]:out.shape[3] - crop[1]]


def ref_pool1d(x, size, stride, mode):
    n = (x.shape[2] - size) // stride + 1
    windows = np.stack([x[:, :, i * stride:i * stride + size] for i in range(n)], axis=2)
    return windows.max(-1) if mode == "max" else windows.mean(-1)


def ref_lrn(x, alpha, k, beta, n):
    half, ch = n // 2, x.shape[1]
    sq = np.pad(x ** 2, ((0, 0), (half, half), (0, 0), (0, 0)))
    total = sum(sq[:, i:i + ch] for i in range(n))
    return x / (k + alpha * total) ** beta


def output_fn(layer, mode=None):
    inputs = [l.input_var for l in get_all_layers(layer) if isinstance(l, InputLayer)]
    kwargs = {} if mode is None else {"mode": mode}
    return function(inputs, get_output(layer), **kwargs)


# -- ExpressionLayer ------------------------------------------------------------------------
def test_expression_layer_shapes_and_values(run_layer):
    l_in = InputLayer((None, 4, 6))
    x = rand(3, 4, 6)
    same = ExpressionLayer(l_in, T.sqr)
    assert same.output_shape == (None, 4, 6)
    np.testing.assert_allclose(run_layer(same, x), x ** 2, rtol=1e-6)
    auto = ExpressionLayer(l_in, lambda v: v.max(axis=1), output_shape="auto")
    assert auto.output_shape == (None, 6)
    np.testing.assert_allclose(run_layer(auto, x), x.max(1))
    fixed = ExpressionLayer(l_in, lambda v: T.flatten(v, 2), output_shape=(None, 24))
    assert fixed.output_shape == (None, 24)
    call = ExpressionLayer(l_in, lambda v: v[:, :2], output_shape=lambda s: (s[0], 2, s[2]))
    assert call.output_shape == (None, 2, 6)
    np.testing.assert_allclose(run_layer(call, x), x[:, :2])
    with pytest.raises(LayerError, match="output_shape"):
        ExpressionLayer(l_in, T.sqr, output_shape="same")
    with pytest.raises(LayerError, match="callable"):
        ExpressionLayer(l_in, 3)


def test_expression_layer_grad(float64, check_grad):
    check_grad(ExpressionLayer(InputLayer((2, 3)), lambda v: T.tanh(v) * v), rand(2, 3))


# -- ElemwiseMergeLayer and cropping --------------------------------------------------------
def test_elemwise_merge_values_and_cropping(run_layer):
    a, b = InputLayer((None, 3, 5), name="a"), InputLayer((None, 3, 7), name="b")
    xa, xb = rand(2, 3, 5), rand(2, 3, 7)
    with pytest.raises(LayerError, match="differ on axis 2"):
        ElemwiseMergeLayer([a, b], T.maximum)
    layer = ElemwiseMergeLayer([a, b], T.maximum, cropping=[None, None, "center"])
    assert layer.output_shape == (None, 3, 5)
    np.testing.assert_array_equal(run_layer(layer, xa, xb), np.maximum(xa, xb[:, :, 1:6]))
    for crop, part in (("lower", slice(0, 5)), ("upper", slice(2, 7))):
        layer = ElemwiseMergeLayer([a, b], T.mul, cropping=[None, None, crop])
        np.testing.assert_allclose(run_layer(layer, xa, xb), xa * xb[:, :, part], rtol=1e-6)
    s = ElemwiseSumLayer([a, b], coeffs=[1, -2], cropping=[None, None, "upper"])
    assert isinstance(s, ElemwiseMergeLayer)
    np.testing.assert_allclose(run_layer(s, xa, xb), xa - 2 * xb[:, :, 2:], rtol=1e-6)
    c = ConcatLayer([a, b], axis=1, cropping=[None, None, "lower"])
    assert c.output_shape == (None, 6, 5)
    np.testing.assert_array_equal(run_layer(c, xa, xb),
                                  np.concatenate([xa, xb[:, :, :5]], axis=1))
    with pytest.raises(LayerError, match="cropping"):
        ElemwiseMergeLayer([a, b], T.mul, cropping=["middle"])


def test_cropping_unknown_lengths(run_layer):
    a, b = InputLayer((None, None)), InputLayer((None, None))
    layer = ElemwiseMergeLayer([a, b], T.add, cropping=["lower", "center"])
    assert layer.output_shape == (None, None)
    xa, xb = rand(4, 3), rand(2, 6)
    np.testing.assert_allclose(run_layer(layer, xa, xb), xa[:2] + xb[:, 1:4], rtol=1e-6)
    assert autocrop_array_shapes([(1, None), (2, 3)], ["lower", "lower"]) == \
        [(1, None), (1, None)]


def test_elemwise_merge_grad(float64, check_grad):
    a, b = InputLayer((2, 3), name="a"), InputLayer((2, 5), name="b")
    check_grad(ElemwiseMergeLayer([a, b], T.mul, cropping=[None, "center"]),
               rand(2, 3), rand(2, 5))


# -- SliceLayer and PadLayer ----------------------------------------------------------------
@pytest.mark.parametrize("indices, axis, shape, ref", [
    (1, 1, (None, 6), lambda x: x[:, 1]),
    (-1, -1, (None, 4), lambda x: x[:, :, -1]),
    (slice(1, None, 2), 2, (None, 4, 3), lambda x: x[:, :, 1::2]),
    (slice(None, -1), 0, (None, 4, 6), lambda x: x[:-1]),
])
def test_slice_layer(run_layer, indices, axis, shape, ref):
    layer = SliceLayer(InputLayer((None, 4, 6)), indices, axis=axis)
    assert layer.output_shape == shape
    x = rand(3, 4, 6)
    np.testing.assert_array_equal(run_layer(layer, x), ref(x))


def test_slice_layer_errors_and_grad(float64, check_grad):
    l_in = InputLayer((None, 4))
    with pytest.raises(LayerError, match="out of range"):
        SliceLayer(l_in, 4)
    with pytest.raises(LayerError, match="axis"):
        SliceLayer(l_in, 0, axis=2)
    with pytest.raises(LayerError, match="indices"):
        SliceLayer(l_in, [0, 1])
    check_grad(SliceLayer(InputLayer((2, 5)), slice(1, 4)), rand(2, 5))


@pytest.mark.parametrize("width, val, batch_ndim, numpy_width", [
    (2, 0, 2, ((0, 0), (0, 0), (2, 2), (2, 2))),
    ([(1, 0), 3], 1.5, 2, ((0, 0), (0, 0), (1, 0), (3, 3))),
    ([1], -1, 1, ((0, 0), (1, 1), (0, 0), (0, 0))),
    ((0, (0, 2)), 0, 2, ((0, 0), (0, 0), (0, 0), (0, 2))),
])
def test_pad_layer(run_layer, width, val, batch_ndim, numpy_width):
    layer = PadLayer(InputLayer((None, 2, 3, 4)), width, val=val, batch_ndim=batch_ndim)
    x = rand(2, 2, 3, 4)
    want = np.pad(x, numpy_width, constant_values=val)
    assert layer.output_shape == (None,) + want.shape[1:]
    np.testing.assert_array_equal(run_layer(layer, x), want)
    assert layers.pad is PadLayer


def test_pad_layer_errors_and_grad(float64, check_grad):
    l_in = InputLayer((None, 2, 3))
    with pytest.raises(LayerError, match="width"):
        PadLayer(l_in, [1, 1])          # only one axis after batch_ndim=2
    with pytest.raises(LayerError, match="width"):
        PadLayer(l_in, -1)
    with pytest.raises(LayerError, match="batch_ndim"):
        PadLayer(l_in, 1, batch_ndim=4)
    check_grad(PadLayer(InputLayer((2, 2, 3)), [(1, 2)], val=3.0), rand(2, 2, 3))


# -- Upscale ----------------------------------------------------------------------------------
def test_upscale_repeat_and_dilate(run_layer):
    x = rand(2, 3, 4, 5)
    layer = Upscale2DLayer(InputLayer((None, 3, 4, 5)), (2, 3))
    assert layer.output_shape == (None, 3, 8, 15)
    np.testing.assert_array_equal(run_layer(layer, x), x.repeat(2, axis=2).repeat(3, axis=3))
    dil = Upscale2DLayer(InputLayer((None, 3, None, 5)), 2, mode="dilate")
    assert dil.output_shape == (None, 3, None, 10)
    want = np.zeros((2, 3, 8, 10), "float32")
    want[:, :, ::2, ::2] = x
    np.testing.assert_array_equal(run_layer(dil, x), want)
    x1 = rand(2, 3, 4)
    one = Upscale1DLayer(InputLayer((None, 3, 4)), 3)
    assert one.output_shape == (None, 3, 12)
    np.testing.assert_array_equal(run_layer(one, x1), x1.repeat(3, axis=2))
    with pytest.raises(LayerError, match="mode"):
        Upscale2DLayer(InputLayer((None, 3, 4, 5)), 2, mode="bilinear")
    with pytest.raises(LayerError, match="scale_factor"):
        Upscale2DLayer(InputLayer((None, 3, 4, 5)), 0)
    with pytest.raises(LayerError, match="4-d"):
        Upscale2DLayer(InputLayer((None, 3, 4)), 2)


@pytest.mark.parametrize("mode", ["repeat", "dilate"])
def test_upscale_grad(float64, check_grad, mode):
    check_grad(Upscale2DLayer(InputLayer((2, 2, 3, 2)), (2, 3), mode=mode), rand(2, 2, 3, 2))


# -- Conv1DLayer and 1-d pooling --------------------------------------------------------------
@pytest.mark.parametrize("stride, pad, flip", [(1, 0, True), (2, "same", False), (1, "full", True),
                                               (3, 2, True)])
def test_conv1d_values(run_layer, stride, pad, flip):
    layer = Conv1DLayer(InputLayer((None, 3, 11)), 4, 3, stride=stride, pad=pad,
                        nonlinearity=None, flip_filters=flip, b=rand(4))
    x = rand(2, 3, 11)
    p = {0: 0, "same": 1, "full": 2, 2: 2}[pad]
    want = ref_conv1d(x, layer.W.get_value(), stride, p, flip) + \
        layer.b.get_value()[None, :, None]
    np.testing.assert_allclose(run_layer(layer, x), want, rtol=1e-5, atol=1e-5)


def test_conv1d_params_and_errors():
    layer = Conv1DLayer(InputLayer((None, 3, 10)), 4, 5, untie_biases=True, name="c")
    assert [p.name for p in layer.get_params()] == ["c/W", "c/b"]
    assert layer.W.get_value().shape == (4, 3, 5)
    assert layer.b.get_value().shape == (4, 6)
    assert layer.get_params(regularizable=True) == [layer.W]
    with pytest.raises(LayerError, match="3-d"):
        Conv1DLayer(InputLayer((None, 3, 10, 10)), 4, 3)
    with pytest.raises(LayerError, match="does not fit"):
        Conv1DLayer(InputLayer((None, 3, 2)), 4, 3)
    with pytest.raises(LayerError, match="odd"):
        Conv1DLayer(InputLayer((None, 3, 8)), 4, 2, pad="same")


def test_conv1d_grad(float64, check_grad):
    layer = Conv1DLayer(InputLayer((2, 2, 7)), 3, 3, stride=2, pad=1, nonlinearity=T.tanh)
    check_grad(layer, rand(2, 2, 7))


@pytest.mark.parametrize("mode", ["max", "average_inc_pad"])
def test_pool1d(run_layer, mode):
    x = rand(2, 3, 10)
    layer = Pool1DLayer(InputLayer((None, 3, 10)), 3, stride=2, mode=mode)
    assert layer.output_shape == (None, 3, 4)
    np.testing.assert_allclose(run_layer(layer, x), ref_pool1d(x, 3, 2, mode), rtol=1e-6)
    mp = MaxPool1DLayer(InputLayer((None, 3, 10)), 2)
    assert mp.output_shape == (None, 3, 5)
    np.testing.assert_array_equal(run_layer(mp, x), ref_pool1d(x, 2, 2, "max"))
    assert MaxPool1DLayer(InputLayer((None, 3, 10)), 3, ignore_border=False).output_shape == \
        (None, 3, 4)
    with pytest.raises(LayerError, match="MaxPool1DLayer.*mode|pad"):
        MaxPool1DLayer(InputLayer((None, 3, 10)), 2, pad=2)
    with pytest.raises(LayerError, match="3-d"):
        MaxPool1DLayer(InputLayer((None, 10)), 2)


def test_pool1d_grad(float64, check_grad):
    x = rng.permutation(28).reshape(2, 2, 7) * 0.1   # distinct values: max is differentiable
    check_grad(MaxPool1DLayer(InputLayer((2, 2, 7)), 2), x)
    check_grad(Pool1DLayer(InputLayer((2, 2, 7)), 3, pad=1, mode="average_exc_pad"), x)


# -- TransposedConv2DLayer --------------------------------------------------------------------
@pytest.mark.parametrize("stride, crop, flip", [((1, 1), 0, False), ((2, 2), 1, False),
                                                ((2, 1), "same", True), ((1, 2), "full", False)])
def test_transposed_conv_values(run_layer, stride, crop, flip):
    layer = TransposedConv2DLayer(InputLayer((None, 3, 4, 5)), 2, 3, stride=stride, crop=crop,
                                  flip_filters=flip, nonlinearity=None, b=rand(2))
    x = rand(2, 3, 4, 5)
    c = {0: (0, 0), 1: (1, 1), "same": (1, 1), "full": (2, 2)}[crop]
    want = ref_transposed(x.astype("float64"), layer.W.get_value().astype("float64"), stride,
                          c, flip) + layer.b.get_value()[None, :, None, None]
    assert layer.output_shape == (None,) + want.shape[1:]
    np.testing.assert_allclose(run_layer(layer, x), want, rtol=1e-5, atol=1e-5)


def test_transposed_conv_is_the_transpose_of_conv2d(float64):
    """<deconv(y), x> == <y, conv(x)> with the same filters, stride and pad/crop (and each
    layer's default flip_filters)."""
    x, y = rand(2, 3, 10, 10, dtype="float64"), rand(2, 5, 5, 5, dtype="float64")
    w = rand(5, 3, 3, 3, dtype="float64")
    conv = layers.Conv2DLayer(InputLayer((None, 3, 10, 10)), 5, 3, stride=2, pad=1, W=w,
                              b=None, nonlinearity=None)
    deconv = TransposedConv2DLayer(InputLayer((None, 5, 5, 5)), 3, 3, stride=2, crop=1,
                                   output_size=10, W=w, b=None, nonlinearity=None)
    assert deconv.output_shape == (None, 3, 10, 10)
    cx, dy = output_fn(conv)(x), output_fn(deconv)(y)
    np.testing.assert_allclose(np.sum(dy * x), np.sum(y * cx), rtol=1e-10)


def test_transposed_conv_params_errors_and_unknown_sizes(run_layer):
    layer = Deconv2DLayer(InputLayer((None, 4, None, 3)), 2, (3, 2), stride=2, name="up")
    assert Deconv2DLayer is TransposedConv2DLayer
    assert [p.name for p in layer.get_params()] == ["up/W", "up/b"]
    assert layer.W.get_value().shape == (4, 2, 3, 2)
    assert layer.output_shape == (None, 2, None, 6)
    assert run_layer(layer, rand(1, 4, 5, 3)).shape == (1, 2, 11, 6)
    untied = TransposedConv2DLayer(InputLayer((None, 4, 3, 3)), 2, 3, untie_biases=True)
    assert untied.b.get_value().shape == (2, 5, 5)
    with pytest.raises(LayerError, match="output_size"):
        TransposedConv2DLayer(InputLayer((None, 4, 3, 3)), 2, 3, stride=2, output_size=9)
    with pytest.raises(LayerError, match="crop"):
        TransposedConv2DLayer(InputLayer((None, 4, 3, 3)), 2, 2, crop="same")
    with pytest.raises(LayerError, match="4-d"):
        TransposedConv2DLayer(InputLayer((None, 4, 3)), 2, 2)


def test_transposed_conv_grad(float64, check_grad):
    layer = TransposedConv2DLayer(InputLayer((2, 2, 3, 3)), 2, 3, stride=2, crop=1,
                                  nonlinearity=T.tanh, untie_biases=True)
    check_grad(layer, rand(2, 2, 3, 3))


# -- LocalResponseNormalization2DLayer ---------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"alpha": 0.1, "k": 1, "beta": 0.5, "n": 3},
                                    {"n": 1}, {"n": 9, "alpha": 0.01}])
def test_lrn_values(run_layer, kwargs):
    layer = LocalResponseNormalization2DLayer(InputLayer((None, 6, 3, 4)), **kwargs)
    assert layer.output_shape == (None, 6, 3, 4)
    assert layer.get_params() == []
    x = rand(2, 6, 3, 4)
    full = {"alpha": 1e-4, "k": 2, "beta": 0.75, "n": 5, **kwargs}
    np.testing.assert_allclose(run_layer(layer, x), ref_lrn(x.astype("float64"), **full),
                               rtol=1e-5)


def test_lrn_errors_and_grad(float64, check_grad):
    with pytest.raises(LayerError, match="odd"):
        LocalResponseNormalization2DLayer(InputLayer((None, 6, 3, 4)), n=4)
    with pytest.raises(LayerError, match="4-d"):
        LocalResponseNormalization2DLayer(InputLayer((None, 6)))
    check_grad(LocalResponseNormalization2DLayer(InputLayer((2, 4, 2, 2)), alpha=0.5, n=3),
               rand(2, 4, 2, 2))


# -- the OpenCL backend ------------------------------------------------------------------------
def _opencl_or_skip():
    pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl")
    try:
        from nnframe.backends.opencl.context import get_context
        get_context()
    except Exception as e:  # no device
        pytest.skip(f"no OpenCL device: {e}")


def _opencl_cases():
    x4, x3 = (None, 3, 4, 5), (None, 3, 10)
    return [
        ("expression", lambda: ExpressionLayer(InputLayer(x4), lambda v: v.max(axis=1),
                                               output_shape="auto")),
        ("merge", lambda: ElemwiseMergeLayer([InputLayer(x4), InputLayer((None, 3, 6, 5))],
                                             T.maximum, cropping=[None, None, "center"])),
        ("slice", lambda: SliceLayer(InputLayer(x4), slice(1, None, 2), axis=3)),
        ("pad", lambda: PadLayer(InputLayer(x4), [(1, 2), 1], val=0.5)),
        ("upscale_repeat", lambda: Upscale2DLayer(InputLayer(x4), (2, 3))),
        ("upscale_dilate", lambda: Upscale1DLayer(InputLayer(x3), 2, mode="dilate")),
        ("conv1d", lambda: Conv1DLayer(InputLayer(x3), 4, 3, stride=2, pad="same")),
        ("pool1d", lambda: Pool1DLayer(InputLayer(x3), 3, stride=2, mode="average_inc_pad")),
        ("maxpool1d", lambda: MaxPool1DLayer(InputLayer(x3), 2)),
        ("deconv", lambda: TransposedConv2DLayer(InputLayer(x4), 2, 3, stride=2, crop=1)),
        ("lrn", lambda: LocalResponseNormalization2DLayer(InputLayer(x4), alpha=0.1, n=3)),
    ]


@pytest.mark.parametrize("name, build", _opencl_cases(), ids=[c[0] for c in _opencl_cases()])
def test_opencl_matches_numpy(name, build):
    _opencl_or_skip()
    layer = build()
    inputs = [l for l in get_all_layers(layer) if isinstance(l, InputLayer)]
    values = [rand(2, *l.output_shape[1:]) for l in inputs]
    want = output_fn(layer, mode="numpy")(*values)
    got = output_fn(layer, mode="opencl")(*values)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)
    # the gradient of a sum through the layer and its parameters, too
    params = layers.get_all_params(layer, trainable=True)
    out = get_output(layer)
    grads = T.grad(T.sum(out * out), [l.input_var for l in inputs] + params)
    args = [l.input_var for l in inputs]
    for g_got, g_want in zip(function(args, grads, mode="opencl")(*values),
                             function(args, grads, mode="numpy")(*values)):
        np.testing.assert_allclose(g_got, g_want, rtol=1e-4, atol=1e-5)


# -- recipes -----------------------------------------------------------------------------------
def test_the_new_layers_in_a_recipe(tmp_path):
    from nnframe.train import registry
    from nnframe.train.recipe import RecipeErrors

    def build(spec, shape):
        errors = []
        checked = registry.layer_choice().check(spec, ("layer",), errors)
        if errors:
            raise RecipeErrors(errors)
        return registry.build_layer(checked, InputLayer(shape))

    cases = [
        ({"type": "slice", "indices": [1, None, 2], "axis": 1}, (None, 8, 4), (None, 4, 4),
         SliceLayer),
        ({"type": "slice", "indices": 0}, (None, 8, 4), (None, 8), SliceLayer),
        ({"type": "pad", "width": [[1, 0], 2], "val": 1.0}, (None, 2, 3, 3), (None, 2, 4, 7),
         PadLayer),
        ({"type": "upscale2d", "scale_factor": [2, 1], "mode": "dilate"}, (None, 2, 3, 3),
         (None, 2, 6, 3), Upscale2DLayer),
        ({"type": "conv1d", "num_filters": 4, "filter_size": 3, "pad": "same",
          "nonlinearity": "tanh"}, (None, 2, 10), (None, 4, 10), Conv1DLayer),
        ({"type": "maxpool1d", "pool_size": 2}, (None, 2, 10), (None, 2, 5), MaxPool1DLayer),
        ({"type": "lrn", "n": 3, "alpha": 0.001}, (None, 6, 3, 3), (None, 6, 3, 3),
         LocalResponseNormalization2DLayer),
        ({"type": "transposed_conv2d", "num_filters": 3, "filter_size": 4, "stride": 2,
          "crop": 1, "name": "up"}, (None, 2, 5, 5), (None, 3, 10, 10), TransposedConv2DLayer),
    ]
    for spec, shape, out_shape, cls in cases:
        layer = build(spec, shape)
        assert type(layer) is cls and layer.output_shape == out_shape, spec
    assert build(cases[-1][0], cases[-1][1]).name == "up"
    with pytest.raises(RecipeErrors):
        build({"type": "upscale2d", "scale_factor": 2, "mode": "bilinear"}, (None, 2, 3, 3))
    with pytest.raises(LayerError, match="indices"):
        build({"type": "slice", "indices": [0, 1, 1, 1]}, (None, 4))
