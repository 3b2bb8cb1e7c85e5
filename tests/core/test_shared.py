"""Shared variables: Theano's borrow semantics, dtype stability, clear errors."""
import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import config, function, shared


def test_borrow_true_aliases_and_borrow_false_copies():
    # The seed's example: mutating an aliased array is seen with borrow=True only.
    a = np.ones(3)
    s_alias = shared(a, borrow=True)
    s_copy = shared(a, borrow=False)
    f = function([], [s_alias * 1, s_copy * 1])
    a[0] = 10.0
    seen_alias, seen_copy = f()
    assert seen_alias[0] == 10.0
    assert seen_copy[0] == 1.0


def test_get_value_copies_unless_borrow():
    s = shared(np.zeros(2))
    v = s.get_value()
    v[0] = 5
    assert s.get_value()[0] == 0
    inner = s.get_value(borrow=True)
    inner[0] = 7
    assert s.get_value()[0] == 7


def test_set_value_copies_unless_borrow():
    s = shared(np.zeros(2))
    new = np.ones(2)
    s.set_value(new)
    new[0] = 9
    assert s.get_value()[0] == 1
    s.set_value(new, borrow=True)
    new[1] = 4
    assert s.get_value()[1] == 4


def test_dtype_follows_the_value_and_never_changes():
    assert shared(np.zeros(2, dtype='float64')).dtype == 'float64'
    assert shared(np.zeros(2, dtype='int8')).dtype == 'int8'
    assert shared(1.5).dtype == config.floatX
    assert shared([1.0, 2.0]).dtype == config.floatX
    assert shared(3).dtype == 'int64'
    s = shared(np.zeros(2, dtype='float32'), name='W')
    s.set_value(np.ones(2, dtype='float16'))       # safe upcast: stored as float32
    assert s.get_value().dtype == np.float32
    s.set_value([1.5, 2.5])                         # Python floats become float32
    assert s.get_value().dtype == np.float32


def test_set_value_refuses_lossy_values_with_a_fix():
    s = shared(np.zeros(2, dtype='float32'), name='W')
    with pytest.raises(TypeError) as err:
        s.set_value(np.ones(2, dtype='float64'))
    msg = str(err.value)
    assert "W" in msg and "float64" in msg and "astype('float32')" in msg
    i = shared(np.zeros(2, dtype='int32'), name='counts')
    with pytest.raises(TypeError, match="counts"):
        i.set_value(np.array([0.5, 1.5]))


def test_set_value_refuses_wrong_ndim_and_static_shape():
    s = shared(np.zeros((2, 2)), name='M')
    with pytest.raises(TypeError, match=r"M.*1 dimension"):
        s.set_value(np.zeros(4))
    s.set_value(np.zeros((3, 5)))                   # lengths are free by default
    fixed = shared(np.zeros((1, 3)), name='row', shape=(1, None))
    with pytest.raises(TypeError, match="length 1 on axis 0"):
        fixed.set_value(np.zeros((2, 3)))


def test_non_numeric_value_is_refused():
    with pytest.raises(TypeError, match="numeric"):
        shared("hello")


def test_set_value_is_seen_by_compiled_functions():
    s = shared(np.array(1.0))
    f = function([], s * 2)
    s.set_value(np.array(5.0))
    assert f() == 10.0


def test_shared_with_static_broadcastable_shape_works_in_graphs():
    b = shared(np.zeros((1, 3)), name='b', shape=(1, None))
    x = T.dmatrix('x')
    out = function([x], x + b)(np.ones((4, 3)))
    assert out.shape == (4, 3)
