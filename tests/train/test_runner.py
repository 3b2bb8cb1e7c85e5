"""The runner's promises: a clean stop on Ctrl-C that resumes exactly, no silent resume of a
changed recipe, the time accounted for, and the monitored metrics actually logged."""
import json
import signal
import subprocess
import sys
import time

import numpy as np
import yaml

from nnframe.checkpoint import load_checkpoint
from nnframe.train import run

from .helpers import SMALL_RECIPE, cli_env, run_cli, write_recipe

EPOCHS = 30


def _same_parameters(a_path, b_path):
    a, b = load_checkpoint(a_path), load_checkpoint(b_path)
    assert list(a.params) == list(b.params)
    for group in ("params", "optim", "rng"):
        for name, value in getattr(a, group).items():
            assert np.array_equal(value, getattr(b, group)[name]), (group, name)


def test_ctrl_c_stops_at_a_step_saves_and_resumes_exactly(tmp_path):
    recipe = write_recipe(tmp_path)                # dropout: its random stream must resume too
    straight = tmp_path / "straight"
    assert run_cli(recipe, "--out", straight, "--set", f"train.epochs={EPOCHS}").returncode == 0

    out = tmp_path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "nnframe.train", str(recipe), "--out", str(out),
                             "--set", f"train.epochs={EPOCHS}", "--set", "logging.progress=never"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=cli_env())
    deadline = time.time() + 120
    while proc.poll() is None and not (out / "metrics.jsonl").exists() and time.time() < deadline:
        time.sleep(0.005)
    while proc.poll() is None and not (out / "metrics.jsonl").read_text() and \
            time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert "Ctrl-C: stopped after step" in stderr and "--resume auto" in stderr, stderr
    saved = load_checkpoint(out / "checkpoints" / "last.h5").progress
    assert 1 <= saved["epoch"] < EPOCHS

    command = stderr.split("To continue exactly where it stopped: ")[1].split()
    assert command[:3] == ["python", "-m", "nnframe.train"]
    resumed = subprocess.run([sys.executable] + command[1:], capture_output=True, text=True,
                             env=cli_env(), timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from" in resumed.stdout
    _same_parameters(straight / "checkpoints" / "last.h5", out / "checkpoints" / "last.h5")
    rows = lambda d: [{k: v for k, v in json.loads(r).items() if k != "seconds"}  # noqa: E731
                      for r in (d / "metrics.jsonl").read_text().splitlines()]
    assert rows(out) == rows(straight)


def test_resuming_with_a_changed_recipe_is_refused_listing_the_changes(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli(recipe, "--out", out, "--set", "train.epochs=2").returncode == 0
    resolved_before = (out / "recipe.resolved.yaml").read_text()

    changed = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.epochs=3",
                      "--set", "optimizer.learning_rate=0.01", "--seed", "5")
    assert changed.returncode == 2
    assert "Traceback" not in changed.stderr
    assert "the recipe changed since that checkpoint was written" in changed.stderr
    assert "optimizer.learning_rate: 0.003 -> 0.01" in changed.stderr
    assert "seed: 3 -> 5" in changed.stderr
    assert "train.epochs" not in changed.stderr          # more epochs is a safe change
    assert "--allow-changes" in changed.stderr
    assert (out / "recipe.resolved.yaml").read_text() == resolved_before   # nothing rewritten

    batch = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.batch_size=16")
    assert batch.returncode == 2 and "train.batch_size: 32 -> 16" in batch.stderr

    longer = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.epochs=3")
    assert longer.returncode == 0, longer.stderr
    assert "resuming with train.epochs changed: 2 -> 3" in longer.stdout
    assert json.loads((out / "report.json").read_text())["epochs"] == 3

    forced = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.epochs=4",
                     "--set", "optimizer.learning_rate=0.01", "--allow-changes")
    assert forced.returncode == 0, forced.stderr
    assert "resuming with optimizer.learning_rate changed: 0.003 -> 0.01" in forced.stdout


def test_a_changed_model_is_refused_on_resume(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli(recipe, "--out", out, "--set", "train.epochs=1").returncode == 0
    wider = run_cli(recipe, "--out", out, "--resume", "auto", "--set",
                    "model.layers.0.num_units=48")
    assert wider.returncode == 2
    assert "model.layers[0].num_units: 32 -> 48" in wider.stderr


def test_the_run_ends_saying_where_the_time_went(tmp_path, capsys):
    out = tmp_path / "run"
    report = run(write_recipe(tmp_path), ["train.epochs=3"], out=str(out))
    printed = capsys.readouterr().out
    assert "start-up" in printed and "time after start-up" in printed
    for name in ("steps", "evaluation", "checkpoints", "data", "other"):
        assert f" {name} " in printed.split("time after start-up")[1]
    spent = report["time"]
    assert set(spent) == {"start_up", "steps", "evaluation", "checkpoints", "data", "other"}
    assert all(v >= 0 for v in spent.values())
    assert spent["steps"] > 0 and spent["evaluation"] > 0 and spent["checkpoints"] > 0
    assert abs(sum(spent.values()) - report["seconds"]) < 0.05


def test_seconds_grow_with_the_training_time_not_quadratically(tmp_path):
    out = tmp_path / "run"
    started = time.perf_counter()
    report = run(write_recipe(tmp_path), ["train.epochs=6"], out=str(out))
    wall = time.perf_counter() - started
    seconds = [json.loads(r)["seconds"] for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert seconds == sorted(seconds) and len(seconds) == 6
    assert seconds[-1] <= report["seconds"] <= wall
    steps = np.diff([0.0] + seconds)
    assert steps.max() < 5 * np.median(steps) + 0.5        # no epoch counts the ones before


def test_a_learning_rate_of_zero_is_refused_or_said(tmp_path, capsys):
    recipe = write_recipe(tmp_path)
    for optimizer in ("adam", "sgd"):
        result = run_cli(recipe, "--check", "--set",
                         f"optimizer={{type: {optimizer}, learning_rate: 0}}")
        assert result.returncode == 2
        assert "optimizer.learning_rate: expected a finite number > 0, got 0" in result.stderr
    run(recipe, ["train.epochs=3", "schedule={type: step, step_size: 1, gamma: 0}"],
        out=str(tmp_path / "run"))
    assert "warning: the schedule has brought the learning rate to 0 in epoch 2" in \
        capsys.readouterr().out


def test_checkpoints_every_epochs_and_every_seconds(tmp_path, monkeypatch):
    from nnframe import checkpoint
    saved_epochs = []
    original = checkpoint.CheckpointManager.save

    def recording(self, **contents):
        saved_epochs.append(contents["progress"]["epoch"])
        return original(self, **contents)

    monkeypatch.setattr(checkpoint.CheckpointManager, "save", recording)
    recipe = write_recipe(tmp_path)
    run(recipe, ["train.epochs=7", "checkpoint.every_epochs=3"], out=str(tmp_path / "a"))
    assert saved_epochs == [1, 3, 6, 7]            # the first, every 3rd, and the last
    saved_epochs.clear()
    run(recipe, ["train.epochs=5"], out=str(tmp_path / "b"))    # every_seconds: 10 (default)
    assert saved_epochs == [1, 5]
    saved_epochs.clear()
    run(recipe, ["train.epochs=3", "checkpoint.every_seconds=0"], out=str(tmp_path / "c"))
    assert saved_epochs == [1, 2, 3]


def test_best_h5_holds_the_best_epoch_even_between_saves(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    report = run(recipe, ["train.epochs=6", "checkpoint.monitor=valid.accuracy"], out=str(out))
    best = load_checkpoint(out / "checkpoints" / "best.h5")
    assert best.progress["epoch"] == report["best"]["epoch"]
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert best.progress["best"] == max(r["valid.accuracy"] for r in rows)


def test_top_k_accuracy_is_logged_and_can_be_monitored(tmp_path):
    text = yaml.safe_load(SMALL_RECIPE)
    text["metrics"] = ["accuracy", {"type": "top_k_accuracy", "k": 3}]
    text["checkpoint"] = {"monitor": "valid.top_3_accuracy"}
    out = tmp_path / "run"
    report = run(write_recipe(tmp_path, yaml.safe_dump(text)), ["train.epochs=2"], out=str(out))
    rows = [json.loads(r) for r in (out / "metrics.jsonl").read_text().splitlines()]
    assert all(0 < r["valid.top_3_accuracy"] <= 1 for r in rows)
    assert report["best"]["valid.top_3_accuracy"] == max(r["valid.top_3_accuracy"] for r in rows)
    assert report["test"]["top_3_accuracy"] >= report["test"]["accuracy"]


def test_the_old_retrieval_key_says_where_it_went(tmp_path):
    text = SMALL_RECIPE.replace("  split: {train: 0.6, valid: 0.2, test: 0.2}\n",
                                "  retrieval: {queries_per_class: 5}\n")
    result = run_cli(write_recipe(tmp_path, text), "--check")
    assert result.returncode == 2
    assert "data.retrieval: 'retrieval' has moved: the retrieval protocol is a split now: " \
           "write split: {type: retrieval" in result.stderr


def _one_epoch_then_rewrite(tmp_path, change):
    """A one-epoch run whose last.h5 is then written again with ``change(saved) -> dict of
    save_checkpoint arguments to replace``; returns the recipe and the run directory."""
    from nnframe.checkpoint import save_checkpoint
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli(recipe, "--out", out, "--set", "train.epochs=1").returncode == 0
    last = out / "checkpoints" / "last.h5"
    saved = load_checkpoint(last)
    contents = dict(params=saved.params, optim=saved.optim, rng=saved.rng,
                    progress=saved.progress, recipe_original=saved.recipe_original,
                    recipe_resolved=saved.recipe_resolved, optim_info=saved.optim_info)
    save_checkpoint(last, **dict(contents, **change(saved)))
    return recipe, out


def test_a_checkpoint_from_before_a_new_recipe_key_still_resumes(tmp_path):
    """Keys a newer nnframe adds (with their defaults) are not changes of the recipe."""
    def older(saved):
        resolved = yaml.safe_load(saved.recipe_resolved)
        del resolved["checkpoint"]["every_seconds"]    # as written before that key existed
        del resolved["data"]["split"]["type"]
        return {"recipe_resolved": yaml.safe_dump(resolved, sort_keys=False)}

    recipe, out = _one_epoch_then_rewrite(tmp_path, older)
    resumed = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.epochs=2")
    assert resumed.returncode == 0, resumed.stderr
    assert "every_seconds" not in resumed.stdout and "split.type" not in resumed.stdout


def test_a_model_too_large_for_memory_is_a_message(tmp_path):
    result = run_cli(write_recipe(tmp_path), "--check", "--set",
                     "model.layers.0.num_units=100000000000")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "out of memory while checking the recipe" in result.stderr
    assert "num_units" in result.stderr


def test_an_empty_resume_value_is_refused(tmp_path):
    result = run_cli(write_recipe(tmp_path), "--resume=")
    assert result.returncode == 2
    assert "--resume needs a checkpoint path or 'auto'" in result.stderr


def test_early_stopping_watches_its_own_monitor_and_a_stopped_run_stays_stopped(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    report = run(recipe, ["train.epochs=40", "checkpoint.monitor=valid.accuracy",
                          "early_stopping={monitor: train.loss, patience: 1, min_delta: 10}"],
                 out=str(out))
    # train.loss never falls by 10: stopped after 1 + patience epochs, whatever the accuracy
    assert report["stopped_early"] and report["epochs"] == 2
    assert set(report["best"]) == {"epoch", "valid.accuracy"}
    before = json.loads((out / "report.json").read_text())
    again = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.epochs=40",
                    "--set", "checkpoint.monitor=valid.accuracy", "--set",
                    "early_stopping={monitor: train.loss, patience: 1, min_delta: 10}")
    assert again.returncode == 0, again.stderr
    assert "the run had already finished (early stopping)" in again.stdout
    after = json.loads((out / "report.json").read_text())
    for key in ("test", "valid", "best", "epochs", "steps", "stopped_early"):
        assert after[key] == before[key], key


def test_a_corrupt_checkpoint_says_what_to_do(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli(recipe, "--out", out, "--set", "train.epochs=1").returncode == 0
    last = out / "checkpoints" / "last.h5"
    data = bytearray(last.read_bytes())
    data[len(data) // 2] ^= 0xFF
    last.write_bytes(bytes(data))
    result = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.epochs=1")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"cannot resume from {last}" in result.stderr
    assert "best.h5" in result.stderr and "--overwrite" in result.stderr


def test_resuming_another_models_checkpoint_names_no_python_api(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli(recipe, "--out", out, "--set", "train.epochs=1").returncode == 0
    other = run_cli(recipe, "--out", out, "--resume", "auto", "--allow-changes", "--set",
                    "model.layers.0.num_units=48")
    assert other.returncode == 2
    assert "it was written for another model" in other.stderr
    assert "strict=False" not in other.stderr


def test_a_checkpoint_with_a_forged_progress_is_refused(tmp_path):
    recipe, out = _one_epoch_then_rewrite(
        tmp_path, lambda saved: {"progress": dict(saved.progress, epoch="one")})
    result = run_cli(recipe, "--out", out, "--resume", "auto", "--set", "train.epochs=2")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "its progress holds epoch = 'one', which no run writes" in result.stderr
