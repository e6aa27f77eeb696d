"""The family's networks: an autoencoder, plain or variational, over an MLP or a conv body, with an
optional classifier head on its latent. Built from :class:`vae.family.config.AutoencoderConfig`; they know
nothing of files."""

from vae.family.models.autoencoder import Autoencoder

__all__ = ["Autoencoder"]
