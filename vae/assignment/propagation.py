"""Label propagation: VAL's few labels spread over a nearest-neighbour graph of the training images.

A thin 8 sits far from the 8s' class mean but near a slightly less thin 8, which sits near an
ordinary one: labels that walk from neighbour to neighbour follow such chains of shapes, which the
VAE's reconstruction loss alone does not separate from the 1s. Training then asks the encoder to put
each image in its propagated class's prior component (see training.py), so the latent, and with it
the mixture that classifies, learns those chains. Zhou et al., "Learning with local and global
consistency", NIPS 2004; the graph's kernel follows Zelnik-Manor and Perona, "Self-tuning spectral
clustering", NIPS 2004. numpy and scipy.sparse, with torch for the neighbour search.
"""

import math

import numpy as np
import torch
from scipy import sparse

UNREACHED = -1  # the propagated class of an image that no label reaches (a part of the graph without labels)


def propagate_image_labels(images: np.ndarray, labelled: np.ndarray, classes: np.ndarray,
                           class_count: int) -> np.ndarray:
    """propagate_labels on deskewed images: (N, side * side) and (M, side * side) in [0, 1], (M,) classes -> (N,).

    Deskewed, a slanted 1 and an upright one are neighbours (selection F1 over seeds 0-4: 0.9873
    against 0.9859 on the raw pixels, measured before the tied mixture; README).
    """
    side = math.isqrt(images.shape[1])

    def deskewed(flat):
        return deskew(flat.reshape(len(flat), side, side)).reshape(len(flat), -1)

    return propagate_labels(deskewed(images), deskewed(labelled), classes, class_count)


def deskew(images: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """(N, H, W) images, each sheared along its rows so that its ink's principal axis is upright; float32.

    Row r of an image moves sideways by shear * (r - the ink's centre row), shear being the ink's
    row-column covariance over its row variance; the pixels between are linearly interpolated.
    """
    chunks = (images[start:start + chunk].astype(np.float32) for start in range(0, len(images), chunk))
    return np.concatenate([_deskew(part) for part in chunks])


def _deskew(images: np.ndarray) -> np.ndarray:
    count, height, width = images.shape
    rows, cols = np.arange(height, dtype=np.float32), np.arange(width, dtype=np.float32)
    mass = images.sum(axis=(1, 2)) + 1e-6
    row_mass = images.sum(axis=2)  # (N, H)
    centre_row, centre_col = row_mass @ rows / mass, images.sum(axis=1) @ cols / mass
    from_centre = rows[None, :] - centre_row[:, None]  # (N, H)
    row_variance = np.einsum("nh,nh->n", row_mass, from_centre**2)
    covariance = np.einsum("nh,nh->n", from_centre, images @ cols - row_mass * centre_col[:, None])
    shear = covariance / np.maximum(row_variance, 1e-6)
    # Where each output pixel reads, in columns of the image padded with one blank column on the left
    # and two on the right; a read from further out reads blank.
    source = np.clip(cols[None, None, :] + 1 + (shear[:, None] * from_centre)[:, :, None], 0, width + 1)  # (N, H, W)
    left = np.floor(source)
    fraction = source - left
    padded = np.pad(images, ((0, 0), (0, 0), (1, 2))).ravel()
    flat = left.astype(np.intp) + (np.arange(count * height) * (width + 3)).reshape(count, height, 1)
    return (1 - fraction) * padded[flat] + fraction * padded[flat + 1]


def propagate_labels(images: np.ndarray, labelled: np.ndarray, classes: np.ndarray, class_count: int, *,
                     dims: int = 50, neighbours: int = 10, alpha: float = 0.99, iterations: int = 200) -> np.ndarray:
    """The class each image's neighbourhood leads to, from the labelled images' classes.

    images: (N, D) unlabelled; labelled: (M, D); classes: (M,) ints in 0..class_count-1.
    Returns (N,) ints: a class, or UNREACHED. Distances are taken in the first ``dims`` principal
    components of all N + M images; ``alpha`` is how far labels travel (0: not at all, towards 1:
    along the whole graph).
    """
    points = _principal_components(np.concatenate([labelled, images]).astype(np.float32), dims)
    count = len(points)
    neighbours = min(neighbours, count - 1)
    nearest, squared_distances = _nearest_neighbours(points, neighbours)
    # Self-tuning Gaussian weights: each point's scale is the distance to its farthest neighbour,
    # so that dense and sparse parts of the graph are linked alike.
    scale = np.sqrt(np.maximum(squared_distances[:, -1], 1e-12))
    weights = np.exp(-squared_distances / (scale[:, None] * scale[nearest]))
    rows = np.repeat(np.arange(count), neighbours)
    graph = sparse.csr_matrix((weights.ravel(), (rows, nearest.ravel())), shape=(count, count))
    graph = graph.maximum(graph.T)  # symmetric: a link when either point is among the other's neighbours
    inverse_sqrt_degree = sparse.diags(1 / np.sqrt(np.asarray(graph.sum(axis=1)).ravel()))
    spread = (inverse_sqrt_degree @ graph @ inverse_sqrt_degree).tocsr()

    seeds = np.zeros((count, class_count))
    seeds[np.arange(len(classes)), classes] = 1
    scores = seeds
    for _ in range(iterations):  # converges to (1 - alpha) (I - alpha * spread)^-1 seeds
        scores = alpha * (spread @ scores) + (1 - alpha) * seeds
    scores = scores[len(classes):]
    return np.where(scores.max(axis=1) > 0, scores.argmax(axis=1), UNREACHED)


def _principal_components(points: np.ndarray, dims: int) -> np.ndarray:
    """(N, D) -> (N, min(dims, D)): the centred points in the covariance's leading eigenvectors."""
    points = points - points.mean(axis=0)
    _, vectors = np.linalg.eigh(points.T @ points)  # ascending eigenvalues
    return points @ vectors[:, ::-1][:, :dims]


def _nearest_neighbours(points: np.ndarray, neighbours: int, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Each point's nearest others (itself excluded): indices and squared distances, each (N, neighbours),
    the distances ascending. Memory: chunk x N distances at a time.

    torch's topk rather than np.argpartition: it uses every core, and the whole propagation on the
    14,748-image file takes about 1.8 s instead of 2.4 to 3.5 s (train imports torch anyway).
    """
    points = torch.from_numpy(points)
    squared_norms = torch.einsum("ij,ij->i", points, points)
    nearest = np.empty((len(points), neighbours), dtype=np.int64)
    distances = np.empty((len(points), neighbours), dtype=np.float32)
    for start in range(0, len(points), chunk):
        block = points[start:start + chunk] @ points.T
        block.mul_(-2).add_(squared_norms)  # + the row's own squared norm, added below, leaves the order unchanged
        rows = torch.arange(len(block))
        block[rows, start + rows] = torch.inf
        found, index = torch.topk(block, neighbours, dim=1, largest=False, sorted=True)
        nearest[start:start + chunk] = index.numpy()
        distances[start:start + chunk] = (found + squared_norms[start:start + chunk, None]).clamp_min(0).numpy()
    return nearest, distances


def describe_propagation(propagated: np.ndarray, classes: np.ndarray) -> str:
    """One line: how many training images each class's labels reached; classes: (K,) the class names."""
    counts = np.bincount(propagated[propagated != UNREACHED], minlength=len(classes))
    reached = (f"{count} images of class {label}" for label, count in zip(classes, counts))
    text = "label propagation: " + ", ".join(reached)
    unreached = int(np.sum(propagated == UNREACHED))
    return text + (f", {unreached} unreached" if unreached else "")
