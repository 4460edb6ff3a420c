"""Checks for chapter 04 (learned optimizers): Meta-SGD's update and meta-loss (built by the learner), its size,
gradient preprocessing, the largest stable SGD step on a quadratic, and what "online meta-learning" is not."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import PerParameterSGD, adapt, task_loss
from course_lib.algorithms.learned_optimizer import preprocess_gradients
from course_lib.algorithms.meta_sgd import meta_loss
from course_lib.data.episodes import TaskBatch
from course_lib.data.optimizee_problems import QuadraticProblems
from course_lib.exercises._core import (_compare, _correct, _plain, _wrong, check_close, check_function, check_mapping,
                                       check_true, not_attempted)
from course_lib.i18n import tr

__all__ = ["check_max_stable_lr", "check_meta_parameter_count", "check_meta_sgd_meta_loss", "check_meta_sgd_step",
           "check_online_claim", "check_preprocess"]


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
    name = tr("Exercise {number}", number="4.1")
    hint = tr("one new dict with the same names; each gradient entry is multiplied by ITS OWN step size "
              "(element-wise, no global learning rate) and the step goes down the gradient")
    if fn is None:
        return not_attempted(name, hint)

    def as_list(f):
        def wrapped(params, grads, alphas):
            out = f(params, grads, alphas)
            if out is None:
                return None
            if not isinstance(out, dict):
                raise TypeError(tr("expected a dict of tensors, got a {kind}", kind=type(out).__name__))
            if set(out) != set(params):
                raise KeyError(tr("the result has keys {got} but should have {want}", got=sorted(out), want=sorted(params)))
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
            return check_true(name, False, hint, failure=tr("you added the step: descent subtracts α ∘ g from θ"))
        if matches(lambda k: params[k] - grads[k]):
            return check_true(name, False, hint, failure=tr("the step sizes are missing (θ − g)"))
        if matches(lambda k: alphas[k] - params[k] * grads[k]) or matches(lambda k: grads[k] - alphas[k] * params[k]):
            return check_true(name, False, hint, failure=tr("the arguments are mixed up: the order is (params, grads, step_sizes)"))
    reference = as_list(lambda p, g, a: PerParameterSGD(a)(p, g)[0])
    return check_function(name, as_list(fn), reference, _dict_cases(), hint=hint,
                          success=tr("θ' = θ − α ∘ ∇L, one learned step size per parameter entry"))


# ---------------------------------------------------------------- Build it yourself: the Meta-SGD meta-loss
def _meta_loss_case(seed: int, tasks: int):
    """A tanh MLP (float64), per-entry step sizes in [0.02, 0.22] and a batch of sinusoid-like tasks."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    params = {n: p.detach().clone() for n, p in model.named_parameters()}
    alphas = {n: 0.02 + 0.2 * torch.rand(p.shape, generator=g, dtype=torch.float64) for n, p in params.items()}
    amplitude = 1 + 2 * torch.rand(tasks, 1, 1, generator=g, dtype=torch.float64)
    x = 4 * torch.rand(tasks, 12, 1, generator=g, dtype=torch.float64) - 2
    y = amplitude * torch.sin(x + amplitude)
    return model, params, alphas, TaskBatch(x[:, :5], y[:, :5], x[:, 5:], y[:, 5:])


def _value_and_grads(fn, model, params, alphas, batch):
    """``(loss, [d loss / d params], [d loss / d alphas])``; a gradient is None where none reaches the input."""
    p = {n: t.clone().requires_grad_(True) for n, t in params.items()}
    a = {n: t.clone().requires_grad_(True) for n, t in alphas.items()}
    loss = fn(model, p, a, batch, F.mse_loss)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1 or not loss.requires_grad:
        return loss, None, None
    grads = torch.autograd.grad(loss.reshape(()), list(p.values()) + list(a.values()), allow_unused=True)
    return loss.detach(), list(grads[:len(p)]), list(grads[len(p):])


def _wrong_variants(model, params, alphas, batch):
    """Meta-loss values of the typical wrong answers, ``{what is wrong: value}``."""
    def per_task(step_sizes, on_support=False, adapted=True):
        out = []
        for task in batch:
            phi = adapt(model, params, task.support_x, task.support_y, loss_fn=F.mse_loss,
                        update=PerParameterSGD(step_sizes)) if adapted else params
            x, y = (task.support_x, task.support_y) if on_support else (task.query_x, task.query_y)
            out.append(task_loss(model, phi, x, y, F.mse_loss))
        return torch.stack(out).detach()

    flat = torch.cat([a.flatten() for a in alphas.values()])
    return {
        tr("θ + α ∘ g: the inner step must go DOWN the support gradient, θ − α ∘ g (a sign error)"):
            per_task({n: -a for n, a in alphas.items()}).mean(),
        tr("that is the SUPPORT loss after adaptation; the meta-loss is the QUERY loss of the adapted parameters"):
            per_task(alphas, on_support=True).mean(),
        tr("that is the query loss at θ, before adaptation: take the inner step θ' = θ − α ∘ ∇L_support(θ) first"):
            per_task(alphas, adapted=False).mean(),
        tr("one scalar step size per tensor (a mean?): Meta-SGD multiplies each gradient entry by its own α entry"):
            per_task({n: a.mean().expand_as(a) for n, a in alphas.items()}).mean(),
        tr("one scalar step size for all parameters: Meta-SGD multiplies each gradient entry by its own α entry"):
            per_task({n: flat.mean().expand_as(a) for n, a in alphas.items()}).mean(),
        tr("the SUM over tasks: the meta-loss is the MEAN over the tasks of the batch"): per_task(alphas).sum(),
        tr("only the last task's loss: accumulate the query losses of all tasks, then take their mean"): per_task(alphas)[-1],
    }


def check_meta_sgd_meta_loss(fn) -> bool:
    """Build it yourself: ``fn(model, params, step_sizes, batch, loss_fn) -> scalar`` = Meta-SGD's meta-loss.

    Compared with :func:`course_lib.algorithms.meta_sgd.meta_loss` (one inner step) on two random
    cases: the value, and the gradients with respect to ``params`` and ``step_sizes``.
    """
    name = tr("Build it yourself: Meta-SGD meta-loss")
    hint = tr("per task: the support loss at params, its gradient (kept differentiable), the adapted dict "
              "θ − α ∘ g, the loss of the adapted dict on the query set; then combine the tasks as the formula says")
    if fn is None:
        return not_attempted(name, hint)
    for case, (seed, tasks) in enumerate([(41, 3), (42, 4)]):
        model, params, alphas, batch = _meta_loss_case(seed, tasks)
        try:
            value, g_params, g_alphas = _value_and_grads(fn, model, params, alphas, batch)
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # report the learner's error instead of raising it in the check cell
            return _wrong(name, tr("calling it on test case {i} raised {error}: {err}", i=case, error=type(err).__name__,
                                   err=err), hint)
        if value is None:
            return not_attempted(name, hint) if case == 0 else _wrong(name, tr("it returned None (a missing return?)"), hint)
        if isinstance(value, (int, float)) or (isinstance(value, torch.Tensor) and g_params is None and value.numel() == 1):
            return _wrong(name, tr("the result has no autograd graph (.item(), .detach() or torch.no_grad()?): "
                                   "the meta-loss must be differentiable in params and step sizes"), hint)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            return _wrong(name, tr("it should return one scalar tensor (the mean over tasks), got {shape}", shape=shape), hint)
        p = {n: t.clone().requires_grad_(True) for n, t in params.items()}
        a = {n: t.clone().requires_grad_(True) for n, t in alphas.items()}
        expected = meta_loss(model, p, a, batch, loss_fn=F.mse_loss)
        if _compare(value, expected.detach(), 1e-6, 1e-9) is not None:
            for what, wrong_value in _wrong_variants(model, params, alphas, batch).items():
                if torch.isclose(value.double().reshape(()), wrong_value, rtol=1e-6, atol=1e-9):
                    return _wrong(name, tr("on test case {i}: {problem}", i=case, problem=what), hint)
            if all(g is None or not g.abs().any() for g in g_alphas):
                return _wrong(name, tr("on test case {i}: the step sizes receive no gradient and the value is off: "
                                       "use the step_sizes tensors themselves in θ − α ∘ g (not a number)", i=case), hint)
            return _wrong(name, tr("on test case {i}: the value differs from Meta-SGD's meta-loss: {problem}", i=case,
                                   problem=_compare(value, expected.detach(), 1e-6, 1e-9)), hint)
        if any(g is None or not g.abs().any() for g in g_alphas):
            return _wrong(name, tr("the value is right but the step sizes receive no gradient: α was detached or used "
                                   "as a plain number (.item(), .detach(), float()), so Meta-SGD could not learn it"), hint)
        if any(g is None for g in g_params):
            return _wrong(name, tr("the value is right but params receive no gradient (detached?)"), hint)
        ref = torch.autograd.grad(expected, list(p.values()) + list(a.values()))
        problem = _compare(g_alphas, list(ref[len(p):]), 1e-5, 1e-9, tr("the gradient with respect to step_sizes"))
        if problem is None:
            problem = _compare(g_params, list(ref[:len(p)]), 1e-5, 1e-9, tr("the gradient with respect to params"))
            first = meta_loss(model, p, a, batch, loss_fn=F.mse_loss, first_order=True)
            first_grads = torch.autograd.grad(first, list(p.values()))
            if problem is not None and _compare(g_params, list(first_grads), 1e-5, 1e-9) is None:
                problem = tr("the gradient with respect to params is FIRST order: the inner gradient needs "
                             "create_graph=True so that the meta-gradient keeps its Hessian term")
        if problem is not None:
            return _wrong(name, tr("on test case {i}: {problem}", i=case, problem=problem), hint)
    return _correct(name, tr("same value and same meta-gradients (params and step sizes) as course_lib's meta_loss"))


def check_meta_parameter_count(answer, model: torch.nn.Module) -> bool:
    """Exercise 4.2: Meta-SGD meta-learns θ and α, so it has twice the model's parameter count."""
    name = tr("Exercise {number}", number="4.2")
    n = sum(p.numel() for p in model.parameters())
    hint = tr("count every number Meta-SGD's outer optimizer updates: which meta-parameters are there, and their shapes?")
    if answer is None:
        return not_attempted(name, hint)
    if int(answer) == n:
        return check_true(name, False, hint, failure=tr("{n} is MAML's count (θ only); Meta-SGD also learns α", n=n))
    if int(answer) == n + 1:
        return check_true(name, False, hint, failure=tr("that is MAML plus one scalar step size (MAML with a "
                                                        "learned scalar α); Meta-SGD learns one step size per entry"))
    return check_close(name, answer, 2 * n, rtol=0, atol=0.5, hint=hint, success=tr("{n} initial values + {n} step sizes", n=n))


def check_preprocess(fn) -> bool:
    """Exercise 4.3: ``fn(grad [N], p) -> [N, 2]``, the log/sign preprocessing of Andrychowicz et al."""
    name = tr("Exercise {number}", number="4.3")
    hint = tr("torch.where picks between the two branches of the formula per entry; clamp |g| before the log "
              "so that tiny entries do not produce -inf")
    if fn is None:
        return not_attempted(name, hint)
    g = torch.Generator().manual_seed(6)
    big = torch.randn(8, generator=g) * 10
    small = torch.tensor([1e-6, -3e-7, 0.0, 2e-5])
    try:  # a specific diagnosis before the generic comparison
        out_small = fn(small, 10.0)
    except Exception:  # the generic check below reports the error
        out_small = None
    if isinstance(out_small, torch.Tensor) and out_small.shape == (4, 2) and not torch.isfinite(out_small).all():
        return check_true(name, False, hint, failure=tr("tiny or zero gradients give inf/NaN: the second "
                          "branch (|g| < exp(-p)) is missing or the log is taken before clamping"))
    cases = [(big, 10.0), (small, 10.0), (torch.cat([big, small]), 5.0)]
    return check_function(name, fn, preprocess_gradients, cases, rtol=1e-4, atol=1e-5, hint=hint,
                          success=tr("both channels are now O(1) whatever the gradient's magnitude"))


def check_max_stable_lr(answer, problems: QuadraticProblems) -> bool:
    """Exercise 4.4: largest stable SGD step on f(θ) = ||Wθ − y||² is 2 / λ_max(2 WᵀW) = 1 / λ_max(WᵀW)."""
    name = tr("Exercise {number}", number="4.4")
    hint = tr("differentiate ||Wθ − y||² twice to get the Hessian H, then apply lr < 2 / λ_max(H) per problem; "
              "torch.linalg.eigvalsh works on a batch [B, d, d] and sorts the eigenvalues in ascending order")
    if answer is None:
        return not_attempted(name, hint)
    eig = torch.linalg.eigvalsh(problems.W.transpose(1, 2) @ problems.W).double()  # [B, d], ascending
    lam = eig[:, -1]
    expected = 1.0 / lam
    try:
        value = torch.as_tensor(answer, dtype=torch.float64).reshape(-1)
    except (TypeError, ValueError):
        value = None
    if value is not None and value.shape == expected.shape:
        if torch.allclose(value, 2 * expected, rtol=1e-3):
            return check_true(name, False, hint, failure=tr("2 / λ_max(WᵀW) forgets the factor 2 in the Hessian "
                              "H = 2 WᵀW (d/dθ of ||Wθ − y||² is 2 Wᵀ(Wθ − y))"))
        if torch.allclose(value, expected / 2, rtol=1e-3):
            return check_true(name, False, hint, failure=tr("1 / λ_max(H) is the step that *best* damps the "
                              "stiffest direction; stability holds up to twice that, 2 / λ_max(H)"))
        if torch.allclose(value, 2 / lam ** 2, rtol=1e-3) or torch.allclose(value, 1 / lam.sqrt(), rtol=1e-3):
            return check_true(name, False, hint, failure=tr("use the eigenvalues of WᵀW, not the singular "
                              "values of W (λ(WᵀW) = σ(W)²)"))
    ok = check_close(name, answer, expected, rtol=1e-3, atol=0, hint=hint)
    if ok:
        condition = (eig[:, -1] / eig[:, 0].clamp_min(1e-300)).median().item()
        print(tr("  One learning rate for all {n} problems must stay below the smallest, {lr:.2g}. With it, the "
                 "flattest direction of a problem shrinks by a factor (1 - lr·λ_min) per step; the median condition "
                 "number λ_max/λ_min here is {condition:.3g}{singular}.", n=len(expected), lr=expected.min().item(),
                 condition=condition, singular="" if math.isfinite(condition) else tr(" (a singular W)")))
    return ok


# ---------------------------------------------------------------- what is wrong with the claim
def _claim() -> dict:
    """Question -> (right choice, {wrong choice: why it is wrong}), the reasons in the learner's language."""
    ordinary = tr("A's tasks are i.i.d. draws from one fixed p(T), all available at every iteration: that is "
                  "ordinary meta-training, whatever the step size does")
    return {
        "A adds to MAML": ("step size", {
            "initialisation": tr("MAML already meta-learns the initialisation (model.parameters() in the outer "
                                 "optimizer): which OTHER tensor does A's outer optimizer update?"),
            "metric": tr("A computes no distances between embeddings: every task is solved by a gradient step"),
            "nothing": tr("log_lr is handed to the outer optimizer and gets a meta-gradient through the adapted "
                          "weights, so it IS meta-learned")}),
        "A is": ("learned optimizer", {
            "online meta-learning": tr("that is the claim under test. A re-draws a batch from the same p(T) at "
                                       "every iteration; no task arrives over time. Name A after what it meta-learns"),
            "multi-task learning": tr("multi-task learning trains one shared model on a fixed set of tasks, with no "
                                      "per-task adaptation; A adapts to every task with a gradient step"),
            "model-based": tr("a model-based (black-box) learner adapts inside a network's forward pass; A adapts "
                              "with an explicit gradient step θ − exp(log_lr)·∇L")}),
        "online meta-learning": ("B", {"A": ordinary, "both": ordinary,
            "neither": tr("one of the loops reveals its tasks one at a time, is scored on each when it arrives, "
                          "and updates the meta-parameters from the tasks seen so far")}),
    }


def check_online_claim(answer: dict | None) -> bool:
    """Exercise 4.5: ``answer`` maps each question of :func:`_claim` to one of its choices."""
    name = tr("Exercise {number}", number="4.5")
    hint = tr("for each snippet ask where the tasks come from (re-drawn from p(T), or revealed one after "
              "another) and which tensors the outer optimizer updates")
    claim = _claim()
    expected = {question: right for question, (right, _) in claim.items()}

    def explain(question, given):
        right, wrong = claim[question]
        why = {_plain(choice): text for choice, text in wrong.items()}
        return tr("{question!r}: {why}", question=question, why=why.get(_plain(given), tr(
            "{given!r} is not one of {choices}", given=given, choices=sorted([right, *wrong]))))

    return check_mapping(name, answer, expected, hint, explain,
                         success=tr("a learned step size is a learned optimizer (Meta-SGD learns one per entry); "
                                    "'online' is about tasks arriving in a stream (Finn et al. 2019, FTML), and "
                                    "an online meta-learner may or may not learn its step size"))
