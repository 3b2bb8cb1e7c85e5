"""The mnist5k and digits protocols: split sizes, stratification, disjointness,
scaling and database-mean centring, determinism."""
import numpy as np
import pytest
from sklearn.datasets import load_digits

from nnframe.hashing import digits_protocol, mnist5k_protocol


@pytest.fixture(scope="module")
def fake_mnist5k():
    """mnist5k-shaped raw data: 5,000 images of 784 pixels in 0..255, 500 per class."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(5000, 784)).astype(np.uint8)
    y = rng.permutation(np.repeat(np.arange(10), 500))
    return x, y


def check_split(split, x, y, scale, per_class):
    n_classes = len(np.unique(y))
    assert split.query_x.shape == (per_class * n_classes, x.shape[1])
    assert split.db_x.shape == (len(x) - per_class * n_classes, x.shape[1])
    np.testing.assert_array_equal(np.bincount(split.query_y), [per_class] * n_classes)
    # disjoint, together all items, labels follow their rows
    assert not set(split.query_index) & set(split.db_index)
    np.testing.assert_array_equal(np.sort(np.concatenate([split.query_index, split.db_index])),
                                  np.arange(len(x)))
    np.testing.assert_array_equal(split.query_y, y[split.query_index])
    np.testing.assert_array_equal(split.db_y, y[split.db_index])
    # scaled, centred by the database mean (both sets)
    mean = x[split.db_index].mean(axis=0) / scale
    np.testing.assert_allclose(split.mean, mean)
    np.testing.assert_allclose(split.db_x, x[split.db_index] / scale - mean, atol=1e-12)
    np.testing.assert_allclose(split.query_x, x[split.query_index] / scale - mean, atol=1e-12)
    np.testing.assert_allclose(split.db_x.mean(axis=0), 0, atol=1e-12)


def test_mnist5k_protocol_sizes_strata_and_centring(fake_mnist5k):
    x, y = fake_mnist5k
    split = mnist5k_protocol(x, y, seed=0)
    assert len(split.query_x) == 1000 and len(split.db_x) == 4000
    check_split(split, x, y, 255.0, per_class=100)


def test_mnist5k_protocol_is_deterministic_and_shuffled_by_the_seed(fake_mnist5k):
    x, y = fake_mnist5k
    a, b, c = (mnist5k_protocol(x, y, seed=s) for s in (1, 1, 2))
    for field_a, field_b in zip(a, b):
        np.testing.assert_array_equal(field_a, field_b)
    assert set(a.query_index) != set(c.query_index)
    # shuffled: neither set comes in class or index order
    assert np.any(np.diff(a.query_y) < 0) and np.any(np.diff(a.db_index) < 0)


def test_digits_protocol_on_real_digits():
    digits = load_digits()
    x, y = digits.data, digits.target
    split = digits_protocol(x, y, seed=0)
    assert len(split.query_x) == 300 and len(split.db_x) == len(x) - 300
    check_split(split, x, y, 16.0, per_class=30)


def test_protocol_rejects_bad_input(fake_mnist5k):
    x, y = fake_mnist5k
    with pytest.raises(ValueError, match=r"raw values in \[0, 255.0\]"):
        mnist5k_protocol(x * 2.0, y, seed=0)
    with pytest.raises(ValueError, match="look already scaled"):
        mnist5k_protocol(x / 255.0, y, seed=0)
    with pytest.raises(ValueError, match="same length"):
        mnist5k_protocol(x, y[:-1], seed=0)
    with pytest.raises(ValueError, match="class 3 has 100 items"):
        keep = (y != 3) | (np.cumsum(y == 3) <= 100)
        mnist5k_protocol(x[keep], y[keep], seed=0)
    with pytest.raises(ValueError, match="must be integers"):
        mnist5k_protocol(x, y.astype(float), seed=0)


def test_prescaled_pixels_with_scale_one_give_the_same_split(fake_mnist5k):
    x, y = fake_mnist5k
    raw, prescaled = mnist5k_protocol(x, y, seed=0), mnist5k_protocol(x / 255.0, y, 0, scale=1)
    np.testing.assert_array_equal(raw.query_index, prescaled.query_index)
    np.testing.assert_allclose(raw.db_x, prescaled.db_x, atol=1e-12)
