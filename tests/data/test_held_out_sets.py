"""A file's own test and validation sets: npz/HDF5 keys (Keras' x_test, y_test) and
MNIST's IDX t10k files, read and checked like the training arrays, and every error naming
the keys at fault."""
import re

import h5py
import numpy as np
import pytest

from nnframe.config import config
from nnframe.data import (
    Dataset,
    DatasetError,
    MissingKeyError,
    held_out_arguments,
    load_dataset,
    write_idx,
)

RNG = np.random.default_rng(0)
X_TRAIN = RNG.integers(0, 256, size=(12, 4, 5)).astype(np.uint8)
Y_TRAIN = np.arange(12) % 3
X_TEST = RNG.integers(0, 256, size=(5, 4, 5)).astype(np.uint8)
Y_TEST = np.array([2, 0, 1, 1, 0])
X_VALID = RNG.integers(0, 256, size=(3, 4, 5)).astype(np.uint8)
Y_VALID = np.array([1, 2, 0])
KERAS = dict(x="x_train", y="y_train", test_x="x_test", test_y="y_test")


def write_npz(tmp_path, **arrays):
    arrays = arrays or dict(x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST, y_test=Y_TEST,
                            x_valid=X_VALID, y_valid=Y_VALID)
    path = tmp_path / "keras.npz"
    np.savez(path, **arrays)
    return path


def write_hdf5(tmp_path):
    path = tmp_path / "mnist.h5"
    with h5py.File(path, "w") as f:
        for group, (x, y) in {"train": (X_TRAIN, Y_TRAIN), "test": (X_TEST, Y_TEST)}.items():
            f[f"{group}/x"], f[f"{group}/y"] = x, y
    return path


def write_mnist_idx(tmp_path, test_images=X_TEST, test_labels=Y_TEST, suffix=".gz"):
    names = {"images": "train-images-idx3-ubyte", "labels": "train-labels-idx1-ubyte",
             "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
    arrays = {"images": X_TRAIN, "labels": Y_TRAIN.astype(np.uint8),
              "test_images": test_images, "test_labels": test_labels.astype(np.uint8)}
    files = {}
    for role, name in names.items():
        files[role] = tmp_path / (name + suffix)
        write_idx(files[role], arrays[role])
    return files


def assert_set(dataset, x, y, name, scale=1.0):
    assert dataset.name == name and dataset.x.dtype == np.dtype(config.floatX)
    np.testing.assert_array_equal(dataset.x, (x * scale).astype(config.floatX))
    assert dataset.y.dtype == np.int64
    np.testing.assert_array_equal(dataset.y, y)


# -- reading the sets ----------------------------------------------------------------------

def test_npz_test_set_is_held_out_with_the_training_set(tmp_path):
    data = load_dataset("npz", path=write_npz(tmp_path), **KERAS)
    assert_set(data, X_TRAIN, Y_TRAIN, "keras.npz")
    assert list(data.held_out) == ["test"]
    assert_set(data.held_out["test"], X_TEST, Y_TEST, "keras.npz:test")
    assert data.held_out["test"].num_classes == data.num_classes == 3
    assert data.held_out["test"].held_out == {}
    assert repr(data) == ("Dataset('keras.npz', n=12, input_shape=(4, 5), dtype=float32, "
                          "num_classes=3, test=5)")


def test_npz_validation_and_test_sets_share_shape_scale_and_dtype(tmp_path):
    data = load_dataset("npz", path=write_npz(tmp_path), valid_x="x_valid", valid_y="y_valid",
                        shape="flat", scale=1 / 255, dtype="float64", **KERAS)
    assert list(data.held_out) == ["valid", "test"]
    for part, x, y in [("valid", X_VALID, Y_VALID), ("test", X_TEST, Y_TEST)]:
        held = data.held_out[part]
        assert held.x.shape == (len(x), 20) and held.x.dtype == np.float64
        np.testing.assert_array_equal(held.x, x.reshape(len(x), 20) * (1 / 255))
        np.testing.assert_array_equal(held.y, y)


def test_without_held_out_keys_nothing_changes(tmp_path):
    data = load_dataset("npz", path=write_npz(tmp_path), x="x_train", y="y_train")
    assert data.held_out == {}
    assert repr(data).endswith("num_classes=3)")


def test_hdf5_test_set_by_dataset_path(tmp_path):
    data = load_dataset("hdf5", path=write_hdf5(tmp_path), x="train/x", y="train/y",
                        test_x="test/x", test_y="test/y")
    assert_set(data, X_TRAIN, Y_TRAIN, "mnist.h5")
    assert_set(data.held_out["test"], X_TEST, Y_TEST, "mnist.h5:test")


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_train_and_t10k_files(tmp_path, suffix):
    files = write_mnist_idx(tmp_path, suffix=suffix)
    data = load_dataset("idx", **files, shape="image", scale=1 / 255)
    assert data.x.shape == (12, 1, 4, 5) and data.name == f"train-images-idx3-ubyte{suffix}"
    test = data.held_out["test"]
    assert test.x.shape == (5, 1, 4, 5) and test.name == f"{data.name}:test"
    np.testing.assert_array_equal(test.x[:, 0], (X_TEST * (1 / 255)).astype(config.floatX))
    np.testing.assert_array_equal(test.y, Y_TEST)


def test_unlabelled_sets(tmp_path):
    path = write_npz(tmp_path, x=X_TRAIN, x_test=X_TEST)
    data = load_dataset("npz", path=path, y=None, test_x="x_test")
    assert data.y is None and data.held_out["test"].y is None
    assert len(data.held_out["test"]) == 5


def test_a_masked_test_set(tmp_path):
    mask = np.ones((12, 4), bool)
    test_mask = np.array([[1, 1, 0, 0]] * 5)
    path = write_npz(tmp_path, x=X_TRAIN, y=Y_TRAIN, m=mask, xt=X_TEST, yt=Y_TEST, mt=test_mask)
    data = load_dataset("npz", path=path, mask="m", test_x="xt", test_y="yt", test_mask="mt")
    np.testing.assert_array_equal(data.held_out["test"].mask, test_mask.astype(config.floatX))


def test_held_out_arguments():
    assert held_out_arguments({"images": "a", "test_images": "b", "valid_images": None}) == \
        {"test": "test_images"}
    assert held_out_arguments({"x": "a", "valid_x": "v", "test_x": "t"}) == \
        {"valid": "valid_x", "test": "test_x"}


def test_copies_leave_the_held_out_sets_behind(tmp_path):
    data = load_dataset("npz", path=write_npz(tmp_path), **KERAS)
    assert data.subset([0, 1]).held_out == {} and data.with_x(data.x + 1).held_out == {}
    with pytest.raises(TypeError, match="held_out maps valid, test to Datasets, got 'train'"):
        Dataset(np.zeros((2, 1)), held_out={"train": data})


# -- errors: each names the file, the keys and the loader argument at fault -----------------

def load_error(**kwargs):
    with pytest.raises(DatasetError) as info:
        load_dataset(**kwargs)
    return str(info.value), info.value.argument


def test_a_missing_test_key_lists_the_file_keys(tmp_path):
    path = write_npz(tmp_path)
    with pytest.raises(MissingKeyError) as info:
        load_dataset("npz", path=path, x="x_train", y="y_train", test_x="x_tst", test_y="y_test")
    assert str(info.value) == (f"{path}: no array named 'x_tst' (did you mean 'x_test'?); "
                               "available: 'x_train', 'y_train', 'x_test', 'y_test', "
                               "'x_valid', 'y_valid'")
    assert info.value.argument == "test_x"


def test_test_examples_of_another_shape_name_both_keys(tmp_path):
    path = write_npz(tmp_path, x_train=X_TRAIN, y_train=Y_TRAIN, x_test=np.zeros((5, 20)),
                     y_test=Y_TEST)
    message, argument = load_error(name="npz", path=path, **KERAS)
    assert message == (f"{path}: array 'x_test' (the test set) holds examples of shape (20,), "
                       "but array 'x_train' (the training set) holds examples of shape (4, 5); "
                       "the test examples must have the training examples' shape")
    assert argument == "test_x"


def test_idx_test_images_of_another_shape_name_both_files(tmp_path):
    files = write_mnist_idx(tmp_path, test_images=np.zeros((5, 5, 4), np.uint8))
    message, argument = load_error(name="idx", **files)
    assert message == (f"{files['test_images']} (the test set) holds examples of shape (5, 4), "
                       f"but {files['images']} (the training set) holds examples of shape "
                       "(4, 5); the test examples must have the training examples' shape")
    assert argument == "test_images"


def test_idx_test_labels_count(tmp_path):
    files = write_mnist_idx(tmp_path, test_labels=Y_TEST[:4])
    message, argument = load_error(name="idx", **files)
    assert message == (f"{files['test_images']} holds 5 examples but {files['test_labels']} "
                       "holds 4 labels")
    assert argument == "test_labels"


def test_a_missing_idx_test_file_is_named(tmp_path):
    files = write_mnist_idx(tmp_path)
    files["test_images"] = tmp_path / "t10k-missing"
    with pytest.raises(FileNotFoundError, match=re.escape(f"IDX file not found: "
                                                          f"{tmp_path / 't10k-missing'}")) as e:
        load_dataset("idx", **files)
    assert e.value.argument == "test_images"


@pytest.mark.parametrize("kwargs,message,argument", [
    (dict(x="x_train", y="y_train", test_x="x_test"),
     "the training set has targets (y: array 'y_train') but the test set has none: give "
     "test_y", "test_y"),
    (dict(x="x_train", y=None, test_x="x_test", test_y="y_test"),
     "test_y names targets of the test set, but the training set has none (y is null): give y "
     "too, or drop test_y", "test_y"),
    (dict(x="x_train", y="y_train", valid_y="y_valid"),
     "valid_y is given but not valid_x: name the valid set's examples too, or drop valid_y",
     "valid_y"),
    (dict(x="x_train", y="y_train", mask="m", test_x="x_test", test_y="y_test"),
     "the training set has a mask (mask: array 'm') but the test set has none: give "
     "test_mask", "test_mask"),
])
def test_a_held_out_set_is_named_whole(tmp_path, kwargs, message, argument):
    path = write_npz(tmp_path)
    got, got_argument = load_error(name="npz", path=path, **kwargs)
    assert (got, got_argument) == (f"{path}: {message}", argument)


def test_test_labels_of_another_kind_or_shape(tmp_path):
    path = write_npz(tmp_path, x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST,
                     y_test=Y_TEST * 0.5, y_onehot=np.eye(3)[Y_TEST])
    message, argument = load_error(name="npz", path=path, **KERAS)
    assert message == (f"{path}: array 'y_test' (the test set) holds numbers of dtype float64, "
                       "but array 'y_train' (the training set) holds class labels (integers) "
                       "of dtype int64")
    assert argument == "test_y"
    message, _ = load_error(name="npz", path=path, **dict(KERAS, test_y="y_onehot"))
    assert message == (f"{path}: array 'y_onehot' (the test set) holds targets of shape (3,) "
                       "each, but array 'y_train' (the training set) holds targets of shape ()")


def test_test_labels_outside_the_training_classes(tmp_path):
    path = write_npz(tmp_path, x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST,
                     y_test=np.array([0, 1, 3, 2, 1]))
    message, argument = load_error(name="npz", path=path, **KERAS)
    assert message == (f"{path}: array 'y_test' (the test set) holds the label 3, but the "
                       "training set has 3 classes (labels 0 to 2); a model cannot output a "
                       "class it was not given: check test_y, or give num_classes (more than "
                       "3) when the training set lacks a class")
    assert argument == "test_y"
    data = load_dataset("npz", path=path, num_classes=4, **KERAS)
    assert data.held_out["test"].num_classes == 4


def test_test_set_targets_count(tmp_path):
    path = write_npz(tmp_path, x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST,
                     y_test=Y_TEST[:3])
    message, argument = load_error(name="npz", path=path, **KERAS)
    assert (message, argument) == (f"{path}: array 'x_test' holds 5 examples but array "
                                   "'y_test' holds 3 targets", "test_y")


def test_a_test_mask_is_checked_against_its_examples(tmp_path):
    path = write_npz(tmp_path, x=X_TRAIN, y=Y_TRAIN, m=np.ones((12, 4)), xt=X_TEST, yt=Y_TEST,
                     mt=np.ones((5, 3)))
    message, argument = load_error(name="npz", path=path, mask="m", test_x="xt", test_y="yt",
                                   test_mask="mt")
    assert message.startswith(f"{path}: array 'mt' (the mask) has shape (5, 3), but x has "
                              "shape (5, 4, 5)")
    assert argument == "test_mask"


def test_the_size_limit_covers_the_test_arrays(tmp_path):
    path = write_npz(tmp_path, x_train=np.zeros((12, 1)), y_train=Y_TRAIN,
                     x_test=np.zeros((500, 1)), y_test=np.zeros(500, np.int64))
    with config.change_flags(max_array_bytes=1000):
        message, argument = load_error(name="npz", path=path, **KERAS)
    assert message.startswith(f"{path}: array 'x_test' declares an array of shape (500, 1) and "
                              "dtype float64: 4.0 kB, more than the limit of 1.0 kB")
    assert argument == "test_x"
