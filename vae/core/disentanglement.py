"""Disentanglement scores of a representation against known discrete ground-truth factors (torch-free), as
disentanglement_lib defines them (Locatello et al. 2019): MIG (Chen et al. 2018), DCI (Eastwood & Williams 2018)
and SAP (Kumar et al. 2018).

Shapes: ``latents`` (N, D) floats, one code per image; ``factors`` (N, K) integers, the true factor values.
Factors that take a single value carry no information to find and are left out of every score.
"""

import numpy as np
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import mutual_info_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from vae.core.errors import InputError

BINS = 20
TEST_FRACTION = 0.2
DCI_TRAIN_ROWS = 1000  # trees fitted per factor grow with rows × classes; a cap keeps 32-valued factors in seconds
DCI_STAGES = 20  # with the cap, within 0.01 of the default 100 stages on all rows in D and C, 0.02 in I (measured)
PREDICTED_ROWS = 10_000  # DCI's and SAP's images at most (disentanglement_lib scores 10,000 points)
SAP_LEAF_ROWS = 5  # a 1-D tree's smallest leaf, so that noise dimensions are not fitted row by row


def check_inputs(latents, factors) -> tuple[np.ndarray, np.ndarray]:
    """``latents`` as (N, D) float64 and ``factors`` as (N, K) int64, or InputError saying what is wrong."""
    latents, factors = np.asarray(latents), np.asarray(factors)
    if latents.ndim != 2 or latents.dtype.kind not in "iuf":
        raise InputError(f"latents must be a 2-D array of numbers (images × dimensions), not {latents.dtype} "
                         f"of shape {latents.shape}")
    if not np.isfinite(latents).all():
        raise InputError("latents hold NaN or infinite values")
    if factors.ndim != 2 or factors.dtype.kind not in "iu":
        raise InputError(f"factors must be a 2-D array of integers (images × factors), not {factors.dtype} "
                         f"of shape {factors.shape}")
    if len(factors) != len(latents):
        raise InputError(f"factors have {len(factors)} rows, the images {len(latents)}")
    if len(latents) < 2 or latents.shape[1] < 1 or factors.shape[1] < 1:
        raise InputError(f"need at least 2 images, 1 latent dimension and 1 factor; got latents of shape "
                         f"{latents.shape} and factors of shape {factors.shape}")
    return latents.astype(np.float64), factors.astype(np.int64)


def discretise(latents: np.ndarray, bins: int = BINS) -> np.ndarray:
    """(N, D) -> (N, D) bin numbers: each dimension cut into ``bins`` equal-width bins over its own range (the
    largest value lands in the last bin), as disentanglement_lib's _histogram_discretize."""
    return np.stack([np.digitize(column, np.histogram(column, bins)[1][:-1]) for column in latents.T], axis=1)


def mutual_information(latents, factors, bins: int = BINS) -> np.ndarray:
    """(D, K) mutual information (nats) between each discretised latent dimension and each factor."""
    latents, factors = check_inputs(latents, factors)
    codes = discretise(latents, bins)
    return np.array([[mutual_info_score(factor, code) for factor in factors.T] for code in codes.T])


def varying(factors: np.ndarray) -> np.ndarray:
    """(N, K) -> (N, K') the factors that take more than one value, or InputError when none do."""
    keep = factors.min(axis=0) < factors.max(axis=0)
    if not keep.any():
        raise InputError("every factor takes a single value: there is nothing to score against")
    return factors[:, keep]


def mig(latents, factors, bins: int = BINS) -> float:
    """Mutual Information Gap: per factor, the largest minus the second largest mutual information with a latent
    dimension, over the factor's entropy; the mean over factors (those of a single value left out)."""
    latents, factors = check_inputs(latents, factors)
    factors = varying(factors)
    information = np.sort(mutual_information(latents, factors, bins), axis=0)[::-1]
    second = information[1] if len(information) > 1 else np.zeros(factors.shape[1])
    entropy = np.array([mutual_info_score(factor, factor) for factor in factors.T])
    return float(np.mean((information[0] - second) / entropy))


def best_factor(latents, factors, bins: int = BINS) -> np.ndarray:
    """(D,) int: for each latent dimension, the index of the factor it shares the most information with."""
    return np.argmax(mutual_information(latents, factors, bins), axis=1)


def normalised_entropy(weights: np.ndarray, base: int) -> np.ndarray:
    """(M, C) non-negative weights -> (M,) entropy of each row as a distribution, in base ``base`` (0 when base 1:
    a single outcome is certain)."""
    if base == 1:
        return np.zeros(len(weights))
    p = weights / weights.sum(axis=1, keepdims=True)
    return -(p * np.log(np.where(p > 0, p, 1))).sum(axis=1) / np.log(base)


def dci(latents, factors, seed: int = 0) -> dict:
    """Disentanglement, completeness and informativeness from gradient-boosted trees' feature importances.

    Per factor, trees predict it from all latents, fitted on a seeded 80% (at most DCI_TRAIN_ROWS rows);
    informativeness is their mean accuracy on the other 20%. R (D, K) holds the importances. A dimension
    (D = 1) or factor (K = 1) alone has entropy 0, so its term scores 1.
    """
    latents, factors = check_inputs(latents, factors)
    factors = varying(factors)
    importances, accuracies = [], []
    for factor in factors.T:
        train_x, test_x, train_y, test_y = train_test_split(latents, factor, test_size=TEST_FRACTION,
                                                            random_state=seed)
        train_x, train_y = train_x[:DCI_TRAIN_ROWS], train_y[:DCI_TRAIN_ROWS]  # the split has shuffled the rows
        if len(np.unique(train_y)) == 1:  # too few rows to see the factor vary: nothing to learn, guess the one value
            importances.append(np.zeros(latents.shape[1]))
            accuracies.append(np.mean(test_y == train_y[0]))
            continue
        model = GradientBoostingClassifier(n_estimators=DCI_STAGES, random_state=seed).fit(train_x, train_y)
        importances.append(np.abs(model.feature_importances_))
        accuracies.append(model.score(test_x, test_y))
    # a tiny floor, as disentanglement_lib: a factor no tree splits for is spread evenly, not perfectly complete
    weights = np.array(importances).T + 1e-11
    dimensions, count = weights.shape
    share = weights.sum(axis=1) / weights.sum()
    return {"disentanglement": float(np.sum(share * (1 - normalised_entropy(weights, count)))),
            "completeness": float(np.mean(1 - normalised_entropy(weights.T, dimensions))),
            "informativeness": float(np.mean(accuracies))}


def sap(latents, factors, seed: int = 0) -> float:
    """Separated Attribute Predictability: per factor, a decision tree on each latent dimension alone, fitted on a
    seeded 80% and scored on the rest; the gap between the two best dimensions' accuracies (with D = 1 the second
    counts as 0), averaged over factors.

    disentanglement_lib fits a LinearSVC; on one dimension a linear one-vs-rest classifier can only single out
    the classes at the ends of the range, so a latent equal to a many-valued factor would score far below 1.
    A tree cuts the dimension into intervals and finds every value."""
    latents, factors = check_inputs(latents, factors)
    factors = varying(factors)
    train_x, test_x, train_y, test_y = train_test_split(latents, factors, test_size=TEST_FRACTION, random_state=seed)
    accuracy = np.zeros((latents.shape[1], factors.shape[1]))
    for d in range(latents.shape[1]):
        for k in range(factors.shape[1]):
            tree = DecisionTreeClassifier(min_samples_leaf=SAP_LEAF_ROWS, random_state=seed)
            tree.fit(train_x[:, d:d + 1], train_y[:, k])
            accuracy[d, k] = tree.score(test_x[:, d:d + 1], test_y[:, k])
    ranked = np.sort(accuracy, axis=0)[::-1]
    second = ranked[1] if len(ranked) > 1 else np.zeros(factors.shape[1])
    return float(np.mean(ranked[0] - second))


def disentanglement_scores(latents, factors, seed: int = 0) -> dict:
    """{"mig", "dci_disentanglement", "dci_completeness", "dci_informativeness", "sap"}: plain floats, the same for
    the same seed. MIG counts every image; DCI and SAP, which fit classifiers, a seeded PREDICTED_ROWS of them."""
    latents, factors = check_inputs(latents, factors)
    if len(latents) > PREDICTED_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(latents), PREDICTED_ROWS, replace=False))
        latents_kept, factors_kept = latents[rows], factors[rows]
    else:
        latents_kept, factors_kept = latents, factors
    scores = dci(latents_kept, factors_kept, seed)
    return {"mig": mig(latents, factors), "dci_disentanglement": scores["disentanglement"],
            "dci_completeness": scores["completeness"], "dci_informativeness": scores["informativeness"],
            "sap": sap(latents_kept, factors_kept, seed)}
