"""The family as a Python object with scikit-learn's conventions: ``Autoencoder`` fits, transforms to the latent,
decodes, classifies, samples and scores; vae.py's ``fit`` is a thin layer over the same ``fit_set``, and
``save``/``load`` write and read the very MODEL.pth the command line reads and writes.

    >>> from vae import Autoencoder
    >>> model = Autoencoder(model="ae", epochs=2, seed=0).fit(X)   # X: images, or (N, D) vectors
    >>> Z = model.transform(X)                                     # (N, latent_dim) latent means

Images are (N, H, W), (N, H, W, C) or (N, C, H, W) with square sides from 8 to 1,024 (uint8, or floats in
[0, 1]), as the command line reads them. An (N, D) array is D features per sample, through the MLP: each feature
is scaled to [0, 1] by its training minimum and range (later values clipped there) and the D values are laid out
as a square image padded with zeros, so that a plain feature table fits too (scikit-learn's check_estimator).
"""

from contextlib import contextmanager
from dataclasses import asdict, fields

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

from vae.core.data import ImageSet, image_set_from, in_layout
from vae.core.errors import InputError
from vae.core.metrics import image_quality
from vae.family.choices import chosen_network
from vae.family.config import AutoencoderConfig, FitConfig, refuse_inapplicable
from vae.family.fitting import fit_set
from vae.family.inference import (
    decode_draws,
    decoded_batches,
    decoded_pairs,
    encode_set,
    load_autoencoder,
    save_autoencoder,
)
from vae.family.sampling import default_sampler, latent_draws


@contextmanager
def library_errors():
    """The library's InputError (one line for the command line) as the ValueError Python callers expect."""
    try:
        yield
    except InputError as error:
        raise ValueError(str(error)) from None


NETWORK = ("model", "arch", "latent_dim", "layers", "conv_channels", "conv_hidden", "decoder")  # AutoencoderConfig's
TRAINING = tuple(field.name for field in fields(FitConfig))


class Autoencoder(TransformerMixin, BaseEstimator):
    """One of the family's networks, an AE or a VAE over an MLP or conv body, as an estimator. Every parameter is
    the `vae.py fit` option of the same name (--latent-dim: latent_dim); None: fit chooses (vae/family/choices.py).
    Fitted state: ``model_`` (the torch network), ``record_`` (MODEL.pth's record), ``n_features_in_``, and with a
    head ``classes_``."""

    def __init__(self, model=None, arch="conv", latent_dim=None, layers=3, conv_channels=(), conv_hidden=256,
                 beta=1.0, sparsity=0.0, sparsity_target=0.05, noise=0.0, head=False, head_weight=300.0,
                 head_shift=None, loss="ssim", ssim_weight=1000.0, epochs=None, steps=None, batch_size=64, lr=None,
                 anomaly_quantile=0.95, sampler_components=10, seed=0, device="auto", precision="fp32", decoder=None):
        self.model, self.arch, self.latent_dim, self.layers = model, arch, latent_dim, layers
        self.conv_channels, self.conv_hidden, self.decoder = conv_channels, conv_hidden, decoder
        self.beta, self.sparsity, self.sparsity_target, self.noise = beta, sparsity, sparsity_target, noise
        self.head, self.head_weight, self.head_shift, self.ssim_weight = head, head_weight, head_shift, ssim_weight
        self.loss = loss
        self.epochs, self.steps, self.batch_size, self.lr = epochs, steps, batch_size, lr
        self.anomaly_quantile, self.sampler_components = anomaly_quantile, sampler_components
        self.seed, self.device, self.precision = seed, device, precision

    def fit(self, X, y=None):
        """Train on X (images or vectors); y: the head's classes (with head=True), else ignored."""
        with library_errors():
            return self._fit(X, y)

    def _fit(self, X, y):
        vectors = np.asarray(X).ndim == 2 if not hasattr(X, "tocsr") else True
        X = validate_data(self, X, reset=True, allow_nd=True, dtype=None if not vectors else "numeric",
                          ensure_min_samples=2, ensure_min_features=1)
        network = {name: getattr(self, name) for name in NETWORK}
        config = AutoencoderConfig(**{**network, "arch": "mlp" if vectors else self.arch,
                                      "conv_channels": tuple(self.conv_channels)})
        # a mixture sampler of at most as many components as samples (the command line refuses more)
        fit_config = FitConfig(**{name: getattr(self, name) for name in TRAINING if name != "sampler_components"},
                               sampler_components=min(self.sampler_components, len(X)))
        defaults = {**asdict(AutoencoderConfig()), **asdict(FitConfig())}
        refuse_inapplicable({name: value for name, value in {**network, **asdict(fit_config)}.items()
                             if name in defaults and value != defaults[name] and value not in (None, ())},
                            chosen_network(config, self.head))
        self.vectors_ = vectors
        if vectors:
            self.feature_min_ = X.min(0).astype(np.float64)
            self.feature_range_ = np.where(X.max(0) > X.min(0), X.max(0) - X.min(0), 1.0).astype(np.float64)
        labels = names = None
        if self.head:
            if y is None:
                raise ValueError("head=True needs y, the class of each sample")
            y = column_or_1d(y, warn=True)
            check_consistent_length(X, y)
            self.classes_ = np.unique(y)
            # integer classes are kept as a labels array holds them; any others by their index, named
            labels, names = (y, None) if y.dtype.kind in "iu" else (np.searchsorted(self.classes_, y),
                                                                  tuple(map(str, self.classes_)))
        result = fit_set(self._image_set(X, labels, names), config, fit_config, self.head)
        if result.record is None:
            raise ValueError("vae.Autoencoder trains in one process; under torchrun use vae.py fit")
        self.model_, self.record_ = result.model, result.record
        if vectors:
            self.record_["vectors"] = {"min": self.feature_min_.tolist(), "range": self.feature_range_.tolist()}
        return self

    def _image_set(self, X, labels=None, names=None) -> ImageSet:
        """X (validated) as the family's image set: vectors scaled and padded to a square image."""
        if not self.vectors_:
            arrays = {"data": X, "labels": labels, "classes": names}
            return image_set_from("X", {key: value for key, value in arrays.items() if value is not None})
        scaled = np.clip((np.asarray(X, np.float64) - self.feature_min_) / self.feature_range_, 0, 1)
        side = max(8, int(np.ceil(np.sqrt(scaled.shape[1]))))
        pixels = np.zeros((len(scaled), side * side), np.float32)
        pixels[:, :scaled.shape[1]] = scaled
        return ImageSet("X", pixels, labels, (len(pixels), side, side), 1, side, names)

    def _checked(self, X) -> ImageSet:
        check_is_fitted(self)
        with library_errors():
            return self._image_set(validate_data(self, X, reset=False, allow_nd=True,
                                                 dtype="numeric" if self.vectors_ else None))

    def transform(self, X):
        """(N, latent_dim) latent means of X."""
        image_set = self._checked(X)
        latent = encode_set(self.model_, image_set)
        return latent.astype(np.float64 if getattr(X, "dtype", None) == np.float64 else np.float32)

    def inverse_transform(self, Z):
        """Decoded from (N, latent_dim) latent points: in X's layout, floats in [0, 1] (vectors: in their units)."""
        check_is_fitted(self)
        return self._as_input(decode_draws(self.model_, np.asarray(Z, np.float32)))

    def _as_input(self, decoded: np.ndarray) -> np.ndarray:
        if self.vectors_:
            features = decoded[:, :len(self.feature_min_)].astype(np.float64)
            return features * self.feature_range_ + self.feature_min_
        return in_layout(decoded, self.model_.config.sample_shape)

    def reconstruct(self, X):
        """Each sample of X through the network (its latent mean, decoded), in X's layout."""
        return self.inverse_transform(self.transform(X))

    @available_if(lambda self: self.head)
    def predict(self, X):
        """The head's class of each sample (the classes y named)."""
        image_set = self._checked(X)
        with torch.no_grad():
            latent = torch.from_numpy(encode_set(self.model_, image_set))
            return self.classes_[self.model_.classify(latent).argmax(1).numpy()]

    def sample(self, n_samples: int = 1, sampler: str | None = None, random_state: int = 0):
        """``n_samples`` new samples decoded from ``sampler``'s draws ("prior": a VAE's; "mixture": the mixture
        fitted to the training latents, default for an AE)."""
        check_is_fitted(self)
        sampler = sampler or default_sampler(self.model_)
        latent = latent_draws(self.model_, sampler, n_samples, random_state, self.record_, "this model")
        return self._as_input(decode_draws(self.model_, latent))

    def score(self, X, y=None) -> float:
        """Mean SSIM of X's reconstructions (higher is better)."""
        image_set = self._checked(X)
        pairs = decoded_pairs(image_set, decoded_batches(self.model_, image_set))  # a pass's worth at a time
        return image_quality(pairs, image_set.channels)["ssim"]

    def save(self, path: str) -> None:
        """Write MODEL.pth: the file vae.py fit writes and its other commands read."""
        check_is_fitted(self)
        save_autoencoder(path, self.model_, self.record_)

    @classmethod
    def load(cls, path: str) -> "Autoencoder":
        """An estimator from MODEL.pth (written by save or by vae.py fit), fitted."""
        model, record = load_autoencoder(path)
        config = model.config
        training = {name: value for name, value in record.get("fit", {}).items() if name in TRAINING}
        estimator = cls(**{name: getattr(config, name) for name in NETWORK}, head=model.head is not None, **training)
        estimator.model_, estimator.record_ = model, record
        stored = record.get("vectors")
        estimator.vectors_ = stored is not None
        if stored:
            estimator.feature_min_, estimator.feature_range_ = (np.asarray(stored[key]) for key in ("min", "range"))
            estimator.n_features_in_ = len(estimator.feature_min_)
        else:
            estimator.n_features_in_ = config.sample_shape[0]
        if model.head is not None:
            estimator.classes_ = np.array(config.class_names) if config.class_names else np.array(config.head_classes)
        return estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def sweep(train: str, grid: dict, *, folds: int = 5, jobs: int | None = None, cluster: str | None = None,
          out: str = "sweep", head: bool = False, reference: str | None = None, quiet: bool = False,
          **options) -> list[dict]:
    """``vae.py sweep`` from Python: each cell of ``grid`` ({"model": ["ae", "vae"], "beta": [1, 4]}, knobs named as
    Autoencoder's parameters) fitted on ``folds`` folds of ``train`` (an image file or folder) and scored on the
    held-out one; ``options`` apply to every cell. Writes OUT/ as the command does and returns its rows (a dict per
    cell and fold: "cell", "fold", "scores", "host", ...). The fits run ``jobs`` at a time in joblib's current
    backend (inside ``joblib.parallel_config(backend="dask")``, on that Dask client's workers), or on the workers
    of the Dask scheduler at ``cluster`` ("tcp://HOST:8786")."""
    from vae.core.data import Reading
    from vae.core.report import Outputs
    from vae.family.choices import implied_model
    from vae.family.sweep import sweep as run_sweep

    unknown = sorted(set(options) - set(NETWORK) - set(TRAINING))
    if unknown:
        raise TypeError(f"sweep() got unknown fit options: {', '.join(unknown)}")
    network = {name: value for name, value in options.items() if name in NETWORK}
    network["model"] = network.get("model") or implied_model({**options, **grid})
    network["conv_channels"] = tuple(network.get("conv_channels", ()))
    training = {name: value for name, value in options.items() if name in TRAINING}
    with library_errors():
        return run_sweep(train, {knob: list(values) for knob, values in grid.items()}, AutoencoderConfig(**network),
                         FitConfig(**training), head, folds, jobs, out, Outputs(quiet=quiet), Reading(), reference,
                         cluster)
