"""nnframe.regularization: penalties and their selection of a network's parameters."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, init, verify_grad
from nnframe.layers import DenseLayer, InputLayer, get_all_params
from nnframe.regularization import (
    apply_penalty,
    l1,
    l2,
    regularize_layer_params,
    regularize_layer_params_weighted,
    regularize_network_params,
)

RNG = np.random.default_rng(3)
DTYPES = ["float32", "float64"]


def value(expr):
    return function([], expr, mode="debug")()


def network():
    """in(4) -> h1(5) -> h2(3) -> out(2), with non-zero biases."""
    l_in = InputLayer((None, 4), name="in")
    h1 = DenseLayer(l_in, 5, W=init.Normal(seed=1), b=init.Constant(0.5), name="h1")
    h2 = DenseLayer(h1, 3, W=init.Normal(seed=2), b=init.Constant(-1.0), name="h2")
    out = DenseLayer(h2, 2, W=init.Normal(seed=3), b=init.Constant(2.0), nonlinearity=None,
                     name="out")
    return h1, h2, out


def np_l2(*arrays):
    return sum(np.sum(a.astype("float64") ** 2) for a in arrays)


def np_l1(*arrays):
    return sum(np.sum(np.abs(a.astype("float64"))) for a in arrays)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("penalty,ref", [(l1, np_l1), (l2, np_l2)])
def test_penalties_match_numpy(dtype, penalty, ref):
    x = T.tensor(dtype, (None, None))
    xv = RNG.standard_normal((4, 3)).astype(dtype)
    out = penalty(x)
    assert out.ndim == 0 and out.dtype == dtype
    got = function([x], out, mode="debug")(xv)
    np.testing.assert_allclose(got, ref(xv), rtol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("penalty", [l1, l2])
def test_penalty_gradients_check_numerically(penalty):
    verify_grad(penalty, [RNG.standard_normal((3, 4))])


def test_l2_gradient_is_twice_the_weights():
    W = T.dmatrix("W")
    wv = RNG.standard_normal((2, 3))
    np.testing.assert_allclose(function([W], T.grad(l2(W), W))(wv), 2 * wv)


def test_apply_penalty_to_one_tensor_or_a_list():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal(4)
    A, B = T.dmatrix("A"), T.dvector("B")
    single = apply_penalty(A, l2)
    summed = apply_penalty([A, B], l1)
    got = function([A, B], [single, summed], mode="debug")(a, b)
    np.testing.assert_allclose(got[0], np_l2(a))
    np.testing.assert_allclose(got[1], np_l1(a, b))


def test_apply_penalty_passes_keyword_arguments():
    def lp(x, p):
        return T.sum(T.abs(x) ** p)
    x = RNG.standard_normal(5)
    np.testing.assert_allclose(value(apply_penalty([x, x], lp, p=3)), 2 * np.sum(np.abs(x) ** 3))


def test_apply_penalty_to_nothing_is_zero():
    assert value(apply_penalty([], l2)) == 0


def test_network_penalty_covers_weights_only():
    h1, h2, out = network()
    weights = [l.W.get_value() for l in (h1, h2, out)]
    np.testing.assert_allclose(value(regularize_network_params(out, l2)), np_l2(*weights),
                               rtol=1e-6)
    np.testing.assert_allclose(value(regularize_network_params(out, l1)), np_l1(*weights),
                               rtol=1e-6)
    biases = [l.b.get_value() for l in (h1, h2, out)]
    not_regularizable = regularize_network_params(out, l2, tags={"regularizable": False})
    np.testing.assert_allclose(value(not_regularizable), np_l2(*biases), rtol=1e-6)


def test_network_penalty_gradient_reaches_weights_not_biases():
    h1, h2, out = network()
    penalty = regularize_network_params(out, l2)
    weights = get_all_params(out, regularizable=True)
    assert [p.name for p in weights] == ["h1/W", "h2/W", "out/W"]
    grads = function([], T.grad(penalty, weights))()
    for p, g in zip(weights, grads):
        np.testing.assert_allclose(g, 2 * p.get_value(), rtol=1e-6)
    with pytest.raises(T.DisconnectedInputError):
        T.grad(penalty, out.b)


def test_layer_penalty_covers_the_layer_itself():
    h1, h2, out = network()
    np.testing.assert_allclose(value(regularize_layer_params(h2, l2)),
                               np_l2(h2.W.get_value()), rtol=1e-6)
    np.testing.assert_allclose(value(regularize_layer_params([h1, out], l1)),
                               np_l1(h1.W.get_value(), out.W.get_value()), rtol=1e-6)
    trainable = regularize_layer_params(out, l2, tags={"trainable": True})
    np.testing.assert_allclose(value(trainable),
                               np_l2(out.W.get_value(), out.b.get_value()), rtol=1e-6)


def test_weighted_layer_penalty():
    h1, h2, out = network()
    coefficients = {h1: 0.1, out: 2.0}
    expected = 0.1 * np_l2(h1.W.get_value()) + 2.0 * np_l2(out.W.get_value())
    got = value(regularize_layer_params_weighted(coefficients, l2))
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_shared_weights_are_penalised_once():
    l_in = InputLayer((None, 3), name="in")
    a = DenseLayer(l_in, 3, W=init.Normal(seed=4), name="a")
    b = DenseLayer(a, 3, W=a.W, name="b")
    np.testing.assert_allclose(value(regularize_network_params(b, l2)),
                               np_l2(a.W.get_value()), rtol=1e-6)


def test_errors():
    h1, _, out = network()
    with pytest.raises(TypeError, match="penalty must be a callable"):
        apply_penalty([T.dvector("x")], "l2")
    with pytest.raises(TypeError, match="dict"):
        regularize_layer_params_weighted([h1, out], l2)
    with pytest.raises(TypeError, match="Layer"):
        regularize_layer_params([h1, "out"], l2)
    with pytest.raises(TypeError, match="Layer"):
        regularize_network_params(T.dmatrix("x"), l2)
