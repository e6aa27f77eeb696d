"""Bad input: one readable line naming the file and the problem, exit code 2, no output written or changed."""

import io
import os
import pathlib
import pickle

import numpy as np
import pytest
import torch

from conftest import run_vae, shapes

IMAGES, LABELS = shapes(30, seed=5)
OUTPUTS = ("vae.pth", "gmm_params.pkl", "vae.csv", "vae_reconstructed.npz",
           "model.pth", "reconstructed.npz", "denoised.npz", "samples.npz", "samples.png", "predictions.csv")


class Workspace(type(pathlib.Path())):
    """A folder path that also carries the synthetic data sets (``.sets``)."""


@pytest.fixture
def workspace(tmp_path, trained, shape_sets, family):
    """A folder holding good models (the assignment's and the family's) plus earlier outputs of every kind."""
    folder = Workspace(tmp_path / "work")
    folder.mkdir()
    (folder / "vae.pth").write_bytes(trained["model"].read_bytes())
    (folder / "gmm_params.pkl").write_bytes(trained["mixture"].read_bytes())
    (folder / "model.pth").write_bytes(family["vae"].read_bytes())
    (folder / "ae.pth").write_bytes(family["ae"].read_bytes())
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
    return lambda folder: [folder.sets["train"], path(folder), "train", "vae.pth", "gmm_params.pkl", "--epochs", "1", "--decoder-epochs", "0"]


def with_model(path):
    return lambda folder: [folder.sets["test"], "test_classifier", path(folder), "gmm_params.pkl"]


def with_mixture(path):
    return lambda folder: [folder.sets["test"], "test_classifier", "vae.pth", path(folder)]


CASES = {
    # name: (arguments, words the one line must contain)
    "missing file": (classify(lambda f: f / "nowhere.npz"), ["nowhere.npz", "no such file"]),
    "a directory as the file": (classify(lambda f: f), ["is a directory"]),
    "text file": (classify(lambda f: written(f / "notes.npz", "hello")), ["notes.npz", "not a readable .npz"]),
    "empty file": (classify(lambda f: written(f / "empty.npz", b"")), ["empty.npz", "not a readable .npz"]),
    "truncated npz": (classify(lambda f: truncated(npz(f, "cut.npz", data=IMAGES))), ["cut.npz", "not a readable .npz"]),
    "a .npy named .npz": (classify(lambda f: written(f / "bare.npz", npy_bytes(IMAGES))), ["bare.npz", "single .npy"]),
    "truncated .npy": (classify(lambda f: written(f / "cut.npy", npy_bytes(IMAGES)[:500])), ["cut.npy", "not a readable .npy"]),
    "object .npy": (classify(lambda f: written(f / "object.npy", npy_bytes(np.array([IMAGES[0], None], dtype=object)))), ["object.npy", "not a readable .npy"]),
    "NaN in a .npy folder": (classify(lambda f: npy_folder(f, np.where(IMAGES > 0, np.nan, 0.0))), ["set", "NaN"]),
    "no data key": (classify(lambda f: npz(f, "nodata.npz", images=IMAGES)), ["nodata.npz", "no 'data'", "images"]),
    "27x27 images": (classify(lambda f: npz(f, "small.npz", data=IMAGES[:, :27, :27])), ["small.npz", "30×27×27"]),
    "3 channels": (classify(lambda f: npz(f, "rgb.npz", data=np.repeat(IMAGES[:, None], 3, 1))), ["rgb.npz", "30×3×28×28"]),
    "1-D data": (classify(lambda f: npz(f, "flat.npz", data=IMAGES.reshape(-1))), ["flat.npz", "shape"]),
    "zero images": (classify(lambda f: npz(f, "none.npz", data=IMAGES[:0])), ["none.npz", "no images"]),
    "string data": (classify(lambda f: npz(f, "text.npz", data=np.array([["a"] * 784] * 2))), ["text.npz", "dtype"]),
    "complex data": (classify(lambda f: npz(f, "complex.npz", data=IMAGES.astype(np.complex64))), ["complex.npz", "complex64"]),
    "object data": (classify(lambda f: npz(f, "object.npz", data=np.array([IMAGES[0], None], dtype=object))), ["object.npz", "not a readable .npz"]),
    "floats above 1": (classify(lambda f: npz(f, "bright.npz", data=IMAGES.astype(np.float32))), ["bright.npz", "[0, 1]"]),
    "negative integers": (classify(lambda f: npz(f, "negative.npz", data=IMAGES.astype(np.int16) - 1)), ["negative.npz", "0..255"]),
    "integers above 255": (classify(lambda f: npz(f, "big.npz", data=IMAGES.astype(np.int32) + 1)), ["big.npz", "0..255"]),
    "NaN": (classify(lambda f: npz(f, "nan.npz", data=np.where(IMAGES > 0, np.nan, 0.0))), ["nan.npz", "NaN"]),
    "infinity": (classify(lambda f: npz(f, "inf.npz", data=np.where(IMAGES > 0, np.inf, 0.0))), ["inf.npz", "infinite"]),
    "string labels": (classify(lambda f: npz(f, "named.npz", data=IMAGES, labels=np.array(["one"] * 30))), ["named.npz", "'labels' must be integers"]),
    "labels of the wrong count": (classify(lambda f: npz(f, "short.npz", data=IMAGES, labels=LABELS[:-1])), ["short.npz", "29 entries", "30 images"]),
    "VAL without labels": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES)), ["val.npz", "no 'labels'"]),
    "VAL labels of the wrong count": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES, labels=LABELS[:10])), ["val.npz", "10 entries"]),
    "VAL with one class only": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES, labels=np.full(30, 3))), ["val.npz", "only one class"]),
    "VAL labels 2-D": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES, labels=np.zeros((30, 2), int))), ["val.npz", "30×2"]),
    "model not a checkpoint": (with_model(lambda f: written(f / "m.pth", "weights")), ["m.pth", "not a torch checkpoint"]),
    "model truncated": (with_model(lambda f: truncated(f / "vae.pth", 0.6, to=f / "cut.pth")), ["cut.pth", "not a torch checkpoint"]),
    "model of another architecture": (with_model(checkpoint_of_other_architecture), ["other.pth", "do not match its architecture"]),
    "a torch file that is not ours": (with_model(plain_torch_state), ["linear.pth", "not a vae checkpoint"]),
    "mixture not ours": (with_mixture(lambda f: written(f / "m.pkl", pickle.dumps([1, 2, 3]))), ["m.pkl", "not a vae mixture file"]),
    "mixture truncated": (with_mixture(lambda f: truncated(mixture_with(f))), ["changed.pkl"]),
    "mixture text": (with_mixture(lambda f: written(f / "t.pkl", "means: 1, 2")), ["t.pkl", "not a readable mixture file"]),
    "mixture of another latent size": (
        with_mixture(lambda f: mixture_with(f, means=np.zeros((3, 3)), covariances=np.stack([np.eye(3)] * 3), latent_dim=3)),
        ["changed.pkl", "latent size is 3", "encodes to 2"],
    ),
    "mixture with a broken covariance": (with_mixture(lambda f: mixture_with(f, covariances=-np.stack([np.eye(2)] * 3))), ["changed.pkl", "positive definite"]),
    "one latent dimension with the mixture prior": (
        lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl", "--latent-dim", "1"], ["--latent-dim 1", "at least 2"],
    ),
    "label terms with another number of prior components": (
        lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl", "--prior-components", "2", "--anchor-weight", "0"],
        ["--propagation-weight", "one prior component per class", "--prior-components 2"],
    ),
    "a device this machine lacks": (
        lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl", "--device", "cuda:7" if not torch.cuda.is_available() else "nonsense"],
        ["--device"],
    ),
    "output folder missing": (lambda f: [f.sets["test"], "test_classifier", "vae.pth", "gmm_params.pkl", "--out", f / "no" / "where.csv"], ["where.csv", "does not exist"]),
    "output is a directory": (lambda f: [f.sets["recon"], "test_reconstruction", "vae.pth", "--out", f], ["is a directory"]),
    "plots folder under a file": (lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl", "--plots", f / "vae.csv" / "plots"], ["vae.csv", "is a file"]),
    # The family's forms
    "fit: missing file": (fit_on(lambda f: f / "nowhere.npz"), ["nowhere.npz", "no such file"]),
    "fit: four channels": (fit_on(lambda f: npz(f, "four.npz", data=np.repeat(IMAGES[:, None], 4, 1))), ["four.npz", "30×4×28×28", "RGB"]),
    "fit: NaN": (fit_on(lambda f: npz(f, "nan.npz", data=np.where(IMAGES > 0, np.nan, 0.0))), ["nan.npz", "NaN"]),
    "fit: sparsity on a VAE": (fit_on(lambda f: f.sets["train"], "--sparsity", "5"), ["--sparsity 5", "--model ae"]),
    "fit: head without labels": (fit_on(lambda f: f.sets["test_unlabelled"], "--head"), ["test_unlabelled.npz", "no 'labels'"]),
    "fit: head with one class": (fit_on(lambda f: npz(f, "one.npz", data=IMAGES, labels=np.full(30, 3)), "--head"), ["one.npz", "only one class"]),
    "fit: a device this machine lacks": (fit_on(lambda f: f.sets["train"], "--device", "cuda:7" if not torch.cuda.is_available() else "nonsense"), ["--device"]),
    "fit: model folder missing": (lambda f: ["fit", f.sets["train"], f / "no" / "m.pth"], ["m.pth", "does not exist"]),
    "fit: plots folder under a file": (lambda f: ["fit", f.sets["train"], "new.pth", "--plots", f / "vae.csv" / "p"], ["vae.csv", "is a file"]),
    "reconstruct: the assignment's vae.pth": (lambda f: ["reconstruct", f.sets["test"], "vae.pth"], ["vae.pth", "not a family model", "vae.py fit"]),
    "test_reconstruction: a family model": (lambda f: [f.sets["recon"], "test_reconstruction", "model.pth"], ["model.pth", "not a vae checkpoint"]),
    "reconstruct: RGB images for a grey model": (
        lambda f: ["reconstruct", npz(f, "rgb.npz", data=np.stack([IMAGES] * 3, -1)), "model.pth"], ["rgb.npz", "3-channel", "1-channel"],
    ),
    "reconstruct: model truncated": (lambda f: ["reconstruct", f.sets["test"], truncated(f / "model.pth", 0.6, to=f / "cut.pth")], ["cut.pth", "not a torch checkpoint"]),
    "reconstruct: model of another architecture": (lambda f: ["reconstruct", f.sets["test"], family_model_with(f, {"latent_dim": 7})], ["changed.pth", "do not match"]),
    "reconstruct: model configuration damaged": (lambda f: ["reconstruct", f.sets["test"], family_model_with(f, {"arch": "transformer"})], ["changed.pth", "damaged"]),
    "reconstruct: NaN weights": (
        lambda f: ["reconstruct", f.sets["test"], family_model_with(f, state={"decoder.body.0.bias": torch.full((32,), float("nan"))})], ["changed.pth", "NaN"],
    ),
    "reconstruct: output folder missing": (lambda f: ["reconstruct", f.sets["test"], "model.pth", "--out", f / "no" / "r.npz"], ["r.npz", "does not exist"]),
    "denoise: truth of another count": (lambda f: ["denoise", f.sets["test"], "model.pth", "--truth", f.sets["recon"]], ["recon.npz", "10 images", "90"]),
    "generate: a plain AE": (lambda f: ["generate", "ae.pth", "5"], ["ae.pth", "no prior to sample"]),
    "generate: too many samples": (lambda f: ["generate", "model.pth", "2000000"], ["2,000,000", "at most"]),
    "generate: a data file as the model": (lambda f: ["generate", f.sets["test"], "5"], ["test.npz", "not a torch checkpoint"]),
    "classify: a model without a head": (lambda f: ["classify", f.sets["test"], "ae.pth"], ["ae.pth", "no classifier head"]),
    "anomaly: labels that are not 0/1": (lambda f: ["anomaly", f.sets["test"], "model.pth"], ["test.npz", "not 0/1", "--abnormal-classes"]),
    "anomaly: abnormal classes of unlabelled data": (
        lambda f: ["anomaly", f.sets["test_unlabelled"], "model.pth", "--abnormal-classes", "3"], ["--abnormal-classes", "no 'labels'"],
    ),
    "anomaly: no stored threshold": (lambda f: ["anomaly", f.sets["test"], family_model_with(f, record={"anomaly": {}})], ["changed.pth", "no stored mse threshold", "--threshold"]),
    "anomaly: RGB images for a grey model": (
        lambda f: ["anomaly", npz(f, "rgb.npz", data=np.stack([IMAGES] * 3, -1)), "model.pth", "--threshold", "1"], ["rgb.npz", "3-channel"],
    ),
    "anomaly: output folder missing": (lambda f: ["anomaly", f.sets["test"], "model.pth", "--out", f / "no" / "a.csv"], ["a.csv", "does not exist"]),
    "sweep: an unknown knob": (lambda f: ["sweep", f.sets["train"], "--grid", "colour=red", "--out", f / "sw"], ["--grid", "--colour"]),
    "sweep: a value its option refuses": (lambda f: ["sweep", f.sets["train"], "--grid", "model=ae,gan", "--out", f / "sw"], ["--grid", "'gan'"]),
    "sweep: a knob without values": (lambda f: ["sweep", f.sets["train"], "--grid", "beta", "--out", f / "sw"], ["--grid", "KNOB=V1,V2"]),
    "sweep: more folds than images": (lambda f: ["sweep", npz(f, "few.npz", data=IMAGES), "--grid", "beta=1", "--folds", "20", "--out", f / "sw"], ["few.npz", "too few"]),
    "sweep: a head with too few images of a class": (
        lambda f: ["sweep", npz(f, "few.npz", data=IMAGES, labels=LABELS), "--grid", "beta=1", "--head", "--folds", "12", "--out", f / "sw"], ["few.npz", "each with at least 12"],
    ),
    "classify: labels of the wrong count": (lambda f: ["classify", npz(f, "short.npz", data=IMAGES, labels=LABELS[:-1]), "model.pth"], ["short.npz", "29 entries"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, workspace):
    build, words = CASES[case]
    args = build(workspace)
    before = snapshot(workspace)
    result = run_vae(*args, cwd=workspace)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("vae.py: error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]
    after = snapshot(workspace)
    assert after == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(workspace):
    path = npz(workspace, "locked.npz", data=IMAGES)
    path.chmod(0)
    result = run_vae(path, "test_classifier", "vae.pth", "gmm_params.pkl", cwd=workspace)
    assert result.returncode == 2 and "permission denied" in result.stderr
