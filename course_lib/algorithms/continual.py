"""Continual learners: a shared Conv-4 body trained on a stream of tasks, one task after another.

All learners get the same body, optimiser (a fresh Adam per task) and number of steps per task;
the stream is a :class:`course_lib.data.task_streams.TaskStream`.

* :class:`NaiveFineTuning` — one linear head per task on a shared body; trains body and the
  current head on the current task only. Earlier heads are left as they were, but the body they
  read from keeps moving: this is where catastrophic forgetting comes from.
* :class:`ExperienceReplay` — the same, plus every step also trains on a batch drawn from the
  memory of earlier tasks (each replayed image through its own task's head). Chaudhry et al. 2019
  ("On Tiny Episodic Memories in Continual Learning") show that this simple baseline is strong.
* :class:`SequentialProtoNet` — a Prototypical Network (Snell et al. 2017) trained task by task:
  on each task the body is trained with few-shot episodes of that task only (the prototype loss on
  the query set), and the head of any task is rebuilt in closed form from its memory (class means
  of the embedded memory drawings), so no head can go stale. It never replays the memory during
  training; the memory only builds heads.

What it is not: an *online meta-learner*. FTML (Finn et al. 2019, "Online Meta-Learning", ICML)
keeps every past task's data and, after each new task, moves a MAML initialisation towards the
best one for *all* tasks seen so far (follow the leader), with MAML steps on tasks sampled from that
growing buffer; its memory grows with t. OML (Javed & White 2019, "Meta-Learning Representations for Continual
Learning", NeurIPS) meta-trains, on separate classes and before the stream, a representation whose
head is updated online by SGD, with second-order gradients through those online steps. Both
meta-learn *how to learn a stream*; :class:`SequentialProtoNet` only applies an episodic
(metric-based meta-learning) loss to each task in turn.

Shapes: images ``[B, 1, H, W]``, labels ``[B]`` in ``0..C_t-1`` (labels are per task).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.algorithms.protonet import proto_scores, prototypes
from course_lib.checks import check_count
from course_lib.data.episodes import EpisodeSampler
from course_lib.data.task_streams import Task, TaskStream
from course_lib.nets import Conv4

__all__ = [
    "ContinualLearner",
    "ExperienceReplay",
    "NaiveFineTuning",
    "SequentialProtoNet",
    "prototype_accuracy",
    "prototype_logits",
]


def prototype_logits(support_z: Tensor, support_y: Tensor, query_z: Tensor, num_classes: int | None = None) -> Tensor:
    """Logits of a prototype head: minus the squared Euclidean distance to each class mean.

    support_z [S, D] embedded support, support_y [S] labels 0..N-1, query_z [Q, D] -> logits [Q, N].
    ``logits[q, k] = -|| query_z[q] - c_k ||^2`` with ``c_k`` the mean of the class-k support
    embeddings: ProtoNet's head (:mod:`course_lib.algorithms.protonet`), with N taken from the
    labels unless ``num_classes`` is given. Every class 0..N-1 needs at least one support example.
    """
    n = int(support_y.max().item()) + 1 if num_classes is None else int(num_classes)
    return proto_scores(query_z, prototypes(support_z, support_y, n))


@torch.no_grad()
def prototype_accuracy(body: nn.Module, task: Task, device: torch.device | str = "cpu") -> float:
    """Accuracy on ``task``'s test drawings of a prototype head built from ``task``'s memory.

    ``body.features`` (or ``body`` itself) embeds images ``[B, 1, H, W] -> [B, D]``. The memory and
    test drawings are embedded in one batch (the Conv-4's BatchNorm always uses batch statistics).
    Works for any body, so it also *probes* what a fine-tuned representation still knows.
    """
    embed = getattr(body, "features", body)
    x = torch.cat([task.memory_x, task.test_x]).to(device)
    z = embed(x)
    s = task.memory_x.shape[0]
    logits = prototype_logits(z[:s], task.memory_y.to(device), z[s:], task.num_classes)
    return (logits.argmax(-1).cpu() == task.test_y).float().mean().item()


class ContinualLearner(nn.Module):
    """Base class: a Conv-4 body shared by all tasks, trained task after task.

    :meth:`learn_task` runs ``steps`` Adam steps on ``stream[t]``; subclasses say what one step's loss
    is (:meth:`training_losses`) and how to test (:meth:`accuracy`, test accuracy on ``stream[t]`` now). ``self.seen`` lists the tasks already
    learned (their memory is available to learners that use one).
    """

    name = "learner"

    def __init__(
        self,
        stream: TaskStream,
        *,
        hidden: int = 64,
        lr: float = 1e-3,
        batch_size: int = 64,
        device: torch.device | str = "cpu",
        seed: int = 0,
    ) -> None:
        super().__init__()
        if not isinstance(stream, TaskStream):
            raise TypeError(f"stream must be a TaskStream, got {type(stream).__name__}")
        check_count("batch_size", batch_size)
        if not (lr > 0 and math.isfinite(lr)):
            raise ValueError(f"lr must be a positive number, got {lr!r}")
        self.stream = stream
        self.lr = lr
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.seed = seed
        torch.manual_seed(seed)
        self.body = Conv4(None, hidden=hidden)
        self.generator = torch.Generator().manual_seed(seed)
        self.seen: list[int] = []

    def _check_task(self, t: int) -> Task:
        if not (isinstance(t, int) and 0 <= t < len(self.stream)):
            raise IndexError(f"task index {t!r} is out of range: the stream has tasks 0..{len(self.stream) - 1}")
        return self.stream[t]

    def _batch(self, task: Task, size: int) -> tuple[Tensor, Tensor]:
        """A random batch (with replacement across steps, without within a batch) of training drawings."""
        n = task.train_x.shape[0]
        idx = torch.randperm(n, generator=self.generator)[: min(size, n)]
        return task.train_x[idx].to(self.device), task.train_y[idx].to(self.device)

    def learn_task(self, t: int, steps: int) -> list[float]:
        """Train on task t for ``steps`` Adam steps (a fresh optimiser per task). Returns the losses."""
        task = self._check_task(t)
        check_count("steps", steps, 0)
        self.train()
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        losses = []
        for _, loss in zip(range(steps), self.training_losses(task)):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if t not in self.seen:
            self.seen.append(t)
        return losses

    def training_losses(self, task: Task) -> Iterator[Tensor]:  # pragma: no cover - abstract
        """Yields the loss of each training step on ``task`` (a 0-d tensor; computed when asked for)."""
        raise NotImplementedError

    def accuracy(self, t: int) -> float:  # pragma: no cover - abstract
        """Accuracy on ``stream[t]``'s test drawings now (a fraction in [0, 1])."""
        raise NotImplementedError

    @torch.no_grad()
    def probe_accuracy(self, t: int) -> float:
        """Accuracy on task t with a prototype head built from its memory on top of *this* body."""
        self.eval()
        return prototype_accuracy(self.body, self._check_task(t), self.device)


class NaiveFineTuning(ContinualLearner):
    """Sequential fine-tuning: shared body + one linear head per task, trained on the current task only.

    ``accuracy(t)`` uses head t on task t's test drawings (task identity is given).
    """

    name = "naive fine-tuning"

    def __init__(self, stream: TaskStream, **kwargs) -> None:
        super().__init__(stream, **kwargs)
        dim = self.body.feature_dim
        self.heads = nn.ModuleList(nn.Linear(dim, c) for c in stream.num_classes)
        self.to(self.device)

    def logits(self, t: int, x: Tensor) -> Tensor:
        """Logits ``[B, C_t]`` of images ``x [B, 1, H, W]`` for task t."""
        return self.heads[t](self.body.features(x))

    def training_losses(self, task: Task) -> Iterator[Tensor]:
        """Random batches of ``task``'s training drawings, each giving :meth:`step_loss` (body and head t train)."""
        while True:
            x, y = self._batch(task, self.batch_size)
            yield self.step_loss(task.index, x, y)

    def step_loss(self, t: int, x: Tensor, y: Tensor) -> Tensor:
        """The loss of one training step on a batch of task t (cross-entropy through head t)."""
        return F.cross_entropy(self.logits(t, x), y)

    @torch.no_grad()
    def accuracy(self, t: int) -> float:
        task = self._check_task(t)
        self.eval()
        pred = self.logits(t, task.test_x.to(self.device)).argmax(-1).cpu()
        return (pred == task.test_y).float().mean().item()


class ExperienceReplay(NaiveFineTuning):
    """Naive fine-tuning plus replay of a small episodic memory of the earlier tasks.

    The memory holds ``stream.memory_per_class`` training drawings of every character of every
    task already learned (a class-balanced memory, filled when a task ends). Each step adds
    the cross-entropy of a batch of ``replay_batch_size`` memory items (each through its own task's
    head) to the current-task loss. The current and replayed images go through the body in one batch.
    """

    name = "experience replay"

    def __init__(self, stream: TaskStream, *, replay_batch_size: int | None = None, **kwargs) -> None:
        super().__init__(stream, **kwargs)
        size = self.batch_size if replay_batch_size is None else replay_batch_size
        self.replay_batch_size = check_count("replay_batch_size", size)

    def memory(self) -> tuple[Tensor, Tensor, Tensor]:
        """The memory now: images ``[S, 1, H, W]``, labels ``[S]``, task ids ``[S]`` (tasks in ``self.seen``)."""
        tasks = [self.stream[t] for t in self.seen]
        if not tasks:
            empty = self.stream[0].memory_x[:0]
            return empty, torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)
        x = torch.cat([task.memory_x for task in tasks])
        y = torch.cat([task.memory_y for task in tasks])
        ids = torch.cat([torch.full_like(task.memory_y, task.index) for task in tasks])
        return x, y, ids

    def step_loss(self, t: int, x: Tensor, y: Tensor) -> Tensor:
        mem_x, mem_y, mem_t = self.memory()
        mask = mem_t != t
        mem_x, mem_y, mem_t = mem_x[mask], mem_y[mask], mem_t[mask]
        if mem_x.shape[0] == 0:
            return super().step_loss(t, x, y)
        idx = torch.randint(mem_x.shape[0], (self.replay_batch_size,), generator=self.generator)
        rx, ry, rt = mem_x[idx].to(self.device), mem_y[idx].to(self.device), mem_t[idx]
        z = self.body.features(torch.cat([x, rx]))
        current = F.cross_entropy(self.heads[t](z[: x.shape[0]]), y)
        zr = z[x.shape[0] :]
        replay = zr.new_zeros(())
        for task_id in rt.unique().tolist():  # each replayed item through its own head
            sel = (rt == task_id).to(self.device)
            replay = replay + F.cross_entropy(self.heads[task_id](zr[sel]), ry[sel], reduction="sum")
        return current + replay / rt.numel()


class SequentialProtoNet(ContinualLearner):
    """A Prototypical Network trained on one task after another; heads are class means of the memory.

    On task t the body is trained with N-way K-shot episodes drawn from task t's training
    drawings (``n_way = min(n_way, C_t)``, ``K = stream.memory_per_class`` so that training
    matches the test-time situation, ``q_query`` query drawings per class), minimising the
    Prototypical-Network cross-entropy on the query set. ``accuracy(t)`` embeds task t's memory
    and test drawings and classifies by the nearest class mean (:func:`prototype_accuracy`).
    """

    name = "sequential ProtoNet"

    def __init__(self, stream: TaskStream, *, n_way: int = 16, q_query: int = 2, **kwargs) -> None:
        super().__init__(stream, **kwargs)
        check_count("n_way", n_way, 2)
        check_count("q_query", q_query)
        too_small = [t.name for t in stream if t.num_classes < 2]
        if too_small:
            raise ValueError(f"prototype episodes need >= 2 classes per task; tasks with fewer: {too_small}")
        k = stream.memory_per_class
        if k + q_query > stream.train_per_class:
            raise ValueError(
                f"episodes need memory_per_class + q_query = {k} + {q_query} training drawings per class, "
                f"but the stream has only train_per_class={stream.train_per_class}; lower q_query"
            )
        self.n_way = n_way
        self.q_query = q_query
        self.to(self.device)

    def training_losses(self, task: Task) -> Iterator[Tensor]:
        """Episodes of ``task``'s training drawings, each giving the prototype loss on its QUERY set."""
        sampler = EpisodeSampler(
            task.train_images,
            n_way=min(self.n_way, task.num_classes),
            k_shot=self.stream.memory_per_class,
            q_query=self.q_query,
            seed=int(torch.randint(2**31 - 1, (1,), generator=self.generator)),
        )
        while True:
            episode = sampler.sample().to(self.device)
            s = episode.support_x.shape[0]
            z = self.body.features(torch.cat([episode.support_x, episode.query_x]))
            logits = prototype_logits(z[:s], episode.support_y, z[s:])
            yield F.cross_entropy(logits, episode.query_y)  # on the QUERY set

    @torch.no_grad()
    def accuracy(self, t: int) -> float:
        self.eval()
        return prototype_accuracy(self.body, self._check_task(t), self.device)
