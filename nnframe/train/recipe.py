"""Reading recipes: a safe YAML loader with positions, and a closed-schema validator.

A recipe is YAML read with a :class:`RecipeLoader` (PyYAML's safe loader, plus
two fixes): ``1e-3`` is a float (PyYAML's resolver wants ``1.0e-3``), and a
duplicate key is an error (PyYAML silently keeps the last).  No tag may
construct an object.  Every value keeps the position it came from, so every
error reads ``recipe.yaml:14:5: model.layers[2].num_units: expected an
integer >= 1, got -5``.

>>> recipe = load_recipe_text("seed: 1\\nlr: 1e-3\\n", "r.yaml")
>>> recipe.data["lr"]
0.001
"""
import difflib
import re

import yaml

__all__ = ["RecipeError", "RecipeErrors", "Recipe", "load_recipe", "load_recipe_text",
           "parse_override", "Spec", "Int", "Float", "Str", "Bool", "Any", "Seq", "Map",
           "OneOf", "Choice", "Nullable", "REQUIRED", "format_path"]


class RecipeError(Exception):
    """One problem with a recipe, at a position."""

    def __init__(self, message, path=(), where=None):
        super().__init__(message)
        self.message = message
        self.path = tuple(path)
        self.where = where

    def __str__(self):
        prefix = f"{self.where}: " if self.where else ""
        key = format_path(self.path)
        return f"{prefix}{key + ': ' if key else ''}{self.message}"


class RecipeErrors(Exception):
    """Every problem found in a recipe (reported together)."""

    def __init__(self, errors):
        self.errors = list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


def format_path(path):
    """``('model', 'layers', 2, 'num_units')`` -> ``model.layers[2].num_units``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


# -- YAML ------------------------------------------------------------------------------
class RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with scientific-notation floats such as ``1e-3``."""


RecipeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


class Recipe:
    """A recipe's data (plain dicts, lists and scalars) and where each value came from."""

    def __init__(self, data, marks, filename, text):
        self.data = data
        self.marks = marks          # path tuple -> "file:line:col" (or "--set ...")
        self.filename = filename
        self.text = text

    def where(self, path):
        """The position of ``path``, or of its closest ancestor that has one."""
        path = tuple(path)
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, self.filename)


def _mark(filename, node):
    return f"{filename}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def _construct(node, loader, filename, path, marks, errors):
    marks[path] = _mark(filename, node)
    if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN_TAGS:
        errors.append(RecipeError(f"the tag {node.tag} is not allowed: a recipe holds plain "
                                  "values only (no object construction)", path,
                                  _mark(filename, node)))
        return None
    if isinstance(node, yaml.MappingNode):
        result = {}
        for key_node, value_node in node.value:
            try:
                key = loader.construct_object(key_node, deep=True)
            except yaml.YAMLError as exc:
                errors.append(RecipeError(f"bad key: {exc}", path, _mark(filename, key_node)))
                continue
            if not isinstance(key, str):
                errors.append(RecipeError(f"keys must be strings, got {key!r}", path,
                                          _mark(filename, key_node)))
                continue
            if key in result:
                errors.append(RecipeError(
                    f"duplicate key {key!r} (first at {marks[path + (key,)]}); YAML would "
                    "silently keep only the last one", path + (key,), _mark(filename, key_node)))
                continue
            result[key] = _construct(value_node, loader, filename, path + (key,), marks, errors)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_construct(item, loader, filename, path + (k,), marks, errors)
                for k, item in enumerate(node.value)]
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        errors.append(RecipeError(f"the tag {node.tag} is not allowed: a recipe holds plain "
                                  "values only (no object construction)", path,
                                  _mark(filename, node)))
        return None


def load_recipe_text(text, filename="<recipe>"):
    """Parse recipe text into a :class:`Recipe`; raise :class:`RecipeErrors`."""
    loader = RecipeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename
            raise RecipeErrors([RecipeError(f"YAML syntax error: {exc.problem}", (), where)])
        if node is None:
            raise RecipeErrors([RecipeError("the recipe is empty", (), filename)])
        marks, errors = {}, []
        data = _construct(node, loader, filename, (), marks, errors)
    finally:
        loader.dispose()
    if errors:
        raise RecipeErrors(errors)
    return Recipe(data, marks, filename, text)


def load_recipe(path):
    """Read and parse the recipe file at ``path``."""
    with open(path, encoding="utf-8") as fh:
        return load_recipe_text(fh.read(), str(path))


def parse_override(recipe, assignment):
    """Apply ``--set key.path=value`` (value read with the recipe's YAML rules)."""
    where = f"--set {assignment}"
    if "=" not in assignment:
        raise RecipeErrors([RecipeError("expected key.path=value", (), where)])
    key, text = assignment.split("=", 1)
    path = tuple(int(p) if p.isdigit() else p for p in key.strip().split("."))
    try:
        value = yaml.load(text, Loader=RecipeLoader) if text.strip() else None
    except yaml.YAMLError as exc:
        raise RecipeErrors([RecipeError(f"cannot read the value {text!r}: {exc}", path, where)])
    if not isinstance(recipe.data, dict) or not path or not path[0]:
        raise RecipeErrors([RecipeError("expected key.path=value", (), where)])
    target = recipe.data
    for depth, part in enumerate(path[:-1]):
        if isinstance(target, list) and isinstance(part, int) and part < len(target):
            target = target[part]
        elif isinstance(target, dict):
            target = target.setdefault(part, {})
        else:
            raise RecipeErrors([RecipeError(f"cannot set inside {type(target).__name__}",
                                            path[:depth + 1], where)])
        if not isinstance(target, (dict, list)):
            raise RecipeErrors([RecipeError(f"{format_path(path[:depth + 1])} is a value, not "
                                            "a section", path, where)])
    last = path[-1]
    if isinstance(target, list):
        if not isinstance(last, int) or last >= len(target):
            raise RecipeErrors([RecipeError("list index out of range", path, where)])
    target[last] = value
    for p in list(recipe.marks):
        if p[:len(path)] == path:
            del recipe.marks[p]
    recipe.marks[path] = where


# -- schema ------------------------------------------------------------------------------
REQUIRED = object()


class Spec:
    """Checks and normalises one value; ``check`` appends RecipeErrors to ``errors``."""

    describe = "a value"

    def check(self, value, path, errors):
        return value

    def fail(self, value, path, errors, expected=None):
        errors.append(RecipeError(f"expected {expected or self.describe}, got {_show(value)}",
                                  path))
        return None


def _show(value):
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


class Any(Spec):
    describe = "any value"


class Bool(Spec):
    describe = "true or false"

    def check(self, value, path, errors):
        return value if isinstance(value, bool) else self.fail(value, path, errors)


class _Number(Spec):
    def __init__(self, min=None, max=None, exclusive_min=False):
        self.min, self.max, self.exclusive_min = min, max, exclusive_min

    def _range_text(self):
        parts = []
        if self.min is not None:
            parts.append(f"{'>' if self.exclusive_min else '>='} {self.min}")
        if self.max is not None:
            parts.append(f"<= {self.max}")
        return " ".join(parts)

    def check(self, value, path, errors):
        value = self.convert(value)
        if value is None:
            return self.fail(value, path, errors)
        low_ok = self.min is None or (value > self.min if self.exclusive_min else value >= self.min)
        if not low_ok or (self.max is not None and value > self.max):
            errors.append(RecipeError(f"expected {self.describe}, got {value!r}", path))
            return None
        return value


class Int(_Number):
    @property
    def describe(self):
        return f"an integer {self._range_text()}".rstrip()

    def convert(self, value):
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def check(self, value, path, errors):
        if self.convert(value) is None:
            return self.fail(value, path, errors)
        return super().check(value, path, errors)


class Float(_Number):
    @property
    def describe(self):
        return f"a number {self._range_text()}".rstrip()

    def convert(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)

    def check(self, value, path, errors):
        if self.convert(value) is None:
            return self.fail(value, path, errors)
        return super().check(value, path, errors)


class Str(Spec):
    """A string: one of ``choices``, or matching the regular expression ``pattern``
    (described to the user as ``explain``)."""

    def __init__(self, choices=None, pattern=None, explain=None):
        self.choices = list(choices) if choices is not None else None
        self.pattern = re.compile(pattern) if pattern is not None else None
        self.explain = explain

    @property
    def describe(self):
        if self.choices:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        return self.explain or "a string"

    def check(self, value, path, errors):
        if not isinstance(value, str):
            return self.fail(value, path, errors)
        if self.choices is not None and value not in self.choices:
            close = difflib.get_close_matches(value, self.choices, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            errors.append(RecipeError(f"expected {self.describe}, got {value!r}{hint}", path))
            return None
        if self.pattern is not None and not self.pattern.fullmatch(value):
            errors.append(RecipeError(f"expected {self.describe}, got {value!r}", path))
            return None
        return value


class Nullable(Spec):
    """``spec`` or null."""

    def __init__(self, spec):
        self.spec = spec
        self.describe = f"{spec.describe} or null"

    def check(self, value, path, errors):
        return None if value is None else self.spec.check(value, path, errors)


class Seq(Spec):
    """A list of ``item``s (a single item is accepted as a list of one when ``scalar_ok``)."""

    def __init__(self, item, min_len=0, length=None, scalar_ok=False):
        self.item, self.min_len, self.length, self.scalar_ok = item, min_len, length, scalar_ok
        n = f"{length} " if length else ""
        self.describe = f"a list of {n}{item.describe}"

    def check(self, value, path, errors):
        if not isinstance(value, list):
            if self.scalar_ok and value is not None and not isinstance(value, dict):
                value = [value] * (self.length or 1)
            else:
                return self.fail(value, path, errors)
        if self.length is not None and len(value) != self.length:
            errors.append(RecipeError(f"expected {self.describe}, got {len(value)} items", path))
            return None
        if len(value) < self.min_len:
            errors.append(RecipeError(f"expected at least {self.min_len} item(s)", path))
            return None
        return [self.item.check(v, path + (k,), errors) for k, v in enumerate(value)]


class OneOf(Spec):
    """The first of ``specs`` that accepts the value."""

    def __init__(self, *specs):
        self.specs = specs
        self.describe = " or ".join(s.describe for s in specs)

    def check(self, value, path, errors):
        for spec in self.specs:
            trial = []
            result = spec.check(value, path, trial)
            if not trial:
                return result
        return self.fail(value, path, errors)


class Map(Spec):
    """A mapping with known keys: ``fields = {key: (spec, default)}``.

    Unknown keys are errors with a "did you mean" suggestion; a missing key
    without a default (``REQUIRED``) is an error; defaults fill the rest.
    """

    describe = "a mapping"

    def __init__(self, fields, what="this section"):
        self.fields = fields
        self.what = what

    def check(self, value, path, errors):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return self.fail(value, path, errors)
        result = {}
        for key in value:
            if key not in self.fields:
                close = (difflib.get_close_matches(key, list(self.fields), n=1)
                         or self.nested_paths(key)[:1])
                hint = f"did you mean {close[0]!r}? " if close else ""
                known = ", ".join(sorted(self.fields)) or "none"
                errors.append(RecipeError(f"unknown key {key!r} for {self.what} ({hint}known "
                                          f"keys: {known})", path + (key,)))
        for key, (spec, default) in self.fields.items():
            if key in value:
                result[key] = spec.check(value[key], path + (key,), errors)
            elif default is REQUIRED:
                errors.append(RecipeError(f"missing required key {key!r} ({spec.describe})",
                                          path))
            else:
                result[key] = default
        return result

    def nested_paths(self, key):
        """Dotted paths of ``key`` in the sections below this one
        (``epochs`` -> ``['train.epochs']``), for a misplaced key."""
        found = []
        for name, (spec, _) in self.fields.items():
            if isinstance(spec, Map):
                found += [f"{name}.{key}"] if key in spec.fields else [
                    f"{name}.{path}" for path in spec.nested_paths(key)]
        return found


class Choice(Spec):
    """``{type: name, ...}`` where ``name`` picks a :class:`Map` from ``options``.

    A bare string ``name`` means ``{type: name}``.
    """

    def __init__(self, options, what):
        self.options = options      # name -> Map of the other keys
        self.what = what
        self.describe = f"a {what} ({', '.join(sorted(options))})"

    def check(self, value, path, errors):
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, dict):
            return self.fail(value, path, errors)
        name = value.get("type")
        if name is None:
            errors.append(RecipeError(f"missing 'type' (a {self.what}: "
                                      f"{', '.join(sorted(self.options))})", path))
            return None
        if name not in self.options:
            close = difflib.get_close_matches(str(name), list(self.options), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            errors.append(RecipeError(f"unknown {self.what} {name!r} ({hint}known: "
                                      f"{', '.join(sorted(self.options))})", path + ("type",)))
            return None
        rest = {k: v for k, v in value.items() if k != "type"}
        checked = self.options[name].check(rest, path, errors)
        if checked is None:
            return None
        return {"type": name, **checked}
