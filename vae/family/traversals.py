"""Latent traversals, the β-VAE papers' picture: each latent dimension swept over ±3σ from a few seed images (the
other dimensions held at the seed's), decoded; rows sorted by how much the dimension carries (a VAE's KL from the
prior, an AE's variance), each named by the factor it shares the most information with when factors are known."""

from dataclasses import dataclass

import numpy as np
import torch

from vae.core.data import ImageSet
from vae.family.inference import batch_size, decode_draws

STEPS = 9  # values from −3σ to +3σ
SEEDS = 3
SHOWN_DIMENSIONS = 10
MEASURED_IMAGES = 5000  # the latent statistics are taken over the first images at most


@dataclass
class Traversal:
    images: np.ndarray  # (rows, SEEDS · STEPS, C·S·S) decoded, a row per dimension, the seeds side by side
    dimensions: np.ndarray  # (rows,) the latent dimension of each row
    carried: np.ndarray  # (rows,) what it carries: its KL (nats, a VAE) or variance (an AE)
    measure: str  # "KL" or "variance"
    factors: list[str] | None  # (rows,) the factor each row's dimension captures best, when known


@torch.no_grad()
def latent_statistics(model, image_set: ImageSet) -> tuple[np.ndarray, np.ndarray]:
    """(means (N, D), carried (D,)) over at most MEASURED_IMAGES images spread evenly over the set (a set in the
    order of its factors has only its first factor's first value at its start): a VAE's mean KL(q(z_d|x) ‖ N(0, 1))
    per dimension, an AE's variance of its code."""
    shown = image_set.subset(np.linspace(0, len(image_set) - 1, min(len(image_set), MEASURED_IMAGES)).astype(int))
    dimension = model.config.latent_dim

    def encoded(batch):
        mu, logvar = model.encode(torch.from_numpy(batch).view(-1, *shown.tensor_shape()))
        return torch.cat([mu, torch.zeros_like(mu) if logvar is None else logvar], dim=1).numpy()

    both = shown.map_batches(encoded, 2 * dimension, batch_size(shown))
    means, logvars = both[:, :dimension], both[:, dimension:]
    if not model.variational:
        return means, means.var(axis=0)
    return means, (0.5 * (means ** 2 + np.exp(logvars) - logvars - 1)).mean(axis=0)


def traverse(model, image_set: ImageSet, best_factors: list[str] | None = None) -> Traversal:
    """The traversal of the SHOWN_DIMENSIONS dimensions that carry the most, from SEEDS images spread over the set.
    ``best_factors`` (D,): the factor each dimension captures best, to name the rows."""
    means, carried = latent_statistics(model, image_set)
    order = np.argsort(-carried, kind="stable")[:SHOWN_DIMENSIONS]
    spread = means.std(axis=0)
    offsets = np.linspace(-3, 3, STEPS, dtype=np.float32)
    rows = []
    seeds = means[np.linspace(0, len(means) - 1, min(SEEDS, len(means))).astype(int)]
    for dimension in order:
        points = np.repeat(seeds, STEPS, axis=0)  # (seeds · steps, D)
        points[:, dimension] += np.tile(offsets * spread[dimension], len(seeds))
        rows.append(decode_draws(model, points.astype(np.float32)))
    return Traversal(np.stack(rows), order, carried[order], "KL" if model.variational else "variance",
                     None if best_factors is None else [best_factors[dimension] for dimension in order])
