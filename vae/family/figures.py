"""The family's figures: what ``fit`` draws, the anomaly scores' histogram, the sweep's curves and latent
traversals."""

from dataclasses import replace

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vae.core import plots
from vae.core.data import ImageSet
from vae.family.config import FitConfig
from vae.family.inference import decode_draws, decode_set, encode_set, for_display
from vae.family.sampling import default_sampler, latent_draws
from vae.family.traversals import traverse


def samples_figure(samples: np.ndarray, channels: int, sampler: str) -> Figure:
    """(N, C·S·S) samples as a grid of images."""
    return plots.image_grid(for_display(samples, channels), f"samples from the {sampler}")


def draw_fit_plots(model, record: dict, train_set: ImageSet, history, fit_config: FitConfig,
                   plots_dir: str) -> list[str]:
    """reconstructions.png (noisy inputs too for a denoising model), latent_scatter.png, samples.png (a VAE's from
    its prior, an AE's from its mixture), loss_curves.png, traversals.png."""
    channels = model.config.channels
    names = None if train_set.labels is None else train_set.label_names()
    shown = train_set.first(20)
    originals = shown.images()
    inputs = originals
    if fit_config.noise:
        rng = np.random.default_rng(fit_config.seed)
        inputs = np.clip(originals + rng.normal(0, fit_config.noise, originals.shape), 0, 1).astype(np.float32)
    decoded = decode_set(model, replace(shown, pixels=inputs))
    noisy = for_display(inputs, channels) if fit_config.noise else None
    figures = {
        "reconstructions.png": plots.reconstructions(for_display(originals, channels), for_display(decoded, channels),
                                                     None if names is None else names[:20], noisy=noisy,
                                                     title="the first training images and their reconstructions"),
        "latent_scatter.png": plots.latent_projection(encode_set(model, train_set.first(5000)),
                                                      None if names is None else names[:5000]),
        "loss_curves.png": plots.loss_curves(history),
    }
    sampler = default_sampler(model)
    samples = decode_draws(model, latent_draws(model, sampler, 100, fit_config.seed, record, "the model"))
    figures["samples.png"] = samples_figure(samples, channels, sampler)
    traversal = traverse(model, train_set)
    figures["traversals.png"] = traversal_figure(traversal, channels, f"latent traversals (rows by "
                                                                      f"{traversal.measure}), ±3σ")
    return plots.save_all(figures, plots_dir)


SCORE_AXES = {"mse": "reconstruction error (MSE)", "ssim": "1 - SSIM of the reconstruction",
              "neighbours": "distance to the nearest training images (first feature map)",
              "texture": "distance to the nearest training images (feature statistics, histograms)",
              "combined": "combined: a standard normal score among held-out normal images"}


def score_distributions(scores: dict[str, np.ndarray], truth: np.ndarray | None, threshold: float,
                        chosen: str) -> Figure:
    """Histograms of each (N,) anomaly score, normal and abnormal apart when ``truth`` (N,) 0/1 is known: the
    ``chosen`` score first, with its threshold, so a reader sees which score separates the kinds."""
    names = [chosen, *(name for name in SCORE_AXES if name in scores and name != chosen)]
    figure = Figure(figsize=(6, 2.6 * len(names)))
    for axis, name in zip(figure.subplots(len(names), 1, squeeze=False)[:, 0], names):
        values = scores[name]
        top = max(values.max(), threshold) if name == chosen else values.max()
        bins = np.linspace(values.min(), top, 60)
        groups = [("all images", values, "tab:gray")] if truth is None else [
            ("normal", values[truth == 0], "tab:blue"), ("anomalies", values[truth == 1], "tab:red")]
        for label, group, colour in groups:
            axis.hist(group, bins=bins, alpha=0.55, color=colour, label=f"{label} ({len(group)})")
        if name == chosen:
            axis.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.4g}")
        axis.set_xlabel(SCORE_AXES[name] + (" (the score used)" if name == chosen else ""))
        axis.set_ylabel("images")
        axis.legend(fontsize="small")
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


def samples_side_by_side(grids: dict[str, np.ndarray], channels: int) -> Figure:
    """Each sweep cell's samples (N, C·S·S) as a small grid, the cells side by side, each titled with its name."""
    figure = Figure(figsize=(2.6 * len(grids), 3.0))
    for axis, (name, samples) in zip(figure.subplots(1, len(grids), squeeze=False)[0], grids.items()):
        plots.show_picture(axis, plots.tiled(for_display(samples, channels)), name.replace(" ", "\n"), fontsize=8)
    figure.tight_layout()
    return figure


def metrics_against(knob: str, cells: list[dict], means: dict, metrics: list[str], name_of) -> Figure:
    """Each metric's mean ± std over folds against one swept knob, a line per setting of the other knobs."""
    values = sorted({cell[knob] for cell in cells if knob in cell}, key=str)
    figure = Figure(figsize=(3.2 * len(metrics), 3.2))
    for axis, metric in zip(figure.subplots(1, len(metrics), squeeze=False)[0], metrics):
        lines = {}
        for cell in (cell for cell in cells if knob in cell and metric in means[name_of(cell)]):
            rest = {other: value for other, value in cell.items() if other != knob}
            label = name_of(rest) if rest else None  # the other knobs' settings; none when only this knob varies
            lines.setdefault(label, []).append((values.index(cell[knob]), *means[name_of(cell)][metric]))
        for label, points in lines.items():
            x, mean, std = np.array(sorted(points)).T
            # categories (ae, vae) are points apart; numbers (beta 1, 5, 20) are joined by a line
            style = "none" if isinstance(values[0], str) else "-"
            axis.errorbar(x, mean, yerr=std, marker="o", markersize=4, capsize=2, linestyle=style, label=label)
        axis.set_xticks(range(len(values)),
                        [f"{value:g}" if isinstance(value, float) else str(value) for value in values])
        axis.set_xlabel(knob.replace("_", "-"))
        axis.set_title(metric)
    if any(label is not None for label in lines):
        figure.axes[0].legend(fontsize="x-small")
    figure.tight_layout()
    return figure


def traversal_figure(traversal, channels: int, title: str) -> Figure:
    """A latent traversal (vae/family/traversals.py): a row per dimension, its decodings from −3σ to +3σ, the
    seed images side by side; each row named by its dimension, what it carries, and its factor when known."""
    rows, columns = traversal.images.shape[:2]
    figure = Figure(figsize=(columns * 0.55 + 1.8, rows * 0.6 + 0.7))
    axes = figure.subplots(rows, 1, squeeze=False)[:, 0]
    for row, axis in enumerate(axes):
        pictures = for_display(traversal.images[row], channels)
        axis.imshow(np.concatenate(list(pictures), axis=1), cmap="gray", vmin=0, vmax=1)
        axis.set_xticks([])
        axis.set_yticks([])
        label = f"z{traversal.dimensions[row]} {traversal.measure} {traversal.carried[row]:.2f}"
        if traversal.factors is not None:
            label += f"\n{traversal.factors[row]}"
        axis.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    return figure
