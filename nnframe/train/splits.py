"""How a recipe's data is divided: ``data.split`` and the split protocols.

:func:`load_splits` loads the dataset a checked recipe names and divides it with the
protocol ``data.split.type`` names:

- ``random`` (the default; ``type`` may be left out): ``train``, ``valid`` and ``test``
  fractions or counts drawn from the dataset with the split seed, stratified unless
  ``stratify: false``.  A file's own held-out sets (the dataset's ``test_x`` or
  ``test_images``, ``valid_x`` or ``valid_images``) are the ``test`` and ``valid``
  splits: the random split divides only the training part, and asking it for a ``test``
  (``valid``) split as well is an error.
- an application's protocol, e.g. the hashing experiments' ``retrieval``
  (``split: {type: retrieval, queries_per_class: 100, scale: 255}``), found when a
  recipe names it: registered in code (:data:`SPLIT_PROTOCOLS`), or declared as an
  entry point of the group ``nnframe.recipe_splits`` (``registry.application``).

``data.standardize`` is then fitted on the ``train`` split and applied to every split.

A protocol is a function ``(dataset, args, context) -> {split name: Dataset}`` and a
:class:`~nnframe.train.recipe.Map` of its arguments.  The result has a ``train`` split
(what the model is fitted on); ``valid`` (logged every epoch) comes from the random split
only.  Problems with the data are a ``ValueError`` (shown at ``data.split``) or a
:class:`~nnframe.train.recipe.RecipeError` with its own key path:

>>> from nnframe.data import synthetic_blobs
>>> from nnframe.train.recipe import Map
>>> def halves(dataset, args, context):
...     n = len(dataset) // 2
...     return {"train": dataset.subset(range(n)), "test": dataset.subset(range(n, 2 * n))}
>>> register_split_protocol("halves", halves, Map({}, "the halves split"))
>>> parts = split_protocol("halves")[0](synthetic_blobs(n=10), {}, None)
>>> {name: len(part) for name, part in parts.items()}
{'train': 5, 'test': 5}
>>> del SPLIT_PROTOCOLS["halves"]
"""
import contextlib
from collections.abc import Mapping
from typing import NamedTuple

from nnframe import data
from nnframe.train import registry
from nnframe.train.checks import empty_train_split
from nnframe.train.recipe import (
    REQUIRED,
    Bool,
    Choice,
    Float,
    Int,
    Map,
    OneOf,
    RecipeError,
    RecipeErrors,
)

__all__ = ["load_splits", "SPLIT_PROTOCOLS", "register_split_protocol", "split_protocol",
           "protocol_names", "split_spec", "SplitContext", "random_split", "RANDOM_SPEC",
           "DEFAULT_SPLIT", "has_valid_split"]

#: name -> (function(dataset, args, context) -> {split name: Dataset}, Map of its arguments):
#: the split protocols registered in code; the registry's table (``registry.SPLITS``), so
#: :func:`register_split_protocol` and ``registry.register_split`` add to the same one.
SPLIT_PROTOCOLS = registry.SPLITS


class SplitContext(NamedTuple):
    """What a split protocol gets besides the dataset and its own arguments.

    ``seed`` is the recipe's seed; ``split_seed`` the seed of the data split drawn from
    it (independent of initialisation and minibatch order); ``standardize`` the recipe's
    ``data.standardize``; ``held_out_arguments`` ``{held-out set: the dataset argument
    naming it}`` for the file's own held-out sets (``{'test': 'test_x'}``).
    """

    seed: int
    split_seed: int
    standardize: str
    held_out_arguments: dict


def register_split_protocol(name, function, spec):
    """Make split protocol ``name`` available to recipes (``data.split.type``).

    ``function(dataset, args, context)`` returns ``{split name: Dataset}`` with a
    ``train`` split; ``spec`` is the :class:`~nnframe.train.recipe.Map` of ``args``.
    An installed package declares one instead as an entry point of the group
    ``nnframe.recipe_splits`` (``retrieval = nnframe.hashing.recipe_hooks:RETRIEVAL_SPLIT``).
    """
    registry.register_split(name, function, spec)


def split_protocol(name):
    """``(function, spec)`` of split protocol ``name``: registered in code, else the entry
    point that declares it, imported now (``registry.application``).  KeyError when
    nothing declares it.
    """
    return registry.application("recipe_splits", name)


def protocol_names():
    """The names of every split protocol a recipe may name, sorted; imports no application.

    >>> 'random' in protocol_names()
    True
    """
    return registry.application_names("recipe_splits")


class _ProtocolSpecs(Mapping):
    """The argument schemas of the split protocols, by name, loading applications only for
    the name a recipe gives."""

    def __getitem__(self, name):
        try:
            return split_protocol(name)[1]
        except KeyError:
            raise KeyError(name) from None

    def __contains__(self, name):
        return name in protocol_names()

    def __iter__(self):
        return iter(protocol_names())

    def __len__(self):
        return len(protocol_names())


class _SplitChoice(Choice):
    """A :class:`~nnframe.train.recipe.Choice` whose ``type`` defaults to ``random``, so
    ``split: {train: 0.8, valid: 0.2}`` is a random split."""

    def check(self, value, path, errors):
        if isinstance(value, dict) and "type" not in value:
            value = {"type": "random", **value}
        return super().check(value, path, errors)


def split_spec():
    """The schema of ``data.split``: a split protocol, ``random`` when ``type`` is left out."""
    return _SplitChoice(_ProtocolSpecs(), "split protocol")


# -- the random split ----------------------------------------------------------------------
_SIZE = OneOf(Int(min=0), Float(min=0, max=1))
_PARTS = ("train", "valid", "test")

#: The arguments of the random split: fractions (numbers <= 1) or counts (integers).
RANDOM_SPEC = Map({"train": (_SIZE, REQUIRED), "valid": (_SIZE, 0), "test": (_SIZE, 0),
                   "stratify": (Bool(), True)}, "data.split")

#: ``data.split`` when a recipe leaves it out: every example is a training example.
DEFAULT_SPLIT = {"type": "random", "train": 1.0, "valid": 0, "test": 0, "stratify": True}


def random_split(dataset, args, context):
    """``train``/``valid``/``test`` drawn at random from ``dataset`` with the split seed;
    the file's own held-out sets (``dataset.held_out``) are the ``valid`` and ``test``
    splits, never drawn as well.

    ``args['train']``... are counts when every size is an integer (``train: 1`` alone
    is the fraction 1), fractions otherwise; classes are kept in proportion unless
    ``args['stratify']`` is false.
    """
    _refuse_drawing_held_out(dataset, args, context)
    # train stays even at 0, so that an empty training split is reported as such
    sizes = {k: args[k] for k in _PARTS if args[k] or k == "train"}
    as_counts = all(isinstance(v, int) and not (v == 1 and k == "train" and len(sizes) == 1)
                    for k, v in sizes.items())
    if as_counts:
        parts = data.split(dataset, sizes=sizes, seed=context.split_seed,
                           stratify=args["stratify"])
    else:
        parts = data.split(dataset, fractions={k: float(v) for k, v in sizes.items()},
                           seed=context.split_seed, stratify=args["stratify"])
    parts.update(dataset.held_out)
    return {name: parts[name] for name in _PARTS if name in parts}


def _refuse_drawing_held_out(dataset, args, context):
    """A split the file holds cannot also be drawn at random: that would make two."""
    errors = []
    for part in dataset.held_out:
        if args[part]:
            argument = context.held_out_arguments.get(part, f"{part} set")
            errors.append(RecipeError(
                f"the dataset holds its own {part} set (data.dataset.{argument}), so the "
                f"random split does not draw one: drop data.split.{part}, or drop "
                f"{argument} to draw the {part} set from the training examples",
                ("data", "split", part)))
    if errors:
        raise RecipeErrors(errors)


register_split_protocol("random", random_split, RANDOM_SPEC)


def has_valid_split(resolved):
    """Whether a checked recipe's data has a ``valid`` split (logged every epoch): the
    random split's ``valid`` size or the file's own validation set.

    >>> has_valid_split({"data": {"split": dict(DEFAULT_SPLIT, train=0.9, valid=0.1),
    ...                           "dataset": {"type": "digits"}}})
    True
    >>> has_valid_split({"data": {"split": DEFAULT_SPLIT, "dataset": {
    ...     "type": "idx", "images": "train-images", "valid_images": "valid-images"}}})
    True
    """
    split = resolved["data"]["split"]
    if split["type"] != "random":
        return False
    return bool(split["valid"]) or "valid" in data.held_out_arguments(resolved["data"]["dataset"])


# -- loading -------------------------------------------------------------------------------
def load_splits(resolved, recipe, split_seed):
    """``(dataset, splits)`` of a checked recipe; :class:`RecipeErrors` on bad data.

    ``dataset`` is the loaded training Dataset (the file's training part, the examples
    the random split draws from; its own held-out sets in ``dataset.held_out``);
    ``splits`` maps split names to Datasets: ``train`` and optionally ``valid`` and
    ``test`` for the random split, ``train`` (the database) and ``query`` for the
    retrieval protocol.  ``data.standardize`` is fitted on ``splits['train']`` only.
    Each error is at the recipe key at fault (``data.dataset.test_x``,
    ``data.split.test``...).
    """
    dataset = _load_dataset(resolved, recipe)
    conf = resolved["data"]["split"]
    function, _ = split_protocol(conf["type"])
    context = SplitContext(seed=resolved["seed"], split_seed=split_seed,
                           standardize=resolved["data"]["standardize"],
                           held_out_arguments=data.held_out_arguments(
                               resolved["data"]["dataset"]))
    with _as_recipe_errors(recipe, ("data", "split")):
        splits = function(dataset, {k: v for k, v in conf.items() if k != "type"}, context)
    empty = empty_train_split(splits, dataset, recipe)
    if empty is not None:       # before anything is fitted on the training split
        raise RecipeErrors([empty])
    with _as_recipe_errors(recipe, ("data", "standardize")):
        splits = _standardized(splits, resolved["data"]["standardize"])
    return dataset, splits


def _load_dataset(resolved, recipe):
    """The dataset ``data.dataset`` names; an error is at the argument naming the array or
    file at fault (``x``, ``test_y``, ``mask``...) when it says which."""
    spec = dict(resolved["data"]["dataset"])
    loader, _ = registry.dataset_entry(spec.pop("type"))
    try:
        return loader(**spec)
    except (data.DatasetError, ImportError, OSError, ValueError) as exc:
        argument = getattr(exc, "argument", None)
        path = ("data", "dataset") + ((argument,) if argument in spec else ())
        raise RecipeErrors([RecipeError(str(exc), path, recipe.where(path))]) from None


@contextlib.contextmanager
def _as_recipe_errors(recipe, path):
    """RecipeErrors placed in ``recipe``: a protocol's RecipeError(s) at their own paths, a
    ValueError (a DatasetError) at ``path``."""
    try:
        yield
    except RecipeErrors as exc:
        raise RecipeErrors([_placed(e, recipe) for e in exc.errors]) from None
    except RecipeError as exc:
        raise RecipeErrors([_placed(exc, recipe)]) from None
    except ValueError as exc:
        raise RecipeErrors([RecipeError(str(exc), path, recipe.where(path))]) from None


def _placed(error, recipe):
    error.where = error.where or recipe.where(error.path)
    return error


def _standardized(splits, mode):
    """Every split standardised (``center``, ``standard``) with statistics of ``train``."""
    if mode == "none":
        return splits
    standardizer = data.Standardizer(scale=(mode == "standard")).fit(splits["train"].x)
    return {name: standardizer.transform(split) for name, split in splits.items()}
