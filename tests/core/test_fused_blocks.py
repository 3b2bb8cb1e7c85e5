"""Large fused elementwise chains run in blocks of rows on the NumPy backend, so
their intermediates stay in the cache; the results must be exactly those of the
whole-array computation."""
import numpy as np
import pytest
from random_graphs import UNARY, random_elementwise  # noqa: E402  (tests/core/random_graphs.py)

import nnframe.tensor as T
from nnframe import Out, function, shared
from nnframe.backends.numpy import elemwise as numpy_elemwise


def kernel_sources(f):
    kernels = f.maker.linked.run.__kwdefaults__
    return [k.source for name, k in kernels.items() if hasattr(k, "source")]


def blocked(f):
    return any("for _s in range" in src for src in kernel_sources(f))


@pytest.fixture
def tiny_blocks(monkeypatch):
    """Blocks of 64 bytes (8 float64) from the first block on, so that the small
    arrays of these tests (rows of at most 8 elements) are split too, most with
    a partial last block."""
    monkeypatch.setattr(numpy_elemwise, "BLOCK_BYTES", 64)
    monkeypatch.setattr(numpy_elemwise, "MIN_BLOCKS", 1)


def test_a_large_chain_is_blocked_and_equals_the_whole_array_result():
    a, b = T.fscalars("a", "b")
    x = T.fvector("x")
    expr = T.tanh(a * x + b) * T.nnet.sigmoid(x)
    f = function([a, x, b], expr, mode="numpy")
    whole = function([a, x, b], expr, mode="fast_compile")
    xv = np.random.default_rng(0).normal(size=300_001).astype(np.float32)
    assert blocked(f)
    np.testing.assert_array_equal(f(0.5, xv, 0.1), whole(0.5, xv, 0.1))


def test_small_arrays_take_the_straight_line_path():
    x = T.dvector("x")
    f = function([x], T.exp(x) * 2 + 1, mode="numpy")
    np.testing.assert_allclose(f(np.zeros(10)), 3.0)
    assert blocked(f)          # the kernel has both paths; the size picks one
    np.testing.assert_allclose(f(np.zeros(10 ** 5)), 3.0)


def test_broadcast_inputs_casts_and_loop_invariant_steps(tiny_blocks):
    x = T.dmatrix("x")                 # sliced by rows
    row = T.drow("row")                # broadcast along axis 0: read whole
    col = T.dcol("col")                # sliced, but not of the output's shape
    k = T.iscalar("k")
    scale = T.exp(row) * 2             # depends on `row` only: computed once
    out = T.tanh(x * scale + col) * T.cast(k, "float64") + (x > 0) * T.sqrt(T.abs(x))
    f = function([x, row, col, k], out, mode="numpy")
    whole = function([x, row, col, k], out, mode="fast_compile")
    r = np.random.default_rng(1)
    args = [r.normal(size=(7, 5)), r.normal(size=(1, 5)), r.normal(size=(7, 1)), 3]
    assert blocked(f)
    for _ in range(2):   # kept buffers: a second call agrees too
        np.testing.assert_array_equal(f(*args), whole(*args))


@pytest.mark.parametrize("shape", [(13,), (5, 7), (4, 3, 2), (1000, 1)])
def test_random_chains_and_their_gradients_match_unfused_graphs(tiny_blocks, shape):
    x, y = (T.tensor("float64", shape=(None,) * len(shape)) for _ in "xy")
    outs = [T.nnet.sigmoid(x * y + 1) * T.tanh(x) - T.exp(-y * y),
            T.switch(x > y, x * 2, T.maximum(y, 0.5)) / (1 + T.abs(x)),
            T.nnet.relu(x - y) * T.log1p(T.abs(y)) + x]
    cost = sum(o.sum() for o in outs)
    grads = T.grad(cost, [x, y])
    f = function([x, y], outs + grads, mode="numpy")
    whole = function([x, y], outs + grads, mode="fast_compile")
    r = np.random.default_rng(2)
    values = [r.normal(size=shape), r.normal(size=shape)]
    assert blocked(f)
    for got, want in zip(f(*values), whole(*values)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-300)


def test_an_inplace_chain_on_a_shared_update_is_blocked_correctly(tiny_blocks):
    # SGD-like update written in place into the parameter's own buffer.
    w = shared(np.linspace(-1, 1, 40).reshape(8, 5), name="w")
    g = T.dmatrix("g")
    f = function([g], [], updates=[(w, w - 0.1 * T.tanh(g) * T.exp(w))], mode="numpy")
    gv = np.random.default_rng(3).normal(size=(8, 5))
    want = w.get_value() - 0.1 * np.tanh(gv) * np.exp(w.get_value())
    f(gv)
    np.testing.assert_allclose(w.get_value(), want, rtol=1e-15)


def test_a_borrowed_output_buffer_reused_by_blocks(tiny_blocks):
    x = T.dvector("x")
    f = function([x], Out(T.exp(x) * 2 + 1, borrow=True), mode="numpy")
    first = f(np.zeros(50))
    second = f(np.ones(50))
    assert np.shares_memory(first, second) and blocked(f)
    np.testing.assert_allclose(second, 2 * np.e + 1)


def test_a_value_read_twice_by_its_last_step_frees_its_buffer_once(tiny_blocks):
    x = T.dmatrix("x")
    e = T.exp(x)
    out = e * e + T.tanh(x) * T.sin(x)     # the square must not share a buffer with tanh
    f = function([x], out, mode="numpy")
    xv = np.random.default_rng(4).normal(size=(9, 4))
    assert blocked(f)
    np.testing.assert_allclose(f(xv), np.exp(xv) ** 2 + np.tanh(xv) * np.sin(xv), rtol=1e-14)


UNARY_AND_CAST = UNARY + [lambda v: T.cast(v > 0, "int8")]


@pytest.mark.parametrize("seed", range(30))
def test_random_chains_with_rows_and_columns_match_unfused_graphs(tiny_blocks, seed):
    x, y = T.dmatrices("x", "y")
    b, c = T.drow("b"), T.dcol("c")
    _, outs = random_elementwise(seed, [x, y, b, c], unary=UNARY_AND_CAST, n_ops=(4, 14))
    grads = T.grad(sum(o.sum() for o in outs), [x, y, b, c], disconnected_inputs="ignore")
    r = np.random.default_rng(seed)
    values = [r.normal(size=(11, 3)), r.normal(size=(11, 3)), r.normal(size=(1, 3)),
              r.normal(size=(11, 1))]
    f = function([x, y, b, c], outs + grads, mode="numpy", on_unused_input="ignore")
    whole = function([x, y, b, c], outs + grads, mode="fast_compile", on_unused_input="ignore")
    with np.errstate(all="ignore"):
        for _ in range(2):
            for got, want in zip(f(*values), whole(*values)):
                np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
