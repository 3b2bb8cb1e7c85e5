"""Resuming only what an uninterrupted run would have done: the recipe must not change.

A run resumed with a different learning rate, seed (which changes the
split), batch size or model would silently give a result that no
uninterrupted run gives.  :func:`check_recipe_unchanged` compares the
resolved recipe stored in the checkpoint with the current one and refuses a
change, listing the changed keys, unless it is one of
:data:`SAFE_CHANGES` (more epochs, logging, how often to checkpoint) or the
user confirms with ``--allow-changes``.

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
                "checkpoint.every_seconds")


def _flatten(value, prefix=""):
    if isinstance(value, dict):
        items = {}
        for key, item in value.items():
            items.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return items
    if isinstance(value, list) and value:
        items = {}
        for index, item in enumerate(value):
            items.update(_flatten(item, f"{prefix}[{index}]"))
        return items
    return {prefix: value}


def changed_keys(before, after):
    """``[(key.path, before, after)]`` for every leaf that differs (sorted by key)."""
    a, b = _flatten(before), _flatten(after)
    missing = object()
    return [(key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b))
            if a.get(key, missing) != b.get(key, missing)]


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
        shown = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in unsafe)
        raise ResumeError(
            f"cannot resume from {checkpoint_path}: the recipe changed since that checkpoint "
            f"was written ({shown}), so the result would differ from any uninterrupted run. "
            "Undo the change (check --set and --seed), start a new run with another --out, or "
            "resume anyway with --allow-changes")
    return changes
