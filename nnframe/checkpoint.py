"""HDF5 checkpoints: parameters, optimizer state, progress and RNG states by name.

A checkpoint is one HDF5 file written with h5py; nothing is ever pickled, so a
file can be read without nnframe's classes and never runs code.  There are
two kinds: *training* checkpoints (``last.h5``, ``best.h5``: everything needed
to resume) and *parameter exports* (``kind="params"``: parameters and recipe).
Checkpoints may come from strangers: before any data is read, loading refuses
HDF5 external links, external storage and virtual datasets (which would read
other files, :mod:`nnframe.hdf5_safety`) and arrays declared larger than
``config.max_array_bytes`` (:mod:`nnframe.limits`); a damaged file raises
:class:`CheckpointError`.

>>> from nnframe.layers import InputLayer, DenseLayer
>>> from nnframe.checkpoint import save_params, load_params
>>> net = DenseLayer(InputLayer((None, 4)), 3, name='out')
>>> save_params(net, 'model.h5')                               # doctest: +SKIP
>>> load_params(net, 'model.h5')                               # doctest: +SKIP
<LoadReport: 2 loaded from model.h5>

File layout (format_version 2)
------------------------------
::

    /                        attrs: format="nnframe-checkpoint", format_version=2,
                                    nnframe_version (fixed-length ASCII strings)
    /params/<name>           one dataset per parameter in its own dtype; the name is
                             hierarchical (enc1/W -> group params/enc1, dataset W)
    /optim/<name>            optimizer state (enc1/W/adam/m, adam/t)
    /rng/<name>              arrays (RandomStream uint64 state vectors)
    /recipe/original         the recipe as written (fixed-length UTF-8 string)
    /recipe/resolved         the recipe with defaults and overrides
    /contents                JSON (fixed-length string), attr crc32 (of the JSON):
        {"kind": "training"|"params", "floatX", "created_utc" (ISO 8601),
         "conv_kernel_layout": "oihw", "digest": "crc32",
         "arrays": {"params": [{"name", "crc32", "tags": [...]}, ...],   # saved order
                    "optim": [{"name", "crc32"}, ...], "rng": [...]},
         "optim_info": {"rule", "hyperparameters"}, "progress": {...},
         "rng": {name: bit_generator.state, ...},   # 128-bit integers are exact
         "recipe": {"original": {"bytes", "crc32"}, ...},
         "env": {"python", "numpy", "h5py", "hdf5", "platform"}}

JSON values may contain NumPy scalars and integer/float arrays (arrays come back
as arrays, e.g. an MT19937 key).  HDF5 checksums the file's metadata (the
file is written with HDF5 1.8 object headers, readable by HDF5 1.8 and newer)
but not the data, so every array and text carries a CRC-32 in ``/contents``:
a flipped bit anywhere either hits unused bytes or raises
:class:`CheckpointError` on loading, never changes a value.  Files of
format_version 1 (one HDF5 attribute per value, sha256 per array) are still
read.

Writing is fast and cannot leave half a file.  The file is built in memory
(an ``io.BytesIO``: about the checkpoint's size in extra memory), then
written to ``<path>.tmp-<pid>``, fsynced and renamed over ``<path>``, and the
directory is fsynced: a crash leaves either the old file or the new one at
``path``.  A failed write (a full disk, a quota, a file-size limit, a
read-only file system, missing permissions) raises
:class:`CheckpointWriteError`; the previous checkpoint stays as it was and no
temporary file is left.

Loading by name
---------------
:func:`load_params` and :func:`restore_state` set shared variables by name.
Strict loading (the default) needs the same names on both sides with equal
shapes and dtypes and reports every problem in one :class:`CheckpointMismatch`,
changing nothing; ``strict=False`` loads what matches and returns a
:class:`LoadReport` of the rest.
"""
import contextlib
import errno
import fnmatch
import functools
import hashlib
import io
import json
import os
import platform
import re
import shutil
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from nnframe import __version__
from nnframe.config import config
from nnframe.hdf5_safety import READ_ERRORS as HDF5_READ_ERRORS
from nnframe.hdf5_safety import check_dataset, check_link, get_dataset, walk_datasets
from nnframe.layers import Layer, get_all_layers, get_all_params

__all__ = ["CheckpointError", "CheckpointMismatch", "CheckpointWriteError", "Checkpoint",
           "LoadReport", "save_checkpoint", "load_checkpoint", "save_params", "load_params",
           "restore_state", "CheckpointManager", "write_last", "write_best", "find_resume",
           "FORMAT", "FORMAT_VERSION"]

FORMAT = "nnframe-checkpoint"
#: the version written; files of every version from 1 to this one are read
FORMAT_VERSION = 2
KINDS = ("training", "params")
#: top-level names of the files of each format version
_KNOWN_NAMES = {1: {"params", "optim", "progress", "rng", "recipe", "env"},
                2: {"params", "optim", "rng", "recipe", "contents"}}
_ARRAY_GROUPS = ("params", "optim", "rng")
_RECIPES = ("original", "resolved")
_NUMERIC_KINDS = "biufc"
#: what h5py, NumPy and json raise for a damaged file: h5py's (RecursionError, a
#: RuntimeError, for absurdly nested JSON) and AttributeError for a value of the wrong kind
_READ_ERRORS = HDF5_READ_ERRORS + (AttributeError, UnicodeError)


class CheckpointError(ValueError):
    """A file that is not a readable nnframe checkpoint, or contents that cannot be saved."""


class CheckpointMismatch(CheckpointError):
    """Stored values that do not fit the model; ``report`` is the :class:`LoadReport`."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


class CheckpointWriteError(CheckpointError):
    """The operating system refused to write (or replace, or remove) a checkpoint file.

    ``path`` is the checkpoint, ``errno`` and ``strerror`` are those of the
    underlying :class:`OSError`.  The message says what to do; a checkpoint
    that was at ``path`` before is unchanged, and no temporary file is left.

    >>> err = CheckpointWriteError("cannot write runs/a/last.h5: No space left on device",
    ...                            "runs/a/last.h5", errno.ENOSPC, "No space left on device")
    >>> err.errno == errno.ENOSPC, isinstance(err, CheckpointError)
    (True, True)
    """

    def __init__(self, message, path, errno=None, strerror=None):
        super().__init__(message)
        self.path, self.errno, self.strerror = path, errno, strerror


def _h5py():
    try:
        import h5py
    except ImportError:
        raise ImportError("nnframe checkpoints are HDF5 files and need h5py: "
                          "pip install h5py") from None
    return h5py

# -- what is saved ----------------------------------------------------------------------
def _is_network(obj):
    return isinstance(obj, Layer) or (
        isinstance(obj, (list, tuple)) and obj and all(isinstance(o, Layer) for o in obj))


def _is_shared(obj):
    return hasattr(obj, "get_value") and hasattr(obj, "set_value")


def _named_variables(obj, what):
    """``OrderedDict`` name -> shared variable of a network, a list or a name -> variable dict."""
    if _is_network(obj):
        items = [(p.name, p) for p in get_all_params(obj)]
    elif isinstance(obj, Mapping):
        items = list(obj.items())
    else:
        items = [(getattr(v, "name", None), v) for v in obj]
    problems, named = [], OrderedDict()
    for k, (name, var) in enumerate(items):
        if not _is_shared(var):
            problems.append(f"item {k} ({name!r}) is a {type(var).__name__}, not a shared variable")
        elif not isinstance(name, str) or not name:
            problems.append(f"item {k} ({var!r}) has no name; checkpoints address variables "
                            "by name, so give it one (shared(..., name='enc1/W'))")
        elif name in named:
            problems.append(f"two variables are named {name!r}; names must be unique")
        else:
            named[name] = var
    if problems:
        raise CheckpointError(f"{what}: " + "; ".join(problems))
    return named


def _as_array(value, what):
    array = value.get_value(borrow=True) if _is_shared(value) else np.asarray(value)
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise CheckpointError(f"{what} has dtype {array.dtype}; checkpoints store numeric arrays "
                              "(bool, int, uint, float, complex) only")
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    return array if array.flags.c_contiguous else array.copy(order="C")


def _unencodable(name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _check_names(names, what):
    """Names become HDF5 paths: non-empty parts, and no name may be a group of another."""
    for name in names:
        if not isinstance(name, str) or any(part in ("", ".", "..") for part in name.split("/")):
            raise CheckpointError(f"{what}: {name!r} is not a valid name (use non-empty parts "
                                  "separated by '/', like 'enc1/W')")
        if "\0" in name or _unencodable(name):
            raise CheckpointError(f"{what}: {name!r} is not a valid name (HDF5 names are UTF-8 "
                                  "text without NUL characters)")
    taken = set(names)
    for name in names:
        parts = name.split("/")
        for k in range(1, len(parts)):
            prefix = "/".join(parts[:k])
            if prefix in taken:
                raise CheckpointError(f"{what}: {prefix!r} and {name!r} cannot both be stored: "
                                      f"{prefix!r} would be both an array and a group")


def _collect_arrays(obj, what, with_tags=False):
    """[(name, array, attrs)] of a network, a list of shared variables or a dict of arrays."""
    if obj is None:
        return []
    if isinstance(obj, Mapping):
        pairs = list(obj.items())
    else:
        pairs = list(_named_variables(obj, what).items())
    tags = {}
    if with_tags and _is_network(obj):
        for layer in get_all_layers(obj):
            tags.update((id(p), sorted(t)) for p, t in layer.params.items())
    names = [name for name, _ in pairs]
    _check_names(names, what)
    entries = []
    for name, value in pairs:
        attrs = {"tags": tags[id(value)]} if id(value) in tags else {}
        entries.append((name, _as_array(value, f"{what}[{name!r}]"), attrs))
    return entries



# -- JSON (with NumPy scalars and arrays) -----------------------------------------------
def _json_default(obj):
    if isinstance(obj, np.ndarray) and obj.dtype.kind in "biuf":
        return {"__ndarray__": obj.tolist(), "dtype": obj.dtype.name, "shape": list(obj.shape)}
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"{type(obj).__name__} {obj!r:.60} is not JSON-serialisable")


def _json_array(obj):
    """The array a JSON ``{"__ndarray__", "dtype", "shape"}`` object stands for."""
    try:
        dtype = np.dtype(obj["dtype"])
        if dtype.kind not in "biuf":
            raise TypeError(f"dtype {dtype} is not an integer or float dtype")
        return np.array(obj["__ndarray__"], dtype=dtype).reshape(obj["shape"])
    except (TypeError, ValueError, OverflowError) as e:
        raise CheckpointError(f"an array stored as JSON cannot be read ({e})") from None


def _json_object(obj):
    if set(obj) == {"__ndarray__", "dtype", "shape"}:
        return _json_array(obj)
    return obj


def _to_json(value, what):
    try:
        return json.dumps(value, default=_json_default)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{what} cannot be saved: {e}") from None


def _from_json(text):
    return json.loads(text, object_hook=_json_object)


# -- preparing --------------------------------------------------------------------------
def _prepare_progress(progress):
    """The progress dict with its keys checked (the values are checked as JSON)."""
    progress = dict(progress or {})
    for key in progress:
        if not isinstance(key, str) or not key:
            raise CheckpointError(f"progress key {key!r}: keys must be non-empty strings")
    return progress


def _prepare_optim_info(optim_info):
    info = dict(optim_info or {})
    unknown = set(info) - {"rule", "hyperparameters"}
    if unknown:
        raise CheckpointError(f"optim_info has unknown keys {sorted(unknown)}; it takes 'rule' "
                              "(str) and 'hyperparameters' (a JSON-able dict)")
    prepared = {}
    if info.get("rule") is not None:
        prepared["rule"] = str(info["rule"])
    if info.get("hyperparameters") is not None:
        prepared["hyperparameters"] = info["hyperparameters"]
    return prepared


def _prepare_rng(rng):
    """(name -> JSON-able state, [(name, array, attrs)]) of the RNG states."""
    states, arrays = {}, {}
    for name, value in (rng or {}).items():
        if not isinstance(name, str) or not name:
            raise CheckpointError(f"rng: {name!r} is not a valid name (use a non-empty str)")
        if isinstance(value, np.ndarray) or _is_shared(value):
            arrays[name] = value
        else:
            states[name] = value
    return states, _collect_arrays(arrays, "rng")


def _encode_text(text, what):
    if text is None:
        return None
    if not isinstance(text, str):
        raise CheckpointError(f"{what} must be a str (the recipe text), got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise CheckpointError(f"{what} cannot be saved as UTF-8 ({e})") from None


def _crc32(data):
    """CRC-32 of an array's or a text's bytes: it detects damage at ~4 GB/s, 2.4 times
    the speed of sha256 here (an integrity check against accidents, not a signature)."""
    return zlib.crc32(data)


@functools.lru_cache(maxsize=1)
def _environment():
    h5py = _h5py()
    return {"python": platform.python_version(), "numpy": np.__version__,
            "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
            "platform": platform.platform()}


def _document(c):
    """The ``/contents`` JSON document of the prepared contents ``c``, as bytes."""
    arrays = {}
    for group in _ARRAY_GROUPS:
        arrays[group] = [dict({"name": name, "crc32": _crc32(array)}, **attrs)
                         for name, array, attrs in c["arrays"][group]]
    doc = {"kind": c["kind"], "floatX": config.floatX,
           "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")
           .replace("+00:00", "Z"),
           "conv_kernel_layout": "oihw", "digest": "crc32", "arrays": arrays,
           "optim_info": c["optim_info"], "progress": c["progress"], "rng": c["rng"],
           "recipe": {key: {"bytes": len(data), "crc32": _crc32(data)}
                      for key, data in c["recipes"].items()},
           "env": _environment()}
    try:
        # ASCII: the stored text never holds a NUL byte or an unpaired surrogate
        return json.dumps(doc, default=_json_default).encode("ascii")
    except (TypeError, ValueError) as e:
        _name_unsaveable(c)
        raise CheckpointError(f"the checkpoint's values cannot be saved as JSON: {e}") from None


def _name_unsaveable(c):
    """Raise CheckpointError naming the first value of ``c`` that JSON cannot hold."""
    parts = [(f"progress[{k!r}]", v) for k, v in c["progress"].items()]
    parts += [(f"rng[{k!r}]", v) for k, v in c["rng"].items()]
    parts.append(("optim_info['hyperparameters']", c["optim_info"].get("hyperparameters")))
    for what, value in parts:
        _to_json(value, what)


def _prepare(params, optim, progress, rng, recipe_original, recipe_resolved, kind,
             optim_info):
    """Everything to save, checked and converted before any file is created."""
    if kind not in KINDS:
        raise CheckpointError(f"kind must be one of {KINDS}, got {kind!r}")
    recipes = {key: _encode_text(text, f"recipe_{key}") for key, text in
               (("original", recipe_original), ("resolved", recipe_resolved))}
    states, rng_arrays = _prepare_rng(rng)
    c = {"kind": kind,
         "arrays": {"params": _collect_arrays(params, "params", with_tags=True),
                    "optim": _collect_arrays(optim, "optim"), "rng": rng_arrays},
         "optim_info": _prepare_optim_info(optim_info), "progress": _prepare_progress(progress),
         "rng": states, "recipes": {k: v for k, v in recipes.items() if v is not None}}
    c["document"] = _document(c)
    return c


# -- building the file in memory --------------------------------------------------------
def _memory_file():
    """(io.BytesIO, h5py.File) of a new HDF5 file built in memory.

    Nothing touches the disk until the finished image is written, so a full
    disk is an OSError of one os.write, never a failure inside HDF5 (which
    could crash the process).  HDF5 1.8 object headers carry checksums, so
    damaged metadata is detected when read; HDF5 1.8 and newer read them.
    (h5py's file-object driver measured faster than the core driver, whose
    image has to be copied out.)
    """
    buffer = io.BytesIO()
    return buffer, _h5py().File(buffer, "w", libver=("v108", "v108"))


def _link_properties():
    """Link creation properties: names are UTF-8 (as h5py reads them)."""
    h5py = _h5py()
    lcpl = h5py.h5p.create(h5py.h5p.LINK_CREATE)
    lcpl.set_char_encoding(h5py.h5t.CSET_UTF8)
    return lcpl


def _group(path, groups, lcpl):
    """The group at ``path`` (``'params/enc1'``) of the file being built, created once.

    ``groups`` maps the paths created so far to their group ids; ``''`` is the root.
    """
    if path not in groups:
        parent, _, name = path.rpartition("/")
        groups[path] = _h5py().h5g.create(_group(parent, groups, lcpl), name.encode(),
                                          lcpl=lcpl)
    return groups[path]


def _write_array(parent, name, array, lcpl):
    h5py = _h5py()
    h5s = h5py.h5s
    space = h5s.create_simple(array.shape) if array.ndim else h5s.create(h5s.SCALAR)
    dataset = h5py.h5d.create(parent, name.encode(), h5py.h5t.py_create(array.dtype, logical=True),
                              space, lcpl=lcpl)
    if array.size:
        dataset.write(h5s.ALL, h5s.ALL, array)


def _string_type(nbytes, cset):
    h5t = _h5py().h5t
    tid = h5t.C_S1.copy()
    tid.set_size(max(nbytes, 1))  # HDF5 strings are at least one byte long
    tid.set_strpad(h5t.STR_NULLPAD)
    tid.set_cset(cset)
    return tid


def _write_text(parent, name, data, lcpl):
    """A scalar fixed-length UTF-8 string dataset holding the bytes ``data``.

    Fixed-length strings keep the text in the dataset's own storage, covered
    by its CRC-32 (variable-length ones would live in HDF5's global heap).
    """
    h5py = _h5py()
    tid = _string_type(len(data), h5py.h5t.CSET_UTF8)
    dataset = h5py.h5d.create(parent, name.encode(), tid, h5py.h5s.create(h5py.h5s.SCALAR),
                              lcpl=lcpl)
    dataset.write(h5py.h5s.ALL, h5py.h5s.ALL, np.array(data, dtype=f"S{max(len(data), 1)}"),
                  mtype=tid)
    return dataset


def _write_attr(obj, name, value):
    """A scalar attribute: an ASCII str as a fixed-length string (kept in the checksummed
    object header, unlike h5py's variable-length strings), or a NumPy scalar."""
    h5py = _h5py()
    if isinstance(value, str):
        raw = value.encode("ascii")
        data = np.array(raw, dtype=f"S{max(len(raw), 1)}")
        tid = _string_type(len(raw), h5py.h5t.CSET_ASCII)
    else:
        data = np.asarray(value)
        tid = h5py.h5t.py_create(data.dtype)
    attr = h5py.h5a.create(obj, name.encode(), tid, h5py.h5s.create(h5py.h5s.SCALAR))
    attr.write(data, mtype=tid)


def _write_objects(root, c):
    """Create the datasets and attributes of the prepared contents ``c`` under ``root``."""
    lcpl = _link_properties()
    groups = {"": root}
    for group in _ARRAY_GROUPS:
        for name, array, _ in c["arrays"][group]:
            parent, _, leaf = f"{group}/{name}".rpartition("/")
            _write_array(_group(parent, groups, lcpl), leaf, array, lcpl)
    for key, data in c["recipes"].items():
        _write_text(_group("recipe", groups, lcpl), key, data, lcpl)
    contents = _write_text(root, "contents", c["document"], lcpl)
    _write_attr(contents, "crc32", np.uint32(_crc32(c["document"])))
    for key, value in (("format", FORMAT), ("format_version", np.int64(FORMAT_VERSION)),
                       ("nnframe_version", __version__)):
        _write_attr(root, key, value)


def _build_image(c):
    """The bytes (a memoryview) of the HDF5 file holding the prepared contents ``c``."""
    buffer, f = _memory_file()
    with f:
        _write_objects(_h5py().h5g.open(f.id, b"/"), c)
    return buffer.getbuffer()


# -- writing the file -------------------------------------------------------------------
#: at most this many bytes per os.write (Linux writes at most 2 GiB - 4 KiB per call)
_WRITE_CHUNK = 1 << 26
_NOT_SYNCABLE = {errno.EINVAL, errno.EACCES, errno.EPERM, errno.EBADF,
                 getattr(errno, "ENOTSUP", errno.EINVAL), getattr(errno, "EOPNOTSUPP", errno.EINVAL)}
_OTHER_OUT = "choose another --out (directory)"
_ELSEWHERE = f"or {_OTHER_OUT}"
_ADVICE = {
    errno.ENOSPC: f"the disk is full: free some space, {_ELSEWHERE} on a disk with room",
    getattr(errno, "EDQUOT", -1): f"the disk quota is used up: free some space, {_ELSEWHERE}",
    errno.EFBIG: "the file is larger than this process may write (ulimit -f) or the file "
                 f"system allows: raise the limit, {_ELSEWHERE}",
    errno.EROFS: f"the file system is read-only: {_OTHER_OUT}",
    errno.EACCES: f"check the permissions of the directory, {_ELSEWHERE}",
    errno.EPERM: f"check the permissions of the directory, {_ELSEWHERE}",
    errno.ENOENT: f"the directory does not exist: create it, {_ELSEWHERE}",
    errno.EIO: f"the disk (or network file system) failed: check it, {_ELSEWHERE}",
    errno.EISDIR: "a directory has that name: give the path of a file",
}


def _temp_path(path):
    return f"{path}.tmp-{os.getpid()}"


def _remove_quietly(path):
    with contextlib.suppress(OSError):
        os.remove(path)


def _write_error(path, error, existed, doing="write the checkpoint"):
    """The :class:`CheckpointWriteError` for ``error`` (an OSError) on ``path``.

    ``existed``: whether a checkpoint was at ``path`` before (it is unchanged),
    None when the message should not say (a directory, a removal).
    """
    code = error.errno
    reason = error.strerror or str(error)
    name = errno.errorcode.get(code, code) if code is not None else type(error).__name__
    state = ""
    if existed is not None:
        state = ("; the previous checkpoint at that path is unchanged" if existed else
                 "; nothing was written there")
    advice = _ADVICE.get(code, f"check the disk and the directory, {_ELSEWHERE}")
    return CheckpointWriteError(f"cannot {doing} {path}: {reason} ({name}){state}; {advice}",
                                path, code, reason)


def _write_all(fd, data):
    """os.write until every byte of ``data`` is written (a write may write fewer)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view[:_WRITE_CHUNK])
        if written <= 0:  # a regular file that takes nothing more: the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        view = view[written:]


def _write_new_file(path, data):
    """Create (or truncate) ``path``, write ``data`` and fsync it; never follows a symlink."""
    flags = (os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    fd = os.open(path, flags, 0o666)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory, path):
    """Make a rename in ``directory`` durable (POSIX); file systems that cannot sync a
    directory are skipped, any other failure is a CheckpointWriteError about ``path``."""
    if os.name != "posix":
        return  # directories cannot be opened on Windows
    try:
        _fsync_path(directory)
    except OSError as e:
        if e.errno in _NOT_SYNCABLE:
            return
        raise CheckpointWriteError(
            f"{path} was written, but its directory could not be synced: {e.strerror}; after "
            "a power failure it may hold the previous checkpoint again: check the disk",
            path, e.errno, e.strerror) from None


def _atomic_write(path, data):
    """Write the bytes ``data`` to a temporary file that then replaces ``path``."""
    existed = os.path.exists(path)
    tmp = _temp_path(path)
    try:
        _write_new_file(tmp, data)
        os.replace(tmp, path)
    except OSError as e:
        _remove_quietly(tmp)
        raise _write_error(path, e, existed) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(path)), path)


def save_checkpoint(path, params, optim=None, progress=None, rng=None, recipe_original=None,
                    recipe_resolved=None, kind="training", optim_info=None):
    """Write a checkpoint file atomically (see the module docstring for the layout).

    Parameters
    ----------
    path : str or path-like
        The file to write; its directory must exist.  An existing file is
        replaced only once the new one is complete.
    params : network, list of shared variables, or dict name -> array
        The parameters.  For a layer network (a layer or list of layers) all
        of :func:`nnframe.layers.get_all_params` are saved, non-trainable
        batch-norm statistics included, with their tags.
    optim : list of shared variables or dict name -> array, optional
        Optimizer state, e.g. ``updates.state`` of an update rule.
    progress : dict, optional
        JSON-able values (epoch, step, best metric, early-stopping counters ...).
    rng : dict name -> JSON-able object or array, optional
        RNG states: ``generator.bit_generator.state`` dicts are stored as JSON
        (exact big integers); arrays and shared variables (RandomStream
        states) as arrays.
    recipe_original, recipe_resolved : str, optional
        The recipe text as written and as resolved.
    kind : 'training' or 'params'
    optim_info : dict, optional
        ``{"rule": "adam", "hyperparameters": {...}}``.

    Returns
    -------
    str : ``path``.

    Raises
    ------
    CheckpointError
        Contents that cannot be saved (nothing is written).
    CheckpointWriteError
        The disk refused the file (full, quota, file-size limit, read-only,
        permissions); the previous file at ``path`` is unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> save_checkpoint('last.h5', {'enc1/W': np.zeros((2, 3), 'float32')},
    ...                 progress={'epoch': 3, 'step': 120})             # doctest: +SKIP
    'last.h5'
    """
    contents = _prepare(params, optim, progress, rng, recipe_original, recipe_resolved, kind,
                        optim_info)
    path = os.fspath(path)
    _atomic_write(path, _build_image(contents))
    return path


def save_params(network_or_params, path, recipe=None, recipe_original=None):
    """Export parameters (``kind="params"``): a network's or a list of shared variables'.

    ``recipe`` is the resolved recipe text, ``recipe_original`` the recipe as
    written.  All parameters of a network are saved, batch-norm statistics
    included.

    >>> save_params(net, 'model.h5')                                # doctest: +SKIP
    """
    return save_checkpoint(path, network_or_params, kind="params", recipe_resolved=recipe,
                           recipe_original=recipe_original)

# -- reading ----------------------------------------------------------------------------
@dataclass
class Checkpoint:
    """The contents of a checkpoint file, as returned by :func:`load_checkpoint`.

    ``params``, ``optim`` and ``rng`` keep the order they were saved in;
    ``tags`` maps parameter names to their tuple of tags.
    """

    path: str
    kind: str
    params: OrderedDict
    tags: dict
    optim: OrderedDict
    optim_info: dict
    progress: dict
    rng: OrderedDict
    recipe_original: str = None
    recipe_resolved: str = None
    nnframe_version: str = None
    floatX: str = None
    format_version: int = FORMAT_VERSION
    created_utc: str = None
    env: dict = field(default_factory=dict)

    def __repr__(self):
        epoch = self.progress.get("epoch")
        at = "" if epoch is None else f", epoch {epoch}"
        return (f"<Checkpoint {self.path} ({self.kind}): {len(self.params)} params, "
                f"{len(self.optim)} optimizer arrays{at}>")


def _attr(value):
    """An attribute as a Python value (h5py gives NumPy scalars, and bytes for the
    fixed-length strings of format_version 2)."""
    value = value.item() if isinstance(value, np.generic) else value
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def _warn_unknown(f, path, version):
    unknown = sorted(set(f) - _KNOWN_NAMES[version])
    if unknown:
        warnings.warn(f"{path}: ignoring unknown groups {unknown} (written by a newer nnframe?)",
                      stacklevel=4)


# -- reading format_version 2 -----------------------------------------------------------
def _expect(value, kind, what):
    """``value`` if it is a ``kind`` (never a bool for int), else CheckpointError."""
    if value is None:
        raise CheckpointError(f"/contents: {what} is missing")
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CheckpointError(f"/contents: {what} is a {type(value).__name__}, not a "
                              f"{kind.__name__}")
    return value


def _check_digest(value, what):
    if not 0 <= _expect(value, int, what) < 2**32:
        raise CheckpointError(f"/contents: {what} is {value}, not a CRC-32")


def _check_entries(entries, group):
    """The array entries of ``group`` in /contents: names, digests and tags."""
    names = set()
    for k, entry in enumerate(_expect(entries, list, f"arrays.{group}")):
        what = f"arrays.{group}[{k}]"
        name = _expect(_expect(entry, dict, what).get("name"), str, what + ".name")
        if name in names:
            raise CheckpointError(f"/contents: {what}: {group}/{name} is listed twice")
        names.add(name)
        _check_digest(entry.get("crc32"), what + ".crc32")
        for tag in _expect(entry.get("tags", []), list, what + ".tags"):
            _expect(tag, str, what + ".tags[]")


def _check_document(doc):
    """``doc`` (the parsed /contents) when it has the structure save_checkpoint writes."""
    _expect(doc, dict, "the document")
    for key in ("kind", "floatX", "created_utc", "conv_kernel_layout", "digest"):
        _expect(doc.get(key), str, key)
    for key in ("arrays", "optim_info", "progress", "rng", "recipe", "env"):
        _expect(doc.get(key), dict, key)
    if doc["kind"] not in KINDS:
        raise CheckpointError(f"/contents: kind is {doc['kind']!r}, not one of {KINDS}")
    if doc["digest"] != "crc32":
        raise CheckpointError(f"/contents: the digest {doc['digest']!r} is not known (crc32)")
    for group in _ARRAY_GROUPS:
        _check_entries(doc["arrays"].get(group), group)
    for key, entry in doc["recipe"].items():
        if key not in _RECIPES:
            raise CheckpointError(f"/contents: recipe.{key} is not one of {_RECIPES}")
        _expect(_expect(entry, dict, f"recipe.{key}").get("bytes"), int, f"recipe.{key}.bytes")
        _check_digest(entry.get("crc32"), f"recipe.{key}.crc32")
    if "rule" in doc["optim_info"]:
        _expect(doc["optim_info"]["rule"], str, "optim_info.rule")
    return doc


def _stored_bytes(dataset, size=None):
    """The bytes of a fixed-length string dataset; ``size``: its length when written
    (HDF5 drops trailing NUL bytes, which are put back)."""
    value = dataset[()]
    if not isinstance(value, bytes):
        raise CheckpointError(f"{dataset.name} is not a text dataset")
    if size is None:
        return bytes(value)
    if not len(value) <= size <= dataset.dtype.itemsize:
        raise CheckpointError(f"{dataset.name}: the text does not have the length recorded "
                              "in /contents")
    return bytes(value) + b"\0" * (size - len(value))


def _checksum_error(name):
    return CheckpointError(f"{name}: the data do not match their checksum")


def _read_document(datasets):
    """The JSON of /contents, once its bytes match the crc32 attribute."""
    dataset = datasets.get("contents")
    if dataset is None:
        raise CheckpointError("/contents (the table of contents) is missing")
    raw = _stored_bytes(dataset)
    if _attr(dataset.attrs.get("crc32")) != _crc32(raw):
        raise _checksum_error("/contents")
    return _check_document(_from_json(raw.decode("ascii")))


def _read_arrays(datasets, group, entries):
    """name -> array of the datasets of ``group`` listed in /contents, in saved order."""
    arrays = OrderedDict()
    for entry in entries:
        dataset = datasets.get(f"{group}/{entry['name']}")
        if dataset is None:
            raise CheckpointError(f"/{group}/{entry['name']} is listed in /contents but is "
                                  "not in the file")
        array = np.asarray(dataset[()])
        if array.dtype.kind not in _NUMERIC_KINDS:
            raise CheckpointError(f"{dataset.name} has dtype {array.dtype}, not a numeric array")
        if _crc32(array) != entry["crc32"]:  # h5py returns C-contiguous arrays
            raise _checksum_error(dataset.name)
        arrays[entry["name"]] = array
    return arrays


def _read_recipe_v2(datasets, key, entry):
    if entry is None:
        return None
    dataset = datasets.get(f"recipe/{key}")
    if dataset is None:
        raise CheckpointError(f"/recipe/{key} is listed in /contents but is not a dataset "
                              "of the file")
    raw = _stored_bytes(dataset, entry["bytes"])
    if _crc32(raw) != entry["crc32"]:
        raise _checksum_error(dataset.name)
    return raw.decode("utf-8")


def _refuse_unlisted(datasets, doc):
    """Raise CheckpointError for a dataset of a known group that /contents does not list
    (the file was changed after it was written): its data would not be checked."""
    listed = {"contents"} | {f"recipe/{key}" for key in doc["recipe"]}
    listed.update(f"{group}/{entry['name']}" for group in _ARRAY_GROUPS
                  for entry in doc["arrays"][group])
    for name in datasets:
        if name.split("/", 1)[0] in _KNOWN_NAMES[2] and name not in listed:
            raise CheckpointError(f"/{name} is not listed in /contents (the file was changed "
                                  "after nnframe wrote it); edit checkpoints with load_checkpoint "
                                  "and save_checkpoint, not h5py, so that every array keeps "
                                  "its checksum")


def _read_v2(f, path, datasets):
    """The :class:`Checkpoint` in the format_version 2 file ``f``.

    ``datasets`` maps the names of all datasets of the file to the datasets,
    already checked by :func:`_open`.
    """
    _warn_unknown(f, path, 2)
    doc = _read_document(datasets)
    arrays = {group: _read_arrays(datasets, group, doc["arrays"][group])
              for group in _ARRAY_GROUPS}
    recipes = {key: _read_recipe_v2(datasets, key, doc["recipe"].get(key)) for key in _RECIPES}
    _refuse_unlisted(datasets, doc)
    rng = OrderedDict(doc["rng"])
    rng.update(arrays["rng"])
    return Checkpoint(
        path=path, kind=doc["kind"], params=arrays["params"],
        tags={e["name"]: tuple(e.get("tags", ())) for e in doc["arrays"]["params"]},
        optim=arrays["optim"], optim_info=doc["optim_info"], progress=doc["progress"], rng=rng,
        recipe_original=recipes["original"], recipe_resolved=recipes["resolved"],
        nnframe_version=_attr(f.attrs.get("nnframe_version")), floatX=doc["floatX"],
        format_version=2, created_utc=doc["created_utc"], env=doc["env"])


# -- reading format_version 1 -----------------------------------------------------------
def _checked(dataset):
    """``dataset`` once it is known to keep its data in the file, within the size limit."""
    return check_dataset(dataset, dataset.file.filename, CheckpointError)


def _text(dataset):
    return _checked(dataset).asstr()[()]


def _read_tree(group, read, skip=None):
    """name -> read(dataset) for the datasets under ``group``, in saved order.

    Every link and dataset under ``group`` is checked before any is read: an
    external link, external storage, a virtual dataset or an oversized
    declared shape raises :class:`CheckpointError`.
    """
    entries = []
    if group is not None:
        for name, dataset in walk_datasets(group, group.file.filename, CheckpointError):
            if not (skip and (name + "/").startswith(skip + "/")):
                entries.append((int(dataset.attrs.get("index", len(entries))), name,
                                read(dataset)))
    entries.sort(key=lambda e: e[0])
    return OrderedDict((name, value) for _, name, value in entries)


def _read_array_v1(dataset):
    array = np.asarray(_checked(dataset)[()])
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise CheckpointError(f"{dataset.name} has dtype {array.dtype}, not a numeric array")
    # HDF5 does not checksum raw data: a flipped bit would go unnoticed.
    if ("sha256" in dataset.attrs
            and hashlib.sha256(array.tobytes()).hexdigest() != dataset.attrs["sha256"]):
        raise _checksum_error(dataset.name)
    return array


def _read_recipe_v1(group, name, path):
    if group is None or check_link(group, name, path, CheckpointError) is None:
        return None
    dataset = get_dataset(group, name, path, CheckpointError)
    if dataset is None:
        raise CheckpointError(f"{group.name}/{name} is not a text dataset (a group or a "
                              "dangling link)")
    return _text(dataset)


def _read_v1(f, path):
    """The :class:`Checkpoint` in the format_version 1 file ``f`` (nnframe before issue 16:
    values in HDF5 attributes and text datasets, a sha256 attribute per array)."""
    _warn_unknown(f, path, 1)
    params = f.get("params")
    optim, progress, rng, recipe = (f.get(k) for k in ("optim", "progress", "rng", "recipe"))
    progress_values = {} if progress is None else {k: _attr(v) for k, v in progress.attrs.items()}
    progress_values.update(_read_tree(progress, lambda d: _from_json(_text(d))))
    optim_info = {} if optim is None else dict(optim.attrs)
    if "hyperparameters" in optim_info:
        optim_info["hyperparameters"] = _from_json(optim_info["hyperparameters"])
    states = _read_tree(rng, lambda d: _from_json(_text(d)), skip="arrays")
    states.update(_read_tree(None if rng is None else rng.get("arrays"), _read_array_v1))
    attrs = {k: _attr(v) for k, v in f.attrs.items()}
    return Checkpoint(
        path=path, kind=attrs.get("kind"), params=_read_tree(params, _read_array_v1),
        tags=_read_tree(params, lambda d: tuple(t for t in str(d.attrs.get("tags", ""))
                                                .split(",") if t)),
        optim=_read_tree(optim, _read_array_v1), optim_info=optim_info,
        progress=progress_values, rng=states,
        recipe_original=_read_recipe_v1(recipe, "original", path),
        recipe_resolved=_read_recipe_v1(recipe, "resolved", path),
        nnframe_version=attrs.get("nnframe_version"), floatX=attrs.get("floatX"),
        format_version=attrs.get("format_version"), created_utc=attrs.get("created_utc"),
        env={k: _attr(v) for k, v in f["env"].attrs.items()} if "env" in f else {})


# -- opening ----------------------------------------------------------------------------
def _unreadable(path, error):
    """The CheckpointError for ``error`` of h5py (or NumPy, json) reading ``path``.

    h5py's messages end with HDF5's reason in parentheses: that is the part shown.
    """
    text = str(error).strip("'\"")
    m = re.search(r"\(([^()]+)\)$", text)
    reason = m.group(1) if m else f"{type(error).__name__}: {text}"
    return CheckpointError(f"{path} is corrupt or truncated: it cannot be read ({reason})")


def _check_header(f, path):
    """The format_version of ``f``; CheckpointError unless the root attributes say: an
    nnframe checkpoint of a version this nnframe reads."""
    fmt = _attr(f.attrs.get("format"))
    if fmt != FORMAT:
        what = "no 'format' attribute" if fmt is None else f"its format is {fmt!r}"
        raise CheckpointError(f"{path} is not an nnframe checkpoint ({what}); it may be "
                              "corrupt or from another program")
    version = _attr(f.attrs.get("format_version"))
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CheckpointError(f"{path} has the checkpoint format_version {version!r}, which no "
                              "nnframe writes; the file is corrupt")
    if version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format_version {version!r} (written by nnframe "
            f"{_attr(f.attrs.get('nnframe_version'))}); this nnframe ({__version__}) "
            f"reads format_version {FORMAT_VERSION} and older: upgrade nnframe")
    return version


def _open(path):
    """(open h5py file, format_version, name -> dataset of every dataset in the file),
    after checking it is an nnframe checkpoint that is safe to read."""
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no such checkpoint file", path)
    if os.path.isdir(path):
        raise CheckpointError(f"{path} is a directory, not a checkpoint file")
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except PermissionError:
        raise
    except _READ_ERRORS as e:
        reason = str(e).split("(", 1)[-1].rstrip(")") if "(" in str(e) else str(e)
        raise CheckpointError(f"{path} is not an nnframe checkpoint: it is not a readable HDF5 "
                              f"file ({reason}); it may be corrupt, truncated or from another "
                              "program") from None
    try:
        version = _check_header(f, path)
        # Before any data is read: no links to other files, no data stored in other files,
        # no declared array larger than config.max_array_bytes, anywhere in the file.
        datasets = dict(walk_datasets(f, path, CheckpointError))
    except CheckpointError:
        f.close()
        raise
    except _READ_ERRORS as e:
        f.close()
        raise _unreadable(path, e) from None
    except BaseException:
        f.close()
        raise
    return f, version, datasets


def load_checkpoint(path):
    """Read a whole checkpoint file into a :class:`Checkpoint`.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError`
    naming the file for anything that is not a readable nnframe checkpoint
    (random bytes, a truncated or damaged file, an HDF5 file of another
    program, a newer format).  Files of every format_version up to
    :data:`FORMAT_VERSION` are read.

    >>> ckpt = load_checkpoint('runs/mlp/last.h5')                     # doctest: +SKIP
    >>> ckpt.progress['epoch'], list(ckpt.params)                      # doctest: +SKIP
    (12, ['dense1/W', 'dense1/b', ...])
    """
    path = os.fspath(path)
    f, version, datasets = _open(path)
    with f:
        try:
            return _read_v1(f, path) if version == 1 else _read_v2(f, path, datasets)
        except CheckpointError as e:
            raise CheckpointError(f"{path} is corrupt: {e}") from None
        except _READ_ERRORS as e:
            raise _unreadable(path, e) from None


# -- loading into variables -------------------------------------------------------------
@dataclass
class LoadReport:
    """What :func:`load_params` or :func:`restore_state` did.

    ``loaded``: names set from the file; ``missing``: model names absent from
    the file; ``unexpected``: file names absent from the model;
    ``mismatched``: name -> (``'shape'`` or ``'dtype'``, description), not
    loaded; ``cast``: loaded names whose dtype was converted (allow_cast).
    Names filtered out by include/exclude appear nowhere.
    """

    source: str
    loaded: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    unexpected: list = field(default_factory=list)
    mismatched: dict = field(default_factory=dict)
    cast: list = field(default_factory=list)

    @property
    def complete(self):
        """True when the model and the file matched exactly."""
        return not (self.missing or self.unexpected or self.mismatched)

    def problems(self):
        """Aligned text lines, one per kind of problem (shape/dtype: one per name)."""
        lines = []
        if self.missing:
            lines.append("  missing in file    : " + ", ".join(self.missing))
        if self.unexpected:
            lines.append("  unexpected in file : " + ", ".join(self.unexpected))
        for name, (kind, detail) in self.mismatched.items():
            lines.append(f"  {kind + ' mismatch':<19}: {name}  {detail}")
        return lines

    def __str__(self):
        head = f"loaded {len(self.loaded)} array(s) from {self.source}"
        if self.cast:
            head += f" ({len(self.cast)} cast)"
        return "\n".join([head] + self.problems())

    def __repr__(self):
        extra = "" if self.complete else ", incomplete"
        return f"<LoadReport: {len(self.loaded)} loaded from {self.source}{extra}>"


def _selected(name, include, exclude):
    def patterns(p):
        return [p] if isinstance(p, str) else list(p)

    if include is not None and not any(fnmatch.fnmatchcase(name, p) for p in patterns(include)):
        return False
    return exclude is None or not any(fnmatch.fnmatchcase(name, p) for p in patterns(exclude))


def _convert(value, dtype, allow_cast):
    """(array of ``dtype``, None) or (None, reason it cannot be loaded)."""
    if value.dtype == dtype:
        return value, None
    detail = f"model {dtype}, file {value.dtype}"
    castable = np.can_cast(value.dtype, dtype, "same_kind")
    if not allow_cast:
        return None, detail + (" (pass allow_cast=True)" if castable else " (cannot be cast)")
    if not castable:
        return None, detail + f" (cannot be cast: {value.dtype} to {dtype} loses the kind)"
    with np.errstate(over="ignore", invalid="ignore"):  # detected just below
        converted = value.astype(dtype)
    if dtype.kind in "biu" and not np.array_equal(converted.astype(value.dtype), value):
        return None, detail + " (values out of range of the model's dtype)"
    if dtype.kind in "fc" and not np.array_equal(np.isfinite(converted),
                                                 np.isfinite(value)):
        return None, detail + " (values overflow the model's dtype)"
    return converted, None


def _match(variables, stored, source, what, strict, include, exclude, allow_cast, allow_empty):
    """Compare, then set every matching variable (none at all if strict and not complete)."""
    report = LoadReport(source)
    model = [n for n in variables if _selected(n, include, exclude)]
    report.missing = [n for n in model if n not in stored]
    report.unexpected = [n for n in stored if n not in variables and
                         _selected(n, include, exclude)]
    values = []
    for name in model:
        if name not in stored:
            continue
        var, value = variables[name], np.asarray(stored[name])
        have = np.shape(var.get_value(borrow=True))
        if have != value.shape:
            report.mismatched[name] = ("shape", f"model {have}, file {value.shape}")
            continue
        converted, problem = _convert(value, np.dtype(var.type.dtype), allow_cast)
        if problem:
            report.mismatched[name] = ("dtype", problem)
            continue
        if converted is not value:
            report.cast.append(f"{name} ({value.dtype} -> {converted.dtype})")
        values.append((name, var, converted))
    if strict and not report.complete:
        raise CheckpointMismatch(
            f"{source} does not match {what} (strict=True):\n" + "\n".join(report.problems())
            + "\nUse strict=False (with include=/exclude= patterns) to load only what matches.",
            report)
    if not values and not allow_empty:
        raise CheckpointMismatch(
            f"nothing was loaded from {source} into {what}: no name matched"
            + "".join("\n" + line for line in report.problems())
            + "\nPass allow_empty=True if that is intended.", report)
    if report.cast:
        warnings.warn(f"{source}: cast {len(report.cast)} array(s) to the model's dtype: "
                      + ", ".join(report.cast), stacklevel=3)
    if report.mismatched:
        warnings.warn(f"{source}: skipped {len(report.mismatched)} mismatched array(s) "
                      f"(strict=False): " + ", ".join(report.mismatched), stacklevel=3)
    for name, var, value in values:
        var.set_value(value)
        report.loaded.append(name)
    return report


def load_params(network_or_params, path, strict=True, include=None, exclude=None,
                allow_cast=False, allow_empty=False):
    """Set a network's parameters (or shared variables) from a checkpoint, by name.

    Parameters
    ----------
    network_or_params : layer, list of layers, list of shared variables or dict
        All parameters of a network (:func:`nnframe.layers.get_all_params`,
        batch-norm statistics included), or named shared variables.
    path : str, path-like or :class:`Checkpoint`
        A training checkpoint or a parameter export.
    strict : bool
        True: every model name must be in the file and every file name in the
        model, with equal shapes and dtypes; otherwise one
        :class:`CheckpointMismatch` lists every problem and nothing changes.
        False: load what matches and report the rest (mismatches warn).
    include, exclude : str or list of str, optional
        ``fnmatch`` patterns (``'enc*/W'``): only names matching ``include``
        and not ``exclude`` are considered, on both sides.
    allow_cast : bool
        Accept other dtypes of the same kind (float64 -> float32, int64 ->
        int32 when the values fit), with a warning.
    allow_empty : bool
        Do not raise when no array at all was loaded.

    Returns
    -------
    :class:`LoadReport`

    Examples
    --------
    >>> report = load_params(net, 'best.h5')                           # doctest: +SKIP
    >>> report = load_params(net, 'pretrained.h5', strict=False, exclude='out/*')  # doctest: +SKIP
    """
    ckpt = path if isinstance(path, Checkpoint) else load_checkpoint(path)
    variables = _named_variables(network_or_params, "load_params")
    return _match(variables, ckpt.params, ckpt.path, "the model", strict, include, exclude,
                  allow_cast, allow_empty)


def restore_state(variables, stored, strict=True, source="checkpoint", what="the optimizer state",
                  allow_cast=False, allow_empty=False):
    """Set shared variables (optimizer state, RNG state vectors) by name from a dict.

    ``stored`` is a dict name -> array such as ``Checkpoint.optim``; the
    checks and the all-at-once error are those of :func:`load_params`.
    ``source`` and ``what`` name both sides in messages.

    >>> ckpt = load_checkpoint('last.h5')                              # doctest: +SKIP
    >>> restore_state(updates.state, ckpt.optim, source=ckpt.path)     # doctest: +SKIP
    """
    named = _named_variables(variables, "restore_state")
    return _match(named, stored, source, what, strict, None, None, allow_cast,
                  allow_empty or not named)



# -- last.h5 and best.h5 ----------------------------------------------------------------
LAST, BEST = "last.h5", "best.h5"
_TEMP = re.compile(r".+\.h5\.tmp-(\d+)$")
_HISTORY = re.compile(r"ckpt-epoch(\d+)\.h5$")


def write_last(directory, **contents):
    """:func:`save_checkpoint` to ``<directory>/last.h5``; returns the path."""
    return save_checkpoint(os.path.join(directory, LAST), **contents)


def write_best(directory, **contents):
    """:func:`save_checkpoint` to ``<directory>/best.h5``; returns the path."""
    return save_checkpoint(os.path.join(directory, BEST), **contents)


def find_resume(directory):
    """The path of ``<directory>/last.h5`` when it exists (``--resume auto``), else None."""
    path = os.path.join(directory, LAST)
    return path if os.path.isfile(path) else None


def _link_or_copy(source, target):
    """Atomically make ``target`` a copy of ``source`` (a hard link where possible).

    Checkpoints are only ever replaced, never modified in place, so a hard
    link keeps the old contents when ``source`` is later replaced.
    """
    existed = os.path.exists(target)
    tmp = _temp_path(target)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        try:
            os.link(source, tmp)
        except OSError:  # a file system without hard links
            shutil.copyfile(source, tmp)
            _fsync_path(tmp)
        os.replace(tmp, target)
    except OSError as e:
        _remove_quietly(tmp)
        raise _write_error(target, e, existed) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(target)), target)


def _process_exists(pid):
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except OverflowError:  # no process has a pid that large
        return False
    except OSError:
        return True
    return True


class CheckpointManager:
    """``last.h5``, ``best.h5`` and the ``keep_last`` most recent epochs of a run.

    Every :meth:`save` replaces ``last.h5`` atomically.  With ``keep_last=k >
    1`` it is also kept as ``ckpt-epoch<NNNN>.h5`` (a hard link where the file
    system allows, so no extra space) and only the ``k`` newest of those
    remain.  Temporary files (``*.h5.tmp-<pid>``) left by a process that no
    longer runs (killed while writing) are removed when the manager is
    created.  A file the disk refuses raises :class:`CheckpointWriteError`.

    >>> import numpy as np, tempfile
    >>> manager = CheckpointManager(tempfile.mkdtemp(), keep_last=2)
    >>> for epoch in (1, 2, 3):
    ...     path = manager.save(params={'w': np.full(2, epoch)}, progress={'epoch': epoch},
    ...                         is_best=epoch == 2)
    >>> sorted(os.listdir(manager.directory))
    ['best.h5', 'ckpt-epoch0002.h5', 'ckpt-epoch0003.h5', 'last.h5']
    >>> load_checkpoint(manager.best_path).progress
    {'epoch': 2}
    >>> manager.find_resume() == manager.last_path
    True
    >>> manager.remove_checkpoints()                    # python -m nnframe.train --overwrite
    ['best.h5', 'ckpt-epoch0002.h5', 'ckpt-epoch0003.h5', 'last.h5']
    >>> manager.find_resume() is None
    True
    """

    def __init__(self, directory, keep_last=1):
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
            raise ValueError(f"keep_last must be an int >= 1, got {keep_last!r}")
        self.directory = os.fspath(directory)
        self.keep_last = keep_last
        try:
            os.makedirs(self.directory, exist_ok=True)
        except OSError as e:
            raise _write_error(self.directory, e, None,
                               "create the checkpoint directory") from None
        self._remove_stale_temporaries()

    @property
    def last_path(self):
        """``<directory>/last.h5``."""
        return os.path.join(self.directory, LAST)

    @property
    def best_path(self):
        """``<directory>/best.h5``."""
        return os.path.join(self.directory, BEST)

    def save(self, is_best=False, **contents):
        """Write ``last.h5`` (arguments of :func:`save_checkpoint`); with
        ``is_best`` also make ``best.h5`` a copy of it.  Returns the path of last.h5."""
        epoch = (contents.get("progress") or {}).get("epoch")
        if self.keep_last > 1 and not isinstance(epoch, (int, np.integer)):
            raise CheckpointError(f"CheckpointManager(keep_last={self.keep_last}) names files "
                                  f"by epoch: pass progress={{'epoch': ...}} (got {epoch!r})")
        path = save_checkpoint(self.last_path, **contents)
        if self.keep_last > 1:
            _link_or_copy(path, os.path.join(self.directory, f"ckpt-epoch{int(epoch):04d}.h5"))
            self._prune()
        if is_best:
            _link_or_copy(path, self.best_path)
        return path

    def save_best(self, **contents):
        """Write ``best.h5`` only (arguments of :func:`save_checkpoint`); returns its path."""
        return save_checkpoint(self.best_path, **contents)

    def find_resume(self):
        """``last.h5`` if it exists, else None."""
        return find_resume(self.directory)

    def remove_checkpoints(self):
        """Delete ``last.h5``, ``best.h5`` and every ``ckpt-epoch*.h5`` (``--overwrite``);
        returns the names removed, sorted.  Other files of the directory stay."""
        self._remove_stale_temporaries()
        names = sorted(n for n in self._names() if n in (LAST, BEST) or _HISTORY.match(n))
        for name in names:
            self._remove(name)
        return names

    def _names(self):
        try:
            return os.listdir(self.directory)
        except FileNotFoundError:  # removed behind our back: nothing in it
            return []

    def _remove(self, name):
        path = os.path.join(self.directory, name)
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise _write_error(path, e, None, "remove the old checkpoint") from None

    def _prune(self):
        history = sorted((int(m.group(1)), m.group(0)) for m in
                         map(_HISTORY.match, self._names()) if m)
        for _, name in history[:-self.keep_last]:
            self._remove(name)

    def _remove_stale_temporaries(self):
        """Remove the ``*.h5.tmp-<pid>`` files of processes that no longer run.

        (A live process with a reused pid keeps its file until the next run.)
        """
        if os.name != "posix":
            return
        for name in self._names():
            m = _TEMP.match(name)
            if m and int(m.group(1)) != os.getpid() and not _process_exists(int(m.group(1))):
                _remove_quietly(os.path.join(self.directory, name))

    def remove_temporaries(self):
        """Remove every ``*.h5.tmp-<pid>`` file, whoever left it: for a caller that knows no
        other process writes here (the runner holds the run directory's lock).  Needed where
        pids are reused at once, as in containers whose trainer is always pid 1."""
        for name in self._names():
            if _TEMP.match(name):
                _remove_quietly(os.path.join(self.directory, name))
