"""Folders of image files through vae.py (issue #23): any size, grey or RGB, class names in the model and in the
outputs, files named in the CSVs and PNGs, the same weights as the same images packed, HAM10000 arranged."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import FAMILY_FAST, ROOT, SHAPE_LABELS, rgb, run_vae, shapes, write_npz

NAMES = {label: name for label, name in zip(SHAPE_LABELS, ("bar", "flat", "ring"))}


def datasets(*args, cwd):
    return subprocess.run([sys.executable, "-m", "vae.datasets", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": ROOT})


def write_folder(root, images, labels, suffix=".png"):
    """images (N, S, S) or (N, S, S, 3) as ROOT/NAME/NNN.suffix, the class folders named after NAMES."""
    for index, (image, label) in enumerate(zip(images, labels)):
        path = root / NAMES[label] / f"{index:03d}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
    return root


@pytest.fixture(scope="module")
def shape_folders(tmp_path_factory):
    folder = tmp_path_factory.mktemp("folders")
    train, labels = shapes(300, seed=1)
    test, test_labels = shapes(30, seed=2)
    return {"folder": folder, "train": write_folder(folder / "train", train, labels),
            "test": write_folder(folder / "test", test, test_labels), "test_labels": test_labels}


@pytest.fixture(scope="module")
def named_model(shape_folders):
    folder = shape_folders["folder"]
    run_vae("fit", shape_folders["train"], folder / "head.pth", "--head", "--no-plots", *FAMILY_FAST, check=True)
    return folder / "head.pth"


def test_a_folder_of_class_folders_fits_a_model_that_keeps_the_class_names(named_model):
    config = torch.load(named_model, weights_only=True)["config"]
    assert tuple(config["class_names"]) == ("bar", "flat", "ring") and config["image_size"] == 28


def test_classify_and_anomaly_name_the_files_and_the_classes(named_model, shape_folders, tmp_path):
    result = run_vae("classify", shape_folders["test"], named_model, "--out", "p.csv", cwd=tmp_path, check=True)
    rows = list(csv.reader((tmp_path / "p.csv").open()))
    assert rows[0] == ["File", "Predicted_Label"] and len(rows) == 31
    assert rows[1][0] == "bar/000.png" and {row[1] for row in rows[1:]} <= {"bar", "flat", "ring"}
    assert "accuracy" in result.stdout
    run_vae("anomaly", shape_folders["test"], named_model, "--abnormal-classes", "ring", "--out", "a.csv",
            cwd=tmp_path, check=True)
    rows = list(csv.reader((tmp_path / "a.csv").open()))
    assert rows[0] == ["File", "Anomaly_Score", "Predicted_Anomaly"] and rows[1][0] == "bar/000.png"
    refused = run_vae("anomaly", shape_folders["test"], named_model, "--abnormal-classes", "mel", cwd=tmp_path)
    assert refused.returncode == 2 and "mel do not occur" in refused.stderr and "bar, flat, ring" in refused.stderr


def test_reconstruct_writes_pngs_under_the_same_relative_names_or_arrays_in_sorted_order(named_model, shape_folders,
                                                                                          tmp_path):
    run_vae("reconstruct", shape_folders["test"], named_model, "--out", "pictures/", cwd=tmp_path, check=True)
    written = sorted(str(path.relative_to(tmp_path / "pictures")) for path in (tmp_path / "pictures").rglob("*.png"))
    assert len(written) == 30 and written[0] == "bar/000.png"
    run_vae("reconstruct", shape_folders["test"], named_model, "--out", "arrays.npz", cwd=tmp_path, check=True)
    arrays = np.load(tmp_path / "arrays.npz")["data"]
    first = np.asarray(Image.open(tmp_path / "pictures" / "bar" / "000.png"), np.float32) / 255
    assert arrays.shape == (30, 28, 28) and np.abs(arrays[0] - first).max() <= 0.5 / 255 + 1e-6


def test_the_same_images_packed_fit_the_same_weights_as_their_folder(shape_folders, tmp_path):
    made = datasets("pack", shape_folders["train"], "--out", tmp_path / "packed", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "packed" / "classes.txt").read_text().split() == ["bar", "flat", "ring"]
    data, labels = np.load(tmp_path / "packed" / "data.npy"), np.load(tmp_path / "packed" / "labels.npy")
    write_npz(tmp_path / "packed.npz", data, labels)
    states = []
    for name, source in (("folder", shape_folders["train"]), ("packed", tmp_path / "packed"),
                         ("npz", tmp_path / "packed.npz")):
        run_vae("fit", source, f"{name}.pth", "--head", "--no-plots", *FAMILY_FAST, cwd=tmp_path, check=True)
        states.append(torch.load(tmp_path / f"{name}.pth", weights_only=True)["state_dict"])
    for other in states[1:]:
        assert all(torch.equal(states[0][key], other[key]) for key in states[0])


def test_rgb_images_of_another_size_fit_generate_and_are_resized_at_test_time(tmp_path):
    images, labels = shapes(120, seed=5)
    coloured = np.stack([np.asarray(Image.fromarray(image).resize((40, 40))) for image in images])
    write_folder(tmp_path / "rgb", rgb(coloured), labels)
    run_vae("fit", tmp_path / "rgb", "rgb.pth", "--epochs", "1", "--quiet", "--no-plots", cwd=tmp_path, check=True)
    config = torch.load(tmp_path / "rgb.pth", weights_only=True)["config"]
    assert (config["image_size"], config["channels"], tuple(config["conv_channels"])) == (40, 3, (16, 32, 64))
    run_vae("generate", "rgb.pth", "5", "--out", "new/", cwd=tmp_path, check=True)
    assert Image.open(tmp_path / "new" / "000000.png").size == (40, 40) and (tmp_path / "new.png").exists()
    write_folder(tmp_path / "large", rgb(np.stack([np.asarray(Image.fromarray(image).resize((80, 80)))
                                                   for image in images[:6]])), labels[:6], suffix=".jpg")
    result = run_vae("reconstruct", "large", "rgb.pth", "--out", "r.npy", cwd=tmp_path, check=True)
    assert np.load(tmp_path / "r.npy").shape == (6, 3, 40, 40) and "SSIM" in result.stdout


def test_image_size_resizes_a_folder_of_mixed_sizes(tmp_path):
    images, labels = shapes(60, seed=6)
    resized = [np.asarray(Image.fromarray(image).resize((side, side))) for image, side in zip(images, [28, 36] * 30)]
    for index, (image, label) in enumerate(zip(resized, labels)):
        Image.fromarray(image).save(tmp_path / f"{index:02d}.png")
    commonest = run_vae("fit", tmp_path, "c.pth", "--epochs", "1", "--no-plots", cwd=tmp_path, check=True)
    assert f"{tmp_path}: its images have 2 sizes; reading all at the commonest, 28×28 (30 of 60 images)" in (
        commonest.stdout)  # a tie: the size of the first image in order
    assert torch.load(tmp_path / "c.pth", weights_only=True)["config"]["image_size"] == 28
    run_vae("fit", tmp_path, tmp_path / "m.pth", "--image-size", "32", "--epochs", "1", "--no-plots", "--quiet",
            check=True)
    assert torch.load(tmp_path / "m.pth", weights_only=True)["config"]["image_size"] == 32


def test_skip_unreadable_goes_on_and_says_how_many_were_left_out(shape_folders, tmp_path):
    images, labels = shapes(30, seed=7)
    write_folder(tmp_path / "set", images, labels)
    broken = tmp_path / "set" / "ring" / "002.png"
    broken.write_bytes(broken.read_bytes()[:60])
    result = run_vae("fit", tmp_path / "set", "m.pth", "--skip-unreadable", "--no-plots", "--epochs", "1",
                     cwd=tmp_path, check=True)
    assert "left out 1 unreadable image file(s)" in result.stdout and "ring/002.png" in result.stdout
    assert "on 29 images" in result.stdout


def small_jpeg(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (45, 60, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, quality=90)


def test_ham10000_as_distributed_is_arranged_by_diagnosis(tmp_path):
    rows = [("HAM_0000001", "ISIC_0000001", "mel"), ("HAM_0000002", "ISIC_0000002", "nv"),
            ("HAM_0000003", "ISIC_0000003", "nv"), ("HAM_0000004", "ISIC_0000004", "bcc")]
    for index, (_, image, _) in enumerate(rows):
        small_jpeg(tmp_path / ("part_1" if index < 2 else "part_2") / f"{image}.jpg", index)
    (tmp_path / "meta.csv").write_text("lesion_id,image_id,dx,dx_type,age,sex,localization\n"
                                       + "".join(f"{lesion},{image},{dx},histo,50,male,back\n"
                                                 for lesion, image, dx in rows))
    made = datasets("ham10000", "--images", "part_1", "part_2", "--metadata", "meta.csv", "--out", "ham",
                    cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert sorted(os.listdir(tmp_path / "ham")) == ["bcc", "mel", "nv"]
    assert len(os.listdir(tmp_path / "ham" / "nv")) == 2
    assert (tmp_path / "ham" / "mel" / "ISIC_0000001.jpg").read_bytes() == (
        tmp_path / "part_1" / "ISIC_0000001.jpg").read_bytes()
    resized = datasets("ham10000", "--images", "part_1", "part_2", "--metadata", "meta.csv", "--out", "small",
                       "--image-size", "32", cwd=tmp_path)
    assert resized.returncode == 0 and Image.open(tmp_path / "small" / "nv" / "ISIC_0000003.png").size == (32, 32)
    missing = datasets("ham10000", "--images", "part_1", "--metadata", "meta.csv", "--out", "x", cwd=tmp_path)
    assert missing.returncode == 2 and "2 of its images are in none of" in missing.stderr
    whole = (tmp_path / "part_2" / "ISIC_0000004.jpg").read_bytes()
    (tmp_path / "part_2" / "ISIC_0000004.jpg").write_bytes(whole[:200])  # damaged: the last one arranged
    damaged = datasets("ham10000", "--images", "part_1", "part_2", "--metadata", "meta.csv", "--out", "cut",
                       "--image-size", "32", cwd=tmp_path)
    assert damaged.returncode == 2 and "ISIC_0000004.jpg: not a readable image" in damaged.stderr
    assert len(damaged.stderr.strip().splitlines()) == 1 and not (tmp_path / "cut").exists()
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no staging folder left behind
    (tmp_path / "part_2" / "ISIC_0000004.jpg").write_bytes(whole)
    run_vae("fit", tmp_path / "ham", tmp_path / "m.pth", "--image-size", "16", "--head", "--epochs", "1",
            "--sampler-components", "2", "--no-plots", "--quiet", check=True)
    names = torch.load(tmp_path / "m.pth", weights_only=True)["config"]["class_names"]
    assert tuple(names) == ("bcc", "mel", "nv")
