"""`make bench`: every benchmark in one run, written to build/bench.json and printed as Markdown.

1. one second-order MAML meta-step: course_lib vs `higher` vs `torchopt` (benchmarks/maml_step.py);
2. ProtoNet training throughput in episodes per second (benchmarks/protonet_throughput.py);
3. wall time of every chapter under the budgets given with ``--budgets`` (default: smoke), by
   executing the notebooks (tools/build_course.py into build/bench-<budget>/) with an empty
   temporary ``COURSE_CACHE_DIR``: first-run times, with no checkpoint of an earlier run reused.

On a machine with a CUDA GPU, 1 and 2 are also run on the GPU. Usage:
``python benchmarks/run_all.py [--budgets smoke standard] [--skip-chapters]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import maml_step  # noqa: E402
import protonet_throughput  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{platform.system()} {cpu}, {os.cpu_count()} CPU cores{gpu}, torch {torch.__version__}"


def chapter_times(budget: str) -> dict[str, dict]:
    out = ROOT / "build" / f"bench-{budget}"
    with tempfile.TemporaryDirectory(prefix="course-bench-cache-") as cache:
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_course.py"), "--budget", budget, "--out", str(out)],
                       check=False, env=dict(os.environ, COURSE_CACHE_DIR=cache))
    return json.loads((out / "timings.json").read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="*", default=["smoke"], choices=["smoke", "standard", "full"])
    parser.add_argument("--skip-chapters", action="store_true")
    args = parser.parse_args()
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    report = {"machine": machine(), "maml_step_ms": {}, "protonet_episodes_per_s": {}, "chapters": {}}
    for device in devices:
        timings = maml_step.main(["--device", device, "--threads", str(torch.get_num_threads())])
        report["maml_step_ms"][device] = {k: round(v * 1000, 1) for k, v in timings.items()}
        report["protonet_episodes_per_s"][device] = {
            k: round(v, 1) for k, v in protonet_throughput.main(["--device", device]).items()
        }
    if not args.skip_chapters:
        for budget in args.budgets:
            report["chapters"][budget] = chapter_times(budget)
    (ROOT / "build").mkdir(exist_ok=True)
    (ROOT / "build" / "bench.json").write_text(json.dumps(report, indent=2))

    print(f"\n### Benchmarks — {report['machine']}\n")
    for device, timings in report["maml_step_ms"].items():
        print(f"MAML meta-step ({device}): " + ", ".join(f"{k} {v} ms" for k, v in timings.items()))
    for device, rates in report["protonet_episodes_per_s"].items():
        print(f"ProtoNet training ({device}): " + ", ".join(f"{k} {v}/s" for k, v in rates.items()))
    for budget, chapters in report["chapters"].items():
        total = sum(c["seconds"] for c in chapters.values())
        print(f"\n| chapter ({budget}) | seconds | status |\n|---|---|---|")
        for name, c in chapters.items():
            print(f"| {name} | {c['seconds']:.0f} | {c['status']} |")
        print(f"| **total** | **{total:.0f}** | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
