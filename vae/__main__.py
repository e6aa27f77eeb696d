"""``python -m vae ...``: the same command line as ``python vae.py ...``."""

import sys

from vae.cli import main

sys.exit(main())
