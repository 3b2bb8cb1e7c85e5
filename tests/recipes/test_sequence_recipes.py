"""Recurrent layers in recipes, sequence data with masks, and the sequential-MNIST recipes.

- the LSTM recipe, reduced (48 units, 8 epochs), clears an accuracy bar far above chance;
- every recurrent layer type and the bidirectional wrapper parse and build with the
  expected output shapes, parameters and options;
- a masked npz dataset trains end to end through the recipe runner, and the mask reaches
  the recurrent layers: a padded example gives the output of the same example cut short,
  and the padding's values change nothing;
- bad masks are DatasetErrors naming the file and key, bad layer specs RecipeErrors at
  file:line:col: key.path.
"""
import io
import os
import re
from unittest import mock

import numpy as np
import pytest

import nnframe
from nnframe import nonlinearities
from nnframe.checkpoint import load_checkpoint
from nnframe.data import DatasetError, load_dataset
from nnframe.layers import CustomRecurrentLayer, GRULayer, LSTMLayer, get_all_layers
from nnframe.train import prepare, run
from nnframe.train.__main__ import main
from nnframe.train.model import build_functions
from nnframe.train.recipe import RecipeErrors

REPO = os.path.dirname(os.path.dirname(os.path.abspath(nnframe.__file__)))
LSTM_RECIPE = os.path.join(REPO, "recipes", "lstm_mnist5k_rows.yaml")
MLP_RECIPE = os.path.join(REPO, "recipes", "mlp_mnist5k.yaml")


def position(text, needle, start=0):
    """``line:col`` (1-based) of the first ``needle`` in ``text`` after ``start``."""
    offset = text.index(needle, text.index(start) if isinstance(start, str) else start)
    line = text.count("\n", 0, offset) + 1
    return f"{line}:{offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


# -- the shipped recipes ---------------------------------------------------------------------

def test_lstm_recipe_reproduces_reduced(tmp_path):
    """The LSTM recipe with 48 units and 8 epochs (~5 s): far above chance (0.1)."""
    report = run(LSTM_RECIPE, overrides=["model.layers.0.num_units=48", "train.epochs=8",
                                         "schedule.total_steps=8",
                                         "optimizer.learning_rate=5e-3", "logging.plots=false",
                                         "logging.progress=never"],
                 out=str(tmp_path), stdout=io.StringIO())
    assert report["epochs"] == 8
    assert report["test"]["accuracy"] >= 0.88, report["test"]


def test_lstm_and_mlp_recipes_share_the_data():
    lstm, mlp = prepare(LSTM_RECIPE), prepare(MLP_RECIPE)
    assert lstm.resolved["seed"] == mlp.resolved["seed"]
    assert lstm.resolved["data"]["split"] == mlp.resolved["data"]["split"]
    assert lstm.splits["train"].x.shape[1:] == (28, 28)      # 28 steps of 28 pixels
    assert mlp.splits["train"].x.shape[1:] == (784,)
    for name in ("train", "valid", "test"):                  # the same examples in each split
        np.testing.assert_array_equal(lstm.splits[name].y, mlp.splits[name].y)
    test_images = load_dataset("mnist5k", shape="flat").x
    rows = lstm.splits["test"].x.reshape(-1, 784)
    assert all((test_images == row).all(axis=1).any() for row in rows[:20])
    assert lstm.model.mask_layer is None                     # no mask: train(x, y) as before


# -- layer types and the bidirectional wrapper -------------------------------------------------

RECIPE = """\
nnframe_recipe: 1
name: seq
seed: 1
data:
  dataset: {type: digits, shape: sequence}
  split: {train: 0.8, valid: 0.2}
model:
  layers:
LAYERS
loss: {type: categorical_crossentropy_from_logits}
optimizer: {type: adam, learning_rate: 1e-2}
train: {epochs: 1, batch_size: 64}
metrics: [accuracy]
logging: {progress: never, plots: false}
"""


def recipe_with(tmp_path, layers, text=RECIPE, name="recipe.yaml"):
    path = tmp_path / name
    body = text.replace("LAYERS", "\n".join(f"    - {layer}" for layer in layers))
    path.write_text(body)
    return path, body


def built(tmp_path, *layers):
    """The model of a recipe with these layers, built as the recipe says: the checks of a
    model against the loss (which most of these stacks would fail) are not the point here."""
    path, _ = recipe_with(tmp_path, layers)
    with mock.patch("nnframe.train.trainer.preflight", lambda prepared: None):
        network = prepare(path).model
    return network, {layer.name: layer for layer in get_all_layers(network.output_layer)}


@pytest.mark.parametrize("spec,shape", [
    ("{type: lstm, num_units: 6}", (None, 8, 6)),
    ("{type: lstm, num_units: 6, only_return_final: true}", (None, 6)),
    ("{type: gru, num_units: 5}", (None, 8, 5)),
    ("{type: recurrent, num_units: 4, nonlinearity: tanh, only_return_final: true}", (None, 4)),
    ("{type: bidirectional, layer: {type: lstm, num_units: 6}}", (None, 8, 12)),
    ("{type: bidirectional, layer: {type: gru, num_units: 6}, merge: sum}", (None, 8, 6)),
    ("{type: bidirectional, layer: {type: recurrent, num_units: 3, only_return_final: true}}",
     (None, 6)),
])
def test_layer_types_build_with_their_shapes(tmp_path, spec, shape):
    network, _ = built(tmp_path, spec)
    assert network.output_layer.output_shape == shape


def test_recurrent_options_reach_the_layers(tmp_path):
    _, layers = built(
        tmp_path,
        "{type: lstm, name: l1, num_units: 6, peepholes: false, nonlinearity: relu, "
        "backwards: true, learn_init: true, gradient_steps: 4, grad_clipping: 2.5, "
        "precompute_input: false, W_in: {type: constant, val: 0.5}, "
        "W_hid: {type: orthogonal}}",
        "{type: gru, name: g1, num_units: 3, W_hid: {type: constant, val: -0.25}}",
        "{type: recurrent, name: r1, num_units: 2, b: null, "
        "W_hid_to_hid: {type: constant, val: 0.125}, only_return_final: true}")
    lstm, gru, rnn = layers["l1"], layers["g1"], layers["r1"]
    assert (lstm.backwards, lstm.learn_init, lstm.gradient_steps, lstm.grad_clipping,
            lstm.precompute_input, lstm.peepholes) == (True, True, 4, 2.5, False, False)
    assert lstm.nonlinearity is nonlinearities.rectify
    for gate in ("ingate", "forgetgate", "cell", "outgate"):
        assert (getattr(lstm, f"W_in_to_{gate}").get_value() == 0.5).all()
        w_hid = getattr(lstm, f"W_hid_to_{gate}").get_value()
        np.testing.assert_allclose(w_hid @ w_hid.T, np.eye(6), atol=1e-5)
    assert not hasattr(lstm, "W_cell_to_ingate")
    assert all(p.name.startswith("l1/") for p in lstm.get_params(trainable=True))
    assert "l1/hid_init" in [p.name for p in lstm.get_params(trainable=True)]  # learn_init
    assert (gru.W_hid_to_resetgate.get_value() == -0.25).all()
    assert np.abs(gru.W_in_to_updategate.get_value()).max() > 0       # N(0, 0.1) default
    assert rnn.b is None and (rnn.W_hid_to_hid.get_value() == 0.125).all()
    assert rnn.output_shape == (None, 2) and rnn.nonlinearity is nonlinearities.rectify


def test_lasagne_defaults(tmp_path):
    _, layers = built(tmp_path, "{type: lstm, name: l, num_units: 4}")
    lstm = layers["l"]
    assert (lstm.peepholes, lstm.backwards, lstm.gradient_steps, lstm.only_return_final,
            lstm.precompute_input, lstm.unroll_scan) == (True, False, -1, False, True, False)
    assert lstm.nonlinearity_ingate is nonlinearities.sigmoid
    assert lstm.nonlinearity_cell is nonlinearities.tanh
    assert lstm.W_in_to_ingate.get_value().std() < 0.2                # Normal(0.1)
    assert (lstm.b_forgetgate.get_value() == 0).all()


@pytest.mark.parametrize("wrapper,names", [
    ("{type: bidirectional, name: bi, layer: {type: lstm, num_units: 4}}",
     ["bi.forward", "bi.backward", "bi"]),
    ("{type: bidirectional, layer: {type: gru, name: enc, num_units: 4}, merge: sum}",
     ["enc", "enc.backward"]),
])
def test_bidirectional_builds_a_backward_copy(tmp_path, wrapper, names):
    network, layers = built(tmp_path, wrapper)
    assert set(names) <= set(layers)
    forward, backward = layers[names[0]], layers[names[1]]
    assert forward.backwards is False and backward.backwards is True
    assert forward.input_layers[0] is backward.input_layers[0] is network.input_layer
    params = [p.name for p in network.params]
    assert len(params) == len(set(params))                  # checkpoints address them by name
    assert any(p.startswith(names[1] + "/") for p in params)


def test_stacked_recurrent_layers_train_one_epoch(tmp_path):
    path, _ = recipe_with(tmp_path, [
        "{type: bidirectional, name: bi, layer: {type: gru, num_units: 8}}",
        "{type: lstm, name: top, num_units: 8, only_return_final: true}",
        "{type: dense, name: out, num_units: 10, nonlinearity: linear}"])
    report = run(path, out=str(tmp_path / "run"), stdout=io.StringIO())
    assert report["epochs"] == 1 and np.isfinite(report["train"]["loss"])


# -- masked sequences ----------------------------------------------------------------------

def masked_sequences(n=400, steps=10, features=2, seed=0, padding=0.0):
    """Sequences of 3..steps steps padded to ``steps`` with ``padding``; the label is whether
    the first feature adds up to more than 0 over the real steps."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, steps + 1, size=n)
    mask = np.arange(steps)[None, :] < lengths[:, None]
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    y = (np.where(mask, x[:, :, 0], 0).sum(axis=1) > 0).astype(np.int64)
    x[~mask] = padding
    return x, y, mask


MASKED_RECIPE = """\
nnframe_recipe: 1
name: masked
seed: 0
data:
  dataset: {type: npz, path: 'PATH', mask: mask}
  split: {train: 0.7, valid: 0.1, test: 0.2}
model:
  layers:
LAYERS
loss: {type: categorical_crossentropy_from_logits}
optimizer: {type: adam, learning_rate: 1e-2}
train: {epochs: 10, batch_size: 32}
metrics: [accuracy]
checkpoint: {monitor: valid.accuracy}
logging: {progress: never, plots: false}
"""

MASKED_LSTM = ["{type: lstm, name: lstm, num_units: 16, only_return_final: true}",
               "{type: dense, name: out, num_units: 2, nonlinearity: linear}"]


def masked_recipe(tmp_path, layers=MASKED_LSTM, padding=0.0, mask=True, name="masked"):
    x, y, m = masked_sequences(padding=padding)
    data = tmp_path / f"{name}.npz"
    np.savez(data, x=x, y=y, mask=m.astype(np.uint8) if mask == "uint8" else m)
    return recipe_with(tmp_path, layers, MASKED_RECIPE.replace("PATH", str(data)),
                       name=f"{name}.yaml")


def test_masked_npz_trains_end_to_end(tmp_path):
    recipe, _ = masked_recipe(tmp_path, padding=0.0)
    loud, _ = masked_recipe(tmp_path, padding=50.0, name="loud")     # other padding values
    report = run(recipe, out=str(tmp_path / "a"), stdout=io.StringIO())
    assert report["test"]["accuracy"] >= 0.85, report["test"]
    report_loud = run(loud, out=str(tmp_path / "b"), stdout=io.StringIO())
    # the layers never see the padding: the same training, bit for bit
    a = load_checkpoint(tmp_path / "a" / "checkpoints" / "last.h5").params
    b = load_checkpoint(tmp_path / "b" / "checkpoints" / "last.h5").params
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert report_loud["test"] == report["test"]


@pytest.mark.parametrize("layers", [
    MASKED_LSTM,
    ["{type: bidirectional, name: bi, layer: {type: gru, num_units: 5}}",
     "{type: recurrent, name: rnn, num_units: 4, only_return_final: true}",
     "{type: dense, name: out, num_units: 2, nonlinearity: linear}"],
    ["{type: bidirectional, name: bi, merge: sum, layer: {type: lstm, num_units: 4, "
     "unroll_scan: true, only_return_final: true}}",
     "{type: dense, name: out, num_units: 2, nonlinearity: linear}"],
], ids=["lstm", "bigru-rnn", "unrolled-bilstm"])
def test_a_padded_example_gives_the_output_of_the_example_cut_short(tmp_path, layers):
    recipe, _ = masked_recipe(tmp_path, layers, mask="uint8")      # 0/1 numbers work too
    p = prepare(recipe)
    assert p.model.mask_layer is not None and p.model.mask_layer.output_shape == (None, 10)
    recurrent = [layer for layer in get_all_layers(p.model.output_layer)
                 if isinstance(layer, (LSTMLayer, GRULayer, CustomRecurrentLayer))]
    assert len(recurrent) == len(layers) - 1 + ("bidirectional" in layers[0])
    assert all(p.model.mask_layer in layer.input_layers for layer in recurrent)
    train, evaluate, _ = build_functions(p.resolved, p.model, np.dtype(np.int64))
    x = np.random.default_rng(1).normal(size=(1, 10, 2)).astype(np.float32)
    y = np.zeros(1, np.int64)
    mask = np.zeros((1, 10), np.float32)
    mask[0, :6] = 1
    _, padded = evaluate(x, mask, y)
    _, other_padding = evaluate(np.where(mask[..., None] > 0, x, 99.0).astype(np.float32),
                                mask, y)
    np.testing.assert_array_equal(padded, other_padding)
    if "unroll_scan" in layers[0]:       # an unrolled loop has a fixed length
        short = padded
    else:
        _, short = evaluate(x[:, :6], np.ones((1, 6), np.float32), y)
        np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-6)
    _, unmasked = evaluate(x, np.ones((1, 10), np.float32), y)
    assert not np.allclose(unmasked, short, atol=1e-4)              # the padding would count
    assert np.isfinite(train(x, mask, y))                            # train(x, mask, y)


def test_a_masked_run_resumes_exactly(tmp_path, capsys):
    recipe, _ = masked_recipe(tmp_path, ["{type: gru, name: gru, num_units: 8, "
                                         "only_return_final: true}",
                                         "{type: dropout, p: 0.2}",     # a random stream too
                                         "{type: dense, name: out, num_units: 2, "
                                         "nonlinearity: linear}"])
    quiet = io.StringIO()
    run(recipe, ["train.epochs=4"], out=str(tmp_path / "straight"), stdout=quiet)
    run(recipe, ["train.epochs=2"], out=str(tmp_path / "resumed"), stdout=quiet)
    run(recipe, ["train.epochs=4"], out=str(tmp_path / "resumed"), resume="auto", stdout=quiet)
    a = load_checkpoint(tmp_path / "straight" / "checkpoints" / "last.h5").params
    b = load_checkpoint(tmp_path / "resumed" / "checkpoints" / "last.h5").params
    assert list(a) == list(b) and all(np.array_equal(a[k], b[k]) for k in a)
    assert main([str(recipe), "--check"]) == 0
    assert "examples of shape (10, 2) with a mask; splits: train 280" in capsys.readouterr().out


def test_splits_and_standardisation_keep_the_mask_aligned(tmp_path):
    recipe, _ = masked_recipe(tmp_path)
    x, _, mask = masked_sequences()
    plain = prepare(recipe)
    standardized = prepare(recipe, ["data.standardize=standard"])
    rows = {x[i].tobytes(): i for i in range(len(x))}
    for name, split in plain.splits.items():
        assert split.mask.shape == split.x.shape[:2] and split.mask.dtype == np.float32
        original = [rows[example.tobytes()] for example in split.x]   # which example is which
        np.testing.assert_array_equal(split.mask, mask[original])
        np.testing.assert_array_equal(standardized.splits[name].mask, split.mask)
        assert not np.array_equal(standardized.splits[name].x, split.x)
    assert sum(len(split) for split in plain.splits.values()) == len(x)


# -- bad mask data -------------------------------------------------------------------------

@pytest.mark.parametrize("mask,message", [
    (np.ones((400, 9), bool), "array 'bad' (the mask) has shape (400, 9), but x has shape "
                              "(400, 10, 2): the mask needs shape (examples, time steps) = "
                              "(400, 10)"),
    (np.full((400, 10), "yes"), "array 'bad' (the mask) must hold booleans or the numbers 0 "
                                "and 1, got dtype <U3"),
    (np.full((400, 10), 0.5), "array 'bad' (the mask) must hold only 0 and 1 (or booleans), "
                              "but holds 0.5 at (0, 0)"),
])
def test_bad_masks_name_the_file_and_key(tmp_path, mask, message):
    x, y, _ = masked_sequences()
    path = tmp_path / "bad.npz"
    np.savez(path, x=x, y=y, bad=mask)
    with pytest.raises(DatasetError, match=re.escape(f"{path}: {message}")):
        load_dataset("npz", path=path, mask="bad")


def test_hdf5_mask_and_a_mask_on_flat_examples(tmp_path):
    import h5py
    x, y, mask = masked_sequences()
    path = tmp_path / "seq.h5"
    with h5py.File(path, "w") as f:
        f["seq/x"], f["seq/y"], f["seq/mask"] = x, y, mask
    data = load_dataset("hdf5", path=path, x="seq/x", y="seq/y", mask="seq/mask")
    np.testing.assert_array_equal(data.mask, mask.astype(np.float32))
    with pytest.raises(DatasetError, match=re.escape(
            f"{path}: dataset 'seq/mask' (the mask) has shape (400, 10), but x has shape "
            "(400, 20): the mask needs shape (examples, time steps) = (400, 20); masks are "
            "for sequences")):
        load_dataset("hdf5", path=path, x="seq/x", y="seq/y", mask="seq/mask", shape="flat")


def test_a_bad_mask_in_a_recipe_is_a_recipe_error_at_the_mask(tmp_path):
    recipe, body = masked_recipe(tmp_path)
    with pytest.raises(RecipeErrors) as info:
        prepare(recipe, ["data.dataset.mask=y"])
    (error,) = info.value.errors
    assert str(error).startswith("--set data.dataset.mask=y: data.dataset.mask: ")
    assert "array 'y' (the mask) has shape (400,)" in str(error)
    recipe.write_text(body.replace("mask: mask", "mask: maks"))
    with pytest.raises(RecipeErrors) as info:
        prepare(recipe)
    assert str(info.value).startswith(
        f"{recipe}:{position(body, 'mask}', 'dataset:')}: data.dataset.mask: ")
    assert "no array named 'maks' (did you mean 'mask'?)" in str(info.value)


# -- bad layer specs -----------------------------------------------------------------------

def recipe_errors(tmp_path, layers, text=RECIPE, overrides=()):
    path, body = recipe_with(tmp_path, layers, text)
    with pytest.raises(RecipeErrors) as info:
        prepare(path, overrides)
    return path, body, [str(e) for e in info.value.errors]


def test_an_lstm_on_flat_data_says_what_it_needs(tmp_path):
    text = RECIPE.replace("shape: sequence", "shape: flat")
    path, body, errors = recipe_errors(tmp_path, ["{type: lstm, name: l, num_units: 8}"], text)
    assert errors == [
        f"{path}:{position(body, '{type: lstm')}: model.layers[0]: lstm layer 'l': needs an "
        "input of shape (batch, time, features), got shape (None, 64) from InputLayer 'input'; "
        "give the image datasets (digits, mnist5k) shape: sequence (each image row a time "
        "step), store npz/hdf5 sequences as (n, time, features), and put a recurrent layer "
        "that feeds another one on only_return_final: false"]


def test_an_lstm_after_a_final_state_names_the_layer_before(tmp_path):
    path, body, errors = recipe_errors(tmp_path, [
        "{type: gru, name: g, num_units: 8, only_return_final: true}",
        "{type: bidirectional, layer: {type: lstm, num_units: 4}}"])
    assert len(errors) == 1
    assert errors[0].startswith(
        f"{path}:{position(body, '{type: bidirectional')}: model.layers[1]: lstm layer: needs "
        "an input of shape (batch, time, features), got shape (None, 8) from GRULayer 'g'")


@pytest.mark.parametrize("layer,needle,key,message", [
    ("{type: lstm, num_units: 8, gradient_steps: 0}", "0}", "model.layers[0].gradient_steps",
     "expected -1 (no truncation) or an integer >= 1, got int 0"),
    ("{type: gru, num_units: 8, peepholes: true}", "true}", "model.layers[0].peepholes",
     "unknown key 'peepholes' for a GRULayer (known keys: W_hid, W_in, backwards, "),
    ("{type: recurrent, num_units: 8, nonlinearity: tanhh}", "tanhh",
     "model.layers[0].nonlinearity", "expected one of"),
    ("{type: lstm, num_units: 8, W_in: {type: glorot}}", "glorot", "model.layers[0].W_in.type",
     "unknown initialiser 'glorot'"),
    ("{type: bidirectional, layer: {type: dense, num_units: 8}}", "dense",
     "model.layers[0].layer.type",
     "unknown recurrent layer 'dense' (known: gru, lstm, recurrent)"),
    ("{type: bidirectional, layer: {type: lstm, num_units: 8}, merge: mean}", "mean",
     "model.layers[0].merge", "expected one of 'concat', 'sum', got 'mean'"),
    ("{type: bidirectional, layer: {type: lstm, num_units: 8, backwards: true}}", "true",
     "model.layers[0].layer.backwards",
     "bidirectional builds the backward copy itself: leave the inner layer's backwards false"),
    ("{type: bidirectional, merge: sum}", "{type: bidirectional", "model.layers[0]",
     "missing required key 'layer'"),
])
def test_bad_layer_specs_are_recipe_errors_with_positions(tmp_path, layer, needle, key, message):
    path, body, errors = recipe_errors(tmp_path, [layer])
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{path}:{position(body, needle, '    - ')}: {key}: {message}")


def test_a_mask_needs_a_recurrent_layer(tmp_path):
    recipe, body = masked_recipe(tmp_path, ["{type: flatten}",
                                            "{type: dense, num_units: 2, nonlinearity: linear}"])
    with pytest.raises(RecipeErrors) as info:
        prepare(recipe)
    assert [str(e) for e in info.value.errors] == [
        f"{recipe}:{position(body, 'mask}', 'dataset:')}: data.dataset.mask: the dataset has a mask, but no "
        "layer of the model takes one: masks are for the recurrent layers (bidirectional, gru, "
        "lstm, recurrent); add one, or drop the mask from the dataset"]


def test_the_retrieval_protocol_refuses_a_mask(tmp_path):
    recipe, body = masked_recipe(tmp_path)
    body = body.replace("  split: {train: 0.7, valid: 0.1, test: 0.2}\n",
                        "  split: {type: retrieval, queries_per_class: 5}\n")
    body = body.replace("metrics: [accuracy]\ncheckpoint: {monitor: valid.accuracy}\n", "")
    recipe.write_text(body)
    with pytest.raises(RecipeErrors) as info:
        prepare(recipe)
    assert str(info.value) == (f"{recipe}:{position(body, 'mask}', 'dataset:')}: "
                               "data.dataset.mask: the retrieval protocol takes no mask (it is "
                               "for sequences and recurrent layers)")
