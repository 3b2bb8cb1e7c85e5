"""What ``python -m nnframe.train`` says, and its exit code, when it cannot go on (issue 16).

The handling of each kind of error is tested in-process on :func:`main` with the trainer
replaced; bad recipe files are tested from outside, as a user meets them.
"""
import errno
import json
import os
import re

import pytest

from nnframe.checkpoint import CheckpointError
from nnframe.train import errors, trainer
from nnframe.train.__main__ import main
from nnframe.train.recipe import RecipeErrors, load_recipe_text
from nnframe.train.schema import check_recipe

from .helpers import SMALL_RECIPE, run_cli, write_recipe
from .test_rundir import files_under, lock_held_elsewhere

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def main_raising(monkeypatch, capsys, exc, *argv):
    """Run ``main`` on ``argv`` with ``trainer.run`` (and ``prepare``) raising ``exc``;
    returns (exit code, stderr)."""
    def fail(*args, **kwargs):
        raise exc
    monkeypatch.setattr(trainer, "run", fail)
    monkeypatch.setattr(trainer, "prepare", fail)
    code = main(["recipe.yaml", *argv])
    return code, capsys.readouterr().err


# -- the runner's own errors ----------------------------------------------------------------
@pytest.mark.parametrize("cls", [errors.RunDirError, errors.RunDirInUse, errors.RunDirNotEmpty,
                                 errors.ResumeError, errors.DataError])
def test_a_run_error_is_one_line_with_exit_code_2(monkeypatch, capsys, cls):
    code, err = main_raising(monkeypatch, capsys, cls("runs/x is in use by process 4242"))
    assert (code, err) == (2, "error: runs/x is in use by process 4242\n")


def test_training_stopped_keeps_its_prefix_and_exit_code_3(monkeypatch, capsys):
    code, err = main_raising(monkeypatch, capsys, errors.TrainingStopped("the loss is nan"))
    assert (code, err) == (3, "training stopped: the loss is nan\n")


def test_training_interrupted_prints_how_to_resume_with_exit_code_130(monkeypatch, capsys):
    message = "interrupted after epoch 3; continue with: python -m nnframe.train r.yaml " \
              "--resume auto"
    code, err = main_raising(monkeypatch, capsys, errors.TrainingInterrupted(message))
    assert (code, err) == (130, message + "\n")


def test_recipe_errors_are_listed(monkeypatch, capsys):
    with pytest.raises(RecipeErrors) as info:
        load_recipe_text("a: 1\na: 2\nb: 3\n", "r.yaml")
    code, err = main_raising(monkeypatch, capsys, info.value)
    assert (code, err) == (2, "recipe error:\n  r.yaml:2:1: a: duplicate key 'a' (first at "
                              "r.yaml:1:4); YAML would silently keep only the last one\n")


# -- checkpoints ---------------------------------------------------------------------------
def test_a_checkpoint_error_when_not_resuming_is_its_message(monkeypatch, capsys):
    code, err = main_raising(monkeypatch, capsys, CheckpointError("x.h5 is corrupt"))
    assert (code, err) == (2, "error: x.h5 is corrupt\n")


@pytest.mark.parametrize("resume, which", [
    ("old/last.h5", "the checkpoint old/last.h5"),
    ("auto", r"the checkpoint --resume auto found \(OUT/checkpoints/last.h5\)")])
def test_a_checkpoint_error_when_resuming_says_it_cannot_be_used(monkeypatch, capsys, resume,
                                                                  which):
    code, err = main_raising(monkeypatch, capsys, CheckpointError("x.h5 is corrupt: bad sum"),
                             "--resume", resume)
    assert code == 2
    assert err.startswith(f"error: x.h5 is corrupt: bad sum; {which.replace(chr(92), '')} "
                          "cannot be used to resume: give another checkpoint, or start over "
                          "with --overwrite\n")


# -- files ----------------------------------------------------------------------------------
@pytest.mark.parametrize("code, filename, expected", [
    (errno.ENOSPC, "runs/x/metrics.jsonl", "cannot write runs/x/metrics.jsonl: No space left on "
                                           "device; the disk is full: free some space, or "
                                           "choose another --out on a disk with room"),
    (errno.EROFS, "runs/x/report.json", "cannot write runs/x/report.json: Read-only file "
                                        "system; the file system is read-only: choose another "
                                        "--out"),
    (errno.ENOENT, "data/mnist.npz", "cannot read data/mnist.npz: No such file or directory; "
                                     "check the path"),
    (errno.EACCES, "/nonexistent/run/x.csv", "cannot create /nonexistent/run/x.csv: Permission "
                                             "denied; check the permissions of the file and its "
                                             "directory, or choose another --out"),
    (errno.EIO, "runs/x/last.h5", "cannot use runs/x/last.h5: Input/output error; the disk (or "
                                  "network file system) failed: check it, or choose another "
                                  "--out"),
])
def test_an_os_error_names_the_file_what_failed_and_a_fix(monkeypatch, capsys, code, filename,
                                                          expected):
    exc = OSError(code, os.strerror(code), filename)
    assert main_raising(monkeypatch, capsys, exc) == (2, f"error: {expected}\n")


def test_a_missing_resume_checkpoint_points_at_the_flag(monkeypatch, capsys):
    exc = FileNotFoundError(errno.ENOENT, "No such file or directory", "old.h5")
    code, err = main_raising(monkeypatch, capsys, exc, "--resume", "old.h5")
    assert (code, err) == (2, "error: cannot read old.h5: No such file or directory; check "
                              "the --resume path (or give --resume auto)\n")


def test_an_os_error_without_a_file_keeps_its_message(monkeypatch, capsys):
    # h5py's errors carry the file inside the message, with errno and filename unset
    exc = OSError("Unable to create file (name = 'runs/x/last.h5.tmp-1', errno = 28)")
    code, err = main_raising(monkeypatch, capsys, exc)
    assert (code, err) == (2, "error: Unable to create file (name = 'runs/x/last.h5.tmp-1', "
                              "errno = 28); check the files the run reads and writes\n")


# -- Ctrl-C and bugs --------------------------------------------------------------------------
def test_ctrl_c_before_training_exits_130_without_a_traceback(monkeypatch, capsys):
    code, err = main_raising(monkeypatch, capsys, KeyboardInterrupt())
    assert (code, err) == (130, "error: interrupted (Ctrl-C) before training started; "
                                "nothing was trained\n")


def test_ctrl_c_during_check(monkeypatch, capsys):
    code, err = main_raising(monkeypatch, capsys, KeyboardInterrupt(), "--check")
    assert (code, err) == (130, "error: interrupted (Ctrl-C) while checking the recipe; "
                                "nothing was written\n")


@pytest.mark.parametrize("bug", [ZeroDivisionError("division by zero"), KeyError("W"),
                                 TypeError("unsupported operand")])
def test_a_bug_still_shows_its_traceback(monkeypatch, capsys, bug):
    with pytest.raises(type(bug)) as info:
        main_raising(monkeypatch, capsys, bug)
    assert info.value is bug
    assert capsys.readouterr().err == ""


# -- the flags ------------------------------------------------------------------------------
def _passed(monkeypatch, *argv):
    seen = {}
    monkeypatch.setattr(trainer, "run", lambda *args, **kwargs: seen.update(kwargs))
    assert main(["recipe.yaml", *argv]) == 0
    return seen


def test_overwrite_and_allow_changes_reach_the_trainer(monkeypatch):
    assert _passed(monkeypatch)["overwrite"] is False
    assert _passed(monkeypatch)["allow_changes"] is False
    assert _passed(monkeypatch, "--overwrite")["overwrite"] is True
    seen = _passed(monkeypatch, "--resume", "auto", "--allow-changes", "--out", "runs/y")
    assert (seen["resume"], seen["allow_changes"], seen["out"]) == ("auto", True, "runs/y")


def test_resume_and_overwrite_together_are_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["recipe.yaml", "--resume", "auto", "--overwrite"])
    assert info.value.code == 2
    assert "argument --overwrite: not allowed with argument --resume" in capsys.readouterr().err


# -- recipe files, from outside ----------------------------------------------------------------
BAD_FILES = {
    "binary": (b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00>\x00\xd0\x01",
               r": not UTF-8 text: byte 20 is b'\\xd0' \(at line 1, column 21; a binary file, "
               r"or text in another encoding such as Latin-1: save the recipe as UTF-8\)"),
    "latin-1": ("nnframe_recipe: 1\nname: café\n".encode("latin-1"),
                r": not UTF-8 text: byte 27 is b'\\xe9' \(at line 2, column 10; .*save the "
                r"recipe as UTF-8\)"),
    "utf-16 with BOM": ("nnframe_recipe: 1\n".encode("utf-16"),
                        r": not UTF-8 text: byte 0 is b'\\xff' \(the file starts with a UTF-16 "
                        r"byte-order mark, so it is UTF-16 text: save the recipe as UTF-8\)"),
    "utf-16-le": ("nnframe_recipe: 1\n".encode("utf-16-le"),
                  r": not UTF-8 text: byte 1 is b'\\x00' \(every other byte is zero, so it "
                  r"looks like UTF-16 text without a byte-order mark: save the recipe as "
                  r"UTF-8\)"),
    "utf-16-be": ("nnframe_recipe: 1\n".encode("utf-16-be"),
                  r": not UTF-8 text: byte 0 is b'\\x00' \(every other byte is zero, .*\)"),
    "utf-32": ("nnframe_recipe: 1\n".encode("utf-32"),
               r": not UTF-8 text: byte 0 is b'\\xff' \(the file starts with a UTF-32 "
               r"byte-order mark, so it is UTF-32 text: save the recipe as UTF-8\)"),
    "NUL byte": (b"nnframe_recipe: 1\nname: a\x00b\n",
                 r":2:8: character '\\x00' is not allowed in YAML .*is this a text file\?"),
    "empty": (b"", r": the recipe is empty \(no keys, only blanks or comments\): write the "
                   r"recipe's sections, as in recipes/mlp_digits.yaml"),
    "only a comment": (b"# todo\n", r": the recipe is empty .*"),
}


def _assert_one_clear_error(result, path, pattern):
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == "recipe error:" and len(lines) == 2, result.stderr
    assert re.fullmatch(re.escape(f"  {path}") + pattern, lines[1]), lines[1]


@pytest.mark.parametrize("mode", [["--check"], []], ids=["check", "run"])
@pytest.mark.parametrize("kind", BAD_FILES)
def test_a_bad_recipe_file_is_one_clear_error(tmp_path, kind, mode):
    data, pattern = BAD_FILES[kind]
    path = tmp_path / "recipe.yaml"
    path.write_bytes(data)
    result = run_cli(path, *mode, cwd=tmp_path, timeout=60)
    _assert_one_clear_error(result, path, pattern)
    assert sorted(os.listdir(tmp_path)) == ["recipe.yaml"]     # nothing written


@pytest.mark.parametrize("mode", [["--check"], []], ids=["check", "run"])
def test_a_missing_recipe_file(tmp_path, mode):
    result = run_cli(tmp_path / "nope.yaml", *mode, cwd=tmp_path, timeout=60)
    _assert_one_clear_error(result, tmp_path / "nope.yaml",
                            r": cannot read the recipe: no such file \(check the path\)")
    assert os.listdir(tmp_path) == []


def test_a_directory_as_recipe(tmp_path):
    result = run_cli(tmp_path, cwd=tmp_path, timeout=60)
    _assert_one_clear_error(result, tmp_path, r": is a directory, not a recipe file \(give the "
                                              r"path of a \.yaml file\)")


@pytest.mark.skipif(AS_ROOT, reason="permissions do not stop root; see the monkeypatched test")
def test_an_unreadable_recipe_file(tmp_path):
    path = write_recipe(tmp_path)
    os.chmod(path, 0)
    result = run_cli(path, "--check", cwd=tmp_path, timeout=60)
    _assert_one_clear_error(result, path, r": cannot read the recipe: permission denied "
                                          r"\(check the file's permissions: the recipe must be "
                                          r"readable\)")


def test_an_unreadable_recipe_file_as_root_too(tmp_path, monkeypatch):
    from nnframe.train import recipe as recipe_module
    path = write_recipe(tmp_path)

    def refuse(file, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(file))
    monkeypatch.setattr(recipe_module, "open", refuse, raising=False)
    with pytest.raises(RecipeErrors) as info:
        recipe_module.load_recipe(path)
    assert str(info.value) == (f"{path}: cannot read the recipe: permission denied (check the "
                               "file's permissions: the recipe must be readable)")


# -- numbers must be finite --------------------------------------------------------------------
def schema_errors(text):
    with pytest.raises(RecipeErrors) as info:
        check_recipe(load_recipe_text(text, "r.yaml"))
    return [str(e) for e in info.value.errors]


@pytest.mark.parametrize("value, shown", [(".inf", "inf"), ("-.inf", "-inf"), (".nan", "nan"),
                                          ("1e999", "inf"), ("1" + "0" * 400, "inf")])
def test_a_non_finite_learning_rate_is_refused(value, shown):
    text = SMALL_RECIPE.replace("{type: adam, learning_rate: 3e-3}",
                                f"{{type: sgd, learning_rate: {value}}}")
    assert schema_errors(text) == [f"r.yaml:14:39: optimizer.learning_rate: expected a finite "
                                   f"number > 0, got {shown}"]


@pytest.mark.parametrize("key, old, new, message", [
    ("dropout p", "p: 0.3", "p: .nan", "model.layers[1].p: expected a finite number >= 0 "
                                       "<= 1, got nan"),
    ("l2", "loss: {type: categorical_crossentropy_from_logits}",
     "loss: {type: categorical_crossentropy_from_logits, l2: .inf}",
     "loss.l2: expected a finite number >= 0, got inf"),
    ("split fraction", "valid: 0.2", "valid: -.inf",
     "data.split.valid: expected an integer >= 0 or a finite number >= 0 <= 1, got float -inf"),
])
def test_every_number_in_a_recipe_must_be_finite(key, old, new, message):
    errors_found = schema_errors(SMALL_RECIPE.replace(old, new))
    assert len(errors_found) == 1 and errors_found[0].endswith(message), errors_found


def test_an_unbounded_number_must_be_finite_too():
    text = SMALL_RECIPE.replace("- {type: dropout, p: 0.3}",
                                "- {type: gaussian_noise, sigma: 0.1}\n"
                                "    - {type: dense, num_units: 4, b: {type: constant, "
                                "val: -.inf}}")
    errors_found = schema_errors(text)
    assert len(errors_found) == 1, errors_found
    assert "val: expected a finite number, got -inf" in errors_found[0]


def test_a_non_finite_set_value_names_the_option(tmp_path):
    path = write_recipe(tmp_path)
    result = run_cli(path, "--check", "--set", "optimizer.learning_rate=.inf", timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == ("recipe error:\n  --set optimizer.learning_rate=.inf: "
                             "optimizer.learning_rate: expected a finite number > 0, got inf\n")


# -- the run directory, end to end ---------------------------------------------------------------
def test_a_second_run_into_a_directory_in_use_stops_and_writes_nothing(tmp_path):
    recipe, out = write_recipe(tmp_path), tmp_path / "run"
    with lock_held_elsewhere(out) as holder:
        before = files_under(out)
        result = run_cli(recipe, "--out", out, "--set", "train.epochs=1", timeout=120)
        assert result.returncode == 2, result.stderr
        assert re.fullmatch(rf"error: {out} is in use by process {holder.pid} \(started [^)]+\): "
                            "another run is training into it; wait for it to finish, or choose "
                            "another --out DIR\n", result.stderr), result.stderr
        assert files_under(out) == before


def test_a_rerun_keeps_the_earlier_run_until_overwrite(tmp_path):
    recipe, out = write_recipe(tmp_path), tmp_path / "run"
    first = run_cli(recipe, "--out", out, "--set", "train.epochs=1", timeout=300)
    assert first.returncode == 0, first.stderr
    (out / "notes.txt").write_text("mine")
    metrics = (out / "metrics.jsonl").read_text()

    again = run_cli(recipe, "--out", out, "--set", "train.epochs=1", timeout=300)
    assert again.returncode == 2
    assert again.stderr == (f"error: {out} holds an earlier run (epoch 1 of 1 finished). To "
                            "continue it, add --resume auto; to keep it, choose another --out "
                            "DIR; to start over here, add --overwrite (this deletes its "
                            "checkpoints, metrics and report)\n")
    assert (out / "metrics.jsonl").read_text() == metrics

    over = run_cli(recipe, "--out", out, "--set", "train.epochs=2", "--overwrite", timeout=300)
    assert over.returncode == 0, over.stderr
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(row)["epoch"] for row in rows] == [1, 2]      # a new run, not appended
    assert (out / "notes.txt").read_text() == "mine"
