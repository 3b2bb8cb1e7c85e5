"""conv2d and pooling: naive loop references, gradients, static shapes and errors."""
import itertools

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad
from nnframe.core.ops.conv import Conv2d, Conv2dGradInputs, Conv2dGradWeights
from nnframe.core.ops.pool import AveragePoolGrad, MaxPoolGrad, MaxPoolGradGrad, Pool


def rng(seed=0):
    return np.random.default_rng(seed)


# -- naive references ------------------------------------------------------------------------
def ref_pads(border_mode, kshape, dilation):
    extents = [(k - 1) * d + 1 for k, d in zip(kshape, dilation)]
    if border_mode == "valid":
        return (0, 0)
    if border_mode == "full":
        return tuple(e - 1 for e in extents)
    if border_mode in ("half", "same"):
        return tuple(e // 2 for e in extents)
    return (border_mode, border_mode) if isinstance(border_mode, int) else tuple(border_mode)


def ref_conv(x, w, border_mode="valid", stride=(1, 1), flip=True, dilation=(1, 1)):
    """One output pixel at a time: out[:, :, i, j] = <padded window, filters>."""
    if flip:
        w = w[:, :, ::-1, ::-1]
    (pr, pc), (sr, sc), (dr, dc) = ref_pads(border_mode, w.shape[2:], dilation), stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pr, pr), (pc, pc)))
    er, ec = (w.shape[2] - 1) * dr + 1, (w.shape[3] - 1) * dc + 1
    rows, cols = (xp.shape[2] - er) // sr + 1, (xp.shape[3] - ec) // sc + 1
    out = np.zeros((x.shape[0], w.shape[0], rows, cols), dtype=np.result_type(x, w))
    for i in range(rows):
        for j in range(cols):
            window = xp[:, :, i * sr:i * sr + er:dr, j * sc:j * sc + ec:dc]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3]))
    return out


def ref_conv_grads(x, w, g, border_mode="valid", stride=(1, 1), flip=True, dilation=(1, 1)):
    """(d<conv(x, w), g>/dx, d<conv(x, w), g>/dw), one output pixel and tap at a time."""
    wf = w[:, :, ::-1, ::-1] if flip else w
    (pr, pc), (sr, sc), (dr, dc) = ref_pads(border_mode, w.shape[2:], dilation), stride, dilation
    xp = np.pad(x, ((0, 0), (0, 0), (pr, pr), (pc, pc)))
    gxp, gwf = np.zeros_like(xp), np.zeros_like(wf)
    for i, j, u, v in itertools.product(range(g.shape[2]), range(g.shape[3]),
                                        range(w.shape[2]), range(w.shape[3])):
        r, c = i * sr + u * dr, j * sc + v * dc
        gxp[:, :, r, c] += g[:, :, i, j] @ wf[:, :, u, v]
        gwf[:, :, u, v] += g[:, :, i, j].T @ xp[:, :, r, c]
    gx = gxp[:, :, pr:pr + x.shape[2], pc:pc + x.shape[3]]
    return gx, (gwf[:, :, ::-1, ::-1] if flip else gwf)


def ref_pool_length(n, ws, st, pad, ignore_border):
    n += 2 * pad
    if ignore_border:
        return max(0, (n - ws) // st + 1)
    if st >= ws:
        return (n - 1) // st + 1
    return max(0, (n - 1 - ws + st) // st) + 1


def ref_pool(x, ws, ignore_border=True, stride=None, pad=(0, 0), mode="max"):
    """One window at a time, with Theano's region rules."""
    stride = stride or ws
    rows, cols = x.shape[-2:]
    out_shape = tuple(ref_pool_length(n, ws[a], stride[a], pad[a], ignore_border)
                      for a, n in enumerate((rows, cols)))
    out = np.zeros(x.shape[:-2] + out_shape, dtype=x.dtype)
    for i, j in itertools.product(*map(range, out_shape)):
        r0, c0 = i * stride[0], j * stride[1]
        r1, c1 = min(r0 + ws[0], rows + 2 * pad[0]), min(c0 + ws[1], cols + 2 * pad[1])
        inc_pad_size = (r1 - r0) * (c1 - c0)
        # the real input entries of the window
        region = x[..., max(r0 - pad[0], 0):min(r1 - pad[0], rows),
                   max(c0 - pad[1], 0):min(c1 - pad[1], cols)]
        if mode == "max":
            out[..., i, j] = region.max(axis=(-2, -1))
        elif mode == "sum":
            out[..., i, j] = region.sum(axis=(-2, -1))
        elif mode == "average_exc_pad":
            out[..., i, j] = region.mean(axis=(-2, -1))
        else:
            out[..., i, j] = region.sum(axis=(-2, -1)) / inc_pad_size
    return out


# -- conv2d: values ---------------------------------------------------------------------------
# (input shape, filter shape): odd sizes, rectangular and even filters, 1x1.
CONV_SHAPES = [((2, 3, 7, 6), (4, 3, 3, 3)), ((2, 2, 6, 9), (3, 2, 1, 3)),
               ((1, 3, 8, 7), (2, 3, 2, 4))]
CONV_CASES = [
    (xs, ws, bm, stride, flip, dil)
    for (xs, ws), bm, stride, flip, dil in itertools.product(
        CONV_SHAPES, ["valid", "full", "half", "same", 1, (2, 0)], [(1, 1), (2, 3)],
        [True, False], [(1, 1), (2, 1)])
    # 'same' needs odd dilated filter sizes
    if not (bm == "same" and any(((k - 1) * d + 1) % 2 == 0 for k, d in zip(ws[2:], dil)))
]


@pytest.mark.parametrize("xs, ws, border_mode, stride, flip, dilation", CONV_CASES)
def test_conv2d_and_grads_match_loops(xs, ws, border_mode, stride, flip, dilation):
    r = rng(1)
    xv, wv = r.standard_normal(xs), r.standard_normal(ws)
    x, w, g = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("g")
    y = T.nnet.conv2d(x, w, border_mode=border_mode, subsample=stride, filter_flip=flip,
                      filter_dilation=dilation)
    gx, gw = T.grad(None, [x, w], known_grads={y: g})
    out = function([x, w], y)(xv, wv)
    expected = ref_conv(xv, wv, border_mode, stride, flip, dilation)
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-10)
    gv = r.standard_normal(expected.shape)
    got_gx, got_gw = function([x, w, g], [gx, gw])(xv, wv, gv)
    ref_gx, ref_gw = ref_conv_grads(xv, wv, gv, border_mode, stride, flip, dilation)
    np.testing.assert_allclose(got_gx, ref_gx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got_gw, ref_gw, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("xs, ws, border_mode, stride", [
    # The gradient kernels pick a layout from the sizes; these cover both of each.
    ((3, 1, 9, 8), (5, 1, 2, 2), "valid", (1, 1)),   # fewer taps * channels than filters
    ((4, 2, 6, 5), (8, 2, 1, 1), "valid", (1, 2)),   # (input grad: per-image products)
    ((2, 3, 4, 4), (6, 3, 3, 3), "valid", (1, 1)),   # tiny output, many filters
    ((2, 4, 5, 5), (3, 4, 3, 3), "full", (2, 2)),    # (weight grad: one GEMM)
])
def test_conv2d_float32_kernel_paths(xs, ws, border_mode, stride):
    r = rng(2)
    xv, wv = r.standard_normal(xs).astype("float32"), r.standard_normal(ws).astype("float32")
    x, w, g = T.ftensor4("x"), T.ftensor4("w"), T.ftensor4("g")
    y = T.nnet.conv2d(x, w, border_mode=border_mode, subsample=stride)
    gx, gw = T.grad(None, [x, w], known_grads={y: g})
    expected = ref_conv(xv, wv, border_mode, stride)
    gv = r.standard_normal(expected.shape).astype("float32")
    outs = function([x, w, g], [y, gx, gw], mode="debug")(xv, wv, gv)
    refs = (expected,) + ref_conv_grads(xv, wv, gv, border_mode, stride)
    for got, want in zip(outs, refs):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_conv2d_integer_and_mixed_dtypes():
    r = rng(3)
    xv, wv = r.integers(-5, 5, (2, 2, 5, 5)), r.integers(-3, 3, (3, 2, 2, 2))
    x, w = T.ltensor4("x"), T.ltensor4("w")
    out = function([x, w], T.nnet.conv2d(x, w, border_mode="full"))(xv, wv)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, ref_conv(xv, wv, "full"))
    y = T.nnet.conv2d(T.ftensor4(), T.dtensor4())
    assert y.dtype == "float64"


def test_conv2d_runs_in_debug_mode_with_symbolic_size_modes():
    # Filters of unknown static size keep 'half' / 'full' / 'same' symbolic: the
    # kernel and infer_shape (checked by debug mode) resolve the padding.
    r = rng(4)
    xv, wv = r.standard_normal((2, 2, 6, 5)), r.standard_normal((3, 2, 3, 5))
    x, w, g = T.dtensor4("x"), T.dtensor4("w"), T.dtensor4("g")
    for mode in ("half", "full", "same"):
        y = T.nnet.conv2d(x, w, border_mode=mode, subsample=(2, 1))
        assert y.owner.op.border_mode == mode
        gx, gw = T.grad(None, [x, w], known_grads={y: g})
        out = function([x, w], y, mode="debug")(xv, wv)
        np.testing.assert_allclose(out, ref_conv(xv, wv, mode, (2, 1)))
        gv = r.standard_normal(out.shape)
        got = function([x, w, g], [gx, gw], mode="debug")(xv, wv, gv)
        for a, b in zip(got, ref_conv_grads(xv, wv, gv, mode, (2, 1))):
            np.testing.assert_allclose(a, b, atol=1e-12)


# -- conv2d: static shapes and props ------------------------------------------------------------
@pytest.mark.parametrize("border_mode, stride, dilation, expected", [
    ("valid", (1, 1), (1, 1), (None, 8, 24, 20)),
    ("full", (1, 1), (1, 1), (None, 8, 32, 26)),
    ("half", (1, 1), (1, 1), (None, 8, 28, 24)),   # even filter width: one more column
    ("valid", (2, 3), (1, 1), (None, 8, 12, 7)),
    ((1, 2), (1, 1), (2, 1), (None, 8, 22, 24)),
])
def test_conv2d_static_output_shape(border_mode, stride, dilation, expected):
    x = T.tensor("float32", shape=(None, 3, 28, 23))
    y = T.nnet.conv2d(x, T.ftensor4("w"), filter_shape=(8, 3, 5, 4), border_mode=border_mode,
                      subsample=stride, filter_dilation=dilation)
    assert y.type.shape == expected
    assert not isinstance(y.owner.op.border_mode, str)  # known filter size: a pad pair


def test_conv2d_shape_hints_are_checked_at_run_time():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    y = T.nnet.conv2d(x, w, input_shape=(None, 2, 5, 5), filter_shape=(3, 2, 3, 3))
    assert y.type.shape == (None, 3, 3, 3)
    f = function([x, w], y)
    f(np.zeros((1, 2, 5, 5)), np.zeros((3, 2, 3, 3)))
    with pytest.raises(ValueError, match="specify_shape"):
        f(np.zeros((1, 2, 6, 5)), np.zeros((3, 2, 3, 3)))


def test_conv_ops_are_compared_by_normalized_props():
    assert Conv2d("valid") == Conv2d((0, 0)) == Conv2d(0)
    assert Conv2d("half") != Conv2d((1, 1))
    assert Conv2d(subsample=2) == Conv2d(subsample=(2, 2))
    assert hash(Conv2dGradWeights("full")) == hash(Conv2dGradWeights("full"))
    w = T.tensor("float64", shape=(4, 3, 5, 3))
    assert T.nnet.conv2d(T.dtensor4(), w, border_mode="half").owner.op.border_mode == (2, 1)


# -- conv2d: gradients --------------------------------------------------------------------------
@pytest.mark.parametrize("xs, ws, kwargs", [
    ((2, 2, 5, 4), (3, 2, 2, 3), {}),
    ((1, 2, 5, 6), (2, 2, 3, 2), dict(border_mode="half", subsample=(2, 1),
                                      filter_dilation=(1, 2))),
    ((1, 3, 4, 5), (2, 3, 3, 3), dict(border_mode=(1, 2), subsample=(2, 3), filter_flip=False)),
    ((2, 1, 3, 3), (2, 1, 2, 2), dict(border_mode="full")),
])
def test_conv2d_verify_grad(xs, ws, kwargs):
    r = rng(5)
    verify_grad(lambda x, w: T.nnet.conv2d(x, w, **kwargs),
                [r.standard_normal(xs), r.standard_normal(ws)], mode="debug")


@pytest.mark.parametrize("kwargs", [
    {}, dict(border_mode="full", subsample=(2, 1), filter_flip=False, filter_dilation=(1, 2))])
def test_conv2d_second_order(kwargs):
    # The gradient ops' own gradients: verify_grad of a cost built from T.grad.
    r = rng(6)

    def grad_norm(x, w):
        y = T.nnet.conv2d(x, w, **kwargs)
        gx, gw = T.grad((y ** 2).sum() + y.sum(), [x, w])
        return (gx ** 2).sum() + (gw * w).sum()

    verify_grad(grad_norm, [r.standard_normal((1, 2, 4, 5)), r.standard_normal((2, 2, 2, 3))])


def test_conv2d_grad_builders():
    # The transposed convolution and the weight gradient as user-facing functions,
    # gradients included (their L_ops chain the other two Ops).
    r = rng(7)
    kw = dict(border_mode=1, subsample=2)
    wv, gv = r.standard_normal((3, 2, 3, 3)), r.standard_normal((2, 3, 3, 3))
    xv = r.standard_normal((2, 2, 6, 5))
    w, g, x = T.dtensor4("w"), T.dtensor4("g"), T.dtensor4("x")
    gx = T.nnet.conv2d_grad_wrt_inputs(g, w, (None, 2, 6, 5), **kw)
    assert gx.type.shape == (None, 2, 6, 5)
    np.testing.assert_allclose(function([w, g], gx)(wv, gv),
                               ref_conv_grads(xv, wv, gv, 1, (2, 2))[0], atol=1e-12)
    gw = T.nnet.conv2d_grad_wrt_weights(x, g, (3, 2, 3, 3), **kw)
    assert gw.type.shape == (3, 2, 3, 3)
    np.testing.assert_allclose(function([x, g], gw)(xv, gv),
                               ref_conv_grads(xv, wv, gv, 1, (2, 2))[1], atol=1e-12)
    verify_grad(lambda w, g: T.nnet.conv2d_grad_wrt_inputs(g, w, (None, None, 6, 5), **kw),
                [wv, gv], mode="debug")
    verify_grad(lambda x, g: T.nnet.conv2d_grad_wrt_weights(x, g, (None, None, 3, 3), **kw),
                [xv, gv], mode="debug")


# -- conv2d: errors -----------------------------------------------------------------------------
def test_conv2d_build_errors():
    x4, w4 = T.dtensor4("x"), T.dtensor4("w")
    with pytest.raises(TypeError, match="input must be a 4-d tensor"):
        T.nnet.conv2d(T.dtensor3(), w4)
    with pytest.raises(TypeError, match="filters must be a 4-d tensor"):
        T.nnet.conv2d(x4, T.dmatrix())
    with pytest.raises(ValueError, match="channels"):
        T.nnet.conv2d(T.tensor("float64", shape=(None, 3, None, None)), w4,
                      filter_shape=(2, 4, 3, 3))
    for bad in ("valdi", -1, (1, 2, 3), 1.5, ((1, 1), (2, 2))):
        with pytest.raises(ValueError, match="border_mode"):
            T.nnet.conv2d(x4, w4, border_mode=bad)
    for bad in (0, (1, 0), (1, 2, 3), (1.0, 1)):
        with pytest.raises(ValueError, match="subsample"):
            T.nnet.conv2d(x4, w4, subsample=bad)
        with pytest.raises(ValueError, match="filter_dilation"):
            T.nnet.conv2d(x4, w4, filter_dilation=bad)
    with pytest.raises(ValueError, match="larger than the padded input"):
        T.nnet.conv2d(T.tensor("float64", shape=(None, 1, 4, 8)), w4, filter_shape=(2, 1, 5, 3))
    with pytest.raises(ValueError, match="larger than the padded input"):
        T.nnet.conv2d(T.tensor("float64", shape=(None, 1, 8, 4)), w4, filter_shape=(2, 1, 3, 3),
                      filter_dilation=(1, 2))
    with pytest.raises(ValueError, match="odd"):
        T.nnet.conv2d(x4, w4, filter_shape=(2, 1, 3, 2), border_mode="same")
    with pytest.raises(ValueError, match="contradicts"):
        T.nnet.conv2d(T.tensor("float64", shape=(None, 3, 5, 5)), w4, input_shape=(1, 2, 5, 5))
    with pytest.raises(ValueError, match="4 entries"):
        T.nnet.conv2d(x4, w4, filter_shape=(3, 3))
    with pytest.raises(TypeError, match="real numeric"):
        T.nnet.conv2d(T.ztensor4(), w4)


def test_conv2d_runtime_errors():
    x, w = T.dtensor4("x"), T.dtensor4("w")
    f = function([x, w], T.nnet.conv2d(x, w))
    with pytest.raises(ValueError, match=r"\(2, 3, 5, 5\).*\(4, 2, 3, 3\)"):
        f(np.zeros((2, 3, 5, 5)), np.zeros((4, 2, 3, 3)))
    with pytest.raises(ValueError, match="do not fit"):
        f(np.zeros((2, 3, 2, 5)), np.zeros((4, 3, 3, 3)))
    same = function([x, w], T.nnet.conv2d(x, w, border_mode="same"))
    with pytest.raises(ValueError, match="odd"):
        same(np.zeros((1, 1, 5, 5)), np.zeros((1, 1, 2, 3)))
    g = T.dtensor4("g")
    gi = function([w, g], Conv2dGradInputs()(w, g, 5, 5))
    with pytest.raises(ValueError, match="output_grad has shape"):
        gi(np.zeros((2, 1, 3, 3)), np.zeros((1, 2, 4, 3)))


# -- pooling: values ----------------------------------------------------------------------------
POOL_GEOMETRIES = [
    # ws, stride, pad, ignore_border
    ((2, 2), None, (0, 0), True),
    ((2, 2), None, (0, 0), False),     # partial windows at the end (odd sizes)
    ((3, 2), (1, 2), (0, 0), True),    # overlapping rows
    ((3, 2), (2, 1), (0, 0), False),   # overlapping, partial windows
    ((3, 3), (2, 2), (1, 2), True),    # padding
    ((2, 3), (3, 1), (1, 0), True),    # stride larger than the window: gaps
    ((1, 1), None, (0, 0), True),
]
POOL_MODES = ["max", "sum", "average_inc_pad", "average_exc_pad"]


@pytest.mark.parametrize("ws, stride, pad, ignore_border", POOL_GEOMETRIES)
@pytest.mark.parametrize("mode", POOL_MODES)
def test_pool_2d_matches_loops(mode, ws, stride, pad, ignore_border):
    xv = rng(8).standard_normal((2, 3, 7, 8))
    x = T.dtensor4("x")
    y = T.nnet.pool_2d(x, ws, ignore_border, stride, pad, mode)
    expected = ref_pool(xv, ws, ignore_border, stride, pad, mode)
    assert y.type.shape[2:] == (None, None)
    out = function([x], y, mode="debug")(xv)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-12)


@pytest.mark.parametrize("shape", [(7, 5), (2, 7, 5), (2, 1, 2, 5, 7)])
@pytest.mark.parametrize("mode", POOL_MODES)
def test_pool_2d_any_leading_dims_and_static_shape(shape, mode):
    xv = rng(9).standard_normal(shape)
    x = T.tensor("float64", shape=shape)
    y = T.nnet.pool_2d(x, (2, 3), ignore_border=False, stride=(2, 2), mode=mode)
    expected = ref_pool(xv, (2, 3), False, (2, 2), (0, 0), mode)
    assert y.type.shape == expected.shape
    np.testing.assert_allclose(function([x], y, mode="debug")(xv), expected, rtol=1e-12)


def test_max_and_avg_pool_builders():
    xv = rng(10).standard_normal((2, 2, 6, 5)).astype("float32")
    x = T.ftensor4("x")
    f = function([x], [T.nnet.max_pool_2d(x, 2, ignore_border=False),
                       T.nnet.avg_pool_2d(x, (3, 3), stride=2, pad=1),
                       T.nnet.avg_pool_2d(x, (3, 3), stride=2, pad=1, include_pad=True)])
    got = f(xv)
    refs = [ref_pool(xv, (2, 2), False), ref_pool(xv, (3, 3), True, (2, 2), (1, 1),
                                                  "average_exc_pad"),
            ref_pool(xv, (3, 3), True, (2, 2), (1, 1), "average_inc_pad")]
    for a, b in zip(got, refs):
        assert a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5)


def test_pool_integer_input():
    xv = rng(11).integers(-100, 100, (2, 5, 5)).astype("int32")
    x = T.itensor3("x")
    f = function([x], [T.nnet.max_pool_2d(x, 2, ignore_border=False, pad=0),
                       T.nnet.pool_2d(x, 2, mode="sum"),
                       T.nnet.max_pool_2d(x, 3, stride=2, pad=1)])
    for got, want in zip(f(xv), [ref_pool(xv, (2, 2), False), ref_pool(xv, (2, 2), mode="sum"),
                                 ref_pool(xv, (3, 3), True, (2, 2), (1, 1))]):
        assert got.dtype == np.int32
        np.testing.assert_array_equal(got, want)


# -- pooling: gradients -------------------------------------------------------------------------
@pytest.mark.parametrize("ws, stride, pad, ignore_border", POOL_GEOMETRIES[:6])
@pytest.mark.parametrize("mode", POOL_MODES)
def test_pool_2d_verify_grad(mode, ws, stride, pad, ignore_border):
    # distinct values a few eps apart at least: no ties in the max
    xv = rng(12).permutation(2 * 5 * 6).reshape(1, 2, 5, 6) / 7.0
    verify_grad(lambda x: T.nnet.pool_2d(x, ws, ignore_border, stride, pad, mode), [xv],
                mode="debug")


def test_max_pool_grad_goes_to_first_maximum():
    x = T.dmatrix("x")
    y = T.nnet.max_pool_2d(x, (2, 2), stride=(1, 1))
    gx = function([x], T.grad(y.sum(), x))(np.ones((3, 3)))
    # every window's maximum is tied: each window's top-left entry gets its gradient
    np.testing.assert_array_equal(gx, [[1, 1, 0], [1, 1, 0], [0, 0, 0]])
    xv = np.array([[1.0, 5.0, 5.0], [5.0, 2.0, 0.0], [5.0, 5.0, 1.0]])
    gx = function([x], T.grad(y.sum(), x))(xv)
    np.testing.assert_array_equal(gx, [[0, 2, 0], [1, 0, 0], [0, 1, 0]])


@pytest.mark.parametrize("ws, stride, pad, ignore_border", [
    ((2, 2), None, (0, 0), True), ((3, 2), (2, 1), (0, 0), False), ((3, 3), (2, 2), (1, 1), True)])
def test_max_pool_second_order(ws, stride, pad, ignore_border):
    xv = rng(13).permutation(2 * 5 * 6).reshape(2, 5, 6) / 7.0
    x = T.dtensor3("x")
    pooled = T.nnet.max_pool_2d(x, ws, ignore_border, stride, pad)
    gz_shape = function([x], pooled)(xv).shape
    gzv = rng(14).standard_normal(gz_shape)

    def backprop(x, gz):  # MaxPoolGrad: linear in gz, piecewise constant in x
        return T.grad(None, x, known_grads={T.nnet.max_pool_2d(x, ws, ignore_border, stride,
                                                              pad): gz})

    verify_grad(backprop, [xv, gzv], mode="debug")
    geometry = (ws, stride, pad, ignore_border)

    def gather(x, ggx):  # MaxPoolGradGrad and its gradient (MaxPoolGrad again)
        return MaxPoolGradGrad(*geometry)(x, Pool(*geometry)(x), ggx)

    verify_grad(gather, [xv, rng(15).standard_normal(xv.shape)], mode="debug")


@pytest.mark.parametrize("mode", POOL_MODES[1:])
def test_average_pool_second_order(mode):
    geometry = ((3, 2), (2, 1), (1, 1), True)
    gzv = rng(16).standard_normal((2, 3, 6))
    verify_grad(lambda gz: AveragePoolGrad(*geometry, mode=mode)(gz, 5, 5), [gzv],
                mode="debug")

    def grad_norm(x):
        g = T.grad((T.nnet.pool_2d(x, (3, 2), True, (2, 1), (1, 1), mode) ** 2).sum(), x)
        return (g ** 2).sum()

    verify_grad(grad_norm, [rng(17).standard_normal((2, 5, 5))])


# -- pooling: errors ----------------------------------------------------------------------------
def test_pool_build_errors():
    x = T.dtensor4("x")
    with pytest.raises(TypeError, match="at least 2 dimensions"):
        T.nnet.max_pool_2d(T.dvector(), 2)
    with pytest.raises(ValueError, match="mode 'avg' is unknown"):
        T.nnet.pool_2d(x, 2, mode="avg")
    with pytest.raises(ValueError, match="ignore_border=True"):
        T.nnet.pool_2d(x, 3, ignore_border=False, pad=1)
    with pytest.raises(ValueError, match="smaller than the window"):
        T.nnet.pool_2d(x, 2, pad=(2, 0))
    for bad in (0, (2, 0), (2, 2, 2), 1.5):
        with pytest.raises(ValueError, match="ws"):
            T.nnet.pool_2d(x, bad)
    with pytest.raises(ValueError, match="stride"):
        T.nnet.pool_2d(x, 2, stride=(0, 1))
    with pytest.raises(ValueError, match="ignore_border=False"):
        T.nnet.max_pool_2d(T.tensor("float64", shape=(None, 1, 3, 8)), (4, 2))
    # the partial window makes sense without ignore_border
    assert T.nnet.max_pool_2d(T.tensor("float64", shape=(None, 1, 3, 8)), (4, 2),
                              ignore_border=False).type.shape == (None, 1, 1, 4)
    with pytest.raises(TypeError, match="float input"):
        T.nnet.avg_pool_2d(T.itensor4(), 2)
    with pytest.raises(TypeError, match="real numeric"):
        T.nnet.max_pool_2d(T.tensor("bool", shape=(None, None)), 2)


def test_pool_runtime_behaviour_on_small_inputs():
    x, g = T.dtensor4("x"), T.dtensor4("g")
    # ignore_border=True on a too-small input: no complete window, an empty result
    out = function([x], T.nnet.max_pool_2d(x, 3))(np.ones((1, 1, 2, 5)))
    assert out.shape == (1, 1, 0, 1)
    backprop = function([x, g], MaxPoolGrad((2, 2))(x, g, g))
    with pytest.raises(ValueError, match=r"shape \(1, 1, 3, 3\) but pooling gives"):
        backprop(np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 3, 3)))
    spread = function([g], AveragePoolGrad((2, 2))(g, 4, 5))
    with pytest.raises(ValueError, match="pooling gives"):
        spread(np.zeros((1, 1, 3, 3)))
