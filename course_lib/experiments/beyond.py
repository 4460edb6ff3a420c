"""The experiments of chapter 10 (beyond the classics): pre-trained embeddings, ANIL vs MAML, in-context learning.

* :func:`pretrain_classifier`: Conv-4 trained with plain cross-entropy on all meta-training classes.
* :func:`train_gbml`: MAML or ANIL on Omniglot with MAML's settings; ANIL is MAML's meta-loss with the
  partial parameter dict of the head (:func:`head_params`) handed to the shared inner loop.
* :func:`train_in_context`: a transformer meta-trained on task sequences with Garg et al.'s prefix loss;
  :func:`linear_tasks` samples the noiseless linear-regression family; :func:`k_shot_errors` scores any
  predictor from ``k`` context pairs, e.g. :func:`least_squares_predict` (the optimum for noiseless
  linear tasks; with :func:`sinusoid_features` the oracle of the sinusoid family).
* :func:`train_in_context_classifier`: the same transformer over (embedding, label) sequences of
  Omniglot episodes, the images embedded by a frozen network.

Every run is checkpointed under ``cache_dir()/ch10`` (re-running the notebook reloads it).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call

from course_lib.adaptation import SGD, adapt
from course_lib.algorithms import maml
from course_lib.algorithms.in_context import InContextTransformer, prefix_loss
from course_lib.baselines.embedding_heads import class_batch
from course_lib.baselines.joint_pretraining import joint_training_step
from course_lib.data.episodes import EpisodeSampler
from course_lib.data.linear_regression import linear_tasks  # noqa: F401  (the chapter calls it as bx.linear_tasks)
from course_lib.experiments.gbml import OMNIGLOT, Run
from course_lib.experiments.metric_training import to_training_device
from course_lib.nets import Conv4, params_of
from course_lib.runtime import cache_dir
from course_lib.training import train_loop

__all__ = ["GBML_METHODS", "PRETRAIN", "gbml_meta_loss", "gbml_scorer", "head_params", "in_context_scorer",
           "k_shot_errors", "least_squares_predict", "linear_tasks", "pretrain_classifier", "sinusoid_features",
           "train_gbml", "train_in_context", "train_in_context_classifier"]

GBML_METHODS = ("maml", "anil")
# Supervised pre-training: 64 random training classes x 2 images per step (128 images, about the images a
# 30-way ProtoNet episode of chapter 05 embeds), Adam 1e-3 halved at 50 % and 75 % of the run.
PRETRAIN = dict(classes_per_batch=64, images_per_class=2, lr=1e-3)


def _path(name: str):
    path = cache_dir() / "ch10" / f"{name}.pt"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _timed(fn) -> dict:
    start = time.perf_counter()
    out = fn()
    out["step_seconds"] = time.perf_counter() - start
    return out


# --------------------------------------------------------------------------------------------
# supervised pre-training on all meta-training classes
# --------------------------------------------------------------------------------------------
def pretrain_classifier(train_images: Tensor, num_steps: int, *, device="cpu", seed: int = 0, progress: bool = True,
                        **overrides) -> Run:
    """Conv-4 (max-pool, as ProtoNet's) + a linear head over all ``4 C`` training classes (rotations included),
    trained with cross-entropy on batches of random classes. ``train_images [C, M, 28, 28]``; settings
    default to :data:`PRETRAIN` (override by keyword)."""
    cfg = dict(PRETRAIN, **overrides)
    torch.manual_seed(seed)
    num_classes = 4 * train_images.shape[0]
    model = to_training_device(Conv4(num_classes), device)  # channels-last convolutions on the CPU: faster
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["lr"])
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [max(1, num_steps // 2), max(1, 3 * num_steps // 4)], 0.5)
    half = cfg["images_per_class"] // 2
    sampler = EpisodeSampler(train_images, cfg["classes_per_batch"], half, cfg["images_per_class"] - half,
                             rotations=True, seed=seed)

    def step_fn(step: int) -> dict:
        batch = class_batch(sampler.sample()).to(device)
        out = _timed(lambda: joint_training_step(model, optimizer, batch, loss_fn=F.cross_entropy))
        schedule.step()
        return out

    history = train_loop(step_fn, num_steps, state={"model": model, "optimizer": optimizer, "schedule": schedule,
                                                    "sampler": sampler},
                         checkpoint_path=_path(f"pretrained_{'_'.join(f'{k}{v}' for k, v in sorted(cfg.items()))}"
                                               f"_C{len(train_images)}_seed{seed}_{num_steps}"),
                         desc="supervised pre-training", progress=progress)
    return Run("pretrained", model, history, dict(cfg, num_classes=num_classes))


# --------------------------------------------------------------------------------------------
# MAML and ANIL
# --------------------------------------------------------------------------------------------
def head_params(model: nn.Module) -> dict[str, Tensor]:
    """The partial parameter dict ANIL adapts: the final linear layer only."""
    return {n: p for n, p in model.named_parameters() if n.startswith("head.")}


def gbml_meta_loss(method: str, model: nn.Module, batch, cfg: dict) -> Tensor:
    """MAML's meta-loss; for ``"anil"`` the inner loop adapts :func:`head_params` and the body stays fixed.

    Either way the outer gradient reaches every parameter: in ANIL the body enters the support loss (through
    the head's inner gradient) and the query loss as the model's own tensors, so it is still meta-trained.
    """
    if method not in GBML_METHODS:
        raise ValueError(f"method must be one of {GBML_METHODS}, got {method!r}")
    params = head_params(model) if method == "anil" else params_of(model)
    return maml.meta_loss(model, params, batch, loss_fn=F.cross_entropy, inner_lr=cfg["inner_lr"],
                          inner_steps=cfg["inner_steps"])


def train_gbml(method: str, num_steps: int, train_images: Tensor, *, device="cpu", seed: int = 0,
               progress: bool = True, **overrides) -> Run:
    """Meta-train the strided Conv-4 with MAML or ANIL on Omniglot episodes (settings: gbml's ``OMNIGLOT``).

    Both methods use the same code path (meta-loss over the task batch, one backward, Adam), the same
    initial weights and the same task sequence; each step records ``step_seconds``.
    """
    cfg = dict(OMNIGLOT, **overrides)
    torch.manual_seed(seed)
    model = Conv4(cfg["n_way"], pooling="stride").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg["meta_lr"])
    sampler = EpisodeSampler(train_images, cfg["n_way"], cfg["k_shot"], cfg["q_query"], rotations=True, seed=seed)

    def one_step(batch) -> dict:
        optimizer.zero_grad(set_to_none=True)
        loss = gbml_meta_loss(method, model, batch, cfg)
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.detach())}

    def step_fn(step: int) -> dict:
        batch = sampler.sample_batch(cfg["meta_batch_size"]).to(device)
        return _timed(lambda: one_step(batch))

    tag = "_".join(f"{k}{v}" for k, v in sorted(cfg.items()))
    history = train_loop(step_fn, num_steps, state={"model": model, "optimizer": optimizer, "sampler": sampler},
                         checkpoint_path=_path(f"{method}_{tag}_C{len(train_images)}_seed{seed}_{num_steps}"),
                         desc=f"omniglot {method}", progress=progress, log_every=5)
    return Run(method, model, history, cfg)


def gbml_scorer(method: str, model: nn.Module, *, steps: int, inner_lr: float):
    """Scorer for ``evaluate_episodes``: adapt (the head for ANIL, everything for MAML) on the support set,
    then score the query set (normalised by BatchNorm as one batch, as chapter 02 evaluates MAML)."""

    def scorer(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        params = head_params(model) if method == "anil" else params_of(model)
        with torch.no_grad():
            phi = adapt(model, params, support_x, support_y, loss_fn=F.cross_entropy, steps=steps, update=SGD(inner_lr))
            return functional_call(model, phi, (query_x,))

    return scorer


# --------------------------------------------------------------------------------------------
# in-context regression
# --------------------------------------------------------------------------------------------
def least_squares_predict(context_x: Tensor, context_y: Tensor, query_x: Tensor, features=None) -> Tensor:
    """Least-squares predictions ``[T, m, 1]`` for ``query_x [T, m, d]`` from ``context_x [T, k, d]``, ``context_y [T, k, 1]``.

    With fewer pairs than features the minimum-norm solution (``pinv``); with none, 0. ``features(x) -> [.., p]``
    replaces ``x`` (e.g. :func:`sinusoid_features`). For noiseless linear tasks with ``k >= d`` it is exact.
    """
    if context_x.shape[1] == 0:
        return query_x.new_zeros(*query_x.shape[:2], 1)
    phi, phi_query = (context_x, query_x) if features is None else (features(context_x), features(query_x))
    return phi_query @ (torch.linalg.pinv(phi) @ context_y)


def sinusoid_features(x: Tensor) -> Tensor:
    """``[sin x, cos x]``: ``A sin(x - phase) = (A cos phase) sin x - (A sin phase) cos x`` is linear in them."""
    return torch.cat([torch.sin(x), torch.cos(x)], dim=-1)


def k_shot_errors(predict, context_x: Tensor, context_y: Tensor, query_x: Tensor, query_y: Tensor, ks) -> dict[int, Tensor]:
    """``{k: query MSE per task [T]}`` of ``predict(context_x[:, :k], context_y[:, :k], query_x) -> [T, m, 1]``.

    Every method is scored on the same tasks and query points; only the number ``k`` of context pairs varies.
    """
    errors = {}
    with torch.no_grad():
        for k in ks:
            errors[int(k)] = (predict(context_x[:, :k], context_y[:, :k], query_x) - query_y).pow(2).mean(dim=(1, 2))
    return errors


def train_in_context(name: str, model: InContextTransformer, sample_fn, num_steps: int, *, lr: float = 1e-3,
                     device="cpu", progress: bool = True) -> Run:
    """Meta-train ``model`` with :func:`~course_lib.algorithms.in_context.prefix_loss` on ``sample_fn(step) -> (x, y)``
    (``[T, n, dx]``, ``[T, n, dy]``), Adam with the step size halved at 50 % and 75 %; checkpoint ``name``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [max(1, num_steps // 2), max(1, 3 * num_steps // 4)], 0.5)

    def step_fn(step: int) -> dict:
        x, y = (t.to(device) for t in sample_fn(step))
        loss = prefix_loss(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": float(loss.detach())}

    history = train_loop(step_fn, num_steps, state={"model": model, "optimizer": optimizer, "schedule": schedule},
                         checkpoint_path=_path(f"{name}_{num_steps}"), desc=name, progress=progress, log_every=20)
    return Run(name, model, history, {"lr": lr})


# --------------------------------------------------------------------------------------------
# in-context classification over (embedding, label) sequences
# --------------------------------------------------------------------------------------------
def embed_training_classes(network: nn.Module, train_images: Tensor, chunk: int = 50) -> Tensor:
    """Embeddings ``[4 C, M, D]`` of every training image and its three rotations (class ``r C + c`` = class ``c``
    turned ``r`` quarter turns, as in ``EpisodeSampler``), computed once.

    BatchNorm normalises with the statistics of the batch it sees, so the images are embedded in random
    batches of ``chunk`` (about the size of a test episode), never class by class.
    """
    c, m = train_images.shape[:2]
    images = torch.cat([torch.rot90(train_images, r, dims=(-2, -1)) for r in range(4)]).reshape(4 * c * m, 1, *train_images.shape[2:])
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0)).to(images.device)
    emb = torch.empty(len(images), network.feature_dim, device=images.device)
    with torch.no_grad():
        for lo in range(0, len(images), chunk):
            emb[order[lo : lo + chunk]] = network(images[order[lo : lo + chunk]])
    return emb.reshape(4 * c, m, -1)


def _embedded_episodes(emb: Tensor, n_way: int, k_shot: int, q_query: int, tasks: int, generator: torch.Generator):
    """``tasks`` episodes drawn from class embeddings ``emb [classes, M, D]``, support in a random order:
    ``(context_x [T, N K, D], context_y [T, N K] labels, query_x [T, N Q, D], query_y [T, N Q])``."""
    classes = torch.rand(tasks, emb.shape[0], generator=generator).argsort(1)[:, :n_way]  # [T, N]
    examples = torch.rand(tasks, n_way, emb.shape[1], generator=generator).argsort(2)[..., : k_shot + q_query]
    x = emb[classes[..., None].to(emb.device), examples.to(emb.device)]  # [T, N, K + Q, D]
    labels = torch.arange(n_way, device=emb.device)[None, :, None]
    support_y, query_y = labels.expand(tasks, n_way, k_shot).flatten(1), labels.expand(tasks, n_way, q_query).flatten(1)
    shuffle = torch.rand(tasks, n_way * k_shot, generator=generator).argsort(1).to(emb.device)
    context_x = x[:, :, :k_shot].flatten(1, 2).gather(1, shuffle[..., None].expand(-1, -1, x.shape[-1]))
    return context_x, support_y.gather(1, shuffle), x[:, :, k_shot:].flatten(1, 2), query_y


def train_in_context_classifier(network: nn.Module, train_images: Tensor, num_steps: int, *, n_way: int = 5,
                                shots=(1, 5), q_query: int = 5, meta_batch_size: int = 32, width: int = 64,
                                depth: int = 3, lr: float = 1e-3, device="cpu", seed: int = 0,
                                progress: bool = True) -> Run:
    """A transformer over (embedding, one-hot label) context pairs of ``n_way``-way episodes of the training
    characters (rotations as extra classes), trained with the query cross-entropy; the shot alternates over
    ``shots`` from step to step. ``network`` (the frozen embedding) is not trained; the training images are
    embedded once (:func:`embed_training_classes`)."""
    torch.manual_seed(seed)
    model = InContextTransformer(network.feature_dim, n_way, width=width, depth=depth).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    emb = embed_training_classes(network, train_images.to(device))

    def step_fn(step: int) -> dict:
        context_x, support_y, query_x, query_y = _embedded_episodes(emb, n_way, shots[step % len(shots)], q_query,
                                                                    meta_batch_size, generator)
        logits = model(context_x, F.one_hot(support_y, n_way).to(context_x.dtype), query_x)  # [T, Q, n_way]
        loss = F.cross_entropy(logits.flatten(0, 1), query_y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.detach()), "acc": float((logits.argmax(-1) == query_y).float().mean())}

    tag = f"{n_way}w{'-'.join(map(str, shots))}s_q{q_query}_b{meta_batch_size}_w{width}d{depth}_lr{lr:g}"
    history = train_loop(step_fn, num_steps, state={"model": model, "optimizer": optimizer, "generator": generator},
                         checkpoint_path=_path(f"icl_omniglot_{tag}_C{len(train_images)}_seed{seed}_{num_steps}"),
                         desc="in-context classifier", progress=progress, log_every=10)
    return Run("in-context", model, history, {"n_way": n_way, "shots": list(shots)})


def in_context_scorer(model: InContextTransformer, network: nn.Module, seed: int = 0):
    """Scorer for ``evaluate_episodes``: embed the episode in one BatchNorm batch, shuffle the support order,
    one forward pass of the transformer."""
    generator = torch.Generator().manual_seed(seed)

    def scorer(support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        if n_way != model.y_dim:
            raise ValueError(f"this in-context classifier was trained for {model.y_dim}-way episodes, not {n_way}-way")
        with torch.no_grad():
            emb = network(torch.cat([support_x, query_x]))
            order = torch.randperm(len(support_x), generator=generator).to(emb.device)
            context_y = F.one_hot(support_y[order], n_way).to(emb.dtype)
            return model(emb[order][None], context_y[None], emb[len(support_x):][None])[0]

    return scorer
