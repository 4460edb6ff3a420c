"""Simulated students keep their known truth; tutor policies; the tutor widget."""

import math

import pytest
import torch

from course_lib.edu.simulated import BKTPopulation, BKTStudents, bkt_update, simulate_irt
from course_lib.edu.tutor import (FixedCurriculum, IndividualizedBKT, MasteryPolicy, PopulationBKT, RandomPolicy,
                                  compare_policies, run_tutor)


def test_bkt_update_matches_bayes_rule_by_hand():
    # P(L)=0.5, guess 0.2, slip 0.1: P(L|correct) = 0.45 / (0.45 + 0.1) = 9/11; then learn 0.1
    out = bkt_update(torch.tensor(0.5), torch.tensor(1), 0.2, 0.1, 0.1)
    assert math.isclose(out.item(), 9 / 11 + (2 / 11) * 0.1, rel_tol=1e-6)
    # wrong: 0.05 / (0.05 + 0.4) = 1/9
    out = bkt_update(torch.tensor(0.5), torch.tensor(0), 0.2, 0.1, 0.0)
    assert math.isclose(out.item(), 1 / 9, rel_tol=1e-6)


def test_simulated_bkt_students_follow_their_known_parameters():
    pop = BKTPopulation(init=torch.tensor([0.0, 0.99]), learn=torch.tensor([0.3, 0.3]),
                        guess=torch.tensor([0.2, 0.2]), slip=torch.tensor([0.1, 0.1]), spread=0.0)
    students = BKTStudents(4000, pop, torch.Generator().manual_seed(0))
    known_before = students.known.clone()
    assert known_before[:, 0].float().mean() < 0.01 and known_before[:, 1].float().mean() > 0.97
    # skill 0 is unknown to (almost) everyone: first answers are correct at the guess rate
    correct = students.answer(torch.zeros(4000, dtype=torch.long)).float().mean().item()
    assert abs(correct - 0.2) < 0.03
    # and about 30 % learned it from that question
    assert abs(students.known[:, 0].float().mean().item() - 0.3) < 0.03
    # a known skill is answered correctly unless the student slips
    correct = students.answer(torch.ones(4000, dtype=torch.long))[known_before[:, 1]].float().mean().item()
    assert abs(correct - 0.9) < 0.02
    assert not (students.known & ~students.known).any()


def test_aptitude_raises_prior_knowledge_and_learning_rate():
    pop = BKTPopulation.default(3, torch.Generator().manual_seed(0), spread=1.0)
    students = BKTStudents(2000, pop, torch.Generator().manual_seed(1))
    strong = students.aptitude > 0
    assert (students.p_learn[strong].mean(0) > students.p_learn[~strong].mean(0)).all()
    assert students.known[strong].float().mean() > students.known[~strong].float().mean()


def test_simulate_irt_truth_and_bad_arguments():
    seqs, ability, difficulty = simulate_irt(500, 5, 40, torch.Generator().manual_seed(0))
    rate = torch.stack([s.correct.float().mean() for s in seqs])
    assert torch.corrcoef(torch.stack([rate, ability]))[0, 1] > 0.8
    with pytest.raises(ValueError):
        simulate_irt(0, 5, 10)


def test_trackers_learn_from_answers():
    pop = BKTPopulation.default(3, torch.Generator().manual_seed(0))
    for tracker in (PopulationBKT(pop, 2), IndividualizedBKT(pop, 2)):
        before = tracker.p_known.clone()
        for _ in range(4):
            tracker.update(torch.tensor([0, 0]), torch.tensor([1, 0]))
        assert tracker.p_known[0, 0] > before[0, 0] and tracker.p_known[0, 0] > tracker.p_known[1, 0]
    # the individualised tracker transfers: a student who aces skill 0 is believed likelier to know skill 1
    ind = IndividualizedBKT(pop, 2)
    for _ in range(6):
        ind.update(torch.tensor([0, 0]), torch.tensor([1, 0]))
    assert ind.p_known[0, 1] > ind.p_known[1, 1]


def test_personalised_tutor_beats_random_and_fixed_on_a_small_simulation():
    pop = BKTPopulation.default(4, torch.Generator().manual_seed(0))
    results = compare_policies(pop, num_students=200, max_questions=200, seed=3)
    means = {name: r["questions_to_mastery"].clamp(max=200).mean().item() for name, r in results.items()}
    personal = means["mastery, personalised BKT"]
    assert personal < means["random order"] - 5
    assert personal < means["fixed curriculum (8 per skill)"] - 5
    # the policy's own "done" signal is mostly right
    assert results["mastery, personalised BKT"]["mastered_when_declared"].float().mean() > 0.8


def test_policy_arguments():
    with pytest.raises(ValueError, match="block"):
        FixedCurriculum(3, block=0)
    pop = BKTPopulation.default(2)
    with pytest.raises(ValueError, match="threshold"):
        MasteryPolicy(PopulationBKT(pop, 1), threshold=1.5)
    students = BKTStudents(3, pop)
    with pytest.raises(ValueError, match="one skill per student"):
        students.answer(torch.tensor([0, 1]))
    out = run_tutor(RandomPolicy(2, torch.Generator().manual_seed(0)), students, max_questions=5)
    assert out["questions_to_mastery"].shape == (3,)


def test_tutor_widget_updates_estimates():
    pytest.importorskip("ipywidgets")
    from course_lib.widgets.tutor import TutorWidget

    tutor = TutorWidget(seed=0)
    assert len(tutor.widget.children) > 3
    first = tutor.skill
    before = tutor.estimates[first]
    assert tutor.submit(str(tutor.expected)) is True
    assert tutor.estimates[first] > before
    assert tutor.submit("not a number") is False and tutor.step == 1
    assert tutor.submit(str(tutor.expected + 1)) is False
    assert tutor.step == 2 and "answer was" in tutor.feedback.value
    for _ in range(60):
        tutor.submit(str(tutor.expected))
    assert all(p > 0.95 for p in tutor.estimates)
    assert tutor.bars[0].value == pytest.approx(tutor.estimates[0])
