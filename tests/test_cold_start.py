"""Entity bootstrap, paired comparison, cold-start curve and its plot, against direct computations."""

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_lib.cold_start import (cold_start_curve, entity_bootstrap, paired_entity_bootstrap,  # noqa: E402
                                   plot_cold_start, rank_scores, weighted_accuracy, weighted_auc)


def pairwise_auc(scores, labels):
    pos = [s for s, y in zip(scores, labels) if y == 1]
    neg = [s for s, y in zip(scores, labels) if y == 0]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def make_rows(n_entities=60, per_entity=8, seed=0):
    """Rows of entities whose own level shifts all their labels: rows of one entity are correlated."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(n_entities) * 7 + 3, per_entity)          # ids need not be 0..n-1
    level = rng.normal(0, 1.5, n_entities)[np.repeat(np.arange(n_entities), per_entity)]
    signal = rng.normal(size=groups.size)
    labels = (rng.random(groups.size) < 1 / (1 + np.exp(-(level + signal)))).astype(float)
    good = 1 / (1 + np.exp(-(level + signal)))
    weak = 1 / (1 + np.exp(-(0.3 * signal + rng.normal(size=groups.size))))
    return groups, labels, good, weak


def test_weighted_auc_equals_pairwise_auc_with_ties_and_repeated_rows():
    scores = np.array([0.1, 0.4, 0.4, 0.35, 0.8, 0.8, 0.2])
    labels = np.array([0, 0, 1, 1, 1, 0, 0])
    assert weighted_auc(np.ones(7), scores, labels) == pytest.approx(pairwise_auc(scores, labels))
    weights = np.array([2, 0, 1, 3, 1, 1, 0])                                  # weight = row repeated that often
    repeated = np.repeat(np.arange(7), weights)
    assert weighted_auc(weights, scores, labels) == pytest.approx(pairwise_auc(scores[repeated], labels[repeated]))
    assert weighted_auc(weights, rank_scores(scores), labels) == pytest.approx(weighted_auc(weights, scores, labels))
    assert np.isnan(weighted_auc(np.ones(3), np.array([0.1, 0.2, 0.3]), np.ones(3)))


def test_weighted_accuracy_thresholds_probabilities_at_one_half_inclusive():
    probs, labels = np.array([0.9, 0.6, 0.4, 0.2, 0.5]), np.array([1, 0, 0, 1, 1])
    assert weighted_accuracy(np.ones(5), probs, labels) == 0.6                  # 1/2 counts as predicting 1
    assert weighted_accuracy(np.array([3, 0, 1, 0, 0]), probs, labels) == 1.0


def test_entity_bootstrap_resamples_whole_entities():
    groups, labels, good, _ = make_rows()
    seen = []

    def metric(weights, scores, labels):
        seen.append(weights.copy())
        return weighted_auc(weights, scores, labels)

    out = entity_bootstrap(metric, groups, good, labels, n_boot=200, seed=1)
    assert out["value"] == pytest.approx(pairwise_auc(good, labels))          # point estimate: all weights one
    assert np.all(seen[0] == 1)
    for w in seen[1:]:
        assert w.sum() == groups.size                                          # as many entities as there are
        for g in np.unique(groups):                                            # one weight per entity
            assert np.unique(w[groups == g]).size == 1
    assert out["low"] < out["value"] < out["high"]
    again = entity_bootstrap(weighted_auc, groups, good, labels, n_boot=200, seed=1)
    assert again == out                                                        # seeded


def test_entity_interval_is_wider_than_a_row_bootstrap_on_correlated_rows():
    groups, labels, _, _ = make_rows(n_entities=80, per_entity=10)
    rate = lambda w, y: float((w * y).sum() / w.sum())  # noqa: E731
    by_entity = entity_bootstrap(rate, groups, labels, n_boot=400)
    by_row = entity_bootstrap(rate, np.arange(groups.size), labels, n_boot=400)
    assert by_entity["high"] - by_entity["low"] > 1.5 * (by_row["high"] - by_row["low"])


def test_paired_bootstrap_is_narrower_than_the_unpaired_intervals_and_finds_the_better_method():
    groups, labels, good, weak = make_rows(n_entities=100)
    paired = paired_entity_bootstrap(weighted_auc, groups, (good, labels), (weak, labels), n_boot=300)
    a = entity_bootstrap(weighted_auc, groups, good, labels, n_boot=300)
    b = entity_bootstrap(weighted_auc, groups, weak, labels, n_boot=300)
    assert paired["diff"] == pytest.approx(a["value"] - b["value"])
    assert paired["low"] > 0 and paired["p_a_better"] > 0.99
    same = paired_entity_bootstrap(weighted_auc, groups, (good, labels), (good, labels), n_boot=50)
    assert same["diff"] == 0 and same["low"] == same["high"] == 0 and same["p_a_better"] == 0.5
    flipped = paired_entity_bootstrap(weighted_auc, groups, (weak, labels), (good, labels), n_boot=300)
    assert flipped["high"] < 0 and flipped["p_a_better"] < 0.01


def test_bootstrap_rejects_mismatched_rows_and_too_few_draws():
    groups, labels, good, _ = make_rows()
    with pytest.raises(ValueError, match="rows but groups has"):
        entity_bootstrap(weighted_auc, groups, good[:-1], labels)
    with pytest.raises(ValueError, match="at least 10"):
        entity_bootstrap(weighted_auc, groups, good, labels, n_boot=5)


def test_cold_start_curve_regroups_by_method_and_metric_in_the_order_of_ks():
    calls = []

    def evaluate(k):
        calls.append(k)
        return {"a": {"auc": {"value": 0.5 + k / 100, "low": 0.4, "high": 0.7}, "acc": {"value": 0.6, "low": 0.5,
                                                                                          "high": 0.7}},
                "b": {"auc": {"value": 0.55, "low": 0.5, "high": 0.6}}}

    curve = cold_start_curve(evaluate, [0, 5, 1])
    assert calls == [0, 5, 1]
    assert [p["k"] for p in curve["a"]["auc"]] == [0, 5, 1]
    assert curve["a"]["auc"][1] == {"k": 5, "value": 0.55, "low": 0.4, "high": 0.7}
    assert set(curve) == {"a", "b"} and set(curve["b"]) == {"auc"}


def test_plot_cold_start_bands_only_where_asked_and_legend_outside():
    curve = {m: {"auc": [{"k": k, "value": 0.6 + 0.01 * k + d, "low": 0.55 + d, "high": 0.8 + d} for k in (0, 1, 5)]}
             for m, d in (("x", 0.0), ("y", 0.02), ("z", 0.04))}
    fig, ax = plt.subplots()
    plot_cold_start(curve, "auc", ax=ax, methods=["x", "y"], bands=["y"], reference={"chance": 0.5})
    assert [line.get_label() for line in ax.get_lines()] == ["x", "y", "chance"]
    assert len(ax.collections) == 1                                             # one band: y's
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1                               # never over the points
    plt.close(fig)
    fig, ax = plt.subplots()
    plot_cold_start(curve, "auc", ax=ax)
    assert len(ax.get_lines()) == 3 and len(ax.collections) == 3
    plt.close(fig)
