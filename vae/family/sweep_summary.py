"""What a sweep writes from its finished fits (vae/family/sweep.py): OUT/results.csv (a row per cell and fold),
OUT/summary.md (a row per cell, mean ± std over folds, the best of each column in bold; and, with generation
scores, whether the two generation claims hold on the data given), and the figures."""

import csv
import io
import os

import numpy as np

from vae.core.io import atomic_write

METRICS = ("bce", "mse", "l1", "ssim", "silhouette", "accuracy", "precision_macro", "recall_macro", "f1_macro",
           "fd", "precision", "recall", "mig", "nll")
LOWER_IS_BETTER = {"bce", "mse", "l1", "fd", "nll"}


def mean_curve(curves: list[list[float]]) -> np.ndarray:
    """The folds' losses per epoch, averaged over the epochs every fold ran (early stopping ends folds apart)."""
    shortest = min(map(len, curves))
    return np.mean([curve[:shortest] for curve in curves], axis=0)


def cell_name(cell: dict) -> str:
    words = (f"{knob.replace('_', '-')}={value:g}" if isinstance(value, float) else f"{knob.replace('_', '-')}={value}"
             for knob, value in cell.items())
    return " ".join(words) or "defaults"


def write_outputs(rows: list[dict], todo: list[dict], grid: dict, out: str, channels: int,
                  kinds: dict[str, tuple[str, float]]) -> str:
    """OUT/results.csv, OUT/summary.md and the figures from the fits' rows; the summary's text. ``kinds``: each
    cell's (model, β) as it was fitted, the sweep's base options included."""
    from vae.core.plots import save_all  # matplotlib: about a second of start-up
    from vae.family.figures import metrics_against, samples_side_by_side, sweep_curves

    metrics = [name for name in METRICS if any(name in row["scores"] for row in rows)]
    knobs = list(grid)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["cell", *(knob.replace("_", "-") for knob in knobs), "fold", *metrics, "fit_seconds", "host"])
    for row in rows:
        writer.writerow([row["cell"], *(row["knobs"].get(knob, "") for knob in knobs), row["fold"],
                         *(f"{row['scores'][name]:.6g}" if name in row["scores"] else "" for name in metrics),
                         f"{row['fit_seconds']:.2f}", row.get("host", "")])
    atomic_write(os.path.join(out, "results.csv"), lambda handle: handle.write(table.getvalue().encode()))
    means = {cell_name(cell): cell_means(rows, cell_name(cell), metrics) for cell in todo}
    summary = summary_table(means, metrics)
    if "fd" in metrics:
        summary += "\n\n" + generation_claims(todo, means, kinds)
        unscored = sum("fd" not in row["scores"] for row in rows)
        if unscored:
            summary += (f"\n\n({unscored} of the {len(rows)} fits have no generation scores: a held-out fold too "
                        "small for k-NN manifolds, or EM found no mixture in an AE's latents; means are over the folds "
                        "scored)")
    atomic_write(os.path.join(out, "summary.md"), lambda handle: handle.write((summary + "\n").encode()))
    curves = {cell_name(cell): mean_curve([row["epochs_loss"] for row in rows if row["cell"] == cell_name(cell)])
              for cell in todo}
    figures = {"loss_curves.png": sweep_curves(curves)}
    for knob in (knob for knob in knobs if len({cell.get(knob) for cell in todo}) > 1):
        figures[f"metrics_vs_{knob.replace('_', '-')}.png"] = metrics_against(knob, todo, means, metrics, cell_name)
    grids = {cell_name(cell): sample_grid(out, cell) for cell in todo}
    if any(grid is not None for grid in grids.values()):
        figures["samples.png"] = samples_side_by_side({name: grid for name, grid in grids.items() if grid is not None},
                                                      channels)
    save_all(figures, out)
    return summary


def cell_means(rows: list[dict], name: str, metrics) -> dict[str, tuple[float, float]]:
    """{metric: (mean, std)} over the cell's folds."""
    own = [row["scores"] for row in rows if row["cell"] == name]
    values = {metric: [scores[metric] for scores in own if metric in scores] for metric in metrics}
    return {metric: (float(np.mean(found)), float(np.std(found))) for metric, found in values.items() if found}


def summary_table(means: dict[str, dict], metrics: list[str]) -> str:
    """One Markdown row per cell from its {metric: (mean, std)} over folds; the best cell of each column in bold."""
    best = {}
    for metric in metrics:
        scored = [(summary[metric][0], name) for name, summary in means.items() if metric in summary]
        best[metric] = (min if metric in LOWER_IS_BETTER else max)(scored)[1]
    lines = ["| cell | " + " | ".join(metrics) + " |", "|---|" + "---|" * len(metrics)]
    for name, summary in means.items():
        cells_text = []
        for metric in metrics:
            text = "" if metric not in summary else f"{summary[metric][0]:.4f} ± {summary[metric][1]:.4f}"
            cells_text.append(f"**{text}**" if best[metric] == name else text)
        lines.append(f"| {name} | " + " | ".join(cells_text) + " |")
    return "\n".join(lines)


def samples_path(out: str, cell: dict) -> str:
    """Where a cell's first fold keeps a few of its samples, for the figure of every cell's samples side by side."""
    return os.path.join(out, "folds", f"{slug(cell)}_fold0_samples.npy")


def slug(cell: dict) -> str:
    """A cell's name as a file name."""
    return cell_name(cell).replace(" ", "_").replace("=", "-").replace("/", "-")


def sample_grid(out: str, cell: dict) -> np.ndarray | None:
    """The cell's kept samples as (N, C·S·S) floats in [0, 1], or None when it has none."""
    path = samples_path(out, cell)
    return np.load(path).astype(np.float32) / 255 if os.path.exists(path) else None


def generation_claims(todo: list[dict], means: dict, kinds: dict[str, tuple[str, float]]) -> str:
    """Whether the two generation claims the AE/VAE studies make hold here, from the cells' mean Fréchet distances
    (lower is better): each VAE (β = 1) against the AE with the same other knobs, and each β-VAE (β > 1) against
    the β = 1 VAE with the same other knobs. ``kinds``: each cell's (model, β) as fitted."""
    def rest(cell):
        return tuple(sorted((knob, value) for knob, value in cell.items() if knob not in ("model", "beta")))

    def fd(cell):
        return means[cell_name(cell)]["fd"][0]

    def std(cell):
        return means[cell_name(cell)]["fd"][1]

    def spread(cell):
        return f"{fd(cell):.2f} ± {std(cell):.2f}"

    scored = [cell for cell in todo if "fd" in means[cell_name(cell)]]
    vaes = [cell for cell in scored if kinds[cell_name(cell)][0] == "vae"]
    aes = {rest(cell): cell for cell in scored if kinds[cell_name(cell)][0] == "ae"}
    plain = {rest(cell): cell for cell in vaes if kinds[cell_name(cell)][1] == 1.0}
    claims = [("VAEs generate better than AEs (VAE from its prior, AE from its mixture)",
               [(plain[key], aes[key]) for key in plain if key in aes]),
              ("β-VAEs with β > 1 generate better than β = 1 VAEs",
               [(cell, plain[rest(cell)]) for cell in vaes if kinds[cell_name(cell)][1] > 1 and rest(cell) in plain])]
    lines = ["Generation (Fréchet distance of samples against the held-out folds, lower is better):"]
    for claim, pairs in claims:
        if not pairs:
            lines.append(f"- {claim}: not tested (the grid has no such pair of cells)")
            continue
        better = sum(fd(first) < fd(second) for first, second in pairs)
        verdict = "holds" if better == len(pairs) else "does not hold" if better == 0 else "holds in part"
        shown = "; ".join(f"{cell_name(first)} {spread(first)} against {cell_name(second)} {spread(second)}"
                          for first, second in pairs)
        close = sum(abs(fd(first) - fd(second)) <= max(std(first), std(second)) for first, second in pairs)
        caveat = f"; {close} of the {len(pairs)} within a standard deviation over folds" if close else ""
        lines.append(f"- {claim}: {verdict} here ({better} of {len(pairs)}: {shown}{caveat})")
    return "\n".join(lines)
