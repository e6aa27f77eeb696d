import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity as skimage_ssim
from sklearn import metrics as sk

from vae.core.metrics import (
    classification_scores,
    mse,
    reconstruction_scores,
    ssim,
    structural_similarity,
    window_band,
    window_sums,
)
from vae.nn.losses import _band_window_sums

from helpers import shapes


def image_pairs(seed=0):
    """Truth like the graders' (uint8 / 255) and outputs of several kinds: noisy, blurred, blank, saturated."""
    rng = np.random.default_rng(seed)
    truth = shapes(40, seed)[0] / 255.0
    noisy = np.clip(truth + rng.normal(0, 0.2, truth.shape), 0, 1).astype(np.float32)
    blurred = ((truth + np.roll(truth, 1, 1) + np.roll(truth, 1, 2)) / 3).astype(np.float32)
    blank = np.zeros_like(truth, dtype=np.float32)
    saturated = np.ones_like(truth, dtype=np.float32)
    random = rng.random(truth.shape).astype(np.float32)
    return truth, [noisy, blurred, blank, saturated, random]


@pytest.mark.parametrize("kind", range(5))
def test_ssim_equals_scikit_image_per_image(kind):
    truth, outputs = image_pairs()
    output = outputs[kind]
    expected = np.array([skimage_ssim(t, o, data_range=1) for t, o in zip(truth, output)])
    np.testing.assert_allclose(ssim(truth, output), expected, rtol=0, atol=1e-9)


def test_ssim_of_identical_images_is_one_and_blank_against_strokes_is_low():
    truth, _ = image_pairs()
    np.testing.assert_allclose(ssim(truth, truth), 1.0, atol=1e-12)
    assert ssim(truth, np.zeros_like(truth)).mean() < 0.5


def test_ssim_in_chunks_matches_one_pass():
    truth, outputs = image_pairs()
    # 400 images: several chunks
    many_truth, many_output = np.concatenate([truth] * 10), np.concatenate([outputs[0]] * 10)
    np.testing.assert_allclose(ssim(many_truth, many_output), np.tile(ssim(truth, outputs[0]), 10), atol=1e-12)


def test_float32_ssim_ranks_candidates_like_float64():
    truth, outputs = image_pairs()
    for output in outputs:
        np.testing.assert_allclose(ssim(truth, output, np.float32), ssim(truth, output), rtol=0, atol=1e-5)


def test_window_sums_match_a_direct_sum():
    rng = np.random.default_rng(1)
    images = rng.random((3, 28, 28))
    direct = np.array([[images[n, i:i + 7, j:j + 7].sum() for i in range(22) for j in range(22)] for n in range(3)])
    np.testing.assert_allclose(window_sums(images), direct, atol=1e-12)
    band = window_band(28).astype(np.float64)
    np.testing.assert_allclose((band @ images @ band.T).reshape(3, -1), direct, atol=1e-12)


def test_torch_training_ssim_matches_the_scores_and_has_gradients():
    truth, outputs = image_pairs()
    output = torch.tensor(outputs[1], dtype=torch.float64, requires_grad=True)
    value = structural_similarity(torch.tensor(truth), output, _band_window_sums)
    np.testing.assert_allclose(value.detach().numpy(), ssim(truth, outputs[1]), atol=1e-9)
    value.sum().backward()
    assert torch.isfinite(output.grad).all() and output.grad.abs().sum() > 0


def test_mse_and_reconstruction_score():
    truth, outputs = image_pairs()
    output = outputs[0]
    expected_mse = ((truth - output) ** 2).mean(axis=(1, 2))
    np.testing.assert_allclose(mse(truth, output), expected_mse, atol=1e-12)
    scores = reconstruction_scores(truth, output)
    assert scores["mse"] == pytest.approx(expected_mse.mean())
    assert scores["score"] == pytest.approx(((1 - expected_mse + ssim(truth, output)) / 2).mean())


@pytest.mark.parametrize("seed", range(6))
def test_classification_scores_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    truth = rng.choice([1, 4, 8], size=200)
    predicted = np.where(rng.random(200) < 0.8, truth, rng.choice([1, 4, 8, 9], size=200))  # 9: a label never true
    if seed == 5:
        predicted = np.full(200, 4)  # precision undefined for two classes: counts as 0, like sklearn
    scores = classification_scores(truth, predicted)
    labels = np.union1d(truth, predicted)
    assert scores["accuracy"] == pytest.approx(sk.accuracy_score(truth, predicted))
    precision = sk.precision_score(truth, predicted, labels=labels, average="macro", zero_division=0)
    assert scores["precision_macro"] == pytest.approx(precision)
    assert scores["recall_macro"] == pytest.approx(sk.recall_score(truth, predicted, labels=labels, average="macro",
                                                                   zero_division=0))
    assert scores["f1_macro"] == pytest.approx(sk.f1_score(truth, predicted, average="macro", zero_division=0))
    assert scores["f1_micro"] == pytest.approx(sk.f1_score(truth, predicted, average="micro", zero_division=0))
    assert scores["f1_average"] == pytest.approx((scores["f1_macro"] + scores["f1_micro"]) / 2)


def test_rgb_ssim_is_scikit_images_per_channel_mean_and_psnr_its_definition():
    from skimage.metrics import peak_signal_noise_ratio
    from skimage.metrics import structural_similarity as skimage_ssim

    from vae.core.metrics import image_quality, per_image_scores

    rng = np.random.default_rng(3)
    truth = rng.random((4, 3, 28, 28))
    output = np.clip(truth + rng.normal(0, 0.1, truth.shape), 0, 1)
    errors, similarities = per_image_scores([(truth, output)], channels=3)
    expected = [skimage_ssim(t, o, channel_axis=0, data_range=1) for t, o in zip(truth, output)]
    np.testing.assert_allclose(similarities, expected, atol=1e-10)
    report = image_quality([(truth, output)], channels=3)
    psnrs = [peak_signal_noise_ratio(t, o, data_range=1) for t, o in zip(truth, output)]
    assert report["psnr"] == pytest.approx(np.mean(psnrs)) and report["mse"] == pytest.approx(errors.mean())
