"""Graph helpers of nnframe.tensor that are not an Op of their own (Theano's spellings)."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad


def _np_logsumexp(x, axis=None, keepdims=False):
    peak = np.max(x, axis=axis, keepdims=True)
    peak = np.where(np.isinf(peak), 0.0, peak)
    out = np.log(np.sum(np.exp(x - peak), axis=axis, keepdims=True)) + peak
    return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_matches_numpy_and_keeps_shapes(axis, keepdims):
    x = T.dtensor3("x")
    xv = np.random.default_rng(0).normal(size=(2, 3, 4)) * 5
    out = function([x], T.logsumexp(x, axis=axis, keepdims=keepdims))(xv)
    want = np.log(np.sum(np.exp(xv), axis=axis, keepdims=keepdims))
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert out.shape == want.shape


def test_logsumexp_is_finite_for_huge_and_minus_infinite_inputs():
    x = T.dmatrix("x")
    f = function([x], T.logsumexp(x, axis=1))
    xv = np.array([[1000.0, 1000.0], [-1000.0, -np.inf], [-np.inf, -np.inf]])
    with np.errstate(divide="ignore"):     # log(0) of the all -inf row, as in NumPy
        out, want = f(xv), _np_logsumexp(xv, axis=1)
    np.testing.assert_allclose(out[:2], [1000.0 + np.log(2.0), -1000.0])
    assert out[2] == -np.inf
    np.testing.assert_allclose(out, want)


def test_logsumexp_gradient_is_the_softmax():
    x = T.dmatrix("x")
    xv = np.random.default_rng(1).normal(size=(3, 5)) * 300
    g = function([x], T.grad(T.sum(T.logsumexp(x, axis=1)), x))(xv)
    e = np.exp(xv - xv.max(axis=1, keepdims=True))
    np.testing.assert_allclose(g, e / e.sum(axis=1, keepdims=True), rtol=1e-12, atol=1e-300)
    verify_grad(lambda a: T.logsumexp(a, axis=0), [np.random.default_rng(2).normal(size=(4, 3))])
    verify_grad(lambda a: T.logsumexp(a), [np.random.default_rng(3).normal(size=(4, 3))])


def test_shape_pads_insert_broadcastable_axes():
    v = T.dvector("v")
    assert T.shape_padleft(v, 2).broadcastable == (True, True, False)
    assert T.shape_padright(v).broadcastable == (False, True)
    assert T.shape_padaxis(T.dmatrix("m"), 1).broadcastable == (False, True, False)
    vv = np.arange(3.0)
    out = function([v], [T.shape_padleft(v, 2), T.shape_padright(v, 2)])(vv)
    assert out[0].shape == (1, 1, 3) and out[1].shape == (3, 1, 1)


def test_join_and_stacks_follow_numpy():
    a, b = T.dmatrices("a", "b")
    av, bv = np.ones((2, 3)), np.zeros((2, 3))
    j, h, v = function([a, b], [T.join(1, a, b), T.horizontal_stack(a, b),
                                T.vertical_stack(a, b)])(av, bv)
    np.testing.assert_array_equal(j, np.hstack([av, bv]))
    np.testing.assert_array_equal(h, np.hstack([av, bv]))
    np.testing.assert_array_equal(v, np.vstack([av, bv]))
