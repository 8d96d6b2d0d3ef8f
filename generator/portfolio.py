"""Portfolios: what each book holds at the as-of date, where it is concentrated, how risky it has been, and what its
holdings' fundamentals add up to.

A holding is valued at its last close on or before the as-of date (within :data:`generator.market.STALE_DAYS`),
converted into the portfolio's base currency at that day's FX rate (:mod:`generator.ingest.fx`); its weight is
its value over the portfolio's. A portfolio given by weights has no market value: its weights are taken as given
(scaled to add up to one, and said so when they were more than 0.5% off).

Risk is that of the buy-and-hold portfolio: today's holdings held unchanged back through each window, dividends
reinvested, each day converted at that day's rate. Its value series is Σ value_i × (level_i(t) × fx_i(t)) /
(level_i(T) × fx_i(T)), on the days every holding has a close and a rate; it is measured as a share is
(:func:`generator.market.market_metrics`: the same windows and conventions, against the portfolio's benchmark).
A holding's contribution to volatility is the covariance of its part of the daily return (its value the day
before over the portfolio's, times its return) with the portfolio's return, over the portfolio's standard
deviation, × √252: its weight × its marginal contribution. The contributions add up to the volatility exactly.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

from generator.answers import period_values
from generator.ingest import Ingested
from generator.ingest.fx import converted, missing_rate
from generator.market import STALE_DAYS, TRADING_DAYS, WINDOWS, market_metrics
from generator.metrics import Analysis, definition, flag_share
from generator.narrator import Context
from generator.present import PORTFOLIO, period_label
from generator.settings import ANNUAL_LAG_DAYS, QUARTER_LAG_DAYS

NOT_GIVEN = "not given"
"""The sector or country of a holding no input names: a group of the exposures, not a sector an answer names."""

WEIGHT_TOLERANCE = 0.005
"""Weights given in a holdings file that add up to more than this away from one are a finding (they are scaled)."""

CONCENTRATION_TOPS = (1, 5, 10)
"""The largest holdings whose combined weight is given (``top_1``, ``top_5``, ``top_10``)."""

FUNDAMENTALS: tuple[tuple[str, str, str], ...] = (
    ("weighted_net_margin", "net_margin", "weighted mean"),
    ("weighted_debt_to_equity", "debt_to_equity", "weighted mean"),
    ("weighted_current_ratio", "current_ratio", "weighted mean"),
    ("harmonic_pe", "earnings_yield", "weighted harmonic mean"),
    ("loss_share", "net_income", "share of value"),
)
"""Holding-weighted fundamentals: the portfolio figure (:data:`generator.metrics.PORTFOLIO_DEFINITIONS`), the
holdings' figure it combines (their report period's; twelve months to a quarter's end; the P/E from the earnings
yield at the last close, losses included), and how. Each is over the holdings that have the figure, and says what
share of the value that is (``coverage``)."""

_QUARTERLY_TTM = ("net_margin", "net_income")


@dataclass
class Portfolio:
    """One portfolio at the as-of date: its holdings valued and weighted, exposures, concentration, fundamentals,
    buy-and-hold risk and each holding's contribution to volatility, and what was found on the way."""

    portfolio_id: str
    name: str
    base_currency: str
    basis: str
    """``quantity`` (shares held: a market value) or ``weight`` (fractions of the portfolio as given)."""
    holdings_as_of: date | None
    benchmark: str | None
    holdings: list[dict[str, Any]]
    exposures: dict[str, list[dict[str, Any]]]
    concentration: dict[str, Any]
    fundamentals: list[dict[str, Any]]
    risk: list[dict[str, Any]]
    contributions: list[dict[str, Any]]
    series: pl.DataFrame
    """``date, value`` of the buy-and-hold portfolio (base currency; for a weight portfolio, 1.0 at the last close)."""
    parts: pl.DataFrame
    """``date`` and each holding's value by day: the series is their sum."""
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def market_value(self) -> float | None:
        """The holdings' value in the base currency; None for a portfolio given by weights."""
        return None if self.basis == "weight" else math.fsum(h["market_value"] for h in self.holdings)

    def record(self, as_of: date) -> dict[str, Any]:
        """portfolio.json: every figure with what it was computed from."""
        return {
            "portfolio_id": self.portfolio_id, "name": self.name, "as_of": as_of.isoformat(),
            "holdings_as_of": self.holdings_as_of.isoformat() if self.holdings_as_of else None,
            "basis": self.basis, "base_currency": self.base_currency, "benchmark": self.benchmark,
            "market_value": self.market_value, "holdings": self.holdings, "exposures": self.exposures,
            "concentration": self.concentration, "fundamentals": self.fundamentals, "risk": self.risk,
            "contributions": self.contributions, "findings": self.findings,
        }


@dataclass(frozen=True)
class PortfolioFailure:
    """A portfolio that cannot be reported, and the one line that says why and what to do."""

    portfolio_id: str
    error: str


class _Unvalued(Exception):
    """A holding cannot be valued at the as-of date: the portfolio is not reported."""


@dataclass
class _Lookups:
    """What every portfolio of a run reads, found once for the run rather than once per holding: each priced
    company's last close at the as-of date, its prices' currency, its name and sector, its declared sector and
    country, its report period's figures and earnings yield, and each currency pair's rates by day."""

    ingested: Ingested
    levels: dict[str, pl.DataFrame]
    as_of: date
    last: dict[str, tuple[float, date, str]]
    currencies: dict[str, str]
    names: dict[str, str]
    sectors: dict[str, str]
    countries: dict[str, str]
    figures: dict[str, tuple[tuple[int, str], dict[str, float | None]]]
    yields: dict[str, float | None]
    rates: dict[tuple[str, str], pl.DataFrame] = field(default_factory=dict)
    by_day: dict[tuple[str, str], dict[date, tuple[float | None, str | None]]] = field(default_factory=dict)

    def rate_table(self, currency: str, base: str) -> pl.DataFrame:
        """``date, rate, rate_source``: the pair's rate on every day a price has, up to the as-of date."""
        if (currency, base) not in self.rates:
            days = self.ingested.prices.filter(pl.col("date") <= self.as_of)["date"].unique().sort()
            table = converted(self.ingested.fx, currency, base, days)
            self.rates[(currency, base)] = table
            self.by_day[(currency, base)] = {d: (r, src) for d, r, src in table.iter_rows()}
        return self.rates[(currency, base)]

    def rate(self, currency: str, base: str, day: date) -> tuple[float | None, str | None]:
        """(rate, its source) of the pair on one day a price has."""
        self.rate_table(currency, base)
        return self.by_day[(currency, base)][day]


def _lookups(ingested: Ingested, analysis: Analysis, market: pl.DataFrame, levels: dict[str, pl.DataFrame],
             as_of: date, quarter_lag: int, annual_lag: int) -> _Lookups:
    held = ingested.holdings["entity_id"].unique().to_list()
    last = ingested.prices.filter(pl.col("entity_id").is_in(held) & (pl.col("date") <= as_of)).sort("date") \
        .group_by("entity_id").agg(pl.col("close").last(), pl.col("date").last(), pl.col("source").last())
    currencies = ingested.prices.filter(pl.col("entity_id").is_in(held) & pl.col("currency").is_not_null()) \
        .group_by("entity_id").agg(pl.col("currency").last())
    latest = analysis.base.sort("period_end").group_by("entity_id").agg(
        pl.col("entity_name").cast(pl.String).last(), pl.col("sector").cast(pl.String).last())
    yields = market.filter(pl.col("metric") == "earnings_yield").select("entity_id", "value")
    return _Lookups(
        ingested, levels, as_of,
        last={e: (c, d, src) for e, c, d, src in last.iter_rows()}, currencies=dict(currencies.iter_rows()),
        names=dict(latest.select("entity_id", "entity_name").iter_rows()),
        sectors={e: s for e, s in latest.select("entity_id", "sector").iter_rows() if s}
        | ingested.declared("sector"), countries=ingested.declared("country"),
        figures=_report_figures(ingested, analysis, held, as_of, quarter_lag, annual_lag),
        yields=dict(yields.iter_rows()))


def _report_figures(ingested: Ingested, analysis: Analysis, entities: Sequence[str], as_of: date, quarter_lag: int,
                    annual_lag: int) -> dict[str, tuple[tuple[int, str], dict[str, float | None]]]:
    """Each held company's report period at the as-of date, and its figures there (twelve months to a quarter's
    end for the flows a weighted fundamental reads): the latest period first reported on or before the as-of date
    (a figure with no filing date counts as reported its period's end plus the lag), a year before its own fourth
    quarter. A book valued in 2022 is not judged on statements filed in 2025."""
    lag = pl.when(pl.col("fiscal_period") == "FY").then(annual_lag).otherwise(quarter_lag)
    first = ingested.facts.filter(pl.col("entity_id").is_in(list(entities))).with_columns(
        known=pl.coalesce(pl.col("filed"), pl.col("period_end") + pl.duration(days=lag))).group_by(
        "entity_id", "fiscal_year", "fiscal_period").agg(pl.col("known").min(), pl.col("period_end").max())
    chosen = first.filter(pl.col("known") <= as_of).with_columns(annual=pl.col("fiscal_period") == "FY").sort(
        "period_end", "annual").group_by("entity_id", maintain_order=True).last()
    out = {}
    for entity, year, period in chosen.select("entity_id", "fiscal_year", pl.col("fiscal_period").cast(pl.String)
                                              ).iter_rows():
        got = period_values(analysis, entity, year, period)
        if period != "FY":
            got |= {m: got.get(f"{m}_ttm") for m in _QUARTERLY_TTM}
        out[entity] = ((year, period), got)
    return out


def analyse_portfolios(ingested: Ingested, analysis: Analysis, market: pl.DataFrame, levels: dict[str, pl.DataFrame],
                       as_of: date, *, benchmark: str | None, base_currency: str, risk_free: float = 0.0,
                       quarter_lag: int = QUARTER_LAG_DAYS, annual_lag: int = ANNUAL_LAG_DAYS
                       ) -> tuple[list[Portfolio], list[PortfolioFailure]]:
    """Every portfolio of the holdings inputs at the as-of date, or why it cannot be reported (a holdings row
    rejected that changes what it holds, a holding with no close or no FX rate near the as-of date). Every
    portfolio's risk is measured in one pass over all their value series; its holdings are judged on the
    statements reported by the as-of date (the lags date those with no filing date)."""
    failed: list[PortfolioFailure] = []
    valued: list[tuple[Portfolio, str]] = []
    found = _lookups(ingested, analysis, market, levels, as_of, quarter_lag, annual_lag)
    for (portfolio_id,), rows in sorted(ingested.holdings.partition_by("portfolio_id", as_dict=True).items(),
                                        key=lambda item: str(item[0][0])):
        blocking = ingested.blocking.get(str(portfolio_id), [])
        if blocking:
            failed.append(PortfolioFailure(str(portfolio_id), f"{_rows(len(blocking))} of its holdings rejected "
                                           f"({blocking[0]}); fix the holdings file and run again"))
            continue
        try:
            valued.append(_value(str(portfolio_id), rows, found, market, benchmark=benchmark,
                                 base_currency=base_currency))
        except _Unvalued as exc:
            failed.append(PortfolioFailure(str(portfolio_id), str(exc)))
    risks = _risks([(p, limit) for p, limit in valued], levels, as_of, risk_free)
    for portfolio, _ in valued:
        portfolio.risk = risks[portfolio.portfolio_id]
        portfolio.contributions = _contributions(portfolio.holdings, portfolio.parts, portfolio.risk)
    stated = {str(p) for p in ingested.holdings["portfolio_id"].unique().to_list()}
    failed += [PortfolioFailure(p, f"{_rows(len(lines))} of its holdings rejected ({lines[0]}); fix the holdings "
                                   "file and run again")
               for p, lines in sorted(ingested.blocking.items()) if p not in stated]
    return [p for p, _ in valued], sorted(failed, key=lambda f: f.portfolio_id)


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _holdings_date(rows: pl.DataFrame, as_of: date) -> tuple[pl.DataFrame, date | None]:
    """The holdings the run uses: those of the latest date on or before the as-of date, else the undated ones."""
    dated = rows.filter(pl.col("as_of").is_not_null() & (pl.col("as_of") <= as_of))
    if not dated.is_empty():
        day = dated["as_of"].max()
        return rows.filter(pl.col("as_of") == day), day  # type: ignore[return-value]
    undated = rows.filter(pl.col("as_of").is_null())
    if undated.is_empty():
        raise _Unvalued(f"its holdings are as of {rows['as_of'].min()} or later, after the as-of date {as_of}; run "
                        "with a later --as-of")
    return undated, None


def _value(portfolio_id: str, rows: pl.DataFrame, found: _Lookups, market: pl.DataFrame, *,
           benchmark: str | None, base_currency: str) -> tuple[Portfolio, str]:
    """The portfolio valued and weighted at the as-of date, with its value series (its risk comes after, with
    every portfolio's); and what starts the series."""
    rows, held_on = _holdings_date(rows, found.as_of)
    name = next((n for n in rows["portfolio_name"].to_list() if n), portfolio_id)
    base = next((b for b in rows["base_currency"].to_list() if b), base_currency)
    basis = "quantity" if rows["quantity"].is_not_null().any() else "weight"
    findings: list[dict[str, Any]] = []
    holdings: list[dict[str, Any]] = []
    assumed: list[str] = []
    for row in rows.iter_rows(named=True):
        entity = row["entity_id"]
        close, day, source = _last_close(found, entity)
        currency = found.currencies.get(entity)
        if currency and row["currency"] and currency != row["currency"]:
            raise _Unvalued(f"{entity} ({row['source']}) is held in {row['currency']}, but its prices are in "
                            f"{currency}: correct the holding's currency")
        currency = currency or row["currency"]
        if currency is None:
            currency = base
            assumed.append(entity)
        rate, rate_source = found.rate(currency, base, day)
        if rate is None:
            raise _Unvalued(f"{entity} is priced in {currency} and the portfolio is in {base}: "
                            f"{missing_rate(found.ingested.fx, currency, base, day)}; add the rate to the FX inputs")
        value = row["quantity"] * close * rate if basis == "quantity" else None
        holdings.append({
            "entity_id": entity, "given": row["given"], "name": found.names.get(entity, entity),
            "sector": found.sectors.get(entity) or NOT_GIVEN, "country": found.countries.get(entity) or NOT_GIVEN,
            "currency": currency, "quantity": row["quantity"], "weight_given": row["weight"], "close": close,
            "price_date": day, "price_source": source, "fx_rate": rate, "fx_source": rate_source,
            "market_value": value, "cost": row["cost"], "source": row["source"],
            "report_period": list(found.figures[entity][0]) if entity in found.figures else None})
    if assumed:
        findings.append({"check": "currency_assumed", "severity": "warning", "message":
                         f"neither the prices nor the holdings of {', '.join(assumed)} give a currency: taken to be "
                         f"the base currency, {base}"})
    _weigh(holdings, basis, findings)
    holdings.sort(key=lambda h: (-h["weight"], h["entity_id"]))
    series, parts, limit = _series(holdings, found, base)
    portfolio = Portfolio(
        portfolio_id=portfolio_id, name=name, base_currency=base, basis=basis, holdings_as_of=held_on,
        benchmark=benchmark or _usual_benchmark(market, [h["entity_id"] for h in holdings]), holdings=holdings,
        exposures=_exposures(holdings), concentration=_concentration(holdings),
        fundamentals=_fundamentals(holdings, found), risk=[], contributions=[], series=series, parts=parts,
        findings=findings)
    return portfolio, limit


def _last_close(found: _Lookups, entity: str) -> tuple[float, date, str]:
    """(close, its date, its price-file line) of the last close on or before the as-of date, within a week."""
    if entity not in found.last:
        raise _Unvalued(f"{entity} has no close on or before {found.as_of}: it cannot be valued; add its prices")
    close, day, source = found.last[entity]
    if day < found.as_of - timedelta(days=STALE_DAYS):
        raise _Unvalued(f"{entity}'s last close is on {day}, more than {STALE_DAYS} days before {found.as_of}: "
                        "it cannot be valued at the as-of date; add its prices")
    return close, day, source


def _weigh(holdings: list[dict[str, Any]], basis: str, findings: list[dict[str, Any]]) -> None:
    """Each holding's weight: its value over the portfolio's, or the weight given, scaled to add up to one."""
    if basis == "quantity":
        total = math.fsum(h["market_value"] for h in holdings)
        for h in holdings:
            h["weight"] = h["market_value"] / total
        return
    total = math.fsum(h["weight_given"] for h in holdings)
    if abs(total - 1) > WEIGHT_TOLERANCE:
        findings.append({"check": "weights_sum", "severity": "warning", "message":
                         f"the weights given add up to {total:.4f}, not 1 (± {WEIGHT_TOLERANCE:.1%}): each is "
                         f"divided by {total:.4f}"})
    for h in holdings:
        h["weight"] = h["weight_given"] / total


def _usual_benchmark(market: pl.DataFrame, entities: Sequence[str]) -> str | None:
    """The benchmark most of the holdings are measured against, when the run names none."""
    found = market.filter(pl.col("entity_id").is_in(list(entities)) & pl.col("benchmark").is_not_null()).unique(
        ["entity_id", "benchmark"])["benchmark"].to_list()
    return Counter(found).most_common(1)[0][0] if found else None


def _series(holdings: list[dict[str, Any]], found: _Lookups, base: str) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """(``date, value`` of the buy-and-hold portfolio, each holding's value by day, what starts the series): the
    days on or before the as-of date when every holding has a close and an FX rate."""
    book = pl.DataFrame({"entity_id": [h["entity_id"] for h in holdings], "currency": [h["currency"] for h in holdings],
                         "amount": [h["market_value"] if h["market_value"] is not None else h["weight"]
                                    for h in holdings]})
    rates = pl.concat([found.rate_table(c, base).select("date", "rate", currency=pl.lit(c))
                       for c in sorted(set(book["currency"]))])
    long = pl.concat([found.levels[e].select(pl.col("entity_id").cast(pl.String), "date", "level")
                      for e in book["entity_id"]]).filter(pl.col("date") <= found.as_of) \
        .join(book, on="entity_id", how="left").join(rates, on=["date", "currency"], how="left") \
        .filter(pl.col("rate").is_not_null())  # the as-of day has one
    at_end = pl.col("level").last().over("entity_id") * pl.col("rate").last().over("entity_id")
    long = long.with_columns(value=pl.col("level") * pl.col("rate") * pl.col("amount") / at_end)
    first = long.group_by("entity_id", maintain_order=True).agg(pl.col("date").first(), pl.col("currency").first())
    entity, _, currency = max(first.iter_rows(), key=lambda r: (r[1], r[0]))  # the holding that starts last
    limit = f"{entity}'s closes" + ("" if currency == base else f" and {currency}/{base} rates")
    wide = long.pivot(on="entity_id", index="date", values="value").drop_nulls().sort("date")
    series = wide.select("date", value=pl.sum_horizontal(pl.exclude("date")))
    return series, wide, limit


_KEY = "portfolio\x1f"
"""What keeps a portfolio's series apart from the companies' and the benchmarks' in one measuring pass (a
portfolio may share its id with a company)."""


def _risks(valued: Sequence[tuple[Portfolio, str]], levels: dict[str, pl.DataFrame], as_of: date,
           risk_free: float) -> dict[str, list[dict[str, Any]]]:
    """Every market measure of every portfolio's value series, as :func:`market_metrics` takes a share's, in one
    pass over all of them; a window too long for a series says what starts it."""
    if not valued:
        return {}
    frames = [p.series.select(entity_id=pl.lit(_KEY + p.portfolio_id), date="date", level="value") for p, _ in valued]
    benchmarks = {_KEY + p.portfolio_id: p.benchmark for p, _ in valued if p.benchmark}
    frames += [levels[b].select(pl.col("entity_id").cast(pl.String), "date", "level")
               for b in sorted(set(benchmarks.values())) if b in levels]
    rows = market_metrics(pl.concat(frames), as_of, benchmarks=benchmarks or None, risk_free=risk_free)
    out: dict[str, list[dict[str, Any]]] = {p.portfolio_id: [] for p, _ in valued}
    starts = {p.portfolio_id: (p.series["date"][0] if not p.series.is_empty() else None, limit) for p, limit in valued}
    for row in rows.filter(pl.col("entity_id").str.starts_with(_KEY)).iter_rows(named=True):
        portfolio_id = row.pop("entity_id").removeprefix(_KEY)
        start, limit = starts[portfolio_id]
        if row["reason"] and row["reason"].startswith("needs "):
            row["reason"] += f" (the series starts on {start}, with {limit})"
        out[portfolio_id].append(row)
    return out


def _exposures(holdings: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The weight in each sector, currency and country, largest first."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key in ("sector", "currency", "country"):
        groups: dict[str, list[dict[str, Any]]] = {}
        for h in holdings:
            groups.setdefault(h[key], []).append(h)
        out[key] = sorted(({"name": k, "weight": math.fsum(h["weight"] for h in v),
                            "holdings": sorted(h["entity_id"] for h in v)} for k, v in groups.items()),
                          key=lambda g: (-g["weight"], g["name"]))
    return out


def _concentration(holdings: list[dict[str, Any]]) -> dict[str, Any]:
    """Top-1/5/10 weight, the Herfindahl index (Σ weight²) and the effective number of holdings (1 / Herfindahl)."""
    weights = sorted((h["weight"] for h in holdings), reverse=True)
    herfindahl = math.fsum(w * w for w in weights)
    out: dict[str, Any] = {f"top_{k}": math.fsum(weights[:k]) for k in CONCENTRATION_TOPS}
    return out | {"herfindahl": herfindahl, "effective_holdings": 1 / herfindahl, "holdings": len(holdings),
                  "largest": holdings[0]["entity_id"] if holdings else None}


def _fundamentals(holdings: list[dict[str, Any]], found: _Lookups) -> list[dict[str, Any]]:
    """:data:`FUNDAMENTALS`, each with the holdings that have the figure and their share of the value."""
    out = []
    for name, source, method in FUNDAMENTALS:
        if source == "earnings_yield":
            have = [(h, found.yields.get(h["entity_id"])) for h in holdings]
        elif name == "loss_share":
            have = [(h, float(v < 0)) for h in holdings
                    if (v := found.figures.get(h["entity_id"], ("", {}))[1].get(source)) is not None]
        else:
            have = [(h, found.figures.get(h["entity_id"], ("", {}))[1].get(source)) for h in holdings]
        have = [(h, v) for h, v in have if v is not None]
        covered = math.fsum(h["weight"] for h, _ in have)
        mean = math.fsum(h["weight"] * v for h, v in have) / covered if covered else None
        value, reason = mean, None if have else "no holding has the figure"
        if source == "earnings_yield" and mean is not None:
            value, reason = (1 / mean, None) if mean > 0 else (None, "not meaningful: the holdings' earnings add up "
                                                                     "to a loss")
        out.append({"metric": name, "value": value, "reason": reason, "method": method, "source": source,
                    "definition": definition(name).formula, "coverage": covered,
                    "holdings": [h["entity_id"] for h, _ in have],
                    "periods": {h["entity_id"]: period_label(*found.figures[h["entity_id"]][0]) for h, _ in have
                                if h["entity_id"] in found.figures}})
    return out


def _contributions(holdings: list[dict[str, Any]], parts: pl.DataFrame,
                   risk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each holding's contribution to the volatility of every window that has one (they add up to it)."""
    out = []
    weights = {h["entity_id"]: h["weight"] for h in holdings}
    volatility = {r["window"]: r for r in risk if r["measure"] == "volatility" and r["value"] is not None}
    for window in WINDOWS:
        if window not in volatility:
            continue
        span = parts.filter(pl.col("date").is_between(volatility[window]["start"], volatility[window]["end"]))
        values = span.drop("date").to_numpy()
        total = values.sum(axis=1)
        moves = np.diff(values, axis=0) / total[:-1, None]  # each holding's part of each day's return
        daily = moves.sum(axis=1)
        centred = daily - daily.mean()
        covariances = (moves - moves.mean(axis=0)).T @ centred / (len(daily) - 1)  # each part's with the whole
        contributions = covariances / daily.std(ddof=1) * math.sqrt(TRADING_DAYS)
        for entity, contribution in zip(span.drop("date").columns, contributions.tolist(), strict=True):
            weight = weights[entity]
            out.append({"window": window, "entity_id": entity, "weight": weight, "contribution": contribution,
                        "marginal": contribution / weight, "share": contribution / volatility[window]["value"]})
    return out


COMPANY_FLAG_SHARES = ("LiquidityConcern", "HighLeverage", "LossMaking", "CashBurn", "AltmanDistressZone",
                       "DeepDrawdown", "HighVolatility")
"""The company flags whose share of a portfolio's value its narrator is given (``liquidity_concern_share``), zero
where no holding carries one: a reader of a portfolio asks these first."""


def portfolio_context(portfolio: Portfolio, flags: list[dict[str, Any]], shares: list[dict[str, Any]],
                      labels: dict[str, str]) -> Context:
    """What a narrator may use for a portfolio: its figures (concentration, fundamentals, the risk of every window,
    the share of its value carrying each company flag), its own flags, the company flags its holdings carry (by
    their ``labels``), and the names an answer may write (its largest holding, largest sector, largest contributor
    to volatility)."""
    by_id = {h["entity_id"]: h for h in portfolio.holdings}
    concentration = portfolio.concentration
    metrics: dict[str, float | None] = {
        "market_value": portfolio.market_value, "holdings_count": float(concentration["holdings"]),
        **{k: concentration[k] for k in ("top_1", "top_5", "top_10", "herfindahl", "effective_holdings")},
        **{f["metric"]: f["value"] for f in portfolio.fundamentals},
        **{r["metric"]: r["value"] for r in portfolio.risk},
    }
    held = {s["flag"]: s["share"] for s in shares}
    metrics |= {flag_share(flag): held.get(flag, 0.0) for flag in COMPANY_FLAG_SHARES}
    names = {"largest_holding": by_id[concentration["largest"]]["name"]}
    top = portfolio.exposures["sector"][0]
    if top["name"] != NOT_GIVEN:  # the largest group a sector: holdings with none given are no sector to name
        metrics["largest_sector_weight"] = top["weight"]
        names["top_sector"] = top["name"]
    contributions = [c for c in portfolio.contributions if c["window"] == "1y"]
    if contributions:
        top = max(contributions, key=lambda c: c["contribution"])
        metrics["top_contributor_share"] = top["share"]
        names["top_contributor"] = by_id[top["entity_id"]]["name"]
    ends = [r["end"] for r in portfolio.risk if r["end"]]
    last = max(ends) if ends else max(h["price_date"] for h in portfolio.holdings)
    return Context(
        entity_id=portfolio.portfolio_id, company=portfolio.name, sector=None, currency=portfolio.base_currency,
        fiscal_year=last.year, fiscal_period=PORTFOLIO, metrics=metrics, prior={}, flags=flags,
        findings=portfolio.findings, as_of=last.isoformat(), benchmark=portfolio.benchmark, names=names,
        holdings=tuple(sorted({*by_id, *(h["name"] for h in portfolio.holdings)})),
        carried=tuple(sorted(labels.get(s["flag"], s["flag"]) for s in shares if s["share"] > 0)))
