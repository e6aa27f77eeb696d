"""`make bench`, sweeps (issue #12): the same sweep with --jobs 1 and --jobs 2, wall time and its summary table.

    python -m bench.sweep [--train ...mnist_1_4_8_train.npz] [--epochs 4]

A 3,000-image subset (seeded) of the assignment's training file (digits 1, 4, 8: three classes of
about a thousand images each, so that the silhouette by label means something; the combined files'
seven other digits, about 50 images each in such a subset, held every cell's silhouette near 0),
grid "model=ae,vae beta=1,5,20 latent-dim=2,10" (8 cells: an AE has no beta), 3 folds; each sweep
through vae.py, timed around the whole command. Fewer epochs than fit's default keep it short. Both sweeps
judge their samples in one reference network trained first (timed on its own row): what --jobs spreads over
the cores is the fits and their scores, while a reference is trained once in one process.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from vae.datasets.splits import labelled_images

from bench.common import DEFAULT_SOURCE, print_table, row, vae_command

GRID = "model=ae,vae beta=1,5,20 latent-dim=2,10"
SUBSET = 3000
SPEED_BAR = 0.65  # --jobs 2 wall time over --jobs 1's


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sweep", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default=DEFAULT_SOURCE)
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args(argv)
    images, labels = labelled_images(args.train)
    chosen = np.sort(np.random.default_rng(0).choice(len(images), size=SUBSET, replace=False))
    seconds = {}
    with tempfile.TemporaryDirectory() as work:
        subset = os.path.join(work, "subset.npz")
        np.savez(subset, data=images[chosen], labels=labels[chosen])
        reference = os.path.join(work, "reference.pth")  # trained once, one process, as a sweep without one does
        start = time.perf_counter()
        vae_command("reference", subset, reference, "--quiet")
        reference_seconds = time.perf_counter() - start
        for jobs in (1, 2):
            start = time.perf_counter()
            vae_command("sweep", subset, "--grid", GRID, "--folds", "3", "--jobs", jobs, "--epochs", args.epochs,
                        "--reference", reference, "--out", os.path.join(work, f"jobs{jobs}"), "--quiet")
            seconds[jobs] = time.perf_counter() - start
        summary = open(os.path.join(work, "jobs2", "summary.md")).read()
    row(f"`vae.py reference` on the {SUBSET:,} images (what a sweep without --reference does first, in one process)",
        f"{reference_seconds:.1f} s", "", "", "", None)
    ratio = seconds[2] / seconds[1]
    row(f"`sweep --reference` wall time, --jobs 2 vs --jobs 1 ({SUBSET:,} images, 8 cells x 3 folds, {args.epochs} "
        "epochs, fits and generation scores)",
        f"{seconds[2]:.1f} s", f"{seconds[1]:.1f} s", f"{ratio:.2f}×", f"≤ {SPEED_BAR}×", ratio <= SPEED_BAR)
    print_table()
    print(f"\nThe --jobs 2 sweep's summary.md ({args.epochs} epochs):\n\n{summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
