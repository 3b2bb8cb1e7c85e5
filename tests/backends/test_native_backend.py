"""The native C backend as users meet it: BLAS products, one function for many batch sizes,
a training step, views, shape arithmetic, errors, no compiler, broken C, hostile names,
``config.device`` and profiling.

Results are compared with the NumPy backend on the same inputs: float32 to
rtol 1e-5 and float64 to rtol 1e-12 (a product's absolute error is relative
to the largest element: BLAS and NumPy add in different orders, so a sum that
cancels keeps only an absolute bound).  Every test asserts the nodes it is
about ran in C (``native_nodes``), so a silent fall back to NumPy fails it.
"""
import logging
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared
from nnframe.backends import native
from nnframe.backends.native import compiler, native_nodes, registry
from nnframe.config import config
from nnframe.core.ops.blas import Dot, Gemm
from nnframe.core.ops.elemwise import Elemwise
from nnframe.core.ops.reduce import Sum
from nnframe.core.ops.shape import DimShuffle, Reshape

pytestmark = pytest.mark.skipif(native.fallback_reason() is not None,
                                reason=f"no native backend here: {native.fallback_reason()}")

RTOL = {"float32": 1e-5, "float64": 1e-12}
REPO = pathlib.Path(__file__).resolve().parents[2]
rng = np.random.default_rng(2)


def assert_close(got, want, dtype=None, what=""):
    """Same dtype and shape; values within RTOL of the dtype, absolute error relative to the
    largest element (sums that cancel)."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    if want.dtype.kind in "biu":  # shapes, counts, labels: exact
        np.testing.assert_array_equal(got, want, err_msg=what)
        return
    rtol = RTOL[str(dtype or want.dtype)]
    scale = float(np.abs(want).max()) if want.size else 0.0
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def in_c(f, op):
    """The nodes of compiled ``f`` whose op is an ``op``, after checking they all run in C."""
    nodes = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, op)]
    assert nodes, f"no {op.__name__} node in {f.maker.fgraph.toposort()}"
    c_nodes = native_nodes(f)
    assert all(n in c_nodes for n in nodes), f"not in C: {[n for n in nodes if n not in c_nodes]}"
    return nodes


def pair(inputs, outputs, **kwargs):
    """``outputs`` compiled natively and on NumPy."""
    kwargs.setdefault("on_unused_input", "ignore")
    return (function(inputs, outputs, mode="native", **kwargs),
            function(inputs, outputs, mode="numpy", **kwargs))


def check(f, g, values, dtype=None):
    """``f(*values)`` gives ``g(*values)``; returns f's results."""
    got, want = f(*values), g(*values)
    if not isinstance(got, (list, tuple)):
        got, want = [got], [want]
    for k, (a, b) in enumerate(zip(got, want)):
        assert_close(a, b, dtype, what=f"output {k}")
    return got


def segment_kernels(fn):
    """The :class:`~nnframe.backends.native.plan.SegmentKernel` s of compiled ``fn``.

    There is no public handle: each C group's kernel is the ``run`` wrapper a
    SegmentKernel wrote, whose ``_make_plan`` global is the kernel's bound method.
    """
    from nnframe.backends.native.plan import SegmentKernel
    found = []
    for value in (fn.maker.linked.run.__kwdefaults__ or {}).values():
        owner = getattr(getattr(value, "__globals__", {}).get("_make_plan"), "__self__", None)
        if isinstance(owner, SegmentKernel):
            found.append(owner)
    return found


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty compiledir and no loaded libraries: whatever a test compiles, it compiles."""
    monkeypatch.setattr(compiler, "_LOADED", {})
    with config.change_flags(compiledir=str(tmp_path)):
        yield tmp_path


# -- Dot and Gemm -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot_in_every_rank_combination(dtype):
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    u, v = T.vector("u", dtype=dtype), T.vector("v", dtype=dtype)
    outs = [T.dot(u, u), T.dot(u, W), T.dot(W, v), T.dot(x, W),      # vec.vec ... mat.mat
            T.dot(x.T, x), T.dot(W.T, x.T), T.dot(v, W.T)]             # transposes in the graph
    f, g = pair([x, W, u, v], outs)
    assert len(in_c(f, Dot)) == len(outs)
    big = rng.normal(size=(40, 40)).astype(dtype)
    cases = [  # x (b, 4), W (4, 6): contiguous, transposed arguments, one row, sliced
        (rng.normal(size=(5, 4)), rng.normal(size=(4, 6))),
        (rng.normal(size=(4, 5)).T, rng.normal(size=(6, 4)).T),
        (rng.normal(size=(1, 4)), rng.normal(size=(4, 6))),
        (big[3:8, 1:5], big[::7, 10:22:2][:4]),
    ]
    for xv, Wv in cases:
        values = [np.asarray(xv, dtype), np.asarray(Wv, dtype),
                  rng.normal(size=4).astype(dtype), rng.normal(size=6).astype(dtype)]
        got = check(f, g, values, dtype)
        assert got[0].shape == () and got[1].shape == (6,) and got[3].shape == (len(xv), 6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot_with_an_empty_inner_dimension_is_zeros(dtype):
    x, W, u = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype), T.vector("u", dtype=dtype)
    f, g = pair([x, W, u], [T.dot(x, W), T.dot(u, u), T.dot(u, W), T.dot(x, W) + 1])
    in_c(f, Dot)
    values = [np.zeros((3, 0), dtype), np.zeros((0, 5), dtype), np.zeros(0, dtype)]
    got = check(f, g, values, dtype)
    np.testing.assert_array_equal(got[0], np.zeros((3, 5), dtype))
    np.testing.assert_array_equal(got[3], np.ones((3, 5), dtype))
    assert got[1] == 0
    empty_batch = [np.zeros((0, 4), dtype), np.ones((4, 5), dtype), np.ones(4, dtype)]
    assert check(f, g, empty_batch, dtype)[0].shape == (0, 5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot_of_broadcast_operands(dtype):
    # Operands whose elements repeat: a filled matrix, a column and a row made by DimShuffle.
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    v, s = T.vector("v", dtype=dtype), T.scalar("s", dtype=dtype)
    outs = [T.dot(T.ones_like(x) * s, W), T.dot(x, v.dimshuffle(0, "x")),
            T.dot(v.dimshuffle("x", 0), W), T.dot(W.T, v.dimshuffle(0, "x") * s)]
    f, g = pair([x, W, v, s], outs)
    assert len(in_c(f, Dot)) == 4
    values = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=(4, 5)).astype(dtype),
              rng.normal(size=4).astype(dtype), np.asarray(1.5, dtype)]
    got = check(f, g, values, dtype)
    assert got[1].shape == (3, 1) and got[2].shape == (1, 5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dot_of_strided_views_copies_them_for_blas(dtype, monkeypatch):
    # Every step-2 slice is made a view of the buffer (as a Subtensor view rule would):
    # no BLAS layout has a stride of 2 on both axes, so the operand is first copied.
    from nnframe.core.ops.subtensor import Subtensor
    native.get_backend()  # registers the emitters first: the patch must come after

    def strided_view(node, base):
        return False if len(node.inputs) == 1 and base.contiguous else None
    monkeypatch.setitem(registry.VIEWS, Subtensor, strided_view)
    x, W = T.matrix("x", dtype=dtype), T.matrix("W", dtype=dtype)
    outs = [T.dot((x * 2)[::2, ::2], W[::2, 1::2] + 0), T.dot((x * 2)[::2, 1], W[1:8:2, ::2] + 0)]
    f, g = pair([x, W], outs)
    assert len(in_c(f, Dot)) == 2 and len(in_c(f, Subtensor)) == 4
    values = [rng.normal(size=(7, 10)).astype(dtype), rng.normal(size=(10, 9)).astype(dtype)]
    check(f, g, values, dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sgd_update_is_a_gemm_in_place_on_the_shared_weights(dtype):
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    W0 = rng.normal(size=(4, 3)).astype(dtype)
    W_native, W_numpy = shared(W0.copy(), name="W"), shared(W0.copy(), name="W")
    lr = np.asarray(0.1, dtype)
    f = function([a, b], [], updates=[(W_native, W_native - lr * T.dot(a.T, b))], mode="native")
    g = function([a, b], [], updates=[(W_numpy, W_numpy - lr * T.dot(a.T, b))], mode="numpy")
    (gemm,) = in_c(f, Gemm)
    assert gemm.op.destroy_map  # in place: the update overwrites W's buffer
    for batch in (8, 1, 8):
        av, bv = rng.normal(size=(batch, 4)).astype(dtype), rng.normal(size=(batch, 3)).astype(dtype)
        f(av, bv)
        g(av, bv)
        assert_close(W_native.get_value(), W_numpy.get_value(), dtype)
    want = W0 - lr * 0  # the first value, untouched: shared() copied it
    np.testing.assert_array_equal(W0, want)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gemm_not_in_place_leaves_its_input_alone(dtype):
    a, b = T.matrix("a", dtype=dtype), T.matrix("b", dtype=dtype)
    W = shared(rng.normal(size=(4, 3)).astype(dtype), name="W")
    out = W - np.asarray(0.1, dtype) * T.dot(a.T, b)
    f, g = pair([a, b], [out, out * 2])
    gemms = in_c(f, Gemm)
    assert not any(n.op.destroy_map and n.inputs[0] is W for n in gemms)
    before = W.get_value()
    values = [rng.normal(size=(6, 4)).astype(dtype), rng.normal(size=(6, 3)).astype(dtype)]
    for _ in range(2):
        check(f, g, values, dtype)
    np.testing.assert_array_equal(W.get_value(), before)
    # a transposed (non-contiguous) z: Gemm copies it by its strides
    Wt = shared(np.ascontiguousarray(before.T), name="Wt")
    f, g = pair([a, b], Wt.T - np.asarray(0.1, dtype) * T.dot(a.T, b))
    check(f, g, values, dtype)


@pytest.mark.parametrize("overlap", ["same buffer", "a view of it", "apart"])
def test_gemm_in_place_checks_at_run_time_whether_its_arguments_share_the_weights(overlap):
    # W - lr * dot(a.T, b) updates the shared W in place although a and b come from outside
    # the segment and may be W's own buffer (or a view of it): the C then compares
    # addresses and copies what overlaps.  512 > the BLAS's block of k, so a product reading the W
    # it is updating would go wrong in the second block.
    a, b = T.dmatrix("a"), T.dmatrix("b")
    w0 = rng.normal(size=(512, 512))
    W = shared(w0.copy(), name="W")
    f = function([a, b], [], updates=[(W, W - 0.1 * T.dot(a.T, b))], mode="native")
    (gemm,) = in_c(f, Gemm)
    assert gemm.op.destroy_map
    # W's own array, not exposed (get_value(borrow=True) would make the call copy W first):
    # as values from outside a segment may be, say the output of a NumPy kernel viewing W
    buffer = W.container[0]
    if overlap == "same buffer":
        args, want = (buffer, buffer), w0 - 0.1 * w0.T @ w0
    elif overlap == "a view of it":
        args, want = (buffer[100:300], buffer[:200]), w0 - 0.1 * w0[100:300].T @ w0[:200]
    else:
        other = rng.normal(size=(64, 512))
        args, want = (other, other), w0 - 0.1 * other.T @ other
    f(*args)
    assert np.shares_memory(W.get_value(borrow=True), buffer)  # updated in place
    assert_close(W.get_value(), want, "float64")


def test_gemm_in_place_whose_product_reads_the_destroyed_matrix():
    # W - lr * dot(W.T, W + x) updates W in place while the product still reads W: the
    # result must be the one of the old W (NumPy's Gemm kernel copies what aliases z).
    x = T.dmatrix("x")
    w0 = rng.normal(size=(3, 3))
    W = shared(w0.copy(), name="W")
    f = function([x], [], updates=[(W, W - 0.1 * T.dot(W.T, W + x))], mode="native")
    (gemm,) = in_c(f, Gemm)
    assert gemm.op.destroy_map
    f(np.ones((3, 3)))
    assert_close(W.get_value(), w0 - 0.1 * w0.T @ (w0 + 1))
    y = T.exp(x)
    f, g = pair([x], y - 0.1 * T.dot(y.T, y))
    in_c(f, Gemm)
    check(f, g, [w0])


# -- plans: one function, many shapes ----------------------------------------------------------

def test_one_function_serves_every_batch_size_and_compiles_once(fresh_cache):
    x, W, b = T.fmatrix("x"), T.fmatrix("W"), T.fvector("b")
    out = T.tanh(T.dot(x, W) + b) * 2
    before = compiler.compile_count()
    f, g = pair([x, W, b], [out, out.sum(axis=1), x.shape[0] * 1])
    in_c(f, Dot)
    assert compiler.compile_count() > before  # the fresh cache had nothing: it compiled
    Wv, bv = rng.normal(size=(16, 8)).astype("float32"), rng.normal(size=8).astype("float32")
    counts = []
    for batch in (32, 7, 1, 32, 0, 7):
        xv = rng.normal(size=(batch, 16)).astype("float32")
        got = check(f, g, [xv, Wv, bv])
        assert got[0].shape == (batch, 8) and int(got[2]) == batch
        counts.append(compiler.compile_count())
    assert counts == counts[:1] * len(counts), counts  # the C is compiled once, plans per shape


def test_shape_arithmetic_follows_changing_shapes():
    x = T.dmatrix("x")
    outs = [x.shape[0] * 2 + x.shape[1], x.mean(), x.reshape((x.shape[0], -1)) * 2,
            (x * 3).reshape((x.shape[1], x.shape[0])), x / x.shape[0]]
    f, g = pair([x], outs)
    in_c(f, Reshape)
    for shape in [(3, 4), (5, 2), (1, 7), (3, 4), (6, 1)]:
        got = check(f, g, [rng.normal(size=shape)])
        assert int(got[0]) == shape[0] * 2 + shape[1] and got[3].shape == shape[::-1]


# -- a training step --------------------------------------------------------------------------

def test_mlp_training_step_follows_numpy_for_ten_steps():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from nnframe_workloads import mlp_step
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    sizes, batch = [64, 128, 10], 32
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        params += [rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32),
                   np.zeros(fan_out, np.float32)]
    step_c, params_c = mlp_step(params, 0.01, mode="native")
    step_np, params_np = mlp_step(params, 0.01, mode="numpy")
    assert any(isinstance(n.op, Gemm) for n in native_nodes(step_c))
    # the whole step is ONE C segment: one kernel call in the linked code
    assert len(native_nodes(step_c)) == len(step_c.maker.fgraph.toposort())
    assert step_c.maker.linked.source.count("= _k") == 1
    # ... whose C is big enough to be compiled as two units at once, linked into one call
    (kernel,) = segment_kernels(step_c)
    assert "return nnf_segment_1(items);" in kernel.source
    assert "nnf_segment_2" not in kernel.source
    for _ in range(10):
        X = rng.standard_normal((batch, sizes[0])).astype(np.float32)
        y = rng.integers(0, sizes[-1], batch).astype(np.int64)
        loss_c, loss_np = step_c(X, y), step_np(X, y)
        assert_close(loss_c, loss_np, "float32", what="loss")
    for k, (pc, pn) in enumerate(zip(params_c, params_np)):
        assert_close(pc.get_value(), pn.get_value(), "float32", what=f"parameter {k}")
    assert not np.array_equal(params_c[0].get_value(), params[0])  # it trained


def test_gradients_of_a_small_model_run_in_c():
    x, W, b = T.dmatrix("x"), T.dmatrix("W"), T.dvector("b")
    loss = (T.tanh(T.dot(x, W) + b) ** 2).sum() + (W * W).sum() * 0.01
    grads = T.grad(loss, [W, b, x])
    f, g = pair([x, W, b], [loss] + grads)
    in_c(f, Dot)
    values = [rng.normal(size=(5, 3)), rng.normal(size=(3, 4)), rng.normal(size=4)]
    check(f, g, values)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sum_along_a_strided_view_is_numpys_pairwise_sum_bit_for_bit(dtype):
    x = T.tensor(dtype, (None, None))
    f, g = pair([x], x[:, ::2].sum(axis=1))     # rows of stride 2: the strided pairwise sum
    in_c(f, Sum)
    suffix = "f32" if dtype == "float32" else "f64"
    assert all(f"nnf_psum_{suffix}_s(" in k.source for k in segment_kernels(f))
    for shape in [(3, 2001), (2, 300), (4, 17), (1, 258)]:   # recursion, blocks, < 8
        value = (rng.standard_normal(shape) * 10 ** rng.uniform(-3, 3, shape)).astype(dtype)
        got = f(value)
        np.testing.assert_array_equal(got, g(value))
        np.testing.assert_array_equal(got, value[:, ::2].sum(axis=1))


# -- views --------------------------------------------------------------------------------------

def test_views_of_inputs_and_of_computed_values():
    x = T.dmatrix("x")
    y = x * 2
    outs = [x.T, x.dimshuffle("x", 0, 1), x.reshape((-1,)), y.T, y.dimshuffle(1, "x", 0),
            y.reshape((3, -1)), y.T.reshape((-1,)), (y.T + 1).reshape((2, -1)), y.T * 3]
    f, g = pair([x], outs)
    in_c(f, DimShuffle)
    of_computed = [n for n in f.maker.fgraph.toposort() if isinstance(n.op, Reshape)
                   and n.inputs[0].owner is not None and isinstance(n.inputs[0].owner.op, Elemwise)]
    assert len(of_computed) == 2  # views of contiguous values computed in C: in C too
    assert all(n in native_nodes(f) for n in of_computed)
    for xv in [rng.normal(size=(2, 6)), rng.normal(size=(6, 2)).T, rng.normal(size=(4, 3))[::2]]:
        got, want = f(xv), g(xv)
        for k, (a, b) in enumerate(zip(got, want)):
            np.testing.assert_array_equal(a, b, err_msg=f"output {k}")
            assert a.shape == b.shape and a.dtype == b.dtype
        assert not any(np.shares_memory(a, xv) and a.flags.writeable for a in got[3:])


def test_views_of_empty_arrays():
    x = T.dmatrix("x")
    f, g = pair([x], [x.T * 2, (x * 2).T, (x + 1).dimshuffle("x", 1, 0), (x * 2).reshape((-1,))])
    in_c(f, DimShuffle)
    for shape in [(0, 3), (3, 0), (0, 0)]:
        got = check(f, g, [np.zeros(shape)])
        assert got[1].shape == shape[::-1]


def test_in_place_nodes_write_into_views():
    x, v = T.dmatrix("x"), T.dvector("v")
    t = (T.exp(x) * 2).T
    outs = [t + v, t + v * 3 + T.exp(x).sum()]
    f, g = pair([x, v], outs)
    assert any(n.op.destroy_map for n in in_c(f, Elemwise))
    xv, vv = rng.normal(size=(2, 3)), rng.normal(size=2)
    before = xv.copy(), vv.copy()
    for _ in range(2):
        got = check(f, g, [xv, vv])
    assert got[0].shape == (3, 2)
    np.testing.assert_array_equal(xv, before[0])
    np.testing.assert_array_equal(vv, before[1])


@pytest.mark.parametrize("build", [
    lambda y: y.T + y, lambda y: (y + y.T) * y, lambda y: y.T * 2 + y[::-1],  # views in C
    lambda y: y[1:] + y[:-1], lambda y: y[1:] * 2 + y[:-1]],  # NumPy views passed to C
    ids=["T+y", "(y+T)*y", "T*2+reversed", "shifted", "shifted*2"])
def test_in_place_node_reading_its_buffer_in_another_order(build):
    # The in-place node writes into y's buffer, which its other input reads at other
    # positions: each element read must be the value before any write (NumPy buffers
    # overlapping operands; the C loop must not read what it has already written).
    x = T.dmatrix("x")
    f, g = pair([x], build(T.exp(x)))  # y = exp(x) is read by the in-place node only
    assert any(n.op.destroy_map for n in in_c(f, Elemwise))
    check(f, g, [np.arange(12.0).reshape(3, 4)[:, :3] / 10])


# -- errors -------------------------------------------------------------------------------------

def test_shapes_that_do_not_fit_raise_numpys_error_naming_the_node():
    x, W = T.dmatrix("x"), T.dmatrix("W")
    out = T.tanh(T.dot(x, W)) + 1
    f, g = pair([x, W], out)
    in_c(f, Dot)
    bad = [np.ones((3, 4)), np.ones((5, 2))]
    with pytest.raises(ValueError) as want:
        g(*bad)
    with pytest.raises(ValueError) as got:
        f(*bad)
    assert str(got.value).splitlines()[0] == str(want.value).splitlines()[0]
    assert "Apply node that caused the error" in str(got.value) and "Dot" in str(got.value)
    assert check(f, g, [np.ones((3, 4)), np.ones((4, 2))])[0].shape == (3, 2)  # still usable


def _run_without_compiler(tmp_path, code, flags):
    """Run ``code`` in a fresh Python whose PATH holds no compiler; its stdout and stderr."""
    empty = tmp_path / "bin"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "CC"}
    env["PATH"] = str(empty)
    env["NNFRAME_FLAGS"] = ",".join([f"compiledir={tmp_path / 'cache'}"] + flags)
    env["PYTHONPATH"] = str(REPO)
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


@pytest.mark.parametrize("how", ["mode", "device", "default"])
def test_without_a_compiler_native_runs_on_numpy_and_says_so_once(tmp_path, how):
    """Also the default device: a machine without a C compiler runs as before native was
    the default, with one log line."""
    mode = ", mode='native'" if how == "mode" else ""
    code = f"""
        import numpy as np, nnframe.tensor as T
        from nnframe import function
        from nnframe.backends.native import native_nodes
        x = T.dvector('x')
        f = function([x], x * 2{mode})
        g = function([x], T.exp(x) + 1{mode})
        print(f(np.arange(3.0)).tolist(), g(np.zeros(2)).tolist(), native_nodes(f))
    """
    out, err = _run_without_compiler(tmp_path, code, ["device=native"] if how == "device" else [])
    assert out.split() == "[0.0, 2.0, 4.0] [2.0, 2.0] []".split()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "native" in lines[0] and "NumPy backend" in lines[0] and "compiler" in lines[0]


def test_c_the_compiler_rejects_is_logged_and_numpy_runs_instead(fresh_cache, monkeypatch,
                                                                  caplog):
    native.get_backend()  # registers the emitters first: the patch must come after
    monkeypatch.setitem(registry.EMITTERS, Elemwise, lambda node, seg: "this is not C;")
    x = T.dvector("x")
    with caplog.at_level(logging.ERROR, logger="nnframe"):
        f = function([x], T.exp(x) * 2 + 1, mode="native")
    assert native_nodes(f) == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "report" in errors[0].getMessage()
    v = rng.normal(size=5)
    np.testing.assert_array_equal(f(v), function([x], T.exp(x) * 2 + 1, mode="numpy")(v))
    saved = list(fresh_cache.glob("native/*.c"))
    assert len(saved) == 1 and str(saved[0]) in errors[0].getMessage()


def test_names_never_reach_the_generated_code():
    hostile = ['*/ system("x"); /*', 'a\nb = 1 #', "q'\"\\", "p{0}%s"]
    x, y = T.dmatrix(hostile[0]), T.dvector(hostile[1])
    W = shared(rng.normal(size=(3, 3)), name=hostile[2])
    h = T.dot(x, W) + y
    h.name = hostile[3]
    out = T.tanh(h).T * 2
    out.name = hostile[0]
    f = function([x, y], out, updates=[(W, W - 0.1 * T.dot(x.T, h))], mode="native",
                 name=hostile[1])
    kernels = segment_kernels(f)
    assert kernels and native_nodes(f)
    for kernel in kernels:
        for text in (kernel.source, kernel.run.source):
            for name in hostile:
                assert name not in text
            assert "system" not in text and '"x"' not in text
    got = f(np.ones((2, 3)), np.ones(3))
    assert got.shape == (3, 2)


# -- modes and profiling ---------------------------------------------------------------------

def test_device_native_is_the_default_mode():
    x = T.fvector("x")
    with config.change_flags(device="native"):
        f = function([x], T.tanh(x) * 2)
        fast_run = function([x], T.tanh(x) * 2, mode="FAST_RUN")
    for fn in (f, fast_run):
        assert in_c(fn, Elemwise)
        v = rng.normal(size=9).astype("float32")
        np.testing.assert_allclose(fn(v), np.tanh(v) * 2, rtol=1e-5)


def test_profile_times_each_c_node():
    x, W = T.fmatrix("x"), T.fmatrix("W")
    f = function([x, W], T.tanh(T.dot(x, W)) * 2, mode="native", profile=True)
    c_nodes = native_nodes(f)
    assert any(isinstance(n.op, Dot) for n in c_nodes)
    for _ in range(3):
        f(np.ones((4, 5), "float32"), np.ones((5, 6), "float32"))
    stats = f.profile
    assert stats.calls == 3
    timed = {id(n): stats.node_calls[k] for k, n in enumerate(stats.nodes)}
    for node in c_nodes:
        assert timed.get(id(node)) == 3, node
    assert stats.by_op_class()["Dot"][1] == 3


def test_trust_input_with_a_shape_its_type_refuses_is_a_type_error_not_a_crash():
    x, y = T.frow("x"), T.fmatrix("y")
    f = function([x, y], T.exp(x) + y, mode="native", trust_input=True)
    with pytest.raises(TypeError, match="trust_input"):
        f(np.ones((200, 40), "float32"), np.ones((1, 40), "float32"))
    m = T.fmatrix("m")
    g = function([m], T.exp(m).sum(axis=1), mode="native", trust_input=True)
    with pytest.raises(TypeError, match="cannot hold a value of shape"):
        g(np.ones((2, 3, 4), "float32"))


def test_errors_found_by_a_plan_or_by_the_c_name_the_function():
    x, y = T.fmatrix("x"), T.fmatrix("y")
    f = function([x, y], T.exp(T.dot(x, y)) + 1, mode="native", name="train_step")
    with pytest.raises(ValueError, match="of function 'train_step': Dot"):
        f(np.ones((2, 3), "float32"), np.ones((2, 3), "float32"))
    a, b = T.lvector("a"), T.lvector("b")
    g = function([a, b], a ** b, mode="native", name="power")
    g(np.array([2]), np.array([1]))
    with pytest.raises(ValueError, match="of function 'power'") as info:
        g(np.array([2]), np.array([-1]))          # raised by the C (same shapes)
    assert str(info.value).count("Apply node that caused the error") == 1


def test_an_error_in_the_second_unit_of_a_segment_cut_in_two_stops_the_call():
    x, n = T.fmatrix("x"), T.lvector("n")
    sums = [T.tanh(x * k).sum(axis=0) for k in range(1, 7)]   # big: cut in two
    total = sums[0]
    for s in sums[1:]:
        total = total + s
    power = n ** (n - 3 + T.cast(total.sum() > 1e9, "int64"))  # last: after every sum
    f, g = pair([x, n], [total, power], name="late_error")
    (kernel,) = segment_kernels(f)
    assert "return nnf_segment_1(items);" in kernel.source
    second = kernel.source[kernel.source.index("int nnf_segment_1(void *items)\n{"):]
    assert "return 1;" in second                  # the power's check is in the second unit
    xv = rng.normal(size=(4, 3)).astype("float32")
    check(f, g, [xv, np.array([3, 4])])
    with pytest.raises(ValueError, match="Integers to negative integer powers") as info:
        f(xv, np.array([3, 1]))
    assert "late_error" in str(info.value)
    check(f, g, [xv, np.array([5])])                             # still usable
    small, _ = pair([n], [n ** 2])                                # one loop: one unit
    assert [k.source.count("int nnf_segment") for k in segment_kernels(small)] == [1]


def test_debug_mode_checks_every_node_of_a_native_function():
    from nnframe.core.mode import Mode
    x = T.fvector("x")
    for graph in (x * x, T.exp(x) + 1.5):
        f = function([x], graph, mode=Mode("native", debug=True))
        g = function([x], graph, mode="numpy")
        v = np.arange(3, dtype="float32")
        np.testing.assert_allclose(f(v), g(v), rtol=1e-6)
