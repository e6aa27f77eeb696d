#!/usr/bin/env python3
"""Command line of vae: the assignment's three forms, `evaluate` and `plot`, then the family's forms
(vae/cli.py). Parsing only."""

import argparse
import sys

from vae.cli import FAMILY_COMMANDS, FAMILY_USAGE, family_main, non_negative, positive, run, widths
from vae.network import SEARCHES

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
[0, 1]) and optionally 'labels'. Bad input gives a one-line error and exit status 2."""

# The command word and how many paths stand before and after it.
ASSIGNMENT_FORMS = {"train": (2, 2), "test_reconstruction": (1, 1), "test_classifier": (1, 2)}
EXTRA_FORMS = {"plot": 4}


def build_parser() -> argparse.ArgumentParser:
    from vae.config import LossWeights, MixtureOptions, ModelConfig, TrainConfig

    model_defaults, train_defaults, loss_defaults, mixture_defaults = ModelConfig(), TrainConfig(), LossWeights(), MixtureOptions()
    parser = argparse.ArgumentParser(
        prog="vae.py", usage=USAGE, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("words", nargs="+", metavar="ARGS", help="the paths and the command word, as in the forms above")
    model = parser.add_argument_group("model and training (train)")
    model.add_argument("--epochs", type=positive(int), default=train_defaults.epochs, help="passes over TRAIN training the VAE (default %(default)s)")
    model.add_argument("--decoder-epochs", type=non_negative(int), default=train_defaults.decoder_epochs,
                       help="then passes training the decoder alone, the encoder frozen (default %(default)s)")
    model.add_argument("--decoder-ssim-weight", type=non_negative(float), default=train_defaults.decoder_ssim,
                       help="weight of (1 - SSIM) in the decoder passes (default %(default)s)")
    model.add_argument("--batch-size", type=positive(int), default=train_defaults.batch_size, help="images per step of the VAE passes (default %(default)s)")
    model.add_argument("--decoder-batch-size", type=positive(int), default=train_defaults.decoder_batch_size,
                       help="images per step of the decoder passes (default %(default)s)")
    model.add_argument("--lr", type=positive(float), default=train_defaults.lr, help="peak learning rate of Adam, cosine decay (default %(default)s)")
    model.add_argument("--latent-lr", type=non_negative(float), default=train_defaults.latent_lr,
                       help="peak learning rate of the training images' latent offsets in the decoder passes (0: decode the means; default %(default)s)")
    model.add_argument("--beta", type=non_negative(float), default=loss_defaults.beta, help="weight of the KL term at the start (default %(default)s)")
    model.add_argument("--beta-final", type=non_negative(float), default=loss_defaults.beta_final,
                       help="... and at the end of the VAE passes, geometrically in between (default %(default)s)")
    model.add_argument("--ssim-weight", type=non_negative(float), default=loss_defaults.ssim, help="weight of (1 - SSIM) in the VAE passes (default %(default)s)")
    model.add_argument("--reconstruction-loss", choices=("bce", "mse"), default=loss_defaults.reconstruction, help="pixel loss (default %(default)s)")
    model.add_argument("--prior-components", type=non_negative(int), default=None,
                       help="0: standard normal prior; K: K separated unit Gaussians (default: one per VAL class)")
    model.add_argument("--prior-radius", type=positive(float), default=loss_defaults.prior_radius, help="distance of those Gaussians from the origin (default %(default)s)")
    model.add_argument("--anchor-weight", type=non_negative(float), default=loss_defaults.anchor,
                       help="pull VAL's labelled images to their class's prior component (0: off; default %(default)s)")
    model.add_argument("--propagation-weight", type=non_negative(float), default=loss_defaults.propagation,
                       help="spread VAL's labels over TRAIN's nearest-neighbour graph and pull each image to its class's prior component (0: off; default %(default)s)")
    model.add_argument("--latent-dim", type=positive(int), default=model_defaults.latent_dim, help="latent size (default %(default)s)")
    model.add_argument("--hidden", type=widths, default=model_defaults.hidden, help="encoder layer widths (default %s)" % ",".join(map(str, model_defaults.hidden)))
    model.add_argument("--decoder-hidden", type=widths, default=model_defaults.decoder_hidden,
                       help="decoder layer widths from the latent outwards (default %s)" % ",".join(map(str, model_defaults.decoder_hidden)))
    model.add_argument("--activation", choices=("relu", "elu", "silu"), default=model_defaults.activation, help="(default %(default)s)")
    model.add_argument("--seed", type=non_negative(int), default=0, help="seeds torch and numpy (default %(default)s)")
    model.add_argument("--device", default=train_defaults.device, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    mixture = parser.add_argument_group("mixture (train)")
    mixture.add_argument("--components-per-class", type=positive(int), default=mixture_defaults.components_per_class, help="(default %(default)s)")
    mixture.add_argument("--covariance-type", choices=("tied", "full"), default=mixture_defaults.covariance_type,
                         help="one covariance shared by all components, or one each (default %(default)s)")
    mixture.add_argument("--reg-covar", type=non_negative(float), default=mixture_defaults.reg_covar, help="added to covariance diagonals (default %(default)s)")
    output = parser.add_argument_group("output")
    output.add_argument("--out", metavar="PATH", help="where test_reconstruction / test_classifier write (default: this folder)")
    output.add_argument("--search", choices=SEARCHES, default="grid",
                        help="test_reconstruction's latent search per image: grid (the default; 147 decodings each), lattice "
                             "(about 6x faster, SSIM within 0.001 of grid's, slightly different bytes), none (decode the mean)")
    output.add_argument("--no-refine", dest="search", action="store_const", const="none", help="the same as --search none")
    output.add_argument("--plots", metavar="DIR", help="folder for plots (default: plots/ beside vae.pth)")
    output.add_argument("--no-plots", action="store_true", help="train without drawing plots")
    output.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in FAMILY_COMMANDS:
        return family_main(argv)
    parser = build_parser()
    args = parser.parse_intermixed_args(argv)
    command, paths = _split_words(parser, args.words)

    from vae import commands

    outputs = commands.Outputs(quiet=args.quiet, plots="" if args.no_plots else args.plots)
    if command == "train":
        model_config, train_config, mixture = _train_options(args)
        return run(command, lambda: commands.train(*paths, model_config, train_config, mixture, outputs))
    if command == "test_reconstruction":
        return run(command, lambda: commands.test_reconstruction(*paths, args.out, outputs, search=args.search))
    if command == "test_classifier":
        return run(command, lambda: commands.test_classifier(*paths, args.out, outputs))
    if command == "evaluate":
        return run(command, lambda: commands.evaluate(paths[0], paths[1:], outputs))
    return run(command, lambda: commands.plot(*paths, outputs))


def _split_words(parser, words: list[str]) -> tuple[str, list[str]]:
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
        parser.error(f"no command word among {' '.join(words)!r}; expected train, test_reconstruction, test_classifier, evaluate, plot, "
                     f"or one of the family's first: {', '.join(FAMILY_COMMANDS)}")
    index = found[0]
    command = words[index]
    before, after = ASSIGNMENT_FORMS[command]
    if index != before or len(words) - index - 1 != after:
        parser.error(f"{command} takes {before} path(s) before it and {after} after it, got {index} and {len(words) - index - 1}")
    return command, words[:index] + words[index + 1:]


def _train_options(args):
    from vae.config import LossWeights, MixtureOptions, ModelConfig, TrainConfig

    loss = LossWeights(
        beta=args.beta, beta_final=args.beta_final, ssim=args.ssim_weight, reconstruction=args.reconstruction_loss,
        prior_components=args.prior_components, prior_radius=args.prior_radius, anchor=args.anchor_weight,
        propagation=args.propagation_weight,
    )
    return (
        ModelConfig(latent_dim=args.latent_dim, hidden=args.hidden, decoder_hidden=args.decoder_hidden, activation=args.activation),
        TrainConfig(
            epochs=args.epochs, decoder_epochs=args.decoder_epochs, decoder_ssim=args.decoder_ssim_weight,
            batch_size=args.batch_size, decoder_batch_size=args.decoder_batch_size, lr=args.lr, latent_lr=args.latent_lr, loss=loss, seed=args.seed, device=args.device,
        ),
        MixtureOptions(components_per_class=args.components_per_class, covariance_type=args.covariance_type, reg_covar=args.reg_covar),
    )


if __name__ == "__main__":
    sys.exit(main())
