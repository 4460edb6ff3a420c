"""Scoring cold-start recommenders: RMSE, MAE and nDCG@10 on each user's query ratings, with intervals.

Every method maps :class:`~course_lib.recsys.tasks.UserTasks` to scores ``[U, Q]`` of the query
movies. Rating errors are pooled over the query ratings; nDCG@10 is computed per user, ranking that
user's own query movies by score with the true rating as gain,

    DCG@10 = sum_{rank r <= 10} rating_(r) / log2(r + 1),   nDCG@10 = DCG@10 / DCG@10 of the ideal order,

where tied scores share the mean discount of the ranks they occupy (the expected DCG under a random
tie-break, so a constant prediction is not credited with whatever order the data came in).
Intervals resample **users** (:func:`course_lib.cold_start.entity_bootstrap`), because the ratings of
one user are not independent.
"""

from __future__ import annotations

import numpy as np
import torch

from course_lib.cold_start import entity_bootstrap, paired_entity_bootstrap

__all__ = ["METRICS", "evaluate_methods", "ndcg_at", "ndcg_users", "paired_difference", "per_row"]

METRICS = ("RMSE", "MAE", "nDCG@10")


def ndcg_at(scores, ratings, k: int = 10) -> float:
    """nDCG@k of one user: ``scores [Q]`` rank the movies, ``ratings [Q]`` (>= 0) are the gains."""
    scores, ratings = np.asarray(scores, dtype=float), np.asarray(ratings, dtype=float)
    n = len(scores)
    discount = np.where(np.arange(n) < k, 1.0 / np.log2(np.arange(n) + 2.0), 0.0)    # rank 1 -> 1/log2(2)
    order = np.argsort(-scores, kind="stable")
    sorted_scores = scores[order]
    _, start, counts = np.unique(-sorted_scores, return_index=True, return_counts=True)
    shared = np.repeat(np.add.reduceat(discount, start) / counts, counts)            # ties: mean discount
    ideal = (np.sort(ratings)[::-1] * discount).sum()
    return float((ratings[order] * shared).sum() / ideal) if ideal > 0 else float("nan")


def ndcg_users(scores: torch.Tensor, tasks, k: int = 10) -> np.ndarray:
    """nDCG@k ``[U]`` of every user of ``tasks`` from query scores ``[U, Q]`` (padding left out)."""
    scores, ratings, mask = (t.detach().cpu().numpy() for t in (scores, tasks.query_rating, tasks.query_mask))
    return np.array([ndcg_at(s[m], r[m], k) for s, r, m in zip(scores, ratings, mask)])


def per_row(scores: torch.Tensor, tasks) -> dict[str, np.ndarray]:
    """Arrays for the bootstrap: ``sq_err, abs_err, rating_user [N]`` (query ratings) and ``ndcg, user [U]``."""
    mask = tasks.query_mask.cpu()
    err = (scores.detach().cpu() - tasks.query_rating.cpu())[mask].numpy().astype(float)
    users = tasks.user.cpu()[:, None].expand_as(mask)[mask].numpy()
    return {"sq_err": err ** 2, "abs_err": np.abs(err), "rating_user": users,
            "ndcg": ndcg_users(scores, tasks), "user": tasks.user.cpu().numpy()}


def _mean(w, values):
    return float((w * values).sum() / w.sum())


def _rmse(w, sq):
    return _mean(w, sq) ** 0.5


def evaluate_methods(methods: dict, tasks, ranking_only=(), n_boot: int = 1000, seed: int = 0) -> dict:
    """``{method: {"RMSE"|"MAE"|"nDCG@10": {"value", "low", "high"}}}`` for ``methods = {name: tasks -> [U, Q]}``.

    Methods in ``ranking_only`` (e.g. popularity) get only nDCG@10. The same users are resampled
    for every method (the same ``seed``), so their intervals are comparable.
    """
    out = {}
    for name, predict in methods.items():
        rows = per_row(predict(tasks), tasks)
        out[name] = {"nDCG@10": entity_bootstrap(_mean, rows["user"], rows["ndcg"], n_boot=n_boot, seed=seed)}
        if name not in ranking_only:
            out[name]["RMSE"] = entity_bootstrap(_rmse, rows["rating_user"], rows["sq_err"], n_boot=n_boot, seed=seed)
            out[name]["MAE"] = entity_bootstrap(_mean, rows["rating_user"], rows["abs_err"], n_boot=n_boot, seed=seed)
    return out


def paired_difference(scores_a: torch.Tensor, scores_b: torch.Tensor, tasks, metric: str, n_boot: int = 1000,
                      seed: int = 0) -> dict:
    """``metric(a) - metric(b)`` on the same resampled users: ``{"diff", "low", "high", "p_a_better"}``.

    ``p_a_better`` is the fraction of resamples where a's metric is *higher*: for RMSE and MAE
    (lower is better) read ``1 - p_a_better``.
    """
    a, b = per_row(scores_a, tasks), per_row(scores_b, tasks)
    if metric == "nDCG@10":
        return paired_entity_bootstrap(_mean, a["user"], (a["ndcg"],), (b["ndcg"],), n_boot=n_boot, seed=seed)
    key, fn = {"RMSE": ("sq_err", _rmse), "MAE": ("abs_err", _mean)}[metric]
    return paired_entity_bootstrap(fn, a["rating_user"], (a[key],), (b[key],), n_boot=n_boot, seed=seed)
