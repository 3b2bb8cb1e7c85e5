"""NumPy kernels for matrix products (BLAS through np.dot / np.matmul)."""
import numpy as np

from nnframe.backends.numpy import cblas
from nnframe.backends.numpy.registry import register
from nnframe.core.ops.blas import BatchedDot, Dot, Gemm


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


#: below this many multiply-adds, NumPy's dot plus two in-place passes beats
#: the few microseconds a ctypes call into BLAS costs
_BLAS_MIN_WORK = 1 << 20


@register(Gemm)
def gemm_kernel(node):
    inplace = node.op.inplace
    check_shapes = node.op.check_shapes

    def run(z, alpha, x, y, beta):
        check_shapes(z.shape, x.shape, y.shape)
        out = z if inplace else z.copy()
        if z.size * x.shape[1] >= _BLAS_MIN_WORK and cblas.gemm_into(out, alpha, x, y, beta):
            return out
        product = np.dot(x, y)
        if beta != 1:
            out *= beta
        if alpha != 1:
            product *= alpha
        out += product
        return out
    return run
