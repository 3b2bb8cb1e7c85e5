"""Training from YAML recipes: ``python -m nnframe.train RECIPE.yaml`` (or ``nnframe-train``).

>>> from nnframe.train import run
>>> report = run('recipes/mlp_digits.yaml', overrides=['train.epochs=1'])  # doctest: +SKIP
"""
from nnframe.train.recipe import RecipeError, RecipeErrors, load_recipe
from nnframe.train.trainer import TrainingStopped, prepare, run

__all__ = ["run", "prepare", "load_recipe", "RecipeError", "RecipeErrors", "TrainingStopped"]
