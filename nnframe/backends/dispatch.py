"""The table from Op class to kernel factory that every backend keeps.

A backend makes one :class:`KernelTable`; its kernel modules decorate their
factories with the table's :meth:`~KernelTable.register`, and the backend
finds the factory of a node's Op with :meth:`~KernelTable.lookup`.  What a
factory takes and returns is the backend's business (the NumPy backend's
take a node, the OpenCL backend's a node and a program builder); the table
only maps classes to factories.

>>> table = KernelTable()
>>> class Base: pass
>>> class Derived(Base): pass
>>> @table.register(Base)
... def base_kernel(node): return "base"
>>> table.lookup(Derived()) is base_kernel
True
"""
from collections.abc import Callable
from typing import Any

__all__ = ["KernelTable", "KernelFactory"]

#: What a backend registers per Op class: ``factory(node, ...) -> run`` (the NumPy
#: backend's take the node, the OpenCL backend's the node and a program builder, and
#: ``run`` maps the node's input values to its outputs).
KernelFactory = Callable[..., Any]


class KernelTable:
    """Op class -> kernel factory, looked up through the Op class's MRO.

    ``kernels`` is the plain dict behind the table: tests replace entries in
    it (``monkeypatch.setitem``), and backends export it as ``KERNELS``.
    """

    def __init__(self) -> None:
        self.kernels: dict[type, KernelFactory] = {}

    def register(self, *op_classes: type) -> Callable[[KernelFactory], KernelFactory]:
        """Decorator: the decorated factory makes the kernels of ``op_classes``."""
        def deco(factory: KernelFactory) -> KernelFactory:
            for cls in op_classes:
                self.kernels[cls] = factory
            return factory
        return deco

    def lookup(self, op: object) -> KernelFactory | None:
        """The factory registered for ``op``'s class or its nearest base class, else None.

        Walking the MRO lets a subclass of an Op run on its parent's kernel
        until it registers one of its own.
        """
        for cls in type(op).__mro__:
            factory = self.kernels.get(cls)
            if factory is not None:
                return factory
        return None
