"""The family's subcommands (``vae.py fit TRAIN.npz MODEL.pth`` ...): their parser, and their handlers, which turn
parsed arguments into one call of vae.family."""

import argparse

from vae.cli.arguments import checked, class_list, non_negative, positive, settings, shown
from vae.cli.options import FIT_OPTIONS, add_options, given
from vae.core.errors import InputError
from vae.core.report import Outputs
from vae.family.config import APPLIES_TO, AutoencoderConfig, FitConfig, applies

FORMS = {  # each family command's usage line(s)
    "fit": "python vae.py fit TRAIN.npz MODEL.pth [--model vae|ae] [--arch mlp|conv] [--latent-dim D] [--beta B]\n"
           "                [--sparsity S] [--layers N] [--noise SIGMA] [--head] [--epochs E] [--seed S] [--plots DIR]",
    "reconstruct": "python vae.py reconstruct DATA.npz MODEL.pth [--out reconstructed.npz]",
    "denoise": "python vae.py denoise NOISY.npz MODEL.pth [--out denoised.npz] [--truth CLEAN.npz]",
    "generate": "python vae.py generate MODEL.pth N [--out samples.npz] [--seed S]",
    "classify": "python vae.py classify DATA.npz MODEL.pth [--out predictions.csv]",
    "sweep": "python vae.py sweep TRAIN.npz --grid \"model=ae,vae beta=1,5,10,20 latent-dim=2,10\" [--folds 5]\n"
             "                [--jobs N] [--out sweep/] [any fit option, applied to every cell]",
    "anomaly": "python vae.py anomaly DATA.npz MODEL.pth [--out anomalies.csv] [--threshold T] [--score mse|ssim]\n"
               "                [--abnormal-classes 0,2,3 | --normal-classes 1,4,8]",
}
FAMILY_COMMANDS = tuple(FORMS)
FAMILY_USAGE = "".join(f"\n  {usage}" for usage in FORMS.values())

FAMILY_DESCRIPTION = """\
The autoencoder family (a model file of its own, MODEL.pth; grey or RGB 28x28 images):
  fit          trains a VAE or a plain AE (conv or MLP; beta-VAE, sparse AE, denoising, classifier head)
  reconstruct  writes each image decoded from its latent mean; prints MSE, PSNR and SSIM against the input
  denoise      the same for noisy images; scores against --truth (the clean images) when given
  generate     writes N images decoded from the prior (VAEs only) and a PNG grid of them
  classify     writes the head's class per image (header Predicted_Label); prints scores when DATA has labels
  anomaly      flags images the model reconstructs badly (header Anomaly_Score,Predicted_Anomaly)
  sweep        fits every cell of a grid of settings on k folds of TRAIN; one results table
'vae.py COMMAND --help' lists a command's options."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vae.py", usage=FAMILY_USAGE, description=FAMILY_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    forms = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", prog="vae.py")

    fit = forms.add_parser("fit", usage=FORMS["fit"], help="train a network of the family",
                           description="Train a VAE or a plain AE on TRAIN and write MODEL.pth.")
    fit.add_argument("train", metavar="TRAIN.npz")
    fit.add_argument("model_path", metavar="MODEL.pth")
    add_fit_options(fit)
    _output_options(fit, plots=True)

    for name, data, out, text in (
        ("reconstruct", "DATA.npz", "reconstructed.npz",
         "Decode each image from its latent mean; print MSE, PSNR and SSIM against it."),
        ("denoise", "NOISY.npz", "denoised.npz",
         "Denoise each image; print MSE, PSNR and SSIM against --truth, else against the input."),
        ("classify", "DATA.npz", "predictions.csv",
         "The classifier head's class for each image; scores when DATA has labels."),
    ):
        form = forms.add_parser(name, usage=FORMS[name], help=text, description=text)
        form.add_argument("data", metavar=data)
        form.add_argument("model_path", metavar="MODEL.pth")
        _output_options(form, default=out)
        if name == "denoise":
            form.add_argument("--truth", metavar="CLEAN.npz", help="the clean images, to score against")

    anomaly = forms.add_parser("anomaly", usage=FORMS["anomaly"], help="flag images unlike the training set",
                               description="Score each image by its reconstruction error and flag those above the "
                                           "threshold; "
                                           "writes the CSV and a histogram of the scores (PNG) beside it.")
    anomaly.add_argument("data", metavar="DATA.npz")
    anomaly.add_argument("model_path", metavar="MODEL.pth")
    anomaly.add_argument("--score", choices=("mse", "ssim"), default="mse",
                         help="mse: mean squared error over pixels (default; weighs a missing or extra stroke by its "
                              "area); "
                              "ssim: 1 - SSIM, structure rather than intensity, for anomalies of texture")
    anomaly.add_argument("--threshold", type=non_negative(float),
                         help="flag scores above T (default: the one fit stored)")
    classes = anomaly.add_mutually_exclusive_group()
    classes.add_argument("--abnormal-classes", type=class_list, metavar="0,2,3",
                         help="DATA's labels that mean an anomaly (default: DATA's labels are 0/1, 1 = anomaly)")
    classes.add_argument("--normal-classes", type=class_list, metavar="1,4,8",
                         help="DATA's labels that mean a normal image; every other label is an anomaly")
    _output_options(anomaly, default="anomalies.csv")

    sweep = forms.add_parser("sweep", usage=FORMS["sweep"], help="cross-validated grid of fits",
                             description="Fit every cell of a grid of fit options on each fold of TRAIN (k-fold "
                                         "cross-validation) and score it "
                                         "on the held-out fold; writes results.csv, summary.md and figures into --out.")
    sweep.add_argument("train", metavar="TRAIN.npz")
    sweep.add_argument("--grid", required=True, metavar='"KNOB=V1,V2 ..."',
                       help="fit options without their dashes and their values, e.g. \"model=ae,vae beta=1,5 "
                            "latent-dim=2,10\"")
    sweep.add_argument("--folds", type=checked(int, lambda v: v >= 2, ">= 2"), default=5, help="(default %(default)s)")
    sweep.add_argument("--jobs", type=positive(int),
                       help="fits at a time, each on one core (default: the machine's cores)")
    sweep.add_argument("--out", metavar="DIR", default="sweep",
                       help="(default %(default)s/; finished folds there are not redone)")
    sweep.add_argument("--quiet", action="store_true", help="print nothing but errors")
    add_fit_options(sweep)

    generate = forms.add_parser("generate", usage=FORMS["generate"], help="sample new images",
                                description="Decode N draws of a VAE's prior; writes the npz and a PNG grid beside it.")
    generate.add_argument("model_path", metavar="MODEL.pth")
    generate.add_argument("count", metavar="N", type=positive(int))
    generate.add_argument("--seed", type=non_negative(int), default=0, help="(default %(default)s)")
    _output_options(generate, default="samples.npz")
    return parser


def add_fit_options(form) -> None:
    """fit's options (network, loss, training), also taken by sweep for every cell."""
    add_options(form, FIT_OPTIONS)


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message):
        raise InputError(f"--grid: {message}")


def parse_grid(text: str) -> dict[str, list]:
    """--grid "model=ae,vae beta=1,5" as {"model": ["ae", "vae"], "beta": [1.0, 5.0]}: each value read and checked as
    fit's option."""
    checker = _RaisingParser(add_help=False, allow_abbrev=False)
    add_fit_options(checker)
    grid = {}
    for token in text.split():
        knob, _, values = token.partition("=")
        if not values or knob in grid:
            raise InputError(f"--grid: {token!r} is not KNOB=V1,V2,... (each knob once)")
        dest = knob.replace("-", "_")
        grid[dest] = [getattr(checker.parse_args([f"--{knob}", value]), dest, None) for value in values.split(",")]
    if not grid:
        raise InputError("--grid: no knobs given, e.g. --grid \"model=ae,vae beta=1,5\"")
    return grid


def _output_options(form, default: str | None = None, plots: bool = False) -> None:
    output = form.add_argument_group("output")
    if default:
        output.add_argument("--out", metavar="PATH", help=f"(default: {default} in this folder)")
    if plots:
        output.add_argument("--plots", metavar="DIR",
                            help="folder for the figures (default: MODEL_plots/ beside MODEL.pth, for MODEL.pth)")
        output.add_argument("--no-plots", action="store_true", help="draw no figures")
    output.add_argument("--quiet", action="store_true", help="print nothing but errors")


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)


# The handlers: (parsed arguments, Outputs) -> one call of vae.family. The family's modules import torch
# (about 1.5 s): imported in the handlers, so that `vae.py fit --help` and the assignment's commands start at once.


def fit(args, outputs: Outputs) -> None:
    from vae.family import commands

    config = settings(AutoencoderConfig, args)
    refuse_inapplicable(given(args, FIT_OPTIONS), {"model": config.model, "arch": config.arch, "head": args.head})
    commands.fit(args.train, args.model_path, config, settings(FitConfig, args), args.head, outputs)


def refuse_inapplicable(options: dict, chosen: dict) -> None:
    """An option given for a network it does not apply to (--beta for an AE...) is refused, not ignored."""
    for setting, value in options.items():
        if not applies(setting, chosen):
            needed, wanted = APPLIES_TO[setting]
            condition = f"--{needed}" if wanted is True else f"--{needed} {wanted} (this fit: {chosen[needed]})"
            raise InputError(f"--{setting.replace('_', '-')} {shown(value)}: applies only with {condition}")


def sweep(args, outputs: Outputs) -> None:
    from vae.family.sweep import sweep as run_sweep

    run_sweep(args.train, parse_grid(args.grid), settings(AutoencoderConfig, args), settings(FitConfig, args),
              args.head,
          args.folds, args.jobs, args.out, outputs)


def reconstruct(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.reconstruct(args.data, args.model_path, args.out, outputs)


def denoise(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.denoise(args.data, args.model_path, args.out, args.truth, outputs)


def anomaly(args, outputs: Outputs) -> None:
    from vae.family.anomaly import anomaly as detect

    detect(args.data, args.model_path, args.out, args.threshold, args.score, args.abnormal_classes,
           args.normal_classes, outputs)


def generate(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.generate(args.model_path, args.count, args.out, args.seed, outputs)


def classify(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.classify(args.data, args.model_path, args.out, outputs)
