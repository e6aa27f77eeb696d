"""Generation, measured (issue #24): the mixture sampler fit stores, generate's samplers, the reference network and
the scores of samples, and the sweep's generation columns and claims."""


import numpy as np
import torch

from vae.family.reference import load_reference

from helpers import FAMILY_FAST, csv_rows, digest, printed_scores, run_vae, shapes, write_npz


def test_fit_stores_a_mixture_of_the_training_latents(family):
    sampler = torch.load(family["ae"], weights_only=True)["record"]["sampler"]
    weights, means = np.array(sampler["weights"]), np.array(sampler["means"])
    assert weights.shape == (10,) and np.isclose(weights.sum(), 1) and means.shape == (10, 10)
    assert np.array(sampler["covariances"]).shape == (10, 10, 10)


def test_an_ae_generates_from_its_mixture_and_a_vae_from_either_the_same_for_a_seed(family, tmp_path):
    result = run_vae("generate", family["ae"], "12", "--out", "ae.npz", cwd=tmp_path, check=True)
    assert "from the mixture" in result.stdout and np.load(tmp_path / "ae.npz")["data"].shape == (12, 28, 28)
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        run_vae("generate", family["vae"], "12", "--sampler", "mixture", "--seed", seed, "--out", f"{name}.npz",
                cwd=tmp_path, check=True)
    assert digest(tmp_path / "a.npz") == digest(tmp_path / "b.npz") != digest(tmp_path / "c.npz")
    prior = run_vae("generate", family["vae"], "12", "--out", "prior.npz", cwd=tmp_path, check=True)
    assert "from the prior" in prior.stdout


def test_generate_scores_samples_against_real_images_in_the_reference_features(family, shape_sets, tmp_path):
    result = run_vae("generate", family["vae"], "200", "--against", shape_sets["test"], "--reference",
                     family["reference"], "--out", "s.npz", cwd=tmp_path, check=True)
    printed = printed_scores(result)
    assert set(printed) == {"Fréchet", "precision", "recall"} and printed["Fréchet"] >= 0
    assert 0 <= printed["precision"] <= 1 and 0 <= printed["recall"] <= 1


def test_the_reference_network_is_a_file_of_its_own(family):
    saved = torch.load(family["reference"], weights_only=True)
    assert saved["format"] == "vae-reference" and tuple(saved["config"]["class_names"]) == ("3", "5", "7")
    assert saved["record"]["train_images"] == 600


def test_a_sweep_scores_each_cells_samples_and_says_whether_the_claims_hold(tmp_path):
    images, labels = shapes(240, seed=1)
    write_npz(tmp_path / "small.npz", images, labels)
    result = run_vae("sweep", "small.npz", "--grid", "model=ae,vae beta=1,5", "--folds", "2", "--epochs", "1",
                     "--conv-channels", "4,8", "--conv-hidden", "16", "--out", "sw", cwd=tmp_path, check=True)
    rows = csv_rows(tmp_path / "sw" / "results.csv")
    assert all(float(row["fd"]) >= 0 and 0 <= float(row["precision"]) <= 1 for row in rows) and len(rows) == 6
    summary = (tmp_path / "sw" / "summary.md").read_text()
    assert "- VAEs generate better than AEs" in summary and "- β-VAEs with β > 1" in summary
    assert "Generation" in result.stdout
    assert load_reference(str(tmp_path / "sw" / "reference.pth")).config.classes == len(set(labels.tolist()))
    assert (tmp_path / "sw" / "samples.png").read_bytes()[:4] == b"\x89PNG"


def test_an_unlabelled_sweep_without_a_reference_says_it_has_no_generation_scores(tmp_path):
    images, _ = shapes(120, seed=1)
    write_npz(tmp_path / "plain.npz", images)
    result = run_vae("sweep", "plain.npz", "--grid", "beta=1", "--folds", "2", *FAMILY_FAST[:2], "--out", "sw",
                     cwd=tmp_path, check=True)
    assert "no generation scores" in result.stdout and "fd" not in (tmp_path / "sw" / "results.csv").read_text()
