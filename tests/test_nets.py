"""Networks: shapes, functional calls, gradient flow through parameter dicts, BatchNorm without state."""

import pytest
import torch
from torch import nn

from course_lib.nets import MLP, Conv4, count_parameters, functional_forward, params_of, reset_head


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("pooling", ["max", "stride"])
def test_conv4_shapes_on_omniglot_sized_images(pooling):
    model = Conv4(5, pooling=pooling)
    x = torch.rand(3, 1, 28, 28)
    assert model(x).shape == (3, 5)
    assert model.features(x).shape == (3, 64)
    assert Conv4(None, hidden=32, pooling=pooling)(x).shape == (3, 32)  # features only


def test_conv4_layers_follow_the_papers():
    convs = [m for m in Conv4(5).modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(c.kernel_size == (3, 3) and c.out_channels == 64 for c in convs)
    assert all(c.stride == (1, 1) for c in convs)
    assert all(c.stride == (2, 2) for c in Conv4(5, pooling="stride").modules() if isinstance(c, nn.Conv2d))
    pools = [m for m in Conv4(5).modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 4
    # stride variant on 28x28: 28 -> 14 -> 7 -> 4 -> 2 before the spatial average
    assert Conv4(5, pooling="stride").encoder(torch.rand(2, 1, 28, 28)).shape == (2, 64, 2, 2)
    assert Conv4(5).encoder(torch.rand(2, 1, 28, 28)).shape == (2, 64, 1, 1)


def test_conv_block_pools_before_relu_with_identical_outputs_and_gradients():
    block = Conv4(None).encoder[1]
    x = torch.randn(6, 64, 14, 14, requires_grad=True)
    textbook = block.pool(torch.relu(block.bn(block.conv(x))))  # the order the papers write
    (g_textbook,) = torch.autograd.grad(textbook.square().sum(), x)
    ours = block(x)
    (g_ours,) = torch.autograd.grad(ours.square().sum(), x)
    assert torch.equal(ours, textbook)
    assert torch.allclose(g_ours, g_textbook, atol=1e-6)


@pytest.mark.parametrize("make", [lambda: Conv4(5), lambda: Conv4(3, pooling="stride"), lambda: MLP()])
def test_functional_call_with_own_params_equals_forward(make):
    model = make()
    x = torch.rand(6, 1, 28, 28) if isinstance(model, Conv4) else torch.randn(6, 1)
    assert torch.allclose(functional_forward(model, params_of(model), x), model(x), atol=1e-6)


def test_params_of_returns_the_live_parameters():
    model = MLP()
    params = params_of(model)
    assert list(params) == [n for n, _ in model.named_parameters()]
    assert all(p is q for p, q in zip(params.values(), model.parameters()))


def test_gradients_flow_to_a_params_dict_and_through_an_inner_step():
    model = Conv4(4, hidden=8)
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 4, (8,))
    params = {k: v.detach().clone().requires_grad_() for k, v in params_of(model).items()}
    loss = nn.functional.cross_entropy(functional_forward(model, params, x), y)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    assert all(g is not None and g.abs().sum() > 0 for g in grads)
    assert all(p.grad is None for p in model.parameters())  # the module itself was not touched
    # one differentiable inner step, then a query loss: the meta-gradient reaches the initial params
    fast = {k: p - 0.1 * g for (k, p), g in zip(params.items(), grads)}
    query_loss = nn.functional.cross_entropy(functional_forward(model, fast, x), y)
    meta_grads = torch.autograd.grad(query_loss, list(params.values()))
    assert all(g.abs().sum() > 0 for g in meta_grads)
    # the second-order term is present: differs from the first-order approximation
    fast_detached = {k: v.detach().requires_grad_() for k, v in fast.items()}
    fo_loss = nn.functional.cross_entropy(functional_forward(model, fast_detached, x), y)
    first_order = torch.autograd.grad(fo_loss, list(fast_detached.values()))
    assert not all(torch.allclose(a, b, atol=1e-6) for a, b in zip(meta_grads, first_order))


def test_vmap_over_tasks_matches_a_loop():
    model = Conv4(5, hidden=8)
    params = params_of(model)
    x = torch.rand(3, 5, 1, 28, 28)  # [tasks, N*K, 1, H, W]
    y = torch.randint(0, 5, (3, 5))
    batched = torch.func.vmap(lambda xi: functional_forward(model, params, xi))(x)
    assert torch.allclose(batched, torch.stack([model(xi) for xi in x]), atol=1e-6)

    def loss(p, xi, yi):
        return nn.functional.cross_entropy(functional_forward(model, p, xi), yi)

    per_task = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0, 0))(params, x, y)
    one = torch.func.grad(loss)(params, x[1], y[1])
    assert all(torch.allclose(per_task[k][1], one[k], atol=1e-5) for k in params)


def test_partial_params_dict_replaces_only_those():
    model = MLP((1, 8, 2))
    zero_head = {"head.weight": torch.zeros(2, 8), "head.bias": torch.tensor([1.0, -1.0])}
    out = functional_forward(model, zero_head, torch.randn(5, 1))
    assert torch.equal(out, torch.tensor([[1.0, -1.0]]).expand(5, 2))


def test_batchnorm_has_no_running_stats_train_equals_eval():
    model = Conv4(5, hidden=16)
    assert len(list(model.buffers())) == 0
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 4 and not any(bn.track_running_stats for bn in bns)
    x = torch.rand(6, 1, 28, 28)
    model.train()
    a = functional_forward(model, params_of(model), x)
    model.eval()
    b = functional_forward(model, params_of(model), x)
    assert torch.allclose(a, b, atol=1e-6) and torch.allclose(model(x), a, atol=1e-6)


def test_mlp_defaults_and_input_check():
    model = MLP()
    assert model.sizes == (1, 40, 40, 1)
    assert count_parameters(model) == (1 * 40 + 40) + (40 * 40 + 40) + (40 + 1)
    assert model(torch.randn(9, 1)).shape == (9, 1)
    assert isinstance(MLP(activation=nn.Tanh).body[1], nn.Tanh)
    with pytest.raises(ValueError, match=r"unsqueeze\(-1\)"):
        model(torch.randn(9))
    with pytest.raises(ValueError, match="at least an input and an output"):
        MLP((3,))


def test_conv4_input_checks():
    with pytest.raises(ValueError, match=r"unsqueeze\(1\)"):
        Conv4(5)(torch.rand(4, 28, 28))
    with pytest.raises(ValueError, match="pooling"):
        Conv4(5, pooling="avg")
    with pytest.raises(ValueError, match="num_classes"):
        Conv4(0)


def test_reset_head():
    model = Conv4(5)
    weight = model.head.weight
    reset_head(model, zero=True)
    assert model.head.weight is weight and weight.abs().sum() == 0  # in place: optimizers stay valid
    a = reset_head(Conv4(5), generator=torch.Generator().manual_seed(1)).weight.clone()
    b = reset_head(Conv4(5), generator=torch.Generator().manual_seed(1)).weight.clone()
    assert torch.equal(a, b) and a.abs().max() <= 1 / 64**0.5
    reset_head(model)
    assert model.head.weight.abs().sum() > 0
    new = reset_head(model, num_classes=20)
    assert model.head is new and model(torch.rand(2, 1, 28, 28)).shape == (2, 20)
    with pytest.raises(ValueError, match="no linear `head`"):
        reset_head(nn.Linear(2, 2))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_functional_call_on_cuda():
    model = Conv4(5).cuda()
    x = torch.rand(4, 1, 28, 28, device="cuda")
    assert torch.allclose(functional_forward(model, params_of(model), x), model(x), atol=1e-5)
    reset_head(model, generator=torch.Generator().manual_seed(0))
    assert model.head.weight.is_cuda
