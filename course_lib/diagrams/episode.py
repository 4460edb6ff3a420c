"""The episode picture: meta-training and meta-test tasks, each with its support set and query set.

Every task row reads left to right: the learner adapts on the support set (inner loop), the adapted
learner is judged on the query set. Meta-training query losses update the meta-knowledge omega (outer
loop); meta-test tasks are new tasks, with classes never seen in meta-training, and their query
score is the number we report.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

__all__ = ["draw_episodes"]

# (colour, marker) of the classes of each task: three classes per task, a new set per task.
TRAIN_CLASSES = [
    [("tab:blue", "o"), ("tab:orange", "s"), ("tab:green", "^")],
    [("tab:red", "D"), ("tab:purple", "v"), ("tab:brown", "P")],
]
TEST_CLASSES = [[("tab:pink", "*"), ("tab:olive", "X"), ("tab:cyan", "h")]]
ROW_HEIGHT = 2.4
GAP = 1.9  # distance between a box and the learner phi
SPLIT_X = 8.6  # where meta-training ends and meta-testing begins


def _box(ax, x, y, w, h, label, face):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", fc=face, ec="0.3", lw=1))
    ax.text(x + w / 2, y + h + 0.12, label, ha="center", va="bottom", fontsize=8)


def _arrow(ax, start, end, label=None, color="0.2", style="-|>", dashed=False):
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=12, color=color, lw=1.3,
                                 linestyle="--" if dashed else "-"))
    if label:
        ax.text((start[0] + end[0]) / 2, (start[1] + end[1]) / 2 + 0.15, label, ha="center", va="bottom",
                fontsize=7, color=color)


def _examples(ax, x, y, classes, per_class, hollow):
    """Draw ``per_class`` markers of each class in a small grid; hollow markers = query examples."""
    for row, (color, marker) in enumerate(classes):
        for col in range(per_class):
            ax.plot(x + 0.3 + 0.35 * col, y + 0.3 + 0.4 * row, marker, ms=7, mec=color,
                    mfc="white" if hollow else color, mew=1.5)


def _task_row(ax, x0, y0, name, classes, k_shot):
    """One task at (x0, y0): support box -> adapted learner phi -> query box.

    Returns (x of phi, right edge of the query box).
    """
    support_w = 0.35 * k_shot + 0.25
    _box(ax, x0, y0, support_w, 1.35, f"{name}: support set", "#f4f4f4")
    _examples(ax, x0, y0, classes, k_shot, hollow=False)
    learner_x = x0 + support_w + GAP
    ax.text(learner_x, y0 + 0.65, r"$\phi$", ha="center", va="center", fontsize=12,
            bbox={"boxstyle": "circle", "fc": "#fff3c4", "ec": "0.3"})
    _arrow(ax, (x0 + support_w + 0.15, y0 + 0.65), (learner_x - 0.3, y0 + 0.65), "adapt on support")
    query_x = learner_x + GAP - 0.2
    _box(ax, query_x, y0, 1.3, 1.35, "query set", "#eef4fb")
    _examples(ax, query_x, y0, classes, 3, hollow=True)
    _arrow(ax, (learner_x + 0.3, y0 + 0.65), (query_x - 0.15, y0 + 0.65), "evaluate on query")
    return learner_x, query_x + 1.3


def draw_episodes(k_shot: int = 2) -> Figure:
    """Draw two meta-training tasks and one meta-test task as episodes (3-way ``k_shot``-shot).

    Returns the Matplotlib Figure (about 13 x 6 inches); it needs no data.
    """
    if k_shot < 1 or k_shot > 4:
        raise ValueError(f"k_shot must be between 1 and 4 to fit in the picture, got {k_shot}")
    fig, ax = plt.subplots(figsize=(13, 6))
    row_y = [ROW_HEIGHT * (len(TRAIN_CLASSES) - 1 - i) for i in range(len(TRAIN_CLASSES))]
    top = row_y[0] + 1.35
    omega = (SPLIT_X, top + 1.25)
    ax.text(*omega, "meta-knowledge ω\n(shapes every learner φ)", ha="center", va="center", fontsize=10,
            bbox={"boxstyle": "round", "fc": "#e4f2e4", "ec": "0.3"})
    for low, high in [(-0.3, omega[1] - 0.55), (omega[1] + 0.55, top + 2.4)]:  # the split, around the omega box
        ax.plot([SPLIT_X, SPLIT_X], [low, high], color="0.4", ls=":", lw=1.5)
    ax.text(SPLIT_X / 2, top + 2.2, "meta-training: tasks ~ p(T)", fontsize=11, weight="bold", ha="center")

    # Left: meta-training tasks; their query losses flow back into omega (the outer loop).
    bus_x = SPLIT_X - 1.0
    for i, (classes, y0) in enumerate(zip(TRAIN_CLASSES, row_y)):
        learner_x, right = _task_row(ax, 0.0, y0, f"task {i + 1}", classes, k_shot)
        _arrow(ax, (right + 0.1, y0 + 0.65), (bus_x, y0 + 0.65), "query loss", color="tab:green", style="-")
    ax.plot([bus_x, bus_x], [row_y[-1] + 0.65, top + 0.55], color="tab:green", lw=1.3)
    _arrow(ax, (bus_x, top + 0.55), (omega[0] - 0.6, omega[1] - 0.45), color="tab:green")
    ax.text(bus_x + 0.15, row_y[-1] + 1.4, "outer loop: update ω", rotation=90, fontsize=8, color="tab:green")
    _arrow(ax, (omega[0] - 1.2, omega[1] - 0.1), (learner_x + 0.1, row_y[0] + 0.95), color="tab:green", dashed=True)

    # Right: a meta-test task; omega is frozen, the query score is what we report.
    test_x0 = SPLIT_X + 0.6
    for i, (classes, y0) in enumerate(zip(TEST_CLASSES, row_y)):
        learner_x, test_right = _task_row(ax, test_x0, y0, f"new task {i + 1}", classes, k_shot)
        ax.text(test_x0, y0 - 0.35, "query score = the number we report (no update of ω)", fontsize=8, va="top")
    _arrow(ax, (omega[0] + 1.2, omega[1] - 0.1), (learner_x - 0.1, row_y[0] + 0.95), "ω frozen",
           color="tab:green", dashed=True)
    ax.text((SPLIT_X + test_right) / 2, top + 2.2, "meta-test: NEW tasks ~ p(T), unseen classes", fontsize=11,
            weight="bold", ha="center")
    ax.text(0.0, -0.35, "filled markers: labelled support examples\nhollow markers: query examples "
            "(labels used only to score)", fontsize=8, va="top", color="0.3")
    ax.set(xlim=(-0.3, test_right + 0.3), ylim=(-1.2, top + 2.6))
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout()
    return fig
