"""Episodic training of the metric-based models of chapter 05 (and pair training for Siamese nets).

Every episodic model (ProtoNet, MatchingNet, RelationNet) has the same interface:
``scores = model(support_x, support_y, query_x, n_way)`` and ``loss = model.loss(scores, query_y)``.
One training step = sample an episode (or ``episodes_per_step``), score its **query** set, step Adam.
The learning rate is halved at 50 % and 75 % of the run (Snell et al. halve it every 2000 episodes).
Checkpoints go to ``cache_dir()/ch05/<name>.pt``: re-running a notebook reloads finished runs.
On the CPU the models are trained with channels-last weights (see :func:`to_training_device`).
"""

from __future__ import annotations

import re
import time

import torch
from torch import Tensor, nn

from course_lib.distributed import SINGLE, TaskGroup
from course_lib.runtime import cache_dir
from course_lib.training import History

__all__ = ["checkpoint_path", "to_training_device", "train_episodic", "train_siamese"]


def checkpoint_path(name: str, num_steps: int):
    """``cache_dir()/ch05/<name>-<num_steps>.pt`` (the step count keeps budgets apart)."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", name):
        raise ValueError(f"checkpoint name must be letters, digits, '_', '-', '.', got {name!r}")
    return cache_dir() / "ch05" / f"{name}-{num_steps}.pt"


def to_training_device(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Move ``model`` to ``device`` (in place, returned); on the CPU also store its 4-D (conv)
    weights channels-last.

    With channels-last weights PyTorch's oneDNN convolutions run on ``[B, H, W, C]`` memory, which
    makes a Conv-4 training step on a batch of a hundred images about 25 % faster on the CPU. The
    results agree with the default layout up to floating-point rounding. (MAML's small per-task
    batches are *slower* channels-last on the CPU, which is why this is done here and not in
    :class:`~course_lib.nets.Conv4`.)
    """
    device = torch.device(device)
    layout = torch.channels_last if device.type == "cpu" else torch.preserve_format
    return model.to(device, memory_format=layout)


def _optimizer_and_schedule(model: nn.Module, lr: float, num_steps: int):
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    milestones = sorted({max(1, num_steps // 2), max(1, (3 * num_steps) // 4)})
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=milestones, gamma=0.5)
    return optimizer, schedule


def train_episodic(
    model: nn.Module,
    sampler,
    num_steps: int,
    *,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    name: str | None = None,
    support_loss: bool = False,
    resume: bool = True,
    desc: str | None = None,
    progress: bool = True,
    episodes_per_step: int = 1,
    group: TaskGroup = SINGLE,
) -> History:
    """Train ``model`` for ``num_steps`` steps on episodes from ``sampler`` (an ``EpisodeSampler``).

    name : checkpoint name (None: no checkpoint); see :func:`checkpoint_path`.
    support_loss : reproduce a published bug: compute the loss on the **support** set, the
        examples that built the classifier, instead of the query set (only for the exercise).
    episodes_per_step : the meta-batch: each step minimises the mean loss of this many episodes
        (1 as in Snell et al.); with ``group`` (:mod:`course_lib.distributed`) every process takes its
        share of them, from its own ``sampler`` (seed it with ``group.seed(...)``).
    Records per step: ``loss``, ``acc`` (on the set the loss used), and ``time`` (seconds).
    """
    n_way, local = sampler.n_way, group.local_tasks(episodes_per_step)

    def one_episode() -> tuple[Tensor, float]:
        ep = sampler.sample().to(device)
        if support_loss:
            scores = model(ep.support_x, ep.support_y, ep.support_x, n_way)
            target = ep.support_y
        else:
            scores = model(ep.support_x, ep.support_y, ep.query_x, n_way)
            target = ep.query_y
        return model.loss(scores, target), (scores.argmax(dim=1) == target).float().mean().item()

    def loss_and_accuracy() -> tuple[Tensor, float]:
        losses, accuracies = zip(*(one_episode() for _ in range(local)))
        return sum(losses) / local, sum(accuracies) / local

    return _fit(model, sampler, loss_and_accuracy, num_steps, lr=lr, device=device, name=name, resume=resume,
                desc=desc or name or "meta-train", progress=progress, group=group)


def train_siamese(
    model: nn.Module,
    pair_sampler,
    num_steps: int,
    *,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    name: str | None = None,
    resume: bool = True,
    desc: str | None = None,
    progress: bool = True,
) -> History:
    """Train a :class:`~course_lib.algorithms.siamese.SiameseNet` on verification pairs.

    pair_sampler : a :class:`~course_lib.algorithms.siamese.PairSampler`. Records ``loss``, pair
    accuracy ``acc`` and ``time`` per step.
    """
    def loss_and_accuracy() -> tuple[Tensor, float]:
        x1, x2, same = (t.to(device) for t in pair_sampler.sample())
        return model.pair_loss(x1, x2, same)

    return _fit(model, pair_sampler, loss_and_accuracy, num_steps, lr=lr, device=device, name=name, resume=resume,
                desc=desc or name or "siamese", progress=progress)


def _fit(model: nn.Module, sampler, loss_and_accuracy, num_steps: int, *, lr: float, device, name: str | None,
         resume: bool, desc: str, progress: bool, group: TaskGroup = SINGLE) -> History:
    """Adam with a step schedule on ``loss_and_accuracy() -> (loss, acc)``, checkpointed as ``name``."""
    to_training_device(model, device)
    optimizer, schedule = _optimizer_and_schedule(model, lr, num_steps)
    group.wrap(optimizer)

    def step_fn(step: int) -> dict:
        t0 = time.perf_counter()
        loss, acc = loss_and_accuracy()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.item(), "acc": acc, "time": time.perf_counter() - t0}

    state = {"model": model, "optimizer": optimizer, "schedule": schedule, "sampler": sampler}
    path = checkpoint_path(name, num_steps) if name else None
    return group.train_loop(step_fn, num_steps, state=state, checkpoint_path=path, resume=resume, desc=desc,
                            progress=progress)
