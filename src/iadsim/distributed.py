"""Execute the runs of a campaign's design points, in batches, through ``dask.distributed``.

One code path, three places to run:

* ``workers=1`` (no scheduler): the batches run one after the other in this process (no
  cluster to start; Ctrl-C stops at once);
* default: a ``LocalCluster(n_workers=<cores>, threads_per_worker=1, processes=True)``, its
  workers importing iadsim as they start (``preload``); it starts in a thread while this
  process simulates runs itself (batches of about :data:`LOCAL_S` seconds), so the seconds of
  start-up and imports are not lost;
* ``scheduler="tcp://HOST:8786"``: an existing Dask cluster (its workers need iadsim
  installed, at the same version).

A task is ``(design point, list of run indices) -> (metric rows, seconds)``; it is pure (its
rows depend only on its arguments), so the task of a lost worker is re-run elsewhere (the
scheduler reschedules it; ``retries=2`` covers an exception) and a result that arrives twice
is stored once (the store's primary key). The task carries its design point's compiled
``Params`` (about 20 kB) rather than a scattered reference, so a worker that dies takes no
data with it. Batches never span design points.

**Batch sizes** (:class:`_Queue`): guided self-scheduling (C. D. Polychronopoulos and D. J.
Kuck, "Guided self-scheduling: a practical scheduling scheme for parallel supercomputers",
IEEE Trans. Computers C-36 (1987) 1425-1439): each new batch takes ``ceil(left / (2 workers))``
runs of the runs left, capped at about :data:`TARGET_S` seconds of work (from the in-worker
time per run measured so far) and at :data:`MAX_BATCH`, and at least :data:`MIN_S` seconds of
work; before any time is known, one run. So the first wave tells the run time, the middle
batches are large (little per-task overhead), and the last ones shrink, so no worker is left
with a long straggler while the others idle. At most ``2 * workers``
tasks are in flight; results stream back with ``as_completed`` and each batch is handed to
``sink`` (the store) as soon as it is done: a killed campaign loses only the batches in
flight. ``batch_size`` fixes the size instead.

**Stopping a design point early** (``--until-ci``): ``sink`` returns True when a point needs no
more runs; its queued batches are dropped and its running tasks cancelled (a result that still
arrives is not stored). :class:`UntilCI` gives that answer from a deterministic prefix, so the
set of stored runs does not depend on the workers or the order of completion; with it, batches
are taken round-robin over the points and never cross a block of :data:`CI_BLOCK` runs, so
every point advances and little work is wasted when one stops.

**Randomness and common random numbers.** Run ``r`` of *every* design point draws from
``SeedSequence(seed, spawn_key=(r,))`` (``engine.Streams``), seeded by the campaign seed and
the run index only, not by the design point. Two design points therefore see the same launch
points, sensor noise and Pk draws run by run as far as their histories agree, so differences
between design points are measured with much less noise than independent sampling would give
(common random numbers). The runs are the same whatever the workers, batch sizes or order.
With sampled parameter uncertainty (:mod:`iadsim.uncertain`), the task carries the design
point's ``Scenario``; each run draws its parameter values from (seed, run), applies them as
overrides, compiles and runs; the values join the run's metric row.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from iadsim.campaign import default_workers, simulate_params
from iadsim.params import Params
from iadsim.scenario import Scenario
from iadsim.stats import wilson_interval
from iadsim.store import EVENTS_KEY, events_ipc

__all__ = ["CI_BLOCK", "MAX_BATCH", "TARGET_S", "ExecStats", "UntilCI", "batches", "execute",
           "simulate_batch"]

MAX_BATCH = 100
TARGET_S = 5.0
MIN_S = 0.25  # no batch under this much work once the run time is known (the tail's cost)
#: Seconds of work per batch this process runs while a local cluster starts.
LOCAL_S = 0.5
#: Runs per block of the ``--until-ci`` rule (see :class:`UntilCI`).
CI_BLOCK = 10

#: ``sink(point, rows)`` stores a finished batch; returning ``True`` (exactly) means ``point``
#: is done.
Sink = Callable[[int, list[dict]], bool | None]


def simulate_batch(model: Params | Scenario, seed: int, runs: list[int],
                   uncertain: tuple = (), events_runs: int = 0
                   ) -> tuple[list[dict], float, float]:
    """The metric rows of ``runs`` of one design point, and the wall and CPU seconds they took
    (a Dask task: the rows are pure). ``model`` is the compiled point or, with ``uncertain``
    parameters (:class:`iadsim.uncertain.Uncertain`), its scenario, compiled run by run. Runs
    with an index below ``events_runs`` also carry their event log, as Arrow IPC bytes under
    :data:`iadsim.store.EVENTS_KEY` (the store takes it out of the row)."""
    t0, c0 = time.perf_counter(), time.thread_time()
    rows = []
    if uncertain:
        from iadsim.compile import compile_scenario
        from iadsim.uncertain import PREFIX, draw, with_draws
    for r in runs:
        if uncertain:
            values = draw(list(uncertain), seed, r)
            params = compile_scenario(with_draws(model, values))  # type: ignore[arg-type]
            res = simulate_params(params, seed, r)
            row = {**res.metrics, **{PREFIX + k: v for k, v in values.items()}}
        else:
            res = simulate_params(model, seed, r)  # type: ignore[arg-type]
            row = res.metrics
        if r < events_runs:
            row = {**row, EVENTS_KEY: events_ipc(res.events)}
        rows.append(row)
    return rows, time.perf_counter() - t0, time.thread_time() - c0



def batches(todo: dict[int, list[int]], workers: int, batch_size: int | None = None,
            run_s: float = 0.0) -> list[tuple[int, list[int]]]:
    """A static split of the runs to do per design point into ``(point, runs)`` batches, in
    point then run order (``run_s``: seconds per run, when known)."""
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


@dataclass
class ExecStats:
    """What :func:`execute` did: seconds are wall clock in the driver except ``compute_s``, the
    sum over batches of their in-worker time."""

    workers: int = 1
    runs: int = 0
    batches: int = 0
    compute_s: float = 0.0
    sink_s: float = 0.0  # in sink (the store's writes)
    start_s: float = 0.0  # until the cluster took over (this process runs batches meanwhile)
    wall_s: float = 0.0  # the whole of execute, start-up included
    local_runs: int = 0  # runs this process simulated while the cluster started
    local_s: float = 0.0  # and their seconds (part of compute_s)
    compute_cpu_s: float = 0.0  # CPU seconds of the simulating threads
    local_cpu_s: float = 0.0  # of which this process's, while the cluster started

    @property
    def overhead(self) -> float:
        """Share of the workers' wall time not spent simulating: ``1 - compute / (workers *
        wall)`` (start-up, scheduling, the store, idle workers at the end)."""
        return 1.0 - self.compute_s / (self.workers * self.wall_s) if self.wall_s > 0 else 0.0

    @property
    def running_overhead(self) -> float:
        """:attr:`overhead` once the cluster runs: start-up and the runs done meanwhile left
        out (the store and scheduling cost at steady state, and the final stragglers)."""
        busy = self.workers * (self.wall_s - self.start_s)
        return 1.0 - (self.compute_s - self.local_s) / busy if busy > 0 else 0.0


@dataclass
class _Queue:
    """Runs left per point, handed out as batches (see the module doc)."""

    todo: dict[int, list[int]]
    workers: int
    batch_size: int | None = None
    block: int | None = None  # round-robin over points, batches inside blocks of runs
    run_s: float = 0.0  # seconds per run, in the workers, measured so far
    _turn: int = 0
    left: dict[int, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.left = {p: sorted(r) for p, r in sorted(self.todo.items()) if r}

    def runs_left(self) -> int:
        return sum(len(r) for r in self.left.values())

    def size(self) -> int:
        if self.batch_size:
            return self.batch_size
        if self.run_s <= 0:
            return 1
        cap = max(1, min(MAX_BATCH, math.floor(TARGET_S / self.run_s)))
        floor = min(cap, math.ceil(MIN_S / self.run_s))
        return max(floor, min(cap, math.ceil(self.runs_left() / (2 * self.workers))))

    def take(self, size: int | None = None) -> tuple[int, list[int]] | None:
        if not self.left:
            return None
        points = list(self.left)
        point = points[self._turn % len(points)] if self.block else points[0]
        runs = self.left[point]
        size = size or self.size()
        if self.block:
            size = min(size, self.block - runs[0] % self.block)
        batch, rest = runs[:size], runs[size:]
        if rest:
            self.left[point] = rest
            self._turn += 1
        else:
            del self.left[point]
        return point, batch

    def drop(self, point: int) -> None:
        self.left.pop(point, None)


class UntilCI:
    """The ``--until-ci W`` rule: a design point stops once its pooled leak rate (Σ leakers /
    Σ threats) has a Wilson 95% interval of *half-width* ``(hi - lo) / 2 <= W``.

    The rule is checked only at the end of each complete block of :data:`CI_BLOCK` runs in
    run-index order: after runs ``0 .. kB - 1`` are all stored (``B`` the block), on exactly
    those runs; the first ``k`` that meets it fixes the point's runs at ``kB``. Runs beyond are
    not needed, and any stored already (a batch that finished early) are deleted by the caller.
    So the stored set is a function of the runs' metrics alone, whatever the workers, batch
    sizes, completion order or interruptions. ``runs`` (``--runs``) is the maximum: a point
    that never meets the rule stops there.
    """

    def __init__(self, width: float, runs: int, block: int = CI_BLOCK):
        if not 0 < width < 0.5:
            raise ValueError(f"--until-ci {width}: the half-width must be in (0, 0.5)")
        self.width, self.runs, self.block = width, runs, block
        self._seen: dict[int, dict[int, tuple[float, float]]] = {}
        self._prefix: dict[int, tuple[int, float, float]] = {}  # runs, Σ leakers, Σ threats
        self.stopped: dict[int, int] = {}  # point -> its final number of runs

    def add(self, point: int, rows: list[dict]) -> int | None:
        """Note stored rows of ``point``; return its final number of runs once decided."""
        seen = self._seen.setdefault(point, {})
        for r in rows:
            seen[int(r["run"])] = (_count(r.get("leakers")), _count(r.get("threats")))
        return self.check(point)

    def check(self, point: int) -> int | None:
        if point in self.stopped:
            return self.stopped[point]
        seen = self._seen.get(point, {})
        n, k, m = self._prefix.get(point, (0, 0.0, 0.0))
        while n in seen and n < self.runs:
            k, m = k + seen[n][0], m + seen[n][1]
            n += 1
            if n == self.runs or (n % self.block == 0 and self.half_width(k, m) <= self.width):
                self.stopped[point] = n
                break
        self._prefix[point] = (n, k, m)
        return self.stopped.get(point)

    @staticmethod
    def half_width(leakers: float, threats: float) -> float:
        lo, hi = wilson_interval(leakers, threats)
        return (hi - lo) / 2 if threats > 0 else math.inf

    def spec(self) -> dict[str, Any]:
        return {"half_width": self.width, "block": self.block, "interval": "wilson 95%",
                "metric": "leak_rate"}


def _count(v: Any) -> float:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return 0.0
    return x if math.isfinite(x) else 0.0


def _start_local(workers: int) -> tuple[Any, Any]:
    """A ``LocalCluster`` of ``workers`` single-threaded processes, each with iadsim imported
    (``preload``), and its client."""
    import dask
    from distributed import Client, LocalCluster

    # A worker simulates in a thread while its event loop runs beside it: every wake-up of the
    # loop takes the GIL from the simulation. The statistical profiler (every thread's stack
    # every 10 ms), the 20 ms event-loop tick and the 100 ms memory monitor wake it most; the
    # nannies pass this config to the workers.
    with dask.config.set(WORKER_CONFIG):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR,
                               preload=["iadsim.distributed"])
    return cluster, Client(cluster)


#: Dask settings of the local cluster's workers (see :func:`_start_local`).
WORKER_CONFIG = {"distributed.worker.profile.enabled": False,
                 "distributed.admin.tick.interval": "1s",
                 "distributed.worker.memory.monitor-interval": "1s"}


@contextmanager
def _client(workers: int, scheduler: str | None, queue: _Queue, task: tuple, sink: Sink,
            stats: ExecStats) -> Iterator[Any]:
    """The client of the remote ``scheduler`` or of a new local cluster. A local cluster
    starts in a thread while this process runs single-run batches itself (start-up and the
    workers' imports take seconds), so the start-up costs little."""
    from distributed import Client

    if scheduler is not None:
        client = Client(scheduler, timeout="30s")
        try:
            yield client
        finally:
            client.close()
        return
    with ThreadPoolExecutor(1, thread_name_prefix="iadsim-cluster") as pool:
        starting = pool.submit(_start_local, workers)
        models, seed, uncertain, events_runs = task
        try:
            while not starting.done():
                size = max(1, math.floor(LOCAL_S / queue.run_s)) if queue.run_s > 0 else 1
                if (item := queue.take(min(size, queue.size()))) is None:
                    break
                point, runs = item
                rows, secs, cpu = simulate_batch(models[point], seed, runs, uncertain,
                                                 events_runs)
                stats.local_runs += len(rows)
                stats.local_s += secs
                stats.local_cpu_s += cpu
                _finish(point, rows, secs, cpu, queue, sink, stats)
        except BaseException:
            cluster, client = starting.result()
            client.close()
            cluster.close()
            raise
        cluster, client = starting.result()
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def execute(models: Sequence[Params | Scenario], seed: int, todo: dict[int, list[int]],
            sink: Sink, *, workers: int | None = None, scheduler: str | None = None,
            batch_size: int | None = None, uncertain: Sequence[Any] = (),
            block: int | None = None, events_runs: int = 0) -> ExecStats:
    """Run ``todo`` (design point -> run indices) of the design points ``models`` (compiled
    ``Params``; their ``Scenario`` when ``uncertain`` parameters are drawn);
    ``sink(point, rows)`` receives each finished batch (in completion order) and returns True
    when ``point`` needs no more runs. ``block``: take batches round-robin over the points,
    inside blocks of that many runs (for :class:`UntilCI`). ``events_runs``: runs with a lower
    index also return their event log (:func:`simulate_batch`)."""
    t0 = time.perf_counter()
    local = scheduler is None and (workers or default_workers()) == 1
    n = 1 if local else (workers or (default_workers() if scheduler is None else 1))
    queue = _Queue(todo, n, batch_size, block)
    stats = ExecStats(workers=n)
    if queue.left:
        task = (tuple(models), seed, tuple(uncertain), int(events_runs))
        if local:
            _execute_here(task, queue, sink, stats)
        else:
            _execute_dask(task, queue, sink, stats, n, scheduler)
    stats.wall_s = time.perf_counter() - t0
    return stats


def _finish(point: int, rows: list[dict], secs: float, cpu: float, queue: _Queue, sink: Sink,
            stats: ExecStats) -> bool:
    """Account for a finished batch, store it; True if its point is done."""
    stats.runs += len(rows)
    stats.batches += 1
    stats.compute_s += secs
    stats.compute_cpu_s += cpu
    queue.run_s = stats.compute_s / max(stats.runs, 1)
    t = time.perf_counter()
    done = sink(point, rows) is True  # not merely truthy: Store.add returns a count
    stats.sink_s += time.perf_counter() - t
    if done:
        queue.drop(point)
    return done


def _execute_here(task: tuple, queue: _Queue, sink: Sink, stats: ExecStats) -> None:
    models, seed, uncertain, events_runs = task
    while (item := queue.take()) is not None:
        point, runs = item
        rows, secs, cpu = simulate_batch(models[point], seed, runs, uncertain, events_runs)
        _finish(point, rows, secs, cpu, queue, sink, stats)


def _execute_dask(task: tuple, queue: _Queue, sink: Sink, stats: ExecStats, workers: int,
                  scheduler: str | None) -> None:
    from distributed import as_completed

    models, seed, uncertain, events_runs = task
    t0 = time.perf_counter()
    with _client(workers, scheduler, queue, task, sink, stats) as client:
        if scheduler is not None:
            n = len(client.scheduler_info(n_workers=-1).get("workers", {})) or workers
            queue.workers = stats.workers = n
        stats.start_s = time.perf_counter() - t0
        futures: dict[Any, int] = {}
        done = as_completed()

        def submit() -> None:
            item = queue.take()
            if item is None:
                return
            point, runs = item
            f = client.submit(simulate_batch, models[point], seed, runs, uncertain, events_runs,
                              pure=False, retries=2,
                              key=f"iadsim-batch-{point}-{runs[0]}-{runs[-1]}")
            futures[f] = point
            done.add(f)

        try:
            for _ in range(2 * queue.workers):
                submit()
            for f in done:
                point = futures.pop(f, None)
                if point is None:  # cancelled: its point was done
                    continue
                rows, secs, cpu = f.result()
                f.release()
                if _finish(point, rows, secs, cpu, queue, sink, stats):
                    for g in [g for g, p in futures.items() if p == point]:
                        del futures[g]
                        g.cancel()
                        submit()
                submit()
        except BaseException:
            for f in list(futures):
                f.cancel()
            raise
