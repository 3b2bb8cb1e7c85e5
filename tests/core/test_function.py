"""function(): inputs, outputs, updates, givens, In defaults, modes and bad input."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import In, function, shared
from nnframe.core.debug import DebugModeError
from nnframe.core.function import MissingInputError, UnusedInputError


def test_seed_example_scalar_add():
    x = T.dscalar('x'); y = T.dscalar('y'); z = x + y
    f = function([x, y], z)
    out = f(2, 3)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == ()
    assert out == 5.0


def test_inputs_must_be_a_list():
    x = T.dscalar('x')
    with pytest.raises(TypeError, match="as a list"):
        function(x, x * 2)


def test_single_and_multiple_outputs():
    x = T.dvector('x')
    assert isinstance(function([x], x * 2)(np.ones(2)), np.ndarray)
    both = function([x], [x * 2, x.sum()])(np.ones(2))
    assert isinstance(both, list) and len(both) == 2
    np.testing.assert_array_equal(both[0], [2, 2])
    assert function([x], [], updates=[], on_unused_input='ignore')(np.ones(2)) == []


def test_updates_use_old_values_and_apply_after_outputs():
    a = shared(np.array(1.0), name='a')
    b = shared(np.array(10.0), name='b')
    # Swap: each update must see the other's *old* value.
    f = function([], [a, b], updates=[(a, b), (b, a)])
    out = f()
    assert [float(o) for o in out] == [1.0, 10.0]          # outputs computed before updates
    assert a.get_value() == 10.0 and b.get_value() == 1.0
    f()
    assert a.get_value() == 1.0 and b.get_value() == 10.0


def test_accumulator_tutorial():
    state = shared(np.array(0, dtype='int64'), name='state')
    inc = T.lscalar('inc')
    accumulator = function([inc], state, updates=[(state, state + inc)])
    assert accumulator(1) == 0
    assert state.get_value() == 1
    assert accumulator(300) == 1
    assert state.get_value() == 301
    state.set_value(-1)
    accumulator(3)
    assert state.get_value() == 2
    decrementor = function([inc], state, updates=[(state, state - inc)])
    decrementor(2)
    assert state.get_value() == 0


def test_updates_as_ordered_dict():
    from collections import OrderedDict
    s = shared(np.zeros(2), name='s')
    f = function([], [], updates=OrderedDict([(s, s + 1)]))
    f(); f()
    np.testing.assert_array_equal(s.get_value(), [2, 2])


def test_givens_replace_input_by_shared_minibatch():
    data = shared(np.arange(12.0).reshape(6, 2), name='data')
    x = T.dmatrix('x')
    index = T.lscalar('index')
    batch = 2
    f = function([index], x.sum(axis=0), givens=[(x, data[index * batch:(index + 1) * batch])])
    np.testing.assert_array_equal(f(1), [4 + 6, 5 + 7])
    np.testing.assert_array_equal(f(2), [8 + 10, 9 + 11])


def test_givens_as_dict_and_replacing_a_shared_variable():
    w = shared(np.ones(3), name='w')
    x = T.dvector('x')
    f = function([x], (w * 2).sum(), givens={w: x})
    assert f(np.array([1.0, 2.0, 3.0])) == 12.0


def test_clone_replace_substitutes_before_compiling():
    from nnframe import clone_replace
    x, y = T.dvectors('x', 'y')
    z = (x ** 2).sum()
    z_of_y = clone_replace(z, {x: y * 3})
    pair = clone_replace([z, x + 1], [(x, y)])
    assert function([y], z_of_y)(np.array([1.0, 2.0])) == 45.0
    assert isinstance(pair, list) and function([y], pair[1])(np.array([1.0]))[0] == 2.0
    assert function([x], z)(np.array([1.0, 2.0])) == 5.0          # the original is unchanged
    with pytest.raises(TypeError, match="number of dimensions differs"):
        clone_replace(z, {x: T.dmatrix('m')})


def test_in_defaults_and_keyword_calls():
    x, y, w = T.dscalars('x', 'y', 'w')
    f = function([x, In(y, value=1), In(w, value=2, name='w_by_name')], (x + y) * w)
    assert f(33) == 68
    assert f(33, 2) == 70
    assert f(33, 0, 1) == 33
    assert f(33, w_by_name=1) == 34
    assert f(x=1, y=2, w_by_name=3) == 9
    with pytest.raises(TypeError, match="unknown keyword argument 'w'"):
        f(33, w=1)
    with pytest.raises(TypeError, match="twice"):
        f(33, x=1)
    with pytest.raises(TypeError, match="missing input 0"):
        f()
    with pytest.raises(TypeError, match="takes 3 input"):
        f(1, 2, 3, 4)


def test_wrong_dtype_names_input_and_both_types():
    x = T.fvector('x')
    f = function([x], x * 2)
    with pytest.raises(TypeError) as err:
        f(np.ones(3, dtype='float64'))
    msg = str(err.value)
    assert "'x'" in msg or "(x)" in msg
    assert "float64" in msg and "TensorType(float32, vector)" in msg
    assert "allow_input_downcast" in msg


def test_allow_input_downcast():
    x = T.fvector('x')
    f = function([x], x * 2, allow_input_downcast=True)
    out = f(np.ones(3, dtype='float64'))
    assert out.dtype == np.float32


def test_python_values_are_accepted_when_nothing_is_lost():
    x = T.fvector('x')
    f = function([x], x * 2)
    np.testing.assert_array_equal(f([1, 2, 3]), [2, 4, 6])
    np.testing.assert_allclose(f([0.1, 0.2]), [0.2, 0.4], rtol=1e-6)  # Python floats -> floatX
    i = T.ivector('i')
    g = function([i], i + 1)
    with pytest.raises(TypeError, match="int32"):
        g([1.5])


def test_safe_upcasts_are_accepted():
    x = T.dvector('x')
    f = function([x], x * 2)
    assert f(np.ones(2, dtype='float32')).dtype == np.float64
    assert f(np.ones(2, dtype='int32')).dtype == np.float64


def test_wrong_ndim_names_input_and_type():
    x = T.dmatrix('x')
    f = function([x], x.sum())
    with pytest.raises(TypeError, match=r"input 0 \(x\).*1 dimension.*TensorType\(float64, matrix\) expects 2"):
        f(np.ones(3))


def test_static_length_one_is_checked():
    r = T.drow('r')
    f = function([r], r * 2)
    with pytest.raises(TypeError, match="length 1 on axis 0"):
        f(np.ones((2, 3)))


def test_missing_input_names_the_variable():
    x, y = T.dscalars('x', 'y')
    with pytest.raises(MissingInputError, match=r"'?y'? \(TensorType\(float64, scalar\)\)|needs the variable y"):
        function([x], x + y)


def test_unused_input():
    x, y = T.dscalars('x', 'y')
    with pytest.raises(UnusedInputError, match=r"y.*not used"):
        function([x, y], x * 2)
    with pytest.warns(UserWarning, match="not used"):
        function([x, y], x * 2, on_unused_input='warn')
    f = function([x, y], x * 2, on_unused_input='ignore')
    assert f(1, 2) == 2


def test_update_type_mismatch_names_shared_and_both_types():
    w = shared(np.zeros(3, dtype='float32'), name='W')
    with pytest.raises(TypeError) as err:
        function([], [], updates=[(w, w * np.float64(2.0) + T.dvector('d').sum())],
                 on_unused_input='ignore')
    msg = str(err.value)
    assert "W" in msg and "float32" in msg and "float64" in msg and "astype('float32')" in msg


def test_update_with_other_dimensions_says_so():
    w = shared(np.zeros((2, 2)), name='W')
    with pytest.raises(TypeError, match=r"W has type TensorType\(float64, matrix\) but the "
                       r"expression has type TensorType\(float64, vector\): 1 dimension\(s\) "
                       r"instead of 2"):
        function([], [], updates=[(w, w.sum(axis=0))])


def test_update_of_non_shared_is_refused():
    x = T.dvector('x')
    with pytest.raises(TypeError, match="not a shared variable"):
        function([x], x, updates=[(x, x + 1)])


def test_givens_type_mismatch_names_variable_and_both_types():
    x = T.fvector('x')
    with pytest.raises(TypeError) as err:
        function([], x * 2, givens=[(x, shared(np.ones(3)))])
    msg = str(err.value)
    assert "x" in msg and "float32" in msg and "float64" in msg


def test_shared_variable_cannot_be_an_explicit_input():
    w = shared(np.ones(2), name='w')
    with pytest.raises(TypeError, match="shared variable"):
        function([w], w * 2)


def test_outputs_never_alias_inputs_or_shared_storage():
    x = T.dvector('x')
    w = shared(np.ones(3), name='w')
    f = function([x], [x, w, x.T, w * 1])
    value = np.array([1.0, 2.0, 3.0])
    out = f(value)
    out[0][0] = 100.0
    out[1][0] = 100.0
    out[2][1] = 100.0
    assert value[0] == 1.0 and value[1] == 2.0
    assert w.get_value()[0] == 1.0


def test_update_from_input_does_not_alias_callers_array():
    s = shared(np.zeros(2), name='s')
    x = T.dvector('x')
    f = function([x], [], updates=[(s, x)])
    value = np.array([1.0, 2.0])
    f(value)
    value[0] = 50
    assert s.get_value()[0] == 1.0


def test_runtime_error_names_node_and_creation_line():
    a, b = T.dmatrices('a', 'b')
    f = function([a, b], T.dot(a, b))
    with pytest.raises(ValueError) as err:
        f(np.ones((2, 3)), np.ones((4, 2)))
    msg = str(err.value)
    assert "Dot" in msg and "(2, 3)" in msg and "(4, 2)" in msg and "test_function.py" in msg


def test_debug_mode_names_the_node_that_produced_nan():
    x = T.dvector('x')
    y = T.log(x)
    f = function([x], y * 2, mode='debug')
    np.testing.assert_allclose(f(np.array([1.0, np.e])), [0, 2])
    with pytest.raises(DebugModeError, match=r"log.*contains NaN|NaN.*log"):
        f(np.array([-1.0, 1.0]))


def test_debug_mode_checks_inferred_shapes():
    x = T.dmatrix('x')
    f = function([x], [x.T.sum(axis=0), T.concatenate([x, x], axis=1), x.reshape((-1,))],
                 mode='debug')
    out = f(np.ones((2, 3)))
    assert [o.shape for o in out] == [(2,), (2, 6), (6,)]


def test_debug_mode_catches_a_kernel_that_breaks_its_type(monkeypatch):
    from nnframe.backends.numpy import registry
    from nnframe.core.ops.elemwise import Elemwise
    original = registry.KERNELS[Elemwise]

    def wrong_dtype(node):
        k = original(node)
        return lambda *a: k(*a).astype('float32')
    monkeypatch.setitem(registry.KERNELS, Elemwise, wrong_dtype)
    x = T.dvector('x')
    f = function([x], x + 1, mode='debug')
    with pytest.raises(DebugModeError, match="dtype float32"):
        f(np.ones(2))


def test_on_nan_flag(monkeypatch):
    from nnframe import config
    x = T.dvector('x')
    with config.change_flags(on_nan='raise'):
        f = function([x], T.log(x))
    with pytest.raises(FloatingPointError, match="output 0"):
        f(np.array([-1.0]))


def test_trust_input_skips_conversion():
    x = T.dvector('x')
    f = function([x], x + 1, trust_input=True)
    np.testing.assert_array_equal(f(np.ones(2)), [2, 2])


def test_theano_mode_names_are_accepted():
    x = T.dvector('x')
    for name, rewrites, debug in [("FAST_RUN", True, False), ("FAST_COMPILE", False, False),
                                  ("DebugMode", False, True)]:
        f = function([x], T.exp(x) * 2 + 1, mode=name)
        assert (f.maker.mode.rewrite, f.maker.mode.debug) == (rewrites, debug)
        np.testing.assert_allclose(f(np.zeros(2)), 3.0)


def test_unknown_mode():
    x = T.dscalar()
    with pytest.raises(ValueError, match="unknown mode"):
        function([x], x, mode='fast')


def test_profile_records_nodes():
    x = T.dmatrix('x')
    f = function([x], T.tanh(T.dot(x, x)).sum(), profile=True)
    f(np.ones((4, 4)))
    f(np.ones((4, 4)))
    assert f.profile.calls == 2
    classes = f.profile.by_op_class()
    assert classes['Dot'][1] == 2 and classes['Elemwise'][1] == 2
    import io
    buf = io.StringIO()
    f.profile.summary(file=buf)
    assert "Dot" in buf.getvalue()


def test_eval_on_variables():
    x = T.dscalar('x')
    assert (x * 3).eval({x: 2.0}) == 6.0
    assert T.constant(4.0).eval() == 4.0



def test_debug_mode_with_rewrites_accepts_in_place_nodes():
    """With the rewrites on, in-place nodes overwrite (and return) their destroyed input:
    the debug checks must not call that a bug."""
    from nnframe.core.mode import Mode
    x = T.fmatrix("x")
    W = shared(np.arange(12, dtype="float32").reshape(4, 3) / 12, name="W")
    cost = T.tanh(T.dot(x, W)).sum()
    f = function([x], cost, updates=[(W, W - 0.1 * T.grad(cost, W))],
                 mode=Mode("numpy", debug=True))
    assert any(getattr(n.op, "destroy_map", None) for n in f.maker.fgraph.toposort())
    ones = np.ones((2, 4), "float32")
    expected = function([x], cost, mode="numpy")(ones)    # the cost before the update
    first = f(ones)
    assert np.isclose(first, expected, rtol=1e-6)
    assert f(ones) < first                                # and the update was applied
