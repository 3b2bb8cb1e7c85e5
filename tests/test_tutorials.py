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


# ---------------------------------------------------------------------------------------
# Lasagne's own programs, ported by changing the imports to nnframe.compat (issue 15).

def _example_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(EXAMPLES) + os.pathsep + env.get("PYTHONPATH", "")
    # One BLAS thread: on a small shared machine, OpenBLAS's spinning threads make a
    # run several times slower when another process holds the other cores.
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _run_example(script, args, cwd):
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, script)] + list(args),
                            capture_output=True, text=True, env=_example_env(), cwd=str(cwd),
                            timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    return result.stdout


def _import_example(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location("_example_" + name,
                                                  os.path.join(EXAMPLES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _printed(stdout, label):
    """The numbers after ``label:`` on the lines that carry it, in order."""
    return [float(line.split(":", 1)[1].split()[0]) for line in stdout.splitlines()
            if line.strip().startswith(label + ":")]


def _check_lasagne_mnist(model, min_accuracy, tmp_path):
    stdout = _run_example("lasagne_mnist.py", [model, "--quick", "--seed", "0"], tmp_path)
    epochs = [line for line in stdout.splitlines() if line.startswith("Epoch ")]
    mnist = _import_example("lasagne_mnist")
    assert len(epochs) == mnist.QUICK_EPOCHS[model]
    (test_accuracy,) = _printed(stdout, "test accuracy")
    assert test_accuracy / 100 > min_accuracy, stdout
    assert "saved and reloaded" in stdout

    # The saved weights, loaded the way Lasagne's example says, into a new network.
    lasagne, theano, T = mnist.lasagne, mnist.theano, mnist.T
    assert (tmp_path / "model.npz").is_file()
    input_var = T.tensor4('inputs')
    network = {"mlp": mnist.build_mlp, "cnn": mnist.build_cnn}[model](input_var)
    with np.load(str(tmp_path / "model.npz")) as f:
        param_values = [f['arr_%d' % i] for i in range(len(f.files))]
    assert [v.shape for v in param_values] == \
        [p.get_value().shape for p in lasagne.layers.get_all_params(network)]
    lasagne.layers.set_all_param_values(network, param_values)
    for p, v in zip(lasagne.layers.get_all_params(network), param_values):
        np.testing.assert_array_equal(p.get_value(), v)
    predict = theano.function([input_var], T.argmax(
        lasagne.layers.get_output(network, deterministic=True), axis=1))
    _, _, _, _, X_test, y_test = mnist.load_dataset()
    accuracy = np.mean(predict(X_test) == y_test)
    np.testing.assert_allclose(accuracy * 100, test_accuracy, atol=0.011)


def test_lasagne_mnist_example_mlp_learns_and_its_npz_loads(tmp_path):
    _check_lasagne_mnist("mlp", 0.8, tmp_path)


def test_lasagne_mnist_example_cnn_learns_and_its_npz_loads(tmp_path):
    _check_lasagne_mnist("cnn", 0.6, tmp_path)


def test_lasagne_recipes_vae_example_improves_its_elbo(tmp_path):
    stdout = _run_example("lasagne_vae.py", ["--quick", "--seed", "0"], tmp_path)
    train_elbo = _printed(stdout, "training ELBO")
    val_elbo = _printed(stdout, "validation ELBO")
    (test_elbo,) = _printed(stdout, "test ELBO")
    assert len(train_elbo) == len(val_elbo) == 8
    assert np.all(np.isfinite(train_elbo + val_elbo + [test_elbo])), stdout
    # ELBO per binarised 784-pixel image: a log-likelihood bound, so negative, and at
    # most 784 * log 2 ~ 543 nats from zero for a model no better than p = 0.5.
    assert all(e < 0 for e in train_elbo + val_elbo + [test_elbo])
    assert train_elbo[-1] > train_elbo[0] + 50, stdout
    assert val_elbo[-1] > val_elbo[0] + 50, stdout
    assert test_elbo > -300, stdout
    assert os.listdir(str(tmp_path)) == []     # the VAE example writes nothing
