"""Checks for chapter 02 (MAML).

Exercises: 2.1 the closed-form meta-gradient of linear regression; 2.2 predict how FOMAML's error
scales with the inner step size; 2.3 a differentiable inner step (after the deepcopy "find the bug");
2.4 find the bug: a shadowed builtin; 2.5 find the bug: one learning rate for the inner SGD step and
the outer Adam step; 2.6 "Build it yourself": MAML's meta-loss. The checks of the learner's own inner
step and meta-loss (2.3, 2.6) live in :mod:`course_lib.exercises.ch02_build`, re-exported here.
"""

from __future__ import annotations

import copy
import inspect
import math

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import adapt, task_loss
from course_lib.analysis import linear_maml
from course_lib.data.sinusoid import SinusoidTaskFamily
from course_lib.exercises._core import _correct, _wrong, check_function, not_attempted
from course_lib.exercises.ch02_build import (
    check_differentiable_adapt,
    check_meta_loss,
    meta_gradient_of,
    meta_loss_cases,
)
from course_lib.i18n import tr
from course_lib.nets import MLP

__all__ = ["adapt_by_copy", "buggy_take_batches", "check_differentiable_adapt", "check_fomaml_error_ratio",
           "check_linear_meta_gradient", "check_meta_loss", "check_take_batches", "check_two_learning_rates",
           "meta_gradient_of", "meta_loss_cases", "step_size_report"]


# ---------------------------------------------------------------- Exercise 2.1
def check_linear_meta_gradient(fn) -> bool:
    """``fn(w [d], xs [n, d], ys [n], xq [m, d], yq [m], alpha) -> [d]``: the exact one-step meta-gradient."""
    g = torch.Generator().manual_seed(21)
    cases = []
    for d, n, m, alpha in [(2, 4, 6, 0.1), (3, 5, 5, 0.05), (4, 8, 3, 0.3)]:
        xs, ys, xq, yq, mu = linear_maml.random_linear_tasks(1, n, m, d, generator=g)
        cases.append((mu, xs[0], ys[0], xq[0], yq[0], alpha))
    name = tr("Exercise {number}", number="2.1")
    hint = tr("A = (2/n) X^T X and b = (2/n) X^T y; w' = w - alpha (A_s w - b_s); the meta-gradient is "
              "(I - alpha A_s)(A_q w' - b_q)")
    if fn is not None:
        try:
            value = fn(*cases[0])
        except Exception:  # reported by check_function below
            value = None
        if value is not None:
            first_order = linear_maml.meta_gradient(*cases[0], first_order=True)
            if torch.allclose(torch.as_tensor(value, dtype=torch.float64), first_order, atol=1e-9):
                return _wrong(name, tr("this is the first-order (FOMAML) gradient: the factor (I - alpha A_s) "
                                       "from differentiating w' with respect to w is missing"), hint)
    return check_function(name, fn, linear_maml.meta_gradient, cases, rtol=1e-8, atol=1e-10,
                          hint=hint)


# ---------------------------------------------------------------- Exercise 2.2
def _fomaml_relative_error(alpha: float) -> float:
    """Relative error of the first-order meta-gradient on a fixed batch of 8 linear-regression tasks."""
    xs, ys, xq, yq, w = linear_maml.random_linear_tasks(8, 5, 10, 4, generator=torch.Generator().manual_seed(22))
    exact = linear_maml.meta_gradient(w, xs, ys, xq, yq, alpha).mean(0)
    first = linear_maml.meta_gradient(w, xs, ys, xq, yq, alpha, first_order=True).mean(0)
    return float((first - exact).norm() / exact.norm())


def check_fomaml_error_ratio(divide_by, predicted_ratio) -> bool:
    """``predicted_ratio`` = error(alpha) / error(alpha / divide_by) for small alpha (leading order).

    The dropped term is ``alpha A_s (A_q w' - b_q)``: one factor of alpha, so the ratio is ``divide_by``.
    The learner picks ``divide_by`` (any positive factor at least 1.5 away from 1 in either direction).
    """
    name = tr("Exercise {number}", number="2.2")
    hint = tr("subtract FOMAML's gradient (A_q w' - b_q) from the exact one (I - alpha A_s)(A_q w' - b_q) of "
              "section 2 and count the factors of alpha in the difference as alpha -> 0 (w' -> w); the relative "
              "error divides that difference by the exact gradient, which does not vanish")
    if divide_by is None or predicted_ratio is None:
        return not_attempted(name, hint)
    c, r = float(divide_by), float(predicted_ratio)
    if not (c > 0 and abs(math.log(c)) >= math.log(1.5)):
        return _wrong(name, tr("divide_by={divide_by!r}: pick a positive factor that changes alpha clearly "
                               "(at least 1.5 times smaller or larger)", divide_by=divide_by), hint)
    if not r > 0:
        return _wrong(name, tr("predicted_ratio={ratio!r}: a ratio of two errors is positive", ratio=predicted_ratio),
                      hint)
    order = math.log(r) / math.log(c)  # the prediction says: error ~ alpha ** order
    measured = _fomaml_relative_error(0.01) / _fomaml_relative_error(0.01 / c)
    if abs(order - 1) < 0.1:
        return _correct(name, tr("the error is proportional to alpha; measured on linear tasks, dividing alpha = "
                                 "0.01 by {c:g} divides the error by {measured:.3g}", c=c, measured=measured))
    if abs(order - 2) < 0.2:
        problem = tr("your ratio says the error is quadratic in alpha (ratio = divide_by squared): count the "
                     "powers of alpha in the dropped term again, to leading order")
    elif abs(order) < 0.1:
        problem = tr("your ratio says the error does not depend on alpha: look at what the dropped term is "
                     "multiplied by")
    elif abs(order + 1) < 0.1:
        problem = tr("your ratio says the error GROWS when alpha shrinks: the ratio asked is error(alpha) / "
                     "error(alpha / divide_by)")
    else:
        problem = tr("your ratio says the error grows like alpha ** {order:.2g}; derive the power from the formula",
                     order=order)
    return _wrong(name, problem, hint)


# ---------------------------------------------------------------- before Exercise 2.3: find the bug
def adapt_by_copy(model: nn.Module, support_x, support_y, inner_lr: float, inner_steps: int = 1) -> nn.Module:
    """A BUGGY inner loop (the kind found in many tutorials): deep-copy the model, step an optimizer.

    It adapts fine, but the returned model's parameters are new leaf tensors: the query loss has
    no path back to ``model``'s parameters, so the meta-gradient is silently missing.
    """
    learner = copy.deepcopy(model)
    optimizer = torch.optim.SGD(learner.parameters(), lr=inner_lr)
    for _ in range(inner_steps):
        optimizer.zero_grad()
        F.mse_loss(learner(support_x), support_y).backward()
        optimizer.step()
    return learner


# ---------------------------------------------------------------- Exercise 2.4 (find the bug)
def buggy_take_batches(task_stream, num_steps: int):
    """A BUGGY training-loop skeleton: the loop variable ``iter`` shadows the builtin ``iter``."""
    batches = []
    for iter in range(num_steps):  # noqa: B007 - this line IS the bug the exercise is about
        batches.append(next(iter(task_stream)))  # 'int' object is not callable
    return batches


def check_take_batches(fn) -> bool:
    """``fn(task_stream, num_steps) -> list`` of the first ``num_steps`` items of ``iter(task_stream)``."""
    name = tr("Exercise {number}", number="2.4")
    hint = tr("rename the loop variable (e.g. `step`) so that `iter` is the builtin again, and create the "
              "iterator once")
    stream = list(range(100, 110))  # stand-ins for task batches
    return check_function(name, (lambda s, n: fn(s, n)) if fn is not None else None,
                          lambda s, n: list(s[:n]), [(stream, 3), (stream, 1), (stream, 7)],
                          hint=hint) if fn is not None else not_attempted(name, hint)


# ---------------------------------------------------------------- Exercise 2.5 (find the bug)
def _probe(seed: int = 0):
    """The chapter's sinusoid MLP (1-40-40-1, untrained) and 25 tasks with 10 support points each."""
    with torch.random.fork_rng():  # leave the notebook's random state alone
        torch.manual_seed(seed)
        model = MLP((1, 40, 40, 1))
    batch = SinusoidTaskFamily().sample_batch(25, 10, 10, torch.Generator().manual_seed(seed + 1))
    return model, batch


def _rates_of(pair):
    """``(inner step size, outer Adam optimizer)`` from the ``(inner_update, outer_optimizer)`` pair."""
    inner_update, optimizer = pair
    inner = float(getattr(inner_update, "lr", inner_update))
    if not isinstance(optimizer, torch.optim.Adam):
        raise TypeError(tr("the outer optimizer should stay torch.optim.Adam, got {kind}",
                           kind=type(optimizer).__name__))
    return inner, optimizer


def step_size_report(make_training, verbose: bool = True, **rates) -> dict:
    """Measure what one inner step and one outer step of ``make_training(model, **rates)`` do.

    ``make_training(model, ...) -> (inner_update, outer_optimizer)``. On the untrained sinusoid MLP:
    the relative drop of the support loss after one inner step (mean and worst of 25 tasks) and the
    median size of one Adam step relative to the median size of a weight.
    """
    model, batch = _probe()
    inner, optimizer = _rates_of(make_training(model, **rates))
    theta = {n: p.detach().clone() for n, p in model.named_parameters()}
    drops = []
    with torch.no_grad():
        for sx, sy in zip(batch.support_x, batch.support_y):
            before = task_loss(model, theta, sx, sy, F.mse_loss)
            after = task_loss(model, adapt(model, theta, sx, sy, loss_fn=F.mse_loss, update=inner), sx, sy, F.mse_loss)
            drops.append(float(1 - after / before))
    for p in model.parameters():  # Adam's first step has the same size for any nonzero gradient
        p.grad = torch.ones_like(p)
    optimizer.step()
    moved = torch.cat([(p.detach() - theta[n]).abs().reshape(-1) for n, p in model.named_parameters()])
    size = torch.cat([t.abs().reshape(-1) for t in theta.values()])
    report = {"inner_lr": inner, "outer_lr": optimizer.param_groups[0]["lr"], "support_drop": sum(drops) / len(drops),
              "worst_drop": min(drops), "outer_step_vs_weight": float(moved.median() / size.median())}
    if verbose:
        print(tr("inner SGD step, lr={lr:g}: one step lowers the support loss by {drop:.1f} % on average (worst "
                 "of 25 tasks: {worst:.1f} %)", lr=report["inner_lr"], drop=100 * report["support_drop"],
                 worst=100 * report["worst_drop"]))
        print(tr("outer Adam step, lr={lr:g}: one step moves a weight by {moved:.2g} % of a typical weight's size",
                 lr=report["outer_lr"], moved=100 * report["outer_step_vs_weight"]))
    return report


def check_two_learning_rates(fn) -> bool:
    """``fn(model, inner_lr=..., meta_lr=...) -> (inner_update, outer Adam)``, each rate fit for its own job.

    Routing: called with two different rates, the inner rule must use ``inner_lr`` and Adam ``meta_lr``.
    Defaults: one inner step must lower the support loss by at least 2 % on average and on no task raise
    it; one Adam step must move a weight by between 0.01 % and 10 % of a typical weight's size.
    """
    name = tr("Exercise {number}", number="2.5")
    hint = tr("the two rates do different jobs. The inner rate multiplies the RAW support gradient in one plain "
              "SGD step that must adapt the network by itself; Adam divides the gradient by its running RMS, so "
              "its rate is about how far EVERY weight moves per meta-step, over thousands of meta-steps. Choose "
              "each for its own job: ch02.step_size_report(fn, inner_lr=..., meta_lr=...) measures both")
    if fn is None:
        return not_attempted(name, hint)
    params = list(inspect.signature(fn).parameters.values())[1:]
    if any(p.default is inspect.Parameter.empty for p in params):
        return _wrong(name, tr("give every argument after `model` a default value: your choice for the chapter's "
                               "sinusoid problem (the check calls fn(model))"), hint)
    try:
        if fn(_probe()[0]) is None:
            return not_attempted(name, hint)
        names = [p.name for p in params]
        if "inner_lr" not in names or "meta_lr" not in names:
            return _wrong(name, tr("it takes {names}: a single rate still sets both steps. Take the two step "
                                   "sizes as separate arguments `inner_lr` and `meta_lr`", names=names), hint)
        inner, optimizer = _rates_of(fn(_probe()[0], inner_lr=0.02, meta_lr=7e-4))
        report = step_size_report(fn, verbose=False)
    except Exception as err:  # report the learner's error instead of raising it in the check cell
        return _wrong(name, tr("calling it raised {error}: {err}", error=type(err).__name__, err=err), hint)
    outer = optimizer.param_groups[0]["lr"]
    if (inner, outer) == (7e-4, 0.02):
        return _wrong(name, tr("the two rates are swapped: inner_lr must go to the inner SGD rule, meta_lr to "
                               "Adam"), hint)
    if (inner, outer) != (0.02, 7e-4):
        return _wrong(name, tr("called with inner_lr=0.02 and meta_lr=0.0007 the inner rule uses {inner:g} and "
                               "Adam {outer:g}: each rate must reach its own optimizer", inner=inner, outer=outer),
                      hint)
    inner, outer = report["inner_lr"], report["outer_lr"]
    if inner == outer:
        return _wrong(name, tr("both defaults are {lr:g}: one number for two different jobs is the bug", lr=inner),
                      hint)
    if report["worst_drop"] < 0:
        return _wrong(name, tr("with inner_lr={inner:g} one inner step makes the support loss go UP on some tasks "
                               "(on the worst it is {factor:.3g} times higher): the raw-gradient step overshoots",
                               inner=inner, factor=1 - report["worst_drop"]), hint)
    if report["support_drop"] < 0.02:
        return _wrong(name, tr("with inner_lr={inner:g} one inner step lowers the support loss by only {drop:.2g} "
                               "%: the inner loop barely adapts, and MAML degenerates into training one network "
                               "for the average task", inner=inner, drop=100 * report["support_drop"]), hint)
    if not 1e-4 <= report["outer_step_vs_weight"] <= 0.1:
        moved = 100 * report["outer_step_vs_weight"]
        if report["outer_step_vs_weight"] > 0.1:
            problem = tr("with meta_lr={outer:g} one Adam step jumps: it moves a weight by {moved:.2g} % of a "
                         "typical weight's size", outer=outer, moved=moved)
        else:
            problem = tr("with meta_lr={outer:g} one Adam step crawls: it moves a weight by {moved:.2g} % of a "
                         "typical weight's size", outer=outer, moved=moved)
        return _wrong(name, problem, hint)
    return _correct(name, tr("inner_lr={inner:g} (one step lowers the support loss by {drop:.0f} %) and "
                             "meta_lr={outer:g} (one Adam step moves a weight by {moved:.2g} % of its size): two "
                             "step sizes, two jobs", inner=inner, drop=100 * report["support_drop"], outer=outer,
                             moved=100 * report["outer_step_vs_weight"]))
