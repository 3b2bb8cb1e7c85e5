"""Shape ops, reductions and matrix products: values vs NumPy, gradients, shapes."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad

rng = np.random.default_rng(2)


def run_debug(inputs, outputs, *values):
    """Run in debug mode too: it checks dtypes, static shapes and infer_shape per node."""
    debug = function(inputs, outputs, mode='debug')(*values)
    plain = function(inputs, outputs)(*values)
    for d, p in zip(debug if isinstance(debug, list) else [debug],
                    plain if isinstance(plain, list) else [plain]):
        # equal up to rounding: on another device (--device=opencl) BLAS sums differently
        np.testing.assert_allclose(d, p, rtol=1e-12, atol=1e-15)
    return plain


# -- shape ------------------------------------------------------------------------------
def test_dimshuffle_transpose_and_squeeze():
    x = T.dtensor3('x')
    v = rng.normal(size=(2, 3, 4))
    outs = run_debug([x], [x.dimshuffle(2, 'x', 0, 1), x.T, x.transpose(1, 0, 2),
                           T.expand_dims(x, 1)], v)
    np.testing.assert_array_equal(outs[0], v.transpose(2, 0, 1)[:, None])
    np.testing.assert_array_equal(outs[1], v.T)
    np.testing.assert_array_equal(outs[2], v.transpose(1, 0, 2))
    assert outs[3].shape == (2, 1, 3, 4)
    c = T.dcol('c')
    assert T.squeeze(c).ndim == 1
    assert run_debug([c], T.squeeze(c), np.ones((3, 1))).shape == (3,)


def test_dimshuffle_errors():
    x = T.dmatrix('x')
    with pytest.raises(ValueError, match="drops axis 1"):
        x.dimshuffle(0)
    with pytest.raises(ValueError, match="not valid"):
        x.dimshuffle(0, 0)


def test_reshape_flatten_and_symbolic_shapes():
    x = T.dtensor3('x')
    n = T.lscalar('n')
    v = rng.normal(size=(2, 3, 4))
    outs = run_debug([x, n], [x.reshape((6, 4)), x.reshape((n, -1)), x.flatten(),
                              x.flatten(2), x.shape,
                              T.reshape(x, (n, 3, 4))], v, 2)
    np.testing.assert_array_equal(outs[0], v.reshape(6, 4))
    np.testing.assert_array_equal(outs[1], v.reshape(2, -1))
    np.testing.assert_array_equal(outs[2], v.ravel())
    np.testing.assert_array_equal(outs[3], v.reshape(2, 12))
    np.testing.assert_array_equal(outs[4], [2, 3, 4])
    np.testing.assert_array_equal(outs[5], v)
    with pytest.raises(ValueError, match="cannot reshape"):
        function([x], x.reshape((5, 5)))(v)


def test_concatenate_stack_split():
    a, b = T.dmatrices('a', 'b')
    av, bv = rng.normal(size=(2, 3)), rng.normal(size=(4, 3))
    outs = run_debug([a, b], [T.concatenate([a, b]), T.stack([a, a], axis=1),
                              T.split(b, [1, 3], 0)[1], T.stack([a.sum(), b.sum()])], av, bv)
    np.testing.assert_array_equal(outs[0], np.concatenate([av, bv]))
    np.testing.assert_array_equal(outs[1], np.stack([av, av], axis=1))
    np.testing.assert_array_equal(outs[2], bv[1:])
    np.testing.assert_allclose(outs[3], [av.sum(), bv.sum()])


def test_alloc_zeros_ones_full_arange():
    n = T.lscalar('n')
    outs = run_debug([n], [T.zeros((n, 2)), T.ones(n, dtype='int32'), T.full((2, n), 7.0),
                           T.arange(n), T.arange(1, n, 2), T.arange(0.5, n, 1.5)], 5)
    np.testing.assert_array_equal(outs[0], np.zeros((5, 2)))
    assert outs[0].dtype == np.float32 and outs[1].dtype == np.int32
    np.testing.assert_array_equal(outs[2], np.full((2, 5), 7.0))
    np.testing.assert_array_equal(outs[3], np.arange(5))
    np.testing.assert_array_equal(outs[4], np.arange(1, 5, 2))
    np.testing.assert_allclose(outs[5], np.arange(0.5, 5, 1.5))
    assert T.arange(5).type.shape == (5,)


def test_zeros_like_ones_like_fill():
    x = T.fmatrix('x')
    outs = run_debug([x], [T.zeros_like(x), T.ones_like(x, dtype='int8'), T.fill(x, 3.0)],
                     np.ones((2, 3), 'float32'))
    assert outs[0].dtype == np.float32 and outs[1].dtype == np.int8
    np.testing.assert_array_equal(outs[2], np.full((2, 3), 3.0))


def test_specify_shape_and_addbroadcast_check_at_run_time():
    x = T.dmatrix('x')
    y = T.addbroadcast(x, 0)
    assert y.broadcastable == (True, False)
    f = function([x], y + 1)
    assert f(np.ones((1, 3))).shape == (1, 3)
    with pytest.raises(ValueError, match="declared static shape"):
        f(np.ones((2, 3)))
    assert T.unbroadcast(T.drow(), 0).broadcastable == (False, False)


SHAPE_GRADS = [
    ("dimshuffle", lambda x: x.dimshuffle(1, 'x', 0) * np.arange(2.0), (2, 3)),
    ("reshape", lambda x: x.reshape((3, 2)) * np.arange(6.0).reshape(3, 2), (2, 3)),
    ("flatten", lambda x: x.flatten() * np.arange(6.0), (2, 3)),
    ("concatenate", lambda x: T.concatenate([x, x * 2], axis=1), (2, 3)),
    ("stack", lambda x: T.stack([x, x ** 2]), (2, 3)),
    ("split", lambda x: T.split(x, [1, 2], 1)[1] * 3, (2, 3)),
    ("alloc", lambda x: T.alloc(x, 4, 2, 3), (2, 3)),
    ("make_vector", lambda x: T.stack([x.sum(), (x ** 2).sum()]), (2, 3)),
    ("specify_shape", lambda x: T.specify_shape(x, (2, None)) ** 2, (2, 3)),
    ("second", lambda x: T.fill(x, x.sum()), (2, 3)),
]


@pytest.mark.parametrize("name, fn, shape", SHAPE_GRADS, ids=[c[0] for c in SHAPE_GRADS])
def test_shape_op_gradients(name, fn, shape):
    verify_grad(fn, [rng.normal(size=shape)])


# -- reductions ---------------------------------------------------------------------------
AXES = [None, 0, 1, (0, 2), -1]


@pytest.mark.parametrize("axis", AXES)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", ["sum", "prod", "max", "min", "mean", "var", "std", "all", "any"])
def test_reductions_match_numpy(name, axis, keepdims):
    x = T.dtensor3('x')
    v = rng.normal(size=(2, 3, 4))
    if name in ("all", "any"):
        v = v > 0
        x = T.tensor('bool', shape=(None,) * 3)
    out = run_debug([x], getattr(T, name)(x, axis=axis, keepdims=keepdims), v)
    want = getattr(np, name)(v, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert out.shape == np.shape(want)


@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_arg_reductions(name, axis):
    x = T.dmatrix('x')
    v = rng.normal(size=(3, 4))
    out = run_debug([x], getattr(T, name)(x, axis=axis), v)
    np.testing.assert_array_equal(out, getattr(np, name)(v, axis=axis))
    assert out.dtype == np.int64
    kept = function([x], getattr(T, name)(x, axis=axis, keepdims=True))(v)
    assert kept.shape == getattr(np, name)(v, axis=axis, keepdims=True).shape


def test_reduction_dtypes_follow_numpy():
    assert T.sum(T.ivector()).dtype == 'int64'
    assert T.sum(T.fvector()).dtype == 'float32'
    assert T.mean(T.ivector()).dtype == 'float64'
    assert T.mean(T.fmatrix(), axis=0).dtype == 'float32'
    assert T.var(T.fvector()).dtype == 'float32'
    assert T.max(T.bvector()).dtype == 'int8'


def test_reduction_errors():
    with pytest.raises(IndexError, match="out of range"):
        T.sum(T.dmatrix(), axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        T.sum(T.dmatrix(), axis=(0, 0))
    with pytest.raises(TypeError, match="one axis"):
        T.argmax(T.dmatrix(), axis=(0, 1))


REDUCE_GRADS = [
    ("sum", lambda x: T.sum(x, axis=1) ** 2),
    ("sum_keepdims", lambda x: x * T.sum(x, axis=0, keepdims=True)),
    ("prod", lambda x: T.prod(x, axis=1)),
    ("max", lambda x: T.max(x, axis=0)),
    ("min", lambda x: T.min(x, axis=(0, 1))),
    ("mean", lambda x: T.mean(x, axis=1) ** 2),
    ("var", lambda x: T.var(x, axis=0)),
    ("std", lambda x: T.std(x)),
]


@pytest.mark.parametrize("name, fn", REDUCE_GRADS, ids=[c[0] for c in REDUCE_GRADS])
def test_reduction_gradients(name, fn):
    verify_grad(fn, [rng.normal(size=(3, 4))])


@pytest.mark.parametrize("zeros", [[], [(0, 1)], [(0, 1), (0, 2)]])
def test_prod_gradient_with_zeros(zeros):
    v = rng.uniform(0.5, 2.0, size=(2, 3))
    for idx in zeros:
        v[idx] = 0.0
    x = T.dmatrix('x')
    g = function([x], T.grad(T.prod(x, axis=1).sum(), x))(v)
    expected = np.zeros_like(v)
    for i in range(2):
        for j in range(3):
            expected[i, j] = np.prod(np.delete(v[i], j))
    np.testing.assert_allclose(g, expected)


def test_max_gradient_goes_to_ties():
    x = T.dvector('x')
    g = function([x], T.grad(T.max(x), x))(np.array([1.0, 3.0, 3.0]))
    np.testing.assert_array_equal(g, [0, 1, 1])


# -- products ----------------------------------------------------------------------------
@pytest.mark.parametrize("sx, sy", [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
                                    ((2, 2, 3), (3, 4)), ((2, 3), (5, 3, 4))])
def test_dot_matches_numpy(sx, sy):
    x = T.tensor('float64', shape=(None,) * len(sx))
    y = T.tensor('float64', shape=(None,) * len(sy))
    xv, yv = rng.normal(size=sx), rng.normal(size=sy)
    out = run_debug([x, y], T.dot(x, y), xv, yv)
    np.testing.assert_allclose(out, np.dot(xv, yv))
    verify_grad(T.dot, [xv, yv])


def test_matmul_operator_and_scalar_dot():
    x, y = T.dmatrices('x', 'y')
    np.testing.assert_allclose(function([x, y], x @ y)(np.eye(2), np.ones((2, 2))), np.ones((2, 2)))
    assert T.dot(T.dscalar(), T.dvector()).ndim == 1


@pytest.mark.parametrize("axes, b_shape", [(2, (4, 3, 2)), (1, (3, 2, 2)), ([[1], [0]], (4, 2, 2)),
                                            ([[0, 2], [2, 0]], (3, 2, 3))])
def test_tensordot(axes, b_shape):
    a, b = T.dtensor3('a'), T.dtensor3('b')
    av, bv = rng.normal(size=(3, 4, 3)), rng.normal(size=b_shape)
    out = run_debug([a, b], T.tensordot(a, b, axes), av, bv)
    np.testing.assert_allclose(out, np.tensordot(av, bv, axes))
    verify_grad(lambda p, q: T.tensordot(p, q, axes), [av, bv])


@pytest.mark.parametrize("sx, sy", [((4, 2, 3), (4, 3, 5)), ((4, 3), (4, 3)), ((4, 2, 3), (4, 3)),
                                    ((4, 3), (4, 3, 5))])
def test_batched_dot(sx, sy):
    x = T.tensor('float64', shape=(None,) * len(sx))
    y = T.tensor('float64', shape=(None,) * len(sy))
    xv, yv = rng.normal(size=sx), rng.normal(size=sy)
    out = run_debug([x, y], T.batched_dot(x, y), xv, yv)
    want = np.stack([np.dot(a, b) for a, b in zip(xv, yv)])
    np.testing.assert_allclose(out, want)
    verify_grad(T.batched_dot, [xv, yv])


def test_dot_static_mismatch_and_dtype():
    a = T.tensor('float32', shape=(None, 3))
    b = T.tensor('float32', shape=(4, None))
    with pytest.raises(ValueError, match="inner lengths differ"):
        T.dot(a, b)
    assert T.dot(T.imatrix(), T.fmatrix()).dtype == 'float64'
    assert T.dot(T.fmatrix(), T.fmatrix()).dtype == 'float32'


def test_outer():
    x, y = T.dvectors('x', 'y')
    out = function([x, y], T.outer(x, y))(np.arange(2.0), np.arange(3.0))
    np.testing.assert_array_equal(out, np.outer(np.arange(2.0), np.arange(3.0)))
