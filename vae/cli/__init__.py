"""The command line of vae: the assignment's word-order forms (assignment.py), the family's subcommands
(family.py), every training option as data (options.py), and the table from command to handler with the one
error boundary (dispatch.py).

This module imports nothing but the standard library, so that a Python without vae's requirements gets one line
that says what to install rather than a traceback.
"""

import sys

PACKAGES = {"sklearn": "scikit-learn", "skimage": "scikit-image", "PIL": "Pillow", "yaml": "PyYAML"}


def main(argv: list[str] | None = None) -> int:
    """``vae.py ARGS``, ``vae ARGS`` and ``python -m vae ARGS``: the exit status."""
    try:
        from vae.cli.dispatch import dispatch  # numpy and the rest of vae's requirements from here on
    except ModuleNotFoundError as error:
        return missing_package(error)
    return dispatch(sys.argv[1:] if argv is None else argv)


def missing_package(error: ModuleNotFoundError) -> int:
    """One line naming the package this Python lacks, and how to install vae's requirements; exit status 2."""
    name = (error.name or "").split(".")[0]
    if not name or name == "vae":
        raise error  # a module of vae itself is missing: a broken checkout, not a missing requirement
    print(f"vae.py: error: the package {PACKAGES.get(name, name)} is not installed for {sys.executable}; install "
          "vae's requirements: make install, then . .venv/bin/activate (or pip install -e . in your own "
          "environment)", file=sys.stderr)
    return 2
