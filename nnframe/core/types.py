"""Tensor types: a dtype and a static shape (None = unknown, 1 = broadcastable).

``TensorType('float32', (None, 1))`` is a column of float32.  A type checks
and converts values handed to a compiled function (:meth:`TensorType.filter`)
and builds the Variables of that type.

>>> t = TensorType('float64', (None,))
>>> t.filter([1.0, 2.0])
array([1., 2.])
"""
import numpy as np

__all__ = ["TensorType", "upcast", "upgrade_to_float", "is_float", "is_complex",
           "is_discrete", "real_dtype", "ALL_DTYPES"]

ALL_DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
              "uint64", "float16", "float32", "float64", "complex64", "complex128")

_KIND_NAMES = {0: "scalar", 1: "vector", 2: "matrix", 3: "tensor3", 4: "tensor4", 5: "tensor5"}


def is_float(dtype):
    return np.dtype(dtype).kind == "f"


def is_complex(dtype):
    return np.dtype(dtype).kind == "c"


def is_discrete(dtype):
    """Bools and integers: values with no gradient."""
    return np.dtype(dtype).kind in "biu"


def upcast(*dtypes):
    """The NumPy 2 result dtype of combining arrays of ``dtypes``."""
    return str(np.result_type(*dtypes))


def upgrade_to_float(dtype):
    """Theano's rule for ops that need a float: small ints -> float32, others float64."""
    dt = np.dtype(dtype)
    if dt.kind in "fc":
        return str(dt)
    if dt.kind == "b" or dt.itemsize <= 2:
        return "float32"
    return "float64"


def real_dtype(dtype):
    """float32 for complex64, float64 for complex128, the dtype itself otherwise."""
    dt = np.dtype(dtype)
    return {"complex64": "float32", "complex128": "float64"}.get(str(dt), str(dt))


class TensorType:
    """The type of a symbolic tensor: ``dtype`` and static ``shape``.

    A ``shape`` entry is None (any length) or an int (that exact length).
    Dimensions of static length 1 are *broadcastable*: they may be broadcast
    against any length in elementwise ops.
    """

    __slots__ = ("dtype", "shape", "_hash")

    def __init__(self, dtype, shape=()):
        dtype = str(np.dtype(dtype))
        if dtype not in ALL_DTYPES:
            raise TypeError(f"unsupported dtype {dtype!r}; use one of {', '.join(ALL_DTYPES)}")
        shape = tuple(None if s is None else int(s) for s in shape)
        if any(s is not None and s < 0 for s in shape):
            raise ValueError(f"static shape {shape} has a negative length")
        self.dtype = dtype
        self.shape = shape
        self._hash = hash((dtype, shape))

    @classmethod
    def from_broadcastable(cls, dtype, broadcastable):
        return cls(dtype, tuple(1 if b else None for b in broadcastable))

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def broadcastable(self):
        return tuple(s == 1 for s in self.shape)

    def clone(self, dtype=None, shape=None):
        return TensorType(self.dtype if dtype is None else dtype,
                          self.shape if shape is None else shape)

    def make_variable(self, owner=None, index=None, name=None):
        from nnframe.core.variable import TensorVariable
        return TensorVariable(self, owner=owner, index=index, name=name)

    def __call__(self, name=None):
        """A new leaf Variable of this type: ``T.fmatrix()`` is ``TensorType('float32', (None, None))()``."""
        var = self.make_variable(name=name)
        from nnframe.config import config
        if self.dtype == "float64" and config.warn_float64 != "ignore":
            _warn_float64(var)
        return var

    def __eq__(self, other):
        return (type(other) is TensorType and self.dtype == other.dtype
                and self.shape == other.shape)

    def __hash__(self):
        return self._hash

    def is_super(self, other):
        """True if every value of type ``other`` is also a value of this type."""
        return (self.dtype == other.dtype and self.ndim == other.ndim
                and all(s is None or s == o for s, o in zip(self.shape, other.shape)))

    def __repr__(self):
        kind = _KIND_NAMES.get(self.ndim, f"tensor{self.ndim}")
        if self.shape and any(s is not None for s in self.shape):
            shape = ", ".join("?" if s is None else str(s) for s in self.shape)
            return f"TensorType({self.dtype}, shape=({shape}{',' if self.ndim == 1 else ''}))"
        return f"TensorType({self.dtype}, {kind})"

    __str__ = __repr__

    # -- values -----------------------------------------------------------
    def filter(self, data, strict=False, allow_downcast=None, what="value", hint=None):
        """Return ``data`` as an ndarray of this type, or raise TypeError.

        - an ndarray of the exact dtype passes as is (no copy);
        - a cast that loses nothing (``np.can_cast(..., 'safe')``) is done;
        - Python scalars and lists are converted when no value changes, and
          Python floats may always become ``floatX`` floats (as in Theano);
        - other downcasts need ``allow_downcast=True``.
        ``what`` names the value in error messages ("input 'x'") and ``hint``
        says how to fix a lossy value.
        """
        if type(data) is np.ndarray and data.dtype.name == self.dtype:
            arr = data
        elif strict:
            got = getattr(data, "dtype", type(data).__name__)
            raise TypeError(f"{what} must be a numpy array of dtype {self.dtype} for {self} "
                            f"(strict), got {got}")
        else:
            arr = self._convert(data, allow_downcast, what, hint)
        if arr.ndim != self.ndim:
            raise TypeError(f"{what} has {arr.ndim} dimension(s) (shape {arr.shape}) but "
                            f"{self} expects {self.ndim}")
        for axis, (want, got) in enumerate(zip(self.shape, arr.shape)):
            if want is not None and want != got:
                raise TypeError(f"{what} has shape {arr.shape}, but {self} requires length "
                                f"{want} on axis {axis}")
        return arr

    def _convert(self, data, allow_downcast, what, hint):
        target = np.dtype(self.dtype)
        is_python = not isinstance(data, (np.ndarray, np.generic))
        try:
            source = np.asarray(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{what} cannot be converted to an array for {self}: {exc}") from None
        if source.dtype.kind not in "biufc":
            raise TypeError(f"{what} is not a numeric array (got {type(data).__name__} of "
                            f"{source.dtype}) for {self}")
        if np.can_cast(source.dtype, target, "safe") or allow_downcast:
            return source.astype(target)
        if is_python:
            from nnframe.config import config
            if source.dtype.kind == "f" and target.kind == "f" and self.dtype == config.floatX:
                return source.astype(target)
            converted = source.astype(target)
            with np.errstate(invalid="ignore"):
                if np.array_equal(converted.astype(source.dtype), source):
                    return converted
        fix = hint or f"convert it with .astype({self.dtype!r})"
        if source.dtype.kind == "f" and target.kind == "f" and (
                hint is None or "allow_input_downcast" in hint):
            # float64 data for a float32 input: the two fixes Theano users know
            if "allow_input_downcast" not in fix:
                fix += ", or pass allow_input_downcast=True to function()"
            fix += (f"; or, to compute in {source.dtype}, build the graph with "
                    f"config.floatX = {source.dtype.name!r} (NNFRAME_FLAGS=floatX="
                    f"{source.dtype.name}) or a {source.dtype.name} input")
        raise TypeError(f"{what} has dtype {source.dtype}, which cannot be cast to {self} "
                        f"without loss; {fix}")

    def value_zeros(self, shape):
        return np.zeros(shape, dtype=self.dtype)


def _warn_float64(var):
    from nnframe.config import config
    msg = (f"a float64 variable {var!r} was created while warn_float64={config.warn_float64!r}; "
           "use float32 types or set config.floatX")
    if config.warn_float64 == "raise":
        raise TypeError(msg)
    import warnings
    warnings.warn(msg, stacklevel=3)
