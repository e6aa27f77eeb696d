"""vae.py sweep --cluster on a real Dask cluster (distributed.LocalCluster, two single-thread worker processes): its
results equal a local --jobs 1 sweep's, also when a worker is killed mid-sweep; and the clusters it refuses."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from unittest.mock import patch

import pytest
from distributed import Client, LocalCluster, get_task_stream
from joblib import parallel_config

import vae
import vae.family.cluster
from vae.family.sweep import fold_path

from helpers import VAE, csv_rows, run_in_process, run_vae, shapes, write_npz

# Fits of 1-3 s each on two cores: long enough to kill a worker in the middle of one.
SLOW = ["--epochs", "100", "--conv-channels", "4,8", "--conv-hidden", "16", "--batch-size", "64", "--quiet"]
GRID = ["--grid", "model=ae,vae", "--folds", "2"]  # 4 fits


@pytest.fixture(scope="module", autouse=True)
def environment_kept():
    """A LocalCluster's nannies set OMP_NUM_THREADS=1 in this process's environment for their workers; every
    vae.py started after them would inherit it, and fit on one thread instead of the machine's."""
    with patch.dict(os.environ):
        yield


def without_timings(rows: list[dict]) -> list[dict]:
    return [{name: value for name, value in row.items() if name not in ("fit_seconds", "host")} for row in rows]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A small set, a reference network, and the local --jobs 1 sweep's results.csv rows."""
    folder = tmp_path_factory.mktemp("cluster")
    images, labels = shapes(240, seed=1)
    train = write_npz(folder / "small.npz", images, labels)
    run_vae("reference", train, folder / "ref.pth", "--epochs", "1", "--quiet", check=True)
    options = [*GRID, *SLOW, "--reference", folder / "ref.pth"]
    run_vae("sweep", train, *options, "--jobs", "1", "--out", folder / "local", check=True)
    return folder, train, options, csv_rows(folder / "local" / "results.csv")


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      worker_dashboard_address=None) as local, \
            Client(local) as client:
        yield local.scheduler_address, client


def test_a_cluster_sweep_equals_the_local_one_and_names_its_host(workspace, cluster, tmp_path):
    folder, train, options, local = workspace
    run_vae("sweep", train, *options, "--cluster", cluster[0], "--out", tmp_path / "on", check=True)
    found = csv_rows(tmp_path / "on" / "results.csv")
    assert without_timings(found) == without_timings(local) and len(found) == 4
    assert {row["host"] for row in found} == {socket.gethostname()}


def test_a_worker_killed_mid_sweep_costs_only_its_running_fit(workspace, cluster, tmp_path):
    folder, train, options, local = workspace
    address, client = cluster
    sweep = subprocess.Popen([sys.executable, VAE, "sweep", train, *map(str, options), "--cluster", address,
                              "--out", tmp_path / "on"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    busy = []
    for _ in range(600):  # until a fit runs on a worker, at most a minute
        busy = [worker for worker, keys in client.processing().items() if keys]
        if busy or sweep.poll() is not None:
            break
        time.sleep(0.1)
    assert busy, "no fit ever ran on the cluster"
    time.sleep(0.5)
    victim = busy[0]
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)
    out, err = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, err
    found = csv_rows(tmp_path / "on" / "results.csv")
    assert without_timings(found) == without_timings(local)
    assert all(os.path.exists(fold_path(tmp_path / "on", {"model": model}, fold)) for model in ("ae", "vae")
               for fold in (0, 1))


def test_from_python_the_sweep_takes_the_address_or_runs_in_joblibs_dask_backend(workspace, cluster, tmp_path):
    folder, train, _, local = workspace
    address, client = cluster
    same = dict(folds=2, epochs=100, conv_channels=(4, 8), conv_hidden=16, batch_size=64, quiet=True,
                reference=str(folder / "ref.pth"))
    with get_task_stream(client) as tasks:
        rows = vae.sweep(train, {"model": ["ae", "vae"]}, cluster=address, out=str(tmp_path / "address"), **same)
        with parallel_config(backend="dask", client=client):
            vae.sweep(train, {"model": ["ae", "vae"]}, out=str(tmp_path / "backend"), **same)
    assert len([task for task in tasks.data if "fold_job" in task["key"]]) == 8  # each fit on a worker
    assert sorted((row["cell"], row["fold"]) for row in rows) == [(cell, fold) for cell in ("model=ae", "model=vae")
                                                                  for fold in (0, 1)]
    for out in ("address", "backend"):
        assert without_timings(csv_rows(tmp_path / out / "results.csv")) == without_timings(local)


def test_a_fit_that_fails_on_a_worker_is_one_line_naming_it(workspace, tmp_path):
    folder, train, options, _ = workspace
    breaking = ("import vae.family.sweep as sweep\n"
                "def broken(*args, **kwargs):\n"
                "    raise RuntimeError('CUDA out of memory. Tried to allocate 2.00 GiB\\nmore')\n"
                "sweep.fit_fold = broken")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      worker_dashboard_address=None) as local, \
            Client(local) as client:
        client.run(exec, breaking)
        result = run_in_process("sweep", train, *options, "--cluster", local.scheduler_address, "--out",
                                tmp_path / "on")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert re.fullmatch(f"vae.py: error: sweep cell 'model=v?ae', fold [01], on {re.escape(socket.gethostname())}: "
                        r"RuntimeError: CUDA out of memory\. Tried to allocate 2\.00 GiB\n", result.stderr)


@pytest.fixture
def empty_scheduler():
    with LocalCluster(n_workers=0, processes=True, dashboard_address=None,
                      worker_dashboard_address=None) as local, Client(local) as client:
        yield local.scheduler_address, client


def start_worker(address: str, patch: str) -> subprocess.Popen:
    """A `dask worker` process (no nanny) that runs ``patch`` first: a machine set up otherwise than this one."""
    code = (f"{patch}\nimport sys\nsys.argv = ['dask worker', {address!r}, '--nthreads', '1', '--no-nanny', "
            "'--no-dashboard']\nfrom distributed.cli.dask_worker import main\nmain()")
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("patch, message", [
    ("import sys\nsys.modules['vae'] = None", "cannot run vae (ModuleNotFoundError"),
    ("import vae.family.cluster as cluster\ncluster.source_digest = lambda: 'elsewhere'", "vae elsewhere there"),
    ("import importlib.metadata as metadata\nreal = metadata.version\n"
     "metadata.version = lambda name: '1.0' if name == 'torch' else real(name)", "torch 1.0 there"),
])
def test_a_worker_unlike_this_machine_is_refused_before_anything_is_written(workspace, empty_scheduler, tmp_path,
                                                                            patch, message):
    _, train, options, _ = workspace
    address, client = empty_scheduler
    worker = start_worker(address, patch)
    try:
        client.wait_for_workers(1, timeout=60)
        result = run_in_process("sweep", train, *options, "--cluster", address, "--out", tmp_path / "on")
    finally:
        worker.kill()
        worker.wait()
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"vae.py: error: --cluster {address}: worker tcp://") and message in result.stderr
    assert not (tmp_path / "on").exists()


def test_no_scheduler_or_no_workers_is_one_line_and_nothing_written(workspace, empty_scheduler, tmp_path,
                                                                   monkeypatch):
    _, train, options, _ = workspace
    monkeypatch.setattr(vae.family.cluster, "CONNECT_SECONDS", 1)
    monkeypatch.setattr(vae.family.cluster, "WORKERS_SECONDS", 1)
    with socket.socket() as unused:  # a port nothing listens on
        unused.bind(("127.0.0.1", 0))
        nowhere = f"tcp://127.0.0.1:{unused.getsockname()[1]}"
    cases = {nowhere: "no Dask scheduler answers there",
             "localhost": "not a scheduler's address, tcp://HOST:PORT (missing port",
             empty_scheduler[0]: "the scheduler has no workers after 1 s"}
    for address, message in cases.items():
        result = run_in_process("sweep", train, *options, "--cluster", address, "--out", tmp_path / "on")
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"vae.py: error: --cluster {address}: {message}"), result.stderr
        assert not (tmp_path / "on").exists()
    typo = run_vae("sweep", train, *options, "--cluster", "garbage", "--out", tmp_path / "on")  # to its exit
    assert typo.returncode == 2 and len(typo.stderr.splitlines()) == 1, typo.stderr
    both = run_in_process("sweep", train, *options, "--cluster", empty_scheduler[0], "--jobs", "2")
    assert both.returncode == 2 and "--jobs and --cluster" in both.stderr
