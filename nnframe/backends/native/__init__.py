"""The native backend: a function's nodes as generated C, compiled by the system compiler.

``function(..., mode='native')`` (or ``config.device = 'native'``, or
``NNFRAME_FLAGS=device=native``) writes the nodes of the function as C, runs
of nodes with a C form becoming ONE C function (a *segment*) that a call
runs with one ctypes call: fused elementwise loops with nnframe's own
vectorisable exp/log/tanh (:mod:`~nnframe.backends.native.cmath`), GEMM
and GEMV through the BLAS NumPy bundles, reductions, softmax and
cross-entropy, views without copies, updates in place.  Nodes without a C
form run their NumPy kernel between segments, so every graph runs.

Values are host ndarrays, as on the NumPy backend: shared variables, inputs
and outputs need no conversion, and a function compiled in one mode reads
the shared variables another wrote.

Without a working C compiler (or with an interpreter whose objects the C
cannot read) the mode runs on the NumPy backend and says so once in the
``nnframe`` log; see docs/native.md.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x = T.fvector('x')
>>> f = function([x], T.tanh(x * 2.0) + 1, mode='native')
>>> f(np.zeros(3, 'float32'))
array([1., 1., 1.], dtype=float32)
"""
import ctypes
import logging

import numpy as np

__all__ = ["get_backend", "NativeBackend", "fallback_reason", "native_nodes"]

_LOG = logging.getLogger("nnframe")
_BACKEND = None
_FALLBACK = None          # why the native mode runs on NumPy, once known


def get_backend():
    """The native backend, or the NumPy backend (logged once) when it cannot run here."""
    global _BACKEND, _FALLBACK
    if _BACKEND is None and _FALLBACK is None:
        from nnframe.backends.native.compiler import NativeUnavailable, find_compiler
        from nnframe.backends.native.layout import offsets
        try:
            find_compiler()
            offsets()
            _BACKEND = NativeBackend()
        except NativeUnavailable as exc:
            _FALLBACK = str(exc)
            _LOG.warning("nnframe: mode 'native' runs on the NumPy backend: %s", exc)
    if _BACKEND is not None:
        return _BACKEND
    from nnframe.backends.numpy import backend
    return backend


def fallback_reason():
    """Why mode 'native' runs on the NumPy backend in this process, or None."""
    get_backend()
    return _FALLBACK


def native_nodes(fn):
    """The nodes of compiled function ``fn`` that run in C (the others run on NumPy)."""
    return [node for node in fn.maker.fgraph.toposort() if node.tag.get("native")]


class _Blas:
    """The GEMM functions of the BLAS NumPy bundles, for the generated C."""

    def __init__(self):
        from nnframe.backends.numpy import cblas
        self.functions = {"f32": cblas._GEMM.get(np.dtype(np.float32)),
                          "f64": cblas._GEMM.get(np.dtype(np.float64))}
        fn = self.functions["f32"] or self.functions["f64"]
        self.int_type = "long" if fn is not None and fn.argtypes[3] is ctypes.c_int64 else "int"

    def address(self, suffix):
        return ctypes.cast(self.functions[suffix], ctypes.c_void_p).value


class NativeBackend:
    """The backend protocol of :func:`nnframe.core.link.link`, grouping nodes into C segments."""

    name = "native"
    host = True
    native_type = np.ndarray

    def __init__(self):
        from nnframe.backends.native import kernels  # noqa: F401  (registers the emitters)
        self.blas = _Blas()

    def __repr__(self):
        return "<NativeBackend>"

    @staticmethod
    def to_native(value):
        return value if isinstance(value, np.ndarray) else value.get()

    @staticmethod
    def to_host(value):
        return value

    def make_groups(self, nodes, final, one_per_node=False):
        """The function's nodes as :class:`~nnframe.core.link.Group` s: C segments and NumPy nodes.

        ``one_per_node``: a segment per node (the profile then times each node).
        """
        from nnframe.backends.native.segment import SegmentSource
        groups = []
        segment = SegmentSource()
        for node in nodes:
            if segment.try_add(node):
                if one_per_node:
                    groups += self._as_node_kernel(self._close(segment, nodes, final))
                    segment = SegmentSource()
                continue
            groups += self._close(segment, nodes, final)
            groups.append(self._numpy_group(node))
            segment = SegmentSource()
        groups += self._close(segment, nodes, final)
        return groups

    @staticmethod
    def _as_node_kernel(groups):
        """One-node groups whose kernels take the node's inputs, in order, as a kernel of
        the NumPy backend does (profiling and debug checks wrap them as such)."""
        from nnframe.core.link import Group
        out = []
        for group in groups:
            (node,) = group.nodes
            if group.inputs == list(node.inputs):
                out.append(group)
                continue
            positions = [node.inputs.index(v) for v in group.inputs]
            kernel = group.kernel

            def run(*args, _kernel=kernel, _positions=positions):
                return _kernel(*[args[k] for k in _positions])
            out.append(Group([node], node.inputs, group.outputs, run))
        return out

    @staticmethod
    def _numpy_group(node):
        from nnframe.backends.numpy import kernel_for
        from nnframe.core.link import Group
        return Group([node], node.inputs, node.outputs, kernel_for(node))

    def _close(self, segment, nodes, final):
        """The groups of a finished segment: one C kernel, or its nodes on NumPy."""
        from nnframe.backends.native.compiler import (
            NativeCompileError,
            NativeUnavailable,
            load_library,
        )
        from nnframe.backends.native.plan import SegmentKernel
        from nnframe.core.graph import Constant
        from nnframe.core.link import Group
        if not segment.nodes:
            return []
        if not segment.emits_code():
            return [self._numpy_group(node) for node in segment.nodes]
        inside = {id(node) for node in segment.nodes}
        read_outside = {id(i) for node in nodes if id(node) not in inside for i in node.inputs}
        read_outside |= {id(v) for v in final}
        outputs = [out for node in segment.nodes for out in node.outputs
                   if id(out) in read_outside]
        try:
            kernel = SegmentKernel(segment, outputs, load_library, self.blas)
        except NativeCompileError as exc:  # an nnframe bug: say so, and still run the graph
            _LOG.error("%s", exc)
            return [self._numpy_group(node) for node in segment.nodes]
        except NativeUnavailable as exc:  # e.g. the compiledir is unusable: said once
            global _FALLBACK
            if _FALLBACK != str(exc):
                _FALLBACK = str(exc)
                _LOG.warning("nnframe: mode 'native' runs on the NumPy backend: %s", exc)
            return [self._numpy_group(node) for node in segment.nodes]
        for node in segment.nodes:
            node.tag["native"] = True  # tests and the profile tell C nodes from NumPy ones
        inputs = [v.var for v in kernel.inputs if not isinstance(v.var, Constant)]
        return [Group(segment.nodes, inputs, outputs, kernel.run)]
