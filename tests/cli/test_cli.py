"""End to end through vae.py, on small synthetic shapes (see conftest)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import FAST, ROOT, SHAPE_LABELS, digest, run_vae


def test_help_shows_the_three_assignment_forms_first():
    result = run_vae("--help", check=True)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines[1].startswith("python vae.py TRAIN.npz VAL.npz train vae.pth gmm_params.pkl")
    assert lines[2].startswith("python vae.py RECON.npz test_reconstruction vae.pth")
    assert lines[3].startswith("python vae.py TEST.npz test_classifier vae.pth gmm_params.pkl")


def test_train_writes_a_self_describing_checkpoint_mixture_and_plots(trained):
    state = torch.load(trained["model"], weights_only=True)
    assert state["format"] == "vae-checkpoint" and state["config"]["latent_dim"] == 2
    assert sum(tensor.numel() for tensor in state["state_dict"].values()) <= 20_000_000
    assert sorted(p.name for p in trained["plots"].iterdir()) == ["gmm_ellipses.png", "latent_scatter.png",
                                                                  "manifold.png", "reconstructions.png"]
    from vae.core.checkpoint import load_mixture

    params = load_mixture(str(trained["mixture"]))
    assert params["classes"].tolist() == list(SHAPE_LABELS)
    assert params["means"].shape == (3, 2) and params["covariances"].shape == (3, 2, 2)


def test_test_reconstruction_writes_float32_in_unit_range_of_the_input_shape(trained, shape_sets):
    result = run_vae(shape_sets["recon"], "test_reconstruction", trained["model"], cwd=trained["folder"], check=True)
    assert "SSIM" in result.stdout
    with np.load(trained["folder"] / "vae_reconstructed.npz") as output:
        assert output.files == ["data"]
        data = output["data"]
    assert data.shape == (10, 28, 28) and data.dtype == np.float32
    assert 0 <= data.min() and data.max() <= 1


@pytest.mark.parametrize("search", [["--search", "lattice"], ["--search", "none"], ["--no-refine"]])
def test_each_reconstruction_search_writes_the_input_shape(trained, shape_sets, tmp_path, search):
    run_vae(shape_sets["recon"], "test_reconstruction", trained["model"], "--out", tmp_path / "out.npz", *search,
            check=True)
    with np.load(tmp_path / "out.npz") as output:
        assert output["data"].shape == (10, 28, 28) and 0 <= output["data"].min() and output["data"].max() <= 1


def test_test_reconstruction_reads_and_writes_npy_like_npz(trained, shape_sets, tmp_path):
    with np.load(shape_sets["recon"]) as recon:
        np.save(tmp_path / "recon.npy", recon["data"])
    run_vae(shape_sets["recon"], "test_reconstruction", trained["model"], "--out", tmp_path / "out.npz", check=True)
    run_vae(tmp_path / "recon.npy", "test_reconstruction", trained["model"], "--out", tmp_path / "out.npy", check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.load(tmp_path / "out.npz")["data"])


def test_no_refine_is_search_none(trained, shape_sets, tmp_path):
    for name, option in (("none.npz", ["--search", "none"]), ("no_refine.npz", ["--no-refine"])):
        run_vae(shape_sets["recon"], "test_reconstruction", trained["model"], "--out", tmp_path / name, *option,
                check=True)
    assert (tmp_path / "none.npz").read_bytes() == (tmp_path / "no_refine.npz").read_bytes()


def test_test_classifier_writes_one_label_per_image_in_order(trained, shape_sets):
    result = run_vae(shape_sets["test"], "test_classifier", trained["model"], trained["mixture"],
                     cwd=trained["folder"], check=True)
    assert "F1 average" in result.stdout
    lines = (trained["folder"] / "vae.csv").read_text().splitlines()
    assert lines[0] == "Predicted_Label" and len(lines) == 91
    predicted = np.array([int(line) for line in lines[1:]])
    assert set(predicted) <= set(SHAPE_LABELS)
    truth = np.array(SHAPE_LABELS)[np.arange(90) % 3]
    assert np.mean(predicted == truth) > 0.9  # the shapes are easy; order must be the input's


def test_test_classifier_works_without_labels_and_honours_out(trained, shape_sets, tmp_path):
    out = tmp_path / "predictions.csv"
    result = run_vae(shape_sets["test_unlabelled"], "test_classifier", trained["model"], trained["mixture"], "--out",
                     out, check=True)
    assert "F1" not in result.stdout
    assert out.read_text().splitlines()[0] == "Predicted_Label"
    assert len(out.read_text().splitlines()) == 91


def test_evaluate_scores_existing_outputs(trained, shape_sets):
    run_vae(shape_sets["test"], "test_classifier", trained["model"], trained["mixture"], cwd=trained["folder"],
            check=True)
    result = run_vae("evaluate", shape_sets["test"], "vae.csv", cwd=trained["folder"], check=True)
    assert "F1 average" in result.stdout


def test_plot_redraws_from_saved_files(trained, shape_sets, tmp_path):
    run_vae("plot", shape_sets["train"], shape_sets["val"], trained["model"], trained["mixture"], "--plots",
            tmp_path / "p", check=True)
    assert len(list((tmp_path / "p").glob("*.png"))) == 4



def test_same_command_same_seed_same_outputs(shape_sets, tmp_path):
    runs = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        run_vae(shape_sets["train"], shape_sets["val"], "train", "vae.pth", "gmm_params.pkl", *FAST, "--no-plots",
                cwd=folder, check=True)
        run_vae(shape_sets["recon"], "test_reconstruction", "vae.pth", cwd=folder, check=True)
        run_vae(shape_sets["test"], "test_classifier", "vae.pth", "gmm_params.pkl", cwd=folder, check=True)
        weights = torch.load(folder / "vae.pth", weights_only=True)["state_dict"]
        runs.append((weights, digest(folder / "vae.csv"), digest(folder / "vae_reconstructed.npz"),
                     digest(folder / "gmm_params.pkl")))
    (weights_a, *files_a), (weights_b, *files_b) = runs
    assert files_a == files_b
    for name in weights_a:
        assert torch.equal(weights_a[name], weights_b[name])


@pytest.mark.parametrize(
    "args",
    [
        ["a.npz", "b.npz", "fly", "vae.pth"],  # unknown command word
        ["a.npz", "train", "vae.pth", "gmm.pkl"],  # one path short before train
        ["a.npz", "test_reconstruction"],  # no model
        ["a.npz", "test_classifier", "vae.pth"],  # no mixture
        ["plot", "a.npz"],
        ["evaluate"],
        [],
    ],
)
def test_wrong_words_give_usage_and_exit_2(args, tmp_path):
    result = run_vae(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert list(tmp_path.iterdir()) == []


NO_TORCH = """
import sys
from vae.cli import main
code = main(sys.argv[1:])
heavy = [name for name in ("torch", "matplotlib", "sklearn", "PIL", "joblib") if name in sys.modules]
print("imported:", heavy)
sys.exit(code)
"""


def test_test_classifier_starts_without_torch_matplotlib_sklearn_or_pillow(trained, shape_sets, tmp_path):
    result = subprocess.run([sys.executable, "-c", NO_TORCH, shape_sets["test"], "test_classifier", trained["model"],
                             trained["mixture"], "--out", tmp_path / "v.csv"], capture_output=True, text=True,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr
    assert "imported: []" in result.stdout
