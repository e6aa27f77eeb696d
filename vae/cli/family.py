"""The family's subcommands (``vae.py fit TRAIN.npz MODEL.pth`` ...): their parser (their handlers, which turn
parsed arguments into one call of vae.family: vae/cli/family_handlers.py)."""

import argparse
import math

from vae.cli.arguments import checked, class_list, non_negative, positive
from vae.cli.options import FIT_OPTIONS, add_options, settings_by_flag
from vae.core.errors import InputError
from vae.family.config import ANOMALY_SCORES, REFERENCE_EPOCHS, SAMPLERS

FORMS = {  # each family command's usage line(s); TRAIN, DATA ...: an .npz, .npy files or a folder of images
    "fit": "python vae.py fit TRAIN MODEL.pth [--model vae|ae] [--arch mlp|conv] [--latent-dim D] [--beta B]\n"
           "                [--sparsity S] [--layers N] [--noise SIGMA] [--head] [--epochs E | --steps N] [--seed S]\n"
           "                [--image-size S] [--channels 1|3] [--plots DIR]",
    "reconstruct": "python vae.py reconstruct DATA MODEL.pth [--out reconstructed.npz|DIR/]",
    "denoise": "python vae.py denoise NOISY MODEL.pth [--out denoised.npz|DIR/] [--truth CLEAN]",
    "generate": "python vae.py generate MODEL.pth N [--sampler prior|mixture] [--out samples.npz|DIR/] [--seed S]\n"
                "                [--against REAL --reference REF.pth]",
    "reference": "python vae.py reference TRAIN REF.pth [--epochs E] [--seed S]",
    "classify": "python vae.py classify DATA MODEL.pth [--out predictions.csv]",
    "sweep": "python vae.py sweep TRAIN --grid \"model=ae,vae beta=1,5,10,20 latent-dim=2,10\" [--folds 5]\n"
             "                [--jobs N | --cluster tcp://HOST:8786] [--out sweep/]\n"
             "                [any fit option, applied to every cell]",
    "likelihood": "python vae.py likelihood MODEL.pth DATA [--samples K] [--out nll.json] [--seed S]",
    "disentanglement": "python vae.py disentanglement MODEL.pth SET.npz [--out scores.json] [--seed S]",
    "anomaly": "python vae.py anomaly DATA MODEL.pth [--out anomalies.csv] [--score S]\n"
               "                [--threshold T | --contamination C]\n"
               "                [--abnormal-classes 0,2,3 | --normal-classes 1,4,8]",
}
FAMILY_COMMANDS = tuple(FORMS)
FAMILY_USAGE = "".join(f"\n  {usage}" for usage in FORMS.values())

FAMILY_DESCRIPTION = """\
The autoencoder family (a model file of its own, MODEL.pth), on grey or RGB images of any size: TRAIN, DATA
... are .npz or .npy arrays, or a folder of PNG, JPEG, BMP or TIFF files (flat, or one subfolder per class):
  fit          trains a VAE or a plain AE (conv or MLP; beta-VAE, sparse AE, denoising, classifier head)
  reconstruct  writes each image decoded from its latent mean; prints MSE, PSNR and SSIM against the input
  denoise      the same for noisy images; scores against --truth (the clean images) when given
  generate     writes N images decoded from the prior (a VAE) or the training latents' mixture (any model), a PNG
               grid of them; with --against REAL, their Fréchet distance and precision/recall against REAL
  reference    trains the network whose features --against and sweeps judge samples in
  classify     writes the head's class per image (header Predicted_Label); prints scores when DATA has labels
  anomaly      flags images the model reconstructs badly (header Anomaly_Score,Predicted_Anomaly)
  sweep        fits every cell of a grid of settings on k folds of TRAIN; one results table
  likelihood   a VAE's negative ELBO and IWAE bound on DATA, in nats per image (dynamically binarised)
  disentanglement  MIG, DCI and SAP of the latent means against SET's known factors; latent traversals
'vae.py COMMAND --help' lists a command's options."""


# command: (its one-line help, its description, its positional arguments: (dest, metavar[, type]))
SUBCOMMANDS = {
    "fit": ("train a network of the family", "Train a VAE or a plain AE on TRAIN and write MODEL.pth. What is not "
            "given is chosen from TRAIN (the image side and channels, the latent size, the conv widths, how long to "
            "train), printed before training and stored in MODEL.pth.",
            (("train", "TRAIN"), ("model_path", "MODEL.pth"))),
    "reconstruct": ("decode images", "Decode each image from its latent mean; print MSE, PSNR and SSIM against it.",
                    (("data", "DATA"), ("model_path", "MODEL.pth"))),
    "denoise": ("denoise images", "Denoise each image; print MSE, PSNR and SSIM against --truth, else the input.",
                (("data", "NOISY"), ("model_path", "MODEL.pth"))),
    "classify": ("classify images", "The classifier head's class for each image; scores when DATA has labels.",
                 (("data", "DATA"), ("model_path", "MODEL.pth"))),
    "anomaly": ("flag images unlike the training set", "Score each image (by default combining its reconstruction with "
                "its nearest training images in the encoder's features) and flag those above the threshold; writes "
                "the CSV and histograms of every score (PNG) beside it.",
                (("data", "DATA"), ("model_path", "MODEL.pth"))),
    "sweep": ("cross-validated grid of fits", "Fit every cell of a grid of fit options on each fold of TRAIN (k-fold "
              "cross-validation) and score it on the held-out fold; writes results.csv, summary.md and figures into "
              "--out.", (("train", "TRAIN"),)),
    "likelihood": ("a VAE's likelihood bounds", "The negative ELBO and the importance-weighted bound (IWAE, Burda "
                   "et al. 2016) of MODEL.pth on DATA, in nats per image, each pixel binarised with its intensity "
                   "(a fixed seed): discrete likelihoods comparable with the literature's (MNIST, one stochastic "
                   "layer: VAE ≈ 86.8, IWAE ≈ 84.8). Writes them as JSON.",
                   (("model_path", "MODEL.pth"), ("data", "DATA"))),
    "disentanglement": ("disentanglement scores", "How well MODEL.pth's latent means separate the known factors of "
                        "SET.npz (keys data, factors: N×K integers, factor_names optional): MIG (Chen et al. 2018), "
                        "DCI (Eastwood & Williams 2018), SAP (Kumar et al. 2018). Writes them as JSON and the latent "
                        "traversals beside it (scores.json -> scores.png). python -m vae.datasets shapes makes such a "
                        "set.", (("model_path", "MODEL.pth"), ("data", "SET.npz"))),
    "generate": ("sample new images", "Decode N draws of a VAE's prior or of the mixture of its training images' "
                 "latents; writes them and a PNG grid beside them; --against REAL scores them against real images.",
                 (("model_path", "MODEL.pth"), ("count", "N", int))),
    "reference": ("train the network samples are judged in", "Train a small conv classifier on TRAIN's labels, "
                  "whose features generate --against and sweep compare samples and real images in.",
                  (("train", "TRAIN"), ("model_path", "REF.pth"))),
}

IMAGES_HELP = ".npz or .npy arrays, a packed folder, or a folder of image files (one subfolder per class: labels)"
POSITIONAL_HELP = {"TRAIN": f"training images: {IMAGES_HELP}", "DATA": f"images: {IMAGES_HELP}",
                   "NOISY": f"noisy images: {IMAGES_HELP}", "N": "how many samples",
                   "MODEL.pth": "the model file (fit writes it, the other commands read it)",
                   "REF.pth": "the reference network's file, written (vae.py generate --reference reads it)",
                   "SET.npz": "images with their factors: keys data, factors (N×K integers), factor_names"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vae.py", usage=FAMILY_USAGE, description=FAMILY_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    forms = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", prog="vae.py")
    form = {name: _form(forms, name) for name in FORMS}

    add_fit_options(form["fit"])
    _reading_options(form["fit"], sizes=True)
    _output_options(form["fit"], plots=True)
    outs = {"reconstruct": "reconstructed.npz", "denoise": "denoised.npz", "classify": "predictions.csv"}
    for name, out in outs.items():
        _output_options(form[name], default=out, folders=name != "classify")
        _reading_options(form[name])
    form["denoise"].add_argument("--truth", metavar="CLEAN", help="the clean images, to score against")

    anomaly = form["anomaly"]
    anomaly.add_argument("--score", choices=ANOMALY_SCORES, default=ANOMALY_SCORES[0],
                         help="combined (default): each of ssim, neighbours and texture as a standard normal score "
                              "among held-out normal training images, then the larger of (ssim + neighbours) / √2 and "
                              "texture; mse: mean squared reconstruction error; ssim: 1 - SSIM of the "
                              "reconstruction; neighbours: mean distance to the 5 nearest training images in the "
                              "encoder's first feature map; texture: the same in each conv layer's channel means and "
                              "spreads and each channel's intensity histogram. fit keeps what they need in MODEL.pth: "
                              "the features of at most 2,000 training images (float16: 9 MB for digits) and the "
                              "scores of at most 1,000 others (fit's held-out slice, else a tenth of TRAIN it trained "
                              "on); a model fitted before these scores gives mse and ssim only")
    limits = anomaly.add_mutually_exclusive_group()
    limits.add_argument("--threshold", type=checked(float, math.isfinite, "a finite number"), metavar="T",
                        help="flag scores above T (default: the one fit stored, the 0.95 quantile of the held-out "
                             "training images' scores)")
    limits.add_argument("--contamination", type=float, metavar="C",
                        help="the expected share of anomalies, in (0, 0.5] (PyOD's name): flag scores above the "
                             "1 - C quantile of the held-out training images' scores")
    classes = anomaly.add_mutually_exclusive_group()
    classes.add_argument("--abnormal-classes", type=class_list, metavar="0,2,3",
                         help="DATA's labels that mean an anomaly (default: DATA's labels are 0/1, 1 = anomaly)")
    classes.add_argument("--normal-classes", type=class_list, metavar="1,4,8",
                         help="DATA's labels that mean a normal image; every other label is an anomaly")
    _output_options(anomaly, default="anomalies.csv")
    _reading_options(anomaly)

    sweep = form["sweep"]
    sweep.add_argument("--grid", required=True, metavar='"KNOB=V1,V2 ..."', help="fit options without their dashes "
                       "and their values, e.g. \"model=ae,vae beta=1,5 latent-dim=2,10\"")
    sweep.add_argument("--folds", type=checked(int, lambda v: v >= 2, ">= 2"), default=5, help="(default %(default)s)")
    sweep.add_argument("--jobs", type=positive(int), help="fits at a time (default: the cores / --fit-threads)")
    sweep.add_argument("--cluster", metavar="tcp://HOST:8786", help="run the fits on the workers of this Dask "
                       "scheduler (dask scheduler; dask worker tcp://HOST:8786 --nthreads 1 on each machine, the same "
                       "vae installed); this machine writes --out")
    sweep.add_argument("--fit-threads", type=positive(int), default=1,
                       help="torch threads of each fit (default %(default)s: one fit per core)")
    sweep.add_argument("--out", metavar="DIR", default="sweep",
                       help="(default %(default)s/; finished folds there are not redone)")
    sweep.add_argument("--reference", metavar="REF.pth", help="the network whose features samples are judged in "
                       "(default: one trained on TRAIN's labels, kept as OUT/reference.pth)")
    sweep.add_argument("--quiet", action="store_true", help="print nothing but errors")
    add_fit_options(sweep)
    _reading_options(sweep, sizes=True)

    generate = form["generate"]
    generate.add_argument("--sampler", choices=SAMPLERS, help="prior: a VAE's N(0, I); mixture: the Gaussian mixture "
                          "fit stored of the training latents (default: prior for a VAE, mixture for an AE)")
    generate.add_argument("--seed", type=non_negative(int), default=0, help="(default %(default)s)")
    generate.add_argument("--against", metavar="REAL", help="real images to score the samples against: Fréchet "
                          "distance and precision/recall (Kynkäänniemi et al. 2019)")
    generate.add_argument("--reference", metavar="REF.pth", help="with --against: the network (vae.py reference) "
                          "whose features the samples and REAL are compared in")
    _output_options(generate, default="samples.npz", folders=True)

    likelihood = form["likelihood"]
    likelihood.add_argument("--samples", type=int, default=100, metavar="K",  # its range: one line (likelihood.py)
                            help="importance samples per image, 1 to 100,000 (default %(default)s; 1: the two bounds "
                                 "agree; the literature's IWAE numbers use 5,000)")
    for name, out in (("likelihood", "nll.json"), ("disentanglement", "scores.json")):
        form[name].add_argument("--seed", type=non_negative(int), default=0, help="(default %(default)s)")
        _output_options(form[name], default=out)

    reference = form["reference"]
    reference.add_argument("--epochs", type=positive(int), default=REFERENCE_EPOCHS, help="(default %(default)s)")
    reference.add_argument("--seed", type=non_negative(int), default=0, help="(default %(default)s)")
    reference.add_argument("--device", default="auto", help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    _reading_options(reference, sizes=True)
    _output_options(reference)
    return parser


def _form(forms, name: str) -> argparse.ArgumentParser:
    """A subcommand's parser, with its usage line, help, description and positional arguments."""
    help_text, description, positionals = SUBCOMMANDS[name]
    form = forms.add_parser(name, usage=FORMS[name], help=help_text, description=description)
    for dest, metavar, *kind in positionals:
        form.add_argument(dest, metavar=metavar, type=kind[0] if kind else str, help=POSITIONAL_HELP[metavar])
    return form


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
        dest = settings_by_flag(FIT_OPTIONS).get(f"--{knob}", knob)
        grid[dest] = [getattr(checker.parse_args([f"--{knob}", value]), dest, None) for value in values.split(",")]
    if not grid:
        raise InputError("--grid: no knobs given, e.g. --grid \"model=ae,vae beta=1,5\"")
    return grid


def _reading_options(form, sizes: bool = False) -> None:
    """How a folder of image files is read: at which side and channels (TRAIN's; the model's own at test time)."""
    reading = form.add_argument_group("folders of image files")
    if sizes:
        reading.add_argument("--image-size", dest="side", metavar="S", type=int,
                             help="resize every image to S×S (default: the side most images have; images at most "
                                  "half of it are refused rather than enlarged)")
        reading.add_argument("--channels", type=int, choices=(1, 3),
                             help="1 (grey) or 3 (RGB) (default: the images' own; a folder mixing grey and colour "
                                  "images needs it)")
    reading.add_argument("--skip-unreadable", action="store_true",
                         help="leave out image files that cannot be decoded (and say how many) rather than stop")


def _output_options(form, default: str | None = None, plots: bool = False, folders: bool = False) -> None:
    output = form.add_argument_group("output")
    if default:
        also = "; a folder DIR/ for one PNG per image" if folders else ""
        output.add_argument("--out", metavar="PATH", help=f"(default: {default} in this folder{also})")
    if plots:
        output.add_argument("--plots", metavar="DIR",
                            help="folder for the figures (default: MODEL_plots/ beside MODEL.pth, for MODEL.pth)")
        output.add_argument("--no-plots", action="store_true", help="draw no figures")
    output.add_argument("--quiet", action="store_true", help="print nothing but errors")


def parse(argv: list[str]) -> argparse.Namespace:
    return build_parser().parse_args(argv)
