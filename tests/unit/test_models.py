"""The family's networks in-process: the width rule, the conv body's shapes, sampling, the sparsity penalty."""

import numpy as np
import pytest
import torch

from vae.family.config import AutoencoderConfig, FitConfig
from vae.family.fitting import fit_autoencoder
from vae.family.models import Autoencoder
from vae.family.models.conv import feature_sides
from vae.family.models.mlp import rule_widths

from helpers import shapes


def test_the_width_rule_gives_the_issues_example_and_its_ends():
    assert rule_widths(784, 2, 3) == [784, 523, 263, 2]
    assert rule_widths(784, 10, 1) == [784, 10]
    for layers in range(1, 8):
        widths = rule_widths(2352, 7, layers)
        assert widths[0] == 2352 and widths[-1] == 7 and all(a > b for a, b in zip(widths, widths[1:]))


@pytest.mark.parametrize("decoder", ["dense", "broadcast"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("conv_channels", [(8,), (8, 16), (8, 16, 32)])
def test_conv_decoder_gives_back_the_input_shape(channels, conv_channels, decoder):
    model = Autoencoder(AutoencoderConfig(arch="conv", channels=channels, conv_channels=conv_channels, conv_hidden=16,
                                          decoder=decoder))
    images = torch.rand(5, channels, 28, 28)
    logits, mu, logvar, latent = model(images)
    latent_dim = 10 if channels == 1 else 12  # C·S²/192 within 10..128 (vae/family/choices.py)
    assert logits.shape == images.shape and mu.shape == logvar.shape == latent.shape == (5, latent_dim)
    assert feature_sides(28, 3) == [28, 14, 7, 3]


def test_a_broadcast_decoder_places_what_it_draws_by_comparing_the_latent_with_the_coordinates():
    model = Autoencoder(AutoencoderConfig(model="vae", latent_dim=2, conv_channels=(4, 8), decoder="broadcast"))
    broadcast = model.decoder.body[0]
    assert [name for name, _ in model.named_buffers()].count("decoder.body.0.coordinates") == 1
    assert "decoder.body.0.coordinates" not in model.state_dict()  # rebuilt from the side, not saved
    cells = broadcast(torch.tensor([[0.5, -2.0]]))
    assert cells.shape == (1, 4, 7, 7)  # a quarter of the side of 28×28 images
    assert torch.equal(cells[0, 0], torch.full((7, 7), 0.5)) and torch.equal(cells[0, 1], torch.full((7, 7), -2.0))
    assert (cells[0, 2, 0, 0], cells[0, 2, -1, 0], cells[0, 3, 0, -1]) == (-1, 1, 1)  # rows down, columns across
    assert torch.equal(cells[0, 2], cells[0, 3].T)


def test_an_ae_decodes_its_code_and_a_vae_its_mean_outside_training():
    ae = Autoencoder(AutoencoderConfig(model="ae")).eval()
    vae = Autoencoder(AutoencoderConfig(model="vae")).eval()
    images = torch.rand(4, 1, 28, 28)
    assert ae.encode(images)[1] is None
    mu, _ = vae.encode(images)
    assert torch.equal(vae(images)[3], mu)
    vae.train()
    assert not torch.equal(vae(images)[3], mu)  # reparameterised sampling while training


def test_the_sparsity_strength_pulls_the_code_towards_its_target():
    images = (shapes(300, seed=4)[0].astype(np.float32) / 255).reshape(-1, 1, 28, 28)
    config = AutoencoderConfig(model="ae", arch="mlp", layers=2, latent_dim=16, sparse=True)
    penalties = {}
    for strength in (0.5, 5, 20):
        fitted = fit_autoencoder(images, config, FitConfig(epochs=8, sparsity=strength, ssim_weight=0), quiet=True)
        model, history = fitted.model, fitted.history
        penalties[strength] = history[-1].extra["sparsity"]
        with torch.no_grad():
            code = model.encode(torch.from_numpy(images))[0]
        assert code.min() >= 0 and code.max() <= 1  # a sparse AE's code is a sigmoid
    assert penalties[0.5] > penalties[5] > penalties[20]
