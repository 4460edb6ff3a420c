"""An interactive look at Lake's one-shot runs: what does the model rank first, and why is it wrong?

``one_shot_explorer(runs, {"ProtoNet": model, ...})`` returns an ipywidgets box: pick a run and a
test item; it shows the test drawing, the 20 training drawings (one per character) ordered as the
model ranks them, the model's choice (red frame when wrong) and the true character (green frame).
:func:`plot_one_shot_item` draws the same figure without widgets (for static pages and tests).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import torch
from torch import Tensor

from course_lib.experiments.one_shot_eval import as_scorer, run_scores

__all__ = ["one_shot_explorer", "plot_one_shot_item", "rank_training_characters"]


def rank_training_characters(scorer, run, item: int, device="cpu") -> tuple[Tensor, Tensor]:
    """For test drawing ``item`` of ``run``: (order [20] best first, scores [20] in training order)."""
    n_test = run.test_images.shape[0]
    if not 0 <= item < n_test:
        raise ValueError(f"item must be in 0..{n_test - 1}, got {item}")
    scores = run_scores(as_scorer(scorer), run, device)[item]
    return scores.argsort(descending=True), scores


def _frame(ax, color: str, width: float = 3.0) -> None:
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_edgecolor(color)
        spine.set_linewidth(width)


def plot_one_shot_item(run, item: int, scores: Tensor, title: str = "", cmap: str = "gray_r"):
    """Figure: the test drawing, then the training drawings in the model's ranking order.

    scores [20]: the model's score of each training drawing (higher = more similar).
    """
    scores = torch.as_tensor(scores).detach().cpu()
    n = run.train_images.shape[0]
    if scores.shape != (n,):
        raise ValueError(f"scores must have shape [{n}] (one per training drawing), got {list(scores.shape)}")
    order = scores.argsort(descending=True).tolist()
    truth = int(run.answers[item])
    choice = order[0]
    cols = 10
    rows = -(-n // cols)
    fig = plt.figure(figsize=(cols * 0.95 + 2.4, rows * 1.15 + 0.4))
    grid = fig.add_gridspec(rows, cols + 2, wspace=0.15, hspace=0.45)
    ax = fig.add_subplot(grid[:, :2])
    ax.imshow(run.test_images[item].detach().cpu().numpy(), cmap=cmap, vmin=0, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    verdict = "right" if choice == truth else "wrong"
    ax.set_title(f"test item {item}\nmodel is {verdict}", color="green" if choice == truth else "red", fontsize=10)
    for rank, j in enumerate(order):
        a = fig.add_subplot(grid[rank // cols, 2 + rank % cols])
        a.imshow(run.train_images[j].detach().cpu().numpy(), cmap=cmap, vmin=0, vmax=1)
        a.set_xticks([]), a.set_yticks([])
        for spine in a.spines.values():
            spine.set_visible(False)
        a.set_title(f"#{rank + 1} ({scores[j]:.2g})", fontsize=7)
        if j == truth:
            _frame(a, "green")
        elif j == choice:
            _frame(a, "red")
    fig.suptitle(title or f"{getattr(run, 'name', '')}: training characters ranked by the model "
                 "(green = true character, red = wrong first choice)", fontsize=10)
    return fig


def one_shot_explorer(runs, models, device="cpu"):
    """ipywidgets box to browse Lake's runs. ``models``: a scorer/model or a dict name -> scorer/model."""
    import ipywidgets as widgets
    from IPython.display import display

    runs = list(runs)
    if not runs:
        raise ValueError("no runs given; load them with course_lib.data.omniglot.load_lake_runs()")
    if not isinstance(models, dict):
        models = {"model": models}
    cache: dict[tuple[str, int], Tensor] = {}

    def scores_of(name: str, r: int) -> Tensor:
        if (name, r) not in cache:
            cache[(name, r)] = run_scores(as_scorer(models[name]), runs[r], device)
        return cache[(name, r)]

    run_box = widgets.Dropdown(options=[(getattr(run, "name", str(i)), i) for i, run in enumerate(runs)],
                               value=0, description="run")
    item_box = widgets.IntSlider(value=0, min=0, max=runs[0].test_images.shape[0] - 1, description="test item")
    model_box = widgets.Dropdown(options=list(models), value=next(iter(models)), description="model")
    summary = widgets.HTML()
    out = widgets.Output()

    def redraw(*_):
        r, item, name = run_box.value, item_box.value, model_box.value
        scores = scores_of(name, r)
        pred = scores.argmax(1)
        wrong = int((pred != runs[r].answers).sum())
        summary.value = (f"<b>{name}</b> on {getattr(runs[r], 'name', r)}: {wrong} of {len(pred)} test items "
                         f"wrong ({100 * wrong / len(pred):.0f} % error)")
        with out:
            out.clear_output(wait=True)
            fig = plot_one_shot_item(runs[r], item, scores[item])
            display(fig)
            plt.close(fig)

    for box in (run_box, item_box, model_box):
        box.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([run_box, item_box, model_box]), summary, out])
