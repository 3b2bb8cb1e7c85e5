"""Indexing, set_subtensor/inc_subtensor and take, checked against NumPy."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, verify_grad
from nnframe.core.ops.shape import ShapeI
from nnframe.core.ops.subtensor import (
    AdvancedIncSubtensor,
    AdvancedSubtensor,
    IncSubtensor,
    Subtensor,
)
from nnframe.core.variable import TensorConstant

RNG = np.random.default_rng(1234)
X = RNG.normal(size=(4, 5, 6))

# Symbolic index inputs and the values they take in every test.
SYM = {
    "i": (T.lscalar("i"), 1),
    "j": (T.iscalar("j"), 3),
    "k": (T.lscalar("k"), -2),
    "v": (T.lvector("v"), np.array([2, 0, 2, 1])),
    "w": (T.ivector("w"), np.array([1, 3], dtype="int32")),
    "mat": (T.lmatrix("mat"), np.array([[0, 1], [3, 3]])),
    "b": (T.tensor("bool", (None, None), name="b"), RNG.normal(size=(4, 5)) > 0),
    "b0": (T.tensor("bool", (None,), name="b0"), np.array([True, False, True, True])),
}


class Namespace:
    """``s.i`` is the symbolic variable (sym=True) or its value (sym=False)."""

    def __init__(self, sym):
        for name, (var, value) in SYM.items():
            setattr(self, name, var if sym else value)


S, V = Namespace(True), Namespace(False)

# (id, index) where index(ns) gives the index for a namespace; the same
# expression is evaluated symbolically and on the NumPy values.
CASES = [
    ("int", lambda s: 1),
    ("negative-int", lambda s: -1),
    ("two-ints", lambda s: (0, -1)),
    ("three-ints", lambda s: (3, 4, 5)),
    ("numpy-int", lambda s: np.int32(2)),
    ("slice", lambda s: slice(1, 3)),
    ("reverse", lambda s: slice(None, None, -1)),
    ("negative-step", lambda s: slice(3, 0, -2)),
    ("negative-start", lambda s: slice(-3, None)),
    ("step-2", lambda s: (slice(None), slice(None, -1, 2))),
    ("empty-slice", lambda s: slice(10, 20)),
    ("clamped-slice", lambda s: slice(-10, 2)),
    ("int-after-slice", lambda s: (slice(None), 2)),
    ("ellipsis", lambda s: (Ellipsis, 1)),
    ("ellipsis-middle", lambda s: (0, Ellipsis, slice(1, None))),
    ("newaxis", lambda s: (None, 1, Ellipsis, None)),
    ("newaxis-reverse", lambda s: (1, None, slice(None, None, -1))),
    ("empty-tuple", lambda s: ()),
    ("full", lambda s: slice(None)),
    ("sym-int", lambda s: s.i),
    ("sym-ints", lambda s: (s.i, s.j)),
    ("sym-negative", lambda s: (s.k, slice(None), s.k)),
    ("sym-window", lambda s: slice(s.i, s.i + 2)),
    ("sym-stop", lambda s: slice(None, s.k)),
    ("sym-reverse-start", lambda s: (slice(None), slice(s.j, None, -1))),
    ("sym-step", lambda s: slice(None, None, s.k)),
    ("sym-all-bounds", lambda s: (slice(None), slice(s.j, s.i, s.k))),
    ("sym-out-of-range-bounds", lambda s: slice(s.k * 10, s.j * 10)),
    ("list", lambda s: [0, 2, 2]),
    ("nested-list", lambda s: [[0, 1], [1, 2]]),
    ("range", lambda s: range(3, 0, -1)),
    ("array-2d", lambda s: np.array([[0, 1], [3, 3]])),
    ("empty-list", lambda s: []),
    ("sym-vector", lambda s: s.v),
    ("sym-matrix", lambda s: s.mat),
    ("vector-then-slice", lambda s: (s.v, slice(1, 3))),
    ("slice-then-vector", lambda s: (slice(None), s.w)),
    ("adjacent-advanced", lambda s: (slice(None), 0, s.w)),
    ("separated-advanced", lambda s: (s.w, slice(None), s.w)),
    ("separated-int-array", lambda s: (0, slice(None), [1, 2])),
    ("separated-sym-int", lambda s: (s.i, slice(None), s.w)),
    ("ellipsis-separates", lambda s: (s.w, Ellipsis, s.w)),
    ("newaxis-separates", lambda s: (s.w, None, s.w)),
    ("matrix-and-int", lambda s: (s.mat, 1)),
    ("broadcast-arrays", lambda s: (s.mat, slice(None), [[0], [5]])),
    ("arange-pairs", lambda s: (T.arange(4) if isinstance(s.i, T.TensorVariable)
                                else np.arange(4), s.v)),
    ("numpy-mask", lambda s: np.array([True, False, True, True])),
    ("sym-mask", lambda s: s.b0),
    ("sym-mask-2d", lambda s: s.b),
    ("mask-after-slice", lambda s: (slice(None), np.array([True, False, True, False, True]))),
    ("mask-and-int", lambda s: (s.b0, 2)),
    ("true", lambda s: True),
    ("true-and-ints", lambda s: (True, 1, [0, 2])),
]


def _run(expr, mode="debug"):
    inputs = [var for var, _ in SYM.values()]
    f = function(inputs, expr, mode=mode, on_unused_input="ignore")
    return f(*[value for _, value in SYM.values()])


@pytest.mark.parametrize("index", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_indexing_matches_numpy(index):
    x = T.dtensor3("x")
    expr = x[index(S)]
    want = X[index(V)]
    inputs = [x] + [var for var, _ in SYM.values()]
    f = function(inputs, expr, mode="debug", on_unused_input="ignore")
    got = f(X, *[value for _, value in SYM.values()])
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    assert expr.ndim == want.ndim


def test_basic_and_advanced_pick_the_right_op():
    x = T.dmatrix("x")
    assert isinstance(x[0, 1:].owner.op, Subtensor)
    assert isinstance(x[T.lscalar()].owner.op, Subtensor)
    assert isinstance(x[[0, 1]].owner.op, AdvancedSubtensor)
    assert isinstance(x[x > 0].owner.op, AdvancedSubtensor)
    assert Subtensor.view_map == {0: [0]} and AdvancedSubtensor.view_map == {}


def test_constant_indices_are_not_inputs():
    x = T.dmatrix("x")
    for expr in (x[0], x[1:3, ::-1], x[-1, None], x[np.int64(2)], x[T.constant(1)]):
        assert expr.owner.inputs == [x]
    assert x[0].owner.op == x[0, :].owner.op == x[np.int8(0)].owner.op
    assert x[::1].owner.op == x[:].owner.op


def test_shape_entries():
    x = T.dmatrix("x")
    i = T.lscalar("i")
    assert isinstance(x.shape[0].owner.op, ShapeI)
    assert isinstance(x.shape[-1].owner.op, ShapeI)
    f = function([x, i], [x.shape[0], x.shape[-1], x.shape[i], x.shape[::-1]], mode="debug")
    got = f(np.zeros((2, 7)), 1)
    assert [int(g) for g in got[:3]] == [2, 7, 7]
    np.testing.assert_array_equal(got[3], [7, 2])
    static = T.tensor("float64", (3, None))
    assert isinstance(static.shape[0], TensorConstant) and int(static.shape[0].data) == 3


@pytest.mark.parametrize("index, shape", [
    ((slice(None), slice(None), 0), (4, 1)),
    (slice(1, 3), (2, 1, None)),
    (slice(None, None, 2), (2, 1, None)),
    (slice(None, None, -1), (4, 1, None)),
    ((None, 1), (1, 1, None)),
    ((slice(None), slice(0, 1)), (4, 1, None)),
    ((slice(None), slice(1, None)), (4, 0, None)),
    ((Ellipsis, slice(2, 5)), (4, 1, None)),
    ((slice(None), 0, slice(None), None), (4, None, 1)),
    ([0, 1], (2, 1, None)),  # constants have full static shapes
    ([[0, 1]], (1, 2, 1, None)),
    (([0], 0), (1, None)),
    (T.lvector(), (None, 1, None)),
    (np.array([True, False, True, True]), (3, 1, None)),
    (T.tensor("bool", (4,)), (None, 1, None)),
])
def test_static_shapes(index, shape):
    x = T.tensor("float64", (4, 1, None), name="x")
    assert x[index].type.shape == shape


def test_symbolic_bounds_give_unknown_static_length():
    x = T.tensor("float64", (4, 1), name="x")
    i = T.lscalar("i")
    assert x[i:].type.shape == (None, 1)
    assert x[:, i].type.shape == (4,)


def test_minibatch_of_a_shared_dataset_with_givens():
    from nnframe import shared
    data = shared(np.arange(20.0).reshape(10, 2), name="data")
    x = T.dmatrix("x")
    index = T.lscalar("index")
    batch = 4
    f = function([index], x.sum(axis=1),
                 givens=[(x, data[index * batch:(index + 1) * batch])])
    np.testing.assert_array_equal(f(1), np.arange(20.0).reshape(10, 2)[4:8].sum(axis=1))
    np.testing.assert_array_equal(f(2), np.arange(20.0).reshape(10, 2)[8:].sum(axis=1))


def test_view_output_is_copied_for_the_caller():
    x = T.dmatrix("x")
    f = function([x], x[1:])
    value = np.arange(6.0).reshape(3, 2)
    out = f(value)
    out[...] = -1
    np.testing.assert_array_equal(value, np.arange(6.0).reshape(3, 2))


# -- set_subtensor / inc_subtensor ---------------------------------------------
SET_CASES = [
    ("slice", lambda s: slice(1, 3), (2, 5, 6)),
    ("int-scalar", lambda s: (1, 2, 3), ()),
    ("broadcast-row", lambda s: (slice(None), 0), (6,)),
    ("broadcast-scalar", lambda s: (Ellipsis, 2), ()),
    ("sym-window", lambda s: slice(s.i, s.i + 2), (2, 5, 6)),
    ("newaxis", lambda s: (None, 0), (1, 5, 6)),
    ("repeated", lambda s: [0, 2, 0], (3, 5, 6)),
    ("sym-vector", lambda s: (slice(None), s.v), (4, 4, 6)),
    ("separated", lambda s: (s.w, slice(None), s.w), (2, 5)),
    ("mask", lambda s: s.b0, (3, 5, 6)),
    ("mask-broadcast", lambda s: s.b, (6,)),
]


def _numpy_inc(x, index, y, set_):
    out = x.copy()
    if set_:
        out[index] = y
    else:
        np.add.at(out, index, y)
    return out


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize("index, yshape", [c[1:] for c in SET_CASES],
                         ids=[c[0] for c in SET_CASES])
def test_set_and_inc_match_numpy(index, yshape, set_):
    x = T.dtensor3("x")
    y = T.tensor("float64", tuple(1 if n == 1 else None for n in yshape), name="y")
    build = T.set_subtensor if set_ else T.inc_subtensor
    expr = build(x[index(S)], y)
    assert expr.type == x.type
    yv = RNG.normal(size=yshape)
    inputs = [x, y] + [var for var, _ in SYM.values()]
    f = function(inputs, expr, mode="debug", on_unused_input="ignore")
    x_value = X.copy()
    got = f(x_value, yv, *[value for _, value in SYM.values()])
    np.testing.assert_allclose(got, _numpy_inc(X, index(V), yv, set_))
    np.testing.assert_array_equal(x_value, X)  # the caller's array is untouched


def test_repeated_indices_accumulate_or_last_wins():
    a = T.dvector("a")
    y = T.dvector("y")
    idx = [0, 2, 0, 0]
    values = np.array([1.0, 2.0, 3.0, 4.0])
    inc = function([a, y], T.inc_subtensor(a[idx], y), mode="debug")(np.zeros(3), values)
    np.testing.assert_array_equal(inc, [8.0, 0.0, 2.0])
    set_ = function([a, y], T.set_subtensor(a[idx], y), mode="debug")(np.zeros(3), values)
    np.testing.assert_array_equal(set_, [4.0, 0.0, 2.0])


def test_value_is_left_padded_and_cast():
    x = T.fmatrix("x")
    out = T.inc_subtensor(x[1:], np.array([1.0, 2.0]))  # float64 constant into float32
    assert out.dtype == "float32"
    got = function([x], out, mode="debug")(np.zeros((3, 2), dtype="float32"))
    np.testing.assert_array_equal(got, [[0, 0], [1, 2], [1, 2]])
    ints = T.lvector("ints")
    with pytest.raises(TypeError, match="cannot store a float64"):
        T.set_subtensor(ints[0], T.dscalar())


def test_value_broadcasts_only_along_static_length_one_axes():
    x = T.dmatrix("x")
    y = T.dmatrix("y")
    f = function([x, y], T.set_subtensor(x[1:], y))
    with pytest.raises(ValueError, match="not broadcastable"):
        f(np.zeros((3, 2)), np.ones((1, 2)))
    g = function([x, y], T.inc_subtensor(x[[0, 2]], y))
    with pytest.raises(ValueError, match="not broadcastable"):
        g(np.zeros((3, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="cannot be broadcast"):
        T.set_subtensor(T.tensor("float64", (4, 3))[1:3], T.tensor("float64", (3, 3)))
    with pytest.raises(ValueError, match="dimension"):
        T.set_subtensor(x[0], y)


def test_set_subtensor_needs_an_indexing_result():
    x = T.dmatrix("x")
    with pytest.raises(TypeError, match="result of indexing"):
        T.set_subtensor(x, 1.0)
    with pytest.raises(TypeError, match="result of indexing"):
        T.inc_subtensor(x + 1, 1.0)


def test_inc_ops_are_the_right_ones():
    x = T.dmatrix("x")
    assert isinstance(T.set_subtensor(x[0], 1.0).owner.op, IncSubtensor)
    op = T.inc_subtensor(x[[0]], 1.0).owner.op
    assert isinstance(op, AdvancedIncSubtensor) and not op.set_instead_of_inc


# -- take ---------------------------------------------------------------------------
@pytest.mark.parametrize("indices, axis", [
    ([3, 0, 7], None), (np.array([[1, 2], [0, 0]]), 0), ([4, 4, 0], 1), ([5], -1),
    (2, 1), (np.array(-1), None), ([True, False], 0),
])
def test_take_matches_numpy(indices, axis):
    a = T.dtensor3("a")
    got = function([a], T.take(a, indices, axis=axis), mode="debug")(X)
    np.testing.assert_array_equal(got, np.take(X, indices, axis=axis))


def test_take_with_symbolic_indices():
    a = T.dmatrix("a")
    idx = T.lvector("idx")
    f = function([a, idx], T.take(a, idx, axis=1), mode="debug")
    np.testing.assert_array_equal(f(X[0], [5, 0, 5]), np.take(X[0], [5, 0, 5], axis=1))


# -- gradients ------------------------------------------------------------------
GRAD_CASES = [
    ("slices", lambda x: x[1:3, ::-2]),
    ("ints", lambda x: x[-1, 2]),
    ("symbolic-bounds", lambda x: x[x.shape[0] // 2:, :x.shape[1] - 1]),
    ("newaxis", lambda x: x[None, :, 1]),
    ("repeated-rows", lambda x: x[[0, 0, 2, 3]]),
    ("repeated-pairs", lambda x: x[[1, 1, 3], [0, 0, 4]]),
    ("mixed", lambda x: x[[2, 2, 0], 1:]),
    ("columns", lambda x: x[:, [4, 0, 4]]),
    ("mask", lambda x: x[x > 0]),
    ("take", lambda x: T.take(x, [7, 7, 1])),
]


@pytest.mark.parametrize("fun", [c[1] for c in GRAD_CASES], ids=[c[0] for c in GRAD_CASES])
def test_indexing_gradient(fun):
    verify_grad(fun, [RNG.normal(size=(4, 5))], mode="debug")


INC_GRAD_CASES = [
    ("basic", lambda x: x[1:3], (2, 5)),
    ("basic-broadcast-row", lambda x: x[1:3], (1, 5)),
    ("basic-scalar-value", lambda x: x[0, 1:], ()),
    ("advanced", lambda x: x[[3, 0], 1:4], (2, 3)),
    ("advanced-broadcast-column", lambda x: x[:, [4, 1]], (4, 1)),
    ("mask", lambda x: x[x > 0], ()),
]


def _with_static_ones(y, yshape):
    """``y`` (of unknown static shape) made broadcastable where ``yshape`` has 1s."""
    if yshape == ():
        return y.sum()
    return T.addbroadcast(y, *[a for a, n in enumerate(yshape) if n == 1])


@pytest.mark.parametrize("set_", [True, False], ids=["set", "inc"])
@pytest.mark.parametrize("index, yshape", [c[1:] for c in INC_GRAD_CASES],
                         ids=[c[0] for c in INC_GRAD_CASES])
def test_set_and_inc_gradient(index, yshape, set_):
    build = T.set_subtensor if set_ else T.inc_subtensor
    xv = RNG.normal(size=(4, 5))
    yv = RNG.normal(size=yshape if yshape else (3,))

    def fun(x, y):
        return build(index(x), _with_static_ones(y, yshape)) * 1.5

    verify_grad(fun, [xv, yv], mode="debug")


def test_inc_with_repeated_indices_gradient():
    verify_grad(lambda x, y: T.inc_subtensor(x[[0, 2, 0]], y),
                [RNG.normal(size=(3, 2)), RNG.normal(size=(3, 2))], mode="debug")


def test_second_derivative_through_indexing():
    x = T.dvector("x")
    cost = (x[[0, 0, 2]] ** 3).sum() + (x[1:] ** 2).sum()
    hess = T.hessian(cost, x)
    xv = np.array([1.0, 2.0, 3.0])
    got = function([x], hess)(xv)
    want = np.diag([2 * 6 * xv[0], 2.0, 6 * xv[2] + 2.0])
    np.testing.assert_allclose(got, want)


def test_integer_indexing_gradient_is_none():
    x = T.dmatrix("x")
    i = T.lscalar("i")
    g = T.grad(x[i, [0, 1]].sum(), x)
    got = function([x, i], g)(np.zeros((2, 3)), 1)
    np.testing.assert_array_equal(got, [[0, 0, 0], [1, 1, 0]])


# -- errors ---------------------------------------------------------------------------
def test_too_many_indices():
    x = T.dmatrix("x")
    with pytest.raises(IndexError, match=r"too many indices for TensorType\(float64, matrix\)"):
        x[0, 1, 2]
    with pytest.raises(IndexError, match="too many indices"):
        x[[0], 1, 2]
    with pytest.raises(IndexError, match="too many indices"):
        x[T.tensor("bool", (None, None, None))]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., ...]


def test_constant_index_out_of_static_range():
    x = T.tensor("float64", (3, None), name="x")
    with pytest.raises(IndexError, match=r"3 is out of bounds for axis 0 .*shape=\(3, \?\)"):
        x[3]
    with pytest.raises(IndexError, match="-4 is out of bounds"):
        x[-4, 0]
    with pytest.raises(IndexError, match="out of bounds"):
        x[[0, 5]]
    with pytest.raises(IndexError, match="boolean index"):
        x[np.array([True, False])]
    x[-3, 100]  # axis 1 has no static length: checked at run time


@pytest.mark.parametrize("index", [
    1.0, np.float32(1), 1j, [0.5, 1.0], np.array([1.0]), T.dscalar(), T.fvector(), T.cscalar(),
    "a", (0, 1.5),
], ids=lambda v: type(v).__name__)
def test_non_integer_indices(index):
    x = T.dmatrix("x")
    with pytest.raises(TypeError, match="indices must be integers"):
        x[index]


def test_non_integer_slice_bounds():
    x = T.dvector("x")
    with pytest.raises(TypeError, match="slice indices must be integers"):
        x[1.0:]
    with pytest.raises(TypeError, match="slice indices must be integers"):
        x[:T.dscalar()]
    with pytest.raises(ValueError, match="step cannot be zero"):
        x[::0]


@pytest.mark.parametrize("build, value", [
    (lambda x, i: x[i], 5), (lambda x, i: x[i, 1:], -6), (lambda x, i: x[[0, i]], 9),
    (lambda x, i: T.set_subtensor(x[i], 1.0), 7), (lambda x, i: T.inc_subtensor(x[[i]], 1.0), 7),
], ids=["basic", "basic-negative", "advanced", "set", "inc-advanced"])
def test_runtime_out_of_bounds(build, value):
    x = T.dmatrix("x")
    i = T.lscalar("i")
    f = function([x, i], build(x, i))
    with pytest.raises(IndexError, match=rf"{value} is out of bounds.*shape \(4, 5\)"):
        f(np.zeros((4, 5)), value)
