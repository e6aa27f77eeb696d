"""Folders of image files as image sets: PNG, JPEG, BMP or TIFF, at any size, grey or RGB; flat (unlabelled) or
one subfolder per class (the ImageFolder convention: a subfolder's name is its class, classes sorted by name).

A folder is read once, by one worker process per core, into the packed form that vae/core/data.py memory-maps:
``data.npy`` (uint8, N×S×S or N×3×S×S), ``labels.npy`` and ``classes.txt`` for class folders, and ``files.txt``
(each image's path relative to the folder). Every image is resized (antialiased) to one square side S and
converted to the channels asked for, in the order of its sorted relative path; hidden files and files of
other kinds are passed over. ``python -m vae.datasets pack`` keeps the packed form for later runs; a command
given a folder packs it into a temporary one first, so no folder is ever held whole in memory.
"""

import os
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from PIL import Image
from tqdm import tqdm

from vae.core.arrays import SIDES
from vae.core.errors import InputError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
CHUNK = 64  # images one worker decodes at a time
PARALLEL_FROM = 2000  # files; fewer are read in this process, faster than starting worker processes


class Unreadable(Exception):
    """An image file that cannot be decoded (damaged, truncated, not an image after all)."""


class Mismatch(Exception):
    """An image that cannot be given the channels asked for: a colour image for a grey model."""


@dataclass
class Listing:
    """The image files of a folder, in the order of their sorted relative paths."""

    root: str
    files: list[str]  # paths relative to root, "/"-separated
    labels: np.ndarray | None  # (N,) int64 index into classes, for a folder of class subfolders
    classes: tuple[str, ...] | None


def is_image_folder(path: str) -> bool:
    """A folder that is not a packed set (which holds data.npy)."""
    return os.path.isdir(path) and not os.path.exists(os.path.join(path, "data.npy"))


def list_images(root: str) -> Listing:
    """The folder's images; InputError when it holds none, or both loose images and class subfolders."""
    if not os.access(root, os.R_OK | os.X_OK):
        raise InputError(f"{root}: permission denied")
    loose = sorted(name for name in os.listdir(root) if _is_image(root, name))
    folders = sorted(name for name in os.listdir(root) if not name.startswith(".")
                     and os.path.isdir(os.path.join(root, name)))
    nested = {name: _images_below(os.path.join(root, name)) for name in folders}
    if loose and any(nested.values()):
        raise InputError(f"{root}: holds images both at its top and in subfolders; give a flat folder of images, "
                         "or one subfolder per class and nothing else")
    if loose:
        return Listing(root, loose, None, None)
    empty = [name for name, files in nested.items() if not files]
    if not folders or len(empty) == len(folders):
        raise InputError(f"{root}: holds no image files ({', '.join(SUFFIXES)})")
    if empty:
        raise InputError(f"{os.path.join(root, empty[0])}: a class folder without image files")
    classes = tuple(folders)
    files = [f"{name}/{path}" for name in classes for path in nested[name]]
    labels = np.concatenate([np.full(len(nested[name]), index, np.int64) for index, name in enumerate(classes)])
    order = np.argsort(np.array(files), kind="stable")
    return Listing(root, [files[i] for i in order], labels[order], classes)


def _is_image(folder: str, name: str) -> bool:
    return (not name.startswith(".") and name.lower().endswith(SUFFIXES)
            and os.path.isfile(os.path.join(folder, name)))


def _images_below(folder: str) -> list[str]:
    """Every image file under ``folder`` (hidden ones and hidden folders left out), relative, sorted."""
    found = []
    for current, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if not name.startswith(".")]
        relative = os.path.relpath(current, folder)
        found += [name if relative == "." else f"{relative.replace(os.sep, '/')}/{name}"
                  for name in names if _is_image(current, name)]
    return sorted(found)


def survey(listing: Listing, quiet: bool = True) -> tuple[set, bool]:
    """({(width, height)} of the images, whether every one is grey), from their headers alone."""
    sizes, grey = set(), True
    found = (header for headers in _in_chunks(_headers, listing, quiet, "looking at") for header in headers)
    for relative, (size, detail) in zip(listing.files, found):
        if size is None:
            raise InputError(f"{os.path.join(listing.root, relative)}: not a readable image ({detail})")
        sizes.add(size)
        grey = grey and detail
    return sizes, grey


def _headers(root: str, files: list[str]) -> list[tuple]:
    """(size, whether grey) of each file from its header, or (None, what is wrong)."""
    found = []
    for relative in files:
        try:
            with Image.open(os.path.join(root, relative)) as image:
                found.append((image.size, image.mode in GREY_MODES or (image.mode == "P" and _grey_palette(image))))
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            found.append((None, str(error)))
    return found


def settle(listing: Listing, side: int | None, channels: int | None, quiet: bool = True) -> tuple[int, int]:
    """The side and channels to read a folder at: those given, else its images' own (one square side; grey when
    every image is), from their headers."""
    if side is None or channels is None:
        sizes, grey = survey(listing, quiet)
        side = side or image_side(sizes, listing.root)
        channels = channels or (1 if grey else 3)
    return side, channels


def _grey_palette(image: Image.Image) -> bool:
    palette = np.array(image.getpalette() or [], dtype=np.int64).reshape(-1, 3)
    return bool(np.all(palette[:, 0] == palette[:, 1]) and np.all(palette[:, 1] == palette[:, 2]))


def image_side(sizes: set, root: str) -> int:
    """The one square side every image has, the default --image-size; InputError otherwise."""
    shown = ", ".join(f"{width}×{height}" for width, height in sorted(sizes)[:3]) + (" ..." if len(sizes) > 3 else "")
    if len(sizes) > 1:
        raise InputError(f"{root}: holds images of {len(sizes)} sizes ({shown}); give --image-size S (each image is "
                         "resized to S×S)")
    (width, height), = sizes
    if width != height:
        raise InputError(f"{root}: its images are {shown}, not square; give --image-size S (each is resized to S×S)")
    if not SIDES[0] <= width <= SIDES[1]:
        raise InputError(f"{root}: its images are {shown}; give --image-size S between {SIDES[0]} and {SIDES[1]}")
    return width


def decode(path: str, side: int, channels: int) -> np.ndarray:
    """One image file as uint8 (side, side) grey or (3, side, side) RGB, resized with antialiasing."""
    try:
        with Image.open(path) as image:
            image.draft(image.mode, (side, side))  # a JPEG decodes straight at a smaller scale, still >= side
            image = _in_channels(_eight_bit(image), channels)
            if image.size != (side, side):
                image = image.resize((side, side), Image.Resampling.BILINEAR)  # antialiased when shrinking
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise Unreadable(str(error) or type(error).__name__) from None
    return pixels if channels == 1 else pixels.transpose(2, 0, 1)


def _eight_bit(image: Image.Image) -> Image.Image:
    """16-bit and 32-bit grey as 8-bit grey (0..65535 to 0..255); float grey must lie in [0, 1]."""
    if image.mode.startswith("I"):
        values = np.asarray(image, dtype=np.float64) / 257
        return Image.fromarray(np.clip(np.round(values), 0, 255).astype(np.uint8), "L")
    if image.mode == "F":
        values = np.asarray(image, dtype=np.float64)
        if not (np.all(np.isfinite(values)) and values.min() >= 0 and values.max() <= 1):
            raise ValueError("float pixels outside [0, 1]")
        return Image.fromarray(np.round(values * 255).astype(np.uint8), "L")
    return image


def _in_channels(image: Image.Image, channels: int) -> Image.Image:
    """The image as RGB, or as grey when it is grey (an RGB file whose three channels are equal counts as grey)."""
    if channels == 3:
        return image.convert("RGB")
    if image.mode in GREY_MODES:
        return image.convert("L")
    rgb = np.asarray(image.convert("RGB"))
    if np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]):
        raise Mismatch("a colour image, but grey images are asked for")
    return Image.fromarray(np.ascontiguousarray(rgb[..., 0]), "L")


def pack(listing: Listing, out: str, side: int, channels: int, skip_unreadable: bool = False,
         quiet: bool = True) -> tuple[int, list[str]]:
    """Decode every image of ``listing`` into the packed form in the folder ``out`` (made if need be); the number
    packed and the relative paths left out as unreadable (with ``skip_unreadable``; else InputError)."""
    os.makedirs(out, exist_ok=True)
    shape = (side, side) if channels == 1 else (channels, side, side)
    data = np.lib.format.open_memmap(os.path.join(out, ".data.npy.tmp"), "w+", np.uint8, (len(listing.files), *shape))
    kept, every_failure = [], []  # all chunks run to their end: a worker is never stopped mid-task
    decoded = _in_chunks(_decode_chunk, listing, quiet, "reading", side, channels)
    for start, (rows, failures) in zip(range(0, len(listing.files), CHUNK), decoded):
        every_failure += failures
        for index, row in enumerate(rows):
            if row is not None:
                data[len(kept)] = row
                kept.append(start + index)
    data.flush()
    try:
        _refuse(listing, every_failure, skip_unreadable)
    except InputError:
        del data
        os.remove(os.path.join(out, ".data.npy.tmp"))  # nothing left behind in a folder the user named
        raise
    skipped = [relative for relative, _, _ in every_failure]
    count = len(kept)
    if not count:
        raise InputError(f"{listing.root}: not one of its images is readable")
    _finish(out, data, count, listing, kept)
    return count, skipped


def _refuse(listing: Listing, failures: list, skip_unreadable: bool) -> None:
    """One line for the first image that stops the command: one that cannot match, or one that cannot be read."""
    for relative, reason, mismatch in failures:
        if mismatch:
            raise InputError(f"{os.path.join(listing.root, relative)}: {reason}")
    if failures and not skip_unreadable:
        relative, reason, _ = failures[0]
        more = f" (and {len(failures) - 1:,} more)" if len(failures) > 1 else ""
        raise InputError(f"{os.path.join(listing.root, relative)}: not a readable image ({reason}){more}; "
                         "--skip-unreadable leaves such files out")


def _finish(out: str, data: np.memmap, count: int, listing: Listing, kept: list[int]) -> None:
    """data.npy with the ``count`` rows packed, and the labels, classes and files that go with them."""
    if count < len(data):
        final = np.lib.format.open_memmap(os.path.join(out, ".data.npy.part"), "w+", np.uint8, (count, *data.shape[1:]))
        final[:] = data[:count]
        final.flush()
        del final
        os.replace(os.path.join(out, ".data.npy.part"), os.path.join(out, ".data.npy.tmp"))
    del data
    os.replace(os.path.join(out, ".data.npy.tmp"), os.path.join(out, "data.npy"))
    _write_lines(os.path.join(out, "files.txt"), [listing.files[index] for index in kept])
    for name in ("labels.npy", "classes.txt"):
        if os.path.exists(os.path.join(out, name)):
            os.remove(os.path.join(out, name))
    if listing.classes is not None:
        np.save(os.path.join(out, "labels.npy"), listing.labels[kept])
        _write_lines(os.path.join(out, "classes.txt"), list(listing.classes))


def _write_lines(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def _decode_chunk(root: str, files: list[str], side: int, channels: int) -> tuple[list, list]:
    """Each file decoded (None for one that failed), and (file, what failed, whether a mismatch) of the failures."""
    rows, failures = [], []
    for relative in files:
        try:
            rows.append(decode(os.path.join(root, relative), side, channels))
        except (Unreadable, Mismatch) as error:
            failures.append((relative, str(error), isinstance(error, Mismatch)))
            rows.append(None)
    return rows, failures


def _in_chunks(work, listing: Listing, quiet: bool, verb: str, *args):
    """``work(root, files, *args)`` for each chunk of CHUNK files, in order, with a bar of images/s on a terminal.

    A large folder is shared among worker processes, one per core: Pillow opens a file in Python, holding the GIL,
    so threads decoded 28×28 PNGs at 6,600 images/s on 2 cores, slower than one process alone (11,900), and
    processes at 17,900 once started. A small one is read in this process, which is faster than starting them.
    """
    files = listing.files
    workers = (os.cpu_count() or 1) if len(files) >= PARALLEL_FROM else 1
    bar = tqdm(total=len(files), desc=f"{verb} {listing.root}", unit="image", disable=True if quiet else None,
               leave=False)
    jobs = (delayed(work)(listing.root, files[start:start + CHUNK], *args) for start in range(0, len(files), CHUNK))
    with bar, Parallel(n_jobs=workers, return_as="generator") as parallel:
        for result in parallel(jobs):
            bar.update(min(CHUNK, len(files) - bar.n))
            yield result
