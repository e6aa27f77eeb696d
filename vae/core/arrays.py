"""Image arrays from files: an .npz (key ``data``, optional ``labels``), a .npy file of images, or a folder of .npy
files (``data.npy``, and optionally ``labels.npy``, with a folder's ``classes.txt`` and ``files.txt`` beside them
when vae.core.folders packed it); each checked for its shape, dtype and range, a chunk at a time."""

import math
import mmap
import os
import zipfile
import zlib
from contextlib import contextmanager

import numpy as np

from vae.core.errors import InputError, first_line, open_for_reading

IMAGE_SIDE = 28  # the assignment's images (the family's take any side in SIDES)
SIDES = (8, 1024)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")  # image files, read in folders of them
CHUNK = 65_536  # images per validation pass over a memory-mapped file
ACCEPTED_SHAPES = "N×28×28, N×784 or N×1×28×28"
ANY_SIDE = "N×S×S, N×S² or N×1×S×S, or RGB N×3×S×S or N×S×S×3, for a side S from 8 to 1024"


def release_pages(array: np.ndarray) -> None:
    """Let the kernel drop the pages of a memory-mapped array read so far (they are read again from the
    file cache if touched), so that a pass over a file larger than memory keeps RSS bounded; a no-op
    for arrays in memory."""
    mapping = getattr(array, "_mmap", None)  # where numpy.memmap keeps its mmap.mmap
    if mapping is not None:
        mapping.madvise(mmap.MADV_DONTNEED)


def channels_of(shape: tuple[int, ...]) -> tuple[int, bool]:
    """(channel count, whether they come last) of an image array's shape; grey unless it is RGB's."""
    if len(shape) == 4 and shape[1] == 3 and shape[2] == shape[3]:
        return 3, False
    if len(shape) == 4 and shape[3] == 3 and shape[1] == shape[2]:
        return 3, True
    return 1, False


def is_packed_set(path: str) -> bool:
    """A folder of .npy files (it holds data.npy), rather than a folder of image files."""
    return os.path.isfile(os.path.join(path, "data.npy"))


def check_side(side: int | None) -> None:
    """--image-size S: a square side the networks and outputs take (None: not given)."""
    if side is not None and not SIDES[0] <= side <= SIDES[1]:
        raise InputError(f"--image-size {side}: must be from {SIDES[0]} to {SIDES[1]}")


def read_arrays(path: str, labels: str) -> dict:
    """``data`` and (unless ignored) ``labels`` from an .npz file, a .npy file or a folder of .npy files; from a
    packed folder also ``classes`` (the labels' names) and ``files`` (each image's path in the folder it came from)."""
    if os.path.isdir(path):
        if not is_packed_set(path):
            raise InputError(f"{path}: is a directory without data.npy (a folder of .npy files holds data.npy and "
                             "optionally labels.npy)")
        arrays = {"data": _map_npy(os.path.join(path, "data.npy")), "files": _lines(os.path.join(path, "files.txt"))}
        if labels != "ignored" and os.path.exists(os.path.join(path, "labels.npy")):
            arrays["labels"] = np.array(_map_npy(os.path.join(path, "labels.npy")))
            arrays["classes"] = _lines(os.path.join(path, "classes.txt"))
        return arrays
    if path.endswith(".npy"):
        return {"data": _map_npy(path)}
    return _read_npz(path, labels)


def validate_files(path: str, files: tuple[str, ...], count: int) -> tuple[str, ...]:
    """A packed folder's files.txt: one relative path per image, none leading out of the folder it names (outputs
    are written under these names)."""
    if len(files) != count:
        raise InputError(f"{os.path.join(path, 'files.txt')}: names {len(files):,} files for {count:,} images")
    for name in files:
        parts = name.replace(os.sep, "/").split("/")
        if not name or os.path.isabs(name) or ".." in parts or "" in parts:
            raise InputError(f"{os.path.join(path, 'files.txt')}: {name!r} is not a relative path inside a folder")
    return files


def _lines(path: str) -> tuple[str, ...] | None:
    """A packed folder's classes.txt or files.txt, one name a line; None when it has none."""
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return tuple(handle.read().splitlines())
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a readable list of names ({first_line(error)})") from None


def _map_npy(path: str) -> np.ndarray:
    """A .npy file as a read-only memory map: its pages are read when a batch reaches them."""
    open_for_reading(path, "a .npy file").close()  # the same one-line errors as for .npz files
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path}: not a readable .npy file ({first_line(error)})") from None


@contextmanager
def _npz_archive(path: str):
    """The .npz archive at ``path``, open for reading its members; one InputError naming the file when it cannot be
    read (the members read inside the block included)."""
    with open_for_reading(path, "an .npz file") as handle:
        try:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise InputError(f"{path}: is a single .npy array, not an .npz archive with key 'data'")
            with loaded as archive:
                yield archive
        except InputError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as error:
            raise InputError(f"{path}: not a readable .npz file ({first_line(error)})") from None


def _read_npz(path: str, labels: str) -> dict[str, np.ndarray]:
    with _npz_archive(path) as archive:
        if "data" not in archive.files:
            found = ", ".join(archive.files) or "none"
            raise InputError(f"{path}: has no 'data' array (keys found: {found})")
        wanted = ["data"] if labels == "ignored" else ["data", "labels"]
        return {key: archive[key] for key in wanted if key in archive.files}


def side_of(shape: tuple[int, ...], channels: int) -> int | None:
    """The square side of (channel-first) image arrays of ``shape``, or None when it is no image shape."""
    if len(shape) == 3 and shape[1] == shape[2] and channels == 1:
        side = shape[1]
    elif len(shape) == 2 and channels == 1 and math.isqrt(shape[1]) ** 2 == shape[1]:
        side = math.isqrt(shape[1])
    elif len(shape) == 4 and shape[1] == channels and shape[2] == shape[3]:
        side = shape[2]
    else:
        return None
    return side if SIDES[0] <= side <= SIDES[1] else None


def validate_images(path: str, data: np.ndarray, channels: int = 1, rgb: bool = False) -> tuple[np.ndarray, int]:
    """The images as (N, channels·S·S) after checking their shape, dtype and range, and their side S. The
    assignment's (``rgb`` False) are 28×28 grey; the family's any square side, grey or RGB."""
    shape = data.shape
    side = side_of(shape, channels)
    if side is None or (not rgb and side != IMAGE_SIDE):
        expected = ANY_SIDE if rgb else ACCEPTED_SHAPES
        raise InputError(f"{path}: 'data' has shape {_shape_text(shape)}; expected {expected}")
    if shape[0] == 0:
        raise InputError(f"{path}: 'data' holds no images")
    kind = data.dtype.kind
    if kind not in "uifb":
        raise InputError(f"{path}: 'data' has dtype {data.dtype}; expected uint8 0..255 or floats in [0, 1]")
    pixels = data.reshape(len(data), channels * side * side)
    low, high = _value_range(pixels)
    if kind in "ui":
        if low < 0 or high > 255:
            raise InputError(f"{path}: integer 'data' must lie in 0..255 (found {low}..{high})")
    elif kind == "f":
        if np.isnan(low) or np.isnan(high):
            raise InputError(f"{path}: 'data' contains NaN")
        if np.isinf(low) or np.isinf(high):
            raise InputError(f"{path}: 'data' contains infinite values")
        if low < 0 or high > 1:
            raise InputError(f"{path}: float 'data' must lie in [0, 1] (found {low:g}..{high:g})")
    return pixels, side


def _value_range(pixels: np.ndarray) -> tuple:
    """(lowest, highest) pixel, NaN if any pixel is NaN; a chunk at a time, releasing a mapped file's pages."""
    lows, highs = [], []
    for start in range(0, len(pixels), CHUNK):
        chunk = pixels[start:start + CHUNK]
        lows.append(chunk.min())  # min/max propagate NaN, so no mask the size of the data
        highs.append(chunk.max())
        release_pages(pixels)
    return np.min(lows), np.max(highs)


def validate_labels(path: str, labels: np.ndarray, count: int) -> np.ndarray:
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1:
        raise InputError(f"{path}: 'labels' has shape {_shape_text(labels.shape)}; expected one label per image")
    if len(labels) != count:
        raise InputError(f"{path}: 'labels' has {len(labels)} entries but 'data' has {count} images")
    if labels.dtype.kind in "ui":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        return labels.astype(np.int64)
    raise InputError(f"{path}: 'labels' must be integers (found dtype {labels.dtype})")


def _shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(size) for size in shape) if shape else "() (a scalar)"


def read_factors(path: str, count: int, required: bool = True) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """An .npz set's ground-truth factors: ((count, K) int64 ``factors``, K names from ``factor_names`` or
    factor0, factor1 ...); InputError when the set has none (unless not ``required``: (None, ())) or they do not
    fit its ``count`` images."""
    is_npz = path.lower().endswith(".npz") and not os.path.isdir(path)
    if not is_npz and not required:
        return None, ()
    if not is_npz:
        raise InputError(f"{path}: factors come in an .npz file (keys data, factors, and optionally factor_names)")
    with _npz_archive(path) as archive:
        if "factors" not in archive.files and not required:
            return None, ()
        if "factors" not in archive.files:
            raise InputError(f"{path}: has no 'factors' array (N×K integers: each image's value of each factor); "
                             "python -m vae.datasets shapes makes such a set")
        factors = archive["factors"]
        names = archive["factor_names"] if "factor_names" in archive.files else None
    if factors.ndim != 2 or factors.dtype.kind not in "iu" or factors.shape[1] == 0:
        raise InputError(f"{path}: 'factors' must be N×K integers, found {factors.dtype} of shape "
                         f"{_shape_text(factors.shape)}")
    if len(factors) != count:
        raise InputError(f"{path}: 'factors' has {len(factors)} rows but 'data' has {count} images")
    if names is None:
        names = [f"factor{index}" for index in range(factors.shape[1])]
    elif names.shape != (factors.shape[1],) or names.dtype.kind != "U":
        raise InputError(f"{path}: 'factor_names' must be {factors.shape[1]} strings, one per column of 'factors'")
    return factors.astype(np.int64), tuple(map(str, names))
