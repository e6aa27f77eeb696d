"""Image sets: what every command reads, from any of its forms; the one place that scales images to [0, 1].

    an .npz file   key ``data`` (N×28×28, N×784 or N×1×28×28; uint8 or integers in 0..255, or floats in [0, 1]),
                   optional key ``labels`` (N integers); the family's commands also take RGB (N×3×S×S, N×S×S×3)
                   and any square side S from 8 to 1024
    .npy files     the same arrays, memory-mapped: a file of images, or a folder of data.npy and labels.npy
    a folder of    PNG, JPEG, BMP or TIFF files, flat or one subfolder per class (the family's commands; see
    image files    vae/core/folders.py), decoded once into a temporary memory-mapped set

Inside, every image is a row of C×S×S values, channel first. Memory-mapped sets are validated a chunk at a
time and read in batches whose pages are handed back afterwards, so reading them keeps memory bounded.
"""

import os
import tempfile
from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from vae.core.arrays import (
    IMAGE_SIDE,
    IMAGE_SUFFIXES,
    channels_of,
    is_packed_set,
    read_arrays,
    release_pages,
    validate_files,
    validate_images,
    validate_labels,
)
from vae.core.errors import InputError

__all__ = ["IMAGE_SIDE", "ImageSet", "Reading", "in_batches", "in_layout", "load_image_set", "named", "release_pages",
           "scaled_batch", "to_unit_float"]


@dataclass
class Reading:
    """How to read a folder of image files: at which side and channels (None: its images' own, when they all
    share them), whether to leave out the files that cannot be decoded rather than stop, and whether colour
    images are converted to grey when grey is asked for (fitting with --channels 1) or refused (a grey model's
    test images)."""

    side: int | None = None
    channels: int | None = None
    skip_unreadable: bool = False
    colour_to_grey: bool = False

    def check_given(self, image_set: "ImageSet", path: str) -> None:
        """--image-size and --channels resize and convert a folder's image files; arrays must have them already."""
        asked = (self.side or image_set.side, self.channels or image_set.channels)
        if image_set.temporary_folder is None and asked != (image_set.side, image_set.channels):
            raise InputError(f"{path}: holds {image_set.side}×{image_set.side} images of {image_set.channels} "
                             "channel(s); --image-size and --channels read folders of image files, not arrays")


@dataclass
class ImageSet:
    """Images as stored (validated, viewed as N×(C·S·S), channel first) and their labels if the set has any."""

    path: str
    pixels: np.ndarray  # (N, C·S·S), the file's own dtype: integers in 0..255, floats in [0, 1] or bools
    labels: np.ndarray | None  # (N,) int64
    stored_shape: tuple[int, ...]  # the shape of ``data`` in the file, for writing outputs alike
    channels: int = 1
    side: int = IMAGE_SIDE
    class_names: tuple[str, ...] | None = None  # a folder's classes, which its labels index
    files: tuple[str, ...] | None = None  # a folder's images, each its path relative to the folder
    temporary_folder: object = None  # a folder of image files is read into one, deleted with the set

    def __len__(self) -> int:
        return len(self.pixels)

    def mapped(self) -> bool:
        """Whether the images are memory-mapped from a .npy file rather than held in memory."""
        return isinstance(self.pixels, np.memmap)

    def images(self) -> np.ndarray:
        """All images as float32 in [0, 1], shape (N, C·S·S)."""
        return to_unit_float(self.pixels)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """The images in input order as float32 (B, C·S·S) batches, so memory stays bounded for large N."""
        for start in range(0, len(self.pixels), batch_size):
            yield to_unit_float(self.pixels[start:start + batch_size])
            release_pages(self.pixels)

    def first(self, count: int) -> "ImageSet":
        """The set's first ``count`` images (and their labels and files)."""
        return replace(self, pixels=self.pixels[:count], labels=None if self.labels is None else self.labels[:count],
                       files=None if self.files is None else self.files[:count])

    def subset(self, indices: np.ndarray) -> "ImageSet":
        """The images at the sorted ``indices`` (and their labels and files), read into memory."""
        indices = np.sort(indices)
        return replace(self, pixels=np.asarray(self.pixels[indices]),
                       labels=None if self.labels is None else self.labels[indices],
                       files=None if self.files is None else tuple(self.files[index] for index in indices))

    def classes(self) -> np.ndarray:
        """The sorted distinct labels, shape (C,)."""
        return np.unique(self.labels)

    def check_classes(self, needs: str, each: int = 1) -> None:
        """InputError unless the labels name at least two classes, each with at least ``each`` images (a sweep's
        folds); ``needs`` says what needs them ("the classifier head")."""
        classes, counts = np.unique(self.labels, return_counts=True)
        if len(classes) < 2 and each == 1:
            raise InputError(f"{self.path}: its labels name only one class ({self.label_names(classes)[0]}); "
                             f"{needs} needs at least two")
        if len(classes) < 2 or counts.min() < each:
            raise InputError(f"{self.path}: {needs} needs at least two classes, each with at least {each} images "
                             "(one per fold)")

    def label_names(self, labels: np.ndarray | None = None) -> np.ndarray:
        """Labels (default: each image's) as names, (N,) str: their class folders' names, else the numbers."""
        return named(self.labels if labels is None else labels, self.class_names)

    def restore(self, images: np.ndarray) -> np.ndarray:
        """(N, C·S·S) images, channel first, in the file's own layout (``stored_shape``)."""
        return in_layout(images, self.stored_shape[1:])

    def tensor_shape(self) -> tuple[int, int, int]:
        """One image as the networks take it: (C, S, S)."""
        return (self.channels, self.side, self.side)

    def map_batches(self, function, width: int, batch_size: int, dtype=np.float32) -> np.ndarray:
        """``function`` of every (B, C·S·S) float32 batch, its (B, width) rows gathered in input order: (N, width).

        The one batched pass of the networks (encoding a set): memory stays bounded for large N.
        """
        rows = np.empty((len(self), width), dtype)
        for start, batch in zip(range(0, len(self), batch_size), self.batches(batch_size)):
            rows[start:start + len(batch)] = function(batch)
        return rows


PASS_BATCH = 1024  # 28×28 images per inference pass; larger images fewer at a time (scaled_batch)


def scaled_batch(digits_batch: int, values_per_image: int) -> int:
    """Images per batch holding about as many values as ``digits_batch`` 28×28 grey images (at least 16): a pass
    over large images keeps its memory near that of a pass over digits (1,024 digits: 128×128 RGB 16 at a time)."""
    return max(16, digits_batch * IMAGE_SIDE * IMAGE_SIDE // values_per_image)


def in_batches(function, array: np.ndarray, batch_size: int) -> np.ndarray:
    """``function`` of each (B, ...) slice of ``array`` in turn, the results' rows joined in order: one batch's
    work in memory at a time (ImageSet.map_batches does the same over a set read from a file)."""
    return np.concatenate([function(array[start:start + batch_size]) for start in range(0, len(array), batch_size)])


def named(labels, class_names: tuple[str, ...] | None) -> np.ndarray:
    """(N,) integer labels as names, (N,) str: the class folders' names they index, else the numbers themselves."""
    labels = np.asarray(labels, dtype=np.int64)
    return np.array(class_names)[labels] if class_names else labels.astype(str)


def in_layout(images: np.ndarray, sample_shape: tuple[int, ...]) -> np.ndarray:
    """(N, C·S·S) images, channel first, as N samples of ``sample_shape`` (an image as a file stores it)."""
    if channels_of((0, *sample_shape))[1]:  # N×S×S×3: the channels go last again
        side = sample_shape[0]
        images = images.reshape(len(images), sample_shape[-1], side, side).transpose(0, 2, 3, 1)
    return images.reshape(len(images), *sample_shape)


def to_unit_float(pixels: np.ndarray) -> np.ndarray:
    """Scale validated pixels to float32 in [0, 1]: integers are read as 0..255, floats and bools as 0..1."""
    if pixels.dtype.kind in "ui":
        return pixels.astype(np.float32) / np.float32(255)
    return pixels.astype(np.float32)


def load_image_set(path: str, *, labels: str = "optional", rgb: bool = False, reading: Reading = Reading(),
                   quiet: bool = True, say=None) -> ImageSet:
    """Read ``path`` and validate it; raise InputError naming the file and the problem.

    ``labels``: "required" (a validation set), "optional" (read them if present) or "ignored"
    (never read them: the training set is unlabelled by contract). ``rgb``: the family's sets: RGB, any side,
    folders of image files (the assignment's are 28×28 grey arrays). A folder of images is read as ``reading``
    says, with a progress bar unless ``quiet``; ``say`` tells how many unreadable files were left out.
    """
    if rgb and os.path.isdir(path) and not is_packed_set(path):
        return _read_folder(path, labels, reading, quiet, say)
    if rgb and path.lower().endswith(IMAGE_SUFFIXES) and os.path.isfile(path):
        raise InputError(f"{path}: is one image file; give the folder of images it is in (or an .npz/.npy file)")
    return image_set_from(path, read_arrays(path, labels), labels, rgb)


def image_set_from(path: str, arrays: dict, labels: str = "optional", rgb: bool = True) -> ImageSet:
    """An image set from in-memory arrays ({"data", and maybe "labels", "classes", "files"}), validated as a file's
    would be; ``path`` names them in errors."""
    data = arrays["data"]
    channel_count, channels_last = channels_of(data.shape) if rgb else (1, False)
    if channels_last:
        data = data.transpose(0, 3, 1, 2)  # channel first inside; restore() turns outputs back
    pixels, found_side = validate_images(path, data, channel_count, rgb)
    label_array = arrays.get("labels")
    if label_array is not None and labels != "ignored":
        label_array = validate_labels(path, label_array, len(pixels))
    elif labels == "required":
        raise InputError(f"{path}: has no 'labels' array; this set must be labelled")
    else:
        label_array = None
    classes = arrays.get("classes")
    if classes is not None and label_array is not None and (label_array.min() < 0 or label_array.max() >= len(classes)):
        raise InputError(f"{path}: its labels do not index its {len(classes)} classes (classes.txt)")
    files = arrays.get("files")
    if files is not None:
        files = validate_files(path, files, len(pixels))
    return ImageSet(path, pixels, label_array, tuple(arrays["data"].shape), channel_count, found_side, classes, files)


def _read_folder(path, labels, reading: Reading, quiet, say) -> ImageSet:
    """A folder of image files, packed into a temporary folder (vae.core.folders) and read from there."""
    from vae.core.folders import list_images, pack, settle  # Pillow, joblib, tqdm: for folders of image files only

    listing = list_images(path)
    if labels == "required" and listing.classes is None:
        raise InputError(f"{path}: a flat folder of images has no labels; give one subfolder per class")
    if labels == "ignored":
        listing = replace(listing, labels=None, classes=None)
    side, channels = settle(listing, reading.side, reading.channels, quiet, reading.skip_unreadable, say)
    folder = tempfile.TemporaryDirectory(prefix="vae-folder-")
    _, skipped = pack(listing, folder.name, side, channels, reading.skip_unreadable, quiet, reading.colour_to_grey)
    if skipped and say:
        say(f"left out {len(skipped):,} unreadable image file(s) of {path} (the first: {skipped[0]})")
    return replace(load_image_set(folder.name, labels=labels, rgb=True), path=path, temporary_folder=folder)
