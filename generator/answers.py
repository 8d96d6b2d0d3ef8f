"""The answers stage: for each company's report period, every catalogue question put to a narrator."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import polars as pl

from generator import graph_queries
from generator.graph import Graph, flag_records
from generator.market import MARKET_SCHEMA
from generator.metrics import Analysis
from generator.narrator import Answer, Context, Narrator, ReferenceNarrator, asked, catalogue
from generator.present import MARKET


def report_period(analysis: Analysis, entity_id: str) -> tuple[int, str]:
    """The latest period with data; a fiscal year wins over its own fourth quarter (same end date)."""
    rows = analysis.base.filter(pl.col("entity_id") == entity_id).with_columns(
        __annual=(pl.col("fiscal_period") == "FY")
    ).sort("period_end", "__annual")
    last = rows.row(-1, named=True)
    return last["fiscal_year"], str(last["fiscal_period"])


def period_row(analysis: Analysis, entity_id: str, year: int, period: str) -> dict[str, Any]:
    """The period's attributes: entity name, sector, currency, dates."""
    return analysis.base.filter((pl.col("entity_id") == entity_id) & (pl.col("fiscal_year") == year)
                                & (pl.col("fiscal_period") == period)).row(0, named=True)


def period_values(analysis: Analysis, entity_id: str, year: int, period: str) -> dict[str, float | None]:
    """Every metric of one company and period, by name."""
    rows = analysis.metrics.filter(
        (pl.col("entity_id") == entity_id) & (pl.col("fiscal_year") == year) & (pl.col("fiscal_period") == period)
    )
    return dict(zip(rows["metric"].to_list(), rows["value"].to_list(), strict=True))


def _peer_values(analysis: Analysis, peers: list[str], year: int, period: str) -> dict[str, dict[str, float | None]]:
    """The peers' values for the same period, in one pass over the metrics (not one per peer)."""
    rows = analysis.metrics.filter(pl.col("entity_id").is_in(peers) & (pl.col("fiscal_year") == year)
                                   & (pl.col("fiscal_period") == period))
    out: dict[str, dict[str, float | None]] = {}
    for entity, metric, value in rows.select("entity_id", "metric", "value").iter_rows():
        out.setdefault(entity, {})[metric] = value
    return out


def market_values(rows: pl.DataFrame) -> dict[str, float | None]:
    """A company's market and valuation metrics at the as-of date (its rows of the market table) by id, with each
    valuation ratio's sector median (``pe_ttm_sector_median``) where it is known."""
    values = dict(zip(rows["metric"].to_list(), rows["value"].to_list(), strict=True))
    relative = rows.filter(pl.col("metric").str.ends_with("_vs_sector") & pl.col("sector_median").is_not_null())
    return values | {f"{m.removesuffix('_vs_sector')}_sector_median": v
                     for m, v in zip(relative["metric"].to_list(), relative["sector_median"].to_list(), strict=True)}


def _about_market(rows: pl.DataFrame) -> tuple[str | None, str | None]:
    """(the date of the last close the figures are taken at, the benchmark) of a company's market rows."""
    ends = rows["end"].drop_nulls()
    dates = rows["price_date"].drop_nulls()
    last = ends.max() if not ends.is_empty() else dates.max() if not dates.is_empty() else None
    benchmarks = rows["benchmark"].drop_nulls()
    return (str(last) if last else None), (benchmarks[0] if not benchmarks.is_empty() else None)


def market_context(graph: Graph, market: pl.DataFrame, entity_id: str, as_of: date, currency: str | None,
                   sector: str | None = None) -> Context:
    """What a narrator may use for a company with prices and no statements: its market figures and flags, and the
    sector a sectors file gives it."""
    rows = market.filter(pl.col("entity_id") == entity_id)
    last, benchmark = _about_market(rows)
    company = graph.companies[entity_id].company if entity_id in graph.companies else None
    return Context(
        entity_id=entity_id, company=str(company.label[0]) if company is not None and company.label else entity_id,
        sector=sector,
        currency=currency or "USD", fiscal_year=as_of.year, fiscal_period=MARKET,
        metrics=market_values(rows), prior={},
        flags=[f for f in flag_records(graph, entity_id) if f["fiscal_period"] == MARKET],
        as_of=last, benchmark=benchmark)


def context(analysis: Analysis, graph: Graph, findings: list[dict[str, Any]], entity_id: str,
            period: tuple[int, str] | None = None, market: pl.DataFrame | None = None) -> Context:
    """What a narrator may use for one company: its report period, or the given (fiscal year, period), and its
    market figures at the as-of date when ``market`` has them."""
    year, period = period or report_period(analysis, entity_id)
    attrs = period_row(analysis, entity_id, year, period)
    peers = _peer_values(analysis, graph_queries.peers_of(graph, entity_id), year, period)
    rows = None if market is None else market.filter(pl.col("entity_id") == entity_id)
    priced = rows is not None and not rows.is_empty()
    last, benchmark = _about_market(rows) if priced else (None, None)
    return Context(
        entity_id=entity_id,
        company=str(attrs["entity_name"]),
        sector=attrs["sector"],
        currency=str(attrs["currency"]),
        fiscal_year=year,
        fiscal_period=period,
        metrics=period_values(analysis, entity_id, year, period) | (market_values(rows) if priced else {}),
        prior=period_values(analysis, entity_id, year - 1, period),
        flags=[f for f in flag_records(graph, entity_id) if (f["fiscal_year"], f["fiscal_period"]) == (year, period)
               or (priced and f["fiscal_period"] == MARKET)],
        findings=findings,
        peers={p: v for p, v in peers.items() if v},
        as_of=last, benchmark=benchmark,
    )



def contexts(analysis: Analysis, graph: Graph, findings: dict[str, list[dict[str, Any]]], entities: Sequence[str],
             market: pl.DataFrame | None = None, as_of: date | None = None,
             currencies: dict[str, str] | None = None, sectors: dict[str, str] | None = None) -> dict[str, Context]:
    """Each company's context: its report period with its market figures at ``as_of`` where ``market`` has them;
    a company with prices alone (no period in ``analysis``), its market figures (``currencies``: its prices'
    currency; ``sectors``: what a sectors file declared)."""
    stated = set(analysis.base["entity_id"].unique().to_list())
    market = pl.DataFrame(schema=MARKET_SCHEMA) if market is None else market
    # each company's rows, split off once: a filter of the whole table per company ran 5,000 times at scale
    own = {key[0]: rows for key, rows in market.filter(pl.col("entity_id").is_in(list(entities)))
           .partition_by("entity_id", as_dict=True).items()}
    empty = market.clear()
    return {e: context(analysis, graph, findings.get(e, []), e, market=own.get(e, empty)) if e in stated
            else market_context(graph, own.get(e, empty), e, as_of or date.today(), (currencies or {}).get(e),
                                (sectors or {}).get(e))
            for e in entities}


def narrate(contexts: dict[str, Context], narrator: Narrator | None = None, questions: Sequence[str] = ()
            ) -> dict[str, tuple[Context, list[Answer]]]:
    """Every catalogue question (or the ``questions`` ids, and always the executive summary) that each company is
    :func:`asked`, in one call to the narrator."""
    narrator = narrator or ReferenceNarrator()
    jobs = [(q, c) for c in contexts.values() for q in catalogue()
            if (q.summary or not questions or q.id in questions) and asked(q, c)]
    out: dict[str, tuple[Context, list[Answer]]] = {e: (c, []) for e, c in contexts.items()}
    for (_, ctx), answer in zip(jobs, narrator.answer_all(jobs), strict=True):
        out[ctx.entity_id][1].append(answer)
    return out
