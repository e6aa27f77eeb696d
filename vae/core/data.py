"""Read and validate image sets; the one place that scales images to float32 in [0, 1].

An image set is an .npz file with key ``data`` (N×28×28, N×784 or N×1×28×28; uint8 or integers in
0..255, or floats in [0, 1]) and an optional key ``labels`` (N integers). The family's commands also
take RGB images, N×3×28×28 or N×28×28×3; inside, every image is a row of C×28×28 values, channel first.

For sets larger than memory, the same arrays as ``.npy`` files: a file ``NAME.npy`` (images only), or a
folder holding ``data.npy`` and optionally ``labels.npy``. They are memory-mapped, validated a chunk at
a time, and read in batches whose pages are handed back afterwards, so reading them keeps memory bounded.
"""

import mmap
import os
import zipfile
import zlib
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from vae.core.errors import InputError, first_line, open_for_reading

IMAGE_SIDE = 28
PIXELS = IMAGE_SIDE * IMAGE_SIDE
CHUNK = 65_536  # images per validation pass over a memory-mapped file
ACCEPTED_SHAPES = "N×28×28, N×784 or N×1×28×28"
RGB_SHAPES = "N×3×28×28 or N×28×28×3"


@dataclass
class ImageSet:
    """Images as stored in the file (validated, viewed as N×(C·784), channel first) and their labels if the file has
    any."""

    path: str
    pixels: np.ndarray  # (N, C·784), the file's own dtype: integers in 0..255, floats in [0, 1] or bools
    labels: np.ndarray | None  # (N,) int64
    stored_shape: tuple[int, ...]  # the shape of ``data`` in the file, for writing outputs alike
    channels: int = 1

    def __len__(self) -> int:
        return len(self.pixels)

    def mapped(self) -> bool:
        """Whether the images are memory-mapped from a .npy file rather than held in memory."""
        return isinstance(self.pixels, np.memmap)

    def images(self) -> np.ndarray:
        """All images as float32 in [0, 1], shape (N, 784)."""
        return to_unit_float(self.pixels)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """The images in input order as float32 (B, 784) batches, so memory stays bounded for large N."""
        for start in range(0, len(self.pixels), batch_size):
            yield to_unit_float(self.pixels[start:start + batch_size])
            release_pages(self.pixels)

    def classes(self) -> np.ndarray:
        """The sorted distinct labels, shape (C,)."""
        return np.unique(self.labels)

    def restore(self, images: np.ndarray) -> np.ndarray:
        """(N, C·784) images, channel first, in the file's own layout (``stored_shape``)."""
        return in_layout(images, self.stored_shape[1:])

    def tensor_shape(self) -> tuple[int, int, int]:
        """One image as the networks take it: (C, 28, 28)."""
        return (self.channels, IMAGE_SIDE, IMAGE_SIDE)

    def map_batches(self, function, width: int, batch_size: int, dtype=np.float32) -> np.ndarray:
        """``function`` of every (B, C·784) float32 batch, its (B, width) rows gathered in input order: (N, width).

        The one batched pass of the networks (encoding a set): memory stays bounded for large N.
        """
        rows = np.empty((len(self), width), dtype)
        for start, batch in zip(range(0, len(self), batch_size), self.batches(batch_size)):
            rows[start:start + len(batch)] = function(batch)
        return rows


def in_layout(images: np.ndarray, sample_shape: tuple[int, ...]) -> np.ndarray:
    """(N, C·784) images, channel first, as N samples of ``sample_shape`` (an image as a file stores it)."""
    if _channels((0, *sample_shape))[1]:  # N×28×28×3: the channels go last again
        images = images.reshape(len(images), sample_shape[-1], IMAGE_SIDE, IMAGE_SIDE).transpose(0, 2, 3, 1)
    return images.reshape(len(images), *sample_shape)


def release_pages(array: np.ndarray) -> None:
    """Let the kernel drop the pages of a memory-mapped array read so far (they are read again from the
    file cache if touched), so that a pass over a file larger than memory keeps RSS bounded; a no-op
    for arrays in memory."""
    mapping = getattr(array, "_mmap", None)  # where numpy.memmap keeps its mmap.mmap
    if mapping is not None:
        mapping.madvise(mmap.MADV_DONTNEED)


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """Scale validated pixels to float32 in [0, 1]: integers are read as 0..255, floats and bools as 0..1."""
    if pixels.dtype.kind in "ui":
        return pixels.astype(np.float32) / np.float32(255)
    return pixels.astype(np.float32)


def load_image_set(path: str, *, labels: str = "optional", rgb: bool = False) -> ImageSet:
    """Read ``path`` and validate it; raise InputError naming the file and the problem.

    ``labels``: "required" (a validation set), "optional" (read them if present) or "ignored"
    (never read them: the training set is unlabelled by contract). ``rgb``: accept 3-channel images
    too (the family's commands; the assignment's are grey only).
    """
    arrays = _read_arrays(path, labels)
    data = arrays["data"]
    channels, channels_last = _channels(data.shape) if rgb else (1, False)
    if channels_last:
        data = data.transpose(0, 3, 1, 2)  # channel first inside; restore() turns outputs back
    pixels = _validate_images(path, data, channels, rgb)
    label_array = arrays.get("labels")
    if label_array is not None:
        label_array = _validate_labels(path, label_array, len(pixels))
    elif labels == "required":
        raise InputError(f"{path}: has no 'labels' array; this set must be labelled")
    return ImageSet(path, pixels, label_array, tuple(arrays["data"].shape), channels)


def _channels(shape: tuple[int, ...]) -> tuple[int, bool]:
    """(channel count, whether they come last) of an image array's shape; grey unless it is RGB's."""
    if len(shape) == 4 and shape[1:] == (3, IMAGE_SIDE, IMAGE_SIDE):
        return 3, False
    if len(shape) == 4 and shape[1:] == (IMAGE_SIDE, IMAGE_SIDE, 3):
        return 3, True
    return 1, False


def _read_arrays(path: str, labels: str) -> dict[str, np.ndarray]:
    """``data`` and (unless ignored) ``labels`` from an .npz file, a .npy file or a folder of .npy files."""
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "data.npy")):
            raise InputError(f"{path}: is a directory without data.npy (a folder of .npy files holds data.npy and "
                             "optionally labels.npy)")
        arrays = {"data": _map_npy(os.path.join(path, "data.npy"))}
        if labels != "ignored" and os.path.exists(os.path.join(path, "labels.npy")):
            arrays["labels"] = np.array(_map_npy(os.path.join(path, "labels.npy")))
        return arrays
    if path.endswith(".npy"):
        return {"data": _map_npy(path)}
    return _read_npz(path, labels)


def _map_npy(path: str) -> np.ndarray:
    """A .npy file as a read-only memory map: its pages are read when a batch reaches them."""
    open_for_reading(path, "a .npy file").close()  # the same one-line errors as for .npz files
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path}: not a readable .npy file ({first_line(error)})") from None


def _read_npz(path: str, labels: str) -> dict[str, np.ndarray]:
    with open_for_reading(path, "an .npz file") as handle:
        try:
            loaded = np.load(handle, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise InputError(f"{path}: is a single .npy array, not an .npz archive with key 'data'")
            with loaded as archive:
                if "data" not in archive.files:
                    found = ", ".join(archive.files) or "none"
                    raise InputError(f"{path}: has no 'data' array (keys found: {found})")
                wanted = ["data"] if labels == "ignored" else ["data", "labels"]
                return {key: archive[key] for key in wanted if key in archive.files}
        except InputError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError) as error:
            raise InputError(f"{path}: not a readable .npz file ({first_line(error)})") from None


def _validate_images(path: str, data: np.ndarray, channels: int = 1, rgb: bool = False) -> np.ndarray:
    """The images as (N, channels·784) after checking their shape, dtype and range."""
    shape = data.shape
    shape_ok = (
        (len(shape) == 3 and shape[1:] == (IMAGE_SIDE, IMAGE_SIDE))
        or (len(shape) == 2 and shape[1] == PIXELS)
        or (len(shape) == 4 and shape[1:] == (channels, IMAGE_SIDE, IMAGE_SIDE))
    )
    if not shape_ok:
        expected = f"{ACCEPTED_SHAPES}, or RGB {RGB_SHAPES}" if rgb else ACCEPTED_SHAPES
        raise InputError(f"{path}: 'data' has shape {_shape_text(shape)}; expected {expected}")
    if shape[0] == 0:
        raise InputError(f"{path}: 'data' holds no images")
    kind = data.dtype.kind
    if kind not in "uifb":
        raise InputError(f"{path}: 'data' has dtype {data.dtype}; expected uint8 0..255 or floats in [0, 1]")
    pixels = data.reshape(len(data), channels * PIXELS)
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
    return pixels


def _value_range(pixels: np.ndarray) -> tuple:
    """(lowest, highest) pixel, NaN if any pixel is NaN; a chunk at a time, releasing a mapped file's pages."""
    lows, highs = [], []
    for start in range(0, len(pixels), CHUNK):
        chunk = pixels[start:start + CHUNK]
        lows.append(chunk.min())  # min/max propagate NaN, so no mask the size of the data
        highs.append(chunk.max())
        release_pages(pixels)
    return np.min(lows), np.max(highs)


def _validate_labels(path: str, labels: np.ndarray, count: int) -> np.ndarray:
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
