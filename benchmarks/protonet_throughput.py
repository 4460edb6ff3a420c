"""Episodes per second of Prototypical-network training (Conv-4, Omniglot-sized images).

Times complete training steps (sample an episode, embed support + query, loss, backward, Adam
step) on random 28x28 images, so no data set is needed. Reports the median over ``--repeats``
blocks of ``--steps`` steps after a warm-up.

Usage: ``python benchmarks/protonet_throughput.py [--device cpu] [--threads 0] [--steps 20]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.experiments.metric_training import to_training_device  # noqa: E402
from course_lib.algorithms.protonet import ProtoNet  # noqa: E402
from course_lib.data.episodes import EpisodeSampler  # noqa: E402

SETTINGS = [(5, 1, 15), (5, 5, 15), (20, 1, 5), (60, 5, 5)]  # (way, shot, queries per class)


def episodes_per_second(n_way: int, k_shot: int, q_query: int, device: torch.device, steps: int, repeats: int) -> float:
    images = torch.rand(200, 20, 28, 28)
    sampler = EpisodeSampler(images, n_way=n_way, k_shot=k_shot, q_query=q_query, seed=0)
    model = to_training_device(ProtoNet(), device)  # as train_episodic does (channels-last on the CPU)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        episode = sampler.sample().to(device)
        scores = model(episode.support_x, episode.support_y, episode.query_x, n_way)
        loss = model.loss(scores, episode.query_y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    rates = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(steps):
            step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rates.append(steps / (time.perf_counter() - start))
    return statistics.median(rates)


def main(argv=None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="0 = PyTorch's default")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"ProtoNet training throughput, Conv-4, device {device}, {torch.get_num_threads()} thread(s)")
    results = {}
    for n_way, k_shot, q_query in SETTINGS:
        rate = episodes_per_second(n_way, k_shot, q_query, device, args.steps, args.repeats)
        key = f"{n_way}-way {k_shot}-shot ({q_query} queries/class)"
        results[key] = rate
        print(f"  {key:32s} {rate:8.1f} episodes/s")
    return results


if __name__ == "__main__":
    main()
