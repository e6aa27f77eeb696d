"""Building image sets: MNIST from its idx files, a small offline demo set, and experiment splits.

    python -m vae.datasets mnist  --out data/     download MNIST (checksums, a second mirror), write
                                                  mnist_1_4_8_{train,val,test,recon}.npz
    python -m vae.datasets digits --out DIR       the offline demo set from scikit-learn's digits
    python -m vae.datasets split SOURCE.npz --out DIR
                                                  the fixed train/val/selection/test split of a
                                                  labelled file, for experiments and quality tests
"""

import argparse
import gzip
import hashlib
import os
import struct
import sys
import urllib.request

import numpy as np

from vae.checkpoint import atomic_write
from vae.data import IMAGE_SIDE
from vae.errors import InputError

DIGITS = (1, 4, 8)
VAL_PER_CLASS = 5
RECON_COUNT = 10
SPLIT_SEED = 20261121

MNIST_MIRRORS = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
MNIST_FILES = {  # name: md5 of the gzip file, as published with the data set's mirrors
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def save_npz(path: str, images: np.ndarray, labels: np.ndarray | None = None) -> None:
    arrays = {"data": images} if labels is None else {"data": images, "labels": labels}
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


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


def mnist_sets(train_images, train_labels, test_images, test_labels, digits=DIGITS, seed=SPLIT_SEED) -> dict:
    """The assignment's sets from MNIST arrays: train (unlabelled use), val (5 per class), test, recon."""
    keep_train, keep_test = np.isin(train_labels, digits), np.isin(test_labels, digits)
    images, labels = train_images[keep_train], train_labels[keep_train].astype(np.int64)
    rng = np.random.default_rng(seed)
    val_index = np.concatenate([rng.choice(np.flatnonzero(labels == digit), VAL_PER_CLASS, replace=False) for digit in digits])
    train_index = np.setdiff1d(np.arange(len(labels)), val_index)
    test_x, test_y = test_images[keep_test], test_labels[keep_test].astype(np.int64)
    return {
        "train": (images[train_index], labels[train_index]),
        "val": (images[val_index], labels[val_index]),
        "test": (test_x, test_y),
        "recon": (test_x[:RECON_COUNT], test_y[:RECON_COUNT]),
    }


def build_mnist(out: str, raw_folder: str | None = None, mirrors=MNIST_MIRRORS, checksums=MNIST_FILES) -> list[str]:
    """Download (or reuse) the four MNIST files and write the assignment's sets into ``out``."""
    raw_folder = raw_folder or os.path.join(out, "raw")
    arrays = [read_idx(download(name, raw_folder, mirrors, checksums), name) for name in checksums]
    return write_sets(mnist_sets(*arrays), out, "mnist_1_4_8")


def write_sets(sets: dict, out: str, prefix: str = "") -> list[str]:
    """Write each (images, labels) set as OUT/PREFIX_NAME.npz (OUT/NAME.npz without a prefix)."""
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, (images, labels) in sets.items():
        path = os.path.join(out, f"{prefix}_{name}.npz" if prefix else f"{name}.npz")
        save_npz(path, images, labels)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------- demo digits


def digits_sets(digits=DIGITS, seed=SPLIT_SEED) -> dict:
    """scikit-learn's bundled 8×8 digits (0..16), upscaled to 20×20 and centred in 28×28 like MNIST."""
    from sklearn.datasets import load_digits
    from skimage.transform import resize

    bundle = load_digits()
    keep = np.isin(bundle.target, digits)
    small, labels = bundle.images[keep] / 16.0, bundle.target[keep].astype(np.int64)
    images = np.zeros((len(small), IMAGE_SIDE, IMAGE_SIDE), dtype=np.uint8)
    large = resize(small, (len(small), 20, 20), order=1, anti_aliasing=False)
    images[:, 4:24, 4:24] = np.clip(np.round(large * 255), 0, 255).astype(np.uint8)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(images))
    images, labels = images[order], labels[order]
    val_index = np.concatenate([np.flatnonzero(labels == digit)[:VAL_PER_CLASS] for digit in digits])
    rest = np.setdiff1d(np.arange(len(labels)), val_index)
    test_index, train_index = rest[:120], rest[120:]
    return {
        "train": (images[train_index], labels[train_index]),
        "val": (images[val_index], labels[val_index]),
        "test": (images[test_index], labels[test_index]),
        "recon": (images[test_index[:RECON_COUNT]], labels[test_index[:RECON_COUNT]]),
    }


# ---------------------------------------------------------------------------- experiment splits


def experiment_split(images: np.ndarray, labels: np.ndarray, test_count=3000, selection_count=1500, seed=SPLIT_SEED) -> dict:
    """A fixed split of one labelled set: test (final figures only), selection (choosing settings),
    val (5 per class, the labelled set train is given) and train (the rest, used unlabelled)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    test_index, selection_index, rest = order[:test_count], order[test_count:test_count + selection_count], order[test_count + selection_count:]
    val_index = np.concatenate([rest[labels[rest] == label][:VAL_PER_CLASS] for label in np.unique(labels)])
    train_index = np.setdiff1d(rest, val_index)
    return {name: (images[index], labels[index]) for name, index in
            (("train", train_index), ("val", val_index), ("selection", selection_index), ("test", test_index))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.datasets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("mnist", "digits", "split"))
    parser.add_argument("source", nargs="?", help="split: the labelled .npz to split")
    parser.add_argument("--out", required=True, help="output folder")
    args = parser.parse_args(argv)
    try:
        if args.what == "mnist":
            paths = build_mnist(args.out)
        elif args.what == "digits":
            paths = write_sets(digits_sets(), args.out, "digits_1_4_8")
        else:
            if not args.source:
                parser.error("split needs SOURCE.npz")
            from vae.data import load_image_set

            source = load_image_set(args.source, labels="required")
            side = IMAGE_SIDE
            images = (source.pixels if source.pixels.dtype == np.uint8 else source.images()).reshape(-1, side, side)
            paths = write_sets(experiment_split(images, source.labels), args.out)
    except InputError as error:
        print(f"python -m vae.datasets: error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
