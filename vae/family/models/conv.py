"""Conv encoder (stride-2 convolutions) and decoder (stride-2 transposed convolutions), mirrored.

Each stride-2 layer (kernel 4, padding 1) halves the side: 28 -> 14 -> 7 (-> 3); the decoder's
transposed convolutions double it back, with an output padding of 1 where halving rounded down.
A dense layer sits between the last feature map and the latent on both sides: without it the
latent is one linear map from thousands of features, which reconstructed worse. Batch normalisation
after each convolution (but the decoder's last) lets a higher learning rate train faster: in 8
epochs, SSIM 0.850 with it against 0.838 without (docs/family.md).

The decoder starts in one of two ways (``AutoencoderConfig.decoder``):

    dense       latent -> dense -> dense -> the last feature map, then every transposed convolution
    broadcast   the latent copied to every cell of a map a quarter of the side wide (two stride-2 levels below
                the output: 7×7 at 28, 16×16 at 64; half the side with one level), beside two channels holding
                each cell's (row, column) in [-1, 1], then two 3×3 convolutions, then the last two transposed
                convolutions (a spatial broadcast decoder, Watters et al. 2019, started at a coarser map)

A dense start must learn where things are from scratch; a broadcast one can place a shape by comparing a latent
value with a coordinate, which is what lets a β-VAE give position a latent dimension of its own (docs/family.md).
"""

import torch
import torch.nn as nn

KERNEL, STRIDE, PADDING = 4, 2, 1
# the broadcast's map: a quarter of the side. One level up (8×8 at 64) gave MIG 0.26 on the generated shapes
# against 0.58; one level down (14×14 at 28) an ELBO of 119.7 nats on MNIST against 102.5 (docs/family.md)
BROADCAST_LEVEL = 2


def feature_sides(side: int, levels: int) -> list[int]:
    """The feature maps' sides after each stride-2 layer, input first: 28, 2 -> [28, 14, 7]."""
    sides = [side]
    for _ in range(levels):
        sides.append(sides[-1] // 2)
    return sides


class ConvEncoder(nn.Module):
    """(B, C, side, side) images -> (B, out) features."""

    def __init__(self, channels: int, side: int, conv_channels: tuple[int, ...], hidden: int, out: int):
        super().__init__()
        last_side = feature_sides(side, len(conv_channels))[-1]
        layers: list[nn.Module] = []
        for width_in, width_out in zip((channels, *conv_channels), conv_channels):
            layers += [nn.Conv2d(width_in, width_out, KERNEL, STRIDE, PADDING), nn.BatchNorm2d(width_out), nn.ReLU()]
        layers += [nn.Flatten(), nn.Linear(conv_channels[-1] * last_side**2, hidden), nn.ReLU(), nn.Linear(hidden, out)]
        self.body = nn.Sequential(*layers)

    def forward(self, images):
        return self.body(images)


class Broadcast(nn.Module):
    """(B, D) latent points -> (B, D + 2, side, side): each point copied to every cell, then the cells' row and
    column coordinates, from -1 to 1."""

    def __init__(self, side: int):
        super().__init__()
        axis = torch.linspace(-1, 1, side)
        # not saved in MODEL.pth: the side rebuilds it
        self.register_buffer("coordinates", torch.stack(torch.meshgrid(axis, axis, indexing="ij"))[None],
                             persistent=False)

    def forward(self, latent):
        count, size = latent.shape
        side = self.coordinates.shape[-1]
        tiled = latent[:, :, None, None].expand(count, size, side, side)
        return torch.cat([tiled, self.coordinates.expand(count, -1, -1, -1)], dim=1)


class ConvDecoder(nn.Module):
    """(B, latent_dim) -> (B, C, side, side) pixel logits: the encoder in reverse, from a dense or a broadcast
    start (the module docstring)."""

    def __init__(self, channels: int, side: int, conv_channels: tuple[int, ...], hidden: int, latent_dim: int,
                 start: str = "dense"):
        super().__init__()
        sides = feature_sides(side, len(conv_channels))
        widths = (channels, *conv_channels)
        if start == "broadcast":
            top = min(BROADCAST_LEVEL, len(conv_channels))
            layers: list[nn.Module] = [
                Broadcast(sides[top]),
                nn.Conv2d(latent_dim + 2, widths[top], 3, padding=1), nn.ReLU(),
                nn.Conv2d(widths[top], widths[top], 3, padding=1), nn.ReLU(),
            ]
        else:
            top = len(conv_channels)
            layers = [
                nn.Linear(latent_dim, hidden), nn.ReLU(),
                nn.Linear(hidden, widths[-1] * sides[-1] ** 2), nn.ReLU(),
                nn.Unflatten(1, (widths[-1], sides[-1], sides[-1])),
            ]
        for level in range(top, 0, -1):
            extra = sides[level - 1] - 2 * sides[level]  # 1 where the encoder's halving rounded down
            layers.append(nn.ConvTranspose2d(widths[level], widths[level - 1], KERNEL, STRIDE, PADDING,
                                             output_padding=extra))
            if level > 1:
                layers += [nn.BatchNorm2d(widths[level - 1]), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, latent):
        return self.body(latent)
