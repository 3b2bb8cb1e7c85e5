"""Application code (hashing) is imported only when a recipe uses it."""
import subprocess
import sys

import pytest

from nnframe.train import prepare, registry
from nnframe.train.recipe import RecipeErrors

from .helpers import REPO, SMALL_RECIPE, cli_env, write_recipe

_CODE = """
import sys
from nnframe.train import prepare
prepare({recipe!r}, ["train.epochs=1"])
print(sorted(m for m in sys.modules if m.startswith("nnframe.hashing")))
"""


def _hashing_modules_after_preparing(recipe):
    out = subprocess.run([sys.executable, "-c", _CODE.format(recipe=f"{REPO}/recipes/{recipe}")],
                         capture_output=True, text=True, env=cli_env(), cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip().splitlines()[-1]


def test_an_mlp_recipe_never_imports_hashing():
    assert _hashing_modules_after_preparing("mlp_digits.yaml") == "[]"


def test_a_hashing_recipe_loads_its_builder_on_demand():
    assert "'nnframe.hashing.model'" in _hashing_modules_after_preparing("hashing_ae_mnist5k.yaml")


def test_unknown_builders_list_the_application_ones(tmp_path):
    model = "model:\n  builder: {type: hashing_autoencodr}\n"
    text = SMALL_RECIPE.split("model:")[0] + model + "loss:" + SMALL_RECIPE.split("loss:")[1]
    with pytest.raises(RecipeErrors, match="did you mean 'hashing_autoencoder'?"):
        prepare(write_recipe(tmp_path, text))


def test_nnframe_declares_its_applications_as_entry_points():
    declared = {group: {name: point.value
                        for name, point in registry.declared_applications(group).items()
                        if point.dist.name == "nnframe"}       # not other packages'
                for group in ("recipe_models", "recipe_splits")}
    assert declared == {
        "recipe_models": {"hashing_autoencoder": "nnframe.hashing.recipe_hooks:MODEL"},
        "recipe_splits": {"retrieval": "nnframe.hashing.recipe_hooks:RETRIEVAL_SPLIT"},
    }, "nnframe's package metadata lacks the entry points of pyproject.toml: pip install -e ."
