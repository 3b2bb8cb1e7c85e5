"""``import nnframe.compat.theano as theano``: Theano's top-level names on nnframe.

``theano.function``, ``shared``, ``config``, ``grad``, ``scan``, ``In``, ``Out``,
``clone``, ``pp``, ``printing``, ``tensor``, ``gradient``, ``ifelse``,
``sandbox.rng_mrg``, ``scan_module`` are nnframe's.
"""
from nnframe import In, Out, config, function, shared
from nnframe.compat.theano import gradient, ifelse, printing, sandbox, scan_module, tensor
from nnframe.core.graph import clone_replace
from nnframe.printing import debugprint, pp, pydotprint
from nnframe.tensor import foldl, foldr, grad, map, reduce, scan  # noqa: A004

__all__ = ["function", "shared", "config", "grad", "scan", "map", "reduce", "foldl", "foldr",
           "In", "Out", "clone", "clone_replace", "pp", "debugprint", "pydotprint", "printing",
           "tensor", "gradient", "ifelse", "sandbox", "scan_module"]


def clone(output, replace=None, strict=True, share_inputs=True):
    """Theano's ``theano.clone(output, replace=...)``: ``output`` (a variable or a list)
    with the variables of ``replace`` (a dict or pairs) substituted.

    Only ``share_inputs=True`` (Theano's default: the clone keeps the original
    inputs and shared variables) is supported; ``strict`` is accepted and ignored
    (replacements are checked for type compatibility as nnframe always does).
    """
    if not share_inputs:
        raise NotImplementedError("theano.clone(share_inputs=False) is not supported by "
                                  "nnframe: the clone always shares the original inputs")
    return clone_replace(output, replace)
