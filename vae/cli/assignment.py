"""The assignment's word-order forms (``vae.py TRAIN.npz VAL.npz train vae.pth gmm_params.pkl`` ...), `evaluate` and
`plot`: their parser, and their handlers, which turn parsed arguments into one call of vae.assignment.commands."""

import argparse

from vae.assignment import commands
from vae.assignment.config import LossWeights, MixtureOptions, ModelConfig, TrainConfig
from vae.assignment.search import SEARCHES
from vae.cli.arguments import settings
from vae.cli.family import FAMILY_COMMANDS, FAMILY_USAGE
from vae.cli.options import TRAIN_OPTIONS, add_options
from vae.core.report import Outputs

USAGE = """
  python vae.py TRAIN.npz VAL.npz train vae.pth gmm_params.pkl [options]
  python vae.py RECON.npz test_reconstruction vae.pth [--out vae_reconstructed.npz]
  python vae.py TEST.npz test_classifier vae.pth gmm_params.pkl [--out vae.csv]
  python vae.py evaluate TRUTH.npz [vae_reconstructed.npz] [vae.csv]
  python vae.py plot TRAIN.npz VAL.npz vae.pth gmm_params.pkl [--plots DIR]""" + FAMILY_USAGE

DESCRIPTION = """\
A variational autoencoder with a 2-D latent that reconstructs 28x28 images, and a Gaussian mixture
fitted on its latent space (seeded from VAL's labelled images) that classifies them.

  train                trains on TRAIN (its labels are never read), writes vae.pth and gmm_params.pkl
                       and the plots (default: plots/ beside vae.pth)
  test_reconstruction  writes vae_reconstructed.npz (key 'data', same shape as RECON's, float32 in [0, 1])
                       and prints MSE, SSIM and (1 - MSE + SSIM)/2 against RECON
  test_classifier      writes vae.csv (header Predicted_Label, one row per image, input order);
                       prints accuracy, precision, recall and F1 when TEST has labels
  evaluate             scores existing outputs against a truth npz
  plot                 redraws the plots from saved files
  fit, reconstruct, denoise, generate, classify, anomaly, sweep
                       the autoencoder family (AE, beta-VAE, sparse, conv, denoising, classifier head,
                       grey or RGB), anomaly detection and cross-validated sweeps: 'vae.py fit --help'
                       and so on list their options

Inputs: .npz with key 'data' (N x 28 x 28, N x 784 or N x 1 x 28 x 28; uint8 0..255 or floats in
[0, 1]) and optionally 'labels'. Bad input gives a one-line error and exit status 2.

The options below are those of train, test_reconstruction and test_classifier. The family's commands take
options of their own, with their own defaults (a 10-D latent, 11 epochs ...): 'vae.py fit --help'."""

# The command word and how many paths stand before and after it.
ASSIGNMENT_FORMS = {"train": (2, 2), "test_reconstruction": (1, 1), "test_classifier": (1, 2)}
EXTRA_FORMS = {"plot": 4}


def build_parser() -> argparse.ArgumentParser:
    """The assignment's parser: every path and the command word as ``words``, options anywhere among them."""
    parser = argparse.ArgumentParser(
        prog="vae.py", usage=USAGE, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("words", nargs="+", metavar="ARGS",
                        help="the paths and the command word, as in the forms above")
    add_options(parser, TRAIN_OPTIONS)
    output = parser.add_argument_group("output (train, test_reconstruction, test_classifier)")
    output.add_argument("--out", metavar="PATH",
                        help="where test_reconstruction / test_classifier write (default: this folder)")
    output.add_argument("--search", choices=SEARCHES, default="grid",
                        help="test_reconstruction's latent search per image: grid (the default; 147 decodings each), "
                             "lattice "
                             "(about 6x faster, SSIM within 0.001 of grid's, slightly different bytes), none (decode "
                             "the mean)")
    output.add_argument("--no-refine", dest="search", action="store_const", const="none",
                        help="the same as --search none")
    output.add_argument("--plots", metavar="DIR", help="folder for plots (default: plots/ beside vae.pth)")
    output.add_argument("--no-plots", action="store_true", help="train without drawing plots")
    output.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return parser


def split_words(parser, words: list[str]) -> tuple[str, list[str]]:
    if words[0] == "evaluate":
        if len(words) < 2:
            parser.error("evaluate needs TRUTH.npz")
        return "evaluate", words[1:]
    if words[0] in EXTRA_FORMS:
        wanted = EXTRA_FORMS[words[0]]
        if len(words) - 1 != wanted:
            parser.error(f"{words[0]} takes {wanted} paths, got {len(words) - 1}")
        return words[0], words[1:]
    found = [index for index, word in enumerate(words) if word in ASSIGNMENT_FORMS]
    if not found:
        parser.error(f"no command word among {' '.join(words)!r}; expected train, test_reconstruction, "
                     "test_classifier, evaluate, plot, "
                     f"or one of the family's first: {', '.join(FAMILY_COMMANDS)}")
    index = found[0]
    command = words[index]
    before, after = ASSIGNMENT_FORMS[command]
    if index != before or len(words) - index - 1 != after:
        parser.error(f"{command} takes {before} path(s) before it and {after} after it, got {index} and "
                     f"{len(words) - index - 1}")
    return command, words[:index] + words[index + 1:]


def parse(argv: list[str]) -> argparse.Namespace:
    """The assignment's forms, parsed: ``command`` (the command word), ``paths`` and every option."""
    form = build_parser()
    args = form.parse_intermixed_args(argv)
    args.command, args.paths = split_words(form, args.words)
    return args


# The handlers: (parsed arguments, Outputs) -> one call of vae.assignment.commands.


def train(args, outputs: Outputs) -> None:
    train_config = settings(TrainConfig, args, loss=settings(LossWeights, args))
    commands.train(*args.paths, settings(ModelConfig, args), train_config, settings(MixtureOptions, args), outputs)


def test_reconstruction(args, outputs: Outputs) -> None:
    commands.test_reconstruction(*args.paths, args.out, outputs, search=args.search)


def test_classifier(args, outputs: Outputs) -> None:
    commands.test_classifier(*args.paths, args.out, outputs)


def evaluate(args, outputs: Outputs) -> None:
    commands.evaluate(args.paths[0], args.paths[1:], outputs)


def plot(args, outputs: Outputs) -> None:
    commands.plot(*args.paths, outputs)
