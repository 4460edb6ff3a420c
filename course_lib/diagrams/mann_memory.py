"""One time step of the MANN's memory (Santoro et al. 2016): the content-based read and the LRUA write.

Drawn as ``MANN`` runs by default (``store_labels``, ``input_to_heads``): the heads see the
controller's state and the current image, and a memory row holds a key and a label. Top row, the read
(first, from the memory before this step's write): the controller's key, padded with zeros over the
label part, is compared with every memory row by cosine similarity, sharpened by the key strength and
normalised by a softmax into read weights, which average the rows (keys and labels) into the read
vector. Bottom row, the write: a sigmoid gate mixes the previous read weights (update the slot just
used) with the least-used weights (a fresh slot); usage then decays and accumulates reads and
writes, and its smallest entries give the next step's least-used slots.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Rectangle

__all__ = ["draw_mann_memory"]

_READ, _WRITE, _CONTROL = "#d8e8f8", "#fbe3cf", "#e3e3e3"


def _box(ax, x: float, y: float, text: str, color: str, width: float = 2.6, height: float = 1.2) -> None:
    """A rounded box centred on (x, y) with ``text`` inside."""
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.05,rounding_size=0.15", fc=color, ec="0.3", lw=1))
    ax.text(x, y, text, ha="center", va="center", fontsize=9)


def _arrow(ax, start, end, text: str = "", dashed: bool = False, curve: float = 0.0) -> None:
    """An arrow from ``start`` to ``end`` with an optional label at its middle."""
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 1.2, "ls": "--" if dashed else "-",
                            "connectionstyle": f"arc3,rad={curve}", "shrinkA": 2, "shrinkB": 2})
    if text:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.18, text, ha="center",
                va="bottom", fontsize=8, color="0.25")


def _memory(ax, x: float, y: float, slots: int = 6, width: float = 2.1, row: float = 0.42) -> np.ndarray:
    """The memory matrix as a stack of rows centred on (x, y), each a key (4 grey cells) and a one-hot
    label (3 cells, one dark); returns the rows' y centres."""
    top = y + slots * row / 2
    centres = top - row * (np.arange(slots) + 0.5)
    rng = np.random.default_rng(0)
    cell = width / 7
    for i, yc in enumerate(centres):
        key = rng.uniform(0.55, 0.95, size=4)                   # arbitrary stored values
        hot = rng.integers(3)                                    # the stored label, one-hot
        colours = [(s, s, s) for s in key] + [(0.2, 0.2, 0.6) if j == hot else (1.0, 1.0, 1.0) for j in range(3)]
        for j, colour in enumerate(colours):
            ax.add_patch(Rectangle((x - width / 2 + j * cell, yc - row / 2), cell, row, fc=colour, ec="0.4", lw=0.6))
        ax.text(x - width / 2 - 0.1, yc, f"$M({i})$", ha="right", va="center", fontsize=7)
    ax.text(x, top + 0.12, "memory $M$: $S$ slots, each a key\n(width $W$) and a label (width $N$)",
            ha="center", va="bottom", fontsize=9)
    return centres


def _weights(ax, x: float, y: float, values: np.ndarray, label: str, color: str) -> None:
    """A small bar chart of one weighting over the slots (illustrative values)."""
    width = 0.28
    for i, v in enumerate(values):
        ax.add_patch(Rectangle((x - len(values) * width / 2 + i * width, y - 0.45), width * 0.85, 0.9 * v,
                               fc=color, ec="0.3", lw=0.6))
    ax.plot([x - len(values) * width / 2, x + len(values) * width / 2], [y - 0.45] * 2, color="0.3", lw=0.8)
    ax.text(x, y - 0.55, label, ha="center", va="top", fontsize=9)


def draw_mann_memory() -> Figure:
    """Draw the MANN read/write diagram and return the Figure (no data needed)."""
    fig, ax = plt.subplots(figsize=(15, 7.2))
    ax.set_xlim(0, 17)
    ax.set_ylim(-1.0, 9.3)
    ax.axis("off")

    # controller and heads
    _box(ax, 1.5, 4.6, "controller (LSTM)\ninput $[x_t,\\, y_{t-1},\\, r_{t-1}]$\nstate $h_t$", _CONTROL)
    _box(ax, 4.7, 4.6, "heads: a linear layer on $[h_t, x_t]$\nkey $k_t$, key strength $\\beta_t$,\n"
         "gate logit $\\alpha_t$", _CONTROL, width=2.9, height=1.3)
    _arrow(ax, (2.8, 4.6), (3.25, 4.6))
    rows = _memory(ax, 8.6, 4.4)

    # read path (top row)
    ax.text(0.2, 8.9, "1. READ (content-based addressing), before this step's write", fontsize=11, weight="bold",
            color="#2a5d8f")
    _box(ax, 5.0, 7.6, "cosine similarity\n"
         "$K(q_t, M_{t-1}(i)) = \\frac{q_t \\cdot M_{t-1}(i)}{\\|q_t\\|\\,\\|M_{t-1}(i)\\|}$\n"
         "with each row $i$; $q_t = [k_t, 0]$", _READ, width=3.1, height=1.5)
    _box(ax, 8.6, 7.6, "softmax over the slots\n$w^r_t(i) \\propto \\exp(\\beta_t\\, K(q_t, M_{t-1}(i)))$",
         _READ, width=3.1)
    sims = np.array([0.1, 0.9, -0.2, 0.3, 0.0, 0.2])
    read_w = np.exp(4 * sims) / np.exp(4 * sims).sum()
    _weights(ax, 11.7, 7.75, read_w / read_w.max(), "read weights $w^r_t$", "#6fa8dc")
    _box(ax, 14.9, 7.6, "read vector\n$r_t = \\sum_i w^r_t(i)\\, M_{t-1}(i)$\n(keys and a vote of labels)", _READ,
         width=2.9, height=1.5)
    _arrow(ax, (4.7, 5.25), (4.9, 6.85), "$k_t$")
    _arrow(ax, (7.75, rows[0] + 0.25), (6.3, 6.85), "rows $M_{t-1}(i)$")
    _arrow(ax, (6.55, 7.6), (7.05, 7.6))
    _arrow(ax, (10.15, 7.6), (10.75, 7.6))
    _arrow(ax, (12.65, 7.6), (13.45, 7.6))
    _box(ax, 14.9, 4.6, "output layer\nlogits $= W_o\\,[h_t, r_t]$\n"
         "(and $r_t$ goes back\nto the controller at $t+1$)", _CONTROL, width=2.9, height=1.5)
    _arrow(ax, (14.9, 7.0), (14.9, 5.35))

    # write path (bottom row)
    ax.text(0.2, 2.65, "2. WRITE (least-recently-used access, LRUA)", fontsize=11, weight="bold",
            color="#a5571b")
    _box(ax, 1.6, 1.6, "previous read weights\n$w^r_{t-1}$ (the slot just used)", _WRITE,
         width=2.9, height=0.9)
    _box(ax, 1.6, 0.1, "least-used weights $w^{lu}_{t-1}$\n(1 on the $R$ least used slots)", _WRITE,
         width=2.9, height=0.9)
    _box(ax, 5.4, 0.85, "sigmoid gate\n$w^w_t = \\sigma(\\alpha_t)\\, w^r_{t-1}$\n"
         "$+\\, (1 - \\sigma(\\alpha_t))\\, w^{lu}_{t-1}$", _WRITE, width=3.0, height=1.5)
    _arrow(ax, (3.05, 1.5), (3.9, 1.1))
    _arrow(ax, (3.05, 0.2), (3.9, 0.6))
    _arrow(ax, (4.9, 3.95), (5.3, 1.6), "$\\alpha_t$")
    _box(ax, 9.6, 0.85, "write weights $w^w_t$:\n$M_t(i) = M_{t-1}(i) + w^w_t(i)\\, [k_{t-1}, y_{t-1}]$\n"
         "(the last key with the label just given;\nthe least used slot is zeroed first)", _WRITE,
         width=3.5, height=1.5)
    _arrow(ax, (6.9, 0.85), (7.95, 0.85))
    _arrow(ax, (9.3, 1.6), (8.9, rows[-1] - 0.25), "write")
    _box(ax, 14.3, 0.85, "usage update\n$w^u_t = \\gamma\\, w^u_{t-1} + w^r_t + w^w_t$\n"
         "$w^{lu}_t$: the $R$ smallest usages", _WRITE, width=3.4, height=1.5)
    _arrow(ax, (11.25, 0.85), (12.6, 0.85))
    _arrow(ax, (11.7, 7.0), (13.6, 1.6), "$w^r_t$", curve=-0.1)
    ax.plot([14.3, 14.3, 1.6], [0.1, -0.75, -0.75], color="0.25", lw=1.2, ls="--")   # back to the next step
    _arrow(ax, (1.6, -0.75), (1.6, -0.35), dashed=True)
    ax.text(8.0, -0.7, "next step: $w^{lu}_t$ and $w^r_t$ become the previous weights", ha="center",
            va="bottom", fontsize=8, color="0.25")
    fig.tight_layout()
    return fig
