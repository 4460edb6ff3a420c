"""Evaluate any few-shot scorer the same way: Lake's 20 one-shot runs and held-out N-way K-shot episodes.

A *scorer* is any callable ``scorer(support_x [S,1,H,W], support_y [S], query_x [Q,1,H,W], n_way)
-> scores [Q, n_way]`` (higher = more likely); the prediction is the argmax. Every model of
chapter 05 (ProtoNet, MatchingNet, RelationNet, SiameseNet) is a scorer, and so is a nearest-
neighbour rule on raw pixels (:func:`pixel_scorer`), the baseline every learned metric must beat.

* :func:`evaluate_lake_runs`: Lake et al. (2015)'s official test: 20 runs, each 20 training
  drawings (one per character, all characters of one alphabet) and 20 test drawings by other
  people; error = share of test drawings matched to the wrong training drawing. Published
  errors: people 4.5 %, Bayesian Program Learning 3.3 %, a deep ConvNet 13.5 %.
* :func:`evaluate_episodes`: accuracy over many random N-way K-shot episodes from held-out
  characters, reported as mean +- 95 % confidence half-width (Student-t quantile x std / sqrt(n), see ``metrics.mean_ci``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from course_lib.algorithms.protonet import proto_scores, prototypes
from course_lib.data.episodes import EpisodeSampler
from course_lib.metrics import mean_ci

__all__ = [
    "LAKE_REFERENCE_ERRORS",
    "EpisodeEvaluation",
    "LakeEvaluation",
    "Scorer",
    "as_scorer",
    "embedding_pca",
    "embedding_scorer",
    "evaluate_episodes",
    "evaluate_lake_runs",
    "pixel_scorer",
    "run_scores",
]

Scorer = Callable[[Tensor, Tensor, Tensor, int], Tensor]

#: Error rates (fractions) on the 20 within-alphabet runs, Lake, Salakhutdinov & Tenenbaum (Science 2015).
LAKE_REFERENCE_ERRORS = {"people": 0.045, "Bayesian Program Learning": 0.033, "deep ConvNet": 0.135}


def as_scorer(model: nn.Module | Scorer) -> Scorer:
    """Wrap a model as a scorer that runs in eval mode without gradients (plain callables pass through)."""
    if not isinstance(model, nn.Module):
        if not callable(model):
            raise TypeError(f"a scorer must be callable (support_x, support_y, query_x, n_way) -> scores, got {model!r}")
        return model

    def scorer(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return model(support_x, support_y, query_x, n_way)
        finally:
            model.train(was_training)

    return scorer


def embedding_scorer(embed: Callable[[Tensor], Tensor], metric: str = "sqeuclidean") -> Scorer:
    """Nearest-prototype scorer on any embedding ``embed(x [B,1,H,W]) -> [B, D]``."""

    def scorer(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        with torch.no_grad():
            s, q = embed(support_x), embed(query_x)
            return proto_scores(q, prototypes(s, support_y, n_way), metric)

    return scorer


def pixel_scorer(metric: str = "sqeuclidean") -> Scorer:
    """Baseline: nearest class mean in raw pixel space (no learning at all)."""
    return embedding_scorer(lambda x: x.flatten(1), metric)


def _check_scores(scores: Tensor, q: int, n_way: int) -> Tensor:
    if not isinstance(scores, Tensor) or tuple(scores.shape) != (q, n_way):
        shape = list(scores.shape) if isinstance(scores, Tensor) else type(scores).__name__
        raise ValueError(f"the scorer must return scores of shape [{q}, {n_way}] (queries x classes), got {shape}")
    if not torch.isfinite(scores).all():
        raise ValueError("the scorer returned non-finite scores (NaN or inf)")
    return scores


def run_scores(scorer: Scorer, run, device: torch.device | str = "cpu") -> Tensor:
    """Scores [20, 20] of one of Lake's runs: row i = test drawing i, column j = training drawing j."""
    train = run.train_images
    test = run.test_images
    if train.dim() != 3 or test.dim() != 3:
        raise ValueError(
            f"run {getattr(run, 'name', '?')}: train_images/test_images must be [n, H, W], "
            f"got {list(train.shape)} and {list(test.shape)}"
        )
    n = train.shape[0]
    support_y = torch.arange(n, device=device)
    scores = scorer(train[:, None].to(device), support_y, test[:, None].to(device), n)
    return _check_scores(scores, test.shape[0], n).detach().cpu()


@dataclass
class LakeEvaluation:
    """Result of :func:`evaluate_lake_runs`.

    errors : float array [R]        error rate of each run
    predictions : list of LongTensor [20]   predicted training index per test drawing
    scores : list of Tensor [20, 20]
    names : list[str]
    """

    errors: np.ndarray
    predictions: list[Tensor] = field(repr=False)
    scores: list[Tensor] = field(repr=False)
    names: list[str] = field(repr=False)

    @property
    def mean_error(self) -> float:
        """Error over all test drawings of all runs (the number Lake et al. report)."""
        return float(np.mean(self.errors))

    def __repr__(self) -> str:
        return f"LakeEvaluation({len(self.errors)} runs, error {100 * self.mean_error:.1f} %)"


def evaluate_lake_runs(scorer: nn.Module | Scorer, runs: Sequence, device: torch.device | str = "cpu") -> LakeEvaluation:
    """Error of ``scorer`` on Lake's one-shot runs (objects with ``train_images [n,H,W]``,
    ``test_images [m,H,W]``, ``answers [m]`` (index into train_images) and ``name``)."""
    runs = list(runs)
    if not runs:
        raise ValueError("no runs to evaluate (got an empty list); load them with course_lib.data.omniglot.load_lake_runs()")
    scorer = as_scorer(scorer)
    errors, predictions, all_scores, names = [], [], [], []
    for run in runs:
        scores = run_scores(scorer, run, device)
        pred = scores.argmax(dim=1)
        answers = torch.as_tensor(run.answers).long().cpu()
        if answers.shape != pred.shape:
            raise ValueError(f"run {run.name}: answers has shape {list(answers.shape)}, expected {list(pred.shape)}")
        errors.append(float((pred != answers).float().mean()))
        predictions.append(pred)
        all_scores.append(scores)
        names.append(getattr(run, "name", f"run{len(names) + 1:02d}"))
    return LakeEvaluation(np.asarray(errors), predictions, all_scores, names)


@dataclass
class EpisodeEvaluation:
    """Result of :func:`evaluate_episodes`: per-episode accuracies and their mean +- 95 % CI."""

    accuracies: np.ndarray
    n_way: int
    k_shot: int

    @property
    def mean(self) -> float:
        return mean_ci(self.accuracies)[0]

    @property
    def ci95(self) -> float:
        return mean_ci(self.accuracies)[1]

    def __str__(self) -> str:
        return (f"{self.n_way}-way {self.k_shot}-shot: {100 * self.mean:.2f} ± {100 * self.ci95:.2f} % "
                f"({len(self.accuracies)} episodes)")

    __repr__ = __str__


def evaluate_episodes(
    scorer: nn.Module | Scorer,
    images: Tensor,
    n_way: int,
    k_shot: int,
    q_query: int = 5,
    n_episodes: int = 600,
    seed: int = 1234,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> EpisodeEvaluation:
    """Accuracy of ``scorer`` over ``n_episodes`` N-way K-shot episodes drawn from ``images [C, M, H, W]``.

    No rotations (rotated classes are a training-time augmentation only). A fixed ``seed`` gives
    the same episodes to every method, so their accuracies are paired and comparable.
    """
    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    scorer = as_scorer(scorer)
    sampler = EpisodeSampler(images, n_way, k_shot, q_query, rotations=False, seed=seed)
    accuracies = np.empty(n_episodes)
    for i in tqdm(range(n_episodes), desc=f"eval {n_way}-way {k_shot}-shot", disable=not progress, leave=False):
        ep = sampler.sample().to(device)
        scores = _check_scores(scorer(ep.support_x, ep.support_y, ep.query_x, n_way), ep.query_x.shape[0], n_way)
        accuracies[i] = (scores.argmax(dim=1) == ep.query_y).float().mean().item()
    return EpisodeEvaluation(accuracies, n_way, k_shot)


def embedding_pca(embed: Callable[[Tensor], Tensor], images: Tensor, device: torch.device | str = "cpu",
                  ) -> tuple[Tensor, Tensor, float]:
    """Project the embeddings of ``images [C, M, H, W]`` onto their first two principal components.

    embed : x [B,1,H,W] -> [B, D] (e.g. ``model.embed``); all C*M images are embedded in one batch.
    Returns (coords [C*M, 2], labels [C*M] in 0..C-1, share of the variance the two components explain).
    """
    if images.dim() != 4:
        raise ValueError(f"images must be [classes, drawings, H, W], got shape {list(images.shape)}")
    c, m = images.shape[:2]
    with torch.no_grad():
        emb = embed(images.reshape(c * m, 1, *images.shape[2:]).to(device)).detach().cpu().double()
    centred = emb - emb.mean(0)
    _, s, v = torch.linalg.svd(centred, full_matrices=False)
    coords = centred @ v[:2].t()
    explained = float((s[:2] ** 2).sum() / (s**2).sum())
    return coords.float(), torch.arange(c).repeat_interleave(m), explained
