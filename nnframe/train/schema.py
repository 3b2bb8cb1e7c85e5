"""The recipe schema: every key a recipe may have, its type, range and default.

``check_recipe(recipe)`` returns the resolved recipe (defaults filled in) or
raises :class:`~nnframe.train.recipe.RecipeErrors` listing every problem with
its ``file:line:col: key.path``.  See ``recipes/mlp_digits.yaml`` for an example.
"""
from nnframe.train import registry, splits
from nnframe.train.recipe import (
    REQUIRED,
    Bool,
    Choice,
    Float,
    Int,
    Map,
    Nullable,
    RecipeError,
    RecipeErrors,
    Seq,
    Str,
)

__all__ = ["recipe_schema", "check_recipe"]

#: A run's name is the name of its directory under runs/: no path, nothing hidden.
RUN_NAME = Str(pattern=r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}",
               explain="a run name (the directory runs/<name>): 1-100 letters, digits, '.', "
                       "'_' or '-', not starting with '.' (no '/', no '..')")


def recipe_schema():
    models = registry.model_choice()
    return Map({
        "nnframe_recipe": (Int(min=1, max=1), REQUIRED),
        "name": (RUN_NAME, "run"),
        "seed": (Int(min=0), 0),
        "data": (Map({
            "dataset": (registry.dataset_spec(), REQUIRED),
            # a split protocol: random (the default) or an application's (retrieval)
            "split": (splits.split_spec(), dict(splits.DEFAULT_SPLIT)),
            "standardize": (Str(["none", "center", "standard"]), "none"),
        }, "data", moved={"retrieval": "the retrieval protocol is a split now: write "
                                        "split: {type: retrieval, queries_per_class: ..., "
                                        "scale: ...} instead of retrieval: {...}"}), REQUIRED),
        "model": (Map({
            "input_shape": (Nullable(Seq(Int(min=1), min_len=1)), None),
            "layers": (Nullable(Seq(registry.layer_choice(), min_len=1)), None),
            "builder": (Nullable(models), None),
        }, "model"), REQUIRED),
        "loss": (Map({
            "type": (Str(sorted(registry.LOSSES)), REQUIRED),
            "target": (Str(["labels", "inputs"]), "labels"),
            "aggregate": (Str(["mean", "sum"]), "mean"),
            "sum_features": (Bool(), False),
            "l2": (Float(min=0), 0.0),
            "l1": (Float(min=0), 0.0),
        }, "loss"), REQUIRED),
        "optimizer": (registry.optimizer_choice(), REQUIRED),
        "schedule": (Nullable(registry.schedule_choice()), None),
        "train": (Map({
            "epochs": (Int(min=1), REQUIRED),
            "batch_size": (Int(min=1), 128),
            "drop_last": (Bool(), False),
        }, "train"), REQUIRED),
        "metrics": (Seq(Choice(registry.METRICS, "metric")), []),
        "early_stopping": (Nullable(Map({
            "monitor": (Str(), "valid.loss"),
            "mode": (Nullable(Str(["min", "max"])), None),
            "patience": (Int(min=1), 10),
            "min_delta": (Float(min=0), 0.0),
            "restore_best": (Bool(), True),
        }, "early_stopping")), None),
        # last.h5 after the first epoch, then every `every_epochs` epochs when set, else at
        # the end of the first epoch that ends `every_seconds` after the previous save (so
        # short epochs do not spend their time writing checkpoints), and at the end.
        "checkpoint": (Map({
            "every_epochs": (Nullable(Int(min=1)), None),
            "every_seconds": (Float(min=0), 10.0),
            "monitor": (Nullable(Str()), None),
            "mode": (Nullable(Str(["min", "max"])), None),
        }, "checkpoint"), {"every_epochs": None, "every_seconds": 10.0, "monitor": None,
                           "mode": None}),
        "logging": (Map({
            "progress": (Str(["auto", "always", "never"]), "auto"),
            "plots": (Bool(), True),
            # svg: curves.svg, written by nnframe itself (about a millisecond); png:
            # curves.png with matplotlib (the plot extra)
            "plot_format": (Str(["svg", "png"]), "svg"),
        }, "logging"), {"progress": "auto", "plots": True, "plot_format": "svg"}),
        # data-parallel runs (mpirun -n N python -m nnframe.train ...; docs/distributed.md):
        # seconds a rank waits for the others in a collective before the job is ended
        "distributed": (Map({
            "timeout": (Float(min=1), 900.0),
        }, "distributed"), {"timeout": 900.0}),
    }, "the recipe")


def _logged_keys(resolved):
    """The names a run logs every epoch, as the trainer logs them: ``train.loss``, and
    with a valid split ``valid.loss`` and each metric under its logged name
    (``valid.accuracy``, ``valid.top_5_accuracy``: see ``registry.logged_name``)."""
    keys = ["train.loss"]
    if splits.has_valid_split(resolved):
        names = ["loss"] + [registry.logged_name(m) for m in resolved["metrics"]]
        keys += [f"valid.{n}" for n in dict.fromkeys(names)]
    return keys


def check_recipe(recipe):
    """The recipe with defaults filled in, or RecipeErrors naming every problem."""
    errors = []
    resolved = recipe_schema().check(recipe.data, (), errors)
    if not errors:
        _cross_checks(resolved, errors)
    if errors:
        for e in errors:
            e.where = e.where or recipe.where(e.path)
        raise RecipeErrors(errors)
    return resolved


def _cross_checks(resolved, errors):
    model = resolved["model"]
    if (model["layers"] is None) == (model["builder"] is None):
        errors.append(RecipeError("give either 'layers' (a list) or 'builder', not "
                                  f"{'both' if model['layers'] else 'neither'}", ("model",)))
    for k, layer in enumerate(model["layers"] or []):
        if layer["type"] == "bidirectional" and layer["layer"]["backwards"]:
            errors.append(RecipeError("bidirectional builds the backward copy itself: leave "
                                      "the inner layer's backwards false",
                                      ("model", "layers", k, "layer", "backwards")))
    _check_split_sizes(resolved["data"]["split"], errors)
    logged = _logged_keys(resolved)
    for section in ("early_stopping", "checkpoint"):
        conf = resolved.get(section)
        if conf and conf.get("monitor") and conf["monitor"] not in logged:
            errors.append(RecipeError(f"{conf['monitor']!r} is not a metric this recipe logs "
                                      f"(available: {', '.join(logged)})", (section, "monitor")))
    if resolved["metrics"] and resolved["loss"]["target"] != "labels":
        errors.append(RecipeError("classification metrics need loss.target: labels",
                                  ("metrics",)))


def _check_split_sizes(split, errors):
    """The fractions of a random split add up to at most 1."""
    if split["type"] != "random":
        return
    sizes = [split[k] for k in ("train", "valid", "test")]
    if all(isinstance(s, float) or s in (0, 1) for s in sizes):
        total = sum(sizes)
        if total > 1 + 1e-9:
            errors.append(RecipeError(f"the split fractions add up to {total:g}, more than 1",
                                      ("data", "split")))
