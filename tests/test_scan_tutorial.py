"""Theano's scan tutorial (doc/library/scan.txt, doc/tutorial/loop.txt), written for nnframe.

Each program is the tutorial's, with ``theano`` spelled ``nnframe``; the
expected values are computed with NumPy.
"""
import numpy as np

import nnframe
import nnframe.tensor as T
from nnframe import function, shared
from nnframe.scan_module import until

rng = np.random.default_rng(7)


def test_computing_a_power_with_an_accumulator():
    k = T.iscalar("k")
    A = T.vector("A")
    result, updates = nnframe.scan(fn=lambda prior_result, A: prior_result * A,
                                   outputs_info=T.ones_like(A), non_sequences=A, n_steps=k)
    final_result = result[-1]
    power = function(inputs=[A, k], outputs=final_result, updates=updates)
    np.testing.assert_allclose(power(np.arange(10, dtype="float32"), 2),
                               np.arange(10) ** 2)


def test_evaluating_a_polynomial_over_two_sequences():
    coefficients = T.vector("coefficients")
    x = T.scalar("x")
    max_coefficients_supported = 10000
    components, updates = nnframe.scan(
        fn=lambda coefficient, power, free_variable: coefficient * (free_variable ** power),
        outputs_info=None, sequences=[coefficients, T.arange(max_coefficients_supported)],
        non_sequences=x)
    polynomial = components.sum()
    calculate_polynomial = function(inputs=[coefficients, x], outputs=polynomial)
    test_coefficients = np.asarray([1, 0, 2], dtype="float32")
    assert float(calculate_polynomial(test_coefficients, 3)) == 19.0


def test_tanh_of_a_sequence_of_vectors():
    X = T.matrix("X")
    W = T.matrix("W")
    b_sym = T.vector("b_sym")
    results, updates = nnframe.scan(lambda v: T.tanh(T.dot(v, W) + b_sym), sequences=X)
    compute_elementwise = function(inputs=[X, W, b_sym], outputs=results)
    x = np.eye(2, dtype="float32")
    w = np.ones((2, 2), dtype="float32")
    b = np.ones(2, dtype="float32")
    b[1] = 2
    np.testing.assert_allclose(compute_elementwise(x, w, b), np.tanh(x.dot(w) + b), rtol=1e-6)


def test_recurrence_with_several_taps_and_non_sequences():
    # x(t) = tanh(x(t - 1).dot(W) + y(t).dot(U) + p(T - t).dot(V))
    X, W = T.vector("X"), T.matrix("W")
    U, Y, V, P = T.matrix("U"), T.matrix("Y"), T.matrix("V"), T.matrix("P")
    results, updates = nnframe.scan(
        lambda y, p, x_tm1: T.tanh(T.dot(x_tm1, W) + T.dot(y, U) + T.dot(p, V)),
        sequences=[Y, P[::-1]], outputs_info=[X])
    compute_seq = function(inputs=[X, W, Y, U, P, V], outputs=results)
    x = np.zeros(2, dtype="float32")
    w = np.ones((2, 2), dtype="float32")
    y = np.ones((5, 2), dtype="float32")
    y[0, :] = -3
    u = np.ones((2, 2), dtype="float32")
    p = np.ones((5, 2), dtype="float32")
    p[0, :] = 3
    v = np.ones((2, 2), dtype="float32")
    expected = np.zeros((5, 2))
    expected[0] = np.tanh(x.dot(w) + y[0].dot(u) + p[4].dot(v))
    for i in range(1, 5):
        expected[i] = np.tanh(expected[i - 1].dot(w) + y[i].dot(u) + p[4 - i].dot(v))
    np.testing.assert_allclose(compute_seq(x, w, y, u, p, v), expected, rtol=1e-5)


def test_jacobian_with_scan_over_indices():
    x = T.dvector("x")
    y = x ** 2
    J, updates = nnframe.scan(lambda i, y, x: T.grad(y[i], x), sequences=T.arange(y.shape[0]),
                              non_sequences=[y, x])
    f = function([x], J, updates=updates)
    np.testing.assert_allclose(f(np.array([4.0, 4.0])), [[8, 0], [0, 8]])


def test_accumulate_the_number_of_loops_in_a_shared_variable():
    k = shared(0)
    n_sym = T.iscalar("n_sym")
    results, updates = nnframe.scan(lambda: {k: (k + 1)}, n_steps=n_sym)
    accumulator = function([n_sym], [], updates=updates)
    accumulator(5)
    assert k.get_value() == 5
    accumulator(3)
    assert k.get_value() == 8


def test_gibbs_sampling_with_random_streams_in_the_step():
    W_values = rng.uniform(-0.5, 0.5, size=(10, 20)).astype("float32")
    W = shared(W_values, name="W")
    bvis = shared(np.zeros(10, dtype="float32"), name="bvis")
    bhid = shared(np.zeros(20, dtype="float32"), name="bhid")
    trng = T.random.RandomStreams(1234)

    def OneStep(vsample):
        hmean = T.nnet.sigmoid(T.dot(vsample, W) + bhid)
        hsample = trng.binomial(size=hmean.shape, n=1, p=hmean, dtype="float32")
        vmean = T.nnet.sigmoid(T.dot(hsample, W.T) + bvis)
        return trng.binomial(size=vsample.shape, n=1, p=vmean, dtype="float32")

    sample = T.vector()
    values, updates = nnframe.scan(OneStep, outputs_info=sample, n_steps=10)
    gibbs10 = function([sample], values[-1], updates=updates)
    start = np.ones(10, dtype="float32")
    first, second = gibbs10(start), gibbs10(start)
    assert set(np.unique(first)) <= {0.0, 1.0} and first.shape == (10,)
    assert not np.array_equal(first, second) or not np.array_equal(first, gibbs10(start))


def test_power_of_two_until_a_condition():
    def power_of_2(previous_power, max_value):
        return previous_power * 2, until(previous_power * 2 > max_value)

    max_value = T.scalar()
    values, _ = nnframe.scan(power_of_2, outputs_info=T.constant(1.), non_sequences=max_value,
                             n_steps=1024)
    f = function([max_value], values)
    np.testing.assert_allclose(f(45), [2, 4, 8, 16, 32, 64])
