"""What the training recipes use of the hashing package, as plain objects.

``python -m nnframe.train`` finds them through the entry points of pyproject.toml, and
imports this module only when a recipe names one of them:

- :data:`MODEL` ``(builder, argument schema, report hook)``: the hashing autoencoder,
  ``model: {builder: {type: hashing_autoencoder, bits: 32, ...}}`` (entry point group
  ``nnframe.recipe_models``);
- :data:`RETRIEVAL_SPLIT` ``(split function, argument schema)``: the query/database
  split of the retrieval protocol, ``data: {split: {type: retrieval,
  queries_per_class: 100, scale: 255}}`` (group ``nnframe.recipe_splits``).

>>> from nnframe.data import load_dataset
>>> from types import SimpleNamespace
>>> split, spec = RETRIEVAL_SPLIT
>>> sorted(spec.fields)
['queries_per_class', 'scale']
>>> digits = load_dataset('digits', shape='flat', scale=1.0)
>>> context = SimpleNamespace(seed=0, standardize='none', held_out_arguments={})
>>> parts = split(digits, {'queries_per_class': 30, 'scale': 16.0}, context)
>>> len(parts['query']), len(parts['train'])
(300, 1497)
"""
from nnframe import config
from nnframe.data import Dataset
from nnframe.hashing.model import build_hashing_autoencoder, report_metrics
from nnframe.hashing.protocol import split_protocol
from nnframe.train.recipe import REQUIRED, Float, Int, Map, RecipeError, RecipeErrors, Str

__all__ = ["MODEL", "RETRIEVAL_SPLIT", "retrieval_split"]

MODEL = (build_hashing_autoencoder, Map({
    "bits": (Int(min=1), REQUIRED),
    "estimator": (Str(["none", "identity", "hardtanh", "noise"]), "noise"),
    "sigma": (Float(min=0), 3.0),
    "init": (Str(["itq", "random"]), "itq"),
}, "the hashing_autoencoder builder"), report_metrics)


def retrieval_split(dataset, args, context):
    """The retrieval protocol's split of ``dataset``: ``train`` (the database, the only
    training data) and ``query``, scaled by ``1 / args['scale']`` and centred by the
    database mean (:func:`nnframe.hashing.protocol.split_protocol`).

    It draws with the recipe's seed itself (``context.seed``), so baselines fitted with
    the same seed (``python -m nnframe.hashing.compare``) see exactly the same split.
    """
    _refuse_what_the_protocol_replaces(dataset, context)
    x = dataset.x.reshape(len(dataset.x), -1)
    parts = split_protocol(x, dataset.y, context.seed, args["queries_per_class"],
                           args["scale"])
    shape = dataset.x.shape[1:]

    def part(x, y, name):
        x = x.astype(config.floatX).reshape((len(x),) + shape)
        return Dataset(x, y, name=f"{dataset.name}:{name}", num_classes=dataset.num_classes)

    return {"train": part(parts.db_x, parts.db_y, "database"),
            "query": part(parts.query_x, parts.query_y, "query")}


def _refuse_what_the_protocol_replaces(dataset, context):
    """The protocol makes its own queries and centres the data itself: no mask, no
    standardisation, no held-out set of the file."""
    errors = []
    if dataset.mask is not None:
        errors.append(RecipeError("the retrieval protocol takes no mask (it is for sequences "
                                  "and recurrent layers)", ("data", "dataset", "mask")))
    if context.standardize != "none":
        errors.append(RecipeError("the retrieval protocol centres the data itself; use "
                                  "standardize: none", ("data", "standardize")))
    for part, argument in context.held_out_arguments.items():
        errors.append(RecipeError(f"the retrieval protocol draws its queries from the "
                                  f"dataset's examples and uses no {part} set of the file: "
                                  f"drop {argument}", ("data", "dataset", argument)))
    if errors:
        raise RecipeErrors(errors)


RETRIEVAL_SPLIT = (retrieval_split, Map({
    "queries_per_class": (Int(min=1), REQUIRED),
    "scale": (Float(min=0, exclusive_min=True), 1.0),
}, "the retrieval split"))

