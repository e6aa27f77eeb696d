"""Anomaly detection as PyOD's detectors offer it: ``AnomalyDetector`` fits an autoencoder on normal samples and
scores new ones (higher: more abnormal) with vae.py anomaly's scores (vae/family/anomaly_scores.py).

    >>> from vae import AnomalyDetector
    >>> detector = AnomalyDetector(contamination=0.05, model="ae", seed=0).fit(X_normal)
    >>> detector.decision_function(X)       # (N,) scores; detector.predict(X): 0/1, 1 = anomaly

Fitted state as PyOD names it: ``threshold_`` (the 1 - contamination quantile of the held-out normal samples'
scores, as vae.py fit stores it), ``decision_scores_`` and ``labels_`` (the training samples' scores and flags),
and ``autoencoder_``, the fitted vae.Autoencoder (whose save() writes the MODEL.pth vae.py anomaly reads).
"""

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from vae.family.anomaly_scores import check_contamination, measured, scores_from
from vae.family.config import ANOMALY_SCORES
from vae.family.estimator import Autoencoder, library_errors


class AnomalyDetector(BaseEstimator):
    """An autoencoder's anomaly scores with PyOD's interface. ``score``: one of vae.py anomaly's --score choices;
    ``contamination``: the expected share of anomalies, in (0, 0.5]; the rest are Autoencoder's parameters."""

    def __init__(self, contamination=0.05, score="combined", model="ae", arch="conv", latent_dim=None, epochs=None,
                 steps=None, batch_size=64, seed=0, device="auto"):
        self.contamination, self.score = contamination, score
        self.model, self.arch, self.latent_dim, self.epochs, self.steps = model, arch, latent_dim, epochs, steps
        self.batch_size, self.seed, self.device = batch_size, seed, device

    def fit(self, X, y=None):
        """Fit on normal samples X (images or vectors, as Autoencoder takes them); y is ignored."""
        if self.score not in ANOMALY_SCORES:
            raise ValueError(f"score {self.score!r}: one of {', '.join(ANOMALY_SCORES)}")
        with library_errors():
            check_contamination(self.contamination)
        self.autoencoder_ = Autoencoder(model=self.model, arch=self.arch, latent_dim=self.latent_dim,
                                        epochs=self.epochs, steps=self.steps, batch_size=self.batch_size,
                                        anomaly_quantile=1 - self.contamination, seed=self.seed,
                                        device=self.device).fit(X)
        self.n_features_in_ = self.autoencoder_.n_features_in_
        self.threshold_ = float(self.autoencoder_.record_["anomaly"]["thresholds"][self.score])
        self.decision_scores_ = self.decision_function(X)
        self.labels_ = (self.decision_scores_ > self.threshold_).astype(int)
        return self

    def decision_function(self, X) -> np.ndarray:
        """(N,) anomaly scores of X; higher is more abnormal."""
        check_is_fitted(self)
        autoencoder = self.autoencoder_
        reference = autoencoder.record_["anomaly"].get("reference")
        if reference is None:
            raise ValueError("this model was fitted before the anomaly scores' reference was stored; refit it")
        return scores_from(measured(autoencoder.model_, autoencoder._checked(X)), reference)[self.score]

    def predict(self, X) -> np.ndarray:
        """(N,) 0/1: 1 where the score is above threshold_."""
        return (self.decision_function(X) > self.threshold_).astype(int)
