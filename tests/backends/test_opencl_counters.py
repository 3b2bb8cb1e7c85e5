"""What a call asks of the OpenCL device: kernels, transfers and blocking waits, counted by
``opencl.device_counts()`` and reported per call by a function's profile (issue 18)."""
import io

import numpy as np
import pytest

pytest.importorskip("pyopencl",
                    reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

import nnframe.tensor as T  # noqa: E402
from nnframe import function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.core.function import Out  # noqa: E402


def test_a_fused_elementwise_call_is_one_kernel_one_upload_one_download():
    x = T.fvector("x")
    f = function([x], T.tanh(x * 2) + 1, mode="opencl", profile=True)
    value = np.linspace(-1, 1, 1000).astype("float32")
    f(value)                                    # the first call may build kernels
    f.profile.calls, f.profile.call_time = 0, 0.0
    f.profile.counts.clear()
    for _ in range(3):
        np.testing.assert_allclose(f(value), np.tanh(value * 2) + 1, rtol=1e-6, atol=1e-6)
    per_call = f.profile.per_call()
    assert per_call["kernels"] == 1
    assert per_call["upload"] == 1 and per_call["upload_bytes"] == value.nbytes
    assert per_call["download"] == 1 and per_call["download_bytes"] == value.nbytes
    assert per_call["waits"] == 1               # the upload does not block; the read does
    assert 0 <= per_call["wait_seconds"] and 0 < per_call["host_seconds"]
    text = io.StringIO()
    f.profile.summary(file=text)
    assert "Per call on the device" in text.getvalue() and "kernels 1" in text.getvalue()


def test_device_resident_updates_launch_kernels_without_waiting():
    s = shared(np.ones(4096, "float32"), name="s")
    step = function([], [], updates=[(s, s * 0.5 + 1)], mode="opencl")
    step()
    opencl.reset_transfer_counts()
    for _ in range(4):
        step()
    counts = opencl.device_counts()
    assert counts["kernels"] == 4
    assert counts["waits"] == counts["upload"] == counts["download"] == 0
    np.testing.assert_allclose(s.get_value()[:3], 2 - 0.5 ** 5, rtol=1e-6)
    assert opencl.device_counts()["waits"] == 1          # reading the result waits


def test_counts_of_a_training_step_are_the_same_every_call():
    rng = np.random.default_rng(0)
    W = shared(rng.normal(size=(20, 5)).astype("float32"), name="W")
    b = shared(np.zeros(5, "float32"), name="b")
    x, y = T.fmatrix("x"), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(x, W) + b), y).mean()
    gW, gb = T.grad(loss, [W, b])
    step = function([x, y], loss, updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)],
                    mode="opencl")
    X, Y = rng.normal(size=(8, 20)).astype("float32"), rng.integers(0, 5, 8)
    step(X, Y)
    seen = []
    for _ in range(3):
        opencl.reset_transfer_counts()
        step(X, Y)
        counts = opencl.device_counts()
        seen.append((counts["kernels"], counts["upload"], counts["download"], counts["waits"]))
    assert seen[0] == seen[1] == seen[2]
    assert seen[0][0] > 0 and seen[0][2] == 1               # one download: the loss


def test_an_input_may_be_overwritten_once_the_call_returned():
    """Uploads do not block, so a call that reads nothing back waits for them at its end:
    the caller's array is free again when the call returns."""
    x = T.fvector("x")
    s = shared(np.zeros(1 << 20, "float32"), name="s")
    store = function([x], [], updates=[(s, x * 2)], mode="opencl")
    value = np.ones(1 << 20, "float32")
    opencl.reset_transfer_counts()
    store(value)
    assert opencl.device_counts()["waits"] <= 1 and opencl.device_counts()["upload"] == 1
    value[:] = 5                                  # the caller reuses its buffer at once
    np.testing.assert_array_equal(s.get_value(), 2)


def test_staging_copies_are_reused_only_once_their_upload_is_done():
    """Many calls in a row, each uploading a different array of one size and reading
    nothing back: each result is of its own input, although the staging copies of that
    size are reused (and more are in flight than there are kept)."""
    from nnframe.backends.opencl.array import _staging_slots
    x = T.fmatrix("x")
    f = function([x], Out((x * 2).sum(axis=1), borrow=True), mode="opencl")
    values = [np.full((64, 1024), k, "float32") for k in range(3 * _staging_slots(1 << 18))]
    big = shared(np.ones((1024, 1024), "float32"), name="big")
    slow = function([], Out(T.dot(big, big).sum(), borrow=True), mode="opencl")
    slow()
    opencl.reset_transfer_counts()
    busy = slow()                                 # the uploads queue up behind its product
    results = [f(v) for v in values]
    for v in values:
        v[:] = -1                                 # the caller's arrays are free at once
    assert opencl.device_counts()["waits"] == 0
    for k, r in enumerate(results):
        np.testing.assert_array_equal(r.get(), np.full(64, 2048 * k, "float32"))
    assert float(busy) == 1024 ** 3


def test_an_upload_interrupted_before_it_was_enqueued_leaves_later_uploads_working(monkeypatch):
    from nnframe.backends.opencl.context import get_context
    x = T.fvector("x")
    f = function([x], (x * 2).sum(), mode="opencl")
    ctx = get_context()
    real_copy = ctx.cl.enqueue_copy

    def interrupted(*args, **kwargs):
        monkeypatch.setattr(ctx.cl, "enqueue_copy", real_copy)
        raise KeyboardInterrupt("Ctrl-C during the upload")
    value = np.ones(5003, "float32")            # a size no other test uploads
    monkeypatch.setattr(ctx.cl, "enqueue_copy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        f(value)
    for _ in range(3):
        assert float(f(value)) == 2 * 5003


def test_a_training_step_waits_only_to_read_its_loss():
    rng = np.random.default_rng(1)
    W = shared(rng.normal(size=(30, 4)).astype("float32"), name="W")
    x, y = T.fmatrix("x"), T.lvector("y")
    loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(x, W)), y).mean()
    step = function([x, y], loss, updates=[(W, W - 0.1 * T.grad(loss, W))], mode="opencl")
    X, Y = rng.normal(size=(64, 30)).astype("float32"), rng.integers(0, 4, 64)
    step(X, Y)
    opencl.reset_transfer_counts()
    step(X, Y)
    counts = opencl.device_counts()
    assert counts["upload"] >= 1 and counts["download"] == 1 and counts["waits"] == 1


def test_the_trainer_reads_the_losses_every_ten_steps(tmp_path):
    """On OpenCL a recipe's training step leaves its loss on the device; the trainer reads
    the losses of ten steps with one wait (and all of an epoch's before it ends)."""
    from nnframe import config
    from nnframe.train.trainer import Trainer, prepare
    from tests.train.helpers import SMALL_RECIPE, write_recipe
    recipe = write_recipe(tmp_path, SMALL_RECIPE.replace("train: {epochs: 6, batch_size: 32}",
                                                         "train: {epochs: 1, batch_size: 16}"))
    device = config.device
    config.device = "opencl"
    try:
        trainer = Trainer(prepare(recipe), str(tmp_path / "run"))
        trainer.start()
        opencl.reset_transfer_counts()
        row = trainer.train_epoch(0)
        counts = opencl.device_counts()
    finally:
        config.device = device
    steps = row["step"]
    assert steps > 40
    assert counts["waits"] <= -(-steps // 10) + 1          # not one per step
    assert counts["download"] <= -(-steps // 10) * 10        # each loss read once
    assert np.isfinite(row["train.loss"]) and 0 < row["train.loss"] < 5


def test_a_function_with_device_resident_state_pickles_as_values():
    import pickle
    s = shared(np.arange(4, dtype="float32"), name="s")
    step = function([], [], updates=[(s, s + 1)], mode="opencl")
    step()                                   # s now lives on the device
    step2, s2 = pickle.loads(pickle.dumps((step, s)))
    np.testing.assert_array_equal(s2.get_value(), np.arange(4) + 1)
    step2()
    np.testing.assert_array_equal(s2.get_value(), np.arange(4) + 2)
