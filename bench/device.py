"""`fit` on the CPU against a CUDA GPU, in float32 and in bfloat16 mixed precision (run where a GPU is).

    python -m bench.device [--train FILE.npz] [--images 20000] [--epochs 5] [--batch-size 64]

Fits the conv VAE (latent 10, defaults otherwise) on IMAGES images of TRAIN (default: the offline
digits set, tiled) with `--device cpu`, then `--device cuda --precision fp32` and `--precision bf16`.
The table gives each fit's seconds per epoch (its own clock, first epoch included) and final loss,
and the SSIM of `vae.py reconstruct` with the GPU-trained file read back on the CPU. Not part of
`make bench`, which runs on CPU-only machines.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch

from vae.datasets.splits import digits_sets, save_npz

from bench.common import VAE_SCRIPT, print_table, row
from bench.distributed import timed_fit


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.device", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", help="an .npz of images (default: the offline digits set)")
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench.device: no CUDA device here", file=sys.stderr)
        return 2
    if args.train:
        with np.load(args.train) as arrays:
            images = arrays["data"]
    else:
        images = digits_sets()["train"][0]
    with tempfile.TemporaryDirectory() as work:
        train = os.path.join(work, "train.npz")
        save_npz(train, np.resize(images, (args.images, *images.shape[1:])))
        batch = ("--batch-size", str(args.batch_size))
        runs = {
            "cpu": timed_fit(train, os.path.join(work, "cpu.pth"), args.epochs, *batch, "--device", "cpu"),
            "fp32": timed_fit(train, os.path.join(work, "fp32.pth"), args.epochs, *batch, "--device", "cuda",
                              "--precision", "fp32"),
            "bf16": timed_fit(train, os.path.join(work, "bf16.pth"), args.epochs, *batch, "--device", "cuda",
                              "--precision", "bf16"),
        }
        ssim = {}
        for name in runs:
            printed = subprocess.run([sys.executable, VAE_SCRIPT, "reconstruct", train,
                                      os.path.join(work, f"{name}.pth"), "--out", os.path.join(work, "r.npz")],
                                     check=True, capture_output=True, text=True,
                                     env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}).stdout
            ssim[name] = float(re.search(r"SSIM\s+([0-9.]+)", printed).group(1))
    what = (f"conv VAE, {args.images:,} images, batch {args.batch_size}, {args.epochs} epochs; "
            f"{torch.cuda.get_device_name()} vs {os.cpu_count()} CPU cores")
    for name, label in (("fp32", "CUDA float32"), ("bf16", "CUDA bfloat16 autocast")):
        row(f"`fit` seconds per epoch, {label} vs CPU: {what}", f"{runs[name][0]:.2f} s", f"{runs['cpu'][0]:.2f} s",
            f"{runs['cpu'][0] / runs[name][0]:.1f}× faster", "", None)
        row(f"... final loss; reconstruct SSIM read back on the CPU, {label} vs CPU",
            f"{runs[name][1]:.2f}; {ssim[name]:.4f}",
            f"{runs['cpu'][1]:.2f}; {ssim['cpu']:.4f}", "", "", None)
    row("bfloat16 vs float32 on CUDA, seconds per epoch", f"{runs['bf16'][0]:.2f} s", f"{runs['fp32'][0]:.2f} s",
        f"{runs['fp32'][0] / runs['bf16'][0]:.2f}× faster", "", None)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
