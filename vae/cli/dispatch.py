"""One table from command to handler, and the one error boundary.

    dispatch(argv) -> parse -> COMMANDS[command](args, outputs) inside run(): bad input is one line on stderr and
    exit 2, a fit that failed on good input (FitFailed) one line and exit 1, a missing package one line naming it,
    Ctrl-C exit 130, success 0.
"""

import os
import sys

from vae.cli import assignment, family, missing_package
from vae.cli import family_handlers as handlers
from vae.core.errors import FitFailed, InputError
from vae.core.report import Outputs, world_size

COMMANDS = {  # command: its handler (parsed arguments, Outputs) -> None
    "train": assignment.train,
    "test_reconstruction": assignment.test_reconstruction,
    "test_classifier": assignment.test_classifier,
    "evaluate": assignment.evaluate,
    "plot": assignment.plot,
    "fit": handlers.fit,
    "reconstruct": handlers.reconstruct,
    "denoise": handlers.denoise,
    "generate": handlers.generate,
    "reference": handlers.reference,
    "classify": handlers.classify,
    "anomaly": handlers.anomaly,
    "sweep": handlers.sweep,
    "likelihood": handlers.likelihood,
    "disentanglement": handlers.disentanglement,
}
TRAINING_COMMANDS = ("train", "fit")  # the commands that may run on several processes under torchrun
INTERRUPTED = {"sweep": "finished folds are kept in --out; run the same command again to go on"}


def parse(argv: list[str]):
    """The parsed arguments of any form, with ``command`` set; argparse's usage line and exit 2 on a bad form."""
    if argv and argv[0] in family.FAMILY_COMMANDS:
        return family.parse(argv)
    return assignment.parse(argv)


def dispatch(argv: list[str]) -> int:
    args = parse(argv)
    outputs = Outputs(quiet=args.quiet, plots="" if getattr(args, "no_plots", False) else getattr(args, "plots", None))
    return run(args.command, lambda: COMMANDS[args.command](args, outputs), INTERRUPTED.get(args.command))


def run(command: str, call, interrupted: str | None = None) -> int:
    """Run ``call()``: a user's error becomes one line on stderr and exit 2, Ctrl-C exit 130."""
    try:
        if world_size() > 1 and command not in TRAINING_COMMANDS:
            # every rank would write the same outputs over each other
            raise InputError(f"{command} runs in one process; start it with python, not torchrun "
                             f"(only {' and '.join(TRAINING_COMMANDS)} train on several)")
        call()
    except InputError as error:
        print(f"vae.py: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    except FitFailed as error:
        print(f"vae.py: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:  # torch, imported by the handler that needs it
        return missing_package(error)
    except BrokenPipeError:  # the reader of the output went away (vae.py ... | head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush fails no more
        return 1
    except KeyboardInterrupt:
        print(f"vae.py: interrupted; {command} stopped and {interrupted or 'wrote nothing new'}", file=sys.stderr)
        return 130
    return 0
