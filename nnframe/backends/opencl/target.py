"""How wide a vector a generated kernel may use on a device.

A kernel must never use a vector value wider than the SIMD registers of the
target the device's *compiler* generates code for.  On PoCL's CPU device that
target is PoCL's LLVM CPU name, not the host: PoCL 3.0 (LLVM 14) does not
know AMD Zen 4 and compiles for ``znver3`` (AVX2, 256-bit registers) on hosts
whose flags include ``avx512f``.  Programs with 512-bit values (``float16``,
``double8``) then build in the first process, but PoCL's kernel cache hands
them back to the next process without any kernel, and its LLVM has been seen
to abort on them.  PoCL's ``preferred_vector_width_float`` (16 there) cannot
be trusted either, so the width comes from the target name that PoCL reports
(``HSTR: pthread-x86_64-unknown-linux-gnu-znver3`` in the device version):

- x86 targets known to have AVX-512: 512 bits;
- x86 targets without AVX (``x86-64``, ``nehalem``...): 128 bits;
- other x86 targets (AVX/AVX2, and names this table does not know): 256 bits;
- other CPU architectures (NEON, VSX...): 128 bits.

On a GPU a vector lives in one thread's scalar registers, so there is no SIMD
width to respect: elementwise kernels use 128-bit accesses (``float4``, the
widest single load of NVIDIA and AMD GPUs) and GEMM tile rows the widest
OpenCL vector (16 floats), as measured on an H200.

``config.opencl_max_vector_bits`` caps both on any device, so the 256- and
128-bit kernels are tested on every machine::

    NNFRAME_FLAGS=opencl_max_vector_bits=256 python -m pytest tests/backends

>>> cpu_target_bits("pthread-x86_64-unknown-linux-gnu-znver3")
256
>>> cpu_target_bits("pthread-x86_64-unknown-linux-gnu-skylake-avx512")
512
>>> cpu_target_bits("cpu-aarch64-unknown-linux-gnu-neoverse-n1")
128
>>> lanes(256, "float32"), lanes(256, "float64"), lanes(512, "float32")
(8, 4, 16)
"""
import re

import numpy as np

from nnframe.config import config

__all__ = ["device_widths", "vector_bits", "tile_bits", "lanes", "cpu_target_bits",
           "pocl_target"]

#: LLVM CPU names of x86 targets with AVX-512 (LLVM 14 and later).
AVX512_CPUS = frozenset({
    "knl", "knm", "skylake-avx512", "skx", "cascadelake", "cooperlake", "cannonlake",
    "icelake-client", "icelake-server", "tigerlake", "rocketlake", "sapphirerapids",
    "emeraldrapids", "graniterapids", "graniterapids-d", "diamondrapids", "znver4",
    "znver5", "x86-64-v4"})

#: LLVM CPU names of x86 targets without AVX (128-bit SSE registers only).
SSE_ONLY_CPUS = frozenset({
    "x86-64", "x86-64-v2", "i386", "i486", "i586", "i686", "pentium4", "prescott",
    "nocona", "core2", "penryn", "nehalem", "corei7", "westmere", "bonnell", "atom",
    "silvermont", "slm", "goldmont", "goldmont-plus", "tremont", "k8", "opteron",
    "athlon64", "k8-sse3", "amdfam10", "barcelona", "btver1"})

_X86 = ("x86_64", "i386", "i486", "i586", "i686")
_HSTR = re.compile(r"HSTR:\s*(\S+)")


def pocl_target(device):
    """PoCL's target string of ``device`` (``'pthread-x86_64-...-znver3'``), or None."""
    for text in (device.version, device.driver_version):
        match = _HSTR.search(text or "")
        if match:
            return match.group(1)
    return None


def cpu_target_bits(target):
    """The SIMD register width (bits) of a PoCL CPU target string (see the module doc)."""
    parts = target.split("-")
    if parts and parts[0] in ("pthread", "cpu", "basic", "cpu-minimal", "tbb"):
        parts = parts[1:]
    arch = parts[0] if parts else ""
    if arch not in _X86:
        return 128
    # The CPU name is what follows the triple; it may itself hold dashes.
    for k in range(1, len(parts)):
        name = "-".join(parts[k:])
        if name in AVX512_CPUS:
            return 512
        if name in SSE_ONLY_CPUS:
            return 128
    return 256


def device_widths(cl, device):
    """``(vector bits, tile bits)`` of ``device`` before the config cap (see the module doc).

    The first is the width of elementwise kernels' vectors, the second of a
    GEMM tile's rows.
    """
    if device.type & cl.device_type.CPU:
        target = pocl_target(device)
        # another CPU driver: AVX2 is the common ground of x86-64 today
        bits = cpu_target_bits(target) if target is not None else 256
        return bits, bits
    return 128, 512


def _capped(bits):
    cap = config.opencl_max_vector_bits
    return bits if cap is None else min(bits, cap)


def vector_bits(ctx):
    """The width of elementwise vectors on ``ctx``'s device, capped by the config flag."""
    return _capped(ctx.vector_bits)


def tile_bits(ctx):
    """The width of a GEMM tile's rows on ``ctx``'s device, capped by the config flag."""
    return _capped(ctx.tile_bits)


def lanes(bits, dtype):
    """Entries of ``dtype`` in a vector of ``bits`` (2 to 16, an OpenCL vector size)."""
    return int(min(16, max(2, bits // (8 * np.dtype(dtype).itemsize))))
