"""A fitted model of the family read back from MODEL.pth, and its batched passes over an image set.

Every pass over a set reads its images a batch at a time (ImageSet.batches), so memory stays bounded for
large sets: :func:`encode_set` gathers the latent means, :func:`passes` yields means and decodings.
"""

import math

import numpy as np
import torch

from vae.core import checkpoint
from vae.core.data import PASS_BATCH, ImageSet, Reading, in_batches, in_layout, load_image_set, scaled_batch
from vae.core.errors import InputError
from vae.family.config import OLDER_MODELS, AutoencoderConfig
from vae.family.models import Autoencoder
from vae.nn.layers import load_weights


def batch_size(image_set: ImageSet) -> int:
    """Images per inference pass over the set: PASS_BATCH digits' worth of values."""
    return scaled_batch(PASS_BATCH, image_set.pixels.shape[1])


def load_autoencoder(path: str) -> tuple[Autoencoder, dict]:
    """MODEL.pth from ``fit`` as a network in eval mode on the CPU, and its record; read safely
    (vae.core.checkpoint)."""
    model, state, record = checkpoint.read_model(path, checkpoint.FAMILY_FORMAT, "family model", AutoencoderConfig,
                                                 Autoencoder, OLDER_MODELS)
    return load_weights(model, state, path).eval(), record


def save_autoencoder(path: str, model: Autoencoder, record: dict) -> None:
    """Write MODEL.pth: the network's configuration, its weights and the record of its training."""
    checkpoint.save_model(path, model.config, model.state_dict(), checkpoint.plain(record),
                          mark=checkpoint.FAMILY_FORMAT)


def load_images_for(model: Autoencoder, path: str, model_path: str, labels: str = "ignored",
                    skip_unreadable: bool = False, outputs=None) -> ImageSet:
    """An image set for a fitted model, at its side and channels: a folder's images are read so (resized, grey
    or RGB as the model's); arrays must have them already."""
    config = model.config
    reading = Reading(config.image_size, config.channels, skip_unreadable)
    image_set = load_image_set(path, labels=labels, rgb=True, reading=reading, quiet=outputs is None or outputs.quiet,
                               say=outputs and outputs.say)
    if image_set.channels != config.channels:
        raise InputError(f"{path}: has {image_set.channels}-channel images but {model_path} was fitted on "
                         f"{config.channels}-channel images")
    if image_set.side != config.image_size:
        raise InputError(f"{path}: has {image_set.side}×{image_set.side} images but {model_path} was fitted on "
                         f"{config.image_size}×{config.image_size} (a folder of image files is resized to fit)")
    return image_set


def _means(model: Autoencoder, image_set: ImageSet, batch: np.ndarray) -> torch.Tensor:
    """Latent means (B, D) of a (B, C·H·W) batch of the set."""
    return model.encode(torch.from_numpy(batch).view(-1, *image_set.tensor_shape()))[0]


@torch.no_grad()
def encode_set(model: Autoencoder, image_set: ImageSet) -> np.ndarray:
    """Latent means of every image; (N, latent_dim) float32."""
    return image_set.map_batches(lambda batch: _means(model, image_set, batch).numpy(), model.config.latent_dim,
                                 batch_size(image_set))


@torch.no_grad()
def passes(model: Autoencoder, image_set: ImageSet):
    """(latent means (B, D), pixel logits (B, C, H, W)) of consecutive batches of the set, as tensors."""
    for batch in image_set.batches(batch_size(image_set)):
        mu = _means(model, image_set, batch)
        yield mu, model.decode(mu)


def decoded(model: Autoencoder, latent: torch.Tensor) -> np.ndarray:
    """(B, C·H·W) float32 images in [0, 1] decoded from (B, D) latent points."""
    return torch.sigmoid(model.decode(latent)).flatten(1).numpy()


@torch.no_grad()
def decode_draws(model: Autoencoder, latent: np.ndarray) -> np.ndarray:
    """Images (N, C·S·S) float32 in [0, 1] decoded from (N, D) latent points, a pass's worth at a time."""
    values = model.config.channels * model.config.image_size ** 2
    return in_batches(lambda points: decoded(model, torch.from_numpy(points)), latent, scaled_batch(PASS_BATCH, values))


@torch.no_grad()
def decoded_batches(model: Autoencoder, image_set: ImageSet):
    """Every image through the network (latent mean, decoded), as (B, C·H·W) float32 batches in [0, 1]."""
    for batch in image_set.batches(batch_size(image_set)):
        yield decoded(model, _means(model, image_set, batch))


def decode_set(model: Autoencoder, image_set: ImageSet) -> np.ndarray:
    """Every image through the network, at once; (N, C·H·W) float32 in [0, 1]."""
    return np.concatenate(list(decoded_batches(model, image_set)))


def decoded_pairs(truth: ImageSet, decoded):
    """(truth batch, decoded batch) pairs of (B, C, H, W) images for vae.core.metrics; ``decoded``: (B, C·H·W)
    batches of ``batch_size(truth)`` images in truth's order."""
    shape = (-1, *truth.tensor_shape())
    return ((batch.reshape(shape), output.reshape(shape))
            for batch, output in zip(truth.batches(batch_size(truth)), decoded))


def for_display(images: np.ndarray, channels: int) -> np.ndarray:
    """(N, C·S·S) images as matplotlib and PNG files show them: (N, S, S) grey or (N, S, S, 3) RGB."""
    side = math.isqrt(images.shape[1] // channels)
    return in_layout(images, (side, side) if channels == 1 else (side, side, channels))


def trained_as(model: Autoencoder, record: dict) -> str:
    """"VAE, latent 10, loss elbo, β 4": what a model file holds, for every report that reads one."""
    fit = record.get("fit", {})
    words = [model.config.model.upper(), f"latent {model.config.latent_dim}", f"loss {fit.get('loss', 'ssim')}"]
    if model.variational:
        words.append(f"β {fit.get('beta', 1.0):g}")
    return ", ".join(words)
