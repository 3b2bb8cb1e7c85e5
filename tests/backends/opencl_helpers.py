"""Helpers for the OpenCL backend tests: compile a graph on both backends and compare."""
import numpy as np

from nnframe import function


def both(inputs, outputs, rewrite=True, **kwargs):
    """The graph compiled for OpenCL and for NumPy (the reference)."""
    from nnframe.core.mode import Mode
    kwargs.setdefault("on_unused_input", "ignore")
    return (function(inputs, outputs, mode=Mode("opencl", rewrite=rewrite), **kwargs),
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


def compare(inputs, outputs, values, rtol=0.0, atol=0.0, **kwargs):
    """Run ``outputs`` on both backends and check OpenCL gives NumPy's results.

    ``rewrite=False`` compiles without graph rewrites (each node as built).
    """
    single = not isinstance(outputs, (list, tuple))
    f, g = both(inputs, outputs, **kwargs)
    got, want = f(*values), g(*values)
    if single:
        got, want = [got], [want]
    for k, (a, b) in enumerate(zip(got, want)):
        assert_same(a, b, rtol, atol, what=f"output {k}")
    return got
