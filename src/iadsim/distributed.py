"""Execute the runs of a campaign's design points, in batches, through ``dask.distributed``.

One code path, three places to run:

* ``workers=1`` (no scheduler): the batches run one after the other in this process (no
  cluster to start; Ctrl-C stops at once);
* default: a ``LocalCluster(n_workers=<cores>, threads_per_worker=1)`` of worker processes;
* ``scheduler="tcp://HOST:8786"``: an existing Dask cluster (its workers need iadsim
  installed, at the same version).

A task is ``(design point, list of run indices) -> list of metric rows``; it is pure (its
result depends only on its arguments), so the task of a lost worker is re-run elsewhere
(``retries=2``) and a result that arrives twice is stored once (the store's primary key).
Batches never span design points. Unless given, their size comes from timing one run in
the driver first (that run is stored like any other): about :data:`TARGET_S` seconds of work
per task, at most ``remaining / (8 * workers)`` runs (so every worker gets several tasks) and
between 1 and :data:`MAX_BATCH` runs. At most
``4 * workers`` tasks are in flight, so results stream back with ``as_completed`` and each batch
is handed to ``sink`` (the store) as soon as it is done: a killed campaign loses only the
batches in flight.

**Randomness and common random numbers.** Run ``r`` of *every* design point draws from
``SeedSequence(seed, spawn_key=(r,))`` (``engine.Streams``), seeded by the campaign seed and
the run index only, not by the design point. Two design points therefore see the same launch
points, sensor noise and Pk draws run by run as far as their histories agree, so differences
between design points are measured with much less noise than independent sampling would give
(common random numbers). The runs are the same whatever the workers, batch sizes or order.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from iadsim.campaign import default_workers, simulate_params
from iadsim.params import Params

__all__ = ["MAX_BATCH", "TARGET_S", "batches", "execute", "simulate_batch"]

MAX_BATCH = 50
TARGET_S = 5.0

Sink = Callable[[int, list[dict]], None]


def simulate_batch(params: Params, seed: int, runs: list[int]) -> list[dict]:
    """The metric rows of ``runs`` of one design point (a Dask task: pure)."""
    return [simulate_params(params, seed, r).metrics for r in runs]


def batches(todo: dict[int, list[int]], workers: int, batch_size: int | None = None,
            run_s: float = 0.0) -> list[tuple[int, list[int]]]:
    """Split the runs to do per design point into ``(point, runs)`` batches, in point then run
    order (``run_s``: seconds per run, when known)."""
    total = sum(len(r) for r in todo.values())
    size = math.ceil(total / (8 * max(1, workers)))
    if run_s > 0:
        size = min(size, round(TARGET_S / run_s))
    size = batch_size or max(1, min(MAX_BATCH, size))
    out = []
    for point in sorted(todo):
        runs = sorted(todo[point])
        out += [(point, runs[i:i + size]) for i in range(0, len(runs), size)]
    return out


@contextmanager
def _client(workers: int, scheduler: str | None) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    if scheduler is not None:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def execute(params: Sequence[Params], seed: int, todo: dict[int, list[int]], sink: Sink, *,
            workers: int | None = None, scheduler: str | None = None,
            batch_size: int | None = None) -> None:
    """Run ``todo`` (design point -> run indices) of the compiled design points ``params``;
    ``sink(point, rows)`` receives each finished batch (in completion order)."""
    todo = {p: sorted(r) for p, r in todo.items() if r}
    if not todo:
        return
    run_s = 0.0
    if batch_size is None:  # time one run here to size the batches
        point = min(todo)
        t0 = time.perf_counter()
        sink(point, simulate_batch(params[point], seed, todo[point][:1]))
        run_s = time.perf_counter() - t0
        todo[point] = todo[point][1:]
    work = batches(todo, workers or (1 if scheduler is None else 8), batch_size, run_s)
    if not work:
        return
    if scheduler is None and (workers or default_workers()) == 1:
        for point, runs in work:
            sink(point, simulate_batch(params[point], seed, runs))
        return
    _execute_dask(params, seed, work, sink, workers or default_workers(), scheduler,
                  batch_size, run_s)


def _execute_dask(params: Sequence[Params], seed: int, work: list[tuple[int, list[int]]],
                  sink: Sink, workers: int, scheduler: str | None,
                  batch_size: int | None, run_s: float) -> None:
    from distributed import as_completed

    with _client(workers, scheduler) as client:
        if scheduler is not None:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {})) or workers
            if batch_size is None:  # re-split for the cluster's size
                todo: dict[int, list[int]] = {}
                for point, runs in work:
                    todo.setdefault(point, []).extend(runs)
                work = batches(todo, n, None, run_s)
            workers = n
        scattered: dict[int, Any] = {}
        pending = iter(work)
        futures: dict[Any, int] = {}

        def submit() -> bool:
            item = next(pending, None)
            if item is None:
                return False
            point, runs = item
            if point not in scattered:
                scattered[point] = client.scatter(params[point], hash=False)
            f = client.submit(simulate_batch, scattered[point], seed, runs, pure=False,
                              retries=2, key=f"iadsim-batch-{point}-{runs[0]}-{runs[-1]}")
            futures[f] = point
            queue.add(f)
            return True

        queue = as_completed()
        try:
            for _ in range(4 * workers):
                if not submit():
                    break
            for f in queue:
                point = futures.pop(f)
                sink(point, f.result())
                f.release()
                submit()
        except BaseException:
            for f in list(futures):
                f.cancel()
            raise
