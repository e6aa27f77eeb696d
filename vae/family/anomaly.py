"""Anomaly detection (``vae.py anomaly``): each image's score, the threshold, the CSV and the figure.

A network fitted on normal images scores each image (vae/family/anomaly_scores.py: reconstruction error, nearest
training images in the encoder's features, and ``combined``, the default). ``fit`` keeps in MODEL.pth the held-out
normal images' scores and a threshold per score, their ``anomaly_quantile`` quantile (FitConfig: 0.95);
``anomaly`` flags the images above it, above ``--threshold``, or above the (1 - ``--contamination``) quantile of
the held-out scores (PyOD's name: the expected share of anomalies).
"""

import os

import numpy as np

from vae.core.errors import InputError
from vae.core.io import atomic_write, check_writable, write_table
from vae.core.report import Outputs
from vae.family.anomaly_scores import RECONSTRUCTION, check_contamination, measured, scores_from
from vae.family.inference import load_autoencoder, load_images_for, trained_as

ANOMALIES_FILE = "anomalies.csv"
HEADER = "Anomaly_Score,Predicted_Anomaly"


def stored_reference(record: dict, score: str, model_path: str) -> dict | None:
    """The reference ``fit`` stored, or None for a model file fitted before it (which gives mse and ssim only)."""
    reference = (record.get("anomaly") or {}).get("reference")
    if reference is None and score not in RECONSTRUCTION:
        raise InputError(f"{model_path}: was fitted before the {score} score existed and holds nothing it needs; "
                         f"refit it with 'vae.py fit', or give --score mse")
    return reference


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
            skip_unreadable: bool = False, contamination: float | None = None) -> dict | None:
    """Write anomalies.csv (score and 0/1 flag per image, input order) and the score histogram beside it; scores
    when DATA has labels."""
    out_path = out_path or ANOMALIES_FILE
    picture = os.path.splitext(out_path)[0] + ".png"
    check_writable(out_path, (".csv",))  # so the histogram beside it (.png) is never the same file
    check_writable(picture)
    if contamination is not None:
        check_contamination(contamination)
    model, record = load_autoencoder(model_path)
    reference = stored_reference(record, score, model_path)
    threshold, rule = chosen_threshold(record, reference, score, threshold, contamination, model_path)
    image_set = load_images_for(model, data_path, model_path, labels="optional", skip_unreadable=skip_unreadable,
                                outputs=outputs)
    names = None if image_set.labels is None else image_set.label_names()
    truth = truth_from_labels(names, data_path, abnormal_classes, normal_classes)
    every = scores_from(measured(model, image_set), reference)
    values = every[score]
    flagged = (values > threshold).astype(np.int64)
    scores = [f"{value:.8g}" for value in values.tolist()]
    atomic_write(out_path, lambda handle: write_table(handle, HEADER.split(","), [np.array(scores), flagged],
                                                      image_set.files))
    from vae.core.plots import save  # matplotlib: about a second of start-up
    from vae.family.figures import score_distributions

    save(score_distributions(every, truth, threshold, score), picture)
    outputs.say(f"{model_path}: {trained_as(model, record)}")  # after the files: a reader that stops early loses none
    outputs.say(f"wrote {out_path}: {flagged.sum()} of {len(flagged)} images above the {score} threshold "
                f"{threshold:.6g} ({rule}), and {picture}")
    if truth is None:
        return None
    result = detection_scores(truth, values, flagged)
    outputs.say("\n".join(f"  {name:<10} {value:.4f}" for name, value in result.items()))
    return result


def chosen_threshold(record: dict, reference: dict | None, score: str, threshold: float | None,
                     contamination: float | None, model_path: str) -> tuple[float, str]:
    """The threshold for ``score`` and how it was chosen: given, from --contamination, or the one fit stored."""
    if threshold is not None:
        return threshold, "given"
    if contamination is not None:
        if reference is None:
            raise InputError(f"{model_path}: was fitted before --contamination existed and holds no held-out scores; "
                             "refit it with 'vae.py fit', or give --threshold")
        held_out = np.asarray(reference["held_out"][score], np.float64)
        return float(np.quantile(held_out, 1 - contamination)), (
            f"the {1 - contamination:g} quantile of {len(held_out):,} held-out training images' scores")
    try:
        stored = float(record["anomaly"]["thresholds"][score])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{model_path}: holds no stored {score} threshold; give --threshold") from None
    if not np.isfinite(stored):
        raise InputError(f"{model_path}: its stored {score} threshold is not a finite number; give --threshold")
    quantile = record["anomaly"].get("quantile", record.get("fit", {}).get("anomaly_quantile", 0.95))
    images = "held-out training images'" if reference is not None else "training images'"
    return stored, f"stored by fit: the {quantile:g} quantile of its {images} scores"
