"""The coordinate-wise LSTM optimizer, the hand-written rules, the problems, truncated BPTT and the
LSTM as an update rule of the shared inner loop."""

import math

import pytest
import torch
from torch import nn

import torch.nn.functional as F

from course_lib.adaptation import SGD, adapt
from course_lib.algorithms import learned_optimizer as lo
from course_lib.data.optimizee_problems import QuadraticProblems, SinusoidMLPProblems


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """These tests run many tiny ops; one thread avoids thread hand-off overhead on busy CPUs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- preprocessing and the LSTM ------------------------------------------------------------------
def test_preprocessing_matches_the_paper_formula():
    p = 10.0
    grad = torch.tensor([1.0, -math.exp(-5.0), 1e-6, -1e-7, 0.0, math.exp(-p)])
    out = lo.preprocess_gradients(grad, p)
    assert out.shape == (6, 2)
    expected = torch.tensor([
        [0.0, 1.0],
        [-0.5, -1.0],
        [-1.0, math.exp(p) * 1e-6],
        [-1.0, -math.exp(p) * 1e-7],
        [-1.0, 0.0],
        [-1.0, 1.0],  # exactly at the threshold: log branch, log(e^-p)/p = -1
    ])
    assert torch.allclose(out, expected, atol=1e-5)
    assert lo.preprocess_gradients(torch.zeros(3, 4)).shape == (3, 4, 2)
    with pytest.raises(ValueError, match="positive"):
        lo.preprocess_gradients(grad, p=0.0)


def test_lstm_optimizer_shapes_and_size_independent_of_dimension():
    net = lo.LSTMOptimizer(hidden_size=20, num_layers=2)
    # 2 LSTM layers (4 gates) + linear head; input size 2 with preprocessing
    expected = 4 * 20 * (2 + 20 + 2) + 4 * 20 * (20 + 20 + 2) + 21
    assert sum(p.numel() for p in net.parameters()) == expected
    for n in (1, 7, 1000):
        state = net.initial_state(n)
        assert all(h.shape == (n, 20) for h in state[0] + state[1])
        update, new_state = net(torch.randn(n), state)
        assert update.shape == (n,)
        assert len(new_state[0]) == 2 and new_state[0][0].shape == (n, 20)
    raw = lo.LSTMOptimizer(preprocess=False)
    assert raw.cells[0].input_size == 1
    assert raw(torch.randn(5), raw.initial_state(5))[0].shape == (5,)


def test_coordinates_are_processed_independently():
    net = lo.LSTMOptimizer()
    grad = torch.randn(6)
    full, _ = net(grad, net.initial_state(6))
    part, _ = net(grad[2:4], net.initial_state(2))
    assert torch.allclose(full[2:4], part, atol=1e-6)


@pytest.mark.parametrize("kwargs", [{"hidden_size": 0}, {"num_layers": 0}, {"output_scale": 0.0}])
def test_bad_lstm_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        lo.LSTMOptimizer(**kwargs)


# -- the LSTM as an update rule of adapt -----------------------------------------------------------
class _ModelProblem:
    """One problem ``loss(theta [1, n])``: the support loss of ``model`` with its parameters flattened."""

    def __init__(self, model, x, y):
        self.model, self.x, self.y = model, x, y
        self.shapes = {name: p.shape for name, p in model.named_parameters()}

    def unflatten(self, flat):
        pieces = torch.split(flat, [s.numel() for s in self.shapes.values()])
        return {name: piece.view(shape) for (name, shape), piece in zip(self.shapes.items(), pieces)}

    def loss(self, theta):
        out = torch.func.functional_call(self.model, self.unflatten(theta[0]), (self.x,))
        return F.mse_loss(out, self.y).unsqueeze(0)


def _tiny_regression(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 6), nn.Tanh(), nn.Linear(6, 1)).double()
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(8, 1, generator=g, dtype=torch.float64)
    return model, x, torch.sin(2 * x)


def test_learned_update_in_adapt_equals_the_lstm_on_the_flattened_vector():
    model, x, y = _tiny_regression()
    net = lo.LSTMOptimizer().double()
    g = torch.Generator().manual_seed(1)
    for p in net.parameters():  # larger weights than the default, so that the updates are not tiny
        nn.init.normal_(p, std=0.3, generator=g)
    params = {n: p.detach() for n, p in model.named_parameters()}
    with torch.no_grad():
        adapted = adapt(model, params, x, y, loss_fn=F.mse_loss, steps=4, update=lo.LearnedUpdate(net))
    problem = _ModelProblem(model, x, y)
    theta0 = torch.cat([p.reshape(-1) for p in params.values()]).unsqueeze(0)
    reference = problem.unflatten(lo.optimize(net, problem, theta0, 4).theta[0])
    assert set(adapted) == set(params)
    for name, p in params.items():
        assert adapted[name].shape == p.shape
        assert torch.allclose(adapted[name], reference[name], atol=1e-12)
        assert not torch.allclose(adapted[name], p)
    # a partial dict (only the head) adapts only those coordinates
    head = {"2.weight": params["2.weight"], "2.bias": params["2.bias"]}
    with torch.no_grad():
        adapted_head = adapt(model, head, x, y, loss_fn=F.mse_loss, steps=2, update=lo.LearnedUpdate(net))
    assert set(adapted_head) == set(head)


def test_learned_update_with_sgd_rule_is_plain_sgd_and_is_differentiable_in_the_lstm():
    model, x, y = _tiny_regression(2)
    params = {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()}
    ours = adapt(model, params, x, y, loss_fn=F.mse_loss, steps=3, update=lo.LearnedUpdate(lo.SGDRule(0.05)))
    plain = adapt(model, params, x, y, loss_fn=F.mse_loss, steps=3, update=SGD(0.05))
    for name in params:
        assert torch.allclose(ours[name], plain[name], atol=1e-12)
    net = lo.LSTMOptimizer().double()
    phi = adapt(model, params, x, y, loss_fn=F.mse_loss, steps=2, update=lo.LearnedUpdate(net))
    F.mse_loss(torch.func.functional_call(model, phi, (x,)), y).backward()
    assert net.head.weight.grad is not None and net.head.weight.grad.abs().sum() > 0
    assert params["0.weight"].grad is not None
    with pytest.raises(ValueError, match="LSTMOptimizer"):
        lo.LearnedUpdate(0.01)


# -- hand-written rules -----------------------------------------------------------------------------
@pytest.mark.parametrize("rule", [lo.SGDRule, lo.AdamRule])
@pytest.mark.parametrize("lr", [0.0, -0.1])
def test_rules_reject_non_positive_learning_rates(rule, lr):
    with pytest.raises(ValueError, match="learning rate"):
        rule(lr)


def test_sgd_and_adam_rules_match_torch_optimizers():
    g = torch.Generator().manual_seed(0)
    problems = QuadraticProblems.sample(3, 4, g, dtype=torch.float64)
    theta0 = problems.initial_params(g)
    for rule, make in [(lo.SGDRule(0.01), lambda p: torch.optim.SGD(p, lr=0.01)),
                       (lo.AdamRule(0.05), lambda p: torch.optim.Adam(p, lr=0.05))]:
        traj = lo.optimize(rule, problems, theta0, 15)
        theta = theta0.clone().requires_grad_(True)
        optimizer = make([theta])
        reference = []
        for _ in range(15):
            loss = problems.loss(theta)
            reference.append(loss.detach())
            optimizer.zero_grad()
            loss.sum().backward()
            optimizer.step()
        reference.append(problems.loss(theta).detach())
        assert traj.losses.shape == (16, 3)
        assert torch.allclose(traj.losses, torch.stack(reference), rtol=1e-9, atol=1e-10)
        assert torch.allclose(traj.theta, theta.detach(), atol=1e-10)


# -- problems ---------------------------------------------------------------------------------------
def test_quadratic_problems():
    g = torch.Generator().manual_seed(1)
    problems = QuadraticProblems.sample(5, 3, g, dtype=torch.float64)
    assert problems.num_problems == 5 and problems.dim == 3
    theta = problems.initial_params(g)
    assert theta.shape == (5, 3) and theta.abs().max() < 0.1
    manual = torch.stack([(problems.W[b] @ theta[b] - problems.y[b]).pow(2).sum() for b in range(5)])
    assert torch.allclose(problems.loss(theta), manual)
    assert torch.allclose(problems.minimum(), torch.zeros(5, dtype=torch.float64), atol=1e-8)
    first = QuadraticProblems(problems.W[:1], problems.y[:1])
    hessian = torch.func.hessian(lambda t: first.loss(t.unsqueeze(0)).squeeze(0))(theta[0])
    assert problems.hessian_max_eigenvalue()[0] == pytest.approx(torch.linalg.eigvalsh(hessian)[-1].item())
    with pytest.raises(ValueError, match="num_problems"):
        QuadraticProblems.sample(0, 3)
    with pytest.raises(ValueError, match="expected W"):
        QuadraticProblems(torch.zeros(2, 3, 3), torch.zeros(2, 4))


def test_sinusoid_mlp_problems_match_an_nn_module():
    g = torch.Generator().manual_seed(2)
    problems = SinusoidMLPProblems.sample(2, num_points=7, hidden=5, generator=g, dtype=torch.float64)
    theta = problems.initial_params(g)
    assert theta.shape == (2, problems.dim) and problems.dim == 16
    net = nn.Sequential(nn.Linear(1, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(theta[1, :5].view(5, 1))
        net[0].bias.copy_(theta[1, 5:10])
        net[2].weight.copy_(theta[1, 10:15].view(1, 5))
        net[2].bias.copy_(theta[1, 15:])
    expected = (net(problems.x[1].unsqueeze(-1)).squeeze(-1) - problems.y[1]).pow(2).mean()
    assert problems.loss(theta)[1].item() == pytest.approx(expected.item())
    traj = lo.optimize(lo.AdamRule(0.03), problems, theta, 100)
    assert (traj.losses[-1] < traj.losses[0]).all()


# -- optimize / tuning --------------------------------------------------------------------------------
def test_optimize_argument_checks_and_graph_handling():
    g = torch.Generator().manual_seed(3)
    problems = QuadraticProblems.sample(2, 3, g)
    theta0 = problems.initial_params(g)
    with pytest.raises(ValueError, match="steps"):
        lo.optimize(lo.SGDRule(0.01), problems, theta0, 0)
    with pytest.raises(ValueError, match="keep_graph"):
        lo.optimize(lo.SGDRule(0.01), problems, theta0, 2, second_order=True)
    net = lo.LSTMOptimizer()
    detached = lo.optimize(net, problems, theta0, 3)
    assert not detached.losses.requires_grad and not detached.theta.requires_grad
    kept = lo.optimize(net, problems, theta0, 3, keep_graph=True)
    assert kept.losses.requires_grad
    kept.losses.sum().backward()
    assert net.head.weight.grad is not None and net.head.weight.grad.abs().sum() > 0
    assert torch.allclose(kept.losses.detach(), detached.losses, atol=1e-6)


def test_second_order_meta_gradient_differs_but_is_finite():
    g = torch.Generator().manual_seed(4)
    problems = QuadraticProblems.sample(2, 3, g, dtype=torch.float64)
    theta0 = problems.initial_params(g)
    grads = []
    for second_order in (False, True):
        net = lo.LSTMOptimizer().double()
        torch.manual_seed(0)
        for p in net.parameters():
            nn.init.normal_(p, std=0.3)
        lo.optimize(net, problems, theta0, 4, keep_graph=True, second_order=second_order).losses.sum().backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    assert torch.isfinite(grads[1]).all()
    assert not torch.allclose(grads[0], grads[1])


def test_tune_learning_rate_picks_a_stable_rate_and_flags_divergence():
    g = torch.Generator().manual_seed(5)
    problems = QuadraticProblems.sample(8, 5, g, dtype=torch.float64)
    theta0 = problems.initial_params(g)
    lr_max = (2 / problems.hessian_max_eigenvalue()).min().item()
    best, scores = lo.tune_learning_rate(lo.SGDRule, [lr_max / 10, lr_max / 2, 100 * lr_max], problems, theta0, 50)
    assert scores[100 * lr_max] == math.inf
    assert best == lr_max / 2
    with pytest.raises(ValueError, match="empty"):
        lo.tune_learning_rate(lo.SGDRule, [], problems, theta0, 5)


# -- meta-training ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"unroll": 0}, "unroll"), ({"unroll": 3, "horizon": 10}, "divide"),
    ({"unroll": 5, "horizon": 4}, "horizon"), ({"meta_lr": 0.0}, "meta_lr"),
])
def test_bad_trainer_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lo.LSTMOptimizerTrainer(lo.LSTMOptimizer(), lambda g: None, **kwargs)


def test_lstm_optimizer_learns_to_beat_untuned_sgd_on_held_out_quadratics():
    torch.manual_seed(0)
    net = lo.LSTMOptimizer()
    trainer = lo.LSTMOptimizerTrainer(net, lambda g: QuadraticProblems.sample(16, 5, g), horizon=20,
                                      unroll=10, meta_lr=3e-3, generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(123)
    test = QuadraticProblems.sample(64, 5, g)
    theta0 = test.initial_params(g)
    before = lo.optimize(net, test, theta0, 20).losses.mean().item()
    records = [trainer.step(i) for i in range(100)]
    assert set(records[0]) == {"loss", "final_loss", "window"}
    assert [r["window"] for r in records[:4]] == [0.0, 1.0, 0.0, 1.0]
    after = lo.optimize(net, test, theta0, 20).losses.mean().item()
    sgd = lo.optimize(lo.SGDRule(1e-3), test, theta0, 20).losses.mean().item()
    assert after < 0.7 * before
    assert after < sgd
    # the trainer carries theta over between windows and draws new problems after the horizon
    assert trainer._t in (10, 20)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_lstm_optimizer_runs_on_cuda_like_on_cpu():
    g = torch.Generator().manual_seed(9)
    problems = QuadraticProblems.sample(4, 5, g)
    theta0 = problems.initial_params(g)
    net = lo.LSTMOptimizer()
    cpu = lo.optimize(net, problems, theta0, 10).losses
    cuda_problems = QuadraticProblems(problems.W.cuda(), problems.y.cuda())
    gpu = lo.optimize(net.cuda(), cuda_problems, theta0.cuda(), 10).losses
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, rtol=1e-3, atol=1e-4)
    trainer = lo.LSTMOptimizerTrainer(net, lambda g: QuadraticProblems.sample(4, 5, g, device="cuda"),
                                      horizon=10, unroll=5)
    assert math.isfinite(trainer.step(0)["loss"])
