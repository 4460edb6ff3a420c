"""Label-delayed few-shot sequences (Santoro et al. 2016, "Meta-Learning with Memory-Augmented
Neural Networks", ICML): the task samplers of chapter 06.

An episode is a sequence of ``n_way * instances_per_class`` examples drawn from ``n_way`` classes.
At step ``t`` the model sees input ``x_t`` together with the *correct label of the previous step*
``y_{t-1}`` (one-hot; a zero vector at ``t = 0``) and must predict ``y_t``:

    input_t  = (x_t, onehot(y_{t-1}))        target_t = y_t

Classes *and* the label given to each class are drawn afresh for every episode, so no weight can
store "character A is label 3": the only way to beat chance is to remember, inside the episode,
which label followed which input.

* :class:`LabelDelaySampler` draws episodes of Omniglot characters (the paper's experiment).
* :class:`PrototypeSequenceSampler` draws episodes of noisy copies of random vectors: the same
  binding problem with nothing to recognise, small enough to train a memory in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class SequenceBatch:
    """A batch of label-delayed episodes.

    Attributes
    ----------
    inputs:      float, the inputs in presentation order: images ``[B, T, 1, H, W]``
                 (:class:`LabelDelaySampler`) or feature vectors ``[B, T, D]``
                 (:class:`PrototypeSequenceSampler`).
    labels:      long ``[B, T]`` target label of each step, in ``0..n_way-1``.
    prev_labels: float ``[B, T, n_way]`` one-hot label of the previous step (zeros at ``t = 0``).
    instance:    long ``[B, T]`` how many times this step's class has been shown so far,
                 counting this step (1 = first presentation).
    """

    inputs: torch.Tensor
    labels: torch.Tensor
    prev_labels: torch.Tensor
    instance: torch.Tensor

    def to(self, device) -> "SequenceBatch":
        return SequenceBatch(*(t.to(device) for t in (self.inputs, self.labels, self.prev_labels,
                                                       self.instance)))

    def __len__(self) -> int:
        return self.inputs.shape[0]

    @property
    def n_way(self) -> int:
        return self.prev_labels.shape[-1]

    @classmethod
    def from_labels(cls, inputs: torch.Tensor, labels: torch.Tensor, n_way: int) -> "SequenceBatch":
        """Build a batch from inputs ``[B, T, ...]`` and labels ``[B, T]`` (the rest is derived)."""
        return cls(inputs=inputs, labels=labels, prev_labels=delayed_one_hot(labels, n_way),
                   instance=instance_counts(labels))


def delayed_one_hot(labels: torch.Tensor, n_way: int) -> torch.Tensor:
    """``[B, T]`` labels -> ``[B, T, n_way]`` one-hot of the *previous* step (zeros at ``t = 0``)."""
    if labels.dim() != 2:
        raise ValueError(f"labels must be [batch, time], got shape {tuple(labels.shape)}")
    one_hot = F.one_hot(labels, n_way).float()
    return torch.cat([torch.zeros_like(one_hot[:, :1]), one_hot[:, :-1]], dim=1)


def instance_counts(labels: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` labels -> ``[B, T]`` presentation number of each step (1 for a first sighting)."""
    one_hot = F.one_hot(labels).long()                       # [B, T, N]
    running = one_hot.cumsum(dim=1)                           # [B, T, N]
    return running.gather(2, labels.unsqueeze(-1)).squeeze(-1)


def _check_episode_shape(n_way: int, instances_per_class: int) -> None:
    if n_way < 2:
        raise ValueError(f"n_way must be at least 2, got {n_way}")
    if instances_per_class < 1:
        raise ValueError(f"instances_per_class must be >= 1, got {instances_per_class}")


class LabelDelaySampler:
    """Sample label-delayed episodes from a bank of character images.

    Parameters
    ----------
    images: float ``[C, M, H, W]`` — ``C`` characters with ``M`` drawings each (e.g.
        ``CharacterSet.images``).
    n_way: classes per episode (5 in the paper's main experiment).
    instances_per_class: drawings of each class in an episode (10 -> 50-step sequences). Drawn
        without replacement, so it cannot exceed ``M``.
    seed: seed of the sampler's own generator (episodes are reproducible, independent of the global
        torch seed).
    augment: if True, each class in an episode is rotated by a random multiple of 90 degrees, a
        cheap version of the paper's augmentation that multiplies the number of classes by four.
    """

    def __init__(self, images: torch.Tensor, n_way: int = 5, instances_per_class: int = 10,
                 seed: int = 0, augment: bool = False):
        if images.dim() != 4:
            raise ValueError(
                f"images must be [characters, drawings, H, W], got shape {tuple(images.shape)}")
        num_chars, num_drawings = images.shape[:2]
        _check_episode_shape(n_way, instances_per_class)
        if n_way > num_chars:
            raise ValueError(
                f"n_way={n_way} needs {n_way} characters but the image bank has only {num_chars}; "
                f"use n_way <= {num_chars}.")
        if instances_per_class > num_drawings:
            raise ValueError(
                f"instances_per_class={instances_per_class} is impossible: each character has "
                f"{num_drawings} drawings (draws are without replacement), use 1..{num_drawings}.")
        self.images = images
        self.n_way = n_way
        self.instances_per_class = instances_per_class
        self.augment = augment
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def sequence_length(self) -> int:
        return self.n_way * self.instances_per_class

    def sample_batch(self, batch_size: int) -> SequenceBatch:
        """Return ``batch_size`` independent episodes as a :class:`SequenceBatch` (on the CPU);
        ``inputs`` are images ``[B, T, 1, H, W]``."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        g = self.generator
        num_chars, num_drawings, height, width = self.images.shape
        n, k = self.n_way, self.instances_per_class
        all_images, all_labels = [], []
        for _ in range(batch_size):
            chars = torch.randperm(num_chars, generator=g)[:n]                   # [N] characters
            drawings = torch.argsort(torch.rand(n, num_drawings, generator=g), dim=1)[:, :k]
            imgs = self.images[chars.unsqueeze(1), drawings]                      # [N, K, H, W]
            if self.augment:
                turns = torch.randint(0, 4, (n,), generator=g)
                imgs = torch.stack([torch.rot90(imgs[i], int(turns[i]), dims=(-2, -1))
                                    for i in range(n)])
            # fresh label for every class: class i gets label perm[i]
            perm = torch.randperm(n, generator=g)
            labels = perm.unsqueeze(1).expand(n, k).reshape(-1)                  # [N*K]
            order = torch.randperm(n * k, generator=g)
            all_images.append(imgs.reshape(n * k, height, width)[order])
            all_labels.append(labels[order])
        images = torch.stack(all_images).unsqueeze(2)                             # [B, T, 1, H, W]
        return SequenceBatch.from_labels(images, torch.stack(all_labels), n)


class PrototypeSequenceSampler:
    """Label-delayed episodes of random vectors: every episode draws ``n_way`` fresh prototypes
    ``p_c ~ N(0, I_dim)`` and shows each ``instances_per_class`` times as ``p_c + noise * eps``.

    Nothing can be learned about the prototypes themselves (they are new in every episode), so
    accuracy above chance on a class's 2nd, 3rd, ... presentation measures in-episode binding only.
    ``sample_batch(B)`` returns a :class:`SequenceBatch` with ``inputs [B, T, dim]``.
    """

    def __init__(self, n_way: int = 3, instances_per_class: int = 3, dim: int = 8,
                 noise: float = 0.1, seed: int = 0):
        _check_episode_shape(n_way, instances_per_class)
        if dim < 1 or noise < 0:
            raise ValueError(f"need dim >= 1 and noise >= 0, got dim={dim}, noise={noise}")
        self.n_way, self.instances_per_class, self.dim, self.noise = n_way, instances_per_class, dim, noise
        self.generator = torch.Generator().manual_seed(seed)

    @property
    def sequence_length(self) -> int:
        return self.n_way * self.instances_per_class

    def sample_batch(self, batch_size: int) -> SequenceBatch:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        g, n, t = self.generator, self.n_way, self.sequence_length
        prototypes = torch.randn(batch_size, n, self.dim, generator=g)                   # [B, N, D]
        labels = torch.argsort(torch.rand(batch_size, t, generator=g), dim=1) % n        # [B, T]
        inputs = prototypes.gather(1, labels.unsqueeze(-1).expand(-1, -1, self.dim))    # [B, T, D]
        inputs = inputs + self.noise * torch.randn(inputs.shape, generator=g)
        return SequenceBatch.from_labels(inputs, labels, n)
