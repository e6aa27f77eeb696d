import numpy as np
import pytest

from vae.core import arrays
from vae.core.data import load_image_set, to_unit_float
from vae.core.errors import InputError

from helpers import shapes, write_npz

IMAGES, LABELS = shapes(12)
EXPECTED = IMAGES.reshape(12, 784).astype(np.float32) / 255


@pytest.mark.parametrize(
    "data",
    [
        IMAGES,  # N×28×28 uint8
        IMAGES.reshape(12, 784),  # N×784
        IMAGES.reshape(12, 1, 28, 28),  # N×1×28×28
        IMAGES.astype(np.int64),  # other integer types, read as 0..255
        IMAGES.astype(np.uint16),
        IMAGES.astype(np.float64) / 255,  # floats already in [0, 1]
        (IMAGES.astype(np.float32) / 255).reshape(12, 1, 28, 28),
    ],
    ids=["uint8", "flat", "channel", "int64", "uint16", "float64", "float32-channel"],
)
def test_every_accepted_shape_and_dtype_normalises_alike(tmp_path, data):
    image_set = load_image_set(write_npz(tmp_path / "x.npz", data))
    assert image_set.stored_shape == data.shape
    images = image_set.images()
    assert images.dtype == np.float32 and images.shape == (12, 784)
    np.testing.assert_allclose(images, EXPECTED, atol=1e-6)
    np.testing.assert_allclose(np.concatenate(list(image_set.batches(5))), EXPECTED, atol=1e-6)


def test_bool_images_are_zero_or_one(tmp_path):
    image_set = load_image_set(write_npz(tmp_path / "b.npz", IMAGES > 127))
    assert set(np.unique(image_set.images())) <= {0.0, 1.0}


def test_to_unit_float_is_the_one_scaling_rule():
    assert to_unit_float(np.array([0, 255], np.uint8)).tolist() == [0.0, 1.0]
    assert to_unit_float(np.array([0.25], np.float64)).dtype == np.float32


def test_labels_are_read_checked_and_may_be_ignored(tmp_path):
    path = write_npz(tmp_path / "l.npz", IMAGES, LABELS.astype(np.float64))
    assert load_image_set(path).labels.dtype == np.int64
    assert load_image_set(path).labels.tolist() == LABELS.tolist()
    assert load_image_set(path, labels="ignored").labels is None
    assert load_image_set(write_npz(tmp_path / "col.npz", IMAGES, LABELS[:, None])).labels.shape == (12,)


def test_required_labels_missing_is_an_error(tmp_path):
    with pytest.raises(InputError, match="no 'labels'"):
        load_image_set(write_npz(tmp_path / "u.npz", IMAGES), labels="required")


@pytest.mark.parametrize(
    "data, message",
    [
        (np.zeros((3, 27, 27), np.uint8), "shape 3×27×27"),
        (np.zeros((0, 28, 28), np.uint8), "no images"),
        (np.full((2, 28, 28), 1.5), r"\[0, 1\]"),
        (np.full((2, 28, 28), np.nan), "NaN"),
        (np.full((2, 28, 28), -3, np.int32), "0..255"),
        (np.zeros((2, 28, 28), np.complex64), "dtype complex64"),
    ],
)
def test_bad_images_name_the_file_and_the_problem(tmp_path, data, message):
    path = write_npz(tmp_path / "bad.npz", data)
    with pytest.raises(InputError, match=message) as error:
        load_image_set(path)
    assert str(path) in str(error.value)


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
def test_rgb_images_are_read_channel_first_and_written_back_in_their_own_layout(tmp_path, layout):
    rgb = np.stack([IMAGES, IMAGES // 2, 255 - IMAGES], axis=1)  # (12, 3, 28, 28)
    data = rgb if layout == "channels_first" else rgb.transpose(0, 2, 3, 1)
    image_set = load_image_set(write_npz(tmp_path / "rgb.npz", data), rgb=True)
    assert image_set.channels == 3 and image_set.tensor_shape() == (3, 28, 28)
    np.testing.assert_allclose(image_set.images(), rgb.reshape(12, -1).astype(np.float32) / 255, atol=1e-6)
    np.testing.assert_array_equal(image_set.restore(image_set.pixels), data)


def test_grey_images_keep_one_channel_when_rgb_is_allowed(tmp_path):
    image_set = load_image_set(write_npz(tmp_path / "x.npz", IMAGES), rgb=True)
    assert image_set.channels == 1 and image_set.restore(image_set.images()).shape == (12, 28, 28)


def test_the_assignment_path_still_refuses_rgb(tmp_path):
    with pytest.raises(InputError, match="12×3×28×28; expected N×28×28, N×784 or N×1×28×28$"):
        load_image_set(write_npz(tmp_path / "rgb.npz", np.stack([IMAGES] * 3, axis=1)))


def test_npy_files_and_folders_are_memory_mapped_and_read_like_npz(tmp_path):
    images, labels = shapes(50, seed=4)
    reference = load_image_set(write_npz(tmp_path / "set.npz", images, labels))
    np.save(tmp_path / "images.npy", images)
    (tmp_path / "folder").mkdir()
    np.save(tmp_path / "folder" / "data.npy", images)
    np.save(tmp_path / "folder" / "labels.npy", labels)
    for path, expected_labels in ((tmp_path / "images.npy", None), (tmp_path / "folder", labels)):
        mapped = load_image_set(str(path))
        assert isinstance(mapped.pixels, np.memmap)
        np.testing.assert_array_equal(np.concatenate(list(mapped.batches(16))), reference.images())
        if expected_labels is None:
            assert mapped.labels is None
        else:
            np.testing.assert_array_equal(mapped.labels, expected_labels)
    assert load_image_set(str(tmp_path / "folder"), labels="ignored").labels is None


def test_a_bad_pixel_is_found_in_any_chunk_of_a_mapped_file(tmp_path, monkeypatch):
    monkeypatch.setattr(arrays, "CHUNK", 7)
    images = shapes(50, seed=4)[0].astype(np.float32) / 255
    images[45, 3, 3] = np.nan  # in the seventh chunk
    np.save(tmp_path / "images.npy", images)
    with pytest.raises(InputError, match="NaN"):
        load_image_set(str(tmp_path / "images.npy"))
