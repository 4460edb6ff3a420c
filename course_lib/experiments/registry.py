"""The course's long experiments by name, for headless runs: ``python -m course_lib run <name>``.

Each :class:`Experiment` calls the training function its chapter calls, with the chapter's settings
for the budget, so it writes the very checkpoint the notebook looks for: run it on a server, then open
the notebook, which reloads the finished run instead of training. It also evaluates the trained model
and returns its headline numbers, which the command line writes to ``results/run-<name>.json``.

At the ``full`` budget the Omniglot experiments follow the papers' split (1200 characters of the
pooled background and evaluation sets for meta-training, x4 rotations, the other 423 for test:
:func:`course_lib.data.omniglot.load_paper_split`); at ``smoke`` and ``standard`` they use the
chapters' split of the two small background sets. ``settings`` overrides the training settings by
name (e.g. ``meta_batch_size=24`` so that a meta-batch divides among the processes of a ``group``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from course_lib import distributed, runtime
from course_lib.algorithms.protonet import ProtoNet
from course_lib.data.episodes import EpisodeSampler
from course_lib.data.omniglot import omniglot_split
from course_lib.distributed import SINGLE, TaskGroup
from course_lib.experiments import gbml as gx
from course_lib.experiments.metric_training import train_episodic
from course_lib.experiments.one_shot_eval import evaluate_episodes
from course_lib.metrics import mean_ci
from course_lib.nets import Conv4
from course_lib.results import save_results
from course_lib.runtime import BUDGETS

__all__ = ["EXPERIMENTS", "Context", "Experiment", "print_list", "run_named"]


@dataclass(frozen=True)
class Context:
    """What a run needs: ``budget``, ``device``, the process ``group``, ``settings`` overrides, ``progress``."""

    budget: str
    device: torch.device
    group: TaskGroup = SINGLE
    settings: dict | None = None
    progress: bool = True

    def pick(self, smoke, standard, full):
        """The value for this run's budget (like :func:`course_lib.runtime.by_budget`)."""
        return {"smoke": smoke, "standard": standard, "full": full}[self.budget]


@dataclass(frozen=True)
class Experiment:
    """A named run: its chapter, what it trains, expected wall time per budget, and the function that runs it.

    ``run(context) -> dict`` trains (or reloads) and evaluates; the dict is the results record.
    ``expected``: budget -> wall time, measured or published (the comment above :data:`EXPERIMENTS` says where).
    """

    name: str
    chapter: str
    summary: str
    expected: dict[str, str]
    run: Callable[[Context], dict]


def _sinusoid(method: str, smoke_steps: int):
    def run(ctx: Context) -> dict:
        steps = ctx.pick(smoke_steps, 10_000, 70_000)
        trained = gx.train_sinusoid(method, steps, device=ctx.device, group=ctx.group, progress=ctx.progress,
                                    **(ctx.settings or {}))
        if not ctx.group.is_main:
            return {}
        tasks, _ = gx.sinusoid_test_tasks(600, k_shot=5, device=ctx.device)
        scores = gx.evaluate_sinusoid(trained.model, tasks, update=trained.config["inner_lr"])
        return {"meta_steps": steps, "settings": trained.config, "seconds_per_step": trained.seconds_per_step,
                "test_mse_5shot_600tasks": {str(s): mean_ci(v) for s, v in scores.items()}}
    return run


def _omniglot(method: str):
    def run(ctx: Context) -> dict:
        train, test = omniglot_split(ctx.budget, progress=ctx.progress)
        steps = ctx.pick(25, 1000, 60_000)
        if method == "reptile":  # chapter 03: Nichol et al.'s settings
            settings = dict(gx.OMNIGLOT_REPTILE_NICHOL, meta_batch_size=ctx.pick(4, 5, 10))
        else:  # chapters 02 and 03
            settings = {"meta_batch_size": ctx.pick(4, 8, 32)}
        trained = gx.train_omniglot(method, steps, train.images, device=ctx.device, group=ctx.group,
                                    progress=ctx.progress, **(settings | (ctx.settings or {})))
        if not ctx.group.is_main:
            return {}
        cfg = trained.config
        episodes = gx.omniglot_test_episodes(test.images, ctx.pick(100, 600, 600), device=ctx.device)
        update = gx.inner_update(cfg) if method == "reptile" else cfg["inner_lr"]
        scores = gx.evaluate_omniglot(trained.model, episodes, update=update, steps=(0, cfg["test_steps"]))
        return {"meta_steps": steps, "settings": cfg, "train_characters": len(train), "test_characters": len(test),
                "seconds_per_step": trained.seconds_per_step,
                "accuracy_5w1s_after_steps": {str(s): mean_ci(v) for s, v in scores.items()}}
    return run


def _protonet(ctx: Context) -> dict:
    """Chapter 05's main ProtoNet run (Snell et al.: one episode of many classes per step)."""
    train, test = omniglot_split(ctx.budget, progress=ctx.progress)
    shape = dict(n_way=ctx.pick(10, 30, 60), k_shot=1, q_query=ctx.pick(3, 3, 5))
    steps = ctx.pick(40, 1500, 20_000)
    episodes_per_step = int((ctx.settings or {}).get("episodes_per_step", 1))
    unknown = set(ctx.settings or {}) - {"episodes_per_step"}
    if unknown:
        raise ValueError(f"protonet-omniglot has no setting {sorted(unknown)}; it takes episodes_per_step")
    name = f"protonet-{shape['n_way']}w{shape['k_shot']}s"  # chapter 05's checkpoint name
    name += "-omniglot1200" if ctx.budget == "full" else ""
    name += f"-e{episodes_per_step}" if episodes_per_step != 1 else ""
    torch.manual_seed(0)
    model = ProtoNet(Conv4(None)).to(ctx.device)
    sampler = EpisodeSampler(train.images.to(ctx.device), rotations=True, seed=ctx.group.seed(1), **shape)
    history = train_episodic(model, sampler, steps, lr=1e-3, device=ctx.device, name=name, progress=ctx.progress,
                             episodes_per_step=episodes_per_step, group=ctx.group)
    if not ctx.group.is_main:
        return {}
    n_eval = ctx.pick(30, 600, 1000)
    accuracy = {f"{n}w1s": evaluate_episodes(model, test.images.to(ctx.device), n_way=n, k_shot=1, n_episodes=n_eval,
                                             device=ctx.device, progress=ctx.progress) for n in (5, 20)}
    times = history.records.get("time", [])
    return {"steps": steps, "episode": shape, "episodes_per_step": episodes_per_step, "train_characters": len(train),
            "seconds_per_step": float(torch.tensor(times).median()) if times else None,
            "accuracy": {k: [v.mean, v.ci95] for k, v in accuracy.items()}, "test_episodes": n_eval}


def _expected(smoke: str, standard: str, full: str) -> dict[str, str]:
    return dict(zip(BUDGETS, (smoke, standard, full)))


# Smoke: one `python -m course_lib run` each from an empty cache on the course's 2-core CPU with one thread,
# shared with other jobs (load 3-6), 2026-12-07. Standard/full CPU times: the README's chapter measurements.
_CPU = "2-core CPU, 1 thread"
_GPU_MAML = "12-16 h on one GPU (published reproductions, see README); not measured here"
EXPERIMENTS: dict[str, Experiment] = {e.name: e for e in [
    Experiment("maml-sinusoid", "02_maml", "MAML on sinusoid regression (Finn et al. 2017, 5.1)",
               _expected(f"17 s ({_CPU})", "51-85 s of training (one core)", "5.4 min of training (one core)"), _sinusoid("maml", 1200)),
    Experiment("fomaml-sinusoid", "03_reptile", "first-order MAML on sinusoid regression",
               _expected(f"8 s ({_CPU})", "not measured (less than MAML's)", "not measured (less than MAML's)"),
               _sinusoid("fomaml", 300)),
    Experiment("reptile-sinusoid", "03_reptile", "Reptile on sinusoid regression (5 inner steps on minibatches)",
               _expected(f"12 s ({_CPU})", "not measured", "not measured"), _sinusoid("reptile", 300)),
    Experiment("maml-omniglot", "02_maml", "MAML, Omniglot 5-way 1-shot (Conv-4, 1 inner step, 3 at test)",
               _expected(f"19 s ({_CPU})", f"about 8 min ({_CPU}: 1000 steps of 0.4-0.5 s)", _GPU_MAML),
               _omniglot("maml")),
    Experiment("fomaml-omniglot", "03_reptile", "first-order MAML, Omniglot 5-way 1-shot",
               _expected(f"38 s ({_CPU})", "not measured (less than MAML's)", "not measured (less than MAML's)"),
               _omniglot("fomaml")),
    Experiment("reptile-omniglot", "03_reptile", "Reptile, Omniglot 5-way 1-shot (Nichol et al.'s settings)",
               _expected(f"24 s ({_CPU})", "not measured", "not measured"), _omniglot("reptile")),
    Experiment("protonet-omniglot", "05_metric_based", "ProtoNet, Omniglot (trained on N-way episodes, tested 5/20-way)",
               _expected(f"33 s ({_CPU})", "about 2 min of training (2 threads)", "not measured"), _protonet),
]}


def print_list() -> int:
    """``python -m course_lib list``: every experiment with its chapter and expected wall time per budget."""
    print("python -m course_lib run NAME [--budget smoke|standard|full] [--device cpu|cuda|...] [--set KEY=VALUE]\n")
    for exp in EXPERIMENTS.values():
        print(f"{exp.name:<20} {exp.summary} [notebook {exp.chapter}]")
        for budget, expected in exp.expected.items():
            print(f"{'':<20}   {budget:<9} {expected}")
    return 0


def run_named(name: str, budget: str, device: str | None = None, settings: dict | None = None,
              results_folder: str | os.PathLike | None = None, progress: bool = True) -> int:
    """``python -m course_lib run``: run (or reload) experiment ``name``; rank 0 writes ``run-<name>.json``.

    Under ``torchrun`` the processes share each meta-batch (:func:`course_lib.distributed.from_env`).
    Returns an exit status: 0 done, 2 unknown name or a meta-batch that does not divide among the processes.
    """
    if name not in EXPERIMENTS:
        print(f"unknown experiment {name!r}. Known: {', '.join(EXPERIMENTS)} (see `python -m course_lib list`)",
              file=sys.stderr)
        return 2
    os.environ["COURSE_BUDGET"] = budget  # read back by by_budget() and save_results()
    if device:
        os.environ["COURSE_DEVICE"] = device
    experiment = EXPERIMENTS[name]
    group = distributed.from_env(device)
    try:
        runtime.configure_threads()
        runtime.seed_everything(0)  # what a chapter's setup() does first
        if group.is_main:
            print(f"{name}: budget {budget}, device {group.device}, {group.world_size} process(es), "
                  f"expected {experiment.expected[budget]}")
        start = time.perf_counter()
        try:
            results = experiment.run(Context(budget, group.device, group, dict(settings or {}), progress))
        except distributed.MetaBatchError as err:
            if group.is_main:
                print(f"{name}: {err} Here: --set meta_batch_size=N (protonet-omniglot: --set episodes_per_step=N).",
                      file=sys.stderr)
            return 2
        if group.is_main:
            results |= {"experiment": name, "world_size": group.world_size, "wall_seconds": time.perf_counter() - start}
            path = save_results(f"run-{name}", results, Path(results_folder) if results_folder else None)
            print(f"{name}: done in {results['wall_seconds']:.0f} s; results written to {path}")
    finally:
        distributed.shutdown()
    return 0
