"""A new user's first hour (issue #22): outputs never lost, options never silently ignored, numbers with their
context, one rule for output folders, logs without progress bars, and one way to install and run."""

import importlib.metadata
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import FAMILY_FAST, ROOT, SHARED_MNIST, csv_rows, run_vae, shapes, write_npz


def test_two_models_fitted_side_by_side_keep_their_own_figures(shape_sets, tmp_path):
    for name in ("first", "second"):
        run_vae("fit", shape_sets["train"], f"{name}.pth", *FAMILY_FAST, cwd=tmp_path, check=True)
    for name in ("first", "second"):
        figures = sorted(path.name for path in (tmp_path / f"{name}_plots").iterdir())
        assert figures == ["latent_scatter.png", "loss_curves.png", "reconstructions.png", "samples.png",
                           "traversals.png"]
    assert not (tmp_path / "plots").exists()


def test_missing_output_folders_are_made_for_every_command(trained, family, shape_sets, tmp_path):
    run_vae(shape_sets["test"], "test_classifier", trained["model"], trained["mixture"], "--out", "a/b/v.csv",
            cwd=tmp_path, check=True)
    run_vae(shape_sets["recon"], "test_reconstruction", trained["model"], "--out", "c/r.npz", cwd=tmp_path, check=True)
    run_vae("reconstruct", shape_sets["test"], family["vae"], "--out", "d/e/r.npy", cwd=tmp_path, check=True)
    run_vae("generate", family["vae"], "4", "--out", "f/s.npy", cwd=tmp_path, check=True)
    run_vae("anomaly", shape_sets["test"], family["vae"], "--abnormal-classes", "7", "--out", "g/a.csv", cwd=tmp_path,
            check=True)
    run_vae("fit", shape_sets["train"], "h/m.pth", "--no-plots", *FAMILY_FAST, cwd=tmp_path, check=True)
    tested, rebuilt = (len(np.load(shape_sets[name])["data"]) for name in ("test", "recon"))
    assert len(csv_rows(tmp_path / "a/b/v.csv")) == len(csv_rows(tmp_path / "g/a.csv")) == tested
    assert np.load(tmp_path / "c/r.npz")["data"].shape == (rebuilt, 28, 28)
    assert np.load(tmp_path / "d/e/r.npy").shape == (tested, 28, 28)
    assert np.load(tmp_path / "f" / "s.npy").shape == (4, 28, 28)  # an .npy --out is an .npy file
    for picture in ("f/s.png", "g/a.png"):
        assert (tmp_path / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", picture
    assert torch.load(tmp_path / "h/m.pth", weights_only=True)["record"]["train_images"] == len(
        np.load(shape_sets["train"])["data"])


def test_options_that_apply_to_the_network_are_taken(shape_sets, tmp_path):
    run_vae("fit", shape_sets["train"], "sparse.pth", "--model", "ae", "--sparsity", "5", "--no-plots", *FAMILY_FAST,
            cwd=tmp_path, check=True)
    run_vae("fit", shape_sets["train"], "mlp.pth", "--arch", "mlp", "--layers", "2", "--no-plots", "--epochs", "1",
            "--quiet", cwd=tmp_path, check=True)
    assert torch.load(tmp_path / "sparse.pth", weights_only=True)["config"]["sparse"]


def test_denoise_prints_the_noisy_inputs_own_scores_and_says_the_model_was_not_fitted_for_it(family, tmp_path):
    clean, _ = shapes(40, seed=7)
    noisy = np.clip(clean / 255 + np.random.default_rng(0).normal(0, 0.5, clean.shape), 0, 1).astype(np.float32)
    write_npz(tmp_path / "clean.npz", clean)
    write_npz(tmp_path / "noisy.npz", noisy)
    result = run_vae("denoise", "noisy.npz", family["ae"], "--truth", "clean.npz", cwd=tmp_path, check=True)
    scores = [float(line.split()[-1]) for line in result.stdout.splitlines() if line.strip().startswith("SSIM")]
    assert len(scores) == 2 and "the noisy input itself" in result.stdout  # the output's, then the input's
    assert "fitted without --noise" in result.stdout


def test_classify_says_how_many_images_belong_to_classes_the_head_never_saw(family, tmp_path):
    images, labels = shapes(30, seed=8)
    labels[:4] = 9  # a class the head was not fitted on
    write_npz(tmp_path / "odd.npz", images, labels)
    result = run_vae("classify", "odd.npz", family["vae"], cwd=tmp_path, check=True)
    assert "4 of 30 images belong to classes the model does not know (9)" in result.stdout


def test_normal_classes_are_the_complement_of_abnormal_classes(family, shape_sets, tmp_path):
    run_vae("anomaly", shape_sets["test"], family["vae"], "--abnormal-classes", "7", "--out", "a.csv", cwd=tmp_path,
            check=True)
    run_vae("anomaly", shape_sets["test"], family["vae"], "--normal-classes", "3,5", "--out", "b.csv", cwd=tmp_path,
            check=True)
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    both = run_vae("anomaly", shape_sets["test"], family["vae"], "--normal-classes", "3", "--abnormal-classes", "7",
                   cwd=tmp_path)
    assert both.returncode == 2 and "not allowed with" in both.stderr and not (tmp_path / "anomalies.csv").exists()


def test_a_log_gets_one_line_per_epoch_and_no_progress_bar(shape_sets, tmp_path):
    result = run_vae("fit", shape_sets["train"], "m.pth", "--arch", "mlp", "--layers", "2", "--epochs", "2",
                     "--no-plots", cwd=tmp_path, check=True)  # stderr is a pipe here, as in a redirected log
    assert "\r" not in result.stderr and "batch/s" not in result.stderr
    assert [line.split()[1] for line in result.stderr.splitlines()] == ["epoch", "epoch"]
    assert "fitting an MLP VAE" in result.stdout
    assert "  training: 2 epochs over all 600 images (--epochs)" in result.stdout
    one = run_vae("fit", shape_sets["train"], "one.pth", "--epochs", "1", "--no-plots", *FAMILY_FAST[2:-1],
                  cwd=tmp_path, check=True)
    assert "fitting a conv VAE" in one.stdout and "  training: 1 epoch over all 600 images (--epochs)" in one.stdout


@pytest.mark.skipif(shutil.which("git") is None or not os.path.isdir(os.path.join(ROOT, ".git")),
                    reason="not a git checkout")
def test_the_default_outputs_of_every_command_are_ignored_by_git():
    names = ["vae.pth", "gmm_params.pkl", "vae.csv", "vae_reconstructed.npz", "plots/x.png", "reconstructed.npz",
             "denoised.npz", "samples.npz", "samples.png", "predictions.csv", "anomalies.csv", "anomalies.png",
             "sweep/results.csv", "model_plots/samples.png"]
    result = subprocess.run(["git", "check-ignore", "--no-index", *names], cwd=ROOT, capture_output=True, text=True)
    assert sorted(result.stdout.split()) == sorted(names)


def test_the_help_says_whose_options_it_lists():
    top = run_vae("--help", check=True).stdout
    assert "The options below are those of train, test_reconstruction and test_classifier" in top
    assert "train's model and training" in top and "--contamination C" in top and "--normal-classes" in top


MISSING = """
import sys
sys.modules[sys.argv[1]] = None  # as if the package were not installed
from vae.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("package, words", [("numpy", ["--help"]), ("torch", ["generate", "m.pth", "3"])])
def test_a_missing_package_is_one_line_naming_it(package, words, tmp_path):
    result = subprocess.run([sys.executable, "-c", MISSING, package, *words], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"the package {package} is not installed" in result.stderr and "make install" in result.stderr
    assert not os.listdir(tmp_path)


def installed() -> bool:
    try:
        return importlib.metadata.distribution("vae").locate_file("") is not None
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not installed(), reason="vae is not installed in this Python (make install installs it)")
def test_once_installed_the_vae_command_and_the_datasets_module_work_from_any_folder(tmp_path):
    command = shutil.which("vae", path=os.path.dirname(sys.executable))
    assert command, "make install puts a vae command beside the venv's python"
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    assert "TRAIN.npz VAL.npz train" in subprocess.run([command, "--help"], capture_output=True, text=True,
                                                       cwd=tmp_path, env=environment, check=True).stdout
    built = subprocess.run([sys.executable, "-m", "vae.datasets", "digits", "--out", "sets"], capture_output=True,
                           text=True, cwd=tmp_path, env=environment, check=True)
    assert (tmp_path / "sets" / "digits_1_4_8_train.npz").exists(), built.stdout


VENV = os.path.dirname(os.path.dirname(sys.executable))


@pytest.mark.skipif(not os.path.exists(SHARED_MNIST) or shutil.which("make") is None
                    or not os.path.exists(os.path.join(VENV, ".installed")),
                    reason="needs make, the shared training file and the venv that make install builds")
def test_make_demo_runs_from_the_training_file_alone(tmp_path):
    (tmp_path / "data").mkdir()
    os.symlink(SHARED_MNIST, tmp_path / "data" / "mnist_1_4_8_train.npz")
    result = subprocess.run(["make", "-s", "-C", ROOT, "demo", f"DATA={tmp_path / 'data'}", f"DEMO={tmp_path / 'demo'}",
                             f"VENV={VENV}", "OPTIONS=--epochs 2 --decoder-epochs 1"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    for name in ("vae.pth", "gmm_params.pkl", "vae_reconstructed.npz", "vae.csv", "plots/manifold.png"):
        assert (tmp_path / "demo" / name).exists(), name
    assert "F1 average" in result.stdout


def test_python_m_vae_is_vae_py():
    assert run_vae("fit", "--help", check=True).stdout == subprocess.run(
        [sys.executable, "-m", "vae", "fit", "--help"], capture_output=True, text=True, check=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": ROOT}).stdout
