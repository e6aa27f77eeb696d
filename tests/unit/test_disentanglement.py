import math

import numpy as np
import pytest

from vae.core.disentanglement import best_factor, dci, discretise, disentanglement_scores, mig, mutual_information
from vae.core.errors import InputError

VALUES = (3, 4, 5, 6)  # the factors' numbers of values
CHANCE = float(np.mean([1 / count for count in VALUES]))  # accuracy of guessing a uniform factor, averaged


def random_factors(rows: int, seed: int) -> np.ndarray:
    """(rows, 4) independent uniform factors with VALUES values."""
    rng = np.random.default_rng(seed)
    return np.stack([rng.integers(0, count, rows) for count in VALUES], axis=1)


def grid() -> np.ndarray:
    """(360, 4): every combination of the factors once, so that each pair of factors shares no information."""
    return np.stack(np.meshgrid(*map(np.arange, VALUES), indexing="ij"), axis=-1).reshape(-1, len(VALUES))


def test_latents_equal_to_the_factors_score_as_disentangled():
    factors = random_factors(2000, seed=0)
    latents = factors[:, [2, 0, 3, 1]] * np.array([0.5, -2.0, 3.0, 1.0]) + np.array([1.0, 2.0, -3.0, 0.5])
    scores = disentanglement_scores(latents, factors)
    assert scores["mig"] > 0.95
    assert scores["dci_disentanglement"] > 0.95 and scores["dci_completeness"] > 0.95
    assert scores["dci_informativeness"] > 0.99
    # SAP: the factor's own dimension predicts it perfectly; the others, independent of it, no better than the
    # commonest value (~1/values, a little more for the best of three on 400 held-out rows)
    assert 1 - CHANCE - 0.05 < scores["sap"] < 1 - CHANCE + 0.01


def test_noise_latents_score_near_zero_and_predict_at_chance():
    factors = random_factors(2000, seed=1)
    latents = np.random.default_rng(2).normal(size=(2000, 6))
    scores = disentanglement_scores(latents, factors)
    assert scores["mig"] < 0.02 and scores["sap"] < 0.05
    assert scores["dci_disentanglement"] < 0.05 and scores["dci_completeness"] < 0.05
    assert abs(scores["dci_informativeness"] - CHANCE) < 0.04


def entropy(*probabilities) -> float:
    return -sum(p * math.log(p) for p in probabilities if p > 0)


def test_each_dimension_is_cut_into_equal_bins_over_its_own_range():
    latents = np.array([[0.0, -10], [0.4, 0], [0.6, 3], [1.0, 10]])
    # bins 1 and 2 split each column's range at its middle; the largest value falls in the last bin
    assert discretise(latents, bins=2).tolist() == [[1, 1], [1, 2], [2, 2], [2, 2]]
    assert discretise(latents, bins=4)[:, 0].tolist() == [1, 2, 3, 4]


def test_mig_of_a_small_case_computed_by_hand():
    factors = np.array([[0, 0], [0, 0], [0, 1], [0, 1], [1, 0], [1, 0], [1, 1], [1, 1]])
    first = factors[:, 0].astype(float)  # the first factor itself: log 2 with it, 0 with the second
    second = np.array([0, 0, 0, 1, 1, 1, 1, 1], float)  # the first factor with one row flipped
    # I(second; f0) = H(f0) − H(f0 | second): second = 0 (3 rows) is all f0 = 0; second = 1 (5 rows) has one f0 = 0
    with_first = math.log(2) - 5 / 8 * entropy(1 / 5, 4 / 5)
    # f1 where second = 0: 0, 0, 1; where second = 1: 1, 0, 0, 1, 1
    with_second = math.log(2) - 3 / 8 * entropy(1 / 3, 2 / 3) - 5 / 8 * entropy(2 / 5, 3 / 5)
    latents = np.stack([first, second], axis=1)
    information = mutual_information(latents, factors)
    np.testing.assert_allclose(information, [[math.log(2), 0], [with_first, with_second]], atol=1e-12)
    expected = ((math.log(2) - with_first) + (with_second - 0)) / 2 / math.log(2)
    assert mig(latents, factors) == pytest.approx(expected, abs=1e-12)
    assert best_factor(latents, factors).tolist() == [0, 0]


def test_two_copies_of_a_factor_leave_it_no_gap_and_lower_completeness():
    factors = grid()
    noise = np.random.default_rng(8).normal(size=(len(factors), 3))
    latents = np.concatenate([factors[:, :1], factors, noise], axis=1)  # 8 dimensions, 4 factors
    assert mig(latents[:, :5], factors) == pytest.approx(3 / 4)  # factor 0's gap is 0, the others' 1
    scores = dci(latents, factors)
    # factor 0's importance splits between its two copies: completeness 1 − H_8(½, ½) for it, 1 for the others
    expected = (3 + 1 - math.log(2) / math.log(8)) / 4
    assert abs(scores["completeness"] - expected) < 0.01
    assert scores["disentanglement"] > 0.95  # each dimension still holds one factor, or none
    assert dci(latents[:, 1:], factors)["completeness"] > 0.99


def test_permuting_the_latent_dimensions_changes_neither_mig_nor_the_labels():
    factors = random_factors(500, seed=3)
    rng = np.random.default_rng(4)
    latents = factors @ rng.normal(size=(4, 5)) + rng.normal(size=(500, 5))
    order = [3, 0, 4, 2, 1]
    assert mig(latents[:, order], factors) == mig(latents, factors)
    assert best_factor(latents[:, order], factors).tolist() == best_factor(latents, factors)[order].tolist()


def test_scores_are_plain_floats_the_same_for_a_seed():
    factors = random_factors(300, seed=5)
    latents = np.random.default_rng(6).normal(size=(300, 3)) + factors[:, :3]
    scores = disentanglement_scores(latents, factors, seed=7)
    assert list(scores) == ["mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap"]
    assert all(type(value) is float for value in scores.values())
    assert disentanglement_scores(latents, factors, seed=7) == scores


def test_single_dimension_and_single_valued_factors():
    factors = grid()
    scores = disentanglement_scores(factors[:, :1].astype(float), factors[:, :1])
    assert scores["mig"] == 1 and scores["dci_disentanglement"] == 1 and scores["dci_completeness"] == 1
    with_constant = np.concatenate([factors, np.zeros((len(factors), 1), int)], axis=1)  # left out, not a 0
    assert mig(factors.astype(float), with_constant) == 1
    with pytest.raises(InputError, match="single value"):
        mig(factors.astype(float), np.zeros((len(factors), 2), int))


@pytest.mark.parametrize("latents, factors, message", [
    (np.zeros(10), np.zeros((10, 1), int), "latents must be a 2-D array"),
    (np.full((10, 2), np.nan), np.zeros((10, 1), int), "NaN or infinite"),
    (np.array([["a", "b"]] * 10), np.zeros((10, 1), int), "latents must be a 2-D array"),
    (np.zeros((10, 2)), np.zeros((10, 1)), "factors must be a 2-D array of integers"),
    (np.zeros((10, 2)), np.zeros(10, int), "factors must be a 2-D array of integers"),
    (np.zeros((100, 2)), np.zeros((90, 1), int), "factors have 90 rows, the images 100"),
    (np.zeros((1, 2)), np.zeros((1, 1), int), "at least 2 images"),
])
def test_bad_inputs_are_refused(latents, factors, message):
    for score in (mig, best_factor, disentanglement_scores):
        with pytest.raises(InputError, match=message):
            score(latents, factors)
