"""The anomaly scores' pieces: nearest training images, the coreset, the held-out scale and the combined rule."""

from statistics import NormalDist

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from vae.core.data import ImageSet
from vae.family.anomaly_scores import (
    BANK,
    FEATURES,
    NEIGHBOURS,
    combined,
    coreset,
    nearest_distance,
    normal_scores,
    reference_for,
)
from vae.family.config import AutoencoderConfig
from vae.family.models import Autoencoder

from helpers import shapes


def test_nearest_distance_is_the_mean_distance_to_scikit_learns_nearest_neighbours():
    generator = np.random.default_rng(0)
    bank, queries = generator.normal(size=(300, 12)), generator.normal(size=(1100, 12))  # more than one block
    distances, _ = NearestNeighbors(n_neighbors=NEIGHBOURS).fit(bank).kneighbors(queries)
    assert np.allclose(nearest_distance(bank, queries), distances.mean(1), atol=1e-4)
    assert np.allclose(nearest_distance(bank[:3], queries[:4]),
                       NearestNeighbors(n_neighbors=3).fit(bank[:3]).kneighbors(queries[:4])[0].mean(1), atol=1e-4)


def test_the_coreset_keeps_distinct_rows_and_the_rare_ones():
    generator = np.random.default_rng(1)
    common = generator.normal(size=(2000, 16)).astype(np.float32)
    rare = 25 + generator.normal(size=(5, 16)).astype(np.float32)  # five images unlike the rest
    rows = np.concatenate([common, rare])
    chosen = coreset(rows, 50, seed=0)
    assert len(np.unique(chosen)) == 50 and np.array_equal(chosen, np.sort(chosen))
    assert np.isin(np.arange(2000, 2005), chosen).any()  # a random draw of 50 misses them 88% of the time
    assert np.array_equal(chosen, coreset(rows, 50, seed=0))
    assert np.array_equal(coreset(rows[:40], 50, seed=0), np.arange(40))


def test_normal_scores_place_values_among_the_held_out_ones_and_grow_on_beyond():
    held = np.arange(1.0, 101.0)  # 1..100: the value v is the (v - 0.5) / 100 quantile
    z = NormalDist().inv_cdf
    normal = normal_scores(held[::-1], np.array([0.0, 1.0, 80.0, 100.0, 199.0]))
    assert np.allclose(normal[:4], [z(0.005), z(0.005), z(0.795), z(0.995)])
    assert normal[4] == pytest.approx(z(0.995) * 3)  # one held-out range (99) beyond: one more normal range


def test_combined_is_the_larger_of_layout_by_stouffer_and_texture():
    held = {name: np.arange(1.0, 101.0) for name in ("ssim", *FEATURES)}
    scores = {"ssim": np.array([90.0, 10.0, 50.0]), "neighbours": np.array([80.0, 10.0, 50.0]),
              "texture": np.array([10.0, 199.0, 50.0])}
    z = NormalDist().inv_cdf
    expected = [(z(0.895) + z(0.795)) / np.sqrt(2), 3 * z(0.995), max(z(0.495) * np.sqrt(2), z(0.495))]
    assert np.allclose(combined(scores, held), expected)


def test_the_reference_keeps_held_out_images_out_of_a_bounded_bank():
    images, _ = shapes(60, seed=3)
    image_set = ImageSet("shapes", images.reshape(60, -1), None, images.shape)
    model = Autoencoder(AutoencoderConfig(model="ae", arch="conv", latent_dim=4, conv_channels=(4, 8), conv_hidden=8))
    model.eval()
    held = np.arange(0, 60, 6)
    reference = reference_for(model, image_set, held, seed=0)
    assert {name: len(values) for name, values in reference["held_out"].items()} == {
        "mse": 10, "ssim": 10, "neighbours": 10, "texture": 10, "combined": 10}
    for name in FEATURES:  # 50 training images, all kept: none of them at distance 0 from a held-out image
        assert len(reference["banks"][name]) == min(50, BANK) and str(reference["banks"][name].dtype) == "torch.float16"
        assert (reference["held_out"][name].numpy() > 0).all()
    again = reference_for(model, image_set, None, seed=0)  # a tenth set aside by the seed, at least 10
    assert len(again["held_out"]["mse"]) == 10
    few = reference_for(model, image_set.first(3), None, seed=0)  # all but one held out: the bank keeps one
    assert len(few["held_out"]["combined"]) == 2 and len(few["banks"]["texture"]) == 1
    assert few["held_out"]["combined"].std() > 0  # a score that still orders the images
