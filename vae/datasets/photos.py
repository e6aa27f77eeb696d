"""Patches of real photographs as folders of PNG files, built offline from the photographs scikit-image and
scikit-learn ship: a benchmark of real images at any size that needs no download.

Each photograph is split in two regions side by side (along its longer side, a gap between them): training
patches come from the first 60%, test patches from the last 35%, so no test pixel was ever seen in training.
A patch is a random square of 0.8 to 1.25 times the side, resized to the side; a photograph too small for that
is enlarged first. Two kinds of set:

    classes    OUT/train/PHOTO/NNNN.png, OUT/test/PHOTO/NNNN.png: which photograph a patch came from
    anomaly    OUT/train/normal/NNNN.png (the normal photographs' patches only) and OUT/test/{normal,abnormal}/

scikit-image's brick, grass, gravel, retina, immunohistochemistry, astronaut, coffee, chelsea, cat, rocket and
hubble_deep_field are left out on purpose: they are kept for an independent check of the defaults.
"""

import os

import numpy as np
from PIL import Image

from vae.core.errors import InputError

GREY = ("camera", "coins", "moon", "page", "text", "cell", "clock")  # scikit-image's grey photographs
COLOUR = ("china", "flower", "colorwheel")  # scikit-learn's two sample images, and scikit-image's colour wheel
SETS = {  # name: (kind, channels, the photographs: classes, or (normal, abnormal))
    "grey-classes": ("classes", 1, GREY),
    "colour-classes": ("classes", 3, ("china", "flower")),
    "grey-anomaly": ("anomaly", 1, (("camera", "coins"), ("moon", "clock"))),  # normal and abnormal of one kind
    "colour-anomaly": ("anomaly", 3, (("flower",), ("china", "colorwheel"))),
}
TRAIN_SHARE, TEST_SHARE = 0.60, 0.35
SCALES = (0.8, 1.25)


def photograph(name: str, channels: int) -> np.ndarray:
    """One bundled photograph as uint8 (H, W) for grey or (H, W, 3) for colour."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name}.jpg")
    else:
        import skimage.data

        image = getattr(skimage.data, name)()
    picture = Image.fromarray(image)
    return np.asarray(picture.convert("L" if channels == 1 else "RGB"))


def regions(image: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """The training and test regions of a photograph, enlarged first where the test region's shorter side is less
    than 1.25 × ``side``."""
    height, width = image.shape[:2]
    long_axis = 1 if width >= height else 0
    short, long = min(height, width), max(height, width)
    scale = max(1.0, SCALES[1] * side / short, SCALES[1] * side / (TEST_SHARE * long))
    if scale > 1:
        size = (round(width * scale), round(height * scale))
        image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
    long = image.shape[long_axis]
    train_end, test_start = int(TRAIN_SHARE * long), long - int(TEST_SHARE * long)
    take = (lambda start, end: image[:, start:end]) if long_axis else (lambda start, end: image[start:end])
    return take(0, train_end), take(test_start, long)


def patches(region: np.ndarray, side: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` random squares of the region, each resized to ``side``; (count, side, side[, 3]) uint8."""
    height, width = region.shape[:2]
    out = []
    for _ in range(count):
        crop = min(int(side * rng.uniform(*SCALES)), height, width)
        top, left = rng.integers(0, height - crop + 1), rng.integers(0, width - crop + 1)
        square = Image.fromarray(region[top:top + crop, left:left + crop])
        out.append(np.asarray(square.resize((side, side), Image.Resampling.BILINEAR, reducing_gap=None)))
    return np.stack(out)


def build_photo_set(name: str, out: str, side: int = 64, train: int = 300, test: int = 100, seed: int = 0) -> str:
    """Write the set ``name`` of SETS under ``out`` (``train`` and ``test`` patches per photograph); ``out``."""
    if name not in SETS:
        raise InputError(f"{name}: not a photograph set ({', '.join(SETS)})")
    if os.path.exists(out) and os.listdir(out):
        raise InputError(f"{out}: exists and is not empty; give a new folder")
    kind, channels, photos = SETS[name]
    rng = np.random.default_rng(seed)
    if kind == "classes":
        groups = {photo: (photo, photo) for photo in photos}
    else:
        groups = {photo: ("normal", "normal") for photo in photos[0]}
        groups |= {photo: (None, "abnormal") for photo in photos[1]}
    for photo, (train_class, test_class) in groups.items():
        train_region, test_region = regions(photograph(photo, channels), side)
        if train_class:
            _write_more(os.path.join(out, "train", train_class), patches(train_region, side, train, rng))
        _write_more(os.path.join(out, "test", test_class), patches(test_region, side, test, rng))
    return out


def _write_more(folder: str, images: np.ndarray) -> None:
    """The images as PNG files numbered on from those already in ``folder`` (two photographs in one class)."""
    os.makedirs(folder, exist_ok=True)
    for index, image in enumerate(images, len(os.listdir(folder))):
        Image.fromarray(image).save(os.path.join(folder, f"{index:04d}.png"))
