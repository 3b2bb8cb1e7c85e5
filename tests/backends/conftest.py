"""Fixtures of the OpenCL backend tests (the comparison helpers are in opencl_helpers.py).

Every test here runs once with the device's own vector width and once more
under each narrower cap of ``config.opencl_max_vector_bits`` (256 and 128
bits), so the kernels an AVX2 machine (or a GPU, which gets 128-bit vectors)
compiles are tested on any machine: the test ids end in ``[native]``,
``[256bit]``, ``[128bit]``.
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


@pytest.fixture(autouse=True, params=_vector_caps(),
                ids=lambda bits: "native" if bits is None else f"{bits}bit")
def vector_cap(request):
    """Runs the test with kernels no wider than ``request.param`` bits (None: no cap)."""
    from nnframe.config import config
    with config.change_flags(opencl_max_vector_bits=request.param):
        yield request.param


@pytest.fixture
def fresh_compiledir(tmp_path, monkeypatch):
    """An empty program cache directory and no in-memory programs."""
    from nnframe.backends.opencl import program
    from nnframe.config import config
    monkeypatch.setattr(program, "_PROGRAMS", {})
    with config.change_flags(compiledir=str(tmp_path)):
        yield tmp_path
