"""Similarity of a layer's activations before and after adaptation: CCA and cosine."""

import pytest
import torch

from course_lib.analysis.representation_change import layer_activations, mean_cca, mean_cosine, representation_change
from course_lib.nets import Conv4, params_of


def test_cca_is_invariant_to_invertible_linear_maps_and_low_for_noise():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(300, 5, generator=g)
    assert mean_cca(a, a @ torch.randn(5, 5, generator=g) + 3.0) == pytest.approx(1.0, abs=1e-6)
    assert mean_cca(a, torch.randn(300, 5, generator=g)) < 0.25
    half = torch.cat([a[:, :2], torch.randn(300, 2, generator=g)], dim=1)
    assert mean_cca(a, half) == pytest.approx(0.5, abs=0.15)  # 2 of 4 directions shared


def test_cca_needs_more_samples_than_features_and_some_variance():
    with pytest.raises(ValueError, match="more samples"):
        mean_cca(torch.randn(4, 6), torch.randn(4, 6))
    with pytest.raises(ValueError, match="constant"):
        mean_cca(torch.ones(10, 2), torch.randn(10, 2))
    with pytest.raises(ValueError, match="same samples"):
        mean_cca(torch.randn(10, 2), torch.randn(9, 2))


def test_cosine_is_one_for_scaled_copies_and_minus_one_for_negatives():
    a = torch.randn(20, 4)
    assert mean_cosine(a, 2 * a) == pytest.approx(1.0)
    assert mean_cosine(a, -a) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="same shape"):
        mean_cosine(a, torch.randn(20, 3))


def test_layer_activations_flatten_positions_into_samples():
    torch.manual_seed(0)
    model = Conv4(3, hidden=8, pooling="stride")
    layers = {"block1": model.encoder[0], "head": model.head}
    acts = layer_activations(model, params_of(model), torch.randn(5, 1, 28, 28), layers)
    assert acts["block1"].shape == (5 * 14 * 14, 8) and acts["head"].shape == (5, 3)
    assert not model.encoder[0]._forward_hooks  # hooks removed


def test_unchanged_parameters_give_similarity_one_and_a_changed_head_only_changes_the_head():
    torch.manual_seed(0)
    model = Conv4(3, hidden=8, pooling="stride")
    before = {n: p.detach() for n, p in params_of(model).items()}
    after = dict(before, **{"head.weight": before["head.weight"] + torch.randn_like(before["head.weight"])})
    layers = {"block4": model.encoder[3], "head": model.head}
    change = representation_change(model, before, after, torch.randn(40, 1, 28, 28), layers)
    assert change["block4"]["cosine"] == pytest.approx(1.0) and change["block4"]["cca"] == pytest.approx(1.0, abs=1e-6)
    assert change["head"]["cosine"] < 0.99


def test_cosine_counts_two_zero_vectors_as_identical():
    a = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    assert mean_cosine(a, a.clone()) == pytest.approx(1.0)
    assert mean_cosine(a, torch.tensor([[1.0, 0.0], [1.0, 0.0]])) == pytest.approx(0.5)
