"""Interactive demo for chapter 02: adapt sinusoid regressors step by step and watch the fit.

Pick a task (amplitude, phase), the number of support points K (optionally all in the left half
of the range), then press **step** to take one inner-loop gradient step for every model at once
(e.g. the MAML initialisation and the pretrained baseline). The plot shows the true curve, the
support points and each model's current prediction with its MSE on a dense grid.

Renders in JupyterLab with ipywidgets 8 (a ``widgets.Output`` holding a Matplotlib figure).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.adaptation import adapt

_COLORS = ["tab:red", "tab:blue", "tab:green", "tab:purple"]


class SinusoidAdaptationDemo:
    """State + widgets of the demo. ``.widget`` is what the notebook displays.

    Args:
        models: ``{label: model}`` with 1-d input and output (e.g. ``{"MAML": m1, "pretrained": m2}``).
        inner_lr: step size of the fine-tuning steps (MAML's inner learning rate).
        seed: seeds the support points.
    """

    def __init__(self, models: dict[str, nn.Module], inner_lr: float = 0.01, seed: int = 0) -> None:
        import ipywidgets as widgets

        if not models:
            raise ValueError("models must contain at least one model, e.g. {'MAML': model}")
        if not inner_lr > 0:
            raise ValueError(f"inner_lr must be > 0, got {inner_lr}")
        self.models = models
        self.inner_lr = float(inner_lr)
        self.seed = seed
        self.amplitude = widgets.FloatSlider(value=3.0, min=0.1, max=5.0, step=0.1, description="amplitude")
        self.phase = widgets.FloatSlider(value=1.0, min=0.0, max=round(math.pi, 2), step=0.05, description="phase")
        self.k_shot = widgets.IntSlider(value=5, min=1, max=20, description="K points")
        self.left_half = widgets.Checkbox(value=False, description="points only in x < 0")
        self.step_button = widgets.Button(description="step", button_style="primary", tooltip="one inner step")
        self.step10_button = widgets.Button(description="10 steps")
        self.reset_button = widgets.Button(description="reset", tooltip="back to the meta-learned start")
        self.output = widgets.Output()
        self.step_button.on_click(lambda _: self.step(1))
        self.step10_button.on_click(lambda _: self.step(10))
        self.reset_button.on_click(lambda _: self.reset())
        for w in (self.amplitude, self.phase, self.k_shot, self.left_half):
            w.observe(lambda _: self.reset(), names="value")
        self.widget = widgets.VBox([
            widgets.HBox([self.amplitude, self.phase]),
            widgets.HBox([self.k_shot, self.left_half]),
            widgets.HBox([self.step_button, self.step10_button, self.reset_button]),
            self.output,
        ])
        self.reset()

    # ------------------------------------------------------------------ state
    def _true(self, x: torch.Tensor) -> torch.Tensor:
        return self.amplitude.value * torch.sin(x - self.phase.value)

    def reset(self) -> None:
        """New support points for the current task; every model back to its initial parameters."""
        g = torch.Generator().manual_seed(self.seed)
        high = 0.0 if self.left_half.value else 5.0
        self.support_x = torch.rand(self.k_shot.value, 1, generator=g) * (high + 5.0) - 5.0
        self.support_y = self._true(self.support_x)
        self.params = {label: {n: p.detach().clone() for n, p in m.named_parameters()} for label, m in self.models.items()}
        self.steps_taken = 0
        self.draw()

    def step(self, n: int = 1) -> None:
        """Take ``n`` inner-loop steps on the support points for every model, then redraw."""
        for label, model in self.models.items():
            device = next(model.parameters()).device
            self.params[label] = adapt(model, self.params[label], self.support_x.to(device), self.support_y.to(device),
                                       loss_fn=F.mse_loss, update=self.inner_lr, steps=n)
        self.steps_taken += n
        self.draw()

    def grid_mse(self) -> dict[str, float]:
        """MSE of each model's current prediction against the true curve on [-5, 5]."""
        x = torch.linspace(-5, 5, 200).unsqueeze(1)
        return {label: float(F.mse_loss(self._predict(label, x), self._true(x))) for label in self.models}

    @torch.no_grad()
    def _predict(self, label: str, x: torch.Tensor) -> torch.Tensor:
        model = self.models[label]
        device = next(model.parameters()).device
        return torch.func.functional_call(model, self.params[label], (x.to(device),)).cpu()

    # ------------------------------------------------------------------ drawing
    def figure(self):
        """The current state as a Matplotlib figure."""
        x = torch.linspace(-5, 5, 200).unsqueeze(1)
        mse = self.grid_mse()
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.plot(x, self._true(x), color="black", lw=2, label="true task")
        for color, label in zip(_COLORS, self.models):
            ax.plot(x, self._predict(label, x), color=color, lw=1.8, label=f"{label} (MSE {mse[label]:.2f})")
        ax.scatter(self.support_x, self.support_y, color="black", marker="^", s=50, zorder=5,
                   label=f"{self.k_shot.value} support points")
        ax.set_xlim(-5, 5)
        ax.set_ylim(-6, 6)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(f"after {self.steps_taken} inner step(s), step size {self.inner_lr:g}")
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        return fig

    def draw(self) -> None:
        from IPython.display import clear_output, display

        with self.output:
            clear_output(wait=True)
            fig = self.figure()
            display(fig)
            plt.close(fig)
