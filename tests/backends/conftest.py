"""Fixtures of the backend tests (the comparison helpers are in opencl_helpers.py).

Every OpenCL test (modules ``test_opencl_*``) runs once with the device's own
vector width and once more under each narrower cap of
``config.opencl_max_vector_bits`` (256 and 128 bits), so the kernels an AVX2
machine (or a GPU, which gets 128-bit vectors) compiles are tested on any
machine: the test ids end in ``[native]``, ``[256bit]``, ``[128bit]``.  Other
modules (the native C backend's) have no vector width to vary and run once.
"""
import pytest


def _vector_caps():
    """None (the device's own width), then each narrower cap the device's width allows."""
    try:
        from nnframe.backends.opencl.context import get_context
        ctx = get_context()
        native = max(ctx.vector_bits, ctx.tile_bits)
    except Exception:  # no pyopencl or no device: the tests skip and say why
        return [None]
    return [None] + [bits for bits in (256, 128) if bits < native]


def _is_opencl_module(module):
    return module is not None and module.__name__.rpartition(".")[2].startswith("test_opencl_")


def pytest_generate_tests(metafunc):
    """Parametrise ``vector_cap`` over the vector widths, in OpenCL modules only."""
    if "vector_cap" in metafunc.fixturenames and _is_opencl_module(metafunc.module):
        metafunc.parametrize("vector_cap", _vector_caps(), indirect=True,
                             ids=lambda bits: "native" if bits is None else f"{bits}bit")


@pytest.fixture(autouse=True)
def vector_cap(request):
    """Runs the test with kernels no wider than ``request.param`` bits (None: no cap)."""
    bits = getattr(request, "param", None)
    if bits is None and not _is_opencl_module(request.module):
        yield None  # no OpenCL here: leave the flag alone
        return
    from nnframe.config import config
    with config.change_flags(opencl_max_vector_bits=bits):
        yield bits


@pytest.fixture
def fresh_compiledir(tmp_path, monkeypatch):
    """An empty program cache directory and no in-memory programs."""
    from nnframe.backends.opencl import program
    from nnframe.config import config
    monkeypatch.setattr(program, "_PROGRAMS", {})
    with config.change_flags(compiledir=str(tmp_path)):
        yield tmp_path
