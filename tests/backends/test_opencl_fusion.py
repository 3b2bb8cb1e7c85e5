"""OpenCL kernel fusion (issue 18): GEMM and reduction epilogues, transposed GEMM operands,
groups of elementwise nodes in one kernel; each against the NumPy backend, with the number
of kernels a call launches."""
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import assert_same, both  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe import function, shared  # noqa: E402
from nnframe.backends import opencl  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
rng = np.random.default_rng(7)
FLOATS = ["float32", "float64"]
TOL = {"float32": 1e-5, "float64": 1e-12}


def kernels_per_call(f, values):
    """Kernels one call of ``f`` launches (after a first call that may upload or build)."""
    f(*values)
    opencl.reset_transfer_counts()
    f(*values)
    return opencl.device_counts()["kernels"]


def fused_nodes(f):
    """The numbers of nodes of the multi-node groups in ``f``'s linked code."""
    source = f.maker.linked.source
    return sorted(int(line.split("# ")[1].split(" nodes")[0]) for line in source.splitlines()
                  if " nodes: " in line)


def check(inputs, outputs, values, dtype, kernels=None, groups=None):
    """Compare with NumPy; optionally the kernels per call and the sizes of fused groups."""
    f, g = both(inputs, outputs)
    got, want = f(*values), g(*values)
    if not isinstance(outputs, list):
        got, want = [got], [want]
    for k, (a, b) in enumerate(zip(got, want)):
        assert_same(a, b, rtol=TOL[dtype], atol=TOL[dtype], what=f"output {k}")
    if kernels is not None:
        assert kernels_per_call(f, values) == kernels
    if groups is not None:
        assert fused_nodes(f) == groups
    return f


def data(shape, dtype):
    return rng.normal(size=shape).astype(dtype)


# -- GEMM: operands through any strides, epilogues ---------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_a_transposed_or_strided_right_operand_is_read_in_place(dtype):
    x, w = T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype)
    xv, wv, wide = data((37, 29), dtype), data((53, 29), dtype), data((29, 106), dtype)
    check([x, w], T.dot(x, w.T), [xv, wv], dtype, kernels=1)
    check([x, w], T.dot(x, w[:, ::2]), [xv, wide], dtype, kernels=1)
    check([x, w], T.dot(x.T, w.T), [data((29, 37), dtype), data((53, 29), dtype)], dtype,
          kernels=1)
    check([x, w], T.dot(x, w.T), [data((5, 3), dtype), data((7, 3), dtype)], dtype, kernels=1)


@pytest.mark.parametrize("dtype", FLOATS)
def test_bias_and_relu_are_the_products_epilogue(dtype):
    x, w, b = T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype), T.vector("b", dtype=dtype)
    values = [data((37, 29), dtype), data((29, 53), dtype), data(53, dtype)]
    check([x, w, b], T.nnet.relu(T.dot(x, w) + b), values, dtype, kernels=1, groups=[2])
    # a transposed weight and a bias: one kernel still
    values_t = [values[0], data((53, 29), dtype), values[2]]
    check([x, w, b], T.tanh(T.dot(x, w.T) + b), values_t, dtype, kernels=1, groups=[2])


@pytest.mark.parametrize("dtype", FLOATS)
def test_epilogue_operands_may_be_transposed_strided_or_one_element(dtype):
    x, w, z = (T.matrix(n, dtype=dtype) for n in "xwz")
    a = T.scalar("a", dtype=dtype)
    xv, wv = data((37, 29), dtype), data((29, 53), dtype)
    check([x, w, z], T.dot(x, w) * z.T, [xv, wv, data((53, 37), dtype)], dtype, kernels=1)
    check([x, w, z], T.dot(x, w) - z[::2, 1::2], [xv, wv, data((74, 107), dtype)], dtype,
          kernels=1)
    check([x, w, a], T.dot(x, w) * a + 1, [xv, wv, np.asarray(0.5, dtype)], dtype, kernels=1)
    s = shared(np.asarray(1.5, dtype), name="s")    # one element on the device
    check([x, w], T.maximum(T.dot(x, w), s), [xv, wv], dtype, kernels=1)


def test_an_epilogue_may_change_the_dtype():
    x, w = T.fmatrix("x"), T.fmatrix("w")
    check([x, w], T.dot(x, w) > 0, [data((9, 5), "float32"), data((5, 11), "float32")],
          "float32", kernels=1, groups=[2])


@pytest.mark.parametrize("dtype", FLOATS)
def test_a_product_also_read_elsewhere_is_not_fused_away(dtype):
    x, w, b = T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype), T.vector("b", dtype=dtype)
    d = T.dot(x, w)
    values = [data((37, 29), dtype), data((29, 53), dtype), data(53, dtype)]
    # the product is an output: stored, and the ReLU reads it
    check([x, w, b], [d, T.nnet.relu(d + b)], values, dtype, groups=[])
    # the product is read by two nodes: the sum's epilogue may fuse, the product's may not
    check([x, w, b], [T.nnet.relu(d + b), d.sum(axis=0) * 2], values, dtype, groups=[2])


def test_an_operand_that_may_not_broadcast_fails_as_unfused():
    x, w, z = T.fmatrix("x"), T.fmatrix("w"), T.fmatrix("z")
    f, g = both([x, w, z], T.dot(x, w) * z)
    values = [data((4, 3), "float32"), data((3, 5), "float32"), data((1, 5), "float32")]
    with pytest.raises(ValueError) as numpy_error:
        g(*values)
    with pytest.raises(ValueError) as opencl_error:
        f(*values)
    assert "not broadcastable" in str(numpy_error.value)
    assert "not broadcastable" in str(opencl_error.value)


def test_errors_in_a_fused_group_name_their_node():
    x, w, b = T.fmatrix("x"), T.fmatrix("w"), T.fvector("b")
    f = function([x, w, b], T.nnet.relu(T.dot(x, w) + b), mode="opencl")
    with pytest.raises(ValueError, match="not aligned") as error:
        f(data((4, 3), "float32"), data((5, 6), "float32"), data(6, "float32"))
    assert "Apply node that caused the error" in str(error.value) and "Dot" in str(error.value)


def test_profiled_functions_run_one_node_per_kernel():
    x, w, b = T.fmatrix("x"), T.fmatrix("w"), T.fvector("b")
    f = function([x, w, b], T.nnet.relu(T.dot(x, w) + b), mode="opencl", profile=True)
    values = [data((4, 3), "float32"), data((3, 6), "float32"), data(6, "float32")]
    assert fused_nodes(f) == []
    assert kernels_per_call(f, values) == 2


# -- reductions with an epilogue -------------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_a_bias_gradient_and_its_update_are_one_kernel(dtype):
    g, b = T.matrix("g", dtype=dtype), T.vector("b", dtype=dtype)
    lr = np.asarray(0.01, dtype)
    values = [data((37, 53), dtype), data(53, dtype)]
    check([g, b], b - lr * g.sum(axis=0), values, dtype, kernels=1, groups=[2])
    check([g, b], b - lr * g.T.sum(axis=0), [data((53, 37), dtype), values[1]], dtype,
          kernels=1, groups=[2])
    check([g, b], b[::2] - lr * g.sum(axis=0), [values[0], data(106, dtype)], dtype,
          kernels=1, groups=[2])


@pytest.mark.parametrize("dtype", FLOATS)
def test_a_mean_and_other_reductions_take_an_epilogue(dtype):
    x, y = T.matrix("x", dtype=dtype), T.vector("y", dtype=dtype)
    values = [data((37, 53), dtype), data(37, dtype)]
    check([x], x.sum() / x.shape[0], values[:1], dtype, kernels=1, groups=[2])
    check([x, y], x.max(axis=1) * 2 - y, values, dtype, kernels=1, groups=[2])
    check([x], (x > 0).any(axis=0) & (x < 5).all(axis=0), values[:1], dtype)


def test_a_reduction_split_in_chunks_runs_its_epilogue_as_a_kernel_of_its_own():
    x = T.fvector("x")      # a max over more than reduce.CHUNK entries: partials, then combined
    check([x], x.max() * 2 + 1, [data(10007, "float32")], "float32", kernels=3, groups=[2])


# -- elementwise nodes in one kernel ---------------------------------------------------------

@pytest.mark.parametrize("dtype", FLOATS)
def test_adam_updates_of_a_parameter_are_one_kernel(dtype):
    shape = (37, 53)
    p, m, v = (shared(data(shape, dtype), name=n) for n in "pmv")
    g = T.matrix("g", dtype=dtype)
    b1, b2, lr, eps = (np.asarray(c, dtype) for c in (0.9, 0.999, 0.001, 1e-8))
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * g * g
    p2 = p - lr * m2 / (T.sqrt(v2) + eps)
    values = [data(shape, dtype)]
    f = function([g], [], updates=[(m, m2), (v, v2), (p, p2)], mode="opencl")
    assert fused_nodes(f) == [3]
    start = [s.get_value() for s in (p, m, v)]
    assert kernels_per_call(f, values) == 1
    for s, value in zip((p, m, v), start):
        s.set_value(value)
    reference = function([g], [m2, v2, p2], mode="numpy")(*values)
    f(*values)
    for s, want in zip((m, v, p), reference):
        assert_same(s.get_value(), want, rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", FLOATS)
def test_grouped_nodes_store_what_is_read_after_them(dtype):
    x, y = T.matrix("x", dtype=dtype), T.matrix("y", dtype=dtype)
    a = T.exp(x) * 2            # read by b, c and the sum
    b, c = a + y.T, a * y.T
    values = [data((7, 9), dtype), data((9, 7), dtype)]
    check([x, y], [b - c, a.sum(axis=1)], values, dtype)
    check([x, y], [b, c], values, dtype, kernels=1)


def test_nodes_around_a_node_reading_them_are_not_grouped():
    # c = dot(a, w) reads a and feeds d: grouping a with d would need c before and after
    x, w = T.dmatrix("x"), T.dmatrix("w")
    a = T.exp(x) * 2
    d = a + T.dot(a, w)
    check([x, w], [d, T.tanh(d)], [data((6, 6), "float64"), data((6, 6), "float64")],
          "float64")


@pytest.mark.parametrize("between", ["transpose", "reduction also an output"])
def test_two_groups_each_needing_a_value_of_the_other_are_not_both_formed(between):
    # {a = exp(x), a * f(b)} and {b = exp(y), g(a) + b}: each set alone is fine, together
    # each kernel would wait for the other
    x, y = T.dmatrix("x"), T.dmatrix("y")
    a, b = T.exp(x), T.exp(y)
    if between == "transpose":
        outputs = [a.T + b, a * b.T]
    else:
        sa, sb = a.sum(axis=0, keepdims=True), b.sum(axis=0, keepdims=True)
        outputs = [sa, sb, a * sb, b * sa]
    check([x, y], outputs, [data((4, 4), "float64"), data((4, 4), "float64")], "float64")


def test_group_shapes_that_do_not_match_run_each_node():
    x, y = T.dmatrix("x"), T.dmatrix("y")
    a = T.exp(x)
    yb = T.addbroadcast(y, 0)
    check([x, y], [a, a * yb], [data((4, 5), "float64"), data((1, 5), "float64")], "float64")


# -- the W1 training step ----------------------------------------------------------------------

@pytest.mark.parametrize("optimizer, budget", [("sgd", 15), ("adam", 21)])
def test_w1_step_kernels_and_losses(optimizer, budget):
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from nnframe_workloads import mlp_step, w1_problem
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    params, X, y, _ = w1_problem()
    step_cl, _ = mlp_step(params, 0.01, mode="opencl", optimizer=optimizer)
    step_np, _ = mlp_step(params, 0.01, mode="numpy", optimizer=optimizer)
    losses = [(float(step_cl(X, y)), float(step_np(X, y))) for _ in range(5)]
    np.testing.assert_allclose(*zip(*losses), rtol=1e-5)
    opencl.reset_transfer_counts()
    step_cl(X, y)
    assert opencl.device_counts()["kernels"] <= budget
