"""What happened during training: per-step records, evaluation records, smoothed curves.

:class:`History` is what :func:`course_lib.training.train_loop` returns and what checkpoints store
(:meth:`History.to_dict` / :meth:`History.from_dict`); ``history.plot()`` draws the learning curves.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["History"]


class History:
    """What happened during training.

    Attributes
    ----------
    steps : list[int]                       the training steps recorded (0-based)
    records : dict[str, list[float]]        per-step values returned by ``step_fn``, aligned with
                                            ``steps`` (NaN where a step did not report a key)
    eval_steps : list[int]                  steps after which ``eval_fn`` ran
    eval_records : dict[str, list[float]]   its values, aligned with ``eval_steps``
    interrupted : bool                      True if training was stopped by KeyboardInterrupt
    wall_time : float                       seconds spent in the loop (summed over resumed runs)
    """

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.records: dict[str, list[float]] = {}
        self.eval_steps: list[int] = []
        self.eval_records: dict[str, list[float]] = {}
        self.interrupted = False
        self.wall_time = 0.0

    # -- recording -------------------------------------------------------------------------------
    @staticmethod
    def _append(steps: list[int], records: dict[str, list[float]], step: int, values: dict) -> None:
        for key in values:
            if key not in records:
                records[key] = [math.nan] * len(steps)
        steps.append(int(step))
        for key, column in records.items():
            column.append(float(values[key]) if key in values else math.nan)

    def log(self, step: int, values: dict[str, float]) -> None:
        """Record the values of one training step."""
        self._append(self.steps, self.records, step, values)

    def log_eval(self, step: int, values: dict[str, float]) -> None:
        """Record evaluation results obtained after ``step``."""
        self._append(self.eval_steps, self.eval_records, step, values)

    # -- reading ---------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> list[float]:
        """``history["loss"]``: a training record, else the evaluation record of that name."""
        if key in self.records:
            return self.records[key]
        if key in self.eval_records:
            return self.eval_records[key]
        raise KeyError(
            f"{key!r} was not recorded; training keys: {sorted(self.records)}, "
            f"evaluation keys: {sorted(self.eval_records)}"
        )

    def __len__(self) -> int:
        return len(self.steps)

    def last(self, key: str, window: int = 1) -> float:
        """Mean of the last ``window`` finite values of ``key``."""
        values = [v for v in self[key] if math.isfinite(v)][-window:]
        if not values:
            raise ValueError(f"no finite value recorded for {key!r}")
        return float(np.mean(values))

    def smoothed(self, key: str, window: int | None = None) -> np.ndarray:
        """Moving average of a training record (window: about 1/20 of the run by default)."""
        values = np.asarray(self.records[key], dtype=float)
        window = window or max(1, len(values) // 20)
        return _moving_average(values, window)

    def to_dict(self) -> dict:
        return {
            "steps": list(self.steps),
            "records": {k: list(v) for k, v in self.records.items()},
            "eval_steps": list(self.eval_steps),
            "eval_records": {k: list(v) for k, v in self.eval_records.items()},
            "interrupted": self.interrupted,
            "wall_time": self.wall_time,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        history = cls()
        history.steps = list(data["steps"])
        history.records = {k: list(v) for k, v in data["records"].items()}
        history.eval_steps = list(data.get("eval_steps", []))
        history.eval_records = {k: list(v) for k, v in data.get("eval_records", {}).items()}
        history.interrupted = bool(data.get("interrupted", False))
        history.wall_time = float(data.get("wall_time", 0.0))
        return history

    def plot(self, keys=None, window: int | None = None, ax=None):
        """Smoothed learning curves (raw values faint); see :func:`course_lib.plots.plot_history`.

        Returns the Figure; in a notebook end the line with ``;`` (``history.plot();``) so that
        Jupyter does not show it twice.
        """
        from course_lib.plots import plot_history

        return plot_history(self, keys=keys, window=window, ax=ax)

    def __repr__(self) -> str:
        parts = [f"{len(self.steps)} steps"]
        for key in self.records:
            try:
                parts.append(f"{key}={self.last(key, window=max(1, len(self.steps) // 20)):.4g}")
            except ValueError:
                pass
        for key, column in self.eval_records.items():
            finite = [v for v in column if math.isfinite(v)]
            if finite:
                parts.append(f"eval {key}={finite[-1]:.4g}")
        if self.interrupted:
            parts.append("interrupted")
        return f"History({', '.join(parts)})"


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` previous finite values (same length as ``values``)."""
    finite = np.isfinite(values)
    v = np.where(finite, values, 0.0)
    csum = np.concatenate([[0.0], np.cumsum(v)])
    ccount = np.concatenate([[0], np.cumsum(finite)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    count = ccount[idx] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[idx] - csum[lo]) / np.maximum(count, 1), np.nan)
