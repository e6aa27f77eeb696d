"""The sample-quality measures on feature vectors whose answers are known."""

import numpy as np
import pytest

from vae.core.sample_quality import frechet_distance, precision_recall


def gaussian(count, dim=8, shift=0.0, scale=1.0, seed=0):
    return np.random.default_rng(seed).normal(shift, scale, (count, dim))


def test_the_frechet_distance_of_gaussians_is_their_mean_gap_and_spread():
    assert frechet_distance(gaussian(4000, seed=1), gaussian(4000, seed=2)) < 0.05
    shifted = frechet_distance(gaussian(4000, seed=1), gaussian(4000, shift=1.0, seed=2))
    assert shifted == pytest.approx(8.0, rel=0.05)  # |μ_r - μ_g|² = 8 × 1²
    wider = frechet_distance(gaussian(4000, seed=1), gaussian(4000, scale=2.0, seed=2))
    assert wider == pytest.approx(8.0, rel=0.05)  # Tr(I + 4I - 2·2I) = 8
    same = gaussian(500, seed=3)
    assert frechet_distance(same, same) == pytest.approx(0.0, abs=1e-6)


def test_precision_and_recall_tell_fidelity_from_diversity():
    real = gaussian(800, seed=1)
    assert min(precision_recall(real, gaussian(800, seed=2))) > 0.8  # the same distribution: both high
    far = precision_recall(real, gaussian(800, shift=10.0, seed=2))
    assert far == (0.0, 0.0)  # nothing alike
    precision, recall = precision_recall(real, np.repeat(real[:1], 800, axis=0))
    assert precision == 1.0 and recall < 0.05  # one real image over and over: faithful, not diverse
    narrow = precision_recall(real, gaussian(800, scale=0.3, seed=2))
    assert narrow[0] > 0.9 and narrow[1] < 0.6  # a mode-seeking model: inside the real manifold, covering little of it
