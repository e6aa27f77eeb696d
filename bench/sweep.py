"""`make bench`, sweeps (issues #12, #31): the same sweep on 1 process, with --jobs 2, and on a Dask cluster of two
single-thread workers on this machine; wall time, overhead per fit, and what stays serial.

    python -m bench.sweep [--train ...mnist_1_4_8_train.npz] [--epochs 4]

A 3,000-image subset (seeded) of the assignment's training file (digits 1, 4, 8: three classes of
about a thousand images each, so that the silhouette by label means something; the combined files'
seven other digits, about 50 images each in such a subset, held every cell's silhouette near 0),
grid "model=ae,vae beta=1,5,20 latent-dim=2,10" (8 cells: an AE has no beta), 3 folds: 24 fits; each sweep
through vae.py, timed around the whole command. Fewer epochs than fit's default keep it short. Every sweep
judges its samples in one reference network trained first (timed on its own row).

What stays serial is measured, not assumed: the same command run again over its finished OUT/ skips every fit, so
its wall time is the driver's own part (start-up, reading TRAIN, each fold's reference features, the summary and
figures). The projection for N machines of C cores is serial + (fit work) / (N·C) + overhead per fit × fits / (N·C),
with the fit work taken from the 1-process sweep and the overhead per fit from the cluster against --jobs 2 on the
same two cores.
"""

import argparse
import os
import sys
import tempfile
import time
from contextlib import nullcontext
from unittest.mock import patch

import numpy as np
from distributed import LocalCluster

from vae.datasets.splits import labelled_images

from bench.common import DEFAULT_SOURCE, print_table, row, vae_command

GRID = "model=ae,vae beta=1,5,20 latent-dim=2,10"
FITS = 8 * 3
SUBSET = 3000
SPEED_BAR = 0.65  # --jobs 2 wall time over --jobs 1's
CLUSTER_BAR = 1.15  # the 2-worker cluster's wall time over --jobs 2's on the same two cores


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
        sweep = ["sweep", subset, "--grid", GRID, "--folds", "3", "--epochs", args.epochs, "--reference", reference,
                 "--quiet"]
        for name in ("jobs1", "jobs2", "cluster", "serial"):  # serial: the jobs1 folder again, every fit there
            # a LocalCluster's nannies set OMP_NUM_THREADS=1 in this process for their workers: kept to its run
            with patch.dict(os.environ), (LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None,
                                                       worker_dashboard_address=None) if name == "cluster"
                                          else nullcontext()) as cluster:
                where = ["--cluster", cluster.scheduler_address] if cluster else ["--jobs", 2 if name == "jobs2" else 1]
                start = time.perf_counter()
                vae_command(*sweep, *where, "--out", os.path.join(work, "jobs1" if name == "serial" else name))
                seconds[name] = time.perf_counter() - start
        summary = open(os.path.join(work, "jobs2", "summary.md")).read()
    row(f"`vae.py reference` on the {SUBSET:,} images (what a sweep without --reference does first, in one process)",
        f"{reference_seconds:.1f} s", "", "", "", None)
    workload = f"({SUBSET:,} images, 8 cells x 3 folds, {args.epochs} epochs, fits and generation scores)"
    ratio = seconds["jobs2"] / seconds["jobs1"]
    row(f"`sweep --reference` wall time, --jobs 2 vs --jobs 1 {workload}", f"{seconds['jobs2']:.1f} s",
        f"{seconds['jobs1']:.1f} s", f"{ratio:.2f}×", f"≤ {SPEED_BAR}×", ratio <= SPEED_BAR)
    ratio = seconds["cluster"] / seconds["jobs2"]
    row("the same sweep on a Dask cluster of 2 single-thread workers (LocalCluster, this machine) vs --jobs 2",
        f"{seconds['cluster']:.1f} s", f"{seconds['jobs2']:.1f} s", f"{ratio:.2f}×", f"≤ {CLUSTER_BAR}×",
        ratio <= CLUSTER_BAR)
    overhead = (seconds["cluster"] - seconds["jobs2"]) * 2 / FITS
    serial = seconds["serial"]
    work_seconds = seconds["jobs1"] - serial
    row("serial part: the same command over its finished OUT/ (start-up, TRAIN, reference features, summary)",
        f"{serial:.1f} s", "", "", "", None)
    row("cluster overhead per fit (cluster − --jobs 2, per fit and core)", f"{overhead:+.2f} s", "", "", "", None)
    print_table()
    print(f"\nProjection for N machines of 2 cores (serial {serial:.1f} s + {work_seconds:.1f} s of fits / (2N) + "
          f"overhead {max(overhead, 0):.2f} s × {FITS} fits / (2N), a negative overhead counted as 0); the fits stop "
          f"dividing at {FITS} cores, and cells that end unevenly add up to one fit's time:\n")
    print("| machines | cores | projected wall time |\n|---|---|---|")
    for machines in (1, 2, 4, 8, 12):
        cores = min(2 * machines, FITS)
        print(f"| {machines} | {2 * machines} | {serial + (work_seconds + max(overhead, 0) * FITS) / cores:.1f} s |")
    print(f"\nThe --jobs 2 sweep's summary.md ({args.epochs} epochs):\n\n{summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
