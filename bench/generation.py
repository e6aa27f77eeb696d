"""`make bench`, generation (issue #24): how good the family's samples are, in numbers, on held-out MNIST.

    python -m bench.generation [--train ...] [--test ...] [--hold-out 2000] [--train-count 6000] [--figures DIR]

The two shared files combined (python -m vae.datasets combine); TRAIN-COUNT images of the training part (a
seeded draw) fit each model with fit's defaults (conv, latent 10, 11 epochs) and the reference network
(`vae.py reference`, its defaults; its accuracy is measured on the ten-digit test part). 2,000 samples of each
model are scored with `vae.py generate --against --reference` against 2,000 other images of the training part,
held out from every fit (the same mix of digits as the training images): the conv VAE from its prior and from its
mixture, the conv AE from its mixture, and β-VAEs of β 5 and 20 from both. Then the measures' own cost: seconds
for 10,000 samples against 10,000 real images (features, Fréchet distance, precision/recall). With --figures,
each model's sample grid is kept there (the README shows the AE's).
"""

import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch

from vae.datasets.splits import combine_files, save_npz
from vae.family.reference import FEATURES, features, load_reference, sample_scores

from bench.common import print_table, row, source_parser, vae_command

MODELS = {  # name: fit options
    "conv VAE (β 1)": ["--model", "vae"],
    "conv AE": ["--model", "ae"],
    "conv β-VAE, β 5": ["--model", "vae", "--beta", "5"],
    "conv β-VAE, β 20": ["--model", "vae", "--beta", "20"],
}
SCORED = [  # (model, sampler)
    ("conv VAE (β 1)", "prior"), ("conv VAE (β 1)", "mixture"), ("conv AE", "mixture"),
    ("conv β-VAE, β 5", "prior"), ("conv β-VAE, β 5", "mixture"),
    ("conv β-VAE, β 20", "prior"), ("conv β-VAE, β 20", "mixture"),
]


def scores_of(printed: str) -> dict[str, float]:
    return {line.split()[0]: float(line.split()[-1]) for line in printed.splitlines() if line.startswith("  ")}


def main(argv=None) -> int:
    parser = source_parser("bench.generation", __doc__, combined=True)
    parser.add_argument("--train-count", type=int, default=6000)
    parser.add_argument("--figures", metavar="DIR", help="keep each model's sample grid here")
    args = parser.parse_args(argv)
    split = combine_files([args.train, args.test], args.hold_out)
    (train_x, train_y), (test_x, test_y) = split["train"], split["test"]
    # the samples are judged against held-out images of the training images' own mix of digits (the combined
    # training part is mostly 1, 4 and 8): against the ten-digit test part, a model that generates its
    # training distribution well would be marked down for the mismatch
    order = np.random.default_rng(0).permutation(len(train_y))
    pick, held = order[:args.train_count], order[args.train_count:args.train_count + args.hold_out]
    with tempfile.TemporaryDirectory() as work:
        train, real, reference = (os.path.join(work, name) for name in ("train.npz", "held.npz", "ref.pth"))
        save_npz(train, train_x[pick], train_y[pick])
        save_npz(real, train_x[held], train_y[held])
        start = time.perf_counter()
        vae_command("reference", train, reference, "--quiet")
        network = load_reference(reference)
        with torch.no_grad():
            predicted = network(torch.from_numpy(test_x.astype(np.float32)[:, None] / 255)).argmax(dim=1).numpy()
        accuracy = np.mean(predicted == np.searchsorted(np.unique(train_y), test_y))
        row(f"reference network (`vae.py reference`, {args.train_count:,} images): accuracy on the {len(test_y):,} "
            "ten-digit test images; fit time", f"{accuracy:.4f}; {time.perf_counter() - start:.1f} s", "", "", "",
            None)
        for name, options in MODELS.items():
            start = time.perf_counter()
            vae_command("fit", train, os.path.join(work, f"{slug(name)}.pth"), *options, "--quiet", "--no-plots")
            row(f"`fit` {name}, {args.train_count:,} images, defaults", f"{time.perf_counter() - start:.1f} s", "", "",
                "", None)
        for name, sampler in SCORED:
            out = os.path.join(work, f"{slug(name)}-{sampler}.npz")
            printed = vae_command("generate", os.path.join(work, f"{slug(name)}.pth"), len(held), "--sampler",
                                  sampler, "--against", real, "--reference", reference, "--out", out).stdout
            found = scores_of(printed)
            row(f"{name} from its {sampler}: Fréchet distance; precision; recall ({len(held):,} samples against "
                f"{len(held):,} held-out images)", f"{found['Fréchet']:.2f}; {found['precision']:.3f}; "
                f"{found['recall']:.3f}", "", "", "", None)
            if args.figures:
                os.makedirs(args.figures, exist_ok=True)
                shutil.copyfile(out[:-4] + ".png", os.path.join(args.figures, f"samples_{slug(name)}_{sampler}.png"))
        bench_cost(network, train_x)
    print_table()
    return 0


def bench_cost(network, images: np.ndarray, count: int = 10_000) -> None:
    """Seconds of the measures for ``count`` samples against ``count`` real images: features, then the scores."""
    real = np.resize(images, (count, *images.shape[1:])).reshape(count, -1).astype(np.float32) / 255
    generated = np.random.default_rng(0).permutation(real)
    start = time.perf_counter()
    real_features, generated_features = features(network, real), features(network, generated)
    middle = time.perf_counter()
    sample_scores(real_features, generated_features)
    end = time.perf_counter()
    row(f"the measures' cost for {count:,} samples against {count:,} real images ({FEATURES} features)",
        f"{end - start:.1f} s (features {middle - start:.1f} s, scores {end - middle:.1f} s)", "", "", "", None)


def slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


if __name__ == "__main__":
    sys.exit(main())
