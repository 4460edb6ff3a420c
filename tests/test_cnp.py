"""Tests of the conditional neural process: shapes, invariances, likelihood, errors, learning."""

import math

import pytest
import torch

from course_lib.algorithms.cnp import CNP, cnp_loss, cnp_step, gaussian_nll, predict
from course_lib.data.sinusoid import SinusoidTaskFamily


def _model():
    torch.manual_seed(0)
    return CNP(hidden=16, representation_dim=8, encoder_layers=2, decoder_layers=1)


def test_shapes_and_std_floor():
    model = _model()
    mean, std = model(torch.randn(3, 5, 1), torch.randn(3, 5, 1), torch.randn(3, 7, 1))
    assert mean.shape == std.shape == (3, 7, 1)
    assert (std >= model.min_std).all()
    assert model.encode(torch.randn(3, 5, 1), torch.randn(3, 5, 1)).shape == (3, 8)


def test_support_order_does_not_matter_and_size_can_vary():
    model = _model()
    sx, sy, qx = torch.randn(2, 6, 1), torch.randn(2, 6, 1), torch.randn(2, 4, 1)
    perm = torch.randperm(6)
    a, _ = model(sx, sy, qx)
    b, _ = model(sx[:, perm], sy[:, perm], qx)
    assert torch.allclose(a, b, atol=1e-6)
    # a duplicated support set has the same mean representation
    c, _ = model(torch.cat([sx, sx], 1), torch.cat([sy, sy], 1), qx)
    assert torch.allclose(a, c, atol=1e-6)
    # different support sets give different predictions (the support is used)
    d, _ = model(sx, sy + 1.0, qx)
    assert not torch.allclose(a, d)


def test_queries_are_predicted_independently():
    model = _model()
    sx, sy, qx = torch.randn(1, 4, 1), torch.randn(1, 4, 1), torch.randn(1, 5, 1)
    full, _ = model(sx, sy, qx)
    single, _ = model(sx, sy, qx[:, 2:3])
    assert torch.allclose(full[:, 2:3], single, atol=1e-6)


def test_gaussian_nll_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mean, target = torch.randn(4, 3, 1, generator=g), torch.randn(4, 3, 1, generator=g)
    std = torch.rand(4, 3, 1, generator=g) + 0.1
    expected = -torch.distributions.Normal(mean, std).log_prob(target).mean()
    assert torch.allclose(gaussian_nll(mean, std, target), expected, atol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        gaussian_nll(mean, std, target[:, :2])


def test_bad_arguments():
    model = _model()
    with pytest.raises(ValueError, match="support_x must be"):
        model(torch.randn(5, 1), torch.randn(5, 1), torch.randn(3, 1))
    with pytest.raises(ValueError, match="same tasks and points"):
        model(torch.randn(2, 5, 1), torch.randn(2, 4, 1), torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match="at least one support point"):
        model(torch.randn(2, 0, 1), torch.randn(2, 0, 1), torch.randn(2, 3, 1))
    with pytest.raises(ValueError, match="query_x has 3 tasks"):
        model(torch.randn(2, 5, 1), torch.randn(2, 5, 1), torch.randn(3, 3, 1))
    with pytest.raises(ValueError, match="query_x must be"):
        model(torch.randn(2, 5, 1), torch.randn(2, 5, 1), torch.randn(2, 3, 2))
    with pytest.raises(ValueError, match="min_std"):
        CNP(min_std=-0.1)


def test_cnp_learns_sinusoids_from_their_support_sets():
    torch.manual_seed(0)
    # amplitudes vary a lot, phases little: a predictor that ignores the support set cannot do
    # better than about Var(A) / 2 = 1.0, one that reads the amplitude off the support set can
    family = SinusoidTaskFamily(phase=(0.0, 0.5))
    g = torch.Generator().manual_seed(0)
    model = CNP(hidden=32, representation_dim=32, encoder_layers=2, decoder_layers=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    test = family.sample_batch(200, 10, 20, torch.Generator().manual_seed(1))
    first_nll = cnp_loss(model, test).item()
    for _ in range(300):
        record = cnp_step(model, optimizer, family.sample_batch(16, 10, 10, g))
        assert math.isfinite(record["loss"]) and math.isfinite(record["mse"])
    mean, _ = predict(model, test.support_x, test.support_y, test.query_x)
    mse = (mean - test.query_y).pow(2).mean().item()
    assert cnp_loss(model, test).item() < first_nll
    assert mse < 0.6
