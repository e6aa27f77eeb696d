"""The assignment's commands (train, test_reconstruction, test_classifier, evaluate, plot): plain functions
that take paths and options and write files.

Data flows one way: npz files -> images -> network -> latent means -> mixture -> output files.
Only ``train`` imports torch; the test commands run the network in numpy (see inference.py).
"""

import os
import time
from dataclasses import asdict, replace

import numpy as np

from vae.assignment.config import MixtureOptions, ModelConfig, TrainConfig
from vae.assignment.inference import BATCH, Network, load_network
from vae.assignment.search import reconstructed_batches
from vae.core import checkpoint
from vae.core.data import IMAGE_SIDE, load_image_set
from vae.core.errors import InputError
from vae.core.gmm import MixtureClassifier, fit_classifier
from vae.core.io import (
    atomic_write,
    check_folder_writable,
    check_writable,
    read_predictions,
    write_images,
    write_predictions,
)
from vae.core.metrics import batched_reconstruction_scores, classification_scores
from vae.core.report import Outputs, counted, format_scores, is_writer

RECONSTRUCTION_FILE = "vae_reconstructed.npz"
PREDICTIONS_FILE = "vae.csv"
MAX_PARAMETERS = 20_000_000  # the assignment's limit


# ------------------------------------------------------------------------------------------ train


def train(train_path, val_path, model_path, mixture_path, model_config: ModelConfig, train_config: TrainConfig,
          mixture: MixtureOptions, outputs: Outputs) -> dict:
    """Train the VAE on TRAIN (never reading its labels), fit the mixture, write vae.pth and gmm_params.pkl."""
    for path in (model_path, mixture_path):
        check_writable(path)
    plots_dir = outputs.plots_dir(model_path)
    if plots_dir:
        check_folder_writable(plots_dir)
    train_set = load_image_set(train_path, labels="ignored")
    val_set = load_image_set(val_path, labels="required")
    val_set.check_classes("the classifier")
    classes = val_set.classes()

    # torch and scipy only here: the test commands never import them (torch alone is about 1.5 s of start-up)
    from vae.assignment.propagation import describe_propagation, propagate_image_labels
    from vae.assignment.training import train_model
    from vae.nn.training import describe, import_optimizer_in_background, resolve_device

    resolve_device(train_config.device)

    if train_config.loss.prior_components is None:
        train_config = replace(train_config, loss=replace(train_config.loss, prior_components=len(classes)))
    if train_config.loss.prior_components and model_config.latent_dim < 2:
        raise InputError(f"--latent-dim {model_config.latent_dim}: the mixture prior needs at least 2 latent "
                         "dimensions; or use --prior-components 0")
    for option, weight in (("--anchor-weight", train_config.loss.anchor),
                           ("--propagation-weight", train_config.loss.propagation)):
        if weight and train_config.loss.prior_components != len(classes):
            raise InputError(
                f"{option} {weight:g} needs one prior component per class of {val_path} "
                f"({len(classes)}), not --prior-components {train_config.loss.prior_components}; or use {option} 0"
            )
    val_classes = np.searchsorted(classes, val_set.labels)
    train_images, val_images = train_set.images(), val_set.images()  # float32 copies, made once
    anchors = (val_images, val_classes) if train_config.loss.anchor else None
    parameters = model_config.parameter_count()
    if parameters > MAX_PARAMETERS:
        raise InputError(f"--hidden {','.join(map(str, model_config.hidden))}: {parameters:,} parameters, over the "
                         f"limit of {MAX_PARAMETERS:,}")
    outputs.say(f"training on {len(train_set)} images from {train_path} ({parameters:,} parameters, "
                f"{counted(train_config.epochs, 'epoch')}, seed {train_config.seed})")
    start = time.perf_counter()
    import_optimizer_in_background()
    propagated = None
    if train_config.loss.propagation:
        propagated = propagate_image_labels(train_images, val_images, val_classes, len(classes))
        outputs.say(describe_propagation(propagated, classes))
    model, history = train_model(train_images, model_config, train_config, anchors=anchors, propagated=propagated,
                                 quiet=outputs.quiet)
    train_seconds = time.perf_counter() - start
    if not is_writer():  # under torchrun rank 0 alone fits the mixture and writes
        return {"seconds": train_seconds, "parameters": parameters, "history": history}

    state = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    network = Network.from_state(model_config, state)
    train_latent = network.encode_set(train_set)
    val_latent = network.encode_set(val_set)
    classifier = fit_classifier(
        train_latent, val_latent, val_set.labels,
        components_per_class=mixture.components_per_class, reg_covar=mixture.reg_covar, tol=mixture.tol,
        max_iter=mixture.max_iter,
        covariance_type=mixture.covariance_type,
    )
    total_seconds = time.perf_counter() - start
    record = {
        "training": checkpoint.plain(asdict(train_config)),
        "mixture": asdict(mixture),
        "train_images": len(train_set),
        "epochs_loss": [round(stats.loss, 6) for stats in history],
        "train_seconds": round(train_seconds, 3),
    }
    checkpoint.save_model(model_path, model_config, model.state_dict(), record)
    checkpoint.save_mixture(mixture_path, classifier.to_params())

    report = classifier.report
    val_scores = classification_scores(val_set.labels, classifier.predict(val_latent))
    last = {stats.phase: stats for stats in history}  # each phase's final epoch
    phases = "; ".join(describe(stats, stats.epoch).strip() for stats in last.values())
    outputs.say(
        f"trained in {train_seconds:.1f} s; {phases}\n"
        f"mixture: {len(classifier.component_labels)} components for classes {', '.join(map(str, classes))}; "
        f"EM {'converged' if report.converged else 'did NOT converge'} after {report.iterations} iterations; "
        f"mean log-likelihood {report.log_likelihood:.4f}\n"
        f"validation accuracy of the mixture {val_scores['accuracy']:.3f} "
        f"(on the {len(val_set)} images that seeded it)\n"
        f"wrote {model_path} and {mixture_path} ({total_seconds:.1f} s for training and mixture)"
    )
    if plots_dir:
        from vae.assignment.figures import draw_plots  # matplotlib: about a second of start-up

        written = draw_plots(network, classifier, train_latent, val_set, val_latent, plots_dir)
        outputs.say(f"wrote {len(written)} plots in {plots_dir}")
    return {"seconds": total_seconds, "parameters": parameters, "history": history, "mixture": report}


# ------------------------------------------------------------------------------ test commands


def load_classifier(mixture_path: str, network: Network, model_path: str) -> MixtureClassifier:
    try:
        classifier = MixtureClassifier.from_params(checkpoint.load_mixture(mixture_path))
    except ValueError as error:
        raise InputError(f"{mixture_path}: damaged mixture file ({error})") from None
    dim = classifier.mixture.means.shape[1]
    if dim != network.config.latent_dim:
        raise InputError(f"{mixture_path}: its latent size is {dim} but {model_path} encodes to "
                         f"{network.config.latent_dim}; were they trained together?")
    return classifier


def test_reconstruction(recon_path: str, model_path: str, out_path: str | None, outputs: Outputs,
                        search: str = "grid") -> dict:
    """Write the reconstructions of RECON's images (same shape as its 'data', float32 in [0, 1])."""
    out_path = out_path or RECONSTRUCTION_FILE
    check_writable(out_path, (".npz", ".npy"))
    image_set = load_image_set(recon_path, labels="ignored")
    network = load_network(model_path)
    batches = reconstructed_batches(network, image_set, search)
    pairs = ((images.reshape(decoded.shape), decoded) for images, decoded in batches)
    scores = write_images(out_path, image_set, pairs, batched_reconstruction_scores)
    outputs.say(f"wrote {out_path}: {len(image_set)} reconstructions\n{format_scores(scores)}")
    return scores


def test_classifier(test_path: str, model_path: str, mixture_path: str, out_path: str | None,
                    outputs: Outputs) -> dict | None:
    """Write one predicted label per TEST image, in input order; print scores when TEST has labels."""
    out_path = out_path or PREDICTIONS_FILE
    check_writable(out_path, (".csv",))
    image_set = load_image_set(test_path)
    network = load_network(model_path)
    classifier = load_classifier(mixture_path, network, model_path)
    predicted = classifier.predict(network.encode_set(image_set))
    atomic_write(out_path, lambda handle: write_predictions(handle, predicted))
    outputs.say(f"wrote {out_path}: {len(predicted)} predictions")
    if image_set.labels is None:
        return None
    scores = classification_scores(image_set.labels, predicted)
    outputs.say(format_scores(scores))
    return scores


# ----------------------------------------------------------------------------------- evaluate


def evaluate(truth_path: str, output_paths: list[str], outputs: Outputs) -> dict:
    """Score existing outputs (.npz reconstructions, .csv predictions) against a truth npz."""
    if not output_paths:
        output_paths = [path for path in (RECONSTRUCTION_FILE, PREDICTIONS_FILE) if os.path.exists(path)]
        if not output_paths:
            raise InputError(f"nothing to evaluate: neither {RECONSTRUCTION_FILE} nor {PREDICTIONS_FILE} is in this "
                             "folder")
    truth = load_image_set(truth_path)
    results = {}
    for path in output_paths:
        if path.endswith(".csv"):
            if truth.labels is None:
                raise InputError(f"{truth_path}: has no 'labels' to score {path} against")
            predicted = read_predictions(path, len(truth))
            results[path] = classification_scores(truth.labels, predicted)
        else:
            output = load_image_set(path, labels="ignored")
            if len(output) != len(truth):
                raise InputError(f"{path}: has {len(output)} images but {truth_path} has {len(truth)}")
            side = IMAGE_SIDE
            pairs = zip(truth.batches(BATCH), output.batches(BATCH))
            shaped = ((t.reshape(-1, side, side), o.reshape(-1, side, side)) for t, o in pairs)
            results[path] = batched_reconstruction_scores(shaped)
        outputs.say(f"{path} against {truth_path}:\n{format_scores(results[path])}")
    return results


# -------------------------------------------------------------------------------------- plots


def plot(train_path: str, val_path: str, model_path: str, mixture_path: str, outputs: Outputs) -> list[str]:
    """Redraw train's figures from saved files."""
    plots_dir = outputs.plots_dir(model_path)
    check_folder_writable(plots_dir)
    train_set = load_image_set(train_path, labels="ignored")
    val_set = load_image_set(val_path, labels="required")
    network = load_network(model_path)
    classifier = load_classifier(mixture_path, network, model_path)
    from vae.assignment.figures import draw_plots  # matplotlib: about a second of start-up

    written = draw_plots(network, classifier, network.encode_set(train_set), val_set, network.encode_set(val_set),
                         plots_dir)
    outputs.say(f"wrote {len(written)} plots in {plots_dir}")
    return written
