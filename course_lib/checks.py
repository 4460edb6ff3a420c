"""Argument checks shared by every public entry point of ``course_lib``.

Each check raises ``ValueError`` with a message that says what was wrong and what to do, so that a
learner's mistake (a negative step size, swapped support/query tensors, a parameter name that the
model does not have) fails at the call that made it, not ten lines later inside autograd.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from torch import Tensor, nn

__all__ = ["check_count", "check_episode_labels", "check_responses", "check_params", "check_step_size", "check_task"]


def check_count(name: str, value, minimum: int = 1, why: str = "") -> int:
    """``value`` as an int, or ``ValueError`` unless it is an integer ``>= minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}" + (f". {why}" if why else ""))
    return int(value)


def check_step_size(name: str, value, why: str = "") -> float:
    """``value`` as a float, or ``ValueError`` unless it is finite and ``>= 0``."""
    try:
        lr = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}" + (f". {why}" if why else ""))
    return lr


def check_task(support_x: Tensor, support_y: Tensor, query_x: Tensor | None = None,
               query_y: Tensor | None = None, *, batched: bool = False) -> None:
    """``ValueError`` unless inputs and targets line up: ``[N, ...]`` each, or ``[T, N, ...]`` if ``batched``."""
    pairs = [("support", support_x, support_y)]
    if query_x is not None or query_y is not None:
        if query_x is None or query_y is None:
            raise ValueError("query_x and query_y must be given together")
        pairs.append(("query", query_x, query_y))
    dim = 1 if batched else 0
    for name, x, y in pairs:
        if not isinstance(x, Tensor) or not isinstance(y, Tensor):
            raise ValueError(f"{name}_x and {name}_y must be tensors, got {type(x).__name__} and {type(y).__name__}")
        if x.dim() <= dim or y.dim() <= dim:
            raise ValueError(f"{name}_x {tuple(x.shape)} / {name}_y {tuple(y.shape)}: expected "
                             f"{'[T, N, ...]' if batched else '[N, ...]'} tensors")
        if x.shape[: dim + 1] != y.shape[: dim + 1]:
            raise ValueError(
                f"{name}_x has shape {tuple(x.shape)} but {name}_y has shape {tuple(y.shape)}: the first "
                f"{dim + 1} dimension(s) ({'tasks, ' if batched else ''}examples) must match")
    if batched and query_x is not None and support_x.shape[0] != query_x.shape[0]:
        raise ValueError(f"support has {support_x.shape[0]} tasks but query has {query_x.shape[0]} tasks")


def check_params(model: nn.Module, params: Mapping[str, Tensor], *, complete: bool = False) -> None:
    """``ValueError`` unless every key of ``params`` names a parameter of ``model``.

    A partial dict is allowed (the missing entries are the model's own, fixed, tensors: ANIL's body,
    the shared skill parameters of chapter 07); ``complete=True`` requires every parameter.
    """
    names = [n for n, _ in model.named_parameters()]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"params has {unknown[:3]} which {type(model).__name__} does not have; its parameters "
                         f"are {names[:6]}{' ...' if len(names) > 6 else ''} (use params_of(model) to get them)")
    if not params:
        raise ValueError("params is empty: pass the parameters to adapt, e.g. params_of(model)")
    missing = sorted(set(names) - set(params))
    if complete and missing:
        raise ValueError(f"params is missing {missing[:3]}{' ...' if len(missing) > 3 else ''} of the model's "
                         "parameters; this method needs all of them (params_of(model))")


def check_episode_labels(support_y: Tensor, num_support: int, n_way: int) -> None:
    """``ValueError`` unless ``support_y`` is ``[num_support]`` integer labels in ``0..n_way-1``."""
    if support_y.dim() != 1 or support_y.shape[0] != num_support:
        raise ValueError(f"support_y must be [N*K] = [{num_support}] (one label per support example), "
                         f"got shape {list(support_y.shape)}")
    if support_y.is_floating_point():
        raise ValueError("support_y must hold integer class labels 0..n_way-1 (LongTensor), got floats")
    check_count("n_way", n_way, 1)
    if support_y.numel() and (support_y.min() < 0 or support_y.max() >= n_way):
        raise ValueError(f"support labels must lie in 0..{n_way - 1} for n_way={n_way}, "
                         f"got labels from {int(support_y.min())} to {int(support_y.max())}")


def check_responses(skills: Tensor, correct: Tensor, num_skills: int) -> None:
    """``ValueError`` unless ``skills``/``correct`` are both ``[B, T]`` and the skill ids lie in ``0..num_skills``."""
    if skills.shape != correct.shape or skills.ndim != 2:
        raise ValueError(f"skills and correct must both be [B, T], got {tuple(skills.shape)} and {tuple(correct.shape)}")
    if skills.numel() and (int(skills.max()) > num_skills or int(skills.min()) < 0):
        raise ValueError(f"skill ids must lie in 1..{num_skills} (0 = padding); got range "
                         f"{int(skills.min())}..{int(skills.max())}. Build the model with num_skills from the data.")
