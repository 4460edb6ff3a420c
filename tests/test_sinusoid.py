"""The sinusoid task family: ranges, shapes, seeding, and the function itself."""

from __future__ import annotations

import math

import pytest
import torch

from course_lib.data.sinusoid import SinusoidTaskFamily, SinusoidTasks
from course_lib.data.episodes import TaskBatch


def test_defaults_are_the_maml_paper_ranges():
    family = SinusoidTaskFamily()
    assert family.amplitude == (0.1, 5.0)
    assert family.phase == (0.0, math.pi)
    assert family.x_range == (-5.0, 5.0)


def test_sampled_parameters_and_points_stay_in_range():
    family = SinusoidTaskFamily()
    generator = torch.Generator().manual_seed(0)
    tasks = family.sample_tasks(2000, generator)
    assert tasks.amplitude.shape == (2000,) and tasks.phase.shape == (2000,)
    assert 0.1 <= float(tasks.amplitude.min()) and float(tasks.amplitude.max()) <= 5.0
    assert 0.0 <= float(tasks.phase.min()) and float(tasks.phase.max()) <= math.pi
    # uniform, not squeezed into a corner: means near the interval centres
    assert abs(float(tasks.amplitude.mean()) - 2.55) < 0.15
    assert abs(float(tasks.phase.mean()) - math.pi / 2) < 0.1
    x, y = tasks.sample_points(7, generator)
    assert x.shape == y.shape == (2000, 7, 1) and x.dtype == torch.float32
    assert -5.0 <= float(x.min()) and float(x.max()) <= 5.0
    assert bool((y.abs() <= tasks.amplitude.view(-1, 1, 1) + 1e-6).all())


def test_values_follow_a_sin_x_minus_phase():
    tasks = SinusoidTasks(torch.tensor([2.0, 0.5]), torch.tensor([0.0, math.pi / 2]))
    x = torch.tensor([[[math.pi / 2], [0.0]], [[0.0], [math.pi / 2]]])
    y = tasks(x)
    assert torch.allclose(y, torch.tensor([[[2.0], [0.0]], [[-0.5], [0.0]]]), atol=1e-6)
    assert tasks(x.squeeze(-1)).shape == (2, 2)


def test_fixed_inputs_are_shared_by_all_tasks():
    tasks = SinusoidTaskFamily().sample_tasks(3, torch.Generator().manual_seed(1))
    grid = torch.linspace(-5, 5, 11)
    for given in (grid, grid.view(-1, 1), grid.view(1, -1, 1).expand(3, -1, -1)):
        x, y = tasks.sample_points(0, x=given)
        assert x.shape == y.shape == (3, 11, 1)
        assert torch.equal(x[2, :, 0], grid)
    with pytest.raises(ValueError, match="x must have shape"):
        tasks.sample_points(0, x=torch.zeros(2, 11, 1))


def test_sample_batch_is_a_task_batch_with_independent_support_and_query():
    family = SinusoidTaskFamily()
    generator = torch.Generator().manual_seed(0)
    batch = family.sample_batch(n_tasks=4, k_support=5, k_query=10, generator=generator)
    assert isinstance(batch, TaskBatch) and len(batch) == 4
    assert batch.support_x.shape == batch.support_y.shape == (4, 5, 1)
    assert batch.query_x.shape == batch.query_y.shape == (4, 10, 1)
    assert not torch.equal(batch.support_x, batch.query_x[:, :5])
    episode = batch[1]
    assert episode.support_x.shape == (5, 1)
    # support and query belong to the same task: one (A, phase) explains both
    batch, tasks = family.sample_batch_with_tasks(3, 5, 10, torch.Generator().manual_seed(2))
    assert torch.allclose(tasks(batch.support_x), batch.support_y)
    assert torch.allclose(tasks(batch.query_x), batch.query_y)


def test_same_seed_same_tasks_different_seed_different_tasks():
    family = SinusoidTaskFamily()
    a = family.sample_batch(2, 3, 3, torch.Generator().manual_seed(5))
    b = family.sample_batch(2, 3, 3, torch.Generator().manual_seed(5))
    c = family.sample_batch(2, 3, 3, torch.Generator().manual_seed(6))
    assert torch.equal(a.support_y, b.support_y) and torch.equal(a.query_x, b.query_x)
    assert not torch.equal(a.support_y, c.support_y)


def test_custom_ranges_and_bad_arguments():
    family = SinusoidTaskFamily(amplitude=(1.0, 1.0), phase=(0.0, 0.0), x_range=(0.0, 1.0))
    tasks = family.sample_tasks(5, torch.Generator().manual_seed(0))
    assert torch.equal(tasks.amplitude, torch.ones(5))
    x, y = tasks.sample_points(4)
    assert torch.allclose(y, torch.sin(x))
    with pytest.raises(ValueError, match="amplitude"):
        SinusoidTaskFamily(amplitude=(5.0, 0.1))
    with pytest.raises(ValueError, match="x_range"):
        SinusoidTaskFamily(x_range=(0.0, float("inf")))
    with pytest.raises(ValueError, match="n must be"):
        family.sample_tasks(0)
    with pytest.raises(ValueError, match="k_query"):
        family.sample_batch(2, 5, 0)
    with pytest.raises(ValueError, match="k_support"):
        family.sample_batch(2, -1, 5)
    with pytest.raises(ValueError, match="shape"):
        SinusoidTasks(torch.ones(2), torch.ones(3))
    with pytest.raises(ValueError, match="n = 5 tasks"):
        tasks(torch.zeros(4, 3, 1))


def test_device_argument_moves_the_batch():
    batch = SinusoidTaskFamily().sample_batch(2, 3, 4, torch.Generator().manual_seed(0), device="cpu")
    assert batch.support_x.device.type == "cpu"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_batch_matches_cpu_batch():
    family = SinusoidTaskFamily()
    cpu = family.sample_batch(3, 5, 5, torch.Generator().manual_seed(0))
    gpu = family.sample_batch(3, 5, 5, torch.Generator().manual_seed(0), device="cuda")
    assert gpu.query_y.device.type == "cuda" and torch.equal(gpu.query_y.cpu(), cpu.query_y)
    tasks = family.sample_tasks(3, torch.Generator().manual_seed(0))
    assert tasks(gpu.support_x).device.type == "cuda"
