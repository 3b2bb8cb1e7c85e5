"""The run directory of ``python -m nnframe.train``: a lock, and no silent overwriting.

:func:`open_run_dir` makes the directory (and its ``checkpoints/``), checks that it can
be written, takes its lock and decides what happens to an earlier run found there:

* another process training into the same directory holds ``OUT/.lock`` (an exclusive
  ``flock`` the kernel releases when that process ends, even when it is killed), and
  the second run stops with :class:`~nnframe.train.errors.RunDirInUse`;
* an earlier run (``checkpoints/last.h5``, ``checkpoints/best.h5``, ``metrics.jsonl`` or
  ``report.json``) is continued with ``resume`` (nothing is removed), removed with
  ``overwrite`` (only the files a run writes, nothing else), and otherwise refused with
  :class:`~nnframe.train.errors.RunDirNotEmpty`, which lists the choices.

>>> with open_run_dir("runs/mlp") as run_dir:          # doctest: +SKIP
...     run_dir.checkpoints
'runs/mlp/checkpoints'

The lock file stays in place after the run (removing it would let two later runs lock
two different files); it holds the process id and start time of the last run.
"""
import errno
import glob
import json
import os
import time

import yaml

from nnframe.train.errors import RunDirError, RunDirInUse, RunDirNotEmpty

try:
    import fcntl
except ImportError:     # Windows: no flock; runs there are not protected from each other
    fcntl = None

__all__ = ["RunDir", "open_run_dir", "EARLIER_RUN_FILES", "RUN_FILES"]

LOCK_NAME = ".lock"
#: files whose presence means the directory holds an earlier run
EARLIER_RUN_FILES = ("checkpoints/last.h5", "checkpoints/best.h5", "metrics.jsonl",
                     "report.json")
#: the files a run writes, which ``overwrite`` removes (and nothing else)
RUN_FILES = ("metrics.jsonl", "metrics.csv", "report.json", "curves.svg", "curves.png",
             "recipe.yaml", "recipe.resolved.yaml")
#: checkpoints and the temporary files a checkpoint write leaves when it is killed
RUN_FILE_PATTERNS = ("checkpoints/*.h5", "checkpoints/*.h5.tmp-*")
#: how much of the end of metrics.jsonl is read to find the last epoch
_TAIL_BYTES = 1 << 16
_CHOOSE_ANOTHER = "choose another --out DIR"


class RunDir:
    """An open run directory holding its lock until :meth:`close` (or the ``with`` ends).

    ``path`` is the directory, ``checkpoints`` its ``checkpoints/`` folder,
    ``earlier`` the files of an earlier run found when it was opened and
    ``removed`` those that ``overwrite`` removed.
    """

    def __init__(self, path, lock_fd, earlier=(), removed=()):
        self.path = path
        self.checkpoints = os.path.join(path, "checkpoints")
        self.earlier = list(earlier)
        self.removed = list(removed)
        self._lock_fd = lock_fd

    def close(self):
        """Release the lock (idempotent)."""
        if self._lock_fd is not None:
            fd, self._lock_fd = self._lock_fd, None
            os.close(fd)        # closing the only descriptor releases the flock

    @property
    def locked(self):
        return self._lock_fd is not None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __repr__(self):
        return f"<RunDir {self.path}{' (locked)' if self.locked else ''}>"


def open_run_dir(out, resume=None, overwrite=False):
    """Create, check and lock the run directory ``out``; returns a :class:`RunDir`.

    Raises :class:`~nnframe.train.errors.RunDirError` when ``out`` is a file or cannot
    be written, :class:`~nnframe.train.errors.RunDirInUse` when another process holds
    its lock, and :class:`~nnframe.train.errors.RunDirNotEmpty` when it holds an earlier
    run and neither ``resume`` (a checkpoint path or ``"auto"``) nor ``overwrite`` is
    given.  With ``resume`` nothing is removed; with ``overwrite`` the earlier run's
    files (:data:`RUN_FILES`, the checkpoints) are removed, and nothing else.

    >>> import os, tempfile
    >>> out = os.path.join(tempfile.mkdtemp(), "mlp")
    >>> with open_run_dir(out) as run_dir:
    ...     open(os.path.join(run_dir.path, "metrics.jsonl"), "w").close()
    >>> open_run_dir(out)
    Traceback (most recent call last):
    ...
    nnframe.train.errors.RunDirNotEmpty: ... holds an earlier run (metrics.jsonl). To continue
    it, add --resume auto; to keep it, choose another --out DIR; to start over here, add
    --overwrite (this deletes its checkpoints, metrics and report)
    >>> with open_run_dir(out, overwrite=True) as run_dir:
    ...     [os.path.basename(path) for path in run_dir.removed]
    ['metrics.jsonl']
    """
    out = os.fspath(out)
    if not out:
        raise RunDirError("the run directory is an empty path; give --out DIR, or leave "
                          "--out out for runs/<name>")
    if resume and overwrite:
        raise RunDirError(f"--resume and --overwrite contradict each other for {out}: "
                          "--resume continues the earlier run, --overwrite deletes it; "
                          "give one of them")
    _make_dirs(out)
    _check_writable(out)
    run_dir = RunDir(out, _lock(out))
    try:
        # Only now, holding the lock, is it safe to look at (and remove) the earlier run.
        run_dir.earlier = _earlier_run_files(out)
        if run_dir.earlier and not resume:
            if not overwrite:
                raise RunDirNotEmpty(_not_empty_message(out, run_dir.earlier))
            run_dir.removed = _remove_run_files(out)
    except BaseException:
        run_dir.close()
        raise
    return run_dir


# -- creating and checking ---------------------------------------------------------------
def _cannot_write(out, exc, what="write in", where=None):
    """The RunDirError for an OSError met while making or writing the run directory
    ``out``, at ``where`` (the file of the error by default)."""
    reason = {errno.EROFS: "the file system is read-only",
              errno.ENOSPC: "the disk is full",
              errno.EDQUOT: "the disk quota is used up",
              errno.ENOTDIR: "a part of the path is a file, not a directory",
              }.get(exc.errno, exc.strerror or str(exc))
    where = os.fsdecode(where or exc.filename or out)
    at = f" ({where})" if where != out else ""
    return RunDirError(f"cannot {what} the run directory {out}: {reason}{at}; "
                       f"{_CHOOSE_ANOTHER} (one you can write to)")


def _make_dirs(out):
    """Create ``out/checkpoints``; refuse an ``out`` that is a file."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise RunDirError(f"the run directory {out} is a file, not a directory; "
                          f"{_CHOOSE_ANOTHER}, or move the file away")
    try:
        os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
    except FileExistsError:     # checkpoints exists as a file
        raise RunDirError(f"{os.path.join(out, 'checkpoints')} is a file, not a directory; "
                          f"{_CHOOSE_ANOTHER}, or move the file away") from None
    except OSError as exc:
        raise _cannot_write(out, exc, "create") from None


def _check_writable(out):
    """Create and remove a file in ``out/checkpoints``: permissions alone do not tell
    (root writes through them; a read-only mount refuses everyone)."""
    checkpoints = os.path.join(out, "checkpoints")
    probe = os.path.join(checkpoints, f".write-test-{os.getpid()}")
    try:
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        os.remove(probe)
    except OSError as exc:
        raise _cannot_write(out, exc, where=checkpoints) from None


# -- the lock -------------------------------------------------------------------------------
def _lock(out):
    """Take ``out/.lock`` (exclusive, not waiting) and write this process into it;
    returns the open descriptor, which holds the lock until it is closed."""
    path = os.path.join(out, LOCK_NAME)
    try:
        # os.open descriptors are not inherited by child processes (PEP 446), so a
        # subprocess cannot keep the lock alive after the run ends.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _cannot_write(out, exc) from None
    if fcntl is None:
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = _read_holder(fd)
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirInUse(f"{out} is in use by {holder}: another run is training into "
                              f"it; wait for it to finish, or {_CHOOSE_ANOTHER}") from None
        raise RunDirError(f"cannot lock the run directory {out} ({path}: {exc.strerror}); "
                          f"{_CHOOSE_ANOTHER} on a local disk") from None
    try:
        _write_holder(fd)
    except OSError as exc:
        os.close(fd)
        raise _cannot_write(out, exc) from None
    return fd


def _write_holder(fd):
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime())
    text = json.dumps({"pid": os.getpid(), "started": started}) + "\n"
    os.ftruncate(fd, 0)
    os.pwrite(fd, text.encode("utf-8"), 0)


def _read_holder(fd):
    """``process 1234 (started ...)`` from the lock file, or ``another process``
    (the holder may not have written itself yet)."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
        pid, started = int(holder["pid"]), str(holder["started"])[:40]
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
    return f"process {pid} (started {started})"


# -- an earlier run ----------------------------------------------------------------------
def _earlier_run_files(out):
    return [os.path.join(out, name) for name in EARLIER_RUN_FILES
            if os.path.lexists(os.path.join(out, name))]


def _not_empty_message(out, files):
    return (f"{out} holds an earlier run ({_describe_earlier_run(out, files)}). To continue "
            f"it, add --resume auto; to keep it, {_CHOOSE_ANOTHER}; to start over here, add "
            f"--overwrite (this deletes its checkpoints, metrics and report)")


def _describe_earlier_run(out, files):
    """``epoch 12 of 40 finished`` when the run's own files tell cheaply; else the files."""
    try:
        finished = _last_epoch(os.path.join(out, "metrics.jsonl"))
        total = _total_epochs(os.path.join(out, "recipe.resolved.yaml"))
    except (OSError, ValueError, KeyError, TypeError, RecursionError, yaml.YAMLError):
        # a damaged file only costs the description its detail
        finished = total = None
    if finished is not None:
        return f"epoch {finished}{f' of {total}' if total else ''} finished"
    return ", ".join(os.path.relpath(f, out) for f in files)


def _last_epoch(path):
    """The ``epoch`` of the last row of ``metrics.jsonl`` (None without one)."""
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as fh:
        fh.seek(max(0, os.fstat(fh.fileno()).st_size - _TAIL_BYTES))
        lines = fh.read().decode("utf-8", "replace").splitlines()
    for line in reversed(lines):
        if line.strip():
            return int(json.loads(line)["epoch"])
    return None


def _total_epochs(path):
    """``train.epochs`` of the earlier run's resolved recipe (None without one)."""
    if not os.path.isfile(path) or os.path.getsize(path) > _TAIL_BYTES:
        return None
    with open(path, encoding="utf-8") as fh:
        return int(yaml.safe_load(fh)["train"]["epochs"])


def _remove_run_files(out):
    """Remove the files a run writes (and nothing else); returns their paths."""
    paths = [os.path.join(out, name) for name in RUN_FILES]
    for pattern in RUN_FILE_PATTERNS:
        paths += sorted(glob.glob(os.path.join(glob.escape(out), pattern)))
    removed = []
    for path in paths:
        # a directory that happens to have such a name is not the run's: leave it
        if not os.path.lexists(path) or (os.path.isdir(path) and not os.path.islink(path)):
            continue
        try:
            os.remove(path)
        except OSError as exc:
            raise RunDirError(f"--overwrite cannot remove {path} from the earlier run: "
                              f"{exc.strerror}; remove it yourself, or {_CHOOSE_ANOTHER}"
                              ) from None
        removed.append(path)
    return removed
