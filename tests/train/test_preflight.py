"""Pre-flight checks (nnframe.train.checks): what ``--check`` calls OK starts training, and a
recipe whose data does not fit its model fails before the first epoch, with the same message
from ``--check`` (exit 2) and from a training run."""
import glob
import os

import numpy as np
import pytest

from nnframe.train import trainer
from nnframe.train.checks import _all_finite, bad_rows

from .helpers import REPO, SMALL_RECIPE, run_cli, write_recipe

NPZ_RECIPE = """\
nnframe_recipe: 1
name: npz
seed: 0
data:
  dataset: {{type: npz, path: {path}{dataset}}}
  split: {{train: 0.6, valid: 0.2, test: 0.2, stratify: false}}
model:
  layers:
    - {{type: dense, name: hid, num_units: 16}}
    - {{type: dense, name: out, num_units: {units}, nonlinearity: linear}}
loss: {{type: {loss}}}
optimizer: {{type: adam, learning_rate: 1e-3}}
train: {{epochs: 1, batch_size: 16}}
"""


def npz_recipe(tmp_path, units=3, loss="categorical_crossentropy_from_logits", dataset="",
               **arrays):
    """A recipe on an npz file of ``arrays`` (default: 60 examples of 6 features, 3 classes)."""
    rng = np.random.default_rng(0)
    arrays.setdefault("x", rng.normal(size=(60, 6)).astype(np.float32))
    arrays.setdefault("y", np.arange(60) % 3)
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    text = NPZ_RECIPE.format(path=path, dataset=dataset, units=units, loss=loss)
    return write_recipe(tmp_path, text), path


def refused(tmp_path, recipe, *messages):
    """``--check`` exits 2 and a training run fails before its first epoch (nothing written),
    both saying ``messages``; returns what ``--check`` printed."""
    check = run_cli(recipe, "--check")
    assert check.returncode == 2, check.stdout + check.stderr
    assert "recipe OK" not in check.stdout
    out = tmp_path / "run"
    train = run_cli(recipe, "--out", out)
    assert train.returncode != 0 and "epoch 1" not in train.stdout
    assert not out.exists()
    for message in messages:
        assert message in check.stderr
        assert message in train.stderr
    assert "Traceback" not in check.stderr + train.stderr
    return check.stderr


def trains(recipe):
    """``--check`` says OK and one epoch trains."""
    check = run_cli(recipe, "--check")
    assert check.returncode == 0 and "recipe OK" in check.stdout, check.stderr
    train = run_cli(recipe, "--out", recipe.parent / "run", "--set", "train.epochs=1")
    assert train.returncode == 0, train.stderr
    assert "epoch 1/1" in train.stdout


def small(tmp_path, old, new, *more):
    """SMALL_RECIPE (digits) with ``old`` replaced by ``new`` (and more pairs)."""
    text = SMALL_RECIPE.replace(old, new)
    for a, b in zip(more[::2], more[1::2]):
        text = text.replace(a, b)
    return write_recipe(tmp_path, text)


# -- every shipped recipe passes --------------------------------------------------------------
@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(REPO, "recipes", "*.yaml"))),
                         ids=os.path.basename)
def test_every_shipped_recipe_passes_preflight(path):
    p = trainer.prepare(path)       # runs preflight: raises on any problem
    assert len(p.splits["train"]) > 0


# -- the model's outputs against the targets --------------------------------------------------
@pytest.mark.parametrize("loss, nonlinearity", [
    ("categorical_crossentropy_from_logits", "linear"),
    ("categorical_crossentropy", "softmax"),
    ("multiclass_hinge", "linear")])
def test_fewer_output_units_than_classes(tmp_path, loss, nonlinearity):
    recipe = small(tmp_path, "num_units: 10, nonlinearity: linear",
                   f"num_units: 8, nonlinearity: {nonlinearity}",
                   "categorical_crossentropy_from_logits", loss)
    refused(tmp_path, recipe, f"{recipe}:12:43: model.layers[2].num_units: the last layer "
                              "(dense 'out') has 8 output units, but the labels have 10 classes "
                              "(0..9): set num_units: 10")


def test_the_width_layer_is_found_past_dropout(tmp_path):
    recipe = small(tmp_path, "num_units: 10, nonlinearity: linear}",
                   "num_units: 4, nonlinearity: linear}\n    - {type: dropout, p: 0.1}")
    refused(tmp_path, recipe, "model.layers[2].num_units: the layer that sets the output width "
                              "(dense 'out') has 4 output units, but the labels have 10 classes")


def test_binary_crossentropy_on_many_classes_names_the_loss(tmp_path):
    recipe = small(tmp_path, "categorical_crossentropy_from_logits",
                   "binary_crossentropy_from_logits", "metrics: [accuracy]\n", "")
    refused(tmp_path, recipe, f"{recipe}:13:14: loss.type: binary_crossentropy_from_logits "
                              "takes 0/1 labels, but the labels have 10 classes (0..9): use "
                              "categorical_crossentropy_from_logits")


def test_binary_crossentropy_on_0_1_labels_needs_one_unit(tmp_path):
    recipe, _ = npz_recipe(tmp_path, units=2, loss="binary_crossentropy_from_logits",
                           y=np.arange(60) % 2)
    refused(tmp_path, recipe, "model.layers[1].num_units: the last layer (dense 'out') gives "
                              "outputs of shape (2,) per example, but "
                              "binary_crossentropy_from_logits on 0/1 labels needs one output "
                              "unit: set num_units: 1")


def test_binary_crossentropy_with_one_unit_trains(tmp_path):
    recipe, _ = npz_recipe(tmp_path, units=1, loss="binary_crossentropy_from_logits",
                           y=np.arange(60) % 2)
    trains(recipe)


def test_regression_targets_of_another_width(tmp_path):
    recipe, _ = npz_recipe(tmp_path, units=5, loss="squared_error",
                           y=np.zeros((60, 3), np.float32))
    refused(tmp_path, recipe, f"{recipe}:10:43: model.layers[1].num_units: the last layer "
                              "(dense 'out') gives outputs of shape (5,) per example, but the "
                              "targets (y) have shape (3,) per example, and the loss "
                              "squared_error compares them element by element: set num_units: 3")


def test_regression_targets_that_fit_train(tmp_path):
    recipe, _ = npz_recipe(tmp_path, units=3, loss="squared_error",
                           y=np.ones((60, 3), np.float32))
    trains(recipe)


def test_one_regression_target_per_example_with_one_unit_trains(tmp_path):
    recipe, _ = npz_recipe(tmp_path, units=1, loss="squared_error",
                           y=np.linspace(0, 1, 60, dtype=np.float32))
    trains(recipe)


def test_categorical_crossentropy_on_linear_outputs_gives_a_nan_loss(tmp_path):
    recipe = small(tmp_path, "categorical_crossentropy_from_logits}", "categorical_crossentropy}")
    refused(tmp_path, recipe, f"{recipe}:13:14: loss.type: categorical_crossentropy is nan on "
                              "the first training examples before any training, although the "
                              "data are finite: categorical_crossentropy takes probabilities; "
                              "end the model with nonlinearity: softmax")


def test_an_autoencoder_must_give_the_inputs_shape(tmp_path):
    recipe = small(tmp_path, "categorical_crossentropy_from_logits}",
                   "squared_error, target: inputs}", "metrics: [accuracy]\n", "")
    refused(tmp_path, recipe, "model.layers[2].num_units: the last layer (dense 'out') gives "
                              "outputs of shape (10,) per example, but the inputs (loss.target: "
                              "inputs) have shape (64,) per example")


def test_a_reshape_that_cannot_fit_the_examples_fails_at_its_layer(tmp_path):
    # [-1, 1, 7, 7] leaves the batch length to the data: only running it shows 32 != 49
    recipe = small(tmp_path, "    - {type: dropout, p: 0.3}\n",
                   "    - {type: reshape, name: img, shape: [-1, 1, 7, 7]}\n"
                   "    - {type: flatten}\n")
    refused(tmp_path, recipe, f"{recipe}:11:7: model.layers[1]: ReshapeLayer 'img' fails on the "
                              "first 2 training examples (shape (2, 64)): ValueError: cannot "
                              "reshape an array of shape (2, 32)")


def test_a_masked_sequence_model_passes_and_trains(tmp_path):
    x = np.random.default_rng(1).normal(size=(60, 5, 2)).astype(np.float32)
    mask = np.ones((60, 5), np.float32)
    mask[::2, 3:] = 0
    recipe, _ = npz_recipe(tmp_path, x=x, mask=mask, dataset=", mask: mask")
    text = recipe.read_text().replace("{type: dense, name: hid, num_units: 16}",
                                      "{type: lstm, num_units: 4, only_return_final: true}")
    recipe.write_text(text)
    trains(recipe)


# -- the recipe against the data ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_inputs_of_an_integer_dtype(tmp_path, dtype):
    recipe = small(tmp_path, "{type: digits, shape: flat}",
                   f"{{type: digits, shape: flat, dtype: {dtype}}}")
    refused(tmp_path, recipe, f"{recipe}:5:47: data.dataset.dtype: the inputs have dtype "
                              f"{dtype}, not a float type: the model takes float32 inputs "
                              "(config.floatX); use dtype: float32 (or leave dtype out)")


def test_inputs_wider_than_the_model_computes_in(tmp_path):
    recipe = small(tmp_path, "{type: digits, shape: flat}",
                   "{type: digits, shape: flat, dtype: float64}")
    refused(tmp_path, recipe, "data.dataset.dtype: the inputs have dtype float64, wider than "
                              "the model's float32")


def test_top_k_above_the_number_of_classes(tmp_path):
    recipe = small(tmp_path, "metrics: [accuracy]",
                   "metrics: [accuracy, {type: top_k_accuracy, k: 12}]")
    refused(tmp_path, recipe, f"{recipe}:17:47: metrics[1].k: k: 12 is more than the 10 classes "
                              "of the labels: choose k <= 10")


def test_drop_last_with_a_batch_larger_than_the_training_split(tmp_path):
    recipe = small(tmp_path, "batch_size: 32", "batch_size: 5000, drop_last: true")
    refused(tmp_path, recipe, f"{recipe}:16:32: train.batch_size: 5000 is larger than the "
                              "training split (1078 examples), and with drop_last: true no "
                              "batch would be trained: choose a batch_size of at most 1078")


def test_every_recipe_problem_is_listed(tmp_path):
    recipe = small(tmp_path, "batch_size: 32", "batch_size: 5000, drop_last: true",
                   "metrics: [accuracy]", "metrics: [{type: top_k_accuracy, k: 11}]",
                   "num_units: 10, nonlinearity", "num_units: 9, nonlinearity")
    stderr = refused(tmp_path, recipe, "train.batch_size: 5000", "metrics[0].k: k: 11",
                     "model.layers[2].num_units: the last layer (dense 'out') has 9")
    assert stderr.startswith("recipe errors:")


@pytest.mark.parametrize("split", ["{train: 0, valid: 0.5, test: 0.5}",
                                   "{train: 0, valid: 1000, test: 797}",
                                   "{train: 0.0001, valid: 0.4999, test: 0.5}"])
def test_an_empty_training_split(tmp_path, split):
    recipe = small(tmp_path, "{train: 0.6, valid: 0.2, test: 0.2}", split)
    refused(tmp_path, recipe, f"{recipe}:6:", "data.split.train: the training split is empty "
                              "(0 of the 1797 examples of 'digits')")


# -- the data: labels -------------------------------------------------------------------------
def test_negative_labels(tmp_path):
    y = np.arange(60) % 3
    y[[7, 9]] = -1
    recipe, path = npz_recipe(tmp_path, y=y)
    refused(tmp_path, recipe, f"error: {recipe}:5:", f"data.dataset.y: the targets (y: array 'y') "
                              f"of {path} must be class indices 0, 1, 2, ..., but row 7 holds -1 "
                              "(2 negative label(s) in all)")


def test_labels_past_num_classes(tmp_path):
    y = np.arange(60) % 3
    y[41] = 5
    recipe, path = npz_recipe(tmp_path, y=y, dataset=", num_classes: 3")
    refused(tmp_path, recipe, f"the targets (y: array 'y') of {path} must be class indices 0..2 "
                              "(the dataset has num_classes 3), but row 41 holds 5 (1 row(s) in "
                              "all); raise num_classes or fix those labels")


def test_labels_that_are_not_whole_numbers(tmp_path):
    y = (np.arange(60) % 3).astype(np.float64)
    y[[12, 30, 31]] = 1.5
    recipe, path = npz_recipe(tmp_path, y=y)
    refused(tmp_path, recipe, f"of {path} must be class indices 0, 1, 2, ... for a "
                              "categorical_crossentropy_from_logits loss, but row 12 holds 1.5 "
                              "(3 row(s) in all hold no whole number)")


def test_float_labels_must_be_stored_as_integers(tmp_path):
    recipe, path = npz_recipe(tmp_path, y=(np.arange(60) % 3).astype(np.float64))
    refused(tmp_path, recipe, f"of {path} are floats (float64); a "
                              "categorical_crossentropy_from_logits loss needs integer class "
                              "indices")


def test_binary_targets_outside_0_1(tmp_path):
    y = np.full((60, 1), 0.5, np.float32)
    y[8] = 2.0
    recipe, path = npz_recipe(tmp_path, units=1, loss="binary_crossentropy_from_logits", y=y)
    refused(tmp_path, recipe, f"of {path} of a binary_crossentropy_from_logits loss must lie in "
                              "[0, 1], but row 8 holds 2.0")


# -- the data: non-finite values ----------------------------------------------------------------
def test_nan_inputs_name_the_file_array_and_first_row(tmp_path):
    x = np.random.default_rng(0).normal(size=(60, 6)).astype(np.float32)
    x[17, 2] = np.nan
    x[20] = np.nan
    x[33, 0] = np.inf
    recipe, path = npz_recipe(tmp_path, x_train=x, dataset=", x: x_train")
    refused(tmp_path, recipe, f"error: {recipe}:5:", f"data.dataset.x: the inputs (x: array "
                              f"'x_train') of {path} hold non-finite values: NaN in row 17 (3 "
                              "rows in all); clean or drop those rows")


def test_an_inf_in_a_validation_row_stops_the_run_before_training(tmp_path):
    # today's failure: valid.loss nan in report.json, exit 0
    x = np.random.default_rng(0).normal(size=(60, 6)).astype(np.float32)
    x[59, 5] = -np.inf
    recipe, path = npz_recipe(tmp_path, x=x)
    refused(tmp_path, recipe, f"the inputs (x: array 'x') of {path} hold non-finite values: "
                              "-Inf in row 59 (1 row in all) (a value beyond +-3.4e+38 becomes "
                              "Inf in float32)")


def test_non_finite_regression_targets(tmp_path):
    y = np.zeros((60, 2), np.float64)
    y[4, 1] = np.nan
    recipe, path = npz_recipe(tmp_path, units=2, loss="squared_error", y=y)
    refused(tmp_path, recipe, f"data.dataset.y: the targets (y: array 'y') of {path} hold "
                              "non-finite values: NaN in row 4 (1 row in all)")


def test_non_finite_values_in_an_hdf5_dataset(tmp_path):
    h5py = pytest.importorskip("h5py")
    x = np.ones((40, 3), np.float32)
    x[11, 1] = np.inf
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["train/x"] = x
        f["train/y"] = np.arange(40) % 2
    text = NPZ_RECIPE.format(path=path, dataset=", x: train/x, y: train/y", units=2,
                             loss="categorical_crossentropy_from_logits")
    recipe = write_recipe(tmp_path, text.replace("type: npz", "type: hdf5"))
    refused(tmp_path, recipe, f"data.dataset.x: the inputs (x: dataset 'train/x') of {path} "
                              "hold non-finite values: Inf in row 11")


def test_non_finite_values_in_a_files_own_test_set(tmp_path):
    rng = np.random.default_rng(0)
    x_test = rng.normal(size=(20, 6)).astype(np.float32)
    x_test[3, 0] = np.nan
    recipe, path = npz_recipe(tmp_path, x_test=x_test, y_test=np.arange(20) % 3,
                              dataset=", test_x: x_test, test_y: y_test")
    recipe.write_text(recipe.read_text().replace(
        "{train: 0.6, valid: 0.2, test: 0.2, stratify: false}", "{train: 1.0}"))
    refused(tmp_path, recipe, f"data.dataset.test_x: the test inputs (test_x: array 'x_test') of "
                              f"{path} hold non-finite values: NaN in row 3 (1 row in all)")


def test_a_nan_in_the_mask_names_the_mask_and_row(tmp_path):
    x = np.zeros((60, 5, 2), np.float32)
    mask = np.ones((60, 5), np.float32)
    mask[6, 2] = np.nan
    recipe, path = npz_recipe(tmp_path, x=x, mask=mask, dataset=", mask: mask")
    recipe.write_text(recipe.read_text().replace(
        "{type: dense, name: hid, num_units: 16}",
        "{type: lstm, num_units: 4, only_return_final: true}"))
    stderr = refused(tmp_path, recipe, "data.dataset.mask:", f"{path}: array 'mask'")
    assert "(6, 2)" in stderr or "row 6" in stderr


# -- the helpers --------------------------------------------------------------------------
def test_bad_rows_gives_the_first_row_and_the_count():
    bad = np.zeros((5, 2, 2), bool)
    bad[3, 1, 0] = bad[1, 0, 1] = bad[3, 0, 0] = True
    assert bad_rows(bad) == (1, 2)
    assert bad_rows(np.zeros(4, bool)) is None


def test_finite_values_whose_sum_overflows_are_finite():
    # the fast path (a float64 sum) overflows here: the element check must say finite
    assert _all_finite(np.full(4, 1e308))
    assert not _all_finite(np.array([1e308, np.inf]))
    assert not _all_finite(np.array([0.0, np.nan], np.float32))
    assert _all_finite(np.array([1, 2], np.int64))
