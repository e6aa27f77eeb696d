"""The family's figures: what ``fit`` draws, the anomaly scores' histogram and the sweep's curves."""

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from vae.core import plots
from vae.core.data import ImageSet
from vae.family.config import FitConfig
from vae.family.inference import decode_set, encode_set, for_display


def samples_figure(samples: np.ndarray, channels: int) -> Figure:
    """(N, C·784) samples as a grid of images."""
    return plots.image_grid(for_display(samples, channels), "samples from the prior")


def draw_fit_plots(model, train_set: ImageSet, history, fit_config: FitConfig, plots_dir: str) -> list[str]:
    """reconstructions.png (noisy inputs too for a denoising model), latent_scatter.png, samples.png (VAE),
    loss_curves.png."""
    channels = model.config.channels
    labels = train_set.labels
    shown = ImageSet(train_set.path, train_set.pixels[:20], None if labels is None else labels[:20],
                     train_set.stored_shape, channels)
    originals = shown.images()
    inputs = originals
    if fit_config.noise:
        rng = np.random.default_rng(fit_config.seed)
        inputs = np.clip(originals + rng.normal(0, fit_config.noise, originals.shape), 0, 1).astype(np.float32)
    decoded = decode_set(model, ImageSet(shown.path, inputs, None, shown.stored_shape, channels))
    noisy = for_display(inputs, channels) if fit_config.noise else None
    sample = ImageSet(train_set.path, train_set.pixels[:5000], None, train_set.stored_shape, channels)
    figures = {
        "reconstructions.png": plots.reconstructions(for_display(originals, channels), for_display(decoded, channels),
                                                     shown.labels, noisy=noisy,
                                                     title="the first training images and their reconstructions"),
        "latent_scatter.png": plots.latent_projection(encode_set(model, sample),
                                                      None if labels is None else labels[:5000]),
        "loss_curves.png": plots.loss_curves(history),
    }
    if model.variational:
        samples = model.generate(100, torch.Generator().manual_seed(fit_config.seed)).flatten(1).numpy()
        figures["samples.png"] = samples_figure(samples, channels)
    return plots.save_all(figures, plots_dir)


def score_distributions(scores: np.ndarray, truth: np.ndarray | None, threshold: float, score: str) -> Figure:
    """Histograms of (N,) anomaly scores, normal and abnormal apart when ``truth`` (N,) 0/1 is known, and the
    threshold."""
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
