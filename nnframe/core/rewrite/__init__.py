"""Graph rewrites applied by ``function()``, each a small pass of its own.

The pipeline, in order: ``merge`` (common subexpressions), ``scan`` (a loop and the
copy its gradient made run once, unused loop outputs dropped), ``constant_folding``,
``canonicalize``, ``stabilize``, ``specialize`` (GEMM), ``fusion`` (elementwise
chains into one node), ``inplace`` (reuse dead buffers), then ``merge`` again.
A :class:`~nnframe.core.mode.Mode` can leave any of them out:
``function(..., mode=Mode(exclude=['fusion']))``.
"""
from nnframe.core.rewrite.blas import specialize
from nnframe.core.rewrite.canonicalize import canonicalize
from nnframe.core.rewrite.constant_folding import fold_constants
from nnframe.core.rewrite.fusion import fuse_elemwise
from nnframe.core.rewrite.inplace import make_inplace
from nnframe.core.rewrite.merge import merge
from nnframe.core.rewrite.scan import scan_rewrites
from nnframe.core.rewrite.stabilize import stabilize

__all__ = ["rewrite_graph", "PASSES"]

PASSES = [
    ("merge", merge),
    ("scan", scan_rewrites),
    ("constant_folding", fold_constants),
    ("canonicalize", canonicalize),
    ("stabilize", stabilize),
    ("merge", merge),
    ("constant_folding", fold_constants),
    ("canonicalize", canonicalize),
    ("specialize", specialize),
    ("constant_folding", fold_constants),
    ("fusion", fuse_elemwise),
    ("inplace", make_inplace),
]


def rewrite_graph(fgraph, exclude=()):
    """Run the pipeline on ``fgraph`` in place, leaving out the passes named in ``exclude``."""
    for name, rewrite in PASSES:
        if name not in exclude:
            rewrite(fgraph)
    return fgraph
