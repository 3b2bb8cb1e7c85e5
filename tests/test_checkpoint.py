"""HDF5 checkpoints: exact round trips, loading by name (strict and partial), corrupt
and foreign files, atomic writes, and layer networks through save_params/load_params."""
import json
import os
import re
import subprocess
import sys
import warnings
import zlib

import h5py  # noqa: E402  (a dependency of nnframe)
import numpy as np
import pytest

import nnframe.tensor as T  # noqa: E402
from nnframe import checkpoint as C  # noqa: E402
from nnframe import config, function, shared  # noqa: E402
from nnframe import rng as nnrng
from nnframe.checkpoint import (  # noqa: E402
    Checkpoint,
    CheckpointError,
    CheckpointManager,
    CheckpointMismatch,
    find_resume,
    load_checkpoint,
    load_params,
    restore_state,
    save_checkpoint,
    save_params,
)
from nnframe.layers import BatchNormLayer, DenseLayer, InputLayer, get_all_params, get_output  # noqa: E402
from nnframe.optim import adam  # noqa: E402

RECIPE = "# Rezept für MNIST — ünïcödé ✓ 数字\nmodel: [dense: {units: 10}]\n"


def same_bits(a, b):
    """Equal dtype, shape and bytes (NaN payloads and -0.0 included)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def sample_params():
    r = np.random.default_rng(0)
    special = np.array([np.nan, -0.0, np.inf, -np.inf, 5e-324, 1.5], dtype="float64")
    return {
        "enc1/W": r.standard_normal((5, 3)).astype("float32"),
        "enc1/b": r.standard_normal(3),  # float64
        "emb/table": r.integers(-2**62, 2**62, size=(4, 2), dtype="int64"),
        "codes": r.integers(0, 255, size=7, dtype="uint8"),
        "mask": np.array([True, False, True]),
        "special": special,
        "scale": np.float32(0.75),  # a 0-d array
        "empty": np.zeros((0, 4), dtype="float32"),
        "half": r.standard_normal(3).astype("float16"),
        "transposed": np.arange(6.0).reshape(2, 3).T,  # not C-contiguous
    }


def rng_states():
    pcg = np.random.default_rng(12345)
    pcg.standard_normal(3)
    mt = np.random.Generator(np.random.MT19937(7))
    return {"shuffle": pcg.bit_generator.state, "noise/mt": mt.bit_generator.state,
            "seeds": {"init": 1, "split": 2**63 + 5}}, pcg, mt


def full_checkpoint(path):
    params = sample_params()
    optim = {"enc1/W/adam/m": np.full((5, 3), 0.25, "float32"),
             "enc1/W/adam/v": np.full((5, 3), 1e-8, "float32"), "adam/t": np.asarray(17)}
    progress = {"epoch": 4, "step": 1234, "best_value": 0.9731, "best_epoch": 3,
                "wait": 1, "monitor": "valid/accuracy", "note": "généré ✓", "stopped": False, "lr": 1e-3,
                "history": [0.5, None, {"a": [1, 2]}], "huge": 2**80, "inf": float("inf")}
    states, pcg, mt = rng_states()
    states["stream/state0"] = np.array([7, 0, 2**64 - 1], dtype="uint64")
    states["dropout1/state1"] = shared(np.array([7, 1, 3], dtype="uint64"), name="x")
    info = {"rule": "adam", "hyperparameters": {"learning_rate": 1e-3, "beta1": 0.9}}
    save_checkpoint(path, params, optim=optim, progress=progress, rng=states,
                    recipe_original=RECIPE, recipe_resolved=RECIPE + "seed: 1\n",
                    optim_info=info)
    return params, optim, progress, states, pcg, mt, info


# -- round trip -----------------------------------------------------------------------
def test_round_trip_is_exact(tmp_path):
    path = str(tmp_path / "last.h5")
    params, optim, progress, states, pcg, mt, info = full_checkpoint(path)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt, Checkpoint) and ckpt.path == path and ckpt.kind == "training"
    assert list(ckpt.params) == list(params)  # the saved order
    for name, value in params.items():
        assert same_bits(ckpt.params[name], value), name
    assert list(ckpt.optim) == list(optim)
    assert all(same_bits(ckpt.optim[n], v) for n, v in optim.items())
    assert ckpt.optim_info == info
    assert ckpt.progress == progress
    assert type(ckpt.progress["epoch"]) is int and type(ckpt.progress["stopped"]) is bool
    assert ckpt.recipe_original == RECIPE and ckpt.recipe_resolved == RECIPE + "seed: 1\n"
    assert ckpt.nnframe_version == C.__version__ and ckpt.floatX == config.floatX
    assert ckpt.format_version == C.FORMAT_VERSION == 2 and ckpt.created_utc.endswith("Z")
    assert ckpt.env["numpy"] == np.__version__ and ckpt.env["h5py"] == h5py.__version__

    # RNG states: 128-bit PCG64 integers and the MT19937 key array come back exactly,
    # and generators restored from them continue the same sequences.
    assert ckpt.rng["shuffle"] == states["shuffle"]
    assert ckpt.rng["shuffle"]["state"]["state"] >= 2**64
    assert ckpt.rng["seeds"] == states["seeds"]
    assert same_bits(ckpt.rng["noise/mt"]["state"]["key"], states["noise/mt"]["state"]["key"])
    assert same_bits(ckpt.rng["stream/state0"], states["stream/state0"])
    assert same_bits(ckpt.rng["dropout1/state1"], np.array([7, 1, 3], dtype="uint64"))
    for saved, name in ((pcg, "shuffle"), (mt, "noise/mt")):
        restored = np.random.Generator(getattr(np.random, ckpt.rng[name]["bit_generator"])())
        restored.bit_generator.state = ckpt.rng[name]
        assert same_bits(restored.random(5), saved.random(5))


def test_file_layout_is_readable_with_h5py_alone(tmp_path):
    path = str(tmp_path / "last.h5")
    params, optim, progress, states, *_ = full_checkpoint(path)
    with h5py.File(path, "r") as f:
        assert f.attrs["format"] == b"nnframe-checkpoint" and f.attrs["format_version"] == 2
        assert isinstance(f["params/enc1"], h5py.Group)
        assert f["params/enc1/W"].dtype == np.float32 and f["params/enc1/W"].shape == (5, 3)
        assert f["params/emb/table"].dtype == np.int64
        assert f["optim/enc1/W/adam/m"].shape == (5, 3) and f["optim/adam/t"][()] == 17
        assert f["rng/stream/state0"].dtype == np.uint64
        # recipe texts are string datasets; everything else is one JSON document
        assert f["recipe/original"].asstr()[()] == RECIPE
        raw = f["contents"][()]
        assert f["contents"].attrs["crc32"] == zlib.crc32(raw)
        contents = json.loads(raw)
        arrays = {e["name"]: e for e in contents["arrays"]["params"]}
        assert list(arrays) == list(params)
        assert arrays["enc1/W"]["crc32"] == zlib.crc32(f["params/enc1/W"][()].tobytes())
        assert [e["name"] for e in contents["arrays"]["rng"]] == ["stream/state0",
                                                                  "dropout1/state1"]
    assert contents["kind"] == "training" and contents["digest"] == "crc32"
    assert contents["progress"]["epoch"] == 4 and contents["progress"]["monitor"] == progress[
        "monitor"]
    assert contents["optim_info"]["rule"] == "adam"
    assert contents["rng"]["shuffle"]["state"]["state"] == states["shuffle"]["state"]["state"]
    assert set(contents["env"]) >= {"python", "numpy", "h5py", "platform"}
    assert contents["recipe"]["original"] == {"bytes": len(RECIPE.encode()),
                                              "crc32": zlib.crc32(RECIPE.encode())}


def test_save_shared_variables_and_minimal_file(tmp_path):
    w = shared(np.arange(6, dtype="float32").reshape(2, 3), name="w")
    t = shared(np.asarray(3, dtype="int64"), name="adam/t")
    path = save_checkpoint(tmp_path / "c.h5", [w], optim=[t])
    ckpt = load_checkpoint(path)
    assert same_bits(ckpt.params["w"], w.get_value())
    assert same_bits(ckpt.optim["adam/t"], np.asarray(3, dtype="int64"))
    assert ckpt.progress == {} and ckpt.rng == {} and ckpt.recipe_original is None
    assert ckpt.optim_info == {}


@pytest.mark.parametrize("kwargs, message", [
    ({"params": {"a": np.zeros(2), "a/b": np.zeros(2)}}, "both an array and a group"),
    ({"params": {"a//b": np.zeros(2)}}, "not a valid name"),
    ({"params": [shared(np.zeros(2))]}, "has no name"),
    ({"params": [shared(np.zeros(2), name="w"), shared(np.zeros(2), name="w")]},
     "two variables are named 'w'"),
    ({"params": {"s": np.array(["text"])}}, "numeric arrays"),
    ({"params": {}, "progress": {"when": object()}}, "progress['when'] cannot be saved"),
    ({"params": {"enc\x00/W": np.zeros(2)}}, "without NUL characters"),
    ({"params": {"enc\udc80/W": np.zeros(2)}}, "HDF5 names are UTF-8"),
    ({"params": {}, "progress": {3: "epoch"}}, "keys must be non-empty strings"),
    ({"params": {}, "rng": {"": np.zeros(2, "uint64")}}, "rng: '' is not a valid name"),
    ({"params": {}, "recipe_resolved": "seed: 1\udc80"}, "cannot be saved as UTF-8"),
    ({"params": {}, "optim_info": {"rule": "adam", "lr": 1}}, "unknown keys"),
    ({"params": {}, "kind": "weights"}, "kind must be one of"),
    ({"params": {}, "recipe_original": b"bytes"}, "must be a str"),
])
def test_bad_contents_are_refused_before_writing(tmp_path, kwargs, message):
    path = tmp_path / "c.h5"
    with pytest.raises(CheckpointError, match=re.escape(message)):
        save_checkpoint(path, **kwargs)
    assert os.listdir(tmp_path) == []


# -- loading into shared variables ------------------------------------------------------
def variables(**shapes_and_dtypes):
    return [shared(np.zeros(shape, dtype=dtype), name=name.replace("__", "/"))
            for name, (shape, dtype) in shapes_and_dtypes.items()]


def stored_file(tmp_path, **arrays):
    return save_checkpoint(tmp_path / "p.h5", {k.replace("__", "/"): v for k, v in arrays.items()},
                           kind="params")


def test_load_params_strict_success(tmp_path):
    r = np.random.default_rng(1)
    w, b = r.standard_normal((3, 2)).astype("float32"), np.arange(2, dtype="int64")
    path = stored_file(tmp_path, l1__W=w, l1__b=b)
    vars_ = variables(l1__W=((3, 2), "float32"), l1__b=((2,), "int64"))
    report = load_params(vars_, path)
    assert report.complete and report.loaded == ["l1/W", "l1/b"] and report.cast == []
    assert same_bits(vars_[0].get_value(), w) and same_bits(vars_[1].get_value(), b)


def test_strict_failure_lists_every_problem_and_changes_nothing(tmp_path):
    path = stored_file(tmp_path, hid1__W=np.ones((4, 3)),                  # float64
                       out__W=np.ones((3, 20), "float32"), old__W=np.ones(2, "float32"),
                       old__b=np.ones(2, "float32"), ok=np.ones(2, "float32"))
    vars_ = variables(hid1__W=((4, 3), "float32"), out__W=((3, 10), "float32"),
                      hid3__W=((2, 2), "float32"), hid3__b=((2,), "float32"),
                      ok=((2,), "float32"))
    before = [v.get_value() for v in vars_]
    with pytest.raises(CheckpointMismatch) as info:
        load_params(vars_, path)
    message = str(info.value)
    assert "p.h5 does not match the model (strict=True)" in message
    assert "missing in file    : hid3/W, hid3/b" in message
    assert "unexpected in file : old/W, old/b" in message
    assert "shape mismatch     : out/W  model (3, 10), file (3, 20)" in message
    assert "dtype mismatch     : hid1/W  model float32, file float64 (pass allow_cast=True)" \
        in message
    report = info.value.report
    assert report.missing == ["hid3/W", "hid3/b"] and report.unexpected == ["old/W", "old/b"]
    assert set(report.mismatched) == {"out/W", "hid1/W"} and report.loaded == []
    assert all(same_bits(v.get_value(), b) for v, b in zip(vars_, before))  # "ok" too


def test_non_strict_loads_what_matches_and_reports_the_rest(tmp_path):
    path = stored_file(tmp_path, a=np.full(2, 5, "float32"), b=np.ones((3, 3), "float32"),
                       extra=np.ones(1, "float32"))
    a, b, c = variables(a=((2,), "float32"), b=((2, 2), "float32"), c=((1,), "float32"))
    with pytest.warns(UserWarning, match="skipped 1 mismatched array"):
        report = load_params([a, b, c], path, strict=False)
    assert report.loaded == ["a"] and report.missing == ["c"] and report.unexpected == ["extra"]
    assert report.mismatched == {"b": ("shape", "model (2, 2), file (3, 3)")}
    assert not report.complete and "loaded 1 array(s)" in str(report)
    assert same_bits(a.get_value(), np.full(2, 5, "float32"))
    assert same_bits(b.get_value(), np.zeros((2, 2), "float32"))


def test_nothing_matched_is_an_error_unless_allowed(tmp_path):
    path = stored_file(tmp_path, x=np.ones(2))
    (y,) = variables(y=((2,), "float64"))
    with pytest.raises(CheckpointMismatch, match="nothing was loaded"):
        load_params([y], path, strict=False)
    report = load_params([y], path, strict=False, allow_empty=True)
    assert report.loaded == [] and report.missing == ["y"] and report.unexpected == ["x"]


def test_include_and_exclude(tmp_path):
    arrays = {"enc1__W": np.full(2, 1.0), "enc1__b": np.full(2, 2.0),
              "enc2__W": np.full(2, 3.0), "out__W": np.full(2, 4.0)}
    path = stored_file(tmp_path, **arrays)
    # the model has a new head: strict loading of everything but it
    vars_ = variables(enc1__W=((2,), "float64"), enc1__b=((2,), "float64"),
                      enc2__W=((2,), "float64"), out__W=((3,), "float64"))
    report = load_params(vars_, path, exclude="out/*")
    assert report.complete and report.loaded == ["enc1/W", "enc1/b", "enc2/W"]
    assert vars_[2].get_value()[0] == 3.0 and vars_[3].get_value()[0] == 0.0
    fresh = variables(enc1__W=((2,), "float64"), enc1__b=((2,), "float64"),
                      enc2__W=((2,), "float64"))
    report = load_params(fresh, path, include=["enc*/W"], exclude=["enc2/*"])
    assert report.loaded == ["enc1/W"]
    assert fresh[0].get_value()[0] == 1.0 and fresh[1].get_value()[0] == 0.0
    with pytest.raises(CheckpointMismatch, match="nothing was loaded"):
        load_params(fresh, path, include="decoder/*")


def test_allow_cast(tmp_path):
    value = np.random.default_rng(2).standard_normal((2, 3))
    path = stored_file(tmp_path, w=value, i=np.array([1, -2], "int64"),
                       big=np.array([2**40], "int64"), f=np.array([1.5]), o=np.array([1e300]))
    w, i = variables(w=((2, 3), "float32"), i=((2,), "int32"))
    with pytest.warns(UserWarning, match=r"cast 2 array\(s\).*w \(float64 -> float32\)"):
        report = load_params([w, i], path, allow_cast=True, exclude=["big", "f", "o"])
    assert report.cast == ["w (float64 -> float32)", "i (int64 -> int32)"]
    assert same_bits(w.get_value(), value.astype("float32"))
    assert same_bits(i.get_value(), np.array([1, -2], "int32"))
    # never float -> int, nor values that do not fit
    big, f, o = variables(big=((1,), "int32"), f=((1,), "int64"), o=((1,), "float32"))
    with pytest.raises(CheckpointMismatch) as info:
        load_params([big, f, o], path, allow_cast=True, include=["big", "f", "o"])
    mismatched = info.value.report.mismatched
    assert "out of range" in mismatched["big"][1] and "cannot be cast" in mismatched["f"][1]
    assert "overflow" in mismatched["o"][1]


def test_restore_state_for_an_optimizer_continues_identically(tmp_path):
    def build():
        w = shared(np.array([1.0, -2.0, 3.0], dtype="float32"), name="w")
        x = T.fvector("x")
        updates = adam(T.sum(T.sqr(w - x)), [w], learning_rate=0.1)
        return w, updates, function([x], [], updates=updates)

    data = np.array([0.5, 0.25, -1.0], dtype="float32")
    w, updates, step = build()
    step(data), step(data)
    save_checkpoint(tmp_path / "last.h5", [w], optim=updates.state,
                    optim_info={"rule": updates.rule})
    step(data)
    w2, updates2, step2 = build()
    ckpt = load_checkpoint(tmp_path / "last.h5")
    load_params([w2], ckpt)
    report = restore_state(updates2.state, ckpt.optim, source=ckpt.path)
    assert report.loaded == ["w/adam/m", "w/adam/v", "adam/t"] and ckpt.optim_info["rule"] == "adam"
    step2(data)
    assert same_bits(w2.get_value(), w.get_value())
    with pytest.raises(CheckpointMismatch, match="missing in file    : w/adam/m"):
        restore_state(updates2.state, {"adam/t": np.asarray(1)}, source="x.h5")


# -- corrupt and foreign files --------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        load_checkpoint(tmp_path / "nope.h5")


def corrupt_files(tmp_path):
    good = str(tmp_path / "good.h5")
    full_checkpoint(good)
    data = (tmp_path / "good.h5").read_bytes()
    (tmp_path / "random.h5").write_bytes(np.random.default_rng(3).bytes(4096))
    (tmp_path / "truncated.h5").write_bytes(data[:len(data) // 2])
    (tmp_path / "empty.h5").write_bytes(b"")
    with h5py.File(tmp_path / "foreign.h5", "w") as f:
        f["weights"] = np.ones(3)
    with h5py.File(tmp_path / "keras.h5", "w") as f:
        f.attrs["format"] = "keras"
    # flip bits inside the raw data of one parameter
    with h5py.File(good, "r") as f:
        offset = f["params/enc1/W"].id.get_offset()
    flipped = bytearray(data)
    flipped[offset + 5] ^= 0xFF
    (tmp_path / "flipped.h5").write_bytes(bytes(flipped))


@pytest.mark.parametrize("name, message", [
    ("random.h5", "is not an nnframe checkpoint: it is not a readable HDF5 file"),
    ("truncated.h5", "it may be corrupt, truncated or from another program"),
    ("empty.h5", "not a readable HDF5 file"),
    ("foreign.h5", r"is not an nnframe checkpoint \(no 'format' attribute\); it may be corrupt"),
    ("keras.h5", r"its format is 'keras'"),
    ("flipped.h5", r"is corrupt: /params/enc1/W: the data do not match their checksum"),
])
def test_corrupt_or_foreign_file_is_a_clear_error(tmp_path, name, message):
    corrupt_files(tmp_path)
    with pytest.raises(CheckpointError, match=message) as info:
        load_checkpoint(tmp_path / name)
    assert name in str(info.value)
    # no h5py traceback chained to ours
    error = info.value
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    (w,) = variables(enc1__W=((5, 3), "float32"))
    with pytest.raises(CheckpointError):
        load_params([w], tmp_path / name, strict=False)


def test_newer_format_version_is_refused(tmp_path):
    path = str(tmp_path / "future.h5")
    save_checkpoint(path, {"w": np.zeros(2)})
    with h5py.File(path, "r+") as f:
        f.attrs["format_version"] = np.int64(C.FORMAT_VERSION + 1)
    with pytest.raises(CheckpointError, match=f"format_version {C.FORMAT_VERSION + 1} .*"
                                              f"reads format_version {C.FORMAT_VERSION} and "
                                              "older: upgrade nnframe"):
        load_checkpoint(path)


def test_unknown_groups_are_ignored_with_a_warning(tmp_path):
    path = str(tmp_path / "c.h5")
    save_checkpoint(path, {"w": np.zeros(2)})
    with h5py.File(path, "r+") as f:
        f.create_group("history")
    with pytest.warns(UserWarning, match=r"ignoring unknown groups \['history'\]"):
        assert list(load_checkpoint(path).params) == ["w"]


# -- atomic writes --------------------------------------------------------------------
def test_crash_while_writing_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = str(tmp_path / "last.h5")
    save_checkpoint(path, {"w": np.arange(3.0)}, progress={"epoch": 1})
    real = C._write_all

    def crash_half_way(fd, data):
        real(fd, memoryview(data)[:len(data) // 2])  # half the file is on disk, then Ctrl-C
        raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(C, "_write_all", crash_half_way)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"w": np.arange(3.0) + 10}, optim={"t": np.asarray(1)},
                        progress={"epoch": 2})
    assert os.listdir(tmp_path) == ["last.h5"]  # no temporary file left behind
    ckpt = load_checkpoint(path)
    assert ckpt.progress == {"epoch": 1} and same_bits(ckpt.params["w"], np.arange(3.0))


CRASHING_WRITER = """
import os, sys
import numpy as np
from nnframe import checkpoint as C
real = C._write_all
def die(fd, data):
    real(fd, memoryview(data)[:len(data) // 2])
    os._exit(9)   # a hard crash (SIGKILL, power loss): no exception handler, no cleanup
C._write_all = die
C.save_checkpoint(os.path.join(sys.argv[1], "last.h5"), {"w": np.ones(3)}, progress={"epoch": 2})
"""


def test_hard_crash_leaves_old_file_and_manager_cleans_temporaries(tmp_path):
    manager = CheckpointManager(tmp_path)
    manager.save(params={"w": np.zeros(3)}, progress={"epoch": 1})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(C.__file__)), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", CRASHING_WRITER, str(tmp_path)], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 9, proc.stderr
    leftovers = [n for n in os.listdir(tmp_path) if ".tmp-" in n]
    assert len(leftovers) == 1
    assert load_checkpoint(manager.find_resume()).progress == {"epoch": 1}
    CheckpointManager(tmp_path)  # a new run in the same directory
    assert os.listdir(tmp_path) == ["last.h5"]


def test_manager_last_best_and_history(tmp_path):
    manager = CheckpointManager(tmp_path / "run", keep_last=2)
    assert manager.find_resume() is None and find_resume(tmp_path / "missing") is None
    for epoch, is_best in ((1, True), (2, False), (3, True), (4, False)):
        manager.save(is_best=is_best, params={"w": np.full(2, float(epoch))},
                     progress={"epoch": epoch})
    names = sorted(os.listdir(tmp_path / "run"))
    assert names == ["best.h5", "ckpt-epoch0003.h5", "ckpt-epoch0004.h5", "last.h5"]
    epoch_of = {n: load_checkpoint(tmp_path / "run" / n).progress["epoch"] for n in names}
    assert epoch_of == {"best.h5": 3, "ckpt-epoch0003.h5": 3, "ckpt-epoch0004.h5": 4,
                        "last.h5": 4}
    assert manager.find_resume() == str(tmp_path / "run" / "last.h5")
    with pytest.raises(CheckpointError, match="pass progress"):
        manager.save(params={"w": np.zeros(2)})
    C.write_best(tmp_path / "run", params={"w": np.zeros(2)}, progress={"epoch": 9})
    assert load_checkpoint(manager.best_path).progress["epoch"] == 9


# -- layer networks -------------------------------------------------------------------
def build_network(seed):
    nnrng.set_rng(seed)
    l_in = InputLayer((None, 6))
    l_hid = DenseLayer(l_in, 5, name="hid")
    l_bn = BatchNormLayer(l_hid, name="bn")
    return l_in, DenseLayer(l_bn, 3, nonlinearity=None, name="out")


def test_network_round_trip_with_save_params_and_load_params(tmp_path):
    l_in, net = build_network(seed=1)
    bn = net.input_layer
    r = np.random.default_rng(4)
    # non-trivial running statistics: they must travel with the weights
    bn.mean.set_value(r.standard_normal(5).astype(config.floatX))
    bn.inv_std.set_value(r.uniform(0.5, 2, 5).astype(config.floatX))
    path = save_params(net, tmp_path / "model.h5", recipe=RECIPE)
    ckpt = load_checkpoint(path)
    assert ckpt.kind == "params" and ckpt.recipe_resolved == RECIPE
    assert list(ckpt.params) == [p.name for p in get_all_params(net)] == [
        "hid/W", "hid/b", "bn/beta", "bn/gamma", "bn/mean", "bn/inv_std", "out/W", "out/b"]
    assert ckpt.tags["hid/W"] == ("regularizable", "trainable")
    assert ckpt.tags["hid/b"] == ("trainable",) and ckpt.tags["bn/mean"] == ()

    l_in2, net2 = build_network(seed=2)
    assert not np.array_equal(net2.W.get_value(), net.W.get_value())
    report = load_params(net2, path)
    assert report.complete and len(report.loaded) == 8
    for p, q in zip(get_all_params(net), get_all_params(net2)):
        assert same_bits(p.get_value(), q.get_value()), p.name
    x = r.standard_normal((4, 6)).astype(config.floatX)
    f1 = function([l_in.input_var], get_output(net, deterministic=True))
    f2 = function([l_in2.input_var], get_output(net2, deterministic=True))
    assert same_bits(f1(x), f2(x))


def test_network_strict_mismatch_names_layers(tmp_path):
    _, net = build_network(seed=1)
    path = save_params(net, tmp_path / "model.h5")
    nnrng.set_rng(0)
    other = DenseLayer(BatchNormLayer(DenseLayer(InputLayer((None, 6)), 5, name="hid"),
                                      name="norm"), 4, name="out")
    before = [p.get_value() for p in get_all_params(other)]
    with pytest.raises(CheckpointMismatch) as info:
        load_params(other, path)
    message = str(info.value)
    assert "missing in file    : norm/beta, norm/gamma, norm/mean, norm/inv_std" in message
    assert "unexpected in file : bn/beta, bn/gamma, bn/mean, bn/inv_std" in message
    assert "out/W  model (5, 4), file (5, 3)" in message and "out/b  model (4,), file (3,)" \
        in message
    assert all(same_bits(p.get_value(), b) for p, b in zip(get_all_params(other), before))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = load_params(other, path, strict=False)
    assert report.loaded == ["hid/W", "hid/b"]
