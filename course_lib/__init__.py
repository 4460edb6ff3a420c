"""Meta-Learning, Hands-On: the helper library behind the course notebooks."""

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

__version__ = "0.1.0"

__all__ = [
    "RuntimeInfo",
    "by_budget",
    "cache_dir",
    "data_dir",
    "get_budget",
    "get_device",
    "results_dir",
    "seed_everything",
    "setup",
]
