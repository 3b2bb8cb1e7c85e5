"""Seeded splits (sizes, stratification, disjointness, determinism, per-class queries) and
the Standardizer (values against NumPy, state round trip through HDF5)."""
import re

import h5py
import numpy as np
import pytest

from nnframe.data import (
    Dataset,
    DatasetError,
    Standardizer,
    load_dataset,
    split,
    split_indices,
    synthetic_blobs,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", shape="flat")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist5k", shape="flat")


def check_partition(parts, n):
    """The splits are disjoint, each without repeats, and together hold every index."""
    everything = np.concatenate(list(parts.values()))
    assert len(everything) == n
    np.testing.assert_array_equal(np.sort(everything), np.arange(n))


def check_stratified(parts, labels):
    """Every split holds each class's proportional share, rounded down or up."""
    classes, class_sizes = np.unique(labels, return_counts=True)
    n = len(labels)
    for idx in parts.values():
        counts = np.array([(labels[idx] == c).sum() for c in classes])
        share = len(idx) * class_sizes / n
        assert np.all(counts >= np.floor(share - 1e-9)) and np.all(counts <= np.ceil(share + 1e-9))


# -- fractions and sizes ---------------------------------------------------

def test_default_fractions(digits):
    parts = split_indices(digits, seed=0)
    assert list(parts) == ["train", "valid", "test"]
    # 1797 * (0.8, 0.1, 0.1) = 1437.6, 179.7, 179.7: largest remainders round up
    assert [len(p) for p in parts.values()] == [1437, 180, 180]
    check_partition(parts, 1797)
    check_stratified(parts, digits.y)


def test_split_returns_datasets(digits):
    parts = split(digits, {"train": 0.5, "test": 0.5}, seed=3)
    indices = split_indices(digits, {"train": 0.5, "test": 0.5}, seed=3)
    for name, part in parts.items():
        assert isinstance(part, Dataset) and part.name == f"digits:{name}"
        np.testing.assert_array_equal(part.x, digits.x[indices[name]])
        np.testing.assert_array_equal(part.y, digits.y[indices[name]])
        assert part.num_classes == 10 and part.class_names == digits.class_names


def test_exact_sizes(digits):
    parts = split_indices(digits, sizes={"train": 1437, "test": 360}, seed=0)
    assert {k: len(v) for k, v in parts.items()} == {"train": 1437, "test": 360}
    check_partition(parts, 1797)
    check_stratified(parts, digits.y)


def test_sizes_with_rest(digits):
    parts = split_indices(digits, sizes={"a": 100, "b": 200}, rest="other", seed=0)
    assert [len(p) for p in parts.values()] == [100, 200, 1497] and list(parts)[-1] == "other"
    check_partition(parts, 1797)
    check_stratified(parts, digits.y)


def test_fractions_with_rest(digits):
    parts = split_indices(digits, {"valid": 0.1}, rest="train", seed=0)
    assert [len(p) for p in parts.values()] == [180, 1617]
    check_partition(parts, 1797)


@pytest.mark.parametrize("seed", range(6))
def test_stratified_rounding_is_exact(seed):
    """Random class sizes and split sizes: totals exact, each count within one of its share."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.repeat(np.arange(7), rng.integers(1, 40, size=7)))
    n = len(labels)
    cuts = np.sort(rng.integers(0, n + 1, size=3))
    sizes = dict(zip("abcd", np.diff(np.concatenate([[0], cuts, [n]])).tolist()))
    parts = split_indices(labels, sizes=sizes, seed=seed)
    assert {k: len(v) for k, v in parts.items()} == sizes
    check_partition(parts, n)
    check_stratified(parts, labels)


def test_unstratified_matches_plain_numpy_reference():
    parts = split_indices(100, sizes={"a": 30, "b": 50, "c": 20}, seed=7, stratify=False)
    order = np.random.Generator(np.random.PCG64(7)).permutation(100)
    np.testing.assert_array_equal(parts["a"], order[:30])
    np.testing.assert_array_equal(parts["b"], order[30:80])
    np.testing.assert_array_equal(parts["c"], order[80:])


def test_splits_keep_the_shuffled_order(digits):
    """Each split lists its examples in the seed's shuffled order, classes interleaved."""
    parts = split_indices(digits, seed=0)
    order = np.random.Generator(np.random.PCG64(0)).permutation(1797)
    rank = np.argsort(order)
    for idx in parts.values():
        assert np.all(np.diff(rank[idx]) > 0)
    assert len(set(digits.y[parts["train"][:20]].tolist())) > 5


def test_deterministic_per_seed(digits):
    a, b = split_indices(digits, seed=11), split_indices(digits, seed=11)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    c = split_indices(digits, seed=12)
    assert not np.array_equal(a["train"], c["train"])
    assert set(a["test"].tolist()) != set(c["test"].tolist())


def test_seed_sequence_is_the_same_seed(digits):
    a = split_indices(digits, seed=4)
    b = split_indices(digits, seed=np.random.SeedSequence(4))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])


def test_unlabelled_data():
    data = Dataset(np.zeros((10, 2)), name="u")
    with pytest.raises(DatasetError, match="stratify=True needs integer class labels"):
        split(data, seed=0)
    parts = split(data, {"train": 0.7, "test": 0.3}, seed=0, stratify=False)
    assert [len(p) for p in parts.values()] == [7, 3]


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(fractions={"a": 0.5, "b": 0.4}), ValueError,
     "fractions add up to 0.9 < 1: {'a': 0.5, 'b': 0.4}; name a split for the other examples "
     "with rest='...', or make them add up to 1"),
    (dict(fractions={"a": 0.7, "b": 0.4}), ValueError, "fractions add up to 1.1 > 1"),
    (dict(fractions={"a": -0.5, "b": 1.5}), ValueError, "fractions must be non-negative"),
    (dict(sizes={"a": 50}), ValueError,
     "sizes adding up to 50 of 90 leave 40 examples in no split; name a split to receive them "
     "with rest='...'"),
    (dict(sizes={"a": 50, "b": 50}), ValueError,
     "sizes add up to 100 but the dataset has 90 examples"),
    (dict(sizes={"a": 2.5}, rest="b"), ValueError, "sizes['a'] must be a non-negative integer"),
    (dict(sizes={"a": 10}, rest="a"), ValueError, "rest='a' is also one of the splits ['a']"),
    (dict(fractions={"a": 1.0}, sizes={"a": 90}), ValueError,
     "give one of fractions, sizes and per_class, not several"),
    (dict(per_class={"q": 31}, rest="db"), DatasetError,
     "per_class asks for 31 examples of each class but the smallest class has 30"),
    (dict(per_class={"q": 10}), ValueError, "per_class counts leave 60 examples in no split"),
])
def test_split_errors(kwargs, error, message):
    data = synthetic_blobs(n=90, num_classes=3)
    with pytest.raises(error, match=re.escape(message)):
        split(data, seed=0, **kwargs)


# -- per-class queries (the hashing protocol) ------------------------------

def test_mnist5k_query_database_protocol(mnist):
    parts = split(mnist, per_class={"query": 100}, rest="database", seed=0)
    assert list(parts) == ["query", "database"]
    assert np.bincount(parts["query"].y, minlength=10).tolist() == [100] * 10
    assert np.bincount(parts["database"].y, minlength=10).tolist() == [400] * 10
    indices = split_indices(mnist, per_class={"query": 100}, rest="database", seed=0)
    check_partition(indices, 5000)
    # shuffled by the seed: neither split is in file order or grouped by class
    for idx in indices.values():
        assert not np.all(np.diff(idx) > 0)
        assert np.count_nonzero(np.diff(mnist.y[idx])) > len(idx) // 2
    again = split_indices(mnist, per_class={"query": 100}, rest="database", seed=0)
    other = split_indices(mnist, per_class={"query": 100}, rest="database", seed=1)
    np.testing.assert_array_equal(indices["query"], again["query"])
    np.testing.assert_array_equal(indices["database"], again["database"])
    assert set(indices["query"].tolist()) != set(other["query"].tolist())


def test_per_class_queries_are_a_random_choice_within_class(mnist):
    """The queries of class c are the first 100 of class c in the seed's order."""
    indices = split_indices(mnist, per_class={"query": 100}, rest="database", seed=2)
    order = np.random.Generator(np.random.PCG64(2)).permutation(5000)
    expected = np.concatenate([order[mnist.y[order] == c][:100] for c in range(10)])
    assert set(indices["query"].tolist()) == set(expected.tolist())


def test_digits_per_class_30(digits):
    parts = split(digits, per_class={"query": 30}, rest="database", seed=0)
    assert np.bincount(parts["query"].y).tolist() == [30] * 10
    assert len(parts["database"]) == 1797 - 300


# -- Standardizer ----------------------------------------------------------

def reference_standardize(train, other):
    mean, std = train.mean(0), train.std(0)
    std[std < 1e-8] = 1.0
    return (other - mean) / std


def test_standardize_per_feature(digits):
    parts = split(digits, sizes={"train": 1437, "test": 360}, seed=0)
    s = Standardizer().fit(parts["train"])
    out = s.transform(parts["test"])
    assert isinstance(out, Dataset) and out.x.dtype == np.float32
    np.testing.assert_array_equal(out.y, parts["test"].y)
    expected = reference_standardize(parts["train"].x.astype(np.float64), parts["test"].x)
    np.testing.assert_allclose(out.x, expected, rtol=1e-5, atol=1e-5)
    train = s.transform(parts["train"].x)
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    constant = parts["train"].x.std(0) == 0  # the always-blank corner pixels
    assert constant.any()
    np.testing.assert_allclose(train.std(0)[~constant], 1, rtol=1e-4)
    np.testing.assert_array_equal(train[:, constant], 0)


def test_centre_only(mnist):
    parts = split(mnist, per_class={"query": 100}, rest="database", seed=0)
    centre = Standardizer(scale=False).fit(parts["database"])
    np.testing.assert_array_equal(centre.std, np.ones(784))
    mean = parts["database"].x.astype(np.float64).mean(0)
    np.testing.assert_allclose(centre.transform(parts["query"]).x, parts["query"].x - mean,
                               atol=1e-6)


def test_global_and_per_channel():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3, 4, 5)) * np.array([1.0, 2.0, 3.0])[:, None, None] + 7
    g = Standardizer(per="global").fit(x)
    np.testing.assert_allclose(g.transform(x), (x - x.mean()) / x.std())
    assert g.mean.shape == () and g.transform(x[:, 0]).shape == (20, 4, 5)  # any shape
    c = Standardizer(per="channel").fit(x)
    assert c.mean.shape == (3, 1, 1)
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    std = x.std(axis=(0, 2, 3), keepdims=True)
    np.testing.assert_allclose(c.transform(x), (x - mean) / std)
    np.testing.assert_allclose(c.inverse_transform(c.transform(x)), x)


def test_integer_input_becomes_float64():
    x = np.arange(12).reshape(6, 2)
    out = Standardizer().fit(x).transform(x)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, reference_standardize(x.astype(float), x))


@pytest.mark.parametrize("per", ["feature", "channel", "global"])
@pytest.mark.parametrize("scale", [True, False])
def test_state_round_trip_through_hdf5(tmp_path, per, scale):
    x = np.random.default_rng(1).normal(size=(10, 2, 3, 3)).astype(np.float32)
    s = Standardizer(scale=scale, per=per).fit(x)
    with h5py.File(tmp_path / "ckpt.h5", "w") as f:  # as a checkpoint would store it
        for key, value in s.state().items():
            f[f"standardizer/{key}"] = value
    with h5py.File(tmp_path / "ckpt.h5", "r") as f:
        state = {key: f[f"standardizer/{key}"][()] for key in f["standardizer"]}
    restored = Standardizer.from_state(state)
    assert (restored.scale, restored.per) == (scale, per)
    np.testing.assert_array_equal(restored.transform(x), s.transform(x))


def test_standardizer_errors():
    with pytest.raises(RuntimeError, match="not fitted yet: call fit"):
        Standardizer().transform(np.zeros((2, 3)))
    with pytest.raises(RuntimeError, match="not fitted yet; nothing to save"):
        Standardizer().state()
    with pytest.raises(ValueError, match="per must be one of feature, channel, global"):
        Standardizer(per="pixel")
    s = Standardizer().fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=re.escape(
            "statistics of shape (3,) and cannot apply to examples of shape (4,)")):
        s.transform(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="per='channel' needs examples with a channel axis"):
        Standardizer(per="channel").fit(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="cannot fit a Standardizer on no examples"):
        Standardizer().fit(np.zeros((0, 3)))
    with pytest.raises(KeyError, match=re.escape("Standardizer state lacks ['eps', 'per']")):
        Standardizer.from_state({"mean": 0, "std": 1, "scale": True})
