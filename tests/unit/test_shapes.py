import itertools

import numpy as np
import pytest

from vae.datasets.__main__ import main
from vae.datasets.shapes import FACTOR_NAMES, shapes_set

COUNTS = (3, 3, 8, 5)  # shapes, scales, orientations, positions: 1,800 images
SIDE = 32


@pytest.fixture(scope="module")
def small_set():
    data, factors, names = shapes_set(*COUNTS, side=SIDE)
    shape, scales, orientations, positions = COUNTS
    return data.reshape(shape, scales, orientations, positions, positions, SIDE, SIDE), factors, names


def centroid(mask: np.ndarray) -> tuple[float, float]:
    """(row, column) centre of a (side, side) image's white pixels."""
    rows, columns = np.nonzero(mask)
    return rows.mean(), columns.mean()


def test_every_combination_once_in_dsprites_order(small_set):
    data, factors, names = small_set
    shapes, scales, orientations, positions = COUNTS
    assert names == FACTOR_NAMES == ("shape", "scale", "orientation", "x", "y")
    expected = itertools.product(*map(range, (shapes, scales, orientations, positions, positions)))
    assert factors.tolist() == [list(row) for row in expected]
    assert factors.dtype == np.int64 and data.size == len(factors) * SIDE * SIDE


def test_images_are_binary_uint8_inside_a_black_frame(small_set):
    data = small_set[0].reshape(-1, SIDE, SIDE)
    assert data.dtype == np.uint8 and set(np.unique(data)) == {0, 255}
    assert (data.reshape(len(data), -1) > 0).any(axis=1).all()  # every image shows its shape
    for edge in (data[:, 0], data[:, -1], data[:, :, 0], data[:, :, -1]):
        assert not edge.any()


def test_the_centre_moves_right_with_x_and_down_with_y(small_set):
    data = small_set[0]
    for shape, scale, orientation in itertools.product(*map(range, COUNTS[:3])):
        block = data[shape, scale, orientation]
        across = [centroid(block[x, 2])[1] for x in range(COUNTS[3])]
        down = [centroid(block[2, y])[0] for y in range(COUNTS[3])]
        assert np.all(np.diff(across) > 2) and np.all(np.diff(down) > 2)


def test_the_white_area_grows_with_scale_fourfold_from_half_size(small_set):
    areas = (small_set[0] > 0).sum(axis=(-2, -1))  # (shape, scale, orientation, x, y)
    assert np.all(np.diff(areas, axis=1) > 0)
    growth = areas[:, -1].sum(axis=(1, 2, 3)) / areas[:, 0].sum(axis=(1, 2, 3))
    assert np.all(np.abs(growth - 4) < 0.3), growth  # twice the size


def test_turning_the_square_moves_pixels_but_keeps_its_area(small_set):
    square = small_set[0][0, -1, :, 2, 2] > 0  # the largest, in the middle, at 0°, 45°, 90° ...
    assert (square[0] != square[1]).sum() > 10
    assert abs(square[1].sum() - square[0].sum()) < 0.1 * square[0].sum()


def test_the_three_shapes_differ(small_set):
    masks = small_set[0][:, -1, 1, 2, 2]
    for first, second in itertools.combinations(range(3), 2):
        assert (masks[first] != masks[second]).sum() > 10
    ellipse = small_set[0][1, -1, 0, 2, 2] > 0
    assert ellipse.any(axis=0).sum() > 1.6 * ellipse.any(axis=1).sum()  # lying, twice as wide as high


def test_orientations_turn_anticlockwise_in_quarter_steps_short_of_a_full_turn():
    data, factors, _ = shapes_set(shapes=3, scales=1, orientations=4, positions=3, side=64)
    centred = data.reshape(3, 4, 3, 3, 64, 64)[:, :, 1, 1]  # the middle position, 31.5: the grid's own centre
    for shape in range(3):
        for quarter in range(4):
            assert np.array_equal(centred[shape, quarter], np.rot90(centred[shape, 0], quarter))
    assert (centred[2, 2] != centred[2, 0]).sum() > 40  # half a turn shows the heart upside down


def test_fewer_shapes_are_the_first_ones_and_the_set_is_deterministic(small_set):
    data, factors, _ = shapes_set(2, 1, 2, 2, side=SIDE)
    assert factors[:, 0].max() == 1
    full = small_set[0]
    again = shapes_set(*COUNTS, side=SIDE)[0]
    assert np.array_equal(again, full.reshape(again.shape))
    first_two = shapes_set(2, *COUNTS[1:], side=SIDE)[0]
    assert np.array_equal(first_two, full[:2].reshape(first_two.shape))


def test_the_command_writes_an_npz_that_loads_without_pickle(tmp_path, capsys):
    assert main(["shapes", "--out", str(tmp_path), "--scales", "2", "--orientations", "3", "--positions", "2",
                 "--image-size", "16"]) == 0
    path = tmp_path / "shapes.npz"
    assert capsys.readouterr().out.strip() == str(path)
    with np.load(path, allow_pickle=False) as stored:
        assert stored["factor_names"].tolist() == list(FACTOR_NAMES)
        data, factors, _ = shapes_set(3, 2, 3, 2, side=16)
        assert np.array_equal(stored["data"], data) and np.array_equal(stored["factors"], factors)


@pytest.mark.parametrize("option, value", [("--positions", "1"), ("--scales", "0"), ("--orientations", "x")])
def test_the_command_refuses_bad_counts_in_one_line(tmp_path, capsys, option, value):
    assert main(["shapes", "--out", str(tmp_path), option, value]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and option in error[0] and not any(tmp_path.iterdir())
