"""ifelse: values of both branches, laziness, shared variables and givens, gradients
(first and second order), types and errors; T.switch stays eager.

Runs on either backend (``--device=opencl``); the tests that count NumPy kernel calls
compile with ``mode='numpy'``.
"""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared, verify_grad
from nnframe.backends.numpy.registry import KERNELS
from nnframe.core.ops.cumulative import CumOp
from nnframe.core.ops.ifelse import IfElse
from nnframe.ifelse import IfElse as TheanoIfElse
from nnframe.ifelse import ifelse

rng = np.random.default_rng(11)


def run_debug(inputs, outputs, *values):
    """Run in debug mode too: it checks dtypes, static shapes, infer_shape and aliasing."""
    debug = function(inputs, outputs, mode="debug")(*values)
    plain = function(inputs, outputs)(*values)
    for d, p in zip(debug if isinstance(debug, list) else [debug],
                    plain if isinstance(plain, list) else [plain]):
        np.testing.assert_allclose(d, p, rtol=1e-12, atol=1e-15)
    return plain


@pytest.fixture
def cumsum_calls(monkeypatch):
    """Counts the calls of the NumPy kernel of CumOp (cumsum) while the test runs."""
    calls = []
    factory = KERNELS[CumOp]

    def counting_factory(node):
        kernel = factory(node)

        def run(*args):
            calls.append(1)
            return kernel(*args)
        return run
    monkeypatch.setitem(KERNELS, CumOp, counting_factory)
    return calls


# -- names ---------------------------------------------------------------------------------
def test_theano_spellings():
    assert T.ifelse is ifelse and TheanoIfElse is IfElse
    assert "ifelse" in T.__all__


# -- values --------------------------------------------------------------------------------
def test_scalars_both_branches():
    a, b = T.dscalars("a", "b")
    x, y = T.dscalars("x", "y")
    f = function([a, b, x, y], ifelse(T.lt(a, b), x * 2, y - 1))
    assert f(1.0, 2.0, 3.0, 10.0) == 6.0
    assert f(2.0, 1.0, 3.0, 10.0) == 9.0
    assert f(1.0, 1.0, 3.0, 10.0) == 9.0


@pytest.mark.parametrize("taken", [True, False])
def test_matrices_both_branches(taken):
    c = T.bscalar("c")
    x, y = T.dmatrices("x", "y")
    vx, vy = rng.normal(size=(3, 4)), rng.normal(size=(4, 3))
    out = run_debug([c, x, y], ifelse(c, T.dot(x, y), T.tanh(y.T).dot(x.T)), int(taken), vx, vy)
    want = vx @ vy if taken else np.tanh(vy.T) @ vx.T
    np.testing.assert_allclose(out, want, rtol=1e-12)
    assert out.shape == want.shape


@pytest.mark.parametrize("taken", [True, False])
def test_lists_of_outputs(taken):
    c = T.lscalar("c")
    x = T.dvector("x")
    v = rng.normal(size=5)
    outs = ifelse(c, [x.sum(), x * 2, x.max()], [x.mean(), x[::-1], x.min()])
    assert isinstance(outs, list) and len(outs) == 3
    got = run_debug([c, x], outs, int(taken), v)
    want = [v.sum(), v * 2, v.max()] if taken else [v.mean(), v[::-1], v.min()]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert isinstance(ifelse(c, (x, x), (x, x)), tuple)
    assert isinstance(ifelse(c, x, [x]), T.TensorVariable)   # then_branch decides, as Theano


@pytest.mark.parametrize("dtype", ["bool", "int8", "int64", "uint16", "float32", "float64"])
def test_condition_of_any_dtype_nonzero_is_true(dtype):
    c = T.scalar("c", dtype=dtype)
    x = T.dvector("x")
    f = function([c, x], ifelse(c, x + 1, x - 1))
    v = np.zeros(2)
    np.testing.assert_array_equal(f(np.ones((), dtype), v), [1, 1])
    np.testing.assert_array_equal(f(np.zeros((), dtype), v), [-1, -1])


def test_constant_condition_and_constant_branches():
    x = T.dvector("x")
    assert float(ifelse(True, 1.0, 2.0).eval()) == 1.0
    assert float(ifelse(0, 1.0, 2.0).eval()) == 2.0
    f = function([x], ifelse(1, x.sum(), -1.0))
    assert f(np.ones(3)) == 3.0


def test_python_numbers_take_the_other_branch_dtype():
    s = T.fscalar("s")
    i = T.bscalar("i")
    z = ifelse(T.gt(s, 0), s, 0.0)
    assert z.dtype == "float32"
    assert ifelse(T.gt(s, 0), 1, i).dtype == "int8"
    assert function([s], z)(np.float32(-2)) == 0.0
    with pytest.raises(TypeError, match="then_branch is 2.5, which does not fit"):
        ifelse(T.gt(s, 0), 2.5, i)
    with pytest.raises(TypeError, match="else_branch is 300"):
        ifelse(T.gt(s, 0), i, 300)


def test_static_shapes_keep_what_both_branches_agree_on():
    c = T.bscalar("c")
    a = T.tensor("float64", shape=(3, None, 1), name="a")
    b = T.tensor("float64", shape=(3, 4, None), name="b")
    assert ifelse(c, a, b).type.shape == (3, None, None)
    assert ifelse(c, a, a * 2).type.shape == (3, None, 1)
    va, vb = np.ones((3, 2, 1)), np.zeros((3, 4, 5))
    assert run_debug([c, a, b], ifelse(c, a, b), 1, va, vb).shape == (3, 2, 1)
    assert run_debug([c, a, b], ifelse(c, a, b), 0, va, vb).shape == (3, 4, 5)


def test_outputs_never_alias_the_callers_arrays():
    c = T.bscalar("c")
    x = T.dmatrix("x")
    f = function([c, x], ifelse(c, [x, x.T], [x[::-1], x]))
    v = np.arange(6.0).reshape(2, 3)
    keep = v.copy()
    for taken in (1, 0):
        for out in f(taken, v):
            out[...] = -1
        np.testing.assert_array_equal(v, keep)
    run_debug([c, x], ifelse(c, x, x.T.T), 1, v)   # debug mode checks undeclared views


def test_nested_ifelse():
    a = T.dscalar("a")
    x = T.dvector("x")
    z = ifelse(T.gt(a, 0), ifelse(T.gt(a, 10), x * 100, x * 10), ifelse(T.lt(a, -10), -x, x))
    f = function([a, x], z)
    v = np.array([1.0, 2.0])
    for av, want in [(20, v * 100), (5, v * 10), (-20, -v), (-5, v)]:
        np.testing.assert_array_equal(f(av, v), want)


def test_an_expression_also_used_outside():
    c = T.bscalar("c")
    x = T.dvector("x")
    h = T.exp(x)
    f = function([c, x], [h, ifelse(c, h * 2, h)])
    v = rng.normal(size=4)
    h_out, z = f(1, v)
    np.testing.assert_allclose(h_out, np.exp(v))
    np.testing.assert_allclose(z, 2 * np.exp(v))


def test_str_and_printing():
    from nnframe import debugprint, pp
    c = T.bscalar("c")
    x = T.dvector("x")
    assert str(ifelse(c, x, -x).owner.op) == "IfElse"
    assert str(ifelse(c, [x, x], [x, x])[0].owner.op) == "IfElse{2 outputs}"
    z = ifelse(c, x, -x, name="pick")
    assert str(z.owner.op) == "IfElse{pick}"
    assert "IfElse{pick}" in pp(z)
    assert "IfElse{pick}" in debugprint(z, file="str")


# -- laziness ------------------------------------------------------------------------------
def test_untaken_branch_is_not_evaluated_index_out_of_range():
    x = T.dvector("x")
    i = T.lscalar("i")
    f = function([x, i], ifelse(T.lt(i, x.shape[0]), x[i], T.constant(-1.0, dtype="float64")))
    v = np.array([4.0, 5.0])
    assert f(v, 1) == 5.0
    assert f(v, 7) == -1.0                     # x[7] is never computed
    eager = function([x, i], T.switch(T.lt(i, x.shape[0]), x[i], -1.0))
    with pytest.raises(IndexError):
        eager(v, 7)


def test_untaken_branch_kernel_is_not_called(cumsum_calls):
    c = T.bscalar("c")
    x = T.dvector("x")
    f = function([c, x], ifelse(c, T.cumsum(x), x * 2), mode="numpy")
    v = np.arange(3.0)
    np.testing.assert_array_equal(f(0, v), v * 2)
    assert cumsum_calls == []
    np.testing.assert_array_equal(f(1, v), np.cumsum(v))
    assert len(cumsum_calls) == 1


def test_switch_stays_eager(cumsum_calls):
    c = T.bscalar("c")
    x = T.dvector("x")
    f = function([c, x], T.switch(c, T.cumsum(x), x * 2), mode="numpy")
    v = np.arange(3.0)
    np.testing.assert_array_equal(f(0, v), v * 2)
    np.testing.assert_array_equal(f(1, v), np.cumsum(v))
    assert len(cumsum_calls) == 2              # both sides, each call
    m = T.dvector("m")
    np.testing.assert_array_equal(                # and elementwise
        function([m, x], T.switch(T.gt(m, 0), x, -x))(np.array([1.0, -1.0]), np.ones(2)),
        [1.0, -1.0])


def test_gradient_is_lazy_too(cumsum_calls):
    c = T.bscalar("c")
    x = T.dvector("x")
    gx = T.grad(ifelse(c, T.cumsum(x) ** 2, x * 2).sum(), x)
    assert isinstance(gx.owner.op, IfElse) or any(
        isinstance(n.op, IfElse) for n in function([c, x], gx).maker.fgraph.toposort())
    f = function([c, x], gx, mode="numpy")
    v = np.arange(3.0)
    np.testing.assert_array_equal(f(0, v), [2, 2, 2])
    assert cumsum_calls == []


def test_errors_in_the_taken_branch_name_the_inner_node():
    x = T.dvector("x")
    i = T.lscalar("i")
    f = function([x, i], ifelse(T.gt(i, 0), x[i], x[0]), mode="numpy")
    with pytest.raises(IndexError) as info:
        f(np.ones(2), 5)
    message = str(info.value)
    assert "then branch" in message and "Subtensor" in message and "IfElse" in message


# -- shared variables and givens -----------------------------------------------------------
def test_shared_variables_in_branches_and_updates():
    w = shared(np.array([1.0, 2.0]), name="w")
    count = shared(np.array(0.0), name="count")
    c = T.bscalar("c")
    x = T.dvector("x")
    f = function([c, x], ifelse(c, w * x, x - w),
                 updates=[(w, ifelse(c, w * 2, w)), (count, count + 1)])
    np.testing.assert_array_equal(f(1, np.ones(2)), [1.0, 2.0])
    np.testing.assert_array_equal(w.get_value(), [2.0, 4.0])
    np.testing.assert_array_equal(f(0, np.ones(2)), [-1.0, -3.0])
    np.testing.assert_array_equal(w.get_value(), [2.0, 4.0])
    w.set_value(np.array([10.0, 10.0]))
    np.testing.assert_array_equal(f(1, np.ones(2)), [10.0, 10.0])
    assert count.get_value() == 3


def test_an_update_that_is_an_input_does_not_alias_it():
    s = shared(np.zeros(2), name="s")
    c = T.bscalar("c")
    x = T.dvector("x")
    f = function([c, x], [], updates=[(s, ifelse(c, x, s))])
    v = np.array([1.0, 2.0])
    f(1, v)
    v[0] = 99.0
    np.testing.assert_array_equal(s.get_value(), [1.0, 2.0])


def test_givens_replace_leaves_inside_the_branches():
    data = shared(np.arange(10.0), name="data")
    w = shared(np.array(3.0), name="w")
    c = T.bscalar("c")
    i = T.lscalar("i")
    x = T.dvector("x")
    v = T.dscalar("v")
    z = ifelse(c, (x * w).sum(), x.max())
    f = function([c, i, v], z, givens=[(x, data[i:i + 3]), (w, v)])
    assert f(1, 2, 10.0) == 10.0 * (2 + 3 + 4)
    assert f(0, 5, 10.0) == 7.0


# -- gradients -----------------------------------------------------------------------------
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_verify_grad_both_branches(sign):
    def fun(x, y):
        return ifelse(T.gt(x.sum(), 0), T.tanh(x) * y.sum() + x ** 2, T.exp(y[:3]) * x)
    x = sign * rng.uniform(0.5, 1.5, size=3)
    verify_grad(fun, [x, rng.normal(size=4)])


@pytest.mark.parametrize("taken", [True, False])
def test_verify_grad_input_used_in_one_branch_only(taken):
    # y is only read by the then branch: its gradient is zero when the else branch runs
    def fun(x, y):
        return ifelse(T.gt(x[0], 0), x * y, T.sin(x))
    x = rng.uniform(0.5, 1.5, size=3) * (1 if taken else -1)
    verify_grad(fun, [x, rng.normal(size=3)])
    xs, ys = T.dvectors("x", "y")
    gy = function([xs, ys], T.grad(fun(xs, ys).sum(), ys))(x, np.ones(3))
    np.testing.assert_array_equal(gy, x if taken else np.zeros(3))


@pytest.mark.parametrize("taken", [1, 0])
def test_verify_grad_lists_and_constant_condition(taken):
    def fun(x, y):
        a, b = ifelse(np.int8(taken), [x.dot(y).sum(), x * 3], [T.sum(y ** 3), T.sqr(x)])
        return a + b.sum()
    verify_grad(fun, [rng.normal(size=(2, 2)), rng.normal(size=(2, 2))])


def test_gradient_with_unused_output_and_float_condition():
    c = T.dscalar("c")
    x = T.dvector("x")
    a, b = ifelse(c, [x * 2, x ** 3], [x, x])
    gx = T.grad(a.sum(), x)                    # no gradient reaches b
    f = function([c, x], gx)
    np.testing.assert_array_equal(f(1.0, np.ones(2)), [2, 2])
    np.testing.assert_array_equal(f(0.0, np.ones(2)), [1, 1])
    gc = function([c, x], T.grad(a.sum(), c), on_unused_input="ignore")  # zero, connected
    assert gc(1.0, np.ones(2)) == 0.0


def test_integer_branches_have_no_gradient_but_float_ones_do():
    c = T.bscalar("c")
    x = T.dvector("x")
    n = T.lvector("n")
    f_out, i_out = ifelse(c, [x * 2, n + 1], [x, n])
    gx = function([c, x, n], T.grad(f_out.sum() + i_out.sum(), x), on_unused_input="ignore")
    np.testing.assert_array_equal(gx(1, np.ones(2), np.ones(2, "int64")), [2, 2])


@pytest.mark.parametrize("taken", [1, 0])
def test_second_order_grad_of_grad(taken):
    c = T.bscalar("c")
    x = T.dvector("x")
    cost = ifelse(c, (x ** 3).sum(), T.sin(x).sum())
    g = T.grad(cost, x)
    gg = T.grad(g.sum(), x)
    v = rng.normal(size=3)
    np.testing.assert_allclose(run_debug([c, x], gg, taken, v), 6 * v if taken else -np.sin(v),
                               rtol=1e-12)


@pytest.mark.parametrize("taken", [1, 0])
def test_hessian(taken):
    c = T.bscalar("c")
    x = T.dvector("x")
    y = T.dvector("y")
    cost = ifelse(c, (x ** 2).sum() * y.sum(), (T.exp(x) * y).sum())
    h = function([c, x, y], T.hessian(cost, x))
    vx, vy = rng.normal(size=3), rng.normal(size=3)
    want = np.eye(3) * 2 * vy.sum() if taken else np.diag(np.exp(vx) * vy)
    np.testing.assert_allclose(h(taken, vx, vy), want, rtol=1e-12)


def test_verify_grad_of_a_gradient():
    def fun(x):
        g = T.grad(ifelse(T.gt(x.sum(), 0), (T.tanh(x) * x).sum(), (x ** 4).sum()), x)
        return g * x
    verify_grad(fun, [rng.uniform(0.5, 1.0, size=3)])
    verify_grad(fun, [-rng.uniform(0.5, 1.0, size=3)])


# -- errors --------------------------------------------------------------------------------
def test_non_scalar_condition():
    x = T.dvector("x")
    with pytest.raises(TypeError, match=r"condition must be a scalar.*T\.any"):
        ifelse(T.gt(x, 0), x, -x)


def test_mismatched_dtypes_name_both_types():
    x = T.dvector("x")
    f = T.fvector("f")
    with pytest.raises(TypeError, match=r"then_branch has type TensorType\(float64, vector\) "
                                        r"and else_branch has type TensorType\(float32, "
                                        r"vector\).*cast one of them"):
        ifelse(T.bscalar("c"), x, f)
    with pytest.raises(TypeError, match=r"then_branch\[1\] has type .*else_branch\[1\]"):
        ifelse(T.bscalar("c"), [x, x], [x, f])


def test_mismatched_dimensions():
    with pytest.raises(TypeError, match="then_branch has type .* else_branch .*dimension"):
        ifelse(T.bscalar("c"), T.dvector("x"), T.dmatrix("m"))


def test_different_list_lengths_and_empty_lists():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="then_branch has 2 value.*else_branch 1"):
        ifelse(T.bscalar("c"), [x, x], [x])
    with pytest.raises(ValueError, match="empty"):
        ifelse(T.bscalar("c"), [], [])
