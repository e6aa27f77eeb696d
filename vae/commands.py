"""The commands behind vae.py: plain functions that take paths and options and write files.

Data flows one way: npz files -> images -> network -> latent means -> mixture -> output files.
Only ``train`` imports torch; the test commands run the network in numpy (see vae.network).
"""

import csv
import io
import os
import time
from dataclasses import asdict, dataclass, replace

import numpy as np

from vae import checkpoint, distributed
from vae.data import IMAGE_SIDE, ImageSet, load_image_set
from vae.errors import InputError, first_line, open_for_reading
from vae.gmm import MixtureClassifier, fit_classifier
from vae.config import MixtureOptions, ModelConfig, TrainConfig
from vae.metrics import batched_reconstruction_scores, classification_scores
from vae.network import BATCH, REFINE_BATCH, LatticeSearch, Network

RECONSTRUCTION_FILE = "vae_reconstructed.npz"
PREDICTIONS_FILE = "vae.csv"
PREDICTIONS_HEADER = "Predicted_Label"
MAX_PARAMETERS = 20_000_000  # the assignment's limit


@dataclass
class Outputs:
    quiet: bool = False
    plots: str | None = None  # a folder; None: the default for the command, "": no plots

    def __post_init__(self):
        self.quiet = self.quiet or not distributed.is_writer()  # under torchrun only rank 0 prints

    def say(self, text: str) -> None:
        if not self.quiet:
            print(text, flush=True)


# ------------------------------------------------------------------------------------------ train


def train(train_path, val_path, model_path, mixture_path, model_config: ModelConfig, train_config: TrainConfig, mixture: MixtureOptions, outputs: Outputs) -> dict:
    """Train the VAE on TRAIN (never reading its labels), fit the mixture, write vae.pth and gmm_params.pkl."""
    for path in (model_path, mixture_path):
        check_writable(path)
    plots_dir = _plots_dir(outputs, model_path)
    if plots_dir:
        check_folder_writable(plots_dir)
    train_set = load_image_set(train_path, labels="ignored")
    val_set = load_image_set(val_path, labels="required")
    classes = val_set.classes()
    if len(classes) < 2:
        raise InputError(f"{val_path}: its labels name only one class ({classes[0]}); the classifier needs at least two")

    # torch and scipy only here: the test commands never need them
    from vae.propagation import describe_propagation, propagate_image_labels
    from vae.training import describe, import_optimizer_in_background, resolve_device, train_model

    try:
        resolve_device(train_config.device)
    except (RuntimeError, ValueError) as error:
        raise InputError(f"--device {train_config.device}: {first_line(error)}") from None

    if train_config.loss.prior_components is None:
        train_config = replace(train_config, loss=replace(train_config.loss, prior_components=len(classes)))
    if train_config.loss.prior_components and model_config.latent_dim < 2:
        raise InputError(f"--latent-dim {model_config.latent_dim}: the mixture prior needs at least 2 latent dimensions; or use --prior-components 0")
    for option, weight in (("--anchor-weight", train_config.loss.anchor), ("--propagation-weight", train_config.loss.propagation)):
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
        raise InputError(f"--hidden {','.join(map(str, model_config.hidden))}: {parameters:,} parameters, over the limit of {MAX_PARAMETERS:,}")
    outputs.say(f"training on {len(train_set)} images from {train_path} ({parameters:,} parameters, {train_config.epochs} epochs, seed {train_config.seed})")
    start = time.perf_counter()
    import_optimizer_in_background()
    propagated = None
    if train_config.loss.propagation:
        propagated = propagate_image_labels(train_images, val_images, val_classes, len(classes))
        outputs.say(describe_propagation(propagated, classes))
    model, history = train_model(train_images, model_config, train_config, anchors=anchors, propagated=propagated, quiet=outputs.quiet)
    train_seconds = time.perf_counter() - start
    if not distributed.is_writer():  # under torchrun rank 0 alone fits the mixture and writes
        return {"seconds": train_seconds, "parameters": parameters, "history": history}

    state = {name: tensor.detach().cpu().numpy() for name, tensor in model.state_dict().items()}
    network = Network.from_state(model_config, state)
    train_latent = network.encode_set(train_set)
    val_latent = network.encode_set(val_set)
    classifier = fit_classifier(
        train_latent, val_latent, val_set.labels,
        components_per_class=mixture.components_per_class, reg_covar=mixture.reg_covar, tol=mixture.tol, max_iter=mixture.max_iter,
        covariance_type=mixture.covariance_type,
    )
    total_seconds = time.perf_counter() - start
    record = {
        "training": _plain(asdict(train_config)),
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
    outputs.say(
        f"trained in {train_seconds:.1f} s; " + "; ".join(describe(stats, stats.epoch).strip() for stats in last.values()) + "\n"
        f"mixture: {len(classifier.component_labels)} components for classes {', '.join(map(str, classes))}; "
        f"EM {'converged' if report.converged else 'did NOT converge'} after {report.iterations} iterations; "
        f"mean log-likelihood {report.log_likelihood:.4f}\n"
        f"validation accuracy of the mixture {val_scores['accuracy']:.3f} (on the {len(val_set)} images that seeded it)\n"
        f"wrote {model_path} and {mixture_path} ({total_seconds:.1f} s for training and mixture)"
    )
    if plots_dir:
        written = draw_plots(network, classifier, train_latent, val_set, val_latent, plots_dir)
        outputs.say(f"wrote {len(written)} plots in {plots_dir}")
    return {"seconds": total_seconds, "parameters": parameters, "history": history, "mixture": report}


def _plain(value):
    """Dataclass dicts as builtins only (tuples to lists), so that vae.pth holds nothing exotic."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


# ------------------------------------------------------------------------------ test commands


def load_network(model_path: str) -> Network:
    config, state, _record = checkpoint.load_model(model_path)
    try:
        return Network.from_state(config, state)
    except ValueError as error:
        raise InputError(f"{model_path}: {error}") from None


def load_classifier(mixture_path: str, network: Network, model_path: str) -> MixtureClassifier:
    try:
        classifier = MixtureClassifier.from_params(checkpoint.load_mixture(mixture_path))
    except ValueError as error:
        raise InputError(f"{mixture_path}: damaged mixture file ({error})") from None
    dim = classifier.mixture.means.shape[1]
    if dim != network.config.latent_dim:
        raise InputError(f"{mixture_path}: its latent size is {dim} but {model_path} encodes to {network.config.latent_dim}; were they trained together?")
    return classifier


def test_reconstruction(recon_path: str, model_path: str, out_path: str | None, outputs: Outputs, search: str = "grid") -> dict:
    """Write the reconstructions of RECON's images (same shape as its 'data', float32 in [0, 1])."""
    out_path = out_path or RECONSTRUCTION_FILE
    check_writable(out_path)
    image_set = load_image_set(recon_path, labels="ignored")
    network = load_network(model_path)
    pairs = ((images.reshape(decoded.shape), decoded) for _, images, decoded in _reconstructed_batches(network, image_set, search))
    scores = checkpoint.write_images(out_path, image_set, pairs, batched_reconstruction_scores)
    outputs.say(f"wrote {out_path}: {len(image_set)} reconstructions\n{format_scores(scores)}")
    return scores


def reconstruct(network: Network, image_set: ImageSet, search: str = "grid") -> np.ndarray:
    """Every image decoded from its posterior mean moved by a latent search (see SEARCHES);
    (N, 28, 28) float32 in [0, 1]."""
    return np.concatenate([decoded for _, _, decoded in _reconstructed_batches(network, image_set, search)])


def _reconstructed_batches(network: Network, image_set: ImageSet, search: str):
    """(slice, images (B, 784), reconstructions (B, 28, 28)) for consecutive batches of the set."""
    side = network.config.input_side
    refine = None if search == "none" else LatticeSearch(network).refine if search == "lattice" else network.refine
    batch = REFINE_BATCH if refine else BATCH
    for start, images in zip(range(0, len(image_set), batch), image_set.batches(batch)):
        latent = network.encode(images)
        if refine:
            latent = refine(images, latent)
        yield slice(start, start + len(images)), images, network.decode(latent).reshape(-1, side, side)


def test_classifier(test_path: str, model_path: str, mixture_path: str, out_path: str | None, outputs: Outputs) -> dict | None:
    """Write one predicted label per TEST image, in input order; print scores when TEST has labels."""
    out_path = out_path or PREDICTIONS_FILE
    check_writable(out_path)
    image_set = load_image_set(test_path)
    network = load_network(model_path)
    classifier = load_classifier(mixture_path, network, model_path)
    predicted = classifier.predict(network.encode_set(image_set))
    checkpoint.atomic_write(out_path, lambda handle: write_predictions(handle, predicted))
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
            raise InputError(f"nothing to evaluate: neither {RECONSTRUCTION_FILE} nor {PREDICTIONS_FILE} is in this folder")
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
            results[path] = batched_reconstruction_scores((t.reshape(-1, side, side), o.reshape(-1, side, side)) for t, o in pairs)
        outputs.say(f"{path} against {truth_path}:\n{format_scores(results[path])}")
    return results


def write_predictions(handle, predicted: np.ndarray, rows: int = 65536) -> None:
    """vae.csv: the header, then one label per line, written in blocks so memory stays bounded."""
    handle.write(f"{PREDICTIONS_HEADER}\n".encode())
    for start in range(0, len(predicted), rows):
        handle.write(("\n".join(map(str, predicted[start:start + rows].tolist())) + "\n").encode())


def read_predictions(path: str, count: int) -> np.ndarray:
    """Labels from a vae.csv file (header Predicted_Label, one integer per row)."""
    with open_for_reading(path, "a predictions file") as handle:
        try:
            rows = list(csv.reader(io.TextIOWrapper(handle, newline="")))
        except (OSError, UnicodeDecodeError, csv.Error) as error:
            raise InputError(f"{path}: cannot read ({error})") from None
    if not rows or rows[0] != [PREDICTIONS_HEADER]:
        raise InputError(f"{path}: the first line must be the header {PREDICTIONS_HEADER}")
    try:
        labels = np.array([int(row[0]) for row in rows[1:] if row], dtype=np.int64)
    except (ValueError, IndexError):
        raise InputError(f"{path}: every row after the header must be one integer label") from None
    if len(labels) != count:
        raise InputError(f"{path}: has {len(labels)} predictions but the truth has {count} images")
    return labels


def format_scores(scores: dict) -> str:
    names = {
        "mse": "MSE", "ssim": "SSIM", "score": "(1 - MSE + SSIM) / 2", "psnr": "PSNR (dB)",
        "accuracy": "accuracy", "precision_macro": "precision (macro)", "recall_macro": "recall (macro)",
        "f1_macro": "F1 (macro)", "f1_micro": "F1 (micro)", "f1_average": "F1 average (macro+micro)/2",
    }
    return "\n".join(f"  {names[key]:<28} {value:.4f}" for key, value in scores.items())


# -------------------------------------------------------------------------------------- plots


def plot(train_path: str, val_path: str, model_path: str, mixture_path: str, outputs: Outputs) -> list[str]:
    """Redraw train's figures from saved files."""
    plots_dir = _plots_dir(outputs, model_path)
    check_folder_writable(plots_dir)
    train_set = load_image_set(train_path, labels="ignored")
    val_set = load_image_set(val_path, labels="required")
    network = load_network(model_path)
    classifier = load_classifier(mixture_path, network, model_path)
    written = draw_plots(network, classifier, network.encode_set(train_set), val_set, network.encode_set(val_set), plots_dir)
    outputs.say(f"wrote {len(written)} plots in {plots_dir}")
    return written


def draw_plots(network: Network, classifier: MixtureClassifier, train_latent, val_set: ImageSet, val_latent, plots_dir: str) -> list[str]:
    from vae import plots  # matplotlib costs about a second of start-up; only plotting pays it

    side = network.config.input_side
    predicted = classifier.predict(train_latent)
    mixture = classifier.mixture
    figures = {
        "reconstructions.png": plots.reconstructions(
            val_set.images().reshape(-1, side, side), reconstruct(network, val_set), val_set.labels
        ),
        "latent_scatter.png": plots.latent_scatter(train_latent, predicted, classifier.classes, val_latent, val_set.labels),
        "gmm_ellipses.png": plots.mixture_ellipses(
            train_latent, predicted, classifier.classes, mixture.weights, mixture.means, mixture.covariances,
            classifier.component_labels, val_latent, val_set.labels,
        ),
    }
    if network.config.latent_dim == 2:
        decoded = network.decode(plots.manifold_grid(train_latent)).reshape(-1, side, side)
        figures["manifold.png"] = plots.manifold(decoded)
    return plots.save_all(figures, plots_dir)


def _plots_dir(outputs: Outputs, model_path: str) -> str:
    if outputs.plots is None:
        return os.path.join(os.path.dirname(os.path.abspath(model_path)), "plots")
    return outputs.plots


def check_writable(path: str) -> None:
    """Fail early, before any work, when an output file cannot be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory; give a file name")
    if not os.path.isdir(folder):
        raise InputError(f"{path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise InputError(f"{path}: the folder {folder} is not writable")


def check_folder_writable(folder: str) -> None:
    """Fail early when a folder of outputs (the plots) can neither be used nor made."""
    existing = os.path.abspath(folder)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise InputError(f"{folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK):
        raise InputError(f"{folder}: the folder {existing} is not writable")
