"""Evaluating knowledge tracing and cold-start prediction: AUC and accuracy, with intervals over students.

* :func:`predict_sequences` runs a knowledge tracer over whole students (chunked like training)
  and returns one probability per response — the *standard* KT evaluation pools them.
* :func:`kt_metrics` scores probabilities: AUC, accuracy (threshold 1/2) and the majority-class
  rate, the accuracy of always predicting the more frequent answer, which accuracy must beat.
* :func:`standard_kt_evaluation` and :func:`cold_start_evaluation` add 95 % intervals that
  resample **students** (the answers of one student are correlated), with the domain-agnostic
  :mod:`course_lib.cold_start`; :func:`compare_methods` is the paired test of two methods.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from course_lib.cold_start import (cold_start_curve, entity_bootstrap, paired_entity_bootstrap, rank_scores,
                                   weighted_accuracy, weighted_auc)
from course_lib.edu.batching import batches, check_skill_range, chunk_sequences
from course_lib.edu.splits import ColdStartTasks, cold_start_view

Predictor = Callable[[ColdStartTasks], torch.Tensor]


@torch.no_grad()
def predict_sequences(model, sequences, max_len: int = 200, batch_size: int = 64, device=None):
    """Probabilities of a knowledge tracer for every response of ``sequences``.

    ``model(skills [B, T], correct [B, T]) -> logits [B, T]`` predicts each response from the
    earlier ones. Long students are cut into chunks of ``max_len`` (each chunk starts with an empty
    state, as in the DKVMN protocol). Returns numpy arrays ``(probs [N], labels [N], student [N])``.
    """
    sequences = list(sequences)
    check_skill_range(sequences, model.num_skills)
    device = torch.device(device or "cpu")
    was_training = model.training
    model.eval()
    probs, labels, owners = [], [], []
    for batch in batches(chunk_sequences(sequences, max_len), batch_size):
        batch = batch.to(device)
        probs.append(torch.sigmoid(model(batch.skills, batch.correct))[batch.mask].float().cpu())
        labels.append(batch.correct[batch.mask].cpu())
        owners.append(batch.student.unsqueeze(1).expand_as(batch.mask)[batch.mask].cpu())
    model.train(was_training)
    return torch.cat(probs).numpy(), torch.cat(labels).numpy(), torch.cat(owners).numpy()


def majority_rate(weights, labels) -> float:
    """Weighted share of the more frequent label [N]: the accuracy of always predicting it."""
    weights = np.asarray(weights, dtype=float)
    rate = float((weights * np.asarray(labels, dtype=float)).sum() / weights.sum())
    return max(rate, 1 - rate)


def kt_metrics(probs, labels) -> dict[str, float]:
    """``{"auc", "acc", "majority", "n"}`` of probabilities [N] against 0/1 labels [N] (accuracy at 1/2)."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels)
    ones = np.ones(labels.size)
    return {"auc": weighted_auc(ones, probs, labels), "acc": weighted_accuracy(ones, probs, labels),
            "majority": majority_rate(ones, labels), "n": int(labels.size)}


def standard_kt_evaluation(model, sequences, n_boot: int = 300, max_len: int = 200, device=None) -> dict:
    """AUC and accuracy of ``model`` on every response of ``sequences``, 95 % intervals over students.

    Returns ``{"auc": {"value", "low", "high"}, "accuracy": {...}, "majority": float, "n",
    "probs", "labels", "students"}`` (the last three: numpy arrays [N]).
    """
    probs, labels, students = predict_sequences(model, sequences, max_len=max_len, device=device)
    return {"auc": entity_bootstrap(weighted_auc, students, rank_scores(probs), labels, n_boot=n_boot),
            "accuracy": entity_bootstrap(weighted_accuracy, students, probs, labels, n_boot=n_boot),
            "majority": majority_rate(np.ones(labels.size), labels), "n": int(labels.size),
            "probs": probs, "labels": labels, "students": students}


def _probabilities(name: str, predict: Predictor, tasks: ColdStartTasks) -> np.ndarray:
    with torch.no_grad():
        probs = predict(tasks).detach().float().cpu()[tasks.query_mask.cpu()].numpy()
    if probs.size and (probs.min() < 0 or probs.max() > 1 or np.isnan(probs).any()):
        raise ValueError(f"predictor {name!r} returned values outside [0, 1] (range {probs.min():.3g}.."
                         f"{probs.max():.3g}): every predictor must return probabilities; wrap logits in "
                         "torch.sigmoid")
    return probs


def cold_start_evaluation(predictors: dict[str, Predictor], data, ks=(0, 1, 3, 5, 10, 20), query_len: int = 50,
                          n_boot: int = 300, seed: int = 0, device=None) -> dict:
    """AUC and accuracy on each new student's later answers after observing k answers, for every predictor.

    All k share the same query responses: positions ``max(ks) .. max(ks) + query_len`` of every
    student with more than ``max(ks)`` answers, so the curves differ only by what was observed.
    ``predictors``: name -> function(ColdStartTasks on ``device``) -> probabilities [B, Q].
    Intervals resample students (the same students for every method and k, by ``seed``).

    Returns ``{"curve": {name: {"auc" | "accuracy": [{"k", "value", "low", "high"}, ...]}},
    "majority": {"value", "low", "high"}, "probs": {name: {k: [N]}}, "labels" [N], "groups" [N],
    "ks", "query_len", "n_students", "n_responses"}``.
    """
    ks = sorted(int(k) for k in ks)
    probs: dict[str, dict[int, np.ndarray]] = {name: {} for name in predictors}
    query: dict[str, np.ndarray] = {}

    def evaluate(k: int) -> dict:
        tasks = cold_start_view(data, k, query_start=ks[-1], query_len=query_len)
        labels, groups = (t.numpy() for t in tasks.flat_query())
        query.update(labels=labels, groups=groups, n_students=len(tasks))
        out = {}
        for name, predict in predictors.items():
            p = probs[name][k] = _probabilities(name, predict, tasks.to(device or "cpu"))
            out[name] = {"auc": entity_bootstrap(weighted_auc, groups, rank_scores(p), labels, n_boot=n_boot,
                                                 seed=seed),
                         "accuracy": entity_bootstrap(weighted_accuracy, groups, p, labels, n_boot=n_boot,
                                                      seed=seed)}
        return out

    curve = cold_start_curve(evaluate, ks)
    majority = entity_bootstrap(majority_rate, query["groups"], query["labels"], n_boot=n_boot, seed=seed)
    return {"curve": curve, "majority": majority, "probs": probs, "labels": query["labels"],
            "groups": query["groups"], "ks": ks, "query_len": query_len, "n_students": query["n_students"],
            "n_responses": int(query["labels"].size)}


def compare_methods(evaluation: dict, a: str, b: str, k: int, metric: str = "auc", n_boot: int = 300,
                    seed: int = 0) -> dict:
    """Paired bootstrap of ``metric(a) - metric(b)`` at ``k`` on the same query answers and students.

    Returns ``{"diff", "low", "high", "p_a_better"}``; significant at 95 % when ``[low, high]``
    does not contain 0.
    """
    metric_fn = {"auc": weighted_auc, "accuracy": weighted_accuracy}[metric]
    pa, pb = evaluation["probs"][a][k], evaluation["probs"][b][k]
    if metric == "auc":
        pa, pb = rank_scores(pa), rank_scores(pb)
    labels = evaluation["labels"]
    return paired_entity_bootstrap(metric_fn, evaluation["groups"], (pa, labels), (pb, labels), n_boot=n_boot,
                                   seed=seed)
