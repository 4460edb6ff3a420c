"""Each entity is a task: bootstrap intervals over entities and cold-start curves, for any domain.

A *cold-start* evaluation asks how well a method predicts a new entity (a student, a user) after
observing ``k`` of its labelled examples. Its rows (answers, ratings) are **not** independent:
the rows of one entity are correlated, so an interval must resample whole entities.

* :func:`entity_bootstrap` puts a percentile interval on any metric by resampling entities with
  replacement. A metric sees a resample as row weights: ``weights[i]`` = how many times the entity
  of row ``i`` was drawn (the point estimate uses weights of ones), so no array is ever copied.
* :func:`paired_entity_bootstrap` resamples the same entities for two methods scored on the same
  rows: the interval is that of the difference, much narrower than either method's own interval.
* :func:`cold_start_curve` collects ``{method: {metric: interval}}`` over several ``k`` and
  :func:`plot_cold_start` draws one metric of it.
* :func:`weighted_auc`, :func:`weighted_accuracy` are ready-made metrics; :func:`rank_scores` turns
  scores into integer ranks once, so that a bootstrap of the AUC does not sort at every resample.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["EntityTaskSampler", "cold_start_curve", "entity_bootstrap", "paired_entity_bootstrap", "plot_cold_start", "rank_scores",
           "weighted_accuracy", "weighted_auc"]


def rank_scores(scores) -> np.ndarray:
    """Dense integer ranks [N] of ``scores`` [N] (ties share a rank); the AUC of ranks equals the AUC of scores."""
    return np.unique(np.asarray(scores, dtype=float), return_inverse=True)[1].reshape(-1)


def weighted_auc(weights, scores, labels) -> float:
    """ROC AUC of ``scores`` [N] against 0/1 ``labels`` [N], row ``i`` counted ``weights[i]`` times.

    Ties count one half. Integer ``scores`` are taken as ranks (see :func:`rank_scores`) and are not
    sorted again. Returns nan when the weighted rows hold only one class.
    """
    scores, labels, weights = np.asarray(scores), np.asarray(labels, dtype=float), np.asarray(weights, dtype=float)
    ranks = scores - scores.min() if np.issubdtype(scores.dtype, np.integer) else rank_scores(scores)
    n_ranks = int(ranks.max()) + 1 if ranks.size else 0
    pos = np.bincount(ranks, weights=weights * labels, minlength=n_ranks)
    neg = np.bincount(ranks, weights=weights * (1 - labels), minlength=n_ranks)
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return float("nan")
    neg_below = np.cumsum(neg) - neg
    return float((pos * (neg_below + 0.5 * neg)).sum() / (total_pos * total_neg))


def weighted_accuracy(weights, probs, labels) -> float:
    """Weighted fraction of rows where the prediction ``probs >= 1/2`` [N] equals the 0/1 ``labels`` [N].

    A probability of exactly 1/2 counts as a prediction of 1.
    """
    weights = np.asarray(weights, dtype=float)
    hits = (np.asarray(probs, dtype=float) >= 0.5) == (np.asarray(labels) > 0.5)
    return float((weights * hits).sum() / weights.sum())


def _resample_weights(groups, n_boot: int, seed: int):
    """Yield ``n_boot`` row-weight vectors [N]: entities drawn with replacement, as many as there are."""
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10 for a meaningful interval, got {n_boot}")
    _, entity = np.unique(np.asarray(groups), return_inverse=True)
    entity = entity.reshape(-1)
    n = int(entity.max()) + 1 if entity.size else 0
    if n == 0:
        raise ValueError("groups is empty: there is no entity to resample")
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        yield counts[entity]


def _check_lengths(groups, arrays):
    n = len(np.asarray(groups))
    for i, a in enumerate(arrays):
        if len(a) != n:
            raise ValueError(f"array {i} has {len(a)} rows but groups has {n}: give one entity id per row")


def _interval(values, confidence):
    alpha = (1 - confidence) / 2
    return float(np.nanquantile(values, alpha)), float(np.nanquantile(values, 1 - alpha))


def entity_bootstrap(metric: Callable[..., float], groups, *arrays, n_boot: int = 1000, seed: int = 0,
                     confidence: float = 0.95) -> dict:
    """``metric(weights, *arrays)`` with a percentile bootstrap interval over entities.

    ``groups`` [N]: the entity of each row; ``arrays``: [N] each, passed to ``metric`` unchanged.
    Each resample draws as many entities as there are, with replacement. The same ``seed`` draws
    the same entities, whatever the metric. Returns ``{"value", "low", "high"}``.
    """
    _check_lengths(groups, arrays)
    value = metric(np.ones(len(np.asarray(groups))), *arrays)
    boots = np.array([metric(w, *arrays) for w in _resample_weights(groups, n_boot, seed)])
    low, high = _interval(boots, confidence)
    return {"value": float(value), "low": low, "high": high}


def paired_entity_bootstrap(metric: Callable[..., float], groups, arrays_a, arrays_b, n_boot: int = 1000,
                            seed: int = 0, confidence: float = 0.95) -> dict:
    """``metric(w, *arrays_a) - metric(w, *arrays_b)`` on the same resampled entities.

    ``arrays_a``, ``arrays_b``: tuples of [N] arrays describing the same rows (e.g. two methods'
    scores and the shared labels). Returns ``{"diff", "low", "high", "p_a_better"}``, where
    ``p_a_better`` is the fraction of resamples in which a scores higher (ties count one half). The
    difference is significant at this level when ``[low, high]`` does not contain 0.
    """
    arrays_a, arrays_b = tuple(arrays_a), tuple(arrays_b)
    _check_lengths(groups, arrays_a + arrays_b)
    ones = np.ones(len(np.asarray(groups)))
    diff = metric(ones, *arrays_a) - metric(ones, *arrays_b)
    boots = np.array([metric(w, *arrays_a) - metric(w, *arrays_b)
                      for w in _resample_weights(groups, n_boot, seed)])
    low, high = _interval(boots, confidence)
    valid = boots[~np.isnan(boots)]
    p_a_better = float(((valid > 0).sum() + 0.5 * (valid == 0).sum()) / max(len(valid), 1))
    return {"diff": float(diff), "low": low, "high": high, "p_a_better": p_a_better}


def cold_start_curve(evaluate: Callable[[int], dict], ks) -> dict:
    """Run ``evaluate(k)`` for every ``k`` in ``ks`` (in the given order) and regroup by method and metric.

    ``evaluate(k) -> {method: {metric: {"value", "low", "high"}}}`` (e.g. from
    :func:`entity_bootstrap`). Returns ``{method: {metric: [{"k", "value", "low", "high"}, ...]}}``.
    """
    curve: dict = {}
    for k in tqdm(list(ks), desc="cold start over k"):
        for method, metrics in evaluate(k).items():
            for metric, interval in metrics.items():
                point = {"k": k, "value": float(interval["value"]), "low": float(interval["low"]),
                         "high": float(interval["high"])}
                curve.setdefault(method, {}).setdefault(metric, []).append(point)
    return curve


def plot_cold_start(curve: dict, metric: str, ax=None, methods=None, reference: dict | None = None, bands=True):
    """Draw ``metric`` against k, one line per method of ``curve`` (from :func:`cold_start_curve`).

    ``methods``: the methods to draw (default all, in order); ``bands``: True (an interval band for
    every method), False, or the methods that get one; ``reference``: ``{label: value}`` drawn as
    labelled dotted horizontal lines. The legend sits outside the axes, right of them. Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4.5))
    methods = list(curve) if methods is None else list(methods)
    banded = set(methods) if bands is True else set(bands or ())
    ks = []
    for method in methods:
        points = curve[method][metric]
        k = [p["k"] for p in points]
        ks = sorted(set(ks) | set(k))
        line, = ax.plot(k, [p["value"] for p in points], marker="o", ms=4, label=method)
        if method in banded:
            ax.fill_between(k, [p["low"] for p in points], [p["high"] for p in points], color=line.get_color(),
                            alpha=0.15, lw=0)
    if ks and min(ks) >= 0:
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlim(min(ks) - 0.2, max(ks) * 1.15 + 0.2)
    for label, value in (reference or {}).items():
        ax.axhline(value, ls=":", color="gray", lw=1.2, label=label)
        ax.annotate(f" {label}", (0, value), xycoords=("axes fraction", "data"), va="bottom", fontsize=8,
                    color="gray")
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("k = examples observed from the new entity")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    return ax


class EntityTaskSampler:
    """Random meta-batches of cold-start tasks: ``batch_size`` random entities of ``pool``, one random k per batch.

    ``pool`` holds one task per entity (student, user) with ``k`` support items and supports ``len``,
    ``subset(index)`` and ``first(k)`` (the same entities with only their first k support items): chapter 07's
    :class:`~course_lib.edu.splits.ColdStartTasks` and chapter 08's :class:`~course_lib.recsys.tasks.UserTasks`.
    """

    def __init__(self, pool, k_choices, batch_size: int, seed: int = 0):
        self.k_choices = [int(k) for k in k_choices]
        if not self.k_choices or min(self.k_choices) < 0 or max(self.k_choices) > pool.k:
            raise ValueError(f"k_choices must lie in 0..{pool.k} (the pool's support size), got {k_choices}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.pool, self.batch_size = pool, min(int(batch_size), len(pool))
        self.generator = torch.Generator().manual_seed(seed)

    def sample(self):
        index = torch.randperm(len(self.pool), generator=self.generator)[:self.batch_size]
        k = self.k_choices[int(torch.randint(len(self.k_choices), (1,), generator=self.generator))]
        return self.pool.subset(index).first(k)

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

