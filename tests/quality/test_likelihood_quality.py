"""A VAE's likelihood on real MNIST, all ten digits: fit --loss elbo with its defaults on the first 4,000 of the shared
test images, vae.py likelihood on the other 1,000 (dynamically binarised). Skipped where the shared file is absent.

Measured at the defaults (docs/family.md): ELBO NLL 102.5, IWAE NLL 97.6 nats per image (published, 60,000 training
digits: VAE 86.8, IWAE 84.8).
"""

import json
import os

import numpy as np
import pytest

from helpers import ROOT, run_vae, write_npz

SHARED_TEST = os.path.join(ROOT, "..", "shared", "data", "mnist_test_first5000.npz")
pytestmark = pytest.mark.skipif(not os.path.exists(SHARED_TEST), reason="the shared MNIST test file is not here")
FITTED = 4000
NLL_BAR = 110.0


def test_iwae_is_below_the_elbo_which_is_below_110_nats(tmp_path):
    with np.load(SHARED_TEST) as source:
        images, labels = source["data"], source["labels"]
    fitted = write_npz(tmp_path / "fitted.npz", images[:FITTED], labels[:FITTED])
    scored = write_npz(tmp_path / "scored.npz", images[FITTED:], labels[FITTED:])
    run_vae("fit", fitted, tmp_path / "vae.pth", "--loss", "elbo", "--no-plots", "--quiet", check=True)
    run_vae("likelihood", tmp_path / "vae.pth", scored, "--out", tmp_path / "nll.json", "--quiet", check=True)
    nll = json.loads((tmp_path / "nll.json").read_text())
    assert nll["iwae_nll"] <= nll["elbo_nll"] <= NLL_BAR, nll
    assert nll["samples"] == 100 and nll["images"] == len(images) - FITTED
