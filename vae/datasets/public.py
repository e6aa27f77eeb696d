"""Public image sets from their distributed files: MNIST and Fashion-MNIST from their idx files (downloaded,
MD5-checked, a second mirror), HAM10000 from Kaggle's 28×28 RGB CSV (which a user downloads)."""

import csv
import gzip
import hashlib
import os
import struct
import urllib.request

import numpy as np
from sklearn.model_selection import train_test_split

from vae.core.data import IMAGE_SIDE
from vae.core.errors import InputError, first_line, open_for_reading
from vae.core.io import atomic_write
from vae.datasets.splits import SPLIT_SEED, mnist_sets, write_sets

MNIST_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
FASHION_MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
FASHION_FILES = {  # the same file names as MNIST's, other contents
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
HAM_PIXELS = IMAGE_SIDE * IMAGE_SIDE * 3
HAM_TEST_SHARE = 0.2
MNIST_FILES = {  # name: md5 of the gzip file, as published with the data set's mirrors
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"),
             0x0E: np.dtype(">f8")}



# ------------------------------------------------------------------------------------------ MNIST


def read_idx(raw: bytes, source: str = "idx data") -> np.ndarray:
    """Parse an idx file (gzip-compressed or not): magic 0x0000TTDD, D big-endian sizes, then data."""
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in IDX_TYPES:
        raise InputError(f"{source}: not an idx file (bad magic number)")
    dtype, dims = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * dims
    if len(raw) < header:
        raise InputError(f"{source}: truncated idx header")
    shape = struct.unpack(f">{dims}I", raw[4:header])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise InputError(f"{source}: idx data holds {len(raw) - header} bytes, its header promises {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def download(name: str, folder: str, mirrors=MNIST_MIRRORS, checksums=MNIST_FILES) -> bytes:
    """The file's bytes from ``folder`` if present and intact, else from the first mirror that serves it intact."""
    path = os.path.join(folder, name)
    if os.path.exists(path):
        with open(path, "rb") as handle:
            raw = handle.read()
        if hashlib.md5(raw).hexdigest() == checksums[name]:
            return raw
    failures = []
    for mirror in mirrors:
        try:
            with urllib.request.urlopen(mirror + name, timeout=60) as response:
                raw = response.read()
        except OSError as error:
            failures.append(f"{mirror}: {error}")
            continue
        if hashlib.md5(raw).hexdigest() != checksums[name]:
            failures.append(f"{mirror}: checksum mismatch")
            continue
        os.makedirs(folder, exist_ok=True)
        atomic_write(path, lambda handle, data=raw: handle.write(data))
        return raw
    raise InputError(f"{name}: could not download ({'; '.join(failures)})")


def build_mnist(out: str, raw_folder: str | None = None, mirrors=MNIST_MIRRORS, checksums=MNIST_FILES) -> list[str]:
    """Download (or reuse) the four MNIST files and write the assignment's sets into ``out``."""
    raw_folder = raw_folder or os.path.join(out, "raw")
    arrays = [read_idx(download(name, raw_folder, mirrors, checksums), name) for name in checksums]
    return write_sets(mnist_sets(*arrays), out, "mnist_1_4_8")


def build_fashion_mnist(out: str, raw_folder: str | None = None, mirrors=FASHION_MIRRORS,
                        checksums=FASHION_FILES) -> list[str]:
    """Download (or reuse) Fashion-MNIST's four idx files; write its train (60,000) and test (10,000) sets whole."""
    raw_folder = raw_folder or os.path.join(out, "raw", "fashion-mnist")
    train_x, train_y, test_x, test_y = (read_idx(download(name, raw_folder, mirrors, checksums),
                                                 name) for name in checksums)
    sets = {"train": (train_x, train_y.astype(np.int64)), "test": (test_x, test_y.astype(np.int64))}
    return write_sets(sets, out, "fashion_mnist")


# ---------------------------------------------------------------------------------------- HAM10000


def read_ham10000_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Kaggle's hmnist_28_28_RGB.csv: a header (pixel0000..pixel2351, label), then one image per row with
    each pixel's R, G, B in turn. Returns (N, 28, 28, 3) uint8 images and (N,) int64 labels."""
    with open_for_reading(path, "a CSV file") as handle:
        try:
            header = next(csv.reader([handle.readline().decode("utf-8")]), [])
            header = [name.strip().strip('"') for name in header]
            if "label" not in header or len(header) != HAM_PIXELS + 1:
                raise InputError(f"{path}: expected a header of {HAM_PIXELS} pixel columns and 'label' "
                                 "(hmnist_28_28_RGB.csv)")
            values = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
        except (UnicodeDecodeError, ValueError) as error:
            raise InputError(f"{path}: not a readable CSV of integers ({first_line(error)})") from None
    if values.shape[0] == 0 or values.shape[1] != len(header):
        raise InputError(f"{path}: expected rows of {len(header)} integers, found "
                         f"{values.shape[1] if values.size else 0} per row")
    label_column = header.index("label")
    labels = values[:, label_column]
    pixels = np.delete(values, label_column, axis=1)
    if pixels.min() < 0 or pixels.max() > 255:
        raise InputError(f"{path}: pixel values must lie in 0..255")
    return pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE, 3), labels


def build_ham10000(csv_path: str, out: str, seed: int = SPLIT_SEED) -> list[str]:
    """The HAM10000 CSV as ham10000_train.npz and ham10000_test.npz, split 80/20 stratified by label."""
    images, labels = read_ham10000_csv(csv_path)
    counts = np.unique(labels, return_counts=True)[1]
    # Stratified where it can be: every class needs an image on each side of the split.
    stratify = labels if counts.min() >= 2 and int(HAM_TEST_SHARE * len(labels)) >= len(counts) else None
    train, test = train_test_split(np.arange(len(labels)), test_size=HAM_TEST_SHARE, stratify=stratify,
                                   random_state=seed)
    return write_sets({"train": (images[train], labels[train]), "test": (images[test], labels[test])}, out, "ham10000")
