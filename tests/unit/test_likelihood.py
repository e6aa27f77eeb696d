"""The likelihood bounds (vae/family/likelihood.py) against a VAE whose true log-likelihood is known by hand, and
their bookkeeping: K = 1 makes the two bounds one, slicing the draws changes nothing, IWAE ≤ ELBO."""

import math

import numpy as np
import pytest
import torch

from vae.core.data import image_set_from
from vae.core.errors import InputError
from vae.family.config import AutoencoderConfig
from vae.family.likelihood import image_bounds, likelihood_bounds
from vae.family.models import Autoencoder

from helpers import shapes


class PixelCoins(torch.nn.Module):
    """A "VAE" with a one-dimensional latent that the decoder ignores: p(x|z) is a fixed coin per pixel, so
    log p(x) = Σ log p(pixel) exactly, whatever the posterior; q(z|x) = N(0.5, 0.8²)."""

    variational = True

    def __init__(self, probabilities: torch.Tensor):
        super().__init__()
        self.logits = torch.logit(probabilities)

    def encode(self, images):
        count = len(images)
        return torch.full((count, 1), 0.5), torch.full((count, 1), math.log(0.64))

    def decode(self, latent):
        return self.logits.expand(len(latent), *self.logits.shape)


def test_the_bounds_of_a_decoder_that_ignores_its_latent_are_its_exact_likelihood_plus_the_kl():
    probabilities = torch.tensor([[[0.9, 0.2], [0.5, 0.7]]])
    model = PixelCoins(probabilities)
    binary = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    exact = -(math.log(0.9) + math.log(0.8) + math.log(0.5) + math.log(0.3))  # −log p(x) by hand
    kl = 0.5 * (0.64 + 0.25 - 1 - math.log(0.64))  # KL(N(0.5, 0.8²) ‖ N(0, 1))
    elbo, iwae = image_bounds(model, binary, 20_000, torch.Generator().manual_seed(0), 4096)
    # the ELBO's Monte Carlo estimate of −log p(x) + KL; IWAE's weights p(z)/q(z) average to 1
    assert elbo.item() == pytest.approx(exact + kl, abs=0.02)
    assert iwae.item() == pytest.approx(exact, abs=0.02)


@pytest.fixture(scope="module")
def small_vae():
    torch.manual_seed(0)
    model = Autoencoder(AutoencoderConfig(model="vae", arch="mlp", latent_dim=3, image_size=28, layers=2)).eval()
    images, _ = shapes(12, seed=3)
    return model, image_set_from("small", {"data": images})


def test_one_sample_makes_the_two_bounds_one_and_more_samples_tighten_iwae(small_vae):
    model, image_set = small_vae
    one = likelihood_bounds(model, image_set, 1, seed=0)
    assert one["elbo_nll"] == pytest.approx(one["iwae_nll"], rel=1e-12)
    many = likelihood_bounds(model, image_set, 200, seed=0)
    assert many["iwae_nll"] < many["elbo_nll"]
    assert (many["samples"], many["images"]) == (200, 12)


def test_slicing_the_draws_changes_nothing_but_memory(small_vae):
    model, image_set = small_vae
    binary = torch.bernoulli(torch.from_numpy(image_set.images()).view(-1, 1, 28, 28),
                             generator=torch.Generator().manual_seed(1))
    whole = image_bounds(model, binary, 300, torch.Generator().manual_seed(2), 300 * 12)
    sliced = image_bounds(model, binary, 300, torch.Generator().manual_seed(2), 7 * 12)  # 7 draws at a time
    for a, b in zip(whole, sliced):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5)


@pytest.mark.parametrize("samples", [0, -1, 100_001])
def test_absurd_sample_counts_are_refused(small_vae, samples):
    model, image_set = small_vae
    with pytest.raises(InputError, match="--samples"):
        likelihood_bounds(model, image_set, samples)
