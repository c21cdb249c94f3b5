"""Read and write the tracking benchmark files (``/work/shared/tracking/FORMAT.md``).

``detections.csv`` (``time_s,x,y``), ``params.json`` (sensor settings) and ``tracks.csv``
(``time_s,track_id,x,y,vx,vy``). ``.gz`` files are read transparently. Validation happens here,
at the boundary: every problem raises :class:`TrackingInputError` naming the file, the row or
field, and what is wrong.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from iadsim.tracking.cartesian import TRACK_COLUMNS

DETECTION_COLUMNS = ("time_s", "x", "y")
REQUIRED_PARAMS = ("dt", "pd", "sigma", "clutter_density_per_m2")


class TrackingInputError(ValueError):
    """A benchmark input file is missing, malformed or inconsistent."""


def _read_text(path: Path) -> str:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rt", encoding="utf-8") as f:
                return f.read()
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrackingInputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise TrackingInputError(f"{path}: cannot read ({e})") from None


def read_detections(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``(times [M] s, xy [M, 2] m)`` from a detections.csv (or .csv.gz).

    Required columns ``time_s, x, y`` (any order, extra columns ignored); every value a finite
    number; times non-decreasing (rows grouped by scan).
    """
    path = Path(path)
    lines = _read_text(path).splitlines()
    if not lines or not lines[0].strip():
        raise TrackingInputError(
            f"{path}: empty file, expected header {','.join(DETECTION_COLUMNS)}")
    header = [h.strip() for h in lines[0].split(",")]
    missing = [c for c in DETECTION_COLUMNS if c not in header]
    if missing:
        raise TrackingInputError(
            f"{path}: missing column(s) {', '.join(missing)} (header has {', '.join(header)})")
    idx = [header.index(c) for c in DETECTION_COLUMNS]
    body = [ln for ln in lines[1:] if ln.strip()]
    rows = np.empty((len(body), 3))
    for i, ln in enumerate(body):
        parts = ln.split(",")
        if len(parts) != len(header):
            raise TrackingInputError(
                f"{path}: row {i + 2}: {len(parts)} fields, header has {len(header)}")
        for j, (col, k) in enumerate(zip(DETECTION_COLUMNS, idx, strict=True)):
            try:
                v = float(parts[k])
            except ValueError:
                raise TrackingInputError(
                    f"{path}: row {i + 2}, column {col}: not a number ({parts[k].strip()!r})"
                ) from None
            if not math.isfinite(v):
                raise TrackingInputError(f"{path}: row {i + 2}, column {col}: not finite ({v})")
            rows[i, j] = v
    back = np.flatnonzero(np.diff(rows[:, 0]) < 0)
    if back.size:
        r = int(back[0]) + 1
        raise TrackingInputError(
            f"{path}: row {r + 2}, column time_s: time {rows[r, 0]} is before the previous "
            f"row's {rows[r - 1, 0]} (times must be non-decreasing)")
    return rows[:, 0].copy(), rows[:, 1:].copy()


def read_params(path: str | Path) -> dict:
    """The params.json dict, with ``dt, pd, sigma, clutter_density_per_m2`` checked.

    ``dt, sigma > 0``, ``0 < pd <= 1``, ``clutter_density_per_m2 >= 0``; other keys pass through.
    """
    path = Path(path)
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise TrackingInputError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise TrackingInputError(f"{path}: expected a JSON object at the top level")
    missing = [k for k in REQUIRED_PARAMS if k not in data]
    if missing:
        raise TrackingInputError(f"{path}: missing key(s) {', '.join(missing)}")
    rules = {"dt": lambda v: v > 0, "sigma": lambda v: v > 0, "pd": lambda v: 0 < v <= 1,
             "clutter_density_per_m2": lambda v: v >= 0}
    for k, ok in rules.items():
        v = data[k]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
                or not ok(v):
            raise TrackingInputError(f"{path}: key {k}: invalid value {v!r}")
    if "scans" in data and (not isinstance(data["scans"], int) or data["scans"] < 0):
        raise TrackingInputError(f"{path}: key scans: invalid value {data['scans']!r}")
    return data


def format_tracks(table: np.ndarray) -> str:
    """tracks.csv text of a ``[R, 6]`` table (:data:`TRACK_COLUMNS`)."""
    buf = io.StringIO()
    buf.write(",".join(TRACK_COLUMNS) + "\n")
    if len(table):
        np.savetxt(buf, table, delimiter=",", fmt=["%.3f", "%d", "%.6f", "%.6f", "%.6f", "%.6f"])
    return buf.getvalue()


def write_tracks(path: str | Path, table: np.ndarray) -> None:
    """Write tracks.csv atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(format_tracks(table))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_scan_grid(path: str | Path, times: np.ndarray, dt: float, tol_s: float = 1e-3) -> None:
    """Every time must be ``k dt`` (k >= 0) within ``tol_s`` (FORMAT.md: scans at ``k dt``)."""
    k = np.rint(times / dt)
    bad = np.flatnonzero((np.abs(times - k * dt) > tol_s) | (k < 0))
    if bad.size:
        r = int(bad[0])
        raise TrackingInputError(
            f"{path}: row {r + 2}, column time_s: time {times[r]} is not on the scan grid "
            f"k * dt (dt = {dt} from params.json)")
