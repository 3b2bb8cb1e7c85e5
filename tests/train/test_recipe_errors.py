"""Every recipe error names file:line:col: key.path, what was expected and what was found."""
import pytest

from nnframe.train import prepare
from nnframe.train.recipe import RecipeErrors, load_recipe_text

from .helpers import SMALL_RECIPE, write_recipe


def errors_of(tmp_path, text, *overrides):
    path = write_recipe(tmp_path, text)
    with pytest.raises(RecipeErrors) as info:
        prepare(path, overrides)
    return path, [str(e) for e in info.value.errors]


def test_bad_type(tmp_path):
    path, errors = errors_of(tmp_path, SMALL_RECIPE.replace("num_units: 32", "num_units: many"))
    assert errors == [f"{path}:10:43: model.layers[0].num_units: expected an integer >= 1, "
                      "got the string 'many'"]


def test_out_of_range(tmp_path):
    path, errors = errors_of(tmp_path, SMALL_RECIPE.replace("num_units: 32", "num_units: -5"))
    assert errors == [f"{path}:10:43: model.layers[0].num_units: expected an integer >= 1, "
                      "got -5"]


def test_unknown_key_with_suggestion(tmp_path):
    path, errors = errors_of(tmp_path, SMALL_RECIPE.replace("learning_rate: 3e-3",
                                                            "lerning_rate: 3e-3"))
    assert errors == [f"{path}:14:39: optimizer.lerning_rate: unknown key 'lerning_rate' for "
                      "the adam optimizer (did you mean 'learning_rate'? known keys: beta1, "
                      "beta2, epsilon, grad_clip, learning_rate, weight_decay_l2)"]


def test_a_misplaced_key_suggests_where_it_belongs(tmp_path):
    path, errors = errors_of(tmp_path, SMALL_RECIPE, "epochs=3")
    assert len(errors) == 1
    assert ("epochs: unknown key 'epochs' for the recipe (did you mean 'train.epochs'? "
            "known keys: ") in errors[0]


def test_duplicate_key(tmp_path):
    text = SMALL_RECIPE.replace("seed: 3\n", "seed: 3\nseed: 4\n")
    path, errors = errors_of(tmp_path, text)
    assert errors == [f"{path}:4:1: seed: duplicate key 'seed' (first at {path}:3:7); YAML "
                      "would silently keep only the last one"]


def test_unknown_layer(tmp_path):
    path, errors = errors_of(tmp_path, SMALL_RECIPE.replace("type: dropout", "type: dropuot"))
    assert errors == [f"{path}:11:14: model.layers[1].type: unknown layer 'dropuot' (did you "
                      "mean 'dropout'? known: batchnorm, bidirectional, binary_code, conv1d, "
                      "conv2d, dense, dimshuffle, dropout, flatten, gaussian_noise, globalpool, "
                      "gru, lrn, lstm, maxpool1d, maxpool2d, nonlinearity, pad, pool2d, "
                      "recurrent, reshape, slice, transposed_conv2d, upscale2d)"]


def test_wrong_shape_between_layers(tmp_path):
    text = SMALL_RECIPE.replace(
        "    - {type: dropout, p: 0.3}\n",
        "    - {type: reshape, shape: [[0], 5, 5]}\n    - {type: dropout, p: 0.3}\n")
    path, errors = errors_of(tmp_path, text)
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:11:7: model.layers[1]: ReshapeLayer")
    assert "(None, 32)" in errors[0]


def test_a_conv_on_flat_data_names_the_layer_and_shapes(tmp_path):
    text = SMALL_RECIPE.replace("{type: dense, name: hid, num_units: 32}",
                                "{type: conv2d, name: c1, num_filters: 4, filter_size: 3}")
    path, errors = errors_of(tmp_path, text)
    assert errors[0].startswith(f"{path}:10:7: model.layers[0]: Conv2DLayer 'c1'")
    assert "(None, 64)" in errors[0]


def test_scientific_notation_is_a_float():
    recipe = load_recipe_text("lr: 1e-3\nother: -2.5E+4\nint: 7\n", "r.yaml")
    assert recipe.data == {"lr": 0.001, "other": -25000.0, "int": 7}


def test_object_construction_is_refused(tmp_path):
    text = SMALL_RECIPE.replace("name: small", "name: !!python/object/apply:os.getcwd []")
    path = write_recipe(tmp_path, text)
    with pytest.raises(RecipeErrors) as info:
        prepare(path)
    assert "is not allowed: a recipe holds plain values only" in str(info.value)


def test_all_errors_are_reported_together(tmp_path):
    text = (SMALL_RECIPE.replace("num_units: 32", "num_units: 0")
            .replace("batch_size: 32", "batch_size: big")
            .replace("adam", "adma"))
    path, errors = errors_of(tmp_path, text)
    assert len(errors) == 3
    assert any("optimizer.type: unknown optimizer 'adma'" in e for e in errors)


def test_monitor_must_be_a_logged_metric(tmp_path):
    text = SMALL_RECIPE + "early_stopping: {monitor: valid.acc, patience: 2}\n"
    path, errors = errors_of(tmp_path, text)
    assert errors == [f"{path}:18:27: early_stopping.monitor: 'valid.acc' is not a metric this "
                      "recipe logs (available: train.loss, valid.loss, valid.accuracy)"]


def test_bad_override(tmp_path):
    path = write_recipe(tmp_path)
    with pytest.raises(RecipeErrors) as info:
        prepare(path, ["train.epochs=zero"])
    assert str(info.value) == ("--set train.epochs=zero: train.epochs: expected an integer >= 1, "
                               "got the string 'zero'")


def test_dataset_error_names_the_data_section(tmp_path):
    text = SMALL_RECIPE.replace("{type: digits, shape: flat}",
                                "{type: npz, path: missing.npz}")
    path, errors = errors_of(tmp_path, text)
    assert errors[0].startswith(f"{path}:5:12: data.dataset:") and "missing.npz" in errors[0]


def test_model_needs_layers_or_builder(tmp_path):
    text = SMALL_RECIPE.split("model:")[0] + "model: {}\n" + "loss:" + SMALL_RECIPE.split("loss:")[1]
    path, errors = errors_of(tmp_path, text)
    assert errors == [f"{path}:8:8: model: give either 'layers' (a list) or 'builder', not "
                      "neither"]
