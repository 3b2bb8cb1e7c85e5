"""Pre-flight checks: the data against the model, before anything is trained.

:func:`preflight` runs at the end of :func:`nnframe.train.trainer.prepare`, so
``python -m nnframe.train RECIPE --check`` and a training run both run it: a
recipe that ``--check`` calls OK starts training, and one that cannot train
fails before its first epoch with a message saying what to change.

It checks, in this order:

1. the data itself (:class:`~nnframe.train.errors.DataError`, naming the
   file, the array, the first bad row and how many rows are bad):
   non-finite values (NaN, Inf) in the inputs, the targets or the mask, and
   labels a classification loss cannot use (negative, past
   ``num_classes``, not whole numbers, binary targets outside [0, 1]);
2. the recipe against the data (:class:`~nnframe.train.recipe.RecipeErrors`,
   every problem at the recipe key to change): an empty training split,
   ``train.drop_last`` with a batch larger than the training split, an input
   ``dtype`` the model cannot take, ``top_k_accuracy`` with ``k`` above the
   number of classes, and a model whose outputs do not fit the targets (too
   few output units for the classes, other shapes);
3. the model and its loss, run (deterministic) on the first two training
   examples: this finds what the static shape inference cannot (a
   ``reshape`` to ``[-1, 1, 7, 7]`` of 32 values, a layer that drops the
   batch axis), at the layer that fails, and a loss the trainer could not
   compute or that is NaN/Inf before any training (``categorical_crossentropy``
   on linear outputs).  It costs 0.04-0.12 s for the shipped recipes.

Rows are counted in the dataset as loaded (the order of its file), before it
is split:

>>> bad = np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, np.inf]])
>>> bad_rows(~np.isfinite(bad))
(1, 2)
"""
import math

import numpy as np

from nnframe import config, function, layers
from nnframe.train import registry
from nnframe.train.errors import DataError
from nnframe.train.model import loss_expression, target_variable
from nnframe.train.recipe import RecipeError, RecipeErrors, format_path

__all__ = ["preflight", "check_data", "recipe_problems", "output_problems", "check_forward",
           "empty_train_split", "bad_rows", "CLASS_INDEX_LOSSES", "BINARY_LOSSES"]


def _losses(targets):
    return tuple(name for name, entry in registry.LOSSES.items() if entry.targets == targets)


#: Losses whose 1-D label targets are class indices ``0 .. C-1`` (one output per class).
CLASS_INDEX_LOSSES = _losses("class_indices")
#: Losses whose targets are probabilities in [0, 1], one per output unit.
BINARY_LOSSES = _losses("probabilities")
#: Layer types whose output has as many features as their input's: to find the layer that
#: sets the model's output width, look past these.
_WIDTH_KEEPING = ("dropout", "gaussian_noise", "nonlinearity", "batchnorm", "lrn")
#: How many training examples the forward pass runs on: two, so that a layer that mixes or
#: drops the batch axis shows.
FORWARD_EXAMPLES = 2


def preflight(p):
    """Check the data of the prepared run ``p`` against its model; raise on the first kind
    of problem found.

    ``p`` is what :func:`nnframe.train.trainer.prepare` builds (``recipe``,
    ``resolved``, ``dataset``, ``splits``, ``model``).  Raises
    :class:`~nnframe.train.errors.DataError` for data at fault, then
    :class:`~nnframe.train.recipe.RecipeErrors` listing every recipe problem
    found; returns None when training can start.

    >>> from nnframe.train import trainer
    >>> preflight(trainer.prepare('recipes/mlp_digits.yaml'))  # doctest: +SKIP
    """
    check_data(p)
    errors = recipe_problems(p)
    if errors:
        raise RecipeErrors(errors)
    check_forward(p)


def _error(p, message, path):
    return RecipeError(message, path, p.recipe.where(path))


# -- 1. the data --------------------------------------------------------------------------
def bad_rows(bad):
    """``(first row, number of rows)`` where the boolean array ``bad`` holds a True (rows
    along axis 0), or None when it holds none.

    >>> bad_rows(np.array([False, True, True]))
    (1, 2)
    >>> bad_rows(np.zeros((3, 2), bool)) is None
    True
    """
    per_row = bad.reshape(len(bad), -1).any(axis=1)
    rows = np.flatnonzero(per_row)
    return (int(rows[0]), len(rows)) if len(rows) else None


def _all_finite(a):
    """Whether the array ``a`` holds only finite values (anything not a float is).

    The fast path is one sum in the array's own dtype: it allocates nothing, and
    a NaN or Inf makes it non-finite (on MNIST-sized data, 60000 x 784 float32,
    12 ms against 23 ms for ``np.isfinite(a).all()``).  A sum that overflows
    (large finite values) is confirmed block by block, in bounded memory.
    """
    if a.dtype.kind not in "fc":
        return True                     # integers, booleans: always finite
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(a.sum()):
            return True
    flat = a.reshape(-1)
    return all(np.isfinite(flat[i:i + _BLOCK]).all() for i in range(0, len(flat), _BLOCK))


#: Values per block of the exact finiteness check (4 MiB of booleans at a time).
_BLOCK = 1 << 22


#: The loader arguments that name the file of each array, where it is not ``path``.
_FILE_KEYS = {"idx": {"x": "images", "y": "labels"}}
_WORDS = {"x": "inputs", "y": "targets", "mask": "mask"}


class _Array:
    """One array of the dataset as the user knows it, to name it in a message: which
    array (``x``, ``y``, ``mask``) of which set (the training file's, or a held-out
    ``test``/``valid`` set), its key in the file, the file, and the recipe key."""

    def __init__(self, p, role, part=None):
        self.p, self.role, self.part = p, role, part
        spec = p.resolved["data"]["dataset"]
        key = _FILE_KEYS.get(spec["type"], {}).get(role, role)
        # the held-out sets' arguments: test_x, valid_y (idx: test_images, test_labels)
        self.argument = f"{part}_{key}" if part else key
        self.spec = spec

    @property
    def text(self):
        """e.g. ``the inputs (x: array 'x_train') of data/train.npz``."""
        word, kind, spec = _WORDS[self.role], self.spec["type"], self.spec
        which = f"{self.part} {word}" if self.part else word
        if kind in ("npz", "hdf5"):
            member = "array" if kind == "npz" else "dataset"
            return (f"the {which} ({self.argument}: {member} {spec.get(self.argument)!r}) of "
                    f"{spec['path']}")
        if kind in _FILE_KEYS and spec.get(self.argument) is not None:
            return f"the {which} ({self.role}) of {spec[self.argument]}"
        return f"the {which} ({self.role}) of the {self.p.dataset.name} dataset"

    def error(self, message):
        """A DataError at the recipe key of this array (``data.dataset.x`` when the recipe
        names it, else ``data.dataset``), starting with :attr:`text`."""
        path = ("data", "dataset") + ((self.argument,) if self.argument in self.spec else ())
        return DataError(f"{self.p.recipe.where(path)}: {format_path(path)}: {self.text} "
                         f"{message}")


def _check_finite(array, a):
    if a is None or _all_finite(a):
        return
    bad = ~np.isfinite(a)
    first, count = bad_rows(bad)
    value = np.asarray(a[first])[np.asarray(bad[first])].flat[0]
    shown = "NaN" if np.isnan(value) else ("Inf" if value.real > 0 else "-Inf")
    verb = "holds" if array.role == "mask" else "hold"
    overflow = ""
    if shown != "NaN" and a.dtype.kind == "f" and a.dtype.itemsize < 8:
        # the loader casts to float32: a finite value of the file may have become Inf
        overflow = (f" (a value beyond +-{np.finfo(a.dtype).max:.3g} becomes Inf in "
                    f"{a.dtype})")
    raise array.error(f"{verb} non-finite values: {shown} in row {first} ({count} "
                      f"row{'s' if count > 1 else ''} in all){overflow}; clean or drop those "
                      "rows")


def _check_class_indices(array, y, loss, classes):
    """1-D labels of a classification loss: whole numbers in ``0 .. classes - 1``."""
    if y.dtype.kind not in "iuf":
        raise array.error(f"have dtype {y.dtype}, but a {loss} loss needs integer class "
                          "indices 0, 1, 2, ...: store the classes as integers")
    if y.dtype.kind == "f":
        fractional = bad_rows(y != np.round(y))
        if fractional:
            first, count = fractional
            raise array.error(f"must be class indices 0, 1, 2, ... for a {loss} loss, but "
                              f"row {first} holds {y[first].item()!r} ({count} row(s) in all "
                              "hold no whole number); fix those labels")
        raise array.error(f"are floats ({y.dtype}); a {loss} loss needs integer class "
                          "indices: store them as integers (y.astype('int64'))")
    negative = bad_rows(y < 0)
    if negative:
        first, count = negative
        raise array.error(f"must be class indices 0, 1, 2, ..., but row {first} holds "
                          f"{y[first].item()} ({count} negative label(s) in all); number the "
                          "classes from 0")
    beyond = bad_rows(y >= classes) if classes is not None else None
    if beyond:
        first, count = beyond
        raise array.error(f"must be class indices 0..{classes - 1} (the dataset has "
                          f"num_classes {classes}), but row {first} holds {y[first].item()} "
                          f"({count} row(s) in all); raise num_classes or fix those labels")


def _check_probabilities(array, y, loss):
    """Targets of a binary crossentropy: numbers in [0, 1] (labels 0 and 1)."""
    if y.dtype.kind not in "iuf":
        raise array.error(f"have dtype {y.dtype}, but a {loss} loss needs numbers in [0, 1]")
    if y.dtype.kind in "iu" and y.ndim == 1 and y.min(initial=0) >= 0:
        return      # integer class labels: _binary_label_problems says whether they fit
    outside = bad_rows((y < 0) | (y > 1))
    if outside:
        first, count = outside
        row = np.asarray(y[first])
        value = row[(row < 0) | (row > 1)].flat[0]
        raise array.error(f"of a {loss} loss must lie in [0, 1], but row {first} holds "
                          f"{value.item()!r} ({count} row(s) in all); rescale them or fix "
                          "those rows")


def _check_labels(p, array, y):
    loss = p.resolved["loss"]["type"]
    if loss in CLASS_INDEX_LOSSES and y.ndim == 1:
        _check_class_indices(array, y, loss, p.dataset.num_classes)
    elif loss in BINARY_LOSSES:
        _check_probabilities(array, y, loss)


def _sets(p):
    """``(part, Dataset)`` of every set of examples the data source gave: the training
    file's (part None), then its own held-out sets (``test_x``...), if any."""
    held_out = getattr(p.dataset, "held_out", None) or {}
    return [(None, p.dataset)] + list(held_out.items())


def check_data(p):
    """Raise :class:`DataError` for values training cannot use: NaN or Inf anywhere, or
    labels the loss cannot take.  Rows are those of the arrays as stored."""
    for part, data in _sets(p):
        for role in ("x", "y", "mask"):
            values = getattr(data, role)
            _check_finite(_Array(p, role, part), None if values is None else np.asarray(values))
    if p.resolved["loss"]["target"] != "labels":
        return
    for part, data in _sets(p):
        if data.y is not None:
            _check_labels(p, _Array(p, "y", part), np.asarray(data.y))


# -- 2. the recipe against the data --------------------------------------------------------
def empty_train_split(splits, dataset, recipe):
    """A :class:`RecipeError` when ``splits`` give the training set no example, else None.

    The trainer may call it right after splitting, before anything is fitted on
    the training split (a standardiser cannot be fitted on no examples).
    """
    train = splits.get("train")
    if train is not None and len(train) > 0:
        return None
    path = ("data", "split", "train")
    return RecipeError(f"the training split is empty (0 of the {len(dataset)} examples of "
                       f"{dataset.name!r}): give train a fraction > 0 or a count >= 1",
                       path, recipe.where(path))


def _batch_problems(p):
    """``drop_last`` with a batch larger than the training split trains nothing."""
    train = p.resolved["train"]
    n = len(p.splits["train"])
    if train["drop_last"] and train["batch_size"] > n:
        return [_error(p, f"{train['batch_size']} is larger than the training split ({n} "
                          "examples), and with drop_last: true no batch would be trained: "
                          f"choose a batch_size of at most {n}, or drop_last: false",
                       ("train", "batch_size"))]
    return []


def _dtype_problems(p):
    """The inputs must be floats the model's ``config.floatX`` input takes without loss."""
    # the dtype as loaded, then as trained (standardize: keeps a float dtype)
    stored, trained = p.dataset.x.dtype, p.splits["train"].x.dtype
    float_x = np.dtype(config.floatX)
    if stored.kind != "f":
        why = f"the inputs have dtype {stored}, not a float type"
    elif not np.can_cast(trained, float_x, "safe"):
        why = f"the inputs have dtype {trained}, wider than the model's {float_x}"
    else:
        return []
    spec = p.resolved["data"]["dataset"]
    path = ("data", "dataset", "dtype") if spec.get("dtype") is not None else ("data", "dataset")
    return [_error(p, f"{why}: the model takes {float_x} inputs (config.floatX); use dtype: "
                      f"{float_x} (or leave dtype out)", path)]


def _num_classes(p):
    """The number of classes of the labels, or None (not class labels)."""
    y = p.dataset.y
    if p.resolved["loss"]["target"] != "labels" or y is None or np.ndim(y) != 1:
        return None
    return p.dataset.num_classes


def _metric_problems(p):
    classes = _num_classes(p)
    if classes is None:
        return []
    problems = []
    for i, metric in enumerate(p.resolved["metrics"]):
        if metric["type"] == "top_k_accuracy" and metric["k"] > classes:
            problems.append(_error(p, f"k: {metric['k']} is more than the {classes} classes "
                                      f"of the labels: choose k <= {classes}",
                                   ("metrics", i, "k")))
    return problems


def _width_layer(p):
    """``(index, spec)`` of the recipe layer that sets the model's output width (the last
    one, looking past dropout and the like), or None for a model builder."""
    specs = p.resolved["model"]["layers"]
    if not specs:
        return None
    k = len(specs) - 1
    while k > 0 and specs[k]["type"] in _WIDTH_KEEPING:
        k -= 1
    return k, specs[k]


def _output_path(p, width_key=True):
    """The recipe key to change for the model's output: the width of its last layer."""
    found = _width_layer(p)
    if found is None:
        return ("model", "builder")
    k, spec = found
    if width_key and spec["type"] in ("dense", "lstm", "gru", "recurrent"):
        return ("model", "layers", k, "num_units")
    if width_key and spec["type"] in ("conv1d", "conv2d", "transposed_conv2d"):
        return ("model", "layers", k, "num_filters")
    return ("model", "layers", k)


def _layer_text(p):
    found = _width_layer(p)
    if found is None:
        return f"the model ({p.resolved['model']['builder']['type']})"
    k, spec = found
    name = f" {spec['name']!r}" if spec.get("name") else ""
    last = "the last layer" if k == len(p.resolved["model"]["layers"]) - 1 else \
        "the layer that sets the output width"
    return f"{last} ({spec['type']}{name})"


def _fix_width(p, units):
    """How to make the model give ``units`` outputs per example."""
    path = _output_path(p)
    if path[-1] in ("num_units", "num_filters"):
        return f"set {path[-1]}: {units}"
    return f"end the model with {{type: dense, num_units: {units}}}"


def _class_output_problems(p, out_shape):
    """Class-index labels: outputs (batch, C) with C at least the number of classes."""
    loss = p.resolved["loss"]["type"]
    classes = p.dataset.num_classes
    if len(out_shape) != 2:
        return [_error(p, f"the model's output has shape {out_shape}, but {loss} on class "
                          "labels needs (batch, classes): flatten it or end with a dense "
                          f"layer of {classes} units", _output_path(p, width_key=False))]
    units = out_shape[1]
    if units is not None and classes is not None and units < classes:
        return [_error(p, f"{_layer_text(p)} has {units} output unit{'s' if units > 1 else ''}, "
                          f"but the labels have {classes} classes (0..{classes - 1}): "
                          f"{_fix_width(p, classes)}", _output_path(p))]
    return []


def _binary_label_problems(p, out_shape):
    """Integer labels of a binary crossentropy: 0/1 labels, one output unit."""
    loss = p.resolved["loss"]["type"]
    classes = int(np.max(p.dataset.y, initial=0)) + 1
    if classes > 2:
        return [_error(p, f"{loss} takes 0/1 labels, but the labels have {classes} classes "
                          f"(0..{classes - 1}): use categorical_crossentropy_from_logits "
                          f"(with {classes} output units), or give one-hot targets of shape "
                          f"(n, {classes})", ("loss", "type"))]
    if tuple(out_shape[1:]) not in ((), (1,)):
        return [_error(p, f"{_layer_text(p)} gives outputs of shape {tuple(out_shape[1:])} "
                          f"per example, but {loss} on 0/1 labels needs one output unit: "
                          f"{_fix_width(p, 1)}", _output_path(p))]
    return []


def _shapes_differ(have, want):
    """Whether per-example shapes differ where both are known (None: unknown length)."""
    return len(have) != len(want) or any(a is not None and b is not None and a != b
                                         for a, b in zip(have, want))


def _target_shape_problems(p, out_shape, target, what):
    """Elementwise targets: outputs of the targets' per-example shape (a vector of
    targets goes with one output unit)."""
    have, want = tuple(out_shape[1:]), tuple(target.shape[1:])
    if want == () and have in ((), (1,)):
        return []
    if not _shapes_differ(have, want):
        return []
    # one number per example, or a vector of them: the width of the last layer sets it
    units = (want or (1,))[0] if len(want) <= 1 and len(have) == 1 else None
    fix = (_fix_width(p, units) if units is not None else
           "change the model so that it gives that shape")
    are = "are one number" if want == () else f"have shape {want}"
    return [_error(p, f"{_layer_text(p)} gives outputs of shape {have} per example, but "
                      f"{what} {are} per example, and the loss "
                      f"{p.resolved['loss']['type']} compares them element by element: {fix}",
                   _output_path(p, width_key=units is not None))]


def output_problems(p, out_shape):
    """Recipe errors where outputs of shape ``out_shape`` (batch first) do not fit the
    targets of the loss."""
    loss = p.resolved["loss"]
    if loss["target"] == "inputs":
        return _target_shape_problems(p, out_shape, p.splits["train"].x,
                                      "the inputs (loss.target: inputs)")
    y = np.asarray(p.dataset.y)
    if loss["type"] in CLASS_INDEX_LOSSES and y.ndim == 1:
        return _class_output_problems(p, out_shape)
    if loss["type"] in BINARY_LOSSES and y.ndim == 1 and y.dtype.kind in "iu":
        return _binary_label_problems(p, out_shape)
    return _target_shape_problems(p, out_shape, y, "the targets (y)")


def recipe_problems(p):
    """Every recipe error found by comparing the recipe with the data and the model."""
    empty = empty_train_split(p.splits, p.dataset, p.recipe)
    if empty is not None:
        return [empty]      # nothing else can be checked on no examples
    return (_batch_problems(p) + _dtype_problems(p) + _metric_problems(p)
            + output_problems(p, p.model.output_layer.output_shape))


# -- 3. a forward pass, and the loss ----------------------------------------------------------
def _inputs(p):
    inputs = [p.model.input_layer.input_var]
    if p.model.mask_layer is not None:
        inputs.append(p.model.mask_layer.input_var)
    return inputs


def _arguments(p):
    train = p.splits["train"]
    args = [train.x[:FORWARD_EXAMPLES]]
    if p.model.mask_layer is not None:
        args.append(train.mask[:FORWARD_EXAMPLES])
    return args


def _target_variable(p):
    """The symbolic targets the trainer's functions take, or None when they are the inputs."""
    if p.resolved["loss"]["target"] == "inputs":
        return None
    y = p.splits["train"].y
    return target_variable(p.resolved, p.model, y.dtype, y.ndim)


def _run(p, layer):
    """The deterministic output of ``layer`` on the first training examples."""
    forward = function(_inputs(p), layers.get_output(layer, deterministic=True),
                       name="preflight", on_unused_input="ignore")
    return np.asarray(forward(*_arguments(p)))


def _first_line(exc):
    # runtime errors append the graph node that failed, which means nothing in a recipe
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _recipe_layers(p):
    """The built layers (in network order, inputs left out), each with the index of the
    recipe layer that made it; None when that cannot be told."""
    specs = p.resolved["model"]["layers"]
    if not specs:
        return None
    built = [layer for layer in layers.get_all_layers(p.model.output_layer)
             if not isinstance(layer, layers.InputLayer)]
    # a bidirectional entry builds the forward and backward layers and the merge
    owners = [k for k, spec in enumerate(specs)
              for _ in range(3 if spec["type"] == "bidirectional" else 1)]
    return list(zip(built, owners)) if len(owners) == len(built) else None


def _failing_layer(p):
    """``(layer, recipe index)`` of the first layer whose output fails on the examples."""
    for layer, k in _recipe_layers(p) or []:
        try:
            _run(p, layer)
        except Exception:   # any failure of the layer's computation
            return layer, k
    return None


def _forward_error(p, exc):
    """The recipe error for a forward pass that raised ``exc``, at the failing layer."""
    shape = p.splits["train"].x[:FORWARD_EXAMPLES].shape
    found = _failing_layer(p) if p.resolved["model"]["layers"] else None
    if found is None:
        path = ("model", "builder") if p.resolved["model"]["builder"] else ("model", "layers")
        who = "the model"
    else:
        layer, k = found
        path, who = ("model", "layers", k), layer.describe()
    return _error(p, f"{who} fails on the first {shape[0]} training examples (shape {shape}): "
                     f"{_first_line(exc)}. The shapes checked when the model was built fit, "
                     "so check this layer's settings against the examples", path)


def _loss_error(p, message):
    return RecipeErrors([_error(p, f"{p.resolved['loss']['type']} {message}",
                                ("loss", "type"))])


def _check_outputs(p, out):
    """The outputs the model gave for the first training examples fit the targets."""
    rows = len(_arguments(p)[0])
    if out.ndim == 0 or out.shape[0] != rows:
        raise RecipeErrors([_error(p, f"the model gives an output of shape {out.shape} for "
                                      f"{rows} examples: its first axis must stay the batch "
                                      "(a layer slices or reshapes it away)",
                                   _output_path(p, width_key=False))])
    errors = output_problems(p, (None,) + out.shape[1:])
    if errors:
        raise RecipeErrors(errors)


def _failure(p, exc):
    """The RecipeErrors for a run of the model and its loss that raised ``exc``: at the
    layer that fails when the model alone fails, else at the outputs or the loss."""
    try:
        _check_outputs(p, _run(p, p.model.output_layer))
    except RecipeErrors as errors:
        return errors
    except Exception as model_exc:  # the model itself fails
        return RecipeErrors([_forward_error(p, model_exc)])
    return _loss_error(p, f"fails on the first {len(_arguments(p)[0])} training examples: "
                          f"{_first_line(exc)}")


def _evaluate(p):
    """``(outputs, loss)`` of the model on the first training examples, deterministic;
    RecipeErrors naming the failing layer, or the loss when only the loss fails."""
    y = _target_variable(p)
    try:
        out = layers.get_output(p.model.output_layer, deterministic=True)
    except Exception as exc:    # any failure of the graph: reported at the recipe
        raise RecipeErrors([_forward_error(p, exc)]) from None
    try:
        loss = loss_expression(p.resolved, out, p.model.input_layer.input_var if y is None else y)
    except (TypeError, ValueError) as exc:
        raise _loss_error(p, f"cannot compare the model's outputs with the targets: "
                             f"{_first_line(exc)}") from None
    targets = [] if y is None else [p.splits["train"].y[:FORWARD_EXAMPLES]]
    evaluate = function(_inputs(p) + ([] if y is None else [y]), [out, loss],
                        name="preflight", on_unused_input="ignore")
    try:
        out_value, loss_value = evaluate(*_arguments(p), *targets)
    except Exception as exc:    # any failure: reported at the recipe
        raise _failure(p, exc) from None
    return np.asarray(out_value), float(loss_value)


def _probability_hint(kind):
    """Why a loss on probabilities is NaN on a model that gives logits."""
    if kind not in ("categorical_crossentropy", "binary_crossentropy"):
        return ""
    last = "sigmoid" if kind in BINARY_LOSSES else "softmax"
    return (f": {kind} takes probabilities; end the model with nonlinearity: {last}, or use "
            f"{kind}_from_logits on linear outputs")


def check_forward(p):
    """Run the model (deterministic) and its loss on the first training examples: the model
    must run, its outputs fit the targets, and the loss be finite (the data are)."""
    out, loss = _evaluate(p)
    _check_outputs(p, out)
    if not math.isfinite(loss):
        raise _loss_error(p, f"is {loss} on the first training examples before any "
                             f"training, although the data are finite"
                             f"{_probability_hint(p.resolved['loss']['type'])}")
