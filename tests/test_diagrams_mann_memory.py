"""The MANN read/write diagram draws without data and names every step of the read and the LRUA write."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from course_lib.diagrams.mann_memory import draw_mann_memory


def test_draws_the_read_and_the_lrua_write():
    fig = draw_mann_memory()
    try:
        assert isinstance(fig, Figure)
        text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        for label in ("controller (LSTM)", "key $k_t$", "cosine similarity", "softmax over the slots",
                      "read weights $w^r_t$", "read vector", "sigmoid gate", "least-used weights",
                      "write weights $w^w_t$", "usage update", "memory $M_t$"):
            assert label in text, label
    finally:
        plt.close(fig)
