"""The examples in nnframe's docstrings (Lasagne-style) run and show what they print."""
import doctest
import importlib
import importlib.util
import io
import pkgutil

import pytest

import nnframe

MODULES = sorted(["nnframe"] + [m.name for m in pkgutil.walk_packages(nnframe.__path__, "nnframe.")
                                if not m.name.endswith("__main__")])
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def test_every_module_is_collected():
    assert {"nnframe.core.function", "nnframe.layers.dense", "nnframe.optim.updates",
            "nnframe.hashing.retrieval", "nnframe.train.recipe"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name.startswith("nnframe.backends.opencl") and importlib.util.find_spec("pyopencl") is None:
        pytest.skip("pyopencl is not installed: pip install 'nnframe[opencl]'")
    module = importlib.import_module(name)
    report = io.StringIO()
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in doctest.DocTestFinder().find(module, name):
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
