"""The tree passes ruff (pyflakes, import order, bugbear; configured in pyproject.toml)."""
import importlib.util
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_finds_nothing():
    # the test extra installs ruff (its wheel ships the binary): no skip when it is missing
    assert importlib.util.find_spec("ruff"), "ruff is not installed: pip install -e '.[test]'"
    command = [sys.executable, "-m", "ruff", "check", "--no-cache",
               "nnframe", "tests", "benchmarks", "examples"]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


def test_mypy_accepts_the_protocol_modules():
    """Op, Layer and the update rules are annotated; mypy checks them (files in pyproject)."""
    assert importlib.util.find_spec("mypy"), "mypy is not installed: pip install -e '.[test]'"
    command = [sys.executable, "-m", "mypy", "--no-incremental"]
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
