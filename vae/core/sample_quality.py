"""How good generated images are, in numbers: two sets of feature vectors compared (numpy, no torch).

    Fréchet distance   |μ_r - μ_g|² + Tr(Σ_r + Σ_g - 2 (Σ_r Σ_g)^½) between the Gaussians fitted to the two sets'
                       features (Heusel et al. 2017); 0 for identical statistics, larger is worse
    precision          the share of generated images inside the real images' manifold: within the distance of
                       some real image to its k-th nearest real neighbour (Kynkäänniemi et al. 2019); fidelity
    recall             the share of real images inside the generated images' manifold; diversity

The features come from a network other than the one judged (vae/family/reference.py). The numbers are
comparable between models scored with the same reference network and the same real set only: they are not
ImageNet-Inception FID, and no value here is comparable to a published FID.
"""

import numpy as np

NEAREST = 3  # k of the k-nearest-neighbour manifolds, as the paper's default
BLOCK = 2048  # rows of a distance matrix computed at a time, fewer when there are many points
BLOCK_ENTRIES = 2**24  # distances per block: 64 MB of float32, a few times that with the temporaries


def frechet_distance(real: np.ndarray, generated: np.ndarray) -> float:
    """The Fréchet distance between the Gaussians of (N, F) and (M, F) feature sets."""
    real, generated = np.asarray(real, np.float64), np.asarray(generated, np.float64)
    mean_gap = real.mean(axis=0) - generated.mean(axis=0)
    cov_real, cov_generated = np.cov(real, rowvar=False), np.cov(generated, rowvar=False)
    # Tr((Σ_r Σ_g)^½) = Σ √λ over the eigenvalues λ of the symmetric Σ_r^½ Σ_g Σ_r^½, which are those of Σ_r Σ_g
    root = _sqrt_psd(cov_real)
    eigenvalues = np.linalg.eigvalsh(root @ cov_generated @ root)
    trace_root = np.sqrt(np.clip(eigenvalues, 0, None)).sum()
    return float(mean_gap @ mean_gap + np.trace(cov_real) + np.trace(cov_generated) - 2 * trace_root)


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The symmetric square root of a positive semi-definite matrix (negative rounding noise clipped to 0)."""
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def precision_recall(real: np.ndarray, generated: np.ndarray, nearest: int = NEAREST) -> tuple[float, float]:
    """(precision, recall) of (M, F) generated features against (N, F) real ones, k-nearest-neighbour manifolds."""
    real, generated = np.asarray(real, np.float32), np.asarray(generated, np.float32)
    if min(len(real), len(generated)) <= nearest:
        raise ValueError(f"precision and recall need more than {nearest} images in each set")
    real_radii, generated_radii = _radii(real, nearest), _radii(generated, nearest)
    precision = _inside(generated, real, real_radii).mean()
    recall = _inside(real, generated, generated_radii).mean()
    return float(precision), float(recall)


def _radii(points: np.ndarray, nearest: int) -> np.ndarray:
    """Each point's squared distance to its ``nearest``-th nearest other point; (N,)."""
    radii = np.empty(len(points), np.float32)
    for start, block in _squared_distances(points, points):
        rows = np.arange(len(block))
        block[rows, start + rows] = np.inf  # not itself
        radii[start:start + len(block)] = np.partition(block, nearest - 1, axis=1)[:, nearest - 1]
    return radii


def _inside(queries: np.ndarray, points: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Whether each query lies within some point's radius (its k-NN ball); (Q,) bool."""
    inside = np.empty(len(queries), bool)
    for start, block in _squared_distances(queries, points):
        inside[start:start + len(block)] = np.any(block <= radii[None, :], axis=1)
    return inside


def _squared_distances(queries: np.ndarray, points: np.ndarray):
    """(first row, (B, P) squared distances) of consecutive blocks of queries against every point."""
    squared_points = np.einsum("ij,ij->i", points, points)
    rows = max(1, min(BLOCK, BLOCK_ENTRIES // max(1, len(points))))
    for start in range(0, len(queries), rows):
        block = queries[start:start + rows]
        squared = np.einsum("ij,ij->i", block, block)[:, None] - 2 * block @ points.T + squared_points[None, :]
        yield start, np.maximum(squared, 0, out=squared)
