"""The concept diagrams draw without data and name the parts their chapters talk about."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from course_lib.diagrams.dkvmn_memory import draw_dkvmn_memory
from course_lib.diagrams.episode import draw_episodes
from course_lib.diagrams.maml_graph import draw_maml_graph
from course_lib.diagrams.mann_memory import draw_mann_memory


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


def test_maml_graph_has_the_forward_chain_the_hessian_factors_and_the_fomaml_cut():
    fig = draw_maml_graph(inner_steps=3)
    assert isinstance(fig, Figure)
    text = _texts(fig)
    for label in ["forward pass", "backward pass", "query loss", r"\theta=\phi_0", r"\phi_3", "meta-gradient",
                  "FOMAML cuts", "Hessian term", "identity"]:
        assert label in text, label
    for j in range(3):  # one support gradient and one Jacobian factor (I - alpha H) per inner step
        assert rf"g_{j}=\nabla\mathcal{{L}}^s(\phi_{j})" in text
        assert rf"(I-\alpha H^s(\phi_{j}))" in text
    assert r"\phi_4" not in text
    plt.close(fig)


def test_maml_graph_grows_with_the_number_of_inner_steps():
    one, four = draw_maml_graph(1), draw_maml_graph(4)
    assert _texts(four).count(r"\times\,(I-\alpha H^s") == 4 and _texts(one).count(r"\times\,(I-\alpha H^s") == 1
    assert len(four.axes[0].lines) - len(one.axes[0].lines) == 3  # one FOMAML cut mark per step
    plt.close("all")


def test_maml_graph_rejects_a_number_of_steps_that_does_not_fit():
    with pytest.raises(ValueError, match="inner_steps"):
        draw_maml_graph(inner_steps=0)


def test_mann_diagram_draws_the_read_and_the_lrua_write():
    fig = draw_mann_memory()
    try:
        assert isinstance(fig, Figure)
        text = _texts(fig)
        for label in ("controller (LSTM)", "key $k_t$", "cosine similarity", "softmax over the slots",
                      "read weights $w^r_t$", "read vector", "sigmoid gate", "least-used weights",
                      "write weights $w^w_t$", "usage update", "memory $M$", "a label (width $N$)",
                      "[k_{t-1}, y_{t-1}]", "$q_t = [k_t, 0]$", "on $[h_t, x_t]$"):
            assert label in text, label
    finally:
        plt.close(fig)


def test_dkvmn_diagram_labels_every_part():
    fig = draw_dkvmn_memory()
    try:
        assert isinstance(fig, Figure)
        text = _texts(fig)
        for label in ("key memory $M^k$", "value memory $M^v_t$", "correlation weights", "softmax",
                      "read $r_t", "prediction $p_t", "erase $e_t", "add $a_t", "$(q_t, y_t)$", "M^v_{t+1}(i)"):
            assert label in text, label
        assert "static" in text and "rewritten after every answer" in text
    finally:
        plt.close(fig)
