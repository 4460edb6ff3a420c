"""Metrics against hand-computed values."""

import itertools
import math

import numpy as np
import pytest
import torch

from course_lib.metrics import accuracy, mean_ci, mse, roc_auc


def pairwise_auc(scores, labels):
    """Definition of the AUC: P(score of a positive > score of a negative), ties counting 1/2."""
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [4.0, 0.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 2])
    assert accuracy(logits, labels) == 0.5
    assert accuracy(torch.tensor([0, 1, 1, 0]), labels) == 0.75  # already argmaxed predictions
    assert accuracy(logits[None], labels[None]) == 0.5  # task dimension in front
    assert isinstance(accuracy(logits, labels), float)
    with pytest.raises(ValueError, match="same leading shape"):
        accuracy(logits, labels[:3])


def test_mean_ci_hand_computed():
    mean, half = mean_ci([1.0, 2.0, 3.0])  # std (n-1) = 1
    assert mean == 2.0
    assert half == pytest.approx(1.959964 / math.sqrt(3), rel=1e-5)
    mean, half = mean_ci(torch.tensor([0.9, 1.0, 0.8, 1.0]))
    assert mean == pytest.approx(0.925)
    assert half == pytest.approx(1.959964 * np.std([0.9, 1.0, 0.8, 1.0], ddof=1) / 2, rel=1e-5)
    assert mean_ci([1.0, 2.0, 3.0], confidence=0.99)[1] > mean_ci([1.0, 2.0, 3.0])[1]
    assert mean_ci([5.0, 5.0, 5.0]) == (5.0, 0.0)
    assert mean_ci([torch.tensor(1.0), torch.tensor(2.0), torch.tensor(3.0)]) == mean_ci([1.0, 2.0, 3.0])


def test_mean_ci_edge_cases():
    mean, half = mean_ci([0.7])
    assert mean == 0.7 and math.isnan(half)
    with pytest.raises(ValueError, match="at least one value"):
        mean_ci([])
    with pytest.raises(ValueError, match="non-finite"):
        mean_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([1.0, 2.0], confidence=95)


def test_mse():
    assert mse(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 0.0, 6.0])) == pytest.approx((0 + 4 + 9) / 3)
    with pytest.raises(ValueError, match="same shape"):
        mse(torch.zeros(4, 1), torch.zeros(4))


@pytest.mark.parametrize(
    "scores, labels, expected",
    [
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),  # one discordant pair out of four
        ([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1], 1.0),
        ([0.4, 0.3, 0.2, 0.1], [0, 0, 1, 1], 0.0),
        ([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1], 0.5),  # all tied
        ([1.0, 2.0, 2.0, 3.0], [0, 1, 0, 1], 0.875),  # pairs: 1 + 1/2 + 1 + 1 out of 4
        ([3.0, 1.0, 2.0, 2.0, 2.0], [1, 0, 0, 1, 1], 5 / 6),  # pos {3,2,2} vs neg {1,2}: (2 + 1.5 + 1.5) / 6
    ],
)
def test_roc_auc_hand_computed(scores, labels, expected):
    assert roc_auc(scores, labels) == pytest.approx(expected)
    assert roc_auc(torch.tensor(scores), torch.tensor(labels, dtype=torch.bool)) == pytest.approx(expected)


def test_roc_auc_matches_pairwise_definition_with_many_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(2, 40))
        scores = rng.integers(0, 5, n).astype(float)  # few distinct values -> many ties
        labels = rng.integers(0, 2, n)
        if labels.min() == labels.max():
            labels[0] = 1 - labels[0]
        assert roc_auc(scores, labels) == pytest.approx(pairwise_auc(scores, labels))


def test_roc_auc_errors():
    with pytest.raises(ValueError, match="needs both classes.*all 3 labels are positives"):
        roc_auc([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match="negatives"):
        roc_auc([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="0/1"):
        roc_auc([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(ValueError, match="NaN"):
        roc_auc([0.1, float("nan")], [0, 1])
    with pytest.raises(ValueError, match="same number"):
        roc_auc([0.1, 0.2], [0, 1, 1])
