"""Evaluating knowledge tracing and cold-start prediction: AUC, accuracy, bootstrap intervals.

* :func:`predict_sequences` runs a knowledge tracer over whole students (chunked like training)
  and returns one score per response — the *standard* KT evaluation pools them into one AUC.
* :func:`bootstrap_auc` and :func:`paired_bootstrap_difference` resample **students** (not
  responses: the answers of one student are correlated) to put 95% intervals on a pooled AUC and
  on the AUC difference of two methods scored on the same responses.
* :func:`cold_start_curve` evaluates several predictors at several k on the same query responses.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from course_lib.edu.batching import batches, chunk_sequences
from course_lib.edu.splits import ColdStartTasks, cold_start_view
from course_lib.metrics import roc_auc


@torch.no_grad()
def predict_sequences(model, sequences, max_len: int = 200, batch_size: int = 64, device=None):
    """Scores of a knowledge tracer on every response of ``sequences``.

    ``model(skills [B, T], correct [B, T]) -> logits [B, T]`` predicts each response from the
    earlier ones. Long students are cut into chunks of ``max_len`` (each chunk starts with an empty
    state, as in the DKVMN protocol). Returns numpy arrays ``(logits [N], labels [N], student [N])``.
    """
    device = torch.device(device or "cpu")
    was_training = model.training
    model.eval()
    scores, labels, owners = [], [], []
    for batch in batches(chunk_sequences(sequences, max_len), batch_size):
        batch = batch.to(device)
        logits = model(batch.skills, batch.correct)
        scores.append(logits[batch.mask].float().cpu())
        labels.append(batch.correct[batch.mask].cpu())
        owners.append(batch.student.unsqueeze(1).expand_as(batch.mask)[batch.mask].cpu())
    model.train(was_training)
    return torch.cat(scores).numpy(), torch.cat(labels).numpy(), torch.cat(owners).numpy()


def kt_metrics(scores, labels) -> dict[str, float]:
    """``{"auc", "acc"}`` of logits (threshold 0, i.e. probability 1/2) against 0/1 labels."""
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels)
    return {"auc": roc_auc(scores, labels), "acc": float(((scores > 0).astype(int) == labels).mean()),
            "n": int(labels.size)}


def _group_index(groups) -> tuple[np.ndarray, int]:
    _, index = np.unique(np.asarray(groups), return_inverse=True)
    return index, int(index.max()) + 1


def _weighted_auc(rank_group: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_groups: int) -> float:
    """AUC with response weights; ``rank_group`` = index of the response's score among the sorted unique scores."""
    pos = np.bincount(rank_group, weights=weights * labels, minlength=n_groups)
    neg = np.bincount(rank_group, weights=weights * (1 - labels), minlength=n_groups)
    neg_below = np.cumsum(neg) - neg
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos == 0 or total_neg == 0:
        return float("nan")
    return float((pos * (neg_below + 0.5 * neg)).sum() / (total_pos * total_neg))


def bootstrap_auc(scores, labels, groups, n_boot: int = 500, seed: int = 0, confidence: float = 0.95):
    """Pooled AUC with a percentile bootstrap interval over groups (students).

    Returns ``(auc, low, high)``. Each resample draws as many students as there are, with
    replacement, and weights every response by how often its student was drawn.
    """
    scores, labels = np.asarray(scores, dtype=float), np.asarray(labels, dtype=float)
    if not (scores.shape == labels.shape == np.asarray(groups).shape):
        raise ValueError("scores, labels and groups must have the same length")
    auc = roc_auc(scores, labels)
    boots = _boot_aucs([scores], labels, groups, n_boot, seed)[0]
    alpha = (1 - confidence) / 2
    return auc, float(np.nanquantile(boots, alpha)), float(np.nanquantile(boots, 1 - alpha))


def _boot_aucs(score_list, labels, groups, n_boot, seed):
    if n_boot < 10:
        raise ValueError(f"n_boot must be at least 10 for a meaningful interval, got {n_boot}")
    group_index, n = _group_index(groups)
    ranks = []
    for scores in score_list:
        uniq, inverse = np.unique(scores, return_inverse=True)
        ranks.append((inverse, len(uniq)))
    rng = np.random.default_rng(seed)
    out = np.empty((len(score_list), n_boot))
    for b in range(n_boot):
        counts = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        weights = counts[group_index]
        for m, (inverse, n_uniq) in enumerate(ranks):
            out[m, b] = _weighted_auc(inverse, labels, weights, n_uniq)
    return out


def paired_bootstrap_difference(scores_a, scores_b, labels, groups, n_boot: int = 500, seed: int = 0,
                                confidence: float = 0.95):
    """AUC(a) - AUC(b) on the same responses, with a paired bootstrap interval over students.

    The same resampled students are used for both methods, so the interval reflects the
    difference itself and not the (much larger) spread of either AUC. Returns ``(diff, low, high)``;
    the difference is significant at this level when the interval does not contain 0.
    """
    scores_a, scores_b = np.asarray(scores_a, dtype=float), np.asarray(scores_b, dtype=float)
    labels = np.asarray(labels, dtype=float)
    if not (scores_a.shape == scores_b.shape == labels.shape):
        raise ValueError("scores_a, scores_b and labels must describe the same responses")
    diff = roc_auc(scores_a, labels) - roc_auc(scores_b, labels)
    boots = _boot_aucs([scores_a, scores_b], labels, groups, n_boot, seed)
    d = boots[0] - boots[1]
    alpha = (1 - confidence) / 2
    return diff, float(np.nanquantile(d, alpha)), float(np.nanquantile(d, 1 - alpha))


Predictor = Callable[[ColdStartTasks], torch.Tensor]


def cold_start_curve(predictors: dict[str, Predictor], data, ks=(0, 1, 3, 5, 10, 20), query_len: int = 50,
                     n_boot: int = 300, seed: int = 0) -> dict:
    """AUC on each new student's later answers after observing k answers, for every predictor.

    All k share the same query responses: positions ``max(ks) .. max(ks) + query_len`` of every
    student with more than ``max(ks)`` answers, so the curves differ only by what was observed.
    ``predictors``: name -> function(ColdStartTasks) -> scores [B, Q] (logits or probabilities).

    Returns ``{"ks": [...], "n_students": int, "n_responses": int, "labels", "groups",
    "scores": {name: [np.ndarray per k]}, "auc": {name: [(auc, low, high) per k]}}``.
    """
    ks = sorted(int(k) for k in ks)
    query_start = ks[-1]
    out = {"ks": ks, "query_len": query_len, "scores": {name: [] for name in predictors}, "auc": {name: [] for name in predictors}}
    for k in ks:
        tasks = cold_start_view(data, k, query_start=query_start, query_len=query_len)
        labels, groups = tasks.flat_query()
        labels, groups = labels.numpy(), groups.numpy()
        for name, predict in predictors.items():
            with torch.no_grad():
                scores = predict(tasks)
            scores = scores.detach().float().cpu()[tasks.query_mask].numpy()
            out["scores"][name].append(scores)
            out["auc"][name].append(bootstrap_auc(scores, labels, groups, n_boot=n_boot, seed=seed))
    out.update(labels=labels, groups=groups, n_students=len(tasks), n_responses=int(labels.size))
    return out


def plot_cold_start(curve: dict, ax=None, reference: dict[str, float] | None = None):
    """All methods' AUC against k with shaded 95% bootstrap bands; returns the axes."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.5))
    ks = curve["ks"]
    for name, values in curve["auc"].items():
        auc = np.array([v[0] for v in values])
        low = np.array([v[1] for v in values])
        high = np.array([v[2] for v in values])
        line, = ax.plot(ks, auc, marker="o", label=name)
        ax.fill_between(ks, low, high, color=line.get_color(), alpha=0.15)
    for name, value in (reference or {}).items():
        ax.axhline(value, ls=":", color="gray")
        ax.text(ks[-1], value, f" {name}", va="bottom", ha="right", fontsize=8, color="gray")
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xticks(ks)
    ax.set_xticklabels([str(k) for k in ks])
    ax.set_xlabel("k = answers observed from the new student")
    end = f"{ks[-1] + curve['query_len']}" if curve.get("query_len") else "end"
    ax.set_ylabel(f"AUC on answers {ks[-1] + 1}..{end} (95% CI)")
    ax.set_title(f"Cold start: {curve['n_students']} new students, {curve['n_responses']:,} query answers")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return ax
