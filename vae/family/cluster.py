"""A sweep beyond one machine: its (cell, fold) fits on the workers of a running Dask scheduler, through joblib's own
Dask backend, so the sweep's ``Parallel`` loop is the same with or without a cluster (vae/family/sweep.py).

    dask scheduler                                            # on one machine: it prints tcp://HOST:8786
    dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1     # on each machine, with the same vae installed
    vae.py sweep TRAIN --grid "beta=1,4" --cluster tcp://HOST:8786

Before anything is written the driver checks that a scheduler answers, that it has workers, and that the scheduler
and every worker run the same code (vae's source, torch, numpy...) as the driver, since a sweep promises results
equal to a local one's. The training images and the reference network travel once to each worker (scattered); the
results come back to the driver, which alone writes OUT/. A worker lost mid-sweep costs only its running fits: the
scheduler runs them again on another worker.
"""

import functools
import hashlib
import os
import platform
import warnings
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version

from vae.core.errors import FitFailed, InputError, first_line

CONNECT_SECONDS = 10
WORKERS_SECONDS = 10  # how long a scheduler without workers is given to get one
COMPARED = ("torch", "numpy", "scipy", "scikit-learn", "joblib", "dask", "distributed", "cloudpickle")


@functools.cache
def source_digest() -> str:
    """A digest of vae's own source files: two installs that compute alike have the same."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for folder, subfolders, names in sorted(os.walk(root)):
        subfolders.sort()
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode() + b"\0")
                with open(path, "rb") as handle:
                    digest.update(handle.read() + b"\0")
    return digest.hexdigest()[:12]


def environment() -> dict[str, str]:
    """What a worker must share with the driver for its fits to equal the driver's: Python, vae's source and the
    versions of the packages a fit runs on. Runs on each worker."""
    def installed(package: str) -> str:
        try:
            return version(package)
        except PackageNotFoundError:
            return "absent"

    return {"python": platform.python_version(), "vae": source_digest(),
            **{package: installed(package) for package in COMPARED}}


def connected(address: str):
    """A ``distributed.Client`` of the scheduler at ``address`` that has workers, each with the driver's
    environment(); InputError (one line) otherwise."""
    from distributed import Client
    from distributed.comm import get_address_host_port

    try:  # a malformed address, before a Client exists: one that fails half-made hangs 20 s at exit
        get_address_host_port(address)
    except ValueError as error:
        raise InputError(f"--cluster {address}: not a scheduler's address, tcp://HOST:PORT ({error})") from None
    try:
        with warnings.catch_warnings():  # distributed's own version warning: the check below says it in one line
            warnings.simplefilter("ignore")
            client = Client(address, timeout=CONNECT_SECONDS, set_as_default=False)
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"--cluster {address}: no Dask scheduler answers there ({error})") from None
    try:
        check_workers(client, address)
    except BaseException:
        client.close()
        raise
    return client


def check_workers(client, address: str) -> None:
    try:
        client.wait_for_workers(1, timeout=WORKERS_SECONDS)
    except TimeoutError:
        raise InputError(f"--cluster {address}: the scheduler has no workers after {WORKERS_SECONDS} s; start some "
                         f"with: dask worker {address} --nthreads 1") from None
    here = environment()
    try:  # the scheduler unpickles the fits' tasks too, so it needs the same vae
        found = {"the scheduler": client.run_on_scheduler(environment)}
    except Exception as error:
        found = {"the scheduler": error}
    found.update({f"worker {worker}": value for worker, value in
                  sorted(client.run(environment, on_error="return").items())})
    for machine, theirs in found.items():
        if isinstance(theirs, BaseException):
            raise InputError(f"--cluster {address}: {machine} cannot run vae ({first_line(theirs)}); install the "
                             "same vae on the scheduler and every worker") from None
        differing = [f"{name} {theirs.get(name)} there, {value} here" for name, value in here.items()
                     if theirs.get(name) != value]
        if differing:
            raise InputError(f"--cluster {address}: {machine} differs from this machine ({'; '.join(differing)}); "
                             "install the same vae and packages on the scheduler and every worker (vae: a digest "
                             "of its source)")
    if sum(client.nthreads().values()) < 2:  # joblib runs the tasks of a backend with one thread in this process
        raise InputError(f"--cluster {address}: its workers have one thread in all, and joblib would run the fits "
                         "here rather than there; start two worker processes or more (dask worker ADDRESS "
                         "--nworkers 2 --nthreads 1), or run without --cluster")


def describe(client) -> str:
    """"3 workers on 2 hosts, 6 threads", for the sweep's first line."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    hosts = {worker["host"] for worker in workers}
    threads = sum(worker["nthreads"] for worker in workers)
    return (f"{len(workers)} worker{'s' * (len(workers) != 1)} on {len(hosts)} host{'s' * (len(hosts) != 1)}, "
            f"{threads} thread{'s' * (threads != 1)}")


@contextmanager
def dask_backend(client, shared: list):
    """joblib's Dask backend on ``client``, ``shared`` (the arguments every task takes) sent once to every worker;
    a fit that killed its workers again and again, or shared data lost with every worker that held it, becomes
    one line (a rerun of the command goes on from the fits written)."""
    from distributed import KilledWorker
    from distributed.client import FutureCancelledError
    from joblib import parallel_config

    # The scheduler's Active Memory Manager drops all but one copy of each piece of data within seconds; the worker
    # that keeps it may be the one that dies, and every fit would be lost with it. Paused while the sweep runs.
    managing = client.amm.running()
    if managing:
        client.amm.stop()
    try:
        with parallel_config(backend="dask", client=client, scatter=[item for item in shared if item is not None]):
            yield
    except KilledWorker as error:
        raise FitFailed(f"a fit's worker died each time it ran it ({error}); see the workers' logs") from None
    except FutureCancelledError as error:
        raise FitFailed(f"the cluster lost this sweep's fits ({error}); the fits written are kept: run the same "
                        "command again to go on") from None
    finally:
        if managing:
            client.amm.start()
