"""A fitted model of the family read back from MODEL.pth, and its batched passes over an image set.

Every pass over a set reads its images a batch at a time (ImageSet.batches), so memory stays bounded for
large sets: :func:`encode_set` gathers the latent means, :func:`passes` yields means and decodings.
"""

import math

import numpy as np
import torch

from vae.core import checkpoint
from vae.core.data import ImageSet, Reading, in_layout, load_image_set, scaled_batch
from vae.core.errors import InputError, first_line
from vae.family.config import OLDER_MODELS, AutoencoderConfig
from vae.family.models import Autoencoder

BATCH = 1024  # 28×28 images per inference pass; larger images fewer at a time (batch_size)


def batch_size(image_set: ImageSet) -> int:
    """Images per inference pass over the set: BATCH digits' worth of values."""
    return scaled_batch(BATCH, image_set.pixels.shape[1])


def load_autoencoder(path: str) -> tuple[Autoencoder, dict]:
    """MODEL.pth from ``fit`` as a network in eval mode on the CPU, and its record; read safely
    (vae.core.checkpoint)."""
    raw, state, record = checkpoint.read_checkpoint(path, checkpoint.FAMILY_FORMAT, "family model")
    try:
        model = Autoencoder(checkpoint.config_from_dict(AutoencoderConfig, raw, OLDER_MODELS))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise InputError(f"{path}: damaged model configuration ({first_line(error)})") from None
    if not all(np.all(np.isfinite(value)) for value in state.values()):
        raise InputError(f"{path}: its weights contain NaN or infinite values")
    try:
        model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    except (RuntimeError, TypeError) as error:
        raise InputError(f"{path}: its weights do not match its architecture ({first_line(error)})") from None
    return model.eval(), record


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


def decoded_batches(model: Autoencoder, image_set: ImageSet):
    """Every image through the network (latent mean, decoded), as (B, C·H·W) float32 batches in [0, 1]."""
    for _, logits in passes(model, image_set):
        yield torch.sigmoid(logits).flatten(1).numpy()


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
