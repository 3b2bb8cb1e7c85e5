"""Data files from strangers: HDF5 files that point at other files, files that declare huge
arrays, and malformed files.  Each must end in a DatasetError naming the file and what is
wrong, before the other file or the declared memory is touched."""
import gzip
import io
import re
import struct
import time
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest

from nnframe.config import config
from nnframe.data import DatasetError, MissingKeyError, load_hdf5, load_npz, read_idx, write_idx

#: what the "other file" holds: data an attacker wants to read through the data file
SENTINEL = np.full(4, 1234.5, dtype="float32")


@pytest.fixture
def secret(tmp_path):
    """An HDF5 file and a raw file holding SENTINEL: the files a data file must not read."""
    other = tmp_path / "secret.h5"
    with h5py.File(other, "w") as f:
        f["x"] = SENTINEL
    raw = tmp_path / "secret.bin"
    raw.write_bytes(SENTINEL.tobytes())
    return other, raw


def write_h5(path, make_x):
    """An HDF5 data file: ``make_x(f)`` makes ``x``; ``y`` is ordinary labels."""
    with h5py.File(path, "w") as f:
        make_x(f)
        f["y"] = np.arange(4) % 2
    return path


def external_storage(raw):
    return lambda f: f.create_dataset("x", shape=(4,), dtype="f4",
                                      external=[(str(raw), 0, h5py.h5f.UNLIMITED)])


def virtual(other):
    def make(f):
        layout = h5py.VirtualLayout(shape=(4,), dtype="f4")
        layout[:] = h5py.VirtualSource(str(other), "x", shape=(4,))
        f.create_virtual_dataset("x", layout)
    return make


def external_link(other):
    def make(f):
        f["x"] = h5py.ExternalLink(str(other), "/x")
    return make


def plain_h5py_reads(path, key="x"):
    """What h5py itself returns for ``key``: proves the file really reaches the other file."""
    with h5py.File(path, "r") as f:
        return f[key][()]


# -- HDF5 features that read other files -----------------------------------

@pytest.mark.parametrize("kind,message", [
    ("external storage", "dataset '/x' keeps its data in other file(s) ('{raw}'"),
    ("virtual", "dataset '/x' is a virtual dataset made of other datasets ('x' in '{other}')"),
    ("external link", "'/x' is an external link to '/x' in the file '{other}'"),
])
def test_hdf5_reading_another_file_is_refused(tmp_path, secret, kind, message):
    other, raw = secret
    make = {"external storage": external_storage(raw), "virtual": virtual(other),
            "external link": external_link(other)}[kind]
    path = write_h5(tmp_path / "data.h5", make)
    np.testing.assert_array_equal(plain_h5py_reads(path), SENTINEL)  # the attack is real
    with pytest.raises(DatasetError) as info:
        load_hdf5(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ")
    assert message.format(raw=raw, other=other) in text
    assert "nnframe reads only data stored inside the file itself" in text
    assert "1234.5" not in text


def test_hdf5_external_link_to_a_group_on_the_path_is_refused(tmp_path, secret):
    other, _ = secret
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["train"] = h5py.ExternalLink(str(other), "/")
        f["y"] = np.arange(4)
    np.testing.assert_array_equal(plain_h5py_reads(path, "train/x"), SENTINEL)
    with pytest.raises(DatasetError, match=re.escape(
            f"{path}: '/train' is an external link to '/' in the file '{other}'")):
        load_hdf5(path, x="train/x")


def test_hdf5_soft_links_inside_the_file_are_followed(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["arrays/x"] = np.arange(8.0).reshape(4, 2)
        f["arrays/y"] = np.arange(4) % 2
        f["x"] = h5py.SoftLink("/arrays/x")
        f["arrays/labels"] = h5py.SoftLink("y")  # relative to its group
    data = load_hdf5(path, x="x", y="arrays/labels")
    np.testing.assert_array_equal(data.x, np.arange(8.0).reshape(4, 2))
    np.testing.assert_array_equal(data.y, np.arange(4) % 2)


def test_hdf5_soft_link_loop_is_an_error(tmp_path):
    path = tmp_path / "loop.h5"
    with h5py.File(path, "w") as f:
        f["a"] = h5py.SoftLink("/b")
        f["b"] = h5py.SoftLink("/a")
    with pytest.raises(DatasetError, match=re.escape(f"{path}: more than 16 soft links")):
        load_hdf5(path, x="a", y=None)


# -- declared sizes --------------------------------------------------------

def npz_declaring(path, shape, dtype="<f4"):
    """An npz whose 'x.npy' member is only a header declaring ``shape``: a few hundred bytes."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": dtype, "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue())
    return path


def test_npz_declaring_4_tb_is_refused_without_allocating(tmp_path):
    path = npz_declaring(tmp_path / "bomb.npz", (10 ** 12,))
    assert path.stat().st_size < 1000
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DatasetError) as info:
            load_npz(path, y=None)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 5
    assert peak < 10 ** 7
    assert str(info.value).startswith(
        f"{path}: array 'x' declares an array of shape (1000000000000,) and dtype float32: "
        "4.0 TB, more than the limit of ")


def test_hdf5_declaring_40_tb_is_refused(tmp_path):
    path = tmp_path / "huge.h5"
    with h5py.File(path, "w") as f:  # chunked and never written: nothing is allocated
        f.create_dataset("x", shape=(10 ** 7, 10 ** 6), dtype="f4", chunks=(1, 1000))
    assert path.stat().st_size < 100_000
    with pytest.raises(DatasetError, match=re.escape(
            f"{path}: dataset '/x' declares an array of shape (10000000, 1000000) and dtype "
            "float32: 40.0 TB, more than the limit of ")):
        load_hdf5(path, y=None)


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_header_declaring_huge_dims_is_refused(tmp_path, compressed):
    data = struct.pack(">HBB", 0, 0x0D, 4) + struct.pack(">IIII", *[2 ** 32 - 1] * 4)
    path = tmp_path / ("bomb.idx.gz" if compressed else "bomb.idx")
    path.write_bytes(gzip.compress(data) if compressed else data)
    with pytest.raises(DatasetError, match=re.escape(
            f"{path}: the IDX header declares an array of shape ({2 ** 32 - 1}, {2 ** 32 - 1}, "
            f"{2 ** 32 - 1}, {2 ** 32 - 1}) and dtype float32: ")):
        read_idx(path)


def test_idx_gzip_bomb_is_refused_before_decompressing(tmp_path):
    # 100 MB of zeros compress to ~100 kB; the header declares them
    shape = (100, 1000, 1000)
    path = tmp_path / "zeros.idx.gz"
    write_idx(path, np.zeros(shape, np.uint8))
    assert path.stat().st_size < 10 ** 6
    tracemalloc.start()
    try:
        with config.change_flags(max_array_bytes=10 ** 6):
            with pytest.raises(DatasetError, match=re.escape(
                    f"{path}: the IDX header declares an array of shape {shape} and dtype "
                    "uint8: 100.0 MB, more than the limit of 1.0 MB")):
                read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 ** 7


def write_small_files(tmp_path):
    """The same 1,600-byte float32 array x (and labels y) as npz, HDF5 and IDX files."""
    x = np.arange(400, dtype="float32").reshape(20, 20)
    y = np.arange(20) % 2
    np.savez(tmp_path / "small.npz", x=x, y=y)
    with h5py.File(tmp_path / "small.h5", "w") as f:
        f["x"], f["y"] = x, y
    write_idx(tmp_path / "small-images.idx", x)
    write_idx(tmp_path / "small-labels.idx", y.astype(np.uint8))
    return {"npz": lambda: load_npz(tmp_path / "small.npz"),
            "hdf5": lambda: load_hdf5(tmp_path / "small.h5"),
            "idx": lambda: read_idx(tmp_path / "small-images.idx")}


@pytest.mark.parametrize("kind,what", [("npz", "array 'x'"), ("hdf5", "dataset '/x'"),
                                       ("idx", "the IDX header")])
def test_max_array_bytes_is_the_limit(tmp_path, kind, what):
    load = write_small_files(tmp_path)[kind]
    with config.change_flags(max_array_bytes=1000):
        with pytest.raises(DatasetError) as info:
            load()
    assert f": {what} declares an array of shape (20, 20) and dtype float32: 1.6 kB, more " \
           "than the limit of 1.0 kB (config.max_array_bytes" in str(info.value)
    with config.change_flags(max_array_bytes=1600):  # exactly the array's size
        loaded = load()
    x = loaded if kind == "idx" else loaded.x
    np.testing.assert_array_equal(x, np.arange(400).reshape(20, 20))


# -- malformed files -------------------------------------------------------

def test_hdf5_with_damaged_metadata(tmp_path):
    good = write_h5(tmp_path / "good.h5", lambda f: f.create_dataset("x", data=np.ones(4)))
    raw = good.read_bytes()
    for signature in (b"SNOD", b"HEAP"):  # symbol table node and local heap
        assert raw.count(signature) == 1
        path = tmp_path / f"bad-{signature.decode()}.h5"
        path.write_bytes(raw.replace(signature, b"XXXX"))
        with pytest.raises(DatasetError, match=re.escape(f"{path}: cannot read the HDF5 file")):
            load_hdf5(path)


def test_hdf5_truncated_and_not_hdf5(tmp_path):
    raw = write_h5(tmp_path / "good.h5", lambda f: f.create_dataset("x", data=np.ones(4))) \
        .read_bytes()
    for name, data in (("cut.h5", raw[:len(raw) // 2]), ("text.h5", b"x,y\n1,2\n" * 100)):
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(DatasetError, match=re.escape(f"{path}: not a readable HDF5 file")):
            load_hdf5(path)


def test_hdf5_group_as_dataset(tmp_path):
    path = tmp_path / "data.h5"
    with h5py.File(path, "w") as f:
        f["x/inner"] = np.ones(3)
        f["y"] = np.arange(3)
    with pytest.raises(MissingKeyError, match=re.escape(f"{path}: no dataset named 'x'")):
        load_hdf5(path)


def test_npz_truncated(tmp_path):
    path = tmp_path / "cut.npz"
    np.savez(path, x=np.ones((6, 5)), y=np.arange(6))
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DatasetError, match=re.escape(f"{path}: not a readable .npz archive")):
        load_npz(path)


@pytest.mark.parametrize("member,message", [
    (b"this is not an array", "array 'x' is not a valid .npy member (the magic string is not "
                              "correct"),
    (b"\x93NUMPY\x01\x00garbage", "array 'x' is not a valid .npy member (EOF: reading array "
                                  "header"),
    (b"\x93NUMPY\x03\x00" + b"\x00" * 20, "array 'x' is not a valid .npy member (the .npy "
                                          "format version 3.0 is not read"),
])
def test_npz_member_not_a_valid_npy(tmp_path, member, message):
    path = tmp_path / "bad.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", member)
    with pytest.raises(DatasetError, match=re.escape(f"{path}: {message}")):
        load_npz(path, y=None)


def test_npz_member_with_damaged_data(tmp_path):
    path = tmp_path / "crc.npz"
    buffer = io.BytesIO()
    np.save(buffer, np.arange(1000.0))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", buffer.getvalue())
    raw = bytearray(path.read_bytes())
    raw[200] ^= 0xFF  # inside the deflate stream of x.npy
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match=re.escape(f"{path}: cannot read array 'x'")):
        load_npz(path, y=None)


def test_idx_corrupt_deflate_data(tmp_path):
    data = struct.pack(">HBBII", 0, 0x08, 2, 64, 64) + bytes(range(256)) * 16
    compressed = bytearray(gzip.compress(data))
    compressed[12] ^= 0xFF  # the deflate stream starts after the 10-byte gzip header
    path = tmp_path / "bad.idx.gz"
    path.write_bytes(bytes(compressed))
    with pytest.raises(DatasetError, match=re.escape(f"{path}: corrupt or truncated gzip data")):
        read_idx(path)
