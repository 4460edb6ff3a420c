"""A good embedding is (almost) all you need: supervised pre-training plus a simple head per episode.

Chen, Liu, Kira, Wang & Huang (ICLR 2019), "A Closer Look at Few-Shot Classification"; Tian, Wang,
Krishnan, Tenenbaum & Isola (ECCV 2020), "Rethinking Few-Shot Image Classification: a Good Embedding
Is All You Need?". No episodes during training: the Conv-4 learns ordinary cross-entropy over **all**
meta-training classes at once (every rotation a class of its own, as in episodic training). Each test
episode is then solved on top of that network with one of three heads (:data:`Head`; :func:`head_scorer`
makes one a scorer for :func:`course_lib.experiments.one_shot_eval.evaluate_episodes`, and
:func:`evaluate_heads` scores several on the same episodes, embedding each episode once):

* :func:`prototype_head`: nearest class mean of the frozen embedding (ProtoNet's rule, no training);
* :func:`logistic_regression_head`: a linear classifier fitted on the L2-normalised frozen support
  embeddings (Tian et al.), with the shared :func:`~course_lib.adaptation.adapt` on a linear layer;
* :func:`finetune_head`: that linear head fine-tuned together with the network's last convolutional
  block (Chen et al. and Dhillon et al. fine-tune every layer; on two CPU cores, 600 episodes of that
  cost minutes, so the first three blocks stay frozen here).

BatchNorm keeps no running statistics, so every head embeds support and query in **one** pass, as
ProtoNet does (mildly transductive; the same for every method compared).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from course_lib.adaptation import SGD, adapt
from course_lib.algorithms.protonet import proto_scores, prototypes
from course_lib.checks import check_count, check_step_size
from course_lib.data.episodes import Episode, EpisodeSampler, TaskBatch
from course_lib.experiments.one_shot_eval import EpisodeEvaluation

__all__ = ["Head", "class_batch", "embedding_network", "evaluate_heads", "finetune_head", "fit_linear_probe",
           "head_scorer", "logistic_regression_head", "prototype_head"]

#: ``head(network, lower [S + Q, C, h, w], support_y [S], n_way) -> query scores [Q, n_way]``, where ``lower`` holds the
#: features of the network's blocks but the last, for the support and query images of one episode (one BatchNorm batch).
Head = Callable[[nn.Module, Tensor, Tensor, int], Tensor]


def class_batch(episode: Episode) -> TaskBatch:
    """An episode as one supervised batch with **global** class labels, for ``joint_training_step``.

    An :class:`~course_lib.data.episodes.EpisodeSampler` with many ways draws images of random classes;
    ``episode.classes[label]`` is each image's class among all training classes (rotations included).
    Returns ``support_x [1, B, 1, H, W]`` and ``support_y [1, B]`` (B = support + query images).
    """
    if episode.classes is None:
        raise ValueError("the episode carries no class indices (episode.classes is None)")
    x = torch.cat([episode.support_x, episode.query_x])
    y = episode.classes[torch.cat([episode.support_y, episode.query_y])]
    return TaskBatch(x[None], y[None], None, None)


def embedding_network(classifier: nn.Module) -> nn.Module:
    """A copy of a pre-trained classifier without its head: ``forward(x [B, 1, H, W]) -> features [B, D]``.

    The pre-training head knows only the training classes; every test episode brings its own head.
    """
    network = copy.deepcopy(classifier)
    network.head = None
    return network.requires_grad_(False)


def _lower(network: nn.Module, support_x: Tensor, query_x: Tensor) -> Tensor:
    """Features of every block but the last, for support and query in one BatchNorm batch: ``[S + Q, C, h, w]``."""
    with torch.no_grad():
        return network.encoder[:-1](torch.cat([support_x, query_x]))


def _embedding(network: nn.Module, lower: Tensor) -> Tensor:
    """The frozen embedding ``[S + Q, D]`` from the lower features (the last block, then the spatial mean)."""
    with torch.no_grad():
        return network.encoder[-1](lower).mean(dim=(-2, -1))


def prototype_head(network: nn.Module, lower: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """Query scores ``[Q, n_way]``: minus squared distances to the class means of the frozen support embeddings."""
    z = _embedding(network, lower)
    return proto_scores(z[len(support_y):], prototypes(z[: len(support_y)], support_y, n_way))


def fit_linear_probe(support_emb: Tensor, support_y: Tensor, n_way: int, *, steps: int = 50,
                     lr: float = 2.0) -> tuple[Tensor, Tensor]:
    """Multinomial logistic regression ``W [n_way, D]``, ``b [n_way]`` on ``support_emb [S, D]``, ``support_y [S]``.

    Starts from zero (every class equal) and takes ``steps`` full-batch gradient steps of the
    cross-entropy with the shared inner loop; a fixed, small number of steps from zero is the
    regulariser (early stopping), so no weight decay is needed.
    """
    check_count("steps", steps, 1)
    check_step_size("lr", lr)
    probe = nn.Linear(support_emb.shape[1], n_way).to(support_emb)
    start = {n: torch.zeros_like(p) for n, p in probe.named_parameters()}
    with torch.no_grad():
        fitted = adapt(probe, start, support_emb, support_y, loss_fn=F.cross_entropy, steps=steps, update=SGD(lr))
    return fitted["weight"], fitted["bias"]


def logistic_regression_head(network: nn.Module, lower: Tensor, support_y: Tensor, n_way: int, *, steps: int = 50,
                             lr: float = 2.0) -> Tensor:
    """Query scores ``[Q, n_way]`` of a logistic regression on the L2-normalised frozen embedding (Tian et al. 2020)."""
    z = F.normalize(_embedding(network, lower), dim=-1)
    weight, bias = fit_linear_probe(z[: len(support_y)], support_y, n_way, steps=steps, lr=lr)
    return z[len(support_y):] @ weight.t() + bias


class _LastBlockAndHead(nn.Module):
    """The network's last convolutional block, spatial mean, L2 normalisation and a linear head (adapted together)."""

    def __init__(self, block: nn.Module, feature_dim: int, n_way: int) -> None:
        super().__init__()
        self.block = copy.deepcopy(block)
        self.head = nn.Linear(feature_dim, n_way)

    def forward(self, h: Tensor) -> Tensor:
        return self.head(F.normalize(self.block(h).mean(dim=(-2, -1)), dim=-1))


def finetune_head(network: nn.Module, lower: Tensor, support_y: Tensor, n_way: int, *, steps: int = 20,
                  lr: float = 2.0) -> Tensor:
    """Query scores ``[Q, n_way]`` after fine-tuning the last convolutional block **and** a logistic-regression head.

    The shared :func:`~course_lib.adaptation.adapt` takes ``steps`` SGD steps of step size ``lr`` on the
    support cross-entropy with the partial parameter dict of the last block and a zero-initialised head (the
    query rows pass through the block's BatchNorm too, but carry the label -1, which the loss ignores). The
    network's own weights are never changed.
    """
    top = _LastBlockAndHead(network.encoder[-1], network.feature_dim, n_way).to(lower)
    params = {n: p.detach() for n, p in top.named_parameters() if n.startswith("block.")}
    params |= {n: torch.zeros_like(p) for n, p in top.head.named_parameters(prefix="head")}
    labels = torch.cat([support_y, support_y.new_full((len(lower) - len(support_y),), -1)])
    with torch.no_grad():
        phi = adapt(top, params, lower, labels, loss_fn=lambda s, y: F.cross_entropy(s, y, ignore_index=-1),
                    steps=steps, update=SGD(lr))
        return functional_call(top, phi, (lower,))[len(support_y):]


def head_scorer(network: nn.Module, head: Head):
    """A scorer for ``evaluate_episodes``: ``head(network, lower features, support_y, n_way)`` on each episode."""

    def scorer(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        return head(network, _lower(network, support_x, query_x), support_y, n_way)

    return scorer


def evaluate_heads(network: nn.Module, heads: Mapping[str, Head], images: Tensor, n_way: int, k_shot: int, *,
                   n_episodes: int, q_query: int = 5, seed: int = 1234, device="cpu",
                   ) -> tuple[dict[str, EpisodeEvaluation], dict[str, float]]:
    """Every head on the same episodes as ``evaluate_episodes(scorer, images, n_way, k_shot, q_query, n_episodes, seed)``,
    the network's lower blocks run once per episode for all of them.

    Returns ``({name: accuracies}, {name: seconds})``; the seconds are each head's own share, plus
    ``"shared embedding"`` for the lower blocks.
    """
    sampler = EpisodeSampler(images, n_way, k_shot, q_query, rotations=False, seed=seed)
    accuracies = {name: np.empty(n_episodes) for name in heads}
    seconds = dict.fromkeys(["shared embedding", *heads], 0.0)
    for i in range(n_episodes):
        episode = sampler.sample().to(device)
        start = time.perf_counter()
        lower = _lower(network, episode.support_x, episode.query_x)
        seconds["shared embedding"] += time.perf_counter() - start
        for name, head in heads.items():
            start = time.perf_counter()
            scores = head(network, lower, episode.support_y, n_way)
            accuracies[name][i] = (scores.argmax(dim=1) == episode.query_y).float().mean().item()
            seconds[name] += time.perf_counter() - start
    return {name: EpisodeEvaluation(acc, n_way, k_shot) for name, acc in accuracies.items()}, seconds
