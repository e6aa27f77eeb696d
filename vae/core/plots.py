"""The figures both pipelines draw, headless with matplotlib's object API (no pyplot, no display).

Each function takes arrays and returns a Figure; :func:`save` writes it as a PNG through the
atomic writer. The pipelines' own figures are in vae/assignment/figures.py and vae/family/figures.py.
"""

import math
import os

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vae.core.io import atomic_write

COLOURS = ["tab:red", "tab:green", "tab:blue", "tab:orange", "tab:purple",
           "tab:brown", "tab:pink", "tab:olive", "tab:cyan", "tab:gray"]


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
                    noisy: np.ndarray | None = None, title: str | None = None) -> Figure:
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
    if title:
        figure.suptitle(title, fontsize=9)
    return figure


def image_grid(images: np.ndarray, title: str) -> Figure:
    """Images (N, H, H) or RGB (N, H, H, 3) tiled as one picture (see :func:`tiled`), titled."""
    picture = tiled(images)
    rows, columns = picture.shape[0] // images.shape[1], picture.shape[1] // images.shape[1]
    figure = Figure(figsize=(columns * 0.6 + 0.4, rows * 0.6 + 0.6))
    show_picture(figure.subplots(), picture, title)
    return figure


def tiled(images: np.ndarray) -> np.ndarray:
    """Images (N, H, H) or RGB (N, H, H, 3) tiled in a square as near as can be (64: 8 × 8, 30: 6 × 5), as one
    (rows·H, columns·H, C) picture; blank tiles, where N is not a product of the two, are black like the digits'
    ground."""
    columns = math.ceil(math.sqrt(len(images)))
    rows = -(-len(images) // columns)
    tiles = np.zeros((rows * columns, *images.shape[1:]), dtype=np.float32)
    tiles[:len(images)] = images
    side = images.shape[1]
    grid = tiles.reshape(rows, columns, side, side, -1).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * side, columns * side, -1)


def show_picture(axis, picture: np.ndarray, title: str, fontsize: float | None = None) -> None:
    """A (H, W, C) picture in [0, 1], grey or RGB, on an axis without ticks."""
    axis.imshow(picture[..., 0] if picture.shape[-1] == 1 else picture, cmap="gray", vmin=0, vmax=1)
    axis.set_axis_off()
    axis.set_title(title, fontsize=fontsize)


def latent_projection(latent: np.ndarray, labels: np.ndarray | None = None) -> Figure:
    """Latent means (N, D) as a scatter: the two axes themselves when D = 2, else their first two principal
    components."""
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
            axis.scatter(members[:, 0], members[:, 1], s=2, alpha=0.3, color=COLOURS[index % len(COLOURS)],
                         label=f"{label}")
        axis.legend(title="label", markerscale=4, loc="best")
    axis.set_xlabel(axes_names[0])
    axis.set_ylabel(axes_names[1])
    axis.set_title(f"latent means of {len(latent)} training images ({latent.shape[1]}-D)")
    return figure


def loss_curves(history) -> Figure:
    """Each loss term's mean per epoch (vae.nn.training.EpochStats), one panel per term."""
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


