"""IDX files: read_idx against a hand-written struct encoder, write_idx round trips, and
every malformed file gives an error naming the file and what is wrong."""
import gzip
import re
import struct

import numpy as np
import pytest

from nnframe.data import DatasetError, read_idx, write_idx

# (IDX type code, big-endian struct/NumPy type), from the format's definition
CODES = [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")]
SHAPES = [(7,), (3, 5), (4, 2, 3), (2, 3, 2, 2)]


def reference_bytes(code, array):
    """IDX bytes built by hand: magic 0x0000TTNN, big-endian uint32 sizes, big-endian data."""
    header = struct.pack(">HBB", 0, code, array.ndim)
    header += b"".join(struct.pack(">I", s) for s in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype).kind
    if kind == "f":
        return rng.normal(size=shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("code,big_endian", CODES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("compressed", [False, True])
def test_read_matches_hand_encoded_file(tmp_path, code, big_endian, shape, compressed):
    native = np.dtype(big_endian).newbyteorder("=")
    array = sample(native, shape)
    data = reference_bytes(code, array)
    path = tmp_path / ("a.idx.gz" if compressed else "a.idx")
    path.write_bytes(gzip.compress(data) if compressed else data)
    result = read_idx(path)
    assert result.dtype == native and result.dtype.isnative
    assert result.shape == shape
    np.testing.assert_array_equal(result, array)


@pytest.mark.parametrize("code,big_endian", CODES)
def test_write_produces_the_reference_bytes(tmp_path, code, big_endian):
    array = sample(np.dtype(big_endian).newbyteorder("="), (3, 4))
    write_idx(tmp_path / "a.idx", array)
    assert (tmp_path / "a.idx").read_bytes() == reference_bytes(code, array)
    write_idx(tmp_path / "a.idx.gz", array)  # .gz names are compressed
    raw = (tmp_path / "a.idx.gz").read_bytes()
    assert raw[:2] == b"\x1f\x8b" and gzip.decompress(raw) == reference_bytes(code, array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx.gz"), array)


def test_write_accepts_big_endian_input(tmp_path):
    array = np.arange(6, dtype=">i4").reshape(2, 3)
    write_idx(tmp_path / "a.idx", array)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), np.arange(6).reshape(2, 3))


def test_mnist_style_header(tmp_path):
    labels = np.array([5, 0, 4, 1], dtype=np.uint8)
    write_idx(tmp_path / "labels", labels)
    assert (tmp_path / "labels").read_bytes()[:8] == bytes.fromhex("00000801 00000004")


def write_raw(tmp_path, data, name="bad.idx"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("data,message", [
    (b"\x00\x00", "truncated IDX file: 2 bytes, shorter than the 4-byte magic number"),
    (b"\x12\x34\x08\x01" + b"\x00" * 8,
     "not an IDX file: magic number 0x12340801 does not start with two zero bytes"),
    (b"\x00\x00\x0a\x01\x00\x00\x00\x01\x00",
     "unknown IDX type code 0x0A in magic number 0x00000A01 (known: 0x08 ubyte, 0x09 byte, "
     "0x0B short, 0x0C int, 0x0D float, 0x0E double)"),
    (b"\x00\x00\x08\x00", "IDX magic number 0x00000800 gives 0 dimensions; nnframe reads 1 to 4"),
    (b"\x00\x00\x08\x05" + b"\x00" * 20, "gives 5 dimensions; nnframe reads 1 to 4"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00",
     "truncated IDX file: the header of a 3-d file takes 16 bytes, found 10"),
    (b"\x00\x00\x0b\x02\x00\x00\x00\x02\x00\x00\x00\x03" + b"\x00" * 10,
     "truncated IDX file: the header gives shape (2, 3) of short (12 bytes of data after the "
     "12-byte header), found 10 bytes"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02" + b"\x01\x02\x03",
     "1 unexpected bytes after the data of shape (2,) of ubyte"),
])
@pytest.mark.parametrize("compressed", [False, True])
def test_malformed_files(tmp_path, data, message, compressed):
    path = write_raw(tmp_path, gzip.compress(data) if compressed else data)
    with pytest.raises(DatasetError) as info:
        read_idx(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_truncated_gzip(tmp_path):
    data = gzip.compress(reference_bytes(0x08, np.zeros((10, 10), np.uint8)))
    path = write_raw(tmp_path, data[:len(data) // 2], "cut.idx.gz")
    with pytest.raises(DatasetError, match="cut.idx.gz: corrupt or truncated gzip data"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="IDX file not found: .*nope.idx"):
        read_idx(tmp_path / "nope.idx")


@pytest.mark.parametrize("array,error,message", [
    (np.zeros(3, np.int64), TypeError, "IDX files hold uint8, int8, int16, int32, float32 or "
                                       "float64 elements, not int64"),
    (np.zeros((1,) * 5, np.uint8), ValueError, "write_idx writes 1 to 4 dimensions"),
    (np.uint8(3), ValueError, "write_idx writes 1 to 4 dimensions, got shape ()"),
])
def test_write_errors(tmp_path, array, error, message):
    with pytest.raises(error, match=re.escape(message)):
        write_idx(tmp_path / "a.idx", array)
