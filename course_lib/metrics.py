"""Evaluation metrics: accuracy, mean with a 95% Student-t confidence interval, MSE and ROC AUC.

All functions accept tensors on any device (or array-likes) and return plain Python floats, so
that results can be printed, stored in a History and written to JSON.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import torch
from torch import Tensor

__all__ = ["accuracy", "mean_ci", "mse", "roc_auc", "t_quantile"]


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


def _incomplete_beta(x: float, a: float, b: float) -> float:
    """Regularised incomplete beta function I_x(a, b), by its continued fraction (Lentz's method)."""
    if x <= 0.0 or x >= 1.0:
        return 0.0 if x <= 0.0 else 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below this point
        return 1.0 - _incomplete_beta(1.0 - x, b, a)
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    fraction = d
    for m in range(1, 10_000):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            fraction *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return math.exp(log_front) * fraction / a


def t_quantile(p: float, df: float) -> float:
    """Quantile of Student's t distribution with ``df`` degrees of freedom: ``P(T <= t) = p``.

    ``t_quantile(0.975, 2) = 4.303``, ``t_quantile(0.975, 9) = 2.262``, ``t_quantile(0.975, 29) = 2.045``;
    it tends to the normal quantile (1.960) as ``df`` grows. Exact (the CDF
    ``1 - I_{df/(df+t^2)}(df/2, 1/2) / 2`` inverted by bisection) up to ``df = 1000``; above that the
    Cornish-Fisher expansion around the normal quantile, accurate to about 1e-9.
    """
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if not df > 0:
        raise ValueError(f"degrees of freedom must be positive, got {df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    z = NormalDist().inv_cdf(p)
    if df > 1000:
        return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)
                + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * df**3))
    upper_tail = 1.0 - p
    low, high = 0.0, max(2 * z, 1.0)
    while 0.5 * _incomplete_beta(df / (df + high**2), df / 2, 0.5) > upper_tail:
        high *= 2  # P(T > high) still too large: widen the bracket
    for _ in range(200):
        mid = 0.5 * (low + high)
        if 0.5 * _incomplete_beta(df / (df + mid**2), df / 2, 0.5) > upper_tail:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * high:
            break
    return 0.5 * (low + high)


def mean_ci(values, confidence: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of a Student-t confidence interval for the mean.

    ``half_width = t * std / sqrt(n)`` with ``t = t_quantile(0.5 + confidence / 2, n - 1)`` and
    ``std`` the sample standard deviation (n - 1 in the denominator). The t quantile matters for
    few values (4.30 for 3 seeds, 2.26 for 10) and becomes the normal 1.96 for the hundreds of test
    episodes few-shot papers average over: "98.7 +- 0.4 %" means mean 98.7, half-width 0.4.

    ``values``: 1-D tensor, array or list of n numbers (e.g. one accuracy per test episode or per
    seed). With n = 1 the spread is unknown and the half-width is ``nan``; with n = 0 a ValueError
    is raised. NaN values raise a ValueError too (drop or fix them first).
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
    t = t_quantile(0.5 + confidence / 2, x.size - 1)
    return mean, float(t * x.std(ddof=1) / math.sqrt(x.size))


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
