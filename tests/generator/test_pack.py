"""One company's pack: its five files, and the report they make, from the shared sample run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import rdflib

from generator.graph import NAMESPACE, flag_records
from generator.pack import metric_records, write_entity
from generator.pipeline import answer
from generator.sample import ROLES


def test_a_company_s_pack_holds_its_facts_findings_flags_answers_and_graph(sample_run: Any, tmp_path: Path) -> None:
    restated = ROLES["restated"]
    answered = answer(sample_run, [restated])[restated]
    report = write_entity(sample_run, restated, tmp_path, "run-1", "2026-11-28", answered)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "answers.json", "facts.json", "findings.json", "flags.json", "graph.ttl"]
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
