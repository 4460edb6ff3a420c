"""Reptile: serial vs batched, its relation to SGD and MAML, the Taylor analysis, learning, bad inputs."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import Adam, adapt, task_loss
from course_lib.algorithms import reptile
from course_lib.analysis import taylor_analysis
from course_lib.evaluation import evaluate_adaptation
from course_lib.nets import params_of

torch.set_num_threads(1)


def _batch(sx, sy, qx=None, qy=None):
    return SimpleNamespace(support_x=sx, support_y=sy, query_x=qx, query_y=qy)


def _sine_batch(num_tasks, k, generator, dtype=torch.float32):
    amp = torch.rand(num_tasks, 1, 1, generator=generator, dtype=dtype) * 4.9 + 0.1
    phase = torch.rand(num_tasks, 1, 1, generator=generator, dtype=dtype) * torch.pi
    sx = torch.rand(num_tasks, k, 1, generator=generator, dtype=dtype) * 10 - 5
    qx = torch.rand(num_tasks, k, 1, generator=generator, dtype=dtype) * 10 - 5
    return _batch(sx, amp * torch.sin(sx - phase), qx, amp * torch.sin(qx - phase))


def _net(dtype=torch.float32, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1)).to(dtype)


def test_serial_and_batched_inner_loops_agree():
    net = _net()
    batch = _sine_batch(6, 10, torch.Generator().manual_seed(0))
    kw = dict(loss_fn=F.mse_loss, inner_lr=0.02, inner_steps=4)
    a = reptile.reptile_direction(net, params_of(net), batch, vectorize=False, **kw)
    b = reptile.reptile_direction(net, params_of(net), batch, vectorize=True, **kw)
    for n in a:
        assert torch.allclose(a[n], b[n], atol=1e-6), n
    assert max(v.abs().max() for v in a.values()) > 1e-3  # a real, non-zero update


def test_inner_minibatches_cycle_through_random_permutations():
    g = torch.Generator().manual_seed(0)
    batches = reptile.inner_minibatches(10, 4, 5, generator=g)
    assert [b.shape for b in batches] == [torch.Size([4])] * 5
    for first, second in ((0, 1), (2, 3)):  # each pass: two disjoint batches, then a reshuffle
        assert not set(batches[first].tolist()) & set(batches[second].tolist())
    assert sorted(torch.cat(reptile.inner_minibatches(50, 10, 5, generator=g)).tolist()) == list(range(50))
    for bad in (0, 11):
        with pytest.raises(ValueError, match="inner_batch_size must be between 1 and .*10"):
            reptile.inner_minibatches(10, bad, 3)


def test_minibatch_inner_loop_is_sgd_on_successive_minibatches():
    """inner_batch_size=b: step j is one SGD step on minibatch j, the same indices for every task."""
    net = _net(torch.float64)
    batch = _sine_batch(3, 12, torch.Generator().manual_seed(7), dtype=torch.float64)
    kw = dict(loss_fn=F.mse_loss, inner_lr=0.05, inner_steps=4, inner_batch_size=5)
    torch.manual_seed(11)
    serial = reptile.adapted_weights(net, params_of(net), batch.support_x, batch.support_y, vectorize=False, **kw)
    torch.manual_seed(11)
    batched = reptile.adapted_weights(net, params_of(net), batch.support_x, batch.support_y, vectorize=True, **kw)
    torch.manual_seed(11)
    indices = reptile.inner_minibatches(12, 5, 4)
    for t in range(3):
        phi = {n: p.detach() for n, p in params_of(net).items()}
        for idx in indices:
            phi = adapt(net, phi, batch.support_x[t, idx], batch.support_y[t, idx], loss_fn=F.mse_loss,
                        update=0.05, steps=1)
        for n in phi:
            assert torch.allclose(serial[n][t], phi[n], atol=1e-12), n
            assert torch.allclose(batched[n][t], phi[n], atol=1e-12), n
    full = reptile.adapted_weights(net, params_of(net), batch.support_x, batch.support_y,
                                   **(kw | dict(inner_batch_size=None)))
    assert max((full[n] - serial[n]).abs().max() for n in full) > 1e-3
    with pytest.raises(ValueError, match="inner_batch_size"):
        reptile.reptile_step(net, _sgd(net, 1.0), batch, **(kw | dict(inner_batch_size=13)))


def test_one_inner_step_is_plain_sgd_on_the_average_loss():
    """k = 1: mean(phi_i - theta) = -alpha * grad of the mean support loss (joint training)."""
    net = _net(torch.float64)
    batch = _sine_batch(5, 10, torch.Generator().manual_seed(1), dtype=torch.float64)
    direction = reptile.reptile_direction(net, params_of(net), batch, loss_fn=F.mse_loss,
                                          inner_lr=0.1, inner_steps=1)
    params = params_of(net)
    loss = sum(task_loss(net, params, batch.support_x[i], batch.support_y[i], F.mse_loss) for i in range(5)) / 5
    grads = torch.autograd.grad(loss, list(params.values()))
    for (n, _), g in zip(params.items(), grads):
        assert torch.allclose(direction[n], -0.1 * g, atol=1e-12), n


def test_outer_update_moves_towards_the_adapted_weights():
    net = _net()
    batch = _sine_batch(1, 10, torch.Generator().manual_seed(2))
    kw = dict(loss_fn=F.mse_loss, inner_lr=0.02, inner_steps=3)
    phi = reptile.adapted_weights(net, params_of(net), batch.support_x, batch.support_y, **kw)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    out = reptile.reptile_step(net, _sgd(net, 0.5), batch, **kw)
    for n, p in net.named_parameters():
        assert torch.allclose(p.detach(), before[n] + 0.5 * (phi[n][0] - before[n]), atol=1e-6)
    assert out["update_norm"] > 0 and out["loss"] > 0


def test_sgd_outer_step_is_the_interpolation_towards_the_average_adapted_weights():
    batch = _sine_batch(4, 10, torch.Generator().manual_seed(3))
    kw = dict(loss_fn=F.mse_loss, inner_lr=0.02, inner_steps=3)
    net = _net(seed=5)
    theta = {n: p.detach().clone() for n, p in net.named_parameters()}
    phi = reptile.adapted_weights(net, params_of(net), batch.support_x, batch.support_y, **kw)
    reptile.reptile_step(net, _sgd(net, 0.3), batch, **kw)
    for n, p in net.named_parameters():
        assert torch.allclose(p.detach(), theta[n] + 0.3 * (phi[n].mean(0) - theta[n]), atol=1e-6), n


def _sgd(net, lr):
    return torch.optim.SGD(net.parameters(), lr=lr)


def test_taylor_expansion_error_shrinks_like_step_size_squared():
    net = _net(torch.float64)
    g = torch.Generator().manual_seed(4)
    xa, xb = torch.randn(10, 1, generator=g, dtype=torch.float64), torch.randn(10, 1, generator=g, dtype=torch.float64)
    a, b = (xa, 2 * torch.sin(xa)), (xb, 2 * torch.sin(xb))
    errors = taylor_analysis.taylor_errors(net, params_of(net), a, b, F.mse_loss, [0.02, 0.002])
    for name, (big, small) in errors.items():
        assert small < 0.05 * big, (name, big, small)  # 10x smaller step -> ~100x smaller error
        assert small < 1e-3, name
    # with the wrong coefficients (e.g. FOMAML treated like MAML) the prediction is off at first order
    terms = taylor_analysis.taylor_terms(net, params_of(net), a, b, F.mse_loss)
    exact = taylor_analysis.exact_updates(net, params_of(net), a, b, F.mse_loss, 0.002)
    wrong = terms["avg_grad"] - 2 * 0.002 * terms["avg_grad_inner"]
    assert (exact["fomaml"] - wrong).norm() / exact["fomaml"].norm() > 10 * errors["fomaml"][1]


def test_reptile_learns_a_tiny_task_family():
    """Linear tasks around a shared mean: after meta-training, few-step adaptation is much better."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(5)
    mu = torch.tensor([2.0, -1.0, 0.5])
    model = nn.Linear(3, 1)

    def sample(n_tasks):
        w = mu + 0.3 * torch.randn(n_tasks, 3, generator=g)
        sx, qx = torch.randn(n_tasks, 5, 3, generator=g), torch.randn(n_tasks, 10, 3, generator=g)
        return _batch(sx, sx @ w.unsqueeze(-1), qx, qx @ w.unsqueeze(-1))

    test = sample(50)
    kw = dict(loss_fn=F.mse_loss, update=0.05, steps=(2,))
    before = sum(evaluate_adaptation(model, params_of(model), test, **kw)[2]) / 50
    outer = _sgd(model, 0.5)
    for _ in range(200):
        reptile.reptile_step(model, outer, sample(5), loss_fn=F.mse_loss, inner_lr=0.05, inner_steps=5)
    after = sum(evaluate_adaptation(model, params_of(model), test, **kw)[2]) / 50
    assert after < 0.1 * before
    assert torch.allclose(model.weight.detach()[0], mu, atol=0.3)


def test_bad_arguments_raise_value_errors():
    net = _net()
    batch = _sine_batch(2, 5, torch.Generator().manual_seed(6))
    kw = dict(loss_fn=F.mse_loss, inner_lr=0.02, inner_steps=3)
    outer = _sgd(net, 1.0)
    with pytest.raises(ValueError, match="inner_lr"):
        reptile.reptile_step(net, outer, batch, **(kw | dict(inner_lr=-0.1)))
    with pytest.raises(ValueError, match="inner_steps"):
        reptile.reptile_step(net, outer, batch, **(kw | dict(inner_steps=0)))
    with pytest.raises(ValueError, match="support_y"):
        reptile.reptile_step(net, outer, _batch(batch.support_x, batch.support_y[:, :3]), **kw)
    with pytest.raises(ValueError, match="inner_lr"):
        taylor_analysis.exact_updates(net, params_of(net), (batch.support_x[0], batch.support_y[0]),
                                      (batch.query_x[0], batch.query_y[0]), F.mse_loss, -0.1)


@pytest.mark.parametrize("vectorize", [True, False])
def test_inner_adam_matches_torch_adam_across_minibatches(vectorize):
    """Adam keeps its moments from one minibatch step to the next, like torch.optim.Adam(betas=(0, 0.999))."""
    import copy
    net = _net(torch.float64)
    batch = _sine_batch(3, 12, torch.Generator().manual_seed(4), dtype=torch.float64)
    torch.manual_seed(7)
    phi = reptile.adapted_weights(net, params_of(net), batch.support_x, batch.support_y, loss_fn=F.mse_loss,
                                  update=Adam(0.01), inner_steps=4, inner_batch_size=4, vectorize=vectorize)
    torch.manual_seed(7)
    idx = reptile.inner_minibatches(12, 4, 4)
    for t in range(3):
        copy_t = copy.deepcopy(net)
        opt = torch.optim.Adam(copy_t.parameters(), lr=0.01, betas=(0.0, 0.999), eps=1e-8)
        for i in idx:
            opt.zero_grad()
            F.mse_loss(copy_t(batch.support_x[t, i]), batch.support_y[t, i]).backward()
            opt.step()
        for n, p in copy_t.named_parameters():
            assert torch.allclose(phi[n][t], p.detach(), atol=1e-10), (t, n)


def test_adam_rule_state_and_bad_step_size():
    rule = Adam(0.1)
    params = {"w": torch.tensor([1.0, -2.0])}
    new, state = rule(params, {"w": torch.tensor([0.5, -3.0])}, rule.init(params))
    assert torch.allclose(new["w"], torch.tensor([0.9, -1.9]), atol=1e-6)  # first step: lr * sign(g)
    assert float(state["t"]) == 1
    with pytest.raises(ValueError):
        Adam(-1.0)
