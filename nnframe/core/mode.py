"""Modes: which backend runs a function, which rewrites apply, which checks run.

``function(..., mode='native')`` (generated C, see :mod:`nnframe.backends.native`; the
default, unless ``config.device`` says otherwise), ``mode='numpy'`` (the NumPy reference
backend), ``mode='fast_compile'`` (NumPy, no rewrites), ``mode='debug'`` (NumPy, no
rewrites, every node's output checked) or ``mode='opencl'``; Theano's
``'FAST_RUN'``, ``'FAST_COMPILE'`` and ``'DebugMode'`` are accepted too.  A
:class:`Mode` object can also be passed.
"""
from nnframe.config import config

__all__ = ["Mode", "get_mode"]


class Mode:
    """``backend`` name, whether to ``rewrite`` the graph (and which passes to
    ``exclude``, see :mod:`nnframe.core.rewrite`), and ``debug`` checks."""

    def __init__(self, backend="numpy", rewrite=True, debug=False, name=None, exclude=()):
        self.backend = backend
        self.rewrite = rewrite
        self.debug = debug
        self.name = name or backend
        self.exclude = tuple(exclude)

    def get_backend(self):
        if self.backend == "numpy":
            from nnframe.backends.numpy import backend
            return backend
        if self.backend == "native":
            from nnframe.backends import native  # the NumPy backend when no C compiler works
            return native.get_backend()
        if self.backend == "opencl":
            from nnframe.backends import opencl  # imports without pyopencl; errors come later
            return opencl.get_backend()
        raise ValueError(f"unknown backend {self.backend!r}")

    def __repr__(self):
        return f"Mode({self.name!r}, backend={self.backend!r}, rewrite={self.rewrite}, debug={self.debug})"


_NAMED = {
    "numpy": lambda: Mode("numpy", rewrite=config.optimizer != "None"),
    "fast_compile": lambda: Mode("numpy", rewrite=False, name="fast_compile"),
    "debug": lambda: Mode("numpy", rewrite=False, debug=True, name="debug"),
    "opencl": lambda: Mode("opencl", rewrite=config.optimizer != "None"),
    "native": lambda: Mode("native", rewrite=config.optimizer != "None"),
}
# Theano's names (compared in lower case, so 'FAST_RUN' and 'DebugMode' work too)
_NAMED["fast_run"] = lambda: _NAMED[config.device]()
_NAMED["debugmode"] = _NAMED["debug"]


def get_mode(mode):
    """The :class:`Mode` for ``mode`` (None, a name or a Mode)."""
    if isinstance(mode, Mode):
        return mode
    if mode is None:
        mode = config.device
    key = str(mode).lower()
    if key not in _NAMED:
        raise ValueError(f"unknown mode {mode!r}; use one of {', '.join(map(repr, _NAMED))} "
                         "or a nnframe.core.mode.Mode")
    return _NAMED[key]()
