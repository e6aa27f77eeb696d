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


def test_distances_in_many_blocks_give_the_same_answers(monkeypatch):
    from vae.core import sample_quality

    real, generated = gaussian(300), gaussian(200, shift=0.5, seed=1)
    whole = precision_recall(real, generated)
    monkeypatch.setattr(sample_quality, "BLOCK_ENTRIES", 7 * 300)  # blocks of 7 rows
    assert precision_recall(real, generated) == whole


def test_precision_and_recall_need_more_points_than_neighbours():
    with pytest.raises(ValueError, match="more than 3"):
        precision_recall(gaussian(3), gaussian(100))


def test_the_generation_claims_compare_cells_as_fitted():
    from vae.family.sweep_summary import generation_claims

    cells = [{"model": "ae"}, {"model": "vae"}]
    means = {"model=ae": {"fd": (50.0, 1.0)}, "model=vae": {"fd": (80.0, 2.0)}}
    plain_vae = generation_claims(cells, means, {"model=ae": ("ae", 1.0), "model=vae": ("vae", 1.0)})
    assert "better than AEs (VAE from its prior, AE from its mixture): does not hold here (0 of 1" in plain_vae
    beta_five = generation_claims(cells, means, {"model=ae": ("ae", 1.0), "model=vae": ("vae", 5.0)})  # --beta 5
    assert beta_five.count("not tested") == 2
    betas = [{"beta": 1.0}, {"beta": 5.0}]
    means = {"beta=1": {"fd": (80.0, 5.0)}, "beta=5": {"fd": (78.0, 5.0)}}
    verdict = generation_claims(betas, means, {"beta=1": ("vae", 1.0), "beta=5": ("vae", 5.0)})
    assert "β > 1 generate better than β = 1 VAEs: holds here (1 of 1" in verdict
    assert "1 of the 1 within a standard deviation" in verdict
