"""Training on torch.distributed: two processes launched by torchrun, gloo on this CPU (issue #13)."""

import os
import subprocess
import sys

import pytest
import torch

from helpers import FAST, ROOT, VAE, run_vae

# Each rank's sampling noise and shard differ from one process's, so the losses agree only as closely as
# two seeds do: measured (this fit, seeds 0, 1, 2) 2 ranks vs 1 process: +2.5%, -1.9%, +1.4%; one process
# alone spans 2.7% over those seeds.
LOSS_TOLERANCE = 0.05
FIT = ["--arch", "mlp", "--latent-dim", "2", "--layers", "2", "--epochs", "3", "--batch-size", "64", "--no-plots"]


def torchrun(*args, cwd, processes=2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", VAE,
               *map(str, args)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}  # two ranks share this machine's cores
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environment, timeout=600)


def final_loss(path) -> float:
    return torch.load(path, weights_only=True)["record"]["epochs_loss"][-1]


def test_two_gloo_processes_fit_one_model_close_to_one_process(tmp_path, shape_sets):
    (tmp_path / "two").mkdir()
    result = torchrun("fit", shape_sets["train"], "m.pth", *FIT, cwd=tmp_path / "two")
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path / "two")) == ["m.pth"]  # rank 0 alone writes
    assert result.stdout.count("wrote m.pth") == 1  # and prints
    run_vae("fit", shape_sets["train"], "one.pth", *FIT, "--quiet", cwd=tmp_path, check=True)
    two, one = final_loss(tmp_path / "two" / "m.pth"), final_loss(tmp_path / "one.pth")
    assert abs(two - one) <= LOSS_TOLERANCE * one, (two, one)
    reconstructed = run_vae("reconstruct", shape_sets["recon"], tmp_path / "two" / "m.pth", "--out", "r.npz",
                            cwd=tmp_path)
    assert reconstructed.returncode == 0, reconstructed.stderr


def test_two_gloo_processes_train_the_assignment_files_once(tmp_path, shape_sets):
    result = torchrun(shape_sets["train"], shape_sets["val"], "train", "vae.pth", "gmm_params.pkl", *FAST,
                      "--no-plots", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(os.listdir(tmp_path)) == ["gmm_params.pkl", "vae.pth"]
    classified = run_vae(shape_sets["test"], "test_classifier", "vae.pth", "gmm_params.pkl", cwd=tmp_path)
    assert classified.returncode == 0, classified.stderr
    accuracy = float(classified.stdout.split("accuracy")[1].split()[0])
    assert accuracy >= 0.9, classified.stdout


@pytest.mark.parametrize("command", ["test_reconstruction", "reconstruct"])
def test_other_commands_refuse_torchrun_in_one_line(tmp_path, shape_sets, trained, command):
    model = trained["model"]
    args = (shape_sets["recon"], "test_reconstruction",
            model) if command == "test_reconstruction" else ("reconstruct", shape_sets["recon"], model)
    result = torchrun(*args, cwd=tmp_path)
    assert result.returncode != 0 and f"vae.py: error: {command} runs in one process" in result.stderr
    # torchrun's launcher prints its own traceback of the failed ranks; none of their frames is ours (vae.py or
    # the package): the clone's own folder may be named vae, and torch's frames lie in its .venv
    ours = (os.path.join(ROOT, "vae") + os.sep, VAE)
    frames = [line for line in result.stderr.splitlines() if line.strip().startswith("File")]
    assert not [line for line in frames if any(f'"{path}' in line for path in ours)], frames
    assert os.listdir(tmp_path) == []
