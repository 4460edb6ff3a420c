"""The recommendation widget: adapting to a few ratings changes the ranking the way the ratings say."""

import numpy as np
import pytest
import torch

from course_lib.data.movielens import MovieLens
from course_lib.recsys.melu import MeLU
from course_lib.widgets.recsys import RecommenderWidget, recommend


def _setup():
    genres = np.zeros((12, 2), np.float32)
    genres[:6, 0], genres[6:, 1] = 1, 1                        # movies 0-5 "Comedy", 6-11 "Horror"
    data = MovieLens(np.zeros(1, np.int64), np.zeros(1, np.int64), np.ones(1, np.float32), np.zeros(1, np.int64),
                     np.array([1]), np.arange(12), [f"movie {i}" for i in range(12)], ["Comedy", "Horror"], genres,
                     np.full(12, 2000.0, np.float32))
    torch.manual_seed(0)
    return MeLU(2, embed_dim=4, user_dim=2, hidden=8, mu=3.0), torch.as_tensor(genres), data


def test_recommend_follows_the_ratings_and_reports_what_moved():
    model, x, data = _setup()
    out = recommend(model, x, [0, 1, 6, 7], [5.0, 5.0, 0.5, 0.5], np.arange(12), data.genres, data.genre_names,
                    inner_lr=0.01, steps=10, top=4)
    assert not set(out["items"]) & {0, 1, 6, 7}                 # rated movies are not recommended
    assert set(out["items"]) <= set(range(2, 6))                # the liked genre comes first
    assert list(out["genre_shift"]) == ["Comedy", "Horror"]
    assert out["genre_shift"]["Comedy"] > 0 > out["genre_shift"]["Horror"]
    assert set(out["moved"]) == {"user", "hidden_w", "hidden_b", "out_w", "out_b"} and out["moved"]["out_b"] > 0
    empty = recommend(model, x, [], [], np.arange(12), data.genres, data.genre_names, 0.01, 10)
    assert all(v == 0 for v in empty["moved"].values())        # no rating: the starting point


def test_widget_builds_and_updates():
    pytest.importorskip("ipywidgets")
    model, x, data = _setup()
    widget = RecommenderWidget(model, x, data, to_rate=[0, 6], candidates=np.arange(12), inner_lr=0.01, steps=5)
    widget.pickers[0].value = 5.0
    result = widget.update()
    assert "movie" in widget.output.value and "What changed" in widget.output.value
    assert 0 not in result["items"]
