"""The shipped digits recipes, run as they are, reach >= 97% test accuracy, on the NumPy
backend and on the native one (generated C)."""
import json
import os
import subprocess
import sys

import pytest

import nnframe

REPO = os.path.dirname(os.path.dirname(os.path.abspath(nnframe.__file__)))


@pytest.mark.parametrize("device", ["numpy", "native"])
@pytest.mark.parametrize("recipe", ["mlp_digits", "cnn_digits"])
def test_recipe_reproduces(recipe, device, tmp_path):
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    result = subprocess.run([sys.executable, "-m", "nnframe.train",
                             os.path.join(REPO, "recipes", f"{recipe}.yaml"), "--out",
                             str(tmp_path), "--device", device], capture_output=True, text=True,
                            env=env, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "NumPy backend" not in result.stderr    # native really ran in C
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["test"]["accuracy"] >= 0.97, report["test"]
