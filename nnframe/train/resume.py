"""Resuming only what an uninterrupted run would have done: the recipe must not change.

A run resumed with a different learning rate, seed (which changes the
split), batch size or model would silently give a result that no
uninterrupted run gives.  :func:`check_recipe_unchanged` compares the
resolved recipe stored in the checkpoint with the current one and refuses a
change, listing the changed keys, unless it is one of
:data:`SAFE_CHANGES` (more epochs, logging, how often to checkpoint, the
data-parallel timeout) or the user confirms with ``--allow-changes``.

>>> changed_keys({"train": {"epochs": 10, "batch_size": 32}},
...              {"train": {"epochs": 20, "batch_size": 64}})
[('train.batch_size', 32, 64), ('train.epochs', 10, 20)]
"""
from nnframe.train.errors import ResumeError
from nnframe.train.recipe import RecipeErrors, load_recipe_text
from nnframe.train.schema import check_recipe

__all__ = ["SAFE_CHANGES", "changed_keys", "check_recipe_unchanged"]

#: Keys (or sections) whose change leaves the numbers of the epochs already run unchanged.
SAFE_CHANGES = ("name", "train.epochs", "logging", "checkpoint.every_epochs",
                "checkpoint.every_seconds", "distributed")


#: Changed keys listed in a refusal (a recipe of another model changes a hundred).
MAX_SHOWN = 8


class _Absent:
    def __repr__(self):
        return "(not set)"


#: A key one side does not have (shown as ``(not set)``).
ABSENT = _Absent()


def describe_change(key, old, new):
    """``'optimizer.learning_rate: 0.003 -> 0.01'``."""
    return f"{key}: {old!r} -> {new!r}"


def _diff(before, after, key, changes):
    """Append ``(key, before, after)`` for each differing leaf; a mapping against a
    non-mapping (a section set on one side only) is one change."""
    if isinstance(before, dict) and isinstance(after, dict):
        for name in sorted(set(before) | set(after), key=str):
            _diff(before.get(name, ABSENT), after.get(name, ABSENT),
                  f"{key}.{name}" if key else str(name), changes)
    elif isinstance(before, list) and isinstance(after, list):
        for index in range(max(len(before), len(after))):
            _diff(before[index] if index < len(before) else ABSENT,
                  after[index] if index < len(after) else ABSENT, f"{key}[{index}]", changes)
    elif before != after:
        changes.append((key, before, after))


def changed_keys(before, after):
    """``[(key.path, before, after)]`` for every leaf that differs, in key order."""
    changes = []
    _diff(before, after, "", changes)
    return changes


def _is_safe(key):
    return any(key == safe or key.startswith(safe + ".") for safe in SAFE_CHANGES)


def check_recipe_unchanged(saved_text, resolved, checkpoint_path, allow_changes=False):
    """Refuse to resume when the recipe changed in a way that changes the result.

    ``saved_text`` is the resolved recipe stored in the checkpoint (None for a
    checkpoint written without one: nothing to compare).  Returns the list of
    changed keys that were accepted (safe ones, or all with ``allow_changes``).
    """
    if saved_text is None:
        return []
    try:
        saved = load_recipe_text(saved_text, f"{checkpoint_path} (its stored recipe)")
    except RecipeErrors as exc:
        raise ResumeError(f"cannot resume from {checkpoint_path}: the recipe stored in it "
                          f"cannot be read ({exc.errors[0]})") from None
    try:
        # resolved again with today's schema: keys a newer nnframe added get their defaults
        # on both sides, so they do not count as changes
        saved = check_recipe(saved)
    except RecipeErrors:
        saved = saved.data      # a recipe of an older format: compared as it was stored
    changes = changed_keys(saved, resolved)
    unsafe = [c for c in changes if not _is_safe(c[0])]
    if unsafe and not allow_changes:
        shown = "; ".join(describe_change(*c) for c in unsafe[:MAX_SHOWN])
        if len(unsafe) > MAX_SHOWN:
            shown += f"; and {len(unsafe) - MAX_SHOWN} more"
        raise ResumeError(
            f"cannot resume from {checkpoint_path}: the recipe changed since that checkpoint "
            f"was written ({shown}), so the result would differ from any uninterrupted run. "
            "Undo the change (check --set and --seed), start a new run with another --out, or "
            "resume anyway with --allow-changes")
    return changes
