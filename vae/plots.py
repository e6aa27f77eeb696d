"""The course's figures, drawn headless with matplotlib's object API (no pyplot, no display).

Each function takes arrays and returns a Figure; :func:`save` writes it as a PNG through the
atomic writer.
"""

from statistics import NormalDist

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from vae.checkpoint import atomic_write

GRID = 20  # the manifold is GRID × GRID decoded images
COLOURS = ["tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]


def save(figure: Figure, path: str) -> None:
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=100, bbox_inches="tight"))


def reconstructions(originals: np.ndarray, reconstructed: np.ndarray, labels: np.ndarray | None = None, limit: int = 20) -> Figure:
    """Originals (top row) above their reconstructions (bottom row); images (N, 28, 28)."""
    count = min(len(originals), limit)
    figure = Figure(figsize=(count * 0.9 + 0.6, 2.2))
    axes = figure.subplots(2, count, squeeze=False)
    for column in range(count):
        for row, images in enumerate((originals, reconstructed)):
            axis = axes[row, column]
            axis.imshow(images[column], cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
        if labels is not None:
            axes[0, column].set_title(str(labels[column]), fontsize=8)
    axes[0, 0].set_ylabel("original", fontsize=8)
    axes[1, 0].set_ylabel("decoded", fontsize=8)
    return figure


def manifold_grid(latent: np.ndarray, grid: int = GRID) -> np.ndarray:
    """The (grid², 2) latent points of the manifold plot, rows from top to bottom.

    Each axis takes the normal quantiles 0.05..0.95 of a normal fitted to that axis of the
    training latents, which is the course's N(0, 1) grid when the latent follows the standard prior.
    """
    quantiles = np.array([NormalDist().inv_cdf(q) for q in np.linspace(0.05, 0.95, grid)])
    centre, spread = latent[:, :2].mean(axis=0), latent[:, :2].std(axis=0)
    xs = centre[0] + spread[0] * quantiles
    ys = centre[1] + spread[1] * quantiles[::-1]
    return np.array([(x, y) for y in ys for x in xs])


def manifold(decoded: np.ndarray, grid: int = GRID) -> Figure:
    """Decoded images of :func:`manifold_grid`'s points, (grid², 28, 28), tiled as one picture."""
    side = decoded.shape[-1]
    tiles = decoded.reshape(grid, grid, side, side).transpose(0, 2, 1, 3).reshape(grid * side, grid * side)
    figure = Figure(figsize=(8, 8))
    axis = figure.subplots()
    axis.imshow(tiles, cmap="gray", vmin=0, vmax=1)
    axis.set_axis_off()
    axis.set_title("2-D latent manifold (normal quantiles 0.05..0.95 of the latent's spread)")
    return figure


def latent_scatter(latent: np.ndarray, predicted: np.ndarray, classes: np.ndarray, val_latent=None, val_labels=None) -> Figure:
    """Training latent means coloured by the mixture's predicted class, validation images as crosses."""
    figure = Figure(figsize=(7, 7))
    axis = figure.subplots()
    _scatter(axis, latent, predicted, classes, val_latent, val_labels)
    axis.set_title("training set latent means (colour: predicted class)")
    return figure


def mixture_ellipses(latent, predicted, classes, weights, means, covariances, component_labels, val_latent=None, val_labels=None) -> Figure:
    """The mixture's components as 1σ and 2σ ellipses with their means, over the latent scatter."""
    figure = Figure(figsize=(7, 7))
    axis = figure.subplots()
    _scatter(axis, latent, predicted, classes, val_latent, val_labels, alpha=0.15)
    for weight, mean, covariance, label in zip(weights, means[:, :2], covariances[:, :2, :2], component_labels):
        colour = COLOURS[int(np.searchsorted(classes, label)) % len(COLOURS)]
        variances, vectors = np.linalg.eigh(covariance)
        angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1]))
        for sigmas, style in ((1, "-"), (2, "--")):
            width, height = 2 * sigmas * np.sqrt(variances[::-1])
            axis.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, edgecolor=colour, linestyle=style, linewidth=2))
        axis.plot(*mean, marker="o", markersize=8, color=colour, markeredgecolor="black")
        axis.annotate(f"{label} (w={weight:.2f})", mean, textcoords="offset points", xytext=(6, 6), fontsize=9)
    axis.set_title("Gaussian mixture: 1σ (solid) and 2σ (dashed) ellipses")
    return figure


def _scatter(axis, latent, predicted, classes, val_latent, val_labels, alpha=0.3):
    for index, label in enumerate(classes):
        members = latent[predicted == label]
        axis.scatter(members[:, 0], members[:, 1], s=2, alpha=alpha, color=COLOURS[index % len(COLOURS)], label=f"{label}")
    if val_latent is not None:
        for index, label in enumerate(classes):
            members = val_latent[val_labels == label]
            axis.scatter(members[:, 0], members[:, 1], s=60, marker="X", color=COLOURS[index % len(COLOURS)], edgecolors="black")
    axis.set_xlabel("z1")
    axis.set_ylabel("z2")
    axis.legend(title="class", markerscale=4, loc="best")
    axis.set_aspect("equal", adjustable="datalim")
