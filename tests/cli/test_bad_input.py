"""Bad input to the assignment's commands: one readable line naming the file and the problem, exit code 2, no
output written or changed (the family's: test_bad_input_family.py)."""

import os
import pickle

import numpy as np
import pytest
import torch

from bad_input import (
    IMAGES,
    LABELS,
    check_bad_input,
    checkpoint_of_other_architecture,
    classify,
    mixture_with,
    npy_bytes,
    npy_folder,
    npz,
    plain_torch_state,
    train_with_val,
    truncated,
    with_mixture,
    with_model,
    written,
)
from helpers import run_vae

CASES = {
    # name: (arguments, words the one line must contain)
    "missing file": (classify(lambda f: f / "nowhere.npz"), ["nowhere.npz", "no such file"]),
    "a directory as the file": (classify(lambda f: f), ["is a directory"]),
    "text file": (classify(lambda f: written(f / "notes.npz", "hello")), ["notes.npz", "not a readable .npz"]),
    "empty file": (classify(lambda f: written(f / "empty.npz", b"")), ["empty.npz", "not a readable .npz"]),
    "truncated npz": (classify(lambda f: truncated(npz(f, "cut.npz", data=IMAGES))),
                      ["cut.npz", "not a readable .npz"]),
    "a .npy named .npz": (classify(lambda f: written(f / "bare.npz", npy_bytes(IMAGES))), ["bare.npz", "single .npy"]),
    "truncated .npy": (classify(lambda f: written(f / "cut.npy", npy_bytes(IMAGES)[:500])),
                       ["cut.npy", "not a readable .npy"]),
    "object .npy": (classify(lambda f: written(f / "object.npy",
                                               npy_bytes(np.array([IMAGES[0], None], dtype=object)))),
                                               ["object.npy", "not a readable .npy"]),
    "NaN in a .npy folder": (classify(lambda f: npy_folder(f, np.where(IMAGES > 0, np.nan, 0.0))), ["set", "NaN"]),
    "no data key": (classify(lambda f: npz(f, "nodata.npz", images=IMAGES)), ["nodata.npz", "no 'data'", "images"]),
    "27x27 images": (classify(lambda f: npz(f, "small.npz", data=IMAGES[:, :27, :27])), ["small.npz", "30×27×27"]),
    "3 channels": (classify(lambda f: npz(f, "rgb.npz", data=np.repeat(IMAGES[:, None], 3, 1))),
                   ["rgb.npz", "30×3×28×28"]),
    "1-D data": (classify(lambda f: npz(f, "flat.npz", data=IMAGES.reshape(-1))), ["flat.npz", "shape"]),
    "zero images": (classify(lambda f: npz(f, "none.npz", data=IMAGES[:0])), ["none.npz", "no images"]),
    "string data": (classify(lambda f: npz(f, "text.npz", data=np.array([["a"] * 784] * 2))), ["text.npz", "dtype"]),
    "complex data": (classify(lambda f: npz(f, "complex.npz", data=IMAGES.astype(np.complex64))),
                     ["complex.npz", "complex64"]),
    "object data": (classify(lambda f: npz(f, "object.npz", data=np.array([IMAGES[0], None], dtype=object))),
                    ["object.npz", "not a readable .npz"]),
    "floats above 1": (classify(lambda f: npz(f, "bright.npz", data=IMAGES.astype(np.float32))),
                       ["bright.npz", "[0, 1]"]),
    "negative integers": (classify(lambda f: npz(f, "negative.npz", data=IMAGES.astype(np.int16) - 1)),
                          ["negative.npz", "0..255"]),
    "integers above 255": (classify(lambda f: npz(f, "big.npz", data=IMAGES.astype(np.int32) + 1)),
                           ["big.npz", "0..255"]),
    "NaN": (classify(lambda f: npz(f, "nan.npz", data=np.where(IMAGES > 0, np.nan, 0.0))), ["nan.npz", "NaN"]),
    "infinity": (classify(lambda f: npz(f, "inf.npz", data=np.where(IMAGES > 0, np.inf, 0.0))),
                 ["inf.npz", "infinite"]),
    "string labels": (classify(lambda f: npz(f, "named.npz", data=IMAGES, labels=np.array(["one"] * 30))),
                      ["named.npz", "'labels' must be integers"]),
    "labels of the wrong count": (classify(lambda f: npz(f, "short.npz", data=IMAGES, labels=LABELS[:-1])),
                                  ["short.npz", "29 entries", "30 images"]),
    "VAL without labels": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES)), ["val.npz", "no 'labels'"]),
    "VAL labels of the wrong count": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES, labels=LABELS[:10])),
                                      ["val.npz", "10 entries"]),
    "VAL with one class only": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES, labels=np.full(30, 3))),
                                ["val.npz", "only one class"]),
    "VAL labels 2-D": (train_with_val(lambda f: npz(f, "val.npz", data=IMAGES, labels=np.zeros((30, 2), int))),
                       ["val.npz", "30×2"]),
    "model not a checkpoint": (with_model(lambda f: written(f / "m.pth", "weights")),
                               ["m.pth", "not a torch checkpoint"]),
    "model truncated": (with_model(lambda f: truncated(f / "vae.pth", 0.6, to=f / "cut.pth")),
                        ["cut.pth", "not a torch checkpoint"]),
    "model of another architecture": (with_model(checkpoint_of_other_architecture),
                                      ["other.pth", "do not match its architecture"]),
    "a torch file that is not ours": (with_model(plain_torch_state), ["linear.pth", "not a vae checkpoint"]),
    "mixture not ours": (with_mixture(lambda f: written(f / "m.pkl", pickle.dumps([1, 2, 3]))),
                         ["m.pkl", "not a vae mixture file"]),
    "mixture truncated": (with_mixture(lambda f: truncated(mixture_with(f))), ["changed.pkl"]),
    "mixture text": (with_mixture(lambda f: written(f / "t.pkl", "means: 1, 2")),
                     ["t.pkl", "not a readable mixture file"]),
    "mixture of another latent size": (
        with_mixture(lambda f: mixture_with(f, means=np.zeros((3, 3)), covariances=np.stack([np.eye(3)] * 3),
                                            latent_dim=3)),
        ["changed.pkl", "latent size is 3", "encodes to 2"],
    ),
    "mixture with a broken covariance": (
        with_mixture(lambda f: mixture_with(f, covariances=-np.stack([np.eye(2)] * 3))),
        ["changed.pkl", "positive definite"],
    ),
    "one latent dimension with the mixture prior": (
        lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl", "--latent-dim", "1"],
        ["--latent-dim 1", "at least 2"],
    ),
    "label terms with another number of prior components": (
        lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl", "--prior-components", "2",
                   "--anchor-weight", "0"],
        ["--propagation-weight", "one prior component per class", "--prior-components 2"],
    ),
    "a device this machine lacks": (
        lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl", "--device",
                   "cuda:7" if not torch.cuda.is_available() else "nonsense"],
        ["--device"],
    ),
    "predictions under another extension": (lambda f: [f.sets["test"], "test_classifier", "vae.pth",
                                                       "gmm_params.pkl", "--out", "vae_reconstructed.npz"],
                                            ["vae_reconstructed.npz", ".csv"]),
    "reconstructions under another extension": (lambda f: [f.sets["recon"], "test_reconstruction", "vae.pth",
                                                           "--out", "vae.csv"], ["vae.csv", ".npz or .npy"]),
    "output folder under a file": (lambda f: [f.sets["test"], "test_classifier", "vae.pth", "gmm_params.pkl", "--out",
                                              f / "vae.csv" / "where.csv"], ["where.csv", "is a file"]),
    "output is a directory": (lambda f: [f.sets["recon"], "test_reconstruction", "vae.pth", "--out", f],
                              ["is a directory"]),
    "plots folder under a file": (lambda f: [f.sets["train"], f.sets["val"], "train", "vae.pth", "gmm_params.pkl",
                                             "--plots", f / "vae.csv" / "plots"], ["vae.csv", "is a file"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, workspace):
    check_bad_input(*CASES[case], workspace)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(workspace):
    path = npz(workspace, "locked.npz", data=IMAGES)
    path.chmod(0)
    result = run_vae(path, "test_classifier", "vae.pth", "gmm_params.pkl", cwd=workspace)
    assert result.returncode == 2 and "permission denied" in result.stderr
