"""The family's commands behind vae.py: fit, reconstruct, denoise, generate, classify (anomaly: anomaly.py,
sweep: sweep.py).

Data flows one way, as in the assignment: npz -> images (N, C, 28, 28) -> network (models/) -> latent ->
decoded images, samples or class predictions -> output files and figures. The model file (MODEL.pth)
holds the network's configuration, its weights and a record of its training.
"""

import os
import time
from dataclasses import asdict, replace

import numpy as np
import torch

from vae.core import checkpoint
from vae.core.data import in_layout, load_image_set
from vae.core.errors import InputError
from vae.core.io import (
    atomic_write,
    check_folder_writable,
    check_writable,
    write_array,
    write_images,
    write_predictions,
)
from vae.core.metrics import classification_scores, image_quality
from vae.core.report import Outputs, counted, format_scores, is_writer
from vae.family.anomaly import anomaly_scores, training_thresholds
from vae.family.config import AutoencoderConfig, FitConfig
from vae.family.fitting import fit_autoencoder
from vae.family.inference import BATCH, decoded_batches, decoded_pairs, encode_set, load_autoencoder, load_images_for
from vae.nn.training import describe, resolve_device

RECONSTRUCTED_FILE, DENOISED_FILE = "reconstructed.npz", "denoised.npz"
SAMPLES_FILE, PREDICTIONS_FILE = "samples.npz", "predictions.csv"
MAX_SAMPLES = 1_000_000  # generate holds its samples in memory: 3 GB of RGB images at this count
HEAD_SCORES = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def fit(train_path: str, model_path: str, config: AutoencoderConfig, fit_config: FitConfig, head: bool,
        outputs: Outputs) -> dict:
    """Train one of the family's networks on TRAIN and write MODEL.pth (and the figures)."""
    check_writable(model_path)
    # each model's figures in a folder of its own: two models fitted side by side never mix theirs
    plots_dir = outputs.plots_dir(model_path, os.path.splitext(os.path.basename(model_path))[0] + "_plots")
    if plots_dir:
        check_folder_writable(plots_dir)
    train_set = load_image_set(train_path, labels="required" if head else "optional", rgb=True)
    classes = train_set.classes() if head else np.array([], dtype=np.int64)
    if head and len(classes) < 2:
        raise InputError(f"{train_path}: its labels name only one class; the classifier head needs at least two")
    config = replace(
        config, channels=train_set.channels, sample_shape=train_set.stored_shape[1:], sparse=bool(fit_config.sparsity),
        head_classes=tuple(int(label) for label in classes),
    )
    resolve_device(fit_config.device)
    # A memory-mapped set (.npy) is read a batch at a time; any other is converted once, in memory.
    images = train_set if train_set.mapped() else train_set.images().reshape(-1, *train_set.tensor_shape())
    targets = np.searchsorted(classes, train_set.labels) if head else None
    network = "an MLP" if config.arch == "mlp" else "a conv"
    outputs.say(f"fitting {network} {config.model.upper()} (latent {config.latent_dim}) on {len(train_set)} "
                f"images from {train_path}, {counted(fit_config.epochs, 'epoch')}, seed {fit_config.seed}")
    start = time.perf_counter()
    model, history = fit_autoencoder(images, config, fit_config, targets, quiet=outputs.quiet)
    seconds = time.perf_counter() - start
    if not is_writer():  # under torchrun rank 0 alone writes
        return {"seconds": seconds, "parameters": None, "history": history}
    record = {
        "fit": asdict(fit_config),
        "train_images": len(train_set),
        "epochs_loss": [round(stats.loss, 6) for stats in history],
        "fit_seconds": round(seconds, 3),
        "anomaly": {"thresholds": training_thresholds(anomaly_scores(model, train_set), fit_config.anomaly_quantile)},
    }
    checkpoint.save_model(model_path, config, model.state_dict(), checkpoint.plain(record),
                          mark=checkpoint.FAMILY_FORMAT)
    parameters = sum(tensor.numel() for tensor in model.parameters())
    outputs.say(f"fitted in {seconds:.1f} s ({parameters:,} parameters); "
                f"{describe(history[-1], fit_config.epochs).strip()}\nwrote {model_path}")
    if plots_dir:
        from vae.family.figures import draw_fit_plots  # matplotlib: about a second of start-up

        written = draw_fit_plots(model, train_set, history, fit_config, plots_dir)
        outputs.say(f"wrote {len(written)} plots in {plots_dir}")
    return {"seconds": seconds, "parameters": parameters, "history": history}


def reconstruct(data_path: str, model_path: str, out_path: str | None, outputs: Outputs) -> dict:
    """Write each image decoded from its latent mean (the input's own shape); print MSE, PSNR and SSIM against it."""
    return _decode_to_file(data_path, model_path, out_path or RECONSTRUCTED_FILE, None, outputs)


def denoise(noisy_path: str, model_path: str, out_path: str | None, truth_path: str | None, outputs: Outputs) -> dict:
    """Write the denoised images; print MSE, PSNR and SSIM against --truth (the clean images) or else the input."""
    return _decode_to_file(noisy_path, model_path, out_path or DENOISED_FILE, truth_path, outputs)


def _decode_to_file(data_path, model_path, out_path, truth_path, outputs: Outputs) -> dict:
    check_writable(out_path, (".npz", ".npy"))
    model, record = load_autoencoder(model_path)
    image_set = load_images_for(model, data_path, model_path)
    truth = image_set
    if truth_path:
        truth = load_images_for(model, truth_path, model_path)
        if len(truth) != len(image_set):
            raise InputError(f"{truth_path}: has {len(truth)} images but {data_path} has {len(image_set)}")
    pairs = decoded_pairs(truth, decoded_batches(model, image_set))
    scores = write_images(out_path, image_set, pairs, lambda pairs: image_quality(pairs, image_set.channels))
    outputs.say(f"wrote {out_path}: {len(image_set)} images\n" + format_scores(scores) + f"\n  (against {truth.path})")
    if truth is not image_set:
        _compare_with_input(scores, image_quality(decoded_pairs(truth, image_set.batches(BATCH)), image_set.channels),
                            record, model_path, outputs)
    return scores


def _compare_with_input(scores: dict, before: dict, record: dict, model_path: str, outputs: Outputs) -> None:
    """denoise --truth: the noisy input's own scores beside the output's, so that a model that makes images worse
    (one fitted without --noise, say) shows it."""
    outputs.say("the noisy input itself, against the same clean images:\n" + format_scores(before))
    if not record.get("fit", {}).get("noise"):
        outputs.say(f"note: {model_path} was fitted without --noise, not for denoising")
    if scores["ssim"] < before["ssim"]:
        outputs.say(f"note: the output is further from the clean images than the input was "
                    f"(SSIM {scores['ssim']:.4f} against {before['ssim']:.4f})")


def generate(model_path: str, count: int, out_path: str | None, seed: int, outputs: Outputs) -> np.ndarray:
    """Write ``count`` new images decoded from the prior (TRAIN's shape each), and a PNG grid of the first 100."""
    out_path = out_path or SAMPLES_FILE
    picture = os.path.splitext(out_path)[0] + ".png"
    if count > MAX_SAMPLES:
        raise InputError(f"N {count:,}: at most {MAX_SAMPLES:,} samples at a time")
    check_writable(out_path, (".npz", ".npy"))  # so the grid beside it (.png) is never the same file
    check_writable(picture)
    model, _ = load_autoencoder(model_path)
    if not model.variational:
        raise InputError(f"{model_path}: is a plain autoencoder (--model ae), which has no prior to sample; "
                         "fit a VAE (--model vae) to generate")
    generator = torch.Generator().manual_seed(seed)
    config = model.config
    samples = np.empty((count, config.channels * 28 * 28), dtype=np.float32)
    for start in range(0, count, BATCH):
        samples[start:start + BATCH] = model.generate(min(BATCH, count - start), generator).flatten(1).numpy()
    write_array(out_path, in_layout(samples, config.sample_shape))
    from vae.core.plots import save  # matplotlib: about a second of start-up
    from vae.family.figures import samples_figure

    save(samples_figure(samples[:100], config.channels), picture)
    shape = "×".join(map(str, config.sample_shape))
    outputs.say(f"wrote {out_path}: {count} samples of shape {shape}, and {picture}")
    return samples


def classify(data_path: str, model_path: str, out_path: str | None, outputs: Outputs) -> dict | None:
    """Write the head's class for each image (header Predicted_Label, input order); print scores when DATA has
    labels."""
    out_path = out_path or PREDICTIONS_FILE
    check_writable(out_path, (".csv",))
    model, _ = load_autoencoder(model_path)
    if model.head is None:
        raise InputError(f"{model_path}: has no classifier head; fit it with --head")
    image_set = load_images_for(model, data_path, model_path, labels="optional")
    with torch.no_grad():
        indices = model.classify(torch.from_numpy(encode_set(model, image_set))).argmax(dim=1).numpy()
    predicted = np.array(model.config.head_classes)[indices]
    atomic_write(out_path, lambda handle: write_predictions(handle, predicted))
    outputs.say(f"wrote {out_path}: {len(predicted)} predictions")
    if image_set.labels is None:
        return None
    unknown = ~np.isin(image_set.labels, model.config.head_classes)
    if unknown.any():
        classes = ", ".join(map(str, np.unique(image_set.labels[unknown])))
        outputs.say(f"note: {unknown.sum():,} of {len(unknown):,} images belong to classes the model does not know "
                    f"({classes}); they count as misclassified below")
    scores = {name: value for name, value in classification_scores(image_set.labels, predicted).items()
              if name in HEAD_SCORES}
    outputs.say(format_scores(scores))
    return scores
