"""Chapter 06's MANN and LSTM on label-delayed Omniglot, one run per (model, seed, thread count).

Trains with the chapter's recipe (:func:`course_lib.experiments.label_delay.train_sequence_learner`:
Adam at a constant learning rate, batches of 64 augmented episodes, clipping), evaluates on the
chapter's 500 test episodes of unseen characters and writes one JSON file per run: test accuracy by
presentation, the training curves (loss, accuracy by presentation, gradient norm before clipping)
and, for the MANN, every ``--probe-every`` steps the memory's state on 16 fixed training episodes
(mean write gate sigma(alpha), share of saturated gates, largest read weight, largest usage).

Usage (the data folder as for the notebooks, ``COURSE_DATA_DIR``)::

    python benchmarks/mann_seeds_threads.py --kind mann --seeds 0 1 2 --threads 1 --out runs/
    python benchmarks/mann_seeds_threads.py --summary runs/      # the table of every run in runs/

The thread count changes the order of floating-point sums, hence the whole training trajectory; the
seed changes the initial weights and the episodes. The script measures how far the final numbers
move with either.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib.data import load_background_small, split_characters  # noqa: E402
from course_lib.data.label_delay import LabelDelaySampler  # noqa: E402
from course_lib.experiments.label_delay import (MANN_SIZE, evaluate_sequences,  # noqa: E402
                                                make_sequence_learner, train_sequence_learner)
from course_lib.metrics import mean_ci  # noqa: E402


def memory_probe(model, episodes):
    """Write gate, read sharpness and usage of ``model`` (a MANN) on a fixed batch of episodes."""
    def probe():
        with torch.no_grad():
            _, trace = model(episodes.inputs, episodes.prev_labels, return_trace=True)
        gate = trace.gate
        return {"gate": float(gate.mean()), "gate_saturated": float(((gate < 0.02) | (gate > 0.98)).float().mean()),
                "read_max": float(trace.read_weights.amax(-1).mean()), "usage_max": float(trace.usage.amax(-1).mean())}
    return probe


def run(kind: str, seed: int, args) -> dict:
    train_chars, test_chars = split_characters(load_background_small(), test_fraction=0.3, seed=0)
    bank = torch.cat([train_chars.images, train_chars.images.flip(-1)])  # mirror images, as in the chapter
    options = {"read_first": not args.paper_order, "initial_strength": args.initial_strength,
               "initial_gate": args.initial_gate, "memory_slots": args.memory_slots,
               "store_labels": not args.paper_write, "input_to_heads": not args.paper_heads} if kind == "mann" else {}
    model = make_sequence_learner(kind, seed=seed, **options)
    extra = {}
    if kind == "mann" and args.probe_every:
        episodes = LabelDelaySampler(bank, 5, 10, seed=99, augment=True).sample_batch(16)
        extra = {"eval_fn": memory_probe(model, episodes), "eval_every": args.probe_every}
    start = time.perf_counter()
    history = train_sequence_learner(model, bank, args.steps, batch_size=args.batch, seed=seed, lr=args.lr,
                                     max_grad_norm=args.clip, desc=f"{kind} seed {seed}", progress=False, **extra)
    seconds = time.perf_counter() - start
    result = evaluate_sequences(model, LabelDelaySampler(test_chars.images, 5, 10, seed=1), args.test_episodes)
    return {"kind": kind, "seed": seed, "threads": torch.get_num_threads(),
            "settings": {k: v for k, v in vars(args).items() if k not in ("out", "summary", "seeds")},
            "train_seconds": seconds, "test_mean": result["mean"].tolist(), "test_ci": result["ci"].tolist(),
            "test_10th": float(result["mean"][9]), "test_2nd_5th": float(result["mean"][1:5].mean()),
            "history": history.to_dict()}


def summary(folder: Path) -> None:
    """One line per (model, settings, thread count): each seed's 10th-presentation accuracy, their mean with
    the 95 % Student-t interval over the seeds and their range, and the same mean for the 2nd-5th presentations."""
    groups = defaultdict(list)
    for path in sorted(folder.glob("*.json")):
        r = json.loads(path.read_text())
        s = r["settings"]
        kind = r["kind"] + (" (paper's order)" if s.get("paper_order") else "")
        if r["kind"] == "mann" and s.get("paper_write", True):   # runs from before the flag wrote the key
            kind += " (paper's write)"
        if r["kind"] == "mann" and s.get("paper_heads", True):   # and had heads on h_t alone
            kind += " (paper's heads)"
        if r["kind"] == "mann" and (s.get("initial_strength", 10.0), s.get("initial_gate", 0.1)) != (10.0, 0.1):
            kind += f" beta0 {s.get('initial_strength', 10.0):g} gate0 {s.get('initial_gate', 0.1):g}"
        if r["kind"] == "mann" and s.get("memory_slots", 64) != MANN_SIZE["memory_slots"]:
            kind += f" {s.get('memory_slots', 64)} slots"   # runs from before the memory_slots flag had 64
        groups[(kind, s["steps"], s["batch"], s["lr"], s["clip"], r["threads"])].append(r)
    print(f"{'model':22s} steps x batch  lr     threads  10th presentation by seed      mean ± 95 % CI  range"
          "   2nd-5th mean ± CI")
    for (kind, steps, batch, lr, clip, threads), runs in groups.items():
        values = [100 * r["test_10th"] for r in runs]
        cells = ", ".join(f"{r['seed']}: {v:.1f}" for r, v in zip(runs, values))
        mean, half = mean_ci(values)  # one run: the half width is nan
        later, later_half = mean_ci([100 * r["test_2nd_5th"] for r in runs])
        print(f"{kind:22s} {steps:5d} x {batch:<3d}  {lr:<6g} {threads:^7d}  {cells:29s}  {mean:5.1f} ± {half:4.1f}"
              f"  {max(values) - min(values):5.1f}   {later:5.1f} ± {later_half:4.1f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["mann", "lstm"], default="mann")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--paper-order", action="store_true", help="MANN: read after this step's write, as the paper")
    parser.add_argument("--paper-write", action="store_true",
                        help="MANN: write the key k_t, as the paper, instead of [k_{t-1}, y_{t-1}]")
    parser.add_argument("--paper-heads", action="store_true",
                        help="MANN: head parameters from the controller's state alone, as the paper, not [h_t, x_t]")
    parser.add_argument("--initial-strength", type=float, default=10.0,
                        help="MANN: key strength at initialisation (1 + log 2 = 1.693 is a zero bias)")
    parser.add_argument("--initial-gate", type=float, default=0.1, help="MANN: write gate sigma(alpha) at initialisation")
    parser.add_argument("--memory-slots", type=int, default=MANN_SIZE["memory_slots"], help="MANN: number of memory slots")
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--test-episodes", type=int, default=500)
    parser.add_argument("--probe-every", type=int, default=50)
    parser.add_argument("--tag", default="")
    parser.add_argument("--out", type=Path, default=Path("build/mann_runs"))
    parser.add_argument("--summary", type=Path, default=None, help="print the table of the runs in this folder")
    args = parser.parse_args(argv)
    if args.summary:
        return summary(args.summary)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    for seed in args.seeds:
        result = run(args.kind, seed, args)
        name = args.out / f"{args.kind}_seed{seed}_threads{args.threads}{args.tag}.json"
        name.write_text(json.dumps(result))
        print(f"{args.kind} seed {seed}, {args.threads} thread(s): test 10th {100 * result['test_10th']:.1f} %, "
              f"2nd-5th {100 * result['test_2nd_5th']:.1f} %, {result['train_seconds']:.0f} s -> {name}", flush=True)


if __name__ == "__main__":
    main()
