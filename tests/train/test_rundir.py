"""The run directory: its lock, and never losing an earlier run by accident (issue 16)."""
import contextlib
import errno
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from nnframe.train.errors import RunDirError, RunDirInUse, RunDirNotEmpty
from nnframe.train.rundir import open_run_dir

from .helpers import cli_env

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def make_earlier_run(out, epochs_done=3, epochs=10):
    """The files a run stopped after ``epochs_done`` of ``epochs`` epochs leaves."""
    (out / "checkpoints").mkdir(parents=True, exist_ok=True)
    (out / "checkpoints" / "last.h5").write_bytes(b"last")
    (out / "checkpoints" / "best.h5").write_bytes(b"best")
    (out / "metrics.jsonl").write_text(
        "".join(json.dumps({"epoch": e + 1, "train.loss": 1.0}) + "\n"
                for e in range(epochs_done)))
    (out / "metrics.csv").write_text("epoch,train.loss\n1,1.0\n")
    (out / "recipe.yaml").write_text("name: x\n")
    (out / "recipe.resolved.yaml").write_text(f"name: x\ntrain:\n  epochs: {epochs}\n")
    (out / "curves.png").write_bytes(b"png")


def files_under(directory):
    return sorted(os.path.relpath(os.path.join(root, name), directory)
                  for root, _, names in os.walk(directory) for name in names)


# -- creating ---------------------------------------------------------------------------------
def test_a_new_directory_is_created_with_its_checkpoints_folder_and_lock(tmp_path):
    out = tmp_path / "runs" / "mlp"
    with open_run_dir(out) as run_dir:
        assert run_dir.path == str(out)
        assert run_dir.checkpoints == str(out / "checkpoints")
        assert os.path.isdir(run_dir.checkpoints)
        holder = json.loads((out / ".lock").read_text())
        assert holder["pid"] == os.getpid() and holder["started"]
        assert run_dir.earlier == [] and run_dir.removed == []
    assert files_under(out) == [".lock"]        # no probe file is left behind


def test_an_out_that_is_a_file_is_refused(tmp_path):
    out = tmp_path / "run"
    out.write_text("notes")
    with pytest.raises(RunDirError, match=f"the run directory {out} is a file, not a "
                                          "directory; choose another --out DIR"):
        open_run_dir(out)
    assert out.read_text() == "notes"


def test_an_empty_out_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunDirError, match="the run directory is an empty path; give --out DIR"):
        open_run_dir("")
    assert os.listdir(tmp_path) == []


def test_a_checkpoints_file_in_out_is_refused(tmp_path):
    (tmp_path / "checkpoints").write_text("x")
    with pytest.raises(RunDirError, match=f"{tmp_path / 'checkpoints'} is a file, not a "
                                          "directory; choose another --out DIR"):
        open_run_dir(tmp_path)


def test_an_out_below_a_file_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError) as info:
        open_run_dir(tmp_path / "file" / "run")
    assert str(info.value) == (f"cannot create the run directory {tmp_path}/file/run: a part of "
                               "the path is a file, not a directory; choose another --out DIR "
                               "(one you can write to)")


def _refuse_under(directory, code):
    """A stand-in for os.open and os.mkdir that fails with ``code`` below ``directory``,
    as a read-only mount does, for root too."""
    real_open, real_mkdir = os.open, os.mkdir

    def refused(path):
        if os.fspath(path).startswith(str(directory)):
            raise OSError(code, os.strerror(code), os.fspath(path))

    def fake_open(path, *args, **kwargs):
        refused(path)
        return real_open(path, *args, **kwargs)

    def fake_mkdir(path, *args, **kwargs):
        refused(path)
        return real_mkdir(path, *args, **kwargs)
    return fake_open, fake_mkdir


@pytest.mark.parametrize("code, reason", [(errno.EROFS, "the file system is read-only"),
                                          (errno.EACCES, "Permission denied")])
@pytest.mark.parametrize("exists", [True, False])
def test_a_directory_that_cannot_be_written_is_refused(tmp_path, monkeypatch, code, reason,
                                                        exists):
    out = tmp_path / "run"
    if exists:
        (out / "checkpoints").mkdir(parents=True)
    fake_open, fake_mkdir = _refuse_under(out, code)
    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "mkdir", fake_mkdir)
    verb, where = ("write in", f" ({out / 'checkpoints'})") if exists else ("create", "")
    with pytest.raises(RunDirError) as info:
        open_run_dir(out)
    assert str(info.value) == (f"cannot {verb} the run directory {out}: {reason}{where}; "
                               "choose another --out DIR (one you can write to)")


@pytest.mark.skipif(AS_ROOT, reason="permissions do not stop root (see the test above)")
def test_a_read_only_directory_is_refused(tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    os.chmod(out / "checkpoints", 0o500)
    os.chmod(out, 0o500)
    try:
        with pytest.raises(RunDirError, match=f"cannot write in the run directory .*{out}.*: "
                                              "Permission denied"):
            open_run_dir(out)
    finally:
        os.chmod(out, 0o700)
        os.chmod(out / "checkpoints", 0o700)


# -- the lock ---------------------------------------------------------------------------------
def test_a_second_opener_gets_run_dir_in_use_naming_the_holder(tmp_path):
    out = tmp_path / "run"
    with open_run_dir(out):
        with pytest.raises(RunDirInUse, match=rf"{out} is in use by process {os.getpid()} "
                                              r"\(started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\).*"
                                              "wait for it to finish, or choose another --out"):
            open_run_dir(out)
    with open_run_dir(out) as again:           # released on close
        assert again.locked


def test_the_lock_is_released_by_close(tmp_path):
    run_dir = open_run_dir(tmp_path)
    run_dir.close()
    run_dir.close()                             # twice is harmless
    open_run_dir(tmp_path).close()


HOLD_LOCK = textwrap.dedent("""
    import sys, time
    from nnframe.train.rundir import open_run_dir
    run_dir = open_run_dir(sys.argv[1])
    print("locked", flush=True)
    time.sleep(60)
""")


@contextlib.contextmanager
def lock_held_elsewhere(out):
    """Another process holding ``out``'s lock until the block ends, when it is SIGKILLed
    (no chance to clean up: only the kernel releases the lock); yields the process."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], env=cli_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line == "locked\n", proc.stderr.read() if proc.poll() is not None else line
        yield proc
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


def test_another_process_holding_the_lock_blocks_and_its_death_frees_it(tmp_path):
    out = tmp_path / "run"
    with lock_held_elsewhere(out) as proc:
        with pytest.raises(RunDirInUse, match=f"{out} is in use by process {proc.pid} "):
            open_run_dir(out)
    with open_run_dir(out) as run_dir:         # the stale .lock (dead pid) does not block
        assert run_dir.locked
        assert json.loads((out / ".lock").read_text())["pid"] == os.getpid()


def test_in_use_does_not_touch_the_running_runs_files(tmp_path):
    out = tmp_path / "run"
    with open_run_dir(out):
        make_earlier_run(out)
        before = files_under(out)
        with pytest.raises(RunDirInUse):
            open_run_dir(out, overwrite=True)
        assert files_under(out) == before


# -- an earlier run -----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["checkpoints/last.h5", "checkpoints/best.h5",
                                  "metrics.jsonl", "report.json"])
def test_any_earlier_run_file_makes_the_directory_not_empty(tmp_path, name):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / name).write_text("x")
    with pytest.raises(RunDirNotEmpty, match=f"{tmp_path} holds an earlier run "
                                             rf"\({name}\)\. To continue it, add --resume auto; "
                                             "to keep it, choose another --out DIR; to start "
                                             "over here, add --overwrite"):
        open_run_dir(tmp_path)
    assert (tmp_path / name).read_text() == "x"
    open_run_dir(tmp_path, overwrite=True).close()   # the lock was released by the refusal


def test_not_empty_says_how_far_the_earlier_run_got(tmp_path):
    make_earlier_run(tmp_path, epochs_done=12, epochs=40)
    with pytest.raises(RunDirNotEmpty, match=r"holds an earlier run \(epoch 12 of 40 "
                                             r"finished\)"):
        open_run_dir(tmp_path)


def test_not_empty_falls_back_to_the_files_when_metrics_are_damaged(tmp_path):
    make_earlier_run(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n{"epo')
    with pytest.raises(RunDirNotEmpty, match=r"earlier run \(checkpoints/last.h5, "
                                             r"checkpoints/best.h5, metrics.jsonl\)"):
        open_run_dir(tmp_path)


def test_files_that_are_not_a_run_do_not_count(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "recipe.yaml").write_text("name: x\n")
    with open_run_dir(tmp_path) as run_dir:
        assert run_dir.earlier == []
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_resume_opens_an_earlier_run_without_changing_it(tmp_path):
    make_earlier_run(tmp_path)
    before = {f: (tmp_path / f).read_bytes() for f in files_under(tmp_path)}
    for resume in ("auto", str(tmp_path / "checkpoints" / "last.h5")):
        with open_run_dir(tmp_path, resume=resume) as run_dir:
            assert run_dir.removed == []
            assert run_dir.earlier == [str(tmp_path / n) for n in (
                "checkpoints/last.h5", "checkpoints/best.h5", "metrics.jsonl")]
        after = {f: (tmp_path / f).read_bytes() for f in files_under(tmp_path) if f != ".lock"}
        assert after == before


def test_overwrite_removes_the_earlier_run_and_nothing_else(tmp_path):
    make_earlier_run(tmp_path)
    (tmp_path / "report.json").write_text("{}")
    (tmp_path / "checkpoints" / "epoch-003.h5").write_bytes(b"kept by a manager")
    (tmp_path / "checkpoints" / "last.h5.tmp-4242").write_bytes(b"half written")
    mine = ["notes.txt", "data.npz", "checkpoints/readme.txt", "checkpoints/sub/last.h5",
            "metrics.jsonl.bak"]
    for name in mine:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("mine")
    (tmp_path / "curves.png").unlink()          # a missing run file is no problem
    with open_run_dir(tmp_path, overwrite=True) as run_dir:
        assert sorted(os.path.relpath(p, tmp_path) for p in run_dir.removed) == [
            "checkpoints/best.h5", "checkpoints/epoch-003.h5", "checkpoints/last.h5",
            "checkpoints/last.h5.tmp-4242", "metrics.csv", "metrics.jsonl", "recipe.resolved.yaml",
            "recipe.yaml", "report.json"]
    assert files_under(tmp_path) == sorted([".lock"] + mine)


def test_overwrite_that_cannot_remove_a_file_says_which(tmp_path, monkeypatch):
    make_earlier_run(tmp_path)
    real_remove = os.remove

    def remove(path):
        if os.fspath(path).endswith("metrics.jsonl"):
            raise PermissionError(errno.EACCES, "Permission denied", path)
        real_remove(path)
    monkeypatch.setattr(os, "remove", remove)
    with pytest.raises(RunDirError, match=f"--overwrite cannot remove {tmp_path}/metrics.jsonl "
                                          "from the earlier run: Permission denied; remove it "
                                          "yourself, or choose another --out DIR"):
        open_run_dir(tmp_path, overwrite=True)
    monkeypatch.undo()
    open_run_dir(tmp_path, overwrite=True).close()  # the refusal released the lock


def test_resume_and_overwrite_together_are_refused(tmp_path):
    with pytest.raises(RunDirError, match="--resume and --overwrite contradict each other"):
        open_run_dir(tmp_path, resume="auto", overwrite=True)
    assert os.listdir(tmp_path) == []
