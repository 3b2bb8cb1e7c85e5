"""The retrieval split protocol (``data.split: {type: retrieval, ...}``), declared by
nnframe.hashing.recipe_hooks: the same query/database split as the baselines of
nnframe.hashing.compare, and the checks of what the protocol replaces."""
import os

import numpy as np
import pytest

import nnframe
from nnframe.config import config
from nnframe.data import load_dataset
from nnframe.hashing.compare import recipe_overrides
from nnframe.hashing.protocol import digits_protocol
from nnframe.train import prepare
from nnframe.train.recipe import RecipeErrors, load_recipe, parse_override
from nnframe.train.schema import check_recipe
from nnframe.train.splits import load_splits

REPO = os.path.dirname(os.path.dirname(os.path.abspath(nnframe.__file__)))
RECIPE = os.path.join(REPO, "recipes", "hashing_ae_mnist5k.yaml")


def splits_of(path, overrides=()):
    recipe = load_recipe(path)
    for assignment in overrides:
        parse_override(recipe, assignment)
    resolved = check_recipe(recipe)
    return resolved, load_splits(resolved, recipe, split_seed=123)


def test_the_recipe_split_is_the_baselines_split():
    """compare.py's overrides give the trained model the split its baselines use."""
    resolved, (_, splits) = splits_of(RECIPE, recipe_overrides("noise", 8, 1, "digits") +
                                      ["seed=3"])
    assert resolved["data"]["split"] == {"type": "retrieval", "queries_per_class": 30,
                                         "scale": 16.0}
    raw = load_dataset("digits", shape="flat", scale=1.0, dtype="float64")
    expected = digits_protocol(raw.x, raw.y, seed=3)
    assert list(splits) == ["train", "query"]
    for name, x, y in [("train", expected.db_x, expected.db_y),
                       ("query", expected.query_x, expected.query_y)]:
        np.testing.assert_array_equal(splits[name].x, x.astype(config.floatX))
        np.testing.assert_array_equal(splits[name].y, y)
    assert splits["train"].name == "digits:database" and splits["query"].name == "digits:query"


def test_the_shipped_recipe_prepares():
    p = prepare(RECIPE, ["train.epochs=1"])
    assert (len(p.splits["train"]), len(p.splits["query"])) == (4000, 1000)
    assert len(p.dataset) == 5000 and p.model.report_hook is not None


def test_the_protocol_arguments_are_checked(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(open(RECIPE).read().replace("split: {type: retrieval, queries_per_class: "
                                                "100, scale: 255}", "split: retrieval"))
    with pytest.raises(RecipeErrors) as info:
        check_recipe(load_recipe(path))
    assert [str(e) for e in info.value.errors] == [
        f"{path}:14:10: data.split: missing required key 'queries_per_class' (an integer >= 1)"]


def test_what_the_protocol_replaces_is_refused(tmp_path):
    data = tmp_path / "seq.npz"
    x = np.random.default_rng(0).integers(0, 5, size=(20, 3, 2))
    np.savez(data, x=x, y=np.arange(20) % 2, m=np.ones((20, 3)), xt=x[:4],
             yt=np.arange(4) % 2, mt=np.ones((4, 3)))
    text = (open(RECIPE).read()
            .replace("{type: mnist5k, shape: flat, scale: 1.0}",
                     f"{{type: npz, path: {data}, mask: m, test_x: xt, test_y: yt, "
                     "test_mask: mt}")
            .replace("queries_per_class: 100, scale: 255}",
                     "queries_per_class: 2, scale: 5}\n  standardize: center"))
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RecipeErrors) as info:
        splits_of(path)
    line = text[:text.index("mask: m")].count("\n") + 1
    column = text.index("mask: m") - text.rfind("\n", 0, text.index("mask: m"))
    test_x = text.index("test_x: xt") - text.rfind("\n", 0, text.index("test_x: xt"))
    assert [str(e) for e in info.value.errors] == [
        f"{path}:{line}:{column + 6}: data.dataset.mask: the retrieval protocol takes no mask "
        "(it is for sequences and recurrent layers)",
        f"{path}:{line + 2}:16: data.standardize: the retrieval protocol centres the data "
        "itself; use standardize: none",
        f"{path}:{line}:{test_x + 8}: data.dataset.test_x: the retrieval protocol draws its "
        "queries from the dataset's examples and uses no test set of the file: drop test_x"]
