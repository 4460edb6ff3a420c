"""The DKVMN memory diagram draws without data and names every part of the model."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_lib.diagrams.dkvmn_memory import draw_dkvmn_memory


def test_returns_a_figure_with_the_labels_of_every_part():
    fig = draw_dkvmn_memory()
    try:
        assert isinstance(fig, Figure)
        text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        for label in ("key memory $M^k$", "value memory $M^v_t$", "correlation weights", "softmax",
                      "read $r_t", "prediction $p_t", "erase $e_t", "add $a_t", "$(q_t, y_t)$", "M^v_{t+1}(i)"):
            assert label in text, label
        assert "static" in text and "rewritten after every answer" in text
    finally:
        plt.close(fig)
