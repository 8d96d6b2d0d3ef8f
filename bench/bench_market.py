"""Every market metric of 5,000 tickers × 10 years of daily closes (12.6 M rows): Polars against pandas.

``generator.market`` takes every measure (return, annualised return, volatility, maximum drawdown, beta,
correlation, Sharpe, Sortino, VaR and CVaR 95%, relative return) over every window (1m, 3m, ytd, 1y, 3y, 5y) of
every ticker against a benchmark, in Polars expressions over all tickers at once. The baseline is what a
straightforward script does, and what the libraries that compute these (quantstats, ffn) do: one pandas Series
per ticker, each measure of each window with pandas and numpy. Both run in this process on the same closes; the
values are cross-checked (the largest relative difference is printed) and the times and their ratio printed.
Nothing is asserted.

    .venv/bin/python bench/bench_market.py                  # 5,000 tickers × 2,520 days
    .venv/bin/python bench/bench_market.py --tickers 500    # a quick look
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl

from generator.market import MEASURES, WINDOWS, market_metrics, total_return_levels


def closes(tickers: int, days: int, seed: int = 0) -> tuple[pl.DataFrame, list[date]]:
    """Geometric random walks with market, sector-like and own shocks (betas 0.3–1.8, volatility 15–70% a year),
    on weekdays ending at the as-of date; ticker ``BENCH`` is the market."""
    rng = np.random.default_rng(seed)
    end = date(2026, 11, 27)
    calendar = []
    day = end
    while len(calendar) < days:
        if day.weekday() < 5:
            calendar.append(day)
        day -= timedelta(days=1)
    calendar.reverse()
    market = rng.normal(0.0003, 0.011, days)
    betas = rng.uniform(0.3, 1.8, tickers)
    own = rng.uniform(0.15, 0.7, tickers) / math.sqrt(252)
    returns = market[:, None] * betas[None, :] + rng.normal(0.0001, 1.0, (days, tickers)) * own[None, :]
    levels = 20 * np.exp(np.cumsum(np.log1p(np.clip(returns, -0.9, None)), axis=0))
    index = 1000 * np.cumprod(1 + market)
    names = [f"T{i:05d}" for i in range(tickers)]
    frame = pl.DataFrame({"date": calendar, **dict(zip(names, levels.T, strict=True)), "BENCH": index})
    return frame.unpivot(index="date", variable_name="entity_id", value_name="close"), calendar


def baseline(long: pl.DataFrame, as_of: date, benchmark: str) -> dict[tuple[str, str], float]:
    """Every measure of every window, one pandas Series per ticker."""
    frame = long.to_pandas()
    series = {name: group.set_index("date")["close"].sort_index() for name, group in frame.groupby("entity_id")}
    bench = series[benchmark]
    end, year = pd.Timestamp(as_of), pd.Timestamp(as_of.year, 1, 1)
    out: dict[tuple[str, str], float] = {}
    for name, close in series.items():
        close = close[close.index <= end]
        for window, size in WINDOWS.items():
            if size is None:
                start = close[close.index < year].index.max()
                part = close[close.index >= start]
            else:
                part = close.iloc[-(size + 1):]
            r = part.pct_change().dropna()
            b = bench.reindex(part.index)
            m = b.pct_change().dropna()
            wealth = part / part.iloc[0]
            total = part.iloc[-1] / part.iloc[0] - 1
            tail = np.percentile(r.to_numpy(), 5)
            values = {"return": total, "volatility": r.std() * math.sqrt(252),
                      "max_drawdown": (wealth / wealth.cummax() - 1).min(),
                      "sharpe": r.mean() / r.std() * math.sqrt(252),
                      "sortino": r.mean() / math.sqrt((np.minimum(r, 0) ** 2).mean()) * math.sqrt(252),
                      "var_95": -tail, "cvar_95": -r[r <= tail].mean()}
            if window in ("3y", "5y"):
                values["return_ann"] = (1 + total) ** (252 / len(r)) - 1
            if name != benchmark:
                values |= {"beta": r.cov(m) / m.var(), "correlation": r.corr(m),
                           "relative_return": total - (b.iloc[-1] / b.iloc[0] - 1)}
            out |= {(name, f"{measure}_{window}"): value for measure, value in values.items()}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=2520)
    args = parser.parse_args()
    long, calendar = closes(args.tickers, args.days)
    as_of = calendar[-1]
    print(f"{long.height:,} closes: {args.tickers:,} tickers and a benchmark × {args.days:,} days; "
          f"{sum(len(m.windows) for m in MEASURES)} metrics each (Polars {pl.__version__}, pandas {pd.__version__}, "
          f"numpy {np.__version__}, Python {platform.python_version()})")
    benchmarks = {name: "BENCH" for name in long["entity_id"].unique()}

    t0 = time.perf_counter()
    metrics = market_metrics(total_return_levels(long), as_of, benchmarks=benchmarks)
    polars_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    expected = baseline(long, as_of, "BENCH")
    pandas_s = time.perf_counter() - t0

    worst, compared = 0.0, 0
    for entity, metric, value in metrics.select("entity_id", "metric", "value").iter_rows():
        if value is None:
            continue
        other = expected[(entity, metric)]
        worst = max(worst, abs(value - other) / max(abs(other), 1e-12))
        compared += 1
    print(f"generator.market (Polars): {polars_s:6.2f} s, {metrics.height:,} metric rows")
    print(f"pandas, ticker by ticker:  {pandas_s:6.2f} s")
    print(f"ratio: {pandas_s / polars_s:.1f}x; {compared:,} values compared, largest relative difference "
          f"{worst:.1e}; absent in finreport: {metrics['value'].null_count():,} (the benchmark's own beta, "
          "correlation and relative return)")


if __name__ == "__main__":
    main()
