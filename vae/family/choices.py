"""What ``fit`` chooses from TRAIN when it is not told: the network's size and how long it trains.

The rules, the same for every set (measured in docs/family.md; make bench: bench.family, bench.photos):

    model            an AE with --head (its code classifies better than a VAE's mean), else a VAE
    latent size      C·S²/192 values for S×S images of C channels, from 10 to 128: 10 for 28×28 grey digits,
                     21 for 64×64 grey, 64 for 64×64 RGB, 128 from 128×128 RGB on
    conv widths      stride-2 layers until the map is at most 8 wide, doubling up to 256 from 32 channels for
                     sides up to 32 and from 16 above, where the first layers' large maps cost the most time
    training length  a budget of optimisation steps, 3,000 up to 64×64 and 3,000·64/S above (1,500 at 128), as
                     whole epochs; with --loss elbo twice that (MIG on the generated shapes: docs/family.md).
                     When that is 20 epochs or more, over TRAIN less a held-out slice (a tenth, at
                     most 500 images): from half the epochs on, training stops once the held-out loss has not
                     fallen for a tenth of the epochs (at least 5), and keeps its best epoch's weights. Fewer
                     epochs (a large set: 11 on MNIST's 17,748 images, as before) train every image to the end
    head shift       side/14 pixels (2 at 28, as tuned on digits)
    conv decoder     a broadcast start with --loss elbo (position then gets latent dimensions of its own, which
                     raised MIG on the generated shapes from below 0.05: docs/family.md), else a dense one

so a small set trains for as many steps as a large one (1,800 images: about 100 epochs), and a large one stops at
its budget. An option given wins: --latent-dim, --conv-channels, --steps N (another budget); --epochs E trains
exactly E epochs on all of TRAIN, without a held-out slice or stopping, as fits did before these rules.
"""

import math
from dataclasses import dataclass, replace

from vae.core.report import counted
from vae.family.config import APPLIES_TO, AutoencoderConfig, FitConfig

LATENT_VALUES_EACH, LATENT_RANGE = 192, (10, 128)
STEP_BUDGET, ELBO_STEP_BUDGET, BUDGET_SIDE = 3000, 6000, 64
HELD_OUT_SHARE, HELD_OUT_MOST, HELD_OUT_LEAST = 0.1, 500, 20
EPOCHS_TO_STOP = 20  # fewer passes over TRAIN overfit nothing to stop early for: every image trains
PATIENCE_LEAST, PATIENCE_SHARE = 5, 0.1
SHIFT_PER_SIDE = 14  # a head's training images move by up to side/14 pixels: 2 at 28, as tuned on digits


def latent_size(side: int, channels: int) -> int:
    return min(max(round(channels * side * side / LATENT_VALUES_EACH), LATENT_RANGE[0]), LATENT_RANGE[1])


def conv_widths(side: int) -> tuple[int, ...]:
    """The conv body's channels for S×S images: (32, 64) at 28 (28 -> 14 -> 7), (16, 32, 64) at 64 (-> 8),
    (16, 32, 64, 128) at 128."""
    first = 32 if side <= 32 else 16
    widths = []
    while side > 8 or not widths:
        side //= 2
        widths.append(min(first * 2 ** len(widths), 256))
    return tuple(widths)


@dataclass
class TrainingPlan:
    """How long one fit trains: ``epochs`` over TRAIN less ``held_out`` images (0: no slice, no stopping)."""

    epochs: int
    held_out: int
    steps: int  # the budget the epochs were counted from (0 when --epochs was given)
    patience: int  # epochs without a lower held-out loss before it stops, from half the planned epochs on
    shift: int  # with a head: the most pixels a training image is moved by, each way

    def describe(self, count: int) -> str:
        if not self.held_out:
            return f"training: {counted(self.epochs, 'epoch')} over all {count:,} images" + (
                " (--epochs)" if not self.steps else f" (a budget of {self.steps:,} steps)")
        return (f"training: up to {self.epochs} epochs over {count - self.held_out:,} images (a budget of "
                f"{self.steps:,} steps); from epoch {self.earliest} on, stops once the loss on the "
                f"{self.held_out:,} held out has not fallen for {self.patience} epochs")

    @property
    def earliest(self) -> int:
        """The first epoch it may stop after: half the plan, when the cosine schedule's learning rate is half down."""
        return math.ceil(self.epochs / 2)


def training_plan(count: int, side: int, fit: FitConfig) -> TrainingPlan:
    """The plan for ``count`` TRAIN images of side ``side``: --epochs as given, else the step budget's."""
    shift = fit.head_shift if fit.head_shift is not None else round(side / SHIFT_PER_SIDE)
    if fit.epochs is not None:
        return TrainingPlan(fit.epochs, 0, 0, 0, shift)
    budget = ELBO_STEP_BUDGET if fit.loss == "elbo" else STEP_BUDGET
    steps = fit.steps or round(budget * min(1.0, BUDGET_SIDE / side))
    held_out = min(int(count * HELD_OUT_SHARE), HELD_OUT_MOST)
    epochs = max(1, round(steps / math.ceil((count - held_out) / fit.batch_size)))
    if held_out < HELD_OUT_LEAST or epochs < EPOCHS_TO_STOP:  # every image trains, for the whole budget
        held_out, epochs = 0, max(1, round(steps / math.ceil(count / fit.batch_size)))
    return TrainingPlan(epochs, held_out, steps, max(PATIENCE_LEAST, round(epochs * PATIENCE_SHARE)), shift)


def implied_model(given) -> str | None:
    """The model that options (or a sweep's knobs) given without --model imply: the one an option applies to alone
    (--beta: a VAE, --sparsity: an AE); None when none does, or both do (then one of them is refused)."""
    implied = {APPLIES_TO[name][1] for name in given if APPLIES_TO.get(name, ("",))[0] == "model"}
    return implied.pop() if len(implied) == 1 else None


def default_model(head: bool) -> str:
    """With nothing said of the model: an AE with a head (its code classifies better: docs/family.md), else a VAE."""
    return "ae" if head else "vae"


def chosen_network(config: AutoencoderConfig, head: bool) -> dict:
    """The choices an option may depend on (vae.family.config.APPLIES_TO), the model as fit will choose it."""
    return {"model": config.model or default_model(head), "arch": config.arch, "head": head}


def decoder_for(config: AutoencoderConfig, loss: str) -> AutoencoderConfig:
    """``config`` with a conv decoder's start chosen for ``loss`` when not given."""
    if config.arch != "conv" or config.decoder is not None:
        return config
    return replace(config, decoder="broadcast" if loss == "elbo" else "dense")


def choose_network(config: AutoencoderConfig, side: int, channels: int, head: bool = False,
                   loss: str | None = "ssim") -> tuple[AutoencoderConfig, list[str]]:
    """``config`` with what was not given chosen for S×S images of C channels (and a head or not) trained with
    ``loss`` (None: the decoder left to fit, as a sweep's cells may differ in loss), and a line for each choice
    but the long-standing dense decoder."""
    chosen, why = {}, []
    if config.model is None:
        chosen["model"] = default_model(head)
        if head:
            why.append("model:    ae (with a head: its code classifies better than a VAE's mean)")
    if config.latent_dim is None:
        chosen["latent_dim"] = latent_size(side, channels)
        why.append(f"latent:   {chosen['latent_dim']} ({channels}×{side}×{side} values / {LATENT_VALUES_EACH}, "
                   f"within {LATENT_RANGE[0]}..{LATENT_RANGE[1]})")
    if config.arch == "conv" and not config.conv_channels:
        chosen["conv_channels"] = conv_widths(side)
        widths = ",".join(map(str, chosen["conv_channels"]))
        why.append(f"conv:     {widths} (stride-2 layers from side {side} to a map at most 8 wide)")
    decoder = config.decoder if loss is None else decoder_for(config, loss).decoder
    if decoder != config.decoder:
        chosen["decoder"] = decoder
        if decoder == "broadcast":
            why.append("decoder:  broadcast (with --loss elbo: the latent beside each cell's coordinates)")
    return replace(config, **chosen), why
