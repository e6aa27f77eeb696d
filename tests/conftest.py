"""Fixtures shared by the tests, and their markers: each test is marked by its folder (unit, cli, quality), so
that ``pytest -m unit`` runs the fast in-process tests alone."""

import pytest

from bad_input import fill_workspace
from helpers import FAMILY_FAST, FAST, MLP_FAST, rgb, run_vae, shapes, write_npz

MARKED_FOLDERS = ("unit", "cli", "quality")


def pytest_collection_modifyitems(items):
    for item in items:
        folder = item.path.parent.name
        if folder in MARKED_FOLDERS:
            item.add_marker(getattr(pytest.mark, folder))


@pytest.fixture(scope="session")
def shape_sets(tmp_path_factory):
    """Small labelled train/val/test npz files of the synthetic shapes."""
    folder = tmp_path_factory.mktemp("shapes")
    train_x, train_y = shapes(600, seed=1)
    test_x, test_y = shapes(90, seed=2)
    val_x, val_y = shapes(15, seed=3)
    return {
        "train": write_npz(folder / "train.npz", train_x, train_y),
        "val": write_npz(folder / "val.npz", val_x, val_y),
        "test": write_npz(folder / "test.npz", test_x, test_y),
        "test_unlabelled": write_npz(folder / "test_unlabelled.npz", test_x),
        "recon": write_npz(folder / "recon.npz", test_x[:10]),
        "folder": folder,
    }


@pytest.fixture(scope="session")
def trained(shape_sets, tmp_path_factory):
    """A model and mixture trained through vae.py on the shapes."""
    folder = tmp_path_factory.mktemp("trained")
    run_vae(shape_sets["train"], shape_sets["val"], "train", "vae.pth", "gmm_params.pkl", *FAST, cwd=folder, check=True)
    return {"folder": folder, "model": folder / "vae.pth", "mixture": folder / "gmm_params.pkl",
            "plots": folder / "plots"}


@pytest.fixture(scope="session")
def family(shape_sets, tmp_path_factory):
    """Models fitted through vae.py fit on the shapes: a conv VAE with a head, an MLP AE, and an RGB conv VAE."""
    folder = tmp_path_factory.mktemp("family")
    train_x, train_y = shapes(600, seed=1)
    rgb_train = write_npz(folder / "rgb_train.npz", rgb(train_x), train_y)
    run_vae("fit", shape_sets["train"], "vae_head.pth", "--model", "vae", "--head", "--latent-dim", "4", *FAMILY_FAST,
            cwd=folder,
            check=True)
    run_vae("fit", shape_sets["train"], "ae.pth", "--model", "ae", "--no-plots", *MLP_FAST, cwd=folder, check=True)
    run_vae("fit", rgb_train, "rgb.pth", "--no-plots", *FAMILY_FAST, cwd=folder, check=True)
    run_vae("reference", shape_sets["train"], "ref.pth", "--epochs", "2", "--quiet", cwd=folder, check=True)
    return {"folder": folder, "vae": folder / "vae_head.pth", "ae": folder / "ae.pth", "rgb": folder / "rgb.pth",
            "rgb_train": rgb_train, "plots": folder / "vae_head_plots", "reference": folder / "ref.pth"}


@pytest.fixture
def workspace(tmp_path, trained, shape_sets, family):
    """A folder holding good models (the assignment's and the family's) plus earlier outputs of every kind."""
    return fill_workspace(tmp_path / "work", trained, shape_sets, family)
