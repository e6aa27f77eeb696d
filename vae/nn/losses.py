"""The loss terms both pipelines train with: pixel loss, SSIM, KL to the prior, sparsity.

Each takes a batch and returns a scalar tensor averaged over the batch (or per-image values where
the name says so). SSIM here is vae.core.metrics's formula run on torch tensors, so that the training
loss and the reported score are the same number.
"""

import functools
import math

import torch
import torch.nn.functional as F

from vae.core.metrics import structural_similarity, window_band

LOG_2PI = math.log(2 * math.pi)


def pixel_loss(images: torch.Tensor, logits: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Per-image reconstruction loss summed over pixels, averaged over the batch: "bce" (Bernoulli likelihood) or
    "mse"."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / len(images)
    return F.mse_loss(torch.sigmoid(logits), images, reduction="sum") / len(images)


def similarity(images: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of the decoded images against (B, side²) grey inputs, differentiable; shape (B,)."""
    side = math.isqrt(images.shape[1])
    decoded = torch.sigmoid(logits).view(-1, side, side)
    return structural_similarity(images.view(-1, side, side), decoded, _band_window_sums)


def image_similarity(images: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Per-image SSIM of (B, C, H, W) decodings against the images, the mean over channels; (B,)."""
    count, channels, side = images.shape[0], images.shape[1], images.shape[-1]
    flat = side * side
    return similarity(images.reshape(-1, flat), logits.reshape(-1, flat)).view(count, channels).mean(dim=1)


def kl_divergence(mu, logvar, latent, means: torch.Tensor | None) -> torch.Tensor:
    """KL(q(z|x) || prior), averaged over the batch: exact for the standard normal (``means`` None), else a
    one-sample estimate for the mixture prior of unit Gaussians whose (K, D) component means are given.

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


def sparsity_penalty(code: torch.Tensor, target: float) -> torch.Tensor:
    """sum_j KL(Bernoulli(target) || Bernoulli(mean activation of code unit j)) over a (B, D) batch of sigmoid codes."""
    mean = code.mean(dim=0).clamp(1e-6, 1 - 1e-6)
    return torch.sum(target * torch.log(target / mean) + (1 - target) * torch.log((1 - target) / (1 - mean)))


def _band_window_sums(images: torch.Tensor) -> torch.Tensor:
    """(N, H, H) -> (N, windows) as band @ image @ bandᵀ: two small matrix products, fast in autograd."""
    band = _band(images.shape[-1], images.dtype, images.device)
    return (band @ images @ band.T).flatten(1)


@functools.lru_cache(maxsize=8)
def _band(side: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(window_band(side)).to(device, dtype)
