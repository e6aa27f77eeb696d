"""The course's figures, drawn headless with matplotlib's object API (no pyplot, no display).

Each function takes arrays and returns a Figure; :func:`save` writes it as a PNG through the
atomic writer.
"""

import os
from statistics import NormalDist

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from matplotlib.ticker import MaxNLocator

from vae.checkpoint import atomic_write

GRID = 20  # the manifold is GRID × GRID decoded images
COLOURS = ["tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]


def save(figure: Figure, path: str) -> None:
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=100, bbox_inches="tight"))


def save_all(figures: dict[str, Figure], folder: str) -> list[str]:
    """Each figure as FOLDER/NAME (the folder made if need be); the paths written."""
    os.makedirs(folder, exist_ok=True)
    paths = [os.path.join(folder, name) for name in figures]
    for path, figure in zip(paths, figures.values()):
        save(figure, path)
    return paths


def reconstructions(originals: np.ndarray, reconstructed: np.ndarray, labels: np.ndarray | None = None, limit: int = 20,
                    noisy: np.ndarray | None = None) -> Figure:
    """Originals (top row) above their reconstructions (bottom row); images (N, 28, 28) or RGB (N, 28, 28, 3).
    With ``noisy``, the noisy inputs of a denoising model in a middle row."""
    count = min(len(originals), limit)
    rows = [("original", originals)] + ([("noisy", noisy)] if noisy is not None else []) + [("decoded", reconstructed)]
    figure = Figure(figsize=(count * 0.9 + 0.6, 1.1 * len(rows)))
    axes = figure.subplots(len(rows), count, squeeze=False)
    for column in range(count):
        for row, (_, images) in enumerate(rows):
            axis = axes[row, column]
            axis.imshow(images[column], cmap="gray", vmin=0, vmax=1)
            axis.set_xticks([])
            axis.set_yticks([])
        if labels is not None:
            axes[0, column].set_title(str(labels[column]), fontsize=8)
    for row, (name, _) in enumerate(rows):
        axes[row, 0].set_ylabel(name, fontsize=8)
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


def image_grid(images: np.ndarray, title: str, columns: int = 10) -> Figure:
    """Images (N, 28, 28) or RGB (N, 28, 28, 3) tiled in rows of ``columns`` (blank tiles fill the last row)."""
    rows = -(-len(images) // columns)
    tiles = np.ones((rows * columns, *images.shape[1:]), dtype=np.float32)
    tiles[:len(images)] = images
    side = images.shape[1]
    picture = tiles.reshape(rows, columns, side, side, -1).transpose(0, 2, 1, 3, 4).reshape(rows * side, columns * side, -1)
    figure = Figure(figsize=(columns * 0.6 + 0.4, rows * 0.6 + 0.6))
    axis = figure.subplots()
    axis.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray", vmin=0, vmax=1)
    axis.set_axis_off()
    axis.set_title(title)
    return figure


def latent_projection(latent: np.ndarray, labels: np.ndarray | None = None) -> Figure:
    """Latent means (N, D) as a scatter: the two axes themselves when D = 2, else their first two principal components."""
    points, axes_names = latent[:, :2], ("z1", "z2")
    if latent.shape[1] > 2:
        centred = latent - latent.mean(axis=0)
        points = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
        axes_names = ("principal component 1", "principal component 2")
    figure = Figure(figsize=(7, 7))
    axis = figure.subplots()
    if labels is None:
        axis.scatter(points[:, 0], points[:, 1], s=2, alpha=0.3, color="tab:blue")
    else:
        for index, label in enumerate(np.unique(labels)):
            members = points[labels == label]
            axis.scatter(members[:, 0], members[:, 1], s=2, alpha=0.3, color=COLOURS[index % len(COLOURS)], label=f"{label}")
        axis.legend(title="label", markerscale=4, loc="best")
    axis.set_xlabel(axes_names[0])
    axis.set_ylabel(axes_names[1])
    axis.set_title(f"latent means of {len(latent)} training images ({latent.shape[1]}-D)")
    return figure


def loss_curves(history) -> Figure:
    """Each loss term's mean per epoch (vae.training.EpochStats), one panel per term."""
    terms = {"loss": [stats.loss for stats in history], "pixel BCE": [stats.pixel for stats in history]}
    if history[0].ssim is not None:
        terms["SSIM"] = [stats.ssim for stats in history]
    for name in history[0].extra:
        terms[name] = [stats.extra[name] for stats in history]
    epochs = np.arange(1, len(history) + 1)
    figure = Figure(figsize=(3.2 * len(terms), 3))
    for axis, (name, values) in zip(figure.subplots(1, len(terms), squeeze=False)[0], terms.items()):
        axis.plot(epochs, values, marker="o", markersize=3)
        axis.set_title(name)
        axis.set_xlabel("epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


def score_distributions(scores: np.ndarray, truth: np.ndarray | None, threshold: float, score: str) -> Figure:
    """Histograms of (N,) anomaly scores, normal and abnormal apart when ``truth`` (N,) 0/1 is known, and the threshold."""
    figure = Figure(figsize=(6, 3.5))
    axis = figure.subplots()
    bins = np.linspace(scores.min(), max(scores.max(), threshold), 60)
    groups = [("all images", scores, "tab:gray")] if truth is None else [
        ("normal", scores[truth == 0], "tab:blue"), ("anomalies", scores[truth == 1], "tab:red")]
    for name, values, colour in groups:
        axis.hist(values, bins=bins, alpha=0.55, color=colour, label=f"{name} ({len(values)})")
    axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
    axis.set_xlabel("reconstruction error (MSE)" if score == "mse" else "1 - SSIM")
    axis.set_ylabel("images")
    axis.legend()
    figure.tight_layout()
    return figure


def sweep_curves(curves: dict[str, np.ndarray]) -> Figure:
    """Each sweep cell's training loss per epoch (mean over folds), one line per cell."""
    figure = Figure(figsize=(7, 4))
    axis = figure.subplots()
    for name, losses in curves.items():
        axis.plot(np.arange(1, len(losses) + 1), losses, marker="o", markersize=3, label=name)
    axis.set_xlabel("epoch")
    axis.set_ylabel("training loss (mean over folds)")
    axis.set_yscale("log")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.legend(fontsize="small")
    figure.tight_layout()
    return figure


def metrics_against(knob: str, cells: list[dict], means: dict, metrics: list[str], name_of) -> Figure:
    """Each metric's mean ± std over folds against one swept knob, a line per setting of the other knobs."""
    values = sorted({cell[knob] for cell in cells if knob in cell}, key=str)
    figure = Figure(figsize=(3.2 * len(metrics), 3.2))
    for axis, metric in zip(figure.subplots(1, len(metrics), squeeze=False)[0], metrics):
        lines = {}
        for cell in (cell for cell in cells if knob in cell and metric in means[name_of(cell)]):
            rest = name_of({other: value for other, value in cell.items() if other != knob})
            lines.setdefault(rest, []).append((values.index(cell[knob]), *means[name_of(cell)][metric]))
        for rest, points in lines.items():
            x, mean, std = np.array(sorted(points)).T
            axis.errorbar(x, mean, yerr=std, marker="o", markersize=3, capsize=2, label=rest)
        axis.set_xticks(range(len(values)), [f"{value:g}" if isinstance(value, float) else str(value) for value in values])
        axis.set_xlabel(knob.replace("_", "-"))
        axis.set_title(metric)
    figure.axes[0].legend(fontsize="x-small")
    figure.tight_layout()
    return figure
