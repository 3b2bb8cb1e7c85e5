"""Read and write IDX files, the format of the original MNIST distribution.

An IDX file is a 4-byte magic number ``0x00 0x00 TT NN`` (``TT`` the element
type, ``NN`` the number of dimensions), then ``NN`` big-endian uint32 sizes,
then the elements in C order, big-endian::

    0x08 unsigned byte   0x09 signed byte   0x0B int16
    0x0C int32           0x0D float32       0x0E float64

Decisions:

- A file is gzip-compressed when it starts with the gzip magic bytes
  (``1f 8b``), whatever its name; ``write_idx`` compresses when the name ends
  in ``.gz``.
- nnframe reads 1 to 4 dimensions (what image and label files use); other
  counts are reported as a malformed header, which is what they usually are.
- The reader is strict: a file shorter than its header promises, or with
  bytes after the data, is an error naming the file, the expected and the
  found sizes.
- Arrays come back in native byte order and the IDX element type
  (uint8 images stay uint8; loaders cast them).
- The size the header declares is checked against ``config.max_array_bytes``
  (:mod:`nnframe.limits`) before the data is read, and the data is read (and
  decompressed) only up to that size: a small file, or a small gzip "bomb",
  cannot make the reader allocate more than the data it really holds.

>>> import numpy as np, os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), 'labels.idx1-ubyte.gz')
>>> write_idx(path, np.array([5, 0, 4], dtype=np.uint8))
>>> read_idx(path)
array([5, 0, 4], dtype=uint8)
"""
import gzip
import math
import os
import zlib

import numpy as np

from nnframe.data.errors import DatasetError
from nnframe.limits import check_array_size

__all__ = ["read_idx", "write_idx", "IDX_TYPES"]

#: IDX type code -> (name, big-endian NumPy dtype)
IDX_TYPES = {
    0x08: ("ubyte", np.dtype(">u1")),
    0x09: ("byte", np.dtype(">i1")),
    0x0B: ("short", np.dtype(">i2")),
    0x0C: ("int", np.dtype(">i4")),
    0x0D: ("float", np.dtype(">f4")),
    0x0E: ("double", np.dtype(">f8")),
}
_CODE_OF_DTYPE = {dtype.newbyteorder("="): code for code, (_, dtype) in IDX_TYPES.items()}
_MAX_DIMS = 4
_GZIP_MAGIC = b"\x1f\x8b"
#: the longest header: magic number and _MAX_DIMS sizes
_MAX_HEADER = 4 + 4 * _MAX_DIMS
#: bytes read at a time, so memory grows with the data found, not the size declared
_CHUNK = 1 << 24
#: unexpected bytes after the data are counted up to this many, then reported as "more than"
_MAX_COUNTED = 1 << 20


def _known_types():
    return ", ".join(f"0x{code:02X} {name}" for code, (name, _) in IDX_TYPES.items())


def _open(path):
    """The file opened for reading (through gzip when it starts with the gzip magic bytes)
    and whether it is compressed."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"IDX file not found: {path}")
    with open(path, "rb") as f:
        compressed = f.read(len(_GZIP_MAGIC)) == _GZIP_MAGIC
    return (gzip.open(path, "rb") if compressed else open(path, "rb")), compressed


def _fill(stream, data, size, path, compressed):
    """Append bytes of ``stream`` to the bytearray ``data`` until it holds ``size`` bytes or
    the stream ends; returns ``data``.

    Reads _CHUNK bytes at a time, so memory grows with the data found, not the size asked
    for.  Decompression errors become a DatasetError naming the file.
    """
    try:
        while len(data) < size:
            chunk = stream.read(min(size - len(data), _CHUNK))
            if not chunk:
                break
            data += chunk
    except (OSError, EOFError, zlib.error) as e:
        if not compressed:
            raise  # a failing disk, not a malformed file
        raise DatasetError(f"{path}: corrupt or truncated gzip data ({e})") from None
    return data


def _count_rest(stream, path, compressed):
    """(bytes left in ``stream``, whether that is all): counting stops after _MAX_COUNTED."""
    count = 0
    while count <= _MAX_COUNTED:
        chunk = _fill(stream, bytearray(), 1 << 16, path, compressed)
        if not chunk:
            return count, True
        count += len(chunk)
    return count, False


def _parse_header(path, data):
    """(element dtype, shape, header size in bytes) from the start of ``data``."""
    if len(data) < 4:
        raise DatasetError(f"{path}: truncated IDX file: {len(data)} bytes, shorter than the "
                           "4-byte magic number")
    magic = int.from_bytes(data[:4], "big")
    if data[0] != 0 or data[1] != 0:
        raise DatasetError(f"{path}: not an IDX file: magic number 0x{magic:08X} does not start "
                           "with two zero bytes (IDX magic is 0x0000TTNN: TT the type code, NN "
                           "the number of dimensions)")
    code, ndim = data[2], data[3]
    if code not in IDX_TYPES:
        raise DatasetError(f"{path}: unknown IDX type code 0x{code:02X} in magic number "
                           f"0x{magic:08X} (known: {_known_types()})")
    if not 1 <= ndim <= _MAX_DIMS:
        raise DatasetError(f"{path}: IDX magic number 0x{magic:08X} gives {ndim} dimensions; "
                           f"nnframe reads 1 to {_MAX_DIMS}")
    header_size = 4 + 4 * ndim
    if len(data) < header_size:
        raise DatasetError(f"{path}: truncated IDX file: the header of a {ndim}-d file takes "
                           f"{header_size} bytes, found {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    return IDX_TYPES[code][1], shape, header_size


def read_idx(path):
    """Read an IDX file (optionally gzip-compressed) into a NumPy array.

    Parameters
    ----------
    path : str or os.PathLike
        The file; gzip compression is detected from its first bytes.

    Returns
    -------
    numpy.ndarray
        The array, of the file's shape and element type, in native byte order.

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    nnframe.data.DatasetError
        For a bad magic number, an unknown type code, a declared size over
        ``config.max_array_bytes``, a truncated file, corrupt gzip data or
        trailing bytes; the message names the file.

    Examples
    --------
    >>> images = read_idx('train-images-idx3-ubyte.gz')   # doctest: +SKIP
    >>> images.shape, images.dtype                         # doctest: +SKIP
    ((60000, 28, 28), dtype('uint8'))
    """
    path = os.fspath(path)
    stream, compressed = _open(path)
    with stream:
        head = _fill(stream, bytearray(), _MAX_HEADER, path, compressed)
        dtype, shape, header_size = _parse_header(path, head)
        name = IDX_TYPES[head[2]][0]
        # before reading: a 20-byte header can declare 2**128 bytes
        expected = check_array_size(shape, dtype.newbyteorder("="), f"{path}: the IDX header",
                                    error=DatasetError)
        # one byte more than expected tells whether there is more data than declared
        data = _fill(stream, head[header_size:], expected + 1, path, compressed)
        found = len(data)
        if found < expected:
            raise DatasetError(f"{path}: truncated IDX file: the header gives shape {shape} of "
                               f"{name} ({expected} bytes of data after the {header_size}-byte "
                               f"header), found {found} bytes")
        if found > expected:
            rest, complete = _count_rest(stream, path, compressed)
            extra = f"{found - expected + rest}" if complete else \
                f"more than {found - expected + rest}"
            raise DatasetError(f"{path}: {extra} unexpected bytes after the data of shape "
                               f"{shape} of {name} (is the header's shape right?)")
    array = np.frombuffer(data, dtype=dtype, count=math.prod(shape))
    return array.reshape(shape).astype(dtype.newbyteorder("="))


def write_idx(path, array):
    """Write ``array`` as an IDX file, gzip-compressed when ``path`` ends in ``.gz``.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    array : array_like
        1 to 4 dimensions, of dtype uint8, int8, int16, int32, float32 or
        float64 (the IDX element types).

    Examples
    --------
    >>> write_idx('images.idx3-ubyte', np.zeros((10, 28, 28), np.uint8))  # doctest: +SKIP
    """
    path = os.fspath(path)
    array = np.asarray(array)
    code = _CODE_OF_DTYPE.get(array.dtype.newbyteorder("="))
    if code is None:
        raise TypeError(f"IDX files hold uint8, int8, int16, int32, float32 or float64 elements, "
                        f"not {array.dtype}; cast the array first")
    if not 1 <= array.ndim <= _MAX_DIMS:
        raise ValueError(f"write_idx writes 1 to {_MAX_DIMS} dimensions, got shape {array.shape}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(size).to_bytes(4, "big") for size in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=IDX_TYPES[code][1]).tobytes()
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)
