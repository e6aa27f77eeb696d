"""Conv encoder (stride-2 convolutions) and decoder (stride-2 transposed convolutions), mirrored.

Each stride-2 layer (kernel 4, padding 1) halves the side: 28 -> 14 -> 7 (-> 3); the decoder's
transposed convolutions double it back, with an output padding of 1 where halving rounded down.
A dense layer sits between the last feature map and the latent on both sides: without it the
latent is one linear map from thousands of features, which reconstructed worse. Batch normalisation
after each convolution (but the decoder's last) lets a higher learning rate train faster: in 8
epochs, SSIM 0.850 with it against 0.838 without (docs/family.md).
"""

import torch.nn as nn

KERNEL, STRIDE, PADDING = 4, 2, 1


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


class ConvDecoder(nn.Module):
    """(B, latent_dim) -> (B, C, side, side) pixel logits: the encoder in reverse."""

    def __init__(self, channels: int, side: int, conv_channels: tuple[int, ...], hidden: int, latent_dim: int):
        super().__init__()
        sides = feature_sides(side, len(conv_channels))
        widths = (channels, *conv_channels)
        layers: list[nn.Module] = [
            nn.Linear(latent_dim, hidden), nn.ReLU(),
            nn.Linear(hidden, widths[-1] * sides[-1] ** 2), nn.ReLU(),
            nn.Unflatten(1, (widths[-1], sides[-1], sides[-1])),
        ]
        for level in range(len(conv_channels), 0, -1):
            extra = sides[level - 1] - 2 * sides[level]  # 1 where the encoder's halving rounded down
            layers.append(nn.ConvTranspose2d(widths[level], widths[level - 1], KERNEL, STRIDE, PADDING,
                                             output_padding=extra))
            if level > 1:
                layers += [nn.BatchNorm2d(widths[level - 1]), nn.ReLU()]
        self.body = nn.Sequential(*layers)

    def forward(self, latent):
        return self.body(latent)
