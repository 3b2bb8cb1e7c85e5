"""cumsum and cumprod: values and dtypes vs NumPy, types, errors, gradients (zeros included).

Runs on either backend (``--device=opencl``): the OpenCL kernel accumulates
in NumPy's order, so values are compared exactly there too.
"""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad
from nnframe.core.ops.cumulative import CumOp

rng = np.random.default_rng(7)

NUMPY = {T.cumsum: np.cumsum, T.cumprod: np.cumprod}
DTYPES = ["float32", "float64", "float16", "int8", "int32", "int64", "uint8", "uint32", "bool",
          "complex128"]


def sample(shape, dtype):
    """Values whose products stay finite over a few hundred entries (floats near +-1)."""
    if dtype == "bool":
        return rng.integers(0, 2, size=shape).astype(bool)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0, 4, size=shape).astype(dtype)
    v = rng.uniform(0.5, 1.5, size=shape) * rng.choice([-1, 1], size=shape)
    if np.dtype(dtype).kind == "c":
        v = v + 1j * rng.uniform(-0.5, 0.5, size=shape)
    return v.astype(dtype)


def assert_same(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got, want)


# -- values ------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_values_and_dtypes_match_numpy(dtype):
    x = T.tensor3("x", dtype=dtype)
    axes = [None, 0, 1, 2, -1, -3]
    outs = [fn(x, a) for fn in NUMPY for a in axes]
    v = sample((3, 4, 130), dtype)
    for (fn, a), got in zip([(fn, a) for fn in NUMPY for a in axes], function([x], outs)(v)):
        assert_same(got, NUMPY[fn](v, axis=a))


@pytest.mark.parametrize("shape", [(0, 3, 4), (2, 0, 5), (3, 4, 0)])
def test_empty_tensors(shape):
    x = T.dtensor3("x")
    outs = [fn(x, a) for fn in NUMPY for a in (None, 0, 1, 2)]
    v = np.zeros(shape)
    for k, got in enumerate(function([x], outs)(v)):
        fn, a = list(NUMPY)[k // 4], (None, 0, 1, 2)[k % 4]
        assert_same(got, NUMPY[fn](v, axis=a))


def test_vectors_scalars_and_views():
    v, s, m = T.lvector("v"), T.dscalar("s"), T.dmatrix("m")
    vv, mv = np.array([3, -1, 4, 1, -5], "int64"), rng.normal(size=(5, 7))
    outs = function([v, s, m], [T.cumsum(v), T.cumprod(v, 0), T.cumsum(s), T.cumprod(s),
                                T.cumsum(m.T[::-2], 1), T.cumprod(m[1:, ::3], 0)])(vv, 2.5, mv)
    assert_same(outs[0], np.cumsum(vv))
    assert_same(outs[1], np.cumprod(vv))
    assert_same(outs[2], np.cumsum(2.5))          # a 0-d tensor flattens to one entry
    assert_same(outs[3], np.cumprod(2.5))
    assert_same(outs[4], np.cumsum(mv.T[::-2], 1))
    assert_same(outs[5], np.cumprod(mv[1:, ::3], 0))


def test_integers_wrap_as_numpy():
    v = T.lvector("v")
    big = np.array([2 ** 62, 2 ** 62, 2 ** 62, -5, 3 ** 39], "int64")
    got = function([v], [T.cumsum(v), T.cumprod(v)])(big)
    assert_same(got[0], np.cumsum(big))
    assert_same(got[1], np.cumprod(big))


def test_methods_and_debug_mode():
    # debug mode checks every node's dtype, static shape and infer_shape
    x = T.ftensor3("x")
    v = sample((2, 3, 4), "float32")
    outs = function([x], [x.cumsum(1), x.cumprod(), T.cumsum(x, -1).shape], mode="debug")(v)
    assert_same(outs[0], np.cumsum(v, 1))
    assert_same(outs[1], np.cumprod(v))
    np.testing.assert_array_equal(outs[2], [2, 3, 4])


# -- types, props, errors ----------------------------------------------------------------
@pytest.mark.parametrize("dtype, want", [("int8", "int64"), ("bool", "int64"), ("uint8", "uint64"),
                                         ("int64", "int64"), ("float32", "float32"),
                                         ("float16", "float16"), ("complex64", "complex64")])
def test_output_dtype_is_numpys(dtype, want):
    x = T.tensor(dtype, shape=(None, 1), name="x")
    for fn in NUMPY:
        out = fn(x, 1)
        assert out.dtype == want == str(NUMPY[fn](np.zeros((2, 1), dtype), 1).dtype)
        assert out.type.shape == (None, 1)   # broadcastable axes stay broadcastable


def test_equal_ops_merge():
    x = T.dmatrix("x")
    assert CumOp(1, "add") == CumOp(1) != CumOp(1, "mul")
    assert T.cumsum(x, -1).owner.op == T.cumsum(x, 1).owner.op
    f = function([x], [T.cumsum(x, 1), T.cumsum(x, -1)])
    assert sum(isinstance(n.op, CumOp) for n in f.maker.fgraph.toposort()) == 1


def test_errors():
    x = T.dmatrix("x")
    with pytest.raises(IndexError, match="out of range"):
        T.cumsum(x, 2)
    with pytest.raises(IndexError, match="out of range"):
        T.cumprod(x, -3)
    with pytest.raises(TypeError, match="one axis"):
        T.cumsum(x, (0, 1))
    with pytest.raises(IndexError, match="0-d"):
        T.cumsum(T.dscalar(), 0)
    with pytest.raises(ValueError, match="non-negative"):
        CumOp(-1)
    with pytest.raises(ValueError, match="'add' or 'mul'"):
        CumOp(0, "max")


# -- gradients ---------------------------------------------------------------------------
def cumprod_grad_by_hand(x, g, axis):
    """d sum(g * cumprod(x)) / dx from the definition: products that leave x_k out."""
    x, g = np.moveaxis(x, axis, -1), np.moveaxis(g, axis, -1)
    out = np.zeros_like(x)
    for idx in np.ndindex(x.shape[:-1]):
        line, gl = x[idx], g[idx]
        for k in range(line.size):
            others = line.copy()
            others[k] = 1.0
            out[idx + (k,)] = np.sum(gl[k:] * np.cumprod(others)[k:])
    return np.moveaxis(out, -1, axis)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum_gradient(axis):
    verify_grad(lambda x: T.cumsum(x, axis), [rng.normal(size=(2, 3, 4))])


@pytest.mark.parametrize("axis", [None, 0, 2, -2])
def test_cumprod_gradient_without_zeros(axis):
    verify_grad(lambda x: T.cumprod(x, axis), [sample((2, 3, 4), "float64")])


def test_cumprod_gradient_is_exact_at_zeros():
    # one zero, two zeros, zeros first and last, all zeros, a zero beside a tiny value
    v = np.array([[2.0, 0.0, 3.0, -1.5, 0.5],
                  [1.5, 0.0, 2.0, 0.0, -3.0],
                  [0.0, 4.0, 0.5, 2.0, 1.0],
                  [1.2, -0.7, 2.0, 3.0, 0.0],
                  [0.0, 0.0, 0.0, 0.0, 0.0],
                  [1e-8, 0.0, 7.0, 1.0, 1.0]])
    x, g = T.dmatrix("x"), T.dmatrix("g")
    gv = rng.normal(size=v.shape)
    grads = function([x, g], [T.grad((T.cumprod(x, 1) * g).sum(), x),
                              T.grad((T.cumprod(x, 0) * g).sum(), x)])(v, gv)
    np.testing.assert_allclose(grads[0], cumprod_grad_by_hand(v, gv, 1), rtol=1e-12, atol=0)
    np.testing.assert_allclose(grads[1], cumprod_grad_by_hand(v, gv, 0), rtol=1e-12, atol=0)
    assert np.isfinite(grads[0]).all() and np.isfinite(grads[1]).all()
    # the finite differences agree (cumprod is a polynomial: no kink at 0)
    verify_grad(lambda t: T.cumprod(t, 1), [v])
    verify_grad(lambda t: T.cumprod(t), [v])


def test_float32_gradients_stay_float32():
    x = T.fmatrix("x")
    for fn in NUMPY:
        gx = T.grad(fn(x, 1).sum(), x)
        assert gx.dtype == "float32"
        got = function([x], gx)(np.array([[1.0, 0.0, 2.0]], "float32"))
        assert got.dtype == np.float32


def test_gradient_of_empty_tensors():
    x = T.dmatrix("x")
    outs = function([x], [T.grad(fn(x, 1).sum(), x) for fn in NUMPY])(np.zeros((0, 3)))
    assert [o.shape for o in outs] == [(0, 3), (0, 3)]


def test_second_derivatives():
    # The gradients are graphs of CumOp, indexing and elementwise ops, so they
    # differentiate again (exactly where x has no zeros, as for T.prod).
    v = sample((3, 4), "float64")
    verify_grad(lambda x: T.grad((T.cumsum(x, 1) ** 2).sum(), x), [v])
    verify_grad(lambda x: T.grad((T.cumprod(x, 0) * T.cumsum(x, 1)).sum(), x), [v])
    x = T.dvector("x")
    hess = function([x], T.hessian(T.cumprod(x).sum(), x))(np.array([2.0, 3.0, 5.0]))
    np.testing.assert_allclose(hess, [[0, 1 + 5, 3], [1 + 5, 0, 2], [3, 2, 0]])
