"""T's public functions take Theano 1.0's parameters, in Theano's order (issue 15, item 2).

``THEANO`` is written from Theano 1.0's documentation and source (theano.tensor,
theano.gradient, theano.scan, theano.tensor.nnet, theano.tensor.signal.pool,
theano.tensor.xlogx).  Each Theano parameter list must be the start of nnframe's
(nnframe may add parameters after them): same names, same order.  ``*name`` is a
variable positional parameter; an nnframe ``*inputs`` (the elementwise ops) takes any
positional parameters, so only the count cannot be checked there.  ``KNOWN`` lists the
differences that remain, with the reason; they are strict xfails, so fixing one makes
its entry fail until it is removed from ``KNOWN``.
"""
import inspect
import warnings

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad
from nnframe.config import config

TV = T.TensorVariable

THEANO = {
    # reductions (theano.tensor.basic)
    "sum": (T.sum, "input axis dtype keepdims acc_dtype"),
    "prod": (T.prod, "input axis dtype keepdims acc_dtype no_zeros_in_input"),
    "mean": (T.mean, "input axis dtype op keepdims acc_dtype"),
    "max": (T.max, "x axis keepdims"),
    "min": (T.min, "x axis keepdims"),
    "argmax": (T.argmax, "x axis keepdims"),
    "argmin": (T.argmin, "x axis keepdims"),
    "max_and_argmax": (T.max_and_argmax, "a axis keepdims"),
    "var": (T.var, "input axis ddof keepdims corrected"),
    "std": (T.std, "input axis ddof keepdims corrected"),
    "all": (T.all, "x axis keepdims"),
    "any": (T.any, "x axis keepdims"),
    # the methods of _tensor_py_operators
    "Variable.sum": (TV.sum, "self axis dtype keepdims acc_dtype"),
    "Variable.prod": (TV.prod, "self axis dtype keepdims acc_dtype"),
    "Variable.mean": (TV.mean, "self axis dtype keepdims acc_dtype"),
    "Variable.var": (TV.var, "self axis ddof keepdims corrected"),
    "Variable.std": (TV.std, "self axis ddof keepdims corrected"),
    "Variable.max": (TV.max, "self axis keepdims"),
    "Variable.min": (TV.min, "self axis keepdims"),
    "Variable.argmax": (TV.argmax, "self axis keepdims"),
    "Variable.argmin": (TV.argmin, "self axis keepdims"),
    "Variable.all": (TV.all, "self axis keepdims"),
    "Variable.any": (TV.any, "self axis keepdims"),
    "Variable.reshape": (TV.reshape, "self shape ndim"),
    "Variable.flatten": (TV.flatten, "self ndim"),
    "Variable.dimshuffle": (TV.dimshuffle, "self *pattern"),
    "Variable.transpose": (TV.transpose, "self *axes"),
    "Variable.round": (TV.round, "self mode"),
    "Variable.astype": (TV.astype, "self dtype"),
    "Variable.clip": (TV.clip, "self a_min a_max"),
    "Variable.copy": (TV.copy, "self name"),
    # building and shaping
    "dot": (T.dot, "a b"),
    "tensordot": (T.tensordot, "a b axes"),
    "concatenate": (T.concatenate, "tensor_list axis"),
    "stack": (T.stack, "tensors axis"),          # the documented form; see KNOWN
    "join": (T.join, "axis *tensors_list"),
    "reshape": (T.reshape, "x newshape ndim"),
    "flatten": (T.flatten, "x ndim outdim"),
    "transpose": (T.transpose, "x axes"),
    "zeros": (T.zeros, "shape dtype"),
    "ones": (T.ones, "shape dtype"),
    "alloc": (T.alloc, "value *shape"),
    "arange": (T.arange, "start stop step dtype"),
    "shape_padleft": (T.shape_padleft, "t n_ones"),
    "shape_padright": (T.shape_padright, "t n_ones"),
    "shape_padaxis": (T.shape_padaxis, "t axis"),
    "cumsum": (T.cumsum, "x axis"),
    "cumprod": (T.cumprod, "x axis"),
    # elementwise
    "switch": (T.switch, "cond ift iff"),
    "clip": (T.clip, "x min max"),
    "round": (T.round, "a mode"),
    "cast": (T.cast, "x dtype"),
    "xlogx": (T.xlogx, "x"),
    "xlogy0": (T.xlogy0, "x y"),
    # gradients, control flow
    "grad": (T.grad, "cost wrt consider_constant disconnected_inputs add_names known_grads "
                     "return_disconnected null_gradients"),
    "jacobian": (T.jacobian, "expression wrt consider_constant disconnected_inputs"),
    "hessian": (T.hessian, "cost wrt consider_constant disconnected_inputs"),
    "scan": (T.scan, "fn sequences outputs_info non_sequences n_steps truncate_gradient "
                     "go_backwards mode name profile allow_gc strict return_list"),
    "ifelse": (T.ifelse, "condition then_branch else_branch name"),
    # theano.tensor.nnet
    "nnet.softmax": (T.nnet.softmax, "c"),
    "nnet.sigmoid": (T.nnet.sigmoid, "x"),
    "nnet.relu": (T.nnet.relu, "x alpha"),
    "nnet.elu": (T.nnet.elu, "x alpha"),
    "nnet.categorical_crossentropy": (T.nnet.categorical_crossentropy, "coding_dist true_dist"),
    "nnet.binary_crossentropy": (T.nnet.binary_crossentropy, "output target"),
    "nnet.conv2d": (T.nnet.conv2d, "input filters input_shape filter_shape border_mode "
                                   "subsample filter_flip image_shape filter_dilation "
                                   "num_groups unshared **kwargs"),
    "nnet.xlogx": (T.nnet.xlogx, "x"),
    # theano.tensor.signal.pool (nnframe: T.nnet.pool_2d)
    "signal.pool.pool_2d": (T.nnet.pool_2d, "input ws ignore_border stride pad mode ds st "
                                            "padding"),
}

#: differences that remain: name -> why (strict xfails below)
KNOWN = {}


def _kind(p):
    return {p.VAR_POSITIONAL: "*", p.VAR_KEYWORD: "**"}.get(p.kind, "")


def signature_mismatch(fn, theano_params):
    """None when nnframe's parameters start with ``theano_params`` (in order), else why."""
    want = theano_params.split()
    have = [_kind(p) + p.name for p in inspect.signature(fn).parameters.values()]
    for i, name in enumerate(want):
        if i < len(have) and have[i].startswith("*") and not have[i].startswith("**"):
            if name.startswith("*"):       # *args against *args: the name is free
                continue
            # an Elemwise's *inputs takes the rest of Theano's positional parameters
            if all(not n.startswith("*") for n in want[i:]):
                return None
        if i >= len(have):
            return f"{name!r} (position {i}) is missing: nnframe has {have}"
        if name.startswith("*") and have[i].startswith("*") and _same_star(name, have[i]):
            continue
        if have[i] != name:
            return f"position {i}: Theano has {name!r}, nnframe {have[i]!r} ({have})"
    return None


def _same_star(a, b):
    return a.startswith("**") == b.startswith("**")


@pytest.mark.parametrize("name", [
    pytest.param(n, marks=pytest.mark.xfail(reason=KNOWN[n], strict=True)) if n in KNOWN else n
    for n in THEANO])
def test_theano_parameters_come_first_in_theano_order(name):
    fn, params = THEANO[name]
    why = signature_mismatch(fn, params)
    assert why is None, f"{name}: {why}"


def test_the_checker_sees_order_and_names():
    def f(x, axis=None, keepdims=False, dtype=None):
        pass
    assert signature_mismatch(f, "x axis dtype keepdims") is not None
    assert signature_mismatch(f, "x axis") is None
    assert signature_mismatch(f, "x axis keepdims dtype extra") is not None
    assert signature_mismatch(T.switch, "cond ift iff") is None


# -- the reductions keep Theano's positional meaning ------------------------------------
def test_third_positional_argument_of_sum_is_the_dtype():
    x = T.fmatrix("x")
    assert T.sum(x, 0, "float64").dtype == "float64"
    assert T.sum(x, 0, None, True).broadcastable == (True, False)
    assert x.sum(0, "float64").dtype == "float64"
    assert T.prod(x, 1, "float64", True).broadcastable == (False, True)
    with pytest.raises(TypeError, match="dtype"):
        T.sum(x, 0, True)                      # nnframe's old (x, axis, keepdims) order
    with pytest.raises(TypeError, match="keepdims"):
        T.sum(x, 0, keepdims="float64")
    with pytest.raises(TypeError, match="keepdims"):
        T.max(x, 0, "float64")
    with pytest.raises(TypeError, match="keepdims"):
        T.argmax(x, 0, "yes")
    with pytest.raises(TypeError, match="acc_dtype"):
        T.sum(x, acc_dtype=3)
    with pytest.raises(TypeError, match="ddof"):
        T.var(x, 0, True)                      # keepdims is Theano's 4th parameter


def test_sum_dtype_and_acc_dtype_follow_theano():
    b = T.bvector("b")
    bv = np.array([100, 100, 100], dtype="int8")
    assert T.sum(b).dtype == "int64"                 # small ints widen by default
    assert T.sum(b, dtype="int8").dtype == "int8"     # dtype: the result's dtype
    # accumulate in int64, then cast: 300 wraps in int8 as NumPy's astype does
    out = function([b], T.sum(b, dtype="int8", acc_dtype="int64"))(bv)
    assert out.dtype == np.int8 and out == np.int64(300).astype(np.int8)
    f = T.fvector("f")
    assert T.sum(f, acc_dtype="float64").dtype == "float32"
    fv = np.array([1e8, 1.0, -1e8], dtype="float32")
    np.testing.assert_allclose(function([f], T.sum(f, dtype="float64"))(fv), 1.0)
    assert T.sum(T.fmatrix(), axis=1, dtype="floatX").dtype == config.floatX


def test_mean_of_a_comparison_with_dtype_floatX_is_an_accuracy():
    # Lasagne's MNIST example: T.mean(T.eq(T.argmax(prediction, axis=1), target), dtype=floatX)
    p, t = T.ivector("p"), T.ivector("t")
    acc = T.mean(T.eq(p, t), dtype=config.floatX)
    assert acc.dtype == config.floatX
    out = function([p, t], acc)(np.array([1, 2, 3, 4], "int32"), np.array([1, 0, 3, 0], "int32"))
    np.testing.assert_allclose(out, 0.5)
    assert T.mean(T.ivector()).dtype == "float64"
    assert T.mean(T.fvector(), dtype="float64").dtype == "float64"
    assert T.mean(T.fvector(), None, None, False, True).broadcastable == (True,)
    assert T.mean(T.ivector(), dtype="int64").dtype == "float64"
    assert T.fmatrix().mean(1, "float64", True).type.shape == (None, 1)


def test_var_std_parameters_and_corrected():
    x = T.dmatrix("x")
    xv = np.random.default_rng(0).normal(size=(4, 5)) + 1e3
    outs = function([x], [T.var(x, 0, 1), T.std(x, 1, 0, True), T.var(x, None, 0, False, True),
                          T.std(x, 1, 1, False, True), x.var(0, 1, True, True)])(xv)
    np.testing.assert_allclose(outs[0], xv.var(axis=0, ddof=1))
    np.testing.assert_allclose(outs[1], xv.std(axis=1, keepdims=True))
    np.testing.assert_allclose(outs[2], xv.var(), rtol=1e-9)
    np.testing.assert_allclose(outs[3], xv.std(axis=1, ddof=1), rtol=1e-9)
    np.testing.assert_allclose(outs[4], xv.var(axis=0, ddof=1, keepdims=True), rtol=1e-9)


def test_prod_max_and_argmax():
    x = T.dmatrix("x")
    xv = np.array([[1.0, 5.0, 2.0], [0.0, -1.0, 3.0]])
    mx, am = T.max_and_argmax(x, 1)
    outs = function([x], [T.prod(x, 0, no_zeros_in_input=True), mx, am,
                          *T.max_and_argmax(x, 0, True)])(xv)
    np.testing.assert_allclose(outs[0], xv.prod(axis=0))
    np.testing.assert_allclose(outs[1], [5.0, 3.0])
    np.testing.assert_array_equal(outs[2], [1, 2])
    assert outs[3].shape == (1, 3) and outs[4].shape == (1, 3)
    assert T.argmax(x, axis=[1]).ndim == 1           # a one-axis list, as in Theano


# -- pool_2d's Theano spellings ----------------------------------------------------------
def test_pool_2d_takes_theano_deprecated_names():
    x = T.dtensor4("x")
    xv = np.random.default_rng(1).normal(size=(1, 2, 7, 7))
    with pytest.warns(DeprecationWarning) as record:
        old = T.nnet.pool_2d(x, ds=(3, 3), ignore_border=True, st=(2, 2), padding=(1, 1),
                             mode="average_inc_pad")
    assert {str(w.message).split()[1] for w in record} == {"ds", "st", "padding"}
    new = T.nnet.pool_2d(x, ws=(3, 3), ignore_border=True, stride=(2, 2), pad=(1, 1),
                         mode="average_inc_pad")
    a, b = function([x], [old, new])(xv)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="not both"):
        T.nnet.pool_2d(x, ws=(2, 2), ds=(2, 2))
    with pytest.raises(ValueError, match="ws"):
        T.nnet.pool_2d(x)
    # Theano 1.0's positional order: input, ws, ignore_border, stride, pad, mode
    assert T.nnet.pool_2d(T.tensor("float64", shape=(1, 1, 5, 5)), (2, 2), False, None, (0, 0),
                          "max_deterministic").type.shape == (1, 1, 3, 3)
    with pytest.warns(DeprecationWarning, match="ignore_border"):
        y = T.nnet.pool_2d(T.tensor("float64", shape=(1, 1, 5, 5)), (2, 2), None)
    assert y.type.shape == (1, 1, 3, 3)              # None is Theano 1.0's False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert T.nnet.pool_2d(T.tensor("float64", shape=(1, 1, 5, 5)), (2, 2)).type.shape == \
            (1, 1, 2, 2)


def test_conv2d_takes_image_shape_and_rejects_groups():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    with pytest.warns(DeprecationWarning, match="image_shape"):
        y = T.nnet.conv2d(x, w, image_shape=(2, 3, 8, 8), filter_shape=(4, 3, 3, 3))
    assert y.type.shape == (2, 4, 6, 6)
    with pytest.raises(NotImplementedError, match="num_groups"):
        T.nnet.conv2d(x, w, num_groups=2)


def test_flatten_outdim_grad_add_names_and_renamed_keywords():
    x = T.dtensor3("x")
    with pytest.warns(DeprecationWarning, match="outdim"):
        assert T.flatten(x, outdim=2).ndim == 2
    assert T.flatten(x).ndim == 1
    g = T.grad(T.sum(x ** 2), x, None, "raise", True)
    xv = np.ones((2, 2, 2))
    np.testing.assert_allclose(function([x], g)(xv), 2 * xv)
    m = T.dmatrix("m")
    assert T.concatenate(tensor_list=[m, m], axis=1).type.shape == (None, None)
    assert T.reshape(m, newshape=(-1,)).ndim == 1
    assert T.dot(a=m, b=m).ndim == 2
    assert T.shape_padleft(t=m).ndim == 3
    assert T.round(a=m, mode="half_away_from_zero").ndim == 2
    assert T.nnet.softmax(c=m).ndim == 2


# -- xlogx, xlogy0 ------------------------------------------------------------------------
def test_xlogx_and_xlogy0_values():
    x, y = T.dvectors("x", "y")
    xv = np.array([0.0, 0.0, 0.0, 0.5, 2.0])
    yv = np.array([0.0, -1.0, np.inf, 3.0, 0.5])
    a, b = function([x, y], [T.xlogx(x), T.xlogy0(x, y)])(xv, yv)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(a, np.where(xv == 0, 0.0, xv * np.log(xv)))
        np.testing.assert_allclose(b, np.where(xv == 0, 0.0, xv * np.log(yv)))
    assert T.xlogx.xlogx is T.xlogx and T.xlogx.xlogy0 is T.xlogy0   # theano.tensor.xlogx
    assert T.nnet.xlogx is T.xlogx and T.nnet.xlogy0 is T.xlogy0
    assert T.xlogx(T.fvector()).dtype == "float32"


def test_xlogx_and_xlogy0_gradients():
    rng = np.random.default_rng(2)
    verify_grad(T.xlogx, [rng.uniform(0.2, 3.0, size=(3, 4))])
    verify_grad(T.xlogy0, [rng.uniform(-3.0, 3.0, size=(5,)), rng.uniform(0.2, 3.0, size=(5,))])
    # At x = 0 Theano's gradient of xlogy0 is (log(y), x / y) = (log(y), 0): finite for y > 0.
    x, y = T.dvectors("x", "y")
    gx, gy = function([x, y], T.grad(T.sum(T.xlogy0(x, y)), [x, y]))(
        np.zeros(3), np.array([0.5, 1.0, 4.0]))
    np.testing.assert_allclose(gx, np.log([0.5, 1.0, 4.0]))
    np.testing.assert_array_equal(gy, 0.0)
    # x = 0 with y = 0: value 0 and no nan in the gradient (Theano: (-inf, nan))
    gx, gy = function([x, y], T.grad(T.sum(T.xlogy0(x, y)), [x, y]))(np.zeros(1), np.zeros(1))
    assert np.isfinite(gx).all() and np.isfinite(gy).all()
    # xlogx: 1 + log(x) for x > 0; 0 at x = 0 (Theano's is -inf there)
    g = function([x], T.grad(T.sum(T.xlogx(x)), x))(np.array([0.0, 1.0, np.e]))
    np.testing.assert_allclose(g, [0.0, 1.0, 2.0])
