"""GEMM tiles tuned per device (issue 18 item 4): every candidate tile computes as NumPy
does, tuning's choice is cached on disk and read back without timing, a bad cache file
means a retune, and ``config.opencl_tune=False`` gives the built-in tile."""
import json
import os
import stat

import numpy as np
import pytest

pytest.importorskip("pyopencl", reason="the OpenCL backend needs pyopencl (pip install 'nnframe[opencl]')")

from opencl_helpers import compare  # noqa: E402

import nnframe.tensor as T  # noqa: E402
from nnframe.backends import opencl  # noqa: E402
from nnframe.backends.opencl import tune  # noqa: E402
from nnframe.backends.opencl.array import DeviceArray, to_host, to_native  # noqa: E402
from nnframe.backends.opencl.blas import GemmCode  # noqa: E402
from nnframe.backends.opencl.program import ProgramBuilder  # noqa: E402
from nnframe.backends.opencl.target import tile_bits  # noqa: E402
from nnframe.config import config  # noqa: E402
from nnframe.core.ops.blas import Gemm  # noqa: E402

rng = np.random.default_rng(3)
FLOATS = ["float32", "float64"]
TOL = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture
def ctx():
    return opencl.get_backend().ctx


@pytest.fixture
def no_choices(monkeypatch):
    """No tile chosen yet in this process (as in a new one)."""
    monkeypatch.setattr(tune, "_CHOSEN", {})


def all_candidates(ctx, dtype, vector_cap):
    """The tiles tuning may pick on a CPU or on a GPU (a GPU's run on PoCL too).

    A GPU's tiles, but for the default, do not depend on the vector cap: they are tested
    without a cap only (PoCL compiles each work-group size of each kernel at its first
    launch, a few seconds for all of them).
    """
    tiles = tune.candidates(ctx, dtype, "cpu")
    if vector_cap is None:
        tiles += tune.candidates(ctx, dtype, "gpu")
    return list(dict.fromkeys(tiles))


def operands(ctx, m, k, n, dtype, batch=1):
    """Pairs (A, B) of device operands of one product in every layout the kernel reads:
    A contiguous or transposed; B with contiguous rows, transposed (contiguous columns)
    or every other column of a wider matrix (neither)."""
    a = rng.normal(size=(batch, m, k)).astype(dtype)
    b = rng.normal(size=(batch, k, n)).astype(dtype)
    a_t = to_native(ctx, np.ascontiguousarray(a.transpose(0, 2, 1))).transpose((0, 2, 1))
    b_t = to_native(ctx, np.ascontiguousarray(b.transpose(0, 2, 1))).transpose((0, 2, 1))
    wide = np.repeat(b, 2, axis=2)
    b_s = to_native(ctx, wide).view((batch, k, n), (k * 2 * n, 2 * n, 2), 0,
                                    lambda h: h[:, :, ::2])
    a_c, b_c = to_native(ctx, a), to_native(ctx, b)
    want = a.astype(np.float64) @ b
    return want, [(a_c, b_c), (a_t, b_c), (a_c, b_t), (a_t, b_t), (a_c, b_s)]


@pytest.mark.parametrize("dtype", FLOATS)
def test_every_candidate_tile_computes_as_numpy(ctx, dtype, fresh_compiledir, vector_cap):
    """All tiles of CPUs and GPUs, built as one program, on shapes that are no multiple of
    any tile (edge tiles), with transposed and strided operands, a batch, and K shorter
    than the transposed operand's step of 4."""
    tiles = all_candidates(ctx, dtype, vector_cap)
    builder = ProgramBuilder(ctx)
    gemms = {tile: GemmCode(builder, dtype, tile=tile) for tile in tiles}
    builder.build()
    for m, k, n, batch in [(37, 29, 53, 1), (5, 3, 70, 2), (64, 64, 64, 1)]:
        want, pairs = operands(ctx, m, k, n, dtype, batch)
        for tile, gemm in gemms.items():
            assert (gemm.rm, gemm.w, gemm.local) == tile
            for layout, (a, b) in enumerate(pairs):
                got = to_host(gemm.run(a, b))
                assert got.dtype == dtype and got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype],
                                           err_msg=f"tile {tile}, layout {layout}, {m}x{k}x{n}")


@pytest.mark.parametrize("dtype", FLOATS)
def test_every_tile_of_this_device_serves_epilogues_and_gemm(ctx, dtype, monkeypatch):
    """Through compiled functions: a bias + ReLU epilogue (fused into the product),
    transposed and strided operands, and a Gemm (``0.5 * z + a * x.w``), with each of the
    device's tiles."""
    x, w, b = T.matrix("x", dtype=dtype), T.matrix("w", dtype=dtype), T.vector("b", dtype=dtype)
    z = T.matrix("z", dtype=dtype)
    a = T.scalar("a", dtype=dtype)
    outputs = [T.nnet.relu(T.dot(x, w) + b), T.dot(w.T, x.T), T.dot(x, w[:, ::2]),
               Gemm()(z, a, x, w, np.asarray(0.5, dtype))]
    values = [rng.normal(size=s).astype(dtype) for s in ((37, 29), (29, 53), 53, (37, 53), ())]
    used = []
    for tile in tune.candidates(ctx, dtype):
        monkeypatch.setattr(tune, "tile_for", lambda *args, tile=tile: used.append(tile) or tile)
        compare([x, w, b, z, a], outputs, values, rtol=TOL[dtype], atol=TOL[dtype])
    assert set(used) == set(tune.candidates(ctx, dtype))


def test_tuning_is_cached_on_disk_and_read_back_without_timing(ctx, fresh_compiledir,
                                                                no_choices, monkeypatch):
    before = dict(tune.STATS)
    counts = opencl.device_counts()
    gemm = GemmCode(ProgramBuilder(ctx), "float32")      # the first GEMM tunes
    tile = tune.Tile(gemm.rm, gemm.w, gemm.local)
    assert tune.STATS["tuned"] - before["tuned"] == 1
    assert tile in tune.candidates(ctx, "float32")
    assert opencl.device_counts() == counts     # tuning's launches are not the caller's
    (path,) = (fresh_compiledir / "opencl").glob("tile-*.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = json.loads(path.read_text())
    assert record["tile"] == [tile.rm, tile.w, *tile.local]
    rates = record["gflops"]
    assert set(rates) == {tune._text(t) for t in tune.candidates(ctx, "float32")}
    assert rates[tune._text(tile)] * tune.MARGIN >= max(r for r in rates.values() if r)
    # a new process: the file is read, nothing is timed
    monkeypatch.setattr(tune, "_CHOSEN", {})
    monkeypatch.setattr(tune, "_seconds", lambda *args: pytest.fail("timed again"))
    gemm = GemmCode(ProgramBuilder(ctx), "float32")
    assert (gemm.rm, gemm.w, gemm.local) == tile
    assert tune.STATS["loaded"] - before["loaded"] == 1
    # the same process: memory, not even the file
    path.unlink()
    assert tune.tile_for(ctx, "float32", GemmCode) == tile
    assert tune.STATS["tuned"] - before["tuned"] == 1


def test_another_dtype_or_vector_cap_is_tuned_on_its_own(ctx, fresh_compiledir, no_choices,
                                                         monkeypatch):
    if ctx.tile_bits <= 128:
        pytest.skip("no narrower vector cap on this device")
    tuned = []
    monkeypatch.setattr(tune, "tune", lambda ctx, dtype, cls: tuned.append(dtype) or (
        tune.default_tile(ctx, dtype), {}))
    with config.change_flags(opencl_max_vector_bits=None):
        tune.tile_for(ctx, "float32", GemmCode)
        tune.tile_for(ctx, "float64", GemmCode)
    with config.change_flags(opencl_max_vector_bits=128):
        assert tune.tile_for(ctx, "float32", GemmCode).w == 4
    assert tuned == ["float32", "float64", "float32"]
    assert len(list((fresh_compiledir / "opencl").glob("tile-*.json"))) == 3
    # integer products are not tuned: the built-in tile
    assert tune.tile_for(ctx, "int64", GemmCode) == tune.default_tile(ctx, "int64")
    assert len(tuned) == 3


def _corrupt(path, how):
    """Spoil the cache file at ``path`` in the way ``how`` names."""
    record = json.loads(path.read_text())
    if how == "garbage":
        path.write_bytes(b"\x00not json{")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "not a dict":
        path.write_text("[1, 2, 3]")
    elif how == "another device":
        record["key"] = record["key"].replace("dtype=", "dtype=x")
        path.write_text(json.dumps(record))
    elif how in ("not a candidate", "floats", "short", "huge"):
        record["tile"] = {"not a candidate": [3, 5, 1, 1], "floats": [8.0, 8, 1, 1],
                          "short": [8, 8], "huge": [8, 8, 1, 10 ** 30]}[how]
        path.write_text(json.dumps(record))
    elif how == "too big":
        record["padding"] = " " * (1 << 17)
        path.write_text(json.dumps(record))
    elif how == "group-writable":
        os.chmod(path, 0o664)
    elif how == "symlink":
        target = path.with_suffix(".target")
        path.rename(target)
        path.symlink_to(target)


@pytest.mark.parametrize("how", ["garbage", "empty", "not a dict", "another device",
                                 "not a candidate", "floats", "short", "huge", "too big",
                                 "group-writable", "symlink"])
def test_a_bad_cache_file_means_a_retune(ctx, fresh_compiledir, no_choices, monkeypatch, how):
    # a tuning that picks the second candidate, so a file read back is told from a default
    pick = tune.candidates(ctx, "float32")[1]
    tuned = []
    monkeypatch.setattr(tune, "tune", lambda ctx, dtype, cls: tuned.append(dtype) or (pick, {}))
    assert tune.tile_for(ctx, "float32", GemmCode) == pick
    (path,) = (fresh_compiledir / "opencl").glob("tile-*.json")
    _corrupt(path, how)
    monkeypatch.setattr(tune, "_CHOSEN", {})
    assert tune.tile_for(ctx, "float32", GemmCode) == pick
    assert len(tuned) == 2
    # and the retune wrote a good file again
    monkeypatch.setattr(tune, "_CHOSEN", {})
    assert tune.tile_for(ctx, "float32", GemmCode) == pick
    assert len(tuned) == 2 and not path.is_symlink()


def test_a_wrong_tile_is_never_chosen_however_fast(ctx, monkeypatch):
    tiles = tune.candidates(ctx, "float32")
    bad = tiles[-1]

    class WrongOnOneTile(GemmCode):
        def run(self, a, b, *args, **kwargs):
            if (self.rm, self.w, self.local) == bad:
                a, b = b, a      # B.A: square, on the device, and not A.B
            return super().run(a, b, *args, **kwargs)

    # an index error a caller's kernel flagged is left for the caller's next download
    monkeypatch.setattr(ctx, "check_errors", lambda counters: pytest.fail("checked errors"))
    # the wrong tile would be the fastest
    monkeypatch.setattr(tune, "_seconds", lambda ctx, gemm, problem:
                        0.001 if (gemm.rm, gemm.w, gemm.local) == bad else 1.0)
    best, rates = tune.tune(ctx, "float32", WrongOnOneTile)
    assert best != bad and best == tiles[0]
    assert rates[tune._text(bad)] is None
    assert all(rates[tune._text(t)] is not None for t in tiles[:-1])


def test_the_built_in_tile_stays_unless_clearly_beaten(ctx, monkeypatch):
    tiles = tune.candidates(ctx, "float32")
    default, other = tiles[0], tiles[1]
    for speedup, chosen in [(1.05, default), (1.2, other)]:
        monkeypatch.setattr(tune, "_seconds", lambda ctx, gemm, problem, s=speedup:
                            1.0 / s if (gemm.rm, gemm.w, gemm.local) == other else 1.0)
        assert tune.tune(ctx, "float32", GemmCode)[0] == chosen


def test_tuning_off_gives_the_built_in_tile(ctx, fresh_compiledir, no_choices, monkeypatch):
    monkeypatch.setattr(tune, "tune", lambda *args: pytest.fail("tuned with tuning off"))
    with config.change_flags(opencl_tune=False):
        gemm = GemmCode(ProgramBuilder(ctx), "float32")
        assert tune.tile_for(ctx, "float64", GemmCode) == tune.default_tile(ctx, "float64")
    # what every GEMM used before tuning existed
    assert (gemm.rm, gemm.w, gemm.local) == (*tune.tile_shape("float32", tile_bits(ctx)),
                                             (1, 1) if ctx.cpu else (8, 8))
    assert not list(fresh_compiledir.rglob("tile-*.json"))


def test_device_arrays_of_the_test_helpers_are_views(ctx):
    """``operands`` really gives the layouts it names (else the tile test proves less)."""
    _, pairs = operands(ctx, 5, 3, 4, "float32")
    (a_c, b_c), (a_t, _), (_, b_t), _, (_, b_s) = pairs
    assert isinstance(a_t, DeviceArray)
    assert a_c.strides[2] == 1 and a_t.strides[1] == 1
    assert b_c.strides[2] == 1 and b_t.strides[1] == 1 and b_s.strides[1:] == (8, 2)
