"""The NumPy backend's table from Op class to kernel factory.

A kernel factory takes an Apply node (whose Op and types are fixed at
compile time) and returns a plain function from input arrays to the output
array (or a tuple of arrays for several outputs).  Everything that does not
depend on the values is decided once, in the factory, not per call.

>>> import numpy as np
>>> from nnframe.core.ops.grad_ops import ZeroGrad
>>> kernel_for(ZeroGrad()(np.ones(2)).owner)(np.ones(2))
array([1., 1.])

A new Op's kernel is registered with ``@register(MyOp)`` on a factory
``def my_op_kernel(node): return lambda x: x * 2``.
"""

from nnframe.backends.dispatch import KernelTable

__all__ = ["register", "kernel_for", "KERNELS"]

_TABLE = KernelTable()

#: Op class -> kernel factory (the table's dict: tests may patch entries)
KERNELS = _TABLE.kernels

#: Decorator: ``@register(OpClass, ...)`` on a factory ``node -> kernel``
register = _TABLE.register


def kernel_for(node):
    """The kernel running ``node`` on NumPy arrays."""
    factory = _TABLE.lookup(node.op)
    if factory is not None:
        return factory(node)
    raise NotImplementedError(f"the numpy backend has no kernel for {type(node.op).__name__} "
                              f"(node {node})")
