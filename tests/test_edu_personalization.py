"""IRT recovers known truth; MAML/Reptile/prototypes personalise; evaluation; another dataset in the same format."""

import numpy as np
import pytest
import torch

from course_lib.data.assistments import load_kt_splits
from course_lib.edu.baselines import SkillRateBaseline, fine_tune_ability, fit_from_scratch, fit_global_irt
from course_lib.edu.dkt import DKT
from course_lib.edu.dkvmn import DKVMN
from course_lib.edu.evaluation import cold_start_evaluation, compare_methods, kt_metrics, predict_sequences
from course_lib.edu.personalized import (ColdStartSampler, PersonalizedStudentModel, maml_train, reptile_predict,
                                         reptile_train)
from course_lib.edu.prototypes import PrototypeStudents
from course_lib.edu.simulated import simulate_irt, to_three_line
from course_lib.edu.splits import cold_start_view
from course_lib.edu.student_model import student_logits
from course_lib.metrics import roc_auc


@pytest.fixture(scope="module")
def rasch():
    torch.manual_seed(0)
    train, ability, difficulty = simulate_irt(300, 5, 30, torch.Generator().manual_seed(0), ability_std=1.5)
    test, test_ability, _ = simulate_irt(150, 5, 30, torch.Generator().manual_seed(1), ability_std=1.5)
    # the test students share the skills (difficulties) of the training students
    g = torch.Generator().manual_seed(2)
    for s, a in zip(test, test_ability):
        s.correct = (torch.rand(len(s), generator=g) < torch.sigmoid(a - difficulty[s.skills])).long()
    return train, ability, difficulty, test


def _auc(scores, tasks):
    return roc_auc(scores[tasks.query_mask], tasks.query_correct[tasks.query_mask])


def test_global_irt_recovers_the_known_abilities_and_difficulties(rasch):
    train, ability, difficulty, _ = rasch
    model = fit_global_irt(train, 5, rank=0, l2=0.01, num_steps=150, lr=0.1, progress=False)
    theta = model.abilities[:, 0]
    assert torch.corrcoef(torch.stack([theta, ability]))[0, 1] > 0.85
    easiness = model.shared["skill_bias"][1:]
    assert torch.corrcoef(torch.stack([easiness, -difficulty[1:]]))[0, 1] > 0.95
    assert model.history.last("loss", 5) < model.history.records["loss"][0]


def test_adaptation_methods_use_the_students_answers(rasch):
    train, _, _, test = rasch
    irt = fit_global_irt(train, 5, rank=0, l2=0.01, num_steps=100, lr=0.1, progress=False)
    tasks0 = cold_start_view(test, 0, query_start=10, query_len=20)
    tasks10 = cold_start_view(test, 10, query_start=10, query_len=20)
    base = _auc(irt.predict_new(tasks0.query_skills), tasks0)
    tuned = student_logits(irt.shared, fine_tune_ability(irt.shared, tasks10.support_skills, tasks10.support_correct,
                                                         steps=20, lr=0.5, l2=irt.l2), tasks10.query_skills)
    assert _auc(tuned, tasks10) > base + 0.05
    scratch = fit_from_scratch(tasks10.support_skills, tasks10.support_correct, tasks10.query_skills, 5)
    assert _auc(scratch, tasks10) > 0.6
    rate = SkillRateBaseline(5).fit(train)
    assert abs(_auc(rate.predict(tasks0.query_skills), tasks0) - base) < 0.05


def test_maml_meta_learns_to_personalise(rasch):
    train, _, _, test = rasch
    torch.manual_seed(0)
    model = PersonalizedStudentModel(5, rank=0, inner_lr=0.5, inner_steps=3, learn_inner_lr=True)
    pool = cold_start_view(train, 10, query_start=10, query_len=20)
    history = maml_train(model, ColdStartSampler(pool, [0, 5, 10], 64), 150, lr=3e-2, progress=False)
    assert history.last("loss", 20) < history.records["loss"][0]
    tasks0 = cold_start_view(test, 0, query_start=10, query_len=20)
    tasks10 = cold_start_view(test, 10, query_start=10, query_len=20)
    assert _auc(model.predict(tasks10), tasks10) > _auc(model.predict(tasks0), tasks0) + 0.05
    # second-order and first-order agree on the forward value
    assert torch.allclose(model.query_logits(tasks10, create_graph=True), model.query_logits(tasks10), atol=1e-5)


def test_reptile_and_prototypes_personalise(rasch):
    train, _, _, test = rasch
    model = PersonalizedStudentModel(5, rank=0, inner_lr=0.3, inner_steps=5)
    pool = cold_start_view(train, 10, query_start=10, query_len=20)
    reptile_train(model, ColdStartSampler(pool, [10], 64), 60, outer_lr=0.5, progress=False)
    tasks0 = cold_start_view(test, 0, query_start=10, query_len=20)
    tasks10 = cold_start_view(test, 10, query_start=10, query_len=20)
    assert _auc(reptile_predict(model, tasks10), tasks10) > _auc(reptile_predict(model, tasks0), tasks0) + 0.05
    protos = PrototypeStudents(5, num_prototypes=4).fit(train, num_iters=20)
    assert all(b >= a - 1e-6 for a, b in zip(protos.log_likelihood, protos.log_likelihood[1:]))  # EM never decreases
    p0 = protos.predict(tasks0.support_skills, tasks0.support_correct, tasks0.query_skills)
    p10 = protos.predict(tasks10.support_skills, tasks10.support_correct, tasks10.query_skills)
    assert _auc(p10, tasks10) > _auc(p0, tasks0) + 0.05
    post = protos.posterior(tasks10.support_skills, tasks10.support_correct)
    assert torch.allclose(post.sum(1), torch.ones(len(tasks10), dtype=post.dtype))


def test_cold_start_evaluation_reports_auc_accuracy_and_the_majority_rate(rasch):
    train, _, _, test = rasch
    irt = fit_global_irt(train, 5, rank=0, l2=0.01, num_steps=60, lr=0.1, progress=False)
    predictors = {"irt": lambda t: torch.sigmoid(irt.predict_new(t.query_skills)),
                  "tuned": lambda t: torch.sigmoid(student_logits(irt.shared, fine_tune_ability(
                      irt.shared, t.support_skills, t.support_correct, steps=20, lr=0.5, l2=irt.l2), t.query_skills)),
                  "scratch": lambda t: torch.sigmoid(fit_from_scratch(t.support_skills, t.support_correct,
                                                                      t.query_skills, 5))}
    out = cold_start_evaluation(predictors, test, ks=(0, 10, 5), query_len=20, n_boot=50)
    assert out["ks"] == [0, 5, 10] and out["n_students"] == 150 and out["n_responses"] == 150 * 20
    labels = out["labels"]
    for name in predictors:
        auc = [p["value"] for p in out["curve"][name]["auc"]]
        acc = [p["value"] for p in out["curve"][name]["accuracy"]]
        assert [p["k"] for p in out["curve"][name]["auc"]] == [0, 5, 10]
        assert auc[2] == pytest.approx(roc_auc(out["probs"][name][10], labels))
        assert acc[2] == pytest.approx(((out["probs"][name][10] >= 0.5) == labels).mean())
        assert all(p["low"] <= p["value"] <= p["high"] for p in out["curve"][name]["auc"])
    assert out["majority"]["value"] == pytest.approx(max(labels.mean(), 1 - labels.mean()))
    # from scratch with no answer: 1/2 everywhere, so AUC 0.5 and accuracy = the share of correct answers
    assert np.all(out["probs"]["scratch"][0] == 0.5)
    assert out["curve"]["scratch"]["auc"][0]["value"] == 0.5
    assert out["curve"]["scratch"]["accuracy"][0]["value"] == pytest.approx(labels.mean())
    better = compare_methods(out, "tuned", "irt", 10, n_boot=100)
    assert better["low"] > 0 and better["p_a_better"] > 0.95
    same = compare_methods(out, "irt", "irt", 5, metric="accuracy", n_boot=20)
    assert same["diff"] == same["low"] == same["high"] == 0
    with pytest.raises(ValueError, match="'logits' returned values outside"):
        cold_start_evaluation({"logits": lambda t: irt.predict_new(t.query_skills) - 5}, test, ks=(0,), n_boot=10)


def test_kt_metrics_score_probabilities_with_the_majority_rate():
    probs, labels = np.array([0.9, 0.8, 0.3, 0.6, 0.2]), np.array([1, 1, 0, 0, 1])
    metrics = kt_metrics(probs, labels)
    assert metrics["acc"] == pytest.approx(0.6) and metrics["majority"] == pytest.approx(0.6)
    assert metrics["auc"] == pytest.approx(roc_auc(probs, labels)) and metrics["n"] == 5


def test_everything_runs_on_another_dataset_in_the_three_line_format(tmp_path):
    seqs, _, _ = simulate_irt(60, 7, 25, torch.Generator().manual_seed(5))
    path = tmp_path / "tiny_kt.csv"
    path.write_text(to_three_line(seqs))
    data, _ = load_kt_splits(path)
    assert data.num_skills == 7 and len(data) == 60         # read from the data, nothing hard-coded
    for model in (DKT(data.num_skills, hidden_size=8), DKVMN(data.num_skills, 3, 4, 6, 4)):
        probs, labels, _ = predict_sequences(model, data.sequences, max_len=10)
        assert probs.shape == labels.shape == (60 * 25,) and 0 < probs.min() <= probs.max() < 1
    with pytest.raises(ValueError, match=r"student 0 \(tiny_kt.csv, line 1\) has skill id 7, but the model knows "
                                         r"skills 1..6. Load train and test together"):
        predict_sequences(DKT(6, hidden_size=4), data.sequences)
