"""A recipe's name never puts the run directory outside runs/ (or the --out the user chose)."""
import os

import pytest

from nnframe.train import prepare, trainer
from nnframe.train.recipe import RecipeErrors

from .helpers import SMALL_RECIPE, write_recipe

BAD_NAMES = ["../elsewhere", "/tmp/elsewhere", "a/b", "a\\\\b", "..", ".hidden", "''", '"x\\r"',
             "x\\r", "'run\\n'", "'" + "n" * 101 + "'"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_name_that_is_not_a_plain_directory_name_is_a_recipe_error(tmp_path, name):
    path = write_recipe(tmp_path, SMALL_RECIPE.replace("name: small", f"name: {name}"))
    with pytest.raises(RecipeErrors) as info:
        prepare(path)
    (error,) = info.value.errors
    assert str(error).startswith(f"{path}:2:7: name: expected a run name (the directory "
                                 "runs/<name>)"), str(error)


def test_a_run_without_out_stays_in_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write_recipe(tmp_path, SMALL_RECIPE.replace("name: small", "name: my-run_1.2"))
    trainer.run(path, ["train.epochs=1"], stdout=open(os.devnull, "w"))
    assert sorted(os.listdir(tmp_path)) == ["recipe.yaml", "runs"]
    assert os.listdir(tmp_path / "runs") == ["my-run_1.2"]
    assert (tmp_path / "runs" / "my-run_1.2" / "report.json").is_file()


def test_a_link_out_of_runs_is_refused(tmp_path, monkeypatch):
    work, outside = tmp_path / "work", tmp_path / "outside"
    (work / "runs").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, work / "runs" / "small")
    monkeypatch.chdir(work)
    path = write_recipe(work)
    with pytest.raises(trainer.RunDirError, match=r"runs/small is a link to .*outside.*--out"):
        trainer.run(path, ["train.epochs=1"], stdout=open(os.devnull, "w"))
    assert os.listdir(outside) == []
