"""β-VAE as researchers measure it: fit --loss elbo, vae.py likelihood, vae.py disentanglement (its MIG equal to one
computed from the Python API's transform), the traversal figure, a sweep's MIG and NLL columns, and bad input."""

import json

import numpy as np
import pytest
import torch

from vae import Autoencoder
from vae.core.disentanglement import mig
from vae.datasets.shapes import shapes_set
from vae.family.inference import load_autoencoder

from helpers import csv_rows, run_in_process, run_vae, write_npz

TINY = ["--epochs", "2", "--conv-channels", "8,16", "--conv-hidden", "32", "--quiet"]


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """A small set of shapes with its factors (32×32: 3 shapes × 2 scales × 2 orientations × 6 × 6 places), and a
    VAE fitted on it with the textbook ELBO."""
    folder = tmp_path_factory.mktemp("shapes")
    data, factors, names = shapes_set(3, 2, 2, 6, side=32)
    path = write_npz(folder / "shapes.npz", data, factors=factors, factor_names=np.array(names))
    run_vae("fit", path, folder / "elbo.pth", "--loss", "elbo", "--beta", "4", *TINY, check=True)
    return folder, path, data, factors


def test_fit_records_the_loss_and_the_elbo_has_no_ssim_term(shapes):
    folder, *_ = shapes
    model, record = load_autoencoder(str(folder / "elbo.pth"))
    assert record["fit"]["loss"] == "elbo" and record["fit"]["beta"] == 4.0 and model.variational
    assert record["chosen"][-2].startswith("decoder:  broadcast") and model.config.decoder == "broadcast"


def test_likelihood_writes_both_bounds_and_one_sample_makes_them_one(shapes, tmp_path):
    folder, path, data, _ = shapes
    result = run_vae("likelihood", folder / "elbo.pth", path, "--samples", "1", "--out", tmp_path / "one.json",
                     cwd=tmp_path, check=True)
    one = json.loads((tmp_path / "one.json").read_text())
    assert one["elbo_nll"] == pytest.approx(one["iwae_nll"], rel=1e-12) and one["samples"] == 1
    assert "loss elbo" in one["model"] and "loss elbo, β 4" in result.stdout
    run_in_process("likelihood", folder / "elbo.pth", path, "--samples", "50", cwd=tmp_path)
    fifty = json.loads((tmp_path / "nll.json").read_text())  # the default output
    assert 0 < fifty["iwae_nll"] < fifty["elbo_nll"] and fifty["images"] == len(data)


def test_disentanglement_equals_mig_from_the_python_api_and_draws_the_traversals(shapes, tmp_path):
    folder, path, data, factors = shapes
    run_vae("disentanglement", folder / "elbo.pth", path, "--out", tmp_path / "scores.json", check=True)
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert set(scores) >= {"mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap"}
    assert all(0 <= scores[key] <= 1 for key in ("mig", "dci_disentanglement", "dci_completeness", "sap"))
    from_transform = mig(Autoencoder.load(str(folder / "elbo.pth")).transform(data), factors)
    assert scores["mig"] == pytest.approx(from_transform, abs=1e-6)
    assert (tmp_path / "scores.png").read_bytes().startswith(b"\x89PNG")
    assert scores["factor_names"] == ["shape", "scale", "orientation", "x", "y"]
    assert set(scores["best_factor"]) <= set(scores["factor_names"])


def test_a_sweep_on_a_set_with_factors_reports_mig_and_nll(shapes, tmp_path):
    _, path, *_ = shapes
    run_vae("sweep", path, "--grid", "beta=1,4", "--folds", "2", "--jobs", "2", "--loss", "elbo", *TINY,
            "--out", tmp_path / "sw", check=True)
    rows = csv_rows(tmp_path / "sw" / "results.csv")
    assert len(rows) == 4 and all(0 <= float(row["mig"]) <= 1 and float(row["nll"]) > 0 for row in rows)
    assert "| mig |" in (tmp_path / "sw" / "summary.md").read_text().replace(" nll", "")


def test_bad_input_is_one_line(shapes, tmp_path):
    folder, path, data, factors = shapes
    model = folder / "elbo.pth"
    no_factors = write_npz(tmp_path / "plain.npz", data)
    short = write_npz(tmp_path / "short.npz", data, factors=factors[:-1])
    floats = write_npz(tmp_path / "floats.npz", data, factors=factors.astype(float))
    run_vae("fit", path, tmp_path / "ae.pth", "--model", "ae", *TINY, check=True)
    cases = [
        (("disentanglement", model, no_factors), "has no 'factors' array"),
        (("disentanglement", model, short), f"'factors' has {len(data) - 1} rows but 'data' has {len(data)} images"),
        (("disentanglement", model, floats), "'factors' must be N×K integers"),
        (("likelihood", model, path, "--samples", "0"), "--samples"),
        (("likelihood", model, path, "--samples", "1000000"), "--samples"),
        (("likelihood", tmp_path / "ae.pth", path), "an AE has no likelihood"),
        (("fit", path, tmp_path / "x.pth", "--loss", "elbo", "--ssim-weight", "10"), "applies only with --loss ssim"),
    ]
    for args, message in cases:
        before = sorted(tmp_path.iterdir())
        result = run_in_process(*args, cwd=tmp_path)
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("vae.py: error: ") and message in result.stderr, result.stderr
        assert sorted(tmp_path.iterdir()) == before


def test_the_traversal_rows_follow_the_kl():
    from vae.core.data import image_set_from
    from vae.family.config import AutoencoderConfig
    from vae.family.models import Autoencoder as Network
    from vae.family.traversals import SEEDS, STEPS, latent_statistics, traverse

    torch.manual_seed(0)
    model = Network(AutoencoderConfig(model="vae", arch="mlp", latent_dim=4, image_size=16, layers=2)).eval()
    images = image_set_from("set", {"data": np.random.default_rng(0).integers(0, 256, (20, 16, 16), np.uint8)})
    _, kl = latent_statistics(model, images)
    traversal = traverse(model, images, ["a", "b", "c", "d"])
    assert list(traversal.dimensions) == list(np.argsort(-kl, kind="stable"))
    assert traversal.images.shape == (4, SEEDS * STEPS, 256) and traversal.measure == "KL"
    assert traversal.factors == [["a", "b", "c", "d"][index] for index in traversal.dimensions]
