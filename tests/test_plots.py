"""Generic figures: they draw what they are given and reject what cannot be drawn."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from course_lib.data.episodes import EpisodeSampler
from course_lib.plots import plot_accuracy_ci, plot_history, show_episode, show_images
from course_lib.training import History


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def make_history():
    history = History()
    for step in range(50):
        history.log(step, {"loss": 2.0 / (step + 1), "acc": min(1.0, step / 40)})
        if step % 10 == 9:
            history.log_eval(step, {"acc": step / 60, "auc": 0.5 + step / 200})
    return history


def test_plot_history_panels_and_curves():
    history = make_history()
    fig = history.plot()
    titles = [a.get_title() for a in fig.axes]
    assert titles == ["loss", "acc", "auc"]  # eval-only keys get their own panel
    loss_ax, acc_ax, _ = fig.axes
    assert len(loss_ax.lines) == 2 and loss_ax.get_yscale() == "linear"  # raw + smoothed
    assert len(acc_ax.lines) == 3  # raw + smoothed + evaluation
    assert list(acc_ax.lines[2].get_xdata()) == [9, 19, 29, 39, 49]
    fig = plot_history(history, keys=["loss"], window=5)
    assert len(fig.axes) == 1
    smoothed = fig.axes[0].lines[1].get_ydata()
    assert smoothed[-1] == pytest.approx(sum(2.0 / (s + 1) for s in range(45, 50)) / 5)


def test_plot_history_log_scale_and_errors():
    history = History()
    for step in range(20):
        history.log(step, {"loss": 10.0 ** (-step / 4)})
    assert plot_history(history).axes[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="empty"):
        plot_history(History())
    with pytest.raises(KeyError, match="not recorded"):
        plot_history(history, keys=["acc"])
    fig, ax = plt.subplots()
    assert plot_history(make_history(), ax=ax) is fig
    assert len(ax.lines) == 2 + 3 + 1 and ax.get_ylabel() == "loss, acc, auc"


def test_show_episode_grid():
    images = torch.rand(6, 8, 10, 10)
    episode = EpisodeSampler(images, 3, 2, 4, seed=0).sample()
    fig = show_episode(episode, max_query=3)
    axes = fig.axes
    assert len(axes) == 3 * (2 + 1 + 3)  # rows = labels; support, gap, query columns
    assert sum(len(a.images) for a in axes) == 3 * (2 + 3)
    predictions = episode.query_y.clone()
    predictions[0] = (predictions[0] + 1) % 3
    fig = show_episode(episode, predictions=predictions)
    assert any(a.get_title().startswith("pred") for a in fig.axes)
    with pytest.raises(ValueError, match="image episodes"):
        from course_lib.data.episodes import Episode

        show_episode(Episode(torch.zeros(4, 1), torch.zeros(4).long(), torch.zeros(4, 1), torch.zeros(4).long()))


def test_show_images():
    fig = show_images(torch.rand(7, 1, 5, 5), ncols=3, titles=list("abcdefg"))
    assert len(fig.axes) == 9 and sum(len(a.images) for a in fig.axes) == 7
    with pytest.raises(ValueError, match="no images"):
        show_images(torch.zeros(0, 5, 5))


def test_plot_accuracy_ci():
    fig = plot_accuracy_ci(
        {"MAML": (0.95, 0.01), "ProtoNet": [0.9, 1.0, 0.95, 1.0]},
        reference={"MAML": 0.987},
    )
    ax = fig.axes[0]
    heights = [r.get_height() for r in ax.patches]
    assert heights == pytest.approx([95.0, 96.25])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["MAML", "ProtoNet"]
    assert any(abs(line.get_ydata()[0] - 98.7) < 1e-9 for line in ax.lines)
    assert ax.get_ylim()[1] >= 98.7
    with pytest.raises(ValueError, match="empty"):
        plot_accuracy_ci({})
