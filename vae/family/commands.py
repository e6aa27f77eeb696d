"""The family's commands behind vae.py: fit, reconstruct, denoise, generate, classify (anomaly: anomaly.py,
sweep: sweep.py).

Data flows one way, as in the assignment: arrays or a folder of image files -> images (N, C, S, S) -> network
(models/) -> latent -> decoded images, samples or class predictions -> output files and figures. The model file
(MODEL.pth) holds the network's configuration, its weights and a record of its training.
"""

import os
import time

import numpy as np
import torch

from vae.core.data import Reading, in_layout, load_image_set, named
from vae.core.errors import InputError
from vae.core.io import (
    atomic_write,
    check_folder_writable,
    check_outside,
    check_writable,
    is_folder_output,
    picture_names,
    write_array,
    write_images,
    write_pictures,
    write_predictions,
)
from vae.core.metrics import classification_scores, image_quality
from vae.core.report import Outputs, counted, format_scores
from vae.core.sample_quality import NEAREST
from vae.family.config import AutoencoderConfig, FitConfig
from vae.family.fitting import fit_set
from vae.family.inference import (
    batch_size,
    decode_draws,
    decoded_batches,
    decoded_pairs,
    encode_set,
    load_autoencoder,
    load_images_for,
    save_autoencoder,
    trained_as,
)
from vae.family.reference import (
    FEATURES,
    features,
    load_reference,
    record_of,
    sample_scores,
    save_reference,
    train_reference,
)
from vae.family.sampling import default_sampler, latent_draws
from vae.nn.training import describe

RECONSTRUCTED_FILE, DENOISED_FILE = "reconstructed.npz", "denoised.npz"
SAMPLES_FILE, PREDICTIONS_FILE = "samples.npz", "predictions.csv"
MAX_SAMPLES = 1_000_000  # generate holds its samples in memory: 3 GB of RGB images at this count
HEAD_SCORES = ("accuracy", "precision_macro", "recall_macro", "f1_macro")


def fit(train_path: str, model_path: str, config: AutoencoderConfig, fit_config: FitConfig, head: bool,
        outputs: Outputs, reading: Reading = Reading()) -> dict:
    """Train one of the family's networks on TRAIN (arrays, or a folder of images read as ``reading`` says) and
    write MODEL.pth (and the figures)."""
    check_writable(model_path)
    # each model's figures in a folder of its own: two models fitted side by side never mix theirs
    plots_dir = outputs.plots_dir(model_path, os.path.splitext(os.path.basename(model_path))[0] + "_plots")
    if plots_dir:
        check_folder_writable(plots_dir)
    train_set = load_image_set(train_path, labels="required" if head else "optional", rgb=True, reading=reading,
                               quiet=outputs.quiet, say=outputs.say)
    reading.check_given(train_set, train_path)
    result = fit_set(train_set, config, fit_config, head, outputs.say, outputs.quiet)
    model, record, fitted, seconds = result.model, result.record, result.fitted, result.seconds
    history = fitted.history
    if record is None:  # under torchrun rank 0 alone writes
        return {"seconds": seconds, "parameters": None, "history": history}
    save_autoencoder(model_path, model, record)
    parameters = sum(tensor.numel() for tensor in model.parameters())
    kept = history[-1]
    stopped = ""
    if fitted.best_epoch:  # the weights are the best epoch's: its losses are the ones shown
        kept = history[fitted.best_epoch - 1]
        stopped = (f"; kept epoch {fitted.best_epoch} of {len(history)} (the lowest held-out loss, "
                   f"{min(fitted.held_out_losses):.3f})")
    elif fitted.best_epoch == 0:
        stopped = "; no epoch lowered the held-out loss (not a number): the last epoch's weights are kept"
    outputs.say(f"fitted in {seconds:.1f} s ({parameters:,} parameters){stopped}; "
                f"{describe(kept, fitted.plan.epochs).strip()}\nwrote {model_path}")
    if plots_dir:
        from vae.family.figures import draw_fit_plots  # matplotlib: about a second of start-up

        written = draw_fit_plots(model, record, train_set, history, fit_config, plots_dir)
        outputs.say(f"wrote {len(written)} plots in {plots_dir}")
    return {"seconds": seconds, "parameters": parameters, "history": history}


def reconstruct(data_path: str, model_path: str, out_path: str | None, outputs: Outputs,
                skip_unreadable: bool = False) -> dict:
    """Write each image decoded from its latent mean (the input's own shape, or a PNG per image in a folder); print
    MSE, PSNR and SSIM against it."""
    return _decode_to_file(data_path, model_path, out_path or RECONSTRUCTED_FILE, None, outputs, skip_unreadable)


def denoise(noisy_path: str, model_path: str, out_path: str | None, truth_path: str | None, outputs: Outputs,
            skip_unreadable: bool = False) -> dict:
    """Write the denoised images; print MSE, PSNR and SSIM against --truth (the clean images) or else the input."""
    return _decode_to_file(noisy_path, model_path, out_path or DENOISED_FILE, truth_path, outputs, skip_unreadable)


def _decode_to_file(data_path, model_path, out_path, truth_path, outputs: Outputs, skip_unreadable: bool) -> dict:
    check_writable(out_path, (".npz", ".npy"), folders=True)
    if is_folder_output(out_path):
        check_outside(out_path, data_path, *([truth_path] if truth_path else []))
    model, record = load_autoencoder(model_path)
    image_set = load_images_for(model, data_path, model_path, skip_unreadable=skip_unreadable, outputs=outputs)
    truth = image_set
    if truth_path:
        truth = load_images_for(model, truth_path, model_path, skip_unreadable=skip_unreadable, outputs=outputs)
        if len(truth) != len(image_set):
            raise InputError(f"{truth_path}: has {len(truth)} images but {data_path} has {len(image_set)}")
        if image_set.files is not None and truth.files is not None:
            stems = [[os.path.splitext(name)[0] for name in files] for files in (image_set.files, truth.files)]
            first = next((index for index, pair in enumerate(zip(*stems)) if pair[0] != pair[1]), None)
            if first is not None:  # a.png may stand for a.jpg: only the names must match
                raise InputError(f"{truth_path}: its image {truth.files[first]} stands where {data_path} has "
                                 f"{image_set.files[first]}; the clean images must have the noisy ones' names")
    pairs = decoded_pairs(truth, decoded_batches(model, image_set))
    scores = write_images(out_path, image_set, pairs, lambda pairs: image_quality(pairs, image_set.channels))
    outputs.say(f"{model_path}: {trained_as(model, record)}")  # after the files: a reader that stops early loses none
    outputs.say(f"wrote {out_path}: {len(image_set)} images\n" + format_scores(scores) + f"\n  (against {truth.path})")
    if truth is not image_set:
        _compare_with_input(scores, image_quality(decoded_pairs(truth, image_set.batches(batch_size(image_set))),
                                                    image_set.channels),
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


def generate(model_path: str, count: int, out_path: str | None, seed: int, outputs: Outputs, sampler: str | None = None,
             against: str | None = None, reference_path: str | None = None) -> dict:
    """Write ``count`` new images decoded from draws of ``sampler`` (TRAIN's shape each; or a PNG each in a folder),
    and a PNG grid of the first 100 beside them; with ``against`` (a set of real images) and a reference network,
    print the samples' Fréchet distance and precision/recall against it. The scores, if any."""
    out_path = out_path or SAMPLES_FILE
    folder = is_folder_output(out_path)
    # the grid goes beside the output: samples.npz -> samples.png, a folder DIR/ -> DIR.png
    picture = (os.path.abspath(out_path) if folder else os.path.splitext(out_path)[0]) + ".png"
    if not 1 <= count <= MAX_SAMPLES:
        raise InputError(f"N {count:,}: from 1 to {MAX_SAMPLES:,} samples at a time")
    if against and not reference_path:
        raise InputError("--against: give --reference REF.pth too, the network whose features the samples are "
                         "judged in (vae.py reference TRAIN REF.pth makes one)")
    if against and count <= NEAREST:
        raise InputError(f"N {count}: scoring against real images takes at least {NEAREST + 1} samples (precision "
                         f"and recall use each sample's {NEAREST} nearest neighbours)")
    check_writable(out_path, (".npz", ".npy"), folders=True)  # so the grid beside it (.png) is never the same file
    check_writable(picture)
    model, record = load_autoencoder(model_path)
    sampler = sampler or default_sampler(model)
    config = model.config
    judge = against and judged_against(against, reference_path, model, model_path, outputs)
    samples = decode_draws(model, latent_draws(model, sampler, count, seed, record, model_path))
    scores = judge(samples) if judge else {}  # before anything is written: a failure leaves nothing behind
    if folder:
        write_pictures(out_path, picture_names(count), samples, config.channels)
    else:
        write_array(out_path, in_layout(samples, config.sample_shape))
    from vae.core.plots import save  # matplotlib: about a second of start-up
    from vae.family.figures import samples_figure

    save(samples_figure(samples[:100], config.channels, sampler), picture)
    shape = "×".join(map(str, config.sample_shape))
    outputs.say(f"{model_path}: {trained_as(model, record)}")  # after the files: a reader that stops early loses none
    outputs.say(f"wrote {out_path}: {count} samples of shape {shape} from the {sampler}, and {picture}")
    if judge:
        outputs.say(f"against {against}, in the features of {reference_path}:\n" + format_scores(scores))
    return scores


def judged_against(real_path: str, reference_path: str, model, model_path: str, outputs: Outputs):
    """A function scoring samples against the real images of ``real_path`` in the reference network's features,
    once both files are read and checked against the model."""
    reference = load_reference(reference_path, model.config.image_size, model.config.channels, f"{model_path} makes")
    real = load_images_for(model, real_path, model_path, outputs=outputs)
    if len(real) <= NEAREST:
        raise InputError(f"{real_path}: {counted(len(real), 'image')}; scoring samples against real images takes at "
                         f"least {NEAREST + 1}")
    real_features = real.map_batches(lambda batch: features(reference, batch), FEATURES, batch_size(real))
    return lambda samples: sample_scores(real_features, features(reference, samples))


def classify(data_path: str, model_path: str, out_path: str | None, outputs: Outputs,
             skip_unreadable: bool = False) -> dict | None:
    """Write the head's class for each image (header Predicted_Label, input order; File,Predicted_Label for a folder
    of images); print scores when DATA has labels."""
    out_path = out_path or PREDICTIONS_FILE
    check_writable(out_path, (".csv",))
    model, record = load_autoencoder(model_path)
    if model.head is None:
        raise InputError(f"{model_path}: has no classifier head; fit it with --head")
    image_set = load_images_for(model, data_path, model_path, labels="optional", skip_unreadable=skip_unreadable,
                                outputs=outputs)
    with torch.no_grad():
        indices = model.classify(torch.from_numpy(encode_set(model, image_set))).argmax(dim=1).numpy()
    known = named(model.config.head_classes, model.config.class_names)
    predicted = known[indices]
    atomic_write(out_path, lambda handle: write_predictions(handle, predicted, image_set.files))
    outputs.say(f"{model_path}: {trained_as(model, record)}")  # after the files: a reader that stops early loses none
    outputs.say(f"wrote {out_path}: {len(predicted)} predictions")
    if image_set.labels is None:
        return None
    truth = image_set.label_names()
    unknown = ~np.isin(truth, known)
    if unknown.any():
        classes = ", ".join(np.unique(truth[unknown]))
        outputs.say(f"note: {unknown.sum():,} of {len(unknown):,} images belong to classes the model does not know "
                    f"({classes}); they count as misclassified below")
    scores = {name: value for name, value in classification_scores(truth, predicted).items()
              if name in HEAD_SCORES}
    outputs.say(format_scores(scores))
    return scores


def reference(train_path: str, reference_path: str, epochs: int, seed: int, device: str, outputs: Outputs,
              reading: Reading = Reading()) -> float:
    """Train the reference network on TRAIN's labels and write REF.pth; its training accuracy."""
    check_writable(reference_path)
    train_set = load_image_set(train_path, labels="required", rgb=True, reading=reading, quiet=outputs.quiet,
                               say=outputs.say)
    reading.check_given(train_set, train_path)
    train_set.check_classes("the reference network")
    outputs.say(f"training the reference network on {len(train_set)} images of {len(train_set.classes())} classes "
                f"from {train_path}, {counted(epochs, 'epoch')}, seed {seed}")
    start = time.perf_counter()
    network, accuracy = train_reference(train_set, epochs, seed, device, outputs.quiet)
    seconds = time.perf_counter() - start
    save_reference(reference_path, network, record_of(train_set, epochs, seed, accuracy, seconds))
    outputs.say(f"trained in {seconds:.1f} s; training accuracy {accuracy:.4f}\nwrote {reference_path}")
    return accuracy
