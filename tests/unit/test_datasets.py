import gzip
import hashlib
import struct

import numpy as np
import pytest

from vae.core.data import load_image_set
from vae.core.errors import InputError
from vae.datasets.public import build_mnist, download, read_idx
from vae.datasets.splits import digits_sets, experiment_split, mnist_sets, write_sets


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file as MNIST stores it: magic 0x0000 08 D (uint8, D dims), big-endian sizes, data."""
    return struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                  *array.shape) + array.astype(np.uint8).tobytes()


def test_read_idx_raw_and_gzipped():
    images = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    np.testing.assert_array_equal(read_idx(idx_bytes(images)), images)
    np.testing.assert_array_equal(read_idx(gzip.compress(idx_bytes(images))), images)
    labels = np.array([1, 4, 8], np.uint8)
    np.testing.assert_array_equal(read_idx(idx_bytes(labels)), labels)


@pytest.mark.parametrize(
    "raw, message",
    [(b"\x00\x01\x08\x01", "magic"), (b"\x00\x00\x08\x01\x00", "header"),
     (b"\x00\x00\x08\x01\x00\x00\x00\x05\x01", "promises 5")],
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
    assert sets["val"].classes().tolist() == [1, 4, 8]
    assert np.bincount(sets["val"].labels)[[1, 4, 8]].tolist() == [5, 5, 5]
    # 6 of each digit per 60
    assert len(sets["train"]) == 18 - 15 and len(sets["test"]) == 9 and len(sets["recon"]) == 9
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
        if name != "recon":  # the first test images, for test_reconstruction
            assert not seen & set(part.tolist())
            seen |= set(part.tolist())
    assert len(seen) == 6000 and len(first["val"][0]) == 15
    np.testing.assert_array_equal(first["recon"][0], first["test"][0][:10])
    assert [p.rsplit("/", 1)[1] for p in write_sets({"x": (np.zeros((1, 28, 28), np.uint8), None)},
                                                    str(tmp_path))] == ["x.npz"]


def test_fashion_mnist_is_written_whole_from_checked_idx_files(tmp_path):
    from vae.datasets.public import FASHION_FILES, build_fashion_mnist

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    arrays, checksums = fake_mnist(mirror)
    assert set(checksums) == set(FASHION_FILES)  # the same file names as MNIST's
    (tmp_path / "broken").mkdir()
    for name in checksums:
        (tmp_path / "broken" / name).write_bytes(b"not it")
    paths = build_fashion_mnist(str(tmp_path / "out"), mirrors=(f"file://{tmp_path}/broken/", f"file://{mirror}/"),
                                checksums=checksums)
    assert [path.rsplit("/", 1)[1] for path in paths] == ["fashion_mnist_train.npz", "fashion_mnist_test.npz"]
    train, test = (load_image_set(path) for path in paths)
    np.testing.assert_array_equal(train.pixels.reshape(-1, 28, 28), arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(test.labels, arrays["t10k-labels-idx1-ubyte.gz"])


def ham_csv(path, count=70, columns_first=False):
    """A small hmnist_28_28_RGB.csv: header pixel0000..pixel2351,label; each pixel's R, G, B in turn."""
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (count, 28, 28, 3))
    labels = np.arange(count) % 7
    header = [f"pixel{index:04d}" for index in range(2352)] + ["label"]
    rows = np.concatenate([images.reshape(count, -1), labels[:, None]], axis=1)
    lines = [",".join(header)] + [",".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return images, labels


def test_ham10000_csv_becomes_a_stratified_rgb_split(tmp_path):
    from vae.datasets.__main__ import main

    images, labels = ham_csv(tmp_path / "hmnist_28_28_RGB.csv")
    assert main(["ham10000", "--csv", str(tmp_path / "hmnist_28_28_RGB.csv"), "--out", str(tmp_path / "out")]) == 0
    train = np.load(tmp_path / "out" / "ham10000_train.npz")
    test = np.load(tmp_path / "out" / "ham10000_test.npz")
    assert train["data"].shape == (56, 28, 28,
                                   3) and test["data"].shape == (14, 28, 28, 3) and train["data"].dtype == np.uint8
    assert sorted(np.bincount(test["labels"])) == [2] * 7  # stratified: every class on both sides
    together = {(image.tobytes(), label) for image, label in zip(np.concatenate([train["data"], test["data"]]),
                                                                   np.concatenate([train["labels"], test["labels"]]))}
    assert together == {(image.astype(np.uint8).tobytes(), label) for image, label in zip(images, labels)}
    image_set = load_image_set(str(tmp_path / "out" / "ham10000_test.npz"), rgb=True)
    assert image_set.channels == 3 and image_set.images().shape == (14, 3 * 784)


@pytest.mark.parametrize("content, message", [("a,b\n1,2\n", "header"), ("", "header")])
def test_ham10000_refuses_other_csv_files(tmp_path, content, message):
    from vae.datasets.public import read_ham10000_csv

    (tmp_path / "x.csv").write_text(content)
    with pytest.raises(InputError, match=message):
        read_ham10000_csv(str(tmp_path / "x.csv"))


def test_combine_keeps_a_stratified_hold_out_of_the_last_file():
    from vae.datasets.splits import combine

    first = (np.zeros((50, 28, 28), np.uint8), np.full(50, 1))
    last = (np.arange(100, dtype=np.uint8)[:, None, None] * np.ones((1, 28, 28), np.uint8), np.arange(100) % 10)
    sets = combine([first, last], hold_out=20)
    assert len(sets["train"][0]) == 130 and len(sets["test"][0]) == 20
    assert sorted(np.bincount(sets["test"][1])) == [2] * 10
    held_out = set(sets["test"][0][:, 0, 0])
    assert not held_out & set(sets["train"][0][50:, 0, 0])  # no image on both sides
    with pytest.raises(InputError, match="hold-out"):
        combine([last], hold_out=100)


def test_photograph_patches_make_class_and_anomaly_folders_the_family_reads(tmp_path):
    from vae.datasets.photos import build_photo_set, regions

    build_photo_set("colour-anomaly", str(tmp_path / "a"), side=16, train=4, test=3)
    normal = load_image_set(str(tmp_path / "a" / "train"), labels="required", rgb=True)
    scored = load_image_set(str(tmp_path / "a" / "test"), labels="required", rgb=True)
    assert (len(normal), normal.side, normal.channels, normal.class_names) == (4, 16, 3, ("normal",))
    assert scored.class_names == ("abnormal", "normal") and np.bincount(scored.labels).tolist() == [6, 3]
    build_photo_set("grey-classes", str(tmp_path / "g"), side=16, train=2, test=1)
    again = build_photo_set("grey-classes", str(tmp_path / "again"), side=16, train=2, test=1)
    first, second = (load_image_set(str(path / "train"), labels="required", rgb=True) for path in
                     (tmp_path / "g", tmp_path / "again"))
    assert first.channels == 1 and len(first.class_names) == 7 and np.array_equal(first.pixels, second.pixels)
    image = np.arange(100 * 300).reshape(100, 300) % 251
    train, test = regions(image.astype(np.uint8), 64)
    assert train.shape[0] >= 80 and test.shape[1] >= 80  # enlarged so a 1.25 × 64 crop fits the test region
    assert train.shape[1] + test.shape[1] < image.shape[1] * train.shape[0] / 100  # a gap between the two regions
    with pytest.raises(InputError, match="exists and is not empty"):
        build_photo_set("grey-classes", again, side=16)
