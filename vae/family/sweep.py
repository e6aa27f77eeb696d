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
clusters by class; scikit-learn's, Euclidean); with a head, its accuracy and macro P/R/F1; and for every
cell, the Fréchet distance and precision/recall of as many samples as the fold has images (a VAE's from its
prior, an AE's from the mixture of its training latents; the same seed for every cell) against the fold, in
the features of a reference network (vae/family/reference.py). When TRAIN is an .npz with ``factors`` (a set of
known factors of variation: python -m vae.datasets shapes), also the held-out fold's MIG (vae/core/disentanglement.py)
and a VAE's IWAE NLL (vae/family/likelihood.py): what a β buys in disentanglement for what it costs in likelihood.

With ``cluster``, the fits run on the workers of a Dask scheduler (vae/family/cluster.py); this process alone
writes OUT/, and each row names the host that fitted it.
"""

import itertools
import json
import os
import socket
import threading
import time
from contextlib import nullcontext
from dataclasses import asdict, fields, replace

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.metrics import silhouette_score
from sklearn.model_selection import KFold, StratifiedKFold
from tqdm import tqdm

from vae.core.arrays import read_factors
from vae.core.checkpoint import plain
from vae.core.data import ImageSet, Reading, load_image_set
from vae.core.disentanglement import mig, varying
from vae.core.errors import FitFailed, InputError, first_line
from vae.core.io import atomic_write
from vae.core.metrics import classification_scores, per_image_scores
from vae.core.report import Outputs
from vae.core.sample_quality import NEAREST
from vae.family.choices import chosen_network
from vae.family.cluster import connected, dask_backend, describe
from vae.family.config import REFERENCE_EPOCHS, AutoencoderConfig, FitConfig, applies, only_applicable
from vae.family.fitting import fit_autoencoder, shaped_for
from vae.family.inference import decode_draws, encode_set, passes
from vae.family.likelihood import likelihood_bounds
from vae.family.reference import features, load_reference, sample_scores, save_reference, train_reference
from vae.family.sampling import default_sampler, fit_mixture, latent_draws
from vae.family.sweep_summary import METRICS, cell_name, samples_path, slug, write_outputs

SHOWN_SAMPLES = 36  # each cell's first fold keeps this many samples for the figure of them side by side
FIT_LOCK = threading.Lock()
NLL_SAMPLES = 10  # importance samples per held-out image for the NLL column (vae.py likelihood: 100 by default)


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


def cell_configs(cell: dict, config: AutoencoderConfig, fit: FitConfig) -> tuple[AutoencoderConfig, FitConfig]:
    """The base configurations with the cell's knobs set (each knob names a field of one of them); a cell with
    --sparsity has a sparse code, as fit gives it."""
    network_fields = {field.name for field in fields(AutoencoderConfig)}
    network = replace(config, **{name: value for name, value in cell.items() if name in network_fields})
    chosen = chosen_network(network, head=bool(config.head_classes))
    network = only_applicable(network, chosen)
    training = only_applicable(replace(fit, **{name: value for name, value in cell.items()
                                               if name not in network_fields}), chosen)
    return replace(network, sparse=bool(training.sparsity)), training


def fit_fold(images: np.ndarray, labels, train_index: np.ndarray, test_index: np.ndarray, config: AutoencoderConfig,
             fit: FitConfig, reference=None, real_features=None, factors=None) -> dict:
    """Fit on images[train_index], score on images[test_index]; the scores and the per-epoch losses. With a
    ``reference`` network and the held-out fold's (M, FEATURES) ``real_features`` in it, also the samples' Fréchet
    distance and precision/recall against the fold (as many samples as it has images, from the model's default
    sampler), and the first of those samples."""
    targets = None if labels is None or not config.head_classes else np.searchsorted(config.head_classes, labels)
    start = time.perf_counter()
    fitted = fit_autoencoder(images[train_index], config, fit, None if targets is None else targets[train_index],
                             quiet=True)
    model, history = fitted.model, fitted.history
    seconds = time.perf_counter() - start
    held_out = torch.from_numpy(images[test_index])
    fold = as_set("held-out fold", images[test_index], config)
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
        if factors is not None:  # the held-out fold's MIG, and a VAE's IWAE bound (K = NLL_SAMPLES)
            scores["mig"] = mig(latent.numpy(), factors[test_index])
            if model.variational:
                scores["nll"] = likelihood_bounds(model, fold, NLL_SAMPLES, fit.seed)["iwae_nll"]
        if model.head is not None:
            predicted = np.asarray(config.head_classes)[model.classify(latent).argmax(dim=1).numpy()]
            head = classification_scores(labels[test_index], predicted)
            scores.update({name: head[name] for name in METRICS if name in head})
    result = {"scores": scores, "epochs_loss": [stats.loss for stats in history], "fit_seconds": seconds}
    sampler = default_sampler(model)
    judged = reference is not None and len(test_index) > NEAREST  # k-NN manifolds need more than k images
    record = {"sampler": None if sampler == "prior" or not judged else
              fit_mixture(encode_set(model, as_set("training folds", images[train_index], config)),
                          min(fit.sampler_components, len(train_index)), fit.seed)}
    if judged and (sampler == "prior" or record["sampler"] is not None):  # None: EM failed
        samples = decode_draws(model, latent_draws(model, sampler, len(test_index), fit.seed, record, "a cell's model"))
        scores.update(sample_scores(real_features, features(reference, samples)))
        result.update(sampler=sampler, samples=np.round(samples[:SHOWN_SAMPLES] * 255).astype(np.uint8))
    return result


def as_set(name: str, images: np.ndarray, config: AutoencoderConfig) -> ImageSet:
    """(N, C, S, S) images in memory as an image set, for the batched passes of vae/family/inference.py."""
    return ImageSet(name, images.reshape(len(images), -1), None, images.shape, config.channels, config.image_size)


def sweep(train_path: str, grid: dict[str, list], config: AutoencoderConfig, fit: FitConfig, head: bool, folds: int,
          jobs: int | None, out: str, outputs: Outputs, reading: Reading = Reading(),
          reference_path: str | None = None, cluster: str | None = None, fit_threads: int = 1) -> list[dict]:
    """Run every (cell, fold) not already in OUT/folds/, then write results.csv, summary.md and the figures; the
    rows. TRAIN is arrays, or a folder of images read as ``reading`` says. Samples are judged in the features of
    the reference network ``reference_path``, else of one trained on TRAIN's labels (OUT/reference.pth). The fits
    run in joblib's current backend with ``jobs`` at a time, or on the workers of the Dask scheduler at ``cluster``
    (vae/family/cluster.py); each on ``fit_threads`` torch threads."""
    if cluster and jobs:
        raise InputError("--jobs and --cluster: give one (on a cluster, every worker thread runs a fit)")
    train_set = load_image_set(train_path, labels="required" if head else "optional", rgb=True, reading=reading,
                               quiet=outputs.quiet, say=outputs.say)
    reading.check_given(train_set, train_path)
    factors, _ = read_factors(train_path, len(train_set), required=False)  # with them: MIG and NLL columns
    if factors is not None:
        varying(factors)  # factors that never vary: one line now, not a failed fit later
    if len(train_set) < 2 * folds:
        raise InputError(f"{train_path}: {len(train_set)} images are too few for {folds} folds")
    if head:
        train_set.check_classes("a head", each=folds)
    # each cell's own --sparsity and loss decide its code and decoder (cell_configs, fit_autoencoder)
    config, _ = shaped_for(config, train_set, head, sparse=False, loss=None)
    todo = cells(grid, config, fit)
    for cell in todo:  # a cell's settings that cannot go together (--epochs with steps=...) stop it before any work
        cell_configs(cell, config, fit)
    client = connected(cluster) if cluster else None  # before anything is written: a bad address writes nothing
    try:
        return run_sweep(train_path, train_set, factors, grid, todo, config, fit, head, folds, jobs, out, outputs,
                         reference_path, client, fit_threads)
    finally:
        if client is not None:
            client.close()


def run_sweep(train_path, train_set, factors, grid, todo, config, fit, head, folds, jobs, out, outputs, reference_path,
              client, fit_threads) -> list[dict]:
    try:
        os.makedirs(os.path.join(out, "folds"), exist_ok=True)
    except OSError as error:
        raise InputError(f"--out {out}: cannot make the folder ({error.strerror or error})") from None
    reference, reference_path = sweep_reference(train_set, reference_path, out, fit, outputs)
    images = train_set.images().reshape(-1, *train_set.tensor_shape())
    splitter = StratifiedKFold(folds, shuffle=True,
                               random_state=fit.seed) if head else KFold(folds, shuffle=True, random_state=fit.seed)
    splits = list(splitter.split(images, train_set.labels if head else None))
    # each fold's real images pass through the reference once, not once per cell
    real_features = [None if reference is None else features(reference, images[test].reshape(len(test), -1))
                     for _, test in splits]
    jobs = jobs or max(1, (os.cpu_count() or 1) // fit_threads)
    done, pending = finished_fits(todo, folds, out, lambda cell: plain(
        {"train": os.path.abspath(train_path), "folds": folds, "reference": reference_path,
         **dict(zip(("network", "fit"), map(asdict, cell_configs(cell, config, fit))))}))
    where = f"on {describe(client)} of {client.scheduler.address}" if client else \
        f"{min(jobs, max(len(pending), 1))} at a time"
    outputs.say(f"sweep: {len(todo)} cells x {folds} folds of {len(train_set)} images from {train_path}; "
                f"{len(done)} fits already in {out}, {len(pending)} to run, {where}")

    remaining = {cell_name(cell): sum((cell_name(cell), fold) not in done for fold in range(folds)) for cell in todo}
    backend = dask_backend(client, [images, train_set.labels, factors, reference, *real_features]) if client else \
        nullcontext()
    with backend, tqdm(total=len(todo), initial=sum(count == 0 for count in remaining.values()), desc="sweep",
                       unit="cell", disable=True if outputs.quiet else None) as bar:
        # on a cluster, all its threads: joblib would run a single job in this process
        runner = Parallel(n_jobs=-1 if client else min(jobs, max(len(pending), 1)), batch_size=1,
                          return_as="generator_unordered")
        for result in runner(delayed(fold_job)(images, train_set.labels, splits[fold], cell, fold, settings, config,
                                               fit, reference, real_features[fold], factors, fit_threads)
                             for cell, fold, settings in pending):
            kept = result.pop("samples", None)
            if kept is not None and result["fold"] == 0:
                np.save(samples_path(out, result["knobs"]), kept)
            path = fold_path(out, result["knobs"], result["fold"])
            atomic_write(path, lambda handle: handle.write(json.dumps(result, indent=1).encode()))
            done[(result["cell"], result["fold"])] = result
            remaining[result["cell"]] -= 1
            if remaining[result["cell"]] == 0:
                bar.update()
    rows = [done[(cell_name(cell), fold)] for cell in todo for fold in range(folds)]
    kinds = {cell_name(cell): (network.model, training.beta) for cell in todo
             for network, training in [cell_configs(cell, config, fit)]}
    summary = write_outputs(rows, todo, grid, out, config.channels, kinds)
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
             fit: FitConfig, reference=None, real_features=None, factors=None, threads: int = 1) -> dict:
    """One (cell, fold) fit, as its JSON file holds it, and the host that fitted it; any error in it becomes
    FitFailed naming the fit. Fits in one process take turns (FIT_LOCK): they seed torch's one random generator."""
    host = socket.gethostname()
    with FIT_LOCK:
        before = torch.get_num_threads()  # a sweep run in this process (--jobs 1, vae.sweep) leaves it as it was
        torch.set_num_threads(threads)
        try:
            result = fit_fold(images, labels, *split, *cell_configs(cell, config, fit), reference, real_features,
                              factors)
        except Exception as error:
            raise FitFailed(f"sweep cell {cell_name(cell)!r}, fold {fold}, on {host}: {type(error).__name__}: "
                            f"{first_line(error)}") from error
        finally:
            torch.set_num_threads(before)
    return {"cell": cell_name(cell), "knobs": plain(cell), "fold": fold, "settings": settings, "host": host,
            **result}


def fold_path(out: str, cell: dict, fold: int) -> str:
    return os.path.join(out, "folds", f"{slug(cell)}_fold{fold}.json")


def sweep_reference(train_set, reference_path: str | None, out: str, fit: FitConfig, outputs: Outputs):
    """(the reference network the samples are judged in, its path): the one given; else OUT/reference.pth, trained
    on TRAIN's labels the first time; (None, None) for an unlabelled TRAIN with none given."""
    if reference_path is None and train_set.labels is None:
        outputs.say("no generation scores: TRAIN has no labels to train a reference network on; give --reference "
                    "REF.pth (vae.py reference)")
        return None, None
    if reference_path is None:
        reference_path = os.path.join(out, "reference.pth")
        if not os.path.exists(reference_path):
            train_set.check_classes("the reference network")
            outputs.say(f"training the reference network that samples are judged in: {reference_path}")
            network, _ = train_reference(train_set, REFERENCE_EPOCHS, fit.seed, fit.device, outputs.quiet)
            save_reference(reference_path, network, {"train": train_set.path, "epochs": REFERENCE_EPOCHS})
    reference = load_reference(reference_path, train_set.side, train_set.channels, "TRAIN's images are")
    return reference, os.path.abspath(reference_path)


def read_fold(path: str) -> dict | None:
    """A finished fit's JSON file, or None when it is absent or unreadable (then it is run again)."""
    try:
        with open(path) as handle:
            found = json.load(handle)
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
