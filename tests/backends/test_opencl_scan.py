"""OpenCL Scan against the NumPy backend: forward, gradients, taps, until, random streams."""
import numpy as np
import pytest

pytest.importorskip("pyopencl",
                    reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.core.ops.scan import ScanError  # noqa: E402

rng = np.random.default_rng(11)


def f32(*shape):
    return rng.normal(size=shape).astype("float32")


def scan_fallbacks():
    return {k: n for k, n in opencl.fallbacks().items() if k.startswith("Scan")}


def test_rnn_forward_and_gradients_stay_on_the_device():
    X, W, U, h0 = T.ftensor3("X"), T.fmatrix("W"), T.fmatrix("U"), T.fmatrix("h0")
    h, _ = T.scan(lambda x, h, W, U: T.tanh(T.dot(x, W) + T.dot(h, U)), sequences=X,
                  outputs_info=h0, non_sequences=[W, U])
    outs = [h] + T.grad((h ** 2).sum(), [X, W, U, h0])
    before = scan_fallbacks()
    compare([X, W, U, h0], outs, [f32(6, 3, 4), f32(4, 5) * 0.5, f32(5, 5) * 0.5, f32(3, 5)],
            rtol=1e-5, atol=1e-5)
    assert scan_fallbacks() == before


def test_taps_several_outputs_and_go_backwards():
    x, y0 = T.fvector("x"), T.fvector("y0")
    (y, z), _ = T.scan(lambda a, b, y2, y1: [0.5 * y2 + a * y1 + b, a * b],
                       sequences=dict(input=x, taps=[-1, 1]),
                       outputs_info=[dict(initial=y0, taps=[-2, -1]), None], go_backwards=True)
    compare([x, y0], [y, z, T.grad(y.sum() + z.sum(), x)], [f32(9), f32(2)], rtol=1e-5,
            atol=1e-6)


def test_until_and_symbolic_n_steps():
    v, n = T.fscalar("v"), T.lscalar("n")
    out, _ = T.scan(lambda a: (a * 2, T.until(a * 2 > 50)), outputs_info=v, n_steps=n)
    compare([v, n], out, [np.float32(1.0), np.int64(100)])
    compare([v, n], out, [np.float32(1.0), np.int64(3)])
    compare([v, n], out, [np.float32(1.0), np.int64(0)])


def test_integer_state_and_collected_output():
    x = T.ivector("x")
    (total, parity), _ = T.scan(lambda v, acc: [acc + v, T.eq(v % 2, 0)], sequences=x,
                                outputs_info=[T.constant(0, dtype="int32"), None])
    compare([x], [total, parity], [rng.integers(-5, 5, size=7).astype("int32")])


def test_shared_update_in_the_step_is_applied_on_the_device():
    acc = shared(np.float32(0.0), name="acc")
    x = T.fvector("x")
    out, updates = T.scan(lambda v: (v * acc, {acc: acc + v}), sequences=x)
    f = function([x], out, updates=updates, mode="opencl")
    np.testing.assert_allclose(f(np.array([1, 2, 3], "float32")), [0, 2, 9])
    assert acc.get_value() == 6.0


def test_random_draws_in_the_step_match_numpy():
    def draws(mode):
        srng = T.random.RandomStream(seed=4)
        m = T.fmatrix("m")
        out, updates = T.scan(lambda row: row + srng.normal(size=(3,), dtype="float32"),
                              sequences=m)
        f = function([m], [out, T.grad(out.sum(), m)], updates=updates, mode=mode)
        return [f(np.zeros((4, 3), "float32")) for _ in range(2)]
    for a, b in zip(draws("opencl"), draws("numpy")):
        for x, y in zip(a, b):
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


def test_errors_name_the_argument_on_the_device_too():
    x = T.fvector("x")
    out, _ = T.scan(lambda v: v * 2, sequences=x, n_steps=5)
    with pytest.raises(ScanError, match=r"sequences\[0\] \(tap 0\) has 3 rows but the loop runs 5"):
        function([x], out, mode="opencl")(np.ones(3, "float32"))
