"""Output files: safe folder names for hostile ids, atomic writes, and the per-entity layout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.checks import accounting_checks
from generator.graph import build as build_graph
from generator.graph import reason
from generator.ingest import Ingested
from generator.ingest.validate import empty_rejected
from generator.manifest import write_run
from generator.metrics import compute_metrics
from generator.outputs import safe_name, write_atomic, write_json
from generator.periods import pivot
from generator.pipeline import FactsRun

from builders import facts_frame


@pytest.mark.parametrize("entity_id", ["../../etc", "CON", "con.txt", "a/b", "..", "", "x" * 300, "LPT1", "é漢"])
def test_hostile_ids_stay_inside_the_output_folder(tmp_path: Path, entity_id: str) -> None:
    name = safe_name(entity_id)
    assert "/" not in name and "\\" not in name and name not in (".", "..")
    assert name.split(".")[0].lower() not in {"con", "lpt1"}
    assert (tmp_path / name).resolve().parent == tmp_path.resolve()
    assert len(name) <= 100


def test_plain_ids_keep_their_name_and_changed_ids_do_not_collide() -> None:
    assert safe_name("AAPL") == "AAPL"
    assert safe_name("BRK.B") == "BRK.B"
    assert safe_name("a/b") != safe_name("a_b")
    assert safe_name("a/b") == safe_name("a/b")


def test_write_atomic_leaves_no_temporary_files(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "file.json"
    write_json(target, {"a": 1})
    write_atomic(target, "replaced")
    assert target.read_text() == "replaced"
    assert [p.name for p in target.parent.iterdir()] == ["file.json"]


def test_write_json_refuses_nan(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_json(tmp_path / "x.json", {"a": float("nan")})
    assert list(tmp_path.iterdir()) == []


def test_hostile_entity_gets_a_safe_folder_listed_in_the_manifest(tmp_path: Path) -> None:
    facts = facts_frame({("../../etc", 2024, "FY"): {"revenue": 10, "net_income": 1}})
    ingested = Ingested(facts=facts, superseded=facts.clear(), rejected=empty_rejected())
    analysis = compute_metrics(facts)
    run = FactsRun(ingested, analysis, accounting_checks(pivot(facts)), reason(build_graph(analysis)))
    manifest = write_run(run, tmp_path / "out")
    folder = manifest["entity_folders"]["../../etc"]
    assert (tmp_path / "out" / folder / "facts.json").exists()
    assert not (tmp_path / "etc").exists()
    records = json.loads((tmp_path / "out" / folder / "facts.json").read_text())
    assert {r["entity_id"] for r in records} == {"../../etc"}
    assert sorted(p.name for p in (tmp_path / "out" / folder).iterdir()) == [
        "answers.json", "facts.json", "findings.json", "flags.json", "graph.ttl"]
