"""Campaign report: one self-contained, reproducible HTML file.

:func:`write_report` takes a :class:`ReportData` (everything the report shows, already computed)
and writes a single HTML file with inline CSS and base64 PNG figures: no network access is
needed to view it and no timestamp is written, so the same data gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

__all__ = ["ReportData", "render_html", "write_report"]


@dataclass(frozen=True)
class ReportData:
    """Inputs of the report. Frames may be empty (zero rows, even zero columns) where a run had
    no kills, leaks, paths or magazine changes; the matching section then says so in words.

    Attributes:
        title: page title (escaped; any text is safe).
        scenario_name: name of the scenario.
        scenario_text: the scenario YAML, shown collapsed.
        runs: number of Monte Carlo runs.
        seed: root seed of the campaign.
        per_run: per-run metrics, one row per run (see :func:`iadsim.stats.summarize`).
        summary: ``iadsim.stats.summarize(per_run)``.
        sites: one row per site: ``name, kind ('fire_unit'|'sensor'|'asset'), type, e_m, n_m,
            radius_m`` (fire unit: max engagement range of its longest-range interceptor;
            sensor: detection range for a 1 m² target; asset: its radius), metres.
        paths: run-0 truth samples: ``t, threat (int), type (str), e, n, u`` (s, m).
        events: run-0 event log: the columns of :data:`iadsim.events.COLUMNS` with ``kind`` as
            str, plus ``unit_name, weapon_name, threat_type`` (str, ``""`` where n/a).
        magazine: run-0 rounds ``t, unit_name, weapon_name, ready, reserve``, a row whenever
            they change, first row at ``t = 0``.
        assumptions: every labelled assumption the scenario used: ``entry, param, value, unit,
            note``; all rows are listed.
        versions: name -> version (iadsim, python, numpy, ...), shown in the footer.
    """

    title: str
    scenario_name: str
    scenario_text: str
    runs: int
    seed: int
    per_run: pd.DataFrame
    summary: pd.DataFrame
    sites: pd.DataFrame = field(default_factory=pd.DataFrame)
    paths: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    magazine: pd.DataFrame = field(default_factory=pd.DataFrame)
    assumptions: pd.DataFrame = field(default_factory=pd.DataFrame)
    versions: dict[str, str] = field(default_factory=dict)


from iadsim.report.html import render_html, write_report  # noqa: E402
