"""`make bench`, the scaling part: `fit` in one process against two torchrun processes (gloo) on this machine.

    python -m bench.distributed [--train ../shared/data/mnist_1_4_8_train.npz] [--images 4000] [--epochs 3]

One process uses every core (torch's threads); two ranks use one thread each on a shard of every
global batch of 64. Both fit the same conv VAE (latent 10) on the first IMAGES images; the table
gives the time per epoch (the fit's own clock) and the final epoch's loss.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

from vae.datasets.splits import save_npz

from bench.common import DEFAULT_SOURCE, VAE_SCRIPT, print_table, row

CONV_VAE = ["--model", "vae", "--arch", "conv", "--latent-dim", "10", "--quiet", "--no-plots"]


def timed_fit(train: str, model: str, epochs: int, *options, processes: int = 1) -> tuple[float, float]:
    """(seconds per epoch, final loss) of one conv VAE fit (latent 10), in one process or ``processes`` torchrun
    ranks."""
    launcher = [sys.executable] if processes == 1 else [sys.executable, "-m", "torch.distributed.run", "--standalone",
                                                        f"--nproc-per-node={processes}"]
    environment = dict(os.environ) if processes == 1 else {**os.environ,
                                                           "OMP_NUM_THREADS": str(max(1, os.cpu_count() // processes))}
    subprocess.run([*launcher, VAE_SCRIPT, "fit", train, model, "--epochs", str(epochs), *CONV_VAE, *options],
                   check=True, capture_output=True, text=True, env=environment)
    record = torch.load(model, weights_only=True)["record"]
    return record["fit_seconds"] / epochs, record["epochs_loss"][-1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.distributed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default=DEFAULT_SOURCE)
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args(argv)
    with np.load(args.train) as arrays, tempfile.TemporaryDirectory() as work:
        train = os.path.join(work, "train.npz")
        save_npz(train, arrays["data"][: args.images], None)
        one = timed_fit(train, os.path.join(work, "one.pth"), args.epochs, "--batch-size", "64")
        two = timed_fit(train, os.path.join(work, "two.pth"), args.epochs, "--batch-size", "64", processes=2)
    what = f"conv VAE, {args.images:,} images, global batch 64, {args.epochs} epochs, {os.cpu_count()} cores"
    row(f"`fit` time per epoch, 1 process vs 2 torchrun ranks (gloo): {what}", f"{two[0]:.1f} s", f"{one[0]:.1f} s",
        f"{two[0] / one[0]:.2f}×", "", None)
    row(f"`fit` final loss, 2 ranks vs 1 process: {what}", f"{two[1]:.2f}", f"{one[1]:.2f}", f"{two[1] / one[1]:.3f}×",
        "", None)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
