"""The meta-training loop: learning, checkpoint/resume, interruption, NaN guard, history."""

import math

import pytest
import torch

from course_lib.checkpoint import load_checkpoint, save_checkpoint
from course_lib.training import History, NonFiniteLossError, train_loop


class Regression:
    """y = 3x - 1 with noise, fitted by SGD; data drawn from the global RNG and from its own generator."""

    def __init__(self, seed=0):
        torch.manual_seed(seed)
        self.model = torch.nn.Linear(1, 1)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.1, momentum=0.9)
        self.generator = torch.Generator().manual_seed(seed + 100)
        self.calls = 0

    def state(self):
        return {"model": self.model, "optimizer": self.optimizer, "generator": self.generator}

    def step(self, step):
        self.calls += 1
        x = torch.randn(16, 1)  # global RNG
        noise = 0.01 * torch.randn(16, 1, generator=self.generator)  # own generator
        loss = ((self.model(x) - (3 * x - 1 + noise)) ** 2).mean()
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return {"loss": loss.item(), "slope": self.model.weight.item()}


def test_tiny_regression_learns():
    task = Regression()
    history = train_loop(task.step, 150, progress=False)
    assert len(history) == 150 and history.steps == list(range(150))
    assert history.last("loss", window=5) < 0.01 * history.records["loss"][0]
    assert task.model.weight.item() == pytest.approx(3.0, abs=0.05)
    assert set(history.records) == {"loss", "slope"}
    assert not history.interrupted and history.wall_time > 0


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path, capsys):
    reference = Regression()
    ref_history = train_loop(reference.step, 40, progress=False)

    # First run: interrupted inside step 23, after drawing from both random streams.
    first = Regression()

    def interrupted_step(step):
        if step == 23:
            torch.randn(16, 1)
            torch.randn(3, generator=first.generator)
            raise KeyboardInterrupt
        return first.step(step)

    path = tmp_path / "run.pt"
    history = train_loop(interrupted_step, 40, state=first.state(), checkpoint_path=path, checkpoint_every=7, progress=False)
    assert history.interrupted and len(history) == 23
    assert "interrupted at step 23" in capsys.readouterr().out

    # Second run: fresh objects, a different global seed; the checkpoint restores everything.
    second = Regression(seed=5)
    torch.manual_seed(123)
    resumed = train_loop(second.step, 40, state=second.state(), checkpoint_path=path, progress=False)
    assert "resuming" in capsys.readouterr().out
    assert second.calls == 40 - 23
    assert not resumed.interrupted and resumed.steps == list(range(40))
    assert resumed.records["loss"] == ref_history.records["loss"]
    for a, b in zip(second.model.parameters(), reference.model.parameters()):
        assert torch.equal(a, b)

    # A finished run is loaded without calling step_fn again; resume=False starts over.
    third = Regression(seed=9)
    again = train_loop(third.step, 40, state=third.state(), checkpoint_path=path, progress=False)
    assert third.calls == 0 and len(again) == 40
    assert torch.equal(third.model.weight, reference.model.weight)
    fourth = Regression(seed=9)
    train_loop(fourth.step, 5, state=fourth.state(), checkpoint_path=path, resume=False, progress=False)
    assert fourth.calls == 5
    assert load_checkpoint(path, Regression().state())[0] == 5


def test_periodic_checkpoints_are_atomic_files(tmp_path):
    task = Regression()
    seen = []
    path = tmp_path / "sub" / "ckpt.pt"

    def step(step):
        if path.exists():
            seen.append(torch.load(path, weights_only=False)["step"])
        return task.step(step)

    train_loop(step, 12, state=task.state(), checkpoint_path=path, checkpoint_every=4, progress=False)
    assert sorted(set(seen)) == [4, 8]
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pt"]  # no temporary files left
    step_done, history = load_checkpoint(path, task.state())
    assert step_done == 12 and len(history) == 12


def test_keyboard_interrupt_keeps_history_without_checkpoint(capsys):
    task = Regression()

    def step(step):
        if step == 3:
            raise KeyboardInterrupt
        return task.step(step)

    history = train_loop(step, 10, progress=False)
    assert history.interrupted and history.steps == [0, 1, 2]
    out = capsys.readouterr().out
    assert "interrupted at step 3 of 10" in out and "history kept" in out


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_loss_raises_with_step_and_fix(bad, tmp_path):
    task = Regression()

    def step(step):
        out = task.step(step)
        return {"loss": bad} if step == 5 else out

    with pytest.raises(NonFiniteLossError) as info:
        train_loop(step, 10, state=task.state(), checkpoint_path=tmp_path / "c.pt", progress=False)
    message = str(info.value)
    assert f"became {bad} at step 5" in message
    assert "learning rate" in message and "clip" in message and "inputs" in message
    assert info.value.step == 5 and len(info.value.history) == 5


def test_tensor_losses_and_missing_loss():
    history = train_loop(lambda s: {"loss": torch.tensor(1.0 / (s + 1)), "acc": torch.tensor(0.5)}, 3, progress=False)
    assert history.records["loss"] == [1.0, 0.5, pytest.approx(1 / 3)]
    with pytest.raises(TypeError, match="'loss' entry"):
        train_loop(lambda s: {"acc": 1.0}, 3, progress=False)
    with pytest.raises(TypeError, match="'loss' entry"):
        train_loop(lambda s: 0.5, 3, progress=False)


def test_eval_fn_schedule_and_records():
    calls = []

    def eval_fn():
        calls.append(1)
        return {"acc": len(calls) / 10}

    history = train_loop(lambda s: {"loss": 1.0}, 10, eval_fn=eval_fn, eval_every=4, progress=False)
    assert history.eval_steps == [3, 7, 9]  # every 4 steps and after the last
    assert history.eval_records["acc"] == [0.1, 0.2, 0.3]
    assert history["acc"] == [0.1, 0.2, 0.3]
    history = train_loop(lambda s: {"loss": 1.0}, 8, eval_fn=eval_fn, eval_every=4, progress=False)
    assert history.eval_steps == [3, 7]  # the last step is not evaluated twice
    with pytest.raises(ValueError, match="eval_fn"):
        train_loop(lambda s: {"loss": 1.0}, 2, eval_every=1, progress=False)


def test_history_alignment_and_round_trip():
    history = History()
    history.log(0, {"loss": 2.0})
    history.log(1, {"loss": 1.0, "acc": 0.5})
    history.log(2, {"loss": 0.5})
    assert math.isnan(history.records["acc"][0]) and math.isnan(history.records["acc"][2])
    assert history.last("acc") == 0.5 and history.last("loss", window=2) == 0.75
    copy = History.from_dict(history.to_dict())
    assert copy.steps == history.steps and copy.records["loss"] == history.records["loss"]
    assert history.smoothed("loss", window=2).tolist() == [2.0, 1.5, 0.75]
    with pytest.raises(KeyError, match="not recorded"):
        history["auc"]
    assert "3 steps" in repr(history)


def test_bad_state_and_mismatched_checkpoint(tmp_path):
    with pytest.raises(TypeError, match="cannot be checkpointed"):
        train_loop(lambda s: {"loss": 1.0}, 2, state={"lr": 0.1}, progress=False)
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": torch.nn.Linear(1, 1)}, History(), 1)
    with pytest.raises(ValueError, match="no entry for \\['optimizer'\\]"):
        load_checkpoint(path, {"model": torch.nn.Linear(1, 1), "optimizer": torch.optim.SGD([torch.zeros(1)], lr=1)})
    with pytest.raises(ValueError, match="(?s)cannot load .model.*resume=False"):
        train_loop(lambda s: {"loss": 1.0}, 2, state={"model": torch.nn.Linear(2, 1)}, checkpoint_path=path, progress=False)
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(RuntimeError, match="could not read checkpoint"):
        load_checkpoint(path, {})
    with pytest.raises(ValueError, match="without state"):
        train_loop(lambda s: {"loss": 1.0}, 2, checkpoint_path=tmp_path / "d.pt", progress=False)
    with pytest.raises(ValueError, match="num_steps"):
        train_loop(lambda s: {"loss": 1.0}, -1)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_checkpoint_written_on_cuda_resumes_on_cpu(tmp_path):
    model = torch.nn.Linear(3, 1).cuda()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)

    def step(step):
        x = torch.randn(8, 3, device="cuda")
        loss = (model(x) - x.sum(dim=1, keepdim=True)).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss}

    path = tmp_path / "gpu.pt"
    train_loop(step, 5, state={"model": model, "optimizer": optimizer}, checkpoint_path=path, progress=False)
    cpu_model = torch.nn.Linear(3, 1)
    cpu_optimizer = torch.optim.Adam(cpu_model.parameters(), lr=0.01)
    done, history = load_checkpoint(path, {"model": cpu_model, "optimizer": cpu_optimizer})
    assert done == 5 and len(history) == 5
    assert torch.equal(cpu_model.weight, model.weight.cpu())
