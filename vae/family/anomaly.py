"""Anomaly detection by reconstruction error (``vae.py anomaly``).

A network fitted on normal images only reconstructs them well and images unlike them badly, so each
image's reconstruction error is its anomaly score. Two scores are offered:

    mse   the mean squared error over pixels (the default: it is what the field reports, and it
          weighs a missing or extra stroke by its area)
    ssim  1 - SSIM (scikit-image's; per channel for RGB): structure rather than intensity, for
          sets whose anomalies differ in texture more than in ink

``fit`` stores a threshold per score in MODEL.pth: the ``anomaly_quantile`` quantile of its training
images' scores (FitConfig; chosen on a validation split, docs/family.md). ``anomaly`` flags the
images above it, or above ``--threshold``.
"""

import os

import numpy as np

from vae.core.errors import InputError
from vae.core.io import atomic_write, check_writable, write_table
from vae.core.metrics import per_image_scores
from vae.core.report import Outputs
from vae.family.inference import decoded_batches, decoded_pairs, load_autoencoder, load_images_for

ANOMALIES_FILE = "anomalies.csv"
HEADER = "Anomaly_Score,Predicted_Anomaly"


def anomaly_scores(model, image_set) -> dict[str, np.ndarray]:
    """Each image's anomaly scores, {"mse": (N,), "ssim": (N,) of 1 - SSIM}, from its decoding by the latent mean."""
    errors, similarities = per_image_scores(decoded_pairs(image_set, decoded_batches(model, image_set)),
                                            image_set.channels)
    return {"mse": errors, "ssim": 1.0 - similarities}


def training_thresholds(scores: dict[str, np.ndarray], quantile: float) -> dict[str, float]:
    """The ``quantile`` of the training images' scores, per score: what ``fit`` stores in MODEL.pth."""
    return {name: float(np.quantile(values, quantile)) for name, values in scores.items()}


def truth_from_labels(labels: np.ndarray | None, path: str, abnormal: tuple | None = None,
                      normal: tuple | None = None) -> np.ndarray | None:
    """(N,) 0/1 truth (1 = anomaly) from (N,) label names: those in ``abnormal``, or those not in ``normal``, else
    the labels themselves when they are 0/1. Every class named must occur in the labels."""
    named = abnormal or normal
    option = "--abnormal-classes" if abnormal else "--normal-classes"
    if labels is None:
        if named:
            raise InputError(f"{option}: {path} has no 'labels' to map")
        return None
    if named:
        present = np.unique(labels)
        named = tuple(str(int(name)) if name.isdecimal() and name not in present else name for name in named)  # 01: 1
        absent = [name for name in named if name not in present]
        if absent:
            raise InputError(f"{option}: {', '.join(absent)} do not occur in the labels of {path} "
                             f"({', '.join(present)})")
        inside = np.isin(labels, named)
        return (inside if abnormal else ~inside).astype(np.int64)
    if not np.isin(labels, ("0", "1")).all():
        raise InputError(f"{path}: its labels are not 0/1 (1 = anomaly); name the abnormal classes with "
                         "--abnormal-classes")
    return (labels == "1").astype(np.int64)


def detection_scores(truth: np.ndarray, scores: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Precision, recall and F1 of the flags (anomaly = positive), and ROC-AUC of the scores (scikit-learn's)."""
    # scikit-learn's import is about 1.3 s: only a run with labels to score against pays it, not every fit
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score

    precision, recall, f1, _ = precision_recall_fscore_support(truth, flagged, average="binary", zero_division=0)
    result = {"precision": float(precision), "recall": float(recall), "f1": float(f1)}
    if 0 < truth.sum() < len(truth):  # ROC-AUC needs both kinds of image
        result["roc_auc"] = float(roc_auc_score(truth, scores))
    return result


def anomaly(data_path: str, model_path: str, out_path: str | None, threshold: float | None, score: str,
            abnormal_classes: tuple | None, normal_classes: tuple | None, outputs: Outputs,
            skip_unreadable: bool = False) -> dict | None:
    """Write anomalies.csv (score and 0/1 flag per image, input order) and the score histogram beside it; scores
    when DATA has labels."""
    out_path = out_path or ANOMALIES_FILE
    picture = os.path.splitext(out_path)[0] + ".png"
    check_writable(out_path, (".csv",))  # so the histogram beside it (.png) is never the same file
    check_writable(picture)
    model, record = load_autoencoder(model_path)
    if threshold is None:
        threshold = stored_threshold(record, score, model_path)
    image_set = load_images_for(model, data_path, model_path, labels="optional", skip_unreadable=skip_unreadable,
                                outputs=outputs)
    names = None if image_set.labels is None else image_set.label_names()
    truth = truth_from_labels(names, data_path, abnormal_classes, normal_classes)
    values = anomaly_scores(model, image_set)[score]
    flagged = (values > threshold).astype(np.int64)
    scores = [f"{value:.8g}" for value in values.tolist()]
    atomic_write(out_path, lambda handle: write_table(handle, HEADER.split(","), [np.array(scores), flagged],
                                                      image_set.files))
    from vae.core.plots import save  # matplotlib: about a second of start-up
    from vae.family.figures import score_distributions

    save(score_distributions(values, truth, threshold, score), picture)
    outputs.say(f"wrote {out_path}: {flagged.sum()} of {len(flagged)} images above the {score} threshold "
                f"{threshold:.6g}, and {picture}")
    if truth is None:
        return None
    result = detection_scores(truth, values, flagged)
    outputs.say("\n".join(f"  {name:<10} {value:.4f}" for name, value in result.items()))
    return result


def stored_threshold(record, score: str, model_path: str) -> float:
    """The threshold ``fit`` stored for ``score`` in the model file's record."""
    try:
        threshold = float(record["anomaly"]["thresholds"][score])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{model_path}: holds no stored {score} threshold; give --threshold") from None
    if not np.isfinite(threshold):
        raise InputError(f"{model_path}: its stored {score} threshold is not a finite number; give --threshold")
    return threshold
