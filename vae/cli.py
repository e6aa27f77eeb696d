"""Command-line pieces shared by vae.py's forms: argument types, the error boundary, and the family's parser.

Parsing only: each form calls one plain function of vae.commands or vae.family.
"""

import argparse
import sys

FORMS = {  # each family command's usage line(s)
    "fit": "python vae.py fit TRAIN.npz MODEL.pth [--model vae|ae] [--arch mlp|conv] [--latent-dim D] [--beta B]\n"
           "                [--sparsity S] [--layers N] [--noise SIGMA] [--head] [--epochs E] [--seed S] [--plots DIR]",
    "reconstruct": "python vae.py reconstruct DATA.npz MODEL.pth [--out reconstructed.npz]",
    "denoise": "python vae.py denoise NOISY.npz MODEL.pth [--out denoised.npz] [--truth CLEAN.npz]",
    "generate": "python vae.py generate MODEL.pth N [--out samples.npz] [--seed S]",
    "classify": "python vae.py classify DATA.npz MODEL.pth [--out predictions.csv]",
    "sweep": "python vae.py sweep TRAIN.npz --grid \"model=ae,vae beta=1,5,10,20 latent-dim=2,10\" [--folds 5]\n"
             "                [--jobs N] [--out sweep/] [any fit option, applied to every cell]",
    "anomaly": "python vae.py anomaly DATA.npz MODEL.pth [--out anomalies.csv] [--threshold T] [--abnormal-classes 1,3,4]",
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


def positive(kind):
    return checked(kind, lambda value: value > 0, "> 0")


def non_negative(kind):
    return checked(kind, lambda value: value >= 0, ">= 0")


def checked(kind, accept, wording: str):
    """An argparse type: ``kind(text)``, refused unless ``accept(value)``; NaN is refused by both bounds."""
    def parse(text: str):
        value = kind(text)
        if not accept(value):
            raise argparse.ArgumentTypeError(f"must be {wording}, got {text}")
        return value

    parse.__name__ = kind.__name__
    return parse


def widths(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths such as 512,256, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"widths must be positive, got {text!r}")
    return values


def class_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(sorted({int(part) for part in text.split(",")}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated class labels such as 1,3,4, got {text!r}") from None


def run(command: str, call, interrupted: str = "wrote nothing new") -> int:
    """Run ``call()``: a user's error becomes one line on stderr and exit 2, Ctrl-C exit 130."""
    from vae import distributed
    from vae.errors import InputError

    try:
        distributed.check_command(command)
        call()
    except InputError as error:
        print(f"vae.py: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vae.py: interrupted; {command} stopped and {interrupted}", file=sys.stderr)
        return 130
    return 0


# ---------------------------------------------------------------------------------- the family


def family_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vae.py", usage=FAMILY_USAGE, description=FAMILY_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    forms = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", prog="vae.py")

    fit = forms.add_parser("fit", usage=FORMS["fit"], help="train a network of the family", description="Train a VAE or a plain AE on TRAIN and write MODEL.pth.")
    fit.add_argument("train", metavar="TRAIN.npz")
    fit.add_argument("model_path", metavar="MODEL.pth")
    add_fit_options(fit)
    _output_options(fit, plots=True)

    for name, data, out, text in (
        ("reconstruct", "DATA.npz", "reconstructed.npz", "Decode each image from its latent mean; print MSE, PSNR and SSIM against it."),
        ("denoise", "NOISY.npz", "denoised.npz", "Denoise each image; print MSE, PSNR and SSIM against --truth, else against the input."),
        ("classify", "DATA.npz", "predictions.csv", "The classifier head's class for each image; scores when DATA has labels."),
    ):
        form = forms.add_parser(name, usage=FORMS[name], help=text, description=text)
        form.add_argument("data", metavar=data)
        form.add_argument("model_path", metavar="MODEL.pth")
        _output_options(form, default=out)
        if name == "denoise":
            form.add_argument("--truth", metavar="CLEAN.npz", help="the clean images, to score against")

    anomaly = forms.add_parser("anomaly", usage=FORMS["anomaly"], help="flag images unlike the training set",
                               description="Score each image by its reconstruction error and flag those above the threshold; "
                                           "writes the CSV and a histogram of the scores (PNG) beside it.")
    anomaly.add_argument("data", metavar="DATA.npz")
    anomaly.add_argument("model_path", metavar="MODEL.pth")
    anomaly.add_argument("--score", choices=("mse", "ssim"), default="mse",
                         help="mse: mean squared error over pixels (default; weighs a missing or extra stroke by its area); "
                              "ssim: 1 - SSIM, structure rather than intensity, for anomalies of texture")
    anomaly.add_argument("--threshold", type=non_negative(float), help="flag scores above T (default: the one fit stored)")
    anomaly.add_argument("--abnormal-classes", type=class_list, metavar="1,3,4",
                         help="DATA's labels that mean an anomaly (default: DATA's labels are 0/1, 1 = anomaly)")
    _output_options(anomaly, default="anomalies.csv")

    sweep = forms.add_parser("sweep", usage=FORMS["sweep"], help="cross-validated grid of fits",
                             description="Fit every cell of a grid of fit options on each fold of TRAIN (k-fold cross-validation) and score it "
                                         "on the held-out fold; writes results.csv, summary.md and figures into --out.")
    sweep.add_argument("train", metavar="TRAIN.npz")
    sweep.add_argument("--grid", required=True, metavar='"KNOB=V1,V2 ..."',
                       help="fit options without their dashes and their values, e.g. \"model=ae,vae beta=1,5 latent-dim=2,10\"")
    sweep.add_argument("--folds", type=checked(int, lambda v: v >= 2, ">= 2"), default=5, help="(default %(default)s)")
    sweep.add_argument("--jobs", type=positive(int), help="fits at a time, each on one core (default: the machine's cores)")
    sweep.add_argument("--out", metavar="DIR", default="sweep", help="(default %(default)s/; finished folds there are not redone)")
    sweep.add_argument("--quiet", action="store_true", help="print nothing but errors")
    add_fit_options(sweep)

    generate = forms.add_parser("generate", usage=FORMS["generate"], help="sample new images", description="Decode N draws of a VAE's prior; writes the npz and a PNG grid beside it.")
    generate.add_argument("model_path", metavar="MODEL.pth")
    generate.add_argument("count", metavar="N", type=positive(int))
    generate.add_argument("--seed", type=non_negative(int), default=0, help="(default %(default)s)")
    _output_options(generate, default="samples.npz")
    return parser


def add_fit_options(form) -> None:
    """fit's options (network, loss, training), also taken by sweep for every cell."""
    from vae.config import AutoencoderConfig, FitConfig

    model, fitting = AutoencoderConfig(), FitConfig()
    network = form.add_argument_group("network")
    network.add_argument("--model", choices=("vae", "ae"), default=model.model, help="variational or plain autoencoder (default %(default)s)")
    network.add_argument("--arch", choices=("mlp", "conv"), default=model.arch, help="(default %(default)s)")
    network.add_argument("--latent-dim", type=positive(int), default=model.latent_dim, help="(default %(default)s)")
    network.add_argument("--layers", type=positive(int), default=model.layers,
                         help="mlp: layers from the input to the latent, widths D_i = D_x - round((D_x - D_z) i / n) (default %(default)s)")
    network.add_argument("--conv-channels", type=widths, default=model.conv_channels,
                         help="conv: channels of each stride-2 layer (default %s)" % ",".join(map(str, model.conv_channels)))
    network.add_argument("--conv-hidden", type=positive(int), default=model.conv_hidden, help="conv: dense width before the latent (default %(default)s)")
    network.add_argument("--head", action="store_true", help="train a classifier head on the latent mean from TRAIN's labels")
    loss = form.add_argument_group("loss")
    loss.add_argument("--beta", type=non_negative(float), default=fitting.beta, help="vae: weight of the KL term (beta-VAE; default %(default)s)")
    loss.add_argument("--sparsity", type=non_negative(float), default=fitting.sparsity,
                      help="ae: weight S of the sparsity penalty on the code (5, 10, 20 ...; 0: none; default %(default)s)")
    loss.add_argument("--sparsity-target", type=checked(float, lambda v: 0 < v < 1, "in (0, 1)"), default=fitting.sparsity_target,
                      help="the mean activation each code unit is held near (default %(default)s)")
    loss.add_argument("--noise", type=non_negative(float), default=fitting.noise,
                      help="denoising: sigma of the Gaussian noise added to the inputs, clipped to [0, 1] (default %(default)s)")
    loss.add_argument("--head-weight", type=non_negative(float), default=fitting.head_weight, help="(default %(default)s)")
    loss.add_argument("--head-shift", type=non_negative(int), default=fitting.head_shift,
                      help="with --head: move each training image by a random offset of up to this many pixels each time (default %(default)s)")
    loss.add_argument("--anomaly-quantile", type=checked(float, lambda v: 0 < v < 1, "in (0, 1)"), default=fitting.anomaly_quantile,
                      help="the stored anomaly threshold: this quantile of the training images' scores (default %(default)s)")
    loss.add_argument("--ssim-weight", type=non_negative(float), default=fitting.ssim_weight, help="weight of (1 - SSIM) beside the BCE (default %(default)s)")
    training = form.add_argument_group("training")
    training.add_argument("--epochs", type=positive(int), default=fitting.epochs, help="(default %(default)s)")
    training.add_argument("--batch-size", type=positive(int), default=fitting.batch_size, help="(default %(default)s)")
    training.add_argument("--lr", type=positive(float), default=fitting.lr, help="peak learning rate of Adam, cosine decay (default %(default)s)")
    training.add_argument("--seed", type=non_negative(int), default=0, help="(default %(default)s)")
    training.add_argument("--device", default=fitting.device, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    training.add_argument("--precision", choices=("fp32", "bf16"), default=fitting.precision,
                          help="bf16: forward passes and losses under bfloat16 autocast, faster on a GPU at large batches "
                               "(1.23x at batch 512 on an H100), slower at small ones (default %(default)s)")


def fit_configs(args):
    """(AutoencoderConfig, FitConfig) from fit's options (add_fit_options)."""
    from vae.config import AutoencoderConfig, FitConfig

    config = AutoencoderConfig(model=args.model, arch=args.arch, latent_dim=args.latent_dim, layers=args.layers,
                               conv_channels=args.conv_channels, conv_hidden=args.conv_hidden)
    fit_config = FitConfig(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, beta=args.beta, sparsity=args.sparsity,
        sparsity_target=args.sparsity_target, noise=args.noise, head_weight=args.head_weight, head_shift=args.head_shift,
        ssim_weight=args.ssim_weight, anomaly_quantile=args.anomaly_quantile, seed=args.seed, device=args.device,
        precision=args.precision,
    )
    return config, fit_config


class _RaisingParser(argparse.ArgumentParser):
    def error(self, message):
        from vae.errors import InputError

        raise InputError(f"--grid: {message}")


def parse_grid(text: str) -> dict[str, list]:
    """--grid "model=ae,vae beta=1,5" as {"model": ["ae", "vae"], "beta": [1.0, 5.0]}: each value read and checked as fit's option."""
    from vae.errors import InputError

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
        output.add_argument("--plots", metavar="DIR", help="folder for the figures (default: plots/ beside MODEL.pth)")
        output.add_argument("--no-plots", action="store_true", help="draw no figures")
    output.add_argument("--quiet", action="store_true", help="print nothing but errors")


def family_main(argv: list[str]) -> int:
    args = family_parser().parse_args(argv)

    from vae import commands, family

    outputs = commands.Outputs(quiet=args.quiet, plots="" if getattr(args, "no_plots", False) else getattr(args, "plots", None))
    if args.command == "fit":
        config, fit_config = fit_configs(args)
        return run("fit", lambda: family.fit(args.train, args.model_path, config, fit_config, args.head, outputs))
    if args.command == "sweep":
        from vae import sweep

        config, fit_config = fit_configs(args)
        return run("sweep", lambda: sweep.sweep(args.train, parse_grid(args.grid), config, fit_config, args.head, args.folds, args.jobs, args.out, outputs),
                   interrupted="finished folds are kept in --out; run the same command again to go on")
    if args.command == "reconstruct":
        return run("reconstruct", lambda: family.reconstruct(args.data, args.model_path, args.out, outputs))
    if args.command == "denoise":
        return run("denoise", lambda: family.denoise(args.data, args.model_path, args.out, args.truth, outputs))
    if args.command == "anomaly":
        from vae import anomaly

        return run("anomaly", lambda: anomaly.anomaly(args.data, args.model_path, args.out, args.threshold, args.score,
                                                      args.abnormal_classes, outputs))
    if args.command == "generate":
        return run("generate", lambda: family.generate(args.model_path, args.count, args.out, args.seed, outputs))
    return run("classify", lambda: family.classify(args.data, args.model_path, args.out, outputs))
