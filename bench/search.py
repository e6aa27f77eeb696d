"""`make bench`, the reconstruction part: test_reconstruction's grid search against the lattice search.

    python -m bench.search [--source ../shared/data/mnist_1_4_8_train.npz] [--repeats 3]

Trains the assignment's VAE with defaults on the experiment split's train/val (as bench/assignment.py does),
then runs `vae.py test.npz test_reconstruction` on the split's 3,000 test images with each
`--search`: images/s of the whole command (start-up, reading and writing included; median of
--repeats runs) and the mean SSIM it prints.
"""

import os
import re
import sys
import tempfile
import time

from vae.core.data import load_image_set
from vae.datasets.splits import experiment_split, labelled_images, write_sets

from bench.common import print_table, row, source_parser, vae_command

SSIM_TOLERANCE = 0.001  # issue #13: the faster search keeps the mean SSIM within this


def timed_reconstruction(test: str, model: str, out: str, search: str, repeats: int) -> tuple[float, float]:
    """(median seconds, printed mean SSIM) of test_reconstruction with one --search."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        printed = vae_command(test, "test_reconstruction", model, "--out", out, "--search", search).stdout
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2], float(re.search(r"SSIM\s+([0-9.]+)", printed).group(1))


def main(argv=None) -> int:
    parser = source_parser("bench.search", __doc__)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as work:
        write_sets(experiment_split(*labelled_images(args.source)), work)
        test, model, out = os.path.join(work, "test.npz"), os.path.join(work, "vae.pth"), os.path.join(work, "out.npz")
        vae_command(os.path.join(work, "train.npz"), os.path.join(work, "val.npz"), "train", model,
                    os.path.join(work, "gmm.pkl"), "--quiet", "--no-plots")
        count = len(load_image_set(test, labels="ignored"))
        grid_seconds, grid_ssim = timed_reconstruction(test, model, out, "grid", args.repeats)
        lattice_seconds, lattice_ssim = timed_reconstruction(test, model, out, "lattice", args.repeats)
    speedup = grid_seconds / lattice_seconds
    row(f"`test_reconstruction` on {count:,} held-out images: `--search lattice` vs the default grid (whole command)",
        f"{count / lattice_seconds:,.0f} images/s", f"{count / grid_seconds:,.0f} images/s", f"{speedup:.1f}× faster",
        "≥ 5×", speedup >= 5)
    row("... their mean SSIM", f"{lattice_ssim:.4f}", f"{grid_ssim:.4f}", f"{lattice_ssim - grid_ssim:+.4f}",
        f"within {SSIM_TOLERANCE}", abs(lattice_ssim - grid_ssim) <= SSIM_TOLERANCE)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
