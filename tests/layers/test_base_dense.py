"""Layer base classes, naming, the network helpers, DenseLayer and NonlinearityLayer."""
import warnings

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, init, nonlinearities, shared
from nnframe.layers import (
    ConcatLayer,
    DenseLayer,
    InputLayer,
    LayerError,
    NonlinearityLayer,
    count_params,
    get_all_layers,
    get_all_param_values,
    get_all_params,
    get_output,
    get_output_shape,
    set_all_param_values,
    summary,
)

rng = np.random.default_rng(3)


def mlp():
    l_in = InputLayer((None, 6), name="x")
    enc = DenseLayer(l_in, 4, name="enc1")
    out = DenseLayer(enc, 3, nonlinearity=nonlinearities.softmax, name="out")
    return l_in, enc, out


def test_parameter_names_are_hierarchical_and_stable():
    l_in, enc, out = mlp()
    assert [p.name for p in get_all_params(out)] == ["enc1/W", "enc1/b", "out/W", "out/b"]
    assert enc.W.name == "enc1/W" and enc.b.name == "enc1/b"
    again = [p.name for p in get_all_params(mlp()[2])]
    assert again == ["enc1/W", "enc1/b", "out/W", "out/b"]


def test_automatic_names_follow_type_and_position():
    l_in = InputLayer((None, 2))
    a = DenseLayer(l_in, 3)
    b = DenseLayer(a, 3)
    c = DenseLayer(l_in, 3)          # a parallel branch
    assert [l.name for l in (l_in, a, b, c)] == ["input1", "dense1", "dense2", "dense3"]


def test_bad_names():
    l_in = InputLayer((None, 2), name="x")
    with pytest.warns(UserWarning, match="duplicate layer name 'x'"):   # accepted, renamed
        assert DenseLayer(l_in, 3, name="x").W.name == "x_2/W"
    with pytest.raises(LayerError, match="without '/'"):
        DenseLayer(l_in, 3, name="a/b")


def test_tags_select_parameters():
    _, enc, out = mlp()
    assert [p.name for p in get_all_params(out, regularizable=True)] == ["enc1/W", "out/W"]
    assert [p.name for p in get_all_params(out, regularizable=False)] == ["enc1/b", "out/b"]
    assert get_all_params(out, trainable=True) == get_all_params(out)
    assert count_params(out) == 6 * 4 + 4 + 4 * 3 + 3
    assert count_params(out, regularizable=True) == 6 * 4 + 4 * 3


def test_dense_output_matches_numpy_and_shapes():
    l_in, enc, out = mlp()
    f = function([l_in.input_var], get_output(out), mode="debug")
    xv = rng.normal(size=(5, 6)).astype("float32")
    W1, b1, W2, b2 = get_all_param_values(out)
    h = np.maximum(xv @ W1 + b1, 0)
    z = h @ W2 + b2
    want = np.exp(z - z.max(1, keepdims=True))
    want /= want.sum(1, keepdims=True)
    np.testing.assert_allclose(f(xv), want, rtol=1e-5)
    assert out.output_shape == (None, 3)
    assert get_output_shape(out, (7, 6)) == (7, 3)


def test_dense_flattens_trailing_axes_and_num_leading_axes():
    l_in = InputLayer((None, 2, 3, 4))
    flat = DenseLayer(l_in, 5)
    assert flat.W.get_value().shape == (24, 5) and flat.output_shape == (None, 5)
    per_step = DenseLayer(l_in, 5, num_leading_axes=2)
    assert per_step.W.get_value().shape == (12, 5) and per_step.output_shape == (None, 2, 5)
    xv = rng.normal(size=(3, 2, 3, 4)).astype("float32")
    out = function([l_in.input_var], get_output(per_step))(xv)
    assert out.shape == (3, 2, 5)


def test_dense_shape_errors_name_the_layers():
    with pytest.raises(LayerError, match=r"DenseLayer 'd'.*W has shape \(3, 2\).*needs \(6, 2\)"):
        DenseLayer(InputLayer((None, 6)), 2, W=np.zeros((3, 2)), name="d")
    with pytest.raises(LayerError, match=r"DenseLayer 'd'.*input shape \(None, None\) from "
                                         r"InputLayer 'x'"):
        DenseLayer(InputLayer((None, None), name="x"), 2, name="d")
    with pytest.raises(LayerError, match="num_units must be a positive integer"):
        DenseLayer(InputLayer((None, 6)), 0)
    with pytest.raises(LayerError, match="incoming must be a layer or a shape tuple"):
        DenseLayer("x", 3)


def test_dense_takes_initialisers_arrays_and_shared_variables():
    l_in = InputLayer((None, 2))
    W = shared(np.ones((2, 3), dtype="float32"), name="shared_W")
    a = DenseLayer(l_in, 3, W=W, b=None, nonlinearity=None)
    b = DenseLayer(l_in, 3, W=np.full((2, 3), 2.0), b=init.Constant(1.0), nonlinearity=None)
    assert a.W is W and a.b is None
    xv = np.ones((1, 2), dtype="float32")
    outs = function([l_in.input_var], [get_output(a), get_output(b)])(xv)
    np.testing.assert_array_equal(outs[0], [[2, 2, 2]])
    np.testing.assert_array_equal(outs[1], [[5, 5, 5]])


def test_dense_gradients(float64, check_grad):
    l_in = InputLayer((None, 4))
    layer = DenseLayer(l_in, 3, nonlinearity=nonlinearities.tanh)
    check_grad(layer, rng.normal(size=(2, 4)))


def test_nonlinearity_layer(run_layer):
    l_in = InputLayer((None, 3))
    layer = NonlinearityLayer(l_in, nonlinearities.LeakyRectify(0.1))
    xv = np.array([[-1.0, 0.0, 2.0]], dtype="float32")
    np.testing.assert_allclose(run_layer(layer, xv), [[-0.1, 0.0, 2.0]], rtol=1e-6)


def test_get_output_with_inputs_and_replaced_layers():
    l_in, enc, out = mlp()
    other = T.fmatrix("other")
    y = get_output(out, other)
    h = T.fmatrix("h")
    z = get_output(out, {enc: h})
    hv = rng.normal(size=(2, 4)).astype("float32")
    zv = function([h], z)(hv)
    np.testing.assert_allclose(zv.sum(axis=1), [1, 1], rtol=1e-5)
    assert function([other], y)(rng.normal(size=(2, 6)).astype("float32")).shape == (2, 3)


def test_get_output_warns_about_unknown_keywords_with_a_suggestion():
    _, _, out = mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        get_output(out, deterministic=True)     # always understood
    with pytest.warns(UserWarning, match="determinstic.*did you mean 'deterministic'"):
        get_output(out, determinstic=True)


def test_get_output_needs_a_dict_for_several_inputs():
    merged = ConcatLayer([InputLayer((None, 2), name="a"), InputLayer((None, 3), name="b")])
    with pytest.raises(LayerError, match="2 InputLayers"):
        get_output(merged, T.fmatrix())


def test_get_all_layers_order():
    l_in, enc, out = mlp()
    assert get_all_layers(out) == [l_in, enc, out]
    assert get_all_layers(out, treat_as_input=[enc]) == [enc, out]


def test_set_all_param_values_checks_everything_first():
    _, _, out = mlp()
    values = get_all_param_values(out)
    doubled = [2 * v for v in values]
    set_all_param_values(out, doubled)
    np.testing.assert_array_equal(get_all_param_values(out)[0], doubled[0])
    wrong = [np.zeros((1, 1))] + doubled[1:3] + [np.zeros(9)]
    with pytest.raises(LayerError, match=r"enc1/W.*\(6, 4\).*\(1, 1\)\n.*out/b.*\(3,\).*\(9,\)"):
        set_all_param_values(out, wrong)
    np.testing.assert_array_equal(get_all_param_values(out)[0], doubled[0])   # unchanged
    with pytest.raises(LayerError, match="got 2 arrays for 4 parameters"):
        set_all_param_values(out, doubled[:2])


def test_input_layer_checks():
    v = T.fmatrix("v")
    assert InputLayer((None, 3), input_var=v).input_var is v
    with pytest.raises(LayerError, match="has 2 dimensions but the shape"):
        InputLayer((None, 3, 4), input_var=v)
    with pytest.raises(LayerError, match="non-positive"):
        InputLayer((None, 0))


def test_summary_lists_layers_shapes_and_counts():
    _, _, out = mlp()
    text = summary(out)
    assert "enc1" in text and "(?, 4)" in text and "28" in text and "total" in text
    assert text.splitlines()[-1].split()[-1] == str(count_params(out))
