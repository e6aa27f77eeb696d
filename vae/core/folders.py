"""Folders of image files as image sets: PNG, JPEG, BMP or TIFF, any size, grey or RGB; flat (unlabelled) or one
subfolder per class (the ImageFolder convention: a subfolder's name is its class, classes sorted by name).

A folder is read once, by one worker process per core, into the packed form vae/core/arrays.py memory-maps
(``data.npy`` uint8 N×S×S or N×3×S×S, ``labels.npy``, ``classes.txt``, ``files.txt``): each image resized to
one square side S, in the order of its sorted relative path; hidden and other files passed over. A command
packs a folder into a temporary one first, so no folder is ever held whole in memory.
"""

import os
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from PIL import Image, ImageOps
from tqdm import tqdm

from vae.core.arrays import SIDES
from vae.core.errors import InputError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
CHUNK = 64  # images one worker decodes at a time
PACKED = ("data.npy", "files.txt", "labels.npy", "classes.txt")  # a packed set's files (vae/core/arrays.py)
ORIENTATION = 0x0112  # the EXIF tag of how a photo is to be turned
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


def survey(listing: Listing, quiet: bool = True, skip_unreadable: bool = False) -> tuple[set, bool]:
    """({(width, height)} of the images, whether every one is grey), from their headers alone; a file whose header
    cannot be read stops it (InputError) unless ``skip_unreadable``."""
    sizes, grey = set(), True
    found = (header for headers in _in_chunks(_headers, listing, quiet, "looking at") for header in headers)
    for relative, (size, detail) in zip(listing.files, found):
        if size is None and not skip_unreadable:
            raise InputError(f"{os.path.join(listing.root, relative)}: not a readable image ({detail}); "
                             "--skip-unreadable leaves such files out")
        if size is not None:
            sizes.add(size)
            grey = grey and detail
    if not sizes:
        raise InputError(f"{listing.root}: not one of its images is readable")
    return sizes, grey


def _headers(root: str, files: list[str]) -> list[tuple]:
    """(size, whether grey) of each file from its header, or (None, what is wrong)."""
    found = []
    for relative in files:
        try:
            with Image.open(os.path.join(root, relative)) as image:
                turned = _orientation(image) in (5, 6, 7, 8)  # stored a quarter turn from upright
                found.append((image.size[::-1] if turned else image.size,
                               image.mode in GREY_MODES or (image.mode == "P" and _grey_palette(image))))
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            found.append((None, str(error)))
    return found


def settle(listing: Listing, side: int | None, channels: int | None, quiet: bool = True,
           skip_unreadable: bool = False) -> tuple[int, int]:
    """The side and channels to read a folder at: those given, else its images' own (one square side; grey when
    every image is), from their headers."""
    if side is not None and not SIDES[0] <= side <= SIDES[1]:
        raise InputError(f"--image-size {side}: must be from {SIDES[0]} to {SIDES[1]}")
    if side is None or channels is None:
        sizes, grey = survey(listing, quiet, skip_unreadable)
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


def decode(path: str, side: int, channels: int, colour_to_grey: bool = False) -> np.ndarray:
    """One image file as uint8 (side, side) grey or (3, side, side) RGB, upright as its EXIF orientation says,
    resized with antialiasing; a colour image for grey is converted when ``colour_to_grey``, else refused."""
    try:
        with Image.open(path) as image:
            image.draft(image.mode, (side, side))  # a JPEG decodes straight at a smaller scale, still >= side
            if _orientation(image) != 1:  # a phone's photo stored sideways
                image = ImageOps.exif_transpose(image)
            image = _in_channels(_eight_bit(image), channels, colour_to_grey)
            if image.size != (side, side):
                image = image.resize((side, side), Image.Resampling.BILINEAR)  # antialiased when shrinking
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise Unreadable(str(error) or type(error).__name__) from None
    return pixels if channels == 1 else pixels.transpose(2, 0, 1)


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1: upright) from the file's header; a PNG without EXIF there is not decoded for it."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1
    return image.getexif().get(ORIENTATION, 1)


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


def _in_channels(image: Image.Image, channels: int, colour_to_grey: bool) -> Image.Image:
    """The image as RGB, or as grey when it is grey (an RGB file whose three channels are equal counts as grey) or
    when colour is to be converted."""
    if channels == 3:
        return image.convert("RGB")
    if image.mode in GREY_MODES or colour_to_grey:
        return image.convert("L")
    rgb = np.asarray(image.convert("RGB"))
    if np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]):
        raise Mismatch("a colour image, but grey images are asked for")
    return Image.fromarray(np.ascontiguousarray(rgb[..., 0]), "L")


def pack(listing: Listing, out: str, side: int, channels: int, skip_unreadable: bool = False, quiet: bool = True,
         colour_to_grey: bool = False) -> tuple[int, list[str]]:
    """Decode every image of ``listing`` into the packed form in the folder ``out`` (made if need be); the number
    packed and the relative paths left out as unreadable (with ``skip_unreadable``; else InputError).

    Everything is written under temporary names and renamed at the end: stopped for any reason (a bad image,
    Ctrl-C), it leaves ``out`` as it found it.
    """
    made = not os.path.exists(out)
    os.makedirs(out, exist_ok=True)
    shape = (side, side) if channels == 1 else (channels, side, side)
    temporary = {name: os.path.join(out, f".{name}.tmp") for name in PACKED}
    packed = False
    try:
        data = np.lib.format.open_memmap(temporary["data.npy"], "w+", np.uint8, (len(listing.files), *shape))
        kept, every_failure = [], []  # all chunks run to their end: a worker is never stopped mid-task
        decoded = _in_chunks(_decode_chunk, listing, quiet, "reading", side, channels, colour_to_grey)
        for start, (rows, failures) in zip(range(0, len(listing.files), CHUNK), decoded):
            every_failure += failures
            for index, row in enumerate(rows):
                if row is not None:
                    data[len(kept)] = row
                    kept.append(start + index)
        _refuse(listing, every_failure, skip_unreadable)
        if not kept:
            raise InputError(f"{listing.root}: not one of its images is readable")
        _write_packed(temporary, data, kept, listing)
        del data
        for name in PACKED:
            final = os.path.join(out, name)
            if os.path.exists(temporary[name]):
                os.replace(temporary[name], final)
            elif os.path.exists(final):  # a labelled set's labels, from an earlier pack into the same folder
                os.remove(final)
        packed = True
    finally:
        for path in temporary.values():
            if os.path.exists(path):
                os.remove(path)
        if made and not packed and not os.listdir(out):
            os.rmdir(out)
    return len(kept), [relative for relative, _, _ in every_failure]


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


def _write_packed(temporary: dict, data: np.memmap, kept: list[int], listing: Listing) -> None:
    """The packed files under their temporary names: data with the rows kept, and the files (and labels and
    classes) that go with them."""
    data.flush()
    if len(kept) < len(data):
        part = temporary["data.npy"] + ".part"
        final = np.lib.format.open_memmap(part, "w+", np.uint8, (len(kept), *data.shape[1:]))
        final[:] = data[:len(kept)]
        final.flush()
        del final
        os.replace(part, temporary["data.npy"])
    _write_lines(temporary["files.txt"], [listing.files[index] for index in kept])
    if listing.classes is not None:
        with open(temporary["labels.npy"], "wb") as handle:
            np.save(handle, listing.labels[kept])
        _write_lines(temporary["classes.txt"], list(listing.classes))


def _write_lines(path: str, lines: list[str]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def _decode_chunk(root: str, files: list[str], side: int, channels: int, colour_to_grey: bool) -> tuple[list, list]:
    """Each file decoded (None for one that failed), and (file, what failed, whether a mismatch) of the failures."""
    rows, failures = [], []
    for relative in files:
        try:
            rows.append(decode(os.path.join(root, relative), side, channels, colour_to_grey))
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
