"""`make bench`, anomaly detection (issue #12): a conv AE with defaults against PyOD's AutoEncoder and VAE.

    python -m bench.anomaly [--train ...mnist_1_4_8_train.npz] [--test ...mnist_test_first5000.npz]
                            [--validation] [--work DIR]

Normal = digits 1, 4 and 8. The two shared files are combined as for the family's bench (2,000 of
the test file held out, stratified); every detector is fitted on the 1/4/8 images of the training
part and scored on the held-out 1/4/8 images and as many held-out images of the other seven digits
(a seeded draw): half and half. With --validation the held-out images are never touched: 10% of the
training part's 1/4/8 images are kept out of the fit instead, and scored with as many of the training
part's other digits (which no detector sees), and PyOD is left out; that is how --anomaly-quantile's
default was chosen.

Ours is `vae.py fit --model ae` then `vae.py anomaly` (MSE score, the stored threshold); PyOD's
detectors run with their own defaults on the flattened images, each flagged at its own threshold
(its `contamination` quantile of its training scores). Needs pyod (bench/requirements.txt).
"""

import contextlib
import os
import sys
import tempfile
import time

import numpy as np

from vae.datasets.splits import combine_files, detection_split
from vae.family.anomaly import detection_scores

from bench.common import print_table, row, source_parser, vae_command

NORMAL = (1, 4, 8)
QUANTILES = (0.90, 0.95, 0.98, 0.99)


def ours(split: dict, work: str) -> dict:
    np.savez(os.path.join(work, "normal.npz"), data=split["fit"])
    np.savez(os.path.join(work, "scored.npz"), data=split["score"], labels=split["truth"])
    model = os.path.join(work, "ae.pth")
    start = time.perf_counter()
    vae_command("fit", os.path.join(work, "normal.npz"), model, "--model", "ae", "--quiet", "--no-plots")
    seconds = time.perf_counter() - start
    scores, flags = anomaly_csv(work, "scored.npz", model, "anomalies.csv")
    result = {"seconds": seconds, **detection_scores(split["truth"], scores, flags)}
    result["ssim"] = detection_scores(split["truth"],
                                      *anomaly_csv(work, "scored.npz", model, "anomalies_ssim.csv", "--score", "ssim"))
    train_scores, _ = anomaly_csv(work, "normal.npz", model,
                                  "normal.csv")  # the training images' own scores, for other quantiles
    result["f1_at"] = {quantile: detection_scores(split["truth"], scores,
                                                  (scores > np.quantile(train_scores, quantile)).astype(int))["f1"]
                       for quantile in QUANTILES}
    return result


def anomaly_csv(work: str, data: str, model: str, name: str, *options) -> tuple[np.ndarray, np.ndarray]:
    """`vae.py anomaly WORK/DATA MODEL --out WORK/NAME [options]`: its CSV's scores (N,) and 0/1 flags (N,)."""
    out = os.path.join(work, name)
    vae_command("anomaly", os.path.join(work, data), model, "--out", out, "--quiet", *options)
    table = np.loadtxt(out, delimiter=",", skiprows=1, ndmin=2)
    return table[:, 0], table[:, 1].astype(int)


def pyod_detector(kind: str, split: dict) -> dict:
    if kind == "AutoEncoder":
        from pyod.models.auto_encoder import AutoEncoder as Detector
    else:
        from pyod.models.vae import VAE as Detector
    train = split["fit"].reshape(len(split["fit"]), -1).astype(np.float32) / 255
    scored = split["score"].reshape(len(split["score"]), -1).astype(np.float32) / 255
    detector = Detector(random_state=0, verbose=0)
    start = time.perf_counter()
    detector.fit(train)
    seconds = time.perf_counter() - start
    scores = detector.decision_function(scored)
    # predict() is scores > threshold_, but PyOD 2.0.5's fails under scikit-learn 1.9 (__sklearn_tags__)
    return {"seconds": seconds, **detection_scores(split["truth"], scores, (scores > detector.threshold_).astype(int))}


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
    if not args.validation:
        results.update({kind: pyod_detector(kind, split) for kind in ("AutoEncoder", "VAE")})
    count = f"{len(split['truth'])} {where}, half anomalies; fitted on {len(split['fit'])} images of 1, 4, 8"
    mine = results["ours"]
    row(f"conv AE (`fit --model ae`), MSE score: ROC-AUC, {count}", f"{mine['roc_auc']:.4f}", "", "", "≥ 0.97",
        mine["roc_auc"] >= 0.97)
    row("conv AE: F1 at the stored threshold (0.95 quantile of the training scores)", f"{mine['f1']:.4f}", "", "",
        "≥ 0.90", mine["f1"] >= 0.90)
    row("conv AE, 1 - SSIM score (`--score ssim`): ROC-AUC; F1 at its stored threshold",
        f"{mine['ssim']['roc_auc']:.4f}; {mine['ssim']['f1']:.4f}", "", "", "", None)
    for quantile, f1 in mine["f1_at"].items():
        row(f"conv AE: F1 at the training scores' {quantile:.2f} quantile", f"{f1:.4f}", "", "", "", None)
    for kind in (kind for kind in ("AutoEncoder", "VAE") if kind in results):
        theirs = results[kind]
        row(f"ROC-AUC: ours vs PyOD {kind} (its defaults)", f"{mine['roc_auc']:.4f}", f"{theirs['roc_auc']:.4f}",
            f"{mine['roc_auc'] - theirs['roc_auc']:+.4f}", "> 0", mine["roc_auc"] > theirs["roc_auc"])
        row(f"F1 at each one's own threshold: ours vs PyOD {kind}", f"{mine['f1']:.4f}", f"{theirs['f1']:.4f}",
            f"{mine['f1'] - theirs['f1']:+.4f}", "", None)
        row(f"fit time: ours vs PyOD {kind}", f"{mine['seconds']:.1f} s", f"{theirs['seconds']:.1f} s",
            f"{mine['seconds'] / theirs['seconds']:.2f}×", "", None)
    print_table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
