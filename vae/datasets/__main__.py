"""``python -m vae.datasets WHAT ...``: build image sets (see vae/datasets/__init__.py for the forms)."""

import argparse
import sys

import vae.datasets
from vae.core.arrays import check_side
from vae.core.errors import InputError
from vae.datasets.folders import arrange_ham10000, pack_folder, write_image_folder
from vae.datasets.photos import SETS as PHOTO_SETS
from vae.datasets.photos import build_photo_set
from vae.datasets.public import build_fashion_mnist, build_ham10000, build_mnist
from vae.datasets.shapes import build_shapes
from vae.datasets.splits import combine_files, digits_sets, experiment_split, labelled_images, write_sets

WHATS = ("mnist", "fashion-mnist", "ham10000", "digits", "photos", "split", "combine", "pack", "images", "shapes")


def count(minimum: int):
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {text}")
        return value

    parse.__name__ = "int"  # argparse's message for a non-integer: "invalid int value"
    return parse


def parser() -> argparse.ArgumentParser:
    # exit_on_error=False: a bad option value is one line (main), as the builders' own errors
    form = argparse.ArgumentParser(prog="python -m vae.datasets", description=vae.datasets.__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter, exit_on_error=False)
    form.add_argument("what", choices=WHATS)
    form.add_argument("sources", nargs="*", metavar="SOURCE",
                      help="split, images: the labelled .npz; combine: the .npz files; pack: the folder of images; "
                           f"photos: the set ({', '.join(PHOTO_SETS)})")
    form.add_argument("--out", required=True, help="output folder")
    form.add_argument("--csv", help="ham10000: Kaggle's hmnist_28_28_RGB.csv")
    form.add_argument("--images", nargs="+", metavar="DIR", help="ham10000: the folder(s) of HAM10000's JPEGs")
    form.add_argument("--metadata", metavar="CSV", help="ham10000: HAM10000_metadata.csv, beside the JPEGs")
    form.add_argument("--hold-out", type=int, default=2000,
                      help="combine: test images drawn from the last file (default %(default)s)")
    form.add_argument("--image-size", type=int, metavar="S",
                      help="ham10000, images, pack, photos: resize every image to S×S (pack: default the side most "
                           "images have; photos: default 64); shapes: draw them S×S (default 64, as dSprites)")
    form.add_argument("--channels", type=int, choices=(1, 3), help="pack: 1 (grey) or 3 (RGB) (default: the "
                                                                   "images' own; a grey and colour mix needs it)")
    form.add_argument("--tint", action="store_true", help="images: RGB, each image's ink in a colour of its own")
    form.add_argument("--skip-unreadable", action="store_true", help="pack: leave out files that cannot be decoded")
    form.add_argument("--scales", type=count(1), default=6, metavar="N",
                      help="shapes: sizes, 0.5 to 1 of the largest (default %(default)s, as dSprites)")
    form.add_argument("--orientations", type=count(1), default=40, metavar="N",
                      help="shapes: angles, evenly over a turn (default %(default)s, as dSprites)")
    form.add_argument("--positions", type=count(2), default=32, metavar="N",
                      help="shapes: places across, and as many down (default %(default)s, as dSprites)")
    return form


def build(args, form) -> list[str]:
    """Make what ``args`` asks for; the paths written (a packed folder: the folder)."""
    if args.what in ("split", "images", "pack", "photos") and len(args.sources) != 1:
        form.error(f"{args.what} needs one SOURCE")
    if args.what == "mnist":
        return build_mnist(args.out)
    if args.what == "fashion-mnist":
        return build_fashion_mnist(args.out)
    if args.what == "ham10000":
        if args.csv:
            return build_ham10000(args.csv, args.out)
        if not (args.images and args.metadata):
            form.error("ham10000 needs --csv hmnist_28_28_RGB.csv, or --images DIR ... and --metadata CSV")
        return arrange_ham10000(args.images, args.metadata, args.out, args.image_size)
    if args.what == "digits":
        return write_sets(digits_sets(), args.out, "digits_1_4_8")
    if args.what == "photos":
        check_side(args.image_size)
        return [build_photo_set(args.sources[0], args.out, args.image_size or 64)]
    if args.what == "shapes":
        check_side(args.image_size)
        return [build_shapes(args.out, args.scales, args.orientations, args.positions, args.image_size or 64)]
    if args.what == "split":
        return write_sets(experiment_split(*labelled_images(args.sources[0])), args.out)
    if args.what == "images":
        return write_image_folder(*labelled_images(args.sources[0]), args.out, args.image_size, args.tint)
    if args.what == "pack":
        count, skipped = pack_folder(args.sources[0], args.out, args.image_size, args.channels, args.skip_unreadable)
        print(f"packed {count:,} images" + (f", left out {len(skipped):,} unreadable ones" if skipped else ""))
        return [args.out]
    if not args.sources:
        form.error("combine needs at least one SOURCE.npz")
    return write_sets(combine_files(args.sources, args.hold_out), args.out)


def main(argv=None) -> int:
    form = parser()
    try:
        args = form.parse_args(argv)
    except argparse.ArgumentError as error:
        print(f"python -m vae.datasets: error: {error}", file=sys.stderr)
        return 2
    try:
        paths = build(args, form)
    except InputError as error:
        print(f"python -m vae.datasets: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
