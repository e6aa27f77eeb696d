"""A Gaussian mixture with full covariances, fitted by expectation-maximisation in numpy.

Numerically careful in the way of scikit-learn's GaussianMixture: densities are evaluated through
the Cholesky factor of each precision matrix, responsibilities are normalised in log space with
log-sum-exp, and ``reg_covar`` is added to every covariance diagonal so that a component that
collapses onto a point or a line stays positive definite. Shapes: N points, K components, D dims.
"""

from dataclasses import dataclass, field

import numpy as np

LOG_2PI = np.log(2 * np.pi)
COVARIANCE_TYPES = ("full", "tied")


@dataclass
class GaussianMixture:
    weights: np.ndarray  # (K,), sums to 1
    means: np.ndarray  # (K, D)
    covariances: np.ndarray  # (K, D, D), symmetric positive definite

    def log_joint(self, points: np.ndarray) -> np.ndarray:
        """log(weight_k · N(x_n | mean_k, cov_k)) for every point and component; shape (N, K)."""
        precision_chol = _precision_cholesky(self.covariances)  # (K, D, D)
        # (x - mu) @ P for every component at once: x @ P - mu @ P, both as batched products.
        projected = points @ precision_chol - np.einsum("kd,kde->ke", self.means, precision_chol)[:, None, :]
        squared = np.einsum("knd,knd->nk", projected, projected)
        log_det = np.log(np.diagonal(precision_chol, axis1=1, axis2=2)).sum(axis=1)  # (K,)
        dim = points.shape[1]
        return -0.5 * (dim * LOG_2PI + squared) + log_det + np.log(self.weights)

    def responsibilities(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior of each component, shape (N, K), and each point's log-likelihood, shape (N,)."""
        log_joint = self.log_joint(points)
        log_likelihood = _logsumexp(log_joint)
        return np.exp(log_joint - log_likelihood[:, None]), log_likelihood

    def score(self, points: np.ndarray) -> float:
        """Mean log-likelihood per point (as scikit-learn's ``score``)."""
        return float(_logsumexp(self.log_joint(points)).mean())


@dataclass
class FitReport:
    converged: bool
    iterations: int
    log_likelihood: float  # mean per point, of the returned mixture
    history: list[float] = field(default_factory=list)  # mean log-likelihood before each M-step


def fit(
    points: np.ndarray,
    means: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    covariances: np.ndarray | None = None,
    reg_covar: float = 1e-6,
    tol: float = 1e-3,
    max_iter: int = 100,
    covariance_type: str = "full",
) -> tuple[GaussianMixture, FitReport]:
    """Fit a mixture to points (N, D) by EM, starting from the given means (K, D).

    Unless given, the weights start equal and every covariance starts as the covariance of all
    points. EM stops when the mean log-likelihood changes by less than ``tol`` (scikit-learn's rule)
    or after ``max_iter`` iterations. ``covariance_type``: "full" (one per component) or "tied"
    (one shared by all, as scikit-learn's; the boundaries between components are then straight lines).
    """
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {', '.join(COVARIANCE_TYPES)}, not {covariance_type!r}")
    points = np.asarray(points, dtype=np.float64)
    if not np.all(np.isfinite(points)):
        raise ValueError("the points contain NaN or infinite values")
    count, dim = points.shape
    components = len(means)
    if weights is None:
        weights = np.full(components, 1.0 / components)
    if covariances is None:
        spread = np.atleast_2d(np.cov(points, rowvar=False, bias=True)) if count > 1 else np.zeros((dim, dim))
        covariances = np.repeat((spread + reg_covar * np.eye(dim))[None], components, axis=0)
    covariances = _positive_definite(np.asarray(covariances, float))
    mixture = GaussianMixture(np.asarray(weights, float), np.asarray(means, float), covariances)

    history: list[float] = []
    converged = False
    for _ in range(max_iter):
        resp, log_likelihood = mixture.responsibilities(points)
        history.append(float(log_likelihood.mean()))
        mixture = _maximise(points, resp, reg_covar, covariance_type)
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            converged = True
            break
    return mixture, FitReport(converged, len(history), mixture.score(points), history)


def _maximise(points: np.ndarray, resp: np.ndarray, reg_covar: float, covariance_type: str) -> GaussianMixture:
    """The M-step: weights, means and covariances that maximise the expected log-likelihood."""
    dim = points.shape[1]
    # The tiny floor keeps a component that lost every point finite (it then sits at the origin with
    # covariance reg_covar·I and weight ~0) instead of dividing by zero.
    totals = resp.sum(axis=0) + 10 * np.finfo(float).eps  # (K,)
    means = (resp.T @ points) / totals[:, None]  # (K, D)
    centred = points[None, :, :] - means[:, None, :]  # (K, N, D)
    covariances = np.einsum("kn,knd,kne->kde", resp.T, centred, centred) / totals[:, None, None]
    if covariance_type == "tied":  # the components' covariances pooled, weighted by their points
        pooled = np.einsum("k,kde->de", totals, covariances) / totals.sum()
        covariances = np.repeat(pooled[None], len(totals), axis=0)
    covariances += reg_covar * np.eye(dim)
    return GaussianMixture(totals / totals.sum(), means, _positive_definite(covariances))


def _positive_definite(covariances: np.ndarray) -> np.ndarray:
    """The covariances, with jitter on the diagonal of any that rounding left not positive definite.

    reg_covar is absolute, so it vanishes next to huge variances (points 1e6 apart on a line); the
    jitter grows from 1e-12 of the component's own scale until its Cholesky factor exists.
    """
    try:
        np.linalg.cholesky(covariances)
        return covariances
    except np.linalg.LinAlgError:
        pass
    fixed = covariances.copy()
    eye = np.eye(covariances.shape[-1])
    for index, covariance in enumerate(covariances):
        scale = max(float(np.abs(np.diagonal(covariance)).max()), np.finfo(float).tiny)
        for jitter in scale * 10.0 ** np.arange(-12, 1):
            try:
                np.linalg.cholesky(covariance + jitter * eye)
                break
            except np.linalg.LinAlgError:
                continue
        else:
            raise ValueError("a mixture covariance cannot be made positive definite")
        fixed[index] = covariance + jitter * eye
    return fixed


def _precision_cholesky(covariances: np.ndarray) -> np.ndarray:
    """Upper-triangular P_k with P_k P_kᵀ = inverse(cov_k), so (x-μ)ᵀ cov⁻¹ (x-μ) = |(x-μ) P_k|²."""
    try:
        lower = np.linalg.cholesky(covariances)  # (K, D, D), cov = L Lᵀ
    except np.linalg.LinAlgError:
        raise ValueError("a mixture covariance is not positive definite; increase reg_covar") from None
    eye = np.broadcast_to(np.eye(covariances.shape[-1]), covariances.shape)
    return np.swapaxes(np.linalg.solve(lower, eye), 1, 2)  # (L⁻¹)ᵀ


def _logsumexp(values: np.ndarray) -> np.ndarray:
    """log(sum(exp(values), axis=1)) without overflow; shape (N,)."""
    top = values.max(axis=1)
    return top + np.log(np.exp(values - top[:, None]).sum(axis=1))


@dataclass
class MixtureClassifier:
    """A mixture whose components each carry the class label of the validation images that seeded them."""

    mixture: GaussianMixture
    component_labels: np.ndarray  # (K,) int64, the class of each component
    classes: np.ndarray  # (C,) int64, sorted
    report: FitReport

    def class_posteriors(self, points: np.ndarray) -> np.ndarray:
        """P(class | point) for (N, D) points, summing the posteriors of each class's components; (N, C)."""
        resp, _ = self.mixture.responsibilities(points)
        return np.stack([resp[:, self.component_labels == label].sum(axis=1) for label in self.classes], axis=1)

    def predict(self, points: np.ndarray, block: int = 65536) -> np.ndarray:
        """The most probable class of each (N, D) point; shape (N,). Blocks keep temporaries bounded."""
        predicted = np.empty(len(points), dtype=self.classes.dtype)
        for start in range(0, len(points), block):
            part = slice(start, start + block)
            predicted[part] = self.classes[self.class_posteriors(points[part]).argmax(axis=1)]
        return predicted

    def to_params(self) -> dict:
        """The plain dict stored in gmm_params.pkl (builtins and numpy arrays only)."""
        return {
            "weights": self.mixture.weights,
            "means": self.mixture.means,
            "covariances": self.mixture.covariances,
            "component_labels": self.component_labels,
            "classes": self.classes,
            "latent_dim": int(self.mixture.means.shape[1]),
            "converged": bool(self.report.converged),
            "iterations": int(self.report.iterations),
            "log_likelihood": float(self.report.log_likelihood),
        }

    @classmethod
    def from_params(cls, params: dict) -> "MixtureClassifier":
        """Rebuild from :meth:`to_params`'s dict; ValueError naming what is wrong."""
        try:
            weights = np.asarray(params["weights"], dtype=np.float64)
            means = np.asarray(params["means"], dtype=np.float64)
            covariances = np.asarray(params["covariances"], dtype=np.float64)
            component_labels = np.asarray(params["component_labels"])
            classes = np.asarray(params["classes"])
        except KeyError as error:
            raise ValueError(f"missing key {error}") from None
        except (TypeError, ValueError) as error:
            raise ValueError(f"an entry is not numeric ({error})") from None
        if means.ndim != 2 or len(means) == 0:
            raise ValueError(f"'means' has shape {means.shape}; expected (components, latent_dim)")
        count, dim = means.shape
        if weights.shape != (count,) or covariances.shape != (count, dim, dim) or component_labels.shape != (count,):
            raise ValueError("'weights', 'means', 'covariances' and 'component_labels' disagree in shape")
        if component_labels.dtype.kind not in "iu" or classes.dtype.kind not in "iu" or classes.ndim != 1:
            raise ValueError("'component_labels' and 'classes' must be integer arrays")
        if not set(component_labels.tolist()) <= set(classes.tolist()):
            raise ValueError("a component's label is not among 'classes'")
        if not (np.all(np.isfinite(weights)) and np.all(np.isfinite(means)) and np.all(np.isfinite(covariances))):
            raise ValueError("it contains NaN or infinite values")
        if np.any(weights < 0) or not np.isclose(weights.sum(), 1.0):
            raise ValueError("'weights' are not a probability distribution")
        try:
            _precision_cholesky(covariances)
        except ValueError:
            raise ValueError("a covariance is not positive definite") from None
        report = FitReport(bool(params.get("converged", False)), int(params.get("iterations", 0)),
                           float(params.get("log_likelihood", np.nan)))
        mixture = GaussianMixture(weights, means, covariances)
        return cls(mixture, component_labels.astype(np.int64), np.unique(classes).astype(np.int64), report)


def seed_means(points: np.ndarray, labels: np.ndarray, components_per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """Initial means from labelled points (the validation set's latents) and each one's class.

    With one component per class a seed is the class mean. With k > 1, a class's points are sorted
    along their principal axis and cut into k runs of (nearly) equal size, each run's mean a seed;
    a class with fewer than k points gets one seed per point. Returns means (K, D) and labels (K,).
    """
    means, seed_labels = [], []
    for label in np.unique(labels):
        members = points[labels == label]
        if components_per_class == 1 or len(members) == 1:
            groups = [np.arange(len(members))]
        else:
            centred = members - members.mean(axis=0)
            axis = np.linalg.svd(centred, full_matrices=False)[2][0]
            order = np.argsort(centred @ axis, kind="stable")
            groups = np.array_split(order, min(components_per_class, len(members)))
        for group in groups:
            means.append(members[group].mean(axis=0))
            seed_labels.append(label)
    return np.array(means), np.array(seed_labels, dtype=np.int64)


def fit_classifier(
    train_points: np.ndarray,
    val_points: np.ndarray,
    val_labels: np.ndarray,
    *,
    components_per_class: int = 1,
    reg_covar: float = 1e-6,
    tol: float = 1e-3,
    max_iter: int = 100,
    covariance_type: str = "full",
) -> MixtureClassifier:
    """Fit a mixture to unlabelled points (N, D), seeded from and labelled by the validation points."""
    means, component_labels = seed_means(val_points, val_labels, components_per_class)
    mixture, report = fit(train_points, means, reg_covar=reg_covar, tol=tol, max_iter=max_iter,
                          covariance_type=covariance_type)
    return MixtureClassifier(mixture, component_labels, np.unique(val_labels).astype(np.int64), report)
