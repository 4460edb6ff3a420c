"""Several training runs at once, one worker process per CPU core, one thread per process.

Small recurrent models (chapter 06's MANN and LSTM on batches of 64 episodes) gain little from a
second thread inside one process, and their result depends on the thread count (it changes the
order of floating-point sums, hence the whole training trajectory). Running independent seeds in
separate one-thread processes uses every core, and makes each run's numbers the same whatever the
machine's core count.

``fn(**job, report=report)`` is a top-level (importable) function that trains one run and calls
``report(done)`` with the number of steps the run has finished (at the start of every step, so that
an interrupt raised there leaves nothing half done); it must return something picklable. Progress of all
runs is one bar in the calling process. An interrupt (Ctrl-C, or the notebook's stop button) is
passed on to the workers, whose training loops save a checkpoint, and is then raised again.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_module
from concurrent.futures import ProcessPoolExecutor

import torch
from tqdm.auto import tqdm

from course_lib.runtime import available_cores


class _Reporter:
    """``report(done)`` of job ``index`` inside a worker: puts ``(index, done)`` on the shared progress
    queue, and turns the caller's stop request into a KeyboardInterrupt inside the training loop."""

    def __init__(self, index, progress, stop):
        self.index, self.progress, self.stop = index, progress, stop

    def __call__(self, done: int) -> None:
        self.progress.put((self.index, done))
        if self.stop.is_set():
            raise KeyboardInterrupt


def _worker(fn, job: dict, index: int, progress, stop):
    torch.set_num_threads(1)
    return fn(**job, report=_Reporter(index, progress, stop))


def run_in_processes(fn, jobs: list[dict], *, total_steps: int, workers: int | None = None,
                     desc: str = "runs") -> list:
    """``[fn(**job, report=...) for job in jobs]``, computed by ``workers`` one-thread processes.

    total_steps: the sum of the steps of all jobs (the length of the progress bar).
    workers: default: one per CPU core this process may use (:func:`course_lib.runtime.available_cores`),
        at most one per job; with 1 the jobs run one after the other in this
        process, on one thread too (so the numbers are the same as with workers), which is also the
        way to run on a GPU.
    Returns the results in the order of ``jobs``.
    """
    if not jobs:
        raise ValueError("jobs is empty: give at least one dict of keyword arguments for fn")
    workers = min(len(jobs), available_cores()) if workers is None else workers
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    bar = tqdm(total=total_steps, desc=f"{desc} ({workers} process{'es' if workers > 1 else ''})",
               dynamic_ncols=True)
    done = [0] * len(jobs)

    def show(index: int, steps: int) -> None:
        done[index] = steps
        bar.update(sum(done) - bar.n)  # tqdm redraws at most every mininterval

    try:
        if workers == 1:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return [fn(**job, report=lambda steps, i=i: show(i, steps)) for i, job in enumerate(jobs)]
            finally:
                torch.set_num_threads(threads)
        context = mp.get_context("spawn")  # fork is unsafe with threads (and with Jupyter's kernel)
        with context.Manager() as manager:
            progress, stop = manager.Queue(), manager.Event()
            with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
                futures = [pool.submit(_worker, fn, job, i, progress, stop) for i, job in enumerate(jobs)]
                try:
                    while not all(f.done() for f in futures):
                        try:
                            show(*progress.get(timeout=0.5))
                        except queue_module.Empty:
                            pass
                except KeyboardInterrupt:
                    stop.set()  # each worker's training loop saves a checkpoint and returns
                    for f in futures:
                        f.cancel()
                    pool.shutdown(wait=True)
                    bar.write(f"{desc}: interrupted; every run saved a checkpoint, run the cell again to resume.")
                    raise
                while not progress.empty():
                    show(*progress.get())
                return [f.result() for f in futures]
    finally:
        bar.close()
