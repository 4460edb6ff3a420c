"""Chapter 06 harness for label-delayed sequences (Santoro et al. 2016, "Meta-Learning with
Memory-Augmented Neural Networks", ICML): the training step, the image encoder, evaluation and plots.

The samplers live in :mod:`course_lib.data.label_delay`. The first presentation of a class can only
be guessed (with label bookkeeping, among the labels not used yet); later presentations can be
answered from memory. :func:`per_instance_accuracy` measures exactly that, as in the paper's Table 1.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib.algorithms.mann import MANN, MemoryTrace
from course_lib.algorithms.sequence_learner import LSTMLearner
from course_lib.data.label_delay import LabelDelaySampler, SequenceBatch
from course_lib.metrics import t_quantile
from course_lib.training import train_loop


def per_instance_accuracy(logits: torch.Tensor, labels: torch.Tensor, instance: torch.Tensor,
                          max_instance: int | None = None) -> torch.Tensor:
    """Accuracy on the 1st, 2nd, ... presentation of a class.

    logits ``[B, T, N]``, labels ``[B, T]``, instance ``[B, T]`` -> float ``[max_instance]`` where
    entry ``i`` is the accuracy over all steps that were the ``(i+1)``-th presentation of their
    class (NaN if there was none).
    """
    if logits.shape[:2] != labels.shape or labels.shape != instance.shape:
        raise ValueError(
            f"shapes do not match: logits {tuple(logits.shape)}, labels {tuple(labels.shape)}, "
            f"instance {tuple(instance.shape)}; expected [B, T, N], [B, T], [B, T]")
    max_instance = int(instance.max()) if max_instance is None else max_instance
    correct = (logits.argmax(-1) == labels).float()
    out = torch.full((max_instance,), float("nan"))
    for i in range(1, max_instance + 1):
        mask = instance == i
        if mask.any():
            out[i - 1] = correct[mask].mean().cpu()
    return out


def sequence_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every step of every episode: ``[B, T, N]``, ``[B, T]`` -> scalar."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1))


def sequence_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch: SequenceBatch, *,
                  max_grad_norm: float = 1.0) -> dict[str, float]:
    """One training step of a sequence learner (MANN, LSTM) on a batch of episodes.

    ``model(inputs, prev_labels [B, T, N]) -> logits [B, T, N]``; the loss is :func:`sequence_loss`,
    gradients are clipped to ``max_grad_norm``. Returns the loss, the gradient norm before clipping
    (``grad_norm``) and the training accuracy on the 1st, 2nd, 3rd, ... presentation (``acc_1``,
    ``acc_2``, ...; NaN where a batch has none).
    """
    logits = model(batch.inputs, batch.prev_labels)
    loss = sequence_loss(logits, batch.labels)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    acc = per_instance_accuracy(logits.detach(), batch.labels, batch.instance)
    return {"loss": loss.item(), "grad_norm": float(grad_norm), **{f"acc_{i + 1}": float(a) for i, a in enumerate(acc)}}


# Chapter 06's MANN: the paper's 128 slots and 4 heads, a smaller controller and slot width (200 and 40
# in the paper). The heads write to the four least-used slots at every step, so with 64 slots each slot
# is written again about every 16 of an episode's 50 steps, on top of what it held (README, "Chapter
# 06's MANN over seeds and threads").
MANN_SIZE = {"controller_size": 128, "memory_slots": 128, "memory_width": 32, "num_reads": 4}


def make_sequence_learner(kind: str, n_way: int = 5, seed: int = 0, **mann_options) -> nn.Module:
    """Chapter 06's learners on 20x20 downsampled images, initialised from ``seed``: ``"mann"``
    (:data:`MANN_SIZE`; ``mann_options`` go to :class:`MANN`, e.g. ``read_first=False``, and may
    override the size) or ``"lstm"`` (200 units)."""
    torch.manual_seed(seed)
    if kind == "mann":
        options = {**MANN_SIZE, "gamma": 0.95, **mann_options}
        return MANN(input_size=400, n_way=n_way, encoder=DownsampleFlatten(20), **options)
    if kind == "lstm":
        return LSTMLearner(input_size=400, n_way=n_way, hidden_size=200, encoder=DownsampleFlatten(20))
    raise ValueError(f"kind must be 'mann' or 'lstm', got {kind!r}")


def train_sequence_learner(model: nn.Module, images: torch.Tensor, steps: int, *, batch_size: int = 64,
                           instances: int = 10, seed: int = 0, lr: float = 1e-2, max_grad_norm: float = 1.0,
                           device=None, checkpoint_path=None, desc: str = "train", report=None, **loop_kwargs):
    """Chapter 06's recipe: Adam at a constant ``lr`` on batches of ``batch_size`` augmented
    label-delayed episodes (``model.n_way`` classes x ``instances`` drawings) of ``images [C, M, H, W]``,
    drawn by a sampler seeded with ``seed``, gradients clipped to ``max_grad_norm``.

    Runs :func:`course_lib.training.train_loop` (checkpointed at ``checkpoint_path``; other keyword
    arguments, e.g. ``eval_fn`` or ``progress``, go to it) and returns its History. ``report(done)``, if
    given, is called with the number of finished steps at the start of every step and at the end
    (progress of runs in other processes, see :mod:`course_lib.experiments.parallel_runs`).
    """
    sampler = LabelDelaySampler(images, model.n_way, instances, seed=seed, augment=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step_fn(step):
        if report is not None:
            report(step)  # before the step: an interrupt raised here leaves the step undone
        return sequence_step(model, optimizer, sampler.sample_batch(batch_size).to(device or "cpu"),
                             max_grad_norm=max_grad_norm)

    state = {"model": model, "optimizer": optimizer, "sampler": sampler.generator}
    history = train_loop(step_fn, steps, state=state, checkpoint_path=checkpoint_path, desc=desc, **loop_kwargs)
    if report is not None and not history.interrupted:
        report(steps)
    return history


class DownsampleFlatten(nn.Module):
    """Image encoder with no parameters: ``[B, 1, H, W] -> [B, size*size]`` by area averaging.

    Santoro et al. fed 20x20 downsampled, flattened Omniglot images to the controller; everything
    else is learned by the controller's input weights.
    """

    def __init__(self, size: int = 20):
        super().__init__()
        self.size = size

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() != 4:
            raise ValueError(f"images must be [B, C, H, W], got shape {tuple(images.shape)}")
        if images.shape[-1] != self.size or images.shape[-2] != self.size:
            images = F.adaptive_avg_pool2d(images, self.size)
        return images.flatten(1)


@torch.no_grad()
def evaluate_sequences(model: nn.Module, sampler, episodes: int,
                       batch_size: int = 50, device=None) -> dict[str, torch.Tensor]:
    """Per-instance accuracy of ``model`` on ``episodes`` fresh episodes from ``sampler``
    (a ``LabelDelaySampler`` or ``PrototypeSequenceSampler`` of :mod:`course_lib.data.label_delay`).

    ``model(inputs, prev_labels [B,T,N]) -> logits [B,T,N]`` (inputs as the sampler gives them). Returns
    ``{"mean": [K], "ci": [K], "per_episode": [episodes, K], "loss": []}`` where ``ci`` is the 95 %
    half width (Student-t quantile x std / sqrt(episodes), as ``metrics.mean_ci``) over episodes, ``K = instances_per_class`` and ``loss`` is
    the :func:`sequence_loss` (cross-entropy per step) averaged over all episodes.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be >= 1, got {episodes}")
    was_training = model.training
    model.eval()
    k = sampler.instances_per_class
    rows, total_loss = [], 0.0
    done = 0
    while done < episodes:
        batch = sampler.sample_batch(min(batch_size, episodes - done)).to(device or "cpu")
        logits = model(batch.inputs, batch.prev_labels)
        total_loss += sequence_loss(logits, batch.labels).item() * len(batch)
        correct = (logits.argmax(-1) == batch.labels).float()
        onehot = F.one_hot(batch.instance - 1, k).float()              # [B, T, K]
        rows.append((correct.unsqueeze(-1) * onehot).sum(1) / onehot.sum(1))
        done += len(batch)
    model.train(was_training)
    per_episode = torch.cat(rows).cpu()
    n = per_episode.shape[0]
    ci = t_quantile(0.975, n - 1) * per_episode.std(0, unbiased=True) / n ** 0.5 if n > 1 else torch.zeros(k)
    return {"mean": per_episode.mean(0), "ci": ci, "per_episode": per_episode,
            "loss": torch.tensor(total_loss / n)}


# Santoro et al. (2016), Table 1: test accuracy (%) on 5-way Omniglot episodes (one-hot labels) after
# 100,000 training episodes, on the 1st, 2nd, 3rd, 4th, 5th and 10th presentation of a class.
SANTORO_2016_INSTANCES = (1, 2, 3, 4, 5, 10)
SANTORO_2016_TABLE1 = {"MANN": (36.4, 82.8, 91.0, 92.6, 94.9, 98.1),
                       "LSTM": (24.4, 49.5, 55.3, 61.0, 63.6, 62.5)}


def compare_with_published(results: dict[str, dict[str, torch.Tensor]],
                           instances: tuple[int, ...] = SANTORO_2016_INSTANCES, run_label: str = "this run",
                           ) -> list[tuple[str, list[float]]]:
    """Print our per-instance accuracies under the published ones, column by column, and return the rows.

    ``results``: ``{"MANN": evaluate_sequences(...), "LSTM": ...}``; column ``i`` of a measured row is
    ``100 * results[name]["mean"][i - 1]`` (the ``i``-th presentation), labelled ``"{name}, {run_label}"``.
    Rows: ``(label, [% per instance])``.
    """
    rows = []
    for name, res in results.items():
        if max(instances) > len(res["mean"]):
            raise ValueError(f"{name}: episodes have {len(res['mean'])} presentations per class, "
                             f"the table needs the {max(instances)}th")
        rows.append((f"{name}, {run_label}", [100 * float(res["mean"][i - 1]) for i in instances],
                     [100 * float(res["ci"][i - 1]) for i in instances]))
        if name in SANTORO_2016_TABLE1 and tuple(instances) == SANTORO_2016_INSTANCES:
            rows.append((f"{name}, Santoro et al. 2016", list(SANTORO_2016_TABLE1[name]), None))
    ordinal = {1: "1st", 2: "2nd", 3: "3rd"}
    columns = "".join(f"{ordinal.get(i, f'{i}th'):>13s}" for i in instances)
    print(f"{'accuracy (%) on the presentation':34s}{columns}")
    for label, values, ci in rows:
        cells = [f"{v:5.1f} ± {h:4.1f}" if ci else f"{v:5.1f}       " for v, h in zip(values, ci or values)]
        print((f"{label:34s}" + "".join(f"{c:>13s}" for c in cells)).rstrip())
    return [(label, values) for label, values, _ in rows]


def plot_per_instance(results: dict[str, dict[str, torch.Tensor]], n_way: int | None = None, ax=None):
    """Accuracy against presentation number (1st, 2nd, ...), one line per model, with 95 % CIs.

    ``results``: ``{name: evaluate_sequences(...)}``. ``n_way`` draws the chance level.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for name, res in results.items():
        mean, ci = res["mean"].numpy(), res["ci"].numpy()
        xs = range(1, len(mean) + 1)
        ax.errorbar(xs, 100 * mean, yerr=100 * ci, marker="o", capsize=3, label=name)
    if n_way:
        ax.axhline(100 / n_way, color="gray", ls=":", label=f"chance (1/{n_way})")
    ax.set_xlabel("presentation of the class within the episode")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xticks(list(range(1, len(mean) + 1)))
    ax.grid(alpha=0.3)
    ax.legend()
    return ax


def plot_memory_trace(trace: MemoryTrace, labels: torch.Tensor, episode: int = 0, head: int = 0,
                      max_slots: int | None = None):
    """Heatmaps of one episode: read weights, write weights (one head) and usage over time.

    trace: from ``MANN(..., return_trace=True)``; labels ``[B, T]`` (shown on the time axis).
    Only the first ``max_slots`` slots are drawn (default: the slots that were ever written).
    """
    import matplotlib.pyplot as plt

    read = trace.read_weights[episode, :, head]           # [T, S]
    write = trace.write_weights[episode, :, head]
    usage = trace.usage[episode]
    if max_slots is None:
        used = (trace.write_weights[episode].amax(dim=(0, 1)) > 1e-3).nonzero()
        max_slots = int(used.max()) + 1 if len(used) else read.shape[1]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    panels = [(read, f"read weights $w^r_t$ (head {head})"),
              (write, f"write weights $w^w_t$ (head {head})"),
              (usage, "usage $w^u_t$")]
    for ax, (data, title) in zip(axes, panels):
        im = ax.imshow(data[:, :max_slots].numpy(), aspect="auto", cmap="viridis", interpolation="nearest")
        ax.set_title(title)
        ax.set_xlabel("memory slot")
        fig.colorbar(im, ax=ax, fraction=0.046)
    steps = labels.shape[1]
    axes[0].set_ylabel("time step (label shown)")
    axes[0].set_yticks(range(0, steps, max(1, steps // 25)))
    axes[0].set_yticklabels([f"{t} ({int(labels[episode, t])})" for t in range(0, steps, max(1, steps // 25))],
                            fontsize=7)
    fig.tight_layout()
    return fig
