"""Incremental runs: what goes into a company's key, which earlier edition a run reuses or compares with, and how
reused files come into tonight's folder."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from generator import incremental, pipeline
from generator.graph import flag_records
from generator.incremental import Edition
from generator.pack import metric_records
from generator.pipeline import FactsRun
from generator.reports import ReportRequest


def unreasoned(inputs: list[Path], as_of: date) -> FactsRun:
    """The whole-run stages a key reads (ingest, metrics, market), without the reasoner."""
    ingested = pipeline.read_inputs(inputs)
    analysis, findings = pipeline.analyse(ingested)
    return FactsRun(ingested, analysis, findings, pipeline.price(ingested, as_of), None, as_of)  # type: ignore[arg-type]


@pytest.fixture
def copied(sample_dir: Path, tmp_path: Path) -> Path:
    for part in ("long", "prices"):
        shutil.copytree(sample_dir / part, tmp_path / part)
    return tmp_path


def restate(facts: Path, entity: str, factor: float) -> None:
    """One company's revenue of its last fiscal year multiplied in place (no line moves)."""
    lines = facts.read_text().splitlines()
    header = lines[0].split(",")
    col = {c: i for i, c in enumerate(header)}
    years = [int(c[col["fiscal_year"]]) for c in (line.split(",") for line in lines[1:])
             if c[0] == entity and c[col["fiscal_period"]] == "FY" and c[col["item"]] == "revenue"]
    for i, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == entity and cells[col["item"]] == "revenue" and cells[col["fiscal_period"]] == "FY" \
                and int(cells[col["fiscal_year"]]) == max(years):
            cells[col["value"]] = str(round(float(cells[col["value"]]) * factor))
            lines[i] = ",".join(cells)
    facts.write_text("\n".join(lines) + "\n")


def test_a_company_s_key_follows_its_rows_its_prices_and_the_run(copied: Path, sample_as_of: date) -> None:
    inputs = [copied / "long", copied / "prices"]
    run = unreasoned(inputs, sample_as_of)
    request = ReportRequest(narrator="reference")
    base = incremental.keys(run, run.entities, incremental.fingerprint(request))
    assert base == incremental.keys(unreasoned(inputs, sample_as_of), run.entities, incremental.fingerprint(request))
    assert set(base) == set(run.entities) and len(set(base.values())) == len(base)
    # a day later the market figures are measured to another day: every company with prices has a new key
    later = unreasoned(inputs, sample_as_of + timedelta(days=1))
    priced = set(later.market["entity_id"].unique().to_list())
    moved = incremental.keys(later, run.entities, incremental.fingerprint(request))
    assert {e for e in run.entities if moved[e] != base[e]} == priced & set(run.entities)
    # a figure restated by a hair: the company's key changes; its peers' too where they have prices (the sector's
    # median price-to-sales moved), not where they have statements alone (no peer's rank moved)
    restate(copied / "long" / "facts.csv", "ACME", 1.0001)
    after = incremental.keys(unreasoned(inputs, sample_as_of), run.entities, incremental.fingerprint(request))
    industrials = {e for e, s in incremental.sectors(run).items() if "Industrials" in s}
    assert {e for e in run.entities if after[e] != base[e]} == industrials
    alone = [copied / "long"]
    statements = incremental.keys(unreasoned(alone, sample_as_of), run.entities, incremental.fingerprint(request))
    restate(copied / "long" / "facts.csv", "ACME", 1.0001)
    again = incremental.keys(unreasoned(alone, sample_as_of), run.entities, incremental.fingerprint(request))
    assert {e for e in run.entities if again[e] != statements[e]} == {"ACME"}
    # what every report depends on
    prints = {incremental.fingerprint(r) for r in (
        request, ReportRequest(narrator="model"), ReportRequest(narrator="reference", questions=["liquidity"]),
        ReportRequest(narrator="reference", custom_questions=["What was ACME's revenue in 2024?"]))}
    assert len(prints) == 4
    everyone = incremental.keys(run, run.entities, incremental.fingerprint(request), asks_across=True)
    assert all(everyone[e] != base[e] for e in run.entities)


@pytest.mark.slow
def test_a_company_whose_key_holds_has_the_same_facts_flags_and_answers(copied: Path, sample_as_of: date) -> None:
    """A restatement large enough to reorder its sector: every company whose key did not change has the same
    facts, flags and answers (its peers' ranks among them) as a run would make again."""
    inputs = [copied / "long"]
    fingerprint = incremental.fingerprint(ReportRequest(narrator="reference"))
    before = pipeline.build(inputs, as_of=sample_as_of)
    restate(copied / "long" / "facts.csv", "ACME", 3.0)
    after = pipeline.build(inputs, as_of=sample_as_of)
    keys = [incremental.keys(r, r.entities, fingerprint) for r in (before, after)]
    same = {e for e in before.entities if keys[0][e] == keys[1][e]}
    peers = {e for e, s in incremental.sectors(before).items() if "Industrials" in s} - {"ACME"}
    assert "ACME" not in same and peers - same and same  # the restated company, a peer whose rank moved, the rest
    answers = [pipeline.answer(r, sorted(same)) for r in (before, after)]
    for entity in same:
        assert [a.text for a in answers[0][entity][1]] == [a.text for a in answers[1][entity][1]], entity
        assert metric_records(before, entity) == metric_records(after, entity)
        assert flag_records(before.graph, entity) == flag_records(after.graph, entity)


def finished(folder: Path, key: str, created: str, run_id: str = "r1", pdf: bool = True) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("facts.json", "answers.json", "market.json"):
        (folder / name).write_text(f"{name} of {run_id}\n")
    if pdf:
        (folder / "report.pdf").write_bytes(b"%PDF-1.7 " + run_id.encode())
    (folder / incremental.EDITION).write_text(json.dumps(
        {"key": key, "run_id": run_id, "as_of": created[:10], "created_at": created, "digest": {}, "mail": {}}))


def manifest(run: Path, created: str) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "manifest.json").write_text(json.dumps({"created_at": created}))


def test_a_run_reuses_the_latest_edition_with_its_key_and_compares_with_the_others(tmp_path: Path) -> None:
    out = tmp_path / "2026-12-01"
    older, last = tmp_path / "2026-11-29", tmp_path / "2026-11-30"
    manifest(older, "2026-11-29T05:00:00+00:00")
    manifest(last, "2026-11-30T05:00:00+00:00")
    (tmp_path / "2026-11-28").mkdir()  # a run that never finished: no manifest
    assert incremental.last_run(out) == last
    folders = {e: e for e in ("SAME", "NEW", "CHANGED", "TODAY", "HALF", "OLDER")}
    finished(last / "SAME", "k-same", "2026-11-30T05:01:00")
    finished(last / "CHANGED", "k-old", "2026-11-30T05:01:00")
    finished(last / "TODAY", "k-night", "2026-11-30T05:01:00")
    finished(out / "TODAY", "k-today", "2026-12-01T09:00:00", "r2")  # a run of the same day (or a killed one)
    finished(last / "HALF", "k-half", "2026-11-30T05:01:00")
    finished(out / "HALF", "k-half", "2026-12-01T09:00:00", "r2", pdf=False)  # never finished its PDF
    finished(older / "OLDER", "k-older", "2026-11-29T05:01:00")  # only the last run is looked at
    wanted = {"SAME": "k-same", "NEW": "k-new", "CHANGED": "k-new", "TODAY": "k-today", "HALF": "k-half",
              "OLDER": "k-older"}
    plan = incremental.plan(out, folders, wanted)
    assert sorted(plan.reuse) == ["HALF", "SAME", "TODAY"]
    assert plan.reuse["TODAY"].folder == out / "TODAY" and plan.reuse["HALF"].folder == last / "HALF"
    assert sorted(plan.previous) == ["CHANGED"] and plan.previous["CHANGED"].key == "k-old"
    assert plan.reuse["SAME"].made == {"run_id": "r1", "as_of": "2026-11-30", "folder": str(last)}
    full = incremental.plan(out, folders, wanted, full=True)
    assert not full.reuse and sorted(full.previous) == ["CHANGED", "HALF", "SAME", "TODAY"]
    assert incremental.owed(plan, wanted, "CHANGED").previous["key"] == "k-old"
    assert incremental.owed(plan, wanted, "NEW") == incremental.Owed("k-new", None)


def test_a_reused_report_is_linked_into_tonight_s_folder_with_nothing_of_what_was_there(tmp_path: Path) -> None:
    source, target = tmp_path / "last" / "ACME", tmp_path / "tonight" / "ACME"
    finished(source, "k", "2026-11-30T05:01:00")
    (source / "market.json").unlink()
    target.mkdir(parents=True)
    (target / "market.json").write_text("a market that is no longer the report's")
    (target / "edition.json").write_text("{}")
    edition = incremental.read_edition(source)
    assert edition is not None
    incremental.bring(edition, target)
    assert sorted(p.name for p in target.iterdir()) == ["answers.json", "edition.json", "facts.json", "report.pdf"]
    assert (target / "report.pdf").stat().st_ino == (source / "report.pdf").stat().st_ino
    assert incremental.read_edition(target).key == "k"  # type: ignore[union-attr]
    incremental.bring(edition, source)  # reused in place: nothing to do
    assert (source / "report.pdf").is_file()


def test_an_unfinished_report_is_never_taken_for_a_finished_one(tmp_path: Path) -> None:
    folder = tmp_path / "ACME"
    finished(folder, "k", "2026-11-30T05:01:00")
    assert isinstance(incremental.read_edition(folder), Edition)
    incremental.discard(folder)
    assert incremental.read_edition(folder) is None
    (folder / incremental.EDITION).write_text("{not json")
    assert incremental.read_edition(folder) is None
    (folder / ".facts.json.abc123.tmp").write_text("half")
    assert incremental.sweep(tmp_path) == 1 and not list(folder.glob("*.tmp"))

