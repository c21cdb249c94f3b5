"""Campaign statistics: point estimates and confidence intervals over Monte Carlo runs.

Three interval families, each chosen for the kind of quantity it describes:

* **Proportions** (leak rate, probability that any threat leaks, probability an asset is hit):
  the Wilson score interval. For ``k`` successes in ``n`` Bernoulli trials, ``p = k / n`` and
  ``z`` the two-sided normal quantile,

  .. math::

      \\frac{p + z^2/(2n)}{1 + z^2/n} \\pm
      \\frac{z}{1 + z^2/n}\\sqrt{\\frac{p(1-p)}{n} + \\frac{z^2}{4n^2}}

  (E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
  JASA 22 (1927) 209-212; recommended over the Wald interval by L. D. Brown, T. T. Cai and
  A. DasGupta, "Interval estimation for a binomial proportion", Statistical Science 16 (2001)
  101-133). It stays inside [0, 1] and is sensible at ``k = 0`` and ``k = n``.

* **Means** of per-run counts, costs and times: the Student-t interval
  ``mean ± t_{(1+c)/2, m-1} · s / sqrt(m)`` over the ``m`` finite values, ``s`` the sample
  standard deviation (ddof = 1). With thousands of runs it is the normal interval; with a
  handful it is honestly wide.

* **Ratios** such as the cost-exchange ratio: the campaign figure is the ratio of sums
  ``Σ interceptor cost / Σ threat cost destroyed`` (a mean of per-run ratios would weight a run
  that destroyed one cheap drone like one that stopped a whole raid, and is undefined for runs
  that destroyed nothing). Its interval is the percentile bootstrap over runs (B. Efron and
  R. J. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall 1993, ch. 13).

The pooled leak rate treats every threat as an independent trial. Threats in one run share the
defense's state (a saturated battery lets several through together), so the pooled Wilson
interval is too narrow when leaks cluster; ``p_any_leak`` and the per-run ``leakers`` mean are
computed over runs, which are independent by construction.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats as _st

__all__ = [
    "BOOTSTRAP_SEED",
    "SUMMARY_COLUMNS",
    "bootstrap_interval",
    "mean_interval",
    "summarize",
    "wilson_interval",
]

#: Seed of the bootstrap in :func:`summarize`, fixed so a summary is reproducible.
BOOTSTRAP_SEED = 20_240_601

SUMMARY_COLUMNS = ("metric", "estimate", "lo", "hi", "method", "n")

# Per-run columns summarised with a t interval, in the order of the summary rows.
_MEAN_METRICS = (
    "leakers",
    "kills",
    "interceptors_spent",
    "interceptor_cost_usd",
    "assets_hit",
    "asset_value_lost",
    "first_leak_s",
)


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(_st.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(
    successes: int | np.ndarray, n: int | np.ndarray, confidence: float = 0.95
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Wilson score interval ``(lo, hi)`` for ``successes`` out of ``n`` trials.

    Vectorised: ``successes`` and ``n`` broadcast against each other and arrays come back for
    array input, floats for scalar input. ``n = 0`` gives the uninformative ``(0, 1)``.
    Raises ``ValueError`` unless ``0 <= successes <= n``.
    """
    k = np.asarray(successes, dtype=float)
    m = np.asarray(n, dtype=float)
    if np.any(k < 0) or np.any(k > m) or np.any(np.isnan(k)) or np.any(np.isnan(m)):
        raise ValueError("wilson_interval needs 0 <= successes <= n")
    z = _z(confidence)
    k, m = np.broadcast_arrays(k, m)
    safe = np.where(m > 0, m, 1.0)
    p = k / safe
    denom = 1.0 + z * z / safe
    centre = (p + z * z / (2.0 * safe)) / denom
    half = z / denom * np.sqrt(p * (1.0 - p) / safe + z * z / (4.0 * safe * safe))
    lo = np.where(m > 0, np.clip(centre - half, 0.0, 1.0), 0.0)
    hi = np.where(m > 0, np.clip(centre + half, 0.0, 1.0), 1.0)
    # Rounding can put the bound a few ulps inside p-hat at k = 0 or k = n; the exact bound is p.
    lo = np.where((k == 0) & (m > 0), 0.0, lo)
    hi = np.where((k == m) & (m > 0), 1.0, hi)
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def mean_interval(
    x: np.ndarray | pd.Series, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Student-t interval on the mean: ``(mean, lo, hi)`` over the finite values of ``x``.

    NaN (and ±inf) values are ignored. With one finite value ``lo = hi = mean``; with none, all
    three are NaN. A sample with zero spread gives ``lo = hi = mean``.
    """
    v = np.asarray(x, dtype=float).ravel()
    v = v[np.isfinite(v)]
    m = v.size
    if m == 0:
        return (np.nan, np.nan, np.nan)
    mean = float(v.mean())
    if m < 2:
        return (mean, mean, mean)
    _z(confidence)
    se = float(v.std(ddof=1)) / np.sqrt(m)
    half = float(_st.t.ppf(0.5 + confidence / 2.0, m - 1)) * se
    return (mean, mean - half, mean + half)


def bootstrap_interval(
    x: np.ndarray | pd.Series | pd.DataFrame,
    stat: Callable[[np.ndarray], float] = np.mean,
    confidence: float = 0.95,
    n_boot: int = 2000,
    *,
    rng: np.random.Generator | int,
) -> tuple[float, float, float]:
    """Percentile bootstrap ``(est, lo, hi)`` of ``stat`` over the rows of ``x``.

    ``x`` is ``[n]`` or ``[n, k]`` (a DataFrame becomes its values); each replicate resamples
    whole rows with replacement, so a 2-column ``x`` with ``stat = lambda a: a[:, 0].sum() /
    a[:, 1].sum()`` bootstraps a ratio of sums. ``est = stat(x)``; ``lo, hi`` are the
    ``(1 ∓ confidence) / 2`` quantiles of the replicates, NaN replicates dropped. The result is
    a function of ``x`` and ``rng`` alone (pass a seed or a fresh Generator for
    reproducibility). Empty ``x`` gives NaNs.
    """
    _z(confidence)
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    a = np.asarray(x, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1)
    n = a.shape[0]
    if n == 0:
        return (np.nan, np.nan, np.nan)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    est = float(stat(a))
    with np.errstate(divide="ignore", invalid="ignore"):
        # one replicate's indices at a time: memory O(n), not O(n_boot * n)
        reps = np.fromiter(
            (stat(a[gen.integers(0, n, size=n)]) for _ in range(n_boot)), dtype=float, count=n_boot
        )
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return (est, np.nan, np.nan)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(reps, [alpha, 1.0 - alpha])
    return (est, float(lo), float(hi))


def _ratio_of_sums(a: np.ndarray) -> float:
    den = np.nansum(a[:, 1])
    return float(np.nansum(a[:, 0]) / den) if den > 0 else np.nan


def _breakdown(per_run: pd.DataFrame, prefix: str) -> list[str]:
    """Suffixes of the ``prefix.<name>`` columns, in column order."""
    p = prefix + "."
    return [c[len(p) :] for c in per_run.columns if isinstance(c, str) and c.startswith(p)]


def _count(per_run: pd.DataFrame, col: str) -> np.ndarray | None:
    """A count column with NaN read as 0 (a type absent from a run), or None if missing."""
    if col not in per_run.columns:
        return None
    return per_run[col].astype(float).fillna(0.0).to_numpy()


def _row(metric: str, est: float, lo: float, hi: float, method: str, n: int) -> dict:
    return {"metric": metric, "estimate": est, "lo": lo, "hi": hi, "method": method, "n": n}


def _wilson_row(metric: str, k: float, n: float, confidence: float, method: str) -> dict:
    lo, hi = wilson_interval(k, n, confidence)
    est = k / n if n > 0 else np.nan
    return _row(metric, est, lo, hi, method, int(n))


def _mean_row(metric: str, x: np.ndarray | None, confidence: float) -> dict:
    if x is None:
        return _row(metric, np.nan, np.nan, np.nan, "t", 0)
    est, lo, hi = mean_interval(x, confidence)
    return _row(metric, est, lo, hi, "t", int(np.isfinite(np.asarray(x, dtype=float)).sum()))


def summarize(per_run: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Campaign summary of a per-run metrics table (one row per Monte Carlo run).

    Returns a DataFrame with columns ``metric, estimate, lo, hi, method, n`` and rows, in order:

    ==========================  =================================================  ===========
    metric                      estimate                                           interval
    ==========================  =================================================  ===========
    ``leak_rate``               Σ leakers / Σ threats (n = Σ threats)              Wilson
    ``p_any_leak``              fraction of runs with leakers > 0 (n = runs)       Wilson
    ``leakers`` ...             mean per run of ``leakers, kills,                  Student-t
                                interceptors_spent, interceptor_cost_usd,
                                assets_hit, asset_value_lost``
    ``first_leak_s``            mean over the runs that leaked (n = those runs)    Student-t
    ``cost_exchange``           Σ interceptor_cost_usd / Σ threat_cost_destroyed   bootstrap
    ``leak_rate.<type>``        pooled, from ``threats.<type>``/``leakers.<type>`` Wilson
    ``kills.<unit>``            mean per run                                       Student-t
    ``spent.<interceptor>``     mean per run                                       Student-t
    ``p_hit.<asset>``           fraction of runs with ``hit.<asset>`` > 0          Wilson
    ==========================  =================================================  ===========

    ``method`` is ``"wilson"``, ``"t"`` or ``"bootstrap"``; ``n`` is the number of trials,
    finite values or runs behind the row. A missing top-level column gives a NaN row (n = 0)
    so the row set depends only on the breakdown columns present. NaN in a breakdown count
    column is read as 0. ``attrs["confidence"]`` records the level. The bootstrap uses
    :data:`BOOTSTRAP_SEED`, so the result is a pure function of its inputs.
    """
    runs = len(per_run)
    rows: list[dict] = []

    threats, leakers = _count(per_run, "threats"), _count(per_run, "leakers")
    if threats is None or leakers is None:
        rows.append(_row("leak_rate", np.nan, np.nan, np.nan, "wilson", 0))
        rows.append(_row("p_any_leak", np.nan, np.nan, np.nan, "wilson", 0))
    else:
        rows.append(_wilson_row("leak_rate", leakers.sum(), threats.sum(), confidence, "wilson"))
        rows.append(_wilson_row("p_any_leak", (leakers > 0).sum(), runs, confidence, "wilson"))

    for metric in _MEAN_METRICS:
        col = per_run[metric].astype(float).to_numpy() if metric in per_run.columns else None
        rows.append(_mean_row(metric, col, confidence))

    cost, destroyed = (
        _count(per_run, "interceptor_cost_usd"),
        _count(per_run, "threat_cost_destroyed_usd"),
    )
    if cost is None or destroyed is None or runs == 0:
        rows.append(_row("cost_exchange", np.nan, np.nan, np.nan, "bootstrap", 0))
    else:
        est, lo, hi = bootstrap_interval(
            np.column_stack([cost, destroyed]),
            _ratio_of_sums,
            confidence,
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
        rows.append(_row("cost_exchange", est, lo, hi, "bootstrap", runs))

    types = list(dict.fromkeys(_breakdown(per_run, "threats") + _breakdown(per_run, "leakers")))
    for t in types:
        tt, lt = _count(per_run, f"threats.{t}"), _count(per_run, f"leakers.{t}")
        k = 0.0 if lt is None else lt.sum()
        m = 0.0 if tt is None else tt.sum()
        if k > m:
            raise ValueError(f"leakers.{t} ({k:g}) exceeds threats.{t} ({m:g}) over the runs")
        rows.append(_wilson_row(f"leak_rate.{t}", k, m, confidence, "wilson"))
    for prefix in ("kills", "spent"):
        for name in _breakdown(per_run, prefix):
            rows.append(
                _mean_row(f"{prefix}.{name}", _count(per_run, f"{prefix}.{name}"), confidence)
            )
    for asset in _breakdown(per_run, "hit"):
        hit = _count(per_run, f"hit.{asset}")
        rows.append(_wilson_row(f"p_hit.{asset}", (hit > 0).sum(), runs, confidence, "wilson"))

    out = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    out["n"] = out["n"].astype("int64")
    out.attrs["confidence"] = confidence
    return out
