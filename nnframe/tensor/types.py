"""Constructors of symbolic tensors: ``T.fmatrix('x')``, ``T.dscalars('a', 'b')``...

Prefixes give the dtype: b int8, w int16, i int32, l int64, f float32,
d float64, c complex64, z complex128; no prefix means ``config.floatX``.
Kinds give the static shape: scalar (), vector (n,), row (1, n), col (n, 1),
matrix, tensor3, tensor4, tensor5.

>>> import nnframe.tensor as T
>>> T.frow('r').type
TensorType(float32, shape=(1, ?))
>>> a, b = T.lscalars('a', 'b')
"""
from nnframe.config import config
from nnframe.core.types import TensorType

PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
            "d": "float64", "c": "complex64", "z": "complex128"}
KINDS = {"scalar": (), "vector": (None,), "row": (1, None), "col": (None, 1),
         "matrix": (None, None), "tensor3": (None,) * 3, "tensor4": (None,) * 4,
         "tensor5": (None,) * 5}
PLURALS = {"scalar": "scalars", "vector": "vectors", "row": "rows", "col": "cols",
           "matrix": "matrices", "tensor3": "tensor3s", "tensor4": "tensor4s",
           "tensor5": "tensor5s"}

__all__ = ["tensor", "TensorType"]


def tensor(dtype=None, shape=None, name=None, broadcastable=None):
    """A symbolic tensor of ``dtype`` (default floatX) and static ``shape``.

    ``shape`` lists a length or None per axis: ``T.tensor('float32', shape=(None, 1))``
    is a column.  Theano's ``broadcastable=(False, True)`` is accepted too.
    """
    if shape is not None and broadcastable is not None:
        raise TypeError("tensor(): give shape= or broadcastable=, not both")
    if broadcastable is not None:
        shape = tuple(1 if b else None for b in broadcastable)
    if shape is None:
        raise TypeError("tensor(): give the static shape, e.g. shape=(None, None) for a matrix")
    return TensorType(dtype or config.floatX, shape)(name)


def _single(dtype_of, kind):
    shape = KINDS[kind]

    def make(name=None, dtype=None):
        return TensorType(dtype or dtype_of(), shape)(name)
    return make


def _plural(single):
    def make(*names, dtype=None):
        if len(names) == 1 and isinstance(names[0], int):
            names = [None] * names[0]
        variables = [single(n, dtype=dtype) for n in names]
        return variables[0] if len(variables) == 1 else variables
    return make


def _constructors():
    made = {}
    dtype_sources = {"": lambda: config.floatX}
    dtype_sources.update({p: (lambda d=d: d) for p, d in PREFIXES.items()})
    for prefix, dtype_of in dtype_sources.items():
        for kind in KINDS:
            single = _single(dtype_of, kind)
            name = prefix + kind
            dtype_text = "config.floatX" if not prefix else PREFIXES[prefix]
            single.__name__ = name
            single.__doc__ = f"A symbolic {kind} of {dtype_text}: ``{name}(name=None)``."
            plural = _plural(single)
            plural.__name__ = prefix + PLURALS[kind]
            plural.__doc__ = (f"Several symbolic {kind}s of {dtype_text}: "
                              f"``{plural.__name__}('a', 'b')``.")
            made[name] = single
            made[plural.__name__] = plural
    return made


CONSTRUCTORS = _constructors()
globals().update(CONSTRUCTORS)
__all__ += list(CONSTRUCTORS)
