"""One image file: its header (size, whether grey) and its pixels at a square side, grey or RGB (Pillow).

A photo's EXIF orientation is applied; 16-bit grey is scaled to 8 bits; an RGB file whose three channels are
equal counts as grey; images are resized (antialiased) to S×S, non-square ones stretched. vae/core/folders.py
reads folders of such files.
"""

import numpy as np
from PIL import Image, ImageOps

GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
ORIENTATION = 0x0112  # the EXIF tag of how a photo is to be turned


class Unreadable(Exception):
    """An image file that cannot be decoded (damaged, truncated, not an image after all)."""


class Mismatch(Exception):
    """An image that cannot be given the channels asked for: a colour image for a grey model."""


def read_header(path: str) -> tuple[tuple[int, int], bool]:
    """((width, height) as shown upright, whether grey) of an image file, from its header alone; Unreadable."""
    try:
        with Image.open(path) as image:
            turned = _orientation(image) in (5, 6, 7, 8)  # stored a quarter turn from upright
            grey = image.mode in GREY_MODES or (image.mode == "P" and _grey_palette(image))
            return (image.size[::-1] if turned else image.size), grey
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise Unreadable(str(error) or type(error).__name__) from None


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
    try:
        return image.getexif().get(ORIENTATION, 1)
    except (OSError, SyntaxError, ValueError):  # damaged metadata: the pixels may still be fine
        return 1


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


def _grey_palette(image: Image.Image) -> bool:
    palette = np.array(image.getpalette() or [], dtype=np.int64).reshape(-1, 3)
    return bool(np.all(palette[:, 0] == palette[:, 1]) and np.all(palette[:, 1] == palette[:, 2]))
