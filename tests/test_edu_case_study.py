"""The case-study pipeline on a second dataset written to disk, grid extension, keep-best training."""

import numpy as np
import pytest
import torch

from course_lib.data.assistments import StudentSequence, load_kt_splits
from course_lib.edu.baselines import grid_edge, select_on_validation
from course_lib.edu.case_study import SETTINGS, case_study_settings, format_cold_start, run_case_study
from course_lib.edu.dkt import DKT
from course_lib.edu.evaluation import kt_metrics, predict_sequences
from course_lib.edu.kt_training import fit_kt
from course_lib.edu.simulated import BKTPopulation, simulate_bkt_logs, to_three_line
from course_lib.edu.splits import cold_start_view


def test_the_whole_pipeline_runs_on_simulated_students_written_in_the_three_line_format(tmp_path):
    population = BKTPopulation.default(num_skills=6, generator=torch.Generator().manual_seed(0))
    for split, n, seed in (("train", 160, 1), ("test", 60, 2)):
        logs = simulate_bkt_logs(population, n, 40, generator=torch.Generator().manual_seed(seed))
        (tmp_path / f"sim_{split}.csv").write_text(to_three_line(logs))
    train, test = load_kt_splits(tmp_path / "sim_train.csv", tmp_path / "sim_test.csv")
    assert (train.name, train.num_skills, len(test)) == ("sim/train", 6, 60)

    result = run_case_study(train, test, budget="smoke")
    assert result["settings"]["budget"] == "smoke" and result["n_test_students"] == 60
    evaluation = result["cold_start"]
    assert evaluation["ks"] == [0, 1, 3, 5, 10, 20] and evaluation["n_responses"] == 60 * 20
    assert len(evaluation["curve"]) == 9
    for name, metrics in evaluation["curve"].items():
        for metric in ("auc", "accuracy"):
            assert [p["k"] for p in metrics[metric]] == evaluation["ks"], (name, metric)
            assert all(0 <= p["low"] <= p["value"] <= p["high"] <= 1 for p in metrics[metric]), (name, metric)
        assert all(0 <= p.min() and p.max() <= 1 for p in evaluation["probs"][name].values())
    scratch = evaluation["curve"]["per-student from scratch"]["auc"]
    assert scratch[0]["value"] == 0.5 and scratch[-1]["value"] > 0.55          # 1/2 at k = 0, then it learns
    labels = evaluation["labels"]
    assert evaluation["majority"]["value"] == pytest.approx(max(labels.mean(), 1 - labels.mean()))
    for name in ("DKT", "DKVMN"):
        standard = result["standard"][name]
        assert standard["n"] == 60 * 40 and 0 < standard["auc"]["value"] < 1
        assert result["models"]["histories"][name].best_step >= 0
    for name, (best, scores) in result["choices"].items():
        assert best in scores and scores[best] == max(scores.values()), name
    table = format_cold_start(evaluation, "accuracy")
    assert "majority-class rate" in table and "DKVMN" in table


def test_a_test_file_outside_the_training_skill_space_is_caught_with_file_and_line(tmp_path):
    (tmp_path / "a_train.csv").write_text("2\n1,2\n1,0\n")
    (tmp_path / "b_test.csv").write_text("1\n1\n1\n2\n3,1\n0,1\n")
    train, _ = load_kt_splits(tmp_path / "a_train.csv")
    test, _ = load_kt_splits(tmp_path / "b_test.csv")
    with pytest.raises(ValueError, match=r"student 1 \(b_test.csv, line 4\) has skill id 3, but the model knows "
                                         r"skills 1..2"):
        run_case_study(train, test, budget="smoke")


def test_settings_per_budget_and_overrides():
    assert set(SETTINGS) == {"smoke", "standard", "full"}
    assert all(SETTINGS[b].keys() == SETTINGS["smoke"].keys() for b in SETTINGS)
    smoke, full = case_study_settings("smoke"), case_study_settings("full")
    assert smoke["dkt_steps"] < full["dkt_steps"] and smoke["ks"] == full["ks"]
    assert case_study_settings("smoke", n_boot=99)["n_boot"] == 99
    with pytest.raises(ValueError, match="unknown case-study settings"):
        case_study_settings("smoke", dkt_step=3)


def test_the_grid_extends_while_its_best_value_is_at_an_edge():
    g = torch.Generator().manual_seed(0)
    tasks = cold_start_view([StudentSequence(i, torch.randint(1, 3, (8,), generator=g),
                                             torch.randint(0, 2, (8,), generator=g)) for i in range(60)],
                            k=2, query_start=2, query_len=6)
    noise = torch.randn(tasks.query_correct.shape, generator=g)
    tried = []

    def peak_at(peak):
        def predict(value, t):
            tried.append(value)
            signal = np.exp(-abs(np.log(value) - np.log(peak)))           # 1 at the peak, smaller away from it
            return signal * (t.query_correct.float() - 0.5) + noise          # the AUC grows with the signal
        return predict

    best, scores = select_on_validation(peak_at(4.0), [0.25, 0.5, 1.0], tasks)
    assert tried == [0.25, 0.5, 1.0, 2.0, 4.0] and best == 4.0 and grid_edge(best, scores) == "high"
    tried.clear()
    best, scores = select_on_validation(peak_at(0.1), [0.25, 0.5, 1.0], tasks, extend=1)
    assert tried == [0.25, 0.5, 1.0, 0.12] and best == 0.12 and grid_edge(best, scores) == "low"
    tried.clear()
    best, _ = select_on_validation(peak_at(0.5), [0.25, 0.5, 1.0], tasks)
    assert tried == [0.25, 0.5, 1.0] and best == 0.5                  # inside the grid: nothing to extend


def _by_skill(n, right_skill, seed):
    """Students answering random skills 1..3: always right on ``right_skill``, always wrong otherwise."""
    g = torch.Generator().manual_seed(seed)
    skills = [torch.randint(1, 4, (20,), generator=g) for _ in range(n)]
    return [StudentSequence(i, s, (s == right_skill).long()) for i, s in enumerate(skills)]


def test_fit_kt_keeps_the_weights_of_the_best_validation_auc():
    # validation students find easy what training students find hard: learning the training students'
    # skill difficulties makes the validation AUC fall, so the best validation AUC comes early
    train, val = _by_skill(32, right_skill=1, seed=0), _by_skill(16, right_skill=2, seed=1)
    torch.manual_seed(0)
    model = DKT(3, hidden_size=16, dropout=0.0)
    threads = torch.get_num_threads()
    history = fit_kt(model, train, 40, lr=1e-2, val_sequences=val, eval_every=5, num_threads=2, progress=False)
    assert torch.get_num_threads() == threads                             # restored after the run
    val_auc = history.eval_records["val_auc"]
    assert val_auc[-1] < max(val_auc) - 0.1                               # training made validation worse
    assert history.best_val_auc == max(val_auc) and history.best_step == history.eval_steps[int(np.argmax(val_auc))]
    kept = kt_metrics(*predict_sequences(model, val)[:2])["auc"]
    assert kept == pytest.approx(history.best_val_auc)
    torch.manual_seed(0)
    last = DKT(3, hidden_size=16, dropout=0.0)
    history = fit_kt(last, train, 40, lr=1e-2, val_sequences=val, eval_every=5, keep_best=False, progress=False)
    assert kt_metrics(*predict_sequences(last, val)[:2])["auc"] == pytest.approx(history.eval_records["val_auc"][-1])
