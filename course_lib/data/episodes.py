"""Episodes: the unit of meta-learning.

An *episode* (or *task*) is a small labelled **support** set to learn from and a **query** set
from the same classes to be judged on. An N-way K-shot episode draws N classes, relabels them
0..N-1 in a random order (so a model cannot memorise "class 17 is always label 3"), and takes
K support and Q query examples of each class, with no example in both sets.

Shapes (images, single channel)::

    support_x [N*K, 1, H, W]   support_y [N*K]   (labels 0..N-1, grouped: K of label 0, K of label 1, ...)
    query_x   [N*Q, 1, H, W]   query_y   [N*Q]   (grouped the same way)

A :class:`TaskBatch` stacks T episodes along a new leading dimension ``[T, ...]``; meta-learning
algorithms average their outer loss over these T tasks. Episodes and task batches are generic
containers: regression tasks (sinusoids) use them too, with ``x`` of shape ``[K, 1]``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

__all__ = ["Episode", "EpisodeSampler", "TaskBatch"]


@dataclass
class Episode:
    """One task: a support set to adapt on and a query set to evaluate on.

    Attributes
    ----------
    support_x : Tensor [N*K, ...]   inputs of the support set (images: [N*K, 1, H, W])
    support_y : Tensor [N*K]        labels in 0..N-1 (LongTensor) or regression targets
    query_x   : Tensor [N*Q, ...]   inputs of the query set
    query_y   : Tensor [N*Q]        labels or targets of the query set
    classes   : LongTensor [N] or None
        For classification episodes drawn by :class:`EpisodeSampler`: ``classes[label]`` is the
        index of the original class (in the sampler's 0..C-1, or 0..4C-1 with rotations) that
        received that label. Useful for inspection; learners never need it.
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    classes: Tensor | None = None

    def to(self, device: torch.device | str) -> Episode:
        """Return a copy with every tensor moved to ``device``."""
        return Episode(**{f.name: _to(getattr(self, f.name), device) for f in fields(self)})

    @property
    def n_way(self) -> int:
        """Number of classes N (from ``classes`` if known, else from the largest support label)."""
        if self.classes is not None:
            return int(self.classes.shape[0])
        return int(self.support_y.max().item()) + 1

    def __repr__(self) -> str:
        return (
            f"Episode(support_x={list(self.support_x.shape)}, support_y={list(self.support_y.shape)}, "
            f"query_x={list(self.query_x.shape)}, query_y={list(self.query_y.shape)}, "
            f"device={self.support_x.device})"
        )


@dataclass
class TaskBatch:
    """T episodes stacked along a leading task dimension (a meta-batch).

    Attributes: ``support_x [T, N*K, ...]``, ``support_y [T, N*K]``, ``query_x [T, N*Q, ...]``,
    ``query_y [T, N*Q]``, ``classes [T, N]`` or None. ``batch[i]`` is the i-th :class:`Episode`;
    iterating yields the episodes in order; ``len(batch)`` is T.
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor
    classes: Tensor | None = None

    @staticmethod
    def stack(episodes: list[Episode]) -> TaskBatch:
        """Stack episodes of identical shapes into a batch ``[T, ...]``."""
        episodes = list(episodes)
        if not episodes:
            raise ValueError("TaskBatch.stack needs at least one episode, got an empty list")
        first = episodes[0]
        for i, ep in enumerate(episodes[1:], start=1):
            for f in ("support_x", "query_x"):
                if getattr(ep, f).shape != getattr(first, f).shape:
                    raise ValueError(
                        f"episode {i} has {f} of shape {list(getattr(ep, f).shape)} but episode 0 has "
                        f"{list(getattr(first, f).shape)}; all episodes of a batch need the same "
                        "N-way, K-shot and query size"
                    )
        has_classes = all(ep.classes is not None for ep in episodes)
        return TaskBatch(
            support_x=torch.stack([ep.support_x for ep in episodes]),
            support_y=torch.stack([ep.support_y for ep in episodes]),
            query_x=torch.stack([ep.query_x for ep in episodes]),
            query_y=torch.stack([ep.query_y for ep in episodes]),
            classes=torch.stack([ep.classes for ep in episodes]) if has_classes else None,
        )

    def to(self, device: torch.device | str) -> TaskBatch:
        """Return a copy with every tensor moved to ``device``."""
        return TaskBatch(**{f.name: _to(getattr(self, f.name), device) for f in fields(self)})

    def __len__(self) -> int:
        return int(self.support_x.shape[0])

    def __getitem__(self, i: int) -> Episode:
        if not isinstance(i, int):
            raise TypeError(f"TaskBatch index must be an int, got {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"task index {i} out of range for a batch of {len(self)} tasks")
        return Episode(
            support_x=self.support_x[i],
            support_y=self.support_y[i],
            query_x=self.query_x[i],
            query_y=self.query_y[i],
            classes=None if self.classes is None else self.classes[i],
        )

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return (
            f"TaskBatch(tasks={len(self)}, support_x={list(self.support_x.shape)}, "
            f"query_x={list(self.query_x.shape)}, device={self.support_x.device})"
        )


def _to(value, device):
    return value.to(device) if isinstance(value, Tensor) else value


def _check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name}={value} is not possible; choose {name} >= 1")
    return value


class EpisodeSampler:
    """Draw N-way K-shot episodes from a tensor of images grouped by class.

    Parameters
    ----------
    images : Tensor [C, M, H, W]
        C classes with M examples each (Omniglot: ``CharacterSet.images`` is [C, 20, 28, 28]).
        May live on any device; episodes are built on that device.
    n_way : int      classes per episode, 1 <= n_way <= C (4C with rotations)
    k_shot : int     support examples per class
    q_query : int    query examples per class; k_shot + q_query <= M
    rotations : bool
        If True, every class also appears rotated by 90, 180 and 270 degrees, each rotation
        counted as a *new* class (4C classes; the Omniglot protocol of Santoro et al. 2016 and
        Finn et al. 2017, used for meta-training only). Needs square images.
    seed : int
        Seeds the sampler's own ``torch.Generator``: the same seed gives the same episodes,
        whatever else uses the global random state.

    Class index convention with rotations: class ``r*C + c`` is class ``c`` rotated by ``r*90``
    degrees (counter-clockwise).
    """

    def __init__(
        self,
        images: Tensor,
        n_way: int,
        k_shot: int,
        q_query: int,
        rotations: bool = False,
        seed: int = 0,
    ) -> None:
        if not isinstance(images, Tensor):
            raise ValueError(f"images must be a torch.Tensor [classes, examples, H, W], got {type(images).__name__}")
        if images.dim() != 4:
            hint = ""
            if images.dim() == 5 and images.shape[2] == 1:
                hint = " (it looks like [C, M, 1, H, W]: pass images.squeeze(2))"
            elif images.dim() == 3:
                hint = " (it looks like a single class [M, H, W] or flat images: add the class dimension)"
            raise ValueError(
                f"images must have 4 dimensions [classes, examples per class, height, width], "
                f"got shape {list(images.shape)}{hint}"
            )
        self.n_way = _check_positive_int("n_way", n_way)
        self.k_shot = _check_positive_int("k_shot", k_shot)
        self.q_query = _check_positive_int("q_query", q_query)
        num_base, per_class, height, width = images.shape
        if num_base == 0 or per_class == 0:
            raise ValueError(f"images has no examples (shape {list(images.shape)})")
        if rotations and height != width:
            raise ValueError(
                f"rotations=True needs square images so that rotated images keep their shape, "
                f"got {height}x{width}; resize the images or use rotations=False"
            )
        num_classes = num_base * (4 if rotations else 1)
        if n_way > num_classes:
            extra = f" (4 rotations x {num_base} classes)" if rotations else ""
            raise ValueError(
                f"n_way={n_way} but only {num_classes} classes{extra}; choose n_way <= {num_classes}"
                + ("" if rotations else " or use rotations=True to get 4x as many classes")
            )
        if k_shot + q_query > per_class:
            raise ValueError(
                f"k_shot + q_query = {k_shot} + {q_query} = {k_shot + q_query} but each class has only "
                f"{per_class} examples; choose k_shot + q_query <= {per_class} "
                f"(e.g. k_shot={min(k_shot, per_class - 1)}, q_query={per_class - min(k_shot, per_class - 1)})"
                if per_class > 1
                else f"each class has a single example, so there is nothing left for the query set "
                f"(k_shot + q_query = {k_shot + q_query} > 1)"
            )
        self.images = images
        self.rotations = bool(rotations)
        self.num_base_classes = int(num_base)
        self.num_classes = int(num_classes)
        self.examples_per_class = int(per_class)
        self.seed = seed
        self.generator = torch.Generator().manual_seed(seed)

    # -- reproducibility -------------------------------------------------------------------
    def reseed(self, seed: int) -> None:
        """Restart the episode stream from ``seed``."""
        self.seed = seed
        self.generator.manual_seed(seed)

    def state_dict(self) -> dict:
        """Generator state, so that :func:`course_lib.training.train_loop` can checkpoint the sampler."""
        return {"generator": self.generator.get_state(), "seed": self.seed}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.seed = state.get("seed", self.seed)

    # -- sampling ------------------------------------------------------------------------------
    def sample(self) -> Episode:
        """Draw one episode (see the module docstring for the shapes)."""
        n, k, q = self.n_way, self.k_shot, self.q_query
        g = self.generator
        # The random order of the chosen classes *is* the random label assignment: class
        # classes[i] gets label i.
        classes = torch.randperm(self.num_classes, generator=g)[:n]  # [N]
        # One random permutation of the M examples per class (argsort of uniform noise); its first
        # K+Q entries are distinct, so support and query never share an example.
        examples = torch.rand(n, self.examples_per_class, generator=g).argsort(dim=1)[:, : k + q]  # [N, K+Q]
        base = classes % self.num_base_classes  # [N]
        device = self.images.device
        x = self.images[base.to(device)[:, None], examples.to(device)]  # [N, K+Q, H, W]
        if self.rotations:
            turns = classes // self.num_base_classes  # [N], quarter turns of each class (on the CPU)
            for r in (1, 2, 3):
                if (turns == r).any():
                    rotated = (turns == r).to(device)
                    x[rotated] = torch.rot90(x[rotated], r, dims=(-2, -1))
        x = x.unsqueeze(2)  # [N, K+Q, 1, H, W]
        labels = torch.arange(n, device=device)[:, None]  # [N, 1]
        h, w = x.shape[-2:]
        return Episode(
            support_x=x[:, :k].reshape(n * k, 1, h, w),
            support_y=labels.expand(n, k).reshape(n * k),
            query_x=x[:, k:].reshape(n * q, 1, h, w),
            query_y=labels.expand(n, q).reshape(n * q),
            classes=classes.to(device),
        )

    def sample_batch(self, meta_batch_size: int) -> TaskBatch:
        """Draw ``meta_batch_size`` independent episodes, stacked: ``support_x [T, N*K, 1, H, W]``."""
        _check_positive_int("meta_batch_size", meta_batch_size)
        return TaskBatch.stack([self.sample() for _ in range(meta_batch_size)])

    def __iter__(self):
        """Endless stream of episodes: ``for episode in sampler: ...``."""
        while True:
            yield self.sample()

    def __repr__(self) -> str:
        rot = f", rotations (4 x {self.num_base_classes} classes)" if self.rotations else ""
        return (
            f"EpisodeSampler({self.n_way}-way {self.k_shot}-shot, {self.q_query} queries per class, "
            f"{self.num_classes} classes x {self.examples_per_class} examples{rot}, seed={self.seed})"
        )
