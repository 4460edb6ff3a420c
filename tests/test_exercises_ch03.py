"""Chapter 03 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import copy

import pytest
import torch
from torch.func import functional_call

from course_lib.exercises import ch03


def _adapt(model, theta, x, y, loss_fn, inner_lr, steps, create_graph=False):
    """``steps`` SGD steps from ``theta`` (a dict); detached unless ``create_graph``."""
    phi = theta if create_graph else {n: t.detach() for n, t in theta.items()}
    for _ in range(steps):
        if not create_graph:
            phi = {n: t.detach().requires_grad_() for n, t in phi.items()}
        loss = loss_fn(functional_call(model, phi, (x,)), y)
        grads = torch.autograd.grad(loss, list(phi.values()), create_graph=create_graph)
        phi = {n: t - inner_lr * g for (n, t), g in zip(phi.items(), grads)}
        if not create_graph:
            phi = {n: t.detach() for n, t in phi.items()}
    return phi


def make_step(*, sign=1.0, steps_used=None, reduce="mean", chain=False, create_graph=False, use_outer_lr=True,
              load_last=False):
    """A Reptile step with one of the typical mistakes switched on (all off: the reference solution)."""
    def step(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        theta = dict(model.named_parameters())
        adapted, start = [], theta
        for x, y in zip(batch.support_x, batch.support_y):
            phi = _adapt(model, start if chain else theta, x, y, loss_fn, inner_lr, steps_used or inner_steps,
                         create_graph)
            adapted.append(phi)
            start = phi
        with torch.no_grad():
            if load_last:  # the seed article's bug: load each phi_i into the model, then "phi_i - model" is 0
                for phi in adapted:
                    model.load_state_dict({n: t.detach() for n, t in phi.items()})
                adapted = [dict(model.named_parameters())]
            for n, p in model.named_parameters():
                diffs = torch.stack([phi[n] - p for phi in adapted])
                direction = diffs.mean(0) if reduce == "mean" else diffs.sum(0)
                p.add_(sign * (outer_lr if use_outer_lr else 1.0) * direction)
    return step


def test_reptile_step_accepts_the_reference(capsys):
    assert ch03.check_reptile_step(make_step())
    assert "Correct!" in capsys.readouterr().out


def test_reptile_step_accepts_a_deepcopy_and_torch_optimizer_solution():
    def step(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        adapted = []
        for x, y in zip(batch.support_x, batch.support_y):
            learner = copy.deepcopy(model)
            opt = torch.optim.SGD(learner.parameters(), lr=inner_lr)
            for _ in range(inner_steps):
                opt.zero_grad()
                loss_fn(learner(x), y).backward()
                opt.step()
            adapted.append(dict(learner.named_parameters()))
        with torch.no_grad():
            for n, p in model.named_parameters():
                p += outer_lr * (torch.stack([a[n] for a in adapted]).mean(0) - p)
    assert ch03.check_reptile_step(step)


def test_reptile_step_not_attempted(capsys):
    def stub(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        raise NotImplementedError
    assert ch03.check_reptile_step(None) is False
    assert ch03.check_reptile_step(stub) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, hint", [
    ({"load_last": True}, "LAST task's adapted weights"),
    ({"sign": -1.0}, "sign error"),
    ({"steps_used": 1}, "ONE inner step"),
    ({"reduce": "sum"}, "summed"),
    ({"chain": True}, "accumulated across tasks"),
    ({"create_graph": True}, "phi requires grad"),
    ({"use_outer_lr": False}, "missing its outer_lr"),
])
def test_reptile_step_names_the_mistake(capsys, mistake, hint):
    assert ch03.check_reptile_step(make_step(**mistake)) is False
    out = capsys.readouterr().out
    assert hint in out
    assert "outer_lr * (mean_i phi_i - p)" in out  # the general hint comes with it


def test_reptile_step_flags_a_graph_kept_without_create_graph(capsys):
    def not_detached(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        adapted = []
        for x, y in zip(batch.support_x, batch.support_y):
            phi = dict(model.named_parameters())  # phi_1 = theta - alpha g still depends on theta
            for _ in range(inner_steps):
                grads = torch.autograd.grad(loss_fn(functional_call(model, phi, (x,)), y), list(phi.values()))
                phi = {n: t - inner_lr * g for (n, t), g in zip(phi.items(), grads)}
            adapted.append(phi)
        with torch.no_grad():
            for n, p in model.named_parameters():
                p += outer_lr * (torch.stack([a[n] for a in adapted]).mean(0) - p)
    assert ch03.check_reptile_step(not_detached) is False
    assert "phi requires grad" in capsys.readouterr().out


def test_reptile_step_zero_update_and_in_place_training(capsys):
    def zero(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        return None
    assert ch03.check_reptile_step(zero) is False
    assert "did not move at all" in capsys.readouterr().out

    def train_in_place(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        theta_is_lost, adapted = dict(model.named_parameters()), []
        opt = torch.optim.SGD(model.parameters(), lr=inner_lr)
        for x, y in zip(batch.support_x, batch.support_y):
            for _ in range(inner_steps):
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
            adapted.append({n: p.detach().clone() for n, p in model.named_parameters()})
        with torch.no_grad():
            for n, p in theta_is_lost.items():
                p += outer_lr * (torch.stack([a[n] for a in adapted]).mean(0) - p)
    assert ch03.check_reptile_step(train_in_place) is False
    assert "trained the model itself" in capsys.readouterr().out


def test_reptile_step_reports_errors_and_other_differences(capsys):
    def broken(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        return model.weight  # nn.Sequential has no .weight
    assert ch03.check_reptile_step(broken) is False
    assert "raised AttributeError" in capsys.readouterr().out
    half = make_step()

    def half_step(model, batch, loss_fn, inner_lr, inner_steps, outer_lr):
        half(model, batch, loss_fn, inner_lr, inner_steps, outer_lr / 2)
    assert ch03.check_reptile_step(half_step) is False
    assert "0.5 times the expected value" in capsys.readouterr().out


def test_buggy_update_is_zero():
    model, adapted = ch03._case()
    update = ch03.buggy_reptile_update(model, adapted, outer_lr=0.5)
    assert all(float(u.abs().max()) == 0.0 for u in update.values())
    assert all(torch.equal(p, adapted[-1][n]) for n, p in model.named_parameters())


K3 = {"maml": (1, -4), "fomaml": (1, -2), "reptile": (3, -3)}


@pytest.mark.parametrize("answer, hint", [
    ({"maml": (1, -2), "fomaml": (1, -1), "reptile": (2, -1)}, "these are the k = 2 coefficients"),
    (dict(K3, reptile=(3, -2)), "Did you count only consecutive steps?"),
    (dict(K3, maml=(1, -2)), "Did you drop the Jacobian terms"),
    (dict(K3, reptile=(2, -3)), "for reptile the AvgGrad coefficient c1 = 2 is off"),
    (dict(K3, fomaml=(1, 2)), "a positive AvgGradInner coefficient"),
    ({"maml": (1, -4)}, "needs entries for ['fomaml', 'reptile']"),
])
def test_taylor_k3_names_the_mistake(capsys, answer, hint):
    assert ch03.check_taylor_coefficients(answer) is False
    out = capsys.readouterr().out
    assert "Exercise 3.4" in out and hint in out


def test_taylor_and_noise_checks(capsys):
    assert ch03.check_taylor_coefficients(K3)
    assert "Correct! Exercise 3.4" in capsys.readouterr().out
    assert ch03.check_taylor_coefficients(None) is False
    assert ch03.check_noise_floor(1.0)
    assert "Exercise 3.5" in capsys.readouterr().out
    assert not ch03.check_noise_floor(0.0)
    assert "no learner can" in capsys.readouterr().out


def _named_update(sign=1.0, scale=True):
    def update(model, mean_phi, outer_lr):
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.add_(sign * (outer_lr if scale else 1.0) * (mean_phi[name] - p))
    return update


def test_named_outer_update_accepts_the_reference(capsys):
    assert ch03.check_named_outer_update(_named_update())
    assert "Correct! Exercise 3.2" in capsys.readouterr().out


@pytest.mark.parametrize("fn, hint", [
    (ch03.buggy_outer_update_by_name, "a weight has no usable .name"),
    (_named_update(sign=-1.0), "a sign error"),
    (_named_update(scale=False), "outer_lr is missing"),
    (lambda model, mean_phi, outer_lr: None, "the weights did not change"),
])
def test_named_outer_update_names_the_mistake(capsys, fn, hint):
    assert ch03.check_named_outer_update(fn) is False
    out = capsys.readouterr().out
    assert "Exercise 3.2" in out and hint in out and "named_parameters()" in out


def test_named_outer_update_not_attempted(capsys):
    def stub(model, mean_phi, outer_lr):
        raise NotImplementedError
    assert ch03.check_named_outer_update(stub) is False and ch03.check_named_outer_update(None) is False
    assert "not attempted" in capsys.readouterr().out
