"""OpenCL shape ops (views and copies) and indexing against the NumPy backend."""
import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402

rng = np.random.default_rng(2)


def test_views_reshape_join_split():
    x, y = T.dtensor3("x"), T.dtensor3("y")
    n = T.lscalar("n")
    outs = [x.dimshuffle(2, "x", 0, 1), x.T, x.reshape((n, -1)), x.T.reshape((-1,)),
            x[:, ::2].flatten(), T.concatenate([x, y], axis=1), T.concatenate([x.T, y.T], axis=0),
            T.stack([x, y], axis=3), T.split(x, [2, 3, 1], axis=0)[1],
            T.split(x.T, [10, 20], axis=0)[0] * 1, T.specify_shape(x, (6, None, 30))]
    vals = [rng.normal(size=(6, 5, 30)), rng.normal(size=(6, 5, 30)), 3]
    compare([x, y, n], outs, vals)
    with pytest.raises(ValueError, match="cannot reshape"):
        function([x, n], x.reshape((n, 7)), mode="opencl")(vals[0], 3)
    with pytest.raises(ValueError, match="concatenate"):
        function([x, y], T.concatenate([x, y], axis=0), mode="opencl")(vals[0], vals[1][:, :2])


def test_alloc_arange_make_vector_shape():
    n, m = T.lscalar("n"), T.lscalar("m")
    v, s = T.fvector("v"), T.fscalar("s")
    outs = [T.zeros((n, m)), T.ones((m, n), dtype="int32"), T.full((n, m), 7.5), T.alloc(v, n, m),
            T.alloc(s, n, 3, m), T.arange(n * m), T.arange(1, n * m, 3), T.arange(0.5, m * 1.0, 0.25),
            T.arange(n * m, dtype="float32") * 0.1, T.stack([v.sum(), s, v.max()]), v.shape,
            T.alloc(v.sum(), n)]
    compare([n, m, v, s], outs, [40, 90, rng.normal(size=90).astype("float32"), np.float32(2.5)])


def test_basic_indexing_is_a_view_and_matches_numpy():
    x = T.dtensor3("x")
    i, j = T.lscalar("i"), T.lscalar("j")
    outs = [x[1], x[i, ::-1], x[:, 1:5:2, None, j], x[-1, -2], x[i:j, ::-2, 3:], x[:, :, -1] * 2,
            x[::3][::-1, 1][:, ::7], x[i, j, 0]]
    compare([x, i, j], outs, [rng.normal(size=(7, 9, 80)), 2, 5])
    f = function([x, i], x[i], mode="opencl")
    with pytest.raises(IndexError, match=r"out of bounds.*shape \(7, 9, 80\)"):
        f(rng.normal(size=(7, 9, 80)), 7)


def test_advanced_indexing_matches_numpy():
    x = T.dtensor3("x")
    idx, idx2 = T.lvector("idx"), T.lmatrix("idx2")
    i8 = T.tensor("int8", shape=(None,))
    outs = [x[idx], x[:, idx], x[idx, :, idx], x[idx2, 1], x[1, idx, ::2], x[:, :, idx2],
            x[idx, 2:5, idx[::-1]], x[i8, None], T.take(x, idx, axis=2), x[x > 0.5]]
    vals = [rng.normal(size=(6, 7, 80)), np.array([0, 3, 3, -1, 5, 0]),
            np.array([[1, 2], [2, -3]]), np.array([1, -2, 0], dtype="int8")]
    compare([x, idx, idx2, i8], outs, vals)
    f = function([x, idx], x[idx], mode="opencl")
    with pytest.raises(IndexError, match="index 9 is out of bounds for axis 0 with size 6"):
        f(vals[0], np.array([0, 9]))


def test_increments_and_sets_match_numpy_add_at():
    x, y = T.dtensor3("x"), T.dmatrix("y")
    idx, idx2 = T.lvector("idx"), T.lmatrix("idx2")
    outs = [T.set_subtensor(x[1], y), T.inc_subtensor(x[:, 2], y[:6]), T.inc_subtensor(x[idx], 1.0),
            T.set_subtensor(x[idx, 2], 7.0), T.inc_subtensor(x[idx, :, idx], y[:, :7]),
            T.inc_subtensor(x[:, idx2], 2.0), T.inc_subtensor(x[::2, 1:3, -1], 3.5),
            T.set_subtensor(x[idx, ::-1], x[idx] * 2), T.inc_subtensor(x[x > 0.9], 1.0)]
    vals = [rng.normal(size=(6, 7, 8)), rng.normal(size=(7, 8)),
            np.array([0, 3, 3, -1, 5, 0, 3]), np.array([[1, 2], [2, -3]])]
    compare([x, y, idx, idx2], outs, vals)


def test_repeated_indices_accumulate_in_numpy_order():
    # float32 sums of many repeats: the same order gives the same rounding.
    x, y, idx = T.fmatrix("x"), T.fmatrix("y"), T.lvector("idx")
    idx_v = rng.integers(0, 5, size=3000)
    vals = [np.zeros((5, 70), "float32"), rng.normal(size=(3000, 70)).astype("float32"), idx_v]
    compare([x, y, idx], [T.inc_subtensor(x[idx], y), T.set_subtensor(x[idx], y)], vals)


def test_index_arrays_on_the_device_are_checked_there():
    # Indices living only on the device (a shared variable's update) are checked by
    # the kernel; the error is raised at the next download, naming the node.
    big = shared(np.zeros(2000, dtype="int64"), name="big")
    x = T.dvector("x")
    f = function([x], x[big].sum(), mode="opencl", updates=[(big, big + 1)])
    xv = rng.normal(size=9)
    np.testing.assert_allclose(f(xv), 2000 * xv[0])
    big.set_value(np.full(2000, 1, dtype="int64"))
    f(xv)                            # indices 1 (then updated to 2 on the device)
    opencl.reset_transfer_counts()
    for _ in range(7):
        f(xv)
    assert opencl.transfer_counts()["checks"] > 0
    with pytest.raises(IndexError, match="out of bounds"):
        f(xv)                        # the device-resident indices reached 9


def test_reshape_of_a_transposed_input_view_before_upload():
    # The input is uploaded lazily: reshaping a non-contiguous view of it must not
    # reinterpret the root's buffer with contiguous strides (a dot of it was wrong).
    import nnframe.tensor as T
    from nnframe import function
    x, y = T.dmatrix("x"), T.dtensor3("y")
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=(2, 3)), rng.normal(size=(5, 3, 4))
    flat = y.dimshuffle(1, 0, 2).reshape((3, 20))
    f = function([x, y], [flat, T.dot(x, flat), T.dot(x, y)], mode="opencl")
    want = yv.transpose(1, 0, 2).reshape(3, 20)
    out = f(xv, yv)
    np.testing.assert_allclose(out[0], want)
    np.testing.assert_allclose(out[1], xv @ want, rtol=1e-12)
    np.testing.assert_allclose(out[2], np.dot(xv, yv), rtol=1e-12)
