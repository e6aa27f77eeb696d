"""``python -m vae.datasets WHAT ...``: build image sets (see vae/datasets/__init__.py for the forms)."""

import argparse
import sys

import vae.datasets
from vae.core.errors import InputError
from vae.datasets.public import build_fashion_mnist, build_ham10000, build_mnist
from vae.datasets.splits import combine_files, digits_sets, experiment_split, labelled_images, write_sets


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vae.datasets", description=vae.datasets.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("mnist", "fashion-mnist", "ham10000", "digits", "split", "combine"))
    parser.add_argument("sources", nargs="*", metavar="SOURCE.npz",
                        help="split: the labelled .npz to split; combine: the files to combine")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--csv", help="ham10000: the hmnist_28_28_RGB.csv file")
    parser.add_argument("--hold-out", type=int, default=2000,
                        help="combine: test images drawn from the last file (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        if args.what == "mnist":
            paths = build_mnist(args.out)
        elif args.what == "fashion-mnist":
            paths = build_fashion_mnist(args.out)
        elif args.what == "ham10000":
            if not args.csv:
                parser.error("ham10000 needs --csv hmnist_28_28_RGB.csv")
            paths = build_ham10000(args.csv, args.out)
        elif args.what == "digits":
            paths = write_sets(digits_sets(), args.out, "digits_1_4_8")
        elif args.what == "split":
            if len(args.sources) != 1:
                parser.error("split needs one SOURCE.npz")
            images, labels = labelled_images(args.sources[0])
            paths = write_sets(experiment_split(images, labels), args.out)
        else:
            if len(args.sources) < 1:
                parser.error("combine needs at least one SOURCE.npz")
            paths = write_sets(combine_files(args.sources, args.hold_out), args.out)
    except InputError as error:
        print(f"python -m vae.datasets: error: {error}", file=sys.stderr)
        return 2
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
