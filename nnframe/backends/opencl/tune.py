"""GEMM tile sizes chosen per device: a small autotune at first use, cached on disk.

The GEMM kernel generator (:class:`~nnframe.backends.opencl.blas.GemmCode`)
takes a :class:`Tile`: the rows ``rm`` and vector width ``w`` of the block of
the product one work-item computes, and the work-group size.  Which tile is
fastest depends on the device (registers, caches, the compiler), so, like
CLBlast's tuner or tinygrad's BEAM search, the first GEMM built for a
(device, dtype) pair times a few candidates (:func:`candidates`) and keeps one:

- all candidates are built as ONE program (one compile, ~0.6 s on PoCL with its
  kernel cache empty);
- each is run once on a representative product and checked against NumPy (a
  candidate the device computes wrongly, or cannot launch, is never chosen),
  then timed :data:`PROBLEMS` reps, and its median taken;
- the fastest is chosen if it beats the built-in tile by :data:`MARGIN` (10%): a
  noisy win on a shared machine does not replace it for good;
- the choice is kept in memory and written, with the rates measured, to
  ``config.compiledir/opencl/tile-<hash>.json`` beside the program binaries,
  keyed by the device, driver, platform, build options, vector cap, dtype and
  :data:`GENERATOR_VERSION` (a change of the generator retunes).  Later
  processes read it and time nothing.

A cache file is untrusted input: one that is not ours, not private, not JSON,
for another key, or naming a tile that is not a candidate on this device now
means "tune again", never a crash or a kernel nobody checked.

``config.opencl_tune`` (on by default) turns tuning off: the built-in tile
(:func:`default_tile`, what every GEMM used before tuning existed).  Only
float dtypes are tuned; integer products keep the built-in tile.

>>> tile_for(ctx, "float32", GemmCode)          # doctest: +SKIP
Tile(rm=8, w=8, local=(1, 1))
"""
import contextlib
import hashlib
import json
import os
import stat
import statistics
import tempfile
import time
from typing import NamedTuple

import numpy as np

from nnframe.backends.opencl.array import TRANSFERS, to_native
from nnframe.backends.opencl.program import ProgramBuilder, cache_dir
from nnframe.backends.opencl.target import lanes, tile_bits
from nnframe.config import config

__all__ = ["Tile", "tile_shape", "candidates", "default_tile", "tile_for", "tune", "cache_path",
           "STATS", "GENERATOR_VERSION"]

#: Bump when GemmCode's kernel changes in a way that can change which tile is fastest:
#: every cached choice is then tuned again.
GENERATOR_VERSION = 1

#: (n, reps) of the timed product n x n x n: big enough to be compute-bound on the
#: device kind, small enough that the timing takes ~0.3 s on PoCL (2 cores).
PROBLEMS = {"cpu": (512, 7), "gpu": (2048, 3)}

#: How much faster than the built-in tile a candidate must be to replace it (see _pick).
MARGIN = 1.1

#: What tuning did in this process (for tests and benchmarks).
STATS = {"tuned": 0, "loaded": 0, "tune_seconds": 0.0}

_FORMAT = 1
_MAX_FILE_BYTES = 1 << 16
_CHOSEN = {}  # memory key -> Tile


class Tile(NamedTuple):
    """One GEMM tile: ``rm`` rows of ``w``-wide vectors per work-item, ``local`` work-group."""

    rm: int
    w: int
    local: tuple


def tile_shape(dtype, bits):
    """Rows and vector width of the built-in register tile for ``dtype`` with ``bits``-wide
    vectors.

    A row of the tile is one vector (``float8`` with 256 bits: one AVX2
    register); eight rows keep eight accumulators in registers, half of
    AVX2's sixteen.

    >>> tile_shape("float32", 256), tile_shape("float64", 512)
    ((8, 8), (8, 8))
    """
    rows = 8 if np.dtype(dtype).kind == "f" else 4
    return rows, lanes(bits, dtype)


def default_tile(ctx, dtype):
    """The built-in tile (no tuning): :func:`tile_shape` of the device's tile width; one
    work-item per group on a CPU (PoCL runs a group's items in one thread), 8 x 8 else.

    >>> default_tile(ctx, "float32")      # doctest: +SKIP
    Tile(rm=8, w=8, local=(1, 1))
    """
    return Tile(*tile_shape(dtype, tile_bits(ctx)), (1, 1) if ctx.cpu else (8, 8))


def candidates(ctx, dtype, kind=None):
    """The tiles tuning tries for ``dtype`` on ``ctx``'s device (``kind``: 'cpu' or 'gpu',
    the device's own by default), the default tile first.

    CPU: 4 or 8 rows of each vector width up to the target's SIMD width (never wider: see
    :mod:`~nnframe.backends.opencl.target`), one work-item per group.  GPU: 2, 4 or 8 rows of
    2, 4 or 8 lanes, in groups of 8 x 8, 16 x 8 or 16 x 16 that the device allows.
    """
    kind = kind or ("cpu" if ctx.cpu else "gpu")
    bits = tile_bits(ctx)
    tiles = [default_tile(ctx, dtype)]
    if kind == "cpu":
        widths = sorted({lanes(b, dtype) for b in (128, 256, 512) if b <= bits})
        tiles += [Tile(rm, w, (1, 1)) for rm in (4, 8) for w in widths]
    else:
        device = ctx.device
        sizes = device.max_work_item_sizes
        locals_ = [(x, y) for x, y in ((8, 8), (16, 8), (16, 16))
                   if x * y <= device.max_work_group_size and x <= sizes[0] and y <= sizes[1]]
        tiles += [Tile(rm, w, local) for rm in (2, 4, 8) for w in (2, 4, 8) for local in locals_]
    return list(dict.fromkeys(tiles))


def tile_for(ctx, dtype, gemm_class):
    """The tile of every GEMM for ``dtype`` on ``ctx``: memory, the disk cache, or a tuning
    (timing tiles built by ``gemm_class``, :class:`~nnframe.backends.opencl.blas.GemmCode`)."""
    dtype = str(np.dtype(dtype))
    if not config.opencl_tune or np.dtype(dtype).kind != "f":
        return default_tile(ctx, dtype)
    key = _key(ctx, dtype)
    tile = _CHOSEN.get(key)
    if tile is None:
        path = cache_path(ctx, dtype)
        tile = _read(path, key, candidates(ctx, dtype))
        if tile is None:
            tile, rates = tune(ctx, dtype, gemm_class)
            _write(path, key, tile, rates)
        else:
            STATS["loaded"] += 1
        _CHOSEN[key] = tile
    return tile


def _key(ctx, dtype):
    """What a tuned choice depends on: device, driver, platform and build options (ctx.key),
    the vector cap (it sets the candidates), the dtype and the generator's version."""
    return "\n".join([ctx.key, f"tile_bits={tile_bits(ctx)}", f"dtype={dtype}",
                      f"generator={GENERATOR_VERSION}", f"format={_FORMAT}"])


def cache_path(ctx, dtype):
    """The file holding the tile chosen for ``dtype`` on ``ctx`` (JSON: the tile, and each
    candidate's GFLOP/s as measured then, for people and benchmarks)."""
    digest = hashlib.sha256(_key(ctx, str(np.dtype(dtype))).encode()).hexdigest()
    return os.path.join(cache_dir(), f"tile-{digest}.json")


def tune(ctx, dtype, gemm_class):
    """Time every candidate tile on a representative product; ``(the tile chosen (see
    :func:`_pick`), {tile text: GFLOP/s or None for a rejected one})``.

    The launches and transfers are tuning's own, not the caller's: the device counters
    (:data:`~nnframe.backends.opencl.array.TRANSFERS`) are left as they were.
    """
    start = time.perf_counter()
    counts = TRANSFERS.copy()
    try:
        tiles = candidates(ctx, dtype)
        builder = ProgramBuilder(ctx)
        gemms = {tile: gemm_class(builder, dtype, tile=tile) for tile in tiles}
        _build(ctx, builder)
        rates = _rates(ctx, gemms, _problem(ctx, dtype))
    finally:
        TRANSFERS.clear()
        TRANSFERS.update(counts)
    best = _pick(tiles[0], rates)
    STATS["tuned"] += 1
    STATS["tune_seconds"] += time.perf_counter() - start
    return best, {_text(tile): rate for tile, rate in rates.items()}


def _pick(default, rates):
    """The tile to use given each candidate's GFLOP/s (None: wrong): the fastest, unless the
    built-in ``default`` is within :data:`MARGIN` of it.

    The built-in tile is what every GEMM used before tuning: a candidate must beat it
    clearly to replace it, so that a noisy measurement (a shared machine) does not store a
    worse tile for good.  No correct candidate at all: the default, as before tuning.
    """
    valid = {tile: rate for tile, rate in rates.items() if rate is not None}
    if not valid:
        return default
    best = max(valid, key=valid.get)
    if default in valid and valid[best] < MARGIN * valid[default]:
        return default
    return best


def _build(ctx, builder):
    """Compile the candidates' program and bind its kernels.

    Directly, not through :func:`~nnframe.backends.opencl.program.get_program`: its binary
    is needed once per device (the choice is what is cached), and the program counters of
    the function being compiled should not count tuning's build.
    """
    cl = ctx.cl
    program = cl.Program(ctx.context, builder.source()).build(options=ctx.build_options)
    for name, handle in builder.handles.items():
        kernel = cl.Kernel(program, name)
        kernel.set_scalar_arg_dtypes(handle.scalar_dtypes)
        handle.kernel = kernel


def _problem(ctx, dtype):
    """The timed product: device operands, NumPy's result (in float64), the tolerance."""
    n, _ = PROBLEMS["cpu" if ctx.cpu else "gpu"]
    rng = np.random.default_rng(0)
    a, b = (rng.uniform(-1, 1, (1, n, n)).astype(dtype) for _ in range(2))
    want = a[0].astype(np.float64) @ b[0]
    # k-order rounding stays far below this; a wrong kernel is off by O(1)
    tolerance = 8 * n * np.finfo(dtype).eps
    return to_native(ctx, a), to_native(ctx, b), want, tolerance


def _correct(ctx, gemm, problem):
    """Whether ``gemm`` computes ``problem`` (:func:`_problem`) as NumPy does; False also
    when the device refuses its launch."""
    a, b, want, tolerance = problem
    try:
        out = gemm.run(a, b)
        got = np.empty(out.shape, out.dtype)
        # not to_host: it would raise (and clear) an index error that a caller's kernel
        # flagged, here in a GEMM's construction instead of at the caller's next download
        ctx.cl.enqueue_copy(ctx.queue, got, out.data, is_blocking=True)
    except ctx.cl.Error:  # e.g. a work-group too big for this kernel's registers
        return False
    return bool(np.abs(got[0] - want).max() <= tolerance)  # NaN is not


def _seconds(ctx, gemm, problem):
    """The time of one run of ``gemm`` on ``problem``, the queue drained."""
    a, b = problem[:2]
    start = time.perf_counter()
    gemm.run(a, b)
    ctx.queue.finish()
    return time.perf_counter() - start


def _rates(ctx, gemms, problem):
    """GFLOP/s (median of the reps) of each of ``gemms`` ({tile: GemmCode}), None for a
    wrong one.  The reps go round the candidates, so a slow spell of a shared machine
    slows them all alike instead of the one being timed."""
    times = {tile: [] for tile, gemm in gemms.items() if _correct(ctx, gemm, problem)}
    for _ in range(PROBLEMS["cpu" if ctx.cpu else "gpu"][1]):
        for tile, samples in times.items():
            samples.append(_seconds(ctx, gemms[tile], problem))
    a, want = problem[0], problem[2]
    flops = 2 * want.size * a.shape[2]
    return {tile: flops / statistics.median(times[tile]) / 1e9 if tile in times else None
            for tile in gemms}


def _text(tile):
    return f"{tile.rm}x{tile.w}/{tile.local[0]}x{tile.local[1]}"


def _read(path, key, allowed):
    """The tile stored at ``path`` for ``key`` if the file is ours, private, well-formed and
    names one of the ``allowed`` tiles; else None (tune again)."""
    data = _read_private(path)
    if data is None:
        return None
    try:
        record = json.loads(data)
        if record["format"] != _FORMAT or record["key"] != key:
            return None
        rm, w, lx, ly = record["tile"]
    except (ValueError, KeyError, TypeError):
        return None
    # ints only: 8.0 == 8 and True == 1, but they would be pasted into the kernel's text
    if not all(type(v) is int for v in (rm, w, lx, ly)):
        return None
    tile = Tile(rm, w, (lx, ly))
    return tile if tile in allowed else None


def _read_private(path):
    """The bytes of ``path`` if it is a small regular file of ours no one else can write.

    Opened with O_NOFOLLOW and checked on the open descriptor, so a symlink or a file
    swapped in after a check is never read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if (not stat.S_ISREG(st.st_mode) or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
                or (hasattr(os, "getuid") and st.st_uid != os.getuid())):
            return None
        data = fh.read(_MAX_FILE_BYTES + 1)
    return data if len(data) <= _MAX_FILE_BYTES else None


def _write(path, key, tile, rates):
    """Store the choice (and the rates, for people) atomically in a private file; a
    directory that cannot be written only costs a tuning per process."""
    record = {"format": _FORMAT, "key": key, "tile": [tile.rm, tile.w, *tile.local],
              "gflops": rates}
    directory = os.path.dirname(path)
    tmp = None
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")  # 0600
        with os.fdopen(fd, "w") as fh:
            json.dump(record, fh, indent=1)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
