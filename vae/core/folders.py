"""Folders of image files as image sets: PNG, JPEG, BMP or TIFF, any size, grey or RGB; flat (unlabelled) or one
subfolder per class (the ImageFolder convention: a subfolder's name is its class, classes sorted by name).

A folder is read once, by one worker process per core, into the packed form vae/core/arrays.py memory-maps
(``data.npy`` uint8 N×S×S or N×3×S×S, ``labels.npy``, ``classes.txt``, ``files.txt``): each image resized to
one square side S, in the order of its sorted relative path; hidden and other files passed over. A command
packs a folder into a temporary one first, so no folder is ever held whole in memory.
"""

import os
from collections import Counter
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed
from tqdm import tqdm

from vae.core.arrays import IMAGE_SUFFIXES, SIDES, check_side
from vae.core.errors import InputError
from vae.core.image_file import Mismatch, Unreadable, decode, read_header

CHUNK = 64  # images one worker decodes at a time
PACKED = ("data.npy", "files.txt", "labels.npy", "classes.txt")  # a packed set's files (vae/core/arrays.py)
PARALLEL_FROM = 2000  # files; fewer are read in this process, faster than starting worker processes


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
        raise InputError(f"{root}: holds no image files ({', '.join(IMAGE_SUFFIXES)})")
    if empty:
        raise InputError(f"{os.path.join(root, empty[0])}: a class folder without image files")
    classes = tuple(folders)
    files = [f"{name}/{path}" for name in classes for path in nested[name]]
    labels = np.concatenate([np.full(len(nested[name]), index, np.int64) for index, name in enumerate(classes)])
    order = np.argsort(np.array(files), kind="stable")
    return Listing(root, [files[i] for i in order], labels[order], classes)


def _is_image(folder: str, name: str) -> bool:
    return (not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)
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


def survey(listing: Listing, quiet: bool = True, skip_unreadable: bool = False) -> list[tuple[str, tuple, bool]]:
    """(relative path, (width, height), whether grey) of each readable image, from its header alone; a file whose
    header cannot be read stops it (InputError) unless ``skip_unreadable``."""
    found = (header for headers in _in_chunks(_headers, listing, quiet, "looking at") for header in headers)
    readable = []
    for relative, (size, detail) in zip(listing.files, found):
        if size is None and not skip_unreadable:
            raise InputError(f"{os.path.join(listing.root, relative)}: not a readable image ({detail}); "
                             "--skip-unreadable leaves such files out")
        if size is not None:
            readable.append((relative, size, detail))
    if not readable:
        raise InputError(f"{listing.root}: not one of its images is readable")
    return readable


def _headers(root: str, files: list[str]) -> list[tuple]:
    """(size, whether grey) of each file from its header, or (None, what is wrong)."""
    found = []
    for relative in files:
        try:
            found.append(read_header(os.path.join(root, relative)))
        except Unreadable as error:
            found.append((None, str(error)))
    return found


def settle(listing: Listing, side: int | None, channels: int | None, quiet: bool = True,
           skip_unreadable: bool = False, say=None) -> tuple[int, int]:
    """The side and channels to read a folder at: those given, else its images' own, from their headers: the most
    common square side (``say`` tells when the sides differ), grey when every image is grey and RGB when every one
    is in colour. A folder that mixes grey and colour images, or holds images far smaller than the side it is
    read at, is refused: it needs --channels, or --image-size, said on purpose."""
    check_side(side)
    if side is None or channels is None:
        images = survey(listing, quiet, skip_unreadable)
        if channels is None:
            channels = colour_mode(images, listing.root)
        if side is None:
            side = image_side(images, listing.root)
            check_thumbnails(images, side, listing.root)
            sizes = {size for _, size, _ in images}
            if len(sizes) > 1 and say:
                commonest = sum(size == (side, side) for _, size, _ in images)
                say(f"{listing.root}: its images have {len(sizes)} sizes; reading all at the commonest, {side}×{side} "
                    f"({commonest:,} of {len(images):,} images), as --image-size {side} would")
    return side, channels


def colour_mode(images: list, root: str) -> int:
    """1 when every image is stored as grey, 3 when every one is stored in colour (an RGB file of equal channels
    counts as colour here, from its header); InputError for a mix."""
    grey = [relative for relative, _, is_grey in images if is_grey]
    if not grey or len(grey) == len(images):
        return 1 if grey else 3
    fewer, kind = (grey, "grey") if len(grey) <= len(images) / 2 else (
        [relative for relative, _, is_grey in images if not is_grey], "colour (RGB)")
    raise InputError(f"{root}: {len(fewer):,} of its {len(images):,} images are stored as {kind} and the rest are "
                     f"not (the first: {fewer[0]}); give --channels 1 (all read as grey) or 3 (all as RGB)")


def image_side(images: list, root: str) -> int:
    """The side most of the images have, the default --image-size (every image is resized to it); InputError when
    the commonest size is not square or not a side the networks take."""
    sizes = Counter(size for _, size, _ in images)
    (width, height), _ = sizes.most_common(1)[0]
    if width != height:
        raise InputError(f"{root}: the commonest size of its images is {width}×{height}, not square; give "
                         "--image-size S (each is resized to S×S)")
    if not SIDES[0] <= width <= SIDES[1]:
        raise InputError(f"{root}: the commonest size of its images is {width}×{height}; give --image-size S "
                         f"between {SIDES[0]} and {SIDES[1]}")
    return width


def check_thumbnails(images: list, side: int, root: str) -> None:
    """Refuse images under half of ``side`` on both axes: upscaled, they would be mostly interpolation."""
    small = [(relative, size) for relative, size, _ in images if max(size) * 2 <= side]
    if small:
        relative, (width, height) = small[0]
        raise InputError(f"{root}: {len(small):,} of its {len(images):,} images are at most half the side {side} it "
                         f"is read at (the first: {relative}, {width}×{height}); remove them, or give --image-size "
                         "to enlarge them on purpose")


def pack(listing: Listing, out: str, side: int, channels: int, skip_unreadable: bool = False, quiet: bool = True,
         colour_to_grey: bool = False) -> tuple[int, list[str]]:
    """Decode every image of ``listing`` into the packed form in the folder ``out`` (made if need be); the number
    packed and the relative paths left out as unreadable (with ``skip_unreadable``; else InputError).

    Everything is written under temporary names and renamed at the end: stopped for any reason (a bad image,
    Ctrl-C), it leaves ``out`` as it found it.
    """
    made = not os.path.exists(out)
    shape = (side, side) if channels == 1 else (channels, side, side)
    temporary = {name: os.path.join(out, f".{name}.tmp") for name in PACKED}
    part = temporary["data.npy"] + ".part"
    packed = False
    try:
        os.makedirs(out, exist_ok=True)
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
        _write_packed(temporary, part, data, kept, listing)
        del data
        for name in reversed(PACKED):  # data.npy last: until it is there, the folder is no packed set
            final = os.path.join(out, name)
            if os.path.exists(temporary[name]):
                os.replace(temporary[name], final)
            elif os.path.exists(final):  # a labelled set's labels, from an earlier pack into the same folder
                os.remove(final)
        packed = True
    except OSError as error:  # decoding catches its own: these are the packed files' (a full disk, a file as OUT)
        raise InputError(f"{out}: cannot write a packed set here ({error.strerror or error})") from None
    finally:
        for path in (*temporary.values(), part):
            if os.path.exists(path):
                os.remove(path)
        if made and not packed and os.path.isdir(out) and not os.listdir(out):
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


def _write_packed(temporary: dict, part: str, data: np.memmap, kept: list[int], listing: Listing) -> None:
    """The packed files under their temporary names: data with the rows kept, and the files (and labels and
    classes) that go with them."""
    data.flush()
    if len(kept) < len(data):
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
