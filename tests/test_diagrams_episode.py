"""The episode diagram draws without data and shows the concepts the chapter names."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from course_lib.diagrams.episode import draw_episodes


def _texts(fig):
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)


def test_episode_diagram_has_the_labels_of_an_episode():
    fig = draw_episodes()
    assert isinstance(fig, Figure)
    text = _texts(fig)
    for label in ["meta-training", "meta-test", "support set", "query set", "adapt on support",
                  "evaluate on query", "query loss", "outer loop", "ω frozen", "meta-knowledge ω"]:
        assert label in text, label
    assert text.count("support set") == 3  # two meta-training tasks and one meta-test task
    plt.close(fig)


def test_episode_diagram_shows_k_shot_support_markers():
    one, three = draw_episodes(k_shot=1), draw_episodes(k_shot=3)
    assert len(three.axes[0].lines) - len(one.axes[0].lines) == 2 * 3 * 3  # 3 tasks x 3 classes x 2 more shots
    plt.close("all")


def test_episode_diagram_rejects_a_k_shot_that_does_not_fit():
    with pytest.raises(ValueError, match="k_shot"):
        draw_episodes(k_shot=0)
