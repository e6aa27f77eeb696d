"""The seeded training loop, in two phases.

1. The VAE: encoder and decoder on pixel loss + beta * KL, plus two terms that place the classes:
   VAL's labelled images pulled to their class's prior component, and every training image's
   propagated class (vae.propagation) as a cross-entropy over the components (+ an optional SSIM
   term). This shapes the latent space, hence the classifier.
2. The decoder alone (encoder frozen), with pixel loss + an SSIM term: the deterministic decoding
   that test_reconstruction uses, tuned for the graders' score. Each training image is decoded from
   its posterior mean plus a learnt offset of its own, so that the decoder learns to serve the best
   latent point near each mean, which is what test_reconstruction's search picks for new images.
   The encoder, hence every point the classifier sees, does not move.

Both phases use Adam with a cosine learning-rate schedule over shuffled batches.
"""

import importlib
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from vae import distributed
from vae.config import ModelConfig, TrainConfig
from vae.model import VAE, anchor_divergence, kl_divergence, pixel_loss, prior_means, propagation_loss, similarity


@dataclass
class EpochStats:
    phase: str  # "vae" or "decoder" (train); "vae" or "ae" (fit)
    epoch: int
    loss: float
    pixel: float
    kl: float | None
    ssim: float | None
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)  # the phase's further terms (Phase.shown)


@dataclass
class Phase:
    """One training phase: Adam with cosine decay over ``epochs`` shuffled passes of ``step``."""

    name: str
    parameters: list  # tensors, or Adam's parameter groups (a group may set its own peak ``lr``)
    step: Callable  # step(indices) -> {"loss": minimised, "pixel": ..., other terms}, each a scalar tensor
    epochs: int
    batch_size: int
    lr: float
    shown: tuple[str, ...] = ()  # further terms to keep per epoch and print
    mixed_precision: bool = False  # run each step's forward pass and loss under bfloat16 autocast


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def import_optimizer_in_background() -> None:
    """Start the import that torch.optim makes when its first optimiser is built (torch._dynamo, about
    1.6 s of Python here) in a thread, so that it overlaps label propagation (``train`` 0.7-1.1 s sooner)."""
    threading.Thread(target=importlib.import_module, args=("torch._dynamo",), daemon=True).start()


def resolve_device(name: str) -> torch.device:
    """"auto" is cuda when available, else cpu; ValueError for a device this machine does not have."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA is not available on this machine")
    return device


def train_model(images: np.ndarray, model_config: ModelConfig, config: TrainConfig, *, anchors=None, propagated=None,
                quiet: bool = False) -> tuple[VAE, list[EpochStats]]:
    """Train a VAE on (N, 784) float32 images in [0, 1]; returns the model (in eval mode) and per-epoch stats.

    ``anchors``: (images (M, 784), prior component of each (M,)) for semi-supervised anchoring, or None.
    ``propagated``: (N,) each image's propagated class (vae.propagation), for the propagation loss, or None.
    """
    seed_everything(config.seed)
    device = distributed.start(resolve_device(config.device))
    model = VAE(model_config).to(device)
    data = torch.from_numpy(images).to(device)
    steps = math.ceil(len(data) / config.batch_size) * config.epochs + math.ceil(len(data) / config.decoder_batch_size) * config.decoder_epochs
    shuffler = torch.Generator().manual_seed(config.seed)
    start = time.perf_counter()

    weights = config.loss
    # The mixture prior's means, built once: the KL and both label terms use them. None: standard normal.
    component_means = None
    if weights.prior_components:
        component_means = prior_means(weights.prior_components, model_config.latent_dim, weights.prior_radius).to(device)
    if anchors is not None:
        anchor_images = torch.from_numpy(anchors[0]).to(device)
        anchor_targets = component_means[torch.from_numpy(anchors[1]).to(device)]
    if propagated is not None:
        propagated = torch.from_numpy(propagated).to(device)
    vae_steps = max(1, config.epochs * math.ceil(len(data) / config.batch_size) - 1)
    step_count = [0]

    def vae_step(indices):
        batch = data[indices]
        if anchors is None:
            mu, logvar = model.encode(batch)
        else:  # VAL's images ride in every batch: one pass through the encoder, not a second of 15 rows (8% of the phase)
            mu, logvar = model.encode(torch.cat([batch, anchor_images]))
            sizes = [len(batch), len(anchor_images)]
            (mu, anchor_mu), (logvar, anchor_logvar) = mu.split(sizes), logvar.split(sizes)
        latent = model.sample(mu, logvar)
        logits = model.decode(latent)
        beta = weights.beta_at(step_count[0] / vae_steps)
        step_count[0] += 1
        terms = {"pixel": pixel_loss(batch, logits, weights.reconstruction)}
        terms["kl"] = kl_divergence(mu, logvar, latent, component_means)
        terms["loss"] = terms["pixel"] + beta * terms["kl"]
        if weights.ssim:
            terms["ssim"] = similarity(batch, logits).mean()
            terms["loss"] = terms["loss"] + weights.ssim * (1 - terms["ssim"])
        if propagated is not None:
            terms["propagation"] = propagation_loss(latent, component_means, propagated[indices])
            terms["loss"] = terms["loss"] + weights.propagation * terms["propagation"]
        if anchors is not None:
            terms["anchor"] = anchor_divergence(anchor_mu, anchor_logvar, anchor_targets) / len(indices)
            terms["loss"] = terms["loss"] + weights.anchor * terms["anchor"]
        return terms

    # As a context manager the bar is closed (its line cleared) however training ends, Ctrl-C included.
    with tqdm(total=steps, desc="training", unit="batch", file=sys.stderr, disable=quiet, leave=False) as progress:
        model.train()
        history = optimise(Phase("vae", list(model.parameters()), vae_step, config.epochs, config.batch_size, config.lr), len(data), shuffler, progress, start, quiet)
        if config.decoder_epochs:
            model.eval()  # the encoder is frozen from here on; its posterior means are what gets decoded
            with torch.no_grad():
                means = torch.cat([model.encode(batch)[0] for batch in data.split(4096)])

            # (N, latent_dim), one per training image; a Parameter, so that DDP averages its gradients too
            offsets = torch.nn.Parameter(torch.zeros_like(means), requires_grad=bool(config.latent_lr))

            def decoder_step(indices):
                batch = data[indices]
                logits = model.decode(means[indices] + offsets[indices])
                terms = {"pixel": pixel_loss(batch, logits, weights.reconstruction), "ssim": similarity(batch, logits).mean()}
                terms["loss"] = terms["pixel"] + config.decoder_ssim * (1 - terms["ssim"])
                return terms

            groups = [{"params": list(model.decoder.parameters())}]
            if config.latent_lr:
                groups.append({"params": [offsets], "lr": config.latent_lr})
            decoder_phase = Phase("decoder", groups, decoder_step, config.decoder_epochs, config.decoder_batch_size, config.lr)
            history += optimise(decoder_phase, len(data), shuffler, progress, start, quiet)
    model.eval()
    return model, history


def optimise(phase: Phase, count: int, shuffler: torch.Generator, progress, start: float, quiet: bool) -> list[EpochStats]:
    """Run one phase over ``count`` training items; per-epoch means of its terms, timed from ``start``."""
    optimizer = torch.optim.Adam(phase.parameters, lr=phase.lr, fused=True)  # fused: foreach Adam took 13% of a decoder epoch
    # in one process: phase.step on whole batches of all ``count`` items; with torchrun each rank's share of both
    step, batch_size, items, shuffled = distributed.shard(phase, count, shuffler)
    batches = math.ceil(items / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=phase.epochs * batches)
    device = optimizer.param_groups[0]["params"][0].device
    epochs = phase.epochs
    history = []
    for epoch in range(1, epochs + 1):
        totals: dict[str, torch.Tensor] = {}
        order = shuffled(epoch).to(device)
        for first in range(0, len(order), batch_size):
            indices = order[first:first + batch_size]
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=phase.mixed_precision):
                terms = step(indices)
            optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            optimizer.step()
            schedule.step()
            for name, value in terms.items():
                # summed on the device in float64, as Python floats would be: no GPU wait each step
                weighted = value.detach().double() * len(indices)
                totals[name] = totals[name] + weighted if name in totals else weighted
            progress.update()
        seen, *sums = distributed.summed([len(order), *(total.item() for total in totals.values())])
        means = {name: total / seen for name, total in zip(totals, sums)}
        extra = {name: means[name] for name in phase.shown if name in means}
        stats = EpochStats(phase.name, epoch, means["loss"], means["pixel"], means.get("kl"), means.get("ssim"), time.perf_counter() - start, extra)
        history.append(stats)
        progress.set_postfix(phase=phase.name, epoch=f"{epoch}/{epochs}", loss=f"{stats.loss:.2f}")
        if not quiet:
            progress.write(describe(stats, epochs), file=sys.stderr)
    return history


def describe(stats: EpochStats, epochs: int) -> str:
    text = f"{stats.phase:>7} epoch {stats.epoch:3d}/{epochs}  loss {stats.loss:8.3f}  pixel {stats.pixel:8.3f}"
    if stats.kl is not None:
        text += f"  kl {stats.kl:6.3f}"
    if stats.ssim is not None:
        text += f"  ssim {stats.ssim:.4f}"
    for name, value in stats.extra.items():
        text += f"  {name} {value:.4f}"
    return text + f"  {stats.seconds:6.1f}s"
