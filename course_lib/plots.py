"""Generic figures the chapters show: learning curves, episodes as image grids, accuracies with CIs.

Every function draws with Matplotlib and returns the ``Figure`` (Jupyter displays it; scripts
can ``fig.savefig(...)``). Chapter-specific figures live next to their algorithms.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor

from course_lib.metrics import mean_ci

__all__ = ["plot_accuracy_ci", "plot_history", "show_episode", "show_images"]


def plot_history(history, keys: Sequence[str] | None = None, window: int | None = None, ax=None):
    """Learning curves of a :class:`course_lib.training.History`.

    One panel per key (default: every training key, e.g. ``loss`` and ``acc``). Raw per-step
    values are drawn faintly, their trailing moving average (``window`` steps, default ~1/20 of
    the run) boldly, and evaluation results of the same key (``history.eval_records``) as dots.
    Evaluation-only keys get their own panels. With ``ax`` given, all curves go onto that axis.
    """
    if keys is None:
        keys = list(history.records) + [k for k in history.eval_records if k not in history.records]
    keys = list(keys)
    if not keys:
        raise ValueError("the history is empty: nothing to plot (did training run any step?)")
    if ax is None:
        fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False)
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax] * len(keys)
    steps = np.asarray(history.steps)
    for key, a in zip(keys, axes):
        if key not in history.records and key not in history.eval_records:
            raise KeyError(f"{key!r} was not recorded; available: {sorted(set(history.records) | set(history.eval_records))}")
        label = key if ax is not None else "train"
        if key in history.records:
            raw = np.asarray(history.records[key], dtype=float)
            (line,) = a.plot(steps, raw, alpha=0.25, lw=0.8)
            a.plot(steps, history.smoothed(key, window), color=line.get_color(), lw=1.8, label=f"{label} (smoothed)")
        if key in history.eval_records:
            a.plot(history.eval_steps, history.eval_records[key], "o-", ms=4, label=f"eval {key}" if ax is not None else "evaluation")
        a.set_xlabel("step")
        a.set_ylabel(key if ax is None else ", ".join(keys))
        if key == "loss" and key in history.records:
            finite = np.asarray(history.records[key], dtype=float)
            finite = finite[np.isfinite(finite)]
            if finite.size and finite.min() > 0 and finite.max() / finite.min() > 100:
                a.set_yscale("log")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
        if ax is None:
            a.set_title(key)
    if getattr(history, "interrupted", False):
        fig.suptitle("(interrupted run)", fontsize=9)
    fig.tight_layout()
    return fig


def _to_image(x: Tensor) -> np.ndarray:
    """[1, H, W] or [H, W] (or [3, H, W]) tensor -> array for imshow."""
    x = x.detach().to("cpu", torch.float32)
    if x.dim() == 3 and x.shape[0] == 1:
        x = x[0]
    elif x.dim() == 3 and x.shape[0] == 3:
        x = x.permute(1, 2, 0)
    elif x.dim() != 2:
        raise ValueError(f"expected an image [H, W], [1, H, W] or [3, H, W], got shape {list(x.shape)}")
    return x.numpy()


def show_images(images: Tensor, ncols: int = 10, titles: Sequence[str] | None = None, size: float = 1.0, cmap="gray_r"):
    """Grid of images ``[B, 1, H, W]`` or ``[B, H, W]`` (ink = 1 shows dark on white with ``gray_r``)."""
    n = images.shape[0]
    if n == 0:
        raise ValueError("no images to show")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * (1.25 if titles else 1)), squeeze=False)
    for i, a in enumerate(axes.flat):
        a.axis("off")
        if i < n:
            a.imshow(_to_image(images[i]), cmap=cmap, vmin=0, vmax=1)
            if titles is not None:
                a.set_title(str(titles[i]), fontsize=7)
    fig.tight_layout()
    return fig


def show_episode(episode, max_query: int = 5, size: float = 0.9, cmap="gray_r", predictions: Tensor | None = None):
    """Draw an image episode: one row per label, support images on the left, query images on the right.

    ``episode.support_x [N*K, 1, H, W]`` with labels ``support_y [N*K]``; at most ``max_query``
    query images per label are shown. ``predictions [N*Q]`` (optional, predicted query labels)
    marks wrong predictions in red with the predicted label.
    """
    sx, sy, qx, qy = episode.support_x, episode.support_y.cpu(), episode.query_x, episode.query_y.cpu()
    if sx.dim() not in (3, 4):
        raise ValueError(f"show_episode draws image episodes [N*K, 1, H, W], got support_x {list(sx.shape)}")
    labels = sorted(set(sy.tolist()))
    k = max(int((sy == c).sum()) for c in labels)
    q = min(max_query, max(int((qy == c).sum()) for c in labels))
    ncols = k + q + (1 if q else 0)  # one blank column between support and query
    fig, axes = plt.subplots(len(labels), ncols, figsize=(size * ncols, size * len(labels)), squeeze=False)
    for a in axes.flat:
        a.axis("off")
    pred = None if predictions is None else predictions.detach().cpu()
    for row, c in enumerate(labels):
        axes[row, 0].text(-0.15, 0.5, str(c), transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=9)
        for j, idx in enumerate(torch.nonzero(sy == c).flatten()[:k].tolist()):
            axes[row, j].imshow(_to_image(sx[idx]), cmap=cmap, vmin=0, vmax=1)
        for j, idx in enumerate(torch.nonzero(qy == c).flatten()[:q].tolist()):
            a = axes[row, k + 1 + j]
            a.imshow(_to_image(qx[idx]), cmap=cmap, vmin=0, vmax=1)
            if pred is not None and int(pred[idx]) != c:
                a.set_title(f"pred {int(pred[idx])}", fontsize=7, color="red")
                for spine in a.spines.values():
                    spine.set_edgecolor("red")
                a.axis("on")
                a.set_xticks([])
                a.set_yticks([])
    axes[0, 0].set_title("support", fontsize=9, loc="left")
    if q:
        axes[0, k + 1].set_title("query", fontsize=9, loc="left")
    fig.suptitle(f"{len(labels)}-way {k}-shot episode (rows = labels)", fontsize=10)
    fig.tight_layout()
    return fig


def plot_accuracy_ci(
    results: Mapping[str, object],
    reference: Mapping[str, float] | None = None,
    ylabel: str = "accuracy",
    ax=None,
    percent: bool = True,
):
    """Bar chart of accuracies with 95% confidence intervals.

    ``results``: name -> ``(mean, half_width)`` or name -> sequence of per-episode accuracies
    (the CI is then computed with :func:`course_lib.metrics.mean_ci`). ``reference``: optional
    name -> published value, drawn as a black tick on the bar of the same name. Values are
    fractions in [0, 1]; ``percent=True`` labels them in %.
    """
    if not results:
        raise ValueError("results is empty: nothing to plot")
    names, means, halves = [], [], []
    for name, value in results.items():
        if isinstance(value, tuple) and len(value) == 2 and all(np.isscalar(v) for v in value):
            mean, half = float(value[0]), float(value[1])
        else:
            mean, half = mean_ci(value)
        names.append(str(name))
        means.append(mean)
        halves.append(0.0 if math.isnan(half) else half)
    scale = 100.0 if percent else 1.0
    if ax is None:
        fig, ax = plt.subplots(figsize=(max(3.0, 1.1 * len(names) + 1.5), 3.4))
    else:
        fig = ax.figure
    x = np.arange(len(names))
    bars = ax.bar(x, np.array(means) * scale, yerr=np.array(halves) * scale, capsize=4, color="C0", alpha=0.8)
    for rect, m, h in zip(bars, means, halves):
        ax.annotate(f"{m * scale:.1f}±{h * scale:.1f}" if percent else f"{m:.3f}±{h:.3f}",
                    (rect.get_x() + rect.get_width() / 2, m * scale / 2), ha="center", va="center",
                    fontsize=8, color="white", fontweight="bold")
    if reference:
        for i, name in enumerate(names):
            if name in reference:
                ax.plot([i - 0.4, i + 0.4], [reference[name] * scale] * 2, color="black", lw=2,
                        label="published" if i == min(j for j, n in enumerate(names) if n in reference) else None)
        ax.legend(fontsize=8, loc="lower right")
    ax.set_xticks(x, names, rotation=20 if len(names) > 4 else 0)
    ax.set_ylabel(f"{ylabel} (%)" if percent else ylabel)
    top = max([m + h for m, h in zip(means, halves)] + [reference[n] for n in names if reference and n in reference])
    ax.set_ylim(0, top * scale * 1.15 if top > 0 else 1)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig
