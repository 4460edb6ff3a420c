"""Checks for chapter 00 (start here): devices, budgets, counting tasks."""

from __future__ import annotations

import math

import torch

from course_lib.exercises._core import check_close, check_true, not_attempted
from course_lib.i18n import tr
from course_lib.runtime import by_budget

__all__ = ["check_identity_on_device", "check_budget_iterations", "check_episode_count"]


def check_identity_on_device(answer, device: torch.device) -> bool:
    """Exercise 0.1: a 3x3 identity matrix on ``device``."""
    name = tr("Exercise {number}", number="0.1")
    hint = "torch.eye(3, device=info.device)"
    if answer is None:
        return not_attempted(name, hint)
    if not isinstance(answer, torch.Tensor):
        return check_true(name, False, hint, failure=tr("expected a torch.Tensor, got a {kind}",
                                                        kind=type(answer).__name__))
    if answer.device.type != torch.device(device).type:
        return check_true(name, False, hint, failure=tr("the tensor is on {got}, but info.device is {device}",
                                                        got=answer.device, device=device))
    return check_close(name, answer, torch.eye(3), hint=hint,
                       success=tr("a 3x3 identity on {device}", device=answer.device))


def check_budget_iterations(answer) -> bool:
    """Exercise 0.2: the value ``by_budget(100, 2_000, 60_000)`` takes under the current budget."""
    expected = by_budget(smoke=100, standard=2_000, full=60_000)
    name = tr("Exercise {number}", number="0.2")
    hint = tr("the banner's 'budget ...' tells which of the three numbers applies; by_budget(...) returns it")
    if answer is not None and answer in (100, 2_000, 60_000) and answer != expected:
        return check_true(name, False, hint,
                          failure=tr("{answer} belongs to another budget than the current one", answer=answer))
    return check_close(name, answer, expected, rtol=0, atol=0, hint=hint)


def check_episode_count(answer, num_classes: int, n_way: int) -> bool:
    """Exercise 0.3: the number of distinct class sets of size ``n_way`` out of ``num_classes``."""
    expected = math.comb(num_classes, n_way)
    name = tr("Exercise {number}", number="0.3")
    hint = tr("order does not matter: it is a binomial coefficient, math.comb(number_of_characters, 5)")
    if answer is not None and answer == math.perm(num_classes, n_way):
        return check_true(name, False, hint,
                          failure=tr("that counts ordered choices; a set of 5 characters has no order (divide by 5!)"))
    return check_close(name, answer, expected, rtol=0, atol=0.5, hint=hint,
                       success=tr("{count:,} distinct 5-way tasks", count=expected))
