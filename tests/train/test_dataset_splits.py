"""``data.split`` and a dataset's own test and validation sets, through
nnframe.train.splits.load_splits and the CLI: the file's held-out sets are the test and
valid splits, the random split divides only the training part, and every recipe error is
at its key."""
import json

import numpy as np
import pytest

from nnframe.checkpoint import load_checkpoint
from nnframe.config import config
from nnframe.data import write_idx
from nnframe.train.recipe import RecipeErrors, load_recipe
from nnframe.train.schema import check_recipe
from nnframe.train.splits import has_valid_split, load_splits, protocol_names

from .helpers import run_cli, write_recipe

RNG = np.random.default_rng(7)
CENTRES = np.array([[4.0, 0.0], [-4.0, 1.0]])


def blobs(n):
    """Two separable classes, in random order: (x float32 (n, 2), y int64)."""
    y = RNG.permutation(np.arange(n) % 2)
    return (CENTRES[y] + RNG.normal(size=(n, 2))).astype(np.float32), y


X_TRAIN, Y_TRAIN = blobs(40)
X_TEST, Y_TEST = blobs(7)
X_VALID, Y_VALID = blobs(6)

RECIPE = """\
nnframe_recipe: 1
name: own_test
seed: 1
data:
  dataset: {{type: npz, path: {path}, x: x_train, y: y_train{extra}}}
  split: {split}
  standardize: {standardize}
model:
  layers:
    - {{type: dense, name: out, num_units: 2, nonlinearity: linear}}
loss: {{type: categorical_crossentropy_from_logits}}
optimizer: {{type: adam, learning_rate: 0.05}}
train: {{epochs: 3, batch_size: 8}}
metrics: [accuracy]
logging: {{progress: never, plots: false}}
"""


def recipe_text(tmp_path, extra=", test_x: x_test, test_y: y_test",
                split="{train: 0.75, valid: 0.25}", standardize="none"):
    path = tmp_path / "keras.npz"
    if not path.exists():
        np.savez(path, x_train=X_TRAIN, y_train=Y_TRAIN, x_test=X_TEST, y_test=Y_TEST,
                 x_valid=X_VALID, y_valid=Y_VALID)
    return RECIPE.format(path=path, extra=extra, split=split, standardize=standardize)


def splits_of(tmp_path, text):
    path = write_recipe(tmp_path, text)
    recipe = load_recipe(path)
    resolved = check_recipe(recipe)
    return resolved, load_splits(resolved, recipe, split_seed=11)


def errors_of(tmp_path, text):
    path = write_recipe(tmp_path, text)
    with pytest.raises(RecipeErrors) as info:
        recipe = load_recipe(path)
        load_splits(check_recipe(recipe), recipe, split_seed=11)
    return path, [str(e) for e in info.value.errors]


def position(text, needle, skip=""):
    """``line:col`` (1-based) just after ``skip`` in the first ``skip + needle`` of text."""
    offset = text.index(skip + needle) + len(skip)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def rows(x):
    return sorted(map(tuple, np.asarray(x).tolist()))


# -- the file's held-out sets are splits ---------------------------------------------------

def test_the_file_test_set_is_the_test_split_and_the_rest_is_drawn(tmp_path):
    _, (dataset, splits) = splits_of(tmp_path, recipe_text(tmp_path))
    assert list(splits) == ["train", "valid", "test"]
    assert len(dataset) == 40 and dataset.held_out["test"] is splits["test"]
    np.testing.assert_array_equal(splits["test"].x, X_TEST)      # the file's rows, in order
    np.testing.assert_array_equal(splits["test"].y, Y_TEST)
    assert (len(splits["train"]), len(splits["valid"])) == (30, 10)
    assert rows(np.concatenate([splits["train"].x, splits["valid"].x])) == rows(X_TRAIN)
    assert splits["test"].name == "keras.npz:test"


def test_no_split_trains_on_every_training_example(tmp_path):
    text = recipe_text(tmp_path).replace("  split: {train: 0.75, valid: 0.25}\n", "")
    resolved, (_, splits) = splits_of(tmp_path, text)
    assert resolved["data"]["split"] == {"type": "random", "train": 1.0, "valid": 0,
                                         "test": 0, "stratify": True}
    assert list(splits) == ["train", "test"] and rows(splits["train"].x) == rows(X_TRAIN)
    assert not has_valid_split(resolved)


def test_the_file_validation_set_is_the_valid_split(tmp_path):
    text = recipe_text(tmp_path, extra=", valid_x: x_valid, valid_y: y_valid, test_x: x_test, "
                                       "test_y: y_test", split="{train: 1.0}")
    resolved, (_, splits) = splits_of(tmp_path, text)
    assert list(splits) == ["train", "valid", "test"] and has_valid_split(resolved)
    np.testing.assert_array_equal(splits["valid"].x, X_VALID)
    np.testing.assert_array_equal(splits["valid"].y, Y_VALID)
    assert len(splits["train"]) == 40


def test_a_recipe_may_monitor_the_file_validation_set(tmp_path):
    text = recipe_text(tmp_path, extra=", valid_x: x_valid, valid_y: y_valid",
                       split="{train: 1.0}") + "checkpoint: {monitor: valid.accuracy}\n"
    resolved, (_, splits) = splits_of(tmp_path, text)
    assert resolved["checkpoint"]["monitor"] == "valid.accuracy" and "valid" in splits


def test_standardize_is_fitted_on_the_train_split_only(tmp_path):
    _, (_, splits) = splits_of(tmp_path, recipe_text(tmp_path, standardize="standard"))
    _, (_, raw) = splits_of(tmp_path, recipe_text(tmp_path))
    x = raw["train"].x.astype(np.float64)
    mean, std = x.mean(axis=0), x.std(axis=0)
    np.testing.assert_allclose(splits["train"].x.mean(axis=0), 0, atol=1e-6)
    for name in ("valid", "test"):
        np.testing.assert_allclose(splits[name].x, (raw[name].x - mean) / std, rtol=1e-5,
                                   atol=1e-6)


def test_idx_train_and_t10k_files(tmp_path):
    images = (RNG.integers(0, 256, size=(30, 3, 3))).astype(np.uint8)
    test_images = (RNG.integers(0, 256, size=(8, 3, 3))).astype(np.uint8)
    for name, array in {"train-images-idx3-ubyte": images,
                        "train-labels-idx1-ubyte": np.arange(30, dtype=np.uint8) % 3,
                        "t10k-images-idx3-ubyte": test_images,
                        "t10k-labels-idx1-ubyte": np.arange(8, dtype=np.uint8) % 3}.items():
        write_idx(tmp_path / f"{name}.gz", array)
    text = recipe_text(tmp_path).replace(
        f"{{type: npz, path: {tmp_path / 'keras.npz'}, x: x_train, y: y_train, test_x: x_test, "
        "test_y: y_test}",
        f"{{type: idx, images: {tmp_path}/train-images-idx3-ubyte.gz, labels: "
        f"{tmp_path}/train-labels-idx1-ubyte.gz, test_images: {tmp_path}/t10k-images-idx3-"
        f"ubyte.gz, test_labels: {tmp_path}/t10k-labels-idx1-ubyte.gz, shape: flat}}")
    _, (dataset, splits) = splits_of(tmp_path, text)
    assert (len(dataset), len(splits["test"])) == (30, 8)
    np.testing.assert_array_equal(splits["test"].x, test_images.reshape(8, 9))
    assert splits["test"].x.dtype == np.dtype(config.floatX)
    np.testing.assert_array_equal(splits["test"].y, np.arange(8) % 3)


# -- errors, each at its key -------------------------------------------------------------

def test_a_random_test_split_as_well_is_an_error(tmp_path):
    text = recipe_text(tmp_path, split="{train: 0.6, valid: 0.2, test: 0.2}")
    path, errors = errors_of(tmp_path, text)
    assert errors == [
        f"{path}:{position(text, '0.2}', 'test: ')}: data.split.test: the dataset holds its "
        "own test set (data.dataset.test_x), so the random split does not draw one: drop "
        "data.split.test, or drop test_x to draw the test set from the training examples"]


def test_a_random_valid_split_with_the_file_validation_set_is_an_error(tmp_path):
    text = recipe_text(tmp_path, extra=", valid_x: x_valid, valid_y: y_valid")
    path, errors = errors_of(tmp_path, text)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:{position(text, '0.25}', 'valid: ')}: "
                                "data.split.valid: the dataset holds its own valid set "
                                "(data.dataset.valid_x)")


def test_a_missing_test_key_is_at_test_x(tmp_path):
    text = recipe_text(tmp_path, extra=", test_x: x_tst, test_y: y_test")
    path, errors = errors_of(tmp_path, text)
    assert errors == [f"{path}:{position(text, 'x_tst', 'test_x: ')}: data.dataset.test_x: "
                      f"{tmp_path / 'keras.npz'}: no array named 'x_tst' (did you mean "
                      "'x_test'?); available: 'x_train', 'y_train', 'x_test', 'y_test', "
                      "'x_valid', 'y_valid'"]


def test_test_examples_of_another_shape_are_at_test_x(tmp_path):
    text = recipe_text(tmp_path, extra=", test_x: y_test, test_y: y_test")
    path, errors = errors_of(tmp_path, text)
    assert errors == [f"{path}:{position(text, 'y_test', 'test_x: ')}: data.dataset.test_x: "
                      f"{tmp_path / 'keras.npz'}: array 'y_test' (the test set) holds examples "
                      "of shape (), but array 'x_train' (the training set) holds examples of "
                      "shape (2,); the test examples must have the training examples' shape"]


def test_missing_test_labels_are_at_test_y(tmp_path):
    text = recipe_text(tmp_path, extra=", test_x: x_test")
    path, errors = errors_of(tmp_path, text)
    # test_y is not in the recipe: the position is the dataset's
    assert errors == [f"{path}:{position(text, '{type: npz', 'dataset: ')}: "
                      f"data.dataset.test_y: {tmp_path / 'keras.npz'}: the training set has "
                      "targets (y: array 'y_train') but the test set has none: give test_y"]


def test_an_unknown_split_protocol(tmp_path):
    text = recipe_text(tmp_path, split="{type: retreival}")
    path, errors = errors_of(tmp_path, text)
    assert errors == [f"{path}:{position(text, 'retreival')}: data.split.type: unknown split "
                      "protocol 'retreival' (did you mean 'retrieval'? known: "
                      f"{', '.join(protocol_names())})"]
    assert "random" in protocol_names() and "retrieval" in protocol_names()


# -- training through the CLI --------------------------------------------------------------

def test_the_report_has_the_metrics_of_the_file_test_rows(tmp_path):
    recipe = write_recipe(tmp_path, recipe_text(tmp_path))
    out = tmp_path / "run"
    result = run_cli(recipe, "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert set(report) >= {"train", "valid", "test"}
    params = load_checkpoint(out / "checkpoints" / "last.h5").params
    logits = X_TEST.astype(np.float64) @ params["out/W"] + params["out/b"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_p[np.arange(len(Y_TEST)), Y_TEST].mean()
    accuracy = (logits.argmax(axis=1) == Y_TEST).mean()
    assert report["test"]["loss"] == pytest.approx(loss, rel=1e-5)
    assert report["test"]["accuracy"] == pytest.approx(accuracy, abs=1e-12)
