"""A campaign on a real Dask cluster survives the loss of a worker.

A ``dask scheduler`` and two ``dask worker`` processes (``--nthreads 1 --no-nanny``, so a
SIGKILL is final) are started on 127.0.0.1 at free ports; ``iadsim campaign --scheduler`` runs a
small campaign through them; once the worker to kill has finished a few batches (some runs are
stored), it gets SIGKILL. The campaign must still finish, with the full table identical to an
in-process campaign of the same seed. Every process is killed at the end, also on failure.
Marked ``slow`` (30-50 s on 2 busy cores): ``pytest -m "not slow"`` skips it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from campaign_common import ROOT, TINY
from campaign_common import table as _table
from iadsim.cli_campaign import campaign

pytestmark = pytest.mark.slow

ARGS = ["--runs", "16", "--sweep", "raids[0].count=3,6", "--batch-size", "2"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(cond, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


def test_lost_worker_still_gives_the_full_identical_table(tmp_path: Path):
    from distributed import Client

    tiny = tmp_path / "tiny.yaml"
    tiny.write_text(TINY, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]), "COLUMNS": "200"}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen] = []
    mon = None

    def executed(dask_worker) -> int:  # run on a worker by Client.run (pickled by value)
        return dask_worker.state.executed_count

    def start(*cmd: str, **kw) -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", *cmd], env=env, cwd=tmp_path,
                             stdout=kw.get("stdout", subprocess.DEVNULL),
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
        procs.append(p)
        return p

    try:
        start("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port),
              "--no-dashboard")
        workers = [start("distributed.cli.dask_worker", address, "--nthreads", "1",
                         "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                         "--name", f"w{i}") for i in range(2)]
        _wait(lambda: _connect_ok(port), 30, "the scheduler")
        mon = Client(address, timeout="30s")
        mon.wait_for_workers(2, timeout=40)
        addr = {info["name"]: a for a, info in mon.scheduler_info(n_workers=-1)["workers"].items()}
        victim, victim_addr = workers[1], addr["w1"]

        store = tmp_path / "cluster.duckdb"
        cli = start("iadsim.cli_campaign", str(tiny), *ARGS, "--scheduler", address,
                    "--store", str(store), stdout=subprocess.PIPE)
        _wait(lambda: mon.run(executed, workers=[victim_addr]).get(victim_addr, 0) >= 2
              or cli.poll() is not None, 60, "the worker to finish 2 batches")
        assert cli.poll() is None, "the campaign ended before a worker could be killed"
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
        out, _ = cli.communicate(timeout=90)
        assert cli.returncode == 0, out
        assert "0 stored, 32 to run" in out
    finally:
        if mon is not None:
            mon.close()
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)

    app = typer.Typer()
    app.command()(campaign)
    here = tmp_path / "here.duckdb"
    res = CliRunner().invoke(app, [str(tiny), *ARGS, "--workers", "1", "--store", str(here)])
    assert res.exit_code == 0, res.output
    got = _table(store)
    assert len(got) == 32 and got == _table(here)


def _connect_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
