"""Checks for chapter 03 (Reptile): two find-the-bug cases, build the Reptile step, Taylor coefficients, noise tasks."""

from __future__ import annotations

import copy
from itertools import permutations

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import adapt
from course_lib.algorithms import reptile
from course_lib.analysis import taylor_analysis
from course_lib.data.episodes import TaskBatch
from course_lib.exercises._core import _compare, _correct, _wrong, check_close, not_attempted
from course_lib.i18n import tr
from course_lib.nets import params_of

__all__ = ["buggy_outer_update_by_name", "buggy_reptile_update", "check_named_outer_update", "check_noise_floor",
           "check_reptile_step", "check_taylor_coefficients"]


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
    """A 1-12-1 tanh MLP and the adapted weights ``[{name: phi_i}]`` of 3 sinusoid tasks (5 SGD steps each)."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 12), nn.Tanh(), nn.Linear(12, 1))
    amp = torch.rand(3, 1, 1, generator=g) * 4 + 1
    sx = torch.rand(3, 10, 1, generator=g) * 10 - 5
    phi = reptile.adapted_weights(model, params_of(model), sx, amp * torch.sin(sx), loss_fn=F.mse_loss,
                                  inner_lr=0.02, inner_steps=5, vectorize=False)
    adapted = [{n: v[i].clone() for n, v in phi.items()} for i in range(3)]
    return model, adapted


# ---------------------------------------------------------------- Exercise 3.2 (find the bug: p.name)
def buggy_outer_update_by_name(model: nn.Module, mean_phi: dict, outer_lr: float) -> None:
    """A BUGGY outer step: it looks each weight up in ``mean_phi`` by ``p.name``; a Parameter has no name
    (AttributeError in older PyTorch; in recent versions ``p.name`` is None, so the lookup is a KeyError)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(outer_lr * (mean_phi[p.name] - p))


def check_named_outer_update(fn) -> bool:
    """``fn(model, mean_phi, outer_lr)`` must do ``theta <- theta + outer_lr * (mean_phi - theta)`` in place."""
    name = tr("Exercise {number}", number="3.2")
    hint = tr("a torch.nn.Parameter carries no name; model.named_parameters() yields (name, weight) pairs, "
              "and under torch.no_grad() p.add_(outer_lr * (mean_phi[name] - p)) moves the weight in place")
    if fn is None:
        return not_attempted(name, hint)
    model, adapted = _case()
    mean_phi = {n: torch.stack([phi[n] for phi in adapted]).mean(0) for n in adapted[0]}
    t0, target = _flat(params_of(model)), _flat(mean_phi)
    try:
        fn(model, mean_phi, 0.3)
    except NotImplementedError:
        return not_attempted(name, hint)
    except (AttributeError, KeyError) as err:  # p.name: AttributeError, or None (KeyError) in recent PyTorch
        return _wrong(name, tr("{error}: {err} — a weight has no usable .name to look it up by (depending on the "
                               "PyTorch version p.name is missing or None)", error=type(err).__name__, err=err),
                      hint)
    except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
        return _wrong(name, tr("it raised {error}: {err}", error=type(err).__name__, err=err), hint)
    new = _flat(params_of(model))
    for candidate, problem in [(t0, tr("the weights did not change (was the update applied to a copy, or zero?)")),
                               (t0 - 0.3 * (target - t0), tr("the weights moved AWAY from mean_phi: a sign error")),
                               (target, tr("the weights jumped to mean_phi: outer_lr is missing"))]:
        if torch.allclose(new, candidate, atol=1e-6) and not torch.allclose(candidate, t0 + 0.3 * (target - t0)):
            return _wrong(name, problem, hint)
    problem = _compare(new - t0, 0.3 * (target - t0), 1e-5, 1e-7, what=tr("your update (new weights - theta)"))
    if problem:
        return _wrong(name, problem, hint)
    return _correct(name, tr("every weight found by its name and moved by outer_lr towards mean_phi"))


# ---------------------------------------------------------------- Exercise 3.3 (build it yourself)
# (seed, tasks, inner_lr, inner_steps, outer_lr): 3 or 4 tasks, several inner steps, outer_lr != 1
_STEP_CASES = [(0, 3, 0.05, 3, 0.4), (1, 4, 0.03, 2, 0.7)]


def _step_case(seed: int, tasks: int):
    """A 1-8-1 tanh MLP (float64) and a batch of ``tasks`` sinusoid tasks, 8 support / 8 query points."""
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    amp = torch.rand(tasks, 1, 1, generator=g, dtype=torch.float64) * 4 + 1
    phase = torch.rand(tasks, 1, 1, generator=g, dtype=torch.float64) * 3
    sx, qx = (torch.rand(tasks, 8, 1, generator=g, dtype=torch.float64) * 10 - 5 for _ in range(2))
    return model, TaskBatch(sx, amp * torch.sin(sx - phase), qx, amp * torch.sin(qx - phase))


def _flat(params) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in params.values()])


def _wrong_answers(model, batch, inner_lr, inner_steps, outer_lr) -> list[tuple[torch.Tensor, str]]:
    """The new weights (flat ``[P]``) of typical mistakes, each with what it did wrong."""
    theta = {n: p.detach() for n, p in model.named_parameters()}
    t0 = _flat(theta)

    def sgd(start, t, steps):
        return adapt(model, start, batch.support_x[t], batch.support_y[t], loss_fn=F.mse_loss, steps=steps,
                     update=inner_lr)

    tasks = range(len(batch))
    phis = torch.stack([_flat(sgd(theta, t, inner_steps)) for t in tasks])
    one_step = torch.stack([_flat(sgd(theta, t, 1)) for t in tasks])
    chain, start = [], theta
    for t in tasks:
        start = sgd(start, t, inner_steps)
        chain.append(_flat(start))
    chain = torch.stack(chain)
    return [
        (t0, tr("the weights did not move at all: the update is zero (a difference of the model with itself, or "
                "the update went into a copy of the model)")),
        (phis[-1], tr("the model ended up as the LAST task's adapted weights phi_T: theta was overwritten (e.g. by "
                      "load_state_dict(phi)) and the difference 'model - phi' was then zero")),
        (t0 - outer_lr * (phis.mean(0) - t0), tr("the model moved AWAY from the adapted weights: a sign error "
                                                 "(theta - phi instead of phi - theta)")),
        (t0 + outer_lr * (one_step.mean(0) - t0), tr("the result is that of ONE inner step per task: run the "
                                                     "inner SGD step inner_steps times")),
        (t0 + outer_lr * (phis - t0).sum(0), tr("the update is {n} times too large: you summed phi_i - theta over "
                                                "the tasks instead of averaging", n=len(batch))),
        (t0 + outer_lr * (chain.mean(0) - t0), tr("task 2 started from task 1's adapted weights, and so on: the "
                                                  "inner steps accumulated across tasks; every task must start "
                                                  "from theta")),
        (chain[-1] + outer_lr * (chain.mean(0) - chain[-1]), tr("the inner loop trained the model itself, so the "
                                                                "tasks accumulated and theta was lost; adapt a "
                                                                "copy, starting from theta for every task")),
        (phis.mean(0), tr("the model jumped all the way to mean_i phi_i: the step is missing its outer_lr")),
    ]


def _graph_spy(seen: list[bool]):
    """A forward pre-hook that records whether the weight it sees has an autograd history (``grad_fn``).

    Under ``functional_call`` the module's ``weight`` is the ``phi`` being evaluated; inside
    ``torch.func`` transforms nothing is recorded.
    """
    def hook(module, args):
        if torch._C._functorch.maybe_current_level() is None:
            seen.append(module.weight.grad_fn is not None)
    return hook


def check_reptile_step(fn) -> bool:
    """``fn(model, batch, loss_fn, inner_lr, inner_steps, outer_lr)`` updates ``model`` in place like
    ``reptile.reptile_step(model, torch.optim.SGD(model.parameters(), lr=outer_lr), batch, ...)``.

    Test cases: float64 1-8-1 MLPs, 3-4 sinusoid tasks of 8 support points (:data:`_STEP_CASES`).
    """
    name = tr("Exercise {number}", number="3.3")
    hint = tr(
        "for each task start from theta (the model's weights, detached), take inner_steps plain SGD steps on its "
        "support set (torch.autograd.grad without create_graph) to get phi_i, keep it; then, under "
        "torch.no_grad(), move every weight in place: p += outer_lr * (mean_i phi_i - p)")
    if fn is None:
        return not_attempted(name, hint)
    for case, (seed, tasks, inner_lr, inner_steps, outer_lr) in enumerate(_STEP_CASES):
        model, batch = _step_case(seed, tasks)
        theirs, ours = copy.deepcopy(model), copy.deepcopy(model)
        graph_seen: list[bool] = []
        theirs[0].register_forward_pre_hook(_graph_spy(graph_seen))
        try:
            fn(theirs, batch, F.mse_loss, inner_lr, inner_steps, outer_lr)
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
            return _wrong(name, tr("calling it on test case {i} raised {error}: {err}", i=case,
                                   error=type(err).__name__, err=err), hint)
        reptile.reptile_step(ours, torch.optim.SGD(ours.parameters(), lr=outer_lr), batch, loss_fn=F.mse_loss,
                             inner_lr=inner_lr, inner_steps=inner_steps, vectorize=False)
        new, expected, t0 = _flat(params_of(theirs)), _flat(params_of(ours)), _flat(params_of(model))
        setting = tr("test case {i} ({tasks} tasks, inner_steps={steps}, outer_lr={lr})", i=case, tasks=tasks,
                     steps=inner_steps, lr=outer_lr)
        if not torch.allclose(new, expected, rtol=1e-6, atol=1e-9):
            for candidate, problem in _wrong_answers(model, batch, inner_lr, inner_steps, outer_lr):
                if torch.allclose(new, candidate, rtol=1e-6, atol=1e-9):
                    return _wrong(name, tr("on {setting}, {problem}", setting=setting, problem=problem),
                                  hint)
            problem = _compare(new - t0, expected - t0, 1e-6, 1e-9, what=tr("your update (new weights - theta)"))
            return _wrong(name, tr("on {setting}, {problem}", setting=setting, problem=problem), hint)
        if any(graph_seen) or any(p.grad_fn is not None for p in theirs.parameters()):
            return _wrong(name, tr("on {setting} the numbers are right, but phi requires grad: the inner loop kept an "
                                   "autograd graph back to theta (memory grows with inner_steps, as in MAML). Detach "
                                   "theta before adapting and take the inner gradients without create_graph",
                                   setting=setting), hint)
    return _correct(name, tr("the same weights as course_lib's reptile_step with torch.optim.SGD(lr=outer_lr)"))


# ---------------------------------------------------------------- Exercise 3.4 (Taylor coefficients, k = 3)
_K2 = {"maml": (1, -2), "fomaml": (1, -1), "reptile": (2, -1)}


def _k3_case(seed: int = 32):
    """A 1-16-1 tanh MLP (float64), its params and three mini-batches ``(x [10, 1], y)`` of one sine task."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).double()
    g = torch.Generator().manual_seed(seed)
    xs = [torch.randn(10, 1, generator=g, dtype=torch.float64) for _ in range(3)]
    return net, params_of(net), [(x, 2 * torch.sin(x)) for x in xs]


def _k3_updates(net, params, batches, lr) -> dict[str, torch.Tensor]:
    """Exact k = 3 update vectors ``[P]`` (MAML, FOMAML: 2 inner steps + the 3rd batch's gradient; Reptile:
    (theta - phi_3) / lr), averaged over the 6 orders of the mini-batches."""
    out = {"maml": 0.0, "fomaml": 0.0, "reptile": 0.0}
    for order in permutations(range(3)):
        theta = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        phi, step_sum = theta, 0.0
        for j in order[:2]:
            g = torch.autograd.grad(F.mse_loss(torch.func.functional_call(net, phi, (batches[j][0],)), batches[j][1]),
                                    list(phi.values()), create_graph=True)
            step_sum = step_sum + _flat(dict(zip(phi, g)))
            phi = {n: p - lr * gi for (n, p), gi in zip(phi.items(), g)}
        x, y = batches[order[2]]
        last = F.mse_loss(torch.func.functional_call(net, phi, (x,)), y)
        g3 = _flat(dict(zip(phi, torch.autograd.grad(last, list(phi.values()), retain_graph=True))))
        maml = _flat(dict(zip(theta, torch.autograd.grad(last, list(theta.values())))))
        for key, value in (("maml", maml), ("fomaml", g3), ("reptile", step_sum.detach() + g3)):
            out[key] = out[key] + value / 6
    return out


def check_taylor_coefficients(answer) -> bool:
    """``answer = {"maml": (c1, c2), "fomaml": (...), "reptile": (...)}`` with
    update ≈ c1 * AvgGrad + c2 * alpha * AvgGradInner for k = 3 gradient evaluations (three mini-batches)."""
    name = tr("Exercise {number}", number="3.4")
    hint = tr("write {expansion}; FOMAML keeps the last one, Reptile sums all k, MAML multiplies the last by "
              "{product}; then count the terms H_i g_j with i != j (each averages to AvgGradInner)",
              expansion="g_i(phi_{i-1}) = g_i - alpha H_i (g_1 + ... + g_{i-1}) + O(alpha^2)",
              product="(I - alpha H_1)...(I - alpha H_{k-1})")
    if answer is None:
        return not_attempted(name, hint)
    missing = {"maml", "fomaml", "reptile"} - set(answer)
    if missing:
        return _wrong(name, tr("the answer needs entries for {keys}", keys=sorted(missing)), hint)
    try:
        coef = {alg: tuple(float(c) for c in answer[alg]) for alg in _K2}
    except (TypeError, ValueError):
        return _wrong(name, tr("each entry must be a pair of numbers (c1, c2)"), hint)
    if coef == {k: tuple(map(float, v)) for k, v in _K2.items()}:
        return _wrong(name, tr("these are the k = 2 coefficients of the table above; with a third mini-batch there "
                               "are more pairs (i, j) of steps whose H_i g_j terms add up"), hint)
    if any(c2 > 0 for _, c2 in coef.values()):
        return _wrong(name, tr("a positive AvgGradInner coefficient: the expansion of {g} has a MINUS alpha H_i "
                               "(sum of the earlier gradients)", g="g_i(phi_{i-1})"), hint)
    net, params, batches = _k3_case()
    pairs = [taylor_analysis.taylor_terms(net, params, batches[i], batches[j], F.mse_loss)
             for i, j in ((0, 1), (0, 2), (1, 2))]
    avg_grad = sum(t["avg_grad"] for t in pairs) / 3  # each batch appears in two pairs
    inner = sum(t["avg_grad_inner"] for t in pairs) / 3  # mean of H_i g_j over ordered pairs i != j
    exact = {lr: _k3_updates(net, params, batches, lr) for lr in (0.01, 0.001)}
    for alg, (c1, c2) in coef.items():
        errs = [float((exact[lr][alg] - c1 * avg_grad - c2 * lr * inner).norm() / exact[lr][alg].norm())
                for lr in (0.01, 0.001)]
        if errs[1] > 0.05:
            return _wrong(name, tr("for {alg} the AvgGrad coefficient c1 = {c1:g} is off (relative error {err:.2f} "
                                   "even for the small step size 0.001): how many gradients does its update add "
                                   "up?", alg=alg, c1=c1, err=errs[1]), hint)
        if errs[1] > 0.05 * errs[0]:
            extra = {"maml": tr(" Did you drop the Jacobian terms -alpha H_j g_3 (that is FOMAML)?"),
                     "reptile": tr(" Did you count only consecutive steps? Step 3's gradient is expanded around "
                                   "phi_2, which carries BOTH earlier steps.")}.get(alg, "")
            return _wrong(name, tr("for {alg} the AvgGradInner coefficient c2 = {c2:g} is off: the error shrinks only "
                                   "like alpha ({big:.1e} -> {small:.1e}), not like alpha^2.{extra}", alg=alg, c2=c2,
                                   big=errs[0], small=errs[1], extra=extra), hint)
    return _correct(name, tr("the prediction error of all three shrinks like alpha^2 for k = 3"))


# ---------------------------------------------------------------- Exercise 3.5
def check_noise_floor(answer, noise_std: float = 1.0) -> bool:
    """Targets y ~ N(0, noise_std^2) independent of x: the best possible expected query MSE is noise_std^2."""
    name = tr("Exercise {number}", number="3.5")
    hint = tr("on such tasks the query targets are independent of everything the learner sees, so the best "
              "prediction is their mean (0), whose MSE is their variance")
    if answer is not None and abs(float(answer)) < 1e-6:
        return _wrong(name, tr("zero error would need predicting fresh noise; no learner can"), hint)
    return check_close(name, answer, noise_std**2, rtol=0.02, hint=hint)
