"""MAML's computation graph for one task with k inner steps, and where its Hessian terms come from.

Forward (top, left to right): theta = phi_0 -> phi_1 -> ... -> phi_k -> query loss. Each step
phi_{j+1} = phi_j - alpha * g_j uses the support-loss gradient g_j = grad L^s(phi_j), which itself
depends on phi_j. Backward (bottom, right to left): the query gradient at phi_k is multiplied by the
Jacobian of every step, d phi_{j+1} / d phi_j = I - alpha H^s(phi_j); the H^s comes from the edge
phi_j -> g_j. First-order MAML cuts those edges (g_j treated as a constant), so every factor is I.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

__all__ = ["draw_maml_graph"]

FORWARD, BACKWARD, CUT = "0.15", "tab:red", "tab:orange"
STEP = 3.0  # horizontal distance between phi_j and phi_{j+1}
Y_PHI, Y_GRAD, Y_BACK = 2.0, 4.0, 0.0


def _node(ax, x, y, text, face, fontsize=12):
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize,
            bbox={"boxstyle": "round,pad=0.35", "fc": face, "ec": "0.3"})


def _arrow(ax, start, end, color=FORWARD, dashed=False, shrink=14):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=13, color=color, lw=1.4,
                                 linestyle="--" if dashed else "-", shrinkA=shrink, shrinkB=shrink))


def draw_maml_graph(inner_steps: int = 3) -> Figure:
    """Draw the forward and backward pass of MAML for one task with ``inner_steps`` inner steps (1..4).

    Returns the Matplotlib Figure (about 13 x 6.5 inches); it needs no data.
    """
    if not 1 <= inner_steps <= 4:
        raise ValueError(f"inner_steps must be between 1 and 4 to fit in the picture, got {inner_steps}")
    k = inner_steps
    fig, ax = plt.subplots(figsize=(13, 6.5))
    xs = [STEP * j for j in range(k + 1)]
    loss_x = xs[-1] + STEP

    # Forward pass: the chain of adapted parameters, each step fed by a support-loss gradient.
    ax.text(-1.4, Y_GRAD + 1.2, "forward pass (inner loop on the support set)", fontsize=11, weight="bold")
    for j, x in enumerate(xs):
        _node(ax, x, Y_PHI, r"$\theta=\phi_0$" if j == 0 else rf"$\phi_{j}$", "#fff3c4")
    for j in range(k):
        grad_x = xs[j] + STEP / 2
        _node(ax, grad_x, Y_GRAD, rf"$g_{j}=\nabla\mathcal{{L}}^s(\phi_{j})$", "#f4f4f4", fontsize=10)
        _arrow(ax, (xs[j], Y_PHI), (grad_x, Y_GRAD), color=CUT)
        ax.plot((xs[j] + grad_x) / 2, (Y_PHI + Y_GRAD) / 2, "x", color=CUT, ms=11, mew=2.5)
        _arrow(ax, (grad_x, Y_GRAD), (xs[j + 1], Y_PHI))
        ax.text((grad_x + xs[j + 1]) / 2 + 0.25, (Y_PHI + Y_GRAD) / 2 + 0.1, rf"$-\alpha\, g_{j}$", fontsize=10)
        _arrow(ax, (xs[j], Y_PHI), (xs[j + 1], Y_PHI))
        ax.text(xs[j] + STEP / 2, Y_PHI - 0.35, "identity", ha="center", fontsize=8, color="0.35")
    _node(ax, loss_x, Y_PHI, rf"query loss $\mathcal{{L}}^q(\phi_{k})$", "#eef4fb", fontsize=11)
    _arrow(ax, (xs[-1] + 0.35, Y_PHI), (loss_x - 0.95, Y_PHI), shrink=2)

    # Backward pass: start from the query gradient at phi_k, one Jacobian factor per inner step, right to left.
    ax.text(-1.4, Y_BACK + 0.75, "backward pass (the meta-gradient)", fontsize=11, weight="bold", color=BACKWARD)
    for j, x in enumerate(xs):
        label = r"$\nabla_\theta$" if j == 0 else rf"$\nabla_{{\phi_{j}}}$"
        ax.text(x, Y_BACK, label + (r"$\mathcal{L}^q$" if j == k else ""), ha="center", va="center",
                fontsize=12, color=BACKWARD)
    _arrow(ax, (loss_x, Y_PHI - 0.3), (xs[-1] + 0.6, Y_BACK + 0.15), color=BACKWARD, dashed=True, shrink=3)
    for j in range(k - 1, -1, -1):
        _arrow(ax, (xs[j + 1], Y_BACK), (xs[j], Y_BACK), color=BACKWARD, dashed=True, shrink=24)
        ax.text(xs[j] + STEP / 2, Y_BACK + 0.2, rf"$\times\,(I-\alpha H^s(\phi_{j}))$", ha="center", fontsize=10,
                color=BACKWARD)
    factors = r"\,".join(rf"(I-\alpha H^s(\phi_{j}))" for j in range(k))
    ax.text(-1.4, Y_BACK - 0.8, rf"meta-gradient: $\nabla_\theta\mathcal{{L}}^q(\phi_{k}) = {factors}"
            rf"\;\nabla_{{\phi_{k}}}\mathcal{{L}}^q(\phi_{k})$", fontsize=11, color=BACKWARD)

    # What first-order MAML cuts.
    ax.text(-1.4, Y_GRAD + 0.65, r"orange edges: $g_j$ depends on $\phi_j$; differentiating them gives the "
            r"Hessian term $-\alpha H^s(\phi_j)$", fontsize=9, color=CUT)
    ax.text(-1.4, Y_BACK - 1.4,
            r"FOMAML cuts the orange edges (×): each $g_j$ is a constant, every factor $(I-\alpha H^s)$ becomes $I$,"
            "\nso the meta-gradient is just the query gradient at the adapted parameters: no second derivatives, "
            "no graph kept through the inner loop.", fontsize=9, color=CUT, va="top")
    ax.set(xlim=(-1.6, loss_x + 1.6), ylim=(Y_BACK - 2.3, Y_GRAD + 1.6))
    ax.axis("off")
    fig.tight_layout()
    return fig
