"""``iadsim track``: the 2-D Cartesian trackers on a benchmark folder (FORMAT.md).

``--filter cv --assoc gnn`` (default) is the array GNN tracker that reproduces Stone Soup's
GNN; ``--filter imm`` adds the CV + coordinated-turn IMM and ``--assoc jpda`` joint
probabilistic data association (``tracking.cartesian_advanced``).

Exit codes: 0 success, 2 bad input (files or options). The output is written to a temporary
file next to ``--out`` and renamed into place, so a failed run leaves no partial tracks.csv.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from iadsim.cli_common import fail as _fail
from iadsim.tracking.cartesian import CartesianParams, run_tracker
from iadsim.tracking.cartesian_advanced import AdvancedParams, run_tracker_advanced
from iadsim.tracking.io import (
    TrackingInputError,
    check_scan_grid,
    read_detections,
    read_params,
    write_tracks,
)


def track(
    detections: Annotated[Path, typer.Argument(help="detections.csv (or .csv.gz)")],
    params: Annotated[Path, typer.Option(help="params.json (dt, pd, sigma, clutter density)")],
    out: Annotated[Path, typer.Option(help="tracks.csv to write")] = Path("tracks.csv"),
    accel_psd: Annotated[float, typer.Option(help="CWNA process noise q [m^2/s^3]")] = 400.0,
    gate_prob: Annotated[float, typer.Option(help="Mahalanobis gate probability (2 dof)")] = 0.99,
    init_speed_sigma: Annotated[float, typer.Option(help="new-track velocity std [m/s]")] = 350.0,
    min_points: Annotated[int, typer.Option(help="updates to confirm a track")] = 3,
    holding_misses: Annotated[int, typer.Option(help="misses that drop a tentative track")] = 2,
    delete_misses: Annotated[int, typer.Option(help="misses that delete a confirmed track")] = 3,
    max_pos_sigma_m: Annotated[float, typer.Option(help="delete above this position std [m]")]
    = 1000.0,
    filter: Annotated[str, typer.Option("--filter", help="cv | imm")] = "cv",
    assoc: Annotated[str, typer.Option("--assoc", help="gnn | jpda")] = "gnn",
) -> None:
    """Track DETECTIONS with the array GNN tracker and write confirmed tracks to OUT."""
    try:
        prm = read_params(params)
        times, xy = read_detections(detections)
        check_scan_grid(detections, times, float(prm["dt"]))
        if "scans" in prm and times.size and times[-1] > (prm["scans"] - 0.5) * prm["dt"]:
            raise TrackingInputError(f"{detections}: time {times[-1]} is after the last scan "
                                     f"({prm['scans']} scans in {params})")
        settings = CartesianParams(
            dt=float(prm["dt"]), sigma=float(prm["sigma"]), accel_psd=accel_psd,
            gate_prob=gate_prob, init_speed_sigma=init_speed_sigma, min_points=min_points,
            holding_misses=holding_misses, delete_misses=delete_misses,
            max_pos_sigma_m=max_pos_sigma_m)
    except (TrackingInputError, ValueError) as e:
        _fail(str(e))
    if not out.parent.is_dir():
        _fail(f"{out}: output folder {out.parent} does not exist")
    if filter not in ("cv", "imm") or assoc not in ("gnn", "jpda"):
        _fail(f"--filter {filter!r} / --assoc {assoc!r}: valid filters cv, imm; "
              f"valid associators gnn, jpda")
    if filter == "cv" and assoc == "gnn":
        table = run_tracker(times, xy, settings, n_scans=prm.get("scans"))
    else:
        adv = AdvancedParams.from_params_json(prm, base=settings)
        table = run_tracker_advanced(times, xy, adv, filter=filter, assoc=assoc,
                                     n_scans=prm.get("scans"))
    write_tracks(out, table)
    n_ids = len(set(table[:, 1].astype(int).tolist())) if len(table) else 0
    Console(stderr=True).print(f"{n_ids} confirmed tracks, {len(table)} rows -> {out}",
                               highlight=False)
