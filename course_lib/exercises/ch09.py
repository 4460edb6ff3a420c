"""Checks for chapter 09 (lifelong meta-learning): continual-learning metrics and the prototype head."""

from __future__ import annotations

import math

import numpy as np
import torch

from course_lib.algorithms import continual
from course_lib.analysis import continual_metrics
from course_lib.exercises._core import check_close, check_function, check_true, not_attempted
from course_lib.i18n import tr

__all__ = [
    "check_backward_transfer",
    "check_first_task_drop",
    "check_forgetting",
    "check_prototype_logits",
]

# Hand-made accuracy matrices (row i: after task i; column j: tested on task j). They are chosen
# so that the usual mistakes give different numbers.
_MATRICES = [
    np.array([[0.90, 0.10, 0.20], [0.60, 0.80, 0.30], [0.50, 0.70, 0.95]]),
    np.array([[0.50, 0.20, 0.95, 0.30], [0.70, 0.80, 0.20, 0.25], [0.65, 0.60, 0.90, 0.30], [0.40, 0.85, 0.70, 0.75]]),
    np.array([[0.2, 0.1], [0.6, 0.9]]),  # positive backward transfer
]


def _call(fn, matrix):
    try:
        return fn(matrix.copy())
    except NotImplementedError:
        return None


def _diagnose_bwt(fn) -> str | None:
    """A specific message for the usual BWT mistakes (None if no known mistake matches)."""
    R = _MATRICES[1]
    try:
        value = _call(fn, R)
        value = None if value is None else float(value)
    except Exception:  # noqa: BLE001 - the generic check reports exceptions
        return None
    if value is None or math.isclose(value, continual_metrics.backward_transfer(R), abs_tol=1e-9):
        return None
    T = R.shape[0]
    diffs = R[-1] - np.diag(R)
    if math.isclose(value, diffs.mean(), abs_tol=1e-6):
        return tr("you averaged over all T tasks; the last task has no 'later' accuracy, so average over the first T-1 only")
    if math.isclose(value, np.mean(R[-1, : T - 1] - R[0, : T - 1]), abs_tol=1e-6):
        return tr("you compared with the first row R[0, j]; compare with R[j, j], the accuracy just after learning task j")
    if math.isclose(value, np.mean(R[-1, : T - 1]), abs_tol=1e-6):
        return tr("that is the mean final accuracy on the old tasks; BWT subtracts R[j, j] from each R[T-1, j]")
    return None


def check_backward_transfer(fn) -> bool:
    """Exercise 9.1: ``fn(R) -> BWT = 1/(T-1) sum_{j<T-1} (R[T-1, j] - R[j, j])`` (Lopez-Paz & Ranzato 2017)."""
    name = tr("Exercise 9.1 (backward transfer)")
    hint = tr("compare each old task's accuracy at the end of the stream (the last row) with its accuracy right "
              "after it was learned (the diagonal); the last task has no 'later', so average over T-1 tasks")
    specific = _diagnose_bwt(fn) if fn is not None else None
    if specific:
        return check_true(name, False, hint, failure=specific)
    return check_function(
        name, fn, continual_metrics.backward_transfer, [(m,) for m in _MATRICES], rtol=1e-6, atol=1e-9, hint=hint,
        success=tr("negative BWT means the old tasks got worse: forgetting"),
    )


def check_forgetting(fn) -> bool:
    """Exercise 9.2: Chaudhry et al.'s forgetting: mean over j<T-1 of max_{j<=l<T-1} R[l, j] - R[T-1, j]."""
    name = tr("Exercise 9.2 (forgetting measure)")
    hint = tr("for every old task j: best accuracy over rows j..T-2 of column j, minus the final R[T-1, j]; then average")
    if fn is not None:
        R = _MATRICES[1]
        try:
            value = _call(fn, R)
        except Exception:  # noqa: BLE001 - the generic check reports exceptions
            value = None
        if value is not None and not math.isclose(float(value), continual_metrics.forgetting(R), abs_tol=1e-9):
            value = float(value)
            if math.isclose(value, -continual_metrics.backward_transfer(R), abs_tol=1e-6):
                return check_true(
                    name, False, hint,
                    failure=tr("that is -BWT (you used the diagonal R[j, j]); the forgetting measure uses the BEST "
                               "earlier accuracy of task j, which can be higher than R[j, j] after positive transfer"),
                )
            T = R.shape[0]
            with_future = np.mean([R[: T - 1, j].max() - R[-1, j] for j in range(T - 1)])
            if math.isclose(value, with_future, abs_tol=1e-6):
                return check_true(
                    name, False, hint,
                    failure=tr("your max also looks at rows before task j was learned (l < j); start at row j"),
                )
    return check_function(
        name, fn, continual_metrics.forgetting, [(m,) for m in _MATRICES], rtol=1e-6, atol=1e-9, hint=hint,
        success=tr("forgetting >= -BWT always, with equality when no task ever improved after its own training"),
    )


def _diagnose_prototypes(fn, cases) -> str | None:
    """A specific message for the usual prototype-head mistakes (None if no known mistake matches)."""
    support_z, support_y, query_z = cases[0]
    try:
        value = fn(support_z.clone(), support_y.clone(), query_z.clone())
        value = None if value is None else torch.as_tensor(value, dtype=torch.float32)
    except Exception:  # noqa: BLE001 - the generic check reports exceptions
        return None
    n = int(support_y.max()) + 1
    right = continual.prototype_logits(support_z, support_y, query_z)
    if value is None or value.shape != right.shape or torch.allclose(value, right, rtol=1e-4, atol=1e-5):
        return None
    sorted_means = support_z.reshape(n, -1, support_z.shape[1]).mean(1)  # as if the support were sorted by label
    if torch.allclose(value, -torch.cdist(query_z, sorted_means) ** 2, rtol=1e-4, atol=1e-4):
        return tr("you assumed the support is sorted by label (a reshape); select each class with support_y == k")
    if torch.allclose(value, -(-right).sqrt(), rtol=1e-4, atol=1e-4):
        return tr("that is minus the distance; ProtoNet's logit is minus the SQUARED distance")
    if torch.allclose(value, right.softmax(-1), rtol=1e-4, atol=1e-5):
        return tr("those are probabilities (after a softmax); return the logits, the loss applies the softmax itself")
    return None


def check_prototype_logits(fn) -> bool:
    """Exercise 9.3: ``fn(support_z [S, D], support_y [S], query_z [Q, D]) -> logits [Q, N]``."""
    name = tr("Exercise 9.3 (prototype head)")
    hint = tr("prototype c_k = mean of the embeddings of the support examples labelled k (labels come in any "
              "order); logit[q, k] = minus the squared Euclidean distance between query q and c_k")
    g = torch.Generator().manual_seed(8)
    cases = []
    for n, k, q, d in [(3, 2, 4, 5), (5, 1, 3, 8), (4, 3, 6, 2)]:
        support_y = torch.arange(n).repeat_interleave(k)[torch.randperm(n * k, generator=g)]
        cases.append((torch.randn(n * k, d, generator=g), support_y, torch.randn(q, d, generator=g)))
    specific = _diagnose_prototypes(fn, cases) if fn is not None else None
    if specific:
        return check_true(name, False, hint, failure=specific)
    return check_function(
        name, fn, continual.prototype_logits, cases, rtol=1e-4, atol=1e-5, hint=hint,
        success=tr("a prototype head is learned in one pass over the memory: nothing to forget"),
    )


def check_first_task_drop(answer, matrix) -> bool:
    """Exercise 9.4: percentage points lost on the first task between R[0, 0] and R[T-1, 0]."""
    name = tr("Exercise 9.4 (reading the matrix)")
    hint = tr("row i = after training on task i, column j = tested on task j: follow the first task down its "
              "column, from the moment it was learned to the end; answer in percentage points")
    if answer is None:
        return not_attempted(name, hint)
    R = continual_metrics.check_accuracy_matrix(matrix, min_tasks=2)
    expected = 100 * (R[0, 0] - R[-1, 0])
    value = float(answer)
    if abs(expected) > 1.0 and math.isclose(value, expected / 100, rel_tol=1e-2):
        return check_true(name, False, hint, failure=tr("that is a fraction; give percentage points (x 100)"))
    transposed = 100 * (R[0, 0] - R[0, -1])
    if not math.isclose(expected, transposed, abs_tol=0.5) and math.isclose(value, transposed, abs_tol=0.5):
        return check_true(name, False, hint,
                          failure=tr("you read a row instead of a column: R[0, -1] is task T-1 before it was learned"))
    return check_close(name, value, expected, rtol=0.0, atol=0.5, hint=hint)
