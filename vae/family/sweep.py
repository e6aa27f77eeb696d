"""Experiment sweeps with k-fold cross-validation (``vae.py sweep``).

Each cell of the grid is fit's options with some knobs set (``model=ae beta=5``); each cell is fitted
on k-1 folds of TRAIN and scored on the k-th (scikit-learn's KFold, StratifiedKFold with a head),
for every fold. The (cell, fold) fits run in parallel with joblib, each on one core (one torch
thread): two one-thread fits at once beat one two-thread fit after the other by 1.24x on two cores
(docs/family.md), so ``--jobs`` is the number of cores a sweep uses. Each
finished fit is one JSON file in OUT/folds/, so a second run of the same command skips it: Ctrl-C
loses only the fits running. Then OUT/results.csv (a row per cell and fold), OUT/summary.md (a row
per cell, mean ± std over folds, the best of each column in bold) and the figures are written from
those files.

Scores on the held-out fold: BCE (per pixel), MSE, L1 and SSIM of the reconstructions; the
silhouette of the latent means grouped by TRAIN's labels, when it has them (how well the latent
clusters by class; scikit-learn's, Euclidean); with a head, its accuracy and macro P/R/F1.
"""

import csv
import io
import itertools
import json
import os
import time
from dataclasses import asdict, fields, replace

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.metrics import silhouette_score
from sklearn.model_selection import KFold, StratifiedKFold
from tqdm import tqdm

from vae.core.checkpoint import plain
from vae.core.data import ImageSet, load_image_set
from vae.core.errors import InputError
from vae.core.io import atomic_write
from vae.core.metrics import classification_scores, per_image_scores
from vae.core.report import Outputs
from vae.family.config import AutoencoderConfig, FitConfig, applies
from vae.family.fitting import fit_autoencoder
from vae.family.inference import passes

METRICS = ("bce", "mse", "l1", "ssim", "silhouette", "accuracy", "precision_macro", "recall_macro", "f1_macro")
LOWER_IS_BETTER = {"bce", "mse", "l1"}


def cells(grid: dict[str, list], config: AutoencoderConfig, fit: FitConfig) -> list[dict]:
    """Every combination of the grid's values, less those that differ only in knobs their network ignores (beta for
    an AE: vae.family.config.APPLIES_TO); in grid order."""
    unique = {}
    for values in itertools.product(*grid.values()):
        cell = dict(zip(grid, values))
        chosen = {"model": cell.get("model", config.model), "arch": cell.get("arch", config.arch),
                  "head": bool(config.head_classes)}
        cell = {knob: value for knob, value in cell.items() if applies(knob, chosen)}
        unique.setdefault(cell_name(cell), cell)
    return list(unique.values())


def cell_name(cell: dict) -> str:
    words = (f"{knob.replace('_', '-')}={value:g}" if isinstance(value, float) else f"{knob.replace('_', '-')}={value}"
             for knob, value in cell.items())
    return " ".join(words) or "defaults"


def cell_configs(cell: dict, config: AutoencoderConfig, fit: FitConfig) -> tuple[AutoencoderConfig, FitConfig]:
    """The base configurations with the cell's knobs set (each knob names a field of one of them)."""
    network_fields = {field.name for field in fields(AutoencoderConfig)}
    network = {name: value for name, value in cell.items() if name in network_fields}
    training = {name: value for name, value in cell.items() if name not in network}
    return replace(config, **network), replace(fit, **training)


def fit_fold(images: np.ndarray, labels, train_index: np.ndarray, test_index: np.ndarray, config: AutoencoderConfig,
             fit: FitConfig) -> dict:
    """Fit on images[train_index], score on images[test_index]; the scores and the per-epoch losses."""
    torch.set_num_threads(1)
    targets = None if labels is None or not config.head_classes else np.searchsorted(config.head_classes, labels)
    start = time.perf_counter()
    model, history = fit_autoencoder(images[train_index], config, fit,
                                     None if targets is None else targets[train_index], quiet=True)
    seconds = time.perf_counter() - start
    held_out = torch.from_numpy(images[test_index])
    fold = ImageSet("held-out fold", held_out.flatten(1).numpy(), None, tuple(held_out.shape), config.channels)
    means, decodings = zip(*passes(model, fold))
    latent, logits = torch.cat(means), torch.cat(decodings)
    with torch.no_grad():
        bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, held_out).item()
        decoded = torch.sigmoid(logits)
        l1 = (decoded - held_out).abs().mean().item()
        errors, similarities = per_image_scores([(held_out.numpy(), decoded.numpy())], config.channels)
        scores = {"bce": bce, "mse": float(errors.mean()), "l1": l1, "ssim": float(similarities.mean())}
        if labels is not None and len(np.unique(labels[test_index])) > 1:
            scores["silhouette"] = float(silhouette_score(latent.numpy(), labels[test_index],
                                                          sample_size=min(2000, len(test_index)), random_state=0))
        if model.head is not None:
            predicted = np.asarray(config.head_classes)[model.classify(latent).argmax(dim=1).numpy()]
            head = classification_scores(labels[test_index], predicted)
            scores.update({name: head[name] for name in METRICS if name in head})
    return {"scores": scores, "epochs_loss": [stats.loss for stats in history], "fit_seconds": seconds}


def sweep(train_path: str, grid: dict[str, list], config: AutoencoderConfig, fit: FitConfig, head: bool, folds: int,
          jobs: int | None, out: str, outputs: Outputs) -> list[dict]:
    """Run every (cell, fold) not already in OUT/folds/, then write results.csv, summary.md and the figures; the
    rows."""
    train_set = load_image_set(train_path, labels="required" if head else "optional", rgb=True)
    if len(train_set) < 2 * folds:
        raise InputError(f"{train_path}: {len(train_set)} images are too few for {folds} folds")
    config = replace(config, channels=train_set.channels, sample_shape=train_set.stored_shape[1:],
                     head_classes=tuple(int(label) for label in train_set.classes()) if head else ())
    smallest_class = np.bincount(np.searchsorted(config.head_classes, train_set.labels)).min() if head else 0
    if head and (len(config.head_classes) < 2 or smallest_class < folds):
        raise InputError(f"{train_path}: a head needs at least two classes, each with at least {folds} images (one "
                         "per fold)")
    todo = cells(grid, config, fit)
    try:
        os.makedirs(os.path.join(out, "folds"), exist_ok=True)
    except OSError as error:
        raise InputError(f"--out {out}: cannot make the folder ({error.strerror or error})") from None
    images = train_set.images().reshape(-1, *train_set.tensor_shape())
    splitter = StratifiedKFold(folds, shuffle=True,
                               random_state=fit.seed) if head else KFold(folds, shuffle=True, random_state=fit.seed)
    splits = list(splitter.split(images, train_set.labels if head else None))
    jobs = jobs or os.cpu_count() or 1
    done, pending = finished_fits(todo, folds, out, lambda cell: plain(
        {"train": os.path.abspath(train_path), "folds": folds,
         **dict(zip(("network", "fit"), map(asdict, cell_configs(cell, config, fit))))}))
    outputs.say(f"sweep: {len(todo)} cells x {folds} folds of {len(train_set)} images from {train_path}; "
                f"{len(done)} fits already in {out}, {len(pending)} to run, "
                f"{min(jobs, max(len(pending), 1))} at a time")

    remaining = {cell_name(cell): sum((cell_name(cell), fold) not in done for fold in range(folds)) for cell in todo}
    with tqdm(total=len(todo), initial=sum(count == 0 for count in remaining.values()), desc="sweep", unit="cell",
              disable=True if outputs.quiet else None) as bar:
        runner = Parallel(n_jobs=min(jobs, max(len(pending), 1)), return_as="generator_unordered")
        for result in runner(delayed(fold_job)(images, train_set.labels, splits[fold], cell, fold, settings, config,
                                               fit)
                             for cell, fold, settings in pending):
            path = fold_path(out, result["knobs"], result["fold"])
            atomic_write(path, lambda handle: handle.write(json.dumps(result, indent=1).encode()))
            done[(result["cell"], result["fold"])] = result
            remaining[result["cell"]] -= 1
            if remaining[result["cell"]] == 0:
                bar.update()
    rows = [done[(cell_name(cell), fold)] for cell in todo for fold in range(folds)]
    summary = write_outputs(rows, todo, grid, out)
    written = f"{os.path.join(out, 'results.csv')}, {os.path.join(out, 'summary.md')} and the figures"
    outputs.say(f"wrote {written}\n\n" + summary)
    return rows


def finished_fits(todo: list[dict], folds: int, out: str, settings_of) -> tuple[dict, list]:
    """({(cell name, fold): result} of the fits already in OUT/folds/, [(cell, fold, settings)] of those to run)."""
    done, pending = {}, []
    for cell in todo:
        settings = settings_of(cell)
        for fold in range(folds):
            found = read_fold(fold_path(out, cell, fold))
            if found and found.get("settings") != settings:
                raise InputError(f"{fold_path(out, cell, fold)}: holds a fit of other settings (another TRAIN or "
                                 "other options); use another --out")
            if found:
                done[(cell_name(cell), fold)] = found
            else:
                pending.append((cell, fold, settings))
    return done, pending


def fold_job(images, labels, split, cell: dict, fold: int, settings: dict, config: AutoencoderConfig,
             fit: FitConfig) -> dict:
    """One (cell, fold) fit, as its JSON file holds it."""
    result = fit_fold(images, labels, *split, *cell_configs(cell, config, fit))
    return {"cell": cell_name(cell), "knobs": plain(cell), "fold": fold, "settings": settings, **result}


def fold_path(out: str, cell: dict, fold: int) -> str:
    slug = cell_name(cell).replace(" ", "_").replace("=", "-").replace("/", "-")
    return os.path.join(out, "folds", f"{slug}_fold{fold}.json")


def read_fold(path: str) -> dict | None:
    """A finished fit's JSON file, or None when it is absent or unreadable (then it is run again)."""
    try:
        with open(path) as handle:
            found = json.load(handle)
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def write_outputs(rows: list[dict], todo: list[dict], grid: dict, out: str) -> str:
    """OUT/results.csv, OUT/summary.md and the figures from the fits' rows; the summary's text."""
    from vae.core.plots import save_all  # matplotlib: about a second of start-up
    from vae.family.figures import metrics_against, sweep_curves

    metrics = [name for name in METRICS if any(name in row["scores"] for row in rows)]
    knobs = list(grid)
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["cell", *(knob.replace("_", "-") for knob in knobs), "fold", *metrics, "fit_seconds"])
    for row in rows:
        writer.writerow([row["cell"], *(row["knobs"].get(knob, "") for knob in knobs), row["fold"],
                         *(f"{row['scores'][name]:.6g}" if name in row["scores"] else "" for name in metrics),
                         f"{row['fit_seconds']:.2f}"])
    atomic_write(os.path.join(out, "results.csv"), lambda handle: handle.write(table.getvalue().encode()))
    means = {cell_name(cell): cell_means(rows, cell_name(cell), metrics) for cell in todo}
    summary = summary_table(means, metrics)
    atomic_write(os.path.join(out, "summary.md"), lambda handle: handle.write((summary + "\n").encode()))
    curves = {cell_name(cell): np.mean([row["epochs_loss"] for row in rows if row["cell"] == cell_name(cell)],
                                       axis=0) for cell in todo}
    figures = {"loss_curves.png": sweep_curves(curves)}
    for knob in (knob for knob in knobs if len({cell.get(knob) for cell in todo}) > 1):
        figures[f"metrics_vs_{knob.replace('_', '-')}.png"] = metrics_against(knob, todo, means, metrics, cell_name)
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
