"""The chapter-02 adaptation widget: builds, steps, resets, draws."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib.nets import MLP  # noqa: E402
from course_lib.widgets.maml import SinusoidAdaptationDemo  # noqa: E402


def test_step_buttons_adapt_and_reset_restores():
    torch.manual_seed(0)
    demo = SinusoidAdaptationDemo({"a": MLP(), "b": MLP()}, inner_lr=0.02)
    start = demo.grid_mse()
    demo.step_button.click()
    assert demo.steps_taken == 1
    demo.step10_button.click()
    assert demo.steps_taken == 11
    assert demo.grid_mse()["a"] != start["a"]
    demo.reset_button.click()
    assert demo.steps_taken == 0 and demo.grid_mse() == pytest.approx(start)


def test_controls_resample_support_points():
    demo = SinusoidAdaptationDemo({"m": MLP()})
    demo.k_shot.value = 7
    assert demo.support_x.shape == (7, 1)
    demo.left_half.value = True
    assert bool((demo.support_x <= 0).all())
    assert torch.allclose(demo.support_y, demo.amplitude.value * torch.sin(demo.support_x - demo.phase.value))
    fig = demo.figure()
    assert len(fig.axes[0].lines) == 2  # true curve + one model


def test_bad_arguments():
    with pytest.raises(ValueError, match="at least one model"):
        SinusoidAdaptationDemo({})
    with pytest.raises(ValueError, match="inner_lr"):
        SinusoidAdaptationDemo({"m": MLP()}, inner_lr=-1.0)
