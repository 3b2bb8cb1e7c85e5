"""nnframe's own float32 GEMM (native backend, CPUs with AVX-512): checked directly against
float64 products over edge shapes, strides and special values, then through compiled
functions against the NumPy backend.

The kernel is a library of its own (``sgemm.library()``); where the CPU has no AVX-512 it
compiles to nothing (``NNF_OWN_SGEMM`` 0) and the products run on the BLAS, which the other
native tests cover, so the direct tests are skipped there.
"""
import ctypes
import os
import subprocess
import sys

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared
from nnframe.backends import native
from nnframe.backends.native import sgemm
from nnframe.config import config

pytestmark = pytest.mark.skipif(native.fallback_reason() is not None,
                                reason=f"no native backend here: {native.fallback_reason()}")

@pytest.fixture(scope="module")
def own():
    """``own(a, b, c, alpha, beta, offset=0)``: the own kernel on NumPy float32 views."""
    lib = sgemm.library()
    if lib is None:
        pytest.skip("this CPU has no AVX-512 (or the compiler is clang): the own kernel is "
                    "not compiled here")
    fn = lib.nnf_sgemm_own
    L, F, P = ctypes.c_long, ctypes.c_float, ctypes.c_void_p
    fn.argtypes = [L, L, L, F, P, L, L, P, L, L, F, P, L, P]
    fn.restype = None

    def call(a, b, c, alpha=1.0, beta=0.0, offset=0):
        # the workspace at an odd offset: the kernel aligns it itself
        work = np.empty(sgemm.PACK_BYTES + 64, np.uint8)
        (m, k), n = a.shape, b.shape[1]
        assert c.strides[1] == 4 and c.shape == (m, n)
        fn(m, n, k, alpha, a.ctypes.data, a.strides[0] // 4, a.strides[1] // 4,
           b.ctypes.data, b.strides[0] // 4, b.strides[1] // 4, beta, c.ctypes.data,
           c.strides[0] // 4, work.ctypes.data + offset)
    return call


def _operand(rng, rows, cols, layout):
    """A float32 ``rows x cols`` operand stored as ``layout``: c (C order), t (a transposed
    view), s (every other column of a wider array), r (rows reversed: a negative stride),
    b (one row broadcast: stride 0)."""
    if layout == "c":
        return rng.standard_normal((rows, cols)).astype(np.float32)
    if layout == "t":
        return rng.standard_normal((cols, rows)).astype(np.float32).T
    if layout == "s":
        return rng.standard_normal((rows, 2 * cols)).astype(np.float32)[:, ::2]
    if layout == "r":
        return rng.standard_normal((rows, cols)).astype(np.float32)[::-1]
    return np.broadcast_to(rng.standard_normal(cols).astype(np.float32), (rows, cols))


def _bound(a, b):
    """Error bound of a float32 sum of k products (|A| |B| k eps, with a margin of 2)."""
    k = a.shape[1]
    return 2 * k * np.finfo(np.float32).eps * (np.abs(a.astype(np.float64))
                                               @ np.abs(b.astype(np.float64)))


# edges in every dimension: rows not a multiple of 8, columns not of 32, sums longer than
# one block (128) and not a multiple of 8 (the transposes' tails), more rows than one
# packed block (512)
SHAPES = [(1, 1, 1), (8, 32, 8), (13, 45, 7), (9, 33, 129), (128, 512, 784), (520, 70, 300),
          (64, 200, 257)]


@pytest.mark.parametrize("layout_b", ["c", "t", "s", "r", "b"])
@pytest.mark.parametrize("layout_a", ["c", "t", "s", "r", "b"])
@pytest.mark.parametrize("shape", SHAPES)
def test_own_gemm_is_within_float32_rounding_of_the_exact_product(own, shape, layout_a,
                                                                  layout_b):
    m, n, k = shape
    rng = np.random.default_rng(m * 1000 + n + k)
    a, b = _operand(rng, m, k, layout_a), _operand(rng, k, n, layout_b)
    c = np.full((m, n), np.nan, np.float32)   # beta = 0: never read
    own(a, b, c)
    exact = a.astype(np.float64) @ b.astype(np.float64)
    assert np.all(np.abs(c - exact) <= _bound(a, b)), (shape, layout_a, layout_b)


@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (-0.01, 1.0), (2.0, 0.5), (0.5, -3.0)])
def test_alpha_and_beta_scale_the_product_and_the_old_values(own, alpha, beta):
    rng = np.random.default_rng(1)
    a, b = _operand(rng, 77, 300, "t"), _operand(rng, 300, 90, "c")
    c0 = rng.standard_normal((77, 90)).astype(np.float32)
    c = c0.copy()
    own(a, b, c, alpha, beta)
    exact = alpha * (a.astype(np.float64) @ b.astype(np.float64)) + beta * c0
    tol = abs(alpha) * _bound(a, b) + 2 * np.finfo(np.float32).eps * np.abs(beta * c0)
    assert np.all(np.abs(c - exact) <= tol)


def test_an_empty_sum_scales_c_by_beta(own):
    """k = 0: c = beta * c, and 0 where beta is 0 (c's NaN not read), as the BLAS does."""
    a, b = np.empty((9, 0), np.float32), np.empty((0, 40), np.float32)
    c = np.full((9, 40), np.nan, np.float32)
    own(a, b, c, 2.0, 0.0)
    assert np.all(c == 0)
    c[:] = 3
    own(a, b, c, 2.0, -0.5)
    assert np.all(c == -1.5)


def test_writes_only_the_result_and_repeats_bit_for_bit(own):
    """Padded rows and columns of the edge tiles are never stored: the gap between rows
    (ldc > n) and the rows after the result keep their values; two calls, with the
    workspace at other alignments, give the same bits."""
    rng = np.random.default_rng(2)
    a, b = _operand(rng, 21, 150, "c"), _operand(rng, 150, 45, "t")
    big = np.full((25, 64), 7.0, np.float32)
    own(a, b, big[:21, :45])
    assert np.all(big[:21, 45:] == 7) and np.all(big[21:] == 7)
    again = np.empty((21, 45), np.float32)
    for offset in (1, 13, 64):
        own(a, b, again, offset=offset)
        assert np.array_equal(again, big[:21, :45])


def test_nan_and_inf_propagate_as_in_numpy(own):
    rng = np.random.default_rng(3)
    a, b = _operand(rng, 19, 140, "c"), _operand(rng, 140, 40, "c")
    a[3, 5] = np.nan
    b[7, 11] = np.inf           # inf times the zeros of a's row 0 below: NaN there
    a[0, :] = 0
    b[9, 20] = -np.inf
    c = np.empty((19, 40), np.float32)
    own(a, b, c)
    with np.errstate(invalid="ignore"):
        expected = a.astype(np.float64) @ b.astype(np.float64)
        error = np.abs(c - expected)
    assert np.array_equal(np.isnan(c), np.isnan(expected))
    assert np.array_equal(np.isposinf(c), np.isposinf(expected))
    assert np.array_equal(np.isneginf(c), np.isneginf(expected))
    finite = np.isfinite(expected)
    assert np.all(error[finite] <= _bound(np.nan_to_num(a), np.nan_to_num(b))[finite] + 1e-30)


# -- through compiled functions ---------------------------------------------------------------

def _modes(build):
    """``build()``'s results in mode numpy, and native with the own kernel and with BLAS."""
    results = {}
    for name, mode, gemm in [("numpy", "numpy", "auto"), ("own", "native", "auto"),
                             ("blas", "native", "blas")]:
        with config.change_flags(native_gemm=gemm):
            results[name] = build(mode)
    return results


def test_a_training_step_agrees_with_the_numpy_backend():
    """An MLP step (products of every transpose, the in-place Gemm updates) whose first
    layer's products are large enough for the own kernel (the second's are not): parameters
    after 3 steps agree with mode numpy."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((96, 200)).astype(np.float32)
    y = rng.integers(0, 10, 96)
    W1 = (rng.standard_normal((200, 160)) * 0.1).astype(np.float32)
    W2 = (rng.standard_normal((160, 10)) * 0.1).astype(np.float32)

    def build(mode):
        x, t = T.fmatrix("x"), T.lvector("t")
        w1, w2 = shared(W1.copy()), shared(W2.copy())
        h = T.nnet.relu(T.dot(x, w1))
        loss = T.nnet.categorical_crossentropy(T.nnet.softmax(T.dot(h, w2)), t).mean()
        g1, g2 = T.grad(loss, [w1, w2])
        f = function([x, t], loss, updates=[(w1, w1 - 0.1 * g1), (w2, w2 - 0.1 * g2)],
                     mode=mode)
        losses = [float(f(X, y)) for _ in range(3)]
        return losses, w1.get_value(), w2.get_value()

    results = _modes(build)
    for name in ("own", "blas"):
        losses, w1, w2 = results[name]
        np.testing.assert_allclose(losses, results["numpy"][0], rtol=1e-5)
        np.testing.assert_allclose(w1, results["numpy"][1], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(w2, results["numpy"][2], rtol=1e-4, atol=1e-6)


def test_products_of_views_agree_with_the_numpy_backend():
    """dot of a transposed, a strided and a reversed operand, and a not-in-place Gemm."""
    rng = np.random.default_rng(5)
    A = rng.standard_normal((300, 90)).astype(np.float32)
    B = rng.standard_normal((260, 300)).astype(np.float32)
    Z = rng.standard_normal((90, 130)).astype(np.float32)

    def build(mode):
        a, b, z = T.fmatrix("a"), T.fmatrix("b"), T.fmatrix("z")
        p1 = T.dot(a.T, b.T)                       # 90 x 260, both transposed
        p2 = T.dot(a[::-1].T, b[::2, :].T)         # reversed rows, every other row
        p3 = z + 0.5 * T.dot(a.T, b[:130].T)       # Gemm onto another buffer
        return function([a, b, z], [p1, p2, p3], mode=mode)(A, B, Z)

    results = _modes(build)
    for name in ("own", "blas"):
        for got, want in zip(results[name], results["numpy"]):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _c_sources(fn):
    """The C of compiled ``fn``'s native segments (the units of each, joined)."""
    sources = []
    for group in fn.maker.linked.groups:
        segment = getattr(group.kernel, "segment", None)
        if segment is not None:
            source = segment.source
            sources.append(source if isinstance(source, str) else "\n".join(source))
    return sources


@pytest.mark.parametrize("gemm", ["auto", "blas"])
def test_the_flag_picks_which_gemm_the_c_calls(gemm):
    """Dot and Gemm call the dispatcher, with the own kernel's address, unless
    native_gemm='blas'; a convolution's products never do (they pass no workspace). No
    segment compiles the kernel itself: it is a library of its own."""
    x, w = T.fmatrix("x"), T.fmatrix("w")
    images, kernels = T.ftensor4("images"), T.ftensor4("kernels")
    with config.change_flags(native_gemm=gemm):
        dense = function([x, w], T.tanh(T.dot(x, w)), mode="native")
        conv = function([images, kernels], T.nnet.conv2d(images, kernels), mode="native")
    (dense_c,), (conv_c,) = _c_sources(dense), _c_sources(conv)
    assert ("nnf_matmul_own_f32(" in dense_c) == (gemm == "auto")
    assert "nnf_sgemm_own" not in dense_c + conv_c and "nnf_sgemm_tile" not in dense_c
    assert "nnf_matmul_own_f32" not in conv_c and "nnf_matmul_f32(" in conv_c
    v = np.ones((64, 128), np.float32)       # 64 x 128 x 128: large enough for the own kernel
    np.testing.assert_allclose(dense(v, np.full((128, 128), 1 / 128, np.float32)),
                               np.tanh(np.ones((64, 128))), rtol=1e-6)


_FORK_SCRIPT = r"""
import os, sys, time
import numpy as np, nnframe.tensor as T
from nnframe import function
from nnframe.backends.native import sgemm
x, y = T.fmatrix(), T.fmatrix()
f = function([x, y], T.dot(x, y), mode="native")
thread = sgemm._STATE["thread"]
print("loader alive after function():", thread is not None and thread.is_alive())
# a fork while the library loads (as a data loader or a launcher forks at any time)
from nnframe.backends.native import compiler
from nnframe.config import config
config.compiledir = sys.argv[1]  # empty: the library compiles again, holding the lock
compiler._LOADED.clear()
sgemm._STATE.update(library=None, address=None, thread=None)
sgemm.start_loading()
deadline = time.time() + 10
while not sgemm._STATE_LOCK.locked() and time.time() < deadline:
    time.sleep(0.0001)  # fork once the thread holds the lock (it is loading)
print("forked while loading:", sgemm._STATE_LOCK.locked())
pid = os.fork()
if pid == 0:
    import faulthandler
    faulthandler.dump_traceback_later(60, exit=True)
    print("child:", f(np.ones((64, 128), np.float32), np.ones((128, 128), np.float32))[0, 0],
          sgemm.address() == sgemm.address(), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child status:", status)
"""


def test_no_loading_thread_outlives_function_and_a_fork_while_loading_does_not_hang(tmp_path):
    """The library loads in a thread beside the segment's compile; function() waits for it,
    and a child forked while it loads (its lock held by a thread the child lacks) loads it
    again instead of waiting forever."""
    env = dict(os.environ, NNFRAME_FLAGS=f"compiledir={tmp_path / 'cache'}")
    out = subprocess.run([sys.executable, "-c", _FORK_SCRIPT, str(tmp_path / "empty")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:4] == ["loader alive after function(): False",
                                          "forked while loading: True", "child: 128.0 True",
                                          "child status: 0"], out.stdout
