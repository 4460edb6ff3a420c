"""Rate a few movies and watch a meta-learned recommender adapt to you.

``RecommenderWidget(...).widget`` is an ipywidgets box for JupyterLab: a handful of well-known
movies (title and genres), each with a rating from "not seen" to 5 stars, and a **Recommend**
button. Pressing it builds a one-user task from your ratings (the support set), runs the same
inner loop as meta-training (:func:`course_lib.recsys.melu.adapt_users`), and shows the ten
movies with the highest adapted predictions, next to what the un-adapted model predicted for
them, plus what changed in the adapted parameters: how far the user vector and the decision
layers moved, and which genres' predicted ratings moved most against the average movie.

Everything is also callable from code (:func:`recommend`), which is how the tests drive it.
"""

from __future__ import annotations

import numpy as np
import torch

from course_lib.recsys.melu import adapt_users, query_predictions
from course_lib.recsys.tasks import UserTasks

__all__ = ["RecommenderWidget", "recommend"]


@torch.no_grad()
def recommend(model, item_x: torch.Tensor, rated_items, ratings, candidates, genres: np.ndarray,
              genre_names: list[str], inner_lr: float, steps: int, top: int = 10) -> dict:
    """Adapt ``model`` to one user's ``ratings [k]`` of ``rated_items [k]`` and rank ``candidates [C]``.

    Returns ``{"items" [top], "before" [top], "after" [top]`` (predicted ratings of the top movies),
    ``"moved" {parameter: relative change}``, ``"genre_shift" {genre: mean change of the
    predicted rating of candidates of that genre, minus the mean change of all candidates}``}, genres
    sorted from most raised to most lowered. Rated movies are never recommended.
    """
    rated = torch.as_tensor(np.asarray(rated_items, dtype=np.int64)).reshape(1, -1)
    pool = torch.as_tensor(np.setdiff1d(np.asarray(candidates), rated.numpy()))
    task = UserTasks(rated, torch.as_tensor(np.asarray(ratings, dtype=np.float32)).reshape(1, -1), pool[None],
                     torch.zeros(1, len(pool)), torch.ones(1, len(pool), dtype=torch.bool), torch.zeros(1, dtype=torch.long))
    start = model.personal(1)
    phi = adapt_users(model, item_x, task, inner_lr, steps, start=start)
    before = query_predictions(model, item_x, task, start)[0]
    after = query_predictions(model, item_x, task, phi)[0]
    best = torch.argsort(after, descending=True)[:top]
    moved = {n: float((phi[n] - start[n]).norm() / start[n].norm().clamp(min=1e-8)) for n in phi}
    change = (after - before).numpy()
    on = genres[pool.numpy()] > 0
    shift = {g: float(change[on[:, j]].mean() - change.mean()) for j, g in enumerate(genre_names) if on[:, j].any()}
    return {"items": pool[best].numpy(), "before": before[best].numpy(), "after": after[best].numpy(),
            "moved": moved, "genre_shift": dict(sorted(shift.items(), key=lambda kv: -kv[1]))}


class RecommenderWidget:
    """``data``: :class:`~course_lib.data.movielens.MovieLens`; ``to_rate``/``candidates``: movie indices."""

    def __init__(self, model, item_x, data, to_rate, candidates, inner_lr: float, steps: int):
        self.model, self.item_x, self.data = model, item_x, data
        self.to_rate, self.candidates = list(to_rate), np.asarray(candidates)
        self.inner_lr, self.steps = inner_lr, steps
        self._build()

    def _build(self):
        import ipywidgets as w

        options = [("not seen", None)] + [(f"{s / 2:g}★", s / 2) for s in range(1, 11)]
        self.pickers = [w.Dropdown(options=options, value=None, layout=w.Layout(width="90px"))
                        for _ in self.to_rate]
        rows = [w.HBox([p, w.HTML(f"<b>{self.data.titles[i]}</b> <small>"
                                  f"{self.data.describe(i).split(' — ')[-1]}</small>")])
                for p, i in zip(self.pickers, self.to_rate)]
        button = w.Button(description="Recommend", button_style="primary")
        self.output = w.HTML("<i>Rate some movies, then press Recommend (with no rating you get the "
                             "meta-learned starting point: everybody's recommendations).</i>")
        button.on_click(lambda _: self.update())
        self.widget = w.VBox(rows + [button, self.output])

    def update(self) -> dict:
        """Adapt to the ratings picked so far and show the recommendations; returns :func:`recommend`'s dict."""
        chosen = [(i, p.value) for i, p in zip(self.to_rate, self.pickers) if p.value is not None]
        items, ratings = [i for i, _ in chosen], [r for _, r in chosen]
        result = recommend(self.model, self.item_x, items, ratings, self.candidates, self.data.genres,
                           self.data.genre_names, self.inner_lr, self.steps)
        rows = "".join(f"<tr><td>{self.data.titles[i]}</td><td>{self.data.describe(i).split(' — ')[-1]}</td>"
                       f"<td>{b:.2f}</td><td><b>{a:.2f}</b></td></tr>"
                       for i, b, a in zip(result["items"], result["before"], result["after"]))
        moved = ", ".join(f"{n} {100 * v:.1f} %" for n, v in result["moved"].items())
        shifts = list(result["genre_shift"].items())
        up = ", ".join(f"{g} {d:+.2f}" for g, d in shifts[:3])
        down = ", ".join(f"{g} {d:+.2f}" for g, d in shifts[-3:])
        self.output.value = (f"<p>{len(items)} rating(s) -> {self.steps} inner steps of size {self.inner_lr:g}.</p>"
                             "<table><tr><th>recommended</th><th>genres</th><th>before</th><th>after</th></tr>"
                             f"{rows}</table><p><b>What changed</b> (relative to the starting values): {moved}.<br>"
                             f"Genres raised most for you (against the average movie): {up}; lowered most: {down}.</p>")
        return result
