"""The MAML computation-graph diagram draws without data and shows the chain, the Hessian factors and FOMAML's cut."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from course_lib.diagrams.maml_graph import draw_maml_graph


def _texts(fig):
    return " | ".join(t.get_text() for ax in fig.axes for t in ax.texts)


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
