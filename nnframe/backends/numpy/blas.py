"""NumPy kernels for matrix products (BLAS through np.dot / np.matmul)."""
import numpy as np

from nnframe.backends.numpy.registry import register
from nnframe.core.ops.blas import BatchedDot, Dot


@register(Dot)
def dot_kernel(node):
    scalar_out = node.outputs[0].ndim == 0
    dtype = np.dtype(node.outputs[0].dtype)

    def run(x, y):
        out = np.dot(x, y)
        if scalar_out:
            out = np.asarray(out)
        return out if out.dtype == dtype else out.astype(dtype)
    return run


@register(BatchedDot)
def batched_dot_kernel(node):
    return np.matmul
