"""Data-parallel recipe training on 2 MPI ranks (issue 17): the same numbers as one process,
checkpoints that resume on another number of ranks, and a dead rank ending the job."""
import os
import signal
import subprocess
import time
import uuid

import numpy as np
import pytest

from nnframe import checkpoint as ckpt
from tests.distributed.mpi import mpi_env, require_mpi, train
from tests.train.helpers import run_cli, write_recipe

pytestmark = pytest.mark.usefixtures("_mpi")

# no dropout: the ranks' random streams differ from one process's (docs/distributed.md).
# 1078 training examples in batches of 48: 23 steps an epoch, the last one of 22 examples
# (11 per rank); l2 checks that the penalty counts once, not once per rank.
RECIPE = """\
nnframe_recipe: 1
name: dp
seed: 5
data:
  dataset: {type: digits, shape: flat}
  split: {train: 0.6, valid: 0.2, test: 0.2}
  standardize: standard
model:
  layers:
    - {type: dense, name: hid, num_units: 32}
    - {type: dense, name: out, num_units: 10, nonlinearity: linear}
loss: {type: categorical_crossentropy_from_logits, l2: 1e-3}
optimizer: {type: adam, learning_rate: 3e-3}
train: {epochs: 2, batch_size: 48}
metrics: [accuracy]
checkpoint: {every_epochs: 1}
logging: {plots: false}
"""


@pytest.fixture
def _mpi():
    require_mpi()


def _params(run_dir):
    saved = ckpt.load_checkpoint(os.path.join(run_dir, "checkpoints", "last.h5"))
    return saved.params, saved.progress


def _assert_close(a, b, rtol=1e-5):
    assert a.keys() == b.keys()
    for name in a:
        scale = max(np.abs(a[name]).max(), 1e-12)
        assert np.abs(a[name] - b[name]).max() <= rtol * scale, name


def _ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_two_ranks_train_as_one_process(tmp_path):
    recipe = write_recipe(tmp_path, RECIPE)
    _ok(run_cli(recipe, "--out", tmp_path / "one", "--set", "train.epochs=1"))
    two = _ok(train(2, recipe, "--out", tmp_path / "two", "--set", "train.epochs=1"))
    one_params, one_progress = _params(tmp_path / "one")
    two_params, two_progress = _params(tmp_path / "two")
    assert two_progress["step"] == one_progress["step"] == 23
    _assert_close(two_params, one_params)
    # the ranks agree on the loss (reduced) and only rank 0 reports
    assert abs(two_progress["best"] - one_progress["best"]) <= 1e-6
    assert two.stdout.count("final test:") == 1
    assert "data-parallel: 2 ranks" in two.stdout
    # progress: auto gives epoch lines (mpirun hands rank 0 a terminal but passes no bars)
    assert two.stdout.count("epoch 1/1") == 1
    report_one = (tmp_path / "one" / "report.json").read_text()
    assert '"accuracy"' in report_one and (tmp_path / "two" / "report.json").exists()


def test_checkpoint_of_two_ranks_resumes_on_one_and_back(tmp_path):
    recipe = write_recipe(tmp_path, RECIPE)
    _ok(train(2, recipe, "--out", tmp_path / "straight"))
    _ok(train(2, recipe, "--out", tmp_path / "changed", "--set", "train.epochs=1"))
    resumed = _ok(run_cli(recipe, "--out", tmp_path / "changed", "--resume", "auto"))
    assert "resumed from" in resumed.stdout
    straight, progress = _params(tmp_path / "straight")
    changed, changed_progress = _params(tmp_path / "changed")
    assert changed_progress["step"] == progress["step"] == 46
    _assert_close(changed, straight)
    # and a one-process checkpoint continues on two ranks
    _ok(run_cli(recipe, "--out", tmp_path / "back", "--set", "train.epochs=1"))
    _ok(train(2, recipe, "--out", tmp_path / "back", "--resume", "auto"))
    _assert_close(_params(tmp_path / "back")[0], straight)


def _rank_pid(marker, rank):
    """The pid of the process with rank ``rank`` of the job whose environment has
    ``marker``, or None."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                env = fh.read().split(b"\0")
        except OSError:
            continue
        if f"NNFRAME_TEST_JOB={marker}".encode() in env and \
                f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(entry)
    return None


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the rank's process in /proc")
def test_a_killed_rank_ends_the_job_and_the_run_resumes(tmp_path):
    recipe = write_recipe(tmp_path, RECIPE.replace("epochs: 2", "epochs: 400"))
    out = tmp_path / "run"
    marker = uuid.uuid4().hex
    job = train(2, recipe, "--out", out, "--set", "checkpoint.every_epochs=1",
                env=mpi_env(NNFRAME_TEST_JOB=marker), popen=True)
    try:
        last = out / "checkpoints" / "last.h5"
        deadline = time.monotonic() + 60
        while not last.exists() and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.1)
        assert last.exists(), "the job wrote no checkpoint"
        pid = _rank_pid(marker, 1)
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        output, _ = job.communicate(timeout=60)     # no hang: the job ends
    except subprocess.TimeoutExpired:
        job.kill()
        raise
    assert job.returncode != 0
    assert "rank 1" in output, output
    resumed = _ok(train(2, recipe, "--out", out, "--resume", "auto",
                        "--set", "train.epochs=" + str(_params(out)[1]["epoch"] + 1)))
    assert "resumed from" in resumed.stdout


def test_a_bad_recipe_ends_the_job_with_one_message(tmp_path):
    recipe = write_recipe(tmp_path, RECIPE.replace("num_units: 32", "num_units: -3"))
    result = train(2, recipe, "--out", tmp_path / "bad")
    assert result.returncode == 2
    text = result.stdout + result.stderr
    assert "num_units" in text
    assert "rank 1:" not in text        # rank 0 said it; the others stayed quiet


def test_check_under_mpirun_prints_once(tmp_path):
    recipe = write_recipe(tmp_path, RECIPE)
    result = _ok(train(2, recipe, "--check"))
    assert result.stdout.count("recipe OK") == 1


def test_distributed_without_a_launcher_shows_the_command(tmp_path):
    recipe = write_recipe(tmp_path, RECIPE)
    result = run_cli(recipe, "--out", tmp_path / "x", "--distributed")
    assert result.returncode == 2
    assert "mpirun -n 2" in result.stderr and str(recipe) in result.stderr
    assert not (tmp_path / "x").exists()


def test_a_rank_with_no_examples_adds_nothing(tmp_path):
    """3 ranks and a last minibatch of one example: two ranks have empty shards."""
    recipe = write_recipe(tmp_path, RECIPE.replace("batch_size: 48", "batch_size: 1077"))
    _ok(run_cli(recipe, "--out", tmp_path / "one", "--set", "train.epochs=3"))
    _ok(train(3, recipe, "--out", tmp_path / "three", "--set", "train.epochs=3"))
    _assert_close(_params(tmp_path / "three")[0], _params(tmp_path / "one")[0])


DROPOUT = RECIPE.replace("""    - {type: dense, name: out,""", """    - {type: dropout, p: 0.3}
    - {type: dense, name: out,""")


def test_dropout_draws_of_a_resumed_run_are_those_of_the_straight_one(tmp_path):
    """3 ranks with uneven shards: each step gives the ranks rank 0's streams (mixed by
    rank), so where the run resumes does not change the draws."""
    recipe = write_recipe(tmp_path, DROPOUT.replace("batch_size: 48", "batch_size: 64"))
    _ok(train(3, recipe, "--out", tmp_path / "straight"))
    _ok(train(3, recipe, "--out", tmp_path / "resumed", "--set", "train.epochs=1"))
    _ok(train(3, recipe, "--out", tmp_path / "resumed", "--resume", "auto"))
    _assert_close(_params(tmp_path / "resumed")[0], _params(tmp_path / "straight")[0], 1e-6)


def test_a_stop_request_to_one_rank_stops_every_rank_after_the_same_step(tmp_path):
    """SIGUSR1 (what mpirun forwards; Ctrl-C on mpirun kills too soon to save) to rank 1
    alone: every rank stops after the same step, rank 0 saves, and the run resumes."""
    recipe = write_recipe(tmp_path, RECIPE.replace("epochs: 2", "epochs: 400"))
    out = tmp_path / "run"
    marker = uuid.uuid4().hex
    job = train(2, recipe, "--out", out, env=mpi_env(NNFRAME_TEST_JOB=marker), popen=True)
    try:
        last = out / "checkpoints" / "last.h5"
        deadline = time.monotonic() + 60
        while not last.exists() and time.monotonic() < deadline and job.poll() is None:
            time.sleep(0.1)
        pid = _rank_pid(marker, 1)
        assert pid is not None
        os.kill(pid, signal.SIGUSR1)
        output, _ = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        job.kill()
        raise
    assert job.returncode == 130, output
    assert output.count("SIGUSR1: stopped after step") == 0      # rank 1 got it, not 0
    assert output.count("a stop request on another rank: stopped after step") == 1, output
    assert "--resume auto" in output and "rank 1:" not in output
    saved = _params(out)[1]
    resumed = _ok(train(2, recipe, "--out", out, "--resume", "auto",
                        "--set", f"train.epochs={saved['epoch'] + 1}"))
    assert "resumed from" in resumed.stdout
