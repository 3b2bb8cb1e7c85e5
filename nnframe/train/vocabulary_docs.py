"""Write ``docs/recipe-vocabulary.md``: every name a recipe may use and its arguments,
read from the tables of :mod:`nnframe.train.registry` (so the page cannot drift from
what recipes accept).

::

    python -m nnframe.train.vocabulary_docs           # rewrite docs/recipe-vocabulary.md
    python -m nnframe.train.vocabulary_docs --check   # exit 1 if it is out of date

It lists nnframe's own vocabulary: the entries whose code is nnframe's, and the
applications nnframe declares as entry points (not what other packages or a Python
session add).

>>> text = vocabulary_markdown()
>>> print(next(line for line in text.splitlines() if line.startswith("| `num_units`")))
| `num_units` | an integer >= 1 | required |
"""
import argparse
import inspect
import os
import re
import sys

from nnframe import nonlinearities
from nnframe.train import registry
from nnframe.train.recipe import REQUIRED, Choice, Nullable

__all__ = ["vocabulary_markdown", "DOCS_PATH", "main"]

#: the generated page, relative to the repository root
DOCS_PATH = os.path.join("docs", "recipe-vocabulary.md")
COMMAND = "python -m nnframe.train.vocabulary_docs"


# -- values and schemas as the page shows them ------------------------------------------
def _yaml(value):
    """A default as a recipe writes it (YAML flow style)."""
    if value is REQUIRED:
        return "required"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)


def _accepts(spec):
    """What a schema accepts, in words (an initialiser refers to its own section)."""
    if isinstance(spec, Nullable):
        return f"{_accepts(spec.spec)} or null"
    if spec is registry.INIT_SPEC:
        return "an initialiser (see [Initialisers](#initialisers))"
    if isinstance(spec, Choice):
        return f"a {spec.what}: {', '.join(f'`{name}`' for name in sorted(spec.options))}"
    return spec.describe


def _cell(text):
    return str(text).replace("|", "\\|")


def _first_line(obj):
    """The first paragraph of ``obj``'s docstring, its Sphinx roles as plain code."""
    doc = (inspect.getdoc(obj) or "").split("\n\n")[0].replace("\n", " ").strip()
    doc = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", doc)
    return doc[:-1] + "." if doc.endswith(":") else doc


def _is_nnframes(obj):
    """Whether ``obj`` (a class or function) is nnframe's own, not added by others."""
    return getattr(obj, "__module__", "").startswith("nnframe.")


def _argument_table(spec):
    """A table of a Map's keys: what each accepts and its default."""
    if not spec.fields:
        return ["No arguments."]
    lines = ["| argument | accepts | default |", "|---|---|---|"]
    for key, (field, default) in spec.fields.items():
        default_text = "required" if default is REQUIRED else f"`{_yaml(default)}`"
        lines.append(f"| `{key}` | {_cell(_accepts(field))} | {default_text} |")
    return lines


def _arguments_inline(spec):
    """``key`` (default), ... of a Map, for one table cell."""
    parts = []
    for key, (_, default) in spec.fields.items():
        parts.append(f"`{key}` ({'required' if default is REQUIRED else _yaml(default)})")
    return ", ".join(parts) or "none"


# -- the sections -----------------------------------------------------------------------
def _layers():
    lines = ["## Layers", "",
             "`model.layers` is a list of these, each `{type: NAME, name: ..., "
             "<argument>: ...}`; `name` (optional) names the layer and its parameters "
             "(`<name>/W`). The arguments are the layer class's constructor arguments, "
             "read from its signature."]
    for name in sorted(registry.LAYERS):
        entry = registry.LAYERS[name]
        if not _is_nnframes(entry.cls):
            continue
        what = _first_line(entry.build) if entry.what else \
            f"`{entry.cls.__name__}`: {_first_line(entry.cls)}"
        lines += ["", f"### `{name}`", "", what, ""]
        lines += _argument_table(entry.spec)
        if entry.takes_mask:
            lines += ["", "Takes the dataset's mask (`mask_input`) when it has one."]
        if entry.python_only:
            names = ", ".join(f"`{p}`" for p in entry.python_only)
            lines += ["", f"Set in Python only (kept at their defaults): {names}."]
    return lines


def _initializers():
    lines = ["## Initialisers", "",
             "Layer weights (`W`, `b`, ...) take `{type: NAME, <argument>: ...}`, or the "
             "bare name for the defaults (`W: orthogonal`). `gain: relu` is sqrt(2).", "",
             "| type | arguments (default) | class |", "|---|---|---|"]
    for name, (cls, spec) in registry.INITIALIZERS.items():
        lines.append(f"| `{name}` | {_cell(_arguments_inline(spec))} | `{cls.__name__}` |")
    return lines


def _python_name(function):
    """``nonlinearities.tanh``: the name nnframe.nonlinearities gives a function (some
    are callable objects, without ``__name__``)."""
    name = next(k for k, v in vars(nonlinearities).items() if v is function)
    return f"nonlinearities.{name}"


def _nonlinearities():
    names = {}
    for name, function in registry.NONLINEARITIES.items():
        names.setdefault(function, []).append(f"`{name}`")
    lines = ["## Nonlinearities", "", "`nonlinearity:` of the layers that take one:", "",
             "| names | function |", "|---|---|"]
    for function, aliases in names.items():
        lines.append(f"| {' = '.join(aliases)} | `{_python_name(function)}` |")
    lines += ["", "`globalpool`'s `pool_function`: "
              + ", ".join(f"`{name}`" for name in registry.POOL_FUNCTIONS) + "."]
    return lines


def _losses():
    lines = ["## Losses", "",
             "`loss.type`; `labels` losses compare with class labels (`loss.target: "
             "labels`), `any` ones also with values or the inputs (`target: inputs`).", "",
             "| type | targets | per item |", "|---|---|---|"]
    for name, entry in registry.LOSSES.items():
        lines.append(f"| `{name}` | {entry.target} | {_cell(_first_line(entry.expression))} |")
    return lines


def _metrics():
    lines = ["## Metrics", "",
             "`metrics:` is a list of these (a bare name takes the defaults); each is logged "
             "every epoch as `valid.<logged name>`, the name `checkpoint.monitor` and "
             "`early_stopping.monitor` use.", "",
             "| type | arguments (default) | logged as (with the defaults) | what |",
             "|---|---|---|---|"]
    for name, entry in registry.METRICS.items():
        defaults = {k: d for k, (_, d) in entry.spec.fields.items() if d is not REQUIRED}
        logged = registry.logged_name({"type": name, **defaults})
        lines.append(f"| `{name}` | {_cell(_arguments_inline(entry.spec))} | `{logged}` | "
                     f"{_cell(_first_line(entry.compute))} |")
    return lines


def _choice_table(title, intro, specs):
    """A section of one table: each name with its arguments (``specs``: name -> Map)."""
    lines = [f"## {title}", "", intro, "", "| type | arguments (default) |", "|---|---|"]
    for name in sorted(specs):
        lines.append(f"| `{name}` | {_cell(_arguments_inline(specs[name]))} |")
    return lines


def _own_applications(group):
    """The entries of ``group`` nnframe declares itself, by name, loaded."""
    names = [name for name, point in registry.declared_applications(group).items()
             if point.dist is not None and point.dist.name == "nnframe"]
    return {name: registry.application(group, name) for name in sorted(names)}


def _entries(title, intro, entries, what):
    lines = [f"## {title}", "", intro]
    for name, entry in entries.items():
        lines += ["", f"### `{name}`", "", f"{what(entry)}", ""]
        lines += _argument_table(entry[1])
    return lines


def _sections():
    from nnframe.train import splits  # its import registers the random split
    splits_table = {name: entry for name, entry in sorted(registry.SPLITS.items())
                    if _is_nnframes(entry[0])}
    splits_table.update(_own_applications("recipe_splits"))
    datasets = {name: registry.dataset_entry(name)
                for name in registry.application_names("recipe_datasets")}
    datasets = {name: spec for name, (loader, spec) in datasets.items() if _is_nnframes(loader)}
    return [
        _layers(), _initializers(), _nonlinearities(), _losses(), _metrics(),
        _choice_table("Optimizers", "`optimizer: {type: NAME, ...}`: the update rule and "
                      "its hyperparameters (Lasagne's defaults). Every optimizer also takes "
                      "`grad_clip` (the total gradient norm, or null) and `weight_decay_l2`.",
                      registry.optimizer_choice().options),
        _choice_table("Schedules", "`schedule: {type: NAME, ...}` sets the learning rate "
                      "every epoch (`per: epoch`) or step (`per: step`), after `warmup` "
                      "epochs or steps rising linearly from 0.",
                      registry.schedule_choice().options),
        _choice_table("Datasets", "`data.dataset: {type: NAME, ...}`.", datasets),
        _entries("Data splits", "`data.split: {type: NAME, ...}` (`type` defaults to "
                 f"`{splits.DEFAULT_SPLIT['type']}`).", splits_table,
                 lambda entry: _first_line(entry[0])),
        _entries("Model builders", "`model.builder: {type: NAME, ...}` instead of "
                 "`model.layers`.", _own_applications("recipe_models"),
                 lambda entry: _first_line(entry[0])),
    ]


def vocabulary_markdown():
    """The text of ``docs/recipe-vocabulary.md``."""
    lines = ["# Recipe vocabulary", "",
             f"<!-- Generated by `{COMMAND}` from nnframe/train/registry.py: do not edit. -->",
             "", "Every name a recipe may use, with its arguments, what each accepts and its "
             "default. How recipes work: [recipes.md](recipes.md).", ""]
    sections = _sections()
    lines += ["Contents: " + ", ".join(
        f"[{s[0][3:]}](#{s[0][3:].lower().replace(' ', '-')})" for s in sections), ""]
    for section in sections:
        lines += section + [""]
    return "\n".join(lines)


def _repository_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(path):
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def main(argv=None):
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 (writing nothing) if the file is out of date")
    parser.add_argument("--path", default=os.path.join(_repository_root(), DOCS_PATH),
                        help=f"the file to write or check (default: the repository's "
                             f"{DOCS_PATH})")
    args = parser.parse_args(argv)
    text = vocabulary_markdown()
    if args.check:
        if _read(args.path) != text:
            print(f"{args.path} is out of date: run `{COMMAND}`", file=sys.stderr)
            return 1
        return 0
    with open(args.path, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
