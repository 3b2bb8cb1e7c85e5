"""docs/recipe-vocabulary.md is generated from the registry's tables and kept up to date."""
import os

import pytest

from nnframe import layers
from nnframe.train import registry
from nnframe.train.vocabulary_docs import COMMAND, DOCS_PATH, main, vocabulary_markdown

from .helpers import REPO


@pytest.fixture(scope="module")
def page():
    return vocabulary_markdown()


def test_the_page_is_up_to_date(page):
    with open(os.path.join(REPO, DOCS_PATH), encoding="utf-8") as fh:
        written = fh.read()
    assert written == page, f"{DOCS_PATH} is out of date: run `{COMMAND}`"


def test_every_name_a_recipe_may_use_is_on_the_page(page):
    for name in registry.LAYERS:
        assert f"### `{name}`" in page, name
    tables = [registry.INITIALIZERS, registry.NONLINEARITIES, registry.LOSSES,
              registry.METRICS, registry.OPTIMIZERS, registry.SCHEDULES,
              registry.application_names("recipe_datasets")]
    for table in tables:
        for name in table:
            assert f"`{name}`" in page, name
    for group in ("recipe_models", "recipe_splits"):
        for name in registry.declared_applications(group):
            assert f"### `{name}`" in page, name


def test_each_layer_lists_its_arguments_with_types_and_defaults(page):
    conv = page[page.index("### `conv2d`"):page.index("### `dense`")]
    assert "| `filter_size` | an integer >= 1 or a list of 2 an integer >= 1 | required |" in conv
    assert ("| `W` | an initialiser (see [Initialisers](#initialisers)) | "
            "`{type: glorot_uniform, gain: 1.0}` |") in conv
    assert "| `b` | an initialiser (see [Initialisers](#initialisers)) or null |" in conv
    lstm = page[page.index("### `lstm`"):page.index("### `maxpool1d`")]
    assert "Set in Python only (kept at their defaults): `ingate`, `forgetgate`" in lstm
    assert "| `top_k_accuracy` | `k` (5) | `top_5_accuracy` |" in page


def test_what_a_session_registers_is_not_nnframes_vocabulary(page, monkeypatch):
    class Extra(layers.Layer):
        def __init__(self, incoming, size=3, name=None):
            super().__init__(incoming, name)

    monkeypatch.setattr(registry, "LAYERS", dict(registry.LAYERS))
    registry.register_layer("extra", Extra)
    assert vocabulary_markdown() == page


def test_check_finds_a_stale_page_and_writing_fixes_it(tmp_path, capsys):
    path = tmp_path / "vocabulary.md"
    path.write_text("# stale\n")
    assert main(["--check", "--path", str(path)]) == 1
    assert capsys.readouterr().err == f"{path} is out of date: run `{COMMAND}`\n"
    assert main(["--path", str(path)]) == 0
    assert main(["--check", "--path", str(path)]) == 0
    assert main(["--check", "--path", str(tmp_path / "missing.md")]) == 1
