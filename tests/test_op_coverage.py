"""Every Op has its kernels: a NumPy kernel and an OpenCL factory (which may choose the
host fallback, see nnframe/backends/opencl/registry.py).  Adding an Op without them fails
here, naming the Op and the file to add the kernel to (docs/extending.md)."""
import importlib
import pkgutil

import pytest

import nnframe.core.ops as ops_package
from nnframe.backends.numpy.registry import KERNELS as NUMPY_KERNELS
from nnframe.core.op import Op


def _all_ops():
    for info in pkgutil.iter_modules(ops_package.__path__):
        importlib.import_module(f"nnframe.core.ops.{info.name}")
    found, todo = set(), [Op]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found and sub.__module__.startswith("nnframe."):
                found.add(sub)
                todo.append(sub)
    return found


def _concrete(ops):
    """The Ops nothing derives from: those a graph holds (bases like Reduce are not)."""
    return sorted((op for op in ops if not any(issubclass(o, op) and o is not op for o in ops)),
                  key=lambda c: f"{c.__module__}.{c.__name__}")


OPS = _concrete(_all_ops())


def _registered(kernels, op_class):
    return any(cls in kernels for cls in op_class.__mro__)


def test_the_walk_finds_the_ops():
    names = {op.__name__ for op in OPS}
    assert {"Elemwise", "Dot", "Sum", "CumOp", "Conv2d", "RandomNormal"} <= names
    assert "Reduce" not in names and "Op" not in names


@pytest.mark.parametrize("op_class", OPS, ids=lambda c: c.__name__)
def test_every_op_has_a_numpy_kernel(op_class):
    assert _registered(NUMPY_KERNELS, op_class), (
        f"{op_class.__module__}.{op_class.__name__} has no NumPy kernel: register one in "
        "nnframe/backends/numpy/<family>.py with @register")


@pytest.mark.parametrize("op_class", OPS, ids=lambda c: c.__name__)
def test_every_op_has_an_opencl_factory(op_class):
    pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl")
    import nnframe.backends.opencl.kernels  # noqa: F401  (registers the factories)
    from nnframe.backends.opencl.registry import KERNELS as OPENCL_KERNELS
    assert _registered(OPENCL_KERNELS, op_class), (
        f"{op_class.__module__}.{op_class.__name__} has no OpenCL factory: register one in "
        "nnframe/backends/opencl/<family>.py with @register (a factory may return "
        "numpy_kernel's host fallback)")
