"""Metrics against hand-computed values."""

import itertools
import math

import numpy as np
import pytest
import torch

from course_lib.metrics import accuracy, mean_ci, mse, roc_auc, t_quantile


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


@pytest.mark.parametrize(
    "p, df, expected",
    [
        (0.975, 1, 12.7062),  # tables of Student's t (two-sided 95 %)
        (0.975, 2, 4.3027),
        (0.975, 4, 2.7764),
        (0.975, 9, 2.2622),
        (0.975, 29, 2.0452),
        (0.975, 120, 1.9799),
        (0.995, 5, 4.0321),
        (0.95, 10, 1.8125),
    ],
)
def test_t_quantile_against_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-4)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-4)  # symmetric


def test_t_quantile_closed_forms_and_normal_limit():
    for p in (0.6, 0.9, 0.975, 0.999):
        assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)  # Cauchy
        assert t_quantile(p, 2) == pytest.approx((2 * p - 1) / math.sqrt(2 * p * (1 - p)), rel=1e-9)
    assert t_quantile(0.975, 10**7) == pytest.approx(1.959964, abs=1e-6)
    # exact branch (df <= 1000) and expansion branch (df > 1000) agree at the switch
    assert t_quantile(0.975, 1000) == pytest.approx(t_quantile(0.975, 1000 + 1e-6), abs=1e-9)
    values = [t_quantile(0.975, df) for df in (1, 2, 5, 30, 1000, 10**5)]
    assert values == sorted(values, reverse=True) and values[-1] > 1.959963
    with pytest.raises(ValueError, match="p must be"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="degrees of freedom"):
        t_quantile(0.975, 0)


def test_mean_ci_hand_computed():
    mean, half = mean_ci([1.0, 2.0, 3.0])  # std (n-1) = 1, Student t with 2 degrees of freedom
    assert mean == 2.0
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)
    mean, half = mean_ci(torch.tensor([0.9, 1.0, 0.8, 1.0]))
    assert mean == pytest.approx(0.925)
    assert half == pytest.approx(3.182446 * np.std([0.9, 1.0, 0.8, 1.0], ddof=1) / 2, rel=1e-6)
    many = np.random.default_rng(0).normal(size=5000)  # large n: the normal 1.96 of few-shot papers
    assert mean_ci(many)[1] == pytest.approx(1.96 * many.std(ddof=1) / math.sqrt(5000), rel=1e-3)
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
