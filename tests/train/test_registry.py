"""The recipe vocabularies as tables: layer schemas read from signatures, losses and metrics
as entries, and applications loaded from entry points only when a recipe names them."""
import subprocess
import sys
import textwrap
from typing import Literal

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, init, layers, nonlinearities
from nnframe.train import registry
from nnframe.train.errors import RunError
from nnframe.train.model import build_network, loss_expression
from nnframe.train.recipe import Float, Map, RecipeErrors, load_recipe_text
from nnframe.train.schema import check_recipe

from .helpers import REPO, cli_env

RECIPE = """\
nnframe_recipe: 1
data:
  dataset: DATASET
  split: {train: 0.5, valid: 0.5}
model:
MODEL
loss: LOSS
optimizer: {type: sgd, learning_rate: 0.1}
train: {epochs: 1}
METRICS
"""


def recipe(layers_text="    - {type: dense, num_units: 3}",
           loss="{type: categorical_crossentropy_from_logits}", metrics="metrics: [accuracy]",
           extra="", builder=None,
           dataset="{type: synthetic_blobs, n: 60, dim: 6}"):
    """A recipe with these layers (or this model builder), loss, metrics and dataset."""
    model = f"  builder: {builder}" if builder else f"  layers:\n{layers_text}"
    text = (RECIPE.replace("DATASET", dataset).replace("MODEL", model).replace("LOSS", loss)
            .replace("METRICS", metrics)) + extra
    return load_recipe_text(text, "r.yaml")


def errors_of(recipe_):
    with pytest.raises(RecipeErrors) as info:
        check_recipe(recipe_)
    return [str(e) for e in info.value.errors]


@pytest.fixture
def tables(monkeypatch):
    """Registrations of a test stay in the test."""
    for name in ("LAYERS", "MODELS", "DATASETS", "LOSSES"):
        monkeypatch.setattr(registry, name, dict(getattr(registry, name)))
    monkeypatch.setattr(registry, "_LOADED", {group: {} for group in registry.GROUPS})


# -- a layer registered with one line ---------------------------------------------------------
class ToyLayer(layers.Layer):
    """``nonlinearity(scale * dot(input, W))``, reversed along the units with ``flip``."""

    def __init__(self, incoming, num_units, repeat=2, scale=1.0, flip=False,
                 W=init.Normal(0.05), nonlinearity=nonlinearities.tanh, callback=print,
                 name=None):
        super().__init__(incoming, name)
        self.num_units, self.repeat, self.scale, self.flip = num_units, repeat, scale, flip
        self.nonlinearity = nonlinearity
        self.W = self.add_param(W, (self.input_shape[1], num_units), "W")

    def get_output_shape_for(self, input_shape):
        return (input_shape[0], self.num_units)

    def get_output_for(self, input, **kwargs):
        out = self.nonlinearity(self.scale * T.dot(input, self.W))
        return out[:, ::-1] if self.flip else out


def test_a_layer_registered_with_one_line_is_usable_from_a_recipe(tables):
    registry.register_layer("toy", ToyLayer)
    r = recipe("    - {type: toy, name: t, num_units: 4, scale: 0.5, flip: true,\n"
               "       W: {type: constant, val: 0.25}, nonlinearity: linear}")
    resolved = check_recipe(r)
    assert resolved["model"]["layers"][0] == {
        "type": "toy", "num_units": 4, "repeat": 2, "scale": 0.5, "flip": True,
        "W": {"type": "constant", "val": 0.25}, "nonlinearity": "linear", "name": "t"}
    toy = build_network(resolved, (6,), r).output_layer
    assert (toy.num_units, toy.repeat, toy.scale, toy.flip) == (4, 2, 0.5, True)
    assert toy.nonlinearity is nonlinearities.linear and toy.name == "t"
    np.testing.assert_array_equal(toy.W.get_value(), np.full((6, 4), 0.25, np.float32))
    assert registry.LAYERS["toy"].python_only == ("callback",)      # a callable: Python only


def test_a_registered_layers_arguments_are_validated(tables):
    registry.register_layer("toy", ToyLayer)
    assert errors_of(recipe(
        "    - {type: toy, num_units: 0, repeat: 2.5, scale: big, flip: 1,\n"
        "       W: {type: glorot}, nonlinearity: tanhh, colour: red}")) == [
        "r.yaml:8:56: model.layers[0].colour: unknown key 'colour' for a ToyLayer (known keys: "
        "W, flip, name, nonlinearity, num_units, repeat, scale)",
        "r.yaml:7:30: model.layers[0].num_units: expected an integer >= 1, got 0",
        "r.yaml:7:41: model.layers[0].repeat: expected an integer, got float 2.5",
        "r.yaml:7:53: model.layers[0].scale: expected a finite number, got the string 'big'",
        "r.yaml:7:64: model.layers[0].flip: expected true or false, got int 1",
        "r.yaml:8:18: model.layers[0].W.type: unknown initialiser 'glorot' (did you mean "
        "'glorot_normal'? known: constant, glorot_normal, glorot_uniform, he_normal, he_uniform, "
        "normal, orthogonal, uniform)",
        "r.yaml:8:41: model.layers[0].nonlinearity: expected one of 'elu', 'identity', "
        "'leaky_relu', 'linear', 'rectify', 'relu', 'selu', 'sigmoid', 'softmax', 'softplus', "
        "'tanh', got 'tanhh' (did you mean 'tanh'?)"]


# -- how signatures become schemas ------------------------------------------------------------
class Annotated(layers.Layer):
    def __init__(self, incoming, count: int, mode: Literal["fast", "exact"] = "fast",
                 stride=(3, 3), size=(2, 5), level: float = 1, gate=layers.Gate(), name=None):
        super().__init__(incoming, name)


def test_annotations_and_defaults_give_the_schema():
    entry = registry.layer_entry(Annotated)
    fields = entry.spec.fields
    assert fields["count"][0].describe == "an integer" and fields["count"][1] is registry.REQUIRED
    assert (fields["mode"][0].describe, fields["mode"][1]) == ("one of 'fast', 'exact'", "fast")
    assert fields["stride"][1] == 3                  # a tuple of one value is that value
    assert (fields["size"][0].describe, fields["size"][1]) == ("a list of 2 an integer", [2, 5])
    assert fields["level"][1] == 1.0 and isinstance(fields["level"][1], float)
    assert entry.python_only == ("gate",)


def test_a_constructor_argument_without_a_schema_is_refused():
    class Mystery(layers.Layer):
        def __init__(self, incoming, recipe_thing, name=None):
            super().__init__(incoming, name)

    with pytest.raises(TypeError, match="Mystery argument 'recipe_thing' has no default, "
                                        "annotation or entry in ARGUMENTS"):
        registry.layer_entry(Mystery)


def test_a_default_outside_its_schema_is_refused():
    class Negative(layers.Layer):
        def __init__(self, incoming, p=1.5, name=None):       # p is a probability
            super().__init__(incoming, name)

    with pytest.raises(TypeError, match=r"Negative argument 'p': the default 1.5 is not a "
                                        r"value of its recipe schema \(a finite number >= 0 "
                                        r"<= 1\)"):
        registry.layer_entry(Negative)
    assert registry.layer_entry(Negative, p=Float()).spec.fields["p"][1] == 1.5


def test_an_initialiser_default_without_a_recipe_form_is_refused():
    class Seeded(layers.Layer):
        def __init__(self, incoming, W=init.Normal(0.1, seed=3), name=None):
            super().__init__(incoming, name)

    with pytest.raises(TypeError, match=r"the initialiser Normal\(seed=3, std=0.1, mean=0.0\) "
                                        "has no recipe form"):
        registry.layer_entry(Seeded)


@pytest.mark.parametrize("initializer,form", [
    (init.GlorotUniform(), {"type": "glorot_uniform", "gain": 1.0}),
    (init.HeNormal(gain="relu"), {"type": "he_normal", "gain": "relu"}),
    (init.Uniform(0.05), {"type": "uniform", "range": 0.05}),
    (init.Constant(1), {"type": "constant", "val": 1.0}),
])
def test_initialiser_defaults_read_from_the_objects(initializer, form):
    assert registry.initializer_spec(initializer) == form
    assert vars(registry.make_initializer(form)) == vars(initializer)


@pytest.mark.parametrize("spec,shape", [
    ({"type": "dense", "num_units": 5}, (None, 6)),
    ({"type": "conv2d", "num_filters": 2, "filter_size": 3}, (None, 1, 8, 8)),
    ({"type": "conv1d", "num_filters": 2, "filter_size": 3}, (None, 1, 8)),
    ({"type": "transposed_conv2d", "num_filters": 2, "filter_size": 3}, (None, 1, 8, 8)),
    ({"type": "maxpool2d", "pool_size": 2}, (None, 1, 8, 8)),
    ({"type": "pool2d", "pool_size": 2}, (None, 1, 8, 8)),
    ({"type": "maxpool1d", "pool_size": 2}, (None, 1, 8)),
    ({"type": "upscale2d", "scale_factor": 2}, (None, 1, 4, 4)),
    ({"type": "lrn"}, (None, 3, 4, 4)),
    ({"type": "batchnorm"}, (None, 3, 4, 4)),
    ({"type": "dropout"}, (None, 6)),
    ({"type": "globalpool"}, (None, 3, 4, 4)),
    ({"type": "binary_code"}, (None, 6)),
])
def test_the_recipe_defaults_are_the_constructors(spec, shape):
    """A layer built from a recipe that gives only the required arguments is the layer its
    class builds with its own defaults."""
    errors = []
    checked = registry.layer_choice().check(spec, ("layer",), errors)
    assert not errors
    entry = registry.LAYERS[spec["type"]]
    required = {k: v for k, v in spec.items() if k != "type"}
    from_recipe = registry.build_layer(checked, layers.InputLayer(shape))
    direct = entry.cls(layers.InputLayer(shape), **{k: tuple(v) if isinstance(v, list) else v
                                                    for k, v in required.items()})
    assert _settings(from_recipe) == _settings(direct)
    assert [p.get_value().shape for p in from_recipe.get_params()] == \
        [p.get_value().shape for p in direct.get_params()]


def _settings(layer):
    plain = (int, float, bool, str, tuple, type(None))
    return {k: v for k, v in vars(layer).items() if isinstance(v, plain) and k != "name"}


def test_per_axis_arguments_follow_the_layers_axes():
    assert registry.LAYERS["conv1d"].spec.fields["filter_size"][0].describe == \
        "an integer >= 1"
    assert registry.LAYERS["conv2d"].spec.fields["filter_size"][0].describe == \
        "an integer >= 1 or a list of 2 an integer >= 1"
    assert registry.LAYERS["maxpool2d"].spec.fields["pad"][0].describe == \
        "an integer >= 0 or a list of 2 an integer >= 0"        # no border-mode words


# -- losses ------------------------------------------------------------------------------------
def test_a_loss_entry_is_what_recipes_and_the_model_use(tables):
    registry.LOSSES["half_squared_error"] = registry.LossEntry(
        lambda prediction, target: 0.5 * T.sqr(prediction - target), "any")
    resolved = check_recipe(recipe(loss="{type: half_squared_error, target: inputs}",
                                   metrics=""))
    p, t = T.fmatrix("p"), T.fmatrix("t")
    loss = function([p, t], loss_expression(resolved, p, t))
    assert float(loss(np.ones((2, 3), np.float32), np.zeros((2, 3), np.float32))) == 0.5


def test_every_loss_gives_a_scalar():
    scores, labels = T.fmatrix("scores"), T.lvector("labels")
    for name, entry in registry.LOSSES.items():
        target = T.fmatrix("t") if entry.target == "any" else labels
        if name.startswith("binary"):
            target = T.fmatrix("t")
        resolved = {"loss": {"type": name, "sum_features": True, "aggregate": "mean"}}
        assert loss_expression(resolved, scores, target).ndim == 0, name


# -- metrics -----------------------------------------------------------------------------------
def test_metric_values_are_logged_under_their_names():
    outputs = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]])
    values = registry.metric_values(
        [{"type": "accuracy"}, {"type": "top_k_accuracy", "k": 2}], outputs, np.array([0, 1, 2]))
    assert values == {"accuracy": pytest.approx(1 / 3), "top_2_accuracy": pytest.approx(2 / 3)}


def test_a_metric_that_cannot_score_the_outputs_is_a_recipe_error():
    r = recipe(metrics="metrics: [{type: top_k_accuracy, k: 5}]")
    with pytest.raises(RecipeErrors) as info:
        registry.metric_values(check_recipe(r)["metrics"], np.zeros((2, 3)), np.array([0, 1]),
                               recipe=r)
    (error,) = info.value.errors
    assert str(error) == ("r.yaml:11:11: metrics[0]: cannot score the model's outputs: "
                          "top_k_accuracy: k=5 is out of range; k must be at least 1 and at "
                          "most the number of classes (3)")


def test_a_monitor_names_a_metric_as_it_is_logged():
    extra = "checkpoint: {monitor: valid.top_3_accuracy}\n"
    resolved = check_recipe(recipe(metrics="metrics: [{type: top_k_accuracy, k: 3}]",
                                   extra=extra))
    assert resolved["checkpoint"]["monitor"] == "valid.top_3_accuracy"
    assert errors_of(recipe(metrics="metrics: [accuracy, {type: top_k_accuracy, k: 3}]",
                            extra="early_stopping: {monitor: valid.top_k_accuracy}\n")) == [
        "r.yaml:12:27: early_stopping.monitor: 'valid.top_k_accuracy' is not a metric this "
        "recipe logs (available: train.loss, valid.loss, valid.accuracy, valid.top_3_accuracy)"]


# -- applications: entry points, imported only when named -------------------------------------
@pytest.fixture
def install_plugin(tmp_path, monkeypatch, tables):
    """Installs a package ``toyplugin`` on sys.path: a module and its entry points (the
    module is forgotten after the test)."""
    modules = []

    def install(entry_points, module_text, module="toy_plugin"):
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(module_text))
        info = tmp_path / "toyplugin-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplugin\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
        monkeypatch.syspath_prepend(str(tmp_path))
        modules.append(module)

    yield install
    for module in modules:
        sys.modules.pop(module, None)


PLUGIN = """\
from nnframe import layers
from nnframe.train.recipe import REQUIRED, Int, Map

def build(l_in, args, context):
    return layers.DenseLayer(l_in, args["units"], name="toy_out")

MODEL = (build, Map({"units": (Int(min=1), REQUIRED)}, "the toy builder"))

class Doubling(layers.Layer):
    def __init__(self, incoming, factor=2.0, name=None):
        super().__init__(incoming, name)
        self.factor = factor

    def get_output_for(self, input, **kwargs):
        return self.factor * input

def blobs(n=40, seed=0):
    from nnframe.data import synthetic_blobs
    return synthetic_blobs(n=n, dim=6, seed=seed)
"""

ENTRY_POINTS = """\
[nnframe.recipe_models]
toy_builder = toy_plugin:MODEL

[nnframe.recipe_layers]
doubling = toy_plugin:Doubling

[nnframe.recipe_datasets]
toy_blobs = toy_plugin:blobs
"""


def test_an_entry_point_is_imported_only_when_a_recipe_names_it(install_plugin):
    install_plugin(ENTRY_POINTS, PLUGIN)
    assert "toy_builder" in registry.application_names("recipe_models")
    check_recipe(recipe())
    assert "toy_plugin" not in sys.modules
    r = recipe(builder="{type: toy_builder, units: 3}", dataset="{type: toy_blobs, n: 30}")
    resolved = check_recipe(r)
    assert "toy_plugin" in sys.modules
    assert resolved["data"]["dataset"] == {"type": "toy_blobs", "n": 30, "seed": 0}
    assert build_network(resolved, (6,), r).output_layer.name == "toy_out"


def test_a_layer_from_an_entry_point_is_validated_and_built(install_plugin):
    install_plugin(ENTRY_POINTS, PLUGIN)
    assert errors_of(recipe("    - {type: doubling, factor: twice}")) == [
        "r.yaml:7:32: model.layers[0].factor: expected a finite number, got the string 'twice'"]
    r = recipe("    - {type: doubling, factor: 3}")
    assert build_network(check_recipe(r), (6,), r).output_layer.factor == 3.0


def test_entries_registered_in_code_win(install_plugin):
    install_plugin(ENTRY_POINTS, PLUGIN)
    ours = (lambda l_in, args, context: l_in, Map({}, "ours"), None)
    registry.register_model("toy_builder", *ours)
    assert registry.application("recipe_models", "toy_builder") is registry.MODELS["toy_builder"]
    assert "toy_plugin" not in sys.modules


def test_an_unknown_name_is_a_key_error_listing_the_known_ones(install_plugin):
    install_plugin(ENTRY_POINTS, PLUGIN)
    with pytest.raises(KeyError, match="no model builder 'toy_buildr' \\(known: .*toy_builder"):
        registry.application("recipe_models", "toy_buildr")


def test_a_broken_entry_point_names_its_package(install_plugin):
    install_plugin("[nnframe.recipe_models]\nbroken = toy_broken:MODEL\n",
                   "import missing_dependency_of_toy\n", module="toy_broken")
    with pytest.raises(RunError) as info:
        check_recipe(recipe(builder="{type: broken}"))
    assert str(info.value) == (
        "the model builder 'broken' is declared by toyplugin (entry point broken = "
        "toy_broken:MODEL in group nnframe.recipe_models) but cannot be loaded: "
        "ModuleNotFoundError: No module named 'missing_dependency_of_toy'; fix or reinstall "
        "that package (for nnframe itself: pip install -e .)")


def test_an_entry_point_of_the_wrong_kind_is_refused(install_plugin):
    install_plugin("[nnframe.recipe_layers]\nodd = toy_odd:NOT_A_LAYER\n",
                   "NOT_A_LAYER = 42\n", module="toy_odd")
    with pytest.raises(RunError, match="cannot be loaded: TypeError: a layer entry is a Layer "
                                       "subclass or a LayerEntry, got 42"):
        registry.application("recipe_layers", "odd")


def test_the_registry_imports_no_application():
    code = ("import sys, nnframe.train.registry as r; r.layer_choice(); r.model_choice(); "
            "print(sorted(m for m in sys.modules if m.startswith('nnframe.hashing')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=cli_env(), cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
