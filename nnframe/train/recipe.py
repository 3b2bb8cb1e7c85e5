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

Recipes come from strangers, so reading one is bounded: the file's size
(:data:`MAX_RECIPE_BYTES`), how deep lists and mappings nest
(:data:`MAX_DEPTH`), how many aliases (``*name``) it uses (:data:`MAX_ALIASES`)
and how many values those aliases expand to (:data:`MAX_ALIAS_NODES`; a
"billion laughs" recipe is refused at its first alias past the bound, before
anything is expanded).  Each is a ``file:line:col`` error:

>>> load_recipe_text("a: " + "[" * 60 + "]" * 60, "r.yaml")
Traceback (most recent call last):
...
nnframe.train.recipe.RecipeErrors: r.yaml:1:53: the recipe nests more than 50 levels ...
"""
import codecs
import difflib
import errno
import math
import os
import re

import yaml

__all__ = ["RecipeError", "RecipeErrors", "Recipe", "load_recipe", "load_recipe_text",
           "parse_override", "Spec", "Int", "Float", "Str", "Bool", "Any", "Seq", "Map",
           "OneOf", "Choice", "Nullable", "REQUIRED", "format_path", "MAX_RECIPE_BYTES",
           "MAX_DEPTH", "MAX_ALIASES", "MAX_ALIAS_NODES"]

# -- limits on what a recipe may make the loader do ---------------------------------------
# Real recipes are 1-3 KB (recipes/*.yaml); 256 KiB leaves room for a recipe with a long
# layer list or comments, and bounds the parser's time and memory (pure-Python PyYAML
# holds a node per value: a 1 MiB flat list took 12 s and 535 MB) before it starts.
MAX_RECIPE_BYTES = 1 << 18
# Recipes nest 3-4 levels (model.layers[2].num_units).  PyYAML's composer, our
# constructor and the schema recurse a few Python frames per level, so the limit must stay
# well below Python's recursion limit (1000); 50 is far more than a recipe needs.
MAX_DEPTH = 50
# The recipes in recipes/ use no aliases; a hand-written recipe might share a handful of
# blocks.  Each alias is a reference that can multiply the expanded size, so cap the count.
MAX_ALIASES = 100
# Values (scalars, lists, mappings) that all alias uses expand to, added up.  Sharing a
# layer block a few times costs tens; 10,000 is generous, and keeps the expanded data (and
# the schema's work on it) small, while a nine-level "billion laughs" recipe would be 10^9.
MAX_ALIAS_NODES = 10_000


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
class RecipeLimitError(yaml.composer.ComposerError):
    """A recipe goes past one of the limits above (``problem`` says which, at
    ``problem_mark``)."""

    def __init__(self, problem, mark):
        super().__init__(None, None, problem, mark)


_COLLECTION_STARTS = (yaml.SequenceStartEvent, yaml.MappingStartEvent)


def _anchor_text(anchor):
    """``*name`` for a message (shortened: an anchor name can be as long as the file)."""
    return f"*{anchor if len(anchor) <= 40 else anchor[:37] + '...'}"


class RecipeLoader(yaml.SafeLoader):
    """PyYAML's safe loader with scientific-notation floats such as ``1e-3``, that refuses
    recipes nesting deeper than :data:`MAX_DEPTH` or using aliases past
    :data:`MAX_ALIASES` / :data:`MAX_ALIAS_NODES` (:class:`RecipeLimitError`)."""

    def __init__(self, stream):
        super().__init__(stream)
        self.depth = 0              # lists and mappings open around the current event
        self.alias_uses = 0
        self.alias_nodes = 0        # values the aliases so far expand to, added up
        # id(node) -> (values it expands to, levels of nesting it adds), for every node
        # composed so far (all stay alive in the tree); a node is absent while it is
        # still being composed.  Filled bottom-up, so the alias checks cost O(1) each.
        self.node_sizes = {}

    def compose_node(self, parent, index):
        """Check the limits on the event stream, then compose as PyYAML does.

        PyYAML's composer recurses once per level, so depth is checked here, one
        start event at a time, long before Python's recursion limit."""
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.check_alias(event)
            return super().compose_node(parent, index)
        nested = isinstance(event, _COLLECTION_STARTS)
        if nested:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise RecipeLimitError(_too_deep(), event.start_mark)
        node = super().compose_node(parent, index)
        if nested:
            self.depth -= 1
        self.node_sizes[id(node)] = self.measure(node)
        return node

    def measure(self, node):
        """(values ``node`` expands to, levels it nests) from its children's, known already."""
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            return 1, 0
        sizes = [self.node_sizes[id(child)] for child in children]
        return 1 + sum(s for s, _ in sizes), 1 + max((d for _, d in sizes), default=0)

    def check_alias(self, event):
        """Count this use of an alias and what it expands to; refuse past the limits.

        Runs before the alias is composed, so nothing has been expanded yet."""
        target = self.anchors.get(event.anchor)
        if target is None:
            return                  # PyYAML reports the undefined alias
        name = _anchor_text(event.anchor)
        fix = "write the values out, or use fewer anchors and aliases"
        if id(target) not in self.node_sizes:
            raise RecipeLimitError(f"the alias {name} is inside the value it names (a "
                                   f"recursive structure, which a recipe cannot hold); {fix}",
                                   event.start_mark)
        self.alias_uses += 1
        if self.alias_uses > MAX_ALIASES:
            raise RecipeLimitError(f"too many aliases: {name} is alias number "
                                   f"{self.alias_uses}, and a recipe may use at most "
                                   f"{MAX_ALIASES} (MAX_ALIASES); {fix}", event.start_mark)
        size, levels = self.node_sizes[id(target)]
        self.alias_nodes += size
        if self.alias_nodes > MAX_ALIAS_NODES:
            raise RecipeLimitError(f"the aliases expand to too many values: with {name} "
                                   f"(itself {size} values) they add up to {self.alias_nodes}, "
                                   f"and a recipe's aliases may expand to at most "
                                   f"{MAX_ALIAS_NODES} (MAX_ALIAS_NODES; a YAML 'billion "
                                   f"laughs' bomb goes past it); {fix}", event.start_mark)
        if self.depth + levels > MAX_DEPTH:
            raise RecipeLimitError(_too_deep(f" through the alias {name}"), event.start_mark)


def _too_deep(how=""):
    return (f"the recipe nests more than {MAX_DEPTH} levels deep{how}: lists and mappings "
            f"inside each other (MAX_DEPTH); no recipe needs that many: flatten it")


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


def _where(filename, mark):
    """``file:line:col`` of a PyYAML mark (1-based), or the file alone without one."""
    return f"{filename}:{mark.line + 1}:{mark.column + 1}" if mark else filename


def _mark(filename, node):
    return _where(filename, node.start_mark)


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


def _too_big(filename, size=None):
    size = f" ({size} bytes)" if size is not None else ""
    return RecipeErrors([RecipeError(
        f"the recipe is larger{size} than the limit of {MAX_RECIPE_BYTES} bytes "
        f"(MAX_RECIPE_BYTES, {MAX_RECIPE_BYTES >> 10} KiB); recipes are a few KB: is this "
        "the right file?", (), filename)])


def load_recipe_text(text, filename="<recipe>"):
    """Parse recipe text into a :class:`Recipe`; raise :class:`RecipeErrors`."""
    if len(text) > MAX_RECIPE_BYTES:    # characters: at least as many bytes
        raise _too_big(filename)
    try:
        return _load_recipe_text(text, filename)
    except RecursionError:
        # The limits above should make this unreachable; a traceback is never the answer.
        raise RecipeErrors([RecipeError(_too_deep(), (), filename)]) from None


def _load_recipe_text(text, filename):
    try:
        loader = RecipeLoader(text)     # the reader refuses control characters at once
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        raise RecipeErrors([RecipeError(
            f"character {chr(exc.character)!r} is not allowed in YAML (control characters "
            "other than tab and line breaks are refused): is this a text file?", (),
            f"{filename}:{line}:{column}")]) from None
    try:
        try:
            node = loader.get_single_node()
        except RecipeLimitError as exc:
            where = _where(filename, exc.problem_mark)
            raise RecipeErrors([RecipeError(exc.problem, (), where)]) from None
        except yaml.MarkedYAMLError as exc:
            where = _where(filename, exc.problem_mark or exc.context_mark)
            raise RecipeErrors([RecipeError(f"YAML syntax error: {exc.problem}", (), where)]
                               ) from None
        if node is None:
            raise RecipeErrors([RecipeError(
                "the recipe is empty (no keys, only blanks or comments): write the recipe's "
                "sections, as in recipes/mlp_digits.yaml", (), filename)])
        marks, errors = {}, []
        data = _construct(node, loader, filename, (), marks, errors)
    finally:
        loader.dispose()
    if errors:
        raise RecipeErrors(errors)
    return Recipe(data, marks, filename, text)


def load_recipe(path):
    """Read and parse the recipe file at ``path`` (refused past :data:`MAX_RECIPE_BYTES`).

    A file that is missing, cannot be read, is a directory or is not UTF-8 text raises
    :class:`RecipeErrors` naming the file:

    >>> load_recipe("nope.yaml")
    Traceback (most recent call last):
    ...
    nnframe.train.recipe.RecipeErrors: nope.yaml: cannot read the recipe: no such file ...
    """
    filename = os.fsdecode(path)
    data = _read_recipe_bytes(path, filename)
    return load_recipe_text(_decode(data, filename), filename)


def _file_error(filename, message):
    return RecipeErrors([RecipeError(message, (), filename)])


_READ_PROBLEMS = {
    errno.ENOENT: "no such file (check the path)",
    errno.EACCES: "permission denied (check the file's permissions: the recipe must be "
                  "readable)",
    errno.EPERM: "permission denied (check the file's permissions: the recipe must be "
                 "readable)",
    errno.EISDIR: "is a directory, not a recipe file (give the path of a .yaml file)",
    errno.ENOTDIR: "a part of the path is a file, not a directory (check the path)",
}


def _read_recipe_bytes(path, filename):
    """The file's bytes, at most one past :data:`MAX_RECIPE_BYTES`."""
    if os.path.isdir(path):
        raise _file_error(filename, _READ_PROBLEMS[errno.EISDIR])
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_RECIPE_BYTES:     # refuse before reading a byte
                raise _too_big(filename, size)
            # A pipe or device reports size 0: read one byte past the limit to tell.
            return fh.read(MAX_RECIPE_BYTES + 1)
    except OSError as exc:
        problem = _READ_PROBLEMS.get(exc.errno, exc.strerror or str(exc))
        message = problem if exc.errno == errno.EISDIR else f"cannot read the recipe: {problem}"
        raise _file_error(filename, message) from None


# Byte-order marks of encodings a recipe might have been saved in by mistake; UTF-32's
# come first because UTF-32-LE's starts with UTF-16-LE's.
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
         (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"))


def _decode(data, filename):
    """The text of a UTF-8 recipe (a UTF-8 byte-order mark is dropped); RecipeErrors
    naming the encoding it looks like otherwise."""
    def refuse(at, why):
        return _file_error(filename, f"not UTF-8 text: byte {at} is {data[at:at + 1]!r} "
                                     f"({why}: save the recipe as UTF-8)")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            raise refuse(0, f"the file starts with a {encoding} byte-order mark, so it is "
                            f"{encoding} text")
    zero = _utf16_zero_byte(data)
    if zero is not None:
        raise refuse(zero, "every other byte is zero, so it looks like UTF-16 text without a "
                           "byte-order mark")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[start:exc.start].decode("utf-8", "replace")) + 1
        raise refuse(exc.start, f"at line {line}, column {column}; a binary file, or text in "
                                "another encoding such as Latin-1") from None


def _utf16_zero_byte(data):
    """The position of the first zero byte when ``data`` looks like UTF-16 without a
    byte-order mark (ASCII text then has a zero in every other byte), else None."""
    sample = data[:512]
    if len(sample) < 4:
        return None
    for first in (0, 1):            # big-endian: zeros first; little-endian: second
        zeros = sample[first::2].count(0)
        if zeros >= 0.9 * len(sample[first::2]) and sample[1 - first::2].count(0) == 0:
            return first
    return None


def parse_override(recipe, assignment):
    """Apply ``--set key.path=value`` (value read with the recipe's YAML rules)."""
    where = f"--set {assignment}"
    if "=" not in assignment:
        raise RecipeErrors([RecipeError("expected key.path=value", (), where)])
    key, text = assignment.split("=", 1)
    path = tuple(int(p) if p.isdigit() else p for p in key.strip().split("."))
    if len(path) > MAX_DEPTH:
        raise RecipeErrors([RecipeError(_too_deep(), (), where)])
    try:
        value = yaml.load(text, Loader=RecipeLoader) if text.strip() else None
    except RecipeLimitError as exc:
        raise RecipeErrors([RecipeError(f"cannot read the value: {exc.problem}", path, where)]
                           ) from None
    except RecursionError:      # the loader's limits should make this unreachable
        raise RecipeErrors([RecipeError(_too_deep(), path, where)]) from None
    except yaml.YAMLError as exc:
        raise RecipeErrors([RecipeError(f"cannot read the value {text!r}: {exc}", path, where)]
                           ) from None
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
    """A finite number (an integer is taken as one): ``.inf``, ``.nan`` and ``1e999`` are
    refused, since no setting means anything with them.

    >>> errors = []
    >>> Float(min=0, exclusive_min=True).check(float("inf"), ("lr",), errors)
    >>> str(errors[0])
    'lr: expected a finite number > 0, got inf'
    """

    @property
    def describe(self):
        return f"a finite number {self._range_text()}".rstrip()

    def convert(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        try:
            return float(value)
        except OverflowError:   # an integer past the float range is no finite number either
            return math.inf

    def check(self, value, path, errors):
        number = self.convert(value)
        if number is None:
            return self.fail(value, path, errors)
        if not math.isfinite(number):
            errors.append(RecipeError(f"expected {self.describe}, got {number!r}", path))
            return None
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

    def __init__(self, fields, what="this section", moved=None):
        self.fields = fields
        self.what = what
        # keys of older recipe versions -> where they went, said instead of "unknown key"
        self.moved = moved or {}

    def check(self, value, path, errors):
        if path:
            return self.check_fields(value, path, errors)
        try:
            return self.check_fields(value, path, errors)
        except RecursionError:
            # The whole recipe: the loader's MAX_DEPTH should make this unreachable, but an
            # error naming the problem beats a traceback.
            errors.append(RecipeError(_too_deep(), path))
            return None

    def check_fields(self, value, path, errors):
        """``check`` for this mapping (no recursion guard)."""
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return self.fail(value, path, errors)
        result = {}
        for key in value:
            if key in self.moved:
                errors.append(RecipeError(f"{key!r} has moved: {self.moved[key]}",
                                          path + (key,)))
            elif key not in self.fields:
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
        article = "an" if what[:1] in "aeiou" else "a"
        self.describe = f"{article} {what} ({', '.join(sorted(options))})"

    def check(self, value, path, errors):
        if isinstance(value, str):
            value = {"type": value}
        if not isinstance(value, dict):
            return self.fail(value, path, errors)
        name = value.get("type")
        if name is None:
            errors.append(RecipeError(f"missing 'type' ({'an' if self.what[:1] in 'aeiou' else 'a'} {self.what}: "
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
