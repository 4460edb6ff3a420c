"""Label-delayed few-shot sequences (Santoro et al. 2016, "Meta-Learning with Memory-Augmented
Neural Networks", ICML).

An episode is a sequence of ``n_way * instances_per_class`` images drawn from ``n_way`` characters.
At step ``t`` the model sees image ``x_t`` together with the *correct label of the previous step*
``y_{t-1}`` (one-hot; a zero vector at ``t = 0``) and must predict ``y_t``:

    input_t  = (x_t, onehot(y_{t-1}))        target_t = y_t

Characters *and* the label given to each character are drawn afresh for every episode, so no
weight can store "character A is label 3": the only way to beat chance is to remember, inside the
episode, which label followed which image. The first presentation of a class can only be guessed
(accuracy ``1 / n_way`` at best among labels not yet used), later presentations can be answered
from memory. :func:`per_instance_accuracy` measures exactly that, as in the paper's Table 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class SequenceBatch:
    """A batch of label-delayed episodes.

    Attributes
    ----------
    images:      float ``[B, T, 1, H, W]`` the images in presentation order.
    labels:      long ``[B, T]`` target label of each step, in ``0..n_way-1``.
    prev_labels: float ``[B, T, n_way]`` one-hot label of the previous step (zeros at ``t = 0``).
    instance:    long ``[B, T]`` how many times this step's class has been shown so far,
                 counting this step (1 = first presentation).
    """

    images: torch.Tensor
    labels: torch.Tensor
    prev_labels: torch.Tensor
    instance: torch.Tensor

    def to(self, device) -> "SequenceBatch":
        return SequenceBatch(*(t.to(device) for t in (self.images, self.labels, self.prev_labels,
                                                       self.instance)))

    def __len__(self) -> int:
        return self.images.shape[0]

    @property
    def n_way(self) -> int:
        return self.prev_labels.shape[-1]


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
        if n_way < 2:
            raise ValueError(f"n_way must be at least 2, got {n_way}")
        if n_way > num_chars:
            raise ValueError(
                f"n_way={n_way} needs {n_way} characters but the image bank has only {num_chars}; "
                f"use n_way <= {num_chars}.")
        if not 1 <= instances_per_class <= num_drawings:
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
        """Return ``batch_size`` independent episodes as a :class:`SequenceBatch` (on the CPU)."""
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
        labels = torch.stack(all_labels)                                          # [B, T]
        return SequenceBatch(images=images, labels=labels,
                             prev_labels=delayed_one_hot(labels, n),
                             instance=instance_counts(labels))


def per_instance_accuracy(logits: torch.Tensor, labels: torch.Tensor, instance: torch.Tensor,
                          max_instance: int | None = None) -> torch.Tensor:
    """Accuracy on the 1st, 2nd, ... presentation of a class.

    logits ``[B, T, N]``, labels ``[B, T]``, instance ``[B, T]`` -> float ``[max_instance]`` where
    entry ``i`` is the accuracy over all steps that were the ``(i+1)``-th presentation of their
    class (NaN if there was none).
    """
    if logits.shape[:2] != labels.shape or labels.shape != instance.shape:
        raise ValueError(
            f"shapes do not match: logits {tuple(logits.shape)}, labels {tuple(labels.shape)}, "
            f"instance {tuple(instance.shape)}; expected [B, T, N], [B, T], [B, T]")
    max_instance = int(instance.max()) if max_instance is None else max_instance
    correct = (logits.argmax(-1) == labels).float()
    out = torch.full((max_instance,), float("nan"))
    for i in range(1, max_instance + 1):
        mask = instance == i
        if mask.any():
            out[i - 1] = correct[mask].mean().cpu()
    return out


def sequence_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every step of every episode: ``[B, T, N]``, ``[B, T]`` -> scalar."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def downsample_flatten(images: torch.Tensor, size: int = 20) -> torch.Tensor:
    """``[B, T, 1, H, W]`` images -> ``[B, T, size*size]`` vectors (area downsampling, as the
    paper's 20x20 inputs)."""
    if images.dim() != 5:
        raise ValueError(f"images must be [B, T, 1, H, W], got shape {tuple(images.shape)}")
    b, t = images.shape[:2]
    flat = images.reshape(b * t, *images.shape[2:])
    if flat.shape[-1] != size:
        flat = F.adaptive_avg_pool2d(flat, size)
    return flat.reshape(b, t, -1)


class DownsampleFlatten(nn.Module):
    """Image encoder with no parameters: ``[B, 1, H, W] -> [B, size*size]`` by area averaging.

    Santoro et al. fed 20x20 downsampled, flattened Omniglot images to the controller; everything
    else is learned by the controller's input weights.
    """

    def __init__(self, size: int = 20):
        super().__init__()
        self.size = size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4:
            raise ValueError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
        if images.shape[-1] != self.size or images.shape[-2] != self.size:
            images = F.adaptive_avg_pool2d(images, self.size)
        return images.flatten(1)


@torch.no_grad()
def evaluate_sequences(model: nn.Module, sampler: LabelDelaySampler, episodes: int,
                       batch_size: int = 50, device=None) -> dict[str, torch.Tensor]:
    """Per-instance accuracy of ``model`` on ``episodes`` fresh episodes from ``sampler``.

    ``model(images [B,T,1,H,W], prev_labels [B,T,N]) -> logits [B,T,N]``. Returns
    ``{"mean": [K], "ci": [K], "per_episode": [episodes, K]}`` where ``ci`` is the 95 % half
    width (1.96 std / sqrt(episodes)) over episodes and ``K = instances_per_class``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    was_training = model.training
    model.eval()
    k = sampler.instances_per_class
    rows = []
    done = 0
    while done < episodes:
        batch = sampler.sample_batch(min(batch_size, episodes - done)).to(device or "cpu")
        logits = model(batch.images, batch.prev_labels)
        correct = (logits.argmax(-1) == batch.labels).float()
        onehot = F.one_hot(batch.instance - 1, k).float()              # [B, T, K]
        rows.append((correct.unsqueeze(-1) * onehot).sum(1) / onehot.sum(1))
        done += len(batch)
    model.train(was_training)
    per_episode = torch.cat(rows).cpu()
    n = per_episode.shape[0]
    ci = 1.96 * per_episode.std(0, unbiased=True) / n ** 0.5 if n > 1 else torch.zeros(k)
    return {"mean": per_episode.mean(0), "ci": ci, "per_episode": per_episode}


def plot_per_instance(results: dict[str, dict[str, torch.Tensor]], n_way: int | None = None, ax=None):
    """Accuracy against presentation number (1st, 2nd, ...), one line per model, with 95 % CIs.

    ``results``: ``{name: evaluate_sequences(...)}``. ``n_way`` draws the chance level.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for name, res in results.items():
        mean, ci = res["mean"].numpy(), res["ci"].numpy()
        xs = range(1, len(mean) + 1)
        ax.errorbar(xs, 100 * mean, yerr=100 * ci, marker="o", capsize=3, label=name)
    if n_way:
        ax.axhline(100 / n_way, color="gray", ls=":", label=f"chance (1/{n_way})")
    ax.set_xlabel("presentation of the class within the episode")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(list(range(1, len(mean) + 1)))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax
