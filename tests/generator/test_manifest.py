"""The run's record (manifest.json), each company's key figures, and the summary a person reads at the end."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from generator.checks import accounting_checks
from generator.graph import build as build_graph
from generator.graph import reason
from generator.ingest import Ingested, ingest
from generator.ingest.validate import empty_rejected
from generator.manifest import build_manifest, key_figures, summary, unusable_entities, write_run
from generator.market import MARKET_SCHEMA
from generator.metrics import compute_metrics
from generator.periods import pivot
from generator.pipeline import FactsRun, build
from generator.sample import ROLES

from builders import facts_frame

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real-filings"


def test_the_manifest_accounts_for_every_row_and_names_each_input_by_its_hash(sample_run: Any,
                                                                             sample_dir: Path) -> None:
    manifest = build_manifest(sample_run, "run-1", "2026-11-28", {e: e for e in sample_run.entities})
    counts = manifest["counts"]
    assert counts["entities"] == 14
    assert counts["rows_in"] == counts["rows_accepted"] + counts["rows_rejected"]
    assert (counts["restatements"], counts["rows_rejected"]) == (1, 0)
    assert counts["findings"] == {"info": 1, "warning": 1}  # the restatement, the missing quarter
    assert counts["metric_values"] > 0 and counts["metric_absent"] > 0
    source, quotes, benchmarks = sorted(manifest["inputs"], key=lambda f: f["adapter"])
    assert (quotes["path"], quotes["adapter"]) == (str(sample_dir / "prices" / "prices.csv"), "prices (long)")
    assert (benchmarks["path"], benchmarks["adapter"]) == (str(sample_dir / "prices" / "benchmarks.csv"), "sectors")
    long_csv = sample_dir / "long" / "facts.csv"
    assert (source["path"], source["adapter"]) == (str(long_csv), "long")
    assert source["sha256"] == hashlib.sha256(long_csv.read_bytes()).hexdigest()
    assert manifest["entity_folders"] == {} and manifest["failures"] == [] and manifest["refused_files"] == []
    assert manifest["ontology"]["flags"] == len(sample_run.graph.flags)
    assert {"ingest_s", "metrics_s", "market_s", "graph_s"} <= set(manifest["timings"])
    assert manifest["market"]["benchmarks"] == ["SMPLX"] and manifest["market"]["prices_only"] == []
    assert manifest["market"]["entities"] == 15 and manifest["market"]["metric_values"] > 0
    json.dumps(manifest)  # manifest.json holds it as it is


def test_key_figures_are_the_report_period_s_formatted_with_its_flags(sample_run: Any) -> None:
    row = key_figures(sample_run, ROLES["loss_maker"])
    assert (row["entity"], row["company"], row["period"]) == (ROLES["loss_maker"], "Voltaris Motors Inc.", "FY2025")
    assert row["current ratio"].endswith("x") and row["revenue"].startswith("$")
    assert "liquidity concern" in row["flags"].split("; ")
    assert key_figures(sample_run, ROLES["non_usd"])["revenue"].startswith("€")


def test_the_summary_says_what_was_read_found_and_written(sample_run: Any, tmp_path: Path) -> None:
    manifest = build_manifest(sample_run, "run-1", "2026-11-28", {})
    lines = summary(manifest, tmp_path).splitlines()
    assert lines[0].startswith("14 entities · ") and lines[0].endswith(" 0 rejected")
    assert lines[1].startswith("findings: 1 info, 1 warning · metrics: ")
    assert lines[2].startswith(f"graph: {len(sample_run.graph.flags):,} flags inferred by HermiT")
    assert lines[3].startswith(f"market: 15 shares at {sample_run.as_of} against SMPLX: ")
    assert lines[-1] == f"wrote {tmp_path}"
    assert manifest["portfolios"] == {"as_of": sample_run.as_of.isoformat(), "valued": [], "folders": {},
                                      "failures": [], "flags": 0}  # no holdings among its inputs
    books = manifest | {"portfolios": {"as_of": "2026-11-27", "valued": ["A", "B"], "folders": {}, "flags": 3,
                                       "failures": [{"portfolio_id": "C", "error": "no EUR/USD rate"}]}}
    lines = summary(books, tmp_path).splitlines()
    assert "portfolios: 2 valued at 2026-11-27 (3 flags inferred), 1 not valued" in lines
    assert "FAILED portfolio C: no EUR/USD rate" in lines
    night = manifest | {"reports": ["a", "b", "c"], "reuse": {"reused": {"a": {}, "b": {}}},
                        "changes": {"changed": 1, "companies": 3, "risk_flags_raised": 2, "first": 0}}
    lines = summary(night, tmp_path).splitlines()
    assert "reports: 3 PDFs written (2 reused unchanged from the last run)" in lines
    assert f"since the last run: 1 of 3 reports changed, 2 new risk flags ({tmp_path / 'changes.json'})" in lines
    failed = manifest | {"failures": [{"entity_id": "X\n" + "Y" * 100, "stage": "ingest", "error": "broken"}]}
    line = next(line for line in summary(failed, tmp_path).splitlines() if line.startswith("FAILED"))
    assert line == f"FAILED X\\n{'Y' * 58}… (102 characters) (ingest): broken"


def test_a_company_none_of_whose_rows_is_usable_is_a_failure(tmp_path: Path) -> None:
    path = tmp_path / "facts.csv"
    path.write_text("entity_id,entity_name,fiscal_year,fiscal_period,period_end,item,value,currency\n"
                    "GOOD,Good Co,2024,FY,2024-12-31,revenue,10,USD\n"
                    "BAD,Bad Co,2024,FY,2024-12-31,revenue,ten,USD\n"
                    "BAD,Bad Co,2024,FY,2024-12-31,net_income,1,XXX\n")
    assert unusable_entities(ingest([path])) == [
        {"entity_id": "BAD", "stage": "ingest", "error": "none of its 2 rows is usable (see rejected.csv)"}]


def test_prices_beside_statements_are_read_and_a_company_with_prices_alone_is_reported(tmp_path: Path) -> None:
    """Price files sit beside statements in the inputs: recognised by their columns, every row used or rejected; a
    company with statements is reported, and so is one with prices alone (its market figures; its rejected price
    rows do not make it "unusable"), while a company all of whose statement rows were rejected fails."""
    facts, quotes = tmp_path / "facts.csv", tmp_path / "prices.csv"
    facts.write_text("entity_id,entity_name,fiscal_year,fiscal_period,period_end,item,value,currency\n"
                     "GOOD,Good Co,2024,FY,2024-12-31,revenue,10,USD\n")
    quotes.write_text("entity_id,date,close\nGOOD,2024-12-30,5\nGOOD,2024-12-31,oops\nONLY,2024-12-31,7\n"
                      "BAD,2024-12-31,3\n")
    facts.write_text(facts.read_text() + "BAD,Bad Co,2024,FY,2024-12-31,revenue,ten,USD\n")
    ingested = ingest([tmp_path])
    assert [(Path(f.path).name, f.adapter, f.rows) for f in ingested.files] == [
        ("prices.csv", "prices (long)", 4), ("facts.csv", "long", 2)]
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height == 6
    assert ingested.prices["entity_id"].to_list() == ["BAD", "GOOD", "ONLY"]
    assert sorted(ingested.rejected.select("line", "column", "reason").rows()) == [
        (3, "close", "close 'oops' is not a number"), (3, "value", "unparseable number 'ten'")]
    assert unusable_entities(ingested) == [
        {"entity_id": "BAD", "stage": "ingest", "error": "none of its 1 rows is usable (see rejected.csv)"}]
    run = build([tmp_path], as_of=date(2024, 12, 31))
    assert (run.entities, run.priced_only) == (["GOOD", "ONLY"], ["ONLY"])


def test_hostile_entity_gets_a_safe_folder_listed_in_the_manifest(tmp_path: Path) -> None:
    facts = facts_frame({("../../etc", 2024, "FY"): {"revenue": 10, "net_income": 1}})
    ingested = Ingested(facts=facts, superseded=facts.clear(), rejected=empty_rejected())
    analysis = compute_metrics(facts)
    run = FactsRun(ingested, analysis, accounting_checks(pivot(facts)), pl.DataFrame(schema=MARKET_SCHEMA),
                   reason(build_graph(analysis)), date(2024, 12, 31))
    manifest = write_run(run, tmp_path / "out")
    folder = manifest["entity_folders"]["../../etc"]
    assert (tmp_path / "out" / folder / "facts.json").exists()
    assert not (tmp_path / "etc").exists()
    records = json.loads((tmp_path / "out" / folder / "facts.json").read_text())
    assert {r["entity_id"] for r in records} == {"../../etc"}
    assert sorted(p.name for p in (tmp_path / "out" / folder).iterdir()) == [
        "answers.json", "facts.json", "findings.json", "flags.json", "graph.ttl"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text()) == manifest


def test_the_run_summary_says_how_many_rejected_rows_are_unmapped_tags_and_names_the_most_frequent() -> None:
    ingested = ingest([REAL / "sofi_companyfacts.json"])
    unmapped = ingested.unmapped().to_dicts()
    manifest = {
        "counts": {"entities": 1, "rows_in": ingested.rows_in, "rows_accepted": ingested.accepted_count,
                   "rows_superseded": ingested.superseded.height, "restatements": ingested.restatements().height,
                   "rows_rejected": ingested.rejected.height, "findings": {}, "metric_values": 0, "metric_absent": 0},
        "ontology": {"flags": 0, "version": "1.0.0", "inconsistent_snapshots": 0}, "timings": {},
        "unmapped_items": unmapped,
    }
    lines = summary(manifest, Path("out")).splitlines()
    unread = sum(u["rows"] for u in unmapped)
    assert lines[0].endswith(f"{ingested.rejected.height:,} rejected ({unread:,} of them facts of unmapped items)")
    top = unmapped[0]
    assert lines[3].startswith(f"unmapped items: {len(unmapped):,} labels or tags not read, most often "
                               f"{top['item']} ({top['rows']:,})")
