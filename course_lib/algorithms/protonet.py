"""Prototypical Networks (Snell, Swersky & Zemel, NeurIPS 2017).

An embedding network ``f`` maps every image to a vector. The *prototype* of class ``k`` is the
mean of its embedded support examples, and a query is classified by a softmax over negative
distances to the prototypes::

    c_k = 1/|S_k| * sum_{x in S_k} f(x)                                  [N, D]
    p(y = k | x) = softmax_k( -d(f(x), c_k) )                             [Q, N]

Meta-training minimises the cross-entropy of the **query** examples of each episode (never of
the support examples, which built the prototypes: see chapter 05's exercise on that bug).

Two facts the chapter derives and this module lets you check numerically:

* **Bregman view.** For any Bregman divergence ``d_phi`` (squared Euclidean is one), the point
  ``c`` minimising ``sum_i d_phi(z_i, c)`` is the mean of the ``z_i``: the prototype is the
  optimal cluster representative, not an arbitrary choice.
* **Linear classifier.** With the squared Euclidean distance,
  ``-||z - c_k||^2 = 2 c_k.z - ||c_k||^2 - ||z||^2``; the last term is the same for every class,
  so ProtoNet is a linear classifier on the embedding with ``W_k = 2 c_k`` and
  ``b_k = -||c_k||^2`` (:func:`linear_head_from_prototypes`). Using that head as the
  initialisation of a few gradient steps gives **ProtoMAML** (Triantafillou et al. 2020),
  the bridge to chapter 02 (:func:`protomaml_adapt`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.adaptation import SGD, adapt
from course_lib.checks import check_episode_labels
from course_lib.nets import Conv4, embed, register_log_scale

__all__ = [
    "METRICS",
    "ProtoNet",
    "cosine_similarity",
    "linear_head_from_prototypes",
    "linear_scores",
    "proto_scores",
    "protomaml_adapt",
    "prototypes",
    "squared_euclidean",
]

METRICS = ("sqeuclidean", "cosine")


def _check_labels(support_emb: Tensor, support_y: Tensor, n_way: int) -> None:
    if support_emb.dim() != 2:
        raise ValueError(f"support embeddings must be [N*K, D], got shape {list(support_emb.shape)}")
    check_episode_labels(support_y, support_emb.shape[0], n_way)


def prototypes(support_emb: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """Class means of the support embeddings.

    support_emb [N*K, D], support_y [N*K] (labels 0..n_way-1, any order, any K per class)
    -> prototypes [n_way, D]. Raises ValueError if a class has no support example.
    """
    _check_labels(support_emb, support_y, n_way)
    one_hot = F.one_hot(support_y, n_way).to(support_emb.dtype)  # [N*K, N]
    counts = one_hot.sum(dim=0)  # [N]
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise ValueError(f"class(es) {missing} have no support example, so they have no prototype")
    return one_hot.t() @ support_emb / counts[:, None]


def squared_euclidean(x: Tensor, y: Tensor) -> Tensor:
    """Pairwise squared Euclidean distances: x [Q, D], y [N, D] -> [Q, N].

    Computed as a broadcast difference (exact, never negative), not via the expansion
    ``|x|^2 - 2x.y + |y|^2`` whose rounding can give small negative values.
    """
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected x [Q, D] and y [N, D] with the same D, got {list(x.shape)} and {list(y.shape)}")
    return (x[:, None, :] - y[None, :, :]).pow(2).sum(dim=-1)


def cosine_similarity(x: Tensor, y: Tensor, eps: float = 1e-8) -> Tensor:
    """Pairwise cosine similarities: x [Q, D], y [N, D] -> [Q, N], values in [-1, 1]."""
    if x.dim() != 2 or y.dim() != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"expected x [Q, D] and y [N, D] with the same D, got {list(x.shape)} and {list(y.shape)}")
    return F.normalize(x, dim=-1, eps=eps) @ F.normalize(y, dim=-1, eps=eps).t()


def proto_scores(query_emb: Tensor, protos: Tensor, metric: str = "sqeuclidean", scale: float | Tensor = 1.0) -> Tensor:
    """Class scores (logits) of the queries: query_emb [Q, D], protos [N, D] -> [Q, N].

    ``"sqeuclidean"``: ``-scale * ||z - c_k||^2`` (Snell et al.; scale 1).
    ``"cosine"``: ``scale * cos(z, c_k)``; cosines live in [-1, 1], so a softmax over them is
    nearly uniform unless they are multiplied by a scale (an inverse temperature, e.g. 10).
    """
    if metric == "sqeuclidean":
        return -scale * squared_euclidean(query_emb, protos)
    if metric == "cosine":
        return scale * cosine_similarity(query_emb, protos)
    raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")


def linear_head_from_prototypes(protos: Tensor) -> tuple[Tensor, Tensor]:
    """ProtoNet (squared Euclidean) as a linear layer: protos [N, D] -> (W [N, D], b [N]).

    ``W_k = 2 c_k`` and ``b_k = -||c_k||^2``, so that ``z @ W.T + b`` equals
    ``-||z - c_k||^2`` up to the class-independent term ``-||z||^2`` (same softmax, same argmax).
    """
    if protos.dim() != 2:
        raise ValueError(f"prototypes must be [N, D], got shape {list(protos.shape)}")
    return 2.0 * protos, -protos.pow(2).sum(dim=-1)


def linear_scores(emb: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Logits of a linear head: emb [Q, D], weight [N, D], bias [N] -> [Q, N]."""
    return emb @ weight.t() + bias


class ProtoNet(nn.Module):
    """A prototypical network: an embedding network plus the prototype classifier.

    Parameters
    ----------
    encoder : nn.Module or None
        Maps images [B, 1, H, W] to embeddings [B, D] (through ``encoder.features`` if it has
        one, else ``encoder(x)``). Default: ``Conv4(None)`` (64-d embedding, as in the paper).
    metric : "sqeuclidean" | "cosine"
    scale : float
        Multiplies the scores (1 for squared Euclidean as in the paper; about 10 for cosine).
    learn_scale : bool
        Make ``scale`` a trainable parameter (stored as its logarithm).

    ``forward(support_x [N*K,1,H,W], support_y [N*K], query_x [Q,1,H,W], n_way) -> logits [Q, N]``.
    """

    def __init__(
        self,
        encoder: nn.Module | None = None,
        metric: str = "sqeuclidean",
        scale: float | None = None,
        learn_scale: bool = False,
    ) -> None:
        super().__init__()
        if metric not in METRICS:
            raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
        self.encoder = encoder if encoder is not None else Conv4(None)
        self.metric = metric
        if scale is None:
            scale = 1.0 if metric == "sqeuclidean" else 10.0
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        register_log_scale(self, scale, learn_scale)

    def embed(self, x: Tensor) -> Tensor:
        """Embeddings [B, D] of images x [B, 1, H, W]."""
        return embed(self.encoder, x)

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        # One encoder pass over support and query together (one BatchNorm batch, as in the paper's code).
        emb = self.embed(torch.cat([support_x, query_x], dim=0))
        support_emb, query_emb = emb[: support_x.shape[0]], emb[support_x.shape[0]:]
        protos = prototypes(support_emb, support_y, n_way)
        return proto_scores(query_emb, protos, self.metric, self.log_scale.exp())

    @staticmethod
    def loss(scores: Tensor, query_y: Tensor) -> Tensor:
        """Cross-entropy of the query predictions (scores [Q, N], query_y [Q])."""
        return F.cross_entropy(scores, query_y)


class _LinearHead(nn.Module):
    """``scores = 2 c.z - ||c||^2``-style linear head on embeddings; its tensors always come from a params dict."""

    def __init__(self, encoder: nn.Module | None = None):
        super().__init__()
        self.encoder = encoder
        self.weight = nn.Parameter(torch.empty(0))  # placeholders: adapt() passes the real head
        self.bias = nn.Parameter(torch.empty(0))

    def forward(self, x: Tensor) -> Tensor:
        emb = x if self.encoder is None else embed(self.encoder, x)
        return linear_scores(emb, self.weight, self.bias)


def protomaml_adapt(
    model: ProtoNet,
    support_x: Tensor,
    support_y: Tensor,
    query_x: Tensor,
    n_way: int,
    steps: int = 5,
    inner_lr: float = 0.1,
    adapt_encoder: bool = False,
    create_graph: bool = False,
) -> tuple[Tensor, list[float]]:
    """ProtoMAML's inner loop: start from the prototype head, take gradient steps on the support set.

    The linear head is initialised with ``W = 2c, b = -||c||^2`` (so with ``steps=0`` the
    predictions are exactly ProtoNet's), then the shared :func:`~course_lib.adaptation.adapt` takes
    ``steps`` SGD steps on the support cross-entropy with the partial parameter dict of the head
    (and of the encoder too with ``adapt_encoder=True``, as in Triantafillou et al. 2020). With
    ``create_graph=True`` the query logits stay differentiable w.r.t. the model's parameters, as
    MAML's outer loop needs.

    BatchNorm without running statistics normalises with the statistics of the batch it sees, so
    every embedding pass embeds support and query *together*, as :meth:`ProtoNet.forward` does
    (the query labels are never used: their rows are ignored by the loss).

    support_x [N*K,1,H,W], support_y [N*K], query_x [Q,1,H,W] ->
    (query logits [Q, N], support losses: one float per step, before each update).
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    n_support = support_x.shape[0]
    both = torch.cat([support_x, query_x], dim=0)
    emb = embed(model.encoder, both)
    weight, bias = linear_head_from_prototypes(prototypes(emb[:n_support], support_y, n_way))
    if adapt_encoder:  # the loss sees support and query rows together; the query rows are ignored
        net = _LinearHead(model.encoder)
        x, y = both, torch.cat([support_y, support_y.new_full((query_x.shape[0],), -1)])
        params = {"weight": weight, "bias": bias} | {f"encoder.{n}": p for n, p in model.encoder.named_parameters()}
    else:
        net, x, y = _LinearHead(), emb[:n_support], support_y
        params = {"weight": weight, "bias": bias}
    if not create_graph:  # plain fine-tuning: no graph back to the model
        params = {n: p.detach() for n, p in params.items()}

    def loss_fn(scores: Tensor, labels: Tensor) -> Tensor:
        return F.cross_entropy(scores, labels, ignore_index=-1)

    losses = []
    for _ in range(steps):
        with torch.no_grad():
            losses.append(float(loss_fn(torch.func.functional_call(net, params, (x,)), y)))
        params = adapt(net, params, x, y, loss_fn=loss_fn, steps=1, update=SGD(inner_lr))
    if adapt_encoder:
        logits = torch.func.functional_call(net, params, (both,))[n_support:]
    else:
        query_emb = emb[n_support:] if create_graph else emb[n_support:].detach()
        logits = linear_scores(query_emb, params["weight"], params["bias"])
    return logits, losses
