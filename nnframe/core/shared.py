"""Shared variables: symbolic variables that hold a value between calls.

``W = shared(np.zeros((3, 2), 'float32'), name='W')`` can be used in graphs
like any other variable and changed by ``function(..., updates=[(W, ...)])``.
Borrow follows Theano: ``borrow=True`` *may* alias the caller's array (it
does on the NumPy backend); ``borrow=False`` always copies.

>>> import numpy as np
>>> w = shared(np.ones(2), name='w')
>>> w.get_value()
array([1., 1.])
"""
import numpy as np

from nnframe.core.types import TensorType
from nnframe.core.variable import TensorVariable

__all__ = ["SharedVariable", "Container", "shared"]


class Container(list):
    """The one-element list holding a shared variable's value.

    ``exposed`` is True while someone outside nnframe may hold the stored
    array itself (``borrow=True`` in ``shared``, ``set_value`` or
    ``get_value``).  A compiled function that updates the variable in place
    first replaces an exposed array by a private copy, so the caller's array
    is never overwritten.
    """

    def __init__(self, value, exposed=False):
        super().__init__([value])
        self.exposed = exposed


class SharedVariable(TensorVariable):
    """A variable with a value stored in ``container`` (a one-element list).

    Compiled functions read the container directly, so ``set_value`` is seen
    by every function that uses the variable.
    """

    def __init__(self, type, value, name=None, exposed=False):
        super().__init__(type, name=name)
        self.container = Container(value, exposed)
        #: an expression applied as an update whenever a function uses this
        #: variable and lists no update for it (used by random streams only)
        self.default_update = None

    def clone(self):
        # A shared variable is its storage: copies of a graph keep using it.
        return self

    def get_value(self, borrow=False):
        """The current value; a copy unless ``borrow=True``.

        A value living on a device (after a function of a device backend
        updated it) is downloaded: a new host array, whatever ``borrow`` says.
        """
        value = self.container[0]
        if not isinstance(value, np.ndarray):
            return value.get()
        if borrow:
            self.container.exposed = True
            return value
        return value.copy()

    def set_value(self, value, borrow=False):
        """Store ``value``, which must fit this variable's type.

        The dtype never changes: a value that cannot be cast without loss, or
        of another number of dimensions, raises TypeError.  The value is
        copied unless ``borrow=True``.
        """
        what = f"new value for shared variable {self.name or self}"
        filtered = self.type.filter(value, allow_downcast=False, what=what,
                                    hint=f"convert it with .astype({self.type.dtype!r})")
        if filtered is value and not borrow:
            filtered = filtered.copy()
        self.container[0] = filtered
        self.container.exposed = filtered is value

    def __repr__(self):
        return self.name or f"<shared {self.type}>"

    __str__ = __repr__


def _initial_array(value, borrow):
    from nnframe.config import config
    if isinstance(value, np.ndarray):
        return value if borrow else value.copy()
    if isinstance(value, np.generic):
        return np.array(value)
    arr = np.array(value)
    if arr.dtype == object or arr.dtype.kind not in "biufc":
        raise TypeError(f"shared() needs a numeric value, got {type(value).__name__}")
    if arr.dtype.kind == "f":
        arr = arr.astype(config.floatX)
    return arr


def shared(value, name=None, borrow=False, shape=None):
    """A :class:`SharedVariable` holding ``value``.

    NumPy arrays keep their dtype (use ``np.asarray(v, dtype=config.floatX)``
    for floatX); Python floats and lists of floats become ``config.floatX``.
    ``shape`` may declare static lengths (None = any); by default none are
    fixed, so ``set_value`` may change the shape.
    """
    arr = _initial_array(value, borrow)
    static = tuple(shape) if shape is not None else (None,) * arr.ndim
    type_ = TensorType(arr.dtype, static)
    kept = type_.filter(arr, what=f"initial value of shared variable {name or ''}".rstrip())
    return SharedVariable(type_, kept, name=name, exposed=kept is value)
