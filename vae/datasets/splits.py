"""Sets cut from labelled arrays: the assignment's MNIST sets, the offline demo set from scikit-learn's digits,
the fixed experiment split, combinations of files with a stratified hold-out, and anomaly-detection splits;
written as .npz files."""

import os

import numpy as np
from skimage.transform import resize
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from vae.core.data import IMAGE_SIDE, load_image_set
from vae.core.errors import InputError
from vae.core.io import atomic_write

DIGITS = (1, 4, 8)
VAL_PER_CLASS = 5
RECON_COUNT = 10
SPLIT_SEED = 20261121


def save_npz(path: str, images: np.ndarray, labels: np.ndarray | None = None) -> None:
    arrays = {"data": images} if labels is None else {"data": images, "labels": labels}
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))


def write_sets(sets: dict, out: str, prefix: str = "") -> list[str]:
    """Write each (images, labels) set as OUT/PREFIX_NAME.npz (OUT/NAME.npz without a prefix)."""
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, (images, labels) in sets.items():
        path = os.path.join(out, f"{prefix}_{name}.npz" if prefix else f"{name}.npz")
        save_npz(path, images, labels)
        paths.append(path)
    return paths


def labelled_images(path: str) -> tuple[np.ndarray, np.ndarray]:
    """A labelled file's images as stored when uint8 (else as floats in [0, 1]), (N, 28, 28), and its labels."""
    source = load_image_set(path, labels="required")
    images = source.pixels if source.pixels.dtype == np.uint8 else source.images()
    return images.reshape(-1, IMAGE_SIDE, IMAGE_SIDE), source.labels


def mnist_sets(train_images, train_labels, test_images, test_labels, digits=DIGITS, seed=SPLIT_SEED) -> dict:
    """The assignment's sets from MNIST arrays: train (unlabelled use), val (5 per class), test, recon."""
    keep_train, keep_test = np.isin(train_labels, digits), np.isin(test_labels, digits)
    images, labels = train_images[keep_train], train_labels[keep_train].astype(np.int64)
    rng = np.random.default_rng(seed)
    picks = (rng.choice(np.flatnonzero(labels == digit), VAL_PER_CLASS, replace=False) for digit in digits)
    val_index = np.concatenate(list(picks))
    train_index = np.setdiff1d(np.arange(len(labels)), val_index)
    test_x, test_y = test_images[keep_test], test_labels[keep_test].astype(np.int64)
    return {
        "train": (images[train_index], labels[train_index]),
        "val": (images[val_index], labels[val_index]),
        "test": (test_x, test_y),
        "recon": (test_x[:RECON_COUNT], test_y[:RECON_COUNT]),
    }


def digits_sets(digits=DIGITS, seed=SPLIT_SEED) -> dict:
    """scikit-learn's bundled 8×8 digits (0..16), upscaled to 20×20 and centred in 28×28 like MNIST."""
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


def experiment_split(images: np.ndarray, labels: np.ndarray, test_count=3000, selection_count=1500,
                     seed=SPLIT_SEED) -> dict:
    """A fixed split of one labelled set: test (final figures only), selection (choosing settings),
    val (5 per class, the labelled set train is given), train (the rest, used unlabelled), and recon (the
    first RECON_COUNT test images, a test_reconstruction set as the assignment's graders use)."""
    order = np.random.default_rng(seed).permutation(len(labels))
    selection_end = test_count + selection_count
    test_index, selection_index, rest = order[:test_count], order[test_count:selection_end], order[selection_end:]
    val_index = np.concatenate([rest[labels[rest] == label][:VAL_PER_CLASS] for label in np.unique(labels)])
    train_index = np.setdiff1d(rest, val_index)
    return {name: (images[index], labels[index]) for name, index in
            (("train", train_index), ("val", val_index), ("selection", selection_index), ("test", test_index),
             ("recon", test_index[:RECON_COUNT]))}


def combine(sets: list[tuple[np.ndarray, np.ndarray]], hold_out: int, seed: int = SPLIT_SEED) -> dict:
    """Labelled sets together as "train", less ``hold_out`` images of the last set, drawn stratified by label, as
    "test"."""
    last_images, last_labels = sets[-1]
    if not 0 < hold_out < len(last_labels):
        raise InputError(f"--hold-out {hold_out}: must be between 1 and the last file's {len(last_labels) - 1} images")
    keep, test = train_test_split(np.arange(len(last_labels)), test_size=hold_out, stratify=last_labels,
                                  random_state=seed)
    keep.sort(), test.sort()
    images = np.concatenate([images for images, _ in sets[:-1]] + [last_images[keep]])
    labels = np.concatenate([labels for _, labels in sets[:-1]] + [last_labels[keep]])
    return {"train": (images, labels), "test": (last_images[test], last_labels[test])}


def combine_files(paths: list[str], hold_out: int) -> dict:
    """combine() of labelled npz files read from disk: {"train": (images, labels), "test": (images, labels)}."""
    return combine([labelled_images(path) for path in paths], hold_out)


def detection_split(sets: dict, normal: tuple[int, ...], validation: bool, seed: int = 0) -> dict:
    """An anomaly-detection split of :func:`combine`'s sets: {"fit": normal images, "score": images half of them
    anomalies, "truth": (M,) 0/1 (1 = anomaly)}.

    The detector is fitted on the "train" set's images of the ``normal`` classes and scored on the "test"
    set's normal images and as many of its others (a seeded draw). With ``validation`` the test set is not
    touched: 10% of the train set's normal images are kept out of the fit and scored with as many of its
    other images (which a detector fitted on normal images never sees).
    """
    images, labels = sets["train"]
    normal_index = np.flatnonzero(np.isin(labels, normal))
    rng = np.random.default_rng(seed)
    if validation:
        kept_out = rng.choice(normal_index, size=len(normal_index) // 10, replace=False)
        fit = np.setdiff1d(normal_index, kept_out)
        scored_normal, others = images[kept_out], images[~np.isin(labels, normal)]
    else:
        fit = normal_index
        test_images, test_labels = sets["test"]
        scored_normal, others = test_images[np.isin(test_labels, normal)], test_images[~np.isin(test_labels, normal)]
    anomalies = others[rng.choice(len(others), size=len(scored_normal), replace=False)]
    truth = np.concatenate([np.zeros(len(scored_normal), np.int64), np.ones(len(anomalies), np.int64)])
    return {"fit": images[fit], "score": np.concatenate([scored_normal, anomalies]), "truth": truth}
