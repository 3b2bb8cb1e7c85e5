"""Helpers for the backend tests: compile a graph on a backend and on NumPy, and compare.

The OpenCL tests call them as they are; the native backend's tests pass
``mode="native"``::

    compare([x], T.exp(x) * 2, [np.arange(3.0)], rtol=1e-15, mode="native")
"""
import numpy as np

from nnframe import function


def both(inputs, outputs, rewrite=True, mode="opencl", **kwargs):
    """The graph compiled for backend ``mode`` and for NumPy (the reference)."""
    from nnframe.core.mode import Mode
    kwargs.setdefault("on_unused_input", "ignore")
    return (function(inputs, outputs, mode=Mode(mode, rewrite=rewrite), **kwargs),
            function(inputs, outputs, mode=Mode("numpy", rewrite=rewrite), **kwargs))


def assert_same(got, want, rtol=0.0, atol=0.0, what=""):
    """Same dtype and shape; values equal (NaNs included) or within rtol/atol."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if rtol == 0 and atol == 0:
        np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


def compare(inputs, outputs, values, rtol=0.0, atol=0.0, mode="opencl", **kwargs):
    """Run ``outputs`` on backend ``mode`` and on NumPy and check both give the same results.

    ``rewrite=False`` compiles without graph rewrites (each node as built).
    Returns the results of backend ``mode`` (a list, even for one output).
    """
    single = not isinstance(outputs, (list, tuple))
    f, g = both(inputs, outputs, mode=mode, **kwargs)
    got = f(*values)
    with np.errstate(all="ignore"):  # NaN and Inf rows are compared, not warned about
        want = g(*values)
    if single:
        got, want = [got], [want]
    for k, (a, b) in enumerate(zip(got, want)):
        assert_same(a, b, rtol, atol, what=f"output {k}")
    return got
