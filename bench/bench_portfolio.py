"""Portfolio analytics on many books over 5 years of daily closes: finreport against a pandas script.

``generator.portfolio.analyse_portfolios`` values each book at the as-of date, weighs it, and measures its buy-and-
hold value series over every window (Polars, through ``market.market_metrics``) with each holding's contribution
to volatility. The baseline is what a straightforward script does: per book, a pandas frame of the holdings'
closes times their quantities, its sum, and the volatility, drawdown and beta of each window with pandas and
numpy, plus the contributions. Both run in this process on the same closes; the one-year volatility and drawdown
are cross-checked (the largest relative difference is printed) and the times and their ratio printed. Nothing
is asserted.

    .venv/bin/python bench/bench_portfolio.py                     # 300 books of 2-60 of 500 tickers
    .venv/bin/python bench/bench_portfolio.py --books 30 --tickers 100   # a quick look
"""

from __future__ import annotations

import argparse
import math
import platform
import time
from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import polars as pl
from bench_market import closes

from generator.ingest import ingest
from generator.ingest.holdings import HOLDINGS_SCHEMA
from generator.ingest.prices import PRICES_SCHEMA
from generator.market import MARKET_SCHEMA, total_return_levels
from generator.pipeline import analyse
from generator.portfolio import analyse_portfolios

AS_OF = date(2026, 11, 27)
WINDOWS = {"1m": 21, "3m": 63, "1y": 252, "3y": 756, "5y": 1260}


def books(tickers: list[str], count: int, seed: int = 0) -> pl.DataFrame:
    """``count`` books of 2 to 60 tickers, quantities of a few hundred to a few thousand shares."""
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(count):
        for name in rng.choice(tickers, size=min(len(tickers), int(rng.integers(2, 61))), replace=False):
            rows.append({"portfolio_id": f"B{k:04d}", "portfolio_name": f"Book {k}", "entity_id": str(name),
                         "given": str(name), "quantity": float(rng.integers(100, 5000)), "currency": "USD",
                         "base_currency": "USD", "source": f"bench:{k}"})
    return pl.DataFrame(rows, schema_overrides=HOLDINGS_SCHEMA).select(  # type: ignore[arg-type]
        [pl.col(c) if c in rows[0] else pl.lit(None, t).alias(c) for c, t in HOLDINGS_SCHEMA.items()])


def baseline(wide: pd.DataFrame, held: pl.DataFrame) -> dict[str, tuple[float, float]]:
    """Every window's volatility, drawdown and beta and the contributions, per book, in pandas; returns each book's
    one-year volatility and drawdown for the cross-check."""
    market = wide["BENCH"].pct_change()
    out = {}
    for (book,), rows in held.partition_by("portfolio_id", as_dict=True).items():
        quantities = pd.Series(dict(zip(rows["entity_id"], rows["quantity"], strict=True)))
        values = wide[quantities.index] * quantities
        total = values.sum(axis=1)
        for window, size in WINDOWS.items():
            span = total.iloc[-size - 1:]
            returns = span.pct_change().dropna()
            volatility = returns.std() * math.sqrt(252)
            drawdown = (span / span.cummax() - 1).min()
            _ = returns.cov(market.iloc[-size:]) / market.iloc[-size:].var()
            parts = values.iloc[-size - 1:].diff().iloc[1:].div(span.shift(1).iloc[1:], axis=0)
            _ = parts.apply(lambda c, r=returns: c.cov(r)) / returns.std() * math.sqrt(252)
            if window == "1y":
                out[str(book)] = (volatility, drawdown)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=300)
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--days", type=int, default=1300)
    args = parser.parse_args()
    long, _ = closes(args.tickers, args.days)
    names = [n for n in long["entity_id"].unique().sort().to_list() if n != "BENCH"]
    held = books(names, args.books)
    prices = long.select("entity_id", "date", "close", adj_close=pl.lit(None, pl.Float64),
                         dividend=pl.lit(None, pl.Float64), split_ratio=pl.lit(None, pl.Float64),
                         currency=pl.lit("USD"), source=pl.lit("bench")).cast(PRICES_SCHEMA)  # type: ignore[arg-type]
    ingested = replace(ingest([]), prices=prices, holdings=held)  # prices and books, no statements
    analysis, _ = analyse(ingested)
    market = pl.DataFrame(schema=MARKET_SCHEMA)  # no valuations: the books are measured against BENCH as named
    series = total_return_levels(prices)
    levels = {key[0]: frame for key, frame in series.partition_by("entity_id", as_dict=True).items()}
    print(f"{args.books} books of 2-60 holdings over {args.tickers} tickers x {args.days} days; "
          f"{held.height:,} holdings; Python {platform.python_version()}, Polars {pl.__version__}, "
          f"pandas {pd.__version__}")
    t0 = time.perf_counter()
    done, failed = analyse_portfolios(ingested, analysis, market, levels, AS_OF, benchmark="BENCH",
                                      base_currency="USD")
    ours = time.perf_counter() - t0
    wide = long.pivot(on="entity_id", index="date", values="close").sort("date").to_pandas().set_index("date")
    t0 = time.perf_counter()
    expected = baseline(wide, held)
    theirs = time.perf_counter() - t0
    worst = 0.0
    for book in done:
        risk = {r["metric"]: r["value"] for r in book.risk}
        volatility, drawdown = expected[book.portfolio_id]
        worst = max(worst, abs(risk["volatility_1y"] / volatility - 1), abs(risk["max_drawdown_1y"] / drawdown - 1))
    print(f"finreport: {ours:.2f} s ({len(done)} books valued, {len(failed)} failed; "
          f"{ours / max(len(done), 1) * 1000:.1f} ms a book)")
    print(f"pandas baseline: {theirs:.2f} s")
    print(f"finreport / baseline: {ours / theirs:.2f}x; largest relative difference (1y volatility, drawdown): "
          f"{worst:.1e}")


if __name__ == "__main__":
    main()
