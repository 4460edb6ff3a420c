"""The "pretrained on all tasks" baseline of the MAML paper (Finn et al. 2017, §5.1).

One network is trained by ordinary supervised learning on examples pooled from many tasks, as if
they were one big dataset; at test time it is fine-tuned on the new task's support set with plain
gradient steps (same procedure as MAML's inner loop), using the step size that works best on
validation tasks. On sinusoids the pooled regression target averages out to ``E[A sin(x - phi)]``,
a small wave, so the pretrained network starts far from any particular task.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import nn

from course_lib.adaptation import LossFn
from course_lib.evaluation import evaluate_adaptation


def joint_training_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch, *, loss_fn: LossFn) -> dict[str, float]:
    """One supervised step on all examples of a task batch pooled together.

    ``batch`` has ``support_x [T, Ns, ...]``, ``support_y``, and optionally ``query_x``/``query_y``;
    all of them are flattened into one data set of ``T * (Ns + Nq)`` examples.
    """
    xs = [batch.support_x.flatten(0, 1)]
    ys = [batch.support_y.flatten(0, 1)]
    if getattr(batch, "query_x", None) is not None:
        xs.append(batch.query_x.flatten(0, 1))
        ys.append(batch.query_y.flatten(0, 1))
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(torch.cat(xs)), torch.cat(ys))
    loss.backward()
    optimizer.step()
    return {"loss": float(loss.detach())}


def tune_inner_lr(model: nn.Module, tasks: Iterable, *, loss_fn: LossFn, candidates: Sequence[float],
                  steps: int = 10) -> tuple[float, dict[float, float]]:
    """Pick the fine-tuning step size with the lowest mean query loss after ``steps`` steps.

    Returns ``(best_lr, {lr: mean loss})``. Use validation tasks, never the test tasks.
    """
    tasks = list(tasks)
    if not candidates:
        raise ValueError("candidates must list at least one step size")
    params = dict(model.named_parameters())
    scores = {}
    for lr in candidates:
        result = evaluate_adaptation(model, params, tasks, loss_fn=loss_fn, update=lr, steps=(steps,))
        values = torch.tensor(result[steps])
        scores[lr] = float(values.mean()) if torch.isfinite(values).all() else float("inf")
    best = min(scores, key=scores.get)
    return best, scores
