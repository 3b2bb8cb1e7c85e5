"""NumPy kernel for Map: a compiled inner function called once per index."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops.loop import Map


@register(Map)
def map_kernel(node):
    from nnframe.core.function import function
    op = node.op
    inner = function(op.inner_inputs, op.inner_outputs, mode="numpy", on_unused_input="ignore",
                     name="Map inner graph")
    dtypes = [o.dtype for o in node.outputs]
    ndims = [o.ndim for o in node.outputs]

    def run(n, *free):
        rows = [inner(np.asarray(i, dtype=op.inner_inputs[0].dtype), *free)
                for i in range(int(n))]
        if not rows:
            return tuple(np.zeros((0,) * nd, dtype=dt) for nd, dt in zip(ndims, dtypes))
        outs = tuple(np.stack([r[k] for r in rows]).astype(dt, copy=False)
                     for k, dt in enumerate(dtypes))
        return outs if len(outs) > 1 else outs[0]
    return run
