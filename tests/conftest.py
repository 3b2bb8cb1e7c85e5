"""Test-wide options.

``--device={numpy,opencl,native}`` sets ``nnframe.config.device`` for the whole
run, so the graph tests run on either backend::

    python -m pytest tests/core --device=opencl
    python -m pytest tests/core --device=opencl --replay-verify   # launch plans checked

Without the option the device is the configuration's (native, the default,
unless ``NNFRAME_FLAGS`` or ~/.nnframerc say otherwise); CI runs the whole suite so
and the graph tests once more on the NumPy reference backend (``--device=numpy``).

Tests that ask for ``mode='debug'`` or ``mode='numpy'`` keep their mode.
OpenCL-only tests (tests/backends) skip, saying why, when pyopencl is not
installed.
"""
import importlib.util

import pytest


def pytest_addoption(parser):
    parser.addoption("--device", action="store", default=None, choices=("numpy", "opencl", "native"),
                     help="backend for functions compiled without a mode (sets "
                          "nnframe.config.device; default: the configuration's, native)")
    parser.addoption("--replay-verify", action="store_true",
                     help="OpenCL launch plans from a function's second call, and every "
                          "replayed call checked against a plain one (bit for bit)")


def pytest_configure(config):
    device = config.getoption("--device")
    if device == "opencl" and importlib.util.find_spec("pyopencl") is None:
        raise pytest.UsageError("--device=opencl needs pyopencl: pip install 'nnframe[opencl]'")
    if device is not None:
        from nnframe.config import config as nnframe_config
        nnframe_config.device = device
    if config.getoption("--replay-verify"):
        from nnframe.backends.opencl import replay
        replay.CAPTURES_FROM, replay.PLAN_FROM, replay.VERIFY = 0, 2, True
    if device == "native":
        from nnframe.backends import native
        if native.fallback_reason() is not None:
            raise pytest.UsageError("--device=native cannot run here: " + native.fallback_reason())


def pytest_report_header(config):
    from nnframe.config import config as nnframe_config
    return f"nnframe device: {nnframe_config.device}"
