"""The native backend's C for reductions and the softmax / 1-hot crossentropy family.

Every test compiles the same graph with ``mode='native'`` and ``mode='numpy'``,
checks that the nodes under test really run in C (``native_nodes``: a node
that silently fell back to its NumPy kernel fails the test) and compares.

Tolerances: float sums are NumPy's own summation (pairwise along a contiguous
axis, row after row across one), so sums of contiguous values are compared bit
for bit; softmax and friends differ from NumPy only through ``exp``/``log``
(float32: rtol 1e-5, float64: rtol 1e-12).
"""
import sys
from pathlib import Path

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function
from nnframe.backends import native

pytestmark = pytest.mark.skipif(native.fallback_reason() is not None,
                                reason="the native backend cannot run here")

RNG = np.random.default_rng(20)
FLOATS = ["float32", "float64"]
RTOL = {"float32": 1e-5, "float64": 1e-12}


def compile_both(inputs, outputs):
    return function(inputs, outputs, mode="native"), function(inputs, outputs, mode="numpy")


def in_c(fn):
    """Names of the Op classes of ``fn``'s nodes that run in C."""
    return {type(node.op).__name__ for node in native.native_nodes(fn)}


def run_both(inputs, outputs, *values, expect=()):
    """Both backends' results; asserts every Op named in ``expect`` ran in C."""
    fn, fp = compile_both(inputs, outputs)
    missing = set(expect) - in_c(fn)
    assert not missing, f"{missing} fell back to NumPy"
    return fn(*values), fp(*values)


def close(got, want, dtype, atol=0.0):
    assert np.asarray(got).dtype == np.asarray(want).dtype
    np.testing.assert_allclose(got, want, rtol=RTOL[str(dtype)], atol=atol)


def data(shape, dtype="float64"):
    return RNG.standard_normal(shape).astype(dtype)


def matrix(dtype):
    return T.tensor(dtype, (None, None))


# -- sums -------------------------------------------------------------------------------
# Per rank: the shapes tried and the axes summed over (all in one compiled function).
SUM_CASES = {
    1: ([(100003,), (1,), (0,), (9,)], [None, 0]),
    2: ([(37, 300), (1, 9), (300, 1), (0, 5), (2, 129)], [0, 1, None, ()]),
    3: ([(5, 6, 7), (1, 300, 2), (2, 1, 3)], [0, 1, 2, (0, 2), (1, 2), (0, 1), None]),
}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("ndim", sorted(SUM_CASES))
def test_sum_of_contiguous_values_is_numpys_sum_bit_for_bit(dtype, ndim):
    shapes, axes = SUM_CASES[ndim]
    x = T.tensor(dtype, (None,) * ndim)
    fn, fp = compile_both([x], [x.sum(axis=axis) for axis in axes])
    assert in_c(fn) == {"Sum"}
    for shape in shapes:
        value = data(shape, dtype)
        for axis, got, want in zip(axes, fn(value), fp(value)):
            assert got.dtype == want.dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want, err_msg=f"shape {shape}, axis {axis}")


def test_long_float32_sum_keeps_numpys_accuracy():
    # A naive running sum of 2**20 float32 values is off by ~1e-3 relative; pairwise ~1e-7.
    x = T.fvector()
    value = RNG.uniform(0, 1, 2 ** 20).astype("float32")
    got, _ = run_both([x], x.sum(), value, expect=["Sum"])
    exact = np.sum(value.astype(np.float64))
    assert abs(float(got) - exact) / exact < 1e-6


@pytest.mark.parametrize("dtype", FLOATS)
def test_reductions_of_a_transposed_view(dtype):
    x = T.tensor(dtype, (None, None, None))
    value = data((4, 7, 9), dtype)
    view = x.dimshuffle(2, 0, 1)   # non-contiguous inside the graph
    outs = [f(axis) for axis in (0, 1, None, (0, 2)) for f in (
        lambda a: view.sum(axis=a), lambda a: view.max(axis=a), lambda a: view.prod(axis=a),
        lambda a: T.any(view > 1, axis=a))]
    got, want = run_both([x], outs, value, expect=["Sum", "Max", "Prod", "Any"])
    for g, w in zip(got, want):
        close(g, w, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_non_contiguous_arguments(dtype):
    x = matrix(dtype)
    value = data((6, 10), dtype)
    outs = [x.sum(axis=0), x.sum(axis=1), x.min(), T.argmax(x, axis=0)]
    fn, fp = compile_both([x], outs)
    for arg in (value.T, value[:, ::2], value[::-1]):
        for g, w in zip(fn(arg), fp(arg)):
            close(g, w, dtype)


@pytest.mark.parametrize("dtype, out_dtype", [("int8", "int64"), ("uint8", "uint64"),
                                              ("bool", "int64"), ("int32", "int64"),
                                              ("uint32", "uint64"), ("int64", "int64")])
def test_integer_sums_and_products_widen_as_numpy(dtype, out_dtype):
    x = T.tensor(dtype, (None, None))
    value = RNG.integers(0 if dtype in ("uint8", "uint32", "bool") else -100, 100,
                         (9, 13)).astype(dtype)
    outs = [x.sum(axis=0), x.sum(axis=1), x.sum(), x.prod(axis=1), x.dimshuffle(1, 0).sum(axis=1)]
    got, want = run_both([x], outs, value, expect=["Sum", "Prod"])
    for g, w in zip(got, want):
        assert g.dtype == np.dtype(out_dtype)
        np.testing.assert_array_equal(g, w)


def test_int64_sum_wraps_as_numpy():
    x = T.lvector()
    value = np.array([2 ** 62, 2 ** 62, 2 ** 62], "int64")
    got, want = run_both([x], x.sum(), value, expect=["Sum"])
    assert int(got) == int(want) == -(2 ** 62)


@pytest.mark.parametrize("dtype", ["int8", "uint16", "int64", "bool", "float32", "float64"])
def test_max_min_all_any(dtype):
    x = T.tensor(dtype, (None, None))
    value = RNG.integers(0, 3, (11, 17)).astype(dtype)
    outs = [x.max(axis=0), x.max(axis=1), x.min(axis=0), x.min(), T.all(x, axis=1),
            T.any(x, axis=0), T.all(x), T.any(x.dimshuffle(1, 0), axis=1)]
    got, want = run_both([x], outs, value, expect=["Max", "Min", "All", "Any"])
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", FLOATS)
def test_max_min_propagate_nan_all_any_count_nan_as_true(dtype):
    x = matrix(dtype)
    value = np.array([[1.0, np.nan, 3.0], [-np.inf, 0.0, 2.0], [0.0, 0.0, np.nan]], dtype)
    outs = [x.max(axis=1), x.min(axis=0), x.max(), T.all(x, axis=1), T.any(x, axis=0)]
    got, want = run_both([x], outs, value, expect=["Max", "Min", "All", "Any"])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert np.isnan(got[0][[0, 2]]).all() and got[0][1] == 2.0


@pytest.mark.parametrize("dtype", FLOATS)
def test_empty_reductions(dtype):
    x = matrix(dtype)
    value = np.zeros((0, 4), dtype)
    outs = [x.sum(axis=0), x.prod(axis=0), x.sum(), T.all(x, axis=0), T.any(x, axis=0)]
    got, want = run_both([x], outs, value, expect=["Sum", "Prod", "All", "Any"])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    fn, _ = compile_both([x], x.max(axis=0))
    with pytest.raises(ValueError, match=r"max of an empty array"):
        fn(value)


# -- argmax / argmin ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16", "uint8", "bool"])
def test_argmax_argmin_first_extreme(dtype):
    x = T.tensor(dtype, (None, None, None))
    value = RNG.integers(0, 4, (5, 6, 7)).astype(dtype)   # many ties
    outs = [T.argmax(x, axis=a) for a in (0, 1, 2, None)]
    outs += [T.argmin(x, axis=a) for a in (0, 1, 2, None)]
    outs += [T.argmax(x.dimshuffle(2, 0, 1), axis=a) for a in (0, 2, None)]
    outs += [T.argmin(x, axis=1, keepdims=True)]
    got, want = run_both([x], outs, value, expect=["Argmax", "Argmin"])
    for g, w in zip(got, want):
        assert g.dtype == np.int64
        np.testing.assert_array_equal(g, w)


def test_argmax_first_nan_wins():
    x = T.dmatrix()
    value = np.array([[1.0, np.nan, 5.0, np.nan], [3.0, 1.0, 3.0, 0.0], [np.inf, 0, 1, np.nan]])
    outs = [T.argmax(x, axis=1), T.argmin(x, axis=1), T.argmax(x), T.argmin(x.T, axis=0)]
    got, want = run_both([x], outs, value, expect=["Argmax", "Argmin"])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got[0], [1, 0, 3])
    assert int(got[2]) == 1


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "uint8"])
def test_extremes_of_long_rows(dtype):
    # rows of 256 and more take the vectorised search (rows of 128 lanes), then the tail
    x = T.tensor(dtype, (None, None))
    outs = [x.max(axis=1), x.min(), T.argmax(x, axis=1), T.argmin(x, axis=1), T.argmax(x),
            T.argmin(x)]
    fn, fp = compile_both([x], outs)
    assert {"Max", "Min", "Argmax", "Argmin"} <= in_c(fn)
    for length in (127, 255, 256, 257, 300, 1000, 1100):
        value = RNG.integers(0, 50, (6, length)).astype(dtype)   # ties everywhere
        value[1, length - 1] = 99                                # extreme in the tail
        value[2, 64] = 99
        if dtype.startswith("float"):
            value[3, [70, length - 1]] = np.nan                  # first NaN wins
            value[4, 0] = np.nan
            value[5, length // 2] = -np.inf
            value[0, length * 2 // 3] = np.nan                   # inside the vectorised part
        for g, w in zip(fn(value), fp(value)):
            np.testing.assert_array_equal(g, w, err_msg=f"length {length}")


def test_argmax_of_nothing_is_numpys_error():
    x = T.dmatrix()
    fn, _ = compile_both([x], T.argmax(x, axis=1))
    with pytest.raises(ValueError, match="empty sequence"):
        fn(np.zeros((2, 0)))
    assert fn(np.zeros((0, 3))).shape == (0,)


# -- gradients of reductions --------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
def test_gradients_of_reductions(dtype):
    x = matrix(dtype)
    value = data((7, 5), dtype)
    value[2, 3] = 0.0
    cost = (x.sum(axis=0) ** 2).sum() + x.max(axis=1).sum() + x.prod(axis=0).sum() + x.mean()
    got, want = run_both([x], T.grad(cost, x), value, expect=["Sum", "Max", "Prod"])
    close(got, want, dtype, atol=1e-6)


# -- softmax, log-softmax and their gradients ---------------------------------------------
# Per rank: the shapes tried and the axes (all in one compiled function).
SOFTMAX_CASES = {
    1: ([(9,), (1,), (300,)], [0, None]),
    2: ([(32, 10), (1, 10), (5, 300), (7, 1)], [0, 1, None]),
    3: ([(4, 5, 6), (2, 1, 130)], [0, 1, 2, None]),
}


def _softmax_outputs(x, axes, weights):
    outs = []
    for axis in axes:
        sm, lsm = T.nnet.softmax(x, axis=axis), T.nnet.log_softmax(x, axis=axis)
        outs += [sm, lsm, T.grad((sm * weights).sum(), x), T.grad((lsm * weights).sum(), x)]
    return outs


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("ndim", sorted(SOFTMAX_CASES))
def test_softmax_log_softmax_and_gradients(dtype, ndim):
    shapes, axes = SOFTMAX_CASES[ndim]
    x, w = T.tensor(dtype, (None,) * ndim), T.tensor(dtype, (None,) * ndim)
    fn, fp = compile_both([x, w], _softmax_outputs(x, axes, w))
    assert {"Softmax", "LogSoftmax", "SoftmaxGrad"} <= in_c(fn)
    for shape in shapes:
        value, weights = data(shape, dtype) * 3, data(shape, dtype)
        for got, want in zip(fn(value, weights), fp(value, weights)):
            close(got, want, dtype, atol=1e-6 if dtype == "float32" else 1e-14)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_of_a_transposed_view(dtype):
    x, w = T.tensor(dtype, (None, None, None)), T.tensor(dtype, (None, None, None))
    value, weights = data((4, 5, 6), dtype), data((5, 6, 4), dtype)
    outs = _softmax_outputs(x.dimshuffle(1, 2, 0), [0, 1, 2, None], w)
    got, want = run_both([x, w], outs, value, weights,
                         expect=["Softmax", "LogSoftmax", "SoftmaxGrad"])
    for a, b in zip(got, want):
        close(a, b, dtype, atol=1e-6 if dtype == "float32" else 1e-14)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_is_stable_and_propagates_nan(dtype):
    x = matrix(dtype)
    value = np.array([[1000.0, 0.0, -1000.0], [-1e4, -1e4, -1e4], [np.nan, 0.0, 1.0],
                      [np.inf, 0.0, 1.0]], dtype)
    got, want = run_both([x], [T.nnet.softmax(x), T.nnet.log_softmax(x)], value,
                         expect=["Softmax", "LogSoftmax"])
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=RTOL[dtype])
    np.testing.assert_allclose(got[0][:2], [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-6)
    assert np.isfinite(got[1][:2]).all()
    assert np.isnan(got[0][2:]).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_of_empty_rows(dtype):
    x = matrix(dtype)
    got, want = run_both([x], [T.nnet.softmax(x), T.nnet.log_softmax(x)],
                         np.zeros((0, 5), dtype), expect=["Softmax", "LogSoftmax"])
    assert got[0].shape == got[1].shape == (0, 5)


# -- 1-hot crossentropies and one-hot -----------------------------------------------------
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("label_dtype", ["int64", "int32", "uint8"])
def test_crossentropy_softmax_1hot_and_gradient(dtype, label_dtype):
    x, y = matrix(dtype), T.vector(dtype=label_dtype)
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(x), y)
    fn, fp = compile_both([x, y], [loss, T.grad(loss.mean(), x)])
    assert {"CrossentropySoftmax1Hot", "CrossentropySoftmax1HotDx"} <= in_c(fn)
    for rows, classes in [(32, 10), (1, 10), (6, 200), (3, 1)]:
        logits = data((rows, classes), dtype) * 4
        labels = RNG.integers(0, classes, rows).astype(label_dtype)
        for got, want in zip(fn(logits, labels), fp(logits, labels)):
            close(got, want, dtype, atol=1e-7 if dtype == "float32" else 1e-15)
    empty = fn(np.zeros((0, 10), dtype), np.zeros(0, label_dtype))[0]
    assert empty.shape == (0,)


@pytest.mark.parametrize("dtype", FLOATS)
def test_crossentropy_softmax_1hot_of_a_transposed_view(dtype):
    x, y = matrix(dtype), T.lvector()
    logits = data((10, 7), dtype)
    labels = RNG.integers(0, 10, 7)
    loss = T.nnet.categorical_crossentropy_from_logits(x.T, y)
    got, want = run_both([x, y], [loss, T.grad(loss.sum(), x)], logits, labels,
                         expect=["CrossentropySoftmax1Hot", "CrossentropySoftmax1HotDx"])
    for g, w in zip(got, want):
        close(g, w, dtype, atol=1e-7 if dtype == "float32" else 1e-15)


@pytest.mark.parametrize("dtype", FLOATS)
def test_crossentropy_softmax_1hot_extreme_logits_stay_finite(dtype):
    x, y = matrix(dtype), T.lvector()
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], dtype)
    got, want = run_both([x, y], T.nnet.categorical_crossentropy_from_logits(x, y), logits,
                         np.array([1, 1]), expect=["CrossentropySoftmax1Hot"])
    np.testing.assert_allclose(got, [2000.0, 0.0], atol=1e-6)
    close(got, want, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_crossentropy_categorical_1hot_and_gradient(dtype):
    c, y = matrix(dtype), T.lvector()
    probs = RNG.uniform(0.05, 1, (9, 4)).astype(dtype)
    labels = RNG.integers(0, 4, 9)
    loss = T.nnet.categorical_crossentropy(c, y)
    outs = [loss, T.grad((loss * np.arange(9)).sum(), c), T.nnet.categorical_crossentropy(c.T.T, y)]
    got, want = run_both([c, y], outs, probs, labels,
                         expect=["CrossentropyCategorical1Hot", "CrossentropyCategorical1HotGrad"])
    for g, w in zip(got, want):
        close(g, w, dtype)
    probs[0, labels[0]] = 0.0   # -log(0) = inf, as NumPy
    got, want = run_both([c, y], loss, probs, labels)
    assert got[0] == np.inf
    close(got, want, dtype)


@pytest.mark.parametrize("dtype", FLOATS)
def test_1hot_gradients_broadcast_a_one_element_gradient(dtype):
    # the NumPy kernels broadcast g_y of length 1 over every row; so must the C
    from nnframe.core.ops import nnet as N
    g, m, y = T.tensor(dtype, (None,)), matrix(dtype), T.lvector()
    outs = [N.CrossentropySoftmax1HotDx()(g, m, y), N.CrossentropyCategorical1HotGrad()(g, m, y)]
    probs, labels = RNG.uniform(0.1, 1, (5, 4)).astype(dtype), RNG.integers(0, 4, 5)
    for grad in (np.array([2.5], dtype), RNG.uniform(1, 2, 5).astype(dtype)):
        got, want = run_both([g, m, y], outs, grad, probs, labels,
                             expect=["CrossentropySoftmax1HotDx",
                                     "CrossentropyCategorical1HotGrad"])
        for a, b in zip(got, want):
            close(a, b, dtype)


@pytest.mark.parametrize("out_dtype", ["float32", "float64", "int8", "bool"])
def test_one_hot(out_dtype):
    y = T.ivector()
    labels = np.array([3, 0, 9, 3], "int32")
    got, want = run_both([y], T.nnet.one_hot(y, 10, dtype=out_dtype), labels, expect=["OneHot"])
    assert got.dtype == np.dtype(out_dtype)
    np.testing.assert_array_equal(got, want)
    # the number of classes from a shape is known per plan: in C as well
    m = T.fmatrix()
    got, _ = run_both([y, m], T.nnet.one_hot(y, m.shape[1], dtype=out_dtype), labels,
                      np.zeros((2, 12), "float32"), expect=["OneHot"])
    assert got.shape == (4, 12)


def test_one_hot_with_a_number_of_classes_given_at_each_call_stays_correct():
    # The output's shape depends on n's value, not on any shape: the node runs its NumPy
    # kernel, so a second call with another n gets its own width.
    y, n = T.ivector(), T.lscalar()
    fn = function([y, n], T.nnet.one_hot(y, n), mode="native")
    assert "OneHot" not in in_c(fn)
    labels = np.array([1, 0], "int32")
    assert fn(labels, 3).shape == (2, 3)
    assert fn(labels, 5).shape == (2, 5)


# -- out-of-range class indices ------------------------------------------------------------
def _label_cases():
    """(Op name, graph, what the message starts with): each Op on its own, so that its own
    check (not an earlier node's) meets the bad index."""
    from nnframe.core.ops import nnet as N
    x, g, y = T.dmatrix("x"), T.dvector("g"), T.lvector("y")
    return [
        ("CrossentropySoftmax1Hot", [x, g, y], N.CrossentropySoftmax1Hot()(x, y)[0],
         "categorical_crossentropy_from_logits"),
        ("CrossentropySoftmax1HotDx", [x, g, y], N.CrossentropySoftmax1HotDx()(g, x, y),
         "categorical_crossentropy gradient"),
        ("CrossentropyCategorical1Hot", [x, g, y], T.nnet.categorical_crossentropy(x, y),
         "categorical_crossentropy"),
        ("CrossentropyCategorical1HotGrad", [x, g, y],
         N.CrossentropyCategorical1HotGrad()(g, x, y), "categorical_crossentropy gradient"),
        ("OneHot", [x, g, y], T.nnet.one_hot(y, x.shape[1]), "one_hot"),
    ]


@pytest.mark.parametrize("case", range(5))
@pytest.mark.parametrize("bad", [3, -1, 200])
def test_out_of_range_class_index_is_a_clear_error(case, bad):
    op_name, inputs, out, what = _label_cases()[case]
    fn = function(inputs, out, mode="native", on_unused_input="ignore")
    assert op_name in in_c(fn)
    probs, g = RNG.uniform(0.1, 1, (4, 3)), np.ones(4)
    fn(probs, g, np.array([0, 2, 1, 0]))   # the plan for these shapes is made and kept
    # same shapes: the C itself finds the index and stops the call, with NumPy's error
    with pytest.raises(IndexError) as info:
        fn(probs, g, np.array([0, 1, bad, bad]))
    message = str(info.value)
    assert message.startswith(f"{what}: class index {bad} (at position 2) is out of range "
                              "for 3 classes; valid indices are 0..2")
    assert op_name in message   # the node is named
    assert message.count("Apply node that caused the error") == 1   # once
    # new shapes: the plan's dry run gives the NumPy kernel's error first
    with pytest.raises(IndexError, match=f"class index {bad} "):
        fn(probs[:3], g[:3], np.array([0, bad, 1]))


def test_out_of_range_unsigned_class_index():
    x, y = T.dmatrix(), T.vector(dtype="uint8")
    fn = function([x, y], T.nnet.categorical_crossentropy(T.nnet.softmax(x), y), mode="native")
    fn(np.zeros((2, 3)), np.array([0, 2], "uint8"))
    with pytest.raises(IndexError, match="class index 255 "):
        fn(np.zeros((2, 3)), np.array([0, 255], "uint8"))


# -- a whole training step -----------------------------------------------------------------
def test_mlp_step_is_one_c_call_and_trains_as_numpy():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        from nnframe_workloads import mlp_step
    finally:
        sys.path.pop(0)
    params = [data((64, 128), "float32") * 0.1, np.zeros(128, "float32"),
              data((128, 10), "float32") * 0.1, np.zeros(10, "float32")]
    X, y = data((32, 64), "float32"), RNG.integers(0, 10, 32)
    results = {}
    for mode in ("native", "numpy"):
        step, shared = mlp_step(params, np.float32(0.1), mode=mode)
        losses = [float(step(X, y)) for _ in range(10)]
        results[mode] = losses, [p.get_value() for p in shared]
        if mode == "native":
            nodes = step.maker.fgraph.toposort()
            assert len(native.native_nodes(step)) == len(nodes)
    (ln, pn), (lp, pp) = results["native"], results["numpy"]
    np.testing.assert_allclose(ln, lp, rtol=1e-5)
    assert ln[-1] < ln[0]
    for a, b in zip(pn, pp):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
