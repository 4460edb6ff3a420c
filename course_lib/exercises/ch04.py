"""Checks for chapter 04 (learned optimizers): Meta-SGD's update, its size, gradient preprocessing,
and the largest stable SGD step on a quadratic."""

from __future__ import annotations

import math

import torch

from course_lib.algorithms.learned_optimizer import QuadraticProblems, preprocess_gradients
from course_lib.algorithms.meta_sgd import meta_sgd_update
from course_lib.exercises._core import check_close, check_function, check_true, not_attempted

__all__ = [
    "check_max_stable_lr",
    "check_meta_parameter_count",
    "check_meta_sgd_step",
    "check_preprocess",
]


def _dict_cases():
    g = torch.Generator().manual_seed(4)
    cases = []
    for shapes in [{"w": (3, 2), "b": (3,)}, {"layer.weight": (1, 4), "layer.bias": (1,), "head": (2, 2)}]:
        params = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
        grads = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
        alphas = {k: torch.rand(s, generator=g) * 0.2 - 0.05 for k, s in shapes.items()}  # some negative
        cases.append((params, grads, alphas))
    return cases


def check_meta_sgd_step(fn) -> bool:
    """Exercise 4.1: ``fn(params, grads, step_sizes) -> dict`` with ``θ' = θ − α ∘ g`` per entry."""
    name = "Exercise 4.1"
    hint = ("return a new dict {name: params[name] - step_sizes[name] * grads[name]}: an element-wise "
            "product, one step size per entry, no learning-rate scalar")
    if fn is None:
        return not_attempted(name, hint)

    def as_list(f):
        def wrapped(params, grads, alphas):
            out = f(params, grads, alphas)
            if out is None:
                return None
            if not isinstance(out, dict):
                raise TypeError(f"expected a dict of tensors, got a {type(out).__name__}")
            if set(out) != set(params):
                raise KeyError(f"the result has keys {sorted(out)} but should have {sorted(params)}")
            return [out[k] for k in sorted(params)]
        return wrapped

    params, grads, alphas = _dict_cases()[0]
    try:
        out = fn(params, grads, alphas)
    except Exception:  # reported by the generic check below
        out = None
    if isinstance(out, dict) and set(out) == set(params):
        def matches(rule):
            return all(torch.allclose(torch.as_tensor(out[k]).double(), rule(k).double(), atol=1e-6) for k in params)
        if matches(lambda k: params[k] + alphas[k] * grads[k]):
            return check_true(name, False, hint, failure="you added the step: descent subtracts α ∘ g from θ")
        if matches(lambda k: params[k] - grads[k]):
            return check_true(name, False, hint, failure="the step sizes are missing (θ − g)")
        if matches(lambda k: alphas[k] - params[k] * grads[k]) or matches(lambda k: grads[k] - alphas[k] * params[k]):
            return check_true(name, False, hint, failure="the arguments are mixed up: the order is (params, grads, step_sizes)")
    return check_function(name, as_list(fn), as_list(meta_sgd_update), _dict_cases(), hint=hint,
                          success="θ' = θ − α ∘ ∇L, one learned step size per parameter entry")


def check_meta_parameter_count(answer, model: torch.nn.Module) -> bool:
    """Exercise 4.2: Meta-SGD meta-learns θ and α, so it has twice the model's parameter count."""
    name = "Exercise 4.2"
    n = sum(p.numel() for p in model.parameters())
    hint = "count the model's parameters (θ), then remember that α has exactly the same shapes"
    if answer is None:
        return not_attempted(name, hint)
    if int(answer) == n:
        return check_true(name, False, hint, failure=f"{n} is MAML's count (θ only); Meta-SGD also learns α")
    if int(answer) == n + 1:
        return check_true(name, False, hint, failure="that is MAML plus one scalar step size (MAML with a "
                          "learned scalar α); Meta-SGD learns one step size per entry")
    return check_close(name, answer, 2 * n, rtol=0, atol=0.5, hint=hint,
                       success=f"{n} initial values + {n} step sizes")


def check_preprocess(fn) -> bool:
    """Exercise 4.3: ``fn(grad [N], p) -> [N, 2]``, the log/sign preprocessing of Andrychowicz et al."""
    name = "Exercise 4.3"
    hint = ("for |g| >= exp(-p): (log|g| / p, sign(g)); otherwise (-1, exp(p) * g). torch.where picks per "
            "entry; clamp |g| before the log so that tiny entries do not produce -inf")
    if fn is None:
        return not_attempted(name, hint)
    g = torch.Generator().manual_seed(6)
    big = torch.randn(8, generator=g) * 10
    small = torch.tensor([1e-6, -3e-7, 0.0, 2e-5])
    # Specific diagnosis before the generic comparison.
    try:
        out_small = fn(small, 10.0)
    except Exception:  # the generic check below reports the error
        out_small = None
    if isinstance(out_small, torch.Tensor) and out_small.shape == (4, 2):
        if not torch.isfinite(out_small).all():
            return check_true(name, False, hint, failure="tiny or zero gradients give inf/NaN: the second "
                              "branch (|g| < exp(-p)) is missing or the log is taken before clamping")
    cases = [(big, 10.0), (small, 10.0), (torch.cat([big, small]), 5.0)]
    return check_function(name, fn, preprocess_gradients, cases, rtol=1e-4, atol=1e-5, hint=hint,
                          success="both channels are now O(1) whatever the gradient's magnitude")


def check_max_stable_lr(answer, problems: QuadraticProblems) -> bool:
    """Exercise 4.4: largest stable SGD step on f(θ) = ||Wθ − y||² is 2 / λ_max(2 WᵀW) = 1 / λ_max(WᵀW)."""
    name = "Exercise 4.4"
    hint = ("the Hessian of ||Wθ − y||² is H = 2 WᵀW; gradient descent on a quadratic is stable iff "
            "lr < 2 / λ_max(H). torch.linalg.eigvalsh(W.transpose(1, 2) @ W)[:, -1] gives λ_max(WᵀW) per problem")
    if answer is None:
        return not_attempted(name, hint)
    lam = torch.linalg.eigvalsh(problems.W.transpose(1, 2) @ problems.W)[:, -1].double()
    expected = 1.0 / lam
    try:
        value = torch.as_tensor(answer, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError):
        value = None
    if value is not None and value.shape == expected.shape:
        if torch.allclose(value, 2 * expected, rtol=1e-3):
            return check_true(name, False, hint, failure="2 / λ_max(WᵀW) forgets the factor 2 in the Hessian "
                              "H = 2 WᵀW (d/dθ of ||Wθ − y||² is 2 Wᵀ(Wθ − y))")
        if torch.allclose(value, expected / 2, rtol=1e-3):
            return check_true(name, False, hint, failure="1 / λ_max(H) is the step that *best* damps the "
                              "stiffest direction; stability holds up to twice that, 2 / λ_max(H)")
        if torch.allclose(value, 2 / lam ** 2, rtol=1e-3) or torch.allclose(value, 1 / lam.sqrt(), rtol=1e-3):
            return check_true(name, False, hint, failure="use the eigenvalues of WᵀW, not the singular "
                              "values of W (λ(WᵀW) = σ(W)²)")
    ok = check_close(name, answer, expected, rtol=1e-3, atol=0, hint=hint)
    if ok:
        eig = torch.linalg.eigvalsh(problems.W.transpose(1, 2) @ problems.W).double()
        condition = (eig[:, -1] / eig[:, 0].clamp_min(1e-300)).median().item()
        print(f"  One learning rate for all {len(expected)} problems must stay below the smallest, "
              f"{expected.min().item():.2g}. With it, the flattest direction of a problem shrinks by a factor "
              f"(1 - lr·λ_min) per step; the median condition number λ_max/λ_min here is {condition:.3g}"
              + (" (a singular W)" if not math.isfinite(condition) else "") + ".")
    return ok
