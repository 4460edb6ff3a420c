"""Fine-tune and score: how well a starting point adapts to held-out tasks after 0, 1, 5, ... steps.

Every gradient-based chapter measures its meta-learned initialisation the same way: adapt on each
test task's support set with the method's own update rule (:func:`course_lib.adaptation.adapt`)
and score the query set after several numbers of steps. :func:`evaluate_torch_optimizer` is the
baseline that fine-tunes with an ordinary ``torch.optim`` optimizer instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from course_lib.adaptation import LossFn, UpdateRule, adapt, as_update
from course_lib.checks import check_task
from course_lib.vectorized import adapt_batch, predict_batch

__all__ = ["evaluate_adaptation", "evaluate_torch_optimizer"]


def _step_counts(steps: Sequence[int]) -> list[int]:
    counts = sorted({int(s) for s in steps})
    if not counts or counts[0] < 0:
        raise ValueError(f"steps must be non-negative integers, got {list(steps)}")
    return counts


def evaluate_adaptation(
    model: nn.Module,
    params: Mapping[str, Tensor],
    tasks,
    *,
    loss_fn: LossFn,
    update: UpdateRule | float,
    steps: Sequence[int] = (0, 1, 5, 10),
    metric_fn: Callable[[Tensor, Tensor], float] | None = None,
    chunk_size: int = 100,
) -> dict[int, list[float]]:
    """Adapt from ``params`` on each task's support set with ``update``; score its query set.

    Args:
        tasks: a task batch (``support_x [T, Ns, ...]``, ``support_y``, ``query_x [T, Nq, ...]``,
            ``query_y``; adapted ``chunk_size`` tasks at a time with vmap) or an iterable of single
            tasks (``support_x [Ns, ...]``, ...; adapted one by one).
        update: the inner update rule (a number means plain SGD with that step size).
        steps: numbers of inner steps after which to score (0 = before adaptation).
        metric_fn: ``metric(prediction [Nq, ...], target [Nq, ...]) -> float``; default ``loss_fn``.

    Returns: ``{steps: [score per task]}``, ready for ``metrics.mean_ci``.
    """
    counts = _step_counts(steps)
    rule = as_update(update)
    metric_fn = metric_fn or loss_fn
    theta = {n: p.detach() for n, p in params.items()}
    scores: dict[int, list[float]] = {s: [] for s in counts}
    if hasattr(tasks, "support_x"):  # a batch: vmap over chunks of tasks
        check_task(tasks.support_x, tasks.support_y, tasks.query_x, tasks.query_y, batched=True)
        for lo in range(0, tasks.support_x.shape[0], chunk_size):
            sl = slice(lo, lo + chunk_size)
            sx, sy, qx, qy = tasks.support_x[sl], tasks.support_y[sl], tasks.query_x[sl], tasks.query_y[sl]
            phi, done = theta, 0
            for s in counts:
                if s > done:
                    phi = adapt_batch(model, phi, sx, sy, loss_fn=loss_fn, steps=s - done, update=rule,
                                      params_batched=done > 0)
                    done = s
                preds = predict_batch(model, phi, qx, params_batched=done > 0)
                scores[s].extend(float(metric_fn(preds[i], qy[i])) for i in range(qx.shape[0]))
        return scores
    for task in tasks:
        phi, done = theta, 0
        for s in counts:
            if s > done:
                phi = adapt(model, phi, task.support_x, task.support_y, loss_fn=loss_fn, steps=s - done, update=rule)
                done = s
            with torch.no_grad():
                scores[s].append(float(metric_fn(functional_call(model, phi, (task.query_x,)), task.query_y)))
    return scores


def evaluate_torch_optimizer(
    model: nn.Module,
    params: Mapping[str, Tensor],
    tasks,
    make_optimizer: Callable[[list[Tensor]], torch.optim.Optimizer],
    *,
    loss_fn: LossFn,
    steps: Sequence[int] = (0, 1, 5, 10),
) -> dict[int, list[float]]:
    """The baseline of :func:`evaluate_adaptation`: fine-tune with a hand-written ``torch.optim`` optimizer.

    Each task starts from a fresh copy of ``params`` and a fresh ``make_optimizer(list_of_tensors)``
    (e.g. ``lambda p: torch.optim.Adam(p, lr=0.01)``), takes full-batch steps on the support set and
    is scored on the query set. Returns ``{steps: [query loss per task]}``.
    """
    counts = _step_counts(steps)
    scores: dict[int, list[float]] = {s: [] for s in counts}
    for task in tasks:
        phi = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
        optimizer = make_optimizer(list(phi.values()))
        done = 0
        for s in counts:
            for _ in range(s - done):
                optimizer.zero_grad()
                loss_fn(functional_call(model, phi, (task.support_x,)), task.support_y).backward()
                optimizer.step()
            done = s
            with torch.no_grad():
                scores[s].append(float(loss_fn(functional_call(model, phi, (task.query_x,)), task.query_y)))
    return scores
