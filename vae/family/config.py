"""Every setting of the family's networks and of ``vae.py fit``, in plain dataclasses (no torch: the CLI
reads them at start-up). The defaults' measurements are in docs/family.md.
"""

from dataclasses import dataclass, fields, replace

from vae.core.data import IMAGE_SIDE
from vae.core.errors import InputError
from vae.core.report import shown

# anomaly scores (vae/family/anomaly_scores.py), the default first
ANOMALY_SCORES = ("combined", "mse", "ssim", "neighbours", "texture")
LOSSES = ("ssim", "elbo")  # fit's objectives (vae/family/fitting.py), the default first
SSIM_LR, ELBO_LR = 6e-3, 1e-3  # each loss's learning rate when --lr is not given (FitConfig.lr)
DECODERS = ("dense", "broadcast")  # how the conv decoder starts (vae/family/models/conv.py)
SAMPLERS = ("prior", "mixture")  # where generate draws latent points from (vae/family/sampling.py)
REFERENCE_EPOCHS = 10  # the reference network's training (vae/family/reference.py)

# Where a setting applies: {setting: (the choice it depends on, the value that choice must have)}. fit refuses
# such an option given otherwise, and a sweep drops such a knob from the cells it does not apply to.
APPLIES_TO = {
    "beta": ("model", "vae"),
    "sparsity": ("model", "ae"),
    "sparsity_target": ("model", "ae"),
    "layers": ("arch", "mlp"),
    "conv_channels": ("arch", "conv"),
    "conv_hidden": ("arch", "conv"),
    "decoder": ("arch", "conv"),
    "head_weight": ("head", True),
    "head_shift": ("head", True),
}


def applies(setting: str, chosen: dict) -> bool:
    """Whether ``setting`` applies under ``chosen``: {"model": "vae" or "ae", "arch": "mlp" or "conv", "head": bool}."""
    needs = APPLIES_TO.get(setting)
    return needs is None or chosen.get(needs[0]) == needs[1]


def only_applicable(settings, chosen: dict):
    """A settings dataclass with each setting that does not apply under ``chosen`` back at its default: a sweep's
    options apply to every cell they apply to (--sparsity to the AE cells of model=ae,vae, not the VAE ones)."""
    default = type(settings)()
    return replace(settings, **{field.name: getattr(default, field.name) for field in fields(settings)
                                if not applies(field.name, chosen)})


def check_ranges(settings, ranges: dict) -> None:
    """InputError naming the option of the first setting outside its range: {setting: (accept(value), "> 0")};
    a setting left at None (chosen at fit time) is not checked."""
    for name, (accept, wording) in ranges.items():
        value = getattr(settings, name)
        values = value if isinstance(value, tuple) else () if value is None else (value,)
        if not all(accept(item) for item in values):
            raise InputError(f"--{name.replace('_', '-')} {shown(value)}: must be {wording}")


POSITIVE, NOT_NEGATIVE = (lambda value: value > 0, "> 0"), (lambda value: value >= 0, ">= 0")


def refuse_inapplicable(options: dict, chosen: dict) -> None:
    """An option given for a network it does not apply to (--beta for an AE...) is refused, not ignored."""
    for setting, value in options.items():
        if not applies(setting, chosen):
            needed, wanted = APPLIES_TO[setting]
            condition = f"--{needed}" if wanted is True else f"--{needed} {wanted} (this fit: {chosen[needed]})"
            raise InputError(f"--{setting.replace('_', '-')} {shown(value)}: applies only with {condition}")


@dataclass
class AutoencoderConfig:
    """Everything needed to rebuild one of the family's networks; saved inside MODEL.pth."""

    # "vae": an encoder to (mu, logvar) and a N(0, I) prior; "ae": a deterministic code; None: "ae" with a head
    # (its code classifies better), else "vae" (vae/family/choices.py)
    model: str | None = None
    arch: str = "conv"  # "mlp" (widths by a rule, see vae/family/models/mlp.py) or "conv" (strided convolutions)
    latent_dim: int | None = None  # None: from the images' size (vae/family/choices.py)
    channels: int = 1  # 1 (grey) or 3 (RGB), from TRAIN
    image_size: int = IMAGE_SIDE  # the side S of the S×S images it takes (a folder's images are resized to it)
    sample_shape: tuple[int, ...] = (IMAGE_SIDE, IMAGE_SIDE)  # one TRAIN image as stored, for generate's output
    layers: int = 3  # mlp: layers from the input down to the latent
    conv_channels: tuple[int, ...] = ()  # conv: channels of each stride-2 convolution; (): from the side (choices.py)
    conv_hidden: int = 256  # conv: a dense layer between the last feature map and the latent
    # conv: "dense" or "broadcast", how the decoder starts (vae/family/models/conv.py); None: broadcast with
    # --loss elbo, where it gave position latent dimensions of their own, else dense (vae/family/choices.py)
    decoder: str | None = None
    sparse: bool = False  # ae: the code is a sigmoid, for the sparsity penalty (--sparsity)
    head_classes: tuple[int, ...] = ()  # the classifier head's labels, in its output order; () for none
    class_names: tuple[str, ...] = ()  # a folder's class names, which the labels index; () for numbered labels
    head_hidden: int = 64

    def __post_init__(self):
        check_ranges(self, {"latent_dim": POSITIVE, "layers": POSITIVE, "conv_channels": POSITIVE,
                            "conv_hidden": POSITIVE})
        if self.decoder not in (None, *DECODERS):
            raise InputError(f"--decoder {self.decoder}: must be one of {', '.join(DECODERS)}")


# What a file written before a field existed means by its absence (vae.core.checkpoint.config_from_dict).
OLDER_MODELS = {"image_size": IMAGE_SIDE, "class_names": (), "decoder": None}


@dataclass
class FitConfig:
    """How ``vae.py fit`` trains one of the family's networks (saved in MODEL.pth's record)."""

    # None: a budget of steps and early stopping on a held-out slice of TRAIN (vae/family/choices.py); E: exactly E
    # epochs on all of TRAIN. Fits must stay under 4 minutes on a 2-core CPU (docs/family.md)
    epochs: int | None = None
    steps: int | None = None  # the budget of steps when --epochs is not given; None: from the side (choices.py)
    batch_size: int = 64  # more, smaller steps: in 8 epochs batch 64 reconstructed better than 128 (docs/family.md)
    # peak of a cosine schedule; None: 6e-3, which the conv net's batch normalisation takes, or with --loss elbo
    # 1e-3: on MNIST (4,000 digits fitted, 1,000 others scored) it lowered the ELBO NLL from 111.6 to 104.5 nats
    lr: float | None = None
    beta: float = 1.0  # vae: weight of KL(q(z|x) || N(0, I)); 0 trains it like an AE
    sparsity: float = 0.0  # ae: weight S of the sparsity penalty sum_j KL(rho || mean activation of unit j)
    sparsity_target: float = 0.05  # rho: the mean activation each code unit is pushed towards
    noise: float = 0.0  # denoising: sigma of the Gaussian noise added to inputs (clipped to [0, 1])
    # weight of the head's cross-entropy: 100 gave accuracy 0.933, 300 0.957, 1000 0.953 (docs/family.md)
    head_weight: float = 300.0
    # with a head: random shifts of up to this many pixels; 0: none. Seed 0: accuracy 0.944 -> 0.976 (docs/family.md)
    head_shift: int | None = None  # None: the side / 14, rounded (2 at 28, 5 at 64: vae/family/choices.py)
    # "ssim": BCE + ssim_weight·(1 − SSIM) + β·KL, sharper reconstructions; "elbo": the textbook Bernoulli ELBO,
    # BCE + β·KL on dynamically binarised images, so that β and the likelihood mean what the β-VAE papers mean
    loss: str = "ssim"
    ssim_weight: float = 1000.0  # weight of (1 - SSIM) next to the pixel BCE (summed over pixels)
    # the stored anomaly thresholds: this quantile of the held-out training images' scores (family/anomaly.py)
    anomaly_quantile: float = 0.95
    # the mixture of the training latents stored for generate --sampler mixture (vae/family/sampling.py)
    sampler_components: int = 10
    seed: int = 0
    device: str = "auto"
    # "bf16": forward passes and losses under bfloat16 autocast. On an H100 it was 1.23x faster per epoch
    # at batch 512 (loss 2% higher) but 0.93x at the default batch 64, where kernel launches bound
    # the step (README, Scaling out): so float32 unless asked.
    precision: str = "fp32"

    def __post_init__(self):
        check_ranges(self, {"epochs": POSITIVE, "steps": POSITIVE, "batch_size": POSITIVE, "lr": POSITIVE,
                            "sampler_components": POSITIVE, "beta": NOT_NEGATIVE, "sparsity": NOT_NEGATIVE,
                            "noise": NOT_NEGATIVE, "head_weight": NOT_NEGATIVE, "head_shift": NOT_NEGATIVE,
                            "ssim_weight": NOT_NEGATIVE, "seed": NOT_NEGATIVE,
                            "anomaly_quantile": (lambda value: 0 < value < 1, "in (0, 1)"),
                            "sparsity_target": (lambda value: 0 < value < 1, "in (0, 1)")})
        if self.loss not in LOSSES:
            raise InputError(f"--loss {self.loss}: must be one of {', '.join(LOSSES)}")
        if self.loss == "elbo" and self.ssim_weight != FitConfig.ssim_weight:
            raise InputError(f"--ssim-weight {shown(self.ssim_weight)}: applies only with --loss ssim (the ELBO has "
                             "no SSIM term)")
        if self.epochs is not None and self.steps is not None:
            raise InputError(f"--epochs {self.epochs} and --steps {self.steps}: give one (epochs train on all of "
                             "TRAIN; a budget of steps may stop early on a held-out slice)")

    def learning_rate(self) -> float:
        """--lr, else the loss's own (SSIM_LR, ELBO_LR)."""
        return self.lr if self.lr is not None else ELBO_LR if self.loss == "elbo" else SSIM_LR
