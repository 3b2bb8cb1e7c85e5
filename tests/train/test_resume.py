"""Resume is exact: a run killed with SIGKILL and resumed with --resume auto ends with the
same parameters, bit for bit, as a run that was never interrupted."""
import json
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from nnframe.checkpoint import load_checkpoint

from .helpers import cli_env, run_cli, write_recipe

EPOCHS = 25


def train_until_killed(recipe, out, rng, device="numpy", max_delay=0.6):
    """Start training, SIGKILL it at a random moment (up to ``max_delay`` seconds) after the
    first epoch's checkpoint.

    ``checkpoint.every_seconds=0`` writes last.h5 after every epoch, so the kill can find
    any epoch's checkpoint (a safe change: the straight run need not have it)."""
    proc = subprocess.Popen([sys.executable, "-m", "nnframe.train", str(recipe), "--out",
                             str(out), "--set", f"train.epochs={EPOCHS}", "--set",
                             "checkpoint.every_seconds=0", "--device", device],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())
    last = out / "checkpoints" / "last.h5"
    deadline = time.time() + 120
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, max_delay))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode


# The native backend's C gives other last bits than NumPy's kernels, but the same bits
# on every run: a resumed run must still end exactly where an uninterrupted one does.
@pytest.mark.parametrize("device", ["numpy", "native"])
def test_sigkill_then_resume_auto_gives_identical_parameters(tmp_path, device):
    recipe = write_recipe(tmp_path)          # includes dropout: its random stream must resume too
    straight = tmp_path / "straight"
    done = run_cli(recipe, "--out", straight, "--set", f"train.epochs={EPOCHS}",
                   "--device", device)
    assert done.returncode == 0, done.stderr
    assert "NumPy backend" not in done.stderr    # native really ran in C

    rng = random.Random(os.getpid())
    # The kill must land before training finishes; on the native backend the 25 epochs can
    # end within the first random delay, so each attempt waits at most half as long.
    for attempt in range(8):
        killed = tmp_path / f"killed{attempt}"
        code = train_until_killed(recipe, killed, rng, device, max_delay=0.6 / 2 ** attempt)
        # (a kill after the last epoch's checkpoint, while the report is written, is too late)
        if code == -signal.SIGKILL and not (killed / "report.json").exists() and \
                load_checkpoint(killed / "checkpoints" / "last.h5").progress["epoch"] < EPOCHS:
            break
    else:
        raise AssertionError("could not kill the run before it finished")
    interrupted_at = load_checkpoint(killed / "checkpoints" / "last.h5").progress["epoch"]
    assert 1 <= interrupted_at < EPOCHS

    resumed = run_cli(recipe, "--out", killed, "--resume", "auto", "--set",
                      f"train.epochs={EPOCHS}", "--device", device)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resumed from {killed / 'checkpoints' / 'last.h5'} after epoch {interrupted_at}" \
        in resumed.stdout

    a = load_checkpoint(straight / "checkpoints" / "last.h5")
    b = load_checkpoint(killed / "checkpoints" / "last.h5")
    assert list(a.params) == list(b.params)
    for name in a.params:
        assert a.params[name].dtype == b.params[name].dtype
        assert np.array_equal(a.params[name], b.params[name]), name
    for name in a.optim:
        assert np.array_equal(a.optim[name], b.optim[name]), name
    for name in a.rng:
        assert np.array_equal(a.rng[name], b.rng[name]), name
    rows_a = (straight / "metrics.jsonl").read_text().splitlines()
    rows_b = (killed / "metrics.jsonl").read_text().splitlines()
    assert len(rows_b) == EPOCHS
    strip = lambda rows: [{k: v for k, v in json.loads(r).items() if k != "seconds"} for r in rows]
    assert strip(rows_a) == strip(rows_b)
    report_a = json.loads((straight / "report.json").read_text())
    report_b = json.loads((killed / "report.json").read_text())
    assert report_a["test"] == report_b["test"]


def test_resume_from_an_explicit_checkpoint_path(tmp_path):
    recipe = write_recipe(tmp_path)
    out = tmp_path / "run"
    assert run_cli(recipe, "--out", out, "--set", "train.epochs=2").returncode == 0
    result = run_cli(recipe, "--out", out, "--resume", out / "checkpoints" / "last.h5",
                     "--set", "train.epochs=3")
    assert result.returncode == 0, result.stderr
    assert json.loads((out / "report.json").read_text())["epochs"] == 3


def test_resume_auto_without_a_checkpoint_starts_fresh(tmp_path):
    recipe = write_recipe(tmp_path)
    result = run_cli(recipe, "--out", tmp_path / "run", "--resume", "auto", "--set",
                     "train.epochs=1")
    assert result.returncode == 0 and "starting from scratch" in result.stdout
