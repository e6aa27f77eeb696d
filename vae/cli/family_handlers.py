"""The family's handlers: (parsed arguments, Outputs) -> one call of vae.family. The family's modules import torch
(about 1.5 s): imported in the handlers, so that `vae.py fit --help` and the assignment's commands start at once."""

from vae.cli.arguments import settings
from vae.cli.family import parse_grid
from vae.cli.options import FIT_OPTIONS, given
from vae.core.data import Reading
from vae.core.report import Outputs
from vae.family.choices import chosen_network, implied_model
from vae.family.config import AutoencoderConfig, FitConfig, refuse_inapplicable


def fit(args, outputs: Outputs) -> None:
    from vae.family import commands

    config = network_settings(args)
    refuse_inapplicable(given(args, FIT_OPTIONS), chosen_network(config, args.head))
    commands.fit(args.train, args.model_path, config, settings(FitConfig, args), args.head, outputs,
                 settings(Reading, args, colour_to_grey=True))


def network_settings(args, knobs: dict | None = None) -> AutoencoderConfig:
    """fit's and sweep's network options; without --model, the model the other options (and a sweep's knobs)
    imply, else None: fit chooses it (vae/family/choices.py)."""
    return settings(AutoencoderConfig, args, model=args.model or implied_model({**given(args, FIT_OPTIONS),
                                                                                **(knobs or {})}))


def sweep(args, outputs: Outputs) -> None:
    from vae.family.sweep import sweep as run_sweep

    reading = settings(Reading, args, colour_to_grey=True)
    grid = parse_grid(args.grid)
    run_sweep(args.train, grid, network_settings(args, grid), settings(FitConfig, args),
              args.head, args.folds, args.jobs, args.out, outputs, reading, args.reference, args.cluster,
              args.fit_threads)


def reconstruct(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.reconstruct(args.data, args.model_path, args.out, outputs, args.skip_unreadable)


def denoise(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.denoise(args.data, args.model_path, args.out, args.truth, outputs, args.skip_unreadable)


def anomaly(args, outputs: Outputs) -> None:
    from vae.family.anomaly import anomaly as detect

    detect(args.data, args.model_path, args.out, args.threshold, args.score, args.abnormal_classes,
           args.normal_classes, outputs, args.skip_unreadable, args.contamination)


def generate(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.generate(args.model_path, args.count, args.out, args.seed, outputs, args.sampler, args.against,
                      args.reference)


def reference(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.reference(args.train, args.model_path, args.epochs, args.seed, args.device, outputs,
                       settings(Reading, args, colour_to_grey=True))


def classify(args, outputs: Outputs) -> None:
    from vae.family import commands

    commands.classify(args.data, args.model_path, args.out, outputs, args.skip_unreadable)


def likelihood(args, outputs: Outputs) -> None:
    from vae.family.likelihood import likelihood as bounds

    bounds(args.model_path, args.data, args.samples, args.out, args.seed, outputs)


def disentanglement(args, outputs: Outputs) -> None:
    from vae.family.disentanglement import disentanglement as scores

    scores(args.model_path, args.data, args.out, outputs, args.seed)
