"""Training across processes and hosts on torch.distributed, as launched by torchrun.

torchrun gives each process WORLD_SIZE, RANK and LOCAL_RANK (and the rendezvous) in its environment;
plain ``python vae.py ...`` has none of them and trains in one process exactly as before. With several:

- every rank reads the same files and builds the same seeded network; DDP broadcasts rank 0's weights;
- each epoch, a DistributedSampler deals every rank its own shard of one shuffled order, each step
  runs on batch_size / world images per rank, and DDP averages the gradients, so that a step follows
  the gradient of the global batch (``--batch-size`` is the global batch);
- gloo on CPU, nccl on CUDA (one GPU per rank, LOCAL_RANK's);
- only rank 0 prints, draws progress bars and writes files (vae.core.report.is_writer).

Batch norm's running statistics are each rank's own; rank 0's are the ones saved.
"""

import atexit
import math
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from vae.core.report import world_size


def start(device):
    """Join the process group that torchrun set up, once; the torch.device this rank trains on."""
    if world_size() == 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    atexit.register(_leave)
    return device


def _leave() -> None:
    """At exit, leave the group together: rank 0 still writes files after training while the others are done, and
    a rank tearing gloo down alone while its peer works could abort (SIGABRT, seen once in a test)."""
    try:
        dist.barrier()
    finally:
        dist.destroy_process_group()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def shard(phase, count: int, shuffler):
    """A phase's (step, batch size, items per epoch, order(epoch) -> item indices) for this rank.

    In one process: the step itself, the whole batch, all ``count`` items, and a fresh permutation of
    them per epoch drawn from ``shuffler`` (the draws that single-process training always made).
    """
    if not active():
        return phase.step, phase.batch_size, count, lambda epoch: torch.randperm(count, generator=shuffler)

    class Step(torch.nn.Module):
        """The phase's step as a module holding every tensor the phase optimises, for DDP to average their gradients."""

        def __init__(self):
            super().__init__()
            groups = (group["params"] if isinstance(group, dict) else [group] for group in phase.parameters)
            self.held = torch.nn.ParameterList(item for group in groups for item in group)

        def forward(self, indices):
            return phase.step(indices)

    step = DistributedDataParallel(Step())
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=shuffler))
    sampler = DistributedSampler(range(count), num_replicas=dist.get_world_size(), rank=dist.get_rank(), shuffle=True,
                                 seed=seed)

    def order(epoch: int):
        sampler.set_epoch(epoch)
        return torch.tensor(list(sampler))

    return step, math.ceil(phase.batch_size / dist.get_world_size()), sampler.num_samples, order


def summed(values: list[float]) -> list[float]:
    """Each value summed over the ranks (itself in one process)."""
    if not active():
        return values
    total = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(total)
    return total.tolist()
