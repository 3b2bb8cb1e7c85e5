"""Tensor Variables: the Python operators and NumPy-like methods users call.

``x + y``, ``x[1:]``, ``x.sum(axis=0)``, ``x.T`` and friends build graph
nodes; the functions they call live in ``nnframe.tensor``.  ``==`` compares
Variables by identity, as in Theano; use ``T.eq`` for elementwise equality.
"""
import numpy as np

from nnframe.core.graph import Constant, Variable
from nnframe.core.types import TensorType

__all__ = ["TensorVariable", "TensorConstant", "constant"]


def _T():
    import nnframe.tensor as T
    return T


class TensorVariable(Variable):
    """A symbolic tensor; see :class:`~nnframe.core.types.TensorType`."""

    # -- type information -------------------------------------------------
    @property
    def ndim(self):
        return self.type.ndim

    @property
    def dtype(self):
        return self.type.dtype

    @property
    def broadcastable(self):
        return self.type.broadcastable

    @property
    def shape(self):
        return _T().shape(self)

    @property
    def size(self):
        return _T().prod(self.shape)

    @property
    def T(self):
        return _T().transpose(self)

    # -- arithmetic -------------------------------------------------------
    def __add__(self, other): return _T().add(self, other)
    def __radd__(self, other): return _T().add(other, self)
    def __sub__(self, other): return _T().sub(self, other)
    def __rsub__(self, other): return _T().sub(other, self)
    def __mul__(self, other): return _T().mul(self, other)
    def __rmul__(self, other): return _T().mul(other, self)
    def __truediv__(self, other): return _T().true_div(self, other)
    def __rtruediv__(self, other): return _T().true_div(other, self)
    def __floordiv__(self, other): return _T().int_div(self, other)
    def __rfloordiv__(self, other): return _T().int_div(other, self)
    def __mod__(self, other): return _T().mod(self, other)
    def __rmod__(self, other): return _T().mod(other, self)
    def __pow__(self, other): return _T().pow(self, other)
    def __rpow__(self, other): return _T().pow(other, self)
    def __matmul__(self, other): return _T().dot(self, other)
    def __rmatmul__(self, other): return _T().dot(other, self)
    def __neg__(self): return _T().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _T().abs(self)
    def __invert__(self): return _T().invert(self)
    def __and__(self, other): return _T().and_(self, other)
    def __rand__(self, other): return _T().and_(other, self)
    def __or__(self, other): return _T().or_(self, other)
    def __ror__(self, other): return _T().or_(other, self)
    def __xor__(self, other): return _T().xor(self, other)
    def __rxor__(self, other): return _T().xor(other, self)
    def __lt__(self, other): return _T().lt(self, other)
    def __le__(self, other): return _T().le(self, other)
    def __gt__(self, other): return _T().gt(self, other)
    def __ge__(self, other): return _T().ge(self, other)

    # Variables stand for values not known yet: length and iteration have no
    # answer.  Without __iter__, Python would iterate forever through __getitem__.
    # Truth follows Theano 1.0: a variable is an object, so ``if W:`` and
    # ``lr = lr or 0.01`` work as in Python, but a bool-dtype result (a comparison
    # such as ``x > 0``, ``a < b < c``, a logical op) has a truth value that only
    # the data decides, and refuses.
    def __bool__(self):
        if getattr(self, "dtype", None) == "bool":
            raise TypeError(f"the truth value of symbolic variable {self!r} is unknown until "
                            "the function runs; use T.switch(cond, a, b) or T.ifelse instead "
                            "of if/and/or/chained comparisons")
        return True

    def __len__(self):
        raise TypeError(f"len() of symbolic variable {self!r} is unknown; use x.shape[0]")

    def __iter__(self):
        raise TypeError(f"symbolic variable {self!r} cannot be iterated; index it explicitly")

    def __getitem__(self, index):
        return _T().subtensor(self, index)

    # -- NumPy-like methods -----------------------------------------------
    # The reductions take Theano's parameters in Theano's order (see nnframe.core.ops.reduce).
    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _T().sum(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _T().prod(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _T().mean(self, axis=axis, dtype=dtype, keepdims=keepdims, acc_dtype=acc_dtype)

    def cumsum(self, axis=None):
        return _T().cumsum(self, axis=axis)

    def cumprod(self, axis=None):
        return _T().cumprod(self, axis=axis)

    def var(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _T().var(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def std(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _T().std(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def max(self, axis=None, keepdims=False):
        return _T().max(self, axis=axis, keepdims=keepdims)

    def min(self, axis=None, keepdims=False):
        return _T().min(self, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=False):
        return _T().argmax(self, axis=axis, keepdims=keepdims)

    def argmin(self, axis=None, keepdims=False):
        return _T().argmin(self, axis=axis, keepdims=keepdims)

    def any(self, axis=None, keepdims=False):
        return _T().any(self, axis=axis, keepdims=keepdims)

    def all(self, axis=None, keepdims=False):
        return _T().all(self, axis=axis, keepdims=keepdims)

    def dot(self, other):
        return _T().dot(self, other)

    def reshape(self, *shape, ndim=None):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return _T().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=1):
        return _T().flatten(self, ndim)

    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = pattern[0]
        return _T().dimshuffle(self, pattern)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = axes[0]
        return _T().transpose(self, axes or None)

    def astype(self, dtype):
        return _T().cast(self, dtype)

    def clip(self, a_min, a_max):
        return _T().clip(self, a_min, a_max)

    def copy(self, name=None):
        out = _T().tensor_copy(self)
        out.name = name
        return out

    def zeros_like(self, dtype=None):
        return _T().zeros_like(self, dtype=dtype)

    def ones_like(self, dtype=None):
        return _T().ones_like(self, dtype=dtype)

    def squeeze(self, axis=None):
        return _T().squeeze(self, axis=axis)

    def round(self, mode=None):
        return _T().round(self, mode=mode)

    def conj(self):
        return _T().conj(self)

    @property
    def real(self):
        return _T().real(self)

    @property
    def imag(self):
        return _T().imag(self)

    def eval(self, inputs_to_values=None):
        """Compile and run this variable: ``z.eval({x: 2.0, y: 3.0})``.

        Compiled functions are cached on the variable per set of inputs.
        """
        from nnframe.core.function import function
        inputs_to_values = inputs_to_values or {}
        inputs = list(inputs_to_values)
        key = tuple(id(v) for v in inputs)
        cache = self.tag.setdefault("eval_cache", {})
        if key not in cache:
            cache[key] = function(inputs, self)
        return cache[key](*[inputs_to_values[v] for v in inputs])


class TensorConstant(TensorVariable, Constant):
    """A tensor whose value is fixed when the graph is built.

    ``weak`` constants come from Python scalars: elementwise ops give them the
    dtype of the tensors they meet, following NumPy 2 (NEP 50).
    """

    def __init__(self, type, data, name=None, weak=False):
        Constant.__init__(self, type, data, name=name)
        self.weak = weak
        #: the Python scalar a weak constant came from, at full precision
        #: (``data`` holds it rounded to the default dtype, e.g. float32)
        self.py_value = None

    def clone(self):
        c = TensorConstant(self.type, self.data, name=self.name, weak=self.weak)
        c.py_value = self.py_value
        return c

    def signature(self):
        return Constant.signature(self) + (self.weak,)


def _python_scalar_dtype(value):
    from nnframe.config import config
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return config.floatX
    return "complex64" if config.floatX == "float32" else "complex128"


def constant(value, name=None, dtype=None, shape=None):
    """A TensorConstant holding ``value``.

    Python scalars without an explicit dtype are *weak* (see
    :class:`TensorConstant`); Python floats and lists of floats otherwise
    take ``config.floatX``.

    >>> constant(2.0).dtype
    'float32'
    """
    if isinstance(value, (bool, int, float, complex)) and not isinstance(value, np.generic):
        weak = dtype is None
        dtype = dtype or _python_scalar_dtype(value)
        try:
            data = np.asarray(value, dtype=dtype)
        except OverflowError:
            raise TypeError(f"Python value {value!r} does not fit in dtype {dtype}") from None
        const = TensorConstant(TensorType(dtype, ()), data, name=name, weak=weak)
        if weak:
            const.py_value = value
        return const
    if isinstance(value, Variable):
        raise TypeError(f"constant() got the symbolic variable {value!r}; it is already a Variable")
    # Copy: the constant must not change when the caller's array does, and it
    # is frozen below (which must not freeze the caller's array).
    data = np.array(value)
    if data.dtype == object:
        raise TypeError(f"cannot make a constant of {type(value).__name__} value {value!r}")
    if dtype is None and not isinstance(value, (np.ndarray, np.generic)) and data.dtype.kind == "f":
        from nnframe.config import config
        dtype = config.floatX
    if dtype is not None:
        data = data.astype(dtype)
    # A constant's lengths are all known: its type says so (as in PyTensor).
    static = data.shape if shape is None else shape
    data.setflags(write=False)
    return TensorConstant(TensorType(data.dtype, static), data, name=name)
