"""ConcatLayer and ElemwiseSumLayer: shapes, NumPy values, gradients, and build-time
errors that name both incoming layers and their shapes; duplicate names."""
import warnings

import numpy as np
import pytest

from nnframe.layers import (
    DenseLayer,
    InputLayer,
    LayerError,
    get_all_params,
    get_output,
    get_output_shape,
)
from nnframe.layers.merge import ConcatLayer, ElemwiseSumLayer
from nnframe.layers.noise import DropoutLayer


def sample(shape, seed=0):
    return np.random.default_rng(seed).normal(
        size=tuple(3 if n is None else n for n in shape)).astype("float32")


def inputs(*shapes):
    return [InputLayer(s, name=f"in{k}") for k, s in enumerate(shapes)]


@pytest.mark.parametrize("shapes, axis, want", [
    (((None, 3), (None, 4)), 1, (None, 7)),
    (((None, 3), (None, 4), (None, 1)), -1, (None, 8)),
    (((2, 3), (5, 3)), 0, (7, 3)),
    (((None, 3), (5, 3)), 0, (None, 3)),
    (((None, 2, 4, None), (None, 3, 4, 5)), 1, (None, 5, 4, 5)),
])
def test_concat(run_layer, shapes, axis, want):
    layer = ConcatLayer(inputs(*shapes), axis=axis)
    assert layer.output_shape == want
    assert get_output_shape(layer) == want
    known = [3 if n is None else n for n in want]  # lengths for the unknown ones
    xs = [sample([n or known[a] for a, n in enumerate(s)], k) for k, s in enumerate(shapes)]
    np.testing.assert_array_equal(run_layer(layer, *xs), np.concatenate(xs, axis=axis))


def test_concat_shape_for_other_input_shapes():
    a, b = inputs((None, 3), (None, 4))
    layer = ConcatLayer([a, b])
    assert get_output_shape(layer, {a: (2, 1), b: (2, 6)}) == (2, 7)


@pytest.mark.parametrize("shapes, coeffs, want", [
    (((None, 3), (None, 3)), 1, (None, 3)),
    (((None, 3), (4, None), (None, 3)), [1, -0.5, 2], (4, 3)),
    (((2, 3, 4), (2, 3, 4)), 0.5, (2, 3, 4)),
])
def test_elemwise_sum(run_layer, shapes, coeffs, want):
    layer = ElemwiseSumLayer(inputs(*shapes), coeffs=coeffs)
    assert layer.output_shape == want
    assert get_output_shape(layer) == want
    xs = [sample(want, k) for k in range(len(shapes))]
    cs = coeffs if isinstance(coeffs, list) else [coeffs] * len(xs)
    np.testing.assert_allclose(run_layer(layer, *xs), sum(c * x for c, x in zip(cs, xs)),
                               rtol=1e-6)


@pytest.mark.parametrize("make", [
    lambda ls: ConcatLayer(ls, axis=1),
    lambda ls: ConcatLayer(ls, axis=0),
    lambda ls: ElemwiseSumLayer(ls, coeffs=[0.5, -2.0]),
])
def test_gradients(float64, check_grad, make):
    a, b = inputs((None, 3), (None, 3))
    layer = make([DenseLayer(a, 4, name="da"), DenseLayer(b, 4, name="db")])
    check_grad(layer, sample((2, 3), 1).astype("float64"), sample((2, 3), 2).astype("float64"))


@pytest.mark.parametrize("make, shapes, message", [
    (lambda ls: ConcatLayer(ls, axis=1, name="cat"), ((None, 3), (5, 4), (6, 4)),
     r"ConcatLayer 'cat': the input shapes differ on axis 0: InputLayer 'in1' with shape "
     r"\(5, 4\) and InputLayer 'in2' with shape \(6, 4\)"),
    (lambda ls: ConcatLayer(ls, axis=0, name="cat"), ((None, 3), (None, 4)),
     r"differ on axis 1: InputLayer 'in0' with shape \(None, 3\) and InputLayer 'in1' with "
     r"shape \(None, 4\)"),
    (lambda ls: ConcatLayer(ls, name="cat"), ((None, 3), (None, 3, 1)),
     r"numbers of axes: InputLayer 'in0' with shape \(None, 3\) and InputLayer 'in1' with "
     r"shape \(None, 3, 1\)"),
    (lambda ls: ConcatLayer(ls, axis=2, name="cat"), ((None, 3), (None, 3)),
     r"axis 2 is not an axis of the inputs \('in0' \(None, 3\), 'in1' \(None, 3\)\)"),
    (lambda ls: ElemwiseSumLayer(ls, name="add"), ((None, 3), (None, 4)),
     r"ElemwiseSumLayer 'add': the input shapes differ on axis 1: InputLayer 'in0' with "
     r"shape \(None, 3\) and InputLayer 'in1' with shape \(None, 4\)"),
    (lambda ls: ElemwiseSumLayer(ls, coeffs=[1, 2, 3], name="add"), ((None, 3), (None, 3)),
     "coeffs must be a number or a list of 2 numbers"),
])
def test_shape_errors_name_both_layers_and_shapes(make, shapes, message):
    with pytest.raises(LayerError, match=message):
        make(inputs(*shapes))


def test_mismatch_of_computed_layers_names_them():
    l_in = InputLayer((None, 8), name="x")
    enc = DenseLayer(l_in, 4, name="enc")
    skip = DenseLayer(l_in, 5, name="skip")
    with pytest.raises(LayerError, match=r"DenseLayer 'enc' with shape \(None, 4\) and "
                                         r"DenseLayer 'skip' with shape \(None, 5\)"):
        ElemwiseSumLayer([enc, skip])


def test_duplicate_names_are_made_unique():
    l_in = InputLayer((None, 8), name="x")
    h = DenseLayer(l_in, 4, name="h")
    # a used name is accepted (as in Lasagne) and made unique, with a warning
    with pytest.warns(UserWarning, match="duplicate layer name 'h'.* named 'h_2'"):
        h2 = DenseLayer(h, 4, name="h")
    assert (h2.name, h2.W.name) == ("h_2", "h_2/W")
    with pytest.warns(UserWarning, match="duplicate layer name 'x'"):
        assert ConcatLayer([h, l_in], name="x").name == "x_2"
    # a sibling built on the same input: the next free suffix
    with pytest.warns(UserWarning, match="named 'h_3'"):
        assert DenseLayer(l_in, 4, name="h").name == "h_3"
    # automatic names of parallel branches differ
    a, b = DropoutLayer(l_in), DropoutLayer(l_in)
    assert (a.name, b.name) == ("dropout1", "dropout2")
    ElemwiseSumLayer([a, b])
    # branches built separately may collide: merging renames the later ones (in the
    # order of the merged inputs), their parameters and random streams with them
    y = InputLayer((None, 8), name="y")
    other = DenseLayer(y, 4, name="h")
    drop = DropoutLayer(InputLayer((None, 4)), name="h")
    with pytest.warns(UserWarning, match="ConcatLayer 'cat': duplicate layer name 'h' in the "
                                         "merged inputs: DenseLayer 'h'.* keeps it and "
                                         "DenseLayer 'h'.* is renamed 'h_4'"):
        cat = ConcatLayer([h, other], name="cat")
    assert (h.name, other.name, other.W.name, other.b.name) == ("h", "h_4", "h_4/W", "h_4/b")
    names = [p.name for p in get_all_params(cat)]
    assert names == ["h/W", "h/b", "h_4/W", "h_4/b"]
    get_output(drop)                         # a stream state named after the layer
    with pytest.warns(UserWarning, match="DropoutLayer 'h'.* is renamed 'h_5'"):
        ElemwiseSumLayer([h, drop])
    assert drop.name == "h_5" and [s.name for s in drop._srng.state_variables] == ["h_5/state0"]
    # a layer reached twice is not a duplicate, nor are unnamed InputLayers (no state)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ElemwiseSumLayer([h, h]).output_shape == (None, 4)
        assert ConcatLayer([InputLayer((None, 2)), InputLayer((None, 3))]).output_shape == (None, 5)


def test_merge_layer_parameter_shape_error_names_the_input_shapes():
    import numpy as np

    from nnframe import layers as L

    class Weighted(L.MergeLayer):
        def __init__(self, incomings):
            super().__init__(incomings)
            self.W = self.add_param(np.zeros((2, 2)), (3, 3), "W")

    with pytest.raises(L.LayerError, match=r"needs \(3, 3\) \(input shapes \[\(None, 3\), "
                                           r"\(None, 3\)\]\)"):
        Weighted([L.InputLayer((None, 3)), L.InputLayer((None, 3))])
