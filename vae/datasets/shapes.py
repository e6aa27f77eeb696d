"""A procedural dSprites-like set (Matthey et al. 2017): white shapes on black, one image for every combination of
shape, scale, orientation and position, with the factor table that made each (for disentanglement scores).

Each shape is drawn in a unit frame (u to the right, w up) where it fits inside the unit disk, so that no
rotation takes it out of its circle; a pixel is white when its coordinates, taken back through the shape's
position, size and rotation, satisfy the shape's implicit inequality.
"""

import os

import numpy as np

from vae.core.io import atomic_write, check_writable

FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
SHAPES = ("square", "ellipse", "heart")
RADIUS = 1 / 6  # a shape's circle at scale 1, as a fraction of the side (dSprites' largest shapes span about 1/3)
SMALLEST_SCALE = 0.5


def inside(shape: int, u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Whether unit-frame points (u, w) (two arrays of one shape) lie in shape number ``shape`` (0 square,
    1 ellipse, 2 heart): a boolean array of that shape."""
    if shape == 0:
        half = np.float32(np.sqrt(0.5))  # corners on the unit circle
        return (np.abs(u) <= half) & (np.abs(w) <= half)
    if shape == 1:
        return u * u + (w / 0.5) ** 2 <= 1
    # (x² + y² − 1)³ − x²y³ ≤ 0 spans x ±1.14, y −1..1.24: the circle of radius 1.25 around (0, 0.25) holds it
    x, y = 1.25 * u, 1.25 * w + 0.25
    ring = x * x + y * y - 1
    return ring * ring * ring <= x * x * y * y * y  # products: numpy's ** 3 is twenty times slower


def centres(positions: int, side: int) -> np.ndarray:
    """(positions,) pixel coordinates of the shape's centre, evenly from one edge to the other, leaving a black
    pixel between the largest shape's circle and the frame."""
    margin = RADIUS * side + 1
    return np.linspace(margin, side - 1 - margin, positions)


def factor_table(shapes: int, scales: int, orientations: int, positions: int) -> np.ndarray:
    """(N, 5) int64: every combination of the factors' indices, in row-major order of FACTOR_NAMES."""
    grids = np.meshgrid(*(np.arange(count) for count in (shapes, scales, orientations, positions, positions)),
                        indexing="ij")
    return np.stack([grid.ravel() for grid in grids], axis=1).astype(np.int64)


def shapes_set(shapes: int = 3, scales: int = 6, orientations: int = 40, positions: int = 32,
               side: int = 64) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """dSprites' factors drawn at ``side``×``side``: (data, factors, FACTOR_NAMES).

    data: (N, side, side) uint8, 0 or 255, N = shapes·scales·orientations·positions²; factors: (N, 5) int64, the
    index of each factor's value, row-major in (shape, scale, orientation, x, y) as dSprites. Shapes: the first
    ``shapes`` of square, ellipse, heart; scale: 0.5..1 of the largest size, evenly; orientation: ``orientations``
    even steps over [0, 2π), anticlockwise; x: left to right, y: top to bottom. The images are drawn a block of
    positions² at a time, so memory beyond the output stays a few float32 blocks (16 MB each by default).
    """
    if not 1 <= shapes <= len(SHAPES):
        raise ValueError(f"shapes must be from 1 to {len(SHAPES)}, not {shapes}")
    factors = factor_table(shapes, scales, orientations, positions)
    data = np.empty((len(factors), side, side), np.uint8)
    blocks = data.reshape(shapes, scales, orientations, positions, positions, side, side)
    pixels = np.arange(side, dtype=np.float32)
    offsets = pixels[None, :] - centres(positions, side).astype(np.float32)[:, None]  # (positions, side)
    for scale_index, scale in enumerate(np.linspace(1, SMALLEST_SCALE, scales)[::-1]):  # one scale: 1
        radius = np.float32(RADIUS * side * scale)  # float32: a float64 scalar would make every block float64
        # (x, 1, 1, col) and (1, y, row, 1) unit-frame offsets: w points up, against the rows
        across = (offsets / radius)[:, None, None, :]
        up = (-offsets / radius)[None, :, :, None]
        for orientation_index, angle in enumerate(np.arange(orientations) * 2 * np.pi / orientations):
            # turning the shape by +angle is turning the pixel grid by −angle under it
            cos, sin = np.float32(np.cos(angle)), np.float32(np.sin(angle))
            u, w = cos * across + sin * up, cos * up - sin * across  # (x, y, row, col)
            for shape in range(shapes):
                blocks[shape, scale_index, orientation_index] = inside(shape, u, w) * np.uint8(255)
    return data, factors, FACTOR_NAMES


def build_shapes(out: str, scales: int = 6, orientations: int = 40, positions: int = 32, side: int = 64) -> str:
    """Write all three shapes' set as OUT/shapes.npz (keys data, factors, factor_names: a str array, so that it
    loads without pickle); the path."""
    path = os.path.join(out, "shapes.npz")
    check_writable(path)  # before the half minute the full set takes
    data, factors, names = shapes_set(len(SHAPES), scales, orientations, positions, side)
    arrays = {"data": data, "factors": factors, "factor_names": np.array(names, dtype=str)}
    atomic_write(path, lambda handle: np.savez_compressed(handle, **arrays))
    return path
