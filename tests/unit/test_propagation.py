"""Label propagation: labels follow the data's neighbourhoods, and say so when they cannot reach."""

import numpy as np
import torch

from vae.assignment.model import prior_means, propagation_loss
from vae.assignment.propagation import UNREACHED, describe_propagation, deskew, propagate_labels


def rings(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(2 * count, 2) points on two noisy concentric rings (radius 1 and 3), and their ring (0 or 1)."""
    rng = np.random.default_rng(seed)
    angles = rng.uniform(0, 2 * np.pi, 2 * count)
    ring = np.repeat([0, 1], count)
    radius = np.where(ring == 0, 1.0, 3.0) + rng.normal(0, 0.05, 2 * count)
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1), ring


def test_labels_follow_the_rings_where_the_nearest_label_does_not():
    points, ring = rings(300)
    labelled, classes = np.array([[1.0, 0.0], [3.0, 0.0]]), np.array([0, 1])
    propagated = propagate_labels(points, labelled, classes, 2, dims=2, neighbours=8)
    assert np.mean(propagated == ring) >= 0.99
    nearest_label = np.argmin(np.linalg.norm(points[:, None] - labelled[None], axis=2), axis=1)
    assert np.mean(nearest_label == ring) < 0.8  # the test is one that distance to the labels fails


def test_a_part_of_the_graph_without_labels_is_unreached():
    rng = np.random.default_rng(1)
    near, far = rng.normal(0, 1, (30, 5)), rng.normal(100, 1, (30, 5))
    propagated = propagate_labels(np.concatenate([near, far]), near[:2] + 0.01, np.array([0, 1]), 2, neighbours=5)
    assert np.all(propagated[:30] != UNREACHED) and np.all(propagated[30:] == UNREACHED)
    assert describe_propagation(propagated, np.array([4, 8])).endswith(", 30 unreached")


def test_same_inputs_same_labels_and_few_images_are_fine():
    points, _ = rings(40, seed=2)
    labelled, classes = points[:3], np.array([0, 1, 2])
    first = propagate_labels(points, labelled, classes, 3)
    assert np.array_equal(first, propagate_labels(points, labelled, classes, 3))
    assert propagate_labels(points[:4], labelled, classes, 3).shape == (4,)  # fewer images than neighbours


def test_propagation_loss_favours_each_class_component_and_ignores_the_unreached():
    means = prior_means(3, 2, 4.0)
    classes = torch.tensor([0, 1, 2])
    assert propagation_loss(means, means, classes) < propagation_loss(means.roll(1, 0), means, classes)
    unreached = torch.full((3,), UNREACHED)
    assert propagation_loss(means, means, unreached).item() == 0.0


def test_deskew_stands_a_slanted_bar_upright():
    rows, cols = np.mgrid[0:28, 0:28]
    # leans right by half a column per row
    slanted = (np.abs(cols - 14 - 0.5 * (rows - 14)) < 1.5) & (np.abs(rows - 14) < 10)
    upright = deskew(slanted[None].astype(np.float32))[0]

    def column_spread(image):
        weights = image.sum(axis=0)
        centre = weights @ np.arange(28) / weights.sum()
        return np.sqrt(weights @ (np.arange(28) - centre) ** 2 / weights.sum())

    assert column_spread(upright) < 0.5 * column_spread(slanted.astype(np.float32))
    assert abs(upright.sum() - slanted.sum()) < 0.05 * slanted.sum()  # ink is moved, not lost
