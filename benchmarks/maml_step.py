"""Time one second-order MAML meta-step: course_lib vs `higher` vs `torchopt`, same model and batch.

Setting: Conv-4 (strided, MAML's Omniglot network), 5-way 1-shot episodes with 5 query images per
class, one inner SGD step (lr 0.4) with the graph kept for the second-order meta-gradient, Adam
outer step. Every implementation gets the same initial weights and the same task batch, and the
script first checks that they compute the same meta-gradient.

`higher` and `torchopt` are optional, benchmark-only dependencies::

    pip install higher
    pip install --no-deps torchopt optree graphviz   # --no-deps keeps the course's torch pin

If one of them cannot be imported the script says so and times the others.

Usage::

    python benchmarks/maml_step.py [--meta-batch 4] [--repeats 5] [--threads 1] [--device cpu]

Timings on a shared machine are noisy: the script reports the median of ``--repeats`` runs
after one warm-up step, and the ratios are what to look at.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.algorithms import maml  # noqa: E402
from course_lib.data.episodes import TaskBatch  # noqa: E402
from course_lib.nets import Conv4  # noqa: E402

INNER_LR = 0.4


def make_batch(meta_batch: int, device) -> TaskBatch:
    g = torch.Generator().manual_seed(0)
    n, k, q = 5, 1, 5
    return TaskBatch(
        support_x=torch.rand(meta_batch, n * k, 1, 28, 28, generator=g),
        support_y=torch.arange(n).repeat_interleave(k).repeat(meta_batch, 1),
        query_x=torch.rand(meta_batch, n * q, 1, 28, 28, generator=g),
        query_y=torch.arange(n).repeat_interleave(q).repeat(meta_batch, 1),
    ).to(device)


def course_lib_step(vectorize: bool):
    def step(model, optimizer, batch):
        return maml.maml_step(model, optimizer, batch, loss_fn=F.cross_entropy, inner_lr=INNER_LR,
                              inner_steps=1, vectorize=vectorize)
    return step


def higher_step():
    import higher

    def step(model, optimizer, batch):
        optimizer.zero_grad(set_to_none=True)
        inner_opt = torch.optim.SGD(model.parameters(), lr=INNER_LR)
        total = 0.0
        for i in range(len(batch)):
            with higher.innerloop_ctx(model, inner_opt, copy_initial_weights=False) as (fmodel, diffopt):
                diffopt.step(F.cross_entropy(fmodel(batch.support_x[i]), batch.support_y[i]))
                loss = F.cross_entropy(fmodel(batch.query_x[i]), batch.query_y[i]) / len(batch)
                loss.backward()
                total += float(loss.detach())
        optimizer.step()
        return {"loss": total}
    return step


def torchopt_step():
    import torchopt

    def step(model, optimizer, batch):
        optimizer.zero_grad(set_to_none=True)
        inner_opt = torchopt.MetaSGD(model, lr=INNER_LR)
        net_state = torchopt.extract_state_dict(model, by="reference", detach_buffers=True)
        opt_state = torchopt.extract_state_dict(inner_opt)
        total = 0.0
        for i in range(len(batch)):
            inner_opt.step(F.cross_entropy(model(batch.support_x[i]), batch.support_y[i]))
            loss = F.cross_entropy(model(batch.query_x[i]), batch.query_y[i]) / len(batch)
            loss.backward()
            total += float(loss.detach())
            torchopt.recover_state_dict(model, net_state)
            torchopt.recover_state_dict(inner_opt, opt_state)
        optimizer.step()
        return {"loss": total}
    return step


def meta_gradient(step, batch, device, seed=0):
    """Run ``step`` once with a zero-lr optimizer and return the flattened meta-gradient."""
    torch.manual_seed(seed)
    model = Conv4(5, pooling="stride").to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    step(model, optimizer, batch)
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def time_steps(steps: dict, batch, device, repeats: int) -> dict[str, float]:
    """Median seconds per meta-step of every candidate, measured round-robin.

    Each repeat times one step of every candidate in turn, so a machine that speeds up or slows
    down during the run (other jobs, frequency scaling) affects all candidates alike.
    """
    states = {}
    for name, step in steps.items():
        torch.manual_seed(0)
        model = Conv4(5, pooling="stride").to(device)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        step(model, optimizer, batch)  # warm-up
        states[name] = (model, optimizer)
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            step(*states[name], batch)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meta-batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    batch = make_batch(args.meta_batch, device)
    print(f"one second-order MAML meta-step, Conv-4 (stride), 5-way 1-shot, 25 queries/task, "
          f"meta-batch {args.meta_batch}, device {device}, {torch.get_num_threads()} thread(s), torch {torch.__version__}")

    candidates = {"course_lib (vmap)": course_lib_step(True), "course_lib (task loop)": course_lib_step(False)}
    for name, factory in (("higher", higher_step), ("torchopt", torchopt_step)):
        try:
            candidates[name] = factory()
        except Exception as err:  # optional dependency: report and continue
            print(f"  {name}: not available ({type(err).__name__}: {err}); install it as the docstring says")

    reference = meta_gradient(candidates["course_lib (task loop)"], batch, device)
    errors, working = {}, {}
    for name, step in candidates.items():
        try:
            grad = meta_gradient(step, batch, device)
            errors[name] = float((grad - reference).norm() / reference.norm())
            working[name] = step
        except Exception as exc:
            print(f"  {name}: failed ({type(exc).__name__}: {exc})")
    timings = time_steps(working, batch, device, args.repeats)
    for name, t in timings.items():
        print(f"  {name:24s} {t * 1000:9.1f} ms/step   (meta-gradient rel. diff to course_lib: {errors[name]:.1e})")

    others = {k: v for k, v in timings.items() if not k.startswith("course_lib")}
    ours = min(v for k, v in timings.items() if k.startswith("course_lib"))
    if others:
        fastest = min(others, key=others.get)
        for name, t in others.items():
            print(f"  ratio {name} / course_lib (best) = {t / ours:.2f}")
        verdict = "no slower than" if ours <= others[fastest] * 1.05 else "SLOWER than"
        print(f"course_lib is {verdict} the fastest library ({fastest}): {ours * 1000:.1f} vs {others[fastest] * 1000:.1f} ms")
    return timings


if __name__ == "__main__":
    main()
