"""Helpers for the training tests: writing small recipes, running the CLI in a subprocess."""
import os
import subprocess
import sys
import textwrap

import nnframe

REPO = os.path.dirname(os.path.dirname(os.path.abspath(nnframe.__file__)))

SMALL_RECIPE = """\
nnframe_recipe: 1
name: small
seed: 3
data:
  dataset: {type: digits, shape: flat}
  split: {train: 0.6, valid: 0.2, test: 0.2}
  standardize: standard
model:
  layers:
    - {type: dense, name: hid, num_units: 32}
    - {type: dropout, p: 0.3}
    - {type: dense, name: out, num_units: 10, nonlinearity: linear}
loss: {type: categorical_crossentropy_from_logits}
optimizer: {type: adam, learning_rate: 3e-3}
schedule: {type: cosine, total_steps: 6}
train: {epochs: 6, batch_size: 32}
metrics: [accuracy]
"""


def write_recipe(tmp_path, text=SMALL_RECIPE, name="recipe.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def cli_env():
    """The environment of a CLI run: this checkout first, one BLAS thread, and the backend
    of this test session (``--device``), so a run and its resume use the same one."""
    from nnframe.config import config
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    if "NNFRAME_FLAGS" not in env:
        env["NNFRAME_FLAGS"] = f"device={config.device}"
    return env


def run_cli(*args, timeout=300, cwd=None):
    return subprocess.run([sys.executable, "-m", "nnframe.train", *map(str, args)],
                          capture_output=True, text=True, env=cli_env(), timeout=timeout,
                          cwd=cwd)
