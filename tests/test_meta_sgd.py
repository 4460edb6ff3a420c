"""Meta-SGD: step-size initialisation, the update, meta-gradients (vs finite differences), learning."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import PerParameterSGD, adapt, task_loss
from course_lib.algorithms import meta_sgd as ms
from course_lib.evaluation import evaluate_adaptation


def tiny_model(dtype=torch.float64) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(1, 4), nn.Tanh(), nn.Linear(4, 1)).to(dtype)


def random_batch(tasks=3, k=5, q=6, dtype=torch.float64, seed=1):
    g = torch.Generator().manual_seed(seed)
    r = lambda n: torch.randn(tasks, n, 1, generator=g, dtype=dtype)
    return SimpleNamespace(support_x=r(k), support_y=r(k), query_x=r(q), query_y=r(q))


def linear_tasks(n_tasks, k, g):
    """y = a x with a ~ U[-2, 2]: one Meta-SGD step with alpha = 1 / (2 E[x^2]) solves a task."""
    a = 4 * torch.rand(n_tasks, 1, 1, generator=g) - 2
    x = 2 * torch.rand(n_tasks, 2 * k, 1, generator=g) - 1
    y = a * x
    return SimpleNamespace(support_x=x[:, :k], support_y=y[:, :k], query_x=x[:, k:], query_y=y[:, k:])


# -- step sizes ---------------------------------------------------------------------------------
def test_init_step_sizes_shapes_constant_and_range():
    model = tiny_model()
    params = dict(model.named_parameters())
    const = ms.init_step_sizes(params, 0.03)
    assert set(const) == set(params)
    for name, p in params.items():
        assert const[name].shape == p.shape and const[name].dtype == p.dtype
        assert torch.all(const[name] == 0.03)
        assert not const[name].requires_grad
    ranged = ms.init_step_sizes(params, (0.005, 0.1), generator=torch.Generator().manual_seed(0))
    values = torch.cat([a.flatten() for a in ranged.values()])
    assert values.min() >= 0.005 and values.max() <= 0.1 and values.std() > 0


@pytest.mark.parametrize("bad", [0.0, -0.01, (0.0, 0.1), (-0.1, 0.1), (0.1, 0.01), (0.1,)])
def test_bad_initial_step_sizes_raise(bad):
    with pytest.raises(ValueError, match="step size|range"):
        ms.init_step_sizes(dict(tiny_model().named_parameters()), bad)
    with pytest.raises(ValueError):
        ms.MetaSGD(tiny_model(), bad)


@pytest.mark.parametrize("steps", [0, -1, 1.5, True])
def test_bad_inner_steps_raise(steps):
    model = tiny_model()
    params = dict(model.named_parameters())
    alpha = ms.init_step_sizes(params)
    b = random_batch()
    with pytest.raises(ValueError, match="steps"):
        adapt(model, params, b.support_x[0], b.support_y[0], loss_fn=F.mse_loss, steps=steps,
              update=PerParameterSGD(alpha))
    with pytest.raises(ValueError, match="steps"):
        ms.meta_loss(model, params, alpha, b, steps=steps)
    with pytest.raises(ValueError, match="inner_steps"):
        ms.MetaSGD(model, inner_steps=steps)


def test_update_is_elementwise_and_missing_step_size_is_reported():
    params = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([3.0])}
    grads = {"w": torch.tensor([10.0, -10.0]), "b": torch.tensor([1.0])}
    alpha = {"w": torch.tensor([0.1, 0.01]), "b": torch.tensor([-1.0])}
    rule = PerParameterSGD(alpha)
    out, state = rule(params, grads, rule.init(params))
    assert torch.allclose(out["w"], torch.tensor([0.0, 2.1]))
    assert torch.allclose(out["b"], torch.tensor([4.0]))
    with pytest.raises(ValueError, match="no step size"):
        PerParameterSGD({"w": alpha["w"]}).init(params)


def test_adapt_matches_manual_steps_and_keeps_shapes():
    model = tiny_model()
    params = dict(model.named_parameters())
    alpha = ms.init_step_sizes(params, (0.01, 0.2), generator=torch.Generator().manual_seed(3))
    b = random_batch()
    sx, sy = b.support_x[0], b.support_y[0]
    adapted = adapt(model, params, sx, sy, loss_fn=F.mse_loss, steps=2, update=PerParameterSGD(alpha))
    manual = {n: p.detach().clone() for n, p in params.items()}
    for _ in range(2):
        current = {n: p.requires_grad_(True) for n, p in manual.items()}
        loss = F.mse_loss(torch.func.functional_call(model, current, (sx,)), sy)
        grads = torch.autograd.grad(loss, list(current.values()))
        manual = {n: (p - alpha[n] * g).detach() for (n, p), g in zip(current.items(), grads)}
    for n, p in params.items():
        assert adapted[n].shape == p.shape
        assert torch.allclose(adapted[n], manual[n], atol=1e-12)


# -- meta-gradients -------------------------------------------------------------------------------
def finite_difference(fn, tensor, index, eps=1e-6):
    with torch.no_grad():
        tensor[index] += eps
        plus = fn().item()
        tensor[index] -= 2 * eps
        minus = fn().item()
        tensor[index] += eps
    return (plus - minus) / (2 * eps)


@pytest.mark.parametrize("inner_steps", [1, 2])
def test_meta_gradient_reaches_step_sizes_and_matches_finite_differences(inner_steps):
    model = tiny_model(torch.float64)
    learner = ms.MetaSGD(model, (0.05, 0.2), inner_steps=inner_steps,
                         generator=torch.Generator().manual_seed(0))
    b = random_batch()
    loss = learner.meta_loss(b)
    loss.backward()
    for alpha in learner.alphas:
        assert alpha.grad is not None and torch.isfinite(alpha.grad).all()
        assert alpha.grad.abs().sum() > 0
    checks = [(learner.alphas[0], (1, 0)), (learner.alphas[3], (0,)), (learner.alphas[2], (0, 2)),
              (model[0].weight, (2, 0)), (model[2].bias, (0,))]
    for tensor, index in checks:
        numeric = finite_difference(lambda: learner.meta_loss(b), tensor, index)
        assert tensor.grad[index].item() == pytest.approx(numeric, rel=1e-5, abs=1e-9)


def test_first_order_still_trains_step_sizes_and_differs_from_second_order():
    b = random_batch()
    grads = {}
    for first_order in (False, True):
        learner = ms.MetaSGD(tiny_model(), 0.1, first_order=first_order)
        learner.meta_loss(b).backward()
        grads[first_order] = ([a.grad.clone() for a in learner.alphas],
                              [p.grad.clone() for p in learner.model.parameters()])
    alpha_first, theta_first = grads[True]
    alpha_second, theta_second = grads[False]
    assert all(g.abs().sum() > 0 for g in alpha_first)
    # theta's meta-gradient loses its Hessian term in first order ...
    assert any(not torch.allclose(a, b) for a, b in zip(theta_first, theta_second))
    # ... but with one step d L_q / d alpha = -g_support * d L_q / d theta' involves no Hessian,
    # so first- and second-order gradients with respect to alpha coincide.
    for a, b in zip(alpha_first, alpha_second):
        assert torch.allclose(a, b, atol=1e-12)


def test_vmapped_meta_loss_equals_a_loop_over_tasks():
    model = tiny_model()
    params = dict(model.named_parameters())
    alpha = ms.init_step_sizes(params, (0.01, 0.3), generator=torch.Generator().manual_seed(5))
    b = random_batch(tasks=4)
    per_task = ms.meta_loss(model, params, alpha, b, steps=3, per_task=True)
    assert per_task.shape == (4,)
    loop = torch.stack([
        task_loss(model, adapt(model, params, b.support_x[i], b.support_y[i], loss_fn=F.mse_loss, steps=3,
                               update=PerParameterSGD(alpha)), b.query_x[i], b.query_y[i], F.mse_loss)
        for i in range(4)])
    assert torch.allclose(per_task, loop, atol=1e-10)
    assert torch.allclose(ms.meta_loss(model, params, alpha, b, steps=3), loop.mean())


def test_frozen_step_sizes_get_no_gradient():
    learner = ms.MetaSGD(tiny_model(), 0.05, learn_step_sizes=False)
    learner.meta_loss(random_batch()).backward()
    assert all(a.grad is None for a in learner.alphas)
    assert learner.model[0].weight.grad is not None


# -- learning -------------------------------------------------------------------------------------
def test_meta_sgd_learns_the_one_step_solution_of_linear_tasks():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    learner = ms.MetaSGD(nn.Linear(1, 1, bias=False), 0.01)
    optimizer = torch.optim.Adam(learner.parameters(), lr=0.03)
    test = linear_tasks(50, 40, torch.Generator().manual_seed(99))
    before = learner.meta_loss(test).item()
    for _ in range(250):
        loss = learner.meta_loss(linear_tasks(16, 40, g))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = learner.meta_loss(test).item()
    assert after < 0.05 * before
    # The ideal step is 1 / (2 E[x^2]) = 1.5 for x ~ U[-1, 1]; Meta-SGD must move far towards it.
    assert learner.alphas[0].item() > 0.75
    scores = evaluate_adaptation(learner.model, learner.params(),
                                 [SimpleNamespace(support_x=test.support_x[i], support_y=test.support_y[i],
                                                  query_x=test.query_x[i], query_y=test.query_y[i])
                                  for i in range(10)], loss_fn=F.mse_loss, update=learner.update_rule(), steps=(0, 1))
    assert len(scores[0]) == len(scores[1]) == 10
    assert sum(scores[1]) < 0.2 * sum(scores[0])


def test_step_size_table_and_state_dict_hold_every_alpha():
    learner = ms.MetaSGD(tiny_model(), (0.01, 0.02), generator=torch.Generator().manual_seed(0))
    table = learner.step_size_table()
    assert list(table) == [n for n, _ in learner.model.named_parameters()]
    assert [t.numel() for t in table.values()] == [p.numel() for p in learner.model.parameters()]
    keys = learner.state_dict().keys()
    assert sum(k.startswith("alphas.") for k in keys) == 4
    assert sum(k.startswith("model.") for k in keys) == 4


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_meta_sgd_on_cuda_matches_cpu():
    b = random_batch(dtype=torch.float32)
    cpu = ms.MetaSGD(tiny_model(torch.float32), (0.01, 0.1), generator=torch.Generator().manual_seed(0))
    gpu = ms.MetaSGD(tiny_model(torch.float32), (0.01, 0.1), generator=torch.Generator().manual_seed(0)).cuda()
    b_gpu = SimpleNamespace(**{k: v.cuda() for k, v in vars(b).items()})
    loss_cpu, loss_gpu = cpu.meta_loss(b), gpu.meta_loss(b_gpu)
    loss_cpu.backward()
    loss_gpu.backward()
    assert loss_gpu.item() == pytest.approx(loss_cpu.item(), rel=1e-4)
    for a, c in zip(gpu.alphas, cpu.alphas):
        assert torch.allclose(a.grad.cpu(), c.grad, rtol=1e-3, atol=1e-5)


def test_meta_sgd_step_and_adapt_use_the_shared_inner_loop():
    learner = ms.MetaSGD(tiny_model(), (0.05, 0.2), generator=torch.Generator().manual_seed(0))
    b = random_batch()
    adapted = learner.adapt(b.support_x[0], b.support_y[0])
    shared = adapt(learner.model, learner.params(), b.support_x[0], b.support_y[0], loss_fn=F.mse_loss,
                   update=PerParameterSGD(learner.step_sizes()))
    for name in adapted:
        assert torch.allclose(adapted[name], shared[name], atol=1e-12)
    before = [a.detach().clone() for a in learner.alphas]
    expected = learner.meta_loss(b).item()
    optimizer = torch.optim.SGD(learner.parameters(), lr=0.01)
    out = ms.meta_sgd_step(learner, optimizer, b)
    assert set(out) == {"loss"} and out["loss"] == pytest.approx(expected, rel=1e-12)
    assert learner.meta_loss(b).item() < expected  # one small step downhill
    assert any(not torch.equal(a, c) for a, c in zip(learner.alphas, before))  # alpha was updated
