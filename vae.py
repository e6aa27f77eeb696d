#!/usr/bin/env python3
"""``python vae.py ...``: the command line of vae (vae/cli). The assignment's three forms, evaluate and plot,
then the family's subcommands; ``python vae.py --help`` lists them."""

import sys

from vae.cli import main

if __name__ == "__main__":
    sys.exit(main())
