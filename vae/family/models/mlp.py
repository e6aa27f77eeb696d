"""MLP encoder and decoder whose widths follow a rule: from the input down to the latent in equal steps.

    D_i = D_x - round((D_x - D_z) * i / n),  i = 0..n      (--layers n)

For D_x = 784, D_z = 2, n = 3: 784, 523, 263, 2. The decoder mirrors the encoder (2, 263, 523, 784).
(The rule is often written with a floor, but 784, 523, 263, 2 is what it is meant to give: a floor
gives 524 for i = 1. Rounding gives the stated widths, in exact integer arithmetic.)
"""

import torch.nn as nn

from vae.nn.layers import mlp


def rule_widths(input_dim: int, latent_dim: int, layers: int) -> list[int]:
    """[D_0 = input_dim, ..., D_n = latent_dim]: widths falling in equal steps, rounded half up."""
    drop = input_dim - latent_dim
    return [input_dim - (2 * drop * i + layers) // (2 * layers) for i in range(layers + 1)]


class MLPEncoder(nn.Module):
    """(B, C, S, S) images -> (B, out) features: the rule's widths, flattened input."""

    def __init__(self, input_dim: int, latent_dim: int, layers: int, out: int):
        super().__init__()
        self.body = mlp(rule_widths(input_dim, latent_dim,
                                    layers)[:-1] + [out])  # a VAE's last layer: mean and log-variance

    def forward(self, images):
        return self.body(images.flatten(1))


class MLPDecoder(nn.Module):
    """(B, latent_dim) -> (B, C, S, S) pixel logits: the encoder's widths in reverse."""

    def __init__(self, input_dim: int, latent_dim: int, layers: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.body = mlp(rule_widths(input_dim, latent_dim, layers)[::-1])
        self.image_shape = image_shape

    def forward(self, latent):
        return self.body(latent).view(-1, *self.image_shape)
