"""What the bad-input tests share: a workspace of good models and earlier outputs, builders of bad files, and the
one check (one line naming the problem, exit 2, nothing written or changed)."""

import io
import os
import pathlib
import pickle

import numpy as np
import torch
from PIL import Image

from helpers import run_in_process, shapes

IMAGES, LABELS = shapes(30, seed=5)
OUTPUTS = ("vae.pth", "gmm_params.pkl", "vae.csv", "vae_reconstructed.npz", "model.pth", "reconstructed.npz",
           "denoised.npz", "samples.npz", "samples.png", "predictions.csv", "anomalies.csv", "anomalies.png")


class Workspace(type(pathlib.Path())):
    """A folder path that also carries the synthetic data sets (``.sets``)."""


def fill_workspace(folder, trained, shape_sets, family) -> "Workspace":
    """``folder`` made to hold good models (the assignment's and the family's) plus earlier outputs of every kind."""
    folder = Workspace(folder)
    folder.mkdir()
    (folder / "vae.pth").write_bytes(trained["model"].read_bytes())
    (folder / "gmm_params.pkl").write_bytes(trained["mixture"].read_bytes())
    (folder / "model.pth").write_bytes(family["vae"].read_bytes())
    (folder / "ae.pth").write_bytes(family["ae"].read_bytes())
    (folder / "ref.pth").write_bytes(family["reference"].read_bytes())
    for name in ("vae.csv", "predictions.csv", "anomalies.csv"):
        (folder / name).write_text("Predicted_Label\n1\n")
    for name in ("vae_reconstructed.npz", "reconstructed.npz", "denoised.npz", "samples.npz"):
        np.savez(folder / name, data=np.zeros((1, 28, 28), np.float32))
    (folder / "samples.png").write_bytes(b"\x89PNG earlier")
    (folder / "anomalies.png").write_bytes(b"\x89PNG earlier")
    folder.sets = shape_sets
    return folder


def snapshot(folder):
    return {name: (folder / name).read_bytes() for name in OUTPUTS} | {"files": sorted(os.listdir(folder))}


def written(path, content):
    """Write text or bytes to path and return the path."""
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def npy_bytes(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def npy_folder(folder, data):
    (folder / "set").mkdir()
    np.save(folder / "set" / "data.npy", data)
    return folder / "set"


def npz(folder, name, **arrays):
    path = folder / name
    np.savez(path, **arrays)
    return path


def truncated(path, fraction=0.5, to=None):
    """The file cut short (in place, or written to ``to``)."""
    data = path.read_bytes()
    target = to or path
    target.write_bytes(data[: int(len(data) * fraction)])
    return target


def checkpoint_of_other_architecture(folder):
    state = torch.load(folder / "vae.pth", weights_only=True)
    state["state_dict"]["encoder.0.weight"] = torch.zeros(7, 784)
    torch.save(state, folder / "other.pth")
    return folder / "other.pth"


def plain_torch_state(folder):
    torch.save(torch.nn.Linear(3, 2).state_dict(), folder / "linear.pth")
    return folder / "linear.pth"


def family_model_with(folder, config=None, state=None, record=None):
    """model.pth with some of its configuration, weights or record changed, as changed.pth."""
    checkpoint = torch.load(folder / "model.pth", weights_only=True)
    checkpoint["config"].update(config or {})
    checkpoint["state_dict"].update(state or {})
    checkpoint["record"].update(record or {})
    torch.save(checkpoint, folder / "changed.pth")
    return folder / "changed.pth"


def image_folder(folder, name, files):
    """FOLDER/NAME holding ``files``: {relative path: (H, W) or (H, W, 3) uint8 image, bytes, or text}."""
    root = folder / name
    root.mkdir()
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, np.ndarray):
            Image.fromarray(content).save(path)
        else:
            written(path, content)
    return root


def png_bytes(image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def fit_on(path, *options):
    return lambda folder: ["fit", path(folder), "new.pth", "--epochs", "1", *options]


def mixture_with(folder, **changes):
    with open(folder / "gmm_params.pkl", "rb") as handle:
        params = pickle.load(handle)
    params.update(changes)
    with open(folder / "changed.pkl", "wb") as handle:
        pickle.dump(params, handle)
    return folder / "changed.pkl"


def classify(path):
    return lambda folder: [path(folder), "test_classifier", "vae.pth", "gmm_params.pkl"]


def train_with_val(path):
    return lambda folder: [folder.sets["train"], path(folder), "train", "vae.pth", "gmm_params.pkl", "--epochs", "1",
                           "--decoder-epochs", "0"]


def with_model(path):
    return lambda folder: [folder.sets["test"], "test_classifier", path(folder), "gmm_params.pkl"]


def with_mixture(path):
    return lambda folder: [folder.sets["test"], "test_classifier", "vae.pth", path(folder)]


def check_bad_input(build, words, workspace) -> None:
    """``vae.py`` run with ``build(workspace)``'s arguments stops with one line holding every one of ``words``, exit 2,
    and leaves the workspace as it was."""
    args = build(workspace)
    before = snapshot(workspace)
    result = run_in_process(*args, cwd=workspace)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vae.py: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    after = snapshot(workspace)
    assert after == before
