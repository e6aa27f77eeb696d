"""The typical public solution of the assignment, reimplemented for bench/assignment.py to measure beside ours."""

import os
import time

import numpy as np
import torch
from scipy.stats import multivariate_normal

from vae.assignment.config import ModelConfig
from vae.assignment.inference import Network
from vae.assignment.model import VAE
from vae.core.data import load_image_set
from vae.core.metrics import classification_scores, reconstruction_scores
from vae.nn.losses import kl_divergence, pixel_loss


def public_solution(split_dir: str, epochs: int = 50) -> dict:
    """What most public solutions do: a 784-512-256-2 MLP VAE (beta 1, BCE, Adam 1e-3, batch 128, no
    schedule) and EM written as a Python loop over samples with scipy's multivariate_normal, three
    components seeded from VAL's class means."""
    train = load_image_set(os.path.join(split_dir, "train.npz"), labels="ignored").images()
    val = load_image_set(os.path.join(split_dir, "val.npz"), labels="required")
    test = load_image_set(os.path.join(split_dir, "test.npz"), labels="required")
    torch.manual_seed(0)
    config = ModelConfig(hidden=(512, 256), decoder_hidden=(256, 512))
    model = VAE(config)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.from_numpy(train)
    start = time.perf_counter()
    for _ in range(epochs):
        for indices in torch.randperm(len(data)).split(128):
            batch = data[indices]
            logits, mu, logvar, latent = model(batch)
            loss = pixel_loss(batch, logits, "bce") + kl_divergence(mu, logvar, latent, None)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    train_seconds = time.perf_counter() - start
    model.eval()
    network = Network.from_state(config, {k: v.detach().numpy() for k, v in model.state_dict().items()})
    points = network.encode(train).astype(np.float64)
    classes = val.classes()
    val_points = network.encode(val.images())
    means = np.array([val_points[val.labels == c].mean(axis=0) for c in classes])
    covariances = np.array([np.cov(points, rowvar=False)] * len(classes))
    mixture_weights = np.full(len(classes), 1 / len(classes))
    start = time.perf_counter()
    previous = -np.inf
    for _ in range(100):
        joint = np.zeros((len(points), len(classes)))
        for n in range(len(points)):
            for k in range(len(classes)):
                joint[n, k] = mixture_weights[k] * multivariate_normal.pdf(points[n], means[k], covariances[k])
        likelihood = np.log(joint.sum(axis=1)).mean()
        resp = joint / joint.sum(axis=1, keepdims=True)
        totals = resp.sum(axis=0)
        mixture_weights = totals / len(points)
        means = resp.T @ points / totals[:, None]
        covariances = np.array([(resp[:, k, None] * (points - means[k])).T @ (points - means[k]) / totals[k]
                                + 1e-6 * np.eye(2) for k in range(len(classes))])
        if abs(likelihood - previous) < 1e-3:
            break
        previous = likelihood
    em_seconds = time.perf_counter() - start
    test_points = network.encode(test.images())
    joint = np.stack([mixture_weights[k] * multivariate_normal.pdf(test_points, means[k],
                                                                   covariances[k]) for k in range(len(classes))],
                                                                   axis=1)
    predicted = classes[joint.argmax(axis=1)]
    decoded = network.decode(test_points).reshape(-1, 28, 28)
    recon = reconstruction_scores(test.images().reshape(-1, 28, 28), decoded)
    return {"train": train_seconds, "em": em_seconds, "f1": classification_scores(test.labels, predicted)["f1_average"],
            "ssim": recon["ssim"], "score": recon["score"]}
