"""Training the family's networks (``vae.py fit``): one loss, on the shared loop of vae/nn/training.py.

Per batch of images x (B, C, H, W) in [0, 1], the network sees x itself, or for a denoising model
x + N(0, noise²) clipped to [0, 1], and is scored against the clean x:

    loss = BCE(x, decoded)                        summed over pixels, as a Bernoulli likelihood
         + ssim_weight · (1 - SSIM(x, decoded))   scikit-image's SSIM, per channel; not with --loss elbo
         + beta · KL(q(z|x) || N(0, I))          a VAE's prior term (beta-VAE); beta 0 is an AE
         + sparsity · sum_j KL(rho || rho_j)       a sparse AE: rho_j = unit j's mean activation in the batch
         + head_weight · cross-entropy             the head on the latent mean, from TRAIN's labels

each averaged over the batch. With ``--loss elbo`` the loss is the textbook negative ELBO (β = 1; a β-VAE's
objective otherwise): no SSIM term, and x is dynamically binarised (each pixel 1 with its intensity's probability,
drawn anew each time), as the likelihoods published for MNIST are. The head's cross-entropy weighs each class by
the inverse of its share of TRAIN, so that a class with few images counts as much as a common one, and with a head
each image is moved by a random offset of up to ``head_shift`` pixels (side/14 unless given: vae/family/choices.py)
each time it is seen, so that the head's few examples of a rare class stand for more than themselves.
"""

import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from vae.core.data import ImageSet, release_pages, scaled_batch, to_unit_float
from vae.core.report import counted, is_writer
from vae.family.anomaly_scores import anomaly_record
from vae.family.choices import TrainingPlan, choose_network, decoder_for, training_plan
from vae.family.config import AutoencoderConfig, FitConfig
from vae.family.inference import encode_set
from vae.family.models import Autoencoder
from vae.family.sampling import check_components, fit_mixture
from vae.nn.losses import image_similarity, kl_divergence, pixel_loss, sparsity_penalty
from vae.nn.training import EarlyStopping, EpochStats, Phase, resolve_device, start_run, train_phase

SHOWN_TERMS = ("sparsity", "head", "accuracy")
# --loss elbo: β rises from 0 over this share of the planned steps (KL warm-up, Sønderby et al. 2016), so that the
# encoder learns what to carry before the prior's pull prunes it
ELBO_WARMUP = 0.3
HELD_OUT_BATCH = 256  # 28×28 held-out images per pass when judging an epoch (scaled_batch: fewer larger ones)


class BatchReader:
    """The images of a memory-mapped set (a .npy file or folder, vae.core.data) read a batch at a time, as
    float32 (B, C, H, W) tensors: fit's memory then stays bounded however large the file."""

    def __init__(self, image_set: ImageSet, device: torch.device):
        self.image_set, self.device = image_set, device

    def __len__(self) -> int:
        return len(self.image_set)

    def __getitem__(self, indices: torch.Tensor) -> torch.Tensor:
        pixels = self.image_set.pixels
        batch = to_unit_float(pixels[indices.cpu().numpy()]).reshape(-1, *self.image_set.tensor_shape())
        release_pages(pixels)
        return torch.from_numpy(batch).to(self.device)


def shaped_for(config: AutoencoderConfig, train_set: ImageSet, head: bool, sparse: bool,
               loss: str | None) -> tuple[AutoencoderConfig, list[str]]:
    """The network's settings fitted to TRAIN: its channels, side and stored shape, the sizes chosen for them and
    the decoder for ``loss`` (vae/family/choices.py), the head's classes and their names (a folder's class folders),
    a sigmoid code for a sparse AE; and a line saying why for each choice."""
    config, why = choose_network(config, train_set.side, train_set.channels, head, loss)
    return replace(
        config, channels=train_set.channels, image_size=train_set.side, sample_shape=train_set.stored_shape[1:],
        sparse=sparse, head_classes=tuple(int(label) for label in train_set.classes()) if head else (),
        class_names=train_set.class_names or (),
    ), why


@dataclass
class Fitted:
    """What a fit gives back: the network (eval mode, on the CPU), per-epoch means of every loss term, the plan it
    followed, and with a held-out slice the epoch whose weights it kept and each epoch's held-out loss."""

    model: Autoencoder
    history: list[EpochStats]
    plan: TrainingPlan
    held_out: np.ndarray | None = None  # (H,) indices in TRAIN of the images kept out of training
    best_epoch: int | None = None
    held_out_losses: list[float] = field(default_factory=list)

    def record(self) -> dict:
        """The plan and how it went, as MODEL.pth's record keeps them."""
        stopping = bool(self.plan.held_out)
        return {"epochs_planned": self.plan.epochs, "steps_budget": self.plan.steps or None,
                "held_out": self.plan.held_out, "patience": self.plan.patience if stopping else None,
                "earliest_stop": self.plan.earliest if stopping else None,
                "head_shift": self.plan.shift if self.model.head is not None else None,
                "epochs_run": len(self.history), "best_epoch": self.best_epoch,
                "held_out_loss": [round(loss, 6) for loss in self.held_out_losses]}


def fit_autoencoder(images: np.ndarray | ImageSet, config: AutoencoderConfig, fit: FitConfig,
                    labels: np.ndarray | None = None, quiet: bool = False) -> Fitted:
    """Train on (N, C, H, W) float32 images in [0, 1], or a memory-mapped set read a batch at a time;
    ``labels`` (N,) are head class indices (with a head). How long: vae/family/choices.py's plan."""
    device = start_run(fit.seed, fit.device)
    mapped = isinstance(images, ImageSet)
    model = Autoencoder(decoder_for(config, fit.loss)).to(device)
    config = model.config  # with what was not given chosen (vae/family/choices.py)
    if config.arch == "conv":  # oneDNN's convolutions run 7% faster per epoch on channels-last weights (docs/family.md)
        model = model.to(memory_format=torch.channels_last)
    data = BatchReader(images, device) if mapped else torch.from_numpy(images).to(device)
    plan = training_plan(len(data), config.image_size, fit)
    # a held-out slice drawn by its own generator: with --epochs (none held out) training draws what it always did
    order = torch.from_numpy(np.random.default_rng(fit.seed).permutation(len(data)))
    held, kept = (order[:plan.held_out].sort().values.to(device), order[plan.held_out:].sort().values.to(device)) \
        if plan.held_out else (None, torch.arange(len(data), device=device))
    targets = class_weights = None
    if model.head is not None:
        targets = torch.from_numpy(labels).to(device)
        counts = torch.bincount(targets[kept], minlength=len(config.head_classes)).clamp(min=1)
        class_weights = (len(kept) / (len(counts) * counts)).float()

    planned_steps = plan.epochs * -(-len(kept) // fit.batch_size)
    taken = [0]  # training steps so far, for the ELBO's warm-up

    def terms_of(indices, augment: bool, noise: torch.Generator | None = None):
        kl_weight = None  # the full β: every held-out judgement, and the SSIM loss throughout
        if augment and fit.loss == "elbo":
            kl_weight = fit.beta * min(1.0, taken[0] / (ELBO_WARMUP * planned_steps))
            taken[0] += 1
        clean = data[indices]
        if fit.loss == "elbo":  # each pixel a coin with its intensity, drawn anew each time the image is seen
            clean = torch.bernoulli(clean, generator=noise)
        if augment and targets is not None and plan.shift:
            clean = shifted(clean, plan.shift)
        if fit.noise:  # training draws from the global generator, as it always did; a judgement from its own
            drawn = torch.randn_like(clean) if noise is None else torch.randn(
                clean.shape, generator=noise, device=clean.device)
            seen = (clean + fit.noise * drawn).clamp(0, 1)
        else:
            seen = clean
        logits, mu, logvar, latent = model(seen)
        return loss_terms(model, fit, clean, logits, mu, logvar, latent,
                          None if targets is None else targets[indices], class_weights, kl_weight)

    held_batch = scaled_batch(HELD_OUT_BATCH, config.channels * config.image_size ** 2)

    def held_out_loss() -> float:
        noise = torch.Generator(device).manual_seed(fit.seed)  # a denoiser's noise, the same for every epoch
        total = sum(terms_of(batch, augment=False, noise=noise)["loss"].item() * len(batch)
                    for batch in held.split(held_batch))
        return total / len(held)

    stopping = EarlyStopping(model, held_out_loss, plan.patience, plan.earliest) if plan.held_out else None
    phase = Phase(config.model, list(model.parameters()), lambda indices: terms_of(kept[indices], augment=True),
                  plan.epochs, fit.batch_size, fit.learning_rate(), SHOWN_TERMS, fit.precision == "bf16", stopping)
    # Subnormal floats appear as training goes on and make the CPU's arithmetic many times slower:
    # the MLP's epochs grew from 3.3 s to 6-7 s; flushed to zero they stay at 3.3 s, same loss (docs/family.md).
    torch.set_flush_denormal(True)
    try:
        history = train_phase(model, phase, len(kept), fit.seed, "fitting", quiet)
    finally:
        torch.set_flush_denormal(False)
    # in the memory format a model read back from MODEL.pth has, so that what fit computes with it (the record's
    # anomaly reference and mixture, the API's outputs) equals what the other commands compute, to the last bit
    model = model.eval().cpu().to(memory_format=torch.contiguous_format)
    if stopping is None:
        return Fitted(model, history, plan)
    return Fitted(model, history, plan, held.cpu().numpy(), stopping.best_epoch, stopping.losses)


@dataclass
class FitResult:
    model: torch.nn.Module
    record: dict  # MODEL.pth's record (None on a torchrun rank that does not write)
    fitted: Fitted
    seconds: float


def fit_set(train_set: ImageSet, config: AutoencoderConfig, fit_config: FitConfig, head: bool, say=None,
            quiet: bool = True) -> FitResult:
    """Train one of the family's networks on an image set (labels: the head's classes) and build MODEL.pth's
    record: what fit chose and why, how training went, the anomaly scores' reference and the latent mixture."""
    check_components(fit_config.sampler_components, len(train_set), train_set.path)
    if head:
        train_set.check_classes("the classifier head")
    config, why = shaped_for(config, train_set, head, bool(fit_config.sparsity), fit_config.loss)
    resolve_device(fit_config.device)
    # A memory-mapped set (.npy) is read a batch at a time; any other is converted once, in memory.
    images = train_set if train_set.mapped() else train_set.images().reshape(-1, *train_set.tensor_shape())
    targets = np.searchsorted(config.head_classes, train_set.labels) if head else None
    plan = training_plan(len(train_set), config.image_size, fit_config)
    chosen = [f"images:   {config.image_size}×{config.image_size}, {counted(config.channels, 'channel')}", *why,
              plan.describe(len(train_set))]
    if say:
        network = "an MLP" if config.arch == "mlp" else "a conv"
        say(f"fitting {network} {config.model.upper()} (latent {config.latent_dim}, loss {fit_config.loss}) on "
            f"{len(train_set):,} images "
            f"from {train_set.path}, seed {fit_config.seed}:" + "".join(f"\n  {line}" for line in chosen))
    start = time.perf_counter()
    fitted = fit_autoencoder(images, config, fit_config, targets, quiet=quiet)
    seconds = time.perf_counter() - start
    if not is_writer():  # under torchrun rank 0 alone writes
        return FitResult(fitted.model, None, fitted, seconds)
    model = fitted.model
    record = {
        "fit": asdict(fit_config),
        "chosen": chosen,
        "training": fitted.record(),
        "train_images": len(train_set),
        "epochs_loss": [round(stats.loss, 6) for stats in fitted.history],
        "fit_seconds": round(seconds, 3),
        "anomaly": anomaly_record(model, train_set, fitted.held_out, fit_config.anomaly_quantile, fit_config.seed),
        "sampler": fit_mixture(encode_set(model, train_set), fit_config.sampler_components, fit_config.seed),
    }
    if record["sampler"] is None and say:
        say("note: EM found no mixture in the training latents; the model is saved without a mixture sampler")
    return FitResult(model, record, fitted, seconds)


def loss_terms(model: Autoencoder, fit: FitConfig, clean, logits, mu, logvar, latent, targets=None,
               class_weights=None, kl_weight: float | None = None) -> dict:
    """The terms of the module docstring's loss for one batch, each a scalar tensor; "loss" is their sum. The KL
    term weighs ``kl_weight`` (the ELBO's warm-up), by default β."""
    terms = {"pixel": pixel_loss(clean, logits)}
    terms["loss"] = terms["pixel"]
    if fit.loss == "ssim":  # the ELBO's fits skip it: computed there only to be printed, it cost forward work
        terms["ssim"] = image_similarity(clean, logits).mean()
        terms["loss"] = terms["loss"] + fit.ssim_weight * (1 - terms["ssim"])
    if model.variational and fit.beta:
        terms["kl"] = kl_divergence(mu, logvar, latent, None)
        terms["loss"] = terms["loss"] + (fit.beta if kl_weight is None else kl_weight) * terms["kl"]
    if fit.sparsity:
        terms["sparsity"] = sparsity_penalty(mu, fit.sparsity_target)
        terms["loss"] = terms["loss"] + fit.sparsity * terms["sparsity"]
    if targets is not None:
        class_logits = model.classify(mu)
        terms["head"] = F.cross_entropy(class_logits, targets, weight=class_weights)
        terms["accuracy"] = (class_logits.argmax(dim=1) == targets).float().mean()
        terms["loss"] = terms["loss"] + fit.head_weight * terms["head"]
    return terms


def shifted(images: torch.Tensor, most: int) -> torch.Tensor:
    """(B, C, H, W) images each moved by its own random whole-pixel offset of up to ``most`` each way, zeros coming
    in."""
    count, _, height, width = images.shape
    padded = F.pad(images, (most, most, most, most))
    rows = torch.randint(0, 2 * most + 1, (count, 1), device=images.device) + torch.arange(height, device=images.device)
    cols = torch.randint(0, 2 * most + 1, (count, 1), device=images.device) + torch.arange(width, device=images.device)
    batch = torch.arange(count, device=images.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2).contiguous()
