"""DuckDB result store of a campaign: one file, one writer (the driver process).

Tables:

* ``campaign`` (one row): ``id``, ``format``, ``scenario_name``, ``scenario_text``,
  ``scenario_hash`` (sha256 of the text), ``iadsim_version``, ``seed``, ``runs`` (runs per
  design point; the maximum under ``until_ci``), ``design`` (JSON, see below), ``created``.
* ``design_points``: ``point`` (index, primary key), ``values`` (JSON: path -> value).
* ``runs``: ``point``, ``run`` (primary key ``(point, run)``: a run is never stored twice; a
  retried batch is ignored), typed core columns (:data:`CORE` as DOUBLE, NaN kept), and
  ``metrics``: the whole flat metric row as JSON text (NaN written as ``NaN``, read back by
  Python's ``json``). The breakdown columns (``leakers.<type>``, ``kills.<unit>``...) depend on
  the design point when a sweep changes a threat type or a fire unit, so they live in the JSON;
  :meth:`Store.per_run` and :meth:`Store.export_parquet` expand them. With sampled parameter
  uncertainty, the drawn values are in the JSON too, as ``uncertain.<key>.<param>``.
* ``events`` (only with ``iadsim campaign --events N``): the event log of runs ``0..N-1`` of
  every design point, one row per event: ``point``, ``run`` and the columns of
  :mod:`iadsim.events` (kind, t, threat, unit, weapon, track, position...).

The ``design`` JSON describes everything that decides which runs exist and what they compute
beyond the scenario text and seed: ``{"kind": "grid" | "lhs", "sweeps": [{"path", "values"} or
{"path", "low", "high", "integer"}], "samples": N (lhs), "uncertain": {"distribution",
"params": [{"name", "value", "low", "high", "unit"}]} (when sampled), "until_ci":
{"half_width", "block", ...} (when given)}``. Format 1 stores (``design`` a bare list of grid
sweeps) are read as ``{"kind": "grid", "sweeps": [...]}``.

Each batch of runs is written in its own transaction, so a campaign killed at any point keeps
every batch written before. A new store is built under a temporary name and renamed into
place, so a half-created store never exists. :meth:`Store.open` refuses (``StoreError``) a
file that is not a DuckDB database, a DuckDB file that is not an iadsim store, or, when
``expect`` is given, a store of a different scenario, iadsim version, seed or design. A
scenario file whose text changed but whose YAML data did not (a comment, the layout, the key
order) is the same scenario.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import yaml

__all__ = ["CORE", "EVENTS_KEY", "FORMAT", "Store", "StoreError", "events_ipc", "normalize_design",
           "scenario_hash"]

FORMAT = 2
READS = (1, 2)  # formats this version opens

#: Per-run metrics stored as typed columns of ``runs`` (every other metric is in the JSON).
CORE = ("threats", "leakers", "kills", "unresolved", "interceptors_spent",
        "interceptor_cost_usd", "threat_cost_destroyed_usd", "cost_exchange", "assets_hit",
        "asset_value_lost", "first_leak_s")

_SCHEMA = f"""
CREATE TABLE campaign (id VARCHAR PRIMARY KEY, format INTEGER, scenario_name VARCHAR,
    scenario_text VARCHAR, scenario_hash VARCHAR, iadsim_version VARCHAR, seed BIGINT,
    runs BIGINT, design VARCHAR, created TIMESTAMP);
CREATE TABLE design_points (point INTEGER PRIMARY KEY, "values" VARCHAR);
CREATE TABLE runs (point INTEGER, run INTEGER, {", ".join(f'"{c}" DOUBLE' for c in CORE)},
    metrics VARCHAR, PRIMARY KEY (point, run));
"""


class StoreError(ValueError):
    """A result store that cannot be created, opened or resumed."""


#: Key of a metric row that carries the run's event log (Arrow IPC stream bytes).
EVENTS_KEY = "__events_ipc__"


def events_ipc(table: Any) -> bytes:
    """An Arrow table as IPC stream bytes (compact, picklable, exact)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _same_yaml(a: str, b: str) -> bool:
    """Whether two scenario texts hold the same data (comments, layout and key order aside)."""
    try:
        return yaml.safe_load(a) == yaml.safe_load(b)
    except yaml.YAMLError:
        return False


def scenario_hash(text: str) -> str:
    """sha256 of the scenario file's text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalize_design(design: list | dict) -> dict[str, Any]:
    """The ``design`` JSON in its current form (a format-1 bare list of grid sweeps is
    wrapped)."""
    if isinstance(design, list):
        return {"kind": "grid", "sweeps": design}
    return json.loads(json.dumps(design))


def _num(v: Any) -> float | None:
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


class Store:
    """An open campaign store. Use :meth:`create` or :meth:`open`; close with :meth:`close`
    (or ``with``)."""

    def __init__(self, path: Path, con: duckdb.DuckDBPyConnection):
        self.path = path
        self.con = con
        row = con.execute("SELECT id, scenario_name, scenario_text, scenario_hash, "
                          "iadsim_version, seed, runs, design FROM campaign").fetchone()
        (self.id, self.scenario_name, self.scenario_text, self.scenario_hash, self.version,
         self.seed, self.runs, design) = row
        self.design: dict[str, Any] = normalize_design(json.loads(design))
        self.points: list[dict] = [json.loads(v) for (v,) in con.execute(
            'SELECT "values" FROM design_points ORDER BY point').fetchall()]

    # -- creation and opening ------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, *, scenario_name: str, scenario_text: str, version: str,
               seed: int, runs: int, design: list[dict] | dict[str, Any],
               points: list[dict]) -> Store:
        """A new store at ``path`` (which must not exist)."""
        path = Path(path)
        if path.exists():
            raise StoreError(f"{path}: already exists; pass --resume to finish that campaign, "
                             f"or choose another --store")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        for p in (tmp, Path(f"{tmp}.wal")):
            p.unlink(missing_ok=True)
        con = duckdb.connect(str(tmp))
        try:
            con.execute(_SCHEMA)
            design = normalize_design(design)
            cid = hashlib.sha256(f"{scenario_hash(scenario_text)}{seed}{json.dumps(design)}"
                                 f"{_dt.datetime.now().isoformat()}".encode()).hexdigest()[:16]
            con.execute("INSERT INTO campaign VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [cid, FORMAT, scenario_name, scenario_text, scenario_hash(scenario_text),
                         version, seed, runs, json.dumps(design),
                         _dt.datetime.now(_dt.UTC).replace(tzinfo=None)])
            con.executemany('INSERT INTO design_points VALUES (?, ?)',
                            [[i, json.dumps(p)] for i, p in enumerate(points)])
            con.execute("CHECKPOINT")
        finally:
            con.close()
        tmp.rename(path)
        return cls.open(path)

    @classmethod
    def open(cls, path: str | Path, expect: dict[str, Any] | None = None) -> Store:
        """Open an existing store; with ``expect`` (keys ``scenario_text``, ``version``,
        ``seed``, ``design``, optionally ``points``), refuse one that belongs to another
        campaign."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such store")
        try:
            con = duckdb.connect(str(path))
        except duckdb.Error as exc:
            msg = str(exc)
            if "lock" in msg.lower():
                raise StoreError(f"{path}: in use by another process (a campaign still "
                                 f"running?)") from None
            raise StoreError(f"{path}: not a readable DuckDB campaign store "
                             f"(corrupted or another kind of file): {msg.splitlines()[0]}"
                             ) from None
        try:
            tables = {t for (t,) in con.execute("SELECT table_name FROM information_schema"
                                                ".tables").fetchall()}
            if not {"campaign", "design_points", "runs"} <= tables:
                raise StoreError(f"{path}: a DuckDB file but not an iadsim campaign store "
                                 f"(tables: {', '.join(sorted(tables)) or 'none'})")
            (fmt,) = con.execute("SELECT format FROM campaign").fetchone()
            if fmt not in READS:
                raise StoreError(f"{path}: store format {fmt}; this iadsim reads "
                                 f"{', '.join(map(str, READS))}")
            store = cls(path, con)
        except StoreError:
            con.close()
            raise
        except (duckdb.Error, TypeError, ValueError) as exc:
            con.close()
            raise StoreError(f"{path}: damaged campaign store: {exc}") from None
        if expect is not None:
            try:
                store.check(**expect)
            except StoreError:
                store.close()
                raise
        return store

    def check(self, *, scenario_text: str, version: str, seed: int,
              design: list[dict] | dict[str, Any], points: list[dict] | None = None) -> None:
        """Raise ``StoreError`` listing every way this store differs from the campaign asked."""
        diffs = []
        if (scenario_hash(scenario_text) != self.scenario_hash
                and not _same_yaml(scenario_text, self.scenario_text)):
            diffs.append(f"the scenario file changed (sha256 {self.scenario_hash[:12]}... in the "
                         f"store, {scenario_hash(scenario_text)[:12]}... now)")
        if version != self.version:
            diffs.append(f"iadsim version {self.version} in the store, {version} now")
        if seed != self.seed:
            diffs.append(f"seed {self.seed} in the store, {seed} now")
        design = normalize_design(design)
        if design != self.design:
            keys = [k for k in sorted({*design, *self.design})
                    if design.get(k) != self.design.get(k)]
            diffs.append("design (" + ", ".join(keys) + ") differs: " + "; ".join(
                f"{k} {json.dumps(self.design.get(k))} in the store, {json.dumps(design.get(k))}"
                f" now" for k in keys))
        elif points is not None and json.loads(json.dumps(points)) != self.points:
            diffs.append("the design points recomputed now differ from the stored ones (another "
                         "scipy version drawing the Latin hypercube?)")
        if diffs:
            raise StoreError(f"{self.path}: cannot resume, it holds another campaign: "
                             + "; ".join(diffs))

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing and reading ---------------------------------------------------------------

    def set_runs(self, runs: int) -> None:
        """Record a new number of runs per design point (resuming with more runs)."""
        self.con.execute("UPDATE campaign SET runs = ?", [runs])
        self.runs = runs

    def add(self, point: int, rows: list[dict]) -> int:
        """Write one batch of metric rows of ``point`` in one transaction; runs already
        stored are ignored. Returns the number of rows given."""
        if not rows:
            return 0
        logs = {int(r["run"]): r[EVENTS_KEY] for r in rows if EVENTS_KEY in r}
        if logs:
            rows = [{k: v for k, v in r.items() if k != EVENTS_KEY} for r in rows]
        # one Arrow table per batch: ~10x faster than executemany's row-by-row inserts
        batch = pa.table({
            "point": pa.array([point] * len(rows), pa.int32()),
            "run": pa.array([int(r["run"]) for r in rows], pa.int32()),
            **{c: pa.array([_num(r.get(c)) for r in rows], pa.float64()) for c in CORE},
            "metrics": pa.array([json.dumps(r) for r in rows], pa.string())})
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.register("_iadsim_batch", batch)
            self.con.execute("INSERT OR IGNORE INTO runs SELECT * FROM _iadsim_batch")
            if logs:
                self._add_events(point, logs)
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("_iadsim_batch")
        return len(rows)

    def _add_events(self, point: int, logs: dict[int, bytes]) -> None:
        """Insert the event logs ``run -> Arrow IPC bytes`` of ``point`` into ``events``
        (created at the first log; a run's log replaces any earlier copy)."""
        tables = []
        for run, blob in sorted(logs.items()):
            t = pa.ipc.open_stream(blob).read_all()
            t = t.add_column(0, "run", pa.array([run] * t.num_rows, pa.int32()))
            tables.append(t.add_column(0, "point", pa.array([point] * t.num_rows, pa.int32())))
        table = pa.concat_tables(tables).combine_chunks()
        # dictionary-encoded columns (the event kind) as plain strings for DuckDB
        table = pa.table({n: (c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c)
                          for n, c in zip(table.column_names, table.columns, strict=True)})
        self.con.register("_iadsim_events", table)
        try:
            self.con.execute("CREATE TABLE IF NOT EXISTS events AS "
                             "SELECT * FROM _iadsim_events WHERE false")
            runs = ", ".join(str(r) for r in logs)
            self.con.execute(f"DELETE FROM events WHERE point = {int(point)} AND run IN ({runs})")
            self.con.execute("INSERT INTO events SELECT * FROM _iadsim_events")
        finally:
            self.con.unregister("_iadsim_events")

    def events(self, point: int | None = None) -> pd.DataFrame:
        """The stored event logs (``--events``), by point, run and time; empty if none."""
        if not self.con.execute("SELECT count(*) FROM information_schema.tables "
                                "WHERE table_name = 'events'").fetchone()[0]:
            return pd.DataFrame({"point": pd.Series(dtype="int32"),
                                 "run": pd.Series(dtype="int32")})
        where = "" if point is None else f" WHERE point = {int(point)}"
        return self.con.execute(f"SELECT * FROM events{where} ORDER BY point, run, t").df()

    def prune(self, point: int, runs: int) -> int:
        """Delete the runs of ``point`` with index >= ``runs`` (beyond an ``--until-ci`` stop);
        returns how many were deleted."""
        (n,) = self.con.execute("SELECT count(*) FROM runs WHERE point = ? AND run >= ?",
                                [point, runs]).fetchone()
        if n:
            self.con.execute("DELETE FROM runs WHERE point = ? AND run >= ?", [point, runs])
            if not self.events().empty:
                self.con.execute("DELETE FROM events WHERE point = ? AND run >= ?",
                                 [point, runs])
        return int(n)

    def leak_counts(self) -> dict[int, list[dict]]:
        """Per point, ``{"run", "leakers", "threats"}`` of every stored run (for ``UntilCI``)."""
        out: dict[int, list[dict]] = {}
        for p, r, lk, th in self.con.execute(
                "SELECT point, run, leakers, threats FROM runs ORDER BY point, run").fetchall():
            out.setdefault(int(p), []).append({"run": r, "leakers": lk, "threats": th})
        return out

    def done(self, point: int) -> set[int]:
        """Runs of ``point`` already stored."""
        return {r for (r,) in self.con.execute("SELECT run FROM runs WHERE point = ?",
                                               [point]).fetchall()}

    def counts(self) -> dict[int, int]:
        """Stored runs per design point."""
        got = dict(self.con.execute("SELECT point, count(*) FROM runs GROUP BY point").fetchall())
        return {i: int(got.get(i, 0)) for i in range(len(self.points))}

    def per_run(self, point: int | None = None) -> pd.DataFrame:
        """The full metric rows (JSON expanded), sorted by point and run; column ``point``
        first."""
        q = "SELECT point, metrics FROM runs"
        args: list = []
        if point is not None:
            q += " WHERE point = ?"
            args = [point]
        got = self.con.execute(q + " ORDER BY point, run", args).fetchall()
        df = pd.DataFrame([{"point": p, **json.loads(m)} for p, m in got])
        if df.empty:
            return pd.DataFrame({"point": pd.Series(dtype="int64"),
                                 "run": pd.Series(dtype="int64")})
        return df

    def export_parquet(self, folder: str | Path) -> list[Path]:
        """Write ``runs.parquet`` (one row per run: point, the design values as columns, every
        metric), ``design_points.parquet``, ``campaign.json`` and, when event logs were stored,
        ``events.parquet`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        pts = pd.DataFrame([{"point": i, **p} for i, p in enumerate(self.points)])
        runs = self.per_run()
        if len(pts.columns) > 1:
            runs = pts.merge(runs, on="point", how="right")
        out = [folder / "runs.parquet", folder / "design_points.parquet",
               folder / "campaign.json"]
        events = self.events()
        if not events.empty:
            out.append(folder / "events.parquet")
            events.to_parquet(out[-1], index=False)
        runs.to_parquet(out[0], index=False)
        pts.assign(values=[json.dumps(p) for p in self.points])[["point", "values"]].to_parquet(
            out[1], index=False)
        meta = {"id": self.id, "scenario_name": self.scenario_name,
                "scenario_hash": self.scenario_hash, "iadsim_version": self.version,
                "seed": self.seed, "runs": self.runs, "design": self.design,
                "scenario_text": self.scenario_text}
        out[2].write_text(json.dumps(meta, indent=1), encoding="utf-8")
        return out
