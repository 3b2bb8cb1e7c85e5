"""The OpenCL backend as a whole: device selection and errors, device-resident training
(transfer counts), the loss trajectory of an MLP, and the program cache."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

import nnframe.tensor as T  # noqa: E402
from nnframe import config, function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.backends.opencl import context, program  # noqa: E402
from nnframe.backends.opencl.array import DeviceArray  # noqa: E402

rng = np.random.default_rng(4)


# -- a small MLP ------------------------------------------------------------------------
def mlp(mode, seed=0, n_in=64, n_hidden=48, n_out=10, lr=0.1):
    r = np.random.default_rng(seed)
    X, y = T.fmatrix("X"), T.ivector("y")
    W1 = shared(r.normal(0, 0.3, (n_in, n_hidden)).astype("float32"), name="W1")
    b1 = shared(np.zeros(n_hidden, "float32"), name="b1")
    W2 = shared(r.normal(0, 0.3, (n_hidden, n_out)).astype("float32"), name="W2")
    b2 = shared(np.zeros(n_out, "float32"), name="b2")
    h = T.tanh(T.dot(X, W1) + b1)
    p = T.nnet.softmax(T.dot(h, W2) + b2)
    loss = T.nnet.categorical_crossentropy(p, y).mean()
    params = [W1, b1, W2, b2]
    grads = T.grad(loss, params)
    step = function([X, y], loss, updates=[(q, q - lr * g) for q, g in zip(params, grads)],
                    mode=mode)
    return step, params


def batch(n=100, n_in=64, seed=1):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, n_in)).astype("float32")
    y = (X[:, :10].argmax(axis=1)).astype("int32")
    return X, y


def test_mlp_loss_trajectory_follows_numpy():
    X, y = batch()
    step_cl, _ = mlp("opencl")
    step_np, _ = mlp("numpy")
    losses_cl = [float(step_cl(X, y)) for _ in range(20)]
    losses_np = [float(step_np(X, y)) for _ in range(20)]
    assert losses_np[-1] < 0.5 * losses_np[0]   # it does learn
    np.testing.assert_allclose(losses_cl, losses_np, rtol=1e-4)


def test_training_step_moves_only_the_minibatch_and_the_loss():
    X, y = batch()
    before = opencl.fallbacks()
    step, params = mlp("opencl")
    assert opencl.fallbacks() == before       # every node runs on the device
    step(X, y)                      # the first call uploads the parameters
    assert all(type(p.container[0]) is DeviceArray for p in params)
    opencl.reset_transfer_counts()
    for _ in range(5):
        step(X, y)
    counts = opencl.transfer_counts()
    assert counts["upload"] == 2 * 5          # X and y
    assert counts["upload_bytes"] == (X.nbytes + y.nbytes) * 5
    assert counts["download"] == 1 * 5        # the loss
    assert counts["checks"] == 0              # labels are checked on the host
    opencl.reset_transfer_counts()
    W1 = params[0].get_value()                # a download, asked for
    assert opencl.transfer_counts()["download"] == 1 and W1.shape == (64, 48)


def test_minibatches_sliced_from_a_shared_dataset_cost_no_upload():
    X, y = batch(n=400)
    data_x, data_y = shared(X, name="data_x"), shared(y, name="data_y")
    Xs, ys = T.fmatrix("Xs"), T.ivector("ys")
    i = T.lscalar("i")
    W = shared(np.zeros((64, 10), "float32"), name="W")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(Xs, W)), ys).mean()
    step = function([i], loss, updates=[(W, W - 0.5 * T.grad(loss, W))], mode="opencl",
                    givens={Xs: data_x[i * 100:(i + 1) * 100], ys: data_y[i * 100:(i + 1) * 100]})
    step(0)
    opencl.reset_transfer_counts()
    losses = [float(step(k % 4)) for k in range(8)]
    counts = opencl.transfer_counts()
    assert counts["upload"] == 0 and counts["download"] == 8
    assert losses[-1] < losses[0]


def test_shared_values_set_and_get():
    s = shared(np.arange(100, dtype="float64"), name="s")
    f = function([], [], updates=[(s, s * 2)], mode="opencl")
    f()
    assert type(s.container[0]) is DeviceArray
    np.testing.assert_array_equal(s.get_value(), np.arange(100) * 2)
    s.set_value(np.ones(100))
    f()
    np.testing.assert_array_equal(s.get_value(), np.full(100, 2.0))
    # a NumPy function reading the same variable gets a host array
    np.testing.assert_array_equal(function([], s + 1, mode="numpy")(), np.full(100, 3.0))


# -- selecting the device, and its errors -------------------------------------------------
def test_mode_and_config_device_select_opencl():
    x = T.dvector("x")
    with config.change_flags(device="opencl"):
        f = function([x], x * 2)
    assert f.maker.mode.backend == "opencl"
    assert "_to_native" in f.maker.linked.source
    np.testing.assert_array_equal(f(np.arange(3.0)), [0, 2, 4])
    assert "platform 0" in opencl.describe_devices()


def test_nnframe_flags_environment_variable_selects_opencl():
    code = ("import numpy as np, nnframe.tensor as T; from nnframe import function; "
            "x = T.dvector('x'); f = function([x], x + 1); "
            "print(f.maker.mode.backend, f(np.zeros(2)).tolist())")
    env = dict(os.environ, NNFRAME_FLAGS="device=opencl")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.split() == ["opencl", "[1.0,", "1.0]"], out.stderr


@pytest.fixture
def no_cached_context(monkeypatch):
    monkeypatch.setattr(context, "_CONTEXTS", {})
    monkeypatch.setattr(opencl, "_BACKENDS", {})


def test_missing_pyopencl_says_what_to_install(no_cached_context, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyopencl", None)   # import pyopencl -> ImportError
    with pytest.raises(RuntimeError, match=r"pip install 'nnframe\[opencl\]'"):
        opencl.get_backend()
    x = T.dvector("x")
    with pytest.raises(RuntimeError, match="pyopencl"):
        function([x], x, mode="opencl")


@pytest.mark.parametrize("failure", ["empty", "error"])
def test_no_platform_says_how_to_install_pocl(no_cached_context, monkeypatch, failure):
    import pyopencl as cl

    def no_platforms():
        if failure == "error":
            raise cl.LogicError("clGetPlatformIDs failed: PLATFORM_NOT_FOUND_KHR")
        return []
    monkeypatch.setattr(cl, "get_platforms", no_platforms)
    with pytest.raises(RuntimeError, match="pip install pocl-binary-distribution"):
        opencl.get_backend()


def test_out_of_range_indices_name_the_available_devices(no_cached_context):
    import pyopencl as cl
    first = re.escape(cl.get_platforms()[0].name)
    with config.change_flags(opencl_platform=7):
        with pytest.raises(RuntimeError, match=rf"opencl_platform=7 .*0: {first}"):
            opencl.get_backend()
    with config.change_flags(opencl_platform=0, opencl_device=3):
        with pytest.raises(RuntimeError, match=r"opencl_device=3 .*device.*0: "):
            opencl.get_backend()
    with config.change_flags(opencl_platform=0, opencl_device=0):
        assert opencl.get_backend().ctx.device_index == 0


# -- one program per function, cached on disk -------------------------------------------------
def _graph():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    return [x, y], [T.tanh(x * 2 + y).sum(axis=0), T.dot(x, y.T), T.nnet.softmax(x - y),
                    (x > y).any(axis=1), x.max(axis=0)]


def test_all_kernels_of_a_function_build_as_one_program(fresh_compiledir):
    before = dict(program.STATS)
    f = function(*_graph(), mode="opencl")
    assert program.STATS["built"] - before["built"] == 1
    nodes = f.maker.fgraph.toposort()
    assert len(nodes) >= 5
    # a second function with the same graph uses the same program
    function(*_graph(), mode="opencl")
    assert program.STATS["built"] - before["built"] == 1
    assert program.STATS["memory_hits"] - before["memory_hits"] == 1
    files = [p for p in fresh_compiledir.rglob("*.bin")]
    assert len(files) == 1 and str(files[0]).startswith(str(fresh_compiledir / "opencl"))


def test_binaries_are_loaded_from_disk_in_a_new_process(fresh_compiledir, monkeypatch):
    vals = [rng.normal(size=(20, 30)).astype("float32") for _ in range(2)]
    want = function(*_graph(), mode="opencl")(*vals)
    monkeypatch.setattr(program, "_PROGRAMS", {})       # as in a new process
    before = dict(program.STATS)
    got = function(*_graph(), mode="opencl")(*vals)
    assert program.STATS["loaded"] - before["loaded"] == 1
    assert program.STATS["built"] == before["built"]
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_cache_key_includes_the_device_and_bad_files_are_rebuilt(fresh_compiledir, monkeypatch):
    function(*_graph(), mode="opencl")
    ctx = opencl.get_backend().ctx
    monkeypatch.setattr(program, "_PROGRAMS", {})
    monkeypatch.setattr(ctx, "key", ctx.key + "|another driver")
    before = dict(program.STATS)
    function(*_graph(), mode="opencl")
    assert program.STATS["built"] - before["built"] == 1   # not the other device's binary
    assert len(list(fresh_compiledir.rglob("*.bin"))) == 2
    for path in fresh_compiledir.rglob("*.bin"):
        path.write_bytes(b"not a binary")
    monkeypatch.setattr(program, "_PROGRAMS", {})
    vals = [np.ones((4, 3), "float32"), np.zeros((4, 3), "float32")]
    out = function(*_graph(), mode="opencl")(*vals)
    np.testing.assert_allclose(out[0], np.tanh(np.full(3, 2.0)) * 4, rtol=1e-6)
