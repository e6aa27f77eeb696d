"""The reference network that sample quality is measured in (``vae.py reference TRAIN REF.pth``).

Fréchet distance and precision/recall compare feature vectors (vae/core/sample_quality.py), and the features
must come from a network other than the one judged. There is no ImageNet Inception here (nothing can be
downloaded), so, as papers on MNIST do with a LeNet, vae trains a small classifier once on a labelled set:

    images (B, C, S, S) -> conv 3×3 (32) -> batch-norm -> ReLU -> max-pool 2
                        -> conv 3×3 (64) -> batch-norm -> ReLU -> max-pool 2
                        -> average-pool to 4×4 -> dense 128 -> ReLU  = the features (B, 128)  -> dense -> classes

Batch normalisation and batches of 32 because they are what brought it from 0.94 to 0.976 held-out accuracy on
MNIST in the same 10 epochs (4,000 training images, 1,000 held out; docs/family.md).

Its file (REF.pth, format "vae-reference") holds its configuration, weights and record; it is read as safely
as a model file. Distances are comparable only between sets scored with the same reference file.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vae.core import checkpoint
from vae.core.data import IMAGE_SIDE, PASS_BATCH, ImageSet, in_batches, scaled_batch
from vae.core.errors import InputError
from vae.core.sample_quality import frechet_distance, precision_recall
from vae.nn.layers import load_weights
from vae.nn.training import Phase, start_run, train_phase

FEATURES = 128
BATCH_SIZE = 32
LEARNING_RATE = 2e-3


@dataclass
class ReferenceConfig:
    channels: int = 1
    image_size: int = IMAGE_SIDE
    classes: int = 10
    class_names: tuple[str, ...] = ()


class ReferenceNet(nn.Module):
    def __init__(self, config: ReferenceConfig):
        super().__init__()
        self.config = config
        self.body = nn.Sequential(
            nn.Conv2d(config.channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(64 * 16, FEATURES), nn.ReLU(),
        )
        self.classifier = nn.Linear(FEATURES, config.classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, S, S) images in [0, 1] -> (B, classes) logits."""
        return self.classifier(self.body(images))


def train_reference(train_set: ImageSet, epochs: int, seed: int, device: str = "auto", quiet: bool = True):
    """A ReferenceNet trained on a labelled set (cross-entropy, Adam with cosine decay); the network in eval mode
    and its last epoch's training accuracy."""
    torch_device = start_run(seed, device)
    classes = train_set.classes()
    config = ReferenceConfig(train_set.channels, train_set.side, len(classes),
                             tuple(str(name) for name in train_set.label_names(classes)))
    network = ReferenceNet(config).to(torch_device)
    images = torch.from_numpy(train_set.images().reshape(-1, *train_set.tensor_shape())).to(torch_device)
    targets = torch.from_numpy(np.searchsorted(classes, train_set.labels)).to(torch_device)

    def step(indices):
        logits = network(images[indices])
        loss = F.cross_entropy(logits, targets[indices])
        accuracy = (logits.argmax(dim=1) == targets[indices]).float().mean()
        return {"loss": loss, "accuracy": accuracy}

    phase = Phase("reference", list(network.parameters()), step, epochs, BATCH_SIZE, LEARNING_RATE, ("accuracy",))
    history = train_phase(network, phase, len(images), seed, "reference", quiet)
    return network.eval().cpu(), history[-1].extra["accuracy"]


def save_reference(path: str, network: ReferenceNet, record: dict) -> None:
    checkpoint.save_model(path, network.config, network.state_dict(), record, mark=checkpoint.REFERENCE_FORMAT)


def load_reference(path: str, side: int | None = None, channels: int | None = None, judged: str = "") -> ReferenceNet:
    """REF.pth from ``vae.py reference``, in eval mode, read safely (vae.core.checkpoint); InputError when it does
    not take images of ``side`` and ``channels`` (those of the images it is to judge: ``judged`` says whose)."""
    network, state, _ = checkpoint.read_model(path, checkpoint.REFERENCE_FORMAT, "reference network",
                                              ReferenceConfig, ReferenceNet)
    load_weights(network, state, path)
    takes = (network.config.image_size, network.config.channels)
    if side is not None and takes != (side, channels):
        raise InputError(f"{path}: takes {takes[0]}×{takes[0]} images of {takes[1]} channel(s), but {judged} "
                         f"{side}×{side} of {channels}")
    return network.eval()


@torch.no_grad()
def features(network: ReferenceNet, images: np.ndarray) -> np.ndarray:
    """(N, FEATURES) features of (N, C·S·S) images in [0, 1], at the reference's own side and channels, a pass's
    worth at a time."""
    shape = (-1, network.config.channels, network.config.image_size, network.config.image_size)
    batch = scaled_batch(PASS_BATCH, shape[1] * shape[2] * shape[3])
    return in_batches(lambda rows: network.body(torch.from_numpy(np.ascontiguousarray(rows, np.float32)).view(shape))
                      .numpy(), images, batch)


def sample_scores(real: np.ndarray, generated: np.ndarray) -> dict[str, float]:
    """Fréchet distance and precision/recall of generated against real images, both as (N, FEATURES) features."""
    precision, recall = precision_recall(real, generated)
    return {"fd": frechet_distance(real, generated), "precision": precision, "recall": recall}


def record_of(train_set: ImageSet, epochs: int, seed: int, accuracy: float, seconds: float) -> dict:
    return {"train": train_set.path, "train_images": len(train_set), "epochs": epochs, "seed": seed,
            "train_accuracy": round(float(accuracy), 6), "fit_seconds": round(seconds, 3)}
