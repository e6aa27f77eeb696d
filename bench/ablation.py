"""Train variants on a fixed split of a labelled file and score them side by side (Markdown table).

    python -m bench.ablation [--source ../shared/data/mnist_1_4_8_train.npz] [--variants NAME ...]
                           [--seeds 0 1 2 3 4] [--test]

Every variant trains on the split's train part (labels unread) with its 15-image val part, and is
scored on the selection part, which is how defaults are chosen. ``--test`` adds the test part,
kept for final figures only.
"""

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import time

from vae.assignment.commands import evaluate
from vae.core.report import Outputs
from vae.datasets.splits import experiment_split, labelled_images, write_sets

from bench.common import DEFAULT_SOURCE, VAE_SCRIPT

# name: extra vae.py train options on top of the defaults (see vae/assignment/config.py).
VARIANTS = {
    "default": "",
    "typical public solution (+ our fast code)": "--prior-components 0 --anchor-weight 0 --propagation-weight 0 "
                                                 "--beta 1 --beta-final 1 --decoder-epochs 0 --epochs 50 --batch-size "
                                                 "128 --lr 1e-3 --decoder-hidden 256,512 --no-refine",
    "standard normal prior, no label terms": "--prior-components 0 --anchor-weight 0 --propagation-weight 0",
    "mixture prior, no label terms": "--anchor-weight 0 --propagation-weight 0",
    "no label propagation": "--propagation-weight 0",
    "propagation weight 10": "--propagation-weight 10",
    "propagation weight 30": "--propagation-weight 30",
    "propagation weight 300": "--propagation-weight 300",
    "no anchoring (propagation only)": "--anchor-weight 0",
    "constant beta 3": "--beta-final 3",
    "beta 3 to 0.03": "--beta-final 0.03",
    "constant beta 1": "--beta 1 --beta-final 1",
    "constant beta 10": "--beta 10 --beta-final 10",
    "beta 10 to 3": "--beta 10 --beta-final 3",
    "batch 128": "--batch-size 128 --decoder-batch-size 128 --lr 1e-3",
    "VAE 20 epochs": "--epochs 20",
    "VAE 40 epochs": "--epochs 40",
    "decoder 15 epochs": "--decoder-epochs 15",
    "decoder 25 epochs": "--decoder-epochs 25",
    "decoder 35 epochs": "--decoder-epochs 35",
    "decoder mirrors the encoder (256,512)": "--decoder-hidden 256,512",
    "decoder 128,512,768": "--decoder-hidden 128,512,768",
    "no latent offsets in the decoder phase": "--latent-lr 0",
    "latent offsets at lr 1e-2": "--latent-lr 1e-2",
    "prior radius 6": "--prior-radius 6",
    "anchor weight 10": "--anchor-weight 10",
    "anchor weight 1000": "--anchor-weight 1000",
    "3 components per class": "--components-per-class 3",
    "full covariances": "--covariance-type full",
    "reg_covar 1e-2": "--reg-covar 1e-2",
    "no decoder phase": "--decoder-epochs 0",
    "decoder SSIM weight 2000": "--decoder-ssim-weight 2000",
    "SSIM term in the VAE phase": "--ssim-weight 500",
    "no latent refinement": "--no-refine",
    "encoder 1024,512": "--hidden 1024,512",
    "encoder 512,256": "--hidden 512,256",
    "elu": "--activation elu",
    "MSE pixel loss": "--reconstruction-loss mse",
}
# Options that belong to test_reconstruction rather than train.
RECONSTRUCTION_OPTIONS = {"--no-refine"}


def run_variant(name: str, extra: str, seed: int, split_dir: str, work_dir: str, parts: list[str]) -> dict:
    """Train one variant with vae.py as a user runs it, then score its outputs on each part."""
    folder = os.path.join(work_dir, f"{_slug(name)}-seed{seed}")
    os.makedirs(folder, exist_ok=True)
    model, mixture = os.path.join(folder, "vae.pth"), os.path.join(folder, "gmm_params.pkl")
    options = shlex.split(extra)
    recon_options = [option for option in options if option in RECONSTRUCTION_OPTIONS]
    train_options = [option for option in options if option not in RECONSTRUCTION_OPTIONS]
    train_args = [os.path.join(split_dir, "train.npz"), os.path.join(split_dir, "val.npz"), "train", model, mixture,
                  "--seed", str(seed), "--quiet", "--no-plots", *train_options]
    start = time.perf_counter()
    _vae(train_args)
    row = {"seconds": time.perf_counter() - start}
    quiet = Outputs(quiet=True)
    for part in parts:
        data = os.path.join(split_dir, f"{part}.npz")
        recon, csv = os.path.join(folder, f"{part}_reconstructed.npz"), os.path.join(folder, f"{part}.csv")
        _vae([data, "test_reconstruction", model, "--out", recon, "--quiet", *recon_options])
        _vae([data, "test_classifier", model, mixture, "--out", csv, "--quiet"])
        scores = evaluate(data, [recon, csv], quiet)
        row[part] = {"ssim": scores[recon]["ssim"], "score": scores[recon]["score"], "f1": scores[csv]["f1_average"]}
    return row


def _vae(args: list[str]) -> None:
    subprocess.run([sys.executable, VAE_SCRIPT, *args], check=True)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ablation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", default=DEFAULT_SOURCE,
                        help="labelled .npz to split (default: the shared MNIST 1/4/8 file)")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS), help=f"names from: {', '.join(VARIANTS)}")
    parser.add_argument("--extra", action="append", default=[], metavar="OPTIONS",
                        help="an ad-hoc variant: vae.py train options in quotes")
    parser.add_argument("--seeds", nargs="*", type=int, default=[0])
    parser.add_argument("--test", action="store_true", help="also score the test part (final figures only)")
    parser.add_argument("--work", default="runs/ablation", help="folder for split and models (default %(default)s)")
    args = parser.parse_args(argv)

    split_dir = os.path.join(args.work, "split")
    write_sets(experiment_split(*labelled_images(args.source)), split_dir)
    parts = ["selection"] + (["test"] if args.test else [])
    variants = {name: VARIANTS[name] for name in args.variants} | {options: options for options in args.extra}

    columns = " | ".join(f"{part} SSIM | {part} score | {part} F1avg" for part in parts)
    header = f"| variant | options | train s | {columns} |"
    print(header)
    print("|" + "---|" * (3 + 3 * len(parts)))
    for name, extra in variants.items():
        rows = [run_variant(name, extra, seed, split_dir, args.work, parts) for seed in args.seeds]
        cells = [name, f"`{extra}`" if extra else "", _stat([row["seconds"] for row in rows], 1)]
        for part in parts:
            for key in ("ssim", "score", "f1"):
                cells.append(_stat([row[part][key] for row in rows], 4))
        print("| " + " | ".join(cells) + " |", flush=True)
    return 0


def _stat(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} (min {min(values):.{digits}f}, max {max(values):.{digits}f})"


if __name__ == "__main__":
    sys.exit(main())
