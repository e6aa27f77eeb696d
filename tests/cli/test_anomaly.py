"""vae.py anomaly: scores, the stored threshold, the CSV, the figure and the detection scores, on synthetic shapes."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

from vae.family.anomaly import HEADER
from vae.family.config import ANOMALY_SCORES

from helpers import FAMILY_FAST, SHAPE_LABELS, VAE, csv_rows, printed_scores, run_vae, shapes, write_npz


@pytest.fixture(scope="module")
def bars_only(tmp_path_factory):
    """An AE fitted on the two bar shapes (normal), and a test set of all three (rings are the anomalies)."""
    folder = tmp_path_factory.mktemp("anomaly")
    images, labels = shapes(600, seed=1)
    normal = labels != SHAPE_LABELS[2]
    write_npz(folder / "normal.npz", images[normal], labels[normal])
    test_images, test_labels = shapes(120, seed=2)
    write_npz(folder / "test.npz", test_images, test_labels)
    write_npz(folder / "test01.npz", test_images, (test_labels == SHAPE_LABELS[2]).astype(np.int64))
    run_vae("fit", "normal.npz", "ae.pth", "--model", "ae", "--no-plots", *FAMILY_FAST, cwd=folder, check=True)
    return folder, test_labels == SHAPE_LABELS[2]


def read_csv(path):
    """anomalies.csv's scores (N,) and 0/1 flags (N,), after checking its header."""
    rows = csv_rows(path)
    assert ",".join(rows[0]) == HEADER
    return (np.array([float(row["Anomaly_Score"]) for row in rows]),
            np.array([int(row["Predicted_Anomaly"]) for row in rows]))


def test_fit_stores_each_scores_threshold_at_the_held_out_quantile(bars_only):
    folder, _ = bars_only
    record = torch.load(folder / "ae.pth", weights_only=True)["record"]
    stored, trained_on = record["anomaly"], len(np.load(folder / "normal.npz")["data"])
    held_out = stored["reference"]["held_out"]
    assert set(stored["thresholds"]) == set(held_out) == set(ANOMALY_SCORES) and stored["quantile"] == 0.95
    for name, values in held_out.items():  # --epochs trains on all of TRAIN: a seeded tenth is set aside to score
        assert len(values) == trained_on // 10
        assert stored["thresholds"][name] == pytest.approx(np.quantile(values.numpy(), 0.95), rel=1e-5)
    normal = f"{SHAPE_LABELS[0]},{SHAPE_LABELS[1]}"
    result = run_vae("anomaly", "normal.npz", "ae.pth", "--out", "train_scores.csv", "--normal-classes", normal,
                     "--score", "mse", cwd=folder, check=True)
    scores, flags = read_csv(folder / "train_scores.csv")
    assert np.array_equal(flags, scores > stored["thresholds"]["mse"])
    assert 0.02 <= flags.mean() <= 0.10, result.stdout  # about 5% of the normal images above it


def test_csv_flags_are_scores_above_the_threshold_and_the_printed_scores_are_sklearns(bars_only):
    folder, truth = bars_only
    result = run_vae("anomaly", "test.npz", "ae.pth", "--abnormal-classes", str(SHAPE_LABELS[2]), cwd=folder,
                     check=True)
    scores, flags = read_csv(folder / "anomalies.csv")
    threshold = torch.load(folder / "ae.pth", weights_only=True)["record"]["anomaly"]["thresholds"]["combined"]
    assert len(scores) == len(truth) and np.array_equal(flags, (scores > threshold).astype(int))
    assert f"combined threshold {threshold:.6g} (stored by fit: the 0.95 quantile" in result.stdout
    printed = printed_scores(result)
    assert printed["precision"] == pytest.approx(precision_score(truth, flags), abs=1e-4)
    assert printed["recall"] == pytest.approx(recall_score(truth, flags), abs=1e-4)
    assert printed["f1"] == pytest.approx(f1_score(truth, flags), abs=1e-4)
    assert printed["roc_auc"] == pytest.approx(roc_auc_score(truth, scores), abs=1e-4)
    assert printed["roc_auc"] > 0.9  # rings, never seen in training, score above bars
    assert (folder / "anomalies.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_contamination_flags_above_that_quantile_of_the_held_out_scores(bars_only):
    folder, _ = bars_only
    result = run_vae("anomaly", "test01.npz", "ae.pth", "--score", "neighbours", "--contamination", "0.2", "--out",
                     "c.csv", cwd=folder, check=True)
    held_out = torch.load(folder / "ae.pth", weights_only=True)["record"]["anomaly"]["reference"]["held_out"]
    threshold = np.quantile(held_out["neighbours"].numpy().astype(np.float64), 0.8)
    scores, flags = read_csv(folder / "c.csv")
    assert np.array_equal(flags, scores > threshold)
    assert f"the 0.8 quantile of {len(held_out['neighbours'])} held-out" in result.stdout


def test_a_model_fitted_before_the_new_scores_still_gives_mse(bars_only):
    folder, _ = bars_only
    checkpoint = torch.load(folder / "ae.pth", weights_only=True)
    old = dict(checkpoint["record"]["anomaly"]["thresholds"])
    checkpoint["record"]["anomaly"] = {"thresholds": {"mse": old["mse"], "ssim": old["ssim"]}}
    torch.save(checkpoint, folder / "old.pth")
    result = run_vae("anomaly", "test01.npz", "old.pth", "--score", "mse", "--out", "old.csv", cwd=folder, check=True)
    run_vae("anomaly", "test01.npz", "ae.pth", "--score", "mse", "--out", "new.csv", cwd=folder, check=True)
    assert (folder / "old.csv").read_bytes() == (folder / "new.csv").read_bytes()
    assert "the 0.95 quantile of its training images' scores" in result.stdout


def test_0_1_labels_an_explicit_threshold_and_the_ssim_score(bars_only):
    folder, truth = bars_only
    run_vae("anomaly", "test.npz", "ae.pth", "--abnormal-classes", str(SHAPE_LABELS[2]), "--out", "a.csv", cwd=folder,
            check=True)
    run_vae("anomaly", "test01.npz", "ae.pth", "--out", "b.csv", cwd=folder, check=True)
    assert (folder / "a.csv").read_bytes() == (folder / "b.csv").read_bytes()
    run_vae("anomaly", "test01.npz", "ae.pth", "--out", "c.csv", "--threshold=-1e9", cwd=folder, check=True)
    assert read_csv(folder / "c.csv")[1].all()
    run_vae("anomaly", "test01.npz", "ae.pth", "--out", "d.csv", "--score", "ssim", cwd=folder, check=True)
    scores, _ = read_csv(folder / "d.csv")
    assert ((scores >= 0) & (scores <= 2)).all() and not np.allclose(scores, read_csv(folder / "b.csv")[0])


def test_unlabelled_data_writes_scores_and_prints_no_metrics(bars_only, tmp_path):
    folder, truth = bars_only
    images, _ = shapes(30, seed=4)
    write_npz(tmp_path / "plain.npz", images)
    result = run_vae("anomaly", tmp_path / "plain.npz", folder / "ae.pth", cwd=tmp_path, check=True)
    assert len(read_csv(tmp_path / "anomalies.csv")[0]) == 30 and "roc_auc" not in result.stdout


def test_class_numbers_are_matched_as_numbers():
    from vae.family.anomaly import truth_from_labels

    labels = np.array(["1", "4", "8", "4"])
    assert truth_from_labels(labels, "x.npz", abnormal=("04",)).tolist() == [0, 1, 0, 1]
    assert truth_from_labels(labels, "x.npz", normal=("1", "08")).tolist() == [0, 1, 0, 1]


def test_output_cut_short_by_its_reader_stops_quietly(bars_only):
    folder, _ = bars_only
    reader = subprocess.Popen([sys.executable, VAE, "anomaly", "test01.npz", "ae.pth", "--out", "cut.csv"],
                              cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader.stdout.close()  # as `| head -0` would: every line printed meets a closed pipe
    errors = reader.stderr.read().decode()
    assert reader.wait() == 1 and "Traceback" not in errors, errors
    assert len(read_csv(folder / "cut.csv")[0]) == 120  # the CSV was written before the printing
