"""What the tests share: paths, small synthetic image sets, and vae.py run as a user runs it."""

import contextlib
import csv
import hashlib
import io
import os
import pathlib
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VAE = os.path.join(ROOT, "vae.py")
SHARED_MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist_1_4_8_train.npz")

# Labels on purpose not 1/4/8: nothing may hard-code the assignment's classes.
SHAPE_LABELS = (3, 5, 7)


def shapes(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(count, 28, 28) uint8 images of three jittered shapes (vertical bar, horizontal bar, ring), labels (count,)."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[0:28, 0:28]
    images = np.zeros((count, 28, 28), dtype=np.float64)
    labels = np.array(SHAPE_LABELS)[np.arange(count) % 3]
    for index in range(count):
        dy, dx = rng.integers(-3, 4, size=2)
        width = rng.uniform(1.5, 3.5)
        kind = index % 3
        if kind == 0:
            image = (np.abs(cols - 14 - dx) < width) & (np.abs(rows - 14 - dy) < 9)
        elif kind == 1:
            image = (np.abs(rows - 14 - dy) < width) & (np.abs(cols - 14 - dx) < 9)
        else:
            radius = np.hypot(rows - 14 - dy, cols - 14 - dx)
            image = np.abs(radius - 7) < width
        images[index] = image
    images = np.clip(images + rng.normal(0, 0.05, images.shape), 0, 1)
    return np.round(images * 255).astype(np.uint8), labels


def write_npz(path, data, labels=None, **extra) -> str:
    arrays = {"data": data, **extra}
    if labels is not None:
        arrays["labels"] = labels
    np.savez(path, **arrays)
    return str(path)


def run_vae(*args, cwd=None, check=False) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, VAE, *map(str, args)], cwd=cwd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"vae.py {' '.join(map(str, args))} failed ({result.returncode}):\n{result.stderr}")
    return result


def run_in_process(*args, cwd=None) -> subprocess.CompletedProcess:
    """``vae.py ARGS`` run by this process (vae.cli.main), in ``cwd``, its output captured: what run_vae gives
    without a new interpreter's start-up (torch's import alone is 1.5 s). For the many bad-input cases, whose
    end-to-end path a few subprocess tests keep."""
    from vae.cli import main

    out, err, before = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        os.chdir(cwd or before)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(arg) for arg in args])
            except SystemExit as stop:  # argparse's usage errors
                code = stop.code
    finally:
        os.chdir(before)
    return subprocess.CompletedProcess(["vae.py", *map(str, args)], code, out.getvalue(), err.getvalue())


# Few epochs and a small network: the end-to-end tests check behaviour, not quality.
FAST = ["--epochs", "25", "--batch-size", "64", "--hidden", "64,32", "--decoder-hidden", "32,64", "--quiet"]


def rgb(images: np.ndarray) -> np.ndarray:
    """Grey (N, 28, 28) images as RGB (N, 28, 28, 3): three differently shifted copies, so the channels differ."""
    return np.stack([images, np.roll(images, 2, axis=1), np.roll(images, -2, axis=2)], axis=-1)


# A small conv network and few epochs: the family's end-to-end tests check behaviour, not quality.
FAMILY_FAST = ["--epochs", "3", "--batch-size", "64", "--conv-channels", "8,16", "--conv-hidden", "32", "--quiet"]
MLP_FAST = ["--arch", "mlp", "--layers", "2", "--epochs", "3", "--batch-size", "64", "--quiet"]


def printed_scores(result) -> dict[str, float]:
    """The scores a command printed, one '  name ... value' line each, keyed by the name's first word."""
    return {line.split()[0]: float(line.split()[-1]) for line in result.stdout.splitlines() if line.startswith("  ")}


def digest(path) -> str:
    """A file's SHA-256, to compare outputs byte for byte."""
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def csv_rows(path) -> list[dict[str, str]]:
    """A CSV file's rows, by its header's names."""
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))
