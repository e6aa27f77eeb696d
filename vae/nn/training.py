"""The seeded training loop both pipelines run: Adam with a cosine learning-rate schedule over shuffled
batches, one :class:`Phase` at a time, per-epoch means of every loss term, and the device it runs on.

Under torchrun each rank runs its shard of every epoch (vae.nn.distributed); in one process the
loop draws exactly the permutations it always did, so a seed gives the same weights.
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

from vae.core.errors import InputError, first_line
from vae.nn import distributed


@dataclass
class EpochStats:
    phase: str  # "vae" or "decoder" (train); "vae" or "ae" (fit)
    epoch: int
    loss: float
    pixel: float | None  # None for a network without a reconstruction (the reference classifier)
    kl: float | None
    ssim: float | None
    seconds: float
    extra: dict[str, float] = field(default_factory=dict)  # the phase's further terms (Phase.shown)


@dataclass
class Phase:
    """One training phase: Adam with cosine decay over ``epochs`` shuffled passes of ``step``."""

    name: str
    parameters: list  # tensors, or Adam's parameter groups (a group may set its own peak ``lr``)
    step: Callable  # step(indices) -> {"loss": minimised, "pixel": ... (if any), other terms}, each a scalar tensor
    epochs: int
    batch_size: int
    lr: float
    shown: tuple[str, ...] = ()  # further terms to keep per epoch and print
    mixed_precision: bool = False  # run each step's forward pass and loss under bfloat16 autocast
    stopping: "EarlyStopping | None" = None  # stop when a held-out loss no longer falls (None: every epoch runs)


class EarlyStopping:
    """Stops a phase once ``held_out_loss()`` has not fallen for ``patience`` epochs, not before epoch ``earliest``
    (while the learning rate is high the loss leaps about), and puts back ``module``'s weights (and buffers) of its
    best epoch. Under torchrun every rank computes the loss on the same images, and their mean decides, so that the
    ranks stop together."""

    def __init__(self, module: torch.nn.Module, held_out_loss: Callable[[], float], patience: int, earliest: int = 1):
        self.module, self.held_out_loss, self.patience, self.earliest = module, held_out_loss, patience, earliest
        self.best, self.best_epoch, self.best_state = math.inf, 0, None
        self.losses: list[float] = []

    def should_stop(self, epoch: int) -> bool:
        """Score the epoch just trained; whether to stop now."""
        was_training = self.module.training
        self.module.eval()
        with torch.no_grad():
            total, ranks = distributed.summed([self.held_out_loss(), 1.0])
        loss = total / ranks
        self.module.train(was_training)
        self.losses.append(loss)
        if loss < self.best:
            self.best, self.best_epoch = loss, epoch
            self.best_state = {name: value.detach().clone() for name, value in self.module.state_dict().items()}
        return epoch >= self.earliest and epoch - self.best_epoch >= self.patience

    def restore(self) -> None:
        if self.best_state is not None:
            self.module.load_state_dict(self.best_state)


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed)


def import_optimizer_in_background() -> None:
    """Start the import that torch.optim makes when its first optimiser is built (torch._dynamo, about
    1.6 s of Python here) in a thread, so that it overlaps label propagation (``train`` 0.7-1.1 s sooner)."""
    threading.Thread(target=importlib.import_module, args=("torch._dynamo",), daemon=True).start()


def resolve_device(name: str) -> torch.device:
    """"auto" is cuda when available, else cpu; InputError (naming --device) for a device this machine lacks."""
    try:
        if name == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA is not available on this machine")
        return device
    except (RuntimeError, ValueError) as error:
        raise InputError(f"--device {name}: {first_line(error)}") from None


def start_run(seed: int, device: str) -> torch.device:
    """Every training run's start: the seeds set, and the device it runs on (its rank's, under torchrun)."""
    seed_everything(seed)
    return distributed.start(resolve_device(device))


def train_phase(model: torch.nn.Module, phase: "Phase", count: int, seed: int, what: str,
                quiet: bool) -> list[EpochStats]:
    """A run of one phase over ``count`` items: the model in training mode, the order shuffled by ``seed``, a
    progress bar named ``what``; per-epoch means of its terms."""
    steps = math.ceil(count / phase.batch_size) * phase.epochs
    with progress_bar(steps, what, quiet) as progress:
        model.train()
        return optimise(phase, count, torch.Generator().manual_seed(seed), progress, time.perf_counter(), quiet)


def progress_bar(steps: int, what: str, quiet: bool) -> tqdm:
    """A bar of ``steps`` batches on stderr, drawn only on a terminal: a redirected log gets the epoch lines alone.
    As a context manager it is closed (its line cleared) however training ends, Ctrl-C included."""
    return tqdm(total=steps, desc=what, unit="batch", file=sys.stderr, disable=True if quiet else None, leave=False)


def optimise(phase: Phase, count: int, shuffler: torch.Generator, progress, start: float,
             quiet: bool) -> list[EpochStats]:
    """Run one phase over ``count`` training items; per-epoch means of its terms, timed from ``start``."""
    optimizer = torch.optim.Adam(phase.parameters, lr=phase.lr,
                                 fused=True)  # fused: foreach Adam took 13% of a decoder epoch
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
        stats = EpochStats(phase.name, epoch, means["loss"], means.get("pixel"), means.get("kl"), means.get("ssim"),
                           time.perf_counter() - start, extra)
        history.append(stats)
        progress.set_postfix(phase=phase.name, epoch=f"{epoch}/{epochs}", loss=f"{stats.loss:.2f}")
        if not quiet:
            progress.write(describe(stats, epochs), file=sys.stderr)
        if phase.stopping and phase.stopping.should_stop(epoch):
            break
    if phase.stopping:
        phase.stopping.restore()
    return history


def describe(stats: EpochStats, epochs: int) -> str:
    text = f"{stats.phase:>7} epoch {stats.epoch:3d}/{epochs}  loss {stats.loss:8.3f}"
    if stats.pixel is not None:
        text += f"  pixel {stats.pixel:8.3f}"
    if stats.kl is not None:
        text += f"  kl {stats.kl:6.3f}"
    if stats.ssim is not None:
        text += f"  ssim {stats.ssim:.4f}"
    for name, value in stats.extra.items():
        text += f"  {name} {value:.4f}"
    return text + f"  {stats.seconds:6.1f}s"
