"""Minibatch indices whose order depends only on (seed, epoch).

Decisions:

- The order of epoch ``e`` is ``numpy.random.default_rng([seed, e]).permutation(n)``:
  it depends on nothing else (not on earlier epochs, not on a generator's
  state), so training resumed at any epoch and step draws exactly the batches
  an uninterrupted run would have drawn.  A checkpoint needs to store only
  the seed, the epoch and the step within the epoch.
- ``seed`` is a non-negative int (a trainer holding a ``SeedSequence`` passes
  ``int(seq.generate_state(1)[0])``).
- Batches are consecutive runs of ``batch_size`` indices of that order; the
  last one is smaller unless ``drop_last=True`` drops it.
- ``shuffle=False`` gives ``0, 1, ..., n-1`` every epoch (evaluation).

>>> batches = Minibatches(10, batch_size=4, seed=0)
>>> len(batches)
3
>>> [b.tolist() for b in batches.epoch(0)] == [b.tolist() for b in iterate_minibatches(10, 4)]
True
>>> resumed = list(batches.epoch(0, start=1))     # resume at step 1 of epoch 0
>>> np.array_equal(resumed[0], batches.batch_at(0, 1))
True
"""
import numpy as np

__all__ = ["Minibatches", "iterate_minibatches", "epoch_order"]


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def epoch_order(n, epoch, seed=0, shuffle=True):
    """The order of the ``n`` examples in epoch ``epoch``: a permutation drawn from
    ``(seed, epoch)`` alone, or ``arange(n)`` when ``shuffle`` is False.

    >>> epoch_order(5, epoch=1, seed=3).tolist() == epoch_order(5, epoch=1, seed=3).tolist()
    True
    """
    n = _check_int(n, "n", 0)
    epoch = _check_int(epoch, "epoch", 0)
    if not shuffle:
        return np.arange(n)
    return np.random.default_rng([_check_int(seed, "seed", 0), epoch]).permutation(n)


class Minibatches:
    """Minibatch index arrays over ``n`` examples, reproducible per (seed, epoch).

    Parameters
    ----------
    n : int
        The number of examples.
    batch_size : int
        Examples per batch (the last batch of an epoch may be smaller).
    shuffle : bool
        Draw a new order every epoch; False keeps ``0 .. n-1``.
    seed : int
        With the epoch number, fixes each epoch's order.
    drop_last : bool
        Drop the last, smaller batch of each epoch.

    Examples
    --------
    >>> batches = Minibatches(1437, batch_size=128, seed=0)
    >>> len(batches), batches.batch_at(epoch=3, step=11).shape
    (12, (29,))
    >>> epoch, step = batches.locate(40)         # global step 40 -> epoch 3, step 4
    >>> for idx in batches.epoch(epoch, start=step):
    ...     pass                                 # train on x[idx], y[idx]
    """

    def __init__(self, n, batch_size, shuffle=True, seed=0, drop_last=False):
        self.n = _check_int(n, "n", 1)
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        self.seed = _check_int(seed, "seed", 0)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        if self.drop_last and self.n < self.batch_size:
            raise ValueError(f"drop_last=True with batch_size={self.batch_size} > n={self.n} "
                             "leaves no batches; lower the batch size or keep the last batch")
        self._cached = (None, None)  # (epoch, order): the batches of one epoch share its order

    def __len__(self):
        """Batches per epoch."""
        if self.drop_last:
            return self.n // self.batch_size
        return -(-self.n // self.batch_size)

    def order(self, epoch):
        """The order of the examples in ``epoch`` (see :func:`epoch_order`)."""
        if self._cached[0] != epoch:
            order = epoch_order(self.n, epoch, self.seed, self.shuffle)
            order.flags.writeable = False  # shared by the epoch's batches
            self._cached = (epoch, order)
        return self._cached[1]

    def batch_at(self, epoch, step):
        """The indices of batch ``step`` (0-based) of ``epoch``."""
        step = _check_int(step, "step", 0)
        if step >= len(self):
            raise IndexError(f"step {step} is past the end of the epoch ({len(self)} batches "
                             f"of {self.batch_size} from {self.n} examples)")
        return self.order(epoch)[step * self.batch_size:(step + 1) * self.batch_size].copy()

    def epoch(self, epoch, start=0):
        """An iterator over the batches of ``epoch`` from step ``start`` on (resume mid-epoch)."""
        start = _check_int(start, "start", 0)
        if start > len(self):
            raise IndexError(f"start step {start} is past the end of the epoch "
                             f"({len(self)} batches)")
        return (self.batch_at(epoch, step) for step in range(start, len(self)))

    def locate(self, global_step):
        """``(epoch, step in epoch)`` of the ``global_step``-th batch since training began."""
        return divmod(_check_int(global_step, "global_step", 0), len(self))

    def __repr__(self):
        return (f"Minibatches(n={self.n}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"seed={self.seed}, drop_last={self.drop_last})")


def iterate_minibatches(n, batch_size, shuffle=True, seed=0, epoch=0, drop_last=False, start=0):
    """Yield the index arrays of the batches of one epoch, from step ``start`` on.

    The same as ``Minibatches(n, batch_size, shuffle, seed, drop_last).epoch(epoch, start)``.

    Examples
    --------
    >>> x = np.arange(20.0).reshape(10, 2)
    >>> for idx in iterate_minibatches(len(x), 4, seed=1, epoch=2):
    ...     batch = x[idx]
    >>> sorted(np.concatenate(list(iterate_minibatches(10, 4))).tolist()) == list(range(10))
    True
    """
    return Minibatches(n, batch_size, shuffle, seed, drop_last).epoch(epoch, start)
