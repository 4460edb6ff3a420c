"""Lifelong (continual) learning on a stream of tasks, and a meta-learning answer to forgetting.

The setting
-----------
Tasks arrive one after another: ``task 0, task 1, ..., task T-1``. While it trains on task ``t``
the learner sees only task ``t``'s data (plus, for some learners, a small *episodic memory* of
earlier tasks). After each task we test it on **every** task, which fills the accuracy matrix of
Lopez-Paz & Ranzato (2017, "Gradient Episodic Memory for Continual Learning", NeurIPS)::

    R[i, j] = test accuracy on task j after training on tasks 0..i         R: [T, T]

and ``b[j]``, the accuracy on task j before any training (random initialisation).

The stream used in the course: every Omniglot alphabet is one task, a classification problem over
its characters (17 to 47 classes). Each character's 20 drawings are split into training drawings
and held-out test drawings; the first ``memory_per_class`` training drawings of each character are
what an episodic memory may keep. Task identity is known at test time ("task-incremental" or
"multi-head" protocol): the learner is told which alphabet a test image comes from.

The learners (same Conv-4 body, same optimiser, same number of steps per task)
-------------------------------------------------------------------------------
* :class:`NaiveFineTuning` — one linear head per task on a shared body; trains body and the
  current head on the current task only. Earlier heads are left as they were, but the body they
  read from keeps moving: this is where catastrophic forgetting comes from.
* :class:`ExperienceReplay` — the same, plus every step also trains on a batch drawn from the
  memory of earlier tasks (each replayed image through its own task's head). Chaudhry et al. 2019
  ("On Tiny Episodic Memories in Continual Learning") show that this simple baseline is strong.
* :class:`OnlinePrototypeLearner` — the meta-learning answer: a *meta-learned representation with
  a fast-adapting head*, in the spirit of OML (Javed & White 2019, "Meta-Learning Representations
  for Continual Learning", NeurIPS). On each task the body is meta-trained with few-shot episodes
  (the Prototypical-Network loss of Snell et al. 2017, computed on the query set); the head of
  any task is rebuilt in closed form from its memory (class means of ``memory_per_class``
  embedded drawings), so no head can go stale. It sees the same current-task data as the naive
  learner and never replays the memory during training; the memory is used only to build heads.

Why this method and not follow-the-meta-leader (FTML, Finn et al. 2019, "Online Meta-Learning",
ICML): FTML re-runs second-order MAML over *all* tasks seen so far at every round, so its cost per
round grows with t and it stores every past task's data; OML meta-trains its representation
offline on a separate set of classes with second-order updates through many online steps. Both
are far beyond a CPU budget of minutes. A prototype head needs no inner loop (first-order, constant
cost per step) and it adapts instantly, which is exactly the property OML meta-learns for.

Shapes: images ``[B, 1, 28, 28]``, labels ``[B]`` in ``0..C_t-1`` (labels are per task).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from course_lib.analysis.continual_metrics import (
    average_accuracy,
    backward_transfer,
    first_task_drop,
    forgetting,
    forward_transfer,
)
from course_lib.algorithms.protonet import proto_scores, prototypes
from course_lib.data.episodes import EpisodeSampler
from course_lib.nets import Conv4

__all__ = [
    "ContinualLearner",
    "ExperienceReplay",
    "NaiveFineTuning",
    "OnlinePrototypeLearner",
    "StreamResult",
    "Task",
    "TaskStream",
    "compare_learners",
    "plot_task_curves",
    "prototype_accuracy",
    "prototype_logits",
    "run_stream",
    "summarize",
]


# --------------------------------------------------------------------------------------------
# The stream of tasks
# --------------------------------------------------------------------------------------------


@dataclass
class Task:
    """One task of the stream: classify the characters of one alphabet.

    Attributes
    ----------
    index : int              position in the stream (0 = first task)
    name : str               the alphabet, e.g. "Greek"
    class_ids : LongTensor [C_t]   indices of the task's characters in the source character set
    characters : list[str]   names of the C_t characters (label c is ``characters[c]``)
    train_x [C_t*M_tr, 1, H, W], train_y [C_t*M_tr]   training drawings, labels 0..C_t-1
    test_x  [C_t*M_te, 1, H, W], test_y  [C_t*M_te]   held-out drawings of the same characters
    memory_x [C_t*m, 1, H, W], memory_y [C_t*m]       the first m training drawings of each
        character: what an episodic memory keeps of this task (a subset of the training set)
    train_images [C_t, M_tr, H, W]   the training drawings grouped by class (for episode samplers)
    """

    index: int
    name: str
    class_ids: Tensor
    characters: list[str]
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    memory_x: Tensor
    memory_y: Tensor
    train_images: Tensor

    @property
    def num_classes(self) -> int:
        """C_t, the number of characters (classes) of this task."""
        return int(self.class_ids.numel())

    def __repr__(self) -> str:
        return (
            f"Task({self.index}: {self.name!r}, {self.num_classes} classes, "
            f"train {self.train_x.shape[0]}, test {self.test_x.shape[0]}, memory {self.memory_x.shape[0]})"
        )


def _flatten(images: Tensor) -> tuple[Tensor, Tensor]:
    """``[C, M, H, W] -> (x [C*M, 1, H, W], y [C*M])`` with y = class index, grouped by class."""
    c, m = images.shape[:2]
    x = images.reshape(c * m, 1, *images.shape[2:])
    y = torch.arange(c).repeat_interleave(m)
    return x, y


class TaskStream(Sequence):
    """Tasks formed by the alphabets of a character set, in a fixed order.

    Parameters
    ----------
    images : Tensor [C, M, H, W]      all characters, M drawings each (Omniglot: M = 20)
    alphabets : list[str]             alphabet of each character (len C)
    characters : list[str] or None    name of each character (len C), for display
    order : None | "shuffle" | list[str]
        None: alphabets in order of first appearance; "shuffle": a random order drawn with
        ``seed``; a list: exactly these alphabets in this order (a subset is allowed).
    train_per_class : int   drawings per character used for training; the rest are test drawings
    test_per_class : int or None   use only this many of the remaining drawings as the test set
        (None: all of them). Fewer test drawings make testing cheaper and noisier.
    memory_per_class : int  drawings per character an episodic memory keeps (<= train_per_class)
    seed : int              which drawings go to train / test / memory (and the shuffled order)

    Iterating yields the :class:`Task` objects in stream order; ``stream[t]``, ``len(stream)``,
    ``stream.names`` work as expected. Every character belongs to exactly one task.
    """

    def __init__(
        self,
        images: Tensor,
        alphabets: Sequence[str],
        characters: Sequence[str] | None = None,
        *,
        order: None | str | Sequence[str] = None,
        train_per_class: int = 15,
        test_per_class: int | None = None,
        memory_per_class: int = 2,
        seed: int = 0,
    ) -> None:
        if not isinstance(images, Tensor) or images.dim() != 4:
            shape = list(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a tensor [characters, drawings, H, W], got {shape}")
        num_chars, per_class = images.shape[:2]
        if len(alphabets) != num_chars:
            raise ValueError(f"alphabets has {len(alphabets)} entries but images has {num_chars} characters")
        if characters is None:
            characters = [f"{a}/character{i:03d}" for i, a in enumerate(alphabets)]
        if len(characters) != num_chars:
            raise ValueError(f"characters has {len(characters)} entries but images has {num_chars} characters")
        if not (isinstance(train_per_class, int) and 1 <= train_per_class < per_class):
            raise ValueError(
                f"train_per_class={train_per_class!r} is not possible: each character has {per_class} drawings, "
                f"so choose 1..{per_class - 1} (the rest are the test drawings)"
            )
        left = per_class - train_per_class
        if test_per_class is None:
            test_per_class = left
        if not (isinstance(test_per_class, int) and 1 <= test_per_class <= left):
            raise ValueError(
                f"test_per_class={test_per_class!r} is not possible: with train_per_class={train_per_class} "
                f"there are {left} drawings left per character, so choose 1..{left} (or None for all)"
            )
        if not (isinstance(memory_per_class, int) and 1 <= memory_per_class <= train_per_class):
            raise ValueError(
                f"memory_per_class={memory_per_class!r} is not possible: choose 1..{train_per_class} "
                f"(the memory keeps some of the {train_per_class} training drawings of each character)"
            )
        available = list(dict.fromkeys(alphabets))  # first-appearance order, unique
        generator = torch.Generator().manual_seed(seed)
        if order is None:
            names = available
        elif isinstance(order, str):
            if order != "shuffle":
                raise ValueError(f"order must be None, 'shuffle' or a list of alphabet names, got {order!r}")
            names = [available[i] for i in torch.randperm(len(available), generator=generator).tolist()]
        else:
            names = list(order)
            unknown = [n for n in names if n not in available]
            if unknown:
                raise ValueError(f"unknown alphabet(s) {unknown}; available: {available}")
            if len(set(names)) != len(names):
                raise ValueError(f"order lists an alphabet twice: {names}")
            if not names:
                raise ValueError("order is empty: a stream needs at least one task")

        self.train_per_class = train_per_class
        self.test_per_class = test_per_class
        self.memory_per_class = memory_per_class
        self.seed = seed
        self.tasks: list[Task] = []
        alphabet_array = np.asarray(list(alphabets), dtype=object)
        for index, name in enumerate(names):
            class_ids = torch.as_tensor(np.flatnonzero(alphabet_array == name), dtype=torch.long)
            block = images[class_ids]  # [C_t, M, H, W]
            # a fresh random order of the drawings of every character
            perm = torch.argsort(torch.rand(block.shape[:2], generator=generator), dim=1)
            block = torch.gather(block, 1, perm[:, :, None, None].expand_as(block))
            train_images = block[:, :train_per_class].contiguous()
            train_x, train_y = _flatten(train_images)
            test_x, test_y = _flatten(block[:, train_per_class : train_per_class + test_per_class])
            memory_x, memory_y = _flatten(train_images[:, :memory_per_class])
            self.tasks.append(
                Task(
                    index=index,
                    name=str(name),
                    class_ids=class_ids,
                    characters=[characters[i] for i in class_ids.tolist()],
                    train_x=train_x,
                    train_y=train_y,
                    test_x=test_x,
                    test_y=test_y,
                    memory_x=memory_x,
                    memory_y=memory_y,
                    train_images=train_images,
                )
            )

    @classmethod
    def from_charset(cls, charset, **kwargs) -> TaskStream:
        """Build the stream from a ``CharacterSet`` (``.images [C, 20, 28, 28]``, ``.alphabets``, ``.characters``)."""
        return cls(charset.images, charset.alphabets, getattr(charset, "characters", None), **kwargs)

    @property
    def names(self) -> list[str]:
        """The task names (alphabets) in stream order."""
        return [t.name for t in self.tasks]

    @property
    def num_classes(self) -> list[int]:
        """C_t of every task, in stream order."""
        return [t.num_classes for t in self.tasks]

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index):
        return self.tasks[index]

    def __iter__(self):
        return iter(self.tasks)

    def __repr__(self) -> str:
        parts = ", ".join(f"{t.name} ({t.num_classes})" for t in self.tasks)
        return (
            f"TaskStream({len(self)} tasks: {parts}; {self.train_per_class} train and {self.test_per_class} "
            f"test drawings per class, memory {self.memory_per_class} per class)"
        )


# --------------------------------------------------------------------------------------------
# Prototype head (closed-form, fast-adapting)
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Learners
# --------------------------------------------------------------------------------------------


class ContinualLearner(nn.Module):
    """Base class: a Conv-4 body shared by all tasks, trained task after task.

    Subclasses implement :meth:`learn_task` (train on ``stream[t]`` for ``steps`` steps) and
    :meth:`accuracy` (test accuracy on ``stream[t]`` now). ``self.seen`` lists the tasks already
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
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
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

    def learn_task(self, t: int, steps: int) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def accuracy(self, t: int) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    @torch.no_grad()
    def probe_accuracy(self, t: int) -> float:
        """Accuracy on task t with a prototype head built from its memory on top of *this* body."""
        self.eval()
        return prototype_accuracy(self.body, self._check_task(t), self.device)


def _check_steps(steps) -> int:
    if not (isinstance(steps, int) and steps >= 0):
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    return steps


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

    def _loss(self, t: int, x: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(self.logits(t, x), y)

    def learn_task(self, t: int, steps: int) -> list[float]:
        """Train body and head t for ``steps`` Adam steps on task t (fresh optimiser per task). Returns the losses."""
        task = self._check_task(t)
        _check_steps(steps)
        self.train()
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        losses = []
        for _ in range(steps):
            x, y = self._batch(task, self.batch_size)
            loss = self.step_loss(t, x, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if t not in self.seen:
            self.seen.append(t)
        return losses

    def step_loss(self, t: int, x: Tensor, y: Tensor) -> Tensor:
        """The loss of one training step on a batch of task t (cross-entropy through head t)."""
        return self._loss(t, x, y)

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
        self.replay_batch_size = self.batch_size if replay_batch_size is None else replay_batch_size
        if not (isinstance(self.replay_batch_size, int) and self.replay_batch_size >= 1):
            raise ValueError(f"replay_batch_size must be a positive integer, got {replay_batch_size!r}")

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
            return self._loss(t, x, y)
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


class OnlinePrototypeLearner(ContinualLearner):
    """Online meta-learning of a representation whose head adapts in closed form.

    On task t the body is trained with N-way K-shot episodes drawn from task t's training
    drawings (``n_way = min(n_way, C_t)``, ``K = stream.memory_per_class`` so that training
    matches the test-time situation, ``q_query`` query drawings per class), minimising the
    Prototypical-Network cross-entropy on the query set. ``accuracy(t)`` embeds task t's memory
    and test drawings and classifies by the nearest class mean (:func:`prototype_accuracy`).
    """

    name = "online meta-learning (prototypes)"

    def __init__(self, stream: TaskStream, *, n_way: int = 16, q_query: int = 2, **kwargs) -> None:
        super().__init__(stream, **kwargs)
        if not (isinstance(n_way, int) and n_way >= 2):
            raise ValueError(f"n_way must be an integer >= 2, got {n_way!r}")
        if not (isinstance(q_query, int) and q_query >= 1):
            raise ValueError(f"q_query must be a positive integer, got {q_query!r}")
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

    def learn_task(self, t: int, steps: int) -> list[float]:
        """Meta-train the body for ``steps`` episodes of task t (fresh Adam per task). Returns the losses."""
        task = self._check_task(t)
        _check_steps(steps)
        self.train()
        sampler = EpisodeSampler(
            task.train_images,
            n_way=min(self.n_way, task.num_classes),
            k_shot=self.stream.memory_per_class,
            q_query=self.q_query,
            seed=int(torch.randint(2**31 - 1, (1,), generator=self.generator)),
        )
        optimizer = torch.optim.Adam(self.parameters(), lr=self.lr)
        losses = []
        for _ in range(steps):
            episode = sampler.sample().to(self.device)
            s = episode.support_x.shape[0]
            z = self.body.features(torch.cat([episode.support_x, episode.query_x]))
            logits = prototype_logits(z[:s], episode.support_y, z[s:])
            loss = F.cross_entropy(logits, episode.query_y)  # on the QUERY set
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        if t not in self.seen:
            self.seen.append(t)
        return losses

    @torch.no_grad()
    def accuracy(self, t: int) -> float:
        self.eval()
        return prototype_accuracy(self.body, self._check_task(t), self.device)


# --------------------------------------------------------------------------------------------
# Running a stream
# --------------------------------------------------------------------------------------------


@dataclass
class StreamResult:
    """What one pass over the stream produced.

    matrix : ndarray [T, T]   R[i, j] = test accuracy on task j after learning tasks 0..i
    initial : ndarray [T]     b[j] = accuracy on task j before any training
    probe : ndarray [T, T] or None   same as ``matrix`` but with a prototype head from the memory
        on top of the learner's body (how much the *representation* still knows), if requested
    losses : list[list[float]]  training losses, one list per task
    """

    learner: str
    seed: int
    task_names: list[str]
    matrix: np.ndarray
    initial: np.ndarray
    probe: np.ndarray | None = None
    losses: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0

    def metrics(self) -> dict[str, float]:
        """ACC, BWT, FWT, forgetting and the first task's drop for this run (fractions, not %)."""
        return {
            "average_accuracy": average_accuracy(self.matrix),
            "backward_transfer": backward_transfer(self.matrix),
            "forward_transfer": forward_transfer(self.matrix, self.initial),
            "forgetting": forgetting(self.matrix),
            "first_task_drop": first_task_drop(self.matrix),
        }


def run_stream(
    learner: ContinualLearner,
    steps_per_task: int,
    *,
    probe: bool = False,
    progress: bool = True,
) -> StreamResult:
    """Train ``learner`` on its stream task after task, testing on every task after each one.

    Returns a :class:`StreamResult` with the full accuracy matrix ``[T, T]`` (the entries above
    the diagonal are tasks not learned yet: chance for a fresh linear head, few-shot accuracy for a
    prototype head). ``probe=True`` also fills ``result.probe`` with prototype-head accuracies.
    """
    _check_steps(steps_per_task)
    stream = learner.stream
    T = len(stream)
    start = time.perf_counter()
    initial = np.array([learner.accuracy(j) for j in range(T)])
    matrix = np.zeros((T, T))
    probes = np.zeros((T, T)) if probe else None
    losses = []
    bar = tqdm(range(T), desc=learner.name, disable=not progress, leave=False)
    for i in bar:
        losses.append(learner.learn_task(i, steps_per_task))
        for j in range(T):
            matrix[i, j] = learner.accuracy(j)
            if probes is not None:
                probes[i, j] = learner.probe_accuracy(j)
        bar.set_postfix(task=stream[i].name, acc=f"{matrix[i, i]:.2f}", first=f"{matrix[i, 0]:.2f}")
    return StreamResult(
        learner=learner.name,
        seed=learner.seed,
        task_names=stream.names,
        matrix=matrix,
        initial=initial,
        probe=probes,
        losses=losses,
        seconds=time.perf_counter() - start,
    )


def compare_learners(
    factories: dict[str, Callable[[int], ContinualLearner]],
    seeds: Sequence[int],
    steps_per_task: int,
    *,
    probe: bool | Sequence[str] = False,
    progress: bool = True,
) -> dict[str, list[StreamResult]]:
    """Run every learner (``factories[name](seed) -> learner``) on its stream once per seed.

    Returns ``{name: [StreamResult per seed]}``. The seed changes the initialisation and the
    batches; the stream (order, splits, memory) is whatever the factories build. ``probe``: True
    for all learners, or the names of the learners whose prototype-head probe should be recorded.
    """
    if not factories:
        raise ValueError("factories is empty: give at least one name -> learner factory")
    if not isinstance(probe, bool):
        unknown = [p for p in probe if p not in factories]
        if unknown:
            raise ValueError(f"probe names {unknown} are not among the learners {list(factories)}")
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed (two or more for a confidence interval)")
    results: dict[str, list[StreamResult]] = {name: [] for name in factories}
    runs = [(name, seed) for seed in seeds for name in factories]
    for name, seed in tqdm(runs, desc="streams", disable=not progress):
        learner = factories[name](seed)
        wants_probe = probe if isinstance(probe, bool) else name in probe
        result = run_stream(learner, steps_per_task, probe=wants_probe, progress=progress)
        result.learner = name
        results[name].append(result)
    return results


# --------------------------------------------------------------------------------------------
# Summaries and figures over seeds
# --------------------------------------------------------------------------------------------


def summarize(results: dict[str, list[StreamResult]], confidence: float = 0.95) -> dict[str, dict[str, tuple[float, float]]]:
    """``{learner: {metric: (mean, CI half-width over seeds)}}`` for every metric of :meth:`StreamResult.metrics`."""
    from course_lib.metrics import mean_ci

    table = {}
    for name, runs in results.items():
        if not runs:
            raise ValueError(f"no runs for {name!r}")
        per_metric: dict[str, list[float]] = {}
        for run in runs:
            for key, value in run.metrics().items():
                per_metric.setdefault(key, []).append(value)
        table[name] = {key: mean_ci(values, confidence) for key, values in per_metric.items()}
    return table


def plot_task_curves(results: dict[str, list[StreamResult]], task: int = 0, *, confidence: float = 0.95):
    """Accuracy on one task (default: the first) after each stage of the stream, mean +- CI over seeds."""
    import matplotlib.pyplot as plt

    from course_lib.metrics import mean_ci

    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    names = None
    for name, runs in results.items():
        stack = np.stack([r.matrix[:, task] for r in runs])  # [seeds, T]
        names = runs[0].task_names
        stats = [mean_ci(stack[:, i], confidence) if len(runs) > 1 else (stack[0, i], 0.0) for i in range(stack.shape[1])]
        mean = np.array([m for m, _ in stats])
        half = np.nan_to_num(np.array([h for _, h in stats]))
        steps = np.arange(stack.shape[1])
        ax.plot(steps, 100 * mean, marker="o", label=name)
        ax.fill_between(steps, 100 * (mean - half), 100 * (mean + half), alpha=0.2)
    ax.set_xticks(range(len(names)), [f"{i}:{n[:8]}" for i, n in enumerate(names)], rotation=45, ha="right", fontsize=8)
    ax.axvline(task, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("after training on task")
    ax.set_ylabel(f"accuracy on task {task} ({names[task]}) %")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    return fig
