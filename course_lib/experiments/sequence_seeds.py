"""Chapter 06's learners trained from several seeds, and their results combined over the seeds.

One training run of the MANN or the LSTM is one draw: whether and when the MANN's memory leaves the
label-bookkeeping plateau depends on the seed (initial weights and training episodes) and on the
thread count (the order of floating-point sums), and a run that leaves it late ends up to about twenty
points lower.
:func:`train_over_seeds` trains every (model, seed) in its own one-thread process
(:mod:`course_lib.experiments.parallel_runs`); :func:`over_seeds` reports the mean over seeds with a
Student-t interval over them.
"""

from __future__ import annotations

import torch

from course_lib.experiments.label_delay import make_sequence_learner, train_sequence_learner
from course_lib.experiments.parallel_runs import run_in_processes
from course_lib.history import History
from course_lib.metrics import mean_ci


def train_one_seed(kind: str, seed: int, images: torch.Tensor, steps: int, *, n_way: int = 5,
                   checkpoint_path=None, device=None, report=None, **recipe):
    """One run of :func:`train_sequence_learner` for :func:`make_sequence_learner` ``(kind, n_way, seed)``,
    the sampler seeded with ``seed`` too; ``recipe``: its other keyword arguments (batch_size, lr, ...).

    Returns ``(state_dict, history dict)``, so that it can run in a worker process. An interrupted run
    (its checkpoint saved) raises KeyboardInterrupt rather than returning half a model.
    """
    model = make_sequence_learner(kind, n_way, seed=seed).to(device or "cpu")
    history = train_sequence_learner(model, images, steps, seed=seed, device=device, checkpoint_path=checkpoint_path,
                                     desc=f"{kind} seed {seed}", progress=False, report=report, **recipe)
    if history.interrupted:
        raise KeyboardInterrupt(f"{kind} seed {seed} interrupted at step {len(history)}")
    return {k: v.cpu() for k, v in model.state_dict().items()}, history.to_dict()


def train_over_seeds(kinds: tuple[str, ...], seeds: tuple[int, ...], images: torch.Tensor, steps: int, *,
                     n_way: int = 5, checkpoint_name=None, device=None, workers: int | None = None, **recipe):
    """Train every ``kind`` (``"mann"``, ``"lstm"``) from every seed with the same recipe.

    On a CPU the runs go to one-thread worker processes, one per core (see
    :mod:`course_lib.experiments.parallel_runs`), so each run's result does not depend on how many
    cores the machine has; on a GPU they run one after the other. ``checkpoint_name(kind, seed)`` gives
    each run's checkpoint file (None: no checkpoints); a finished run is loaded, not retrained.

    Returns ``{(kind, seed): (model, History)}`` with the models on ``device``.
    """
    device = torch.device(device or "cpu")
    jobs = [{"kind": kind, "seed": seed, "images": images, "steps": steps, "n_way": n_way,
             "checkpoint_path": checkpoint_name(kind, seed) if checkpoint_name else None, **recipe}
            for kind in kinds for seed in seeds]
    if device.type != "cpu":
        workers = 1
        for job in jobs:
            job["device"] = device
    results = run_in_processes(train_one_seed, jobs, total_steps=steps * len(jobs), workers=workers,
                               desc=" + ".join(k.upper() for k in kinds) + f", {len(seeds)} seeds")
    out = {}
    for job, (state, history) in zip(jobs, results):
        model = make_sequence_learner(job["kind"], n_way, seed=job["seed"])
        model.load_state_dict(state)
        out[job["kind"], job["seed"]] = model.to(device), History.from_dict(history)
    return out


def over_seeds(results: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Combine :func:`evaluate_sequences` results of runs from different seeds.

    Returns ``{"mean": [K], "ci": [K], "per_seed": [n, K], "loss": []}``: the mean over the ``n >= 2``
    runs of each run's accuracy by presentation, the 95 % Student-t half width *over the runs*
    (``metrics.mean_ci`` of each presentation's column: the spread that another seed would
    show, not the test-episode noise of one run), every run's accuracies, and the mean test loss.
    """
    if len(results) < 2:
        raise ValueError(f"over_seeds needs at least 2 runs to estimate a spread, got {len(results)}")
    per_seed = torch.stack([r["mean"] for r in results])
    ci = torch.tensor([mean_ci(column)[1] for column in per_seed.T])
    return {"mean": per_seed.mean(0), "ci": ci, "per_seed": per_seed,
            "loss": torch.stack([torch.as_tensor(r["loss"]) for r in results]).mean()}
