"""Checks for chapter 01 (what is meta-learning): sinusoid task family facts and a family quiz."""

from __future__ import annotations

import math

import torch

from course_lib.exercises._core import check_close, check_function, check_mapping, check_true, not_attempted

__all__ = [
    "check_zero_predictor_mse",
    "check_mean_function",
    "check_linear_form",
    "check_oracle_adaptation",
    "check_family_quiz",
]

AMPLITUDE = (0.1, 5.0)


def check_zero_predictor_mse(answer) -> bool:
    """Exercise 1.1: E[A^2 sin^2(x - phi)] = E[A^2] / 2 for A ~ U[0.1, 5], phi ~ U[0, pi]."""
    a, b = AMPLITUDE
    second_moment = (b**3 - a**3) / (3 * (b - a))
    hint = "MSE of y_hat = 0 is E[y^2] = E[A^2] * E[sin^2(x - phi)] = E[A^2] * 1/2"
    if answer is not None and math.isclose(float(answer), second_moment, rel_tol=1e-3):
        return check_true("Exercise 1.1", False, hint, failure="that is E[A^2]; you still need the average of sin^2")
    if answer is not None and math.isclose(float(answer), ((a + b) / 2) ** 2 / 2, rel_tol=1e-3):
        return check_true("Exercise 1.1", False, hint,
                          failure="you used E[A]^2 instead of E[A^2] (they differ by the variance of A)")
    return check_close("Exercise 1.1", answer, second_moment / 2, rtol=1e-3, hint=hint)


def check_mean_function(answer, pretrained: torch.nn.Module | None = None, device=None) -> bool:
    """Exercise 1.2: m(x) = E[A sin(x - phi)] = c cos(x) with c = -(2/pi) E[A].

    If ``pretrained`` is given, also reports how close that network is to c cos(x).
    """
    a, b = AMPLITUDE
    expected = -(2 / math.pi) * (a + b) / 2
    hint = "E[A sin(x-phi)] = E[A] * (1/pi) * integral_0^pi sin(x-phi) dphi = E[A] * (-2 cos x) / pi"
    ok = check_close("Exercise 1.2", answer, expected, rtol=1e-3, hint=hint)
    if ok and pretrained is not None:
        x = torch.linspace(-5, 5, 201, device=device).view(-1, 1)
        with torch.no_grad():
            gap = (pretrained(x) - expected * torch.cos(x)).pow(2).mean().sqrt().item()
        print(f"  The pre-trained network is {gap:.2f} (RMS) away from {expected:.3f}·cos(x) on [-5, 5].")
    return ok


def _reference_linear(amplitude, phase):
    return amplitude * torch.cos(phase), -amplitude * torch.sin(phase)


def check_linear_form(to_linear) -> bool:
    """Exercise 1.3: ``to_linear(A, phi) -> (a, b)`` with A sin(x - phi) = a sin x + b cos x."""
    g = torch.Generator().manual_seed(1)
    cases = [(torch.rand(5, generator=g) * 4.9 + 0.1, torch.rand(5, generator=g) * math.pi) for _ in range(3)]
    return check_function(
        "Exercise 1.3", to_linear, _reference_linear, cases,
        hint="expand sin(x - phi) = sin x cos phi - cos x sin phi, then multiply by A",
    )


def check_oracle_adaptation(oracle_adapt, family, num_tasks: int = 20, k_shot: int = 5) -> bool:
    """Exercise 1.4: least squares on [sin x, cos x] must be exact on new tasks' query points."""
    name = "Exercise 1.4"
    hint = "features = [sin x, cos x] of shape [K, 2]; coef = torch.linalg.lstsq(features, y).solution; predict features(x) @ coef"
    if oracle_adapt is None:
        return not_attempted(name, hint)
    g = torch.Generator().manual_seed(2)
    batch = family.sample_batch(n_tasks=num_tasks, k_support=k_shot, k_query=50, generator=g)
    errors = []
    for task in batch:
        try:
            predictor = oracle_adapt(task.support_x, task.support_y)
            if predictor is None:
                return not_attempted(name, hint)
            prediction = predictor(task.query_x)
        except Exception as err:  # show the learner's error as feedback
            return check_true(name, False, hint, failure=f"raised {type(err).__name__}: {err}")
        if not isinstance(prediction, torch.Tensor) or prediction.shape != task.query_y.shape:
            shape = getattr(prediction, "shape", type(prediction).__name__)
            return check_true(name, False, hint, failure=f"predictions have shape {shape}, expected {list(task.query_y.shape)}")
        errors.append((prediction - task.query_y).pow(2).mean().item())
    worst = max(errors)
    return check_true(name, worst < 1e-6, hint, success=f"query MSE at most {worst:.1e} on {num_tasks} new tasks",
                      failure=f"the worst query MSE is {worst:.3g}; an exact fit should give ~0")


FAMILIES = {
    "MAML": "optimization",
    "Reptile": "optimization",
    "Prototypical Networks": "metric",
    "Matching Networks": "metric",
    "MANN": "memory/model",
    "Meta-SGD": "learned optimizer",
    "Conditional Neural Process": "memory/model",
    "Siamese network": "metric",
}
WHY = {
    "MAML": "it learns an initialisation and adapts with gradient steps",
    "Reptile": "it learns an initialisation and adapts with gradient steps",
    "Prototypical Networks": "it classifies by distance to class means in a learned embedding",
    "Matching Networks": "it classifies by attention (similarity) to the support examples",
    "Siamese network": "it learns a similarity between pairs",
    "MANN": "its forward pass writes the support set into an external memory",
    "Conditional Neural Process": "a network reads the support set and outputs the task's predictor in one pass",
    "Meta-SGD": "it learns the update rule's per-parameter step sizes",
}


def check_family_quiz(answer) -> bool:
    """Exercise 1.5: assign each method to its family."""
    name = "Exercise 1.5"
    hint = "ask what is meta-learned: an init (optimization), the update rule (learned optimizer), an embedding (metric), a network reading the support set (memory/model)"
    return check_mapping(name, answer, FAMILIES, hint, lambda m, given: f"{m!r} is not {given!r}: {WHY[m]}",
                         success="all eight methods placed correctly")
