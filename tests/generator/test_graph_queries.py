"""The SPARQL queries of the report layer, on the reasoned graph of the shared sample run."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from generator import graph_queries as q
from generator.sample import ROLES


def test_sparql_queries_answer_the_report_layer(sample_run: Any) -> None:
    graph = sample_run.graph
    volt = ROLES["loss_maker"]
    rows = q.flags_of(graph, volt)
    assert (2025, "FY", "CashBurn", "concern") in rows
    assert {(y, p, f) for y, p, f, _ in rows} == {(f.fiscal_year, f.fiscal_period, f.flag) for f in graph.flags
                                                 if f.entity_id == volt}
    facts = q.facts_of(graph, volt, 2025, "FY")
    assert facts["current_ratio"] == pytest.approx(
        sample_run.analysis.metrics.filter(entity_id=volt, fiscal_year=2025, fiscal_period="FY",
                                           metric="current_ratio")["value"][0])
    peers = q.peers_of(graph, volt)
    sector = sample_run.analysis.base.filter(pl.col("entity_id") == volt)["sector"][0]
    expected = sample_run.analysis.base.filter((pl.col("sector") == sector) & (pl.col("entity_id") != volt))[
        "entity_id"].unique().sort().to_list()
    assert peers == expected and peers
    assert (volt, 2025, "FY") in q.snapshots_with(graph, "LiquidityConcern")


def test_flags_come_in_period_order_with_their_severity(sample_run: Any) -> None:
    rows = q.flags_of(sample_run.graph, ROLES["cash_cow"])
    assert rows == sorted(rows)
    assert {severity for *_, severity in rows} <= {"concern", "watch", "positive"}
    assert (2025, "FY", "AltmanSafeZone", "positive") in rows
    assert q.flags_of(sample_run.graph, "NO-SUCH-COMPANY") == []


def test_a_snapshot_carries_the_metric_values_and_not_its_period(sample_run: Any) -> None:
    kola = ROLES["cash_cow"]
    facts = q.facts_of(sample_run.graph, kola, 2024, "FY")
    assert len(facts) > 10 and "fiscal_year" not in facts and "fiscal_period" not in facts
    metrics = sample_run.analysis.metrics.filter(entity_id=kola, fiscal_year=2024, fiscal_period="FY")
    values = dict(zip(metrics["metric"], metrics["value"], strict=True))
    for metric, value in facts.items():
        assert value == pytest.approx(values[metric]), metric
    assert q.facts_of(sample_run.graph, kola, 1999, "FY") == {}


def test_snapshots_of_a_category_include_those_of_its_subcategories(sample_run: Any) -> None:
    graph = sample_run.graph
    severe = set(q.snapshots_with(graph, "SevereLiquidityConcern"))
    assert severe and severe <= set(q.snapshots_with(graph, "LiquidityConcern"))
    assert severe == {(f.entity_id, f.fiscal_year, f.fiscal_period) for f in graph.flags
                      if f.flag == "SevereLiquidityConcern"}
