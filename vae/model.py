"""The variational autoencoder: an MLP encoder to (mu, logvar), reparameterised sampling, an MLP
decoder to pixel logits, and the training loss. Knows nothing of files.

The layer names here (``encoder.{i}``, ``decoder.{i}``) are the checkpoint's keys, which
:mod:`vae.network` reads back for inference without torch.
"""

import functools
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from vae.config import ModelConfig
from vae.metrics import structural_similarity, window_band
from vae.propagation import UNREACHED

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU}
LOG_2PI = math.log(2 * math.pi)


def mlp(sizes: list[int], activation: str) -> nn.Sequential:
    """Linear layers of the given widths with the activation between them (none after the last)."""
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if index:
            layers.append(ACTIVATIONS[activation]())
        layers.append(nn.Linear(width_in, width_out))
    return nn.Sequential(*layers)


class VAE(nn.Module):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        encoder_sizes, decoder_sizes = config.layer_sizes()
        self.encoder = mlp(encoder_sizes, config.activation)
        self.decoder = mlp(decoder_sizes, config.activation)

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 784) images in [0, 1] -> the posterior's mean and log-variance, each (B, latent_dim)."""
        mu, logvar = self.encoder(images).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, latent_dim) -> (B, 784) pixel logits; sigmoid gives the image."""
        return self.decoder(latent)

    def sample(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """A reparameterised draw from the posterior (its mean in eval mode); (B, latent_dim)."""
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits from a sampled latent (the posterior mean in eval mode), mu, logvar, the latent."""
        mu, logvar = self.encode(images)
        latent = self.sample(mu, logvar)
        return self.decode(latent), mu, logvar, latent


def prior_means(components: int, latent_dim: int, radius: float) -> torch.Tensor:
    """Means of the mixture prior: evenly spaced on a circle in the first two latent dimensions; (K, D)."""
    angles = torch.arange(components) * (2 * math.pi / components)
    means = torch.zeros(components, latent_dim)
    means[:, 0], means[:, 1] = radius * torch.cos(angles), radius * torch.sin(angles)
    return means


def pixel_loss(images: torch.Tensor, logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-image reconstruction loss, averaged over the batch: "bce" (Bernoulli likelihood) or "mse"."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / len(images)
    return F.mse_loss(torch.sigmoid(logits), images, reduction="sum") / len(images)


def similarity(images: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of the decoded images against the inputs, differentiable; shape (B,)."""
    side = math.isqrt(images.shape[1])
    return structural_similarity(images.view(-1, side, side), torch.sigmoid(logits).view(-1, side, side), _band_window_sums)


def kl_divergence(mu, logvar, latent, means: torch.Tensor | None) -> torch.Tensor:
    """KL(q(z|x) || prior), averaged over the batch: exact for the standard normal (``means`` None),
    else a one-sample estimate for the mixture prior whose (K, D) component means (:func:`prior_means`) are given.

    The mixture prior (equal weights, identity covariances, fixed means) gives the encoder one
    separate place per class to put images, so the latent forms Gaussian clusters that the
    mixture fitted after training describes well.
    """
    if means is None:
        return -0.5 * torch.sum(1 + logvar - mu * mu - torch.exp(logvar)) / len(mu)
    noise = (latent - mu) * torch.exp(-0.5 * logvar)
    log_posterior = -0.5 * torch.sum(noise * noise + logvar + LOG_2PI, dim=1)
    log_prior = torch.logsumexp(component_log_densities(latent, means), dim=1) - math.log(len(means))
    return torch.sum(log_posterior - log_prior) / len(mu)


def component_log_densities(latent: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """log N(latent; mean_k, I) for each (B, D) latent and each of the (K, D) prior means; (B, K)."""
    offsets = latent[:, None, :] - means[None, :, :]
    return -0.5 * torch.sum(offsets * offsets + LOG_2PI, dim=2)


def propagation_loss(latent: torch.Tensor, means: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each image's propagated class under the prior's component posterior, averaged
    over the batch; (B, D) latents, (K, D) means, (B,) classes where UNREACHED counts nothing."""
    log_densities = component_log_densities(latent, means)
    return F.cross_entropy(log_densities, classes, ignore_index=UNREACHED, reduction="sum") / len(latent)


def anchor_divergence(mu, logvar, targets) -> torch.Tensor:
    """Sum over images of KL(N(mu, diag exp(logvar)) || N(target, I)): pulls labelled images to their class's component."""
    return 0.5 * torch.sum(torch.exp(logvar) + (mu - targets) ** 2 - 1 - logvar)


def _band_window_sums(images: torch.Tensor) -> torch.Tensor:
    """(N, H, H) -> (N, windows) as band @ image @ bandᵀ: two small matrix products, fast in autograd."""
    band = _band(images.shape[-1], images.dtype, images.device)
    return (band @ images @ band.T).flatten(1)


@functools.lru_cache(maxsize=8)
def _band(side: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(window_band(side)).to(device, dtype)
