"""The answers stage: for each company's report period, every catalogue question put to a narrator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from generator import graph_queries
from generator.graph import Graph, flag_records
from generator.metrics import Analysis
from generator.narrator import Answer, Context, Narrator, ReferenceNarrator, catalogue


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


def context(analysis: Analysis, graph: Graph, findings: list[dict[str, Any]], entity_id: str,
            period: tuple[int, str] | None = None) -> Context:
    """What a narrator may use for one company: its report period, or the given (fiscal year, period)."""
    year, period = period or report_period(analysis, entity_id)
    attrs = period_row(analysis, entity_id, year, period)
    peers = _peer_values(analysis, graph_queries.peers_of(graph, entity_id), year, period)
    return Context(
        entity_id=entity_id,
        company=str(attrs["entity_name"]),
        sector=attrs["sector"],
        currency=str(attrs["currency"]),
        fiscal_year=year,
        fiscal_period=period,
        metrics=period_values(analysis, entity_id, year, period),
        prior=period_values(analysis, entity_id, year - 1, period),
        flags=[f for f in flag_records(graph, entity_id) if (f["fiscal_year"], f["fiscal_period"]) == (year, period)],
        findings=findings,
        peers={p: v for p, v in peers.items() if v},
    )


def narrate(analysis: Analysis, graph: Graph, findings: dict[str, list[dict[str, Any]]], entities: Sequence[str],
            narrator: Narrator | None = None, questions: Sequence[str] = ()) -> dict[str, tuple[Context, list[Answer]]]:
    """Every catalogue question (or the ``questions`` ids, and always the executive summary) for every company,
    in one call to the narrator."""
    narrator = narrator or ReferenceNarrator()
    contexts = {e: context(analysis, graph, findings.get(e, []), e) for e in entities}
    chosen = [q for q in catalogue() if q.summary or not questions or q.id in questions]
    answers = narrator.answer_all([(q, contexts[e]) for e in entities for q in chosen])
    return {e: (contexts[e], answers[i * len(chosen):(i + 1) * len(chosen)]) for i, e in enumerate(entities)}
