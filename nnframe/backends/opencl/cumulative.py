"""Cumulative sums and products (``CumOp``) on the device: one work-item per line.

A *line* is the run of entries along the scanned axis at fixed coordinates of
the other axes.  Each work-item walks its line from the first entry, folding
every entry into an accumulator and storing each partial result: the order of
NumPy's ``add.accumulate`` / ``multiply.accumulate`` (which ``np.cumsum`` and
``np.cumprod`` call), so float results are NumPy's bit for bit (the program's
preamble turns contraction off).  The first output is the first entry itself,
as in NumPy (``0.0 + -0.0`` would lose a sign).  Signed integers accumulate in
their unsigned type, so overflow wraps as NumPy's does instead of being
undefined C.

The input is read through its strides (transposes and slices need no copy);
the other axes are merged on the host where contiguous in input and output,
then decoded per work-item.  Parallelism is the number of lines: a flattened
vector (``axis=None``) is one work-item.

>>> import numpy as np, nnframe.tensor as T
>>> from nnframe import function
>>> x = T.fmatrix('x')
>>> f = function([x], T.cumsum(x, axis=1), mode='opencl')         # doctest: +SKIP
>>> f(np.ones((2, 3), 'float32'))                                # doctest: +SKIP
array([[1., 2., 3.],
       [1., 2., 3.]], dtype=float32)
"""
import math

import numpy as np

from nnframe.backends.opencl.array import device_args, empty
from nnframe.backends.opencl.codegen import ctype, kernel_name
from nnframe.backends.opencl.elemwise import LOCAL, collapse, long8, pad
from nnframe.backends.opencl.registry import register
from nnframe.core.ops.cumulative import CumOp

__all__ = ["scan_source"]

_UNSIGNED = {"char": "uchar", "short": "ushort", "int": "uint", "long": "ulong"}


def scan_source(mode, in_dtype, out_dtype, n_other):
    """The C source of the kernel scanning lines of ``n_other`` (>= 1) other axes.

    >>> print(scan_source("add", "float32", "float32", 1).splitlines()[0])
    __kernel void scan_...(long n_lines, long len, long8 shape, long8 xs, long8 ys, ...
    """
    it, ot = ctype(in_dtype), ctype(out_dtype)
    at = _UNSIGNED.get(ot, ot)
    op = "+" if mode == "add" else "*"
    lines = ["long g = get_global_id(0);", "if (g >= n_lines) return;", "long q = g;"]
    for d in range(n_other - 1, 0, -1):
        lines.append(f"long c{d} = 0; if (shape.s{d} != 1) {{ c{d} = q % shape.s{d}; "
                     f"q /= shape.s{d}; }}")
    lines.append("long c0 = q;")
    for name, strides, base in (("xp", "xs", "x + xo"), ("yp", "ys", "y")):
        terms = " + ".join(f"c{d} * {strides}.s{d}" for d in range(n_other))
        const = "const " if name == "xp" else ""
        lines.append(f"{const}__global {it if name == 'xp' else ot}* {name} = {base} + {terms};")
    lines += [f"{at} acc = ({at})xp[0];", f"yp[0] = ({ot})acc;",
              "for (long i = 1; i < len; ++i) {",
              f"  acc = acc {op} ({at})xp[i * xstep];",
              f"  yp[i * ystep] = ({ot})acc;", "}"]
    params = (f"long n_lines, long len, long8 shape, long8 xs, long8 ys, long xstep, long ystep, "
              f"__global const {it}* x, long xo, __global {ot}* y")
    text = f"__kernel void KNAME({params}) {{\n  " + "\n  ".join(lines) + "\n}\n"
    return text.replace("KNAME", kernel_name("scan", text))


@register(CumOp)
def cumulative_kernel(node, builder):
    import pyopencl.cltypes as cltypes
    axis = node.op.axis
    ndim = node.inputs[0].ndim
    out_dtype = node.outputs[0].dtype
    n_other = max(ndim - 1, 1)
    kernel = builder.kernel(scan_source(node.op.mode, node.inputs[0].dtype, out_dtype, n_other),
                            [np.int64] * 2 + [cltypes.long8] * 3 + [np.int64] * 2
                            + [None, np.int64, None])
    ctx = builder.ctx

    def run(x):
        y = empty(ctx, x.shape, out_dtype)
        if y.size == 0:
            return y
        buf, xo = device_args(x)   # first: uploading may change the strides
        other = [a for a in range(ndim) if a != axis]
        shape, (xs, ys) = collapse([x.shape[a] for a in other],
                                   [[x.strides[a] for a in other], [y.strides[a] for a in other]])
        n_lines = int(math.prod(shape))
        shape = [1] * (n_other - len(shape)) + shape
        kernel(ctx.queue, ((n_lines + LOCAL - 1) // LOCAL * LOCAL,), (LOCAL,), n_lines,
               x.shape[axis], long8(shape), long8(pad(xs, n_other)), long8(pad(ys, n_other)),
               x.strides[axis], y.strides[axis], buf, xo, y.data)
        return y
    return run
