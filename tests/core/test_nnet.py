"""T.nnet activations, softmaxes and crossentropies against NumPy references."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, verify_grad
from nnframe.core.graph import toposort
from nnframe.core.ops import nnet as N

RNG = np.random.default_rng(1234)
DTYPES = ["float32", "float64"]


def tol(dtype):
    return {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-12}


def rand(shape, dtype="float64", scale=2.0):
    return (RNG.standard_normal(shape) * scale).astype(dtype)


def probs(shape, dtype="float64"):
    p = RNG.uniform(0.1, 1.0, size=shape)
    return (p / p.sum(axis=-1, keepdims=True)).astype(dtype)


# -- NumPy references ------------------------------------------------------------------
def np_softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis=-1):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_logsumexp(x, axis=None, keepdims=False):
    m = x.max(axis=axis, keepdims=True)
    out = np.log(np.exp(x - m).sum(axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


def np_sigmoid(x):
    return 0.5 * (1 + np.tanh(0.5 * x))  # no overflow at +-1000


def np_one_hot(y, n, dtype):
    return np.eye(n, dtype=dtype)[y]


ACTIVATIONS = [
    ("relu", lambda x: T.nnet.relu(x), lambda x: np.maximum(x, 0)),
    ("leaky_relu", lambda x: T.nnet.relu(x, alpha=0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    ("elu", lambda x: T.nnet.elu(x), lambda x: np.where(x > 0, x, np.expm1(x))),
    ("elu_alpha", lambda x: T.nnet.elu(x, alpha=0.5),
     lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    ("softsign", T.nnet.softsign, lambda x: x / (1 + np.abs(x))),
    ("hard_sigmoid", T.nnet.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1)),
    ("sigmoid", T.nnet.sigmoid, np_sigmoid),
    ("softplus", T.nnet.softplus, lambda x: np.log1p(np.exp(x))),
    ("tanh", T.nnet.tanh, np.tanh),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,build,ref", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_numpy(name, build, ref, dtype):
    x = T.tensor(dtype, (None, None))
    out = build(x)
    assert out.dtype == dtype
    xv = rand((4, 5), dtype, scale=3.0)
    got = function([x], out, mode="debug")(xv)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ref(xv.astype("float64")).astype(dtype), **tol(dtype))


def test_reexports_are_the_elementwise_table():
    assert T.nnet.sigmoid is T.sigmoid and T.nnet.softplus is T.softplus
    assert T.nnet.tanh is T.tanh


def test_relu_symbolic_alpha_and_ints():
    x, a = T.dvector("x"), T.dscalar("a")
    xv = np.array([-2.0, -0.5, 0.0, 3.0])
    got = function([x, a], T.nnet.relu(x, a), mode="debug")(xv, 0.2)
    np.testing.assert_allclose(got, np.where(xv > 0, xv, 0.2 * xv))
    i = T.ivector("i")
    relu_i = T.nnet.relu(i)
    assert relu_i.dtype == "int32"
    np.testing.assert_array_equal(function([i], relu_i)(np.array([-3, 0, 4], "int32")), [0, 0, 4])


def test_elu_large_inputs_stay_finite_with_finite_gradient():
    x = T.dvector("x")
    y = T.nnet.elu(x)
    f = function([x], [y, T.grad(y.sum(), x)], mode="debug")
    value, grad = f(np.array([-1000.0, -1.0, 2.0, 1000.0]))
    np.testing.assert_allclose(value, [-1.0, np.expm1(-1.0), 2.0, 1000.0])
    np.testing.assert_allclose(grad, [0.0, np.exp(-1.0), 1.0, 1.0])


# -- softmax, log_softmax, logsumexp ------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,axis", [((3, 5), -1), ((3, 5), 0), ((2, 3, 4), 1),
                                        ((2, 3, 4), None), ((6,), -1)])
def test_softmax_and_log_softmax_match_numpy(shape, axis, dtype):
    x = T.tensor(dtype, (None,) * len(shape))
    f = function([x], [T.nnet.softmax(x, axis=axis), T.nnet.log_softmax(x, axis=axis)],
                 mode="debug")
    xv = rand(shape, dtype)
    s, ls = f(xv)
    assert s.dtype == ls.dtype == dtype
    ref = xv.astype("float64")
    np.testing.assert_allclose(s, np_softmax(ref, axis), **tol(dtype))
    np.testing.assert_allclose(ls, np_log_softmax(ref, axis), **tol(dtype))
    np.testing.assert_allclose(s.sum(axis=axis), 1.0, rtol=1e-6 if dtype == "float32" else 1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_stable_at_extreme_logits(dtype):
    x = T.tensor(dtype, (None, None))
    f = function([x], [T.nnet.softmax(x), T.nnet.log_softmax(x), T.nnet.logsumexp(x, axis=1)],
                 mode="debug")
    xv = np.array([[1000, -1000, 0], [-1000, -1000, -1000], [1000, 1000, 999]], dtype=dtype)
    s, ls, lse = f(xv)
    np.testing.assert_allclose(s, [[1, 0, 0], [1 / 3] * 3,
                                   np_softmax(np.array([1.0, 1.0, 0.0]))], rtol=1e-6)
    np.testing.assert_allclose(ls[0], [0, -2000, -1000])
    np.testing.assert_allclose(ls[1], [-np.log(3)] * 3, rtol=1e-6)
    np.testing.assert_allclose(lse, [1000, -1000 + np.log(3), 1000 + np.log(2 + np.exp(-1))],
                               rtol=1e-6)


def test_softmax_of_ints_is_float_and_empty_is_fine():
    i = T.lmatrix("i")
    s = T.nnet.softmax(i)
    assert s.dtype == "float64"
    got = function([i], s)(np.array([[1, 2]]))
    np.testing.assert_allclose(got, np_softmax(np.array([[1.0, 2.0]])))
    x = T.dmatrix("x")
    assert function([x], T.nnet.softmax(x), mode="debug")(np.zeros((0, 3))).shape == (0, 3)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (1, False), (0, True),
                                           ((0, 2), False), (-1, True)])
def test_logsumexp_matches_numpy(axis, keepdims):
    x = T.dtensor3("x")
    xv = rand((2, 3, 4))
    got = function([x], T.nnet.logsumexp(x, axis, keepdims), mode="debug")(xv)
    np.testing.assert_allclose(got, np_logsumexp(xv, axis, keepdims), rtol=1e-12)


def test_logsumexp_of_minus_inf_row():
    x = T.dvector("x")
    f = function([x], T.nnet.logsumexp(x))
    with np.errstate(divide="ignore"):  # log(0), as in NumPy
        assert f(np.array([-np.inf, -np.inf])) == -np.inf


def test_softmax_ops_compare_by_axis():
    assert N.Softmax(1) == N.Softmax(1) and hash(N.Softmax(1)) == hash(N.Softmax(1))
    assert N.Softmax(1) != N.Softmax(0) and N.Softmax(1) != N.LogSoftmax(1)
    x = T.dmatrix()
    assert T.nnet.softmax(x).owner.op == N.Softmax(1)


# -- one-hot ------------------------------------------------------------------------------
def test_one_hot_matches_numpy_and_defaults_to_floatx():
    y = T.ivector("y")
    yv = np.array([2, 0, 4, 4], dtype="int32")
    with config.change_flags(floatX="float32"):
        out = T.nnet.one_hot(y, 5)
    assert out.type.dtype == "float32" and out.type.shape == (None, 5)
    got = function([y], out, mode="debug")(yv)
    np.testing.assert_array_equal(got, np_one_hot(yv, 5, "float32"))
    n = T.lscalar("n")
    f = function([y, n], T.nnet.to_one_hot(y, n, dtype="int8"), mode="debug")
    got = f(yv, 6)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, np_one_hot(yv, 6, "int8"))


@pytest.mark.parametrize("bad", [5, -1])
def test_one_hot_index_out_of_range(bad):
    y = T.lvector("y")
    f = function([y], T.nnet.one_hot(y, 5))
    with pytest.raises(IndexError, match=rf"class index {bad} .*out of range for 5 classes"):
        f(np.array([0, bad]))


def test_one_hot_rejects_non_integer_input():
    with pytest.raises(TypeError, match="integer vector"):
        T.nnet.one_hot(T.dvector(), 3)
    with pytest.raises(TypeError, match="integer scalar"):
        T.nnet.one_hot(T.lvector(), T.dscalar())


# -- crossentropies ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_class_indices(dtype):
    c, y = T.tensor(dtype, (None, None)), T.ivector("y")
    out = T.nnet.categorical_crossentropy(c, y)
    assert isinstance(out.owner.op, N.CrossentropyCategorical1Hot) and out.dtype == dtype
    cv = probs((5, 4), dtype)
    yv = np.array([0, 3, 1, 1, 2], dtype="int32")
    got = function([c, y], out, mode="debug")(cv, yv)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, -np.log(cv[np.arange(5), yv]), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_probabilities(dtype):
    c, t = T.tensor(dtype, (None, None)), T.tensor(dtype, (None, None))
    cv, tv = probs((5, 4), dtype), probs((5, 4), dtype)
    got = function([c, t], T.nnet.categorical_crossentropy(c, t), mode="debug")(cv, tv)
    np.testing.assert_allclose(got, -(tv * np.log(cv)).sum(axis=1), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy(dtype):
    o, t = T.tensor(dtype, (None,)), T.tensor(dtype, (None,))
    ov = RNG.uniform(0.05, 0.95, 6).astype(dtype)
    tv = RNG.uniform(0, 1, 6).astype(dtype)
    got = function([o, t], T.nnet.binary_crossentropy(o, t), mode="debug")(ov, tv)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, -(tv * np.log(ov) + (1 - tv) * np.log(1 - ov)), **tol(dtype))


def test_binary_crossentropy_integer_labels_keep_the_float_dtype():
    o, t = T.fvector("o"), T.ivector("t")
    assert T.nnet.binary_crossentropy(o, t).dtype == "float32"
    assert T.nnet.binary_crossentropy_from_logits(o, t).dtype == "float32"


@pytest.mark.parametrize("dtype", DTYPES)
def test_crossentropy_from_logits_matches_numpy_and_is_stable(dtype):
    x, y = T.tensor(dtype, (None, None)), T.lvector("y")
    t = T.tensor(dtype, (None, None))
    f = function([x, y, t], [T.nnet.categorical_crossentropy_from_logits(x, y),
                             T.nnet.categorical_crossentropy_from_logits(x, t)], mode="debug")
    xv = np.array([[1000, -1000, 0], [-1000, 1000, 0], [0.5, -1.0, 2.0]], dtype=dtype)
    yv = np.array([1, 1, 2])
    tv = probs((3, 3), dtype)
    by_index, by_dist = f(xv, yv, tv)
    logp = np_log_softmax(xv.astype("float64"))
    np.testing.assert_allclose(by_index, -logp[np.arange(3), yv], rtol=1e-6)
    np.testing.assert_allclose(by_dist, -(tv * logp).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(by_index[:2], [2000, 0], atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy_from_logits_matches_numpy_and_is_stable(dtype):
    x, t = T.tensor(dtype, (None,)), T.tensor(dtype, (None,))
    loss = T.nnet.binary_crossentropy_from_logits(x, t)
    f = function([x, t], [loss, T.grad(loss.sum(), x)], mode="debug")
    xv = np.array([-1000, -3, 0, 2.5, 1000], dtype=dtype)
    tv = np.array([1, 0.25, 0.5, 1, 0], dtype=dtype)
    value, grad = f(xv, tv)
    ref_x = xv.astype("float64")
    np.testing.assert_allclose(value, np.logaddexp(0, ref_x) - tv * ref_x, **tol(dtype))
    np.testing.assert_allclose(value[[0, 4]], [1000, 1000])
    np.testing.assert_allclose(grad, np_sigmoid(ref_x) - tv, rtol=1e-6, atol=1e-7)


def test_crossentropy_grad_is_softmax_minus_one_hot():
    x, y = T.dmatrix("x"), T.lvector("y")
    g = T.grad(T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).sum(), x)
    g_logits = T.grad(T.nnet.categorical_crossentropy_from_logits(x, y).sum(), x)
    # T.grad differentiates the stable form: the fused softmax-crossentropy gradient.
    for expr in (g, g_logits):
        assert any(isinstance(n.op, N.CrossentropySoftmax1HotDx) for n in toposort([expr]))
    xv, yv = rand((4, 3)), np.array([2, 0, 1, 2])
    want = np_softmax(xv) - np_one_hot(yv, 3, "float64")
    for expr in (g, g_logits):
        np.testing.assert_allclose(function([x, y], expr, mode="debug")(xv, yv), want, rtol=1e-10)


def test_crossentropy_1hot_grad_kernel_scatters():
    g, c, y = T.dvector("g"), T.dmatrix("c"), T.lvector("y")
    f = function([g, c, y], N.CrossentropyCategorical1HotGrad()(g, c, y), mode="debug")
    gv, cv, yv = np.array([1.0, 2.0]), probs((2, 3)), np.array([2, 0])
    want = np.zeros((2, 3))
    want[[0, 1], yv] = -gv / cv[[0, 1], yv]
    np.testing.assert_allclose(f(gv, cv, yv), want)


# -- gradients -----------------------------------------------------------------------------
def _away_from_kinks(shape, kinks, margin=0.1):
    x = rand(shape)
    for k in kinks:
        near = np.abs(x - k) < margin
        x[near] += 3 * margin
    return x


Y = np.array([2, 0, 1])
GRAD_CASES = [
    ("relu", lambda x: T.nnet.relu(x), [0.0]),
    ("leaky_relu", lambda x: T.nnet.relu(x, alpha=0.2), [0.0]),
    ("elu", lambda x: T.nnet.elu(x, alpha=0.7), [0.0]),
    ("softsign", T.nnet.softsign, [0.0]),
    ("hard_sigmoid", T.nnet.hard_sigmoid, [-2.5, 2.5]),
    ("softmax", T.nnet.softmax, []),
    ("softmax_axis0", lambda x: T.nnet.softmax(x, axis=0), []),
    ("softmax_all", lambda x: T.nnet.softmax(x, axis=None), []),
    ("log_softmax", T.nnet.log_softmax, []),
    ("log_softmax_axis0", lambda x: T.nnet.log_softmax(x, axis=0), []),
    ("logsumexp", lambda x: T.nnet.logsumexp(x, axis=1), []),
    ("logsumexp_all", T.nnet.logsumexp, []),
    ("ce_1hot", lambda x: T.nnet.categorical_crossentropy(T.nnet.softmax(x), Y), []),
    ("ce_from_logits", lambda x: T.nnet.categorical_crossentropy_from_logits(x, Y), []),
    ("bce_from_logits", lambda x: T.nnet.binary_crossentropy_from_logits(x, 0.3), []),
]


@pytest.mark.parametrize("name,build,kinks", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_verify_grad(name, build, kinks):
    verify_grad(build, [_away_from_kinks((3, 4) if "ce" not in name else (3, 3), kinks)],
                mode="debug")


def test_verify_grad_of_crossentropies_wrt_probabilities_and_targets():
    cv, tv = probs((3, 4)), probs((3, 4))
    verify_grad(lambda c: T.nnet.categorical_crossentropy(c, Y), [cv], mode="debug")
    verify_grad(T.nnet.categorical_crossentropy, [cv, tv], mode="debug")
    ov, bv = RNG.uniform(0.1, 0.9, 5), RNG.uniform(0, 1, 5)
    verify_grad(T.nnet.binary_crossentropy, [ov, bv], mode="debug")
    verify_grad(T.nnet.binary_crossentropy_from_logits, [rand(5), bv], mode="debug")
    verify_grad(T.nnet.categorical_crossentropy_from_logits, [rand((3, 4)), tv], mode="debug")


def _grad_of(loss):
    """``x -> d loss(x).sum() / dx``: verify_grad of it checks second derivatives."""
    return lambda x: T.grad(loss(x).sum(), x)


SECOND_ORDER = [
    ("log_softmax_loss", _grad_of(lambda x: T.nnet.categorical_crossentropy_from_logits(x, Y))),
    ("softmax", _grad_of(lambda x: T.nnet.softmax(x) ** 2)),
    ("log_softmax_axis0", _grad_of(lambda x: T.nnet.log_softmax(x, axis=0) ** 2)),
    ("ce_1hot_of_softmax",
     _grad_of(lambda x: T.nnet.categorical_crossentropy(T.nnet.softmax(x), Y))),
    ("logsumexp", _grad_of(lambda x: T.nnet.logsumexp(x, axis=1) ** 2)),
    ("elu", _grad_of(lambda x: T.nnet.elu(x) ** 2)),
]


@pytest.mark.parametrize("name,fun", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_verify_second_order_grad(name, fun):
    verify_grad(fun, [_away_from_kinks((3, 3), [0.0])], mode="debug")


ALL_AXES_SECOND_ORDER = [
    ("softmax_all", _grad_of(lambda x: T.nnet.softmax(x, axis=None) ** 2)),
    ("logsumexp_all", _grad_of(lambda x: T.nnet.logsumexp(x) ** 2)),
]


@pytest.mark.parametrize("name,fun", ALL_AXES_SECOND_ORDER,
                         ids=[c[0] for c in ALL_AXES_SECOND_ORDER])
def test_verify_second_order_grad_over_all_axes(name, fun):
    verify_grad(fun, [rand((3, 3))], mode="debug")


def test_verify_grad_of_1hot_grad_op():
    # The gradient Op's own L_op: w.r.t. the incoming gradient and the probabilities.
    verify_grad(lambda g, c: N.CrossentropyCategorical1HotGrad()(g, c, Y),
                [rand(3), probs((3, 4))], mode="debug")


# -- errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("build", [T.nnet.softmax, T.nnet.log_softmax])
def test_softmax_bad_axis_or_rank(build):
    with pytest.raises(ValueError, match="axis 2 is out of bounds"):
        build(T.dmatrix(), axis=2)
    with pytest.raises(ValueError, match="axis -3 is out of bounds"):
        build(T.dmatrix(), axis=-3)
    with pytest.raises(TypeError, match="at least 1 dimension"):
        build(T.dscalar())
    with pytest.raises(TypeError, match="one axis"):
        build(T.dmatrix(), axis=(0, 1))
    with pytest.raises(TypeError, match="complex"):
        build(T.zmatrix())


@pytest.mark.parametrize("build", [T.nnet.categorical_crossentropy,
                                   T.nnet.categorical_crossentropy_from_logits])
def test_crossentropy_build_errors(build):
    with pytest.raises(TypeError, match="must be a matrix"):
        build(T.dtensor3(), T.lvector())
    with pytest.raises(TypeError, match="must be a matrix"):
        build(T.dvector(), T.lscalar())
    with pytest.raises(TypeError, match="integer vector of class indices"):
        build(T.dmatrix(), T.dvector())
    with pytest.raises(TypeError, match="is integer"):
        build(T.dmatrix(), T.lmatrix())
    with pytest.raises(TypeError, match="rank mismatch"):
        build(T.dmatrix(), T.dtensor4())
    with pytest.raises(ValueError, match="3 rows .* 2 class indices"):
        build(T.tensor("float64", (3, None)), T.tensor("int64", (2,)))


@pytest.mark.parametrize("build", [T.nnet.categorical_crossentropy,
                                   T.nnet.categorical_crossentropy_from_logits])
def test_crossentropy_runtime_index_errors(build):
    c, y = T.dmatrix("c"), T.lvector("y")
    f = function([c, y], build(c, y))
    with pytest.raises(IndexError, match=r"class index 3 .*out of range for 3 classes"):
        f(probs((2, 3)), np.array([0, 3]))
    with pytest.raises(IndexError, match=r"class index -1 "):
        f(probs((2, 3)), np.array([-1, 0]))
    with pytest.raises((ValueError, IndexError), match="2"):
        f(probs((2, 3)), np.array([0, 1, 2]))


def test_crossentropy_grad_runtime_index_error():
    c, y = T.dmatrix("c"), T.lvector("y")
    g = T.grad(T.nnet.categorical_crossentropy(c, y).sum(), c)
    with pytest.raises(IndexError, match="out of range for 3 classes"):
        function([c, y], g)(probs((2, 3)), np.array([0, 7]))
