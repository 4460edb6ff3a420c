"""The shared inner loop: update rules, partial parameter dicts, graph or no graph, vmap, bad inputs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import SGD, PerParameterSGD, adapt, task_loss
from course_lib.nets import params_of
from course_lib.vectorized import adapt_batch

torch.set_num_threads(1)


def _net(seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def _task(seed=1, n=10, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=g, dtype=dtype) * 10 - 5
    return x, 2.0 * torch.sin(x - 0.5)


def _manual_sgd(net, params, x, y, lr, steps):
    p = {n: t.detach().clone().requires_grad_(True) for n, t in params.items()}
    for _ in range(steps):
        grads = torch.autograd.grad(task_loss(net, p, x, y, F.mse_loss), list(p.values()))
        p = {n: (t - lr * g).detach().requires_grad_(True) for (n, t), g in zip(p.items(), grads)}
    return p


def test_sgd_rule_equals_hand_written_gradient_descent_and_leaves_params_alone():
    net, (x, y) = _net(), _task()
    theta = {n: p.detach().clone() for n, p in net.named_parameters()}
    phi = adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, steps=3, update=SGD(0.05))
    expected = _manual_sgd(net, theta, x, y, 0.05, 3)
    for n in theta:
        assert torch.allclose(phi[n], expected[n], atol=1e-12), n
        assert torch.equal(dict(net.named_parameters())[n].detach(), theta[n])
    assert adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, steps=3, update=0.05)["0.weight"].equal(phi["0.weight"])


def test_under_no_grad_the_result_is_detached_and_equal():
    net, (x, y) = _net(), _task()
    tracked = adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, steps=2, update=0.05)
    with torch.no_grad():
        plain = adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, steps=2, update=0.05)
    for n in tracked:
        assert tracked[n].requires_grad and not plain[n].requires_grad
        assert torch.allclose(tracked[n], plain[n], atol=1e-12)


def test_partial_dict_adapts_only_the_head_and_the_body_still_gets_a_meta_gradient():
    """ANIL: the inner loop changes the head only; the query loss still trains the body."""
    net, (x, y) = _net(), _task()
    head = {n: p for n, p in params_of(net).items() if n.startswith("2.")}
    phi = adapt(net, head, x[:5], y[:5], loss_fn=F.mse_loss, steps=2, update=0.1)
    assert set(phi) == {"2.weight", "2.bias"}
    query_loss = task_loss(net, phi, x[5:], y[5:], F.mse_loss)
    query_loss.backward()
    for n, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, n
    second_order = net[0].weight.grad.clone()
    # the body's gradient includes the second-order path through the head's inner steps
    net.zero_grad()
    phi_fo = adapt(net, head, x[:5], y[:5], loss_fn=F.mse_loss, steps=2, update=0.1, first_order=True)
    task_loss(net, phi_fo, x[5:], y[5:], F.mse_loss).backward()
    assert not torch.allclose(second_order, net[0].weight.grad)


def test_per_parameter_rule_matches_its_formula_and_trains_the_step_sizes():
    net, (x, y) = _net(), _task()
    params = params_of(net)
    alpha = {n: torch.full_like(p, 0.03).requires_grad_(True) for n, p in params.items()}
    phi = adapt(net, params, x[:5], y[:5], loss_fn=F.mse_loss, steps=1, update=PerParameterSGD(alpha))
    grads = torch.autograd.grad(task_loss(net, params, x[:5], y[:5], F.mse_loss), list(params.values()))
    for (n, p), g in zip(params.items(), grads):
        assert torch.allclose(phi[n], p - alpha[n] * g, atol=1e-12), n
    task_loss(net, phi, x[5:], y[5:], F.mse_loss).backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in alpha.values())
    with pytest.raises(ValueError, match="no step size"):
        adapt(net, params, x, y, loss_fn=F.mse_loss, update=PerParameterSGD({"0.weight": alpha["0.weight"]}))


class _Momentum:
    """A stateful rule (heavy-ball momentum): shows that adapt threads the rule's state through the steps."""

    def __init__(self, lr, beta):
        self.lr, self.beta = lr, beta

    def init(self, params):
        return {n: torch.zeros_like(p) for n, p in params.items()}

    def __call__(self, params, grads, state):
        velocity = {n: self.beta * state[n] + grads[n] for n in params}
        return {n: p - self.lr * velocity[n] for n, p in params.items()}, velocity


def test_a_stateful_rule_gets_its_state_back_each_step():
    net, (x, y) = _net(), _task()
    phi = adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, steps=3, update=_Momentum(0.02, 0.9))
    p = {n: t.detach().clone().requires_grad_(True) for n, t in params_of(net).items()}
    v = {n: torch.zeros_like(t) for n, t in p.items()}
    for _ in range(3):
        grads = dict(zip(p, torch.autograd.grad(task_loss(net, p, x, y, F.mse_loss), list(p.values()))))
        v = {n: 0.9 * v[n] + grads[n] for n in p}
        p = {n: (t - 0.02 * v[n]).detach().requires_grad_(True) for n, t in p.items()}
    for n in p:
        assert torch.allclose(phi[n], p[n], atol=1e-12), n


def test_the_same_function_runs_under_vmap():
    net = _net()
    xs = torch.stack([_task(seed=s)[0] for s in range(4)])
    ys = 2.0 * torch.sin(xs - 0.5) * torch.arange(1, 5, dtype=xs.dtype).view(4, 1, 1)
    batched = adapt_batch(net, params_of(net), xs, ys, loss_fn=F.mse_loss, steps=3, update=0.05)
    for t in range(4):
        one = adapt(net, params_of(net), xs[t], ys[t], loss_fn=F.mse_loss, steps=3, update=0.05)
        for n in one:
            assert torch.allclose(batched[n][t], one[n], atol=1e-10), n


def test_bad_inputs_say_what_is_wrong():
    net, (x, y) = _net(), _task()
    with pytest.raises(ValueError, match="does not have"):
        adapt(net, {"head.weight": torch.zeros(1, 8)}, x, y, loss_fn=F.mse_loss, update=0.1)
    with pytest.raises(ValueError, match="steps"):
        adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, steps=0, update=0.1)
    with pytest.raises(ValueError, match="inner_lr"):
        adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, update=-0.1)
    with pytest.raises(ValueError, match="update rule"):
        adapt(net, params_of(net), x, y, loss_fn=F.mse_loss, update="sgd")
    with pytest.raises(ValueError, match="examples"):
        adapt(net, params_of(net), x, y[:3], loss_fn=F.mse_loss, update=0.1)
