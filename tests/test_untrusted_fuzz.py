"""Fuzzing the loaders of untrusted input: random bytes and mutations of real files.

Every outcome must be success or one of nnframe's own errors (RecipeErrors,
DatasetError, CheckpointError), never another exception; the checkpoint and
HDF5 cases run in a subprocess, so a crash of the HDF5 library fails the test
(naming the signal) instead of killing pytest.  Seeds are fixed: a failure is
reproducible from the case printed in the assertion.
"""
import glob
import json
import os
import signal
import subprocess
import sys
import textwrap
import zlib

import numpy as np
import pytest

from nnframe.train.recipe import RecipeErrors, load_recipe
from nnframe.train.schema import check_recipe

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPES = sorted(glob.glob(os.path.join(REPO, "recipes", "*.yaml")))
#: bytes that mean something to YAML, to HDF5 offsets, or to text decoders
SPECIAL = [b"&a ", b"*a", b"!!python/object:os.system ", b"[", b"]", b"{", b"}", b": ",
           b"\n", b"\t", b"%YAML 1.1\n", b"\x00", b"\xff\xfe", b"- ", b"'", b'"', b"<<: *a",
           b"? ", b"#", b"1e999", b"-.inf", b".nan", b"\r"]


def mutate(data, rng):
    """One random mutation of ``data`` (bytes): flips, inserts, deletions, cuts, repeats."""
    data = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(6)
        at = int(rng.integers(0, max(len(data), 1)))
        if kind == 0 and data:
            data[at % len(data)] ^= 1 << int(rng.integers(8))
        elif kind == 1:
            data[at:at] = SPECIAL[int(rng.integers(len(SPECIAL)))]
        elif kind == 2:
            del data[at:at + int(rng.integers(1, 40))]
        elif kind == 3:
            data = data[:at]
        elif kind == 4:
            end = at + int(rng.integers(1, 200))
            data[at:at] = data[at:end] * int(rng.integers(2, 5))
        else:
            data[at:at] = bytes(rng.integers(0, 256, int(rng.integers(1, 16)), dtype=np.uint8))
    return bytes(data)


def _check_recipe_file(path):
    try:
        check_recipe(load_recipe(path))
    except RecipeErrors:
        pass


@pytest.mark.parametrize("recipe", RECIPES, ids=os.path.basename)
def test_mutated_recipes_load_or_give_recipe_errors(recipe, tmp_path):
    original = open(recipe, "rb").read()
    rng = np.random.default_rng(zlib.crc32(os.path.basename(recipe).encode()))
    for case in range(150):
        data = mutate(original, rng)
        path = tmp_path / f"case{case}.yaml"
        path.write_bytes(data)
        try:
            _check_recipe_file(path)
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"case {case} of {recipe} raised {type(exc).__name__}: {exc}\n"
                        f"--- input ---\n{data!r}")


def test_random_bytes_as_a_recipe_give_recipe_errors(tmp_path):
    rng = np.random.default_rng(12)
    for case in range(100):
        data = bytes(rng.integers(0, 256, int(rng.integers(0, 400)), dtype=np.uint8))
        path = tmp_path / f"case{case}.yaml"
        path.write_bytes(data)
        try:
            _check_recipe_file(path)
        except Exception as exc:  # noqa: BLE001
            pytest.fail(f"case {case} raised {type(exc).__name__}: {exc}\n--- input ---\n{data!r}")


# -- binary files, in a subprocess ----------------------------------------------------------
_FUZZ_FILES = """
import json, sys
import numpy as np
from nnframe.checkpoint import CheckpointError, load_checkpoint
from nnframe.data import DatasetError, load_hdf5, load_npz
from nnframe.data.idx import read_idx
sys.path.insert(0, {tests!r})
from test_untrusted_fuzz import mutate

LOADERS = {{
    "checkpoint": (load_checkpoint, CheckpointError),
    "hdf5": (lambda p: load_hdf5(p, x="x", y="y"), DatasetError),
    "npz": (lambda p: load_npz(p, x="x", y="y"), DatasetError),
    "idx": (read_idx, DatasetError),
}}
kind, original_path, work, cases, seed = sys.argv[1:6]
original = open(original_path, "rb").read()
rng = np.random.default_rng(int(seed))
loader, allowed = LOADERS[kind]
outcomes = {{"ok": 0, "refused": 0}}
for case in range(int(cases)):
    if case % 4 == 3:
        data = bytes(rng.integers(0, 256, int(rng.integers(0, 2000)), dtype=np.uint8))
    else:
        data = mutate(original, rng)
    path = f"{{work}}/case{{case}}.{{kind}}"
    with open(path, "wb") as fh:
        fh.write(data)
    try:
        loader(path)
        outcomes["ok"] += 1
    except allowed:
        outcomes["refused"] += 1
    except Exception as exc:
        print(json.dumps({{"case": case, "error": f"{{type(exc).__name__}}: {{exc}}"}}))
        sys.exit(1)
print(json.dumps(outcomes))
"""


def _real_files(tmp_path):
    """A real checkpoint, HDF5 data file, npz and IDX file to mutate."""
    import h5py

    from nnframe.checkpoint import save_checkpoint
    from nnframe.data.idx import write_idx
    rng = np.random.default_rng(0)
    files = {}
    files["checkpoint"] = tmp_path / "real.h5"
    save_checkpoint(files["checkpoint"], {"enc1/W": rng.normal(size=(4, 3)).astype("float32"),
                                          "enc1/b": np.zeros(3, "float32")},
                    progress={"epoch": 2, "step": 10}, recipe_original="name: x\n")
    files["hdf5"] = tmp_path / "data.h5"
    with h5py.File(files["hdf5"], "w") as f:
        f["x"] = rng.normal(size=(6, 5)).astype("float32")
        f["y"] = np.arange(6) % 2
    files["npz"] = tmp_path / "data.npz"
    np.savez(files["npz"], x=rng.normal(size=(6, 5)).astype("float32"), y=np.arange(6) % 2)
    files["idx"] = tmp_path / "images.idx"
    write_idx(files["idx"], rng.integers(0, 255, (3, 4, 4)).astype(np.uint8))
    return files


@pytest.mark.parametrize("kind", ["checkpoint", "hdf5", "npz", "idx"])
def test_mutated_and_random_files_load_or_give_nnframe_errors(tmp_path, kind):
    original = _real_files(tmp_path)[kind]
    work = tmp_path / "cases"
    work.mkdir()
    code = _FUZZ_FILES.format(tests=os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code), kind, str(original),
                          str(work), "200", "7"], capture_output=True, text=True, env=env,
                         timeout=600)
    if out.returncode < 0:
        pytest.fail(f"the {kind} loader crashed the process with "
                    f"{signal.Signals(-out.returncode).name}\n{out.stderr[-3000:]}")
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    outcomes = json.loads(out.stdout.strip().splitlines()[-1])
    assert outcomes["refused"] > 0 and outcomes["ok"] + outcomes["refused"] == 200
    assert sorted(os.listdir(tmp_path)) == sorted(
        ["cases", "real.h5", "data.h5", "data.npz", "images.idx"])  # nothing written elsewhere
