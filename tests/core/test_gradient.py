"""T.grad and friends: semantics, gradient-control ops, STE, higher order, errors."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared, verify_grad
from nnframe.core.gradient import GradientError, NullGradError
from nnframe.core.graph import Apply
from nnframe.core.op import Op, as_tensor_variable

rng = np.random.default_rng(1)


def test_simple_gradient_and_second_derivative():
    x = T.dscalar('x')
    y = x ** 3
    g = T.grad(y, x)
    gg = T.grad(g, x)
    f = function([x], [g, gg])
    assert [float(v) for v in f(2.0)] == [12.0, 12.0]


def test_gradient_of_a_tutorial_logistic_cost():
    x = T.dmatrix('x')
    w = shared(rng.normal(size=3), name='w')
    s = 1 / (1 + T.exp(-T.dot(x, w)))
    cost = s.sum()
    gw = function([x], T.grad(cost, w))
    xv = rng.normal(size=(4, 3))
    sv = 1 / (1 + np.exp(-xv @ w.get_value()))
    np.testing.assert_allclose(gw(xv), xv.T @ (sv * (1 - sv)))


def test_consider_constant_blocks_the_gradient():
    x = T.dscalar('x')
    y = x * 2
    z = y * x
    g = function([x], T.grad(z, x, consider_constant=[y]))
    assert g(3.0) == 6.0      # only the explicit x factor is differentiated


def test_disconnected_inputs():
    x, y = T.dscalars('x', 'y')
    cost = x * 2
    with pytest.raises(T.DisconnectedInputError, match="does not depend on y"):
        T.grad(cost, [x, y])
    with pytest.warns(UserWarning, match="disconnected"):
        gx, gy = T.grad(cost, [x, y], disconnected_inputs='warn')
    gx, gy = T.grad(cost, [x, y], disconnected_inputs='ignore')
    f = function([x, y], [gx, gy])
    assert [float(v) for v in f(1.0, 1.0)] == [2.0, 0.0]


def test_cost_must_be_a_float_scalar():
    x = T.dvector('x')
    with pytest.raises(TypeError, match="must be a scalar"):
        T.grad(x * 2, x)
    with pytest.raises(TypeError, match="integer"):
        T.grad(T.ivector('i').sum().astype('float64'), T.ivector('j'))


def test_gradient_through_complex_values_is_refused():
    x = T.dvector('x')
    z = T.complex(x, x * 2)
    cost = T.real(z * z).sum()
    with pytest.raises(TypeError, match="complex"):
        T.grad(cost, x)
    with pytest.raises(TypeError, match="complex"):
        T.grad(T.abs(T.zvector('zz')).sum(), T.zvector('w'))


def test_sgn_floor_round_and_comparisons_have_zero_gradient():
    x = T.dvector('x')
    for expr in (T.sgn(x), T.floor(x), T.round(x), T.cast(x > 0, 'float64')):
        g = function([x], T.grad((expr * 3).sum(), x))(np.array([0.3, -1.2]))
        np.testing.assert_array_equal(g, [0.0, 0.0])


def test_gradient_control_ops():
    x = T.dvector('x')
    v = np.array([0.5, -2.0, 3.0])
    cost = lambda e: (e * e).sum()
    g_zero = function([x], T.grad(cost(T.zero_grad(x)), x))(v)
    np.testing.assert_array_equal(g_zero, [0, 0, 0])
    with pytest.raises(T.DisconnectedInputError):
        T.grad(cost(T.disconnected_grad(x)), x)
    g_stop = T.grad(cost(T.disconnected_grad(x)) + x.sum(), x)
    np.testing.assert_array_equal(function([x], g_stop)(v), [1, 1, 1])
    g_clip = function([x], T.grad(cost(T.grad_clip(x, -1.0, 1.0)), x))(v)
    np.testing.assert_array_equal(g_clip, np.clip(2 * v, -1, 1))
    g_scale = function([x], T.grad(cost(T.grad_scale(x, 0.5)), x))(v)
    np.testing.assert_array_equal(g_scale, v)
    values = function([x], [T.zero_grad(x), T.disconnected_grad(x), T.grad_clip(x, -1, 1)])(v)
    for out in values:
        np.testing.assert_array_equal(out, v)     # forward is the identity


@pytest.mark.parametrize("estimator", ["identity", "hardtanh"])
def test_ste_sign_forward_and_gradient(estimator):
    x = T.dvector('x')
    b = T.ste_sign(x, estimator=estimator)
    v = np.array([-2.0, -1.0, -0.3, 0.0, 0.4, 1.0, 1.5])
    g = T.grad((b * np.arange(7.0)).sum(), x)
    out, gv = function([x], [b, g])(v)
    np.testing.assert_array_equal(out, [-1, -1, -1, 1, 1, 1, 1])     # 0 maps to +1
    mask = np.ones(7) if estimator == "identity" else (np.abs(v) <= 1).astype(float)
    np.testing.assert_array_equal(gv, np.arange(7.0) * mask)


def test_ste_sign_rejects_unknown_estimator():
    with pytest.raises(ValueError, match="identity.*hardtanh"):
        T.ste_sign(T.dvector(), estimator='sigmoid')


def test_generic_ste_pair():
    x = T.dvector('x')
    y = T.ste(T.round(x), x * 3)
    v = np.array([0.2, 1.7])
    out, g = function([x], [y, T.grad(y.sum(), x)])(v)
    np.testing.assert_array_equal(out, [0, 2])
    np.testing.assert_array_equal(g, [3, 3])


def hashing_autoencoder(code):
    """L = ||f(code(g(X))) - X||^2 with linear g and f."""
    X = T.dmatrix('X')
    W_enc = shared(rng.normal(size=(6, 4)), name='W_enc')
    W_dec = shared(rng.normal(size=(4, 6)), name='W_dec')
    z = T.dot(X, W_enc)
    recon = T.dot(code(z), W_dec)
    loss = ((recon - X) ** 2).sum()
    return X, W_enc, W_dec, loss


def test_hashing_point_sgn_gives_exactly_zero_encoder_gradient():
    X, W_enc, W_dec, loss = hashing_autoencoder(T.sgn)
    g_enc, g_dec = T.grad(loss, [W_enc, W_dec])
    ge, gd = function([X], [g_enc, g_dec])(rng.normal(size=(5, 6)))
    assert np.all(ge == 0.0)
    assert np.any(gd != 0.0)


@pytest.mark.parametrize("estimator", ["identity", "hardtanh"])
def test_hashing_point_ste_gives_the_analytic_gradient(estimator):
    X, W_enc, W_dec, loss = hashing_autoencoder(lambda z: T.ste_sign(z, estimator))
    g_enc = function([X], T.grad(loss, W_enc))
    xv = rng.normal(size=(5, 6))
    we, wd = W_enc.get_value(), W_dec.get_value()
    z = xv @ we
    b = np.where(z >= 0, 1.0, -1.0)
    d_recon = 2 * (b @ wd - xv)
    d_b = d_recon @ wd.T
    d_z = d_b if estimator == "identity" else d_b * (np.abs(z) <= 1)
    expected = xv.T @ d_z
    got = g_enc(xv)
    assert np.any(got != 0)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_jacobian_and_hessian():
    x = T.dvector('x')
    y = x ** 2 * T.sum(x)
    J = T.jacobian(y, x)
    H = T.hessian((x ** 3).sum(), x)
    v = np.array([1.0, 2.0, 3.0])
    j, h = function([x], [J, H])(v)
    s = v.sum()
    np.testing.assert_allclose(j, np.diag(2 * v * s) + (v ** 2)[:, None])
    np.testing.assert_allclose(h, np.diag(6 * v))


def test_jacobian_of_a_matrix_expression_has_combined_shape():
    x = T.dvector('x')
    W = T.dmatrix('W')
    J = T.jacobian(T.outer(x, x) * 2, x)
    out = function([x], J)(np.array([1.0, 2.0]))
    assert out.shape == (2, 2, 2)
    assert out[0, 1, 1] == 2.0 and out[0, 1, 0] == 4.0
    Jw = function([x, W], T.jacobian(T.dot(W, x), W))(np.array([1.0, 2.0]), np.ones((3, 2)))
    assert Jw.shape == (3, 3, 2)


def test_gradient_of_a_jacobian():
    x = T.dvector('x')
    J = T.jacobian(T.tanh(x) * x.sum(), x)
    verify_grad(lambda v: T.jacobian(T.tanh(v) * v.sum(), v), [np.array([0.1, -0.5, 0.7])])
    assert J.ndim == 2


def test_lop_and_rop():
    x = T.dvector('x')
    W = T.dmatrix('W')
    y = T.tanh(T.dot(W, x))
    u, v = T.dvector('u'), T.dvector('v')
    lop = T.Lop(y, x, u)
    rop = T.Rop(y, x, v)
    Wv, xv = rng.normal(size=(3, 2)), rng.normal(size=2)
    uv, vv = rng.normal(size=3), rng.normal(size=2)
    jac = (1 - np.tanh(Wv @ xv) ** 2)[:, None] * Wv
    np.testing.assert_allclose(function([W, x, u], lop)(Wv, xv, uv), uv @ jac)
    np.testing.assert_allclose(function([W, x, v], rop)(Wv, xv, vv), jac @ vv)


def test_known_grads():
    x = T.dvector('x')
    y = x * 3
    g = T.grad(None, x, known_grads={y: T.ones_like(y)})
    np.testing.assert_array_equal(function([x], g)(np.zeros(2)), [3, 3])


class BadSquare(Op):
    """x**2 with a deliberately wrong gradient (3x instead of 2x)."""

    __props__ = ()

    def make_node(self, x):
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type])

    def L_op(self, inputs, outputs, output_grads):
        return [output_grads[0] * 3 * inputs[0]]


def test_verify_grad_detects_a_wrong_gradient(monkeypatch):
    from nnframe.backends.numpy import registry
    monkeypatch.setitem(registry.KERNELS, BadSquare, lambda node: lambda x: x * x)
    with pytest.raises(GradientError, match="differs from finite differences"):
        verify_grad(lambda x: BadSquare()(x), [np.array([0.5, 1.0])])


def test_undefined_and_missing_gradients_are_clear_errors():
    i = T.arange(0.0, T.dscalar('n'), 1.0)
    with pytest.raises(NullGradError, match="arange"):
        T.grad(i.sum(), i.owner.inputs[1])

    class NoGrad(Op):
        __props__ = ()

        def make_node(self, x):
            return Apply(self, [x], [x.type])
    x = T.dvector('x')
    with pytest.raises(NullGradError, match="NoGrad has no gradient"):
        T.grad(NoGrad()(x).sum(), x)
