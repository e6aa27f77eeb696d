"""The methods a reviewer tries before ours (issue #34), on the same images and split: anomaly detectors and
classifiers that train no network or a plain one, each run in a fresh process so that its seconds and peak memory
are its own.

Anomaly detectors, fitted on the normal training images (flattened pixels in [0, 1]), higher score = more abnormal:
PyOD's KNN, IForest and AutoEncoder with their defaults (bench/requirements.txt), and 5 nearest neighbours on
intensity histograms (16 bins per channel). Classifiers: logistic regression and 5 nearest neighbours on the pixels
(scikit-learn), and a plain supervised CNN (two conv layers, random shifts of up to side/14 pixels as our head
gets) trained for a given wall time.
"""

import multiprocessing
import resource
import time

import numpy as np

DETECTORS = ("PyOD KNN", "PyOD IForest", "PyOD AutoEncoder", "histogram 5-NN")
CLASSIFIERS = ("logistic regression on pixels", "5-NN on pixels", "plain supervised CNN, equal wall time")


def in_fresh_process(function, *args):
    """(``function(*args)``, its seconds, the fresh process's peak resident memory in MB)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_measured, (function, *args))


def _measured(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1)


def detector_scores(name: str, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """(M,) anomaly scores of the (M, C, S, S) test images by the detector ``name`` fitted on (N, C, S, S) images."""
    if name == "histogram 5-NN":
        from sklearn.neighbors import NearestNeighbors

        bank = NearestNeighbors(n_neighbors=5).fit(histograms(train))
        return bank.kneighbors(histograms(test))[0].mean(1)
    if name == "PyOD KNN":
        from pyod.models.knn import KNN as Detector
    elif name == "PyOD IForest":
        from pyod.models.iforest import IForest as Detector
    else:
        from pyod.models.auto_encoder import AutoEncoder as Detector
    from sklearn.base import BaseEstimator

    # PyOD 2.0.5's KNN and IForest check themselves with scikit-learn 1.9's tags, which their base class lacks
    Detector = type(Detector.__name__, (Detector, BaseEstimator), {})
    options = {"random_state": 0} if name != "PyOD KNN" else {}
    detector = Detector(**options, **({"verbose": 0} if name == "PyOD AutoEncoder" else {}))
    detector.fit(flat(train))
    return detector.decision_function(flat(test))


def histograms(images: np.ndarray, bins: int = 16) -> np.ndarray:
    """(N, C·bins) each channel's share of pixels in each of ``bins`` equal intensity bins."""
    edges = np.linspace(0, 1, bins + 1)[1:-1]
    indices = np.digitize(images.reshape(len(images), images.shape[1], -1), edges)  # (N, C, S·S) in 0..bins-1
    counts = np.stack([(indices == index).mean(2) for index in range(bins)], 2)
    return counts.reshape(len(images), -1)


def classifier_predictions(name: str, train: np.ndarray, labels: np.ndarray, test: np.ndarray,
                           seconds: float) -> np.ndarray:
    """(M,) predicted labels of the test images by the classifier ``name`` fitted on (N, C, S, S) images."""
    if name == "logistic regression on pixels":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000).fit(flat(train), labels).predict(flat(test))
    if name == "5-NN on pixels":
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier(5).fit(flat(train), labels).predict(flat(test))
    return supervised_cnn(train, labels, test, seconds)


def supervised_cnn(train: np.ndarray, labels: np.ndarray, test: np.ndarray, seconds: float) -> np.ndarray:
    """Two stride-2 conv layers, a linear layer, cross-entropy, Adam, batches of 64 randomly shifted images, for
    ``seconds`` of wall time."""
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    classes, targets = np.unique(labels, return_inverse=True)
    channels, side = train.shape[1], train.shape[-1]
    network = nn.Sequential(nn.Conv2d(channels, 32, 4, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.ReLU(),
                            nn.Flatten(), nn.Linear(64 * (side // 4) ** 2, len(classes)))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    data, targets = torch.from_numpy(train), torch.from_numpy(targets)
    shift, generator = max(1, side // 14), torch.Generator().manual_seed(0)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for batch in torch.randperm(len(data), generator=generator).split(64):
            offsets = tuple(int(value) for value in torch.randint(-shift, shift + 1, (2,), generator=generator))
            moved = torch.roll(data[batch], offsets, (2, 3))
            loss = nn.functional.cross_entropy(network(moved), targets[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if time.perf_counter() >= end:
                break
    with torch.no_grad():
        return classes[torch.cat([network(batch).argmax(1) for batch in torch.from_numpy(test).split(256)]).numpy()]
