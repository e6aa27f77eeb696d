"""The autoencoder family through vae.py (fit, reconstruct, denoise, generate, classify), on synthetic shapes."""


import numpy as np
import pytest
import torch

from vae.family.config import AutoencoderConfig
from vae.family.models import Autoencoder

from helpers import FAMILY_FAST, SHAPE_LABELS, digest, rgb, run_vae, shapes, write_npz


def linear_widths(module) -> list[int]:
    layers = [layer for layer in module.modules() if isinstance(layer, torch.nn.Linear)]
    return [layers[0].in_features] + [layer.out_features for layer in layers]


def test_layers_3_latent_2_mlp_builds_the_rule_and_its_mirror(tmp_path, shape_sets):
    model = Autoencoder(AutoencoderConfig(model="ae", arch="mlp", latent_dim=2, layers=3))
    assert linear_widths(model.encoder) == [784, 523, 263, 2]
    assert linear_widths(model.decoder) == [2, 263, 523, 784]
    vae = Autoencoder(AutoencoderConfig(model="vae", arch="mlp", latent_dim=2, layers=3))
    assert linear_widths(vae.encoder) == [784, 523, 263, 4]  # the last layer gives mean and log-variance
    run_vae("fit", shape_sets["train"], "m.pth", "--arch", "mlp", "--layers", "3", "--latent-dim", "2", "--epochs",
            "1", "--quiet", "--no-plots", cwd=tmp_path, check=True)
    state = torch.load(tmp_path / "m.pth", weights_only=True)["state_dict"]
    shapes_in_file = [tuple(tensor.shape) for name, tensor in state.items() if name.endswith("weight")]
    assert shapes_in_file == [(523, 784), (263, 523), (4, 263), (263, 2), (523, 263), (784, 523)]


def test_fit_writes_a_self_describing_model_and_the_figures(family):
    checkpoint = torch.load(family["vae"], weights_only=True)
    assert checkpoint["format"] == "vae-family-model"
    config = checkpoint["config"]
    assert config["model"] == "vae" and config["arch"] == "conv" and config["latent_dim"] == 4
    assert list(config["head_classes"]) == list(SHAPE_LABELS) and config["channels"] == 1
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in config.items()}
    model = Autoencoder(AutoencoderConfig(**values))
    model.load_state_dict(checkpoint["state_dict"])
    names = sorted(path.name for path in family["plots"].iterdir())
    assert names == ["latent_scatter.png", "loss_curves.png", "reconstructions.png", "samples.png", "traversals.png"]


def test_fit_without_epochs_says_what_it_chose_and_stores_it(shape_sets, tmp_path):
    """600 images: a held-out 60, a budget of 120 steps at batch 270 (2 steps an epoch: 60 epochs planned)."""
    result = run_vae("fit", shape_sets["train"], "m.pth", "--conv-channels", "8,16", "--conv-hidden", "32",
                     "--batch-size", "270", "--steps", "120", "--no-plots", cwd=tmp_path, check=True)
    block = result.stdout.split("\n")[:4]
    assert block[0].startswith("fitting a conv VAE (latent 10, loss ssim) on 600 images from ")
    assert block[1:] == ["  images:   28×28, 1 channel", "  latent:   10 (1×28×28 values / 192, within 10..128)",
                         "  training: up to 60 epochs over 540 images (a budget of 120 steps); from epoch 30 on, stops "
                         "once the loss on the 60 held out has not fallen for 6 epochs"]
    record = torch.load(tmp_path / "m.pth", weights_only=True)["record"]
    assert record["chosen"] == [line.strip() for line in block[1:]]
    training = record["training"]
    assert training["held_out"] == 60 and training["epochs_run"] == len(record["epochs_loss"])
    assert training["epochs_run"] - training["best_epoch"] >= 6 or training["epochs_run"] == 60
    assert f"kept epoch {training['best_epoch']} of {training['epochs_run']}" in result.stdout


def test_reconstruct_writes_float32_of_the_input_shape_and_prints_scores(family, shape_sets, tmp_path):
    result = run_vae("reconstruct", shape_sets["test"], family["vae"], cwd=tmp_path, check=True)
    for name in ("MSE", "PSNR", "SSIM"):
        assert name in result.stdout
    with np.load(tmp_path / "reconstructed.npz") as output:
        assert output.files == ["data"]
        data = output["data"]
    assert data.shape == (90, 28, 28) and data.dtype == np.float32 and 0 <= data.min() and data.max() <= 1


def test_denoise_scores_against_the_truth(family, tmp_path):
    clean, _ = shapes(40, seed=7)
    noisy = np.clip(clean / 255 + np.random.default_rng(0).normal(0, 0.5, clean.shape), 0, 1).astype(np.float32)
    write_npz(tmp_path / "clean.npz", clean)
    write_npz(tmp_path / "noisy.npz", noisy.reshape(40, 784))
    result = run_vae("denoise", "noisy.npz", family["ae"], "--truth", "clean.npz", "--out", "d.npz", cwd=tmp_path,
                     check=True)
    assert "clean.npz" in result.stdout and "SSIM" in result.stdout
    assert np.load(tmp_path / "d.npz")["data"].shape == (40, 784)


def test_classify_writes_one_prediction_per_image_and_prints_the_scores(family, shape_sets, tmp_path):
    result = run_vae("classify", shape_sets["test"], family["vae"], cwd=tmp_path, check=True)
    for name in ("accuracy", "precision (macro)", "recall (macro)", "F1 (macro)"):
        assert name in result.stdout
    lines = (tmp_path / "predictions.csv").read_text().splitlines()
    assert lines[0] == "Predicted_Label" and len(lines) == 91
    assert {int(line) for line in lines[1:]} <= set(SHAPE_LABELS)


def test_generate_writes_n_images_of_trains_shape_and_a_png(family, tmp_path):
    run_vae("generate", family["vae"], 13, "--out", "new.npz", cwd=tmp_path, check=True)
    data = np.load(tmp_path / "new.npz")["data"]
    assert data.shape == (13, 28, 28) and data.dtype == np.float32 and 0 <= data.min() and data.max() <= 1
    assert (tmp_path / "new.png").read_bytes()[:4] == b"\x89PNG"


def test_generate_is_seeded(family, tmp_path):
    digests = []
    for seed in (1, 1, 2):
        run_vae("generate", family["vae"], 5, "--seed", seed, cwd=tmp_path, check=True)
        digests.append(digest(tmp_path / "samples.npz"))
    assert digests[0] == digests[1] != digests[2]


@pytest.mark.parametrize("layout", ["channels_last", "channels_first"])
def test_an_rgb_set_trains_reconstructs_and_generates_in_its_own_layout(family, tmp_path, layout):
    images, labels = shapes(30, seed=9)
    data = rgb(images) if layout == "channels_last" else rgb(images).transpose(0, 3, 1, 2)
    write_npz(tmp_path / "rgb.npz", data, labels)
    run_vae("reconstruct", "rgb.npz", family["rgb"], cwd=tmp_path, check=True)
    assert np.load(tmp_path / "reconstructed.npz")["data"].shape == data.shape
    run_vae("generate", family["rgb"], 4, cwd=tmp_path, check=True)
    assert np.load(tmp_path / "samples.npz")["data"].shape == (4, 28, 28, 3)  # TRAIN's layout


@pytest.mark.parametrize("command", ["reconstruct", "denoise"])
def test_npy_in_and_out_give_the_npz_outputs(family, tmp_path, command):
    images = rgb(shapes(30, seed=9)[0])
    write_npz(tmp_path / "rgb.npz", images)
    np.save(tmp_path / "rgb.npy", images)
    run_vae(command, "rgb.npz", family["rgb"], "--out", "out.npz", cwd=tmp_path, check=True)
    result = run_vae(command, "rgb.npy", family["rgb"], "--out", "out.npy", cwd=tmp_path, check=True)
    assert "SSIM" in result.stdout
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.load(tmp_path / "out.npz")["data"])


def test_the_same_fit_and_seed_give_the_same_weights(shape_sets, tmp_path):
    states = []
    for name in ("a", "b"):
        run_vae("fit", shape_sets["train"], f"{name}.pth", "--model", "ae", "--noise", "0.3", "--no-plots",
                *FAMILY_FAST, cwd=tmp_path, check=True)
        states.append(torch.load(tmp_path / f"{name}.pth", weights_only=True)["state_dict"])
    assert all(torch.equal(states[0][name], states[1][name]) for name in states[0])


def test_a_memory_mapped_npy_folder_fits_the_same_weights_as_its_npz(shape_sets, tmp_path):
    with np.load(shape_sets["train"]) as train:
        (tmp_path / "train").mkdir()
        np.save(tmp_path / "train" / "data.npy", train["data"])
        np.save(tmp_path / "train" / "labels.npy", train["labels"])
    states = []
    for name, source in (("npz", shape_sets["train"]), ("npy", tmp_path / "train")):
        run_vae("fit", source, f"{name}.pth", "--head", "--no-plots", *FAMILY_FAST, cwd=tmp_path, check=True)
        states.append(torch.load(tmp_path / f"{name}.pth", weights_only=True)["state_dict"])
    assert all(torch.equal(states[0][name], states[1][name]) for name in states[0])


def test_bf16_mixed_precision_fits_and_is_recorded(shape_sets, tmp_path):
    run_vae("fit", shape_sets["train"], "bf16.pth", "--precision", "bf16", "--no-plots", *FAMILY_FAST, cwd=tmp_path,
            check=True)
    saved = torch.load(tmp_path / "bf16.pth", weights_only=True)
    assert saved["record"]["fit"]["precision"] == "bf16"
    assert np.isfinite(saved["record"]["epochs_loss"]).all()
    assert saved["record"]["epochs_loss"][-1] < saved["record"]["epochs_loss"][0]
