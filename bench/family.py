"""`make bench`, the family's part: each of issue #11's fits with its defaults, timed and scored; one Markdown table.

    python -m bench.family [--train ../shared/data/mnist_1_4_8_train.npz]
                           [--test ../shared/data/mnist_test_first5000.npz] [--hold-out 2000] [--epochs E]

The two shared MNIST files are combined (python -m vae.datasets combine): the first whole, the
second less a stratified hold-out of 2,000 images of all ten digits, which scores every model.
Each fit runs once through vae.py, wall time measured around the whole command (start-up included).
"""

import os
import sys
import tempfile
import time

import numpy as np

from vae.core.metrics import classification_scores, per_image_scores
from vae.datasets.splits import combine_files, write_sets

from bench.common import print_table, row, source_parser, vae_command

FIT_LIMIT = 240.0  # seconds: issue #11's bound for every fit with its defaults
NOISE = 0.5
FITS = {  # name: (fit options, what scores it)
    "conv VAE, latent 10": (["--model", "vae", "--arch", "conv", "--latent-dim", "10"], "reconstruct"),
    "conv AE, latent 10": (["--model", "ae", "--arch", "conv", "--latent-dim", "10"], "reconstruct"),
    "denoising conv AE, latent 10, noise 0.5": (["--model", "ae", "--arch", "conv", "--latent-dim", "10", "--noise",
                                                 str(NOISE)], "denoise"),
    "conv VAE, latent 10, beta 5, head": (["--model", "vae", "--arch", "conv", "--latent-dim", "10", "--beta", "5",
                                           "--head"], "classify"),
    "MLP VAE, 3 layers, latent 2": (["--arch", "mlp", "--layers", "3", "--latent-dim", "2"], "reconstruct"),
}
BARS = {"conv VAE, latent 10": 0.82, "conv AE, latent 10": 0.86, "denoising conv AE, latent 10, noise 0.5": 0.78,
        "conv VAE, latent 10, beta 5, head": 0.95}


def family_split(train: str, test: str, hold_out: int, folder: str) -> dict:
    """train.npz / test.npz of the combined files, and noisy.npz: the test images with Gaussian noise (sigma 0.5,
    clipped)."""
    paths = dict(zip(("train", "test"), write_sets(combine_files([train, test], hold_out), folder)))
    with np.load(paths["test"]) as arrays:
        clean = arrays["data"].astype(np.float32) / 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, NOISE, clean.shape), 0, 1).astype(np.float32)
    paths["noisy"] = os.path.join(folder, "noisy.npz")
    np.savez(paths["noisy"], data=noisy)
    paths["clean"] = clean
    return paths


def bench_fit(name: str, options: list[str], scored_by: str, paths: dict, work: str, extra: list[str]) -> dict:
    model = os.path.join(work, name.replace(" ", "_").replace(",", "") + ".pth")
    start = time.perf_counter()
    vae_command("fit", paths["train"], model, "--quiet", "--no-plots", *options, *extra)
    seconds = time.perf_counter() - start
    out = model[:-4] + "-out"
    if scored_by == "classify":
        vae_command("classify", paths["test"], model, "--out", out + ".csv", "--quiet")
        predicted = np.array([int(line) for line in open(out + ".csv").read().splitlines()[1:]])
        with np.load(paths["test"]) as arrays:
            score = classification_scores(arrays["labels"], predicted)["accuracy"]
    else:
        source = paths["noisy"] if scored_by == "denoise" else paths["test"]
        vae_command(scored_by, source, model, "--out", out + ".npz", "--quiet")
        with np.load(out + ".npz") as arrays:
            score = float(per_image_scores([(paths["clean"], arrays["data"])])[1].mean())
    row(f"`fit` wall time: {name} ({' '.join(options)})", f"{seconds:.1f} s", "", "", "≤ 240 s", seconds <= FIT_LIMIT)
    return {"seconds": seconds, "score": score}


def main(argv=None) -> int:
    parser = source_parser("bench.family", __doc__, combined=True)
    parser.add_argument("--epochs", type=int, help="instead of each fit's default (a smoke test of the bench itself)")
    args = parser.parse_args(argv)
    extra = ["--epochs", str(args.epochs)] if args.epochs else []
    with tempfile.TemporaryDirectory() as work:
        paths = family_split(args.train, args.test, args.hold_out, work)
        results = {name: bench_fit(name, options, scored_by, paths, work, extra)
                   for name, (options, scored_by) in FITS.items()}
    held_out = f"{args.hold_out:,} held-out MNIST test images, all ten digits"
    for name, bar in BARS.items():
        what = {"classify": "accuracy", "denoise": "SSIM of `denoise` against the clean images"}.get(
            FITS[name][1], "SSIM of `reconstruct`")
        score = results[name]["score"]
        row(f"{name}: {what}, {held_out}", f"{score:.4f}", "", "", f"≥ {bar}", score >= bar)
    ae, vae = results["conv AE, latent 10"]["score"], results["conv VAE, latent 10"]["score"]
    row("conv AE's SSIM above the conv VAE's", f"{ae:.4f}", f"{vae:.4f}", f"{ae - vae:+.4f}", "> 0", ae > vae)
    row("MLP VAE (784-523-263-2): SSIM of `reconstruct`", f"{results['MLP VAE, 3 layers, latent 2']['score']:.4f}", "",
        "", "", None)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
