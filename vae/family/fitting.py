"""Training the family's networks (``vae.py fit``): one loss, on the shared loop of vae/nn/training.py.

Per batch of images x (B, C, H, W) in [0, 1], the network sees x itself, or for a denoising model
x + N(0, noise²) clipped to [0, 1], and is scored against the clean x:

    loss = BCE(x, decoded)                        summed over pixels, as a Bernoulli likelihood
         + ssim_weight · (1 - SSIM(x, decoded))   scikit-image's SSIM, per channel
         + beta · KL(q(z|x) || N(0, I))          a VAE's prior term (beta-VAE); beta 0 is an AE
         + sparsity · sum_j KL(rho || rho_j)       a sparse AE: rho_j = unit j's mean activation in the batch
         + head_weight · cross-entropy             the head on the latent mean, from TRAIN's labels

each averaged over the batch. The head's cross-entropy weighs each class by the inverse of its
share of TRAIN, so that a class with few images counts as much as a common one, and with a head each image is
moved by a random offset of up to ``head_shift`` pixels (side/14 unless given: vae/family/choices.py) each time it
is seen, so that the head's few examples of a rare class stand for more than themselves.
"""

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F

from vae.core.data import ImageSet, release_pages, scaled_batch, to_unit_float
from vae.family.choices import TrainingPlan, choose_network, training_plan
from vae.family.config import AutoencoderConfig, FitConfig
from vae.family.models import Autoencoder
from vae.nn import distributed
from vae.nn.losses import image_similarity, kl_divergence, pixel_loss, sparsity_penalty
from vae.nn.training import (
    EarlyStopping,
    EpochStats,
    Phase,
    optimise,
    progress_bar,
    resolve_device,
    seed_everything,
)

SHOWN_TERMS = ("sparsity", "head", "accuracy")
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


def shaped_for(config: AutoencoderConfig, train_set: ImageSet, head: bool,
               sparse: bool) -> tuple[AutoencoderConfig, list[str]]:
    """The network's settings fitted to TRAIN: its channels, side and stored shape, the sizes chosen for them
    (vae/family/choices.py), the head's classes and their names (a folder's class folders), a sigmoid code for a
    sparse AE; and a line saying why for each size chosen."""
    config, why = choose_network(config, train_set.side, train_set.channels, head)
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
    seed_everything(fit.seed)
    device = distributed.start(resolve_device(fit.device))
    mapped = isinstance(images, ImageSet)
    model = Autoencoder(config).to(device)
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

    def terms_of(indices, augment: bool, noise: torch.Generator | None = None):
        clean = data[indices]
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
                          None if targets is None else targets[indices], class_weights)

    held_batch = scaled_batch(HELD_OUT_BATCH, config.channels * config.image_size ** 2)

    def held_out_loss() -> float:
        noise = torch.Generator(device).manual_seed(fit.seed)  # a denoiser's noise, the same for every epoch
        total = sum(terms_of(batch, augment=False, noise=noise)["loss"].item() * len(batch)
                    for batch in held.split(held_batch))
        return total / len(held)

    stopping = EarlyStopping(model, held_out_loss, plan.patience, plan.earliest) if plan.held_out else None
    phase = Phase(config.model, list(model.parameters()), lambda indices: terms_of(kept[indices], augment=True),
                  plan.epochs, fit.batch_size, fit.lr, SHOWN_TERMS, fit.precision == "bf16", stopping)
    shuffler = torch.Generator().manual_seed(fit.seed)
    steps = math.ceil(len(kept) / fit.batch_size) * plan.epochs
    # Subnormal floats appear as training goes on and make the CPU's arithmetic many times slower:
    # the MLP's epochs grew from 3.3 s to 6-7 s; flushed to zero they stay at 3.3 s, same loss (docs/family.md).
    torch.set_flush_denormal(True)
    try:
        with progress_bar(steps, "fitting", quiet) as progress:
            model.train()
            history = optimise(phase, len(kept), shuffler, progress, time.perf_counter(), quiet)
    finally:
        torch.set_flush_denormal(False)
    if stopping is None:
        return Fitted(model.eval().cpu(), history, plan)
    return Fitted(model.eval().cpu(), history, plan, held.cpu().numpy(), stopping.best_epoch, stopping.losses)


def loss_terms(model: Autoencoder, fit: FitConfig, clean, logits, mu, logvar, latent, targets=None,
               class_weights=None) -> dict:
    """The terms of the module docstring's loss for one batch, each a scalar tensor; "loss" is their sum."""
    terms = {"pixel": pixel_loss(clean, logits)}
    terms["ssim"] = image_similarity(clean, logits).mean()
    terms["loss"] = terms["pixel"] + fit.ssim_weight * (1 - terms["ssim"])
    if model.variational and fit.beta:
        terms["kl"] = kl_divergence(mu, logvar, latent, None)
        terms["loss"] = terms["loss"] + fit.beta * terms["kl"]
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
