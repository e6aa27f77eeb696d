"""vae.py sweep: the grid's cells, k folds, its three outputs, resuming after a kill, and the head's stratified
folds."""

import os
import signal
import subprocess
import sys
import time

import pytest

from vae.family.config import AutoencoderConfig, FitConfig
from vae.family.sweep import cell_configs, cells

from helpers import VAE, csv_rows, run_vae, shapes, write_npz

TINY = ["--epochs", "1", "--conv-channels", "4,8", "--conv-hidden", "16", "--batch-size", "64"]
GRID = "model=ae,vae beta=1,5 latent-dim=2"  # the AE ignores beta: three cells, not four


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep")
    images, labels = shapes(240, seed=1)
    return write_npz(folder / "small.npz", images, labels)


@pytest.fixture(scope="module")
def tiny(small_set):
    """TINY, and a reference network trained once (a sweep trains its own when given none: test_generation.py)."""
    reference = os.path.join(os.path.dirname(small_set), "ref.pth")
    run_vae("reference", small_set, reference, "--epochs", "1", "--quiet", check=True)
    return [*TINY, "--reference", reference]


def test_cells_drop_knobs_a_model_ignores():
    found = cells({"model": ["ae", "vae"], "beta": [1.0, 5.0], "latent_dim": [2, 10]}, AutoencoderConfig(), FitConfig())
    assert len(found) == 2 + 4 and {"model": "ae",
                                    "latent_dim": 2} in found and {"model": "vae", "beta": 5.0,
                                                                   "latent_dim": 10} in found


def test_the_sweeps_own_options_apply_only_to_the_cells_they_apply_to():
    base = (AutoencoderConfig(conv_channels=(8, 16)), FitConfig(sparsity=5.0, beta=4.0))
    sparse_ae, vae = (cell_configs({"model": model}, *base) for model in ("ae", "vae"))
    assert (sparse_ae[1].sparsity, sparse_ae[1].beta, sparse_ae[0].sparse) == (5.0, FitConfig().beta, True)
    assert (vae[1].sparsity, vae[1].beta, vae[0].sparse) == (0.0, 4.0, False)
    mlp, _ = cell_configs({"arch": "mlp", "model": "ae"}, *base)
    assert mlp.conv_channels == () and mlp.arch == "mlp"


def test_sweep_writes_a_row_per_cell_and_fold_a_summary_and_figures(small_set, tmp_path, tiny):
    result = run_vae("sweep", small_set, "--grid", GRID, "--folds", "2", "--jobs", "2", "--out", tmp_path / "sw",
                     *tiny, cwd=tmp_path, check=True)
    table = csv_rows(tmp_path / "sw" / "results.csv")
    assert [(row["cell"], row["fold"]) for row in table] == [
        (cell, fold) for cell in ("model=ae latent-dim=2", "model=vae beta=1 latent-dim=2",
                                  "model=vae beta=5 latent-dim=2") for fold in "01"]
    for row in table:
        assert 0 < float(row["mse"]) < 1 and -1 <= float(row["ssim"]) <= 1
        assert float(row["bce"]) > 0 and float(row["l1"]) > 0
        assert -1 <= float(row["silhouette"]) <= 1  # the shapes are labelled
    summary = (tmp_path / "sw" / "summary.md").read_text()
    assert summary.count("\n| model=") == 3 and summary.count("**") >= 2 * 5 and " ± " in summary
    assert summary.strip() in result.stdout
    for name in ("loss_curves.png", "metrics_vs_model.png", "metrics_vs_beta.png"):
        assert (tmp_path / "sw" / name).read_bytes()[:4] == b"\x89PNG"


def test_the_scores_do_not_depend_on_how_many_fits_run_at_once(small_set, tmp_path, tiny):
    # every fit runs on one torch thread, in the main process (--jobs 1) or in a worker (--jobs 2)
    tables = []
    for jobs in ("1", "2"):
        run_vae("sweep", small_set, "--grid", "beta=1,5", "--folds", "2", "--jobs", jobs, "--out", f"sw{jobs}",
                "--quiet", *tiny, cwd=tmp_path, check=True)
        table = csv_rows(tmp_path / f"sw{jobs}" / "results.csv")
        tables.append([{name: value for name, value in row.items() if name != "fit_seconds"} for row in table])
    assert tables[0] == tables[1] and len(tables[0]) == 4


def test_a_killed_sweep_resumes_without_redoing_finished_fits(small_set, tmp_path, tiny):
    out = tmp_path / "sw"
    slower = [*tiny, "--epochs", "20"]  # fits of about a second: the kill lands before the last one ends
    command = [sys.executable, VAE, "sweep", small_set, "--grid", "beta=1,2,3", "--folds", "2", "--jobs", "1", "--out",
               str(out), "--quiet", *slower]
    process = subprocess.Popen(command, cwd=tmp_path)
    deadline = time.time() + 120
    while not (out / "folds").is_dir() or not os.listdir(out / "folds"):
        assert process.poll() is None and time.time() < deadline, "the sweep ended before its first fit was written"
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    fits = [name for name in os.listdir(out / "folds") if name.endswith(".json")]
    finished = {name: os.stat(out / "folds" / name).st_mtime_ns for name in fits}
    assert 1 <= len(finished) < 6 and not (out / "results.csv").exists()
    result = run_vae("sweep", small_set, "--grid", "beta=1,2,3", "--folds", "2", "--jobs", "1", "--out", out, *slower,
                     cwd=tmp_path, check=True)
    assert f"{len(finished)} fits already in" in result.stdout
    assert all(os.stat(out / "folds" / name).st_mtime_ns == stamp for name, stamp in finished.items())
    assert len(csv_rows(out / "results.csv")) == 6


def test_the_same_folder_with_other_settings_is_refused(small_set, tmp_path, tiny):
    run_vae("sweep", small_set, "--grid", "beta=1", "--folds", "2", "--out", "sw", "--quiet", *tiny, cwd=tmp_path,
            check=True)
    result = run_vae("sweep", small_set, "--grid", "beta=1", "--folds", "2", "--out", "sw", "--quiet", *tiny, "--lr",
                     "0.001", cwd=tmp_path)
    assert result.returncode == 2 and "other settings" in result.stderr


def test_a_head_gets_stratified_folds_and_its_scores(small_set, tmp_path, tiny):
    run_vae("sweep", small_set, "--grid", "latent-dim=2", "--folds", "3", "--head", "--out", "sw", "--quiet", *tiny,
            cwd=tmp_path, check=True)
    table = csv_rows(tmp_path / "sw" / "results.csv")
    assert len(table) == 3
    for row in table:
        assert all(0 <= float(row[name]) <= 1 for name in ("accuracy", "precision_macro", "recall_macro", "f1_macro"))
