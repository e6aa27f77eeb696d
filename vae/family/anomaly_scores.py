"""The anomaly scores of a fitted network, and what they need from its training images (kept in MODEL.pth).

A network fitted on normal images scores each image several ways (higher: more abnormal):

    mse         reconstruction error: the mean squared error over pixels
    ssim        1 - SSIM of the reconstruction: structure rather than intensity
    neighbours  the mean distance to the 5 nearest training images in the encoder's first feature map, pooled to
                8×8 places (nearest neighbours in learned features, Bergman et al. 2020): where the strokes and
                edges are, which an autoencoder can reconstruct for an image it never saw
    texture     the mean distance to the 5 nearest training images in each conv layer's channel statistics (mean
                and spread over the image; for an MLP, the pixels' own) and each channel's 8-bin intensity
                histogram: what the image is made of, wherever it lies
    combined    (the default) each part as a standard normal score among held-out normal images (the normal
                quantile of its rank), then the larger of two: ssim's and neighbours' joined by Stouffer's sum/√2
                (two views of the layout, which add up where they agree) and texture's (another kind of anomaly,
                which layout does not see)

No part wins everywhere (docs/family.md): on digits layout separates (texture ROC-AUC 0.91), on grey photographs
of another kind only texture does (reconstruction error 0.18: the anomalies are smoother than the normal images).
The rule was chosen on our own sets and is the same for every set.

What the scores need is kept in MODEL.pth's record at fit time, bounded in size:
  - the neighbours' and texture's features of at most BANK training images (float16: 9 MB for digits, 10-12 MB
    for the largest images at the default conv widths): a greedy k-centre coreset, as PatchCore keeps one, of a
    seeded subsample of at most POOL images (fewer for larger images: as many values as POOL digits, 1,276 images
    at 64×64 RGB);
  - every score of the held-out images: fit's early-stopping slice, else a seeded tenth of TRAIN (at least 10, at
    most HELD), kept out of the coreset but not out of training (their reconstruction scores are then a little
    optimistic). Their ranks put the parts on one scale and set the threshold.
"""

from statistics import NormalDist

import numpy as np
import torch

from vae.core.data import ImageSet, scaled_batch
from vae.core.errors import InputError
from vae.core.metrics import per_image_scores
from vae.family.inference import batch_size, decoded

RECONSTRUCTION = ("mse", "ssim")  # what a model file fitted before the other scores can give
FEATURES = ("neighbours", "texture")  # the scores measured against the stored training features
NEIGHBOURS, BANK, POOL, HELD, PLACES, PROJECTED, BINS = 5, 2000, 20_000, 1000, 8, 128, 8


@torch.no_grad()
def measured(model, image_set: ImageSet) -> dict[str, np.ndarray]:
    """{"mse", "ssim": (N,) reconstruction scores; "neighbours", "texture": (N, F) features} of every image."""
    parts = {"mse": [], "ssim": [], "neighbours": [], "texture": []}
    for batch in image_set.batches(batch_size(image_set)):
        images = torch.from_numpy(batch).view(-1, *image_set.tensor_shape())
        mu, layout, texture = encoded_features(model, images)
        errors, similarities = per_image_scores([(images.numpy(), decoded(model, mu).reshape(images.shape))],
                                                image_set.channels)
        for name, value in zip(parts, (errors, 1.0 - similarities, layout.numpy(), texture.numpy())):
            parts[name].append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


def encoded_features(model, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(latent means (B, D), layout features (B, F1), texture features (B, F2)) of (B, C, S, S) images."""
    captured = []
    hooks = [module.register_forward_hook(lambda _module, _inputs, output: captured.append(output))
             for module in model.encoder.body if isinstance(module, torch.nn.ReLU)]
    try:
        mu, _ = model.encode(images)
    finally:
        for hook in hooks:
            hook.remove()
    maps = [output for output in captured if output.dim() == 4]  # the conv layers' (not the dense layer's)
    # an MLP's first hidden layer (one of a single layer has none: its input)
    layout = torch.nn.functional.adaptive_avg_pool2d(maps[0], PLACES).flatten(1) if maps else (
        captured[0] if captured else images.flatten(1))
    statistics = [torch.cat([each.mean((2, 3)), each.std((2, 3))], 1) for each in maps or [images]]
    bins = (images * BINS).long().clamp(max=BINS - 1)  # each channel's intensity histogram: the image's colours
    histogram = torch.stack([(bins == index).float().mean((2, 3)) for index in range(BINS)], 2).flatten(1)
    return mu, layout, torch.cat([*statistics, histogram], 1)


def nearest_distance(bank: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """(Q,) mean Euclidean distance of each (Q, F) query to its NEIGHBOURS nearest rows of the (M, F) bank."""
    bank = np.asarray(bank, np.float32)
    count = min(NEIGHBOURS, len(bank))
    squared_bank = (bank ** 2).sum(1)
    found = [np.zeros(0, np.float32)]
    for start in range(0, len(queries), 512):  # a block of queries at a time: memory stays bounded
        block = np.asarray(queries[start:start + 512], np.float32)
        squared = np.maximum((block ** 2).sum(1)[:, None] - 2 * block @ bank.T + squared_bank[None], 0)
        found.append(np.sqrt(np.partition(squared, count - 1, axis=1)[:, :count]).mean(1))
    return np.concatenate(found)


def coreset(rows: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of ``size`` of the (N, F) rows chosen greedily, each the farthest from those chosen before (each
    feature standardised, then a seeded random projection to PROJECTED values): the bank covers rare normal images
    as well as common ones."""
    if len(rows) <= size:
        return np.arange(len(rows))
    generator = np.random.default_rng(seed)
    standardised = (rows - rows.mean(0)) / (rows.std(0) + 1e-6)
    projected = standardised @ generator.normal(size=(rows.shape[1], PROJECTED)).astype(np.float32)
    chosen = [int(generator.integers(len(rows)))]
    nearest = ((projected - projected[chosen[0]]) ** 2).sum(1)
    for _ in range(size - 1):
        chosen.append(int(nearest.argmax()))
        nearest = np.minimum(nearest, ((projected - projected[chosen[-1]]) ** 2).sum(1))
    return np.sort(np.array(chosen))


def scores_from(features: dict, reference: dict | None) -> dict[str, np.ndarray]:
    """Every score, (N,) each, from ``measured`` features and the stored reference (without one: mse and ssim)."""
    scores = {name: features[name] for name in RECONSTRUCTION}
    if reference is not None:
        scores.update({name: nearest_distance(reference["banks"][name], features[name]) for name in FEATURES})
        scores["combined"] = combined(scores, reference.get("held_out", scores))  # the held-out images: their own
    return scores


def combined(scores: dict, held_out: dict) -> np.ndarray:
    """The larger of two normal scores among the (H,) held-out normal images' scores: ssim's and neighbours'
    joined by Stouffer's sum / √2 (agreeing parts add up, and a normal image stays near a standard normal), and
    texture's."""
    normal = {name: normal_scores(held_out[name], scores[name]) for name in ("ssim", *FEATURES)}
    return np.maximum((normal["ssim"] + normal["neighbours"]) / np.sqrt(2), normal["texture"])


def normal_scores(held: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value as a standard normal score: the normal quantile of its place among the held-out scores,
    interpolated; past the largest it grows on in proportion (the held-out scores' normal range over their own
    range), so anomalies beyond every normal image stay in order."""
    ordered = np.sort(np.asarray(held, np.float64))
    standard = NormalDist()
    placed = np.array([standard.inv_cdf((rank + 0.5) / len(ordered)) for rank in range(len(ordered))])
    normal = np.interp(values, ordered, placed)
    beyond = values > ordered[-1]
    # by the held-out scores' normal range over their own range; a single one: by its own size
    spread = float(ordered[-1] - ordered[0]) or abs(float(ordered[-1]))
    slope = ((placed[-1] - placed[0]) or 1.0) / max(spread, 1e-12)
    normal[beyond] = placed[-1] + (values[beyond] - ordered[-1]) * slope
    return normal


def reference_for(model, train_set: ImageSet, held: np.ndarray | None, seed: int) -> dict:
    """What the scores need, for MODEL.pth's record: {"banks": {part: (M, F) float16 features of a coreset of the
    training images}, "held_out": {score: (H,) float32 scores of the held-out images}}. ``held``: the indices fit
    held out of training, or None (a seeded tenth of TRAIN is set aside here)."""
    generator = np.random.default_rng(seed)
    order = generator.permutation(len(train_set))
    if held is None or len(held) == 0:
        held = order[:min(HELD, max(min(10, len(train_set) - 1), len(train_set) // 10, 1))]
    others = np.setdiff1d(order, held) if len(held) < len(train_set) else order
    pool = np.sort(generator.permutation(others)[:scaled_batch(POOL, train_set.pixels.shape[1])])
    features = measured(model, train_set.subset(pool))
    banks = {name: features[name][coreset(features[name], BANK, seed)] for name in FEATURES}
    held_out = scores_from(measured(model, train_set.subset(held)), {"banks": banks})
    return {"banks": {name: torch.from_numpy(bank.astype(np.float16)) for name, bank in banks.items()},
            "held_out": {name: torch.from_numpy(values.astype(np.float32)) for name, values in held_out.items()}}


def anomaly_record(model, train_set, held: np.ndarray | None, quantile: float, seed: int) -> dict:
    """What ``fit`` stores for ``anomaly``: the scores' reference and each score's threshold, the ``quantile`` of
    the held-out normal images' scores."""
    reference = reference_for(model, train_set, held, seed)
    thresholds = {name: float(np.quantile(values.numpy(), quantile)) for name, values in reference["held_out"].items()}
    return {"thresholds": thresholds, "quantile": quantile, "reference": reference}


def check_contamination(contamination: float) -> None:
    """InputError unless ``contamination``, the expected share of anomalies (PyOD's name), lies in (0, 0.5]."""
    if not 0 < contamination <= 0.5:
        raise InputError(f"--contamination: {contamination:g} is outside (0, 0.5] (the expected share of anomalies)")
