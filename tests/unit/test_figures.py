"""What the figures show: full grids of samples, categories not joined by lines, titles that say what is drawn."""

import numpy as np
import pytest

from vae.assignment.figures import mixture_ellipses
from vae.core.plots import image_grid, reconstructions
from vae.family.figures import metrics_against
from vae.family.sweep import cell_name


@pytest.mark.parametrize("count, rows, columns", [(64, 8, 8), (100, 10, 10), (30, 5, 6), (7, 3, 3)])
def test_a_grid_of_samples_is_as_square_as_their_count_allows(count, rows, columns):
    shown = image_grid(np.ones((count, 28, 28), np.float32), "samples").axes[0].images[0].get_array()
    assert shown.shape == (rows * 28, columns * 28)
    assert (shown == 0).sum() == (rows * columns - count) * 28 * 28  # blank tiles are the digits' black ground


def test_categories_are_points_apart_and_a_lone_knob_needs_no_legend():
    cells = [{"model": "ae"}, {"model": "vae"}]
    means = {cell_name(cell): {"ssim": (0.7, 0.01)} for cell in cells}
    figure = metrics_against("model", cells, means, ["ssim"], cell_name)
    assert figure.axes[0].containers[0].lines[0].get_linestyle() == "None"
    assert figure.axes[0].get_legend() is None
    numbers = [{"beta": 1.0, "model": "vae"}, {"beta": 5.0, "model": "vae"}]
    means = {cell_name(cell): {"ssim": (0.7, 0.01)} for cell in numbers}
    figure = metrics_against("beta", numbers, means, ["ssim"], cell_name)
    assert figure.axes[0].containers[0].lines[0].get_linestyle() == "-"
    assert [text.get_text() for text in figure.axes[0].get_legend().get_texts()] == ["model=vae"]


def test_the_reconstructions_figure_can_say_whose_images_it_shows():
    images = np.zeros((3, 28, 28), np.float32)
    titled = reconstructions(images, images, title="the first training images and their reconstructions")
    assert titled.get_suptitle() == "the first training images and their reconstructions"
    assert reconstructions(images, images).get_suptitle() == ""


def test_the_mixtures_labels_stand_in_boxes_beside_their_means():
    latent = np.random.default_rng(0).normal(size=(30, 2))
    figure = mixture_ellipses(latent, np.zeros(30, int), np.array([0]), np.array([1.0]), np.zeros((1, 2)),
                              np.eye(2)[None], np.array([0]))
    label = next(text for text in figure.axes[0].texts if text.get_text().startswith("0 (w="))
    assert label.get_bbox_patch() is not None and label.xyann == (12, 12)
