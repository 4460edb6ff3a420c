"""DKVMN's key/value memory (Zhang et al., WWW 2017) as a concept diagram.

One time step for one student: the question q_t is embedded as k_t and addressed against the
static key memory M^k (one slot per latent concept); the correlation weights w_t select slots of
the value memory M^v_t (this student's mastery), whose weighted read r_t gives the prediction p_t.
After the answer y_t, the embedding v_t of the pair (q_t, y_t) erases and adds to the same slots.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

__all__ = ["draw_dkvmn_memory"]

_SLOTS = 5
_WEIGHTS = np.array([0.05, 0.62, 0.2, 0.08, 0.05])      # an example w_t (sums to 1), for the shading only
_READ, _WRITE = "tab:blue", "tab:red"


def _box(ax, x, y, w, h, text, color="0.3", size=9):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc="white", ec=color, lw=1.4))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=size)


def _arrow(ax, start, end, color, text=None, offset=(0.0, 0.12), size=8):
    ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1.6})
    if text:
        middle = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*middle, text, ha="center", va="bottom", fontsize=size, color=color)


def _grid(ax, x, y, width, height, values, cmap):
    """A matrix drawn as cells; values [rows, cols] in [0, 1], row 0 at the top."""
    rows, cols = values.shape
    for i in range(rows):
        for j in range(cols):
            cell = Rectangle((x + j * width / cols, y + height - (i + 1) * height / rows), width / cols,
                             height / rows, fc=plt.get_cmap(cmap)(0.15 + 0.7 * values[i, j]), ec="white", lw=1)
            ax.add_patch(cell)


def draw_dkvmn_memory() -> Figure:
    """The figure: key memory, correlation weights, value memory, read -> prediction, erase/add write."""
    fig, ax = plt.subplots(figsize=(13, 6.4))
    ax.set_xlim(0, 13)
    ax.set_ylim(0, 7.4)
    ax.axis("off")
    low, high = 3.0, 5.8                                   # vertical extent of the memories
    row = (high - low) / _SLOTS
    pattern = (np.arange(_SLOTS)[:, None] * 3 + np.arange(6)[None, :] * 5) % 7 / 6

    # question -> key memory -> correlation weights
    _box(ax, 0.2, 4.1, 1.5, 0.6, "question $q_t$\n(a skill id)")
    _arrow(ax, (1.8, 4.4), (2.6, 4.4), _READ, "$k_t = A\\,q_t$")
    _grid(ax, 2.7, low, 1.4, high - low, np.tile(np.linspace(0.2, 0.8, _SLOTS)[:, None], (1, 3)), "Greys")
    ax.text(3.4, low - 0.1, "$N$ slots (rows) = $N$ concepts", ha="center", va="top", fontsize=8)
    ax.text(3.4, high + 0.15, "key memory $M^k$\nstatic: one slot per concept,\nthe same for every student",
            ha="center", va="bottom", fontsize=9)
    _arrow(ax, (4.2, 4.4), (4.9, 4.4), _READ)
    _grid(ax, 5.0, low, 0.45, high - low, _WEIGHTS[:, None] / _WEIGHTS.max(), "Blues")
    for i, w in enumerate(_WEIGHTS):
        ax.text(5.55, high - (i + 0.5) * row, f"{w:.2f}", va="center", fontsize=7, color=_READ)
    ax.text(5.2, low - 0.1, "correlation weights\n$w_t = \\mathrm{softmax}(k_t^\\top M^k)$", ha="center",
            va="top", fontsize=9, color=_READ)

    # value memory, read, prediction
    _grid(ax, 6.4, low, 2.6, high - low, pattern, "Greens")
    ax.text(7.7, high + 0.15, "value memory $M^v_t$\nthis student's mastery,\nrewritten after every answer",
            ha="center", va="bottom", fontsize=9)
    for i, w in enumerate(_WEIGHTS):                       # the slots that w_t reads from and writes to
        ax.add_patch(Rectangle((6.4, high - (i + 1) * row), 2.6, row, fc="none", ec=_READ, lw=0.5 + 4 * w))
    _arrow(ax, (5.9, 4.4), (6.35, 4.4), _READ)
    _arrow(ax, (9.1, 5.1), (9.8, 5.1), _READ, "read")
    _box(ax, 9.9, 4.75, 2.9, 0.7, "read $r_t = \\sum_i w_t(i)\\, M^v_t(i)$", _READ)
    _arrow(ax, (11.35, 4.7), (11.35, 4.05), _READ, "with $k_t$", offset=(0.45, -0.1))
    _box(ax, 9.9, 3.2, 2.9, 0.75, "prediction $p_t = P(y_t = 1)$\n$\\sigma(W_2 \\tanh(W_1 [r_t, k_t]))$", _READ)

    # write after the answer
    _box(ax, 0.2, 0.75, 2.6, 0.8, "answer pair $(q_t, y_t)$\nembedded as $v_t$", _WRITE)
    _arrow(ax, (2.9, 1.45), (3.6, 1.7), _WRITE)
    _arrow(ax, (2.9, 0.85), (3.6, 0.6), _WRITE)
    _box(ax, 3.7, 1.45, 2.3, 0.55, "erase $e_t = \\sigma(E\\,v_t)$", _WRITE)
    _box(ax, 3.7, 0.3, 2.3, 0.55, "add $a_t = \\tanh(D\\,v_t)$", _WRITE)
    _arrow(ax, (6.1, 1.15), (7.7, 2.95), _WRITE)
    ax.text(7.9, 1.45, "write, erase then add, into the slots chosen by $w_t$:\n"
            "$M^v_{t+1}(i) = M^v_t(i) \\odot (1 - w_t(i)\\, e_t) + w_t(i)\\, a_t$",
            ha="left", va="center", fontsize=9, color=_WRITE)
    ax.text(0.2, 7.2, "1. before the answer: read (blue)     2. after the answer: write (red)",
            fontsize=10, va="top")
    ax.set_title("DKVMN: a static key memory addresses a per-student value memory", fontsize=12)
    fig.tight_layout()
    return fig
