"""One company's pack: its files, and the report they make, from the shared sample run."""

from __future__ import annotations

import dataclasses
import json
import pickle
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import rdflib

from generator.graph import NAMESPACE, flag_records
from generator.market import total_return_levels
from generator.pack import market_records, metric_records, write_entity
from generator.pipeline import answer
from generator.sample import MARKET_INDEX, ROLES


def test_a_company_s_pack_holds_its_facts_findings_flags_answers_and_graph(sample_run: Any, tmp_path: Path) -> None:
    restated = ROLES["restated"]
    answered = answer(sample_run, [restated])[restated]
    report = write_entity(sample_run, restated, tmp_path, "run-1", "2026-11-28", answered)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "answers.json", "facts.json", "findings.json", "flags.json", "graph.ttl", "market.json"]
    assert (report.run_id, report.as_of, report.context.entity_id) == ("run-1", "2026-11-28", restated)
    assert set(report.timings) == {"facts_s", "graph_export_s"}
    saved_facts = json.loads((tmp_path / "facts.json").read_text())
    assert [(r["metric"], r["fiscal_year"], r["fiscal_period"], r["value"]) for r in saved_facts] == [
        (r["metric"], r["fiscal_year"], r["fiscal_period"], r["value"]) for r in report.facts]
    findings = json.loads((tmp_path / "findings.json").read_text())
    assert [f["check"] for f in findings] == ["restatement"] and findings == report.findings
    assert set(findings[0]["facts"]) == {"original_value", "restated_value"}
    flags = json.loads((tmp_path / "flags.json").read_text())
    assert [(f["flag"], f["fiscal_year"], f["fiscal_period"]) for f in flags] == [
        (f["flag"], f["fiscal_year"], f["fiscal_period"]) for f in flag_records(sample_run.graph, restated)]
    saved = json.loads((tmp_path / "answers.json").read_text())
    assert [a["question_id"] for a in saved] == [a.question_id for a in report.answers]
    assert saved[0]["text"] == report.answers[0].text


def test_the_graph_file_is_the_company_s_reasoned_graph_with_the_ontology(sample_run: Any, tmp_path: Path) -> None:
    volt = ROLES["loss_maker"]
    write_entity(sample_run, volt, tmp_path, "run-1", "2026-11-28", answer(sample_run, [volt])[volt])
    graph = rdflib.Graph().parse(tmp_path / "graph.ttl", format="turtle")
    snapshot = rdflib.URIRef(sample_run.graph.snapshots[(volt, 2025, "FY")].iri)
    assert (snapshot, rdflib.RDF.type, rdflib.URIRef(NAMESPACE + "CashBurn")) in graph
    others = {s.iri for (e, _, _), s in sample_run.graph.snapshots.items() if e != volt}
    assert not any(str(s) in others for s in graph.subjects())  # its own snapshots only


def test_every_figure_has_its_sources_or_says_why_it_is_absent(sample_run: Any) -> None:
    kola = ROLES["cash_cow"]
    records = metric_records(sample_run, kola)
    assert {r["entity_id"] for r in records} == {kola}
    for r in records:
        assert {"metric", "value", "unit", "formula", "inputs", "sources", "period_end"} <= set(r)
        if r["value"] is None:
            assert r["reason"], r
        else:
            assert r["sources"], r
    revenue = next(r for r in records if (r["metric"], r["fiscal_year"], r["fiscal_period"]) == ("revenue", 2025, "FY"))
    assert revenue["currency"] == "USD" and re.search(r"facts\.csv:\d+$", revenue["sources"][0]), revenue
    ttm = next(r for r in records if r["metric"] == "net_margin_ttm")
    assert ttm["formula"].endswith("(trailing twelve months)")
    ratio = next(r for r in records if r["metric"] == "current_ratio")
    assert ratio["currency"] is None


def test_a_priced_company_s_report_has_its_market_and_the_series_its_charts_draw(sample_run: Any,
                                                                                 tmp_path: Path) -> None:
    """The market section's data travels with the report to a printing process: the market.json rows, and the
    share's and the benchmark's total-return series over the longest window (five years), plain and small."""
    volt = ROLES["loss_maker"]
    report = write_entity(sample_run, volt, tmp_path, "run-1", "2026-11-28", answer(sample_run, [volt])[volt])
    view = report.market
    assert view is not None and (view.as_of, view.benchmark) == (sample_run.as_of, MARKET_INDEX)
    assert view.records == market_records(sample_run, volt)
    assert json.loads((tmp_path / "market.json").read_text()) == json.loads(json.dumps(view.records, default=str))
    five = next(r for r in view.records if r["metric"] == "return_5y")
    assert (view.share.entity_id, view.share.dates[0], view.share.dates[-1]) == (volt, five["start"], five["end"])
    assert view.share.levels[-1] / view.share.levels[0] - 1 == pytest.approx(five["value"], rel=1e-12)
    assert view.index is not None and view.index.entity_id == MARKET_INDEX
    assert (view.index.dates[0], view.index.dates[-1]) == (five["start"], five["end"])
    everything = total_return_levels(sample_run.ingested.prices).filter(pl.col("entity_id") == MARKET_INDEX)
    assert len(view.index.dates) < everything.height  # the window, not the whole history
    assert len(pickle.dumps(report.market)) < 200_000


def test_a_company_without_prices_has_no_market_section_and_no_market_file(sample_run: Any, tmp_path: Path) -> None:
    kola = ROLES["cash_cow"]
    unpriced = dataclasses.replace(sample_run, market=sample_run.market.filter(pl.col("entity_id") != kola))
    report = write_entity(unpriced, kola, tmp_path, "run-1", "2026-11-28", answer(sample_run, [kola])[kola])
    assert report.market is None
    assert not (tmp_path / "market.json").exists()


def test_a_company_s_files_travel_as_plain_data_and_make_the_same_files(sample_run: Any, tmp_path: Path) -> None:
    """What a company's task needs from the run is taken in the flow's process (the Owlready2 world does not
    pickle); unpickled elsewhere (a Dask worker), it writes the files the run itself writes, graph.ttl included."""
    from generator import graph as kg
    from generator.pack import entity_files, ontology_triples, write_files

    volt = ROLES["loss_maker"]
    answered = answer(sample_run, [volt])[volt]
    data = pickle.loads(pickle.dumps(entity_files(sample_run, volt, ontology_triples(sample_run.graph))))
    assert data.graph.turtle() == kg.turtle(sample_run.graph, volt)
    write_files(data, tmp_path / "plain", "run-1", "2026-11-28", pickle.loads(pickle.dumps(answered)))
    write_entity(sample_run, volt, tmp_path / "run", "run-1", "2026-11-28", answered)
    for name in ("facts.json", "findings.json", "flags.json", "answers.json", "market.json", "graph.ttl"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name


def test_a_portfolio_s_files_travel_as_plain_data(tmp_path: Path, sample_dir: Path, sample_as_of: Any) -> None:
    from generator.answers import narrate
    from generator.pack import portfolio_contexts, portfolio_files, write_portfolio, write_portfolio_files
    from generator.pipeline import build

    run = build([sample_dir / "long", sample_dir / "prices", sample_dir / "portfolios"], as_of=sample_as_of)
    book = run.portfolios[0]
    answered = narrate(portfolio_contexts(run))[book.portfolio_id]
    data = pickle.loads(pickle.dumps(portfolio_files(run, book)))
    plain = write_portfolio_files(data, tmp_path / "plain", "run-1", "2026-11-28", answered)
    here = write_portfolio(run, book, tmp_path / "run", "run-1", "2026-11-28", answered)
    assert (plain.series, plain.index, plain.flags) == (here.series, here.index, here.flags)
    for name in ("portfolio.json", "flags.json", "answers.json"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "run" / name).read_bytes(), name
