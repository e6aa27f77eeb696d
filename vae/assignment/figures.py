"""The course's figures: originals above reconstructions, the 2-D manifold, the latent scatter and the
mixture's ellipses (drawn by ``train`` and ``plot``)."""

from statistics import NormalDist

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse

from vae.assignment.inference import Network
from vae.assignment.search import reconstructed_images
from vae.core import plots
from vae.core.data import ImageSet
from vae.core.gmm import MixtureClassifier
from vae.core.plots import COLOURS

GRID = 20  # the manifold is GRID × GRID decoded images


def draw_plots(network: Network, classifier: MixtureClassifier, train_latent, val_set: ImageSet, val_latent,
               plots_dir: str) -> list[str]:
    """Every figure of the assignment into ``plots_dir``; the paths written."""
    side = network.config.input_side
    predicted = classifier.predict(train_latent)
    mixture = classifier.mixture
    figures = {
        "reconstructions.png": plots.reconstructions(
            val_set.images().reshape(-1, side, side), reconstructed_images(network, val_set), val_set.labels
        ),
        "latent_scatter.png": latent_scatter(train_latent, predicted, classifier.classes, val_latent, val_set.labels),
        "gmm_ellipses.png": mixture_ellipses(
            train_latent, predicted, classifier.classes, mixture.weights, mixture.means, mixture.covariances,
            classifier.component_labels, val_latent, val_set.labels,
        ),
    }
    if network.config.latent_dim == 2:
        decoded = network.decode(manifold_grid(train_latent)).reshape(-1, side, side)
        figures["manifold.png"] = manifold(decoded)
    return plots.save_all(figures, plots_dir)


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


def latent_scatter(latent: np.ndarray, predicted: np.ndarray, classes: np.ndarray, val_latent=None,
                   val_labels=None) -> Figure:
    """Training latent means coloured by the mixture's predicted class, validation images as crosses."""
    figure = Figure(figsize=(7, 7))
    axis = figure.subplots()
    _scatter(axis, latent, predicted, classes, val_latent, val_labels)
    axis.set_title("training set latent means (colour: predicted class)")
    return figure


def mixture_ellipses(latent, predicted, classes, weights, means, covariances, component_labels, val_latent=None,
                     val_labels=None) -> Figure:
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
            axis.add_patch(Ellipse(mean, width, height, angle=angle, fill=False, edgecolor=colour, linestyle=style,
                                   linewidth=2))
        axis.plot(*mean, marker="o", markersize=8, color=colour, markeredgecolor="black")
        axis.annotate(f"{label} (w={weight:.2f})", mean, textcoords="offset points", xytext=(12, 12), fontsize=9,
                      bbox={"boxstyle": "round", "facecolor": "white", "alpha": 0.8, "edgecolor": colour})
    axis.set_title("Gaussian mixture: 1σ (solid) and 2σ (dashed) ellipses")
    return figure


def _scatter(axis, latent, predicted, classes, val_latent, val_labels, alpha=0.3):
    for index, label in enumerate(classes):
        members = latent[predicted == label]
        axis.scatter(members[:, 0], members[:, 1], s=2, alpha=alpha, color=COLOURS[index % len(COLOURS)],
                     label=f"{label}")
    if val_latent is not None:
        for index, label in enumerate(classes):
            members = val_latent[val_labels == label]
            axis.scatter(members[:, 0], members[:, 1], s=60, marker="X", color=COLOURS[index % len(COLOURS)],
                         edgecolors="black")
    axis.set_xlabel("z1")
    axis.set_ylabel("z2")
    axis.legend(title="class", markerscale=4, loc="best")
    axis.set_aspect("equal", adjustable="datalim")


