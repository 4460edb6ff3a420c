"""Meta-Learning, Hands-On: the helper library behind the course notebooks.

The most used names are re-exported here; algorithms live in ``course_lib.algorithms.<name>``,
datasets in ``course_lib.data``, the case study in ``course_lib.edu``.
"""

from course_lib.data.episodes import Episode, EpisodeSampler, TaskBatch
from course_lib.metrics import accuracy, mean_ci, mse, roc_auc
from course_lib.nets import MLP, Conv4, functional_forward, params_of
from course_lib.results import load_results, save_results
from course_lib.runtime import (
    RuntimeInfo,
    by_budget,
    cache_dir,
    data_dir,
    get_budget,
    get_device,
    results_dir,
    seed_everything,
    setup,
)
from course_lib.training import History, NonFiniteLossError, train_loop

__version__ = "0.1.0"

__all__ = [
    "Conv4",
    "Episode",
    "EpisodeSampler",
    "History",
    "MLP",
    "NonFiniteLossError",
    "RuntimeInfo",
    "TaskBatch",
    "accuracy",
    "by_budget",
    "cache_dir",
    "data_dir",
    "functional_forward",
    "get_budget",
    "get_device",
    "load_results",
    "mean_ci",
    "mse",
    "params_of",
    "results_dir",
    "roc_auc",
    "save_results",
    "seed_everything",
    "setup",
    "train_loop",
]
