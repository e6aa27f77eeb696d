import gzip
import hashlib
import struct

import numpy as np
import pytest

from vae.data import load_image_set
from vae.datasets import build_mnist, digits_sets, download, experiment_split, mnist_sets, read_idx, write_sets
from vae.errors import InputError


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file as MNIST stores it: magic 0x0000 08 D (uint8, D dims), big-endian sizes, data."""
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.astype(np.uint8).tobytes()


def test_read_idx_raw_and_gzipped():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    np.testing.assert_array_equal(read_idx(idx_bytes(images)), images)
    np.testing.assert_array_equal(read_idx(gzip.compress(idx_bytes(images))), images)
    labels = np.array([1, 4, 8], np.uint8)
    np.testing.assert_array_equal(read_idx(idx_bytes(labels)), labels)


@pytest.mark.parametrize(
    "raw, message",
    [(b"\x00\x01\x08\x01", "magic"), (b"\x00\x00\x08\x01\x00", "header"), (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01", "promises 5")],
)
def test_read_idx_rejects_damaged_files(raw, message):
    with pytest.raises(InputError, match=message):
        read_idx(raw)


def fake_mnist(folder):
    """Four small idx files named like MNIST's, with their MD5 sums."""
    rng = np.random.default_rng(0)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (60, 28, 28)),
        "train-labels-idx1-ubyte.gz": np.arange(60) % 10,
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (30, 28, 28)),
        "t10k-labels-idx1-ubyte.gz": np.arange(30) % 10,
    }
    checksums = {}
    for name, array in arrays.items():
        raw = gzip.compress(idx_bytes(array))
        (folder / name).write_bytes(raw)
        checksums[name] = hashlib.md5(raw).hexdigest()
    return arrays, checksums


def test_download_falls_back_to_the_second_mirror_and_verifies_checksums(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    arrays, checksums = fake_mnist(good)
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in checksums:
        (bad / name).write_bytes(b"corrupted")
    raw_folder = tmp_path / "raw"
    mirrors = (f"file://{tmp_path}/missing/", f"file://{bad}/", f"file://{good}/")
    raw = download("train-labels-idx1-ubyte.gz", str(raw_folder), mirrors, checksums)
    np.testing.assert_array_equal(read_idx(raw), arrays["train-labels-idx1-ubyte.gz"])
    assert (raw_folder / "train-labels-idx1-ubyte.gz").exists()  # kept, so the next run needs no network
    assert download("train-labels-idx1-ubyte.gz", str(raw_folder), (), checksums) == raw
    with pytest.raises(InputError, match="checksum mismatch"):
        download("t10k-labels-idx1-ubyte.gz", str(tmp_path / "other"), (f"file://{bad}/",), checksums)


def test_mnist_sets_have_the_assignment_layout(tmp_path):
    good = tmp_path / "mirror"
    good.mkdir()
    arrays, checksums = fake_mnist(good)
    paths = build_mnist(str(tmp_path / "out"), mirrors=(f"file://{good}/",), checksums=checksums)
    sets = {path.rsplit("_", 1)[1][:-4]: load_image_set(path) for path in paths}
    assert set(sets) == {"train", "val", "test", "recon"}
    assert sets["val"].classes().tolist() == [1, 4, 8] and np.bincount(sets["val"].labels)[[1, 4, 8]].tolist() == [5, 5, 5]
    assert len(sets["train"]) == 18 - 15 and len(sets["test"]) == 9 and len(sets["recon"]) == 9  # 6 of each digit per 60
    assert set(sets["test"].labels) <= {1, 4, 8}


def test_mnist_sets_keep_val_out_of_train():
    images = np.arange(300 * 4).reshape(300, 2, 2)  # every image distinct
    labels = np.arange(300) % 10
    sets = mnist_sets(images, labels, images[:50], labels[:50])
    train = {image.tobytes() for image in sets["train"][0]}
    assert not any(image.tobytes() in train for image in sets["val"][0])


def test_digits_demo_set_looks_like_mnist():
    sets = digits_sets()
    for images, labels in sets.values():
        assert images.dtype == np.uint8 and images.shape[1:] == (28, 28)
        assert set(labels) <= {1, 4, 8}
    assert len(sets["val"][0]) == 15 and len(sets["recon"][0]) == 10
    assert sets["train"][0][:, :4].max() == 0  # a border, as MNIST has


def test_experiment_split_is_fixed_and_disjoint(tmp_path):
    labels = np.arange(6000) % 3
    images = np.arange(6000)
    first, second = experiment_split(images, labels), experiment_split(images, labels)
    seen = set()
    for name, (part, _) in first.items():
        np.testing.assert_array_equal(part, second[name][0])
        assert not seen & set(part.tolist())
        seen |= set(part.tolist())
    assert len(seen) == 6000 and len(first["val"][0]) == 15
    assert [p.rsplit("/", 1)[1] for p in write_sets({"x": (np.zeros((1, 28, 28), np.uint8), None)}, str(tmp_path))] == ["x.npz"]
