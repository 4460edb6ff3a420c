"""Relation Networks (Sung, Yang, Zhang, Xiang, Torr & Hospedales, CVPR 2018).

ProtoNet and Matching Networks *fix* the comparison (a distance, a cosine) and learn only the
embedding. A relation network learns the comparison too: the feature maps of a query and of a
class are concatenated along the channels and a small CNN (the *relation module*) outputs a
relation score in (0, 1)::

    e_k = sum_{x in S_k} f(x)                               [N, C, h, w]   (class feature map)
    r_{q,k} = sigmoid( g( concat(f(x_q), e_k) ) )            [Q, N]

Training regresses the scores onto the one-hot labels with a mean squared error (the paper's
choice; ``loss="ce"`` uses a cross-entropy on the pre-sigmoid scores instead).

Omniglot architecture of the paper: embedding = 4 conv blocks (64 channels, BN, ReLU), the first
two with 2x2 max-pooling, so a 28x28 image gives a 64x7x7 map; relation module = 2 conv blocks
with pooling (7 -> 3 -> 1) then FC 64 -> 8 -> 1.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.checks import check_episode_labels

__all__ = ["RelationEncoder", "RelationModule", "RelationNet"]


def _block(cin: int, cout: int, pool: bool) -> nn.Sequential:
    """conv 3x3 -> BatchNorm -> ReLU [-> 2x2 max-pool], pooled before the ReLU (same output, see ConvBlock)."""
    layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout, track_running_stats=False)]
    if pool:
        layers.append(nn.MaxPool2d(2))
    layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class RelationEncoder(nn.Module):
    """Embedding module: images [B, in_channels, H, W] -> feature maps [B, hidden, H/4, W/4]."""

    def __init__(self, in_channels: int = 1, hidden: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(
            _block(in_channels, hidden, True),
            _block(hidden, hidden, True),
            _block(hidden, hidden, False),
            _block(hidden, hidden, False),
        )
        self.hidden = hidden

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(f"expected images [B, C, H, W], got shape {list(x.shape)}")
        return self.net(x)

    def features(self, x: Tensor) -> Tensor:
        """Flat embedding [B, hidden] (spatial mean of the maps), for plots and nearest-mean baselines."""
        return self.net(x).mean(dim=(-2, -1))


class RelationModule(nn.Module):
    """Learned comparator: pairs [P, 2*hidden, h, w] -> pre-sigmoid relation scores [P]."""

    def __init__(self, hidden: int = 64, fc_hidden: int = 8) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            _block(2 * hidden, hidden, True),
            _block(hidden, hidden, True),
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.LazyLinear(fc_hidden), nn.ReLU(), nn.Linear(fc_hidden, 1))

    def forward(self, pairs: Tensor) -> Tensor:
        return self.fc(self.convs(pairs)).squeeze(-1)


class RelationNet(nn.Module):
    """Relation network = embedding module + relation module.

    ``forward(support_x [N*K,1,H,W], support_y [N*K], query_x [Q,1,H,W], n_way)`` returns the
    pre-sigmoid relation scores [Q, N] (``torch.sigmoid`` of them are the relation scores; the
    argmax is the prediction either way).

    loss : "mse" (paper: MSE between sigmoid scores and one-hot labels) or "ce".
    """

    def __init__(self, in_channels: int = 1, hidden: int = 64, fc_hidden: int = 8, loss: str = "mse",
                 image_size: int = 28) -> None:
        super().__init__()
        if loss not in ("mse", "ce"):
            raise ValueError(f"loss must be 'mse' or 'ce', got {loss!r}")
        self.encoder = RelationEncoder(in_channels, hidden)
        self.relation = RelationModule(hidden, fc_hidden)
        self.loss_kind = loss
        with torch.no_grad():  # materialise the lazy layer so that optimizers see every parameter
            self.relation(torch.zeros(1, 2 * hidden, image_size // 4, image_size // 4))

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        check_episode_labels(support_y, support_x.shape[0], n_way)
        maps = self.encoder(torch.cat([support_x, query_x], dim=0))
        support_maps, query_maps = maps[: support_x.shape[0]], maps[support_x.shape[0]:]
        one_hot = F.one_hot(support_y, n_way).to(maps.dtype)  # [S, N]
        if (one_hot.sum(0) == 0).any():
            raise ValueError("every class needs at least one support example")
        class_maps = torch.einsum("sn,schw->nchw", one_hot, support_maps)  # sum over the shots [N, C, h, w]
        q, n = query_maps.shape[0], n_way
        pairs = torch.cat(
            [query_maps[:, None].expand(q, n, *query_maps.shape[1:]),
             class_maps[None].expand(q, n, *class_maps.shape[1:])],
            dim=2,
        ).reshape(q * n, -1, *maps.shape[2:])  # [Q*N, 2C, h, w]
        return self.relation(pairs).view(q, n)

    def loss(self, scores: Tensor, query_y: Tensor) -> Tensor:
        if self.loss_kind == "mse":
            target = F.one_hot(query_y, scores.shape[1]).to(scores.dtype)
            return F.mse_loss(torch.sigmoid(scores), target)
        return F.cross_entropy(scores, query_y)
