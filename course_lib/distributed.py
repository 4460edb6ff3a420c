"""Task-parallel meta-training on PyTorch's own distributed engine (``torch.distributed``).

A meta-gradient is an average over the tasks of a meta-batch::

    g = 1/T sum_{i=1..T} g_i            (g_i: task i's meta-gradient, MAML / FOMAML / Reptile / ProtoNet)

so ``W`` processes can each take ``T / W`` tasks, compute the mean of their own ``g_i``, and average
those means with one all-reduce: ``1/W sum_r (W/T sum_{i in r} g_i) = g``. Every process then takes
the same optimizer step from the same parameters, so the copies never drift apart. What travels is
one vector the size of the model per step (plus a few numbers for the progress bar), never the
tasks or the adapted weights.

:func:`from_env` reads what ``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and starts a
process group: ``gloo`` on the CPU, ``nccl`` on CUDA GPUs (one GPU per process). Without
``torchrun`` it returns a one-process group (like :data:`SINGLE`, the default of the training
functions), with which every hook below does nothing, so one process runs exactly the code it ran before. A :class:`TaskGroup` gives the training functions of
:mod:`course_lib.experiments` what they need:

* :meth:`TaskGroup.local_tasks` — ``T / W`` tasks per process; a clear error when ``W`` does not divide ``T``;
* :meth:`TaskGroup.seed` — per-rank seeds for the task samplers (rank 0 keeps the 1-process seed),
  so no two ranks draw the same tasks;
* :meth:`TaskGroup.wrap` — broadcasts rank 0's parameters once, then averages the gradients over
  the ranks right before every ``optimizer.step()`` (a step pre-hook: the optimizer is unchanged);
* :meth:`TaskGroup.step_fn` — averages the numbers a step reports (loss, accuracy) over the ranks;
* :meth:`TaskGroup.checkpoint_path` — rank 0 writes the checkpoint that notebooks reload; rank ``r > 0``
  keeps only its own resume file ``<name>.rank<r>.pt`` beside it (its random streams differ);
* :meth:`TaskGroup.train_loop` — :func:`course_lib.training.train_loop` with these hooks, after checking
  that every rank resumes from the same step (:meth:`TaskGroup.check_resume`).

Resuming needs every rank's file (on several machines: a shared folder, or the same per-machine folder).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist

from course_lib.runtime import get_device
from course_lib.training import History, train_loop

__all__ = ["SINGLE", "MetaBatchError", "TaskGroup", "all_average_", "from_env", "shutdown"]

#: distance between the seeds of consecutive ranks: far from the nearby seeds (seed + 1, seed + 2) the training
#: functions also use, so no rank's stream repeats another's
RANK_SEED_STRIDE = 1_000_003


class MetaBatchError(ValueError):
    """The meta-batch does not divide among the processes."""


def all_average_(tensors: list[torch.Tensor], world_size: int) -> None:
    """Replace each tensor by its mean over the ``world_size`` ranks, in place, with one all-reduce.

    The tensors (any shapes, one device and dtype) are flattened into one buffer ``[sum of numels]``,
    summed across ranks, divided by ``world_size`` and copied back.
    """
    if world_size == 1 or not tensors:
        return
    flat = torch.cat([t.reshape(-1) for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= world_size
    offset = 0
    for t in tensors:
        t.copy_(flat[offset:offset + t.numel()].view_as(t))
        offset += t.numel()


@dataclass(frozen=True)
class TaskGroup:
    """This process's place among the ``world_size`` processes sharing a meta-batch.

    ``rank`` 0 is the main process (progress bar, checkpoint, results); ``device`` is where this
    process computes (on CUDA: ``cuda:<LOCAL_RANK>``).
    """

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def local_tasks(self, meta_batch_size: int) -> int:
        """Tasks this process handles per meta-step: ``meta_batch_size / world_size``."""
        if meta_batch_size % self.world_size:
            lower = meta_batch_size - meta_batch_size % self.world_size
            near = " or ".join(str(n) for n in sorted({lower or self.world_size, lower + self.world_size}))
            raise MetaBatchError(
                f"the meta-batch of {meta_batch_size} tasks does not divide among {self.world_size} processes: "
                f"every process must take the same number of tasks, or the averaged gradient is not the "
                f"meta-batch mean. Use a meta-batch that is a multiple of {self.world_size} (e.g. {near}) or "
                "another number of processes."
            )
        return meta_batch_size // self.world_size

    def seed(self, seed: int) -> int:
        """Seed of this rank's task sampler: ``seed`` on rank 0, ``seed + rank * RANK_SEED_STRIDE`` elsewhere."""
        return seed + self.rank * RANK_SEED_STRIDE

    def wrap(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """Make ``optimizer.step()`` use gradients averaged over the ranks (returns the same optimizer).

        Broadcasts rank 0's parameters now, so every rank starts from the same point, and registers a
        step pre-hook that all-reduces the ``.grad`` of every parameter (a missing gradient counts
        as zero). With one process nothing is done.
        """
        if self.world_size == 1:
            return optimizer
        params = [p for group in optimizer.param_groups for p in group["params"]]
        with torch.no_grad():
            for p in params:
                dist.broadcast(p.data, src=0)

        def average_gradients(opt, args, kwargs):
            grads = []
            for p in params:
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
                grads.append(p.grad)
            all_average_(grads, self.world_size)

        optimizer.register_step_pre_hook(average_gradients)
        return optimizer

    def step_fn(self, step_fn: Callable[[int], dict]) -> Callable[[int], dict]:
        """``step_fn`` whose reported numbers are averaged over the ranks (with one process: itself)."""
        if self.world_size == 1:
            return step_fn

        def averaged(step: int) -> dict:
            out = step_fn(step)
            keys = sorted(out)
            values = torch.tensor([float(out[k]) for k in keys], dtype=torch.float64, device=self.device)
            all_average_([values], self.world_size)
            return dict(zip(keys, values.tolist()))

        return averaged

    def check_resume(self, path: Path | None) -> None:
        """Raise on every rank unless all ranks' checkpoint files hold the same step (or none exists).

        Ranks that resumed at different steps would wait for each other forever in the all-reduce.
        """
        if self.world_size == 1 or path is None:
            return
        step = int(torch.load(path, map_location="cpu", weights_only=False)["step"]) if path.exists() else -1
        bounds = torch.tensor([step, -step], dtype=torch.float64, device=self.device)
        dist.all_reduce(bounds, op=dist.ReduceOp.MAX)
        if bounds[0] != -bounds[1]:
            first, last = (int(-bounds[1]), int(bounds[0]))
            raise RuntimeError(
                f"the ranks' checkpoints disagree: rank {self.rank} is at step {max(step, 0)}, the ranks span "
                f"{max(first, 0)} to {last} (a missing file counts as step 0; was the run started with another "
                f"number of processes?). Resume with the number of processes that wrote them, or delete {path.name} "
                "and its .rank<r>.pt files beside it to start over."
            )

    def checkpoint_path(self, path: str | os.PathLike | None) -> Path | None:
        """Rank 0: ``path`` itself; rank ``r > 0``: ``<stem>.rank<r>.pt`` beside it (None stays None)."""
        if path is None or self.is_main:
            return None if path is None else Path(path)
        path = Path(path)
        return path.with_name(f"{path.stem}.rank{self.rank}{path.suffix}")

    def train_loop(self, step_fn: Callable[[int], dict], num_steps: int, *, checkpoint_path=None,
                   progress: bool = True, **kwargs) -> History:
        """:func:`course_lib.training.train_loop` for this rank: averaged :meth:`step_fn`, this rank's
        :meth:`checkpoint_path` (checked with :meth:`check_resume`), a progress bar on rank 0 only.

        Returns once every rank has written its last checkpoint (a barrier), so whatever runs next on
        any rank finds all the ranks' files complete.
        """
        path = self.checkpoint_path(checkpoint_path)
        if kwargs.get("resume", True):
            self.check_resume(path)
        history = train_loop(self.step_fn(step_fn), num_steps, checkpoint_path=path,
                             progress=progress and self.is_main, **kwargs)
        if self.world_size > 1:
            dist.barrier()
        return history


#: one process, no communication: every hook is the identity
SINGLE = TaskGroup()


def from_env(device: str | torch.device | None = None) -> TaskGroup:
    """The :class:`TaskGroup` of this process, starting the process group if ``torchrun`` launched it.

    ``device``: as :func:`course_lib.runtime.get_device` (``COURSE_DEVICE``, else CUDA > MPS > CPU);
    on CUDA each process takes GPU ``LOCAL_RANK`` and the ``nccl`` backend, elsewhere ``gloo``.
    Without ``WORLD_SIZE`` > 1 in the environment: one process, no process group.
    """
    device = get_device(str(device) if device is not None else None)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return TaskGroup(0, 1, device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"process {rank} has LOCAL_RANK {local_rank} but this machine sees {torch.cuda.device_count()} "
                "GPU(s): start at most one process per GPU (torchrun --nproc_per_node <number of GPUs>)."
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    elif device.type == "mps":
        raise RuntimeError("torch.distributed has no backend for Apple MPS: run several processes with "
                           "COURSE_DEVICE=cpu, or one process on MPS.")
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return TaskGroup(rank, world_size, device)


def shutdown() -> None:
    """Close the process group (if one was started); call it once at the end of a run."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
