"""`make bench`, β-VAE (issue #32): what a β buys in disentanglement for what it costs in likelihood, on the
generated shapes, as `vae.py sweep` reports it.

    python -m bench.beta [--positions 16] [--folds 2]

`python -m vae.datasets shapes --scales 3 --orientations 4 --positions 16` (9,216 images, 64×64, five factors),
then `vae.py sweep shapes.npz --grid "beta=1,2,4,8" --loss elbo --folds 2`: each cell fitted on one half with fit's
defaults (the broadcast decoder, a 6,000-step budget, one torch thread per fit, two fits at a time) and scored on the
other: MIG of the held-out half's latent means, their IWAE NLL (K = 10, nats per image), the reconstructions' BCE
per pixel and SSIM. A table of them, a row per β (mean over the folds, ± their spread), then the issue's two targets
and the sweep's wall time.
"""

import argparse
import csv
import os
import sys
import tempfile
import time

import numpy as np

from vae.datasets.shapes import build_shapes

from bench.common import print_table, row, vae_command

BETAS = (1, 2, 4, 8)
MIG_BAR = 0.20  # at β = 4, and above β = 1's


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.beta", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--positions", type=int, default=16, help="places across and down (default %(default)s)")
    parser.add_argument("--folds", type=int, default=2, help="(default %(default)s)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        shapes = build_shapes(work, scales=3, orientations=4, positions=args.positions)
        start = time.perf_counter()
        vae_command("sweep", shapes, "--grid", "beta=" + ",".join(map(str, BETAS)), "--loss", "elbo", "--folds",
                    args.folds, "--out", os.path.join(work, "sweep"), "--quiet")
        seconds = time.perf_counter() - start
        with open(os.path.join(work, "sweep", "results.csv")) as handle:
            rows = list(csv.DictReader(handle))
    print(f"{3 * 3 * 4 * args.positions ** 2:,} shapes, {args.folds} folds, mean ± spread over the folds:\n")
    print("| β | held-out MIG | IWAE NLL (nats, K = 10) | BCE per pixel | SSIM |\n|---|---|---|---|---|")
    scores = {}
    for beta in BETAS:
        cell = [line for line in rows if float(line["beta"]) == beta]
        scores[beta] = {name: np.array([float(line[name]) for line in cell]) for name in ("mig", "nll", "bce", "ssim")}
        print(f"| {beta} | " + " | ".join(f"{values.mean():.3f} ± {values.std():.3f}"
                                         for values in scores[beta].values()) + " |")
    print()
    at_four, at_one = scores[4]["mig"].mean(), scores[1]["mig"].mean()
    row("MIG at β = 4", f"{at_four:.3f}", "", "", f"≥ {MIG_BAR}", at_four >= MIG_BAR)
    row("MIG at β = 4 against β = 1", f"{at_four:.3f}", f"{at_one:.3f}", f"{at_four / max(at_one, 1e-9):.2f}×",
        "> 1×", at_four > at_one)
    row(f"the whole sweep ({len(BETAS) * args.folds} fits, --jobs default)", f"{seconds:.0f} s", "", "", "", None)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
