"""Market analytics: how a share has done and how risky it has been, from daily prices, for every entity at once.

Each measure is taken over windows that end at the as-of date: ``1m``, ``3m``, ``1y``, ``3y`` and ``5y`` are the
last 21, 63, 252, 756 and 1,260 daily returns (one close more), ``ytd`` runs from the last close of the previous
calendar year. A metric is ``<measure>_<window>`` (``volatility_1y``). A window longer than the history, or one
whose last close is more than a week before the as-of date, is absent with the reason, never a shorter window
under the longer one's name.

The conventions are PerformanceAnalytics' (R), checked against its reference values for Bacon (2008)'s portfolio:
returns are simple returns of the total-return series (dividends reinvested, splits undone); volatility is their
standard deviation (n − 1) × √252; the annualised return is geometric; Sharpe is the mean excess return over the
standard deviation × √252; Sortino divides by the downside deviation over all n returns; the maximum drawdown
counts the window's first close as a peak; beta and correlation use the returns of the share and its benchmark
between the dates both have a close; value at risk and expected shortfall are one-day, historical (numpy's
linear percentile), written as positive losses. Every row is computed with Polars expressions over all entities
and windows together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import polars as pl

from generator.periods import derive, pivot, trailing_twelve_months
from generator.settings import ANNUAL_LAG_DAYS, QUARTER_LAG_DAYS

TRADING_DAYS = 252
"""Daily returns in a year: the annualisation factor and the length of ``1y``."""

WINDOWS: dict[str, int | None] = {"1m": 21, "3m": 63, "ytd": None, "1y": 252, "3y": 756, "5y": 1260}
"""Daily returns in each window (``ytd``: since the previous year's last close)."""

STALE_DAYS = 7
"""A last close more than this many calendar days before the as-of date ends no window at the as-of date."""

c = pl.col


@dataclass(frozen=True)
class Measure:
    """One market measure: its name, unit, which direction is favourable, what it is, the windows it is taken over,
    and whether it needs a benchmark."""

    name: str
    unit: Literal["fraction", "ratio", "multiple", "currency"]
    favourable: Literal["higher", "lower", "neutral"]
    description: str
    windows: tuple[str, ...] = tuple(WINDOWS)
    benchmark: bool = False


MEASURES: tuple[Measure, ...] = (
    Measure("return", "fraction", "higher", "total return, dividends reinvested: last close over first close − 1 of "
            "the total-return series"),
    Measure("return_ann", "fraction", "higher", "annualised total return: (1 + return) ^ (252 / daily returns) − 1",
            windows=("3y", "5y")),
    Measure("volatility", "fraction", "lower", "annualised volatility: standard deviation of daily returns (n − 1) "
            "× √252"),
    Measure("max_drawdown", "fraction", "higher", "largest fall from a peak: lowest close over the highest close "
            "before it − 1 (the window's first close counts as a peak)"),
    Measure("beta", "ratio", "neutral", "covariance of daily returns with the benchmark's over the benchmark's "
            "variance (n − 1), on the dates both have a close", benchmark=True),
    Measure("correlation", "ratio", "neutral", "correlation of daily returns with the benchmark's, on the dates "
            "both have a close", benchmark=True),
    Measure("sharpe", "ratio", "higher", "mean daily return above the risk-free rate over its standard deviation "
            "(n − 1), × √252"),
    Measure("sortino", "ratio", "higher", "mean daily return above the risk-free rate over the downside deviation "
            "(the root mean square of the returns below it, over all n), × √252"),
    Measure("var_95", "fraction", "lower", "one-day value at risk, 95%, historical: the loss at the 5th percentile "
            "of daily returns (linear interpolation)"),
    Measure("cvar_95", "fraction", "lower", "one-day expected shortfall, 95%, historical: the mean loss of the days "
            "at or below the 5th percentile"),
    Measure("relative_return", "fraction", "higher", "total return less the benchmark's over the same dates",
            benchmark=True),
)


def metric_names() -> list[str]:
    """Every market metric id, ``<measure>_<window>``, in the registry's order."""
    return [f"{m.name}_{w}" for m in MEASURES for w in m.windows]


def total_return_levels(prices: pl.DataFrame) -> pl.DataFrame:
    """The total-return series of each entity (``entity_id, date, level``), in date order: the adjusted close where
    the prices give one for every day, else the close compounded with its dividends and splits (``level`` starts
    at the first close and moves by (close × split ratio + dividend) / previous close each day)."""
    frame = prices if _in_runs(prices) else prices.sort("entity_id", "date")
    adjusted = c("adj_close").is_not_null().all().over("entity_id") if "adj_close" in frame.columns else pl.lit(False)
    events = [name for name in ("split_ratio", "dividend") if name in frame.columns]
    if not events:  # nothing to undo: the closes are the series
        level = pl.when(adjusted).then(c("adj_close")).otherwise(c("close")) if "adj_close" in frame.columns \
            else c("close")
        return frame.select("entity_id", "date", level=level.cast(pl.Float64))
    split = c("split_ratio").fill_null(1.0) if "split_ratio" in events else pl.lit(1.0)
    dividend = c("dividend").fill_null(0.0) if "dividend" in events else pl.lit(0.0)
    growth = ((c("close") * split + dividend) / c("close").shift(1).over("entity_id")).fill_null(1.0)
    compounded = c("close").first().over("entity_id") * growth.cum_prod().over("entity_id")
    level = pl.when(adjusted).then(c("adj_close")).otherwise(compounded) if "adj_close" in frame.columns \
        else compounded
    return frame.select("entity_id", "date", level=level.cast(pl.Float64))


def _in_runs(frame: pl.DataFrame) -> bool:
    """Whether each entity's rows stand together, in date order (a wide table unpivoted does; sorting 12 M rows by
    their names costs more than all the measures)."""
    same = c("entity_id") == c("entity_id").shift(1)
    checked = frame.select(runs=(~same).fill_null(True).sum(), entities=c("entity_id").n_unique(),
                           ordered=(~same | (c("date") > c("date").shift(1))).fill_null(True).all())
    runs, entities, ordered = checked.row(0)
    return runs == entities and ordered


def windows(levels: pl.DataFrame, as_of: date) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The closes of every window of every entity, the windows that cannot be taken, and the entities' numbers.

    ``levels`` hold each entity's rows together, in date order (:func:`total_return_levels`). The closes are
    ``group, date, level``: ``group`` is the window's place in :data:`WINDOWS` × the number of entities + the
    entity's number, rows in group order and in date order within each (numbers, not names, travel through the
    12 M rows). The windows
    that cannot be taken are ``entity_id, window, reason``: too short a history, no close for a week before the
    as-of date, no close to start the year from. The numbers are ``entity, entity_id``."""
    year_start = date(as_of.year, 1, 1)
    starts = (c("entity_id") != c("entity_id").shift(1)).fill_null(True)
    numbered = levels.with_columns(entity=starts.cum_sum().cast(pl.Int64) - 1, start=starts)
    names = numbered.filter(c("start")).select("entity", "entity_id")
    base = numbered.filter(c("date") <= as_of).select("entity", "date", "level").with_row_index("row")
    counts = base.group_by("entity", maintain_order=True).agg(
        last=c("date").last(), closes=pl.len(), before=(c("date") < year_start).sum(), end=c("row").last())
    unseen = names.join(counts, on="entity", how="anti")
    state = names.join(counts, on="entity", how="inner").with_columns(
        stale=pl.when(c("last") < as_of - timedelta(days=STALE_DAYS)).then(pl.format(
            "the last close is on {}, more than {} days before {}", c("last"), pl.lit(STALE_DAYS), pl.lit(str(as_of)))))
    fresh = base.join(state.filter(c("stale").is_null()).select("entity", "closes", "before", "end"), on="entity",
                      how="inner", maintain_order="left").with_columns(k=c("end") - c("row"))
    parts, missing = [], [unseen.select("entity_id", window=pl.lit(w), reason=pl.lit(f"no close on or before {as_of}"))
                          for w in WINDOWS]
    for number, (name, size) in enumerate(WINDOWS.items()):
        if size is None:
            part = fresh.filter((c("k") <= c("closes") - c("before")) & (c("before") > 0) & (c("closes") > c("before")))
            reason = pl.when(c("before") == 0).then(pl.lit(f"no close before {year_start} to start the year from")) \
                .when(c("closes") == c("before")).then(pl.lit(f"no close in {as_of.year} up to {as_of}"))
        else:
            part = fresh.filter((c("k") <= size) & (c("closes") > size))
            reason = pl.when(c("closes") <= size).then(pl.format(
                "needs {} daily returns ({} closes) up to {}; there are {} closes", pl.lit(size), pl.lit(size + 1),
                pl.lit(str(as_of)), c("closes")))
        parts.append(part.select(group=number * names.height + c("entity"), date="date", level="level"))
        missing.append(state.select("entity_id", window=pl.lit(name), reason=pl.coalesce(c("stale"), reason)))
    # windows one after another, entities in order within each: the groups come sorted, which Polars uses
    return pl.concat(parts).with_columns(c("group").set_sorted()), \
        pl.concat(missing).filter(c("reason").is_not_null()), names


def window_measures(closes: pl.DataFrame, *, periods: int = TRADING_DAYS, risk_free: float = 0.0) -> pl.DataFrame:
    """Every measure of every window: ``closes`` holds ``entity_id, window, date, level`` in date order within each
    entity's window (``group`` may number them), and ``bench_level``, the benchmark's close on the same day (null
    where it has none), for the benchmark's measures. One row per entity and window; ``periods`` returns make a
    year; ``risk_free`` is an annual rate. A ``r`` column gives the daily returns where they are known exactly
    (otherwise they are the levels' ratios)."""
    keys = [k for k in ("entity_id", "window") if k in closes.columns]
    if "group" not in closes.columns:
        closes = closes.with_columns(group=(pl.struct(keys) != pl.struct(keys).shift(1)).fill_null(True).cum_sum())
    g = "group"
    rf = (1 + risk_free) ** (1 / periods) - 1
    # Each group's rows stand together in date order: a shift across the whole frame is a shift within the group
    # wherever the row before belongs to the same one, and a group's first row is its first peak.
    daily = c("r") if "r" in closes.columns else c("level") / c("level").shift(1) - 1
    ordered = closes.with_columns(
        r=pl.when(c(g) == c(g).shift(1)).then(daily), peak=c("level").cum_max().over(g))
    ordered = ordered.with_columns(
        drawdown=c("level") / c("peak") - 1,
        peak_date=pl.when(c("level") >= c("peak")).then(c("date")).forward_fill())
    deepest = c("drawdown").arg_min()
    aggregates = dict(
        start=c("date").first(), end=c("date").last(), daily=c("r").drop_nulls(),
        total=c("level").last() / c("level").first() - 1,
        max_drawdown=c("drawdown").min(), trough_date=c("date").get(deepest), peak_date=c("peak_date").get(deepest))
    benchmark = "bench_level" in closes.columns
    out = ordered.group_by(g, maintain_order=True).agg(*(c(k).first() for k in keys), **aggregates)
    # List kernels sum pairwise, as numpy does; a group's own sum runs in order and drifts in the last digit.
    each = pl.element()
    tail = each.quantile(0.05, interpolation="linear")
    root = math.sqrt(periods)
    out = out.with_columns(
        returns=c("daily").list.len(), mean=c("daily").list.eval(each - rf).list.mean(),
        std=c("daily").list.std(ddof=1),
        downside=(c("daily").list.eval((each - rf).clip(upper_bound=0.0) ** 2).list.sum()
                  / c("daily").list.len()).sqrt(),
        var_95=0.0 - c("daily").list.eval(tail).list.first(),  # a loss, as a positive number (no -0.0)
        cvar_95=0.0 - c("daily").list.eval(each.filter(each <= tail).mean()).list.first(),
    ).with_columns(
        volatility=c("std") * root,
        sharpe=pl.when(c("std") > 0).then(c("mean") / c("std") * root),
        sortino=pl.when(c("downside") > 0).then(c("mean") / c("downside") * root),
        return_ann=(1 + c("total")) ** (periods / c("returns")) - 1,
        peak_date=pl.when(c("max_drawdown") < 0).then(c("peak_date")),
        trough_date=pl.when(c("max_drawdown") < 0).then(c("trough_date")),
    ).rename({"total": "return"})
    if benchmark:  # the returns of both between the days both have a close
        both = ordered.select(g, "date", "level", "bench_level").filter(c("bench_level").is_not_null()) \
            .with_columns(c(g).set_sorted())
        spans = both.group_by(g, maintain_order=True).agg(
            first=c("date").first(), last=c("date").last(),
            bench=c("bench_level").last() / c("bench_level").first() - 1)
        moves = both.with_columns(own=c("level") / c("level").shift(1) - 1,
                                  market=c("bench_level") / c("bench_level").shift(1) - 1,
                                  same=c(g) == c(g).shift(1)).filter(c("same"))
        # deviations from the window's means, then sums: a covariance per group as fast as a sum
        moves = moves.with_columns(own=c("own") - c("own").mean().over(g),
                                   market=c("market") - c("market").mean().over(g))
        paired = moves.group_by(g, maintain_order=True).agg(
            common=pl.len(), sxy=(c("own") * c("market")).sum(), sxx=(c("own") ** 2).sum(),
            syy=(c("market") ** 2).sum())
        out = out.join(spans, on=g, how="left", maintain_order="left").join(
            paired, on=g, how="left", maintain_order="left").with_columns(
            c("common").fill_null(0), beta=c("sxy") / c("syy"), correlation=c("sxy") / (c("sxx") * c("syy")).sqrt())
        out = out.with_columns(
            beta=pl.when(c("common") > 1).then(c("beta")), correlation=pl.when(c("common") > 1).then(c("correlation")),
            relative_return=pl.when((c("first") == c("start")) & (c("last") == c("end")))
            .then(c("return") - c("bench"))).drop("sxy", "sxx", "syy", "first", "last", "bench")
    return out.drop("daily")


def market_metrics(levels: pl.DataFrame, as_of: date, *, benchmarks: dict[str, str] | None = None,
                   risk_free: float = 0.0) -> pl.DataFrame:
    """Every market metric of every entity at the as-of date, one row each: ``entity_id, metric, measure, window,
    value`` (null when absent), ``reason`` (why absent), ``start, end`` (the window's first and last close),
    ``observations`` (daily returns used), ``peak_date, trough_date`` (of a drawdown), ``benchmark``.
    ``benchmarks`` maps an entity to the entity it is measured against."""
    own = {e for e, b in (benchmarks or {}).items() if e == b}
    benchmarks = {e: b for e, b in (benchmarks or {}).items() if e != b}
    closes, missing, names = windows(levels, as_of)
    number = dict(zip(names["entity_id"], names["entity"], strict=True))
    pairs = {number[e]: number[b] for e, b in benchmarks.items() if e in number and b in number}
    if pairs:  # one join on the date: a column of closes per benchmark, each entity reads its own
        chosen = sorted(set(pairs.values()))
        table = levels.filter(c("entity_id").is_in([b for b in set(benchmarks.values()) if b in number])
                              & (c("date") <= as_of)).with_columns(
            bench=c("entity_id").replace_strict(number, return_dtype=pl.Int64)).pivot(
            "bench", index="date", values="level")
        follows = (c("group") % names.height).replace_strict(pairs, default=None, return_dtype=pl.Int64)
        level = pl.lit(None, pl.Float64)
        for b in chosen:
            level = pl.when(follows == b).then(c(str(b))).otherwise(level)
        closes = closes.join(table, on="date", how="left", maintain_order="left").select(
            "group", "date", "level", bench_level=level).with_columns(c("group").set_sorted())
    stats = window_measures(closes, risk_free=risk_free).with_columns(
        entity=c("group") % names.height, window=(c("group") // names.height).replace_strict(
            dict(enumerate(WINDOWS)), return_dtype=pl.String)).join(names, on="entity", how="left")
    stats = stats.with_columns(pl.lit(None, pl.Float64).alias(name) for name in
                               ("beta", "correlation", "relative_return") if name not in stats.columns)
    if "common" not in stats.columns:
        stats = stats.with_columns(common=pl.lit(None, pl.UInt32))
    rows = []
    for measure in MEASURES:
        value = c(measure.name).cast(pl.Float64)
        reason = pl.lit(None, pl.String)
        if measure.benchmark:
            reason = pl.when(c("entity_id").is_in(list(own))).then(pl.lit("it is the benchmark")).when(
                c("benchmark").is_null()).then(pl.lit(
                    "no benchmark is set for it (--benchmark ID, FINREPORT_BENCHMARK, or the sectors file)")).when(
                ~c("benchmark").is_in(list(number))).then(pl.format("the benchmark {} has no prices up to {}",
                                                                    c("benchmark"), pl.lit(str(as_of))))
            if measure.name == "relative_return":
                reason = reason.when(value.is_null()).then(pl.lit("the benchmark has no close on the window's first "
                                                                  "or last date"))
            else:
                reason = reason.when(value.is_null() | ~value.is_finite()).then(pl.lit(
                    "fewer than two daily returns on dates the benchmark shares, or a benchmark that never moved"))
        elif measure.name in ("sharpe", "volatility"):
            reason = pl.when(value.is_null() | (c("std") == 0)).then(pl.lit("the price never moved in the window"))
        elif measure.name == "sortino":
            reason = pl.when(value.is_null()).then(pl.lit("no daily return fell below the risk-free rate"))
        rows.append(stats.filter(c("window").is_in(list(measure.windows))).with_columns(
            benchmark=c("entity_id").replace_strict(benchmarks, default=None, return_dtype=pl.String)
        ).select(
            "entity_id", metric=pl.format("{}_{}", pl.lit(measure.name), c("window")), measure=pl.lit(measure.name),
            window="window", value=pl.when(reason.is_null()).then(value), reason=reason, start="start", end="end",
            observations=c("common") if measure.benchmark and measure.name != "relative_return" else c("returns"),
            peak_date=c("peak_date") if measure.name == "max_drawdown" else pl.lit(None, pl.Date),
            trough_date=c("trough_date") if measure.name == "max_drawdown" else pl.lit(None, pl.Date),
            benchmark="benchmark"))
    measured = pl.concat(rows, how="vertical_relaxed")
    absent = missing.join(pl.DataFrame({"measure": [m.name for m in MEASURES]}), how="cross").join(
        pl.DataFrame([(m.name, w) for m in MEASURES for w in m.windows], schema=["measure", "window"], orient="row"),
        on=["measure", "window"], how="semi").select(
        "entity_id", metric=pl.format("{}_{}", c("measure"), c("window")), measure="measure", window="window",
        value=pl.lit(None, pl.Float64), reason="reason", start=pl.lit(None, pl.Date), end=pl.lit(None, pl.Date),
        observations=pl.lit(None, pl.UInt32), peak_date=pl.lit(None, pl.Date), trough_date=pl.lit(None, pl.Date),
        benchmark=c("entity_id").replace_strict(benchmarks, default=None, return_dtype=pl.String))
    order = {name: i for i, name in enumerate(metric_names())}
    return pl.concat([measured, absent], how="vertical_relaxed").with_columns(
        _order=c("metric").replace_strict(order, return_dtype=pl.Int64)).sort("entity_id", "_order").drop("_order")



VALUATION: tuple[Measure, ...] = (
    Measure("market_cap", "currency", "neutral", "the close at the as-of date × shares outstanding (the latest "
            "balance sheet known then, adjusted for splits since)", windows=()),
    Measure("enterprise_value", "currency", "neutral", "market capitalisation + total debt + noncontrolling "
            "interest − cash − short-term investments (debt, NCI and investments count as zero when not reported)",
            windows=()),
    Measure("pe_ttm", "multiple", "lower", "market capitalisation / net income attributable to the parent over "
            "the last twelve months (not meaningful over a loss)", windows=()),
    Measure("pb", "multiple", "lower", "market capitalisation / total equity (not meaningful over negative "
            "equity)", windows=()),
    Measure("ev_ebitda", "multiple", "lower", "enterprise value / EBITDA over the last twelve months (not "
            "meaningful over negative EBITDA)", windows=()),
    Measure("ev_sales", "multiple", "lower", "enterprise value / revenue over the last twelve months", windows=()),
    Measure("dividend_yield", "fraction", "higher", "dividends per share gone ex in the last 365 days / the close "
            "(from the prices; else dividends paid over the last twelve months / market capitalisation)",
            windows=()),
    Measure("fcf_yield", "fraction", "higher", "free cash flow over the last twelve months / market "
            "capitalisation", windows=()),
    Measure("earnings_yield", "fraction", "higher", "net income attributable to the parent over the last twelve "
            "months / market capitalisation (negative over a loss)", windows=()),
)
"""Valuation at the as-of date, point in time: only statements known on or before it."""

RELATIVE = ("pe_ttm", "pb", "ev_ebitda", "ev_sales", "dividend_yield", "fcf_yield", "earnings_yield")
"""Valuation ratios also given against their sector's median (``pe_ttm_vs_sector``)."""

_FLOWS = ("net_income_parent", "net_income", "revenue", "operating_income", "depreciation_amortization",
          "operating_cash_flow", "capex", "dividends_paid")
_BALANCES = ("shares_outstanding", "shares_diluted", "total_equity", "total_debt", "cash", "short_term_investments",
             "noncontrolling_interest")


INPUTS: dict[str, tuple[str, ...]] = {
    "market_cap": ("shares_outstanding", "shares_diluted"),
    "enterprise_value": ("shares_outstanding", "shares_diluted", "total_debt", "noncontrolling_interest", "cash",
                         "short_term_investments"),
    "pe_ttm": ("shares_outstanding", "shares_diluted", "net_income_parent", "net_income"),
    "pb": ("shares_outstanding", "shares_diluted", "total_equity"),
    "ev_ebitda": ("shares_outstanding", "shares_diluted", "total_debt", "noncontrolling_interest", "cash",
                  "short_term_investments", "operating_income", "depreciation_amortization"),
    "ev_sales": ("shares_outstanding", "shares_diluted", "total_debt", "noncontrolling_interest", "cash",
                 "short_term_investments", "revenue"),
    "dividend_yield": ("shares_outstanding", "shares_diluted", "dividends_paid"),
    "fcf_yield": ("shares_outstanding", "shares_diluted", "operating_cash_flow", "capex"),
    "earnings_yield": ("shares_outstanding", "shares_diluted", "net_income_parent", "net_income"),
}
"""The statement items each valuation reads: their filing lines are its sources, with the close's."""


def _input_sources(known: pl.DataFrame, latest: pl.DataFrame) -> pl.DataFrame:
    """Per entity, a ``__<item>`` list of the source lines of each item the valuation reads: the latest period's
    balances, and its flows (a quarter's: those of the quarters ending in the twelve months to it)."""
    balance = c("item").is_in(list(_BALANCES))
    ends = latest.select("entity_id", end="period_end", annual=c("fiscal_period") == "FY", year="fiscal_year",
                         period="fiscal_period")
    rows = known.filter(c("item").is_in(list(_FLOWS + _BALANCES))).join(ends, on="entity_id", how="inner").filter(
        pl.when(balance | c("annual")).then((c("fiscal_year") == c("year")) & (c("fiscal_period") == c("period")))
        .otherwise((c("fiscal_period") != "FY") & (c("period_end") <= c("end"))
                   & (c("period_end") > c("end") - pl.duration(days=365))))
    items = sorted(set(_FLOWS + _BALANCES))
    wide = rows.group_by("entity_id", "item").agg(c("source").unique().sort()).pivot(
        on="item", index="entity_id", values="source", on_columns=items)
    return wide.select("entity_id", *(c(i).alias(f"__{i}") for i in items))


def known_facts(facts: pl.DataFrame, superseded: pl.DataFrame, as_of: date, *,
                quarter_lag: int = QUARTER_LAG_DAYS, annual_lag: int = ANNUAL_LAG_DAYS) -> pl.DataFrame:
    """Each figure as it was known at the as-of date: of the values filed for it (the current one and those a
    later filing superseded), the latest filed on or before that date. A value with no filing date counts as known
    its period's end plus the lag. ``known`` says when."""
    columns = [name for name in facts.columns if not name.startswith("_")]
    lag = pl.when(c("fiscal_period") == "FY").then(annual_lag).otherwise(quarter_lag)
    rows = pl.concat([facts.select(columns), superseded.select(columns)], how="vertical_relaxed").with_columns(
        known=pl.coalesce(c("filed"), c("period_end") + pl.duration(days=lag)))
    return rows.filter(c("known") <= as_of).sort("known", "filed", nulls_last=False).group_by(
        ["entity_id", "fiscal_year", "fiscal_period", "item"], maintain_order=True).last()


def _last_closes(prices: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Each entity's last close on or before the as-of date, its date, source and currency, and the dividends per
    share gone ex in the 365 days to the as-of date (null when the prices give none)."""
    recent = c("date") > as_of - timedelta(days=365)
    return prices.filter(c("date") <= as_of).sort("entity_id", "date").group_by("entity_id", maintain_order=True).agg(
        price=c("close").last(), price_date=c("date").last(), price_source=c("source").last(),
        price_currency=c("currency").drop_nulls().last(),
        dividends=pl.when(c("dividend").filter(recent).is_not_null().any()).then(c("dividend").filter(recent).sum()))


def _ratio(name: str, numerator: pl.Expr, denominator: pl.Expr, domain: str | None = None) -> tuple[pl.Expr, pl.Expr]:
    """(value, reason): absent where an input is missing, or, with a ``domain``, where the denominator is not
    positive (a P/E over a loss says nothing)."""
    reason = pl.when(numerator.is_null() | denominator.is_null()).then(pl.lit(f"{name}: an input is not reported"))
    if domain:
        reason = reason.when(denominator <= 0).then(pl.lit(domain))
    reason = reason.when(denominator == 0).then(pl.lit(f"{name}: the denominator is zero"))
    return pl.when(reason.is_null()).then(numerator / denominator), reason


def valuation(prices: pl.DataFrame, known: pl.DataFrame, as_of: date, *,
              sectors: dict[str, str] | None = None) -> pl.DataFrame:
    """Valuation of every entity with prices and statements at the as-of date: one row per entity and metric
    (``entity_id, metric, value, reason, price, price_date, price_source, period, known, shares, split_factor,
    sources``: the close's line and the filing lines of the items it read), the ratios of :data:`RELATIVE` also
    against the median of the sector (``<ratio>_vs_sector``, with ``sector_median``, of two companies or more, and
    ``sector_companies``; ``sectors`` maps entities to sectors, else the statements' own). ``known`` is
    :func:`known_facts`: a figure filed after the as-of date is never used. Shares are put on the basis of the
    as-of date: a split after the balance sheet multiplies them by its ratio."""
    keys = ["entity_id", "fiscal_year", "fiscal_period"]
    base = derive(pivot(known.drop("known")))
    when = known.group_by(keys).agg(known=c("known").max())
    ttm = trailing_twelve_months(base).select(*keys, *(c(f).alias(f"{f}_ttm") for f in _FLOWS))
    periods = base.join(ttm, on=keys, how="left").join(when, on=keys, how="left")
    annual = c("fiscal_period") == "FY"
    latest = periods.sort("entity_id", "period_end", annual).group_by("entity_id", maintain_order=True).last() \
        .select(*keys, "period_end", "currency", "sector", "known",
                *(pl.when(annual).then(c(f)).otherwise(c(f"{f}_ttm")).alias(f) for f in _FLOWS),
                *(c(b) for b in _BALANCES))
    splits = prices.filter(c("split_ratio").fill_null(1.0) != 1.0).select("entity_id", "date", "split_ratio")
    factor = latest.select("entity_id", "period_end").join(splits, on="entity_id", how="inner").filter(
        (c("date") > c("period_end")) & (c("date") <= as_of)).group_by("entity_id").agg(
        split_factor=c("split_ratio").product())
    rows = _last_closes(prices, as_of).join(latest, on="entity_id", how="inner").join(
        _input_sources(known, latest), on="entity_id", how="left").join(
        factor, on="entity_id", how="left").with_columns(c("split_factor").fill_null(1.0))
    if sectors:
        rows = rows.with_columns(sector=c("entity_id").replace_strict(sectors, default=c("sector")))
    zero = ("total_debt", "noncontrolling_interest", "short_term_investments")
    shares = pl.coalesce(c("shares_outstanding"), c("shares_diluted")) * c("split_factor")
    stale = c("price_date") < as_of - timedelta(days=STALE_DAYS)
    foreign = c("price_currency").is_not_null() & c("currency").is_not_null() & (c("price_currency") != c("currency"))
    rows = rows.with_columns(
        shares=shares,
        market_cap=c("price") * shares,
        ebitda=c("operating_income") + c("depreciation_amortization"),
        earnings=pl.coalesce(c("net_income_parent"), c("net_income")),
        free_cash_flow=c("operating_cash_flow") - c("capex"),
        blocked=pl.when(stale).then(pl.format("the last close is on {}, more than {} days before {}",
                                              c("price_date"), pl.lit(STALE_DAYS), pl.lit(str(as_of))))
        .when(foreign).then(pl.format("prices in {}, statements in {}: nothing is converted without an FX table",
                                      c("price_currency"), c("currency")))
        .when(shares.is_null()).then(pl.lit("no share count is reported (shares outstanding or diluted shares)")),
    ).with_columns(enterprise_value=c("market_cap") + sum(c(z).fill_null(0.0) for z in zero) - c("cash"))
    per_share = pl.when(c("dividends").is_not_null()).then(c("dividends") / c("price"))
    measures = {
        "market_cap": (c("market_cap"), pl.lit(None, pl.String)),
        "enterprise_value": (c("enterprise_value"), pl.when(c("cash").is_null()).then(
            pl.lit("enterprise value: cash is not reported"))),
        "pe_ttm": _ratio("P/E", c("market_cap"), c("earnings"), "not meaningful: net income over the last twelve "
                                                                 "months is a loss"),
        "pb": _ratio("P/B", c("market_cap"), c("total_equity"), "not meaningful: equity is negative"),
        "ev_ebitda": _ratio("EV/EBITDA", c("enterprise_value"), c("ebitda"), "not meaningful: EBITDA over the "
                                                                               "last twelve months is negative"),
        "ev_sales": _ratio("EV/sales", c("enterprise_value"), c("revenue"), "not meaningful: no revenue"),
        "dividend_yield": (pl.coalesce(per_share, c("dividends_paid").abs() / c("market_cap")),
                           pl.when(per_share.is_null() & c("dividends_paid").is_null()).then(pl.lit(
                               "no dividends are given (in the prices or as dividends paid)"))),
        "fcf_yield": _ratio("FCF yield", c("free_cash_flow"), c("market_cap")),
        "earnings_yield": _ratio("earnings yield", c("earnings"), c("market_cap")),
    }
    period = pl.format("{} FY{}", c("fiscal_period"), c("fiscal_year")).str.replace("^FY FY", "FY")
    long = pl.concat([rows.select(
        "entity_id", "sector", metric=pl.lit(name),
        value=pl.when(c("blocked").is_null() & reason.is_null()).then(value.cast(pl.Float64)),
        reason=pl.coalesce(c("blocked"), reason.cast(pl.String)),
        price="price", price_date="price_date", price_source="price_source", period=period, known="known",
        shares="shares", split_factor="split_factor",
        sources=pl.concat_list(pl.concat_list(c("price_source")), *(c(f"__{i}").fill_null([]) for i in INPUTS[name]))
        .list.drop_nulls()
        .list.unique(maintain_order=True))
        for name, (value, reason) in ((m.name, measures[m.name]) for m in VALUATION)])
    peers = long.filter(c("metric").is_in(list(RELATIVE)) & c("value").is_not_null() & c("sector").is_not_null()) \
        .group_by("sector", "metric").agg(median=c("value").median(), companies=pl.len())
    relative = long.filter(c("metric").is_in(list(RELATIVE))).join(peers, on=["sector", "metric"], how="left") \
        .with_columns(
            reason=pl.coalesce(c("reason"), pl.when(c("sector").is_null()).then(pl.lit("no sector is known for it"))
                               .when(c("companies").fill_null(0) < 2).then(pl.format(
                                   "fewer than two companies of {} have a {}", c("sector"), c("metric")))
                               .when(c("median") == 0).then(pl.lit("the sector's median is zero"))
                               .when((c("value") < 0) != (c("median") < 0)).then(pl.lit(
                                   "not meaningful: the figure and the sector's median have opposite signs"))),
            metric=c("metric") + "_vs_sector")
    relative = relative.with_columns(value=pl.when(c("reason").is_null()).then(c("value") / c("median")),
                                     median=pl.when(c("companies") >= 2).then(c("median"))).rename(
        {"median": "sector_median", "companies": "sector_companies"})
    return pl.concat([long, relative], how="diagonal_relaxed").drop("sector")


MARKET_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(), "metric": pl.String(), "measure": pl.String(), "window": pl.String(),
    "value": pl.Float64(), "unit": pl.String(), "reason": pl.String(), "start": pl.Date(), "end": pl.Date(),
    "observations": pl.UInt32(), "peak_date": pl.Date(), "trough_date": pl.Date(), "benchmark": pl.String(),
    "price": pl.Float64(), "price_date": pl.Date(), "period": pl.String(), "known": pl.Date(),
    "shares": pl.Float64(), "split_factor": pl.Float64(), "sector_median": pl.Float64(),
    "sector_companies": pl.UInt32(), "sources": pl.List(pl.String()),
}
"""market.json's rows: one per entity and metric, the value or null and the reason, the window's first and last
close, the returns it used, a drawdown's peak and trough, the benchmark; for valuation the close and its date, the
statements' period and when they were known, the shares, and the sector's median; the price-file lines and filings
every figure comes from."""


WINDOW_LABELS = {"1m": "one-month", "3m": "three-month", "ytd": "year-to-date", "1y": "one-year",
                 "3y": "three-year", "5y": "five-year"}
LABELS = {"return": "total return", "return_ann": "annualised return", "volatility": "volatility",
          "max_drawdown": "maximum drawdown", "beta": "beta", "correlation": "correlation with the benchmark",
          "sharpe": "Sharpe ratio", "sortino": "Sortino ratio", "var_95": "VaR (95%, one day)",
          "cvar_95": "expected shortfall (95%, one day)", "relative_return": "return relative to the benchmark",
          "market_cap": "market capitalisation", "enterprise_value": "enterprise value", "pe_ttm": "P/E",
          "pb": "P/B", "ev_ebitda": "EV/EBITDA", "ev_sales": "EV/sales", "dividend_yield": "dividend yield",
          "fcf_yield": "FCF yield", "earnings_yield": "earnings yield"}
"""How a report names each measure; a window's metric is "<window> <measure>" ("one-year volatility")."""


def label(name: str) -> str:
    """How a report names a market metric: "one-year volatility", "P/E", "P/E against the sector median"."""
    if name.endswith("_vs_sector"):
        return f"{LABELS[name.removesuffix('_vs_sector')]} against the sector median"
    if name.endswith("_sector_median"):
        return f"sector median {LABELS[name.removesuffix('_sector_median')]}"
    measure = BY_NAME[name]
    window = name.removeprefix(measure.name + "_")
    return LABELS[measure.name] if window == name else f"{WINDOW_LABELS[window]} {LABELS[measure.name]}"


def unit_of(name: str) -> str:
    """The unit of a market or valuation metric (``volatility_1y``: a fraction; ``pe_ttm_vs_sector``: a multiple
    of the sector's median)."""
    if name.endswith("_vs_sector"):
        return "multiple"
    return BY_NAME[name].unit


BY_NAME: dict[str, Measure] = {f"{m.name}_{w}": m for m in MEASURES for w in m.windows} | {m.name: m for m in
                                                                                       VALUATION}
"""Every market metric id and valuation name → its measure (``volatility_1y`` → volatility)."""


def market_table(prices: pl.DataFrame, facts: pl.DataFrame, superseded: pl.DataFrame, as_of: date, *,
                 benchmarks: dict[str, str] | None = None, sectors: dict[str, str] | None = None,
                 risk_free: float = 0.0, quarter_lag: int = QUARTER_LAG_DAYS,
                 annual_lag: int = ANNUAL_LAG_DAYS) -> pl.DataFrame:
    """Every market and valuation metric of every entity with prices, at the as-of date, in
    :data:`MARKET_SCHEMA`: the rows of :func:`market_metrics` and :func:`valuation` with their sources (the price
    file lines of each window's first and last close, the benchmark's too; the close and the filings a valuation
    used)."""
    if prices.is_empty():
        return pl.DataFrame(schema=MARKET_SCHEMA)
    measured = market_metrics(total_return_levels(prices), as_of, benchmarks=benchmarks, risk_free=risk_free)
    lines = prices.select("entity_id", "date", "source")
    ends = [measured.join(lines.rename({"date": when, "source": f"{who}_{when}", "entity_id": key}),
                          on=[key, when], how="left").select(f"{who}_{when}")
            for who, key in (("own", "entity_id"), ("bench", "benchmark")) for when in ("start", "end")]
    own = ["own_start", "own_end"]
    bench = ["bench_start", "bench_end"]
    measured = pl.concat([measured, *ends], how="horizontal").with_columns(
        unit=c("measure").replace_strict({m.name: m.unit for m in MEASURES}),
        sources=pl.when(c("measure").is_in([m.name for m in MEASURES if m.benchmark]))
        .then(pl.concat_list(*own, *bench)).otherwise(pl.concat_list(*own)).list.drop_nulls().list.unique(
            maintain_order=True)).drop(*own, *bench)
    known = known_facts(facts, superseded, as_of, quarter_lag=quarter_lag, annual_lag=annual_lag)
    valued = valuation(prices, known, as_of, sectors=sectors)
    names = [m.name for m in VALUATION] + [f"{r}_vs_sector" for r in RELATIVE]
    unvalued = _unvalued(prices, facts, valued, as_of).join(pl.DataFrame({"metric": names}), how="cross")
    valued = pl.concat([valued, unvalued], how="diagonal_relaxed").with_columns(
        measure=c("metric"), unit=c("metric").replace_strict({n: unit_of(n) for n in names}))
    columns = list(MARKET_SCHEMA)
    return pl.concat([frame.with_columns(pl.lit(None, MARKET_SCHEMA[k]).alias(k) for k in columns
                                         if k not in frame.columns).select(
        c(k).cast(MARKET_SCHEMA[k]) for k in columns) for frame in (measured, valued)])


def _unvalued(prices: pl.DataFrame, facts: pl.DataFrame, valued: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Each entity with prices and no valuation, with the reason: no statements at all, or none known at the as-of
    date (a filing after the price date is never used)."""
    first = facts.group_by("entity_id").agg(first=pl.coalesce(c("filed"), c("period_end")).min())
    return prices.filter(c("date") <= as_of).select("entity_id").unique().join(
        valued.select("entity_id").unique(), on="entity_id", how="anti").join(first, on="entity_id", how="left") \
        .select("entity_id", value=pl.lit(None, pl.Float64), reason=pl.when(c("first").is_null()).then(
            pl.lit("no statements are in the inputs")).otherwise(pl.format(
                "no statement is known by {} (the first was filed on {})", pl.lit(str(as_of)), c("first"))),
                sources=pl.lit([], pl.List(pl.String))).sort("entity_id")
