"""ReshapeLayer, FlattenLayer, DimshuffleLayer: static shapes against NumPy, gradients,
build-time errors naming the layer and the incoming shape."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function
from nnframe.layers import InputLayer, LayerError, get_output, get_output_shape
from nnframe.layers.shape import DimshuffleLayer, FlattenLayer, ReshapeLayer


def sample(shape, fill=3):
    """A random array of ``shape``, unknown lengths replaced by ``fill``."""
    return np.random.default_rng(0).normal(
        size=tuple(fill if n is None else n for n in shape)).astype("float32")


@pytest.mark.parametrize("in_shape, spec, want", [
    ((None, 100, 20), ([0], 2, 50, -1), (None, 2, 50, 20)),
    ((None, 3, 4), ([0], -1), (None, 12)),
    ((6, 4), (3, 8), (3, 8)),
    ((6, 4), (-1, 3), (8, 3)),
    ((None, 6), (-1, 2), (None, 2)),
    ((None, None, 4), ([1], [0], 2, 2), (None, None, 2, 2)),
    ((None, 4, 3), ([0], [2], [1]), (None, 3, 4)),
])
def test_reshape_shapes(run_layer, in_shape, spec, want):
    layer = ReshapeLayer(InputLayer(in_shape), spec)
    assert layer.output_shape == want
    assert get_output_shape(layer) == want
    x = sample(in_shape)
    out = run_layer(layer, x)
    numpy_spec = [x.shape[e[0]] if isinstance(e, list) else e for e in spec]
    np.testing.assert_array_equal(out, x.reshape(numpy_spec))


def test_reshape_with_a_symbolic_length():
    n = T.lscalar("n")
    l_in = InputLayer((None, 12))
    layer = ReshapeLayer(l_in, ([0], n, -1))
    assert layer.output_shape == (None, None, None)
    f = function([l_in.input_var, n], get_output(layer))
    x = sample((2, 12))
    np.testing.assert_array_equal(f(x, 4), x.reshape(2, 4, 3))


@pytest.mark.parametrize("spec, message", [
    ((5, 5), r"cannot reshape the input shape \(6, 4\) from InputLayer 'pixels' to \(5, 5\)"),
    ((-1, 5), r"total size 24 is not a multiple of 5"),
    ((-1, -1), "more than one -1"),
    ((0, 24), "positive or -1"),
    (([2], 4), r"\[2\] must be \[i\] with i an axis of the input shape \(6, 4\)"),
    ((2.5, 4), "entries must be"),
])
def test_reshape_errors(spec, message):
    l_in = InputLayer((6, 4), name="pixels")
    with pytest.raises(LayerError, match="ReshapeLayer 'r'") as info:
        ReshapeLayer(l_in, spec, name="r")
    assert info.match(message)


@pytest.mark.parametrize("in_shape, outdim, want", [
    ((None, 16, 4, 4), 2, (None, 256)),
    ((None, 16, 4, 4), 1, (None,)),
    ((2, 16, 4, 4), 1, (512,)),
    ((None, 16, None, 4), 3, (None, 16, None)),
    ((None, 16, 4, 4), 4, (None, 16, 4, 4)),
    ((None, 5), 2, (None, 5)),
])
def test_flatten_shapes(run_layer, in_shape, outdim, want):
    layer = FlattenLayer(InputLayer(in_shape), outdim)
    assert layer.output_shape == want
    assert get_output_shape(layer) == want
    x = sample(in_shape)
    np.testing.assert_array_equal(run_layer(layer, x),
                                  x.reshape(x.shape[:outdim - 1] + (-1,)))


def test_flatten_errors():
    with pytest.raises(LayerError, match=r"FlattenLayer 'f'.*\[1, 2\].*\(None, 5\)"):
        FlattenLayer(InputLayer((None, 5)), 3, name="f")


@pytest.mark.parametrize("in_shape, pattern, want", [
    ((None, 3, 4), (0, 2, 1), (None, 4, 3)),
    ((None, 3), (0, "x", 1), (None, 1, 3)),
    ((None, 3, 1), (1, 0), (3, None)),
    ((None, 3, None), ("x", 2, 0, 1), (1, None, None, 3)),
    ((5, 1, 2), ("x", 2, "x", 0), (1, 2, 1, 5)),
])
def test_dimshuffle_shapes(run_layer, in_shape, pattern, want):
    layer = DimshuffleLayer(InputLayer(in_shape), pattern)
    assert layer.output_shape == want
    assert get_output_shape(layer) == want
    x = sample(in_shape)
    kept = [p for p in pattern if p != "x"]
    ref = x.squeeze(axis=tuple(a for a in range(x.ndim) if a not in kept))
    ref = ref.transpose([sorted(kept).index(a) for a in kept])
    for k, p in enumerate(pattern):
        if p == "x":
            ref = np.expand_dims(ref, k)
    np.testing.assert_array_equal(run_layer(layer, x), ref)


def test_dimshuffle_drops_an_unknown_length_checked_at_run_time():
    l_in = InputLayer((None, None, 3))
    layer = DimshuffleLayer(l_in, (0, 2))
    assert layer.output_shape == (None, 3)
    f = function([l_in.input_var], get_output(layer))
    assert f(sample((2, 1, 3))).shape == (2, 3)
    with pytest.raises(ValueError, match=r"shape \(2, 2, 3\)"):
        f(sample((2, 2, 3)))


@pytest.mark.parametrize("pattern, message", [
    ((0, 2), r"drops axis 1 of the input shape \(None, 3, 4\) from InputLayer 'x'"),
    ((0, 1, 3), r"axes in \[0, 3\) of the input shape \(None, 3, 4\)"),
    ((0, 1, 1), "more than once"),
])
def test_dimshuffle_errors(pattern, message):
    with pytest.raises(LayerError, match="DimshuffleLayer 'd'") as info:
        DimshuffleLayer(InputLayer((None, 3, 4), name="x"), pattern, name="d")
    assert info.match(message)


@pytest.mark.parametrize("make", [
    lambda l: ReshapeLayer(l, ([0], 2, -1)),
    lambda l: FlattenLayer(l, 2),
    lambda l: DimshuffleLayer(l, (2, "x", 0, 1)),
])
def test_gradients(float64, check_grad, make):
    check_grad(make(InputLayer((None, 4, 3))), sample((2, 4, 3)).astype("float64"))
