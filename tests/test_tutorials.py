"""The classic Theano tutorial programs, written for nnframe."""
import os
import subprocess
import sys

import numpy as np

import nnframe.tensor as T
from nnframe import function, shared

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def test_logistic_regression_on_a_separable_problem():
    rng = np.random.default_rng(0)
    n, feats = 200, 20
    true_w = rng.normal(size=feats)
    X = rng.normal(size=(n, feats))
    Y = (X @ true_w > 0).astype('float64')

    x = T.dmatrix('x')
    y = T.dvector('y')
    w = shared(rng.normal(size=feats) * 0.01, name='w')
    b = shared(0.0, name='b')
    p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b))
    prediction = p_1 > 0.5
    xent = -y * T.log(p_1) - (1 - y) * T.log(1 - p_1)
    cost = xent.mean() + 0.01 * (w ** 2).sum()
    gw, gb = T.grad(cost, [w, b])
    train = function([x, y], [prediction, xent.mean()],
                     updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    predict = function([x], prediction)

    losses = [float(train(X, Y)[1]) for _ in range(200)]
    assert losses[-1] < losses[0] * 0.5
    assert all(later <= earlier + 1e-12 for earlier, later in zip(losses, losses[1:]))
    assert (predict(X) == Y).mean() > 0.9


def test_logistic_regression_example_script_runs_end_to_end():
    env = dict(os.environ)
    repo = os.path.dirname(EXAMPLES)
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, "logistic_regression.py"),
                             "--steps", "60", "--samples", "200", "--features", "50"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.strip().splitlines()[-1].split()[-1])
    assert accuracy > 0.9


def test_shared_minibatch_with_givens_trains_a_linear_model():
    rng = np.random.default_rng(3)
    data_x = shared(rng.normal(size=(64, 3)), name='data_x')
    true_w = np.array([1.0, -2.0, 0.5])
    data_y = shared(data_x.get_value() @ true_w, name='data_y')
    x, y = T.dmatrix('x'), T.dvector('y')
    w = shared(np.zeros(3), name='w')
    index = T.lscalar('index')
    batch = 16
    loss = ((T.dot(x, w) - y) ** 2).mean()
    step = function([index], loss, updates=[(w, w - 0.1 * T.grad(loss, w))],
                    givens=[(x, data_x[index * batch:(index + 1) * batch]),
                            (y, data_y[index * batch:(index + 1) * batch])])
    for _epoch in range(50):
        for i in range(4):
            step(i)
    np.testing.assert_allclose(w.get_value(), true_w, atol=1e-3)


def test_theano_tutorial_with_a_hand_written_sigmoid_learns_without_nan():
    # examples/logistic_regression_handwritten.py is Theano's program as written there:
    # p_1 = 1 / (1 + T.exp(-T.dot(x, w) - b)) and the cross-entropy from log(p_1).
    env = dict(os.environ)
    repo = os.path.dirname(EXAMPLES)
    env["PYTHONPATH"] = repo + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-W", "error::RuntimeWarning",
                             os.path.join(EXAMPLES, "logistic_regression_handwritten.py"),
                             "--steps", "300"],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert "nan" not in result.stdout.lower()
    assert lines[-2] == "finite weights and loss: True"
    accuracy = float(lines[-1].split()[-1])
    assert accuracy > 0.9
