"""The assignment's variational autoencoder: an MLP encoder to (mu, logvar), reparameterised sampling, an MLP
decoder to pixel logits; and the loss terms only this pipeline trains with (the mixture prior's means, the
propagated labels' cross-entropy, the anchoring KL). Knows nothing of files.

The layer names here (``encoder.{i}``, ``decoder.{i}``) are vae.pth's keys, which
vae/assignment/inference.py reads back for inference without torch.
"""

import math

import torch
import torch.nn.functional as F

from vae.assignment.config import ModelConfig
from vae.assignment.propagation import UNREACHED
from vae.nn.layers import LatentModel, mlp
from vae.nn.losses import component_log_densities


class VAE(LatentModel):
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


def prior_means(components: int, latent_dim: int, radius: float) -> torch.Tensor:
    """Means of the mixture prior: evenly spaced on a circle in the first two latent dimensions; (K, D)."""
    angles = torch.arange(components) * (2 * math.pi / components)
    means = torch.zeros(components, latent_dim)
    means[:, 0], means[:, 1] = radius * torch.cos(angles), radius * torch.sin(angles)
    return means


def propagation_loss(latent: torch.Tensor, means: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of each image's propagated class under the prior's component posterior, averaged
    over the batch; (B, D) latents, (K, D) means, (B,) classes where UNREACHED counts nothing."""
    log_densities = component_log_densities(latent, means)
    return F.cross_entropy(log_densities, classes, ignore_index=UNREACHED, reduction="sum") / len(latent)


def anchor_divergence(mu, logvar, targets) -> torch.Tensor:
    """Sum over images of KL(N(mu, diag exp(logvar)) || N(target, I)): pulls labelled images to their class's
    component."""
    return 0.5 * torch.sum(torch.exp(logvar) + (mu - targets) ** 2 - 1 - logvar)
