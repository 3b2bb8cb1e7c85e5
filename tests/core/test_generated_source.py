"""User text (variable and layer names) never becomes code in generated source.

The linker writes the compiled step as Python with a comment per node; a name
holding a line break Python honours (``\\r`` too) used to end the comment and
run the rest of the name as code.
"""
import os

import numpy as np
import pytest

import nnframe.tensor as T
from nnframe import function, shared

EVIL = [
    'W\r    open("PWNED", "w")  #',
    'W\n    open("PWNED", "w")  #',
    'W\r\n    open("PWNED", "w")  #',
    'W\x0b    open("PWNED", "w")  #',
    'W\x0c    open("PWNED", "w")  #',
    'W\u2028    open("PWNED", "w")  #',
    'W\x85    open("PWNED", "w")  #',
    "W' + open('PWNED', 'w') + '",
    'W" + open("PWNED", "w") + "',
    "W */ open(\"PWNED\", \"w\") /*",
    "W\x00    open('PWNED', 'w')",
]


@pytest.mark.parametrize("name", EVIL, ids=[ascii(n) for n in EVIL])
def test_names_cannot_break_out_of_the_generated_python(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x = T.fvector("x" + name)
    W = shared(np.ones(3, dtype="float32"), name=name)
    f = function([x], (x * W).sum(), updates=[(W, W * 0.5)], mode="numpy")
    assert float(f(np.arange(3, dtype="float32"))) == 3.0
    np.testing.assert_array_equal(W.get_value(), [0.5, 0.5, 0.5])
    assert os.listdir(tmp_path) == []
    source = f.maker.linked.source
    assert source.isascii()
    for line in source.splitlines():
        assert line.isprintable(), line
        if "open(" in line:   # the name, escaped, inside the node's comment
            assert line.index("#") < line.index("open("), line


def test_node_descriptions_stay_readable():
    x = T.fvector("x")
    W = shared(np.ones(3, dtype="float32"), name="enc1/W")
    f = function([x], x * W, mode="numpy")
    assert "enc1/W" in f.maker.linked.source
