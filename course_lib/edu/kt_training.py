"""Training a knowledge tracer (DKT, DKVMN) on student sequences with :func:`course_lib.training.train_loop`.

Every response is predicted from the responses before it; the loss is the binary cross-entropy
over all real (unpadded) responses of a batch of sequence chunks.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

from course_lib.edu.batching import ChunkSampler, check_skill_range, chunk_sequences
from course_lib.edu.evaluation import kt_metrics, predict_sequences
from course_lib.training import train_loop


def kt_loss(model, batch) -> torch.Tensor:
    """Mean BCE of ``model(batch.skills, batch.correct)`` over the real responses of ``batch``."""
    logits = model(batch.skills, batch.correct)
    return F.binary_cross_entropy_with_logits(logits[batch.mask], batch.correct[batch.mask].float())


class BestOnValidation:
    """The model's weights at its best validation AUC so far (checkpointed with the run, so a resume keeps it).

    ``update(step, auc)`` copies the weights when ``auc`` beats the best; ``restore()`` puts them back.
    """

    def __init__(self, model):
        self.model, self.best_auc, self.best_step, self.weights = model, float("-inf"), -1, None

    def update(self, step: int, auc: float) -> None:
        if auc > self.best_auc:
            self.best_auc, self.best_step = float(auc), int(step)
            self.weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def restore(self) -> None:
        if self.weights is not None:
            self.model.load_state_dict(self.weights)

    def state_dict(self) -> dict:
        return {"best_auc": self.best_auc, "best_step": self.best_step, "weights": self.weights}

    def load_state_dict(self, state: dict) -> None:
        self.best_auc, self.best_step, self.weights = state["best_auc"], state["best_step"], state["weights"]


def fit_kt(model, train_sequences, num_steps: int, *, batch_size: int = 32, lr: float = 1e-3, max_len: int = 200,
           max_grad_norm: float = 10.0, device=None, checkpoint_path=None, val_sequences=None,
           eval_every: int | None = None, keep_best: bool = True, num_threads: int | None = None, seed: int = 0,
           progress: bool = True, desc: str | None = None):
    """Train ``model`` with Adam on chunks of ``max_len`` responses; returns the :class:`History`.

    With ``val_sequences``, the validation AUC/accuracy is recorded every ``eval_every`` steps and at
    the end (``history["val_auc"]``), and with ``keep_best`` the model returned is the one of the
    best validation AUC (``history.best_step``, ``history.best_val_auc``): longer training can
    overfit, the kept model cannot get worse on validation. ``num_threads`` sets PyTorch's CPU
    threads for this run only. ``history.wall_time`` holds the training time in seconds.
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    train_sequences = list(train_sequences)
    check_skill_range(train_sequences + list(val_sequences or []), model.num_skills)
    device = torch.device(device or "cpu")
    model.to(device)
    sampler = ChunkSampler(chunk_sequences(train_sequences, max_len), batch_size, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    state = {"model": model, "optimizer": optimizer, "sampler": sampler}
    at = {"step": -1}

    def step_fn(step):
        at["step"] = step
        batch = sampler.sample().to(device)
        loss = kt_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        return {"loss": loss.item(), "epoch": sampler.epoch}

    eval_fn = best = None
    if val_sequences is not None:
        best = state["best"] = BestOnValidation(model)

        def eval_fn():
            probs, labels, _ = predict_sequences(model, val_sequences, max_len=max_len, device=device)
            metrics = kt_metrics(probs, labels)
            if keep_best:
                best.update(at["step"], metrics["auc"])
            return {"val_auc": metrics["auc"], "val_acc": metrics["acc"]}

    threads = torch.get_num_threads()
    torch.set_num_threads(num_threads or threads)
    try:
        history = train_loop(step_fn, num_steps, state=state, checkpoint_path=checkpoint_path, eval_fn=eval_fn,
                             eval_every=eval_every if eval_fn is not None else None,
                             desc=desc or type(model).__name__, progress=progress,
                             log_every=max(1, min(10, num_steps // 20 or 1)))
    finally:
        torch.set_num_threads(threads)
    if best is not None and keep_best:
        best.restore()
        history.best_step, history.best_val_auc = best.best_step, best.best_auc
    return history
