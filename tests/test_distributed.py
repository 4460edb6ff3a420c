"""Task-parallel meta-training (course_lib.distributed): two gloo processes on CPU equal one process.

The two-process runs are spawned once (module fixture) and save what they computed; the tests compare
it with the same computation done here in one process on the same 2T tasks.
"""

from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from course_lib import distributed
from course_lib.algorithms import maml, reptile
from course_lib.algorithms.protonet import ProtoNet
from course_lib.data.episodes import EpisodeSampler, TaskBatch
from course_lib.data.sinusoid import SinusoidTaskFamily
from course_lib.distributed import SINGLE, TaskGroup
from course_lib.experiments import gbml as gx
from course_lib.experiments.metric_training import train_episodic
from course_lib.nets import MLP, Conv4

WORLD = 2
TASKS_PER_RANK = 3  # T: the meta-batch is 2T = 6 tasks
STEPS = 3
METHODS = ("maml", "fomaml", "reptile")


def sinusoid_batches():
    """STEPS fixed meta-batches of 2T sinusoid tasks (support 5, query 5)."""
    generator = torch.Generator().manual_seed(3)
    return [SinusoidTaskFamily().sample_batch(WORLD * TASKS_PER_RANK, 5, 5, generator) for _ in range(STEPS)]


def meta_steps(method: str, batches, group: TaskGroup):
    """STEPS meta-updates of ``method``; rank r takes tasks [rT, (r+1)T) of each batch.

    Returns (meta-gradient of the first step, final parameters, reported losses).
    """
    torch.manual_seed(0)
    model = MLP((1, 16, 16, 1))
    # Reptile's own outer step is plain SGD; Adam would turn rounding noise in its exactly-zero
    # directions (dead ReLUs) into full-size steps of either sign
    kind = torch.optim.SGD if method == "reptile" else torch.optim.Adam
    optimizer = group.wrap(kind(model.parameters(), lr=0.5 if method == "reptile" else 0.01))
    share = slice(group.rank * TASKS_PER_RANK, (group.rank + 1) * TASKS_PER_RANK) if group.world_size > 1 else slice(None)
    first_grad, losses = None, []

    def step(batch):
        if method == "reptile":
            return reptile.reptile_step(model, optimizer, batch, loss_fn=F.mse_loss, inner_lr=0.02, inner_steps=3)
        return maml.maml_step(model, optimizer, batch, loss_fn=F.mse_loss, inner_lr=0.05, inner_steps=2,
                              first_order=method == "fomaml")

    def tasks(batch):
        return TaskBatch(*(t[share] for t in (batch.support_x, batch.support_y, batch.query_x, batch.query_y)))

    averaged = group.step_fn(lambda i: step(tasks(batches[i])))
    for i in range(STEPS):
        losses.append(averaged(i)["loss"])
        if first_grad is None:  # after step(): .grad holds the (averaged) meta-gradient that was applied
            first_grad = [p.grad.detach().clone() for p in model.parameters()]
    return first_grad, [p.detach().clone() for p in model.parameters()], losses


class ListSampler:
    """Hands out fixed episodes in order (an EpisodeSampler stand-in with the same interface)."""

    def __init__(self, episodes, n_way):
        self.episodes, self.n_way, self.position = episodes, n_way, 0

    def sample(self):
        episode = self.episodes[self.position]
        self.position += 1
        return episode

    def state_dict(self):
        return {"position": self.position}

    def load_state_dict(self, state):
        self.position = state["position"]


def protonet_run(group: TaskGroup):
    """STEPS ProtoNet steps of 2 episodes each; rank r gets episodes 2s + r of step s."""
    images = torch.rand(12, 4, 28, 28, generator=torch.Generator().manual_seed(1))
    source = EpisodeSampler(images, n_way=3, k_shot=1, q_query=2, seed=5)
    episodes = [source.sample() for _ in range(WORLD * STEPS)]
    if group.world_size > 1:
        episodes = episodes[group.rank::WORLD]
    torch.manual_seed(0)
    model = ProtoNet(Conv4(None, hidden=8))
    history = train_episodic(model, ListSampler(episodes, 3), STEPS, lr=0.01, progress=False,
                             episodes_per_step=WORLD, group=group)
    return [p.detach().clone() for p in model.parameters()], history.records["loss"]


def training_runs(group: TaskGroup, folder):
    """gx.train_sinusoid on 2 processes: uninterrupted, and interrupted at step 3 then resumed."""
    import os

    runs = {}
    for label in ("straight", "resumed"):
        os.environ["COURSE_CACHE_DIR"] = str(folder / f"cache-{label}")
        original = gx._meta_step
        if label == "resumed":
            def interrupted(method, model, optimizer, batch, *args, **kwargs):
                if optimizer.state and next(iter(optimizer.state.values()))["step"] >= 3:
                    raise KeyboardInterrupt
                return original(method, model, optimizer, batch, *args, **kwargs)
            gx._meta_step = interrupted
            first = gx.train_sinusoid("maml", 6, meta_batch_size=4, group=group, progress=False)
            gx._meta_step = original
            assert first.history.interrupted and len(first.history.steps) == 3
        run = gx.train_sinusoid("maml", 6, meta_batch_size=4, group=group, progress=False)
        runs[label] = ([p.detach().clone() for p in run.model.parameters()], run.history.records["loss"])
        runs[label + "_files"] = sorted(p.name for p in (folder / f"cache-{label}" / "checkpoints").iterdir())
    # rank 1 loses its resume file: every rank must stop with an explanation instead of waiting forever
    os.environ["COURSE_CACHE_DIR"] = str(folder / "cache-straight")
    if group.rank == 1:
        next((folder / "cache-straight" / "checkpoints").glob("*.rank1.pt")).unlink()
    try:
        gx.train_sinusoid("maml", 6, meta_batch_size=4, group=group, progress=False)
        runs["mismatch"] = None
    except RuntimeError as err:
        runs["mismatch"] = str(err)
    sampled = SinusoidTaskFamily().sample_batch(2, 5, 5, torch.Generator().manual_seed(group.seed(1)))
    runs["first_task_amplitude_input"] = sampled.support_x[0, :, 0]
    return runs


def worker(rank: int, folder) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{folder / 'rendezvous'}", rank=rank, world_size=WORLD)
    try:
        group = TaskGroup(rank, WORLD, torch.device("cpu"))
        out = {m: meta_steps(m, sinusoid_batches(), group) for m in METHODS}
        out["protonet"] = protonet_run(group)
        out |= training_runs(group, folder)
        torch.save(out, folder / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gloo")
    mp.start_processes(worker, args=(folder,), nprocs=WORLD, start_method="spawn")
    return [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(WORLD)]


def assert_close_lists(a, b, **tol):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, **tol)


@pytest.mark.parametrize("method", METHODS)
def test_two_processes_give_the_meta_gradient_and_parameters_of_one(two_processes, method):
    torch.set_num_threads(1)
    grad, params, losses = meta_steps(method, sinusoid_batches(), SINGLE)
    for rank in range(WORLD):
        rank_grad, rank_params, rank_losses = two_processes[rank][method]
        assert_close_lists(rank_grad, grad, rtol=1e-5, atol=1e-6)
        assert_close_lists(rank_params, params, rtol=1e-5, atol=1e-6)
        assert rank_losses == pytest.approx(losses, rel=1e-5)  # the reported loss is the meta-batch mean
    assert any(g.abs().max() > 1e-3 for g in grad)  # a real gradient, not zeros on both sides


def test_protonet_two_processes_equal_one_with_two_episodes_per_step(two_processes):
    torch.set_num_threads(1)
    params, losses = protonet_run(SINGLE)
    for rank in range(WORLD):
        rank_params, rank_losses = two_processes[rank]["protonet"]
        assert_close_lists(rank_params, params, rtol=1e-4, atol=1e-5)
        assert rank_losses == pytest.approx(losses, rel=1e-4)


def test_ranks_sample_different_tasks_and_only_rank_zero_writes_the_checkpoint(two_processes):
    first, second = two_processes
    assert not torch.equal(first["first_task_amplitude_input"], second["first_task_amplitude_input"])
    assert_close_lists(first["straight"][0], second["straight"][0], rtol=0, atol=0)  # the copies never drift
    names = first["straight_files"]
    assert len(names) == 2 and sum(".rank1." in n for n in names) == 1  # rank 0's file + rank 1's resume file


def test_interrupted_two_process_run_resumes_to_the_same_parameters(two_processes):
    for rank in range(WORLD):
        straight, resumed = two_processes[rank]["straight"], two_processes[rank]["resumed"]
        assert_close_lists(resumed[0], straight[0], rtol=0, atol=0)
        assert resumed[1] == straight[1]


def test_ranks_resuming_from_different_steps_all_stop_with_an_explanation(two_processes):
    for rank in range(WORLD):
        assert "checkpoints disagree" in two_processes[rank]["mismatch"]
        assert "the ranks span 0 to 6" in two_processes[rank]["mismatch"]


def test_meta_batch_must_divide_by_the_world_size():
    with pytest.raises(ValueError, match="25 tasks does not divide among 2 processes.*24 or 26"):
        TaskGroup(0, 2).local_tasks(25)
    with pytest.raises(distributed.MetaBatchError, match=r"4 tasks does not divide among 8 processes.*\(e\.g\. 8\)"):
        TaskGroup(0, 8).local_tasks(4)
    assert TaskGroup(1, 4).local_tasks(32) == 8 and SINGLE.local_tasks(25) == 25


def test_one_process_hooks_change_nothing(tmp_path):
    model = MLP((1, 4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    assert SINGLE.wrap(optimizer) is optimizer and not optimizer._optimizer_step_pre_hooks

    def step_fn(step):
        return {"loss": 1.5}

    assert SINGLE.step_fn(step_fn) is step_fn
    assert SINGLE.seed(7) == 7 and TaskGroup(1, 2).seed(7) != 7
    assert SINGLE.checkpoint_path(tmp_path / "run.pt") == tmp_path / "run.pt"
    assert TaskGroup(1, 2).checkpoint_path(tmp_path / "run.pt") == tmp_path / "run.rank1.pt"
    assert TaskGroup(1, 2).checkpoint_path(None) is None


def test_from_env_without_torchrun_is_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    group = distributed.from_env("cpu")
    assert group == TaskGroup(0, 1, torch.device("cpu")) and not dist.is_initialized()


def test_one_process_training_is_unchanged_by_the_hooks(tmp_path, monkeypatch):
    """train_sinusoid with the default group equals the plain loop it replaced (same tasks, same steps)."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    torch.set_num_threads(1)
    run = gx.train_sinusoid("maml", 4, meta_batch_size=5, checkpoint=False, progress=False)
    torch.manual_seed(0)
    model = MLP((1, 40, 40, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=gx.SINUSOID["meta_lr"])
    generator = torch.Generator().manual_seed(1)
    for _ in range(4):
        batch = SinusoidTaskFamily().sample_batch(5, 10, 10, generator)
        maml.maml_step(model, optimizer, batch, loss_fn=F.mse_loss, inner_lr=0.01, vectorize=True)
    assert_close_lists([p.detach() for p in run.model.parameters()], [p.detach() for p in model.parameters()],
                       rtol=0, atol=0)
