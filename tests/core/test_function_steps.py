"""function() compiles in steps (arguments, graph, copy plan, link); behaviour at their seams.

Each test pins something that depends on how the steps hand results to one another, so
that a later reshuffle of the steps cannot change it unnoticed.
"""
import warnings

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import Out, function, shared


def test_an_update_error_is_reported_before_a_givens_error():
    # The arguments are checked in the order inputs, outputs, updates, givens.
    x = T.dscalar("x")
    s = shared(np.array(0.0), name="s")
    with pytest.raises(TypeError, match="update of shared variable s"):
        function([x], x, updates=[(s, T.dvector())], givens=[(3, 4)])


def test_an_unused_input_warning_points_at_the_caller():
    x, y = T.dscalars("x", "y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        function([x, y], x, on_unused_input="warn")
    assert [w.filename for w in caught] == [__file__]


def test_a_shared_variable_only_updated_is_still_written():
    # Not a leaf of any output: the graph must still bind its container.
    x = T.dscalar("x")
    s = shared(np.array(0.0), name="s")
    f = function([x], x * 2, updates=[(s, x + 1)])
    assert f(3.0) == 6.0 and s.get_value() == 4.0


def test_updates_are_applied_together():
    a, b = shared(np.arange(3.0), name="a"), shared(np.ones(3), name="b")
    function([], a + b, updates={a: b, b: a})()
    assert a.get_value().tolist() == [1, 1, 1] and b.get_value().tolist() == [0, 1, 2]


def test_a_default_update_that_reads_another_default_update_brings_it_in():
    a, b = shared(np.array(1.0), name="a"), shared(np.array(10.0), name="b")
    b.default_update = b + 1
    a.default_update = a + b  # b is not in the outputs: only a's update reads it
    f = function([], a * 1)
    assert f() == 1.0 and (a.get_value(), b.get_value()) == (11.0, 11.0)
    assert f() == 11.0 and (a.get_value(), b.get_value()) == (22.0, 12.0)


def test_givens_apply_to_default_updates():
    z = T.dscalar("z")
    a = shared(np.array(1.0), name="a")
    a.default_update = a + z
    f = function([], a * 1, givens={z: T.constant(np.array(5.0))})
    f()
    assert a.get_value() == 6.0


def test_the_same_output_twice_gives_two_arrays():
    x = T.dvector("x")
    y = x * 2
    first, second, third = function([x], [y, y, x])(np.ones(2))
    assert not np.shares_memory(first, second)
    first[0] = 7.0
    assert second.tolist() == [2.0, 2.0] and third.tolist() == [1.0, 1.0]


def test_a_borrowed_output_is_not_copied_but_others_are():
    x = T.dvector("x")
    y = x * 2
    f = function([x], [Out(y, borrow=True), y])
    borrowed, copied = f(np.ones(2))
    assert not np.shares_memory(borrowed, copied)


def test_the_compiled_function_keeps_its_maker_and_profile():
    x = T.dvector("x")
    f = function([x], T.exp(x).sum(), profile=True, name="f")
    f(np.zeros(3))
    assert f.maker.fgraph.outputs and f.maker.linked.run is f._run
    assert f.profile.calls == 1 and f.maker.compile_time > 0
