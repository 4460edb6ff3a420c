"""Training a knowledge tracer (DKT, DKVMN) on student sequences with :func:`course_lib.training.train_loop`.

Every response is predicted from the responses before it; the loss is the binary cross-entropy
over all real (unpadded) responses of a batch of sequence chunks.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F

from course_lib.edu.batching import ChunkSampler, chunk_sequences
from course_lib.edu.evaluation import kt_metrics, predict_sequences
from course_lib.training import train_loop


def kt_loss(model, batch) -> torch.Tensor:
    """Mean BCE of ``model(batch.skills, batch.correct)`` over the real responses of ``batch``."""
    logits = model(batch.skills, batch.correct)
    return F.binary_cross_entropy_with_logits(logits[batch.mask], batch.correct[batch.mask].float())


def fit_kt(model, train_sequences, num_steps: int, *, batch_size: int = 32, lr: float = 1e-3, max_len: int = 200,
           max_grad_norm: float = 10.0, device=None, checkpoint_path=None, val_sequences=None,
           eval_every: int | None = None, seed: int = 0, progress: bool = True, desc: str | None = None):
    """Train ``model`` with Adam on chunks of ``max_len`` responses; returns the :class:`History`.

    With ``val_sequences``, the validation AUC/accuracy is recorded every ``eval_every`` steps and at
    the end (``history["val_auc"]``). ``history.wall_time`` holds the training time in seconds.
    """
    if num_steps < 0:
        raise ValueError(f"num_steps must be >= 0, got {num_steps}")
    device = torch.device(device or "cpu")
    model.to(device)
    sampler = ChunkSampler(chunk_sequences(list(train_sequences), max_len), batch_size, seed=seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def step_fn(step):
        batch = sampler.sample().to(device)
        loss = kt_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        return {"loss": loss.item(), "epoch": sampler.epoch}

    eval_fn = None
    if val_sequences is not None:
        def eval_fn():
            scores, labels, _ = predict_sequences(model, val_sequences, max_len=max_len, device=device)
            metrics = kt_metrics(scores, labels)
            return {"val_auc": metrics["auc"], "val_acc": metrics["acc"]}

    return train_loop(step_fn, num_steps, state={"model": model, "optimizer": optimizer, "sampler": sampler},
                      checkpoint_path=checkpoint_path, eval_fn=eval_fn,
                      eval_every=eval_every if eval_fn is not None else None,
                      desc=desc or type(model).__name__, progress=progress, log_every=max(1, min(10, num_steps // 20 or 1)))
