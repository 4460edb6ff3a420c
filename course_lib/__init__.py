"""Meta-Learning, Hands-On: the helper library behind the course notebooks.

The most used names are re-exported here. Every gradient-based method adapts through one inner
loop, :func:`course_lib.adaptation.adapt`; methods live in ``course_lib.algorithms.<name>``,
datasets and task samplers in ``course_lib.data``, chapter runners in ``course_lib.experiments``,
the case study in ``course_lib.edu`` (README, "Repository layout", describes the whole tree).
"""

from course_lib.adaptation import SGD, PerParameterSGD, adapt, task_loss
from course_lib.data.episodes import Episode, EpisodeSampler, TaskBatch
from course_lib.evaluation import evaluate_adaptation
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
    "SGD",
    "PerParameterSGD",
    "adapt",
    "evaluate_adaptation",
    "task_loss",
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
