"""python -m nnframe.train end to end, in a subprocess, as a user runs it."""
import csv
import json

import h5py
import numpy as np

from nnframe.checkpoint import load_checkpoint

from .helpers import run_cli, write_recipe


def test_train_writes_report_metrics_checkpoints_and_recipe(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    result = run_cli(recipe, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "epoch 6/6" in result.stdout          # one line per epoch: stdout is not a TTY
    report = json.loads((out / "report.json").read_text())
    assert f"final test: loss {report['test']['loss']:.4f}  accuracy " in result.stdout
    assert set(report) >= {"train", "valid", "test", "best", "epochs", "seconds"}
    assert report["epochs"] == 6 and report["test"]["accuracy"] > 0.85
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[-1]["valid.loss"] < rows[0]["valid.loss"]
    with open(out / "metrics.csv") as fh:
        assert len(list(csv.DictReader(fh))) == 6
    assert (out / "recipe.yaml").read_text() == recipe.read_text()
    assert "batch_size: 32" in (out / "recipe.resolved.yaml").read_text()
    last = load_checkpoint(out / "checkpoints" / "last.h5")
    assert set(last.params) == {"hid/W", "hid/b", "out/W", "out/b"}
    assert any(name.endswith("/adam/m") for name in last.optim)
    assert last.progress["epoch"] == 6 and last.recipe_original == recipe.read_text()
    assert (out / "checkpoints" / "best.h5").exists()
    assert (out / "curves.svg").exists()


def test_check_prints_resolved_recipe_and_summary_without_training(tmp_path):
    recipe = write_recipe(tmp_path)
    result = run_cli(recipe, "--check", "--out", tmp_path / "run")
    assert result.returncode == 0, result.stderr
    assert "learning_rate: 0.003" in result.stdout
    assert "hid" in result.stdout and "DenseLayer" in result.stdout and "total" in result.stdout
    assert "recipe OK" in result.stdout
    assert not (tmp_path / "run").exists()


def test_set_overrides_and_seed(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    result = run_cli(recipe, "--set", "train.epochs=2", "--set", "optimizer.learning_rate=5e-3",
                     "--seed", "11", "--out", out)
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["epochs"] == 2 and report["seed"] == 11
    resolved = (out / "recipe.resolved.yaml").read_text()
    assert "learning_rate: 0.005" in resolved


def test_nan_guard_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    # A learning rate this large overflows to inf/NaN within the second epoch or so.
    result = run_cli(recipe, "--set", "optimizer.type=sgd", "--set",
                     "optimizer.learning_rate=1e30", "--set", "schedule=null", "--out", out)
    assert result.returncode == 3, (result.stdout, result.stderr)
    assert "training stopped" in result.stderr and "at step" in result.stderr
    last = out / "checkpoints" / "last.h5"
    if last.exists():      # a finished epoch's checkpoint is good: finite parameters only
        params = load_checkpoint(last).params
        assert all(np.isfinite(v).all() for v in params.values())
        assert str(last) in result.stderr


def test_recipe_error_exit_code_and_message(tmp_path):
    recipe = write_recipe(tmp_path, "nnframe_recipe: 1\nseed: 0\n")
    result = run_cli(recipe)
    assert result.returncode == 2
    assert "recipe errors:" in result.stderr
    assert f"{recipe}:1:1: missing required key 'data'" in result.stderr
    missing = run_cli(tmp_path / "nope.yaml")
    assert missing.returncode == 2 and "nope.yaml" in missing.stderr


def test_installed_entry_point_is_declared():
    import tomllib

    from .helpers import REPO
    with open(f"{REPO}/pyproject.toml", "rb") as fh:
        scripts = tomllib.load(fh)["project"]["scripts"]
    assert scripts["nnframe-train"] == "nnframe.train.__main__:main"


def test_checkpoint_files_are_hdf5_with_params_and_optim_groups(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli(recipe, "--set", "train.epochs=1", "--out", out).returncode == 0
    with h5py.File(out / "checkpoints" / "last.h5", "r") as fh:
        assert "params" in fh and "optim" in fh and "hid" in fh["params"]
