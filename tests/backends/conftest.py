"""Fixtures of the OpenCL backend tests (the comparison helpers are in opencl_helpers.py)."""
import pytest


@pytest.fixture
def fresh_compiledir(tmp_path, monkeypatch):
    """An empty program cache directory and no in-memory programs."""
    from nnframe.backends.opencl import program
    from nnframe.config import config
    monkeypatch.setattr(program, "_PROGRAMS", {})
    with config.change_flags(compiledir=str(tmp_path)):
        yield tmp_path
