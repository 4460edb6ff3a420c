"""Evaluation metrics: accuracy, mean with a 95% confidence interval, MSE and ROC AUC.

All functions accept tensors on any device (or array-likes) and return plain Python floats, so
that results can be printed, stored in a History and written to JSON.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import torch
from torch import Tensor

__all__ = ["accuracy", "mean_ci", "mse", "roc_auc"]


def _as_numpy(values, name: str) -> np.ndarray:
    if isinstance(values, (list, tuple)) and values and all(isinstance(v, Tensor) for v in values):
        values = torch.stack([v.detach().reshape(()).to("cpu") for v in values])  # e.g. per-episode 0-d tensors
    if isinstance(values, Tensor):
        return values.detach().to("cpu", torch.float64).numpy().reshape(-1)
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return arr


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of correct predictions, in [0, 1].

    ``logits [..., C]`` are class scores (the prediction is their argmax) and ``labels [...]``
    integer classes. Predictions that were already argmaxed (an integer tensor of the same shape
    as ``labels``) are accepted too.
    """
    if logits.shape == labels.shape and not torch.is_floating_point(logits):
        pred = logits
    elif logits.shape[:-1] == labels.shape:
        pred = logits.argmax(dim=-1)
    else:
        raise ValueError(
            f"accuracy expects logits [..., num_classes] and labels [...] with the same leading "
            f"shape, got logits {list(logits.shape)} and labels {list(labels.shape)}"
        )
    if labels.numel() == 0:
        raise ValueError("accuracy of an empty batch is undefined (labels has no elements)")
    return (pred == labels).double().mean().item()


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of a normal-approximation confidence interval.

    ``half_width = z * std / sqrt(n)`` with z = 1.96 for 95% confidence and ``std`` the sample
    standard deviation (n - 1 in the denominator). This is how few-shot papers report accuracy
    over n test episodes: "98.7 +- 0.4 %" means mean 98.7, half-width 0.4.

    ``values``: 1-D tensor, array or list of n numbers (e.g. one accuracy per test episode).
    With n = 1 the spread is unknown and the half-width is ``nan``; with n = 0 a ValueError is
    raised. NaN values raise a ValueError too (drop or fix them first).
    """
    x = _as_numpy(values, "values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {confidence}")
    if x.size == 0:
        raise ValueError("mean_ci needs at least one value, got none")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"mean_ci got {int((~np.isfinite(x)).sum())} non-finite value(s) among {x.size}")
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return mean, float(z * x.std(ddof=1) / math.sqrt(x.size))


def mse(pred: Tensor, target: Tensor) -> float:
    """Mean squared error ``mean((pred - target)**2)``.

    The shapes must be equal: ``[n, 1]`` against ``[n]`` would silently broadcast to ``[n, n]``
    and give a wrong number, so it raises a ValueError instead.
    """
    if pred.shape != target.shape:
        raise ValueError(
            f"mse needs pred and target of the same shape, got {list(pred.shape)} and {list(target.shape)}; "
            "reshape one of them (e.g. target.view_as(pred)) — broadcasting would compare every pair"
        )
    if pred.numel() == 0:
        raise ValueError("mse of empty tensors is undefined")
    return torch.mean((pred.detach().double() - target.detach().double()) ** 2).item()


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve: the probability that a random positive scores above a random negative.

    Computed from ranks (the Mann-Whitney U statistic)::

        AUC = (R_pos - n_pos (n_pos + 1) / 2) / (n_pos * n_neg)

    where ``R_pos`` is the sum of the ranks (1 = lowest score) of the positives; tied scores all
    get the average of the ranks they span, so a tie between a positive and a negative counts 1/2.

    ``scores [n]``: any real scores (probabilities, logits); ``labels [n]``: 0/1 or bool.
    Raises ValueError if only one class is present (the AUC is then undefined), or if labels are
    not binary, or scores contain NaN.
    """
    s = _as_numpy(scores, "scores")
    y = _as_numpy(labels, "labels")
    if s.shape != y.shape:
        raise ValueError(f"scores and labels must have the same number of elements, got {s.size} and {y.size}")
    if s.size == 0:
        raise ValueError("roc_auc of empty inputs is undefined")
    if np.isnan(s).any():
        raise ValueError(f"scores contain {int(np.isnan(s).sum())} NaN value(s); AUC needs orderable scores")
    if not np.all((y == 0) | (y == 1)):
        bad = np.unique(y[(y != 0) & (y != 1)])[:5]
        raise ValueError(f"labels must be 0/1 (or bool), found other values such as {bad.tolist()}")
    n_pos = int(y.sum())
    n_neg = y.size - n_pos
    if n_pos == 0 or n_neg == 0:
        only = "positives (1)" if n_neg == 0 else "negatives (0)"
        raise ValueError(
            f"roc_auc needs both classes, but all {y.size} labels are {only}: the AUC compares "
            "positives with negatives and is undefined with one class. Evaluate on more data "
            "(e.g. pool the predictions of several students/tasks) before computing the AUC."
        )
    # Average ranks: unique sorted values, how many of each, first rank of each group.
    _, inverse, counts = np.unique(s, return_inverse=True, return_counts=True)
    first_rank = np.cumsum(counts) - counts + 1  # 1-based rank of the first member of each group
    avg_rank = first_rank + (counts - 1) / 2.0
    ranks = avg_rank[inverse]
    r_pos = ranks[y == 1].sum()
    return float((r_pos - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))
