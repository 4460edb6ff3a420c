from dataclasses import dataclass

import numpy as np
import pytest
import torch

from course_lib.metrics import t_quantile
from course_lib.experiments.one_shot_eval import (
    LAKE_REFERENCE_ERRORS,
    as_scorer,
    evaluate_episodes,
    evaluate_lake_runs,
    pixel_scorer,
    run_scores,
)


@dataclass
class Run:
    name: str
    train_images: torch.Tensor
    test_images: torch.Tensor
    answers: torch.Tensor


def hand_made_run(n=4, size=6, seed=0):
    """n 'characters' = distinct random patterns; test items = the same patterns in a shuffled order."""
    g = torch.Generator().manual_seed(seed)
    train = (torch.rand(n, size, size, generator=g) < 0.5).float()
    answers = torch.randperm(n, generator=g)
    return Run("hand", train, train[answers].clone(), answers)


def test_pixel_matching_solves_a_run_with_exact_copies():
    run = hand_made_run()
    result = evaluate_lake_runs(pixel_scorer(), [run])
    assert result.errors.tolist() == [0.0]
    assert torch.equal(result.predictions[0], run.answers)
    assert result.scores[0].shape == (4, 4)


def test_known_error_rate_with_a_scorer_that_is_wrong_on_purpose():
    run = hand_made_run(n=5)

    def always_first(support_x, support_y, query_x, n_way):
        scores = torch.zeros(query_x.shape[0], n_way)
        scores[:, 0] = 1.0
        return scores

    result = evaluate_lake_runs(always_first, [run, run])
    expected = float((run.answers != 0).float().mean())  # 4 of 5 wrong
    assert result.mean_error == pytest.approx(expected) == pytest.approx(0.8)
    assert "80.0 %" in repr(result)


def test_run_scores_rows_are_test_items():
    run = hand_made_run(n=3)
    scores = run_scores(pixel_scorer(), run)
    assert torch.equal(scores.argmax(1), run.answers)


def test_model_scorer_is_evaluated_without_gradients_and_mode_restored():
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, support_x, support_y, query_x, n_way):
            assert not self.training and not torch.is_grad_enabled()
            return pixel_scorer()(support_x, support_y, query_x, n_way) * self.w

    model = Tiny().train()
    result = evaluate_lake_runs(model, [hand_made_run()])
    assert result.mean_error == 0.0 and model.training


def test_episode_evaluation_reports_mean_and_ci():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(12, 1, 6, 6, generator=g) < 0.5).float().expand(12, 6, 6, 6).clone()
    ev = evaluate_episodes(pixel_scorer(), images, 5, 1, q_query=2, n_episodes=30, progress=False)
    assert ev.accuracies.shape == (30,) and ev.mean == 1.0 and ev.ci95 == 0.0  # exact copies: always right
    noisy = images + 3.0 * torch.rand(images.shape, generator=g)
    ev = evaluate_episodes(pixel_scorer(), noisy, 5, 1, q_query=2, n_episodes=30, progress=False)
    m, h = np.mean(ev.accuracies), t_quantile(0.975, 29) * np.std(ev.accuracies, ddof=1) / np.sqrt(30)
    assert ev.mean == pytest.approx(m) and ev.ci95 == pytest.approx(h, rel=1e-4)
    assert "5-way 1-shot" in str(ev)
    # same seed -> same episodes -> same accuracies
    again = evaluate_episodes(pixel_scorer(), noisy, 5, 1, q_query=2, n_episodes=30, progress=False)
    assert np.array_equal(ev.accuracies, again.accuracies)


def test_bad_inputs_raise_clear_errors():
    run = hand_made_run()
    with pytest.raises(ValueError, match="empty"):
        evaluate_lake_runs(pixel_scorer(), [])
    with pytest.raises(ValueError, match=r"shape \[4, 4\]"):
        evaluate_lake_runs(lambda sx, sy, qx, n: torch.zeros(4, 3), [run])
    with pytest.raises(ValueError, match="non-finite"):
        evaluate_lake_runs(lambda sx, sy, qx, n: torch.full((4, 4), float("nan")), [run])
    bad = Run("bad", run.train_images[:, None], run.test_images, run.answers)
    with pytest.raises(ValueError, match=r"\[n, H, W\]"):
        evaluate_lake_runs(pixel_scorer(), [bad])
    with pytest.raises(ValueError, match="n_episodes"):
        evaluate_episodes(pixel_scorer(), torch.rand(6, 4, 5, 5), 2, 1, n_episodes=0)
    with pytest.raises(TypeError, match="callable"):
        as_scorer(42)
    with pytest.raises(ValueError, match="n_way"):
        evaluate_episodes(pixel_scorer(), torch.rand(3, 4, 5, 5), 5, 1, n_episodes=2)


def test_reference_errors_are_lake_et_al_2015():
    assert LAKE_REFERENCE_ERRORS == {"people": 0.045, "Bayesian Program Learning": 0.033, "deep ConvNet": 0.135}


def test_ranking_and_static_figure_of_the_explorer():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from course_lib.widgets.oneshot import one_shot_explorer, plot_one_shot_item, rank_training_characters

    run = hand_made_run(n=6)
    order, scores = rank_training_characters(pixel_scorer(), run, item=2)
    assert order[0] == run.answers[2] and scores.shape == (6,)
    with pytest.raises(ValueError, match="item"):
        rank_training_characters(pixel_scorer(), run, item=6)
    fig = plot_one_shot_item(run, 2, scores)
    assert "right" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match=r"shape \[6\]"):
        plot_one_shot_item(run, 2, scores[:3])
    box = one_shot_explorer([run, hand_made_run(n=6, seed=1)], {"pixels": pixel_scorer()})
    assert "0 of 6 test items wrong" in box.children[1].value
    box.children[0].children[0].value = 1  # switch run: the summary follows
    assert "0 of 6" in box.children[1].value
    plt.close("all")
