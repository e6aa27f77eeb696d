"""Writing outputs: every file goes through :func:`atomic_write`, and every output path is checked before any work.

An atomic write is a temporary file in the same folder, renamed into place, so an interrupted run
leaves the old file or the new one, never half of one.
"""

import csv
import io
import math
import os
import tempfile
from collections import Counter
from typing import BinaryIO, Callable

import numpy as np

from vae.core.errors import InputError, open_for_reading

PREDICTIONS_HEADER = "Predicted_Label"


def atomic_write(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Write a file through ``write(handle)`` so that ``path`` is never seen half-written; its folder is made if
    need be (every output check has passed by then: see :func:`check_writable`)."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp", delete=False
        )
    except OSError as error:
        raise InputError(f"{path}: cannot write here ({error.strerror or error})") from None
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
        os.replace(handle.name, path)
    except BaseException as error:
        try:
            os.unlink(handle.name)
        except OSError:
            pass
        if isinstance(error, OSError):
            raise InputError(f"{path}: cannot write ({error.strerror or error})") from None
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_images(path: str, image_set, pairs, score: Callable):
    """Write the outputs of (input batch, output batch) ``pairs``, in order, as float32 in ``image_set``'s
    own layout (vae.core.data.ImageSet.restore), and return ``score(pairs)``, computed on the way.

    A ``path`` ending in .npy is written a batch at a time, so memory stays bounded however many
    images there are; a folder (``DIR/``) gets one PNG per image, named as the image it comes from (a folder's
    relative paths, else the image's number); any other path is an .npz with key 'data', written once the whole
    array is filled.
    """

    def passing(store):
        for truth, output in pairs:
            store(np.ascontiguousarray(image_set.restore(output.reshape(len(output), -1)), dtype=np.float32))
            yield truth, output

    if is_folder_output(path):
        names = picture_names(len(image_set), image_set.files)
        done = 0

        def draw(batch):
            nonlocal done
            write_pictures(path, names[done:done + len(batch)], batch.reshape(len(batch), -1), image_set.channels)
            done += len(batch)

        return score(passing(draw))

    if path.lower().endswith(".npy"):
        scores = []

        def stream(handle):
            descr = np.lib.format.dtype_to_descr(np.dtype(np.float32))
            header = {"descr": descr, "fortran_order": False, "shape": tuple(image_set.stored_shape)}
            np.lib.format.write_array_header_1_0(handle, header)
            scores.append(score(passing(lambda batch: handle.write(batch.tobytes()))))

        atomic_write(path, stream)
        return scores[0]
    whole, filled = np.empty(image_set.stored_shape, np.float32), 0

    def keep(batch):
        nonlocal filled
        whole[filled:filled + len(batch)] = batch
        filled += len(batch)

    scores = score(passing(keep))
    atomic_write(path, lambda handle: np.savez(handle, data=whole))
    return scores


def write_predictions(handle, predicted: np.ndarray, files: tuple[str, ...] | None = None, rows: int = 65536) -> None:
    """A predictions CSV: the header, then one label per line (after its file, for a folder of images: header
    File,Predicted_Label), written in blocks so memory stays bounded."""
    write_table(handle, [PREDICTIONS_HEADER], [predicted], files, rows)


def write_table(handle, header: list[str], columns: list, files: tuple[str, ...] | None = None,
                rows: int = 65536) -> None:
    """A CSV of one row per image: ``columns`` (each (N,) values), after a File column when ``files`` are known."""
    if files is not None:
        header, columns = ["File", *header], [np.asarray(files), *columns]
    handle.write((",".join(header) + "\n").encode())
    for start in range(0, len(columns[0]), rows):
        text = io.StringIO()
        block = (column[start:start + rows].tolist() for column in columns)
        csv.writer(text, lineterminator="\n").writerows(zip(*block))
        handle.write(text.getvalue().encode())


def read_predictions(path: str, count: int) -> np.ndarray:
    """Labels from a predictions CSV (header Predicted_Label, one integer per row)."""
    with open_for_reading(path, "a predictions file") as handle:
        try:
            rows = list(csv.reader(io.TextIOWrapper(handle, newline="")))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise InputError(f"{path}: cannot read ({error})") from None
    if not rows or rows[0] != [PREDICTIONS_HEADER]:
        raise InputError(f"{path}: the first line must be the header {PREDICTIONS_HEADER}")
    try:
        labels = np.array([int(row[0]) for row in rows[1:] if row], dtype=np.int64)
    except (ValueError, IndexError):
        raise InputError(f"{path}: every row after the header must be one integer label") from None
    if len(labels) != count:
        raise InputError(f"{path}: has {len(labels)} predictions but the truth has {count} images")
    return labels


def check_writable(path: str, suffixes: tuple[str, ...] = (), folders: bool = False) -> None:
    """Fail early, before any work, when an output file cannot be written: a folder in its place, a file where its
    folder would go, a folder that cannot be written, or (given ``suffixes``) an extension the command does not
    write. A folder that does not exist yet is made when the file is written. With ``folders``, a folder (DIR/)
    is an output too: one image file per image."""
    if folders and is_folder_output(path):
        check_folder_writable(path)
        return
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory; give a file name")
    if suffixes and not path.lower().endswith(suffixes):
        raise InputError(f"{path}: this command writes {' or '.join(suffixes)} files; give a path ending in one")
    check_folder_writable(os.path.dirname(os.path.abspath(path)), path)


def check_folder_writable(folder: str, output: str | None = None) -> None:
    """Fail early when a folder of outputs can neither be used nor made (``output``: the path named in the error)."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise InputError(f"{output or folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise InputError(f"{output or folder}: the folder {existing} is not writable")


def is_folder_output(path: str) -> bool:
    """Whether an --out names a folder of image files: it ends with a slash, or is a folder already."""
    return path.endswith(("/", os.sep)) or os.path.isdir(path)


def picture_names(count: int, files: tuple[str, ...] | None = None) -> list[str]:
    """The PNG names of ``count`` output images: each source file's relative path as .png (x.jpg -> x.png; where
    two sources would share a name, such as x.png and x.jpg, x.jpg -> x.jpg.png), else its number."""
    if files is None:
        digits = max(6, len(str(count - 1)))
        return [f"{index:0{digits}d}.png" for index in range(count)]
    names = [os.path.splitext(name)[0] + ".png" for name in files]
    shared = {name for name, times in Counter(names).items() if times > 1}
    names = [f"{source}.png" if name in shared and name != source else name for name, source in zip(names, files)]
    clashes = sorted(name for name, times in Counter(names).items() if times > 1)
    if clashes:
        raise InputError(f"two of the images would be written as {clashes[0]}")
    return names


def check_outside(output_folder: str, *sources: str) -> None:
    """Refuse a folder of output images that is one of the input folders or lies inside one: its PNGs would mix
    with the user's images or replace them."""
    inside = os.path.realpath(output_folder)
    for source in sources:
        folder = os.path.realpath(source)
        if os.path.isdir(folder) and (inside == folder or inside.startswith(folder + os.sep)):
            raise InputError(f"{output_folder}: lies inside {source}, whose images the outputs would mix with or "
                             "replace; give a folder outside it")


def write_pictures(folder: str, names: list[str], images: np.ndarray, channels: int) -> None:
    """(B, C·S·S) images in [0, 1] as PNG files FOLDER/NAME (grey or RGB), each written atomically."""
    from PIL import Image  # only outputs in folders of images need it

    side = math.isqrt(images.shape[1] // channels)
    pixels = np.round(np.clip(images, 0, 1) * 255).astype(np.uint8).reshape(len(images), channels, side, side)
    for name, picture in zip(names, pixels):
        picture = Image.fromarray(picture[0] if channels == 1 else picture.transpose(1, 2, 0))
        atomic_write(os.path.join(folder, name), lambda handle, picture=picture: picture.save(handle, format="PNG"))


def write_array(path: str, images: np.ndarray) -> None:
    """Images as ``path`` asks: an .npy file of the array, else an .npz with key 'data'."""
    if path.lower().endswith(".npy"):
        atomic_write(path, lambda handle: np.save(handle, images))
    else:
        atomic_write(path, lambda handle: np.savez(handle, data=images))
