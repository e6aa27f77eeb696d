"""Bad input to the family's commands: one readable line naming the file and the problem, exit code 2, no output
written or changed."""

import numpy as np
import pytest
import torch

from bad_input import (
    IMAGES,
    LABELS,
    check_bad_input,
    family_model_with,
    fit_on,
    image_folder,
    npy_folder,
    npz,
    png_bytes,
    truncated,
)


def files_listed(folder, names):
    """A packed set of the 30 images whose files.txt names ``names``."""
    root = npy_folder(folder, IMAGES)
    (root / "files.txt").write_text("".join(f"{name}\n" for name in names))
    return root


CASES = {
    # an --out of the wrong kind would have been overwritten by the picture beside it, or held a zip under .csv
    "generate: --out a PNG": (lambda f: ["generate", "model.pth", "4", "--out", "samples.png"],
                              ["samples.png", ".npz or .npy"]),
    "anomaly: --out a PNG": (lambda f: ["anomaly", f.sets["test"], "model.pth", "--abnormal-classes", "7", "--out",
                                        "anomalies.png"], ["anomalies.png", ".csv"]),
    "reconstruct: --out a CSV": (lambda f: ["reconstruct", f.sets["test"], "model.pth", "--out", "predictions.csv"],
                                 ["predictions.csv", ".npz or .npy"]),
    "classify: --out an npz": (lambda f: ["classify", f.sets["test"], "model.pth", "--out", "samples.npz"],
                               ["samples.npz", ".csv"]),
    # options that do not apply to the network chosen
    "fit: --beta for an AE": (fit_on(lambda f: f.sets["train"], "--model", "ae", "--beta", "5"),
                              ["--beta 5", "--model vae"]),
    "fit: --layers for a conv network": (fit_on(lambda f: f.sets["train"], "--layers", "5"),
                                         ["--layers 5", "--arch mlp"]),
    "fit: --conv-channels for an MLP": (fit_on(lambda f: f.sets["train"], "--arch", "mlp", "--conv-channels", "8,16"),
                                        ["--conv-channels 8,16", "--arch conv"]),
    "fit: --head-shift without --head": (fit_on(lambda f: f.sets["train"], "--head-shift", "3"),
                                         ["--head-shift 3", "--head"]),
    "anomaly: abnormal classes that do not occur": (
        lambda f: ["anomaly", f.sets["test"], "model.pth", "--abnormal-classes", "7,11"],
        ["11", "do not occur", "3, 5, 7"],
    ),
    "anomaly: normal classes that do not occur": (
        lambda f: ["anomaly", f.sets["test"], "model.pth", "--normal-classes", "1,4,8"],
        ["--normal-classes", "1, 4, 8"],
    ),
    # folders of image files
    "fit: an empty folder": (fit_on(lambda f: image_folder(f, "empty", {})), ["empty", "holds no image files"]),
    "fit: a folder of other files": (fit_on(lambda f: image_folder(f, "notes", {"a.txt": "text", "b.csv": "1,2"})),
                                     ["notes", "holds no image files"]),
    "fit: a class folder without images": (
        fit_on(lambda f: image_folder(f, "classes", {"a/1.png": IMAGES[0], "b/notes.txt": "text"})),
        ["classes/b", "a class folder without image files"],
    ),
    "fit: a truncated image": (
        fit_on(lambda f: image_folder(f, "cut", {"1.png": IMAGES[0], "2.png": png_bytes(IMAGES[1])[:70]})),
        ["cut/2.png", "not a readable image", "--skip-unreadable"],
    ),
    "fit: a folder mixing grey and colour images": (
        fit_on(lambda f: image_folder(f, "mixed", {"a.png": IMAGES[0], "b.png": IMAGES[1],
                                                   "c.png": np.stack([IMAGES[2], IMAGES[3], IMAGES[4]], -1)})),
        ["mixed", "1 of its 3 images are stored as colour (RGB)", "the first: c.png", "--channels 1", "or 3"],
    ),
    "fit: thumbnails among larger images": (
        fit_on(lambda f: image_folder(f, "thumbs", {"a.png": np.kron(IMAGES[0], np.ones((2, 2), np.uint8)),
                                                    "b.png": np.kron(IMAGES[1], np.ones((2, 2), np.uint8)),
                                                    "c.png": IMAGES[2][::2, ::2], "d.png": IMAGES[3][::2, ::2]})),
        ["thumbs", "2 of its 4 images", "at most half the side 56", "the first: c.png, 14×14", "--image-size"],
    ),
    "fit: --epochs with --steps": (fit_on(lambda f: f.sets["train"], "--steps", "30"), ["--epochs 1 and --steps 30",
                                                                                     "give one"]),
    "fit: --image-size out of range": (fit_on(lambda f: image_folder(f, "set", {"1.png": IMAGES[0]}), "--image-size",
                                              "4"), ["--image-size 4", "from 8 to 1024"]),
    "reconstruct: a colour image for a grey model": (
        lambda f: ["reconstruct", image_folder(f, "colour", {"1.png": np.stack([IMAGES[0], IMAGES[1], IMAGES[2]], -1)}),
                   "model.pth"], ["colour/1.png", "a colour image"],
    ),
    "fit: one image file as TRAIN": (fit_on(lambda f: image_folder(f, "one", {"1.png": IMAGES[0]}) / "1.png"),
                                     ["one/1.png", "one image file", "the folder"]),
    "fit: an empty image file": (fit_on(lambda f: image_folder(f, "zero", {"1.png": IMAGES[0], "2.png": b""})),
                                 ["zero/2.png", "not a readable image", "--skip-unreadable"]),
    "fit: no readable image even when skipping": (
        fit_on(lambda f: image_folder(f, "bad", {"1.png": b"", "2.png": png_bytes(IMAGES[1])[:70]}),
               "--skip-unreadable"), ["bad", "not one of its images is readable"],
    ),
    "reconstruct: --out inside the folder read": (
        lambda f: ["reconstruct", image_folder(f, "set", {"1.png": IMAGES[0]}), "model.pth",
                   "--out", f"{f / 'set' / 'r'}/"],
        ["set/r", "lies inside", "outside it"],
    ),
    "denoise: truth images under other names": (
        lambda f: ["denoise", image_folder(f, "noisy", {"a.png": IMAGES[0], "b.png": IMAGES[1]}), "model.pth",
                   "--truth", image_folder(f, "clean", {"a.png": IMAGES[0], "c.png": IMAGES[1]})],
        ["clean", "c.png", "b.png", "names"],
    ),
    "reconstruct: files.txt leading out of its folder": (
        lambda f: ["reconstruct", files_listed(f, ["../escape.png"] + [f"{i}.png" for i in range(29)]), "model.pth",
                   "--out", f"{f / 'out'}/"], ["files.txt", "'../escape.png'", "not a relative path"],
    ),
    "reconstruct: files.txt of another count": (
        lambda f: ["reconstruct", files_listed(f, ["1.png", "2.png"]), "model.pth"], ["files.txt", "2 files", "30"],
    ),
    "generate: too few samples to score": (
        lambda f: ["generate", "model.pth", "3", "--against", f.sets["test"], "--reference", "ref.pth"],
        ["N 3", "at least 4"],
    ),
    "generate: too few real images to score against": (
        lambda f: ["generate", "model.pth", "8", "--against", npz(f, "three.npz", data=IMAGES[:3]), "--reference",
                   "ref.pth"], ["three.npz", "3 images", "at least 4"],
    ),
    "fit: missing file": (fit_on(lambda f: f / "nowhere.npz"), ["nowhere.npz", "no such file"]),
    "fit: four channels": (fit_on(lambda f: npz(f, "four.npz", data=np.repeat(IMAGES[:, None], 4, 1))),
                           ["four.npz", "30×4×28×28", "RGB"]),
    "fit: NaN": (fit_on(lambda f: npz(f, "nan.npz", data=np.where(IMAGES > 0, np.nan, 0.0))), ["nan.npz", "NaN"]),
    "fit: sparsity on a VAE": (fit_on(lambda f: f.sets["train"], "--model", "vae", "--sparsity", "5"),
                               ["--sparsity 5", "--model ae"]),
    "fit: head without labels": (fit_on(lambda f: f.sets["test_unlabelled"], "--head"),
                                 ["test_unlabelled.npz", "no 'labels'"]),
    "fit: head with one class": (fit_on(lambda f: npz(f, "one.npz", data=IMAGES, labels=np.full(30, 3)), "--head"),
                                 ["one.npz", "only one class"]),
    "fit: a device this machine lacks": (fit_on(lambda f: f.sets["train"], "--device",
                                                "cuda:7" if not torch.cuda.is_available() else "nonsense"),
                                                ["--device"]),
    "fit: plots folder under a file": (lambda f: ["fit", f.sets["train"], "new.pth", "--plots", f / "vae.csv" / "p"],
                                       ["vae.csv", "is a file"]),
    "reconstruct: the assignment's vae.pth": (lambda f: ["reconstruct", f.sets["test"], "vae.pth"],
                                              ["vae.pth", "not a family model", "vae.py fit"]),
    "test_reconstruction: a family model": (lambda f: [f.sets["recon"], "test_reconstruction", "model.pth"],
                                            ["model.pth", "not a vae checkpoint"]),
    "reconstruct: RGB images for a grey model": (
        lambda f: ["reconstruct", npz(f, "rgb.npz", data=np.stack([IMAGES] * 3, -1)), "model.pth"],
        ["rgb.npz", "3-channel", "1-channel"],
    ),
    "reconstruct: model truncated": (lambda f: ["reconstruct", f.sets["test"],
                                                truncated(f / "model.pth", 0.6, to=f / "cut.pth")],
                                                ["cut.pth", "not a torch checkpoint"]),
    "reconstruct: model of another architecture": (lambda f: ["reconstruct", f.sets["test"],
                                                              family_model_with(f, {"latent_dim": 7})],
                                                              ["changed.pth", "do not match"]),
    "reconstruct: model configuration damaged": (lambda f: ["reconstruct", f.sets["test"],
                                                            family_model_with(f, {"arch": "transformer"})],
                                                            ["changed.pth", "damaged"]),
    "reconstruct: NaN weights": (
        lambda f: ["reconstruct", f.sets["test"],
                   family_model_with(f, state={"decoder.body.0.bias": torch.full((32,), float("nan"))})],
                   ["changed.pth", "NaN"],
    ),
    "denoise: truth of another count": (lambda f: ["denoise", f.sets["test"], "model.pth", "--truth", f.sets["recon"]],
                                        ["recon.npz", "10 images", "90"]),
    "generate: the prior of a plain AE": (lambda f: ["generate", "ae.pth", "5", "--sampler", "prior"],
                                          ["ae.pth", "no prior to sample", "--sampler mixture"]),
    "generate: too many samples": (lambda f: ["generate", "model.pth", "2000000"], ["2,000,000", "from 1 to"]),
    "generate: no samples": (lambda f: ["generate", "model.pth", "0"], ["N 0", "from 1 to"]),
    "generate: a mixture from a model fitted before samplers": (
        lambda f: ["generate", family_model_with(f, record={"sampler": {}}), "5", "--sampler", "mixture"],
        ["changed.pth", "no mixture sampler"],
    ),
    "generate: --against without a reference": (lambda f: ["generate", "model.pth", "5", "--against", f.sets["test"]],
                                                ["--against", "--reference"]),
    "generate: --against images of another size": (
        lambda f: ["generate", "model.pth", "5", "--against", npz(f, "big.npz", data=np.zeros((4, 32, 32), np.uint8)),
                   "--reference", "ref.pth"],
        ["big.npz", "32×32", "28×28"],
    ),
    "generate: a model file as the reference": (
        lambda f: ["generate", "model.pth", "5", "--against", f.sets["test"], "--reference", "model.pth"],
        ["model.pth", "not a reference network"],
    ),
    "fit: more mixture components than images": (
        fit_on(lambda f: npz(f, "few.npz", data=IMAGES), "--sampler-components", "40"),
        ["--sampler-components 40", "30 images", "--sampler-components 30 or fewer"],
    ),
    "generate: a data file as the model": (lambda f: ["generate", f.sets["test"], "5"],
                                           ["test.npz", "not a torch checkpoint"]),
    "classify: a model without a head": (lambda f: ["classify", f.sets["test"], "ae.pth"],
                                         ["ae.pth", "no classifier head"]),
    "anomaly: labels that are not 0/1": (lambda f: ["anomaly", f.sets["test"], "model.pth"],
                                         ["test.npz", "not 0/1", "--abnormal-classes"]),
    "anomaly: abnormal classes of unlabelled data": (
        lambda f: ["anomaly", f.sets["test_unlabelled"], "model.pth", "--abnormal-classes", "3"],
        ["--abnormal-classes", "no 'labels'"],
    ),
    "anomaly: no stored threshold": (lambda f: ["anomaly", f.sets["test"], "--score", "mse",
                                                family_model_with(f, record={"anomaly": {}})],
                                                ["changed.pth", "no stored mse threshold", "--threshold"]),
    "anomaly: a new score of a model fitted before it": (
        lambda f: ["anomaly", f.sets["test"], "--abnormal-classes", "7", family_model_with(
            f, record={"anomaly": {"thresholds": {"mse": 0.1, "ssim": 0.2}}})],
        ["changed.pth", "before the combined score", "refit", "--score mse"],
    ),
    "anomaly: --contamination of a model fitted before it": (
        lambda f: ["anomaly", f.sets["test"], "--abnormal-classes", "7", "--score", "mse", "--contamination", "0.1",
                   family_model_with(f, record={"anomaly": {"thresholds": {"mse": 0.1, "ssim": 0.2}}})],
        ["changed.pth", "no held-out scores", "refit"],
    ),
    "anomaly: --contamination above one half": (
        lambda f: ["anomaly", f.sets["test"], "model.pth", "--abnormal-classes", "7", "--contamination", "0.7"],
        ["--contamination", "0.7", "(0, 0.5]"],
    ),
    "anomaly: --contamination of nothing": (
        lambda f: ["anomaly", f.sets["test"], "model.pth", "--abnormal-classes", "7", "--contamination", "0"],
        ["--contamination", "(0, 0.5]"],
    ),
    "anomaly: RGB images for a grey model": (
        lambda f: ["anomaly", npz(f, "rgb.npz", data=np.stack([IMAGES] * 3, -1)), "model.pth", "--threshold", "1"],
        ["rgb.npz", "3-channel"],
    ),
    "sweep: an unknown knob": (lambda f: ["sweep", f.sets["train"], "--grid", "colour=red", "--out", f / "sw"],
                               ["--grid", "--colour"]),
    "sweep: a value its option refuses": (lambda f: ["sweep", f.sets["train"], "--grid", "model=ae,gan", "--out",
                                                     f / "sw"], ["--grid", "'gan'"]),
    "sweep: a knob without values": (lambda f: ["sweep", f.sets["train"], "--grid", "beta", "--out", f / "sw"],
                                     ["--grid", "KNOB=V1,V2"]),
    "sweep: --image-size of arrays": (lambda f: ["sweep", f.sets["train"], "--grid", "beta=1,2", "--image-size", "32",
                                             "--out", f / "sw"], ["train.npz", "--image-size", "not arrays"]),
    "sweep: more folds than images": (lambda f: ["sweep", npz(f, "few.npz", data=IMAGES), "--grid", "beta=1",
                                                 "--folds", "20", "--out", f / "sw"], ["few.npz", "too few"]),
    "sweep: a head with too few images of a class": (
        lambda f: ["sweep", npz(f, "few.npz", data=IMAGES, labels=LABELS), "--grid", "beta=1", "--head", "--folds",
                   "12", "--out", f / "sw"], ["few.npz", "each with at least 12"],
    ),
    "classify: labels of the wrong count": (lambda f: ["classify",
                                                       npz(f, "short.npz", data=IMAGES, labels=LABELS[:-1]),
                                                       "model.pth"], ["short.npz", "29 entries"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, workspace):
    check_bad_input(*CASES[case], workspace)
