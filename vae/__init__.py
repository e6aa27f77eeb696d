"""vae: a variational autoencoder with a 2-D latent and a Gaussian mixture classifier for small images, and a
family of autoencoders around it.

As Python objects (scikit-learn's and PyOD's conventions): ``from vae import Autoencoder, AnomalyDetector``; and
``vae.sweep(TRAIN, grid, cluster=...)``, the cross-validated sweep.
They are imported on first use, so that the command line, which does not need them, starts without torch.
"""

__version__ = "0.1.0"
__all__ = ["Autoencoder", "AnomalyDetector", "sweep"]


def __getattr__(name: str):
    if name == "Autoencoder":
        from vae.family.estimator import Autoencoder

        return Autoencoder
    if name == "AnomalyDetector":
        from vae.family.detector import AnomalyDetector

        return AnomalyDetector
    if name == "sweep":
        from vae.family.estimator import sweep

        return sweep
    raise AttributeError(f"module 'vae' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
