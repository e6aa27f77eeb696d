"""vae: a variational autoencoder with a 2-D latent and a Gaussian mixture classifier for small images."""

__version__ = "0.1.0"
