"""One autoencoder for the whole family: plain (AE) or variational (VAE), MLP or conv, sparse or not,
with or without a classifier head on the latent mean.

    images (B, C, S, S) -> encoder -> mu (and logvar for a VAE) -> latent -> decoder -> pixel logits
                                         mu -> head -> class logits

A VAE samples its latent by reparameterisation while training and decodes its mean otherwise; an
AE's latent is its code (a sigmoid of it when sparse, so that each unit's mean activation is a
probability the sparsity penalty can hold near a target).
"""

import torch

from vae.family.choices import choose_network
from vae.family.config import AutoencoderConfig
from vae.family.models.conv import ConvDecoder, ConvEncoder
from vae.family.models.heads import ClassifierHead
from vae.family.models.mlp import MLPDecoder, MLPEncoder
from vae.nn.layers import LatentModel

ARCHITECTURES = ("mlp", "conv")
MODELS = ("vae", "ae")


class Autoencoder(LatentModel):
    def __init__(self, config: AutoencoderConfig):
        super().__init__()
        config, _ = choose_network(config, config.image_size, config.channels, bool(config.head_classes))
        if config.arch not in ARCHITECTURES or config.model not in MODELS:
            raise ValueError(f"unknown network {config.model}/{config.arch}")
        self.config = config
        side, conv_channels = config.image_size, config.conv_channels
        out = 2 * config.latent_dim if config.model == "vae" else config.latent_dim
        if config.arch == "mlp":
            input_dim = config.channels * side * side
            self.encoder = MLPEncoder(input_dim, config.latent_dim, config.layers, out)
            self.decoder = MLPDecoder(input_dim, config.latent_dim, config.layers, (config.channels, side, side))
        else:
            self.encoder = ConvEncoder(config.channels, side, conv_channels, config.conv_hidden, out)
            self.decoder = ConvDecoder(config.channels, side, conv_channels, config.conv_hidden, config.latent_dim,
                                       config.decoder)
        self.head = ClassifierHead(config.latent_dim, config.head_hidden,
                                   len(config.head_classes)) if config.head_classes else None

    @property
    def variational(self) -> bool:
        return self.config.model == "vae"

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, C, H, W) images in [0, 1] -> the latent mean (B, D) (the code, for an AE), and a VAE's
        log-variance (B, D) or None."""
        features = self.encoder(images)
        if self.variational:
            mu, logvar = features.chunk(2, dim=1)
            return mu, logvar
        return (torch.sigmoid(features) if self.config.sparse else features), None

    def decode(self, latent: torch.Tensor) -> torch.Tensor:
        """(B, D) latent points -> (B, C, H, W) pixel logits; sigmoid gives the image."""
        return self.decoder(latent)

    def classify(self, mu: torch.Tensor) -> torch.Tensor:
        """Class logits (B, classes) of latent means, in the order of ``config.head_classes``."""
        return self.head(mu)
