"""OpenCL reductions and matrix products against the NumPy backend."""
import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import config, function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.core.ops import reduce as R  # noqa: E402
from nnframe.core.ops.blas import Gemm  # noqa: E402

rng = np.random.default_rng(1)
AXES = [None, 0, 1, 2, (0, 2), (1, 2), (0, 1)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_sums_and_products_round_like_numpy(dtype):
    # Sums are pairwise along contiguous runs, in NumPy's order: results are identical.
    x = T.tensor3("x", dtype=dtype)
    outs = [x.sum(axis=a) for a in AXES] + [x.prod(axis=a) for a in AXES]
    outs += [x.T.sum(axis=0), x[:, ::2].sum(axis=1), x.mean(axis=(0, 2)), x.var(axis=1),
             x.sum(axis=(0, 1), keepdims=True)]
    v = rng.normal(size=(7, 33, 260)).astype(dtype)
    compare([x], outs[:7] + outs[14:], [v])
    compare([x], outs[7:14], [rng.uniform(0.9, 1.1, size=(5, 6, 150)).astype(dtype)])


def test_long_sums_split_in_chunks():
    x = T.dvector("x")
    m = T.dmatrix("m")
    v = rng.normal(size=(1 << 20) + 37)
    mv = rng.normal(size=(3, 100000))
    got = compare([x, m], [x.sum(), m.sum(axis=0), m.T.sum(axis=1), m.max(), m.argmin()],
                  [v, mv], rtol=1e-9)
    np.testing.assert_allclose(got[0], v.sum(), rtol=1e-10)


@pytest.mark.parametrize("dtype", ["uint16", "bool"])
def test_integer_and_bool_reductions(dtype):
    x = T.tensor3("x", dtype=dtype)
    outs = []
    for a in [None, 1, (0, 2)]:
        outs += [x.sum(axis=a), x.max(axis=a), x.min(axis=a), x.all(axis=a), x.any(axis=a)]
    if dtype != "bool":
        outs += [x.prod(axis=2), x.argmax(), x.argmin(axis=1), x.sum(axis=0)]
    v = rng.integers(0, 3, size=(6, 7, 90)).astype(dtype)
    compare([x], outs, [v])
    big = rng.integers(0, 100, size=(2, 3, 10000)).astype(dtype)
    compare([x], [x.sum(axis=2), x.max(axis=(0, 2)), x.any(axis=2)], [big])


def test_max_min_argmax_nan_and_ties():
    x = T.dmatrix("x")
    v = rng.normal(size=(9, 80))
    v[1, 5] = v[1, 40] = np.nan
    v[2, :] = 1.0
    v[3, 7] = v[3, 9] = 50.0
    outs = [x.max(axis=1), x.min(axis=0), x.argmax(axis=1), x.argmin(axis=1), x.argmax(),
            x.T.argmax(axis=0), R.Argmax(0)(x)]
    compare([x], outs, [v])


def test_empty_reductions():
    x = T.dmatrix("x")
    compare([x], [x.sum(axis=0), x.prod(axis=1), x.any(axis=0), x.sum()], [np.zeros((0, 70))])
    with pytest.raises(ValueError, match="empty"):
        function([x], x.max(), mode="opencl")(np.zeros((0, 70)))
    with pytest.raises(ValueError, match="empty"):
        function([x], x.argmax(axis=0), mode="opencl")(np.zeros((0, 70)))


@pytest.mark.parametrize("dtype, rtol", [("float32", 1e-5), ("float64", 1e-12), ("int32", 0)])
def test_dot_shapes_layouts_and_edges(dtype, rtol):
    # Sizes that are not multiples of the 8 x 16 register tile exercise the edge path.
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    v, w = T.vector("v", dtype=dtype), T.vector("w", dtype=dtype)
    outs = [T.dot(a, b), T.dot(a, b.T[::-1].T), T.dot(b.T, a.T), T.dot(a, v), T.dot(v, b),
            T.dot(v, v), T.dot(w, b.T), T.dot(a[::2, 1:], b[1:, ::3])]
    av = rng.integers(-4, 5, size=(37, 29)).astype(dtype)
    bv = rng.integers(-4, 5, size=(29, 53)).astype(dtype)
    vv = rng.integers(-4, 5, size=29).astype(dtype)
    wv = rng.integers(-4, 5, size=53).astype(dtype)
    compare([a, b, v, w], outs, [av, bv, vv, wv], rtol=rtol)


def test_dot_mixed_dtypes_and_large_float32():
    a, b = T.fmatrix("a"), T.imatrix("b")
    av = rng.normal(size=(64, 48)).astype("float32")
    bv = rng.integers(-3, 4, size=(48, 40)).astype("int32")
    compare([a, b], [T.dot(a, b), T.dot(b.T, a.T)], [av, bv], rtol=1e-12)
    x, y = T.fmatrix("x"), T.fmatrix("y")
    xv, yv = rng.normal(size=(300, 257)).astype("float32"), rng.normal(size=(257, 130)).astype("float32")
    compare([x, y], T.dot(x, y), [xv, yv], rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("band, packed", [(1, False), (3, True), (8, False), (8, True)])
def test_products_in_bands_and_of_packed_operands_give_the_same_bits(monkeypatch, band, packed):
    # A large B on a CPU device is packed in column strips (GemmCode._packs) and read in
    # bands of tile rows (GemmCode._banded_order): every tile must be computed once, also in
    # a last, partial band, a last, partial strip and at the edges; batches too.
    from nnframe.backends.opencl import blas
    x, y = T.fmatrix("x"), T.fmatrix("y")
    u, v = T.ftensor3("u"), T.ftensor3("v")
    xv = rng.normal(size=(203, 77)).astype("float32")
    yv = rng.normal(size=(77, 301)).astype("float32")
    uv = rng.normal(size=(3, 21, 13)).astype("float32")
    vv = rng.normal(size=(3, 13, 29)).astype("float32")
    outs = [T.dot(x, y), T.dot(x, y.T.T[:, ::-1]), T.dot(x[1:], y) * 2.0, T.dot(x, y[:, 5:]),
            T.batched_dot(u, v), T.batched_dot(u, v[::-1])]
    with config.change_flags(opencl_replay=False):
        plain = function([x, y, u, v], outs, mode="opencl")(xv, yv, uv, vv)
        monkeypatch.setattr(blas, "BANDED_BYTES", -1)
        monkeypatch.setattr(blas, "BAND", band)
        monkeypatch.setattr(blas, "PACKED_BYTES", -1 if packed else 1 << 62)
        monkeypatch.setattr(opencl.get_backend().ctx, "cpu", True)
        banded = function([x, y, u, v], outs, mode="opencl")(xv, yv, uv, vv)
    for got, want in zip(banded, plain):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(banded[0], xv @ yv, rtol=2e-4, atol=2e-4)


def test_products_of_bool_arrays_are_logical():
    # NumPy's bool product is an OR of ANDs: 1 where a sum of products would count 2
    a, b = T.matrix("a", dtype="bool"), T.matrix("b", dtype="bool")
    av = np.array([[1, 1], [1, 0]], bool)
    bv = np.array([[1, 0], [1, 1]], bool)
    got = compare([a, b], [T.dot(a, b) + 0, T.dot(a, b)], [av, bv])
    assert got[0].tolist() == [[1, 1], [1, 0]]
    x, y = T.tensor3("x", dtype="bool"), T.tensor3("y", dtype="bool")
    compare([x, y], T.batched_dot(x, y) + 0, [av[None], bv[None]])


def test_batched_dot_and_tensordot():
    x, y = T.dtensor3("x"), T.dtensor3("y")
    m = T.dmatrix("m")
    outs = [T.batched_dot(x, y), T.batched_dot(x, y[:, :, ::-1]), T.batched_dot(m, x),
            T.tensordot(x, y, [[1, 2], [2, 1]])]
    vals = [rng.normal(size=(5, 9, 17)), rng.normal(size=(5, 17, 9)), rng.normal(size=(5, 9))]
    compare([x, y, m], outs, vals, rtol=1e-12)


def test_gemm_alpha_beta_and_z():
    z, x, y = T.dmatrix("z"), T.dmatrix("x"), T.dmatrix("y")
    a, b = T.dscalar("a"), T.dscalar("b")
    outs = [Gemm()(z, a, x, y, b), Gemm()(z.T, 2.0, y.T, x.T, 0.5), Gemm(inplace=True)(z, a, x, y, 1.0)]
    vals = [rng.normal(size=(19, 23)), rng.normal(size=(19, 11)), rng.normal(size=(11, 23)),
            np.float64(-0.3), np.float64(1.7)]
    compare([z, x, y, a, b], outs, vals, rtol=1e-12, rewrite=False)


def test_sgd_update_keeps_weights_on_the_device():
    from nnframe.backends import opencl
    W = shared(rng.normal(size=(40, 30)).astype("float32"), name="W")
    x, g = T.fmatrix("x"), T.fmatrix("g")
    step = function([x, g], [], updates=[(W, W - 0.1 * T.dot(x.T, g))], mode="opencl")
    xv, gv = rng.normal(size=(16, 40)).astype("float32"), rng.normal(size=(16, 30)).astype("float32")
    want = W.get_value() - np.float32(0.1) * (xv.T @ gv)
    step(xv, gv)
    opencl.reset_transfer_counts()
    step(xv, gv)
    want = want - np.float32(0.1) * (xv.T @ gv)
    assert opencl.transfer_counts()["download"] == 0
    np.testing.assert_allclose(W.get_value(), want, rtol=1e-5, atol=1e-5)
