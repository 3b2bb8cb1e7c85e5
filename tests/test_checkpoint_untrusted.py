"""Checkpoints from strangers: a real checkpoint edited with h5py so that a parameter reads
another file (external storage, a virtual dataset, an external link) or declares a huge
array, and damaged files.  load_checkpoint and load_params (hence ``--resume``) must raise
CheckpointError naming the dataset, before reading the other file or allocating."""
import re

import h5py
import numpy as np
import pytest

from nnframe import config
from nnframe.checkpoint import CheckpointError, load_checkpoint, load_params, save_params
from nnframe.layers import DenseLayer, InputLayer, get_all_params

#: what the "other file" holds, in the shape and dtype of the parameter it replaces
SHAPE = (6, 3)
SENTINEL = np.full(SHAPE, 1234.5, dtype="float32")


def network():
    return DenseLayer(InputLayer((None, 6)), 3, name="out")


@pytest.fixture
def checkpoint(tmp_path):
    """A real parameter export of a network ('out/W', 'out/b')."""
    path = tmp_path / "model.h5"
    save_params(network(), path, recipe="model: [dense: {units: 3}]\n")
    return path


@pytest.fixture
def secret(tmp_path):
    """An HDF5 file and a raw file holding SENTINEL: what a checkpoint must not read."""
    other = tmp_path / "secret.h5"
    with h5py.File(other, "w") as f:
        f["W"] = SENTINEL
        f["text"] = "the contents of another file"
    raw = tmp_path / "secret.bin"
    raw.write_bytes(SENTINEL.tobytes())
    return other, raw


def replace_weights(path, make):
    """Replace /params/out/W by ``make(params_group)``, keeping its index and tags; the
    sha256 attribute goes, as an attacker who does not know the other file would drop it."""
    with h5py.File(path, "r+") as f:
        params = f["params/out"]
        attrs = {k: v for k, v in params["W"].attrs.items() if k != "sha256"}
        del params["W"]
        make(params)
        if isinstance(params.get("W", getlink=True), h5py.HardLink):
            params["W"].attrs.update(attrs)


def external_storage(raw):
    return lambda g: g.create_dataset("W", shape=SHAPE, dtype="f4",
                                      external=[(str(raw), 0, h5py.h5f.UNLIMITED)])


def virtual(other):
    def make(g):
        layout = h5py.VirtualLayout(shape=SHAPE, dtype="f4")
        layout[:] = h5py.VirtualSource(str(other), "W", shape=SHAPE)
        g.create_virtual_dataset("W", layout)
    return make


def external_link(other):
    def make(g):
        g["W"] = h5py.ExternalLink(str(other), "/W")
    return make


def huge(g):
    # chunked and never written: the file stays small, the declared array is 40 TB
    g.create_dataset("W", shape=(10 ** 7, 10 ** 6), dtype="f4", chunks=(1, 1000))


CASES = {
    "external storage": (lambda other, raw: external_storage(raw),
                         "dataset '/params/out/W' keeps its data in other file(s) ('{raw}'"),
    "virtual": (lambda other, raw: virtual(other),
                "dataset '/params/out/W' is a virtual dataset made of other datasets "
                "('W' in '{other}')"),
    "external link": (lambda other, raw: external_link(other),
                      "'/params/out/W' is an external link to '/W' in the file '{other}'"),
    "huge": (lambda other, raw: huge,
             "dataset '/params/out/W' declares an array of shape (10000000, 1000000) and "
             "dtype float32: 40.0 TB, more than the limit of "),
}


@pytest.mark.parametrize("kind", list(CASES))
def test_edited_parameter_is_refused_by_load_checkpoint(checkpoint, secret, kind):
    other, raw = secret
    make, message = CASES[kind]
    replace_weights(checkpoint, make(other, raw))
    if kind != "huge":  # the attack is real: h5py itself reads the other file
        with h5py.File(checkpoint, "r") as f:
            np.testing.assert_array_equal(f["params/out/W"][()], SENTINEL)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(checkpoint)
    text = str(info.value)
    assert text.startswith(f"{checkpoint}")
    assert message.format(raw=raw, other=other) in text
    assert "1234.5" not in text


@pytest.mark.parametrize("kind", list(CASES))
def test_edited_parameter_is_refused_by_load_params(checkpoint, secret, kind):
    other, raw = secret
    make, message = CASES[kind]
    replace_weights(checkpoint, make(other, raw))
    net = network()
    before = [p.get_value().copy() for p in get_all_params(net)]
    with pytest.raises(CheckpointError, match=re.escape(message.format(raw=raw, other=other))):
        load_params(net, checkpoint)
    for p, value in zip(get_all_params(net), before):  # nothing was set
        np.testing.assert_array_equal(p.get_value(), value)


def test_external_link_anywhere_in_the_file_is_refused(checkpoint, secret):
    other, _ = secret
    with h5py.File(checkpoint, "r+") as f:
        del f["recipe/resolved"]
        f["recipe/resolved"] = h5py.ExternalLink(str(other), "/text")
    with h5py.File(checkpoint, "r") as f:  # the attack is real
        assert f["recipe/resolved"].asstr()[()] == "the contents of another file"
    with pytest.raises(CheckpointError, match=re.escape(
            f"{checkpoint}: '/recipe/resolved' is an external link to '/text' in the file "
            f"'{other}'")):
        load_checkpoint(checkpoint)


def test_external_link_in_an_unknown_group_is_refused(checkpoint, secret):
    other, _ = secret
    with h5py.File(checkpoint, "r+") as f:
        f["extra/data"] = h5py.ExternalLink(str(other), "/W")
    with pytest.raises(CheckpointError, match=re.escape(
            f"{checkpoint}: '/extra/data' is an external link to '/W' in the file '{other}'")):
        load_checkpoint(checkpoint)


def test_max_array_bytes_applies_to_checkpoints(tmp_path):
    path = tmp_path / "big.h5"
    save_params({"out/W": np.zeros((100, 100), "float32")}, path)  # 40000 bytes
    with config.change_flags(max_array_bytes=39999):
        with pytest.raises(CheckpointError, match=re.escape(
                f"{path}: dataset '/params/out/W' declares an array of shape (100, 100) and "
                "dtype float32: 40.0 kB, more than the limit of ")):
            load_checkpoint(path)
    with config.change_flags(max_array_bytes=40000):
        assert load_checkpoint(path).params["out/W"].shape == (100, 100)


# -- damaged files --------------------------------------------------------------------
def flip_inside(marker, skip):
    """Damage: flip one byte ``skip`` bytes after the first ``marker`` of the file."""
    def damage(raw):
        at = raw.index(marker) + skip
        return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]
    return damage


def second_object_header(raw):
    """Damage: flip a byte of the second object header (the root's first child)."""
    at = raw.index(b"OHDR", raw.index(b"OHDR") + 4) + 20
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]


@pytest.mark.parametrize("damage,message", [
    (lambda raw: raw[:len(raw) // 2], "is not an nnframe checkpoint: it is not a readable HDF5 "
                                      "file (truncated file"),
    (lambda raw: np.random.default_rng(0).bytes(3000), "is not an nnframe checkpoint: it is not "
                                                       "a readable HDF5 file"),
    (lambda raw: raw.replace(b"OHDR", b"XXXX"), " is corrupt or truncated: it cannot be read "
                                                "(bad object header version number)"),
    (second_object_header, " is corrupt or truncated: it cannot be read (incorrect metadata "
                           "checksum after all read attempts)"),
    (flip_inside(b'"kind"', 2), " is corrupt: /contents: the data do not match their checksum"),
    (flip_inside(b"model: [dense", 3), " is corrupt: /recipe/resolved: the data do not match "
                                       "their checksum"),
], ids=["truncated", "random bytes", "object header signatures", "object header checksum",
        "table of contents", "recipe text"])
def test_damaged_file_is_a_checkpoint_error(checkpoint, damage, message):
    raw = checkpoint.read_bytes()
    checkpoint.write_bytes(damage(raw))
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(checkpoint)
    assert str(info.value).startswith(str(checkpoint)) and message in str(info.value)
    with pytest.raises(CheckpointError):
        load_params(network(), checkpoint)


def test_recipe_replaced_by_a_group_is_a_checkpoint_error(checkpoint):
    with h5py.File(checkpoint, "r+") as f:
        del f["recipe/resolved"]
        f["recipe/resolved/inner"] = np.ones(2)
    with pytest.raises(CheckpointError, match=re.escape(
            f"{checkpoint} is corrupt: /recipe/resolved is listed in /contents but is not a "
            "dataset of the file")):
        load_checkpoint(checkpoint)


def test_dataset_added_with_h5py_is_refused(checkpoint):
    """Its data would be read unchecked: only what /contents lists (with a CRC) is read."""
    with h5py.File(checkpoint, "r+") as f:
        f["params/out/extra"] = np.ones(2, "float32")
    with pytest.raises(CheckpointError, match=re.escape(
            f"{checkpoint} is corrupt: /params/out/extra is not listed in /contents (the file "
            "was changed after nnframe wrote it)")):
        load_checkpoint(checkpoint)
