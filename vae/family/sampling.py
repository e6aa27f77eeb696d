"""Where new images come from: the latent points a model decodes to generate.

    prior    a VAE's N(0, I), the distribution its KL term pulls the latent towards
    mixture  a Gaussian mixture fitted by ``fit`` to the training images' latent means (the project's own EM,
             vae/core/gmm.py: K components, full covariances, seeded): it follows where the encoder actually put
             the images, so a plain AE, which has no prior, can generate too, and a VAE may choose

The mixture is stored in MODEL.pth's record as plain lists (read back without unpickling anything else).
"""

import numpy as np
import torch

from vae.core.errors import InputError
from vae.core.gmm import GaussianMixture, fit


def check_components(components: int, count: int, source: str) -> None:
    """Before a fit: a mixture cannot have more components than there are training images to start them from."""
    if components > count:
        raise InputError(f"--sampler-components {components}: more mixture components than the {count:,} images of "
                         f"{source}; give --sampler-components {count} or fewer")


def fit_mixture(latent: np.ndarray, components: int, seed: int) -> dict | None:
    """A full-covariance mixture of (N, D) latent means, EM started from ``components`` of the points drawn with
    ``seed``, as the plain dict MODEL.pth's record keeps; None when EM fails (a degenerate latent), so that a
    finished fit is still saved, without a mixture."""
    start = np.random.default_rng(seed).choice(len(latent), components, replace=False)
    try:
        mixture, report = fit(latent.astype(np.float64), latent[start], covariance_type="full", max_iter=200)
    except (ValueError, np.linalg.LinAlgError):
        return None
    return {"weights": mixture.weights.tolist(), "means": mixture.means.tolist(),
            "covariances": mixture.covariances.tolist(), "converged": report.converged}


def stored_mixture(record: dict, model_path: str) -> GaussianMixture:
    """The mixture ``fit`` stored in MODEL.pth's record; InputError when it holds none (fitted before samplers)."""
    try:
        stored = record["sampler"]
        mixture = GaussianMixture(*(np.asarray(stored[key], np.float64) for key in ("weights", "means", "covariances")))
        np.linalg.cholesky(mixture.covariances)
    except (KeyError, TypeError, ValueError, np.linalg.LinAlgError):
        raise InputError(f"{model_path}: holds no mixture sampler (fitted before vae had them, or EM failed on its "
                         "latent); fit it again to sample from a mixture") from None
    return mixture


def default_sampler(model) -> str:
    """A VAE samples its prior; a plain AE, which has none, its mixture."""
    return "prior" if model.variational else "mixture"


def latent_draws(model, sampler: str, count: int, seed: int, record: dict, model_path: str) -> np.ndarray:
    """``count`` latent points (count, D) float32 from ``sampler``, the same for the same seed."""
    if sampler == "prior":
        if not model.variational:
            raise InputError(f"{model_path}: is a plain autoencoder (--model ae), which has no prior to sample; "
                             "use --sampler mixture")
        return torch.randn(count, model.config.latent_dim, generator=torch.Generator().manual_seed(seed)).numpy()
    mixture = stored_mixture(record, model_path)
    rng = np.random.default_rng(seed)
    component = rng.choice(len(mixture.weights), size=count, p=mixture.weights / mixture.weights.sum())
    noise = rng.standard_normal((count, mixture.means.shape[1]))
    factors = np.linalg.cholesky(mixture.covariances)  # (K, D, D), cov = L Lᵀ
    return (mixture.means[component] + np.einsum("nde,ne->nd", factors[component], noise)).astype(np.float32)
