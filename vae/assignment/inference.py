"""A trained VAE read from vae.pth, and its deterministic passes (image -> latent mean, latent -> image) in numpy.

The test commands use this instead of the torch model: importing torch alone takes about 1.5 s on
a 2-core machine, longer than the whole classification of thousands of images. It reads the same
weights (``encoder.{i}.weight`` ... as named by :class:`vae.assignment.model.VAE`); tests check that
both give the same numbers.
"""

from dataclasses import dataclass

import numpy as np

from vae.assignment.config import ModelConfig
from vae.core import checkpoint
from vae.core.data import ImageSet
from vae.core.errors import InputError


def _relu(values: np.ndarray) -> np.ndarray:
    return np.maximum(values, 0, out=values)


def _elu(values: np.ndarray) -> np.ndarray:
    return np.where(values > 0, values, np.expm1(np.minimum(values, 0)))


def _silu(values: np.ndarray) -> np.ndarray:
    return values * _sigmoid(values)


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(0.5 * values))  # the logistic function, without exp overflow


ACTIVATIONS = {"relu": _relu, "elu": _elu, "silu": _silu}
BATCH = 4096  # images per pass: bounded memory for any N, large enough for fast matrix products


@dataclass
class Network:
    config: ModelConfig
    encoder: list[tuple[np.ndarray, np.ndarray]]  # per layer: weight as (in, out), bias (out,); float32
    decoder: list[tuple[np.ndarray, np.ndarray]]

    @classmethod
    def from_state(cls, config: ModelConfig, state: dict[str, np.ndarray]) -> "Network":
        """Take the weights named as torch names them; ValueError if they do not fit the configuration."""
        if config.activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {config.activation!r}")
        encoder_sizes, decoder_sizes = config.layer_sizes()
        expected = {}
        for prefix, sizes in (("encoder", encoder_sizes), ("decoder", decoder_sizes)):
            for index, (width_in, width_out) in enumerate(zip(sizes[:-1], sizes[1:])):
                layer = f"{prefix}.{2 * index}"  # torch's Sequential numbers activations between the layers
                expected[f"{layer}.weight"] = (width_out, width_in)
                expected[f"{layer}.bias"] = (width_out,)
        if set(state) != set(expected):
            raise ValueError("its weights do not match its architecture (different layer names)")
        for name, shape in expected.items():
            if tuple(state[name].shape) != shape:
                raise ValueError(f"its weights do not match its architecture ({name} is {state[name].shape}, expected "
                                 f"{shape})")
            if not np.all(np.isfinite(state[name])):
                raise ValueError(f"its weights contain NaN or infinite values ({name})")

        def layers(prefix: str, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
            return [
                (
                    np.ascontiguousarray(state[f"{prefix}.{2 * index}.weight"].T, dtype=np.float32),
                    state[f"{prefix}.{2 * index}.bias"].astype(np.float32),
                )
                for index in range(count)
            ]

        return cls(config, layers("encoder", len(encoder_sizes) - 1), layers("decoder", len(decoder_sizes) - 1))

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Posterior means of (B, 784) float32 images in [0, 1]; shape (B, latent_dim)."""
        return self._forward(images, self.encoder)[:, : self.config.latent_dim]

    def decode(self, latent: np.ndarray) -> np.ndarray:
        """Images decoded from (B, latent_dim) points; shape (B, 784), float32 in [0, 1]."""
        return _sigmoid(self._forward(latent.astype(np.float32), self.decoder))

    def encode_set(self, image_set: ImageSet) -> np.ndarray:
        """Latent means of every image in the set, in batches; shape (N, latent_dim), float64."""
        return image_set.map_batches(self.encode, self.config.latent_dim, BATCH, np.float64)

    def _forward(self, values: np.ndarray, layers) -> np.ndarray:
        activate = ACTIVATIONS[self.config.activation]
        for index, (weight, bias) in enumerate(layers):
            if index:
                values = activate(values)
            values = values @ weight + bias
        return values


def load_model(path: str) -> tuple[ModelConfig, dict[str, np.ndarray], dict]:
    """Read vae.pth safely (vae.core.checkpoint): its configuration, its weights as numpy arrays, its record."""
    return checkpoint.read_model(path, checkpoint.MODEL_FORMAT, "vae checkpoint", ModelConfig,
                                 older={"decoder_hidden": None})  # None: the encoder's widths mirrored


def load_network(model_path: str) -> Network:
    """vae.pth as a numpy :class:`Network`; InputError when its weights do not fit its configuration."""
    config, state, _record = load_model(model_path)
    try:
        return Network.from_state(config, state)
    except ValueError as error:
        raise InputError(f"{model_path}: {error}") from None
