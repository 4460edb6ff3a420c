"""MAML / first-order MAML: meta-gradients against finite differences and the linear closed form."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import adapt, task_loss
from course_lib.algorithms import maml
from course_lib.analysis import linear_maml
from course_lib.baselines import joint_pretraining
from course_lib.evaluation import evaluate_adaptation
from course_lib.nets import params_of

torch.set_num_threads(1)


def _batch(sx, sy, qx, qy):
    return SimpleNamespace(support_x=sx, support_y=sy, query_x=qx, query_y=qy)


def _sine_batch(num_tasks, k_support, k_query, generator, dtype=torch.float32):
    amp = torch.rand(num_tasks, 1, 1, generator=generator, dtype=dtype) * 4.9 + 0.1
    phase = torch.rand(num_tasks, 1, 1, generator=generator, dtype=dtype) * torch.pi
    sx = torch.rand(num_tasks, k_support, 1, generator=generator, dtype=dtype) * 10 - 5
    qx = torch.rand(num_tasks, k_query, 1, generator=generator, dtype=dtype) * 10 - 5
    return _batch(sx, amp * torch.sin(sx - phase), qx, amp * torch.sin(qx - phase))


def _tiny_net(dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def _finite_difference_grad(model, batch, eps=1e-6, **kwargs):
    """Central differences of the meta-loss w.r.t. every parameter entry (float64)."""
    base = {n: p.detach().clone() for n, p in model.named_parameters()}
    out = {}
    for name, value in base.items():
        g = torch.zeros_like(value)
        for idx in range(value.numel()):
            shifted = {n: v.clone() for n, v in base.items()}
            shifted[name].view(-1)[idx] += eps
            plus = maml.meta_loss(model, shifted, batch, **kwargs)
            shifted[name].view(-1)[idx] -= 2 * eps
            minus = maml.meta_loss(model, shifted, batch, **kwargs)
            g.view(-1)[idx] = (plus - minus) / (2 * eps)
        out[name] = g
    return out


def _rel_err(a: dict, b: dict) -> float:
    num = torch.sqrt(sum(((a[k] - b[k]) ** 2).sum() for k in a))
    den = torch.sqrt(sum((b[k] ** 2).sum() for k in b))
    return float(num / den)


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("inner_steps", [1, 2])
def test_second_order_meta_gradient_matches_finite_differences(vectorize, inner_steps):
    net = _tiny_net()
    batch = _sine_batch(3, 5, 6, torch.Generator().manual_seed(1), dtype=torch.float64)
    kwargs = dict(loss_fn=F.mse_loss, inner_lr=0.05, inner_steps=inner_steps, vectorize=vectorize)
    autograd = maml.meta_gradient(net, batch, **kwargs)
    numeric = _finite_difference_grad(net, batch, **kwargs)
    assert _rel_err(autograd, numeric) < 1e-4


def test_first_order_gradient_differs_from_second_order_and_misses_the_hessian_term():
    net = _tiny_net()
    batch = _sine_batch(3, 5, 6, torch.Generator().manual_seed(2), dtype=torch.float64)
    kwargs = dict(loss_fn=F.mse_loss, inner_lr=0.05, inner_steps=1)
    second = maml.meta_gradient(net, batch, **kwargs)
    first = maml.meta_gradient(net, batch, first_order=True, **kwargs)
    numeric = _finite_difference_grad(net, batch, **kwargs)
    assert _rel_err(first, numeric) > 1e-3  # the dropped term is visible
    assert _rel_err(second, numeric) < 1e-4


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("vectorize", [False, True])
def test_meta_gradient_matches_linear_regression_closed_form(first_order, vectorize):
    g = torch.Generator().manual_seed(3)
    xs, ys, xq, yq, _ = linear_maml.random_linear_tasks(4, 5, 7, 3, generator=g)
    model = nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(1, 3, generator=g, dtype=torch.float64))
    w = model.weight.detach()[0]
    batch = _batch(xs, ys.unsqueeze(-1), xq, yq.unsqueeze(-1))
    auto = maml.meta_gradient(model, batch, loss_fn=F.mse_loss, inner_lr=0.1, first_order=first_order,
                              vectorize=vectorize)["weight"][0]
    closed = linear_maml.meta_gradient(w, xs, ys, xq, yq, 0.1, first_order=first_order).mean(0)
    assert torch.allclose(auto, closed, rtol=0, atol=1e-8)
    # the adapted weights agree too
    phi = adapt(model, params_of(model), xs[0], ys[0].unsqueeze(-1), loss_fn=F.mse_loss, update=0.1)
    assert torch.allclose(phi["weight"][0], linear_maml.adapted_weights(w, xs[0], ys[0], 0.1), atol=1e-10)


def test_linear_hessian_term_is_the_difference_between_maml_and_fomaml():
    g = torch.Generator().manual_seed(4)
    xs, ys, xq, yq, mu = linear_maml.random_linear_tasks(2, 4, 4, 2, generator=g)
    term = linear_maml.hessian_term(mu, xs, ys, xq, yq, 0.2)
    full = linear_maml.meta_gradient(mu, xs, ys, xq, yq, 0.2)
    fo = linear_maml.meta_gradient(mu, xs, ys, xq, yq, 0.2, first_order=True)
    assert torch.allclose(full - fo, term)
    assert term.abs().max() > 1e-3
    # and the closed form equals autograd through a hand-written inner step
    w = mu.clone().requires_grad_(True)
    loss = linear_maml.meta_loss(w, xs, ys, xq, yq, 0.2).mean()
    (auto,) = torch.autograd.grad(loss, w)
    assert torch.allclose(auto, full.mean(0), atol=1e-12)


def test_loop_and_vmap_agree_and_gradient_reaches_the_model():
    net = _tiny_net(torch.float32)
    batch = _sine_batch(5, 10, 10, torch.Generator().manual_seed(5))
    for first_order in (False, True):
        a = maml.meta_gradient(net, batch, loss_fn=F.mse_loss, inner_lr=0.01, inner_steps=3,
                               first_order=first_order, vectorize=False)
        b = maml.meta_gradient(net, batch, loss_fn=F.mse_loss, inner_lr=0.01, inner_steps=3,
                               first_order=first_order, vectorize=True)
        assert _rel_err(a, b) < 1e-5
    opt = torch.optim.SGD(net.parameters(), lr=0.0)
    maml.maml_step(net, opt, batch, loss_fn=F.mse_loss, inner_lr=0.01)
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_adapt_lowers_support_loss_and_leaves_params_alone():
    net = _tiny_net(torch.float32)
    batch = _sine_batch(1, 10, 10, torch.Generator().manual_seed(6))
    theta = {n: p.detach().clone() for n, p in net.named_parameters()}
    before = task_loss(net, theta, batch.support_x[0], batch.support_y[0], F.mse_loss)
    phi = adapt(net, theta, batch.support_x[0], batch.support_y[0], loss_fn=F.mse_loss, update=0.02, steps=5)
    after = task_loss(net, phi, batch.support_x[0], batch.support_y[0], F.mse_loss)
    assert after < before
    for n, p in net.named_parameters():
        assert torch.equal(p.detach(), theta[n])
        assert not phi[n].requires_grad


def test_maml_learns_a_tiny_task_family():
    """Linear tasks y = w.x with w around a shared mean: MAML must beat its random start."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(7)
    mu = torch.tensor([2.0, -1.0, 0.5])
    model = nn.Linear(3, 1)

    def sample(n_tasks):
        w = mu + 0.3 * torch.randn(n_tasks, 3, generator=g)
        sx, qx = torch.randn(n_tasks, 5, 3, generator=g), torch.randn(n_tasks, 10, 3, generator=g)
        return _batch(sx, (sx @ w.unsqueeze(-1)), qx, (qx @ w.unsqueeze(-1)))

    test = sample(50)
    kwargs = dict(loss_fn=F.mse_loss, update=0.1, steps=(1,))
    before = sum(evaluate_adaptation(model, params_of(model), test, **kwargs)[1]) / 50
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(150):
        maml.maml_step(model, opt, sample(8), loss_fn=F.mse_loss, inner_lr=0.1)
    after = sum(evaluate_adaptation(model, params_of(model), test, **kwargs)[1]) / 50
    assert after < 0.1 * before
    assert torch.allclose(model.weight.detach()[0], mu, atol=0.3)


def test_evaluate_adaptation_reports_each_step_count():
    net = _tiny_net(torch.float32)
    batch = _sine_batch(4, 10, 20, torch.Generator().manual_seed(8))
    scores = evaluate_adaptation(net, params_of(net), batch_tasks(batch), loss_fn=F.mse_loss,
                                 update=0.01, steps=(0, 1, 5))
    assert sorted(scores) == [0, 1, 5] and all(len(v) == 4 for v in scores.values())
    assert sum(scores[5]) < sum(scores[0])


def batch_tasks(batch):
    return [_batch(batch.support_x[i], batch.support_y[i], batch.query_x[i], batch.query_y[i])
            for i in range(batch.support_x.shape[0])]


def test_joint_pretraining_and_step_size_tuning():
    torch.manual_seed(0)
    net = _tiny_net(torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(9)
    first = joint_pretraining.joint_training_step(net, opt, _sine_batch(10, 10, 10, g), loss_fn=F.mse_loss)
    for _ in range(50):
        last = joint_pretraining.joint_training_step(net, opt, _sine_batch(10, 10, 10, g), loss_fn=F.mse_loss)
    assert last["loss"] < first["loss"]
    best, scores = joint_pretraining.tune_inner_lr(net, batch_tasks(_sine_batch(5, 5, 20, g)), loss_fn=F.mse_loss,
                                                   candidates=[1e-4, 1e-2], steps=3)
    assert best in (1e-4, 1e-2) and set(scores) == {1e-4, 1e-2}
    with pytest.raises(ValueError, match="candidates"):
        joint_pretraining.tune_inner_lr(net, [], loss_fn=F.mse_loss, candidates=[])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(inner_lr=-0.1), "inner_lr"),
        (dict(inner_lr=float("nan")), "inner_lr"),
        (dict(inner_steps=0), "inner_steps"),
        (dict(inner_steps=2.0), "inner_steps"),
    ],
)
def test_bad_hyperparameters_raise_value_errors(kwargs, message):
    net = _tiny_net(torch.float32)
    batch = _sine_batch(2, 5, 5, torch.Generator().manual_seed(10))
    args = dict(loss_fn=F.mse_loss, inner_lr=0.01, inner_steps=1) | kwargs
    with pytest.raises(ValueError, match=message):
        maml.meta_loss(net, params_of(net), batch, **args)
    with pytest.raises(ValueError, match=message.replace("inner_steps", "steps")):
        adapt(net, params_of(net), batch.support_x[0], batch.support_y[0], loss_fn=F.mse_loss,
              update=args["inner_lr"], steps=args["inner_steps"])


def test_mismatched_shapes_raise_value_errors():
    net = _tiny_net(torch.float32)
    b = _sine_batch(3, 5, 5, torch.Generator().manual_seed(11))
    kw = dict(loss_fn=F.mse_loss, inner_lr=0.01)
    with pytest.raises(ValueError, match="support_y"):
        maml.meta_loss(net, params_of(net), _batch(b.support_x, b.support_y[:, :4], b.query_x, b.query_y), **kw)
    with pytest.raises(ValueError, match="tasks"):
        maml.meta_loss(net, params_of(net), _batch(b.support_x, b.support_y, b.query_x[:2], b.query_y[:2]), **kw)
    with pytest.raises(ValueError, match="examples"):
        adapt(net, params_of(net), b.support_x[0], b.support_y[0, :3], loss_fn=F.mse_loss, update=0.01)
    with pytest.raises(ValueError, match="empty"):
        adapt(net, {}, b.support_x[0], b.support_y[0], loss_fn=F.mse_loss, update=0.01)
    w = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="d = 3"):
        linear_maml.adapted_weights(w, torch.zeros(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="y must have shape"):
        linear_maml.adapted_weights(w, torch.zeros(4, 3, dtype=torch.float64), torch.zeros(5, dtype=torch.float64), 0.1)
    with pytest.raises(ValueError, match="inner_lr"):
        linear_maml.adapted_weights(w, torch.zeros(4, 3, dtype=torch.float64), torch.zeros(4, dtype=torch.float64), -1.0)


@pytest.mark.parametrize("first_order", [False, True])
def test_vmap_matches_loop_for_conv4_with_batchnorm(first_order):
    """BatchNorm + vmap: the per-task meta-gradients must equal the task loop's (float64, 2 steps)."""
    from course_lib.data.episodes import TaskBatch
    from course_lib.nets import Conv4

    torch.manual_seed(0)
    net = Conv4(5, hidden=4, pooling="stride").double()
    g = torch.Generator().manual_seed(12)
    batch = TaskBatch(torch.rand(2, 5, 1, 8, 8, generator=g, dtype=torch.float64), torch.arange(5).repeat(2, 1),
                      torch.rand(2, 10, 1, 8, 8, generator=g, dtype=torch.float64),
                      torch.arange(5).repeat_interleave(2).repeat(2, 1))
    kw = dict(loss_fn=F.cross_entropy, inner_lr=0.4, inner_steps=2, first_order=first_order)
    loop = maml.meta_gradient(net, batch, vectorize=False, **kw)
    vec = maml.meta_gradient(net, batch, vectorize=True, **kw)
    assert _rel_err(vec, loop) < 1e-10


@pytest.mark.parametrize("vectorize", [False, True])
@pytest.mark.parametrize("first_order", [False, True])
def test_maml_step_applies_the_meta_gradient_and_reports_the_meta_loss(vectorize, first_order):
    """The task loop back-propagates task by task; the update must still be -lr * mean gradient."""
    net = _tiny_net()
    batch = _sine_batch(5, 4, 6, torch.Generator().manual_seed(3), dtype=torch.float64)
    kw = dict(loss_fn=F.mse_loss, inner_lr=0.05, inner_steps=2, first_order=first_order)
    expected_grad = maml.meta_gradient(net, batch, vectorize=False, **kw)
    expected_loss = float(maml.meta_loss(net, dict(net.named_parameters()), batch, vectorize=False, **kw))
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    out = maml.maml_step(net, torch.optim.SGD(net.parameters(), lr=0.1), batch, vectorize=vectorize, **kw)
    step = {n: (before[n] - p.detach()) / 0.1 for n, p in net.named_parameters()}
    assert _rel_err(step, expected_grad) < 1e-10
    assert out["loss"] == pytest.approx(expected_loss, rel=1e-12)
