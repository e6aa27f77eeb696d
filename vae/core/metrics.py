"""The graders' scores: per-image MSE and SSIM, the reconstruction score, and classification scores.

SSIM equals ``skimage.metrics.structural_similarity(truth, output, data_range=1)`` with its defaults
(7×7 uniform window, sample covariance, K1=0.01, K2=0.03). scikit-image filters every pixel and then
averages only the pixels at least 3 from the border, i.e. exactly the windows that lie fully inside
the image. :func:`structural_similarity` is written with arithmetic alone, so the same formula
scores numpy arrays and serves as a differentiable torch training loss; only the window sums
differ by backend (shifted additions in numpy, a band-matrix product in torch).
"""

import functools

import numpy as np

WINDOW = 7
K1, K2 = 0.01, 0.03
SSIM_CHUNK = 48  # images per numpy pass: amortises calls, while every temporary stays small enough
# (under ~400 KB) to be reused by the allocator instead of mapped afresh; 96 and up measured 3x slower.
# Two threads over the chunks measured slower still (12-14x scikit-image alone, 8-10x with two).


def ssim(truth: np.ndarray, output: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Per-image SSIM of (N, H, H) images in [0, 1], computed in float64 as scikit-image does; shape (N,).

    float32 is about 1.7x faster and agrees to about 1e-6, enough to rank candidates by.
    """
    scores = np.empty(len(truth))
    for start in range(0, len(truth), SSIM_CHUNK):
        part = slice(start, start + SSIM_CHUNK)
        scores[part] = structural_similarity(np.asarray(truth[part], dtype), np.asarray(output[part], dtype))
    return scores


def window_sums(images):
    """Sums over every WINDOW×WINDOW window lying fully inside each image: (N, H, H) -> (N, (H-6)²)."""
    count, side = images.shape[0], images.shape[-1]
    inner = side - WINDOW + 1
    # Slide over the whole flattened batch (windows that straddle two rows or images are computed
    # too, and then skipped): two long 1-D passes beat many short per-row ones by about 2x in numpy.
    sums = _slide(_slide(images.reshape(-1), side), 1)
    return sums[_window_starts(count, side)].reshape(count, inner * inner)


@functools.lru_cache(maxsize=8)
def _window_starts(count: int, side: int) -> np.ndarray:
    """Flat positions of the windows fully inside each of ``count`` images of side ``side``."""
    inner = side - WINDOW + 1
    inside = (np.arange(inner)[:, None] * side + np.arange(inner)).reshape(-1)
    return (np.arange(count)[:, None] * (side * side) + inside).reshape(-1)


def _slide(values, step):
    """values[p] + values[p + step] + ... + values[p + 6·step] for every p that fits, as 4 + 2 + 1."""
    two = values[:-step] + values[step:]
    four = two[:-2 * step] + two[2 * step:]
    return four[:-3 * step] + two[4 * step:-step] + values[6 * step:]


def window_band(side: int) -> np.ndarray:
    """The (side-6, side) 0/1 matrix B with (B @ image @ B.T) = the window sums, for matrix-product backends."""
    inner = side - WINDOW + 1
    band = np.zeros((inner, side), dtype=np.float32)
    for row in range(inner):
        band[row, row:row + WINDOW] = 1.0
    return band


def structural_similarity(truth, output, sum_windows=window_sums):
    """Per-image SSIM of (N, H, H) numpy arrays or torch tensors of one float dtype; shape (N,).

    Works on window sums rather than means: the 1/49 factors cancel between numerator and
    denominator once the stabilising constants are scaled by 49². ``sum_windows`` maps (N, H, H)
    to (N, windows); torch's autograd is slow through many slices, so the training loss passes a
    matrix-product version (see :func:`window_band`).
    """
    area = float(WINDOW * WINDOW)
    covariance_norm = area / (area - 1)
    # Constants scaled by area² for sums instead of means; c2 also divided by the covariance
    # normaliser, which then cancels from the contrast-structure ratio.
    c1, c2 = (area * K1) ** 2, (area * K2) ** 2 / covariance_norm
    sum_t, sum_o = sum_windows(truth), sum_windows(output)
    sum_squares = sum_windows(truth * truth + output * output)
    sum_cross = sum_windows(truth * output)
    product = sum_t * sum_o
    squares = sum_t * sum_t + sum_o * sum_o
    numerator = (2 * product + c1) * (2 * (area * sum_cross - product) + c2)
    denominator = (squares + c1) * (area * sum_squares - squares + c2)
    return (numerator / denominator).mean(axis=-1)


def mse(truth: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Per-image mean squared error of (N, ...) images in [0, 1], in float64 chunks; shape (N,)."""
    truth, output = truth.reshape(len(truth), -1), output.reshape(len(output), -1)
    errors = np.empty(len(truth))
    for start in range(0, len(truth), SSIM_CHUNK):
        part = slice(start, start + SSIM_CHUNK)
        diff = truth[part].astype(np.float64) - output[part]
        errors[part] = np.mean(diff * diff, axis=1)
    return errors


def reconstruction_scores(truth: np.ndarray, output: np.ndarray) -> dict[str, float]:
    """Mean MSE, mean SSIM and the recon score (1 - MSE + SSIM) / 2 over (N, H, H) images in [0, 1]."""
    return batched_reconstruction_scores([(truth, output)])


def batched_reconstruction_scores(pairs) -> dict[str, float]:
    """The same over the images of (truth (B, H, H), output (B, H, H)) batches: no copy of the whole set."""
    errors, similarities = per_image_scores(pairs)
    return {
        "mse": float(errors.mean()),
        "ssim": float(similarities.mean()),
        "score": float(recon_score(errors, similarities).mean()),
    }


def image_quality(pairs, channels: int = 1) -> dict[str, float]:
    """Mean MSE, PSNR and SSIM over (truth, output) batches of (B, C, H, H) images in [0, 1] (the family's report)."""
    errors, similarities = per_image_scores(pairs, channels)
    return {"mse": float(errors.mean()), "psnr": float(psnr(errors).mean()), "ssim": float(similarities.mean())}


def per_image_scores(pairs, channels: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each image's MSE and SSIM over (truth, output) batches of (B, H, H) or (B, C, H, H) images; two (N,) arrays.

    SSIM of a C-channel image is the mean of its channels' SSIMs, as scikit-image's ``channel_axis``.
    """
    errors, similarities = [], []
    for truth, output in pairs:
        side = truth.shape[-1]
        errors.append(mse(truth, output))
        similarities.append(ssim(truth.reshape(-1, side, side),
                                 output.reshape(-1, side, side)).reshape(len(truth), channels).mean(axis=1))
    return np.concatenate(errors), np.concatenate(similarities)


def psnr(errors: np.ndarray) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of images in [0, 1] from their MSEs (a perfect image: 100 dB, MSE floored at
    1e-10)."""
    return 10 * np.log10(1 / np.maximum(errors, 1e-10))


def recon_score(errors: np.ndarray, similarities: np.ndarray) -> np.ndarray:
    """The graders' per-image reconstruction score (1 - MSE + SSIM) / 2."""
    return (1 - errors + similarities) / 2


def classification_scores(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, micro F1 and the average of macro and micro F1.

    Same definitions as scikit-learn's: labels are those in either array, and a ratio with a zero
    denominator counts as 0.
    """
    truth, predicted = np.asarray(truth), np.asarray(predicted)
    labels = np.union1d(truth, predicted)
    true_pos = np.array([np.sum((predicted == label) & (truth == label)) for label in labels], float)
    predicted_count = np.array([np.sum(predicted == label) for label in labels], float)
    true_count = np.array([np.sum(truth == label) for label in labels], float)

    def ratio(numerator, denominator):
        return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator > 0)

    precision, recall = ratio(true_pos, predicted_count), ratio(true_pos, true_count)
    f1 = ratio(2 * true_pos, predicted_count + true_count)
    f1_micro = float(ratio(np.array([2 * true_pos.sum()]), np.array([predicted_count.sum() + true_count.sum()]))[0])
    f1_macro = float(f1.mean())
    return {
        "accuracy": float(np.mean(truth == predicted)),
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": f1_macro,
        "f1_micro": f1_micro,
        "f1_average": (f1_macro + f1_micro) / 2,
    }
