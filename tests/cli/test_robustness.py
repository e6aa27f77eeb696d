"""Interruptions, unsafe files and random input (issue #4)."""

import os
import pickle
import signal
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vae.core import checkpoint
from vae.core.data import load_image_set
from vae.core.errors import InputError

from helpers import VAE, run_vae

MARKER = "/tmp/vae-test-code-ran"


class RunsCode:
    """Unpickling this would run a shell command that leaves MARKER behind."""

    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


@pytest.fixture(autouse=True)
def no_marker():
    if os.path.exists(MARKER):
        os.remove(MARKER)
    yield
    assert not os.path.exists(MARKER), "code from a data file ran"


def test_a_mixture_pickle_that_would_run_code_is_refused(tmp_path, trained, shape_sets):
    evil = tmp_path / "gmm_params.pkl"
    evil.write_bytes(pickle.dumps({"format": "vae-gmm", "version": 1, "means": RunsCode()}))
    with pytest.raises(InputError, match="refused"):
        checkpoint.load_mixture(str(evil))
    result = run_vae(shape_sets["test"], "test_classifier", trained["model"], evil, cwd=tmp_path)
    assert result.returncode == 2 and "refused" in result.stderr and "system" in result.stderr
    assert not (tmp_path / "vae.csv").exists()


def test_a_model_file_that_would_run_code_is_refused(tmp_path, trained, shape_sets):
    evil = tmp_path / "vae.pth"
    with zipfile.ZipFile(trained["model"]) as source, zipfile.ZipFile(evil, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.endswith("data.pkl"):
                data = pickle.dumps({"format": "vae-checkpoint", "state_dict": RunsCode()}, protocol=2)
            target.writestr(item, data)
    result = run_vae(shape_sets["recon"], "test_reconstruction", evil, cwd=tmp_path)
    assert result.returncode == 2 and "refused" in result.stderr
    assert not (tmp_path / "vae_reconstructed.npz").exists()


def as_foreground_job():
    """Ctrl-C reaches a terminal's foreground job; a shell starts background jobs with SIGINT ignored,
    which a child inherits, so a test suite run in the background would otherwise never see it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_training(shape_sets, folder):
    """A long training run whose per-epoch lines arrive on stderr."""
    return subprocess.Popen(
        [sys.executable, VAE, shape_sets["train"], shape_sets["val"], "train", "vae.pth", "gmm_params.pkl",
         "--epochs", "400", "--batch-size", "64", "--hidden", "64,32", "--no-plots"],
        cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_foreground_job,
    )


def wait_for_training(process):
    for line in process.stderr:
        if "epoch" in line:
            return
    raise AssertionError("training printed no epoch line")


@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C"])
def test_an_interrupted_training_leaves_the_previous_files_intact(how, tmp_path, trained, shape_sets):
    for name in ("vae.pth", "gmm_params.pkl"):
        (tmp_path / name).write_bytes((trained["folder"] / name).read_bytes())
    before = {name: (tmp_path / name).read_bytes() for name in ("vae.pth", "gmm_params.pkl")}
    process = start_training(shape_sets, tmp_path)
    wait_for_training(process)
    process.send_signal(signal.SIGKILL if how == "kill -9" else signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    for name, content in before.items():
        assert (tmp_path / name).read_bytes() == content
    if how == "Ctrl-C":
        assert process.returncode == 130
        last = stderr.strip().splitlines()[-1]
        assert last.startswith("vae.py: interrupted") and "Traceback" not in stderr
        assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    else:
        assert process.returncode == -signal.SIGKILL


DTYPES = st.sampled_from([np.uint8, np.int8, np.int16, np.int64, np.uint16, np.float16, np.float32, np.float64,
                          np.bool_, np.complex64])
SHAPES = st.sampled_from([(0, 28, 28), (3, 28, 28), (2, 784), (2, 1, 28, 28), (2, 27, 27), (3,), (), (2, 3, 28, 28),
                          (1, 28, 28, 1)])


@st.composite
def npz_contents(draw):
    shape = draw(SHAPES)
    dtype = draw(DTYPES)
    data = draw(hnp.arrays(dtype, shape, elements=None if dtype != np.bool_ else st.booleans()))
    arrays = {draw(st.sampled_from(["data", "data", "data", "images"])): data}
    if draw(st.booleans()):
        count = draw(st.integers(0, 4))
        arrays["labels"] = draw(hnp.arrays(draw(st.sampled_from([np.int64, np.float64, np.uint8])), (count,)))
    return arrays


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contents=npz_contents())
def test_the_loader_accepts_or_refuses_with_input_error(tmp_path, contents):
    path = tmp_path / "fuzz.npz"
    np.savez(path, **contents)
    try:
        image_set = load_image_set(str(path))
    except InputError as error:
        assert str(path) in str(error) and "\n" not in str(error)
        return
    images = image_set.images()
    assert images.dtype == np.float32 and images.shape == (len(image_set), 784)
    assert np.all((images >= 0) & (images <= 1))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(contents=npz_contents())
def test_the_commands_work_or_fail_with_one_line(tmp_path, trained, contents):
    path = tmp_path / "fuzz.npz"
    np.savez(path, **contents)
    out = tmp_path / "fuzz.csv"
    if out.exists():
        out.unlink()
    result = run_vae(path, "test_classifier", trained["model"], trained["mixture"], "--out", out, "--quiet")
    if result.returncode == 0:
        assert out.read_text().splitlines()[0] == "Predicted_Label"
    else:
        assert result.returncode == 2
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert not out.exists()


PEAK_RSS = """
import resource, runpy, sys
sys.argv = sys.argv[1:]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as stop:
    print("peak-kb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
    raise
"""


def peak_memory_mb(*args) -> float:
    result = subprocess.run([sys.executable, "-c", PEAK_RSS, VAE, *map(str, args)], capture_output=True, text=True,
                            check=True)
    return int(result.stderr.split("peak-kb")[-1].split()[0]) / 1024


def test_memory_grows_with_the_input_only(tmp_path, trained):
    """100,000 more images (75 MB more uint8 input) may cost the input and a little per image,
    never a float copy of the images (4 or 8 bytes per pixel: 300-600 MB more)."""
    from helpers import shapes

    images, _ = shapes(1000, seed=9)
    peaks = []
    for count in (20_000, 120_000):
        path = tmp_path / f"n{count}.npz"
        np.savez(path, data=np.resize(images, (count, 28, 28)))
        peaks.append(peak_memory_mb(path, "test_classifier", trained["model"], trained["mixture"], "--out",
                                    tmp_path / "o.csv", "--quiet"))
    extra_input_mb = 100_000 * 784 / 2**20
    assert peaks[1] - peaks[0] <= 1.5 * extra_input_mb + 20, peaks
