"""Chapter 02/03 experiment functions: training with checkpoints, evaluation, memory measure."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from course_lib.adaptation import Adam
from course_lib.algorithms import meta_sgd
from course_lib.data.sinusoid import SinusoidTaskFamily
from course_lib.evaluation import evaluate_adaptation
from course_lib.experiments import gbml as gx
from course_lib.nets import MLP

torch.set_num_threads(1)


def test_train_sinusoid_checkpoints_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    run = gx.train_sinusoid("maml", 20, progress=False)
    assert len(run.history.records["loss"]) == 20 and run.seconds_per_step > 0
    files = list((tmp_path / "checkpoints").glob("sinusoid_maml_*_20.pt"))
    assert len(files) == 1
    again = gx.train_sinusoid("maml", 20, progress=False)  # loaded, not retrained
    for a, b in zip(run.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)
    tasks, _ = gx.sinusoid_test_tasks(10, k_shot=5)
    scores = gx.evaluate_sinusoid(run.model, tasks, update=0.01, steps=(0, 1))
    assert len(scores[0]) == 10


def test_train_sinusoid_metasgd_learns_step_sizes_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    run = gx.train_sinusoid("metasgd", 30, meta_batch_size=5, progress=False)
    assert isinstance(run.model, meta_sgd.MetaSGD) and "inner_lr" not in run.config
    assert len(run.history.records["loss"]) == 30 and run.seconds_per_step > 0
    alphas = torch.cat([a.detach().flatten() for a in run.model.step_sizes().values()])
    assert alphas.numel() == sum(p.numel() for p in run.model.model.parameters())
    initial = meta_sgd.init_step_sizes(run.model.params(), (0.005, 0.1), torch.Generator().manual_seed(2))
    assert not torch.allclose(alphas, torch.cat([a.flatten() for a in initial.values()]))  # learned
    assert len(list((tmp_path / "checkpoints").glob("sinusoid_metasgd_*_30.pt"))) == 1
    again = gx.train_sinusoid("metasgd", 30, meta_batch_size=5, progress=False)  # loaded, not retrained
    for a, b in zip(run.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)
    tasks, _ = gx.sinusoid_test_tasks(20, k_shot=10)
    scores = evaluate_adaptation(run.model.model, run.model.params(), tasks, loss_fn=F.mse_loss,
                                 update=run.model.update_rule(), steps=(0, 1))
    assert sum(scores[1]) < sum(scores[0])  # one learned step already helps


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="method"):
        gx.train_sinusoid("sgd", 1, checkpoint=False, progress=False)
    with pytest.raises(ValueError, match="method"):
        gx.train_omniglot("pretrained", 1, torch.zeros(10, 20, 28, 28), checkpoint=False, progress=False)


def test_omniglot_reptile_trains_on_minibatches_of_ten_shot_tasks():
    images = torch.rand(12, 20, 28, 28, generator=torch.Generator().manual_seed(0))
    run = gx.train_omniglot("reptile", 2, images, meta_batch_size=2, checkpoint=False, progress=False)
    assert (run.config["k_shot"], run.config["inner_batch_size"], run.config["inner_steps"]) == (10, 10, 5)
    assert len(run.history.steps) == 2 and all(v > 0 for v in run.history.records["update_norm"])
    with pytest.raises(ValueError, match="inner_batch_size must be between 1 and the number of support examples"):
        gx.train_omniglot("reptile", 1, images, meta_batch_size=2, k_shot=1, checkpoint=False, progress=False)


def test_memory_measure_orders_the_methods():
    model = MLP()
    batch = SinusoidTaskFamily().sample_batch(5, 10, 10, torch.Generator().manual_seed(0))
    mem = {m: gx.meta_step_memory(m, model, batch, loss_fn=F.mse_loss, device="cpu", inner_lr=0.01, inner_steps=3)[0]
           for m in ("maml", "fomaml", "reptile")}
    assert mem["maml"] > mem["fomaml"] > 0 and mem["reptile"] > 0
    # MAML's graph grows with the number of inner steps, FOMAML's does not
    more = gx.meta_step_memory("maml", model, batch, loss_fn=F.mse_loss, device="cpu", inner_lr=0.01, inner_steps=6)[0]
    fo_more = gx.meta_step_memory("fomaml", model, batch, loss_fn=F.mse_loss, device="cpu", inner_lr=0.01, inner_steps=6)[0]
    assert more > 1.5 * mem["maml"] and fo_more == mem["fomaml"]


def test_autograd_peak_counts_saved_storage_once():
    x = torch.randn(1000, requires_grad=True)
    peak = gx.autograd_peak_bytes(lambda: (x * x).sum().backward())
    assert peak == 4000  # x saved twice by mul, one storage


def test_omniglot_reptile_with_nichol_protocol():
    images = torch.rand(12, 20, 28, 28, generator=torch.Generator().manual_seed(0))
    settings = dict(gx.OMNIGLOT_REPTILE_NICHOL, meta_batch_size=2)
    run = gx.train_omniglot("reptile", 2, images, checkpoint=False, progress=False, **settings)
    assert (run.config["k_shot"], run.config["inner_batch_size"], run.config["inner_steps"]) == (15, 25, 3)
    assert isinstance(gx.inner_update(run.config), Adam) and gx.inner_update(gx.OMNIGLOT_REPTILE).lr == 0.1
    assert all(v > 0 for v in run.history.records["update_norm"])
    episodes = gx.omniglot_test_episodes(images, 4)
    scores = gx.evaluate_omniglot(run.model, episodes, update=gx.inner_update(run.config), steps=(0, 2))
    assert all(0.0 <= a <= 1.0 for a in scores[2])


def test_annealed_plain_outer_step_lands_on_the_adapted_weights_at_step_zero():
    """meta_lr=1 at step 0 (annealed to meta_lr_final afterwards): theta moves all the way to mean_i phi_i."""
    images = torch.rand(12, 20, 28, 28, generator=torch.Generator().manual_seed(0))
    settings = dict(k_shot=2, inner_batch_size=None, inner_steps=1, meta_lr=1.0, meta_lr_final=0.0, meta_batch_size=1)
    start = gx.train_omniglot("reptile", 0, images, checkpoint=False, progress=False, **settings).model
    run = gx.train_omniglot("reptile", 1, images, checkpoint=False, progress=False, **settings)
    moved = sum(float((a - b).abs().sum()) for a, b in zip(start.parameters(), run.model.parameters()))
    assert moved > 0 and abs(run.history.records["update_norm"][0] - sum(
        float(((a - b) ** 2).sum()) for a, b in zip(start.parameters(), run.model.parameters())) ** 0.5) < 1e-4
