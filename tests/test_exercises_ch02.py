"""Chapter 02 exercise checks: None = not attempted, the reference passes, mistakes get specific hints."""

import copy

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from course_lib.adaptation import SGD
from course_lib.algorithms import maml
from course_lib.analysis import linear_maml
from course_lib.exercises import ch02


def make_meta_loss(*, create_graph=None, on_query=True, sign=-1.0, reduce="mean", max_steps=None,
                   from_start=False, in_place=False, as_float=False):
    """A hand-written MAML meta-loss; the defaults are right, each option plants one typical mistake."""

    def my_meta_loss(model, params, batch, loss_fn, inner_lr, inner_steps, first_order=False):
        losses = []
        for i in range(batch.support_x.shape[0]):
            phi = dict(params)
            for _ in range(inner_steps if max_steps is None else min(inner_steps, max_steps)):
                loss = loss_fn(functional_call(model, phi, (batch.support_x[i],)), batch.support_y[i])
                keep = (not first_order) if create_graph is None else create_graph
                grads = torch.autograd.grad(loss, list(phi.values()), create_graph=keep)
                if in_place:
                    with torch.no_grad():
                        for p, g in zip(phi.values(), grads):
                            p.sub_(inner_lr * g)
                    continue
                start = params if from_start else phi
                phi = {n: start[n] + sign * inner_lr * g for n, g in zip(phi, grads)}
            x, y = batch.query_x[i], batch.query_y[i]
            if not on_query:
                x, y = batch.support_x[i], batch.support_y[i]
            losses.append(loss_fn(functional_call(model, phi, (x,)), y))
        losses = torch.stack(losses)
        result = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduce]
        return result.item() if as_float else result

    return my_meta_loss


def meta_loss_by_copy(model, params, batch, loss_fn, inner_lr, inner_steps, first_order=False):
    """The seed articles' inner loop: deepcopy + an optimizer. Right values, no meta-gradient."""
    losses = []
    for i in range(batch.support_x.shape[0]):
        learner = copy.deepcopy(model)
        optimizer = torch.optim.SGD(learner.parameters(), lr=inner_lr)
        for _ in range(inner_steps):
            optimizer.zero_grad()
            loss_fn(learner(batch.support_x[i]), batch.support_y[i]).backward()
            optimizer.step()
        losses.append(loss_fn(learner(batch.query_x[i]), batch.query_y[i]))
    return torch.stack(losses).mean()


def library_meta_loss(model, params, batch, loss_fn, inner_lr, inner_steps, first_order=False):
    return maml.meta_loss(model, params, batch, loss_fn=loss_fn, inner_lr=inner_lr, inner_steps=inner_steps,
                          first_order=first_order)


def test_meta_loss_check_accepts_the_reference_and_the_library(capsys):
    assert ch02.check_meta_loss(make_meta_loss())
    assert ch02.check_meta_loss(library_meta_loss)
    out = capsys.readouterr().out
    assert out.count("Correct!") == 2 and out.count("Exercise 2.6 (build it yourself)") == 2


def test_meta_loss_check_not_attempted(capsys):
    def stub(model, params, batch, loss_fn, inner_lr, inner_steps, first_order=False):
        raise NotImplementedError

    assert ch02.check_meta_loss(None) is False
    assert ch02.check_meta_loss(stub) is False
    assert ch02.check_meta_loss(lambda *args, **kwargs: None) is False
    assert capsys.readouterr().out.count("not attempted") == 3


@pytest.mark.parametrize("mistake, hint", [
    ({"create_graph": False}, "FIRST-order one although second order was asked"),
    ({"create_graph": True}, "SECOND-order one although first_order=True"),
    ({"on_query": False}, "SUPPORT loss after adaptation"),
    ({"sign": +1.0}, "goes UP the support loss"),
    ({"reduce": "sum"}, "SUM of the 4 task losses"),
    ({"reduce": "none"}, "one loss per task"),
    ({"max_steps": 1}, "only ONE inner step was taken, 2 were asked"),
    ({"max_steps": 0}, "query loss BEFORE adaptation"),
    ({"from_start": True}, "every step restarts from params"),
    ({"in_place": True}, "changed params in place"),
    ({"as_float": True}, "return the loss TENSOR"),
])
def test_meta_loss_check_names_typical_mistakes(capsys, mistake, hint):
    assert ch02.check_meta_loss(make_meta_loss(**mistake)) is False
    out = capsys.readouterr().out
    assert hint in out and "✗" in out


def test_meta_loss_check_deepcopy_has_no_meta_gradient(capsys):
    assert ch02.check_meta_loss(meta_loss_by_copy) is False
    out = capsys.readouterr().out
    assert "meta-gradient w.r.t. params is None for all of them" in out and "copy.deepcopy" in out


def test_meta_loss_check_reports_errors_and_detached_first_order(capsys):
    def crashes(model, params, batch, loss_fn, inner_lr, inner_steps, first_order=False):
        return batch.support_inputs

    assert ch02.check_meta_loss(crashes) is False
    assert "raised AttributeError" in capsys.readouterr().out
    correct = make_meta_loss()

    def detaches_params(model, params, batch, loss_fn, inner_lr, inner_steps, first_order=False):
        if first_order:  # a wrong first-order version: cuts the path params -> phi as well
            params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
        return correct(model, params, batch, loss_fn, inner_lr, inner_steps, first_order)

    assert ch02.check_meta_loss(detaches_params) is False
    out = capsys.readouterr().out
    assert "first order" in out and "meta-gradient w.r.t. params is None" in out


def test_meta_loss_cases_tell_the_mistakes_apart():
    """The planted mistakes are detectable: first and second order differ by far more than the tolerance."""
    for model, batch, lr, steps, _ in ch02.meta_loss_cases():
        params = dict(model.named_parameters())
        losses = (library_meta_loss(model, params, batch, F.mse_loss, lr, steps, fo) for fo in (False, True))
        second, first = (torch.autograd.grad(loss, list(params.values())) for loss in losses)
        difference = torch.cat([(a - b).reshape(-1) for a, b in zip(second, first)]).norm()
        assert difference > 1e-3 * torch.cat([a.reshape(-1) for a in second]).norm()


def test_linear_meta_gradient_check(capsys):
    assert ch02.check_linear_meta_gradient(lambda *args: linear_maml.meta_gradient(*args))
    first_order = lambda *args: linear_maml.meta_gradient(*args, first_order=True)  # noqa: E731
    assert not ch02.check_linear_meta_gradient(first_order)
    assert "first-order (FOMAML)" in capsys.readouterr().out
    assert ch02.check_linear_meta_gradient(None) is False


def test_fomaml_ratio_check_accepts_the_leading_order_for_any_chosen_factor(capsys):
    for divide_by in (2, 10, 0.5, 3.0):
        assert ch02.check_fomaml_error_ratio(divide_by, divide_by)
    out = capsys.readouterr().out
    assert out.count("Correct!") == 4 and "measured on linear tasks" in out
    assert ch02.check_fomaml_error_ratio(None, None) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("divide_by, predicted, problem", [
    (2, 4, "quadratic in alpha"),
    (10, 100, "quadratic in alpha"),
    (2, 1, "does not depend on alpha"),
    (2, 0.5, "GROWS when alpha shrinks"),
    (4, 2, "alpha ** 0.5"),
    (1, 1, "changes alpha clearly"),
    (2, -2, "a ratio of two errors is positive"),
])
def test_fomaml_ratio_check_names_typical_mistakes_without_giving_the_number(capsys, divide_by, predicted, problem):
    assert ch02.check_fomaml_error_ratio(divide_by, predicted) is False
    out = capsys.readouterr().out
    assert problem in out and "✗" in out
    hint = out.split("Hint:")[1]
    assert "proportional" not in hint and "linear in alpha" not in hint and "ratio is" not in hint


def test_take_batches_check(capsys):
    assert ch02.check_take_batches(lambda s, n: list(s[:n]))
    assert not ch02.check_take_batches(lambda s, n: [next(iter(s)) for _ in range(n)])
    assert ch02.check_take_batches(None) is False


def shared_rate(model, learning_rate=1e-3):
    """The seed articles' set-up: one learning rate for the inner SGD step and the outer Adam step."""
    return SGD(learning_rate), torch.optim.Adam(model.parameters(), lr=learning_rate)


def two_rates(inner_default=0.01, meta_default=1e-3, swap=False, inner_as_float=False):
    """A fixed set-up with the given defaults; ``swap`` plants the routing mistake."""

    def make_maml_training(model, inner_lr=inner_default, meta_lr=meta_default):
        inner, outer = (meta_lr, inner_lr) if swap else (inner_lr, meta_lr)
        return (inner if inner_as_float else SGD(inner)), torch.optim.Adam(model.parameters(), lr=outer)

    return make_maml_training


def test_two_learning_rates_check_accepts_a_fix(capsys):
    assert ch02.check_two_learning_rates(two_rates())
    assert ch02.check_two_learning_rates(two_rates(0.02, 5e-4, inner_as_float=True))
    assert capsys.readouterr().out.count("Correct!") == 2
    assert ch02.check_two_learning_rates(None) is False
    assert ch02.check_two_learning_rates(lambda model, learning_rate=1e-3: None) is False
    assert capsys.readouterr().out.count("not attempted") == 2


@pytest.mark.parametrize("fn, problem", [
    (shared_rate, "a single rate still sets both steps"),
    (lambda model, learning_rate=0.01: shared_rate(model, learning_rate), "a single rate still sets both steps"),
    (two_rates(1e-3, 1e-3), "one number for two different jobs is the bug"),
    (two_rates(swap=True), "the two rates are swapped"),
    (two_rates(1e-3, 3e-4), "the inner loop barely adapts"),
    (two_rates(0.4, 1e-3), "go UP on some tasks"),
    (two_rates(0.01, 0.05), "one Adam step jumps"),
    (two_rates(0.01, 1e-7), "one Adam step crawls"),
    (lambda model, inner_lr, meta_lr: None, "give every argument after `model` a default value"),
])
def test_two_learning_rates_check_names_typical_mistakes(capsys, fn, problem):
    assert ch02.check_two_learning_rates(fn) is False
    out = capsys.readouterr().out
    assert problem in out and "✗" in out and "different jobs" in out


def test_step_size_report_shows_that_no_single_rate_fits_both_jobs(capsys):
    small, large = ch02.step_size_report(shared_rate), ch02.step_size_report(shared_rate, learning_rate=0.03)
    assert small["support_drop"] < 0.02 and large["support_drop"] > 0.02
    assert small["outer_step_vs_weight"] <= 0.1 < large["outer_step_vs_weight"]
    assert capsys.readouterr().out.count("inner SGD step") == 2


def test_differentiable_adapt_check(capsys):
    def one_step(model, params, support_x, support_y, inner_lr, create_graph=True):
        loss = F.mse_loss(functional_call(model, params, (support_x,)), support_y)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        return {n: p - inner_lr * g for (n, p), g in zip(params.items(), grads)}

    assert ch02.check_differentiable_adapt(one_step)
    assert not ch02.check_differentiable_adapt(lambda *args: one_step(*args, create_graph=False))
    assert "first-order" in capsys.readouterr().out
    assert not ch02.check_differentiable_adapt(lambda m, p, x, y, lr: ch02.adapt_by_copy(m, x, y, lr))
    assert "returns a module" in capsys.readouterr().out
