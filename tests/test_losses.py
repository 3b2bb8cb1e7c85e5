"""nnframe.losses against NumPy references: values, gradients, stability, errors."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, losses, regularization, verify_grad

RNG = np.random.default_rng(20240611)
DTYPES = ["float32", "float64"]


def tol(dtype):
    return {"rtol": 2e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}


def rand(shape, dtype="float64", scale=1.5):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def probs(shape, dtype="float64"):
    p = RNG.uniform(0.05, 1.0, size=shape)
    return (p / p.sum(axis=-1, keepdims=True)).astype(dtype)


def uniform01(shape, dtype="float64"):
    return RNG.uniform(0.05, 0.95, size=shape).astype(dtype)


def labels(n, classes):
    return RNG.integers(0, classes, size=n).astype("int64")


def run(inputs, output, *values):
    return function(inputs, output, mode="debug")(*values)


# -- NumPy references --------------------------------------------------------------------
def np_log_softmax(x):
    s = x - x.max(axis=1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=1, keepdims=True))


def np_bce(p, t):
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def np_bce_logits(x, t):
    return np.logaddexp(0, x) - t * x  # softplus without overflow


def np_cce(p, t):
    if t.ndim == 1:
        return -np.log(p[np.arange(len(t)), t])
    return -(t * np.log(p)).sum(axis=1)


def np_cce_logits(x, t):
    logp = np_log_softmax(x)
    if t.ndim == 1:
        return -logp[np.arange(len(t)), t]
    return -(t * logp).sum(axis=1)


def np_binary_hinge(p, t, delta=1.0, log_odds=True, binary=True):
    if not log_odds:
        p = np.log(p / (1 - p))
    if binary:
        t = 2 * t - 1
    return np.maximum(delta - p * t, 0)


def np_multiclass_hinge(p, y, delta=1.0):
    n = len(y)
    correct = p[np.arange(n), y]
    others = p.copy()
    others[np.arange(n), y] = -np.inf
    return np.maximum(others.max(axis=1) - correct + delta, 0)


# -- crossentropies ------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy_matches_numpy(dtype):
    p, t = T.tensor(dtype, (None, None)), T.tensor(dtype, (None, None))
    pv, tv = uniform01((5, 3), dtype), uniform01((5, 3), dtype)
    out = losses.binary_crossentropy(p, t)
    assert out.dtype == dtype
    np.testing.assert_allclose(run([p, t], out, pv, tv), np_bce(pv, tv), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy_from_logits_matches_numpy(dtype):
    x, t = T.tensor(dtype, (None,)), T.tensor(dtype, (None,))
    xv, tv = rand(7, dtype, scale=4.0), uniform01(7, dtype)
    out = losses.binary_crossentropy_from_logits(x, t)
    assert out.dtype == dtype
    np.testing.assert_allclose(run([x, t], out, xv, tv), np_bce_logits(xv, tv), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("target_kind", ["int", "one_hot", "probs", "int_one_hot"])
@pytest.mark.parametrize("from_logits", [False, True])
def test_categorical_crossentropy_matches_numpy(dtype, target_kind, from_logits):
    n, c = 6, 4
    y = labels(n, c)
    tv = {"int": y, "one_hot": np.eye(c, dtype=dtype)[y], "probs": probs((n, c), dtype),
          "int_one_hot": np.eye(c, dtype="int32")[y]}[target_kind]
    x = T.tensor(dtype, (None, None))
    t = T.tensor(tv.dtype, (None,) * tv.ndim)
    if from_logits:
        xv = rand((n, c), dtype, scale=3.0)
        out, ref = losses.categorical_crossentropy_from_logits(x, t), np_cce_logits
    else:
        xv = probs((n, c), dtype)
        out, ref = losses.categorical_crossentropy(x, t), np_cce
    assert out.dtype == dtype and out.ndim == 1
    expected = ref(xv.astype("float64"), tv.astype("float64") if tv.ndim == 2 else tv)
    np.testing.assert_allclose(run([x, t], out, xv, tv), expected.astype(dtype), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_from_logits_losses_are_stable_at_1000(dtype):
    x = T.tensor(dtype, (None, None))
    y = T.lvector("y")
    xv = np.array([[1000, -1000, 0], [-1000, 1000, -1000], [1000, 1000, -1000]], dtype=dtype)
    yv = np.array([0, 0, 2])
    cce = losses.categorical_crossentropy_from_logits(x, y)
    f = function([x, y], [cce, T.grad(cce.sum(), x)], mode="debug")
    value, grad = f(xv, yv)
    np.testing.assert_allclose(value, [0, 2000, 2000 + np.log(2)], rtol=1e-6)
    expected_grad = np.exp(np_log_softmax(xv.astype("float64"))) - np.eye(3)[yv]
    np.testing.assert_allclose(grad, expected_grad, atol=1e-6)

    z = T.tensor(dtype, (None,))
    t = T.tensor(dtype, (None,))
    bce = losses.binary_crossentropy_from_logits(z, t)
    g = function([z, t], [bce, T.grad(bce.sum(), z)], mode="debug")
    zv = np.array([1000, -1000, 1000, -1000], dtype=dtype)
    tv = np.array([1, 0, 0, 1], dtype=dtype)
    value, grad = g(zv, tv)
    np.testing.assert_allclose(value, [0, 0, 1000, 1000], rtol=1e-6)
    np.testing.assert_allclose(grad, [0, 0, 1, -1], atol=1e-6)


def test_probability_losses_use_aligned_column_targets():
    p = T.dcol("p")
    t = T.dvector("t")
    out = losses.binary_crossentropy(p, t)
    assert out.ndim == 2 and out.type.shape[1] == 1
    pv, tv = uniform01((5, 1)), uniform01(5)
    np.testing.assert_allclose(run([p, t], out, pv, tv), np_bce(pv, tv[:, None]))
    assert losses.squared_error(p, t).type.shape[1] == 1


def test_integer_targets_keep_float32():
    p = T.fvector("p")
    for loss in (losses.binary_crossentropy, losses.binary_crossentropy_from_logits,
                 losses.squared_error):
        assert loss(p, T.ivector("y")).dtype == "float32"
    assert losses.binary_hinge_loss(p, T.lvector("y"), log_odds=True).dtype == "float32"


# -- squared error and hinges --------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_squared_error_matches_numpy(dtype):
    a, b = T.tensor(dtype, (None, None)), T.tensor(dtype, (None, None))
    av, bv = rand((4, 3), dtype), rand((4, 3), dtype)
    out = losses.squared_error(a, b)
    assert out.dtype == dtype
    np.testing.assert_allclose(run([a, b], out, av, bv), (av - bv) ** 2, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("log_odds,binary", [(True, True), (False, True), (True, False)])
def test_binary_hinge_loss_matches_numpy(dtype, log_odds, binary):
    p = T.tensor(dtype, (None,))
    t = T.tensor(dtype, (None,))
    pv = rand(8, dtype) if log_odds else uniform01(8, dtype)
    tv = RNG.integers(0, 2, size=8).astype(dtype)
    if not binary:
        tv = 2 * tv - 1
    out = losses.binary_hinge_loss(p, t, delta=0.7, log_odds=log_odds, binary=binary)
    assert out.dtype == dtype
    expected = np_binary_hinge(pv.astype("float64"), tv, 0.7, log_odds, binary)
    np.testing.assert_allclose(run([p, t], out, pv, tv), expected.astype(dtype), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("one_hot", [False, True])
def test_multiclass_hinge_loss_matches_numpy(dtype, one_hot):
    n, c = 7, 4
    y = labels(n, c)
    pv = rand((n, c), dtype, scale=0.8)
    tv = np.eye(c, dtype=dtype)[y] if one_hot else y
    p = T.tensor(dtype, (None, None))
    t = T.tensor(tv.dtype, (None,) * tv.ndim)
    out = losses.multiclass_hinge_loss(p, t, delta=1.0)
    assert out.dtype == dtype and out.ndim == 1
    np.testing.assert_allclose(run([p, t], out, pv, tv),
                               np_multiclass_hinge(pv.astype("float64"), y).astype(dtype),
                               **tol(dtype))


def test_multiclass_hinge_loss_zero_beyond_the_margin():
    scores = np.array([[5.0, 1.0, 0.0], [0.0, 0.5, 0.2]])
    p, y = T.dmatrix("p"), T.lvector("y")
    got = run([p, y], losses.multiclass_hinge_loss(p, y, delta=1.0), scores, np.array([0, 1]))
    np.testing.assert_allclose(got, [0.0, 0.7])


def test_multiclass_hinge_loss_out_of_range_class_is_an_error():
    p, y = T.dmatrix("p"), T.lvector("y")
    f = function([p, y], losses.multiclass_hinge_loss(p, y))
    with pytest.raises(IndexError, match="class index -1"):
        f(rand((2, 3)), np.array([0, -1]))


# -- gradients --------------------------------------------------------------------------------
Y4 = np.array([2, 0, 1, 2])
GRAD_CASES = [
    ("binary_crossentropy", lambda p: losses.binary_crossentropy(p, uniform01((4, 3))),
     lambda: uniform01((4, 3))),
    ("binary_crossentropy_from_logits",
     lambda x: losses.binary_crossentropy_from_logits(x, uniform01((4, 3))), lambda: rand((4, 3))),
    ("categorical_crossentropy_int", lambda p: losses.categorical_crossentropy(p, Y4),
     lambda: probs((4, 3))),
    ("categorical_crossentropy_probs",
     lambda p: losses.categorical_crossentropy(p, probs((4, 3))), lambda: probs((4, 3))),
    ("categorical_crossentropy_from_logits_int",
     lambda x: losses.categorical_crossentropy_from_logits(x, Y4), lambda: rand((4, 3))),
    ("categorical_crossentropy_from_logits_probs",
     lambda x: losses.categorical_crossentropy_from_logits(x, probs((4, 3))),
     lambda: rand((4, 3))),
    ("squared_error", lambda a: losses.squared_error(a, rand((4, 3))), lambda: rand((4, 3))),
    ("binary_hinge_log_odds",
     lambda x: losses.binary_hinge_loss(x, np.array([1, 0, 1, 1, 0]), log_odds=True),
     lambda: np.array([0.3, 0.2, -1.4, 2.5, -0.6])),
    ("binary_hinge_probs",
     lambda p: losses.binary_hinge_loss(p, np.array([1, 0, 1, 0]), log_odds=False),
     lambda: np.array([0.3, 0.4, 0.8, 0.1])),
    ("multiclass_hinge", lambda p: losses.multiclass_hinge_loss(p, Y4),
     lambda: np.array([[0.1, 0.5, 0.9], [1.0, 0.2, 0.6], [0.3, 0.4, -0.5], [2.0, 0.1, 0.0]])),
]


@pytest.mark.parametrize("name,build,point", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_loss_gradients_check_numerically(name, build, point):
    verify_grad(build, [point()], mode="debug")


def test_squared_error_gradient_wrt_both_inputs():
    verify_grad(losses.squared_error, [rand((3, 2)), rand((3, 2))])


# -- aggregate ------------------------------------------------------------------------------
def np_aggregate(loss, weights, mode):
    weighted = loss if weights is None else loss * weights
    if mode == "mean":
        return weighted.mean()
    if mode == "sum":
        return weighted.sum()
    return weighted.sum() / weights.sum()


AGGREGATE_CASES = [("mean", None), ("sum", None), ("mean", (6,)), ("sum", (6,)),
                   ("normalized_sum", (6,))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode,weights_shape", AGGREGATE_CASES)
def test_aggregate_matches_numpy(dtype, mode, weights_shape):
    loss = T.tensor(dtype, (None,))
    lv = RNG.uniform(0, 3, size=6).astype(dtype)
    if weights_shape is None:
        out = losses.aggregate(loss, mode=mode)
        got, wv = run([loss], out, lv), None
    else:
        w = T.tensor(dtype, (None,))
        wv = RNG.uniform(0.1, 2, size=weights_shape).astype(dtype)
        out = losses.aggregate(loss, w, mode=mode)
        got = run([loss, w], out, lv, wv)
    assert out.ndim == 0 and out.dtype == dtype
    np.testing.assert_allclose(got, np_aggregate(lv, wv, mode), **tol(dtype))


@pytest.mark.parametrize("mode", ["mean", "sum", "normalized_sum"])
def test_aggregate_broadcasts_column_weights(mode):
    loss, w = T.dmatrix("loss"), T.dcol("w")
    lv, wv = RNG.uniform(0, 3, size=(4, 3)), RNG.uniform(0.1, 2, size=(4, 1))
    got = run([loss, w], losses.aggregate(loss, w, mode=mode), lv, wv)
    # Lasagne's normalized_sum divides by the sum of the weights as given.
    np.testing.assert_allclose(got, np_aggregate(lv, wv, mode))


@pytest.mark.parametrize("mode", ["mean", "sum", "normalized_sum"])
def test_aggregate_gradients_check_numerically(mode):
    weights = RNG.uniform(0.1, 2, size=5)
    verify_grad(lambda l: losses.aggregate(l, weights, mode=mode), [rand(5)])


def test_aggregate_of_a_training_loss():
    x, y = T.fmatrix("x"), T.ivector("y")
    loss = losses.aggregate(losses.categorical_crossentropy_from_logits(x, y))
    xv = rand((5, 3), "float32")
    yv = np.array([0, 1, 2, 0, 1], dtype="int32")
    np.testing.assert_allclose(run([x, y], loss, xv, yv),
                               np_cce_logits(xv.astype("float64"), yv).mean(), rtol=1e-5)


# -- accuracies (Lasagne's objectives) -------------------------------------------------------
def test_categorical_accuracy_per_sample():
    pv = np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.4, 0.4, 0.2]],
                  dtype="float32")
    yv = np.array([1, 1, 0, 1])
    p, y = T.fmatrix("p"), T.lvector("y")
    top1 = losses.categorical_accuracy(p, y)
    top2 = losses.categorical_accuracy(p, T.nnet.one_hot(y, 3), top_k=2)
    assert top1.dtype == "float32"
    got1, got2 = function([p, y], [top1, top2], mode="debug")(pv, yv)
    np.testing.assert_array_equal(got1, [1, 0, 0, 0])   # argmax of a tie is the first class
    np.testing.assert_array_equal(got2, [1, 1, 0, 1])   # ties count for the target


def test_binary_accuracy_per_element():
    p, t = T.dcol("p"), T.lvector("t")
    out = losses.binary_accuracy(p, t, threshold=0.6)
    got = run([p, t], out, np.array([[0.2], [0.6], [0.7], [0.9]]), np.array([0, 0, 1, 0]))
    np.testing.assert_array_equal(got, [1, 0, 1, 0])
    assert out.dtype == "float64"


# -- errors ------------------------------------------------------------------------------------
def test_aggregate_errors():
    loss = T.dvector("loss")
    with pytest.raises(ValueError, match="mode must be one of"):
        losses.aggregate(loss, mode="average")
    with pytest.raises(ValueError, match="needs weights"):
        losses.aggregate(loss, mode="normalized_sum")
    with pytest.raises(TypeError, match="different ranks"):
        losses.aggregate(loss, T.dcol("w"))
    with pytest.raises(ValueError, match="do not broadcast"):
        losses.aggregate(T.tensor("float64", (4,)), np.ones(3))


@pytest.mark.parametrize("loss", [losses.squared_error, losses.binary_crossentropy,
                                  losses.binary_crossentropy_from_logits])
def test_elementwise_losses_refuse_mismatched_shapes(loss):
    with pytest.raises(TypeError, match="rank mismatch"):
        loss(T.dmatrix("p"), T.dvector("t"))
    with pytest.raises(ValueError, match=r"differ in axis 1 \(3 vs 4\)"):
        loss(T.tensor("float64", (None, 3)), T.tensor("float64", (None, 4)))


@pytest.mark.parametrize("loss", [losses.categorical_crossentropy,
                                  losses.categorical_crossentropy_from_logits,
                                  losses.multiclass_hinge_loss])
def test_categorical_losses_refuse_float_class_vectors(loss):
    with pytest.raises(TypeError, match="integer"):
        loss(T.dmatrix("p"), T.dvector("y"))


@pytest.mark.parametrize("loss", [losses.categorical_crossentropy,
                                  losses.categorical_crossentropy_from_logits,
                                  losses.multiclass_hinge_loss])
def test_categorical_losses_refuse_mismatched_rows(loss):
    with pytest.raises(ValueError, match="5"):
        loss(T.tensor("float64", (5, 3)), T.tensor("int64", (4,)))


def test_hinge_errors():
    with pytest.raises(ValueError, match="log_odds"):
        losses.binary_hinge_loss(T.dvector("p"), T.dvector("t"))
    with pytest.raises(ValueError, match="at least 2"):
        losses.multiclass_hinge_loss(T.dcol("p"), T.lvector("y"))
    with pytest.raises(TypeError, match="matrix"):
        losses.multiclass_hinge_loss(T.dvector("p"), T.lvector("y"))
    with pytest.raises(TypeError, match="rank mismatch"):
        losses.multiclass_hinge_loss(T.dmatrix("p"), T.dtensor3("t"))


def test_penalties_are_reexported():
    assert losses.l1 is regularization.l1 and losses.l2 is regularization.l2


def test_integer_scores_give_floatx_accuracy():
    assert losses.categorical_accuracy(T.imatrix("p"), T.ivector("y")).dtype == config.floatX
