"""Checkpoint files on real disks: writes that fail (a full disk, a quota, a file-size limit,
a read-only file system) end in CheckpointWriteError with the previous checkpoint intact and no
temporary file; every damaged file is a CheckpointError (byte flips and truncations, in a
subprocess so that a crash of HDF5 fails the test); files of format_version 1 still load;
CheckpointManager cleans up after killed runs and removes checkpoints for --overwrite."""
import errno
import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from nnframe import checkpoint as C
from nnframe.checkpoint import (
    CheckpointError,
    CheckpointManager,
    CheckpointWriteError,
    load_checkpoint,
    save_checkpoint,
)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(C.__file__)))
RECIPE = "model: [dense: {units: 3}]  # ünïcödé\n"


def child_env():
    return dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))


def contents(epoch=1, scale=1.0):
    """Arguments of save_checkpoint: a small training checkpoint."""
    r = np.random.default_rng(epoch)
    params = {"hid/W": (scale * r.standard_normal((6, 4))).astype("float32"),
              "hid/b": np.zeros(4, "float32"), "out/W": r.standard_normal((4, 3))}
    optim = {f"{k}/adam/{m}": np.full(v.shape, 0.5, v.dtype) for k, v in params.items()
             for m in "mv"}
    optim["adam/t"] = np.asarray(epoch * 10)
    return dict(params=params, optim=optim, progress={"epoch": epoch, "step": 10 * epoch,
                                                      "best": 0.25, "monitor": "valid.loss"},
                rng={"shuffle": np.random.default_rng(7).bit_generator.state,
                     "dropout/state": np.array([1, 2, 2**64 - 1], "uint64")},
                recipe_original=RECIPE, recipe_resolved=RECIPE + "seed: 3\n",
                optim_info={"rule": "adam", "hyperparameters": {"learning_rate": 1e-3}})


def assert_same_checkpoint(ckpt, saved):
    for field in ("params", "optim"):
        stored = getattr(ckpt, field)
        assert list(stored) == list(saved[field])
        for name, value in saved[field].items():
            assert stored[name].dtype == value.dtype and stored[name].tobytes() == value.tobytes()
    assert ckpt.progress == saved["progress"] and ckpt.optim_info == saved["optim_info"]
    assert ckpt.rng["shuffle"] == saved["rng"]["shuffle"]
    assert ckpt.rng["dropout/state"].tobytes() == saved["rng"]["dropout/state"].tobytes()
    assert ckpt.recipe_original == RECIPE and ckpt.recipe_resolved == RECIPE + "seed: 3\n"


def temporaries(directory):
    return [n for n in os.listdir(directory) if ".tmp-" in n]


# -- format_version 1 -----------------------------------------------------------------
def write_version_1(path, params, optim, progress, rng, recipe_original, recipe_resolved,
                    optim_info):
    """A checkpoint as nnframe wrote it before format_version 2 (the code of that version,
    reduced to h5py calls): one attribute per value, sha256 and index per array."""
    def arrays(group, entries):
        for index, (name, value) in enumerate(entries.items()):
            dataset = group.create_dataset(name, data=value)
            dataset.attrs["index"] = np.int64(index)
            dataset.attrs["sha256"] = hashlib.sha256(value.tobytes()).hexdigest()

    def text(group, name, value):
        group.create_dataset(name, data=value, dtype=h5py.string_dtype("utf-8"))

    with h5py.File(path, "w", track_order=True) as f:
        f.attrs.update({"format": "nnframe-checkpoint", "format_version": np.int64(1),
                        "nnframe_version": "0.0.9", "floatX": "float32", "kind": "training",
                        "created_utc": "2025-01-02T03:04:05Z", "conv_kernel_layout": "oihw"})
        arrays(f.create_group("params", track_order=True), params)
        f["params/hid/W"].attrs["tags"] = "regularizable,trainable"
        group = f.create_group("optim", track_order=True)
        group.attrs.update({"rule": optim_info["rule"],
                            "hyperparameters": json.dumps(optim_info["hyperparameters"])})
        arrays(group, optim)
        group = f.create_group("progress", track_order=True)
        group.attrs.update({k: v for k, v in progress.items() if k != "history"})
        if "history" in progress:
            text(group, "history", json.dumps(progress["history"]))
        group = f.create_group("rng", track_order=True)
        states = {k: v for k, v in rng.items() if not isinstance(v, np.ndarray)}
        for index, (name, state) in enumerate(states.items()):
            text(group, name, json.dumps(state))
            group[name].attrs["index"] = np.int64(index)
        arrays(group.create_group("arrays", track_order=True),
               {k: v for k, v in rng.items() if isinstance(v, np.ndarray)})
        group = f.create_group("recipe", track_order=True)
        text(group, "original", recipe_original)
        text(group, "resolved", recipe_resolved)
        f.create_group("env").attrs.update({"python": "3.11.7", "numpy": "2.0.0"})


def test_a_format_version_1_checkpoint_still_loads(tmp_path):
    saved = contents(epoch=3)
    saved["progress"]["history"] = [{"epoch": 1, "train.loss": 0.5}]
    write_version_1(tmp_path / "old.h5", **saved)
    ckpt = load_checkpoint(tmp_path / "old.h5")
    assert_same_checkpoint(ckpt, saved)
    assert ckpt.format_version == 1 and ckpt.nnframe_version == "0.0.9"
    assert ckpt.kind == "training" and ckpt.created_utc == "2025-01-02T03:04:05Z"
    assert ckpt.tags["hid/W"] == ("regularizable", "trainable") and ckpt.tags["hid/b"] == ()
    assert ckpt.env == {"python": "3.11.7", "numpy": "2.0.0"}
    # ... and saving it again writes the current format, with the same contents
    again = save_checkpoint(tmp_path / "new.h5", ckpt.params, optim=ckpt.optim,
                            progress=ckpt.progress, rng=ckpt.rng,
                            recipe_original=ckpt.recipe_original,
                            recipe_resolved=ckpt.recipe_resolved, optim_info=ckpt.optim_info)
    new = load_checkpoint(again)
    assert new.format_version == C.FORMAT_VERSION and new.progress == saved["progress"]
    assert_same_checkpoint(new, saved)


def test_damaged_data_of_a_format_version_1_checkpoint_is_detected(tmp_path):
    path = tmp_path / "old.h5"
    write_version_1(path, **contents())
    with h5py.File(path, "r") as f:
        offset = f["optim/hid/W/adam/m"].id.get_offset()
    raw = bytearray(path.read_bytes())
    raw[offset + 3] ^= 0x10
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=f"{path} is corrupt: /optim/hid/W/adam/m: the "
                                              "data do not match their checksum"):
        load_checkpoint(path)


# -- writes that fail -----------------------------------------------------------------
@pytest.fixture
def previous(tmp_path):
    """A checkpoint (epoch 1) at tmp_path/last.h5, and its bytes."""
    path = tmp_path / "last.h5"
    save_checkpoint(path, **contents(epoch=1))
    return path, path.read_bytes()


def disk_full_after(monkeypatch, nbytes):
    """os.write writes ``nbytes`` of a checkpoint's temporary file, then fails with ENOSPC,
    as on a disk that fills up while the file is written."""
    real_write = os.write
    room = [nbytes]

    def write(fd, data):
        if ".tmp-" not in os.readlink(f"/proc/self/fd/{fd}"):
            return real_write(fd, data)
        if room[0] == 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written = real_write(fd, memoryview(data)[:room[0]])
        room[0] -= written
        return written

    monkeypatch.setattr(os, "write", write)


needs_proc = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")


@needs_proc
def test_disk_full_part_way_keeps_the_previous_checkpoint(tmp_path, previous, monkeypatch):
    path, before = previous
    disk_full_after(monkeypatch, 5000)
    with pytest.raises(CheckpointWriteError) as info:
        save_checkpoint(path, **contents(epoch=2))
    assert str(info.value) == (
        f"cannot write the checkpoint {path}: No space left on device (ENOSPC); the previous "
        "checkpoint at that path is unchanged; the disk is full: free some space, or choose "
        "another --out (directory) on a disk with room")
    error = info.value
    assert isinstance(error, CheckpointError) and error.errno == errno.ENOSPC
    assert error.path == str(path) and error.__cause__ is None and error.__suppress_context__
    assert path.read_bytes() == before and temporaries(tmp_path) == []
    assert load_checkpoint(path).progress["epoch"] == 1


@needs_proc
def test_disk_full_on_the_first_checkpoint_leaves_no_file(tmp_path, monkeypatch):
    disk_full_after(monkeypatch, 0)
    with pytest.raises(CheckpointWriteError, match="; nothing was written there; the disk is "
                                                   "full"):
        save_checkpoint(tmp_path / "last.h5", **contents())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("code, advice", [
    (errno.EDQUOT, "the disk quota is used up: free some space, or choose another --out"),
    (errno.EROFS, "the file system is read-only: choose another --out (directory)"),
    (errno.EACCES, "check the permissions of the directory, or choose another --out"),
    (errno.EIO, "the disk (or network file system) failed: check it, or choose another --out"),
])
def test_refused_temporary_file_is_a_write_error(tmp_path, previous, monkeypatch, code,
                                                 advice):
    path, before = previous
    real_open = os.open

    def refuse(name, *args, **kwargs):
        if ".tmp-" in os.fspath(name):
            raise OSError(code, os.strerror(code), name)
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(CheckpointWriteError) as info:
        save_checkpoint(path, **contents(epoch=2))
    assert str(info.value).startswith(f"cannot write the checkpoint {path}: "
                                      f"{os.strerror(code)} ({errno.errorcode[code]}); the "
                                      "previous checkpoint at that path is unchanged; " + advice)
    assert path.read_bytes() == before and temporaries(tmp_path) == []


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_failed_fsync_or_rename_removes_the_temporary_file(tmp_path, previous, monkeypatch,
                                                           step):
    path, before = previous

    def fail(*args):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(os, step, fail)
    with pytest.raises(CheckpointWriteError, match="Input/output error .EIO.; the previous "
                                                   "checkpoint at that path is unchanged"):
        save_checkpoint(path, **contents(epoch=2))
    monkeypatch.undo()
    assert path.read_bytes() == before and temporaries(tmp_path) == []


def test_missing_directory_is_a_write_error(tmp_path):
    path = tmp_path / "gone" / "last.h5"
    with pytest.raises(CheckpointWriteError, match="No such file or directory .ENOENT.; nothing "
                                                   "was written there; the directory does not "
                                                   "exist: create it"):
        save_checkpoint(path, **contents())


FILE_SIZE_LIMIT = """
import json, resource, sys
import numpy as np
from nnframe.checkpoint import CheckpointWriteError, save_checkpoint
# the soft limit only: the size of the file written before is well below it
resource.setrlimit(resource.RLIMIT_FSIZE, (20000, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
try:
    save_checkpoint(sys.argv[1], {"w": np.ones(40000, "float32")}, progress={"epoch": 2})
except CheckpointWriteError as e:
    print(json.dumps({"message": str(e), "errno": e.errno}))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs resource limits (POSIX)")
def test_file_size_limit_is_a_clean_error_in_a_real_process(tmp_path, previous):
    """The kernel refuses the write (EFBIG; Python ignores SIGXFSZ), as on a full disk: no
    crash inside HDF5, the old checkpoint stays loadable, no temporary file."""
    path, before = previous
    proc = subprocess.run([sys.executable, "-c", FILE_SIZE_LIMIT, str(path)], env=child_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    outcome = json.loads(proc.stdout)
    assert outcome["errno"] == errno.EFBIG
    assert outcome["message"] == (
        f"cannot write the checkpoint {path}: File too large (EFBIG); the previous checkpoint "
        "at that path is unchanged; the file is larger than this process may write (ulimit -f) "
        "or the file system allows: raise the limit, or choose another --out (directory)")
    assert path.read_bytes() == before and temporaries(tmp_path) == []
    assert_same_checkpoint(load_checkpoint(path), contents(epoch=1))


# -- CheckpointManager ----------------------------------------------------------------
def exited_pid():
    """The pid of a process that has ended (and was reaped)."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


@pytest.mark.skipif(os.name != "posix", reason="process ids are checked on POSIX only")
def test_manager_removes_temporaries_of_dead_processes_only(tmp_path):
    dead = f"last.h5.tmp-{exited_pid()}"
    mine = f"best.h5.tmp-{os.getpid()}"
    for name in (dead, mine, "notes.tmp-1", "last.h5"):
        (tmp_path / name).write_bytes(b"x")
    CheckpointManager(tmp_path)
    assert sorted(os.listdir(tmp_path)) == [mine, "last.h5", "notes.tmp-1"]


def test_manager_save_best_and_find_resume(tmp_path):
    manager = CheckpointManager(tmp_path / "ckpt")
    assert manager.find_resume() is None
    manager.save_best(**contents(epoch=1))  # best.h5 only
    assert os.listdir(manager.directory) == ["best.h5"] and manager.find_resume() is None
    manager.save(is_best=True, **contents(epoch=2))
    manager.save(**contents(epoch=3))  # replaces last.h5; best.h5 keeps epoch 2
    assert manager.find_resume() == manager.last_path
    assert load_checkpoint(manager.last_path).progress["epoch"] == 3
    assert_same_checkpoint(load_checkpoint(manager.best_path), contents(epoch=2))


def test_remove_checkpoints_leaves_other_files(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=3)
    for epoch in (1, 2):
        manager.save(is_best=True, **contents(epoch=epoch))
    for name in ("metrics.jsonl", "ckpt-epoch0001.h5.bak", "report.json"):
        (tmp_path / name).write_text("keep")
    assert manager.remove_checkpoints() == ["best.h5", "ckpt-epoch0001.h5", "ckpt-epoch0002.h5",
                                            "last.h5"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-epoch0001.h5.bak", "metrics.jsonl",
                                            "report.json"]
    assert manager.find_resume() is None and manager.remove_checkpoints() == []


def test_manager_directory_and_removal_errors_are_write_errors(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(os, "makedirs", read_only)
    with pytest.raises(CheckpointWriteError, match=f"cannot create the checkpoint directory "
                                                   f"{tmp_path / 'new'}: Read-only file system "
                                                   r".EROFS.; the file system is read-only"):
        CheckpointManager(tmp_path / "new")
    monkeypatch.undo()
    manager = CheckpointManager(tmp_path)
    manager.save(**contents())
    monkeypatch.setattr(os, "remove", read_only)
    with pytest.raises(CheckpointWriteError, match=f"cannot remove the old checkpoint "
                                                   f"{tmp_path / 'last.h5'}: Read-only"):
        manager.remove_checkpoints()


def test_manager_copy_of_best_on_a_full_disk(tmp_path, monkeypatch):
    manager = CheckpointManager(tmp_path)
    manager.save(is_best=True, **contents(epoch=1))
    before = (tmp_path / "best.h5").read_bytes()

    def no_hard_links(source, target):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM))

    def disk_full(source, target):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "link", no_hard_links)
    monkeypatch.setattr(shutil, "copyfile", disk_full)
    with pytest.raises(CheckpointWriteError, match=f"cannot write the checkpoint "
                                                   f"{tmp_path / 'best.h5'}: No space left on "
                                                   "device .ENOSPC.; the previous checkpoint"):
        manager.save(is_best=True, **contents(epoch=2))
    assert (tmp_path / "best.h5").read_bytes() == before and temporaries(tmp_path) == []
    assert load_checkpoint(manager.last_path).progress["epoch"] == 2


# -- damaged files --------------------------------------------------------------------
FUZZ = """
import json, os, sys, warnings
import numpy as np
sys.path.insert(0, {tests!r})
from nnframe.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from test_checkpoint_io import assert_same_checkpoint, contents

work = sys.argv[1]
saved = contents(epoch=4)
# eleven layers: groups with more than 8 links use HDF5's dense storage (heaps, B-trees)
saved["params"].update({{f"extra{{i}}/b": np.full(2, i, "float32") for i in range(11)}})
good = save_checkpoint(os.path.join(work, "good.h5"), **saved)
original = open(good, "rb").read()
rng = np.random.default_rng(16)
head = min(len(original), 3072)
later = rng.choice(np.arange(head, len(original)), min(400, len(original) - head), replace=False)
cases = [("flip", int(i), 0xFF) for i in range(head)]
cases += [("flip", int(i), 1 << int(rng.integers(8))) for i in later]
cases += [("cut", int(n), 0) for n in sorted(set(np.linspace(0, len(original) - 1, 120)
                                                 .astype(int)) | set(range(0, 64, 8)))]
outcomes = {{"same": 0, "refused": 0}}
path = os.path.join(work, "case.h5")
for kind, at, mask in cases:
    data = bytearray(original[:at] if kind == "cut" else original)
    if kind == "flip":
        data[at] ^= mask
    if os.path.exists(path):
        os.remove(path)  # (ext4 syncs a file truncated and written again when it is closed)
    with open(path, "wb") as fh:
        fh.write(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning would be an outcome too
            ckpt = load_checkpoint(path)
        assert_same_checkpoint(ckpt, saved)
        outcomes["same"] += 1
    except CheckpointError as e:
        if path not in str(e):
            outcomes["unnamed"] = [kind, at, str(e)]
            break
        outcomes["refused"] += 1
    except BaseException as e:
        outcomes["other"] = [kind, at, type(e).__name__, str(e)[:300]]
        break
outcomes["cases"] = len(cases)
print(json.dumps(outcomes))
"""


def test_every_flipped_byte_or_truncation_loads_the_same_or_is_a_checkpoint_error(tmp_path):
    """Flips of each of the first 3 KB (superblock, object headers, links), 400 bytes of the
    rest (data, heaps, the JSON table of contents) and cuts at 128 lengths."""
    code = textwrap.dedent(FUZZ.format(tests=os.path.dirname(os.path.abspath(__file__))))
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=child_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"the loader crashed ({proc.returncode}): {proc.stderr[-3000:]}"
    outcomes = json.loads(proc.stdout)
    assert "other" not in outcomes and "unnamed" not in outcomes, outcomes
    assert outcomes["refused"] + outcomes["same"] == outcomes["cases"] > 3000
    assert outcomes["refused"] > 0.9 * outcomes["cases"]
