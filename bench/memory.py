"""`make bench`, the memory part: sets larger than memory, read from memory-mapped .npy files.

    python -m bench.memory [--source ../shared/data/mnist_1_4_8_train.npz] [--images 1000000]

The source's images, repeated to IMAGES (1 M: 784 MB of uint8), saved as .npz and as .npy; each
command's peak resident memory (GNU time's maxresident) reading either. test_classifier and
test_reconstruction (--search none, its output also an .npy) run a 1-epoch model; fit (an MLP AE,
1 epoch) runs on a tenth and a hundredth of the images, to show its memory does not grow with N.
"""

import os
import sys
import tempfile
import time

import numpy as np

from vae.core.data import load_image_set

from bench.common import VAE_SCRIPT, peak_memory_mb, print_table, row, source_parser, vae_command


def measured(*args) -> tuple[float, float]:
    """(peak MB, seconds) of one vae.py command."""
    start = time.perf_counter()
    peak = peak_memory_mb([sys.executable, VAE_SCRIPT, *map(str, args), "--quiet"])
    return peak, time.perf_counter() - start


def main(argv=None) -> int:
    parser = source_parser("bench.memory", __doc__)
    parser.add_argument("--images", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    source = load_image_set(args.source, labels="required")
    with tempfile.TemporaryDirectory() as work:
        path = lambda name: os.path.join(work, name)  # noqa: E731
        vae_command(args.source, args.source, "train", path("vae.pth"), path("gmm.pkl"), "--epochs", "1",
                    "--decoder-epochs", "0", "--quiet", "--no-plots")
        for count in (args.images, args.images // 10, args.images // 100):
            images = np.resize(source.pixels.reshape(-1, 28, 28), (count, 28, 28))
            np.save(path(f"{count}.npy"), images)
            np.savez(path(f"{count}.npz"), data=images)
            del images
        size = f"{args.images:,} images ({args.images * 784 / 2**20:,.0f} MiB)"
        for form in ("npz", "npy"):
            peak, seconds = measured(path(f"{args.images}.{form}"), "test_classifier", path("vae.pth"),
                                     path("gmm.pkl"), "--out", path("out.csv"))
            row(f"`test_classifier` on {size} from .{form}", f"peak {peak:,.0f} MB, {seconds:.1f} s", "", "",
                "bounded from .npy", None)
        peak, seconds = measured(path(f"{args.images}.npy"), "test_reconstruction", path("vae.pth"), "--search",
                                 "none", "--out", path("out.npy"))
        row(f"`test_reconstruction --search none` on {size}, .npy in and out", f"peak {peak:,.0f} MB, {seconds:.1f} s",
            "", "", "bounded", None)
        os.remove(path("out.npy"))
        for count, form in ((args.images // 100, "npy"), (args.images // 10, "npy"), (args.images // 10, "npz")):
            peak, seconds = measured("fit", path(f"{count}.{form}"), path("ae.pth"), "--model", "ae", "--arch", "mlp",
                                     "--epochs", "1", "--no-plots")
            row(f"`fit` (MLP AE, 1 epoch) on {count:,} images from .{form}", f"peak {peak:,.0f} MB, {seconds:.1f} s",
                "", "", "flat in N from .npy", None)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
