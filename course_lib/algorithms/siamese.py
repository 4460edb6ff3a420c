"""Siamese networks for one-shot recognition (Koch, Zemel & Salakhutdinov, ICML DL workshop 2015).

The oldest of the metric methods, and *not* episodic: it is trained on a plain **verification**
task (are these two drawings the same character?) and only used for one-shot classification at
test time, by picking the support example the query is most likely to match::

    p(same | x1, x2) = sigmoid( w . |f(x1) - f(x2)| + b )          (weighted L1 distance)
    train: binary cross-entropy on balanced same / different pairs
    test:  y_hat(x) = label of argmax_i p(same | x, x_i)   over the support set

Training on pairs never shows the network a 20-way decision, which is one reason why episodic
methods (trained the way they are tested) overtook it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.checks import check_episode_labels
from course_lib.nets import Conv4, embed

__all__ = ["PairSampler", "SiameseNet", "sample_pairs"]


def sample_pairs(images: Tensor, n_pairs: int, generator: torch.Generator | None = None,
                 rotations: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """Balanced verification pairs from images grouped by class.

    images [C, M, H, W] (C >= 2 classes, M >= 2 drawings each), n_pairs (even, >= 2)
    -> (x1 [P,1,H,W], x2 [P,1,H,W], same [P] float 0/1); the first half are same-class pairs
    (two different drawings), the second half pairs of two different classes. With
    ``rotations=True`` each pair gets a random rotation by a multiple of 90 degrees, applied to
    *both* images of a same pair and independently for a different pair (rotated characters
    count as new classes, as in episodic training).
    """
    if images.dim() != 4:
        raise ValueError(f"images must be [classes, drawings, H, W], got shape {list(images.shape)}")
    c, m = images.shape[:2]
    if c < 2 or m < 2:
        raise ValueError(f"need at least 2 classes with 2 drawings each for pairs, got {c} classes x {m} drawings")
    if n_pairs < 2 or n_pairs % 2:
        raise ValueError(f"n_pairs must be an even number >= 2 (half same, half different), got {n_pairs}")
    half = n_pairs // 2
    g = generator
    # same pairs: one class, two distinct drawings
    cls_same = torch.randint(c, (half,), generator=g)
    d1 = torch.randint(m, (half,), generator=g)
    d2 = (d1 + torch.randint(1, m, (half,), generator=g)) % m
    # different pairs: two distinct classes
    cls_a = torch.randint(c, (half,), generator=g)
    cls_b = (cls_a + torch.randint(1, c, (half,), generator=g)) % c
    da = torch.randint(m, (half,), generator=g)
    db = torch.randint(m, (half,), generator=g)
    dev = images.device
    x1 = torch.cat([images[cls_same.to(dev), d1.to(dev)], images[cls_a.to(dev), da.to(dev)]])
    x2 = torch.cat([images[cls_same.to(dev), d2.to(dev)], images[cls_b.to(dev), db.to(dev)]])
    if rotations:
        r1 = torch.randint(4, (n_pairs,), generator=g)
        r2 = torch.cat([r1[:half], torch.randint(4, (half,), generator=g)])
        x1 = torch.stack([torch.rot90(x, int(r), dims=(-2, -1)) for x, r in zip(x1, r1)])
        x2 = torch.stack([torch.rot90(x, int(r), dims=(-2, -1)) for x, r in zip(x2, r2)])
        # a "different" pair of the same class under different rotations is a different class;
        # the same class under the same rotation never occurs because cls_b != cls_a.
    same = torch.cat([torch.ones(half), torch.zeros(half)]).to(dev)
    return x1[:, None], x2[:, None], same


class PairSampler:
    """Stateful, checkpointable source of verification pairs (see :func:`sample_pairs`)."""

    def __init__(self, images: Tensor, n_pairs: int, rotations: bool = False, seed: int = 0) -> None:
        sample_pairs(images[:2, :2], 2)  # validates the shapes early
        self.images, self.n_pairs, self.rotations = images, n_pairs, rotations
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self) -> tuple[Tensor, Tensor, Tensor]:
        return sample_pairs(self.images, self.n_pairs, self.generator, self.rotations)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])


class SiameseNet(nn.Module):
    """Twin embedding network with a weighted-L1 verification head.

    encoder : images [B,1,H,W] -> [B, D] (``encoder.features`` if present); default ``Conv4(None)``.

    * ``pair_logits(x1 [P,1,H,W], x2 [P,1,H,W]) -> [P]`` logits of "same character";
    * ``forward(support_x, support_y, query_x, n_way) -> scores [Q, N]``: for each class the
      highest same-logit over its support examples (nearest support), so argmax = one-shot answer.
    """

    def __init__(self, encoder: nn.Module | None = None, embed_dim: int = 64) -> None:
        super().__init__()
        self.encoder = encoder if encoder is not None else Conv4(None)
        self.head = nn.Linear(embed_dim, 1)

    def embed(self, x: Tensor) -> Tensor:
        return embed(self.encoder, x)

    def pair_logits(self, x1: Tensor, x2: Tensor) -> Tensor:
        if x1.shape != x2.shape:
            raise ValueError(f"x1 and x2 must have the same shape, got {list(x1.shape)} and {list(x2.shape)}")
        emb = self.embed(torch.cat([x1, x2], dim=0))
        e1, e2 = emb[: x1.shape[0]], emb[x1.shape[0]:]
        return self.head((e1 - e2).abs()).squeeze(-1)

    def pair_loss(self, x1: Tensor, x2: Tensor, same: Tensor) -> tuple[Tensor, float]:
        """Binary cross-entropy of the verification task and the pair accuracy."""
        logits = self.pair_logits(x1, x2)
        loss = F.binary_cross_entropy_with_logits(logits, same.to(logits.dtype))
        acc = ((logits > 0).to(same.dtype) == same).float().mean().item()
        return loss, acc

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        check_episode_labels(support_y, support_x.shape[0], n_way)
        emb = self.embed(torch.cat([support_x, query_x], dim=0))
        s, q = emb[: support_x.shape[0]], emb[support_x.shape[0]:]
        pair = self.head((q[:, None, :] - s[None, :, :]).abs()).squeeze(-1)  # [Q, S]
        mask = F.one_hot(support_y, n_way).t().bool()  # [N, S]
        per_class = pair[:, None, :].masked_fill(~mask[None], float("-inf"))  # [Q, N, S]
        return per_class.max(dim=-1).values

    @staticmethod
    def loss(scores: Tensor, query_y: Tensor) -> Tensor:
        """Episodic cross-entropy on the nearest-support scores (for fine-tuning or comparison)."""
        return F.cross_entropy(scores, query_y)
