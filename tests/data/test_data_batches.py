"""Minibatches: every index once per epoch, order fixed by (seed, epoch) alone, resuming
at any step gives the remaining batches of an uninterrupted run, drop_last."""
import re

import numpy as np
import pytest

from nnframe.data import Minibatches, epoch_order, iterate_minibatches


def reference_batches(n, batch_size, seed, epoch, drop_last=False):
    order = np.random.default_rng([seed, epoch]).permutation(n)
    stop = n - n % batch_size if drop_last else n
    return [order[i:min(i + batch_size, stop)] for i in range(0, stop, batch_size)]


@pytest.mark.parametrize("n,batch_size", [(10, 3), (12, 4), (1437, 128), (5, 5), (3, 8)])
@pytest.mark.parametrize("epoch", [0, 1, 7])
def test_every_index_once_per_epoch(n, batch_size, epoch):
    batches = list(iterate_minibatches(n, batch_size, seed=3, epoch=epoch))
    assert len(batches) == -(-n // batch_size) == len(Minibatches(n, batch_size))
    assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size
    np.testing.assert_array_equal(np.sort(np.concatenate(batches)), np.arange(n))
    for got, expected in zip(batches, reference_batches(n, batch_size, 3, epoch)):
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("n,batch_size", [(10, 3), (12, 4), (1437, 128)])
def test_drop_last(n, batch_size):
    mb = Minibatches(n, batch_size, seed=1, drop_last=True)
    batches = list(mb.epoch(2))
    assert len(batches) == len(mb) == n // batch_size
    assert all(len(b) == batch_size for b in batches)
    seen = np.concatenate(batches)
    assert len(np.unique(seen)) == len(seen) == n - n % batch_size
    for got, expected in zip(batches, reference_batches(n, batch_size, 1, 2, drop_last=True)):
        np.testing.assert_array_equal(got, expected)


def test_order_depends_only_on_seed_and_epoch():
    a = Minibatches(100, 16, seed=5)
    for epoch in range(4):  # a history of earlier epochs changes nothing
        list(a.epoch(epoch))
    fresh = Minibatches(100, 16, seed=5)
    np.testing.assert_array_equal(a.order(4), fresh.order(4))
    np.testing.assert_array_equal(fresh.order(4), np.random.default_rng([5, 4]).permutation(100))
    assert not np.array_equal(a.order(4), a.order(5))
    assert not np.array_equal(a.order(4), Minibatches(100, 16, seed=6).order(4))
    np.testing.assert_array_equal(epoch_order(100, 4, seed=5), a.order(4))


def test_no_shuffle():
    batches = list(iterate_minibatches(10, 4, shuffle=False, seed=9, epoch=3))
    assert [b.tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


@pytest.mark.parametrize("start", [0, 1, 5, 11, 12])
def test_resume_mid_epoch(start):
    mb = Minibatches(1437, 128, seed=0)
    full = list(mb.epoch(3))
    resumed = list(Minibatches(1437, 128, seed=0).epoch(3, start=start))
    assert len(resumed) == len(full) - start
    for got, expected in zip(resumed, full[start:]):
        np.testing.assert_array_equal(got, expected)
    for got, expected in zip(iterate_minibatches(1437, 128, seed=0, epoch=3, start=start),
                             full[start:]):
        np.testing.assert_array_equal(got, expected)
    if start < len(mb):
        np.testing.assert_array_equal(mb.batch_at(3, start), full[start])


@pytest.mark.parametrize("stop_at", [0, 7, 12, 25, 30])
def test_interrupted_run_sees_the_same_batches(stop_at):
    """A run stopped after ``stop_at`` global steps and resumed from (epoch, step) alone
    draws exactly the batches of an uninterrupted run."""
    epochs = 3
    mb = Minibatches(130, 12, seed=42)
    straight = [b for e in range(epochs) for b in mb.epoch(e)]
    first = straight[:stop_at]
    epoch, step = Minibatches(130, 12, seed=42).locate(stop_at)  # a fresh process
    resumed = Minibatches(130, 12, seed=42)
    rest = list(resumed.epoch(epoch, start=step))
    rest += [b for e in range(epoch + 1, epochs) for b in resumed.epoch(e)]
    assert len(first) + len(rest) == len(straight) == epochs * 11
    for got, expected in zip(first + rest, straight):
        np.testing.assert_array_equal(got, expected)


def test_batches_are_copies():
    mb = Minibatches(10, 4, seed=0)
    batch = mb.batch_at(0, 0)
    batch[:] = -1
    assert (mb.batch_at(0, 0) >= 0).all()


@pytest.mark.parametrize("call,error,message", [
    (lambda: Minibatches(10, 0), ValueError, "batch_size must be an integer >= 1, got 0"),
    (lambda: Minibatches(0, 4), ValueError, "n must be an integer >= 1, got 0"),
    (lambda: Minibatches(10, 4, seed=-1), ValueError, "seed must be an integer >= 0, got -1"),
    (lambda: Minibatches(10, 2.5), ValueError, "batch_size must be an integer >= 1, got 2.5"),
    (lambda: Minibatches(3, 8, drop_last=True), ValueError,
     "drop_last=True with batch_size=8 > n=3 leaves no batches"),
    (lambda: Minibatches(10, 4).batch_at(0, 3), IndexError,
     "step 3 is past the end of the epoch (3 batches of 4 from 10 examples)"),
    (lambda: Minibatches(10, 4).epoch(0, start=4), IndexError,
     "start step 4 is past the end of the epoch (3 batches)"),
    (lambda: Minibatches(10, 4).order(-1), ValueError, "epoch must be an integer >= 0, got -1"),
])
def test_errors(call, error, message):
    with pytest.raises(error, match=re.escape(message)):
        call()
