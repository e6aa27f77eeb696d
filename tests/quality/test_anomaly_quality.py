"""Anomaly scores on real photographs, built offline from scikit-image's (vae.datasets.photos): patches of moon
and clock among camera and coins, which an autoencoder reconstructs better than the normal patches. A small fit
with a fixed seed, through vae.py as a user runs it; the full-size results are in docs/family.md (make bench)."""

from vae.datasets.photos import build_photo_set

from helpers import printed_scores, run_vae


def test_the_default_score_finds_the_photographs_reconstruction_error_misses(tmp_path):
    build_photo_set("grey-anomaly", str(tmp_path / "set"), side=64, train=150, test=50)
    run_vae("fit", tmp_path / "set" / "train", "ae.pth", "--model", "ae", "--epochs", "20", "--quiet", "--no-plots",
            cwd=tmp_path, check=True)
    scored = {score: printed_scores(run_vae("anomaly", tmp_path / "set" / "test", "ae.pth", "--score", score,
                                            "--normal-classes", "normal", "--out", f"{score}.csv", cwd=tmp_path,
                                            check=True))["roc_auc"]
              for score in ("combined", "mse", "texture")}
    # measured: combined 0.980, mse 0.003, texture 0.983 (at 32×32 the same set is harder: texture 0.78)
    assert scored["mse"] < 0.2 and scored["combined"] >= 0.95 and scored["texture"] >= 0.95, scored
