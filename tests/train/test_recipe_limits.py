"""A recipe from a stranger cannot exhaust the machine: YAML aliases, nesting depth and the
file's size are bounded, each with a ``file:line:col`` error instead of a hang, a
MemoryError or a RecursionError."""
import contextlib
import signal
import time

import pytest

from nnframe.train import prepare
from nnframe.train import recipe as recipe_module
from nnframe.train.recipe import (
    MAX_ALIASES,
    MAX_DEPTH,
    MAX_RECIPE_BYTES,
    RecipeErrors,
    load_recipe,
    load_recipe_text,
    parse_override,
)

from .helpers import SMALL_RECIPE, run_cli, write_recipe

# "Billion laughs": nine levels of nine aliases each, 10^9 values once expanded.
LEVELS = "abcdefghi"
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join(['*' + below] * 9)}]\n"
    for below, name in zip(LEVELS, LEVELS[1:]))
# The first alias past MAX_ALIAS_NODES: the first *d on line 5 (9*10 + 9*91 + 9*820 values
# before it, and *d itself expands to 7381).
BOMB_WHERE = "5:8"


class TookTooLong(AssertionError):
    """The code under test ran past its deadline (without the limits it would run for
    minutes and take gigabytes)."""


@contextlib.contextmanager
def deadline(seconds):
    """Fail with :class:`TookTooLong` if the block runs longer than ``seconds``: the
    signal interrupts even a runaway pure-Python expansion."""
    def expire(signum, frame):
        raise TookTooLong(f"took longer than {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_errors(text, filename="r.yaml", seconds=5):
    """The error lines ``load_recipe_text`` raises for ``text`` (it must raise, in time)."""
    with deadline(seconds), pytest.raises(RecipeErrors) as info:
        load_recipe_text(text, filename)
    return [str(e) for e in info.value.errors]


# -- aliases ---------------------------------------------------------------------------------
def test_billion_laughs_is_refused_at_once_at_the_offending_alias():
    start = time.monotonic()
    errors = load_errors(BOMB)
    assert time.monotonic() - start < 2
    assert len(errors) == 1
    assert errors[0].startswith(f"r.yaml:{BOMB_WHERE}: the aliases expand to too many values")
    assert "*d" in errors[0] and "MAX_ALIAS_NODES" in errors[0]
    assert "write the values out, or use fewer anchors" in errors[0]


def test_billion_laughs_file_through_prepare(tmp_path):
    path = write_recipe(tmp_path, BOMB)
    with deadline(5), pytest.raises(RecipeErrors) as info:
        prepare(path)
    assert str(info.value).startswith(f"{path}:{BOMB_WHERE}: the aliases expand to too many")


def test_too_many_aliases():
    uses = ", ".join(["*one"] * (MAX_ALIASES + 1))
    errors = load_errors(f"x: &one 1\ny: [{uses}]\n")
    column = 5 + len("*one, ") * MAX_ALIASES       # the alias past the limit
    assert errors == [f"r.yaml:2:{column}: too many aliases: *one is alias number "
                      f"{MAX_ALIASES + 1}, and a recipe may use at most {MAX_ALIASES} "
                      "(MAX_ALIASES); write the values out, or use fewer anchors and aliases"]


def test_a_recursive_alias_is_refused():
    errors = load_errors("a: &a [1, *a]\n")
    assert errors[0].startswith("r.yaml:1:11: the alias *a is inside the value it names")


def test_an_alias_cannot_nest_past_the_depth_limit():
    # Each part is shallow; expanded, *a sits 45 levels deep under 10 more.
    text = "a: &a " + "[" * 45 + "1" + "]" * 45 + "\nb: " + "[" * 10 + "*a" + "]" * 10 + "\n"
    errors = load_errors(text)
    assert errors[0].startswith("r.yaml:2:14: the recipe nests more than 50 levels deep "
                                "through the alias *a")


def test_a_few_legitimate_aliases_still_work(tmp_path):
    text = SMALL_RECIPE.replace(
        "    - {type: dropout, p: 0.3}\n",
        "    - &drop {type: dropout, p: 0.3}\n    - *drop\n").replace(
        "total_steps: 6", "total_steps: &steps 6").replace("epochs: 6", "epochs: *steps")
    recipe = load_recipe_text(text)
    layers = recipe.data["model"]["layers"]
    assert layers[1] == layers[2] == {"type": "dropout", "p": 0.3}
    assert layers[1] is not layers[2]       # expanded: a --set on one changes only that one
    assert recipe.data["train"]["epochs"] == 6
    p = prepare(write_recipe(tmp_path, text))
    assert p.resolved["schedule"]["total_steps"] == p.resolved["train"]["epochs"] == 6
    assert [layer["type"] for layer in p.resolved["model"]["layers"]] == [
        "dense", "dropout", "dropout", "dense"]


def test_shared_blocks_up_to_the_limits_load():
    block = "{" + ", ".join(f"k{i}: {i}" for i in range(30)) + "}"    # 61 values
    uses = "\n".join(f"u{i}: *b" for i in range(MAX_ALIASES))        # 6,100 values in all
    recipe = load_recipe_text(f"base: &b {block}\n{uses}\n")
    assert recipe.data[f"u{MAX_ALIASES - 1}"]["k29"] == 29


# -- nesting depth ---------------------------------------------------------------------------
def flow_lists(depth):
    return "x: " + "[" * depth + "1" + "]" * depth + "\n"


def flow_mappings(depth):
    return "x: " + "{a: " * depth + "1" + "}" * depth + "\n"


def block_mappings(depth):
    return "".join(" " * level + "a:\n" for level in range(depth)) + " " * depth + "b: 1\n"


@pytest.mark.parametrize("depth", [500, 10_000])
@pytest.mark.parametrize("nest", [flow_lists, flow_mappings, block_mappings])
def test_deep_nesting_is_refused_without_recursion_error(nest, depth, monkeypatch):
    # 10,000 indented block levels are 50 MB: past the size limit; lift it to reach depth.
    monkeypatch.setattr(recipe_module, "MAX_RECIPE_BYTES", 1 << 30)
    errors = load_errors(nest(depth), seconds=30)
    assert len(errors) == 1
    assert f"the recipe nests more than {MAX_DEPTH} levels deep" in errors[0]
    line_col = errors[0].split(": ")[0].split(":")[1:]
    assert all(part.isdigit() for part in line_col) and len(line_col) == 2


def test_depth_error_points_at_the_first_level_too_deep():
    # The top-level mapping is the first level; "x: [" opens the second at column 4.
    assert load_errors(flow_lists(500))[0].startswith(f"r.yaml:1:{3 + MAX_DEPTH}: ")
    too_deep = MAX_DEPTH + 1                # line n opens level n, at column n
    assert load_errors(block_mappings(500))[0].startswith(f"r.yaml:{too_deep}:{too_deep}: ")


def test_nesting_up_to_the_limit_loads():
    recipe = load_recipe_text(flow_lists(MAX_DEPTH - 1))     # x: itself is the first level
    assert recipe.marks[("x",) + (0,) * (MAX_DEPTH - 2)] == "<recipe>:1:52"


def test_deep_values_in_an_override_are_refused(tmp_path):
    recipe = load_recipe(write_recipe(tmp_path))
    for assignment in ["seed=" + "[" * 10_000 + "]" * 10_000, "a" + ".a" * 10_000 + "=1"]:
        with deadline(5), pytest.raises(RecipeErrors) as info:
            parse_override(recipe, assignment)
        assert f"nests more than {MAX_DEPTH} levels deep" in str(info.value)


# -- file size -------------------------------------------------------------------------------
def test_an_oversize_file_is_refused_before_it_is_parsed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_text(SMALL_RECIPE + "#" * MAX_RECIPE_BYTES + "\n")
    with deadline(5), pytest.raises(RecipeErrors) as info:
        prepare(path)
    assert str(info.value) == (
        f"{path}: the recipe is larger ({path.stat().st_size} bytes) than the limit of "
        f"{MAX_RECIPE_BYTES} bytes (MAX_RECIPE_BYTES, {MAX_RECIPE_BYTES // 1024} KiB); "
        "recipes are a few KB: is this the right file?")


def test_oversize_text_is_refused():
    assert load_errors("x: 1\n" + " " * MAX_RECIPE_BYTES, "t.yaml") == [
        f"t.yaml: the recipe is larger than the limit of {MAX_RECIPE_BYTES} bytes "
        f"(MAX_RECIPE_BYTES, {MAX_RECIPE_BYTES // 1024} KiB); recipes are a few KB: "
        "is this the right file?"]


@pytest.mark.parametrize("data", [b"\x89PNG\r\n\x1a\n\x00\x00", "name: caf\xe9\n".encode("latin-1"),
                                  "name: x\n".encode("utf-16")])
def test_a_file_that_is_not_utf8_text_is_a_recipe_error(tmp_path, data):
    path = tmp_path / "r.yaml"
    path.write_bytes(data)
    with pytest.raises(RecipeErrors, match=r"r.yaml: not UTF-8 text: byte \d+ is .*save the "
                                           r"recipe as UTF-8"):
        prepare(path)


def test_control_characters_are_a_recipe_error_with_their_position(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"nnframe_recipe: 1\nname: a\x07b\n")
    with pytest.raises(RecipeErrors, match=r"r.yaml:2:8: character '\\x07' is not allowed"):
        prepare(path)


def test_a_directory_is_a_recipe_error(tmp_path):
    with pytest.raises(RecipeErrors, match="is a directory, not a recipe file"):
        prepare(tmp_path)


# -- the command line ------------------------------------------------------------------------
def test_cli_refuses_the_alias_bomb_with_status_2_and_no_traceback(tmp_path):
    path = write_recipe(tmp_path, BOMB)
    result = run_cli(path, "--check", timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"{path}:{BOMB_WHERE}: the aliases expand to too many values" in result.stderr
    assert "MAX_ALIAS_NODES" in result.stderr


def test_cli_refuses_deep_nesting_with_status_2_and_no_traceback(tmp_path):
    path = write_recipe(tmp_path, flow_lists(500))
    result = run_cli(path, "--check", timeout=60)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"{path}:1:{3 + MAX_DEPTH}: the recipe nests more than" in result.stderr
