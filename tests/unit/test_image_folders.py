"""Folders of image files, in-process: which files count, in which order, at which side and channels."""

import numpy as np
import pytest
from PIL import Image

from vae.core.data import Reading, load_image_set
from vae.core.errors import InputError
from vae.core.folders import list_images
from vae.core.image_file import decode, read_header
from vae.core.io import picture_names
from vae.datasets.folders import pack_folder, write_image_folder

from helpers import shapes


def save(path, array, mode=None, **options):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path, **options)
    return path


def test_class_folders_give_sorted_files_labels_and_names_and_skip_the_rest(tmp_path):
    images, _ = shapes(6)
    for name in ("b/2.png", "b/1.jpg", "a/x/3.bmp", "a/0.tif", "a-b/5.png"):
        save(tmp_path / name, images[0])
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    save(tmp_path / "a" / ".hidden.png", images[1])
    save(tmp_path / ".cache" / "c.png", images[1])
    listing = list_images(str(tmp_path))
    assert listing.files == ["a-b/5.png", "a/0.tif", "a/x/3.bmp", "b/1.jpg", "b/2.png"]  # sorted relative paths
    assert listing.classes == ("a", "a-b", "b") and listing.labels.tolist() == [1, 0, 0, 2, 2]


def test_a_folder_reads_like_the_arrays_it_holds_and_keeps_names_and_files(tmp_path):
    images, labels = shapes(12, seed=3)
    for index, (image, label) in enumerate(zip(images, labels)):
        save(tmp_path / "set" / f"c{label}" / f"{index:02d}.png", image)
    image_set = load_image_set(str(tmp_path / "set"), labels="required", rgb=True)
    order = np.argsort([f"c{label}/{index:02d}.png" for index, label in enumerate(labels)])
    np.testing.assert_array_equal(image_set.pixels, images[order].reshape(12, -1))
    assert image_set.class_names == ("c3", "c5", "c7") and image_set.side == 28 and image_set.channels == 1
    assert image_set.label_names().tolist() == [f"c{label}" for label in labels[order]]
    assert image_set.files[0] == "c3/00.png" and image_set.mapped()


def test_sizes_and_channels_come_from_the_images_or_from_reading(tmp_path):
    images, _ = shapes(4)
    for index, image in enumerate(images):
        big = np.asarray(Image.fromarray(image).resize((56, 56)))
        save(tmp_path / "rgb" / f"{index}.png", np.stack([big, big // 2, big], axis=-1))
    found = load_image_set(str(tmp_path / "rgb"), rgb=True)
    assert (found.side, found.channels, found.stored_shape) == (56, 3, (4, 3, 56, 56))
    small = load_image_set(str(tmp_path / "rgb"), rgb=True, reading=Reading(side=28, channels=3))
    assert small.tensor_shape() == (3, 28, 28)
    with pytest.raises(InputError, match="a colour image, but grey"):  # a grey model's test images
        load_image_set(str(tmp_path / "rgb"), rgb=True, reading=Reading(side=28, channels=1))
    grey = load_image_set(str(tmp_path / "rgb"), rgb=True, reading=Reading(28, 1, colour_to_grey=True))  # fit asks
    assert grey.tensor_shape() == (1, 28, 28)
    said = []
    near = np.asarray(Image.fromarray(images[0]).resize((48, 48)))
    save(tmp_path / "rgb" / "near.png", np.stack([near, near, near // 2], axis=-1))
    mixed = load_image_set(str(tmp_path / "rgb"), rgb=True, say=said.append)
    assert mixed.side == 56 and len(mixed) == 5  # the commonest side; the 48×48 image enlarged a little
    assert said == [f"{tmp_path / 'rgb'}: its images have 2 sizes; reading all at the commonest, 56×56 (4 of 5 "
                    "images), as --image-size 56 would"]
    save(tmp_path / "rgb" / "odd.png", images[0])  # grey, and 28×28: half the side
    with pytest.raises(InputError, match=r"rgb: 1 of its 6 images are stored as grey and the rest are not \(the first: "
                                         r"odd.png\); give --channels 1"):
        load_image_set(str(tmp_path / "rgb"), rgb=True)
    with pytest.raises(InputError, match=r"1 of its 6 images are at most half the side 56 .* \(the first: odd.png, "
                                         r"28×28\); remove them, or give --image-size"):
        load_image_set(str(tmp_path / "rgb"), rgb=True, reading=Reading(channels=3))
    assert load_image_set(str(tmp_path / "rgb"), rgb=True, reading=Reading(56, 3)).side == 56  # enlarged on purpose


def test_sixteen_bit_grey_palette_and_grey_rgb_decode_as_eight_bit_grey(tmp_path):
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    deep = decode(str(save(tmp_path / "deep.png", ramp)), 64, 1)
    assert deep.dtype == np.uint8 and deep.min() == 0 and deep.max() == 255
    grey = (np.arange(32 * 32) % 256).reshape(32, 32).astype(np.uint8)
    as_rgb = save(tmp_path / "rgb.png", np.stack([grey] * 3, axis=-1))
    np.testing.assert_array_equal(decode(str(as_rgb), 32, 1), grey)  # equal channels: a grey image
    palette = Image.fromarray(grey).convert("P")
    palette.save(tmp_path / "p.png")
    assert decode(str(tmp_path / "p.png"), 32, 1).shape == (32, 32)
    assert decode(str(tmp_path / "rgb.png"), 16, 3).shape == (3, 16, 16)  # resized, as RGB


@pytest.mark.parametrize("layout, message", [
    ({}, "holds no image files"),
    ({"readme.txt": None}, "holds no image files"),
    ({"loose.png": 1, "a/x.png": 1}, "both at its top and in subfolders"),
    ({"a/x.png": 1, "b/readme.txt": None}, "a class folder without image files"),
])
def test_folders_that_are_no_set_are_refused_in_one_line(tmp_path, layout, message):
    root = tmp_path / "set"
    root.mkdir()
    for name, content in layout.items():
        if content is None:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text("text")
        else:
            save(root / name, shapes(1)[0][0])
    with pytest.raises(InputError, match=message):
        load_image_set(str(root), rgb=True)


def test_an_unreadable_image_stops_the_reading_or_is_left_out(tmp_path):
    images, labels = shapes(6)
    for index, image in enumerate(images):
        save(tmp_path / "set" / f"{index}.png", image)
    whole = (tmp_path / "set" / "2.png").read_bytes()
    (tmp_path / "set" / "2.png").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="2.png: not a readable image .*--skip-unreadable"):
        load_image_set(str(tmp_path / "set"), rgb=True, reading=Reading(side=28, channels=1))
    said = []
    kept = load_image_set(str(tmp_path / "set"), rgb=True, reading=Reading(28, 1, skip_unreadable=True),
                          say=said.append)
    assert len(kept) == 5 and "2.png" not in kept.files and "left out 1 unreadable" in said[0]
    (tmp_path / "set" / "3.png").write_bytes(b"")  # not even a header: the images' own size comes from the rest
    with pytest.raises(InputError, match="3.png: not a readable image"):
        load_image_set(str(tmp_path / "set"), rgb=True)
    assert len(load_image_set(str(tmp_path / "set"), rgb=True, reading=Reading(skip_unreadable=True))) == 4


def test_packing_nothing_readable_leaves_no_folder_and_a_repack_replaces_the_labels(tmp_path):
    images, _ = shapes(4)
    for index in range(3):
        (tmp_path / "bad" / f"{index}.png").parent.mkdir(exist_ok=True)
        (tmp_path / "bad" / f"{index}.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match="not one of its images is readable"):
        pack_folder(str(tmp_path / "bad"), str(tmp_path / "packed"), 28, 1, skip_unreadable=True, quiet=True)
    assert not (tmp_path / "packed").exists()
    for index, image in enumerate(images):
        save(tmp_path / "classes" / f"c{index % 2}" / f"{index}.png", image)
        save(tmp_path / "flat" / f"{index}.png", image)
    pack_folder(str(tmp_path / "classes"), str(tmp_path / "packed"), quiet=True)
    assert len(load_image_set(str(tmp_path / "packed"), labels="required", rgb=True)) == 4
    pack_folder(str(tmp_path / "flat"), str(tmp_path / "packed"), quiet=True)
    assert sorted(p.name for p in (tmp_path / "packed").iterdir()) == ["data.npy", "files.txt"]  # no stale labels
    with pytest.raises(InputError, match="--image-size 0: must be from 8"):
        pack_folder(str(tmp_path / "flat"), str(tmp_path / "other"), 0, quiet=True)
    with pytest.raises(InputError, match="--image-size 0: must be from 8"):
        write_image_folder(images, np.zeros(4, int), str(tmp_path / "other"), side=0)
    (tmp_path / "flat" / "4.png").write_bytes(b"")  # the images' own size, asked of their headers, skips it too
    count, skipped = pack_folder(str(tmp_path / "flat"), str(tmp_path / "packed"), skip_unreadable=True, quiet=True)
    assert (count, skipped) == (4, ["4.png"]) and not (tmp_path / "other").exists()
    with pytest.raises(InputError, match="lies inside"):  # its data.npy would hide the images from every command
        pack_folder(str(tmp_path / "flat"), str(tmp_path / "flat" / "packed"), quiet=True)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(InputError, match="file: cannot write a packed set here"):
        pack_folder(str(tmp_path / "classes"), str(tmp_path / "file"), quiet=True)


def test_a_photo_stored_sideways_is_read_upright_and_damaged_metadata_is_passed_over(tmp_path):
    stored = np.zeros((16, 16), np.uint8)
    stored[0] = 255  # its top row
    exif = Image.Exif()
    exif[0x0112] = 6  # to be shown turned a quarter clockwise
    Image.fromarray(stored).save(tmp_path / "turned.png", exif=exif)
    np.testing.assert_array_equal(decode(str(tmp_path / "turned.png"), 16, 1), np.rot90(stored, -1))
    Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(tmp_path / "wide.jpg", exif=exif)  # 30 wide, stored
    assert read_header(str(tmp_path / "wide.jpg")) == ((20, 30), False)  # shown 20 wide, 30 high
    assert decode(str(tmp_path / "wide.jpg"), 8, 3).shape == (3, 8, 8)
    Image.fromarray(stored).save(tmp_path / "garbled.png", exif=b"not a TIFF block at all")
    assert read_header(str(tmp_path / "garbled.png")) == ((16, 16), True)
    np.testing.assert_array_equal(decode(str(tmp_path / "garbled.png"), 16, 1), stored)


def test_pictures_from_two_files_of_one_name_get_two_names():
    assert picture_names(3, ("a/x.png", "a/x.jpg", "b.tif")) == ["a/x.png", "a/x.jpg.png", "b.png"]
    with pytest.raises(InputError, match="two of the images would be written as x.jpg.png"):
        picture_names(3, ("x.png", "x.jpg", "x.jpg.png"))


def test_worker_processes_read_a_folder_as_this_process_does(tmp_path, monkeypatch):
    from vae.core import folders

    images, labels = shapes(150, seed=4)
    for index, (image, label) in enumerate(zip(images, labels)):
        save(tmp_path / "set" / str(label) / f"{index:03d}.png", image)
    alone = load_image_set(str(tmp_path / "set"), rgb=True)
    monkeypatch.setattr(folders, "PARALLEL_FROM", 1)  # as for a large folder: one worker process per core
    shared = load_image_set(str(tmp_path / "set"), rgb=True)
    np.testing.assert_array_equal(alone.pixels, shared.pixels)
    assert alone.files == shared.files and np.array_equal(alone.labels, shared.labels)
