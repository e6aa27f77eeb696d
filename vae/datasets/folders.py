"""Folders of image files, the form users' own data comes in: HAM10000's JPEGs arranged by diagnosis from its
metadata CSV, any labelled .npz written out as PNG files (one subfolder per class; resized, tinted for RGB),
and a folder packed once into memory-mapped .npy files for repeated runs (vae/core/folders.py)."""

import csv
import os
import shutil
import tempfile

import numpy as np
from PIL import Image

from vae.core.arrays import check_side
from vae.core.errors import InputError, first_line, open_for_reading
from vae.core.folders import list_images, pack, settle
from vae.core.image_file import Unreadable, decode
from vae.core.io import atomic_write, check_outside

HAM_DIAGNOSES = ("akiec", "bcc", "bkl", "df", "mel", "nv", "vasc")


def arrange_ham10000(image_folders: list[str], metadata: str, out: str, side: int | None = None) -> list[str]:
    """HAM10000 as distributed (its JPEGs in one or more folders, HAM10000_metadata.csv) as OUT/DIAGNOSIS/ID.jpg,
    one subfolder per diagnosis; resized to SIDE×SIDE (as PNG) when ``side`` is given. The files written."""
    with open_for_reading(metadata, "a CSV file") as handle:
        try:
            rows = list(csv.DictReader(line.decode("utf-8") for line in handle))
        except (UnicodeDecodeError, csv.Error) as error:
            raise InputError(f"{metadata}: not a readable CSV ({first_line(error)})") from None
    if not rows or not {"image_id", "dx"} <= set(rows[0]):
        raise InputError(f"{metadata}: expected HAM10000's metadata CSV, with the columns image_id and dx")
    unknown = sorted({row["dx"] for row in rows} - set(HAM_DIAGNOSES))
    if unknown:
        raise InputError(f"{metadata}: diagnoses other than HAM10000's ({', '.join(unknown)})")
    found = {os.path.splitext(name)[0]: os.path.join(folder, name) for folder in image_folders
             for name in _listed(folder) if name.lower().endswith((".jpg", ".jpeg"))}
    missing = [row["image_id"] for row in rows if row["image_id"] not in found]
    if missing:
        raise InputError(f"{metadata}: {len(missing)} of its images are in none of {', '.join(image_folders)} "
                         f"(the first: {missing[0]}.jpg)")
    check_side(side)
    # written into a staging folder beside OUT first: a damaged JPEG stops it with OUT as it was
    names = [os.path.join(row["dx"], row["image_id"] + (".png" if side else ".jpg")) for row in rows]
    staging = None
    try:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        staging = tempfile.mkdtemp(prefix=".ham10000-", dir=os.path.dirname(os.path.abspath(out)))
        for row, name in zip(rows, names):
            _arrange_one(found[row["image_id"]], os.path.join(staging, name), side)
        for name in names:
            os.makedirs(os.path.dirname(os.path.join(out, name)), exist_ok=True)
            os.replace(os.path.join(staging, name), os.path.join(out, name))
    except OSError as error:
        raise InputError(f"{error.filename or out}: {error.strerror or error}") from None
    finally:
        if staging:
            shutil.rmtree(staging, ignore_errors=True)
    return [os.path.join(out, name) for name in names]


def _arrange_one(source: str, target: str, side: int | None) -> None:
    """One of HAM10000's JPEGs as it is, or resized to SIDE×SIDE RGB (upright, antialiased) as a PNG."""
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if side is None:
        with open(source, "rb") as original, open(target, "wb") as copy:
            shutil.copyfileobj(original, copy)
        return
    try:
        pixels = decode(source, side, 3)
    except Unreadable as error:
        raise InputError(f"{source}: not a readable image ({error})") from None
    Image.fromarray(pixels.transpose(1, 2, 0), "RGB").save(target, format="PNG")


def _listed(folder: str) -> list[str]:
    try:
        return sorted(os.listdir(folder))
    except OSError as error:
        raise InputError(f"{folder}: cannot list ({error.strerror or error})") from None


def write_image_folder(images: np.ndarray, labels: np.ndarray, out: str, side: int | None = None,
                       tint: bool = False, seed: int = 0) -> list[str]:
    """(N, H, W) uint8 grey images as OUT/LABEL/NNNNNN.png, one subfolder per label: resized to SIDE×SIDE when
    given, and with ``tint`` as RGB, each image's ink in a colour of its own (a seeded draw), its ground black."""
    check_side(side)
    colours = np.random.default_rng(seed).uniform(0.25, 1.0, (len(images), 3))
    written = []
    for index, (image, label) in enumerate(zip(images, labels)):
        picture = Image.fromarray(image)
        if side:
            picture = picture.resize((side, side), Image.Resampling.BILINEAR)
        if tint:
            grey = np.asarray(picture, np.float64)[..., None]
            picture = Image.fromarray(np.round(grey * colours[index]).astype(np.uint8), "RGB")
        path = os.path.join(out, str(label), f"{index:06d}.png")
        atomic_write(path, lambda handle, picture=picture: picture.save(handle, format="PNG"))
        written.append(path)
    return written


def pack_folder(folder: str, out: str, side: int | None = None, channels: int | None = None,
                skip_unreadable: bool = False, quiet: bool = False) -> tuple[int, list[str]]:
    """A folder of images packed into OUT (data.npy, labels.npy, classes.txt, files.txt) for later runs: the number
    of images packed, and the files left out as unreadable."""
    check_outside(out, folder)  # data.npy inside a folder of images would make it a packed set, its images unread
    listing = list_images(folder)
    return pack(listing, out, *settle(listing, side, channels, quiet, skip_unreadable, say=print), skip_unreadable,
                quiet)
