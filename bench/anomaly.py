"""`make bench`, anomaly detection (issues #12 and #34): a conv AE with defaults, each score and each threshold.

    python -m bench.anomaly [--train ...mnist_1_4_8_train.npz] [--test ...mnist_test_first5000.npz]
                            [--validation] [--work DIR]

Normal = digits 1, 4 and 8. The two shared files are combined as for the family's bench (2,000 of
the test file held out, stratified); every detector is fitted on the 1/4/8 images of the training
part and scored on the held-out 1/4/8 images and as many held-out images of the other seven digits
(a seeded draw): half and half. With --validation the held-out images are never touched: 10% of the
training part's 1/4/8 images are kept out of the fit instead, and scored with as many of the training
part's other digits (which no detector sees); that is how --anomaly-quantile's default was chosen.

Ours is `vae.py fit --model ae` then `vae.py anomaly --score S` for every score (the stored threshold), and the
default score's F1 at other quantiles of the held-out training images' scores (--contamination). The peers on
this split (PyOD, histograms) are in bench.photos's digits-anomaly table.
"""

import contextlib
import os
import sys
import tempfile
import time

import numpy as np

from vae.datasets.splits import combine_files, detection_split
from vae.family.anomaly import detection_scores
from vae.family.config import ANOMALY_SCORES

from bench.common import print_table, row, source_parser, vae_command

NORMAL = (1, 4, 8)
QUANTILES = (0.90, 0.95, 0.98, 0.99)


def ours(split: dict, work: str) -> dict:
    np.savez(os.path.join(work, "normal.npz"), data=split["fit"])
    np.savez(os.path.join(work, "scored.npz"), data=split["score"], labels=split["truth"])
    model = os.path.join(work, "ae.pth")
    start = time.perf_counter()
    vae_command("fit", os.path.join(work, "normal.npz"), model, "--model", "ae", "--quiet", "--no-plots")
    result = {"seconds": time.perf_counter() - start}
    for score in ANOMALY_SCORES:
        result[score] = detection_scores(split["truth"], *anomaly_csv(work, model, f"{score}.csv", "--score", score))
    result["f1_at"] = {quantile: detection_scores(split["truth"], *anomaly_csv(
        work, model, f"at{quantile}.csv", "--contamination", f"{1 - quantile:.2f}"))["f1"] for quantile in QUANTILES}
    return result


def anomaly_csv(work: str, model: str, name: str, *options) -> tuple[np.ndarray, np.ndarray]:
    """`vae.py anomaly WORK/scored.npz MODEL --out WORK/NAME [options]`: its CSV's scores (N,) and 0/1 flags (N,)."""
    out = os.path.join(work, name)
    vae_command("anomaly", os.path.join(work, "scored.npz"), model, "--out", out, "--quiet", *options)
    table = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)
    return table[:, 0], table[:, 1].astype(int)


def main(argv=None) -> int:
    parser = source_parser("bench.anomaly", __doc__, combined=True)
    parser.add_argument("--validation", action="store_true",
                        help="score on a validation split of the training part instead")
    parser.add_argument("--work", metavar="DIR",
                        help="keep our model, CSVs and score figures here (default: a temporary folder)")
    args = parser.parse_args(argv)
    split = detection_split(combine_files([args.train, args.test], args.hold_out), NORMAL, args.validation)
    where = "validation split" if args.validation else "held-out MNIST test images"
    with contextlib.nullcontext(args.work) if args.work else tempfile.TemporaryDirectory() as work:
        os.makedirs(work, exist_ok=True)
        results = {"ours": ours(split, work)}
    count = f"{len(split['truth'])} {where}, half anomalies; fitted on {len(split['fit'])} images of 1, 4, 8"
    mine = results["ours"]
    default = mine[ANOMALY_SCORES[0]]
    row(f"conv AE (`fit --model ae`, {mine['seconds']:.0f} s), default score ({ANOMALY_SCORES[0]}): ROC-AUC, {count}",
        f"{default['roc_auc']:.4f}", "", "", "≥ 0.97", default["roc_auc"] >= 0.97)
    row("conv AE, default score: F1 at the stored threshold (0.95 quantile of the held-out training images' scores)",
        f"{default['f1']:.4f}", "", "", "≥ 0.90", default["f1"] >= 0.90)
    for score in ANOMALY_SCORES[1:]:
        row(f"conv AE, `--score {score}`: ROC-AUC; F1 at its stored threshold",
            f"{mine[score]['roc_auc']:.4f}; {mine[score]['f1']:.4f}", "", "", "", None)
    for quantile, f1 in mine["f1_at"].items():
        row(f"conv AE, default score: F1 at the held-out scores' {quantile:.2f} quantile (--contamination "
            f"{1 - quantile:.2f})", f"{f1:.4f}", "", "", "", None)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
