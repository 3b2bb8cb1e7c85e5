"""The native backend's C for conv2d (and its two gradients) and 2-d pooling.

Every test compiles the same graph with ``mode='native'`` and ``mode='numpy'``,
checks that the nodes under test really run in C (``native_nodes``: a node
that silently fell back to its NumPy kernel fails the test) and compares.

Tolerances: the convolutions are GEMMs of the same BLAS as NumPy's, on
column matrices in another order, so float32 is compared with rtol 1e-5 and
float64 with rtol 1e-12, both with an atol of the same fraction of the
result's largest magnitude (sums of signed terms can cancel to near zero).
Pooling adds and compares the same entries in the same order as the NumPy
kernels, so max pooling, MaxPoolGrad and AveragePoolGrad are compared bit for
bit, ties and NaN included.
"""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function
from nnframe.backends import native
from nnframe.core.ops.conv import Conv2dGradInputs, Conv2dGradWeights
from nnframe.core.ops.pool import AveragePoolGrad, MaxPoolGrad, Pool

pytestmark = pytest.mark.skipif(native.fallback_reason() is not None,
                                reason="the native backend cannot run here")

RNG = np.random.default_rng(2024)
FLOATS = ["float32", "float64"]
RTOL = {"float32": 1e-5, "float64": 1e-12}


def in_c(fn):
    """Names of the Op classes of ``fn``'s nodes that run in C."""
    return {type(node.op).__name__ for node in native.native_nodes(fn)}


def run_both(inputs, outputs, *values, expect=()):
    """Both backends' results; asserts every Op named in ``expect`` ran in C."""
    fn = function(inputs, outputs, mode="native")
    fp = function(inputs, outputs, mode="numpy")
    missing = set(expect) - in_c(fn)
    assert not missing, f"{missing} fell back to NumPy"
    return fn(*values), fp(*values)


def close(got, want, dtype):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=RTOL[dtype] * scale)


def data(shape, dtype):
    return RNG.standard_normal(shape).astype(dtype)


def tensor4(dtype):
    return T.tensor(dtype, (None,) * 4)


# -- conv2d ---------------------------------------------------------------------------------
# (input shape, filter shape, conv2d keyword arguments)
CONV_CASES = [
    ((2, 3, 9, 8), (4, 3, 3, 3), {}),
    ((2, 3, 9, 8), (4, 3, 3, 3), {"filter_flip": False}),
    ((2, 3, 9, 8), (4, 3, 3, 2), {"border_mode": "full"}),
    ((2, 3, 9, 8), (4, 3, 3, 5), {"border_mode": "half"}),
    ((2, 3, 9, 8), (4, 3, 3, 5), {"border_mode": "same", "filter_flip": False}),
    ((2, 3, 9, 8), (4, 3, 2, 3), {"border_mode": (1, 2)}),
    ((2, 3, 10, 11), (4, 3, 3, 3), {"subsample": (2, 3), "border_mode": (2, 1)}),
    ((2, 3, 12, 11), (4, 3, 3, 2), {"filter_dilation": (2, 3), "border_mode": "half"}),
    ((2, 3, 12, 11), (5, 3, 3, 3), {"filter_dilation": (2, 1), "subsample": 2,
                                    "border_mode": "full", "filter_flip": False}),
    ((1, 1, 5, 7), (1, 1, 5, 7), {}),                          # filter as large as the image
    ((1, 2, 1, 6), (3, 2, 1, 3), {"subsample": (1, 2)}),       # one row
    ((3, 5, 6, 7), (2, 5, 1, 1), {}),                          # 1x1: the image is its columns
    ((3, 5, 6, 7), (2, 5, 1, 1), {"subsample": 2}),
    ((0, 3, 6, 6), (2, 3, 3, 3), {"border_mode": "half"}),     # an empty batch
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("x_shape, w_shape, kwargs", CONV_CASES)
def test_conv2d_matches_numpy(dtype, x_shape, w_shape, kwargs):
    x, w = tensor4(dtype), tensor4(dtype)
    xv, wv = data(x_shape, dtype), data(w_shape, dtype)
    got, want = run_both([x, w], T.nnet.conv2d(x, w, **kwargs), xv, wv, expect=["Conv2d"])
    close(got, want, dtype)


@pytest.mark.parametrize("border_mode", ["full", "half"])
def test_conv2d_with_a_known_filter_size_pads_with_ints(border_mode):
    # With the filter size static, conv2d resolves 'full'/'half' to int padding; without,
    # the op keeps the name and the C reads the padding the plan works out.
    x, w = tensor4("float64"), T.tensor("float64", (2, 3, 3, 5))
    xv, wv = data((2, 3, 7, 9), "float64"), data((2, 3, 3, 5), "float64")
    out = T.nnet.conv2d(x, w, border_mode=border_mode)
    assert not isinstance(out.owner.op.border_mode, str)
    got, want = run_both([x, w], out, xv, wv, expect=["Conv2d"])
    close(got, want, "float64")


@pytest.mark.parametrize("dtype", FLOATS)
def test_conv2d_reads_views_made_in_the_graph(dtype):
    # NHWC input and HWIO filters, dimshuffled inside the graph: strided operands.
    x, w = tensor4(dtype), tensor4(dtype)
    conv = T.nnet.conv2d(x.dimshuffle(0, 3, 1, 2), w.dimshuffle(3, 2, 0, 1),
                         border_mode="half", subsample=(1, 2))
    xv, wv = data((2, 7, 8, 3), dtype), data((3, 3, 3, 4), dtype)
    fn = function([x, w], conv, mode="native")
    assert "Conv2d" in in_c(fn)
    want = function([x, w], conv, mode="numpy")(xv, wv)
    close(fn(xv, wv), want, dtype)


def test_conv2d_takes_non_contiguous_arguments():
    x, w = tensor4("float32"), tensor4("float32")
    xv = data((2, 3, 9, 16), "float32")[:, :, :, ::2]
    wv = data((3, 4, 3, 3), "float32").transpose(1, 0, 3, 2)
    got, want = run_both([x, w], T.nnet.conv2d(x, w), xv, wv, expect=["Conv2d"])
    close(got, want, "float32")


def test_conv2d_serves_every_batch_size_with_one_compile():
    x, w = tensor4("float32"), tensor4("float32")
    fn = function([x, w], T.nnet.conv2d(x, w, border_mode="half"), mode="native")
    fp = function([x, w], T.nnet.conv2d(x, w, border_mode="half"), mode="numpy")
    wv = data((2, 3, 3, 3), "float32")
    for shape in [(4, 3, 8, 8), (1, 3, 5, 9), (4, 3, 8, 8), (2, 3, 6, 6)]:
        xv = data(shape, "float32")
        close(fn(xv, wv), fp(xv, wv), "float32")


def test_conv2d_of_integers_runs_on_numpy():
    x, w = tensor4("int32"), tensor4("int32")
    fn = function([x, w], T.nnet.conv2d(x, w), mode="native")
    assert "Conv2d" not in in_c(fn)
    xv = RNG.integers(-5, 5, (1, 2, 4, 4)).astype("int32")
    wv = RNG.integers(-5, 5, (2, 2, 3, 3)).astype("int32")
    want = function([x, w], T.nnet.conv2d(x, w), mode="numpy")(xv, wv)
    np.testing.assert_array_equal(fn(xv, wv), want)


def test_conv2d_shape_errors_name_the_node():
    x, w = tensor4("float32"), tensor4("float32")
    fn = function([x, w], T.nnet.conv2d(x, w), mode="native")
    assert "Conv2d" in in_c(fn)
    with pytest.raises(ValueError, match=r"(?s)has 3 channels.*has 2.*Apply node.*Conv2d"):
        fn(data((1, 3, 5, 5), "float32"), data((2, 2, 3, 3), "float32"))
    with pytest.raises(ValueError, match=r"(?s)do not fit.*Apply node.*Conv2d"):
        fn(data((1, 3, 2, 5), "float32"), data((2, 3, 3, 3), "float32"))
    # the function still works afterwards
    close(fn(np.ones((1, 3, 3, 3), "float32"), np.ones((1, 3, 3, 3), "float32")),
          np.full((1, 1, 1, 1), 27, "float32"), "float32")


# -- the gradient ops -----------------------------------------------------------------------
GRAD_CASES = [case for case in CONV_CASES if case[0][0] > 0] + [
    ((0, 3, 6, 6), (2, 3, 3, 3), {}),                       # no images: the gradient is 0
]


def _props(kwargs, w_shape):
    """The properties of the Conv2d that conv2d builds (size modes resolved to padding)."""
    op = T.nnet.conv2d(tensor4("float64"), T.tensor("float64", w_shape), **kwargs).owner.op
    return op.border_mode, op.subsample, op.filter_flip, op.filter_dilation


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("x_shape, w_shape, kwargs", GRAD_CASES)
def test_conv2d_grad_ops_match_numpy(dtype, x_shape, w_shape, kwargs):
    props = _props(kwargs, w_shape)
    x, w, g = tensor4(dtype), tensor4(dtype), tensor4(dtype)
    xv, wv = data(x_shape, dtype), data(w_shape, dtype)
    out_shape = function([x, w], T.nnet.conv2d(x, w, **kwargs), mode="numpy")(xv, wv).shape
    gv = data(out_shape, dtype)
    gw = Conv2dGradWeights(*props)(x, g, w_shape[2], w_shape[3])
    gx = Conv2dGradInputs(*props)(w, g, x_shape[2], x_shape[3])
    got, want = run_both([x, w, g], [gw, gx], xv, wv, gv,
                         expect=["Conv2dGradWeights", "Conv2dGradInputs"])
    close(got[0], want[0], dtype)
    close(got[1], want[1], dtype)
    if x_shape[0] == 0:
        assert not got[0].any()


@pytest.mark.parametrize("dtype", FLOATS)
def test_conv2d_grad_ops_read_views_and_symbolic_sizes(dtype):
    # output_grad dimshuffled in the graph, the filters too, and sizes given as scalars
    x, w, g = tensor4(dtype), tensor4(dtype), tensor4(dtype)
    rows, cols = T.lscalar("rows"), T.lscalar("cols")
    gt = g.dimshuffle(0, 3, 1, 2)
    props = ("half", (2, 1), True, (1, 1))
    gw = Conv2dGradWeights(*props)(x, gt, rows, cols)
    gx = Conv2dGradInputs(*props)(w.dimshuffle(1, 0, 2, 3), gt, x.shape[2], x.shape[3])
    xv, wv = data((2, 3, 7, 6), dtype), data((3, 4, 3, 3), dtype)
    gv = data((2, 4, 6, 4), dtype)
    got, want = run_both([x, w, g, rows, cols], [gw, gx], xv, wv, gv, 3, 3,
                         expect=["Conv2dGradWeights", "Conv2dGradInputs"])
    close(got[0], want[0], dtype)
    close(got[1], want[1], dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("kwargs", [{}, {"border_mode": "half", "subsample": 2},
                                    {"border_mode": "full", "filter_flip": False,
                                     "filter_dilation": (1, 2)}])
def test_conv2d_gradients_end_to_end(dtype, kwargs):
    x, w = tensor4(dtype), tensor4(dtype)
    r = tensor4(dtype)
    cost = (T.nnet.conv2d(x, w, **kwargs) * r).sum()
    grads = T.grad(cost, [x, w])
    xv, wv = data((3, 2, 9, 8), dtype), data((4, 2, 3, 3), dtype)
    rv = data(function([x, w], T.nnet.conv2d(x, w, **kwargs), mode="numpy")(xv, wv).shape,
              dtype)
    got, want = run_both([x, w, r], grads, xv, wv, rv,
                         expect=["Conv2dGradWeights", "Conv2dGradInputs"])
    close(got[0], want[0], dtype)
    close(got[1], want[1], dtype)


def test_second_derivatives_run_the_three_ops_in_c():
    # d/dw of |grad_x|^2 builds Conv2d, Conv2dGradWeights and Conv2dGradInputs nodes
    x, w = tensor4("float64"), tensor4("float64")
    gx = T.grad(T.nnet.conv2d(x, w, border_mode="half").sum(), x)
    hw = T.grad((gx ** 2).sum(), w)
    xv, wv = data((2, 2, 6, 6), "float64"), data((3, 2, 3, 3), "float64")
    got, want = run_both([x, w], hw, xv, wv, expect=["Conv2dGradInputs", "Conv2dGradWeights"])
    close(got, want, "float64")


def test_conv2d_grad_shape_errors_name_the_node():
    x, g = tensor4("float32"), tensor4("float32")
    fn = function([x, g], Conv2dGradWeights()(x, g, 3, 3), mode="native")
    assert "Conv2dGradWeights" in in_c(fn)
    with pytest.raises(ValueError, match=r"(?s)output_grad has shape .*Apply node"):
        fn(data((2, 3, 6, 6), "float32"), data((2, 4, 3, 4), "float32"))


# -- pooling --------------------------------------------------------------------------------
# (input shape, pool_2d keyword arguments)
POOL_CASES = [
    ((2, 3, 8, 8), {"ws": (2, 2)}),
    ((2, 3, 9, 7), {"ws": (2, 2)}),                                       # odd: a row dropped
    ((2, 3, 9, 7), {"ws": (2, 3), "ignore_border": False}),               # partial windows
    ((2, 3, 9, 7), {"ws": (3, 3), "stride": (1, 2)}),                     # overlapping
    ((2, 3, 9, 7), {"ws": (3, 3), "stride": (2, 1), "ignore_border": False}),
    ((2, 3, 9, 7), {"ws": (3, 2), "pad": (2, 1)}),
    ((2, 3, 9, 7), {"ws": (3, 3), "stride": (2, 2), "pad": (1, 1)}),
    ((2, 3, 9, 7), {"ws": (1, 1)}),
    ((2, 3, 1, 7), {"ws": (2, 2), "pad": (1, 0)}),                        # one row
    ((5, 6), {"ws": (2, 3), "stride": (1, 1)}),                           # a matrix
    ((2, 2, 3, 5, 6), {"ws": (2, 2), "stride": (1, 2), "ignore_border": False}),
    ((0, 3, 4, 4), {"ws": (2, 2)}),                                       # an empty batch
    ((2, 3, 1, 5), {"ws": (2, 2)}),                                       # no complete window
]
MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape, kwargs", POOL_CASES)
def test_pool_matches_numpy(dtype, mode, shape, kwargs):
    x = T.tensor(dtype, (None,) * len(shape))
    xv = data(shape, dtype)
    got, want = run_both([x], T.nnet.pool_2d(x, mode=mode, **kwargs), xv, expect=["Pool"])
    assert got.dtype == want.dtype and got.shape == want.shape
    if mode == "max":
        np.testing.assert_array_equal(got, want)
    else:
        close(got, want, dtype)


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "uint16"])
@pytest.mark.parametrize("mode", ["max", "sum"])
def test_pool_of_integers_matches_numpy(dtype, mode):
    x = T.tensor(dtype, (None,) * 4)
    info = np.iinfo(dtype)
    xv = RNG.integers(info.min, info.max, (2, 3, 7, 7), dtype=dtype, endpoint=True)
    pool = T.nnet.pool_2d(x, (3, 2), stride=(2, 1), pad=(1, 1), mode=mode)
    got, want = run_both([x], pool, xv, expect=["Pool"])  # sums wrap around as NumPy's
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_max_pool_propagates_nan_and_keeps_infinities():
    x = T.tensor("float32", (None,) * 4)
    xv = np.full((1, 1, 4, 6), -np.inf, "float32")
    xv[0, 0, 0, 0] = np.nan        # first in its window
    xv[0, 0, 1, 3] = np.nan        # last in its window
    xv[0, 0, 2, 4] = np.inf
    got, want = run_both([x], T.nnet.max_pool_2d(x, (2, 2), pad=(1, 1)), xv, expect=["Pool"])
    np.testing.assert_array_equal(got, want)
    assert np.isnan(got[0, 0, 0, 0]) and np.isnan(got[0, 0, 1, 2])
    assert got[0, 0, 1, 0] == -np.inf


@pytest.mark.parametrize("dtype", FLOATS)
def test_pool_reads_a_view_made_in_the_graph(dtype):
    x = T.tensor(dtype, (None,) * 4)
    xt = x.dimshuffle(0, 3, 2, 1)
    outs = [T.nnet.pool_2d(xt, (2, 3), stride=(1, 2), pad=(1, 1), mode=m) for m in MODES]
    xv = data((2, 9, 8, 3), dtype)
    got, want = run_both([x], outs, xv, expect=["Pool"])
    for g, w in zip(got, want):
        close(g, w, dtype)


def test_pool_takes_non_contiguous_arguments():
    x = T.tensor("float32", (None,) * 4)
    xv = data((2, 3, 8, 14), "float32")[:, :, :, ::2]
    got, want = run_both([x], T.nnet.max_pool_2d(x, (3, 3), stride=2), xv, expect=["Pool"])
    np.testing.assert_array_equal(got, want)


# (input shape, window geometry as Pool's ws, stride, pad, ignore_border)
GRAD_POOL_CASES = [
    ((2, 3, 8, 8), ((2, 2), None, (0, 0), True)),
    ((2, 3, 9, 7), ((2, 2), None, (0, 0), True)),
    ((2, 3, 9, 7), ((2, 3), None, (0, 0), False)),
    ((2, 3, 9, 7), ((3, 3), (1, 2), (0, 0), True)),                      # overlapping
    ((2, 3, 9, 7), ((3, 3), (2, 1), (0, 0), False)),
    ((2, 3, 9, 7), ((3, 2), (1, 1), (2, 1), True)),
    ((2, 3, 9, 7), ((3, 3), (3, 3), (1, 2), True)),
    ((2, 1, 1, 7), ((2, 2), (1, 1), (1, 0), True)),
    ((5, 6), ((2, 3), (1, 1), (0, 0), True)),
    ((2, 2, 3, 5, 6), ((2, 2), (1, 2), (0, 0), False)),
    ((0, 3, 4, 4), ((2, 2), None, (0, 0), True)),
    ((2, 3, 1, 5), ((2, 2), None, (0, 0), True)),
]


def _ties(shape, dtype):
    """Small integers as floats: many windows hold their maximum twice or more."""
    return RNG.integers(0, 3, shape).astype(dtype)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, geometry", GRAD_POOL_CASES)
def test_max_pool_grad_routes_to_the_first_maximum_as_numpy(dtype, shape, geometry):
    x = T.tensor(dtype, (None,) * len(shape))
    gz = T.tensor(dtype, (None,) * len(shape))
    maxout = Pool(*geometry, mode="max")(x)
    xv = _ties(shape, dtype)
    pooled = function([x], maxout, mode="numpy")(xv)
    gv = data(pooled.shape, dtype)
    grad = MaxPoolGrad(*geometry)(x, maxout, gz)
    got, want = run_both([x, gz], grad, xv, gv, expect=["MaxPoolGrad"])
    np.testing.assert_array_equal(got, want)
    assert got.dtype == want.dtype
    # every window's gradient went to exactly one entry (the sums add up)
    if pooled.size and geometry[1] is None:
        np.testing.assert_allclose(got.sum(), gv.sum(), rtol=1e-6)


def test_max_pool_grad_edge_values_as_numpy():
    # gz = inf spreads NaN over its window (inf * 0, as the NumPy kernel's gz * hit); a NaN
    # maximum routes nothing; a window of -inf next to the padding gives the gradient to
    # the padding (the NumPy kernel's first "maximum" is its -inf fill)
    x, gz = T.tensor("float64", (None,) * 4), T.tensor("float64", (None,) * 4)
    geometry = ((2, 2), (2, 2), (1, 1), True)
    maxout = Pool(*geometry, mode="max")(x)
    xv = np.arange(36, dtype="float64").reshape(1, 1, 6, 6)
    xv[0, 0, 0, 0] = -np.inf
    xv[0, 0, 2, 2] = np.nan
    gv = np.ones((1, 1, 4, 4))
    gv[0, 0, 2, 2] = np.inf      # window rows 3-4, cols 3-4: its maximum is x[4, 4]
    gv[0, 0, 2, 1] = -2.0        # window rows 3-4, cols 1-2: its maximum is x[4, 2]
    got, want = run_both([x, gz], MaxPoolGrad(*geometry)(x, maxout, gz), xv, gv,
                         expect=["MaxPoolGrad"])
    np.testing.assert_array_equal(got, want)
    assert got[0, 0, 0, 0] == 0                                   # to the padding
    assert not got[0, 0, 1:3, 1:3].any()                          # the NaN window
    assert got[0, 0, 4, 4] == np.inf and np.isnan(got[0, 0, 3:5, 3:5]).sum() == 3
    assert got[0, 0, 4, 2] == -2 and np.signbit(got[0, 0, 3, 1])  # -2 * 0 is -0.0


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES[1:])
@pytest.mark.parametrize("shape, geometry", GRAD_POOL_CASES)
def test_average_pool_grad_matches_numpy(dtype, mode, shape, geometry):
    gz = T.tensor(dtype, (None,) * len(shape))
    x = T.tensor(dtype, (None,) * len(shape))
    pooled = function([x], Pool(*geometry, mode=mode)(x), mode="numpy")(data(shape, dtype))
    rows, cols = T.lscalar("rows"), T.lscalar("cols")   # the input's size, given at run time
    grad = AveragePoolGrad(*geometry, mode=mode)(gz, rows, cols)
    gv = data(pooled.shape, dtype)
    got, want = run_both([gz, rows, cols], grad, gv, shape[-2], shape[-1],
                         expect=["AveragePoolGrad"])
    assert got.shape == tuple(shape) and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_pool_grad_ops_read_views():
    x, gz = T.tensor("float32", (None,) * 4), T.tensor("float32", (None,) * 4)
    xt, gt = x.dimshuffle(0, 1, 3, 2), gz.dimshuffle(0, 1, 3, 2)
    geometry = ((3, 2), (2, 1), (1, 1), True)
    maxout = Pool(*geometry, mode="max")(xt)
    outs = [MaxPoolGrad(*geometry)(xt, maxout, gt),
            AveragePoolGrad(*geometry, mode="average_exc_pad")(gt, xt.shape[2], xt.shape[3])]
    xv = _ties((2, 3, 6, 9), "float32")
    gv = data((2, 3, 7, 5), "float32")   # pooled (5, 7), transposed
    got, want = run_both([x, gz], outs, xv, gv, expect=["MaxPoolGrad", "AveragePoolGrad"])
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("mode", MODES)
def test_pool_gradients_end_to_end(dtype, mode):
    x, r = tensor4(dtype), tensor4(dtype)
    pool = T.nnet.pool_2d(x, (3, 2), stride=(2, 2), pad=(1, 0), mode=mode)
    grad = T.grad((pool * r).sum(), x)
    xv = _ties((2, 3, 9, 8), dtype)
    rv = data(function([x], pool, mode="numpy")(xv).shape, dtype)
    expect = ["Pool", "MaxPoolGrad"] if mode == "max" else ["AveragePoolGrad"]
    got, want = run_both([x, r], grad, xv, rv, expect=expect)
    np.testing.assert_array_equal(got, want)


def test_max_pool_grad_shape_errors_name_the_node():
    x, m, gz = tensor4("float32"), tensor4("float32"), tensor4("float32")
    fn = function([x, m, gz], MaxPoolGrad((2, 2))(x, m, gz), mode="native")
    assert "MaxPoolGrad" in in_c(fn)
    xv, mv = data((1, 2, 4, 4), "float32"), data((1, 2, 2, 2), "float32")
    with pytest.raises(ValueError, match=r"(?s)output gradient has shape.*Apply node"):
        fn(xv, mv, data((1, 2, 2, 3), "float32"))


# -- a small CNN training step --------------------------------------------------------------
def _cnn_step(params, mode):
    from nnframe import shared
    X, y = T.ftensor4("X"), T.lvector("y")
    C1, c1, C2, c2, W, b = [shared(p.copy()) for p in params]
    h = T.nnet.relu(T.nnet.conv2d(X, C1, filter_flip=False) + c1.dimshuffle("x", 0, "x", "x"))
    h = T.nnet.max_pool_2d(h, (2, 2))
    h = T.nnet.relu(T.nnet.conv2d(h, C2, border_mode="half") + c2.dimshuffle("x", 0, "x", "x"))
    h = T.nnet.pool_2d(h, (2, 2), mode="average_exc_pad", ignore_border=False)
    z = T.dot(h.flatten(2), W) + b
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(z), y).mean()
    ps = [C1, c1, C2, c2, W, b]
    updates = [(p, p - 0.05 * g) for p, g in zip(ps, T.grad(loss, ps))]
    return function([X, y], loss, updates=updates, mode=mode), ps


def test_cnn_training_steps_match_numpy():
    shapes = [(4, 1, 3, 3), (4,), (6, 4, 3, 3), (6,), (6 * 3 * 3, 5), (5,)]
    params = [data(s, "float32") * 0.3 for s in shapes]
    X = data((8, 1, 12, 12), "float32")
    y = RNG.integers(0, 5, 8)
    fn, native_params = _cnn_step(params, "native")
    fp, numpy_params = _cnn_step(params, "numpy")
    assert {"Conv2d", "Pool", "MaxPoolGrad", "AveragePoolGrad", "Conv2dGradWeights",
            "Conv2dGradInputs"} <= in_c(fn)
    for _ in range(4):
        np.testing.assert_allclose(fn(X, y), fp(X, y), rtol=1e-5)
    for a, b in zip(native_params, numpy_params):
        close(a.get_value(), b.get_value(), "float32")
