"""Every option that sets a training setting, as data: one table for ``train``, one for ``fit`` (and ``sweep``).

A row is (flag, type, help[, setting]): the setting is the field of the config dataclasses that the option sets
(by default the flag's own name, dashes as underscores), and its default is that field's default, so that a
default is written once, in vae/assignment/config.py or vae/family/config.py. The help ends with the default
unless it already speaks of it. A type is an argparse type, a tuple of choices, or SWITCH (an on/off flag).

An option not given parses as None, so that a command can tell what a user asked for (:func:`given`);
vae.cli.arguments.settings then takes the dataclass's default for it.
"""

import argparse

from vae.assignment.config import LossWeights, MixtureOptions, ModelConfig, TrainConfig
from vae.cli.arguments import checked, non_negative, positive, widths
from vae.core.report import shown
from vae.family.config import DECODERS, LOSSES, AutoencoderConfig, FitConfig

SWITCH = "switch"
UNIT_INTERVAL = checked(float, lambda value: 0 < value < 1, "in (0, 1)")

TRAIN_OPTIONS = {  # group title: (the settings its defaults come from, rows)
    "train's model and training (the family's fit has its own options and defaults: vae.py fit --help)": (
            (TrainConfig(), LossWeights(), ModelConfig()), [
        ("--epochs", positive(int), "passes over TRAIN training the VAE"),
        ("--decoder-epochs", non_negative(int), "then passes training the decoder alone, the encoder frozen"),
        ("--decoder-ssim-weight", non_negative(float), "weight of (1 - SSIM) in the decoder passes", "decoder_ssim"),
        ("--batch-size", positive(int), "images per step of the VAE passes"),
        ("--decoder-batch-size", positive(int), "images per step of the decoder passes"),
        ("--lr", positive(float), "peak learning rate of Adam, cosine decay"),
        ("--latent-lr", non_negative(float), "peak learning rate of the training images' latent offsets in the "
                                             "decoder passes (0: decode the means; default %(default)s)"),
        ("--beta", non_negative(float), "weight of the KL term at the start"),
        ("--beta-final", non_negative(float), "... and at the end of the VAE passes, geometrically in between"),
        ("--ssim-weight", non_negative(float), "weight of (1 - SSIM) in the VAE passes", "ssim"),
        ("--reconstruction-loss", ("bce", "mse"), "pixel loss", "reconstruction"),
        ("--prior-components", non_negative(int),
         "0: standard normal prior; K: K separated unit Gaussians (default: one per VAL class)"),
        ("--prior-radius", positive(float), "distance of those Gaussians from the origin"),
        ("--anchor-weight", non_negative(float),
         "pull VAL's labelled images to their class's prior component (0: off; default %(default)s)", "anchor"),
        ("--propagation-weight", non_negative(float), "spread VAL's labels over TRAIN's nearest-neighbour graph and "
         "pull each image to its class's prior component (0: off; default %(default)s)", "propagation"),
        ("--latent-dim", positive(int), "latent size"),
        ("--hidden", widths, "encoder layer widths"),
        ("--decoder-hidden", widths, "decoder layer widths from the latent outwards"),
        ("--activation", ("relu", "elu", "silu"), ""),
        ("--seed", non_negative(int), "seeds torch and numpy"),
        ("--device", str, "cpu, cuda, cuda:1 ... (default: cuda when available)"),
    ]),
    "train's mixture": ((MixtureOptions(),), [
        ("--components-per-class", positive(int), ""),
        ("--covariance-type", ("tied", "full"), "one covariance shared by all components, or one each"),
        ("--reg-covar", non_negative(float), "added to covariance diagonals"),
    ]),
}

FIT_OPTIONS = {
    "network": ((AutoencoderConfig(),), [
        ("--model", ("vae", "ae"), "variational or plain autoencoder (default: ae with --head, its code classifies "
                                   "better; else vae; --beta implies vae, --sparsity ae)"),
        ("--arch", ("mlp", "conv"), ""),
        ("--latent-dim", positive(int), "latent size (default: from the images, C·S²/192 values within 10..128)"),
        ("--layers", positive(int),
         "mlp: layers from the input to the latent, widths D_i = D_x - round((D_x - D_z) i / n)"),
        ("--conv-channels", widths, "conv: channels of each stride-2 layer (default: from the side, down to a map "
                                    "at most 8 wide, doubling from 32 up to side 32, from 16 above)"),
        ("--conv-hidden", positive(int), "conv: dense width before the latent"),
        ("--decoder", DECODERS, "conv: how the decoder starts, a dense layer or the latent broadcast beside each "
                                "cell's coordinates (default: broadcast with --loss elbo, else dense)"),
        ("--head", SWITCH, "train a classifier head on the latent mean from TRAIN's labels"),
    ]),
    "loss": ((FitConfig(),), [
        ("--beta", non_negative(float), "vae: weight of the KL term (beta-VAE; default %(default)s)"),
        ("--sparsity", non_negative(float),
         "ae: weight S of the sparsity penalty on the code (5, 10, 20 ...; 0: none; default %(default)s)"),
        ("--sparsity-target", UNIT_INTERVAL, "the mean activation each code unit is held near"),
        ("--noise", non_negative(float), "denoising: sigma of the Gaussian noise added to the inputs, clipped to "
                                         "[0, 1]"),
        ("--head-weight", non_negative(float), ""),
        ("--head-shift", non_negative(int), "with --head: move each training image by a random offset of up to "
                                            "this many pixels each time (default: the side / 14, 2 at 28×28)"),
        ("--anomaly-quantile", UNIT_INTERVAL, "the stored anomaly thresholds: this quantile of the held-out "
                                              "training images' scores (anomaly --contamination: another)"),
        ("--loss", LOSSES, "ssim: BCE + ssim-weight·(1 - SSIM) + beta·KL, sharper reconstructions; elbo: the "
                           "textbook Bernoulli ELBO, BCE + beta·KL on dynamically binarised images, beta as in the "
                           "beta-VAE papers (vae.py likelihood, disentanglement)"),
        ("--ssim-weight", non_negative(float), "loss ssim: weight of (1 - SSIM) beside the BCE"),
        ("--sampler-components", positive(int), "components of the Gaussian mixture fitted to the training images' "
                                                "latent means, for generate --sampler mixture"),
    ]),
    "training": ((FitConfig(),), [
        ("--epochs", positive(int), "train exactly E epochs on all of TRAIN (default: a budget of steps, --steps)"),
        ("--steps", positive(int), "the budget of optimisation steps, in whole epochs; when that is 20 epochs or "
                                   "more, a tenth of TRAIN (at most 500 images) is held out and training may stop "
                                   "early on it (default: 3,000, 3,000·64/S above side 64; twice that with "
                                   "--loss elbo)"),
        ("--batch-size", positive(int), ""),
        ("--lr", positive(float), "peak learning rate of Adam, cosine decay (default 6e-3; 1e-3 with --loss elbo)"),
        ("--seed", non_negative(int), ""),
        ("--device", str, "cpu, cuda, cuda:1 ... (default: cuda when available)"),
        ("--precision", ("fp32", "bf16"), "bf16: forward passes and losses under bfloat16 autocast, faster on a GPU "
                                          "at large batches, slower at small ones (README, Scaling out)"),
    ]),
}


def setting_of(flag: str, setting: list) -> str:
    """The setting a table row's flag sets: the row's fourth entry, else the flag's own name (--latent-dim:
    latent_dim)."""
    return setting[0] if setting else flag[2:].replace("-", "_")


def add_options(parser: argparse.ArgumentParser, table: dict) -> None:
    """Each group of ``table`` (TRAIN_OPTIONS, FIT_OPTIONS) as an argument group of ``parser``."""
    for title, (settings, rows) in table.items():
        group = parser.add_argument_group(title)
        for flag, kind, text, *setting in rows:
            if kind == SWITCH:
                group.add_argument(flag, action="store_true", help=text)
                continue
            dest = setting_of(flag, setting)
            default = next(getattr(owner, dest) for owner in settings if hasattr(owner, dest))
            if "default" not in text:
                text = f"{text} (default %(default)s)".lstrip()
            text = text % {"default": shown(default)}
            if isinstance(kind, tuple):
                how = {"choices": kind}
            else:  # the metavar of the flag, not of the setting: --ssim-weight SSIM_WEIGHT
                how = {"type": kind, "metavar": flag[2:].upper().replace("-", "_")}
            group.add_argument(flag, dest=dest, help=text, **how)


def settings_by_flag(table: dict) -> dict[str, str]:
    """{flag: the setting it sets} of the options of ``table`` that take a value."""
    return {flag: setting_of(flag, setting) for _, rows in table.values() for flag, kind, _, *setting in rows
            if kind != SWITCH}


def given(args: argparse.Namespace, table: dict) -> dict:
    """{setting: value} of the options of ``table`` that the command line gave."""
    dests = settings_by_flag(table).values()
    return {dest: getattr(args, dest) for dest in dests if getattr(args, dest, None) is not None}
