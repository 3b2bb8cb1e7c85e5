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

File layout (format_version 1)
------------------------------
::

    /                        attrs: format="nnframe-checkpoint", format_version=1,
                                    nnframe_version, created_utc (ISO 8601), floatX,
                                    kind="training"|"params", conv_kernel_layout="oihw"
    /params/<name>           one dataset per parameter in its own dtype; the name is
                             hierarchical (enc1/W -> group params/enc1, dataset W);
                             attrs: tags ("regularizable,trainable"), index (order),
                             sha256 (of the data, checked on load)
    /optim/<name>            optimizer state (enc1/W/adam/m, adam/t), attrs: index, sha256;
                             group attrs: rule, hyperparameters (JSON text)
    /progress                attrs: the int, float, bool and short str values of the
                             trainer's progress dict (epoch, step, best metric ...);
                             datasets: every other value as JSON text
    /rng/<name>              JSON text datasets (numpy bit_generator.state dicts;
                             128-bit integers are exact in JSON)
    /rng/arrays/<name>       arrays (RandomStream uint64 state vectors), attrs: index, sha256
    /recipe/original         the recipe as written (UTF-8 text dataset)
    /recipe/resolved         the recipe with defaults and overrides (UTF-8 text)
    /env                     attrs: python, numpy, h5py, hdf5, platform

Text is stored in datasets, not attributes (HDF5 attributes should stay small).
JSON values may contain NumPy scalars and integer/float arrays (arrays come back
as arrays, e.g. an MT19937 key).  A file is written to ``<path>.tmp-<pid>``,
fsynced, closed and renamed over ``<path>``, then the directory is fsynced: a
crash leaves either the old file or the new one at ``path``, never half of one.

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
import hashlib
import json
import os
import platform
import re
import shutil
import warnings
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

__all__ = ["CheckpointError", "CheckpointMismatch", "Checkpoint", "LoadReport",
           "save_checkpoint", "load_checkpoint", "save_params", "load_params",
           "restore_state", "CheckpointManager", "write_last", "write_best", "find_resume",
           "FORMAT", "FORMAT_VERSION"]

FORMAT = "nnframe-checkpoint"
FORMAT_VERSION = 1
KINDS = ("training", "params")
_KNOWN_GROUPS = {"params", "optim", "progress", "rng", "recipe", "env"}
_NUMERIC_KINDS = "biufc"
#: longer strings in ``progress`` go to a JSON dataset instead of an attribute
_MAX_ATTR_STR = 1024
#: what h5py, NumPy and json raise for a damaged file: h5py's (RecursionError, a
#: RuntimeError, for absurdly nested JSON) and AttributeError for a value of the wrong kind
_READ_ERRORS = HDF5_READ_ERRORS + (AttributeError,)


class CheckpointError(ValueError):
    """A file that is not a readable nnframe checkpoint, or contents that cannot be saved."""


class CheckpointMismatch(CheckpointError):
    """Stored values that do not fit the model; ``report`` is the :class:`LoadReport`."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


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


def _check_names(names, what):
    """Names become HDF5 paths: non-empty parts, and no name may be a group of another."""
    for name in names:
        if not isinstance(name, str) or any(part in ("", ".", "..") for part in name.split("/")):
            raise CheckpointError(f"{what}: {name!r} is not a valid name (use non-empty parts "
                                  "separated by '/', like 'enc1/W')")
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
            tags.update((id(p), ",".join(sorted(t))) for p, t in layer.params.items())
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


def _json_object(obj):
    if set(obj) == {"__ndarray__", "dtype", "shape"}:
        return np.array(obj["__ndarray__"], dtype=obj["dtype"]).reshape(obj["shape"])
    return obj


def _to_json(value, what):
    try:
        return json.dumps(value, default=_json_default, ensure_ascii=False)
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{what} cannot be saved: {e}") from None


def _from_json(text):
    return json.loads(text, object_hook=_json_object)


# -- preparing and writing --------------------------------------------------------------
def _prepare_progress(progress):
    """Split progress into native attributes and JSON text (everything else)."""
    attrs, texts = {}, {}
    for key, value in (progress or {}).items():
        if not isinstance(key, str) or not key or "/" in key or key in (".", ".."):
            raise CheckpointError(f"progress key {key!r}: keys must be non-empty strings "
                                  "without '/'")
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool):
            attrs[key] = np.bool_(value)
        elif isinstance(value, int) and -2**63 <= value < 2**63:
            attrs[key] = np.int64(value)
        elif isinstance(value, float):
            attrs[key] = np.float64(value)
        elif isinstance(value, str) and len(value) <= _MAX_ATTR_STR:
            attrs[key] = value
        else:
            texts[key] = _to_json(value, f"progress[{key!r}]")
    return attrs, texts


def _prepare_optim_info(optim_info):
    info = dict(optim_info or {})
    unknown = set(info) - {"rule", "hyperparameters"}
    if unknown:
        raise CheckpointError(f"optim_info has unknown keys {sorted(unknown)}; it takes 'rule' "
                              "(str) and 'hyperparameters' (a JSON-able dict)")
    attrs = {}
    if info.get("rule") is not None:
        attrs["rule"] = str(info["rule"])
    if info.get("hyperparameters") is not None:
        attrs["hyperparameters"] = _to_json(info["hyperparameters"],
                                            "optim_info['hyperparameters']")
    return attrs


def _prepare_rng(rng):
    """[(name, json text)] and [(name, array, attrs)] of the RNG states."""
    texts, arrays = [], {}
    for name, value in (rng or {}).items():
        if isinstance(value, np.ndarray) or _is_shared(value):
            arrays[name] = value
        else:
            texts.append((name, _to_json(value, f"rng[{name!r}]")))
    _check_names([n for n, _ in texts], "rng")
    clash = [n for n, _ in texts if n == "arrays" or n.startswith("arrays/")]
    if clash:
        raise CheckpointError(f"rng: the name {clash[0]!r} is reserved for array states")
    return texts, _collect_arrays(arrays, "rng")


def _digest(array):
    return hashlib.sha256(array.tobytes()).hexdigest()


def _write_arrays(group, entries):
    for index, (name, array, attrs) in enumerate(entries):
        dataset = group.create_dataset(name, data=array)
        dataset.attrs["index"] = np.int64(index)
        dataset.attrs["sha256"] = _digest(array)
        for key, value in attrs.items():
            dataset.attrs[key] = value


def _write_text(group, name, text):
    group.create_dataset(name, data=text, dtype=_h5py().string_dtype("utf-8"))


def _write_contents(f, c):
    f.attrs.update({"format": FORMAT, "format_version": np.int64(FORMAT_VERSION),
                    "nnframe_version": __version__, "floatX": config.floatX,
                    "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds")
                    .replace("+00:00", "Z"), "kind": c["kind"], "conv_kernel_layout": "oihw"})
    _write_arrays(f.create_group("params", track_order=True), c["params"])
    if c["optim"] or c["optim_info"]:
        optim = f.create_group("optim", track_order=True)
        optim.attrs.update(c["optim_info"])
        _write_arrays(optim, c["optim"])
    if c["progress"][0] or c["progress"][1]:
        progress = f.create_group("progress", track_order=True)
        progress.attrs.update(c["progress"][0])
        for key, text in c["progress"][1].items():
            _write_text(progress, key, text)
    if c["rng"][0] or c["rng"][1]:
        rng = f.create_group("rng", track_order=True)
        for index, (name, text) in enumerate(c["rng"][0]):
            _write_text(rng, name, text)
            rng[name].attrs["index"] = np.int64(index)
        if c["rng"][1]:
            _write_arrays(rng.create_group("arrays", track_order=True), c["rng"][1])
    recipes = {k: c[k] for k in ("original", "resolved") if c[k] is not None}
    if recipes:
        recipe = f.create_group("recipe", track_order=True)
        for key, text in recipes.items():
            _write_text(recipe, key, text)
    h5py = _h5py()
    f.create_group("env").attrs.update({
        "python": platform.python_version(), "numpy": np.__version__,
        "h5py": h5py.__version__, "hdf5": h5py.version.hdf5_version,
        "platform": platform.platform()})


def _fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory):
    # Makes the rename itself durable; directories cannot be opened on Windows.
    if os.name == "posix":
        _fsync_path(directory)


def _temp_path(path):
    return f"{path}.tmp-{os.getpid()}"


def _atomic_write(path, write):
    """Call ``write(h5py_file)`` on a temporary file that then replaces ``path``."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, "cannot write the checkpoint: no such directory",
                                directory)
    tmp = _temp_path(path)
    try:
        with _h5py().File(tmp, "w", track_order=True) as f:
            write(f)
            f.flush()
        _fsync_path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_dir(directory)


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
        text (exact big integers); arrays and shared variables (RandomStream
        states) as arrays.
    recipe_original, recipe_resolved : str, optional
        The recipe text as written and as resolved.
    kind : 'training' or 'params'
    optim_info : dict, optional
        ``{"rule": "adam", "hyperparameters": {...}}``.

    Returns
    -------
    str : ``path``.

    Examples
    --------
    >>> import numpy as np
    >>> save_checkpoint('last.h5', {'enc1/W': np.zeros((2, 3), 'float32')},
    ...                 progress={'epoch': 3, 'step': 120})             # doctest: +SKIP
    """
    if kind not in KINDS:
        raise CheckpointError(f"kind must be one of {KINDS}, got {kind!r}")
    for what, text in (("recipe_original", recipe_original), ("recipe_resolved", recipe_resolved)):
        if text is not None and not isinstance(text, str):
            raise CheckpointError(f"{what} must be a str (the recipe text), got "
                                  f"{type(text).__name__}")
    # Everything is checked and converted before the file is created.
    contents = {"kind": kind, "params": _collect_arrays(params, "params", with_tags=True),
                "optim": _collect_arrays(optim, "optim"),
                "optim_info": _prepare_optim_info(optim_info),
                "progress": _prepare_progress(progress), "rng": _prepare_rng(rng),
                "original": recipe_original, "resolved": recipe_resolved}
    path = os.fspath(path)
    _atomic_write(path, lambda f: _write_contents(f, contents))
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
    """An attribute as a Python value (h5py gives NumPy scalars)."""
    return value.item() if isinstance(value, np.generic) else value


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


def _read_array(dataset):
    array = np.asarray(_checked(dataset)[()])
    if array.dtype.kind not in _NUMERIC_KINDS:
        raise CheckpointError(f"{dataset.name} has dtype {array.dtype}, not a numeric array")
    # HDF5 does not checksum raw data: a flipped bit would go unnoticed.
    if "sha256" in dataset.attrs and _digest(array) != dataset.attrs["sha256"]:
        raise CheckpointError(f"{dataset.name}: the data do not match their checksum")
    return array


def _read_recipe(group, name, path):
    if group is None or check_link(group, name, path, CheckpointError) is None:
        return None
    dataset = get_dataset(group, name, path, CheckpointError)
    if dataset is None:
        raise CheckpointError(f"{group.name}/{name} is not a text dataset (a group or a "
                              "dangling link)")
    return _text(dataset)


def _read_contents(f, path):
    """The :class:`Checkpoint` in ``f``, opened (and checked as a whole) by :func:`_open`."""
    unknown = sorted(set(f) - _KNOWN_GROUPS)
    if unknown:
        warnings.warn(f"{path}: ignoring unknown groups {unknown} (written by a newer nnframe?)",
                      stacklevel=3)
    params = f.get("params")
    optim, progress, rng, recipe = (f.get(k) for k in ("optim", "progress", "rng", "recipe"))
    progress_values = {} if progress is None else {k: _attr(v) for k, v in progress.attrs.items()}
    progress_values.update(_read_tree(progress, lambda d: _from_json(_text(d))))
    optim_info = {} if optim is None else dict(optim.attrs)
    if "hyperparameters" in optim_info:
        optim_info["hyperparameters"] = _from_json(optim_info["hyperparameters"])
    states = _read_tree(rng, lambda d: _from_json(_text(d)), skip="arrays")
    states.update(_read_tree(None if rng is None else rng.get("arrays"), _read_array))
    attrs = {k: _attr(v) for k, v in f.attrs.items()}
    return Checkpoint(
        path=path, kind=attrs.get("kind"), params=_read_tree(params, _read_array),
        tags=_read_tree(params, lambda d: tuple(t for t in str(d.attrs.get("tags", ""))
                                                .split(",") if t)),
        optim=_read_tree(optim, _read_array), optim_info=optim_info,
        progress=progress_values, rng=states,
        recipe_original=_read_recipe(recipe, "original", path),
        recipe_resolved=_read_recipe(recipe, "resolved", path),
        nnframe_version=attrs.get("nnframe_version"), floatX=attrs.get("floatX"),
        format_version=attrs.get("format_version"), created_utc=attrs.get("created_utc"),
        env={k: _attr(v) for k, v in f["env"].attrs.items()} if "env" in f else {})


def _open(path):
    """The open h5py file, after checking it is an nnframe checkpoint we can read."""
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
        _check_header(f, path)
        # Before any data is read: no links to other files, no data stored in other files,
        # no declared array larger than config.max_array_bytes, anywhere in the file.
        walk_datasets(f, path, CheckpointError)
    except CheckpointError:
        f.close()
        raise
    except _READ_ERRORS as e:
        f.close()
        raise CheckpointError(f"{path}: cannot read the checkpoint ({type(e).__name__}: {e}); "
                              "the file may be corrupt or truncated") from None
    except BaseException:
        f.close()
        raise
    return f


def _check_header(f, path):
    """Raise CheckpointError unless the root attributes say: an nnframe checkpoint we read."""
    fmt = _attr(f.attrs.get("format"))
    if fmt != FORMAT:
        what = "no 'format' attribute" if fmt is None else f"its format is {fmt!r}"
        raise CheckpointError(f"{path} is not an nnframe checkpoint ({what}); it may be "
                              "corrupt or from another program")
    version = _attr(f.attrs.get("format_version"))
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format_version {version!r} (written by nnframe "
            f"{_attr(f.attrs.get('nnframe_version'))}); this nnframe ({__version__}) "
            f"reads format_version {FORMAT_VERSION} and older: upgrade nnframe")


def load_checkpoint(path):
    """Read a whole checkpoint file into a :class:`Checkpoint`.

    Raises FileNotFoundError for a missing file and :class:`CheckpointError`
    for anything that is not a readable nnframe checkpoint (random bytes, a
    truncated file, an HDF5 file of another program, a newer format).

    >>> ckpt = load_checkpoint('runs/mlp/last.h5')                     # doctest: +SKIP
    >>> ckpt.progress['epoch'], list(ckpt.params)                      # doctest: +SKIP
    (12, ['dense1/W', 'dense1/b', ...])
    """
    path = os.fspath(path)
    with _open(path) as f:
        try:
            return _read_contents(f, path)
        except CheckpointError as e:
            raise CheckpointError(f"{path} is corrupt: {e}") from None
        except _READ_ERRORS as e:
            raise CheckpointError(f"{path}: cannot read the checkpoint ({type(e).__name__}: "
                                  f"{e}); the file may be corrupt") from None


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
    tmp = _temp_path(target)
    try:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
            _fsync_path(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_dir(os.path.dirname(os.path.abspath(target)))


def _process_exists(pid):
    try:
        os.kill(pid, 0)  # signal 0 only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


class CheckpointManager:
    """``last.h5``, ``best.h5`` and the ``keep_last`` most recent epochs of a run.

    Every :meth:`save` replaces ``last.h5`` atomically.  With ``keep_last=k >
    1`` it is also kept as ``ckpt-epoch<NNNN>.h5`` (a hard link where the file
    system allows, so no extra space) and only the ``k`` newest of those
    remain.  Temporary files left by a killed process are removed when the
    manager is created.

    >>> manager = CheckpointManager('runs/mlp', keep_last=3)            # doctest: +SKIP
    >>> manager.save(params=net, progress={'epoch': 4}, is_best=True)  # doctest: +SKIP
    >>> manager.find_resume()                                          # doctest: +SKIP
    'runs/mlp/last.h5'
    """

    def __init__(self, directory, keep_last=1):
        if isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 1:
            raise ValueError(f"keep_last must be an int >= 1, got {keep_last!r}")
        self.directory = os.fspath(directory)
        self.keep_last = keep_last
        os.makedirs(self.directory, exist_ok=True)
        self._remove_stale_temporaries()

    @property
    def last_path(self):
        return os.path.join(self.directory, LAST)

    @property
    def best_path(self):
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
        """Write ``best.h5`` only; returns its path."""
        return save_checkpoint(self.best_path, **contents)

    def find_resume(self):
        """``last.h5`` if it exists, else None."""
        return find_resume(self.directory)

    def _prune(self):
        history = sorted((int(m.group(1)), m.group(0)) for m in
                         map(_HISTORY.match, os.listdir(self.directory)) if m)
        for _, name in history[:-self.keep_last]:
            os.remove(os.path.join(self.directory, name))

    def _remove_stale_temporaries(self):
        if os.name != "posix":
            return
        for name in os.listdir(self.directory):
            m = _TEMP.match(name)
            if m and int(m.group(1)) != os.getpid() and not _process_exists(int(m.group(1))):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(os.path.join(self.directory, name))
