"""T.scan: Theano's loop, checked against hand-unrolled graphs and NumPy loops."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared
from nnframe.core.gradient import verify_grad
from nnframe.core.ops.scan import Scan, ScanError

rng = np.random.default_rng(0)


def f64(*shape):
    return rng.normal(size=shape)


def zero64():
    return T.constant(0.0, dtype="float64")


def _rnn_step(x, h, W, U):
    return T.tanh(T.dot(x, W) + T.dot(h, U))


def rnn_scan(X, W, U, h0, **kwargs):
    h, _ = T.scan(_rnn_step, sequences=X, outputs_info=h0, non_sequences=[W, U], **kwargs)
    return h


def rnn_unrolled(X, W, U, h0, n):
    hs, h = [], h0
    for t in range(n):
        h = _rnn_step(X[t], h, W, U)
        hs.append(h)
    return T.stack(hs)


# -- forward --------------------------------------------------------------------------------
def test_running_sum_matches_cumsum():
    x = T.dvector("x")
    total, updates = T.scan(lambda v, acc: acc + v, sequences=x, outputs_info=zero64())
    assert updates == {}
    value = f64(7)
    np.testing.assert_allclose(function([x], total)(value), np.cumsum(value))


def test_rnn_equals_hand_unrolled_graph_forward_and_gradients():
    X, W, U, h0 = T.dtensor3("X"), T.dmatrix("W"), T.dmatrix("U"), T.dmatrix("h0")
    values = [f64(5, 3, 4), f64(4, 6) * 0.4, f64(6, 6) * 0.4, f64(3, 6)]
    looped = rnn_scan(X, W, U, h0)
    unrolled = rnn_unrolled(X, W, U, h0, 5)
    cost_l, cost_u = (looped ** 2).sum(), (unrolled ** 2).sum()
    wrt = [X, W, U, h0]
    f = function(wrt, [looped] + T.grad(cost_l, wrt))
    g = function(wrt, [unrolled] + T.grad(cost_u, wrt))
    for a, b in zip(f(*values), g(*values)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gradients_match_finite_differences():
    verify_grad(rnn_scan, [f64(4, 2, 3), f64(3, 5) * 0.4, f64(5, 5) * 0.4, f64(2, 5)])


def test_state_taps_and_sequence_taps():
    # y[t] = 0.5 * y[t-2] + x[t-1] * y[t-1] + x[t+1]
    def step(x_prev, x_next, y2, y1):
        return 0.5 * y2 + x_prev * y1 + x_next

    x, y0 = T.dvector("x"), T.dvector("y0")
    y, _ = T.scan(step, sequences=dict(input=x, taps=[-1, 1]),
                  outputs_info=dict(initial=y0, taps=[-2, -1]))
    xv, y0v = f64(8), f64(2)
    ys = list(y0v)
    for t in range(1, 7):  # taps -1 and +1 leave the 6 middle rows
        ys.append(0.5 * ys[-2] + xv[t - 1] * ys[-1] + xv[t + 1])
    np.testing.assert_allclose(function([x, y0], y)(xv, y0v), ys[2:])
    verify_grad(lambda x, y0: T.scan(step, sequences=dict(input=x, taps=[-1, 1]),
                                     outputs_info=dict(initial=y0, taps=[-2, -1]))[0],
                [xv, y0v])


def test_several_outputs_some_without_state():
    x = T.dvector("x")
    (running, doubled), _ = T.scan(lambda v, acc: [acc + v, 2 * v], sequences=x,
                                   outputs_info=[zero64(), None])
    xv = f64(5)
    a, b = function([x], [running, doubled])(xv)
    np.testing.assert_allclose(a, np.cumsum(xv))
    np.testing.assert_allclose(b, 2 * xv)


def test_symbolic_n_steps_without_sequences():
    n, a = T.lscalar("n"), T.dscalar("a")
    powers, _ = T.scan(lambda p, a: p * a, outputs_info=T.constant(1.0, dtype="float64"),
                       non_sequences=a, n_steps=n)
    f = function([n, a], powers)
    np.testing.assert_allclose(f(4, 3.0), [3.0, 9.0, 27.0, 81.0])
    np.testing.assert_allclose(f(1, 2.0), [2.0])
    assert f(0, 2.0).shape == (0,)


def test_n_steps_shorter_than_sequence_and_gradient_zero_beyond():
    x = T.dvector("x")
    total, _ = T.scan(lambda v, acc: acc + v, sequences=x, outputs_info=zero64(), n_steps=3)
    xv = f64(5)
    np.testing.assert_allclose(function([x], total)(xv), np.cumsum(xv[:3]))
    np.testing.assert_allclose(function([x], T.grad(total[-1], x))(xv), [1, 1, 1, 0, 0])


def test_go_backwards_iterates_from_the_end():
    x = T.dvector("x")
    total, _ = T.scan(lambda v, acc: acc + v, sequences=x, outputs_info=zero64(),
                      go_backwards=True)
    xv = f64(4)
    np.testing.assert_allclose(function([x], total)(xv), np.cumsum(xv[::-1]))
    verify_grad(lambda x: T.scan(lambda v, acc: acc * v + v, sequences=x,
                                 outputs_info=zero64(), go_backwards=True)[0], [xv])


def test_until_stops_the_loop():
    v = T.dscalar("v")
    out, _ = T.scan(lambda a: (a * 2, T.until(a * 2 > 50)), outputs_info=v, n_steps=100)
    np.testing.assert_allclose(function([v], out)(1.0), [2, 4, 8, 16, 32, 64])
    with pytest.raises(Exception, match="until"):
        T.grad(out.sum(), v)


def test_map_reduce_foldl_foldr():
    x = T.dvector("x")
    xv = f64(5)
    squares, _ = T.map(lambda v: v ** 2, x)
    total, _ = T.reduce(lambda v, acc: acc + v, x, zero64())
    left, _ = T.foldl(lambda v, acc: acc * 0.5 + v, x, zero64())
    right, _ = T.foldr(lambda v, acc: acc * 0.5 + v, x, zero64())
    a, b, c, d = function([x], [squares, total, left, right])(xv)
    np.testing.assert_allclose(a, xv ** 2)
    np.testing.assert_allclose(b, xv.sum())
    acc = 0.0
    for v in xv:
        acc = acc * 0.5 + v
    np.testing.assert_allclose(c, acc)
    acc = 0.0
    for v in xv[::-1]:
        acc = acc * 0.5 + v
    np.testing.assert_allclose(d, acc)


def test_step_returning_a_non_sequence_or_constant():
    x, w = T.dvector("x"), T.dscalar("w")
    (same_w, seven), _ = T.scan(lambda v, w: [w, T.constant(7.0, dtype="float64")],
                                sequences=x, non_sequences=w)
    a, b = function([x, w], [same_w, seven])(f64(3), 2.5)
    np.testing.assert_allclose(a, [2.5] * 3)
    np.testing.assert_allclose(b, [7.0] * 3)


def test_loop_invariant_work_moves_out_of_the_loop():
    x, W = T.dmatrix("x"), T.dmatrix("W")
    out, _ = T.scan(lambda row, W: T.dot(row, W.T * 2), sequences=x, non_sequences=W)
    op = out.owner.op if isinstance(out.owner.op, Scan) else out.owner.inputs[0].owner.op
    inner_ops = {type(n.op).__name__ for n in _inner_nodes(op)}
    assert "DimShuffle" not in inner_ops and "Elemwise" not in inner_ops
    xv, Wv = f64(4, 3), f64(2, 3)
    np.testing.assert_allclose(function([x, W], out)(xv, Wv), xv @ (Wv.T * 2))


def _inner_nodes(op):
    from nnframe.core.graph import toposort
    return toposort(op.inner_outputs)


def _scan_op(var):
    from nnframe.core.graph import toposort
    return next(n.op for n in toposort([var]) if isinstance(n.op, Scan))


# -- shared variables and random streams ------------------------------------------------------
def test_shared_variable_updated_inside_the_step():
    acc = shared(np.float64(0.0), name="acc")
    x = T.dvector("x")
    out, updates = T.scan(lambda v: (v * acc, {acc: acc + v}), sequences=x)
    assert list(updates) == [acc]
    f = function([x], out, updates=updates)
    np.testing.assert_allclose(f(np.array([1.0, 2.0, 3.0])), [0.0, 2.0, 9.0])
    assert acc.get_value() == 6.0
    np.testing.assert_allclose(f(np.array([1.0])), [6.0])


def test_gradient_through_a_shared_variable_updated_in_the_step():
    x = T.dvector("x")
    acc = shared(np.float64(0.5), name="acc")
    out, updates = T.scan(lambda v: (v * acc, {acc: acc * v}), sequences=x)

    def cost_of(xv):
        total, a = 0.0, 0.5
        for v in xv:
            total += v * a
            a *= v
        return total + a
    cost = out.sum() + updates[acc]
    g = function([x], T.grad(cost, x), no_default_updates=True)
    xv = f64(4)
    eps = 1e-6
    numeric = [(cost_of(xv + eps * e) - cost_of(xv - eps * e)) / (2 * eps) for e in np.eye(4)]
    np.testing.assert_allclose(g(xv), numeric, rtol=1e-6)


def test_shared_parameter_captured_without_non_sequences():
    W = shared(f64(3, 3) * 0.5, name="W")
    x = T.dmatrix("x")
    h, _ = T.scan(lambda row, h: T.tanh(T.dot(h, W) + row), sequences=x,
                  outputs_info=T.zeros((3,), dtype="float64"))
    g = function([x], T.grad((h ** 2).sum(), W))
    unrolled = function([x], T.grad((rnn_like(x, W, 4) ** 2).sum(), W))
    xv = f64(4, 3)
    np.testing.assert_allclose(g(xv), unrolled(xv), rtol=1e-10)


def rnn_like(x, W, n):
    h, hs = T.zeros((3,), dtype="float64"), []
    for t in range(n):
        h = T.tanh(T.dot(h, W) + x[t])
        hs.append(h)
    return T.stack(hs)


def test_random_draws_are_new_each_step_and_the_stream_advances():
    srng = T.random.RandomStream(seed=3)
    m = T.dmatrix("m")
    out, updates = T.scan(lambda row: row + srng.normal(size=(2,), dtype="float64"),
                          sequences=m)
    assert len(updates) == 1
    f = function([m], out, updates=updates)
    first, second = f(np.zeros((3, 2))), f(np.zeros((3, 2)))
    assert len({tuple(r) for r in first}) == 3          # a new draw per step
    assert not np.allclose(first, second)               # the stream advanced between calls
    g = function([m], out)                               # default update still advances it
    assert not np.allclose(g(np.zeros((3, 2))), g(np.zeros((3, 2))))


def test_gradient_recomputes_the_same_random_draws():
    srng = T.random.RandomStream(seed=5)
    m = T.dmatrix("m")
    out, updates = T.scan(lambda row: row * srng.uniform(size=(2,), dtype="float64"),
                          sequences=m)
    f = function([m], [out, T.grad(out.sum(), m)], updates=updates)
    value, grad = f(np.ones((4, 2)))
    np.testing.assert_allclose(grad, value)  # d(row * u)/d(row) = u = value at row 1


def test_strict_refuses_a_shared_variable_missing_from_non_sequences():
    W = shared(f64(3, 3), name="W")
    x = T.dmatrix("x")
    with pytest.raises(ScanError, match="strict=True.*W.*non_sequences"):
        T.scan(lambda row: T.dot(row, W), sequences=x, strict=True)
    out, _ = T.scan(lambda row, W: T.dot(row, W), sequences=x, non_sequences=[W], strict=True)
    xv = f64(2, 3)
    np.testing.assert_allclose(function([x], out)(xv), xv @ W.get_value())


# -- gradients ------------------------------------------------------------------------------
def test_truncate_gradient_keeps_the_last_steps_only():
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    h, _ = T.scan(lambda row, h: T.tanh(row + h), sequences=x, outputs_info=h0,
                  truncate_gradient=2)
    gx, gh0 = function([x, h0], T.grad(h[-1].sum(), [x, h0]))(f64(5, 3), f64(3))
    assert np.all(gx[:3] == 0) and np.all(gx[3:] != 0)
    assert np.all(gh0 == 0)
    full, _ = T.scan(lambda row, h: T.tanh(row + h), sequences=x, outputs_info=h0)
    gfull = function([x, h0], T.grad(full[-1].sum(), x))(f64(5, 3), f64(3))
    assert np.all(gfull != 0)


def test_gradient_of_a_non_sequence_and_initial_state():
    def f(w, h0):
        out, _ = T.scan(lambda h, w: T.tanh(h * w + 0.1), outputs_info=h0, non_sequences=w,
                        n_steps=5)
        return out
    verify_grad(f, [f64(3), f64(3)])


def test_second_order_hessian_of_a_scan_result():
    w = T.dvector("w")
    c, _ = T.scan(lambda h, w: T.tanh(h * w), outputs_info=T.constant(np.ones(3)),
                  non_sequences=w, n_steps=4)
    cost = c[-1].sum()
    hess = function([w], T.hessian(cost, w))
    grad = function([w], T.grad(cost, w))
    wv, eps = f64(3), 1e-6
    numeric = np.array([(grad(wv + eps * e) - grad(wv - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(hess(wv), numeric, atol=1e-7)


def test_scan_inside_scan_values_and_gradients():
    def outer_step(row, acc):
        inner, _ = T.scan(lambda v, a: a * v + 1.0, sequences=row, outputs_info=zero64())
        return acc + inner[-1]

    def nested(x):
        return T.scan(outer_step, sequences=x, outputs_info=zero64())[0]

    X = f64(3, 4)
    expected, acc = [], 0.0
    for row in X:
        a = 0.0
        for v in row:
            a = a * v + 1
        acc += a
        expected.append(acc)
    x = T.dmatrix("x")
    np.testing.assert_allclose(function([x], nested(x))(X), expected)
    verify_grad(nested, [X])


# -- bad input ------------------------------------------------------------------------------
def test_step_returning_the_wrong_number_of_outputs():
    x = T.dvector("x")
    with pytest.raises(ScanError, match="returned 1 output.*outputs_info has 2"):
        T.scan(lambda v, a, b: a + v, sequences=x, outputs_info=[zero64(), zero64()])


def test_step_returning_something_that_is_not_a_tensor():
    x = T.dvector("x")
    with pytest.raises(ScanError, match="output 0 of the step function is str"):
        T.scan(lambda v: "oops", sequences=x)


def test_state_dtype_mismatch_names_outputs_info():
    x = T.dvector("x")
    with pytest.raises(ScanError, match=r"dtype float64 but its initial value in "
                                        r"outputs_info\[0\].*has dtype float32"):
        T.scan(lambda v, acc: acc + v, sequences=x, outputs_info=T.constant(0.0, dtype="float32"))


def test_state_rank_mismatch_names_outputs_info():
    x = T.dmatrix("x")
    with pytest.raises(ScanError, match=r"output 0 of the step has 1 dimension.*outputs_info\[0\]"):
        T.scan(lambda v, acc: acc + v, sequences=x, outputs_info=zero64())


def test_taps_without_enough_initial_rows():
    with pytest.raises(ScanError, match=r"outputs_info\[0\].*taps \[-3, -1\].*3 rows"):
        T.scan(lambda a, b: a + b, outputs_info=dict(initial=T.dscalar("y0"), taps=[-3, -1]),
               n_steps=3)
    y0 = T.dvector("y0")
    out, _ = T.scan(lambda a, b: a + b, outputs_info=dict(initial=y0, taps=[-3, -1]), n_steps=3)
    with pytest.raises(ScanError, match="initial value of output 0 has 2 rows.*need 3"):
        function([y0], out)(np.ones(2))


def test_positive_output_taps_are_refused():
    with pytest.raises(ScanError, match="output taps must be negative"):
        T.scan(lambda a: a, outputs_info=dict(initial=T.dvector("y"), taps=[1]), n_steps=2)


def test_sequence_shorter_than_its_taps():
    with pytest.raises(ScanError, match=r"sequences\[0\] has 2 rows, too few for its taps"):
        T.scan(lambda a, b: a + b, sequences=dict(input=T.constant(np.ones(2)), taps=[-2, 0]))
    x = T.dvector("x")
    out, _ = T.scan(lambda a, b: a + b, sequences=dict(input=x, taps=[-2, 0]))
    with pytest.raises(ScanError, match="sequences are too short for their taps"):
        function([x], out)(np.ones(1))


def test_sequence_shorter_than_n_steps():
    x = T.dvector("x")
    out, _ = T.scan(lambda v: v * 2, sequences=x, n_steps=5)
    with pytest.raises(ScanError, match=r"sequences\[0\] \(tap 0\) has 3 rows but the loop runs 5"):
        function([x], out)(np.ones(3))


def test_state_that_changes_shape_at_run_time():
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    out, _ = T.scan(lambda row, h: row * 2, sequences=x, outputs_info=h0)
    with pytest.raises(ScanError, match="step 0.*shape \\(4,\\).*keep their shape"):
        function([x, h0], out)(np.ones((2, 4)), np.ones(1))


def test_error_inside_the_step_names_the_scan_step_and_inner_node():
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    out, _ = T.scan(lambda row, h: row + h, sequences=x, outputs_info=h0, name="adder")
    with pytest.raises(ValueError, match="(?s)adder, step 0:.*has shape \\(1,\\).*"
                                         "Elemwise{add}"):
        function([x, h0], out)(np.ones((2, 4)), np.ones(1))


def test_without_sequences_or_n_steps():
    with pytest.raises(ScanError, match="needs n_steps"):
        T.scan(lambda a: a + 1, outputs_info=zero64())


def test_scalar_sequence_is_refused():
    with pytest.raises(ScanError, match=r"sequences\[0\] is a scalar"):
        T.scan(lambda a: a, sequences=T.dscalar("s"))


def test_until_condition_must_be_a_scalar():
    with pytest.raises(ScanError, match="until: the condition must be a scalar"):
        T.until(T.dvector("v") > 0)


# -- what the gradient's loop computes ----------------------------------------------------------
def _compiled_scans(f):
    return [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Scan)]


def test_gradient_reads_stored_forward_values_and_the_loop_runs_once():
    X, W, U, h0 = T.dtensor3("X"), T.dmatrix("W"), T.dmatrix("U"), T.dmatrix("h0")
    h = rnn_scan(X, W, U, h0)
    f = function([X, W, U, h0], [h, T.grad((h ** 2).sum(), U)])
    scans = _compiled_scans(f)
    assert len(scans) == 2                      # one forward loop (not two), one backward
    forward, backward = sorted(scans, key=lambda n: n.op.name.startswith("grad"))
    assert backward.op.name == "grad_of_scan"
    # The backward step does not recompute dot(h, U) (it reads the stored pre-activation), and
    # d/dU = sum_t h[t-1].T @ dG[t] is one product after the loop: only d/dh is left in it.
    backward_dots = [n for n in _inner_nodes(backward.op) if type(n.op).__name__ == "Dot"]
    assert len(backward_dots) == 1
    values = [f64(4, 2, 3), f64(3, 5) * 0.4, f64(5, 5) * 0.4, f64(2, 5)]
    unrolled = rnn_unrolled(X, W, U, h0, 4)
    g = function([X, W, U, h0], [unrolled, T.grad((unrolled ** 2).sum(), U)])
    for a, b in zip(f(*values), g(*values)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_gradient_alone_without_the_rewrites_still_right():
    from nnframe.core.mode import Mode
    X, W, U, h0 = T.dtensor3("X"), T.dmatrix("W"), T.dmatrix("U"), T.dmatrix("h0")
    h = rnn_scan(X, W, U, h0)
    values = [f64(4, 2, 3), f64(3, 5) * 0.4, f64(5, 5) * 0.4, f64(2, 5)]
    plain = function([X, W, U, h0], T.grad((h ** 2).sum(), W), mode=Mode("numpy", rewrite=False))
    fast = function([X, W, U, h0], T.grad((h ** 2).sum(), W))
    np.testing.assert_allclose(plain(*values), fast(*values), rtol=1e-10)


def test_products_of_sequence_rows_are_computed_for_all_steps_before_the_loop():
    X, W, U, h0 = T.dtensor3("X"), T.dmatrix("W"), T.dmatrix("U"), T.dmatrix("h0")
    h = rnn_scan(X, W, U, h0)
    op = _scan_op(h)
    inner_dots = [n for n in _inner_nodes(op) if type(n.op).__name__ == "Dot"]
    assert len(inner_dots) == 1                 # dot(h, U) only; dot(x_t, W) moved out
    assert "computed before the loop" in op.seq_info[-1]
    values = [f64(4, 2, 3), f64(3, 5) * 0.4, f64(5, 5) * 0.4, f64(2, 5)]
    unrolled = rnn_unrolled(X, W, U, h0, 4)
    f = function([X, W, U, h0], T.grad((h ** 2).sum(), [X, W]))
    g = function([X, W, U, h0], T.grad((unrolled ** 2).sum(), [X, W]))
    for a, b in zip(f(*values), g(*values)):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_vector_rows_and_elementwise_work_with_invariants_move_out_together():
    x, W, b = T.dmatrix("x"), T.dmatrix("W"), T.dvector("b")
    out, _ = T.scan(lambda row, acc, W, b: acc + T.tanh(T.dot(row * 2, W) + b), sequences=x,
                    outputs_info=T.zeros((4,), dtype="float64"), non_sequences=[W, b])
    op = _scan_op(out)
    assert not [n for n in _inner_nodes(op) if type(n.op).__name__ == "Dot"]
    xv, Wv, bv = f64(5, 3), f64(3, 4), f64(4)
    np.testing.assert_allclose(function([x, W, b], out)(xv, Wv, bv),
                               np.cumsum(np.tanh((xv * 2) @ Wv + bv), axis=0))
    verify_grad(lambda x, W, b: T.scan(lambda r, a, W, b: a * 0.5 + T.tanh(T.dot(r, W) + b),
                                       sequences=x, outputs_info=T.zeros((4,), dtype="float64"),
                                       non_sequences=[W, b])[0], [xv, Wv, bv])


def test_gradient_of_the_gradient_through_non_sequences_and_states():
    # The backward loop is differentiated again (it runs backwards: the gradient of that is a
    # forward loop); its inputs come from the forward loop, which must not be counted twice.
    def first_grad(w, h0):
        out, _ = T.scan(lambda h, w: T.tanh(h * w), outputs_info=h0, non_sequences=w,
                        n_steps=3)
        return T.grad(out[-1].sum() + (out ** 2).sum(), w)
    verify_grad(first_grad, [f64(3), f64(3)])


def test_negative_symbolic_n_steps():
    n = T.lscalar("n")
    out, _ = T.scan(lambda a: a + 1, outputs_info=zero64(), n_steps=n)
    with pytest.raises(ScanError, match="number of steps is -2: n_steps must be >= 0"):
        function([n], out)(-2)
    with pytest.raises(ScanError, match="n_steps is -1; it must be >= 0"):
        T.scan(lambda a: a + 1, outputs_info=zero64(), n_steps=-1)


def test_values_stored_for_an_unread_gradient_are_not_collected():
    # The gradient with respect to U needs the stored pre-activations; asking only for the
    # gradient of h0 through a loop where U's gradient is unused still runs, and the pruned
    # loops compute what is asked.
    X, W, U, h0 = T.dtensor3("X"), T.dmatrix("W"), T.dmatrix("U"), T.dmatrix("h0")
    h = rnn_scan(X, W, U, h0)
    grads = T.grad((h ** 2).sum(), [h0, U])
    f = function([X, W, U, h0], grads[0], on_unused_input="ignore")
    g = function([X, W, U, h0], grads)
    values = [f64(4, 2, 3), f64(3, 5) * 0.4, f64(5, 5) * 0.4, f64(2, 5)]
    np.testing.assert_allclose(f(*values), g(*values)[0], rtol=1e-12)
    backward = [n for n in _compiled_scans(f) if n.op.backwards]
    assert len(backward[0].outputs) < len([n for n in _compiled_scans(g) if n.op.backwards][0].outputs)


def test_step_function_that_cannot_take_the_taps_names_them():
    x, y0 = T.dvector("x"), T.dvector("y0")
    with pytest.raises(ScanError, match=r"cannot take the 3 argument\(s\).*sequences\[0\] at "
                                        r"taps \[0\]; outputs_info\[0\] at taps \[-2, -1\].*"
                                        r"\(v, y\)"):
        T.scan(lambda v, y: v + y, sequences=x, outputs_info=dict(initial=y0, taps=[-2, -1]))
