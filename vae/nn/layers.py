"""Building blocks: the one MLP builder, and the encode → sample → decode pass every autoencoder here shares."""

import numpy as np
import torch
import torch.nn as nn

from vae.core.errors import InputError, first_line

ACTIVATIONS = {"relu": nn.ReLU, "elu": nn.ELU, "silu": nn.SiLU}


def mlp(sizes: list[int], activation: str = "relu") -> nn.Sequential:
    """Linear layers of the given widths with the activation between them (none after the last).

    Their parameters are named ``0.weight``, ``2.weight``... (the activations take the odd places):
    the model files' keys, which vae/assignment/inference.py reads back without torch.
    """
    layers: list[nn.Module] = []
    for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        if index:
            layers.append(ACTIVATIONS[activation]())
        layers.append(nn.Linear(width_in, width_out))
    return nn.Sequential(*layers)


class LatentModel(nn.Module):
    """An autoencoder's forward pass, given its ``encode(images) -> (mu, logvar or None)`` and ``decode(latent)``.

    A VAE samples its latent by reparameterisation while training and decodes its mean otherwise; a
    plain AE (logvar None) always decodes its code.
    """

    def sample(self, mu: torch.Tensor, logvar: torch.Tensor | None) -> torch.Tensor:
        """A reparameterised draw from the posterior while training; the mean otherwise (and always for an AE)."""
        if logvar is None or not self.training:
            return mu
        return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)

    def forward(self, images: torch.Tensor):
        """Pixel logits of the decoded latent, mu (B, D), logvar (B, D) or None, and the decoded latent (B, D)."""
        mu, logvar = self.encode(images)
        latent = self.sample(mu, logvar)
        return self.decode(latent), mu, logvar, latent


def load_weights(network: nn.Module, state: dict, path: str) -> nn.Module:
    """``network`` with a model file's weights (numpy arrays, as vae.core.checkpoint reads them); one InputError
    naming the file when they hold NaN or do not fit it."""
    if not all(np.all(np.isfinite(value)) for value in state.values()):
        raise InputError(f"{path}: its weights contain NaN or infinite values")
    try:
        network.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    except (RuntimeError, TypeError) as error:
        raise InputError(f"{path}: its weights do not match its architecture ({first_line(error)})") from None
    return network
