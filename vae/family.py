"""The family's commands behind vae.py: fit, reconstruct, denoise, generate, classify (anomaly: vae.anomaly).

Data flows one way, as in commands.py: npz -> images (N, C, 28, 28) -> network (vae.models) ->
latent -> decoded images, samples or class predictions -> output files and figures. The model file
(MODEL.pth) holds the network's configuration, its weights and a record of its training.
"""

import os
import time
from dataclasses import asdict, fields, replace

import numpy as np

from vae import checkpoint, distributed
from vae.commands import Outputs, _plain, _plots_dir, check_folder_writable, check_writable, format_scores, write_predictions
from vae.config import AutoencoderConfig, FitConfig
from vae.data import ImageSet, in_layout, load_image_set
from vae.errors import InputError, first_line
from vae.metrics import classification_scores, image_quality

RECONSTRUCTED_FILE, DENOISED_FILE, SAMPLES_FILE, PREDICTIONS_FILE = "reconstructed.npz", "denoised.npz", "samples.npz", "predictions.csv"
BATCH = 1024  # images per inference pass
MAX_SAMPLES = 1_000_000  # generate holds its samples in memory: 3 GB of RGB images at this count
HEAD_SCORES = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


# -------------------------------------------------------------------------------------------- fit


def fit(train_path: str, model_path: str, config: AutoencoderConfig, fit_config: FitConfig, head: bool, outputs: Outputs) -> dict:
    """Train one of the family's networks on TRAIN and write MODEL.pth (and the figures)."""
    check_writable(model_path)
    plots_dir = _plots_dir(outputs, model_path)
    if plots_dir:
        check_folder_writable(plots_dir)
    train_set = load_image_set(train_path, labels="required" if head else "optional", rgb=True)
    if fit_config.sparsity and config.model != "ae":
        raise InputError(f"--sparsity {fit_config.sparsity:g}: the sparsity penalty is for a plain autoencoder (--model ae)")
    classes = train_set.classes() if head else np.array([], dtype=np.int64)
    if head and len(classes) < 2:
        raise InputError(f"{train_path}: its labels name only one class; the classifier head needs at least two")
    config = replace(
        config, channels=train_set.channels, sample_shape=train_set.stored_shape[1:], sparse=bool(fit_config.sparsity),
        head_classes=tuple(int(label) for label in classes),
    )

    from vae.fitting import fit_autoencoder  # torch only from here
    from vae.training import describe, resolve_device

    try:
        resolve_device(fit_config.device)
    except (RuntimeError, ValueError) as error:
        raise InputError(f"--device {fit_config.device}: {first_line(error)}") from None
    # A memory-mapped set (.npy) is read a batch at a time; any other is converted once, in memory.
    images = train_set if train_set.mapped() else train_set.images().reshape(-1, *train_set.tensor_shape())
    targets = np.searchsorted(classes, train_set.labels) if head else None
    outputs.say(f"fitting a {config.arch} {config.model.upper()} (latent {config.latent_dim}) on {len(train_set)} images from {train_path}, "
                f"{fit_config.epochs} epochs, seed {fit_config.seed}")
    start = time.perf_counter()
    model, history = fit_autoencoder(images, config, fit_config, targets, quiet=outputs.quiet)
    seconds = time.perf_counter() - start
    if not distributed.is_writer():  # under torchrun rank 0 alone writes
        return {"seconds": seconds, "parameters": None, "history": history}
    from vae.anomaly import reconstruction_scores, training_thresholds

    record = {
        "fit": asdict(fit_config),
        "train_images": len(train_set),
        "epochs_loss": [round(stats.loss, 6) for stats in history],
        "fit_seconds": round(seconds, 3),
        "anomaly": {"thresholds": training_thresholds(reconstruction_scores(model, train_set), fit_config.anomaly_quantile)},
    }
    checkpoint.save_model(model_path, config, model.state_dict(), _plain(record), mark=checkpoint.FAMILY_FORMAT)
    parameters = sum(tensor.numel() for tensor in model.parameters())
    outputs.say(f"fitted in {seconds:.1f} s ({parameters:,} parameters); {describe(history[-1], fit_config.epochs).strip()}\nwrote {model_path}")
    if plots_dir:
        written = draw_fit_plots(model, train_set, history, fit_config, plots_dir)
        outputs.say(f"wrote {len(written)} plots in {plots_dir}")
    return {"seconds": seconds, "parameters": parameters, "history": history}


# ---------------------------------------------------------------------------- the model file


def load_autoencoder(path: str):
    """MODEL.pth from ``fit`` as a network in eval mode on the CPU, and its record; read safely (see vae.checkpoint)."""
    import torch

    from vae.models import Autoencoder

    raw, state, record = checkpoint.read_checkpoint(path, checkpoint.FAMILY_FORMAT, "family model")
    try:
        model = Autoencoder(config_from_dict(AutoencoderConfig, raw))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise InputError(f"{path}: damaged model configuration ({first_line(error)})") from None
    if not all(np.all(np.isfinite(value)) for value in state.values()):
        raise InputError(f"{path}: its weights contain NaN or infinite values")
    try:
        model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
    except (RuntimeError, TypeError) as error:
        raise InputError(f"{path}: its weights do not match its architecture ({first_line(error)})") from None
    return model.eval(), record


def config_from_dict(cls, raw: dict):
    """A config dataclass from a model file's dict, each value converted to its field's default's type."""
    defaults = cls()
    values = {}
    for field in fields(cls):
        default = getattr(defaults, field.name)
        value = raw[field.name]
        values[field.name] = tuple(int(item) for item in value) if isinstance(default, tuple) else type(default)(value)
    return cls(**values)


def load_images_for(model, path: str, model_path: str, labels: str = "ignored") -> ImageSet:
    """An image set for a fitted model: its channel count must be the one the model was fitted on."""
    image_set = load_image_set(path, labels=labels, rgb=True)
    if image_set.channels != model.config.channels:
        raise InputError(f"{path}: has {image_set.channels}-channel images but {model_path} was fitted on {model.config.channels}-channel images")
    return image_set


# ---------------------------------------------------------------------------- reconstructions


def reconstruct(data_path: str, model_path: str, out_path: str | None, outputs: Outputs) -> dict:
    """Write each image decoded from its latent mean (the input's own shape), and print MSE, PSNR and SSIM against the input."""
    return _decode_to_file(data_path, model_path, out_path or RECONSTRUCTED_FILE, None, outputs)


def denoise(noisy_path: str, model_path: str, out_path: str | None, truth_path: str | None, outputs: Outputs) -> dict:
    """Write the denoised images; print MSE, PSNR and SSIM against --truth (the clean images) or else the noisy input."""
    return _decode_to_file(noisy_path, model_path, out_path or DENOISED_FILE, truth_path, outputs)


def _decode_to_file(data_path, model_path, out_path, truth_path, outputs: Outputs) -> dict:
    check_writable(out_path)
    model, _ = load_autoencoder(model_path)
    image_set = load_images_for(model, data_path, model_path)
    truth = image_set
    if truth_path:
        truth = load_images_for(model, truth_path, model_path)
        if len(truth) != len(image_set):
            raise InputError(f"{truth_path}: has {len(truth)} images but {data_path} has {len(image_set)}")
    pairs = decoded_pairs(truth, decoded_batches(model, image_set))
    scores = checkpoint.write_images(out_path, image_set, pairs, lambda pairs: image_quality(pairs, image_set.channels))
    outputs.say(f"wrote {out_path}: {len(image_set)} images\n" + format_scores(scores) + f"\n  (against {truth.path})")
    return scores


def decoded_batches(model, image_set: ImageSet):
    """Every image through the network (latent mean, decoded), as (B, C·784) float32 batches in [0, 1]."""
    import torch

    with torch.no_grad():
        for batch in image_set.batches(BATCH):
            mu, _ = model.encode(torch.from_numpy(batch).view(-1, *image_set.tensor_shape()))
            yield torch.sigmoid(model.decode(mu)).flatten(1).numpy()


def decode_set(model, image_set: ImageSet) -> np.ndarray:
    """Every image through the network, at once; (N, C·784) float32 in [0, 1]."""
    return np.concatenate(list(decoded_batches(model, image_set)))


def decoded_pairs(truth: ImageSet, decoded):
    """(truth batch, decoded batch) pairs of (B, C, H, W) images for vae.metrics; ``decoded``: (B, C·784) batches of BATCH in truth's order."""
    shape = (-1, *truth.tensor_shape())
    return ((batch.reshape(shape), output.reshape(shape)) for batch, output in zip(truth.batches(BATCH), decoded))


def encode_set(model, image_set: ImageSet) -> np.ndarray:
    """Latent means of every image, in batches; (N, latent_dim) float32."""
    import torch

    latent = np.empty((len(image_set), model.config.latent_dim), dtype=np.float32)
    with torch.no_grad():
        for start, batch in zip(range(0, len(image_set), BATCH), image_set.batches(BATCH)):
            latent[start:start + len(batch)] = model.encode(torch.from_numpy(batch).view(-1, *image_set.tensor_shape()))[0].numpy()
    return latent


# ----------------------------------------------------------------------------- generate, classify


def generate(model_path: str, count: int, out_path: str | None, seed: int, outputs: Outputs) -> np.ndarray:
    """Write ``count`` new images decoded from the prior (TRAIN's shape each), and a PNG grid of the first 100."""
    import torch

    out_path = out_path or SAMPLES_FILE
    picture = os.path.splitext(out_path)[0] + ".png"
    if count > MAX_SAMPLES:
        raise InputError(f"N {count:,}: at most {MAX_SAMPLES:,} samples at a time")
    check_writable(out_path)
    check_writable(picture)
    model, _ = load_autoencoder(model_path)
    if not model.variational:
        raise InputError(f"{model_path}: is a plain autoencoder (--model ae), which has no prior to sample; fit a VAE (--model vae) to generate")
    generator = torch.Generator().manual_seed(seed)
    config = model.config
    samples = np.empty((count, config.channels * 28 * 28), dtype=np.float32)
    for start in range(0, count, BATCH):
        samples[start:start + BATCH] = model.generate(min(BATCH, count - start), generator).flatten(1).numpy()
    checkpoint.atomic_write(out_path, lambda handle: np.savez(handle, data=in_layout(samples, config.sample_shape)))
    from vae import plots

    plots.save(plots.image_grid(for_display(samples[:100], config.channels), "samples from the prior"), picture)
    outputs.say(f"wrote {out_path}: {count} samples of shape {'×'.join(map(str, config.sample_shape))}, and {picture}")
    return samples


def classify(data_path: str, model_path: str, out_path: str | None, outputs: Outputs) -> dict | None:
    """Write the head's class for each image (header Predicted_Label, input order); print scores when DATA has labels."""
    import torch

    out_path = out_path or PREDICTIONS_FILE
    check_writable(out_path)
    model, _ = load_autoencoder(model_path)
    if model.head is None:
        raise InputError(f"{model_path}: has no classifier head; fit it with --head")
    image_set = load_images_for(model, data_path, model_path, labels="optional")
    with torch.no_grad():
        indices = model.classify(torch.from_numpy(encode_set(model, image_set))).argmax(dim=1).numpy()
    predicted = np.array(model.config.head_classes)[indices]
    checkpoint.atomic_write(out_path, lambda handle: write_predictions(handle, predicted))
    outputs.say(f"wrote {out_path}: {len(predicted)} predictions")
    if image_set.labels is None:
        return None
    scores = {name: value for name, value in classification_scores(image_set.labels, predicted).items() if name in HEAD_SCORES}
    outputs.say(format_scores(scores))
    return scores


# ------------------------------------------------------------------------------------------ plots


def for_display(images: np.ndarray, channels: int) -> np.ndarray:
    """(N, C·784) images as matplotlib shows them: (N, 28, 28) grey or (N, 28, 28, 3) RGB."""
    return in_layout(images, (28, 28) if channels == 1 else (28, 28, channels))


def draw_fit_plots(model, train_set: ImageSet, history, fit_config: FitConfig, plots_dir: str) -> list[str]:
    """reconstructions.png (noisy inputs too for a denoising model), latent_scatter.png, samples.png (VAE), loss_curves.png."""
    import torch

    from vae import plots

    channels = model.config.channels
    shown = ImageSet(train_set.path, train_set.pixels[:20], None if train_set.labels is None else train_set.labels[:20], train_set.stored_shape, channels)
    originals = shown.images()
    inputs = originals
    if fit_config.noise:
        rng = np.random.default_rng(fit_config.seed)
        inputs = np.clip(originals + rng.normal(0, fit_config.noise, originals.shape), 0, 1).astype(np.float32)
    decoded = decode_set(model, ImageSet(shown.path, inputs, None, shown.stored_shape, channels))
    noisy = for_display(inputs, channels) if fit_config.noise else None
    sample = ImageSet(train_set.path, train_set.pixels[:5000], None, train_set.stored_shape, channels)
    labels = None if train_set.labels is None else train_set.labels[:5000]
    figures = {
        "reconstructions.png": plots.reconstructions(for_display(originals, channels), for_display(decoded, channels), shown.labels, noisy=noisy),
        "latent_scatter.png": plots.latent_projection(encode_set(model, sample), labels),
        "loss_curves.png": plots.loss_curves(history),
    }
    if model.variational:
        samples = model.generate(100, torch.Generator().manual_seed(fit_config.seed)).flatten(1).numpy()
        figures["samples.png"] = plots.image_grid(for_display(samples, channels), "samples from the prior")
    return plots.save_all(figures, plots_dir)
