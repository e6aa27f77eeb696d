"""Building image sets: MNIST and Fashion-MNIST from their idx files, HAM10000 from its 28×28 RGB CSV,
a small offline demo set, and experiment splits.

    python -m vae.datasets mnist  --out data/     download MNIST (checksums, a second mirror), write
                                                  mnist_1_4_8_{train,val,test,recon}.npz
    python -m vae.datasets fashion-mnist --out data/
                                                  download Fashion-MNIST (checksums, a second mirror),
                                                  write fashion_mnist_{train,test}.npz (labels 0..9)
    python -m vae.datasets ham10000 --csv hmnist_28_28_RGB.csv --out data/
                                                  Kaggle's 28×28 RGB HAM10000 CSV (download it yourself)
                                                  as ham10000_{train,test}.npz: N×28×28×3 uint8, labels
                                                  0..6 as in the file, a stratified 80/20 split
    python -m vae.datasets digits --out DIR       the offline demo set from scikit-learn's digits
    python -m vae.datasets split SOURCE.npz --out DIR
                                                  the fixed train/val/selection/test split of a
                                                  labelled file, for experiments and quality tests
    python -m vae.datasets combine FIRST.npz ... LAST.npz --hold-out N --out DIR
                                                  the files together as DIR/train.npz, less N images of
                                                  LAST (stratified by label) kept as DIR/test.npz
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
from vae.errors import InputError, first_line

DIGITS = (1, 4, 8)
VAL_PER_CLASS = 5
RECON_COUNT = 10
SPLIT_SEED = 20261121

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


def build_fashion_mnist(out: str, raw_folder: str | None = None, mirrors=FASHION_MIRRORS, checksums=FASHION_FILES) -> list[str]:
    """Download (or reuse) Fashion-MNIST's four idx files; write its train (60,000) and test (10,000) sets whole."""
    raw_folder = raw_folder or os.path.join(out, "raw", "fashion-mnist")
    train_x, train_y, test_x, test_y = (read_idx(download(name, raw_folder, mirrors, checksums), name) for name in checksums)
    sets = {"train": (train_x, train_y.astype(np.int64)), "test": (test_x, test_y.astype(np.int64))}
    return write_sets(sets, out, "fashion_mnist")


# ---------------------------------------------------------------------------------------- HAM10000


def read_ham10000_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Kaggle's hmnist_28_28_RGB.csv: a header (pixel0000..pixel2351, label), then one image per row with
    each pixel's R, G, B in turn. Returns (N, 28, 28, 3) uint8 images and (N,) int64 labels."""
    import csv

    from vae.errors import open_for_reading

    with open_for_reading(path, "a CSV file") as handle:
        try:
            header = next(csv.reader([handle.readline().decode("utf-8")]), [])
            header = [name.strip().strip('"') for name in header]
            if "label" not in header or len(header) != HAM_PIXELS + 1:
                raise InputError(f"{path}: expected a header of {HAM_PIXELS} pixel columns and 'label' (hmnist_28_28_RGB.csv)")
            values = np.loadtxt(handle, delimiter=",", dtype=np.int64, ndmin=2)
        except (UnicodeDecodeError, ValueError) as error:
            raise InputError(f"{path}: not a readable CSV of integers ({first_line(error)})") from None
    if values.shape[0] == 0 or values.shape[1] != len(header):
        raise InputError(f"{path}: expected rows of {len(header)} integers, found {values.shape[1] if values.size else 0} per row")
    label_column = header.index("label")
    labels = values[:, label_column]
    pixels = np.delete(values, label_column, axis=1)
    if pixels.min() < 0 or pixels.max() > 255:
        raise InputError(f"{path}: pixel values must lie in 0..255")
    return pixels.astype(np.uint8).reshape(-1, IMAGE_SIDE, IMAGE_SIDE, 3), labels


def build_ham10000(csv_path: str, out: str, seed: int = SPLIT_SEED) -> list[str]:
    """The HAM10000 CSV as ham10000_train.npz and ham10000_test.npz, split 80/20 stratified by label."""
    from sklearn.model_selection import train_test_split

    images, labels = read_ham10000_csv(csv_path)
    counts = np.unique(labels, return_counts=True)[1]
    # Stratified where it can be: every class needs an image on each side of the split.
    stratify = labels if counts.min() >= 2 and int(HAM_TEST_SHARE * len(labels)) >= len(counts) else None
    train, test = train_test_split(np.arange(len(labels)), test_size=HAM_TEST_SHARE, stratify=stratify, random_state=seed)
    return write_sets({"train": (images[train], labels[train]), "test": (images[test], labels[test])}, out, "ham10000")


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


def combine(sets: list[tuple[np.ndarray, np.ndarray]], hold_out: int, seed: int = SPLIT_SEED) -> dict:
    """Labelled sets together as "train", less ``hold_out`` images of the last set, drawn stratified by label, as "test"."""
    from sklearn.model_selection import train_test_split

    last_images, last_labels = sets[-1]
    if not 0 < hold_out < len(last_labels):
        raise InputError(f"--hold-out {hold_out}: must be between 1 and the last file's {len(last_labels) - 1} images")
    keep, test = train_test_split(np.arange(len(last_labels)), test_size=hold_out, stratify=last_labels, random_state=seed)
    keep.sort(), test.sort()
    images = np.concatenate([images for images, _ in sets[:-1]] + [last_images[keep]])
    labels = np.concatenate([labels for _, labels in sets[:-1]] + [last_labels[keep]])
    return {"train": (images, labels), "test": (last_images[test], last_labels[test])}


def combine_files(paths: list[str], hold_out: int) -> dict:
    """combine() of labelled npz files read from disk: {"train": (images, labels), "test": (images, labels)}."""
    return combine([_labelled_images(path) for path in paths], hold_out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.datasets", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("mnist", "fashion-mnist", "ham10000", "digits", "split", "combine"))
    parser.add_argument("sources", nargs="*", metavar="SOURCE.npz", help="split: the labelled .npz to split; combine: the files to combine")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--csv", help="ham10000: the hmnist_28_28_RGB.csv file")
    parser.add_argument("--hold-out", type=int, default=2000, help="combine: test images drawn from the last file (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.what == "mnist":
            paths = build_mnist(args.out)
        elif args.what == "fashion-mnist":
            paths = build_fashion_mnist(args.out)
        elif args.what == "ham10000":
            if not args.csv:
                parser.error("ham10000 needs --csv hmnist_28_28_RGB.csv")
            paths = build_ham10000(args.csv, args.out)
        elif args.what == "digits":
            paths = write_sets(digits_sets(), args.out, "digits_1_4_8")
        elif args.what == "split":
            if len(args.sources) != 1:
                parser.error("split needs one SOURCE.npz")
            images, labels = _labelled_images(args.sources[0])
            paths = write_sets(experiment_split(images, labels), args.out)
        else:
            if len(args.sources) < 1:
                parser.error("combine needs at least one SOURCE.npz")
            paths = write_sets(combine_files(args.sources, args.hold_out), args.out)
    except InputError as error:
        print(f"python -m vae.datasets: error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


def _labelled_images(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A labelled file's images as stored when uint8 (else as floats in [0, 1]), (N, 28, 28), and its labels."""
    from vae.data import load_image_set

    source = load_image_set(path, labels="required")
    images = source.pixels if source.pixels.dtype == np.uint8 else source.images()
    return images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE), source.labels


if __name__ == "__main__":
    sys.exit(main())
