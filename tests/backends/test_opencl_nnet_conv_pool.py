"""OpenCL softmaxes, crossentropies, convolutions and pooling (with gradients) vs NumPy."""
import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import function  # noqa: E402
from nnframe.core.ops import nnet as N  # noqa: E402

rng = np.random.default_rng(3)


@pytest.mark.parametrize("dtype, tol", [("float32", 2e-6), ("float64", 1e-14)])
def test_softmax_family_and_crossentropies(dtype, tol):
    # Sums round as NumPy's do; exp and log may differ by an ulp (the device's libm),
    # which cancellation in x - max - log(sum) turns into an absolute error.
    x, g = T.matrix("x", dtype=dtype), T.vector("g", dtype=dtype)
    y, x3 = T.lvector("y"), T.tensor3("x3", dtype=dtype)
    p = T.nnet.softmax(x)
    loss, sm = N.CrossentropySoftmax1Hot()(x, y)
    outs = [p, T.nnet.log_softmax(x), N.Softmax(0)(x), N.Softmax(None)(x3),
            N.LogSoftmax(1)(x3), N.SoftmaxGrad(1)(x * 2, p), N.SoftmaxGrad(2)(x3, x3),
            N.CrossentropyCategorical1Hot()(p, y), N.CrossentropyCategorical1HotGrad()(g, p, y),
            loss, sm, N.CrossentropySoftmax1HotDx()(g, p, y), N.OneHot(dtype)(y, 10),
            T.nnet.softmax(x[:, ::-1].T)]
    vals = [rng.normal(size=(100, 10)).astype(dtype) * 5, rng.normal(size=100).astype(dtype),
            rng.integers(0, 10, 100), rng.normal(size=(4, 5, 30)).astype(dtype)]
    compare([x, g, y, x3], outs, vals, rtol=tol, atol=tol, rewrite=False)


def test_bad_class_indices_raise():
    x, y = T.dmatrix("x"), T.lvector("y")
    f = function([x, y], T.nnet.categorical_crossentropy(T.nnet.softmax(x), y).mean(),
                 mode="opencl")
    with pytest.raises(IndexError, match="class index 10"):
        f(rng.normal(size=(100, 10)), np.full(100, 10))
    with pytest.raises(IndexError, match="class index"):
        function([y], T.nnet.to_one_hot(y, 5), mode="opencl")(np.arange(100) - 1)


CONV_CASES = [dict(), dict(border_mode="full"), dict(border_mode="half", subsample=(2, 1)),
              dict(border_mode=(1, 2), subsample=(2, 3), filter_flip=False),
              dict(filter_dilation=(2, 1), border_mode=1)]


@pytest.mark.parametrize("kw", CONV_CASES, ids=[str(sorted(k.items())) for k in CONV_CASES])
def test_conv2d_and_both_gradients(kw):
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = T.nnet.conv2d(x, w, **kw)
    gx, gw = T.grad((y * y).sum(), [x, w])
    vals = [rng.normal(size=(3, 2, 11, 9)), rng.normal(size=(4, 2, 3, 2))]
    compare([x, w], [y, gx, gw], vals, rtol=1e-12, atol=1e-12)


def test_conv2d_float32_mixed_layouts():
    x, w = T.ftensor4("x"), T.ftensor4("w")
    y = T.nnet.conv2d(x.dimshuffle(0, 1, 3, 2), w[:, :, ::-1], border_mode="valid")
    gx, gw = T.grad(y.sum(), [x, w])
    vals = [rng.normal(size=(8, 3, 20, 18)).astype("float32"),
            rng.normal(size=(16, 3, 5, 5)).astype("float32")]
    compare([x, w], [y, gx, gw], vals, rtol=1e-4, atol=1e-4)


POOL_CASES = [dict(ws=(3, 2), stride=(1, 1)),                    # overlapping windows
              dict(ws=(2, 3), ignore_border=False, stride=(2, 2)),  # partial windows
              dict(ws=(3, 3), pad=(1, 1), stride=(2, 2))]           # padding


@pytest.mark.parametrize("kw", POOL_CASES, ids=[str(sorted(k.items())) for k in POOL_CASES])
def test_pooling_and_gradients_are_exact(kw):
    x = T.dtensor4("x")
    outs = []
    for mode in ["max", "sum", "average_inc_pad", "average_exc_pad"]:
        y = T.nnet.pool_2d(x, mode=mode, **kw)
        gx = T.grad((y * y).sum(), x)
        outs += [y, gx]
        if mode == "max":
            outs.append(T.grad((gx * gx).sum(), x))
    xv = rng.normal(size=(2, 3, 9, 7))
    xv[0, 0, :2, :2] = 1.0          # ties: the first maximum takes the gradient
    xv[1, 2, 3, 3] = np.nan
    compare([x], outs, [xv])


def test_pooling_of_3d_float32_input():
    x = T.ftensor3("x")
    y = T.nnet.pool_2d(x, (2, 2), mode="max")
    compare([x], [y, T.grad(y.sum(), x)], [rng.normal(size=(5, 12, 10)).astype("float32")])
