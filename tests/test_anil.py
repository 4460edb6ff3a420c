"""ANIL = MAML's meta-loss with the head's partial parameter dict handed to the shared inner loop."""

import torch
import torch.nn.functional as F
import pytest
from torch.func import functional_call

from course_lib.adaptation import adapt
from course_lib.data.episodes import EpisodeSampler
from course_lib.experiments import beyond
from course_lib.nets import Conv4, params_of

CFG = dict(inner_lr=0.4, inner_steps=2)


def _setup(seed=0):
    torch.manual_seed(seed)
    model = Conv4(3, hidden=8, pooling="stride").double()
    images = torch.rand(6, 4, 28, 28, generator=torch.Generator().manual_seed(seed))
    batch = EpisodeSampler(images, 3, 1, 2, seed=seed).sample_batch(2)
    batch = type(batch)(batch.support_x.double(), batch.support_y, batch.query_x.double(), batch.query_y)
    return model, batch


def test_head_params_are_the_final_layer_only():
    model, _ = _setup()
    assert sorted(beyond.head_params(model)) == ["head.bias", "head.weight"]


def test_anil_meta_loss_equals_a_hand_written_head_only_inner_loop():
    model, batch = _setup()
    loss = beyond.gbml_meta_loss("anil", model, batch, CFG)
    expected = []
    for i in range(2):
        w, b = model.head.weight, model.head.bias
        for _ in range(CFG["inner_steps"]):
            logits = functional_call(model, {"head.weight": w, "head.bias": b}, (batch.support_x[i],))
            gw, gb = torch.autograd.grad(F.cross_entropy(logits, batch.support_y[i]), (w, b), create_graph=True)
            w, b = w - CFG["inner_lr"] * gw, b - CFG["inner_lr"] * gb
        query = functional_call(model, {"head.weight": w, "head.bias": b}, (batch.query_x[i],))
        expected.append(F.cross_entropy(query, batch.query_y[i]))
    assert torch.allclose(loss, torch.stack(expected).mean())
    got = torch.autograd.grad(loss, list(model.parameters()))
    ref = torch.autograd.grad(torch.stack(expected).mean(), list(model.parameters()))
    for g, r in zip(got, ref):
        assert torch.allclose(g, r, atol=1e-10)


def test_anil_meta_gradient_reaches_the_body_and_differs_from_maml():
    model, batch = _setup(1)
    names = list(params_of(model))
    anil = dict(zip(names, torch.autograd.grad(beyond.gbml_meta_loss("anil", model, batch, CFG), list(model.parameters()))))
    maml = dict(zip(names, torch.autograd.grad(beyond.gbml_meta_loss("maml", model, batch, CFG), list(model.parameters()))))
    assert anil["encoder.0.conv.weight"].abs().sum() > 0  # the body is meta-trained too
    assert not torch.allclose(anil["encoder.0.conv.weight"], maml["encoder.0.conv.weight"])


def test_anil_adaptation_leaves_the_body_unchanged():
    model, batch = _setup(2)
    with torch.no_grad():
        phi = adapt(model, beyond.head_params(model), batch.support_x[0], batch.support_y[0],
                    loss_fn=F.cross_entropy, steps=3, update=0.4)
    assert sorted(phi) == ["head.bias", "head.weight"]
    assert not torch.allclose(phi["head.weight"], model.head.weight)


def test_unknown_method_is_rejected():
    model, batch = _setup()
    with pytest.raises(ValueError, match="method must be one of"):
        beyond.gbml_meta_loss("reptile", model, batch, CFG)


def test_gbml_scorer_gives_scores_per_query_and_class():
    model, batch = _setup()
    for method in beyond.GBML_METHODS:
        scores = beyond.gbml_scorer(method, model.float(), steps=1, inner_lr=0.4)(
            batch.support_x[0].float(), batch.support_y[0], batch.query_x[0].float(), 3)
        assert scores.shape == (6, 3)
