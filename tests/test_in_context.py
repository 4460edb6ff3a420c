"""The in-context transformer: masks, order invariance, no leak from a query's own answer, and it learns."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.algorithms.in_context import InContextTransformer, in_context_mask, prefix_loss, prefix_visibility
from course_lib.data.linear_regression import linear_tasks
from course_lib.experiments.beyond import k_shot_errors, least_squares_predict, sinusoid_features


def _model(d=3, y=1, seed=0):
    torch.manual_seed(seed)
    return InContextTransformer(d, y, width=16, depth=2, heads=2)


def test_mask_layout():
    visible = torch.tensor([[True, False], [True, True], [False, True]])
    mask = in_context_mask(visible)
    assert mask.shape == (5, 5)
    assert torch.equal(mask[:2, :2], torch.tensor([[True, False], [True, True]]))  # context: causal
    assert not mask[:2, 2:].any()  # context never reads the queries
    assert torch.equal(mask[2:, :2], visible)
    assert torch.equal(mask[2:, 2:], torch.eye(3, dtype=torch.bool))  # queries read themselves only
    assert torch.equal(prefix_visibility(3), torch.tensor([[False, False, False], [True, False, False], [True, True, False]]))


def test_mask_rejects_non_boolean_visibility():
    with pytest.raises(ValueError, match="bool"):
        in_context_mask(torch.ones(2, 2))


def test_shapes_and_bad_inputs():
    model = _model()
    out = model(torch.randn(4, 5, 3), torch.randn(4, 5, 1), torch.randn(4, 7, 3))
    assert out.shape == (4, 7, 1)
    with pytest.raises(ValueError, match="expected x"):
        model(torch.randn(4, 5, 2), torch.randn(4, 5, 1), torch.randn(4, 7, 2))
    with pytest.raises(ValueError, match="same tasks"):
        model(torch.randn(4, 5, 3), torch.randn(3, 5, 1), torch.randn(4, 7, 3))
    with pytest.raises(ValueError, match="multiple"):
        InContextTransformer(2, 1, width=10, heads=4)


def test_queries_are_independent_of_each_other():
    model = _model()
    cx, cy, qx = torch.randn(2, 5, 3), torch.randn(2, 5, 1), torch.randn(2, 4, 3)
    together = model(cx, cy, qx)
    alone = torch.cat([model(cx, cy, qx[:, i : i + 1]) for i in range(4)], dim=1)
    assert torch.allclose(together, alone, atol=1e-5)


def test_prefix_prediction_ignores_its_own_and_later_answers():
    model = _model()
    x, y = torch.randn(2, 6, 3), torch.randn(2, 6, 1)
    before = model(x, y, x, visible=prefix_visibility(6))
    changed = y.clone()
    changed[:, 3:] += 10.0  # answers at positions 3, 4, 5
    after = model(x, changed, x, visible=prefix_visibility(6))
    assert torch.allclose(before[:, :4], after[:, :4], atol=1e-5)  # predictions 0..3 do not see y_3..
    assert not torch.allclose(before[:, 4:], after[:, 4:], atol=1e-3)


def test_prefix_loss_per_size_and_mean():
    model = _model()
    x, y = torch.randn(3, 5, 3), torch.randn(3, 5, 1)
    per_size = prefix_loss(model, x, y, reduce=False)
    assert per_size.shape == (5,)
    assert torch.isclose(per_size.mean(), prefix_loss(model, x, y))
    predictions = model(x, y, x, visible=prefix_visibility(5))
    assert torch.isclose(per_size[2], F.mse_loss(predictions[:, 2], y[:, 2]))


def test_classification_with_one_hot_labels():
    model = _model(d=4, y=3)
    cx, labels, qx = torch.randn(2, 6, 4), torch.randint(0, 3, (2, 6)), torch.randn(2, 5, 4)
    logits = model(cx, F.one_hot(labels, 3).float(), qx)
    assert logits.shape == (2, 5, 3)


def test_least_squares_is_exact_from_d_pairs_and_min_norm_below():
    x, y = linear_tasks(2000, 26, 3, torch.Generator().manual_seed(0))
    errors = k_shot_errors(least_squares_predict, x[:, :6], y[:, :6], x[:, 6:], y[:, 6:], range(6))
    assert sorted(errors) == list(range(6)) and errors[0].shape == (2000,)
    means = torch.stack([errors[k].mean() for k in range(6)])
    assert torch.all(means[3:] < 1e-4)  # noiseless: exact from d = 3 pairs on (float32 pinv)
    # minimum norm with k < d pairs: expected error d - k (w ~ N(0, I), x ~ N(0, I))
    assert torch.allclose(means[:3], torch.tensor([3.0, 2.0, 1.0]), rtol=0.1)


def test_sinusoid_oracle_is_exact_from_two_points():
    x = torch.rand(50, 25, 1) * 10 - 5
    y = 3.0 * torch.sin(x - 0.7)
    predict = lambda cx, cy, qx: least_squares_predict(cx, cy, qx, features=sinusoid_features)  # noqa: E731
    errors = k_shot_errors(predict, x[:, :5], y[:, :5], x[:, 5:], y[:, 5:], [1, 2, 5])
    assert errors[1].mean() > 0.1 and errors[2].max() < 1e-6 and errors[5].max() < 1e-6


def test_transformer_learns_linear_regression_in_context():
    model = _model(d=2, seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    x_test, y_test = linear_tasks(500, 6, 2, torch.Generator().manual_seed(1))
    with torch.no_grad():
        before = prefix_loss(model, x_test, y_test, reduce=False)
    for _ in range(300):
        x, y = linear_tasks(32, 6, 2, g)
        loss = prefix_loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = prefix_loss(model, x_test, y_test, reduce=False)
    assert after[4:].mean() < 0.5 * after[0]  # more examples in context: lower error
    assert after[4:].mean() < 0.5 * before[4:].mean()
