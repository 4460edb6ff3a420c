"""Chapter 04 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import math

import torch
from torch import nn
from torch.func import functional_call

from course_lib.algorithms.learned_optimizer import preprocess_gradients
from course_lib.data.optimizee_problems import QuadraticProblems
from course_lib.exercises import ch04


def make_meta_loss(*, sign=-1.0, create_graph=True, on_query=True, alpha=lambda a: a, reduce="mean"):
    """The learner's Meta-SGD meta-loss, with switches for the typical mistakes."""
    def meta_loss(model, params, step_sizes, batch, loss_fn):
        losses = []
        for task in batch:
            support = loss_fn(functional_call(model, params, (task.support_x,)), task.support_y)
            grads = torch.autograd.grad(support, list(params.values()), create_graph=create_graph)
            phi = {n: p + sign * alpha(step_sizes[n]) * g for (n, p), g in zip(params.items(), grads)}
            x, y = (task.query_x, task.query_y) if on_query else (task.support_x, task.support_y)
            losses.append(loss_fn(functional_call(model, phi, (x,)), y))
        losses = torch.stack(losses)
        return {"mean": losses.mean(), "sum": losses.sum(), "last": losses[-1], "none": losses}[reduce]
    return meta_loss


def test_meta_sgd_meta_loss_check_accepts_the_solution(capsys):
    assert ch04.check_meta_sgd_meta_loss(make_meta_loss())
    assert "Correct" in capsys.readouterr().out


def test_meta_sgd_meta_loss_check_not_attempted(capsys):
    def stub(model, params, step_sizes, batch, loss_fn):
        raise NotImplementedError
    assert ch04.check_meta_sgd_meta_loss(stub) is False
    assert "not attempted" in capsys.readouterr().out
    assert ch04.check_meta_sgd_meta_loss(lambda *args: None) is False
    assert "not attempted" in capsys.readouterr().out
    assert ch04.check_meta_sgd_meta_loss(None) is False


def test_meta_sgd_meta_loss_check_names_typical_mistakes(capsys):
    mistakes = [
        (make_meta_loss(alpha=lambda a: a.detach()), "step sizes receive no gradient: α was detached"),
        (make_meta_loss(alpha=lambda a: 0.05), "step sizes receive no gradient and the value is off"),
        (make_meta_loss(sign=+1.0), "sign error"),
        (make_meta_loss(on_query=False), "SUPPORT loss after adaptation"),
        (make_meta_loss(alpha=lambda a: a.mean()), "one scalar step size per tensor"),
        (make_meta_loss(create_graph=False), "FIRST order"),
        (make_meta_loss(reduce="sum"), "SUM over tasks"),
        (make_meta_loss(reduce="last"), "only the last task"),
        (make_meta_loss(reduce="none"), "one scalar tensor"),
        (make_meta_loss(sign=0.0), "before adaptation"),
    ]
    for fn, hint in mistakes:
        assert ch04.check_meta_sgd_meta_loss(fn) is False
        out = capsys.readouterr().out
        assert hint in out, out
    assert not ch04.check_meta_sgd_meta_loss(lambda m, p, a, b, f: make_meta_loss()(m, p, a, b, f).item())
    assert "no autograd graph" in capsys.readouterr().out


def test_meta_sgd_step_check(capsys):
    assert ch04.check_meta_sgd_step(None) is False
    assert "not attempted" in capsys.readouterr().out
    assert ch04.check_meta_sgd_step(lambda p, g, a: None) is False
    assert ch04.check_meta_sgd_step(lambda p, g, a: {k: p[k] - a[k] * g[k] for k in p})
    assert not ch04.check_meta_sgd_step(lambda p, g, a: {k: p[k] + a[k] * g[k] for k in p})
    assert "added the step" in capsys.readouterr().out
    assert not ch04.check_meta_sgd_step(lambda p, g, a: {k: p[k] - g[k] for k in p})
    assert "step sizes are missing" in capsys.readouterr().out
    assert not ch04.check_meta_sgd_step(lambda p, g, a: {k: p[k] - 0.01 * g[k] for k in p})


def test_meta_parameter_count_check(capsys):
    model = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 1))
    n = sum(p.numel() for p in model.parameters())
    assert ch04.check_meta_parameter_count(2 * n, model)
    assert not ch04.check_meta_parameter_count(n, model)
    assert "MAML's count" in capsys.readouterr().out
    assert not ch04.check_meta_parameter_count(n + 1, model)
    assert "scalar" in capsys.readouterr().out
    assert ch04.check_meta_parameter_count(None, model) is False


def test_preprocess_check(capsys):
    assert ch04.check_preprocess(preprocess_gradients)
    assert not ch04.check_preprocess(lambda g, p: torch.stack([g.abs().log() / p, g.sign()], -1))
    assert "inf/NaN" in capsys.readouterr().out
    assert not ch04.check_preprocess(lambda g, p: torch.stack([g.abs().clamp_min(1e-30).log() / p, g.sign()], -1))
    assert ch04.check_preprocess(None) is False


def test_max_stable_lr_check(capsys):
    problems = QuadraticProblems.sample(5, 6, torch.Generator().manual_seed(0))
    lam = torch.linalg.eigvalsh(problems.W.transpose(1, 2) @ problems.W)[:, -1]
    assert ch04.check_max_stable_lr(1 / lam, problems)
    assert "condition number" in capsys.readouterr().out
    assert not ch04.check_max_stable_lr(2 / lam, problems)
    assert "factor 2" in capsys.readouterr().out
    assert not ch04.check_max_stable_lr(0.5 / lam, problems)
    assert "twice" in capsys.readouterr().out
    assert not ch04.check_max_stable_lr(1 / lam.sqrt(), problems)
    assert not ch04.check_max_stable_lr(None, problems)
    # the answer really is the stability threshold: just below it SGD converges, just above it diverges
    from course_lib.algorithms.learned_optimizer import SGDRule, optimize
    theta0 = problems.initial_params(torch.Generator().manual_seed(1))
    for b in range(5):
        single = QuadraticProblems(problems.W[b:b + 1], problems.y[b:b + 1])
        below = optimize(SGDRule(0.95 / lam[b].item()), single, theta0[b:b + 1], 300).losses[-1].item()
        above = optimize(SGDRule(1.05 / lam[b].item()), single, theta0[b:b + 1], 300).losses[-1].item()
        assert below < single.loss(theta0[b:b + 1]).item()
        assert not math.isfinite(above) or above > 1e3 * below


ONLINE_CLAIM = {"A adds to MAML": "step size", "A is": "learned optimizer", "online meta-learning": "B"}


def test_online_claim_check_accepts_the_answer_in_any_case_or_spacing(capsys):
    assert ch04.check_online_claim(dict(ONLINE_CLAIM))
    assert ch04.check_online_claim({"A adds to MAML": "Step-Size", "A is": "Learned  Optimizer",
                                    "online meta-learning": "b"})
    assert ch04.check_online_claim(None) is False
    assert "not attempted" in capsys.readouterr().out


def test_online_claim_check_names_typical_mistakes(capsys):
    mistakes = [
        ("A is", "online meta-learning", "that is the claim under test"),
        ("A is", "multi-task learning", "no per-task adaptation"),
        ("A is", "model-based", "explicit gradient step"),
        ("A adds to MAML", "initialisation", "MAML already meta-learns the initialisation"),
        ("A adds to MAML", "nothing", "it IS meta-learned"),
        ("A adds to MAML", "metric", "no distances"),
        ("online meta-learning", "A", "ordinary meta-training"),
        ("online meta-learning", "both", "ordinary meta-training"),
        ("online meta-learning", "neither", "reveals its tasks one at a time"),
        ("online meta-learning", "C", "is not one of"),
    ]
    for question, given, hint in mistakes:
        assert ch04.check_online_claim({**ONLINE_CLAIM, question: given}) is False
        out = capsys.readouterr().out
        assert hint in out and question in out, out
    assert ch04.check_online_claim({"A adds to MAML": "step size"}) is False
    assert "no answer given for 'A is'" in capsys.readouterr().out


def test_not_attempted_hints_do_not_state_the_answers(capsys):
    """The hint printed below an untouched exercise guides; it must not be the solution itself."""
    model = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 1))
    ch04.check_meta_sgd_step(None)
    ch04.check_meta_sgd_meta_loss(None)
    ch04.check_meta_parameter_count(None, model)
    ch04.check_max_stable_lr(None, QuadraticProblems.sample(2, 3, torch.Generator().manual_seed(0)))
    ch04.check_online_claim(None)
    out = capsys.readouterr().out
    for answer in ["params[name] - step_sizes[name]", "create_graph=True", "same shapes", "2 WᵀW",
                   "eigvalsh(W", "learned optimizer", "stream"]:
        assert answer not in out, answer
