"""The experiments of chapters 02 (MAML) and 03 (Reptile): sinusoid regression and Omniglot.

Each ``train_*`` function builds the model, meta-trains it with :func:`course_lib.training.train_loop`
(checkpointed under ``cache_dir()``, so re-running a notebook reloads a finished run instantly; ``group``: over
several processes, :mod:`course_lib.distributed`) and returns a :class:`Run`. ``evaluate_*`` score adaptation.

Methods: ``"maml"`` (second order), ``"fomaml"`` (first order), ``"reptile"``, and for sinusoids
``"pretrained"`` (joint training on all tasks, the MAML paper's baseline) and ``"metasgd"`` (chapter 04:
the initialisation and one learned step size per parameter entry; the run's model is a ``MetaSGD``).

Timing: every step records ``step_seconds``, the wall time of the meta-update alone (sampling
excluded). Memory: :func:`peak_memory` — on CUDA ``torch.cuda.max_memory_allocated``; on CPU the
peak number of bytes held by autograd graphs for backward (tensor storages saved by autograd,
counted once each while alive, via ``torch.autograd.graph.saved_tensors_hooks``). The CPU figure
leaves out parameters, inputs and temporaries that autograd does not keep, but it is exactly the
part that grows with second-order MAML's inner loop, and it is deterministic.
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import SGD, Adam
from course_lib.algorithms import maml, meta_sgd, reptile
from course_lib.baselines import joint_pretraining
from course_lib.data.sinusoid import SinusoidTaskFamily
from course_lib.data.episodes import EpisodeSampler
from course_lib.distributed import SINGLE, TaskGroup
from course_lib.evaluation import evaluate_adaptation
from course_lib.metrics import accuracy
from course_lib.nets import MLP, Conv4, params_of
from course_lib.runtime import cache_dir
from course_lib.training import History

METHODS = ("maml", "fomaml", "reptile", "pretrained", "metasgd")

# The MAML paper's sinusoid protocol (Finn et al. 2017, §5.1)
SINUSOID = dict(k_shot=10, inner_lr=0.01, inner_steps=1, meta_lr=1e-3, meta_batch_size=25)
# Reptile on sinusoids: several inner steps (k = 1 is joint training), each on its own minibatch of 5
# of the task's 20 points (the 20 a MAML task uses: 10 to adapt on, 10 to evaluate)
SINUSOID_REPTILE = dict(k_shot=20, inner_batch_size=5, inner_lr=0.02, inner_steps=5, meta_lr=1e-3)
# Meta-SGD on sinusoids (Li et al. 2017): MAML's protocol with the step sizes drawn from U[0.005, 0.1] and
# learned (in place of MAML's inner_lr)
SINUSOID_METASGD = dict(init_step_min=0.005, init_step_max=0.1)
# MAML's Omniglot 5-way 1-shot protocol: Conv-4 with strided convolutions, inner lr 0.4,
# 1 step in training, 3 at test, meta-batch 32, Adam 1e-3
OMNIGLOT = dict(n_way=5, k_shot=1, q_query=5, inner_lr=0.4, inner_steps=1, test_steps=3, meta_lr=1e-3,
                meta_batch_size=32)
# Reptile on Omniglot as Nichol et al. train it: 10 examples per class in training tasks, each of the
# 5 inner steps on its own minibatch of 10 (tested, like the others, on 1-shot tasks)
OMNIGLOT_REPTILE = dict(k_shot=10, inner_batch_size=10, inner_lr=0.1, inner_steps=5, meta_lr=1e-3)
# Nichol et al.'s transductive 5-way 1-shot Omniglot command (openai/supervised-reptile README; 100 000 iterations):
# inner Adam (beta1 = 0), plain outer step annealed linearly 1 -> 0, 5 Adam steps at test. Pass as overrides.
OMNIGLOT_REPTILE_NICHOL = dict(k_shot=15, inner_batch_size=25, inner_optimizer="adam", inner_lr=1e-3, inner_steps=3,
                               meta_lr=1.0, meta_lr_final=0.0, meta_batch_size=10, test_steps=5)


@dataclass
class Run:
    """A meta-trained model with its history and the settings it was trained with."""

    method: str
    model: nn.Module
    history: History
    config: dict = field(default_factory=dict)

    @property
    def seconds_per_step(self) -> float:
        """Median wall time of one meta-update (robust to a busy machine)."""
        values = self.history.records.get("step_seconds", [])
        return float(torch.tensor(values).median()) if values else float("nan")


def _check_method(method: str, allowed=METHODS) -> None:
    if method not in allowed:
        raise ValueError(f"method must be one of {allowed}, got {method!r}")


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    out["step_seconds"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------------------------
# sinusoid regression
# --------------------------------------------------------------------------------------------
def inner_update(cfg: dict):
    """Reptile's inner rule for settings ``cfg``: ``Adam(inner_lr)`` (beta1 = 0) or ``SGD(inner_lr)``."""
    return Adam(cfg["inner_lr"]) if cfg.get("inner_optimizer") == "adam" else SGD(cfg["inner_lr"])


def _meta_step(method: str, model, optimizer, batch, loss_fn, cfg: dict, vectorize: bool) -> dict:
    """One timed meta-training step of MAML, FOMAML or Reptile with the settings ``cfg``."""
    if method == "reptile":
        return _timed(lambda: reptile.reptile_step(model, optimizer, batch, loss_fn=loss_fn, update=inner_update(cfg),
                                                   inner_steps=cfg["inner_steps"],
                                                   inner_batch_size=cfg.get("inner_batch_size"), vectorize=vectorize))
    return _timed(lambda: maml.maml_step(model, optimizer, batch, loss_fn=loss_fn, inner_lr=cfg["inner_lr"],
                                         inner_steps=cfg["inner_steps"], first_order=method == "fomaml",
                                         vectorize=vectorize))


def _checkpoint_path(checkpoint: bool, prefix: str, cfg: dict, suffix: str):
    """``cache/checkpoints/<prefix>_<settings>_<suffix>.pt`` (None without checkpointing)."""
    if not checkpoint:
        return None
    tag = "_".join(f"{k}{v}" for k, v in sorted(cfg.items()))
    path = cache_dir() / "checkpoints" / f"{prefix}_{tag}_{suffix}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def train_sinusoid(method: str, num_steps: int, *, device: torch.device | str = "cpu", seed: int = 0,
                   checkpoint: bool = True, progress: bool = True, group: TaskGroup = SINGLE, **overrides) -> Run:
    """Meta-train the 1-40-40-1 ReLU MLP on sinusoid tasks with ``method``.

    Settings default to :data:`SINUSOID` (and :data:`SINUSOID_REPTILE` for Reptile,
    :data:`SINUSOID_METASGD` for Meta-SGD); any of them can be overridden by keyword (e.g.
    ``inner_steps=5``). The checkpoint file name encodes the method, settings and ``num_steps``.
    For ``"metasgd"`` the run's model is a :class:`~course_lib.algorithms.meta_sgd.MetaSGD` wrapping
    the MLP (``run.model.model``, step sizes ``run.model.step_sizes()``).
    """
    _check_method(method)
    extra = {"reptile": SINUSOID_REPTILE, "metasgd": SINUSOID_METASGD}.get(method, {})
    cfg = dict(SINUSOID, **extra)
    if method == "metasgd":
        del cfg["inner_lr"]
    cfg.update(overrides)
    device = torch.device(device)
    torch.manual_seed(seed)
    model = MLP((1, 40, 40, 1)).to(device)
    if method == "metasgd":
        model = meta_sgd.MetaSGD(model, (cfg["init_step_min"], cfg["init_step_max"]), inner_steps=cfg["inner_steps"],
                                 loss_fn=F.mse_loss, generator=torch.Generator().manual_seed(seed + 2)).to(device)
    optimizer = group.wrap(torch.optim.Adam(model.parameters(), lr=cfg["meta_lr"]))
    family, tasks = SinusoidTaskFamily(), group.local_tasks(cfg["meta_batch_size"])
    generator = torch.Generator().manual_seed(group.seed(seed + 1))

    def step_fn(step: int) -> dict:
        batch = family.sample_batch(tasks, cfg["k_shot"], cfg["k_shot"], generator).to(device)
        if method == "pretrained":
            return _timed(lambda: joint_pretraining.joint_training_step(model, optimizer, batch, loss_fn=F.mse_loss))
        if method == "metasgd":  # vmapped over tasks, like MAML below
            return _timed(lambda: meta_sgd.meta_sgd_step(model, optimizer, batch))
        # vmap over the 25 tasks: about ten times faster than the task loop for this MLP on a CPU
        return _meta_step(method, model, optimizer, batch, F.mse_loss, cfg, vectorize=True)

    path = _checkpoint_path(checkpoint, f"sinusoid_{method}", cfg, f"seed{seed}_{num_steps}")
    history = group.train_loop(step_fn, num_steps, state={"model": model, "optimizer": optimizer, "generator": generator},
                               checkpoint_path=path, desc=f"sinusoid {method}", progress=progress, log_every=50)
    return Run(method, model, history, cfg)


def sinusoid_test_tasks(num_tasks: int = 600, k_shot: int = 5, k_query: int = 100, seed: int = 1234,
                        device: torch.device | str = "cpu"):
    """Fixed held-out sinusoid tasks (a ``TaskBatch``) and their ``SinusoidTasks`` (for plotting)."""
    batch, tasks = SinusoidTaskFamily().sample_batch_with_tasks(
        num_tasks, k_shot, k_query, torch.Generator().manual_seed(seed))
    return batch.to(device), tasks


def evaluate_sinusoid(model: nn.Module, tasks, *, update, steps=(0, 1, 5, 10)) -> dict[int, list[float]]:
    """Query MSE per task after each number of fine-tuning steps of ``update`` (a rule, or a step size for SGD)."""
    return evaluate_adaptation(model, params_of(model), tasks, loss_fn=F.mse_loss, update=update, steps=steps)


# --------------------------------------------------------------------------------------------
# Omniglot N-way K-shot classification
# --------------------------------------------------------------------------------------------
def train_omniglot(method: str, num_steps: int, train_images: torch.Tensor, *, device: torch.device | str = "cpu",
                   seed: int = 0, checkpoint: bool = True, progress: bool = True, group: TaskGroup = SINGLE,
                   **overrides) -> Run:
    """Meta-train Conv-4 (strided, as in MAML) on N-way K-shot episodes of ``train_images [C, M, 28, 28]``.

    Rotations by multiples of 90° are extra classes (meta-training only). Settings default to
    :data:`OMNIGLOT` (and :data:`OMNIGLOT_REPTILE` for Reptile); override them by keyword. Outer optimizer:
    Adam(``meta_lr``), or with ``meta_lr_final`` plain SGD annealed linearly from ``meta_lr`` to it (Nichol et al.).
    """
    _check_method(method, ("maml", "fomaml", "reptile"))
    cfg = dict(OMNIGLOT, **(OMNIGLOT_REPTILE if method == "reptile" else {})) | overrides
    device = torch.device(device)
    torch.manual_seed(seed)
    model = Conv4(cfg["n_way"], pooling="stride").to(device)
    annealed, tasks = "meta_lr_final" in cfg, group.local_tasks(cfg["meta_batch_size"])
    optimizer = group.wrap((torch.optim.SGD if annealed else torch.optim.Adam)(model.parameters(), lr=cfg["meta_lr"]))
    shape = (cfg["n_way"], cfg["k_shot"], cfg["q_query"])
    sampler = EpisodeSampler(train_images, *shape, rotations=True, seed=group.seed(seed))

    def step_fn(step: int) -> dict:
        if annealed:  # epsilon = meta_lr at step 0, -> meta_lr_final at the end
            lr0, lr1 = cfg["meta_lr"], cfg["meta_lr_final"]
            optimizer.param_groups[0]["lr"] = lr0 + (lr1 - lr0) * step / num_steps
        batch = sampler.sample_batch(tasks).to(device)
        # the task loop: faster than vmap for Conv-4 on a CPU with one thread (benchmarks/maml_step.py)
        return _meta_step(method, model, optimizer, batch, F.cross_entropy, cfg, vectorize=False)

    path = _checkpoint_path(checkpoint, f"omniglot_{method}", cfg, f"C{len(train_images)}_seed{seed}_{num_steps}")
    history = group.train_loop(step_fn, num_steps, state={"model": model, "optimizer": optimizer, "sampler": sampler},
                               checkpoint_path=path, desc=f"omniglot {method}", progress=progress, log_every=5)
    return Run(method, model, history, cfg)


def omniglot_test_episodes(test_images: torch.Tensor, num_episodes: int, *, n_way: int = 5, k_shot: int = 1,
                           q_query: int = 5, seed: int = 4321, device: torch.device | str = "cpu"):
    """``num_episodes`` fixed test episodes (a ``TaskBatch``) from held-out characters, no rotations."""
    return EpisodeSampler(test_images, n_way, k_shot, q_query, rotations=False, seed=seed).sample_batch(num_episodes).to(device)


def evaluate_omniglot(model: nn.Module, episodes, *, update, steps=(0, 1, 3)) -> dict[int, list[float]]:
    """Query accuracy per episode after each number of fine-tuning steps of ``update`` (a rule, or a step size for SGD).

    As in MAML's code, BatchNorm normalises with the statistics of the batch being classified
    (the whole query set of an episode at once), which is mildly transductive.
    """
    return evaluate_adaptation(model, params_of(model), episodes, loss_fn=F.cross_entropy, update=update,
                               steps=steps, metric_fn=accuracy, chunk_size=50)


# --------------------------------------------------------------------------------------------
# memory of one meta-step
# --------------------------------------------------------------------------------------------
class _Held:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor):
        self.tensor = tensor


def autograd_peak_bytes(fn) -> int:
    """Run ``fn()`` and return the peak bytes of tensor storages held by autograd for backward.

    Each storage counts once while at least one graph node holds it (views share a storage).
    Use it with the task-loop implementations (``vectorize=False``): ``torch.func`` transforms do
    not support saved-tensor hooks.
    """
    live: dict[int, list[int]] = {}
    state = {"bytes": 0, "peak": 0}

    def release(key):
        entry = live[key]
        entry[0] -= 1
        if entry[0] == 0:
            state["bytes"] -= entry[1]
            del live[key]

    def pack(tensor):
        held = _Held(tensor)
        storage = tensor.untyped_storage()
        key = storage.data_ptr() if tensor.numel() else id(held)
        if key in live:
            live[key][0] += 1
        else:
            live[key] = [1, storage.nbytes()]
            state["bytes"] += storage.nbytes()
            state["peak"] = max(state["peak"], state["bytes"])
        weakref.finalize(held, release, key)
        return held

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda held: held.tensor):
        fn()
    return int(state["peak"])


def peak_memory(fn, device: torch.device | str) -> tuple[int, str]:
    """``(bytes, what)``: ``torch.cuda.max_memory_allocated`` on CUDA, else :func:`autograd_peak_bytes`."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base), "CUDA peak allocated above baseline"
    return autograd_peak_bytes(fn), "peak bytes held by autograd graphs"


def meta_step_memory(method: str, model: nn.Module, batch, *, loss_fn, device, **cfg) -> tuple[int, str]:
    """Peak memory of one meta-gradient computation of ``method`` on ``batch`` (model unchanged)."""
    _check_method(method, ("maml", "fomaml", "reptile"))
    vectorize = torch.device(device).type == "cuda"  # saved-tensor hooks need the task loop on CPU

    def run():
        if method == "reptile":
            reptile.reptile_direction(model, params_of(model), batch, loss_fn=loss_fn, update=inner_update(cfg),
                                      inner_steps=cfg["inner_steps"], inner_batch_size=cfg.get("inner_batch_size"),
                                      vectorize=vectorize)
        else:
            loss = maml.meta_loss(model, params_of(model), batch, loss_fn=loss_fn, inner_lr=cfg["inner_lr"],
                                  inner_steps=cfg["inner_steps"], first_order=method == "fomaml", vectorize=vectorize)
            torch.autograd.grad(loss, list(model.parameters()))

    return peak_memory(run, device)
