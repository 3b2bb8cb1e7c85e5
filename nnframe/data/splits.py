"""Seeded splits of a dataset, and standardisation fitted on one split.

Decisions:

- **Shuffle, then split.**  The examples are permuted with
  ``numpy.random.Generator(PCG64(seed))`` (``seed`` an int or a
  ``SeedSequence``) and the splits are taken from that order, so no split
  depends on the order of the file.  Each split lists its examples in the
  shuffled order too (classes interleaved), and the same seed always gives
  the same splits.
- **Three ways to size the splits** (give exactly one; the default is
  ``fractions={'train': 0.8, 'valid': 0.1, 'test': 0.1}``):
  ``fractions`` (rounded by largest remainder so that the counts add up to
  the dataset size), ``sizes`` (exact counts) and ``per_class`` (exact
  counts of every class).  Examples left over go to the split named by
  ``rest``; leaving examples over without ``rest`` is an error, so nothing
  is dropped silently.
- **Stratified by default**: each split gets each class in proportion (the
  per-class counts are rounded so that both every split's size and every
  class's total are exact).  ``stratify=False`` splits the shuffled order
  as it is, and is needed for unlabelled data.
- ``Standardizer`` computes in float64 and returns the input's float dtype;
  a feature with zero spread (e.g. the always-black corners of the digits)
  is divided by 1, not 0.

>>> from nnframe.data import load_dataset
>>> digits = load_dataset('digits')
>>> parts = split(digits, sizes={'train': 1437, 'test': 360}, seed=0)
>>> {name: len(part) for name, part in parts.items()}
{'train': 1437, 'test': 360}
>>> mnist = load_dataset('mnist5k', shape='flat')
>>> parts = split(mnist, per_class={'query': 100}, rest='database', seed=0)
>>> len(parts['query']), len(parts['database'])
(1000, 4000)
>>> centre = Standardizer(scale=False).fit(parts['database'])
>>> query = centre.transform(parts['query'])
"""
import numpy as np

from nnframe.data.datasets import Dataset
from nnframe.data.errors import DatasetError

__all__ = ["split", "split_indices", "Standardizer", "DEFAULT_FRACTIONS"]

DEFAULT_FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}


def split(dataset, fractions=None, *, sizes=None, per_class=None, rest=None, seed=0,
          stratify=True):
    """Split ``dataset`` into named, disjoint parts after shuffling it with ``seed``.

    Parameters
    ----------
    dataset : Dataset
        What to split.
    fractions : dict of str to float, optional
        Fraction of the examples in each split, e.g. ``{'train': 0.9, 'valid': 0.1}``.
        They must add up to 1 unless ``rest`` takes the remainder.
    sizes : dict of str to int, optional
        Exact number of examples in each split.
    per_class : dict of str to int, optional
        Exact number of examples *of each class* in each split, e.g.
        ``{'query': 100}``; needs labels, and ``rest`` for the other examples.
    rest : str, optional
        The split that receives the examples the others leave.
    seed : int or numpy.random.SeedSequence
        Seeds the shuffle; the same seed gives the same splits.
    stratify : bool
        Keep the class proportions in every split (needs integer labels).

    Returns
    -------
    dict of str to Dataset
        The splits in the order given, ``rest`` last; each is named
        ``'<dataset name>:<split name>'``.

    Examples
    --------
    >>> from nnframe.data import synthetic_blobs
    >>> parts = split(synthetic_blobs(n=100), {'train': 0.7, 'valid': 0.3}, seed=1)
    >>> len(parts['train']), len(parts['valid'])
    (70, 30)
    """
    indices = split_indices(dataset, fractions, sizes=sizes, per_class=per_class, rest=rest,
                            seed=seed, stratify=stratify)
    return {name: dataset.subset(idx, name=f"{dataset.name}:{name}")
            for name, idx in indices.items()}


def split_indices(dataset, fractions=None, *, sizes=None, per_class=None, rest=None, seed=0,
                  stratify=True):
    """The indices of each split that :func:`split` makes (same arguments).

    ``dataset`` may also be a number of examples (then ``stratify=False`` and
    no ``per_class``) or an array of labels.

    Examples
    --------
    >>> split_indices(6, {'a': 0.5, 'b': 0.5}, seed=0, stratify=False)
    {'a': array([3, 2, 5]), 'b': array([4, 0, 1])}
    """
    labels = _labels_of(dataset)
    n = labels if isinstance(labels, int) else len(labels)
    order = np.random.Generator(np.random.PCG64(seed)).permutation(n)
    given = [arg for arg in (fractions, sizes, per_class) if arg is not None]
    if len(given) > 1:
        raise ValueError("give one of fractions, sizes and per_class, not several")
    if per_class is not None:
        groups = _class_groups(labels, order, "per_class")
        counts = _per_class_counts(per_class, groups, rest)
    else:
        totals = (_counts_from_sizes(sizes, n, rest) if sizes is not None else
                  _counts_from_fractions(DEFAULT_FRACTIONS if fractions is None else fractions,
                                         n, rest))
        if stratify:
            groups = _class_groups(labels, order, "stratify=True")
            counts = _stratified_counts(totals, [len(g) for g in groups])
        else:
            groups, counts = [order], {name: [count] for name, count in totals.items()}
    return _assign(order, groups, counts)


def _labels_of(dataset):
    if isinstance(dataset, Dataset):
        return len(dataset) if dataset.y is None else dataset.y
    if isinstance(dataset, (int, np.integer)):
        return int(dataset)
    return np.asarray(dataset)


def _class_groups(labels, order, why):
    """For each class, its example indices in shuffled order."""
    if isinstance(labels, int) or labels.ndim != 1 or labels.dtype.kind not in "iub":
        raise DatasetError(f"{why} needs integer class labels, one per example; for unlabelled "
                           "data (or other targets) pass stratify=False and fractions or sizes")
    shuffled = labels[order]
    return [order[shuffled == c] for c in np.unique(labels)]


def _check_names(names, rest):
    if rest is not None and rest in names:
        raise ValueError(f"rest={rest!r} is also one of the splits {list(names)}; "
                         "the rest split must have its own name")


def _leftover(n_left, what, rest):
    if n_left > 0 and rest is None:
        raise ValueError(f"{what} leave {n_left} examples in no split; name a split to receive "
                         "them with rest='...'")


def _counts_from_fractions(fractions, n, rest):
    """Split sizes from fractions of ``n``, rounded by largest remainder to add up exactly."""
    _check_names(fractions, rest)
    values = np.array([float(f) for f in fractions.values()])
    if len(values) == 0 or (values < 0).any():
        raise ValueError(f"fractions must be non-negative numbers, got {dict(fractions)}")
    total = values.sum()
    if total > 1 + 1e-9:
        raise ValueError(f"fractions add up to {total:g} > 1: {dict(fractions)}")
    if total < 1 - 1e-9 and rest is None:
        raise ValueError(f"fractions add up to {total:g} < 1: {dict(fractions)}; name a split "
                         "for the other examples with rest='...', or make them add up to 1")
    names = list(fractions)
    if rest is not None:  # the remainder is rounded like a split of its own
        names, values = names + [rest], np.append(values, max(1 - total, 0.0))
    return dict(zip(names, _round_to_total(values / values.sum() * n, n)))


def _counts_from_sizes(sizes, n, rest):
    _check_names(sizes, rest)
    counts = {}
    for name, size in sizes.items():
        if int(size) != size or size < 0:
            raise ValueError(f"sizes[{name!r}] must be a non-negative integer, got {size!r}")
        counts[name] = int(size)
    used = sum(counts.values())
    if used > n:
        raise ValueError(f"sizes add up to {used} but the dataset has {n} examples: {counts}")
    _leftover(n - used, f"sizes adding up to {used} of {n}", rest)
    if rest is not None:
        counts[rest] = n - used
    return counts


def _per_class_counts(per_class, groups, rest):
    """{split: [count of class c]} for exact per-class counts, the rest to ``rest``."""
    _check_names(per_class, rest)
    for name, size in per_class.items():
        if int(size) != size or size < 0:
            raise ValueError(f"per_class[{name!r}] must be a non-negative integer, got {size!r}")
    wanted = sum(int(size) for size in per_class.values())
    class_sizes = [len(g) for g in groups]
    if wanted > min(class_sizes):
        raise DatasetError(f"per_class asks for {wanted} examples of each class but the smallest "
                           f"class has {min(class_sizes)}")
    counts = {name: [int(size)] * len(groups) for name, size in per_class.items()}
    _leftover(sum(class_sizes) - wanted * len(groups), "per_class counts", rest)
    if rest is not None:
        counts[rest] = [size - wanted for size in class_sizes]
    return counts


def _round_to_total(values, total):
    """Integers near ``values`` (floor, then +1 for the largest remainders) adding to ``total``."""
    floors = np.floor(values + 1e-9).astype(np.int64)
    short = int(total - floors.sum())
    # stable sort: ties go to the earlier split
    floors[np.argsort(-(values - floors), kind="stable")[:short]] += 1
    return [int(v) for v in floors]


def _stratified_counts(totals, class_sizes):
    """{split: [count of class c]}: every split's total and every class's total exact, each
    count its proportional share ``split size * class size / n`` rounded down or up.

    Start from the shares rounded down; each split then rounds up as many of its shares as
    it lacks examples, largest remainders first.  Such a rounding always exists (the
    fractional parts are a fractional solution of the same problem); where the greedy
    choice gets stuck, an augmenting path moves earlier choices to other splits.
    """
    names, sizes = list(totals), np.array(list(totals.values()), dtype=np.int64)
    class_sizes = np.array(class_sizes, dtype=np.int64)
    target = np.outer(sizes, class_sizes) / class_sizes.sum()
    counts = np.floor(target + 1e-9).astype(np.int64)
    remainders = target - counts
    allowed = remainders > 1e-9
    up = np.zeros_like(allowed)
    row_short = sizes - counts.sum(axis=1)
    col_short = class_sizes - counts.sum(axis=0)
    for cell in np.argsort(-remainders, axis=None, kind="stable"):
        r, c = np.unravel_index(cell, remainders.shape)
        if allowed[r, c] and row_short[r] > 0 and col_short[c] > 0:
            up[r, c] = True
            row_short[r] -= 1
            col_short[c] -= 1
    for r in range(len(sizes)):
        for _ in range(row_short[r]):
            col_short[_round_up_one_more(r, up, allowed, col_short)] -= 1
    counts += up
    return {name: counts[i].tolist() for i, name in enumerate(names)}


def _round_up_one_more(r0, up, allowed, col_short):
    """Round up one more share of split ``r0`` (breadth-first augmenting path from ``r0`` to
    a class that still lacks an example); returns that class."""
    reached_from = {}  # class -> split that rounds it up on the path
    via = {}           # split -> class whose rounding-up it gives away on the path
    frontier = [r0]
    while frontier:
        next_frontier = []
        for r in frontier:
            for c in np.flatnonzero(allowed[r] & ~up[r]):
                if c in reached_from:
                    continue
                reached_from[c] = r
                if col_short[c] > 0:
                    end = c
                    while True:  # flip the path back to r0
                        r = reached_from[c]
                        up[r, c] = True
                        if r == r0:
                            return end
                        c = via[r]
                        up[r, c] = False
                for r2 in np.flatnonzero(up[:, c]):
                    if r2 != r0 and r2 not in via:
                        via[r2] = c
                        next_frontier.append(r2)
        frontier = next_frontier
    raise AssertionError("no stratified rounding found")  # impossible: one always exists


def _assign(order, groups, counts):
    """Cut each group into consecutive runs of the given counts; each split keeps the
    shuffled order."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    starts = [0] * len(groups)
    result = {}
    for name, per_group in counts.items():
        parts = []
        for g, count in enumerate(per_group):
            parts.append(groups[g][starts[g]:starts[g] + count])
            starts[g] += count
        idx = np.concatenate(parts) if parts else np.empty(0, np.int64)
        result[name] = idx[np.argsort(rank[idx], kind="stable")]
    return result


class Standardizer:
    """Subtract a mean and divide by a standard deviation, both fitted on one split.

    Parameters
    ----------
    scale : bool
        Divide by the standard deviation; ``False`` only centres.
    per : {'feature', 'channel', 'global'}
        One mean (and std) per feature (per pixel of an image), per channel
        (axis 1 of ``(n, C, H, W)`` images), or one for the whole array.
    eps : float
        Standard deviations below ``eps`` are replaced by 1 (constant
        features are centred, not blown up).

    Examples
    --------
    >>> x = np.array([[0., 10.], [2., 10.], [4., 10.]])
    >>> s = Standardizer().fit(x)
    >>> s.transform(x)
    array([[-1.22474487,  0.        ],
           [ 0.        ,  0.        ],
           [ 1.22474487,  0.        ]])
    >>> Standardizer.from_state(s.state()).transform(x[:1])
    array([[-1.22474487,  0.        ]])
    """

    PER = ("feature", "channel", "global")

    def __init__(self, scale=True, per="feature", eps=1e-8):
        if per not in self.PER:
            raise ValueError(f"per must be one of {', '.join(self.PER)}, got {per!r}")
        self.scale, self.per, self.eps = bool(scale), per, float(eps)
        self.mean = self.std = None

    def fit(self, data):
        """Compute the mean (and std) of ``data`` (a Dataset or an array); returns self."""
        x = np.asarray(data.x if isinstance(data, Dataset) else data, dtype=np.float64)
        if x.ndim < 1 or len(x) == 0:
            raise ValueError(f"cannot fit a Standardizer on no examples (shape {x.shape})")
        if self.per == "global":
            axes, keepdims = None, False
        elif self.per == "feature":
            axes, keepdims = 0, False
        elif x.ndim < 3:
            raise ValueError(f"per='channel' needs examples with a channel axis and more, "
                             f"(n, C, H, W) or (n, C, L), got shape {x.shape}")
        else:  # statistics of shape (C, 1, ..., 1) broadcast over each example
            axes, keepdims = (0,) + tuple(range(2, x.ndim)), True
        mean = np.mean(x, axis=axes, keepdims=keepdims)
        std = np.std(x, axis=axes, keepdims=keepdims) if self.scale else np.ones_like(mean)
        if keepdims:
            mean, std = mean[0], std[0]
        self.mean, self.std = np.asarray(mean), np.where(std < self.eps, 1.0, std)
        return self

    def _check(self, x):
        if self.mean is None:
            raise RuntimeError("this Standardizer is not fitted yet: call fit() on the training "
                               "split first")
        if self.mean.ndim == 0:  # global statistics fit any shape
            return
        fits = x.ndim - 1 == self.mean.ndim and (
            self.mean.shape == x.shape[1:] if self.per == "feature"
            else self.mean.shape[0] == x.shape[1])  # per channel: (C, 1, ..., 1)
        if not fits:
            raise ValueError(f"this Standardizer (per={self.per!r}) has statistics of shape "
                             f"{self.mean.shape} and cannot apply to examples of shape "
                             f"{x.shape[1:]}")

    def transform(self, data):
        """``(x - mean) / std`` for a Dataset (a new one, ``y`` kept) or an array.

        Float arrays keep their dtype; others become float64.
        """
        if isinstance(data, Dataset):
            return data.replace(x=self.transform(data.x))
        x = np.asarray(data)
        self._check(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
        return ((x - self.mean) / self.std).astype(dtype, copy=False)

    def fit_transform(self, data):
        return self.fit(data).transform(data)

    def inverse_transform(self, data):
        """``x * std + mean``: undo :meth:`transform`."""
        if isinstance(data, Dataset):
            return data.replace(x=self.inverse_transform(data.x))
        x = np.asarray(data)
        self._check(x)
        dtype = x.dtype if x.dtype.kind == "f" else np.float64
        return (x * self.std + self.mean).astype(dtype, copy=False)

    def state(self):
        """Everything needed to rebuild this Standardizer: arrays and plain values
        (storable in an HDF5 checkpoint)."""
        if self.mean is None:
            raise RuntimeError("this Standardizer is not fitted yet; nothing to save")
        return {"mean": self.mean.copy(), "std": self.std.copy(), "scale": self.scale,
                "per": self.per, "eps": self.eps}

    @classmethod
    def from_state(cls, state):
        """The Standardizer that :meth:`state` described."""
        missing = {"mean", "std", "scale", "per", "eps"} - set(state)
        if missing:
            raise KeyError(f"Standardizer state lacks {sorted(missing)}")
        per = state["per"]
        per = per.decode() if isinstance(per, bytes) else str(per)
        obj = cls(scale=bool(state["scale"]), per=per, eps=float(state["eps"]))
        obj.mean = np.array(state["mean"], dtype=np.float64)
        obj.std = np.array(state["std"], dtype=np.float64)
        if obj.mean.shape != obj.std.shape:
            raise ValueError(f"Standardizer state: mean shape {obj.mean.shape} != std shape "
                             f"{obj.std.shape}")
        return obj

    def __repr__(self):
        fitted = "fitted" if self.mean is not None else "not fitted"
        return f"Standardizer(scale={self.scale}, per={self.per!r}, {fitted})"
