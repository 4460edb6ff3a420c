"""Checks for chapter 03 (Reptile): the outer update (find the bug), Taylor coefficients, noise tasks."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.algorithms import maml, reptile
from course_lib.analysis import taylor_analysis
from course_lib.exercises._core import _correct, _wrong, check_close, not_attempted

__all__ = ["buggy_reptile_update", "check_reptile_update", "check_taylor_coefficients", "check_noise_floor"]


# ---------------------------------------------------------------- Exercise 3.1 (find the bug)
def buggy_reptile_update(model: nn.Module, adapted: list[dict], outer_lr: float) -> dict:
    """A BUGGY Reptile outer update: it loads the adapted weights into the model first, so the
    "difference" it then takes is between the model and itself. Returns the update it applied."""
    update = {}
    for phi in adapted:
        model.load_state_dict(phi)  # the initialisation theta is lost here
        for name, p in model.named_parameters():
            update[name] = update.get(name, 0) + (p.detach() - model.state_dict()[name]) / len(adapted)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(outer_lr * update[name])
    return update


def _case(seed=31):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 12), nn.Tanh(), nn.Linear(12, 1))
    amp = torch.rand(3, 1, 1, generator=g) * 4 + 1
    sx = torch.rand(3, 10, 1, generator=g) * 10 - 5
    phi = reptile.adapted_weights(model, params_of(model), sx, amp * torch.sin(sx), loss_fn=F.mse_loss,
                                  inner_lr=0.02, inner_steps=5, vectorize=False)
    adapted = [{n: v[i].clone() for n, v in phi.items()} for i in range(3)]
    return model, adapted


def check_reptile_update(fn) -> bool:
    """``fn(theta: dict, adapted: list[dict], outer_lr) -> new theta dict`` = theta + eps * mean(phi_i - theta)."""
    name = "Exercise 3.1"
    hint = "keep theta untouched while you compute: new = theta + outer_lr * (mean_i phi_i - theta), entry by entry"
    if fn is None:
        return not_attempted(name, hint)
    model, adapted = _case()
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    try:
        new = fn({n: t.clone() for n, t in theta.items()}, [{n: t.clone() for n, t in a.items()} for a in adapted], 0.5)
    except Exception as err:
        return _wrong(name, f"calling it raised {type(err).__name__}: {err}", hint)
    if new is None:
        return not_attempted(name, hint)
    expected = {n: theta[n] + 0.5 * (torch.stack([a[n] for a in adapted]).mean(0) - theta[n]) for n in theta}
    if all(torch.allclose(new[n], theta[n]) for n in theta):
        return _wrong(name, "the update is exactly zero: theta did not move (differencing a tensor with itself?)", hint)
    if all(torch.allclose(new[n], adapted[-1][n]) for n in theta):
        return _wrong(name, "theta became the last task's adapted weights: average over tasks and scale by outer_lr", hint)
    for n in theta:
        if n not in new or not torch.allclose(new[n], expected[n], atol=1e-6):
            return _wrong(name, f"the new value of {n!r} is not theta + outer_lr * mean(phi - theta)", hint)
    return _correct(name, "theta moves towards the average adapted weights")


# ---------------------------------------------------------------- Exercise 3.2
def check_taylor_coefficients(answer) -> bool:
    """``answer = {"maml": (c1, c2), "fomaml": (...), "reptile": (...)}`` with
    update ≈ c1 * AvgGrad + c2 * alpha * AvgGradInner for k = 2 inner steps."""
    name = "Exercise 3.2"
    hint = ("expand g2(phi1) = g2 - alpha H2 g1 + O(alpha^2); MAML multiplies it by (I - alpha H1); Reptile adds g1; "
            "average over the two orders of the mini-batches")
    if answer is None:
        return not_attempted(name, hint)
    missing = {"maml", "fomaml", "reptile"} - set(answer)
    if missing:
        return _wrong(name, f"the answer needs entries for {sorted(missing)}", hint)
    torch.manual_seed(32)
    net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    g = torch.Generator().manual_seed(32)
    xa, xb = (torch.randn(10, 1, generator=g, dtype=torch.float64) for _ in range(2))
    a, b = (xa, 2 * torch.sin(xa)), (xb, 2 * torch.sin(xb))
    params = params_of(net)
    terms = taylor_analysis.taylor_terms(net, params, a, b, F.mse_loss)
    for alg in ("maml", "fomaml", "reptile"):
        try:
            c1, c2 = (float(c) for c in answer[alg])
        except (TypeError, ValueError):
            return _wrong(name, f"answer[{alg!r}] must be a pair of numbers (c1, c2)", hint)
        errs = []
        for lr in (0.02, 0.002):
            exact = taylor_analysis.exact_updates(net, params, a, b, F.mse_loss, lr)[alg]
            pred = c1 * terms["avg_grad"] + c2 * lr * terms["avg_grad_inner"]
            errs.append(float((exact - pred).norm() / exact.norm()))
        if errs[1] > 0.05:
            return _wrong(name, f"for {alg} the AvgGrad coefficient c1 = {c1:g} is off (relative error "
                          f"{errs[1]:.2f} even for the small step size 0.002)", hint)
        if errs[1] > 0.05 * errs[0]:
            return _wrong(name, f"for {alg} the AvgGradInner coefficient c2 = {c2:g} is off: the error shrinks only "
                          f"like alpha ({errs[0]:.1e} -> {errs[1]:.1e}), not like alpha^2", hint)
    return _correct(name, "the prediction error of all three shrinks like alpha^2")


# ---------------------------------------------------------------- Exercise 3.3
def check_noise_floor(answer, noise_std: float = 1.0) -> bool:
    """Targets y ~ N(0, noise_std^2) independent of x: the best possible expected query MSE is noise_std^2."""
    hint = ("on such tasks the query targets are independent of everything the learner sees, so the best "
            "prediction is their mean (0), whose MSE is their variance")
    if answer is not None and abs(float(answer)) < 1e-6:
        return _wrong("Exercise 3.3", "zero error would need predicting fresh noise; no learner can", hint)
    return check_close("Exercise 3.3", answer, noise_std**2, rtol=0.02, hint=hint)
