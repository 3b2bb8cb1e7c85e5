"""Philox draws on the device: the NumPy backend's numbers, bit for bit (normals to an ulp)."""
import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import assert_same  # noqa: E402

from nnframe import function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.core.ops import random as R  # noqa: E402

START = np.array([7, 3, 2 ** 64 - 5], dtype="uint64")   # the counter wraps during the draws


def draws(state, dtype):
    s1, u = R.RandomUniform(2, dtype)(state, [33, 7])
    s2, z = R.RandomNormal(1, dtype)(s1, [101])
    s3, k = R.RandomIntegers(1, "int32")(s2, [50], -5, 1000)
    s4, b = R.RandomBinomial(1, "int64")(s3, [20], 7, np.linspace(0, 1, 20).astype(dtype))
    s5, k2 = R.RandomIntegers(2, "uint8")(s4, [3, 40], np.arange(40), 255)
    s6, c = R.RandomChoice(1)(s5, [5], 10)
    return [u, z, k, b, k2, c], s6


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_streams_match_the_numpy_backend(dtype):
    dev_state = shared(START.copy(), shape=(3,))
    host_state = shared(START.copy(), shape=(3,))
    outs, new = draws(dev_state, dtype)
    f = function([], outs + [new], mode="opencl", updates=[(dev_state, new)])
    g = function([], outs + [new], mode="numpy", givens=[(dev_state, host_state)],
                 updates=[(host_state, new)])
    for _ in range(3):                  # successive calls continue the stream
        got, want = f(), g()
        for k, (a, b) in enumerate(zip(got, want)):
            tol = 2e-6 if (k == 1 and dtype == "float32") else 1e-14 if k == 1 else 0
            assert_same(a, b, rtol=tol, atol=tol, what=f"draw {k}")


def test_host_state_costs_no_transfer():
    state = shared(START.copy(), shape=(3,))
    new, u = R.RandomUniform(1, "float32")(state, [1000])
    f = function([], u.sum(), mode="opencl", updates=[(state, new)])
    f()
    opencl.reset_transfer_counts()
    f()
    counts = opencl.transfer_counts()
    assert counts["upload"] == 0 and counts["download"] == 1   # the requested sum only
    assert isinstance(state.get_value(), np.ndarray) and int(state.get_value()[2]) == 500 - 5


def test_device_resident_state_is_advanced_on_the_device():
    # A state computed by a device kernel stays there; draws read it from its buffer.
    state = shared(START.copy(), shape=(3,))
    bump = state + np.array([0, 0, 1], dtype="uint64")
    new, u = R.RandomUniform(1, "float64")(bump, [300])
    f = function([], u, mode="opencl", updates=[(state, new)])
    state_ref = shared(START.copy(), shape=(3,))
    g = function([], u, mode="numpy", givens=[(state, state_ref)], updates=[(state_ref, new)])
    for _ in range(2):
        assert_same(f(), g())
    np.testing.assert_array_equal(state.get_value(), state_ref.get_value())


def test_bad_parameters_raise_like_numpy():
    state = shared(START.copy(), shape=(3,))
    _, k = R.RandomIntegers(1, "int64")(state, [4], 5, 1)
    with pytest.raises(ValueError, match="low <= high"):
        function([], k, mode="opencl")()
    _, b = R.RandomBinomial(1, "int64")(state, [4], 3, np.array([0.5, 1.5, 0.1, 0.2]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        function([], b, mode="opencl")()
