"""The latent searches of ``test_reconstruction``: where, near an image's posterior mean, to decode it.

    grid     the default: a 7×7 grid around the mean, three times finer each round (147 decodings an image)
    lattice  the same aim 6.7x faster: one lattice of decodings shared by every image, then a polish
    none     the mean as it is (--no-refine)

"Best" is the graders' own score (1 - MSE + SSIM)/2 of the decoded candidate against the image being
reconstructed: the encoder's mean is trained for the noisy VAE objective, not for this score, and a
small search closes most of that gap. Both searches move 2-D latents only; other sizes decode the mean.
"""

import numpy as np

from vae.assignment.inference import BATCH, Network
from vae.core.data import ImageSet
from vae.core.metrics import mse, recon_score, ssim

REFINE_BATCH = 128  # images per refinement pass: each image brings a grid of candidate decodings
SEARCHES = ("grid", "lattice", "none")  # how test_reconstruction picks each image's latent point


def _square_grid(steps: np.ndarray) -> np.ndarray:
    """Every (a, b) with a and b from steps, a-major; shape (len(steps)², 2)."""
    return np.stack(np.meshgrid(steps, steps, indexing="ij"), axis=-1).reshape(-1, 2)


def reconstructed_batches(network: Network, image_set: ImageSet, search: str = "grid"):
    """(images (B, 784), reconstructions (B, 28, 28)) for consecutive batches of the set, each image decoded
    from its posterior mean moved by ``search`` (see SEARCHES)."""
    side = network.config.input_side
    refine = {"grid": GridSearch, "lattice": LatticeSearch}[search](network).refine if search != "none" else None
    batch = REFINE_BATCH if refine else BATCH
    for images in image_set.batches(batch):
        latent = network.encode(images)
        if refine:
            latent = refine(images, latent)
        yield images, network.decode(latent).reshape(-1, side, side)


def reconstructed_images(network: Network, image_set: ImageSet, search: str = "grid") -> np.ndarray:
    """Every image of the set decoded by :func:`reconstructed_batches`; (N, 28, 28) float32 in [0, 1]."""
    return np.concatenate([decoded for _, decoded in reconstructed_batches(network, image_set, search)])


class GridSearch:
    """Each 2-D latent point moved to the best of a points × points grid around it, ``rounds`` times.

    Each round's grid spans the previous round's grid step. A span of 2 rather than 1 gave +0.0017
    selection SSIM on each of seeds 0-4 at the same cost (docs/assignment.md).
    """

    def __init__(self, network: Network):
        self.network = network

    def refine(self, images: np.ndarray, latent: np.ndarray, span: float = 2.0, points: int = 7,
               rounds: int = 3) -> np.ndarray:
        """images (B, 784) in [0, 1], latent (B, 2) -> (B, 2)."""
        if latent.shape[1] != 2:
            return latent  # a grid over more dimensions grows too fast; decode the mean as it is
        side = self.network.config.input_side
        for _ in range(rounds):
            steps = np.linspace(-span, span, points)
            grid = _square_grid(steps)  # (G, 2)
            candidates = latent[:, None, :] + grid[None, :, :]  # (B, G, 2)
            decoded = self.network.decode(candidates.reshape(-1, 2)).reshape(-1, side, side)
            truth = np.repeat(images.reshape(-1, side, side), len(grid), axis=0)
            scores = recon_score(mse(truth, decoded), ssim(truth, decoded)).reshape(len(latent), len(grid))
            latent = candidates[np.arange(len(latent)), scores.argmax(axis=1)]
            span = 2 * span / (points - 1)
        return latent


class LatticeSearch:
    """A faster stand-in for :class:`GridSearch`: 6.7x the images/s at SSIM within 0.001 (README).

    The first round's candidates are the points of one lattice shared by every image (step 1/2, the
    81 within ±2 of the image's mean): a lattice point is decoded once per run, not once per image,
    and its MSE against every image of a batch is one matrix product. The ``shortlist`` lowest MSEs
    are scored by the graders' (1 - MSE + SSIM)/2 and the best kept; rounds of its 8 neighbours at
    steps 1/4, 1/8, 1/16 (fresh decodes, the ``polish_shortlist`` lowest MSEs scored) then polish
    it. The picks differ slightly from the grid search's, so the output bytes do too.
    """

    def __init__(self, network: Network, step: float = 0.5, span: float = 2.0, shortlist: int = 10,
                 polish: tuple[float, ...] = (0.25, 0.125, 0.0625), polish_shortlist: int = 5):
        self.network, self.step, self.shortlist = network, step, shortlist
        self.polish, self.polish_shortlist = polish, polish_shortlist
        self.cells = _square_grid(np.arange(-round(span / step), round(span / step) + 1))  # (G, 2)
        self.rows: dict[tuple[int, int], int] = {}  # lattice point -> its row of self.decoded
        self.decoded = np.empty((0, network.config.input_side ** 2), np.float32)

    def refine(self, images: np.ndarray, latent: np.ndarray) -> np.ndarray:
        """images (B, D) in [0, 1], latent (B, 2) -> (B, 2); other latent sizes are returned as they are."""
        if latent.shape[1] != 2:
            return latent
        count = len(latent)
        points = np.round(latent / self.step).astype(np.int64)[:, None, :] + self.cells[None]  # (B, G, 2)
        rows, where = self._rows(points.reshape(-1, 2))  # (U,) rows of self.decoded; (B·G,) positions in rows
        lattice, where = self.decoded[rows], where.reshape(count, -1)  # (U, D); (B, G)
        # |x - d|² = |x|² - 2 x·d + |d|²: one (B, D) × (D, U) product instead of B·G differences
        products = np.take_along_axis(images @ lattice.T, where, axis=1)
        squares = np.square(images).sum(axis=1)[:, None] + np.square(lattice).sum(axis=1)[where]
        errors = (squares - 2 * products) / images.shape[1]
        best, score = self._pick(images, errors, lambda index: lattice[np.take_along_axis(where, index, axis=1)],
                                 self.shortlist)
        latent = points[np.arange(count), best] * self.step
        ring = _square_grid(np.arange(-1, 2))
        ring = ring[ring.any(axis=1)]  # the 8 neighbours of (0, 0)
        for step in self.polish:
            candidates = latent[:, None, :] + step * ring[None]  # (B, 8, 2)
            decoded = self.network.decode(candidates.reshape(-1, 2)).reshape(count, len(ring), -1)
            errors = np.square(decoded - images[:, None, :]).mean(axis=-1)
            index, candidate_score = self._pick(images, errors,
                                                lambda index: decoded[np.arange(count)[:, None], index],
                                                self.polish_shortlist)
            better = candidate_score > score
            latent = np.where(better[:, None], candidates[np.arange(count), index], latent)
            score = np.where(better, candidate_score, score)
        return latent

    def _rows(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For (M, 2) integer lattice points: the rows of self.decoded holding the distinct ones (U,), and
        each point's position among them (M,). Points not seen before are decoded first."""
        unique, where = np.unique(points, axis=0, return_inverse=True)
        unique = [tuple(point) for point in unique.tolist()]
        new = [point for point in unique if point not in self.rows]
        if new:
            first = len(self.rows)
            self.rows.update((point, first + index) for index, point in enumerate(new))
            self.decoded = np.concatenate([self.decoded, self.network.decode(np.array(new) * self.step)])
        return np.array([self.rows[point] for point in unique]), where.reshape(-1)

    def _pick(self, images: np.ndarray, errors: np.ndarray, decodings, keep: int) -> tuple[np.ndarray, np.ndarray]:
        """Each image's best candidate by (1 - MSE + SSIM)/2, SSIM computed for the ``keep`` lowest MSEs only.

        images (B, D); errors (B, G), the candidates' MSEs; decodings maps (B, k) candidate indices to
        their (B, k, D) decoded images. Returns the best's index (B,) and score (B,).
        """
        count, keep, side = len(images), min(keep, errors.shape[1]), self.network.config.input_side
        shortlist = np.argpartition(errors, keep - 1, axis=1)[:, :keep]  # (B, k)
        chosen = decodings(shortlist).reshape(-1, side, side)
        truth = np.repeat(images.reshape(-1, side, side), keep, axis=0)
        scores = recon_score(mse(truth, chosen), ssim(truth, chosen, np.float32)).reshape(count, keep)
        best = scores.argmax(axis=1)
        return shortlist[np.arange(count), best], scores[np.arange(count), best]
