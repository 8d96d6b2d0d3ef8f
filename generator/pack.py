"""One company's pack: facts.json, findings.json, flags.json, answers.json and graph.ttl, and what its report
shows (:class:`Report`), which :mod:`generator.render` prints."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import rdflib

from generator.answers import narrate
from generator.ask import Asked
from generator.graph import flag_names, flag_records, ontology_graph, turtle
from generator.graph_queries import FLAG_SHARES, flag_shares
from generator.metrics import definition
from generator.narrator import Answer, Context
from generator.outputs import folder_names, write_atomic, write_json
from generator.pipeline import FactsRun, answer
from generator.portfolio import Portfolio, portfolio_context
from generator.provenance import Provenance


@dataclass(frozen=True)
class Levels:
    """One total-return series (dividends reinvested, splits undone), as plain lists: what a market chart draws,
    small enough to be pickled to a printing process with the report."""

    entity_id: str
    dates: list[date]
    levels: list[float]


@dataclass(frozen=True)
class MarketView:
    """What the report's market section shows: the company's market.json rows at the as-of date, the benchmark they
    are measured against, and the share's and the benchmark's total-return series over the longest window the
    share has (five years at most; no dates where no window ends at the as-of date)."""

    as_of: date
    benchmark: str | None
    records: list[dict[str, Any]]
    share: Levels
    index: Levels | None


@dataclass
class Report:
    """Everything one company's report shows: its report period's context, the answers, the findings and every
    facts.json row (the provenance of each printed figure), its market (None without prices), with the run it
    belongs to and the seconds its files took."""

    context: Context
    answers: list[Answer]
    findings: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    run_id: str
    as_of: str
    timings: dict[str, float] = field(default_factory=dict)
    market: MarketView | None = None
    asked: list[dict[str, Any]] = field(default_factory=list)
    """The reader's own questions (a run's ``custom_questions``), answered by programs: their answers.json records."""


def metric_records(run: FactsRun, entity_id: str) -> list[dict[str, Any]]:
    """facts.json rows: the figure, how it is defined, the inputs it used and where each came from."""
    provenance = Provenance(run.analysis, run.ingested.facts, entity_id)
    out = []
    for row in run.analysis.metrics.filter(pl.col("entity_id") == entity_id).iter_rows(named=True):
        m = definition(row["metric"])
        if row["value"] is None and m.category.startswith("line_item"):
            continue
        period = provenance.period(row["fiscal_year"], row["fiscal_period"])
        inputs, sources = provenance.of(row["metric"], row["fiscal_year"], row["fiscal_period"])
        record: dict[str, Any] = {
            "entity_id": entity_id,
            "fiscal_year": row["fiscal_year"],
            "fiscal_period": row["fiscal_period"],
            "period_end": period["period_end"],
            "metric": row["metric"],
            "value": row["value"],
            "unit": m.unit,
            "currency": period["currency"] if m.unit in ("currency", "currency_per_share") else None,
            "category": m.category,
            "favourable": m.favourable,
            "formula": m.formula + (" (trailing twelve months)" if row["metric"].endswith("_ttm") else ""),
            "inputs": inputs,
            "sources": sources,
        }
        if row["value"] is None:
            record["reason"] = row["reason"]
        out.append(record)
    return out


def market_records(run: FactsRun, entity_id: str) -> list[dict[str, Any]]:
    """market.json rows: each market and valuation metric at the as-of date, the value or null and the reason, the
    window or the statements it used, and the price-file lines and filings it comes from (empty for a company
    with no prices)."""
    rows = run.market.filter(pl.col("entity_id") == entity_id)
    window = ("measure", "window", "start", "end", "observations", "benchmark")
    valued = ("price", "price_date", "period", "known", "shares", "split_factor")
    out = []
    for row in rows.iter_rows(named=True):
        keep = ("entity_id", "metric", "value", "unit", "reason",
                *(window if row["window"] else valued),
                *(("peak_date", "trough_date") if row["measure"] == "max_drawdown" else ()),
                *(("sector_median", "sector_companies") if row["metric"].endswith("_vs_sector") else ()), "sources")
        record = {k: row[k] for k in keep}
        record["as_of"] = run.as_of
        out.append(record)
    return out


def market_view(run: FactsRun, entity_id: str, records: list[dict[str, Any]]) -> MarketView | None:
    """The market section of one company's report from its market.json rows, with the series its charts draw: from
    the first close of its longest window to the as-of date, its own and its benchmark's (None without prices)."""
    if not records:
        return None
    benchmark = next((r["benchmark"] for r in records if r.get("benchmark")), None)
    first = min((r["start"] for r in records if r.get("start")), default=None)
    def series(entity: str) -> Levels:
        own = run.levels.get(entity)
        rows = own.filter(pl.col("date").is_between(first, run.as_of)) if own is not None and first else None
        return Levels(entity, [] if rows is None else rows["date"].to_list(),
                      [] if rows is None else rows["level"].to_list())

    return MarketView(run.as_of, benchmark, records, series(entity_id), series(benchmark) if benchmark else None)


def asked_records(asked: Sequence[Asked]) -> list[dict[str, Any]]:
    """answers.json records of the reader's own questions: ``question_id`` ``custom-1``, ``custom-2``..., the origin
    ``program``, the program and what it read (``facts_used``), and the answer's fields of ``finreport ask --json``."""
    return [{"question_id": f"custom-{i}", "question": a.question, "text": a.text, "origin": "program",
             "verification": {"verified": not a.refused, "refused": a.refused, "reason": a.reason},
             "facts_used": a.sources} | a.record() for i, a in enumerate(asked, 1)]


def write_entity(run: FactsRun, entity: str, folder: Path, run_id: str, as_of: str,
                 answered: tuple[Context, list[Answer]], tbox: rdflib.Graph | None = None,
                 asked: Sequence[Asked] = ()) -> Report:
    """One company's facts, findings, flags, answers (the catalogue's, then the reader's own questions) and graph
    files; returns what its report shows."""
    t0 = time.perf_counter()
    findings, consistency = run.entity_findings(entity)
    facts = metric_records(run, entity)
    write_json(folder / "facts.json", facts)
    write_json(folder / "findings.json", findings)
    write_json(folder / "flags.json", flag_records(run.graph, entity) + consistency)
    context, answers = answered
    custom = asked_records(asked)
    write_json(folder / "answers.json", [a.record() for a in answers] + custom)
    if market := market_records(run, entity):
        write_json(folder / "market.json", market)
    view = market_view(run, entity, market)
    t1 = time.perf_counter()
    write_atomic(folder / "graph.ttl", turtle(run.graph, entity, tbox))
    timings = {"facts_s": t1 - t0, "graph_export_s": time.perf_counter() - t1}
    return Report(context, answers, findings + consistency, facts, run_id, as_of, timings, view, custom)


def write_all(run: FactsRun, out: Path, run_id: str, as_of: str) -> dict[str, str]:
    """Every company's and portfolio's pack, answered by the reference narrator, and rejected.csv (``finreport
    facts``: no model, no PDF); returns the folder of each company."""
    t0 = time.perf_counter()
    folders = folder_names(run.entities)
    answered = answer(run, run.entities)
    run.timings["answers_s"] = time.perf_counter() - t0
    tbox = ontology_graph(run.graph)
    for entity, folder in folders.items():
        write_entity(run, entity, out / folder, run_id, as_of, answered[entity], tbox)
    books = narrate(portfolio_contexts(run))
    book_folders = folder_names([p.portfolio_id for p in run.portfolios])
    for portfolio in run.portfolios:
        write_portfolio(run, portfolio, out / PORTFOLIOS / book_folders[portfolio.portfolio_id], run_id, as_of,
                        books[portfolio.portfolio_id])
    write_atomic(out / "rejected.csv", run.ingested.rejected.write_csv())
    run.timings["write_s"] = time.perf_counter() - t0
    return folders


PORTFOLIOS = "portfolios"
"""The folder of the run's output that holds a folder per portfolio."""


@dataclass
class PortfolioReport:
    """Everything one portfolio's report shows: portfolio.json's record, its flags and its holdings' flags by value
    (flags.json), the answers, the value series of the buy-and-hold portfolio and its benchmark's over the longest
    window it has, with the run it belongs to."""

    context: Context
    answers: list[Answer]
    record: dict[str, Any]
    flags: list[dict[str, Any]]
    """flags.json: the portfolio's own categories (``kind`` "portfolio", explained), then each company flag its
    holdings carry with the share of the value that does (``kind`` "holdings", from :data:`FLAG_SHARES`)."""
    series: Levels
    index: Levels | None
    run_id: str
    as_of: str
    timings: dict[str, float] = field(default_factory=dict)


def portfolio_flags(run: FactsRun, portfolio_id: str) -> list[dict[str, Any]]:
    """flags.json rows of one portfolio: its own categories, then its holdings' company flags by value, the
    largest share first, each labelled as the ontology labels it."""
    labels = flag_names(run.graph.tbox)
    own = [{"kind": "portfolio", **vars(f)} for f in run.graph.portfolio_flags if f.entity_id == portfolio_id]
    held = [{"kind": "holdings", "flag": s["flag"], "label": labels.get(s["flag"], s["flag"]),
             "severity": s["severity"], "share": s["share"], "holdings": s["holdings"]}
            for s in flag_shares(run.graph, portfolio_id)]
    return own + sorted(held, key=lambda f: (-f["share"], f["flag"]))


def portfolio_contexts(run: FactsRun) -> dict[str, Context]:
    """What a narrator may use for each portfolio of the run (:func:`generator.portfolio.portfolio_context`)."""
    labels = flag_names(run.graph.tbox)
    return {p.portfolio_id: portfolio_context(
        p, [vars(f) for f in run.graph.portfolio_flags if f.entity_id == p.portfolio_id],
        flag_shares(run.graph, p.portfolio_id), labels) for p in run.portfolios}


def write_portfolio(run: FactsRun, portfolio: Portfolio, folder: Path, run_id: str, as_of: str,
                    answered: tuple[Context, list[Answer]]) -> PortfolioReport:
    """One portfolio's portfolio.json, flags.json and answers.json; returns what its report shows."""
    t0 = time.perf_counter()
    flags = portfolio_flags(run, portfolio.portfolio_id)
    record = portfolio.record(run.as_of) | {"flags_query": FLAG_SHARES.strip()}
    write_json(folder / "portfolio.json", record)
    write_json(folder / "flags.json", flags)
    context, answers = answered
    write_json(folder / "answers.json", [a.record() for a in answers])
    first = min((r["start"] for r in portfolio.risk if r["start"] and r["value"] is not None), default=None)
    series = portfolio.series.filter(pl.col("date") >= first) if first else portfolio.series.clear()
    index = None
    if portfolio.benchmark and (own := run.levels.get(portfolio.benchmark)) is not None and first:
        rows = own.filter(pl.col("date").is_between(first, run.as_of))
        index = Levels(portfolio.benchmark, rows["date"].to_list(), rows["level"].to_list())
    return PortfolioReport(context, answers, record, flags,
                           Levels(portfolio.portfolio_id, series["date"].to_list(), series["value"].to_list()), index,
                           run_id, as_of, {"portfolio_files_s": time.perf_counter() - t0})
