"""The README's first five minutes, copied as a newcomer copies them, run in order in an empty folder."""

import os
import re
import subprocess
import sys

from helpers import ROOT, VAE


def first_five_minutes() -> list[list[str]]:
    """The commands of the README's block that follows "The first five minutes", each as its words."""
    text = open(os.path.join(ROOT, "README.md")).read()
    block = re.search(r"The first five minutes.*?\n\n((?:    .*\n)+)", text).group(1)
    return [line.split() for line in block.splitlines()]


def as_run_here(words: list[str]) -> list[str]:
    """python and vae as this test's Python runs them: python vae.py, python -m, and the vae command."""
    if words[:2] == ["python", "vae.py"]:
        return [sys.executable, VAE, *words[2:]]
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    assert words[0] == "vae", words
    return [sys.executable, VAE, *words[1:]]


def test_the_first_five_minutes_run_as_written(tmp_path):
    commands = first_five_minutes()
    assert len(commands) >= 5 and any(words[0] == "vae" for words in commands)
    for words in commands:
        result = subprocess.run(as_run_here(words), cwd=tmp_path, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": ROOT})
        assert result.returncode == 0, (words, result.stderr[-2000:])
    for name in ("vae.pth", "gmm_params.pkl", "vae_reconstructed.npz", "vae.csv", "model.pth", "reconstructed.npz",
                 "samples.npz", "samples.png", "ref.pth", "judged.npz", "folder_model.pth", "predictions.csv"):
        assert (tmp_path / name).exists(), name


def test_the_python_example_runs_as_written(tmp_path):
    text = open(os.path.join(ROOT, "README.md")).read()
    example = re.search(r"## Python\n.*?```python\n(.*?)```", text, re.S).group(1)
    result = subprocess.run([sys.executable, "-c", example], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT, "MPLBACKEND": "Agg"})
    assert result.returncode == 0, result.stderr[-2000:]
    printed = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    assert float(printed["SSIM of the reconstructions"]) > 0.5
    assert float(printed["head accuracy on unseen digits"]) > 0.85
    share = re.match(r"([\d.]+) of 5-9, ([\d.]+) of 0-4", printed["flagged"])
    assert float(share.group(1)) > 0.5 > 0.2 > float(share.group(2)), printed["flagged"]
    assert (tmp_path / "digits.pth").exists()
