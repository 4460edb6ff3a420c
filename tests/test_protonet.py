import pytest
import torch
from _fewshot_data import blob_classes, mlp_encoder

from course_lib.experiments.metric_training import to_training_device, train_episodic
from course_lib.experiments.one_shot_eval import evaluate_episodes, pixel_scorer
from course_lib.algorithms.protonet import (
    ProtoNet,
    cosine_similarity,
    linear_head_from_prototypes,
    linear_scores,
    proto_scores,
    protomaml_adapt,
    prototypes,
    squared_euclidean,
)
from course_lib.data.episodes import EpisodeSampler
from course_lib.nets import Conv4


def test_prototypes_are_class_means_in_any_order():
    emb = torch.tensor([[0.0, 0.0], [10.0, 0.0], [2.0, 2.0], [0.0, 10.0], [10.0, 4.0]])
    labels = torch.tensor([0, 1, 0, 2, 1])
    protos = prototypes(emb, labels, 3)
    assert torch.allclose(protos, torch.tensor([[1.0, 1.0], [10.0, 2.0], [0.0, 10.0]]))


@pytest.mark.parametrize(
    "labels, n_way, message",
    [
        (torch.tensor([0, 0, 1]), 3, "no support example"),
        (torch.tensor([0, 1, 3]), 3, "0..2"),
        (torch.tensor([0.0, 1.0, 2.0]), 3, "integer"),
        (torch.tensor([0, 1]), 2, r"\[N\*K\]"),
    ],
)
def test_prototypes_reject_bad_labels(labels, n_way, message):
    with pytest.raises(ValueError, match=message):
        prototypes(torch.randn(3, 4), labels, n_way)


def test_distances_match_definitions():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(7, 5, generator=g), torch.randn(3, 5, generator=g)
    expected = torch.stack([torch.stack([((a - b) ** 2).sum() for b in y]) for a in x])
    assert torch.allclose(squared_euclidean(x, y), expected, atol=1e-5)
    cos = torch.nn.functional.cosine_similarity(x[:, None], y[None], dim=-1)
    assert torch.allclose(cosine_similarity(x, y), cos, atol=1e-6)
    with pytest.raises(ValueError, match="same D"):
        squared_euclidean(x, torch.randn(3, 4))
    with pytest.raises(ValueError, match="metric"):
        proto_scores(x, y, metric="manhattan")


def test_mean_minimises_the_summed_squared_distance():
    """Bregman view: the class mean is the optimal single representative."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(9, 4, generator=g)
    c = z.mean(0, keepdim=True).requires_grad_(True)
    total = squared_euclidean(z, c).sum()
    (grad,) = torch.autograd.grad(total, c)
    assert grad.abs().max() < 1e-5
    for _ in range(20):
        other = c.detach() + 0.1 * torch.randn(1, 4, generator=g)
        assert squared_euclidean(z, other).sum() > total.detach()


def test_protonet_is_a_linear_classifier():
    g = torch.Generator().manual_seed(2)
    support, labels = torch.randn(15, 6, generator=g), torch.arange(5).repeat_interleave(3)
    query = torch.randn(11, 6, generator=g)
    protos = prototypes(support, labels, 5)
    weight, bias = linear_head_from_prototypes(protos)
    assert torch.allclose(weight, 2 * protos) and torch.allclose(bias, -(protos**2).sum(1))
    lin = linear_scores(query, weight, bias)
    dist = proto_scores(query, protos)
    # they differ by -||z||^2, the same for every class of a query ...
    assert torch.allclose(lin - dist, (query**2).sum(1, keepdim=True).expand(-1, 5), atol=1e-4)
    # ... so the softmax (and the argmax) are identical
    assert torch.allclose(lin.softmax(1), dist.softmax(1), atol=1e-5)
    assert torch.equal(lin.argmax(1), dist.argmax(1))
    # the equivalence does not hold for the cosine "distance"
    assert not torch.allclose(linear_scores(query, weight, bias).softmax(1),
                              proto_scores(query, protos, "cosine").softmax(1), atol=1e-2)


@pytest.mark.parametrize("metric", ["sqeuclidean", "cosine"])
def test_protonet_learns_blob_classes(metric):
    torch.manual_seed(0)
    images = blob_classes(num_classes=40, seed=0)
    train, test = images[:30], images[30:]
    model = ProtoNet(mlp_encoder(), metric=metric)
    before = evaluate_episodes(model, test, 5, 1, n_episodes=50, progress=False).mean
    sampler = EpisodeSampler(train, n_way=5, k_shot=1, q_query=5, seed=0)
    history = train_episodic(model, sampler, 150, lr=5e-3, progress=False)
    after = evaluate_episodes(model, test, 5, 1, n_episodes=50, progress=False).mean
    pixels = evaluate_episodes(pixel_scorer(), test, 5, 1, n_episodes=50, progress=False).mean
    assert history.last("loss", 30) < history.records["loss"][0]
    assert after > 0.85, (before, after)
    assert after > pixels + 0.25 and after > before + 0.2, (before, after, pixels)


def test_training_device_on_cpu_is_channels_last_with_the_same_scores():
    torch.manual_seed(0)
    model = ProtoNet(Conv4(None, hidden=16))
    ep = EpisodeSampler(torch.rand(8, 4, 28, 28), 5, 1, 2, seed=0).sample()
    with torch.no_grad():
        before = model(ep.support_x, ep.support_y, ep.query_x, 5)
        assert to_training_device(model, "cpu") is model
        after = model(ep.support_x, ep.support_y, ep.query_x, 5)
    convs = [m.weight for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not convs[1].is_contiguous()  # really re-laid out (the default layout is not channels-last)
    assert torch.allclose(after, before, atol=1e-4, rtol=1e-4)


def test_protomaml_starts_at_protonet_and_lowers_support_loss():
    torch.manual_seed(0)
    model = ProtoNet(mlp_encoder())
    ep = EpisodeSampler(blob_classes(), 5, 2, 3, seed=3).sample()
    logits0, _ = protomaml_adapt(model, ep.support_x, ep.support_y, ep.query_x, 5, steps=0)
    with torch.no_grad():
        proto = model(ep.support_x, ep.support_y, ep.query_x, 5)
    assert torch.allclose(logits0.softmax(1), proto.softmax(1), atol=1e-5)
    _, losses = protomaml_adapt(model, ep.support_x, ep.support_y, ep.query_x, 5, steps=10, inner_lr=0.01)
    assert losses[-1] < losses[0]
    _, losses_enc = protomaml_adapt(model, ep.support_x, ep.support_y, ep.query_x, 5, steps=10, inner_lr=0.01,
                                    adapt_encoder=True)
    assert losses_enc[-1] < losses_enc[0]
    with pytest.raises(ValueError, match="steps"):
        protomaml_adapt(model, ep.support_x, ep.support_y, ep.query_x, 5, steps=-1)


def test_protomaml_step_zero_matches_protonet_with_batchnorm():
    from course_lib.nets import Conv4

    torch.manual_seed(0)
    model = ProtoNet(Conv4(None, hidden=8))
    g = torch.Generator().manual_seed(0)
    sx, qx = torch.rand(6, 1, 16, 16, generator=g), torch.rand(4, 1, 16, 16, generator=g)
    sy = torch.tensor([0, 0, 1, 1, 2, 2])
    logits0, _ = protomaml_adapt(model, sx, sy, qx, 3, steps=0)
    with torch.no_grad():
        assert torch.allclose(logits0.softmax(1), model(sx, sy, qx, 3).softmax(1), atol=1e-5)
    logits, losses = protomaml_adapt(model, sx, sy, qx, 3, steps=3, inner_lr=0.05, adapt_encoder=True)
    assert logits.shape == (4, 3) and losses[-1] < losses[0]


def test_protomaml_is_differentiable_through_the_inner_loop():
    torch.manual_seed(0)
    model = ProtoNet(mlp_encoder())
    ep = EpisodeSampler(blob_classes(), 5, 1, 3, seed=4).sample()
    logits, _ = protomaml_adapt(model, ep.support_x, ep.support_y, ep.query_x, 5, steps=2, inner_lr=0.1,
                                create_graph=True)
    loss = torch.nn.functional.cross_entropy(logits, ep.query_y)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads) and sum(g.abs().sum() for g in grads) > 0


def test_protonet_rejects_bad_settings():
    with pytest.raises(ValueError, match="metric"):
        ProtoNet(mlp_encoder(), metric="l1")
    with pytest.raises(ValueError, match="scale"):
        ProtoNet(mlp_encoder(), scale=0.0)
