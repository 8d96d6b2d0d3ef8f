"""The run, stage by stage: what stops it before any work, the stages in order, the findings it gathers, and the
answers stage over the whole run."""

from __future__ import annotations

import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from generator import present
from generator.errors import UsageError
from generator.narrator import ReferenceNarrator, catalogue
from generator.pipeline import (
    Stages,
    analyse,
    answer,
    build,
    check_inputs,
    classify,
    finding_records,
    hold,
    price,
    read_inputs,
    restatement_findings,
)
from generator.sample import ROLES


def test_inputs_that_do_not_exist_or_hold_no_input_file_stop_the_run(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=f"no such input: {re.escape(str(tmp_path / 'nope.csv'))}"):
        check_inputs([tmp_path / "nope.csv"])
    (tmp_path / "notes.txt").write_text("not an input\n")
    with pytest.raises(UsageError, match=r"no input files \(.csv, .parquet, .jsonl, .json\) under"):
        check_inputs([tmp_path])
    (tmp_path / "facts.csv").write_text("entity_id\n")
    assert check_inputs([tmp_path]) == [tmp_path / "facts.csv"]


def test_a_run_with_nothing_readable_or_no_rows_stops_saying_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("foo,bar\n1,2\n")
    with pytest.raises(UsageError, match=r"^every input file was refused \(.*bad.csv:1: missing required column"):
        read_inputs([bad])
    empty = tmp_path / "empty.csv"
    empty.write_text("entity_id,entity_name,fiscal_year,fiscal_period,period_end,item,value,currency\n")
    with pytest.raises(UsageError, match=r"the inputs hold no rows \(.*empty.csv: a header only\?\)"):
        read_inputs([empty])


def test_the_stages_run_in_order_each_timed_and_told(sample_dir: Path) -> None:
    """The flows pass their tasks as the stages: build calls each once, in order, and tells the progress."""
    called: list[str] = []
    told: list[str] = []

    def recorded(name: str, call: Any) -> Any:
        def stage(*args: Any) -> Any:
            called.append(name)
            return call(*args)
        return stage

    class Told:
        def stage(self, name: str) -> None:
            told.append(name)

        def start(self, total: int) -> None: ...

        def done(self, entity: str, ok: bool) -> None: ...

    stages = Stages(read=recorded("read", read_inputs), analyse=recorded("analyse", analyse),
                    price=recorded("price", price), hold=recorded("hold", hold),
                    classify=recorded("classify", classify))
    run = build([sample_dir / "wide" / "KOLA.csv"], Told(), stages)
    assert called == ["read", "analyse", "price", "hold", "classify"]
    assert told == ["reading inputs", "computing metrics", "market metrics", "portfolios", "reasoning (HermiT)"]
    assert set(run.timings) == {"ingest_s", "metrics_s", "market_s", "portfolios_s", "graph_s"} \
        and all(t > 0 for t in run.timings.values())
    assert run.entities == ["KOLA"]
    assert {k for k in run.stage_timings() if k.startswith("graph_")} > {"graph_s"}  # the reasoner's own too


def test_the_sample_run_holds_every_company_and_its_planted_findings(sample_run: Any) -> None:
    assert len(sample_run.entities) == 14 and sample_run.entities == sorted(sample_run.entities)
    assert set(ROLES.values()) <= set(sample_run.entities)
    restated = ROLES["restated"]
    checks, contradictions = sample_run.entity_findings(restated)
    assert [(f["check"], f["fiscal_year"], f["fiscal_period"]) for f in checks] == [("restatement", 2024, "Q1")]
    assert contradictions == []
    assert sample_run.entity_findings(ROLES["cash_cow"]) == ([], [])


def test_a_restatement_finding_quotes_both_values_their_filing_dates_and_the_file(sample_run: Any) -> None:
    findings = restatement_findings(sample_run.ingested)
    assert findings.height == 1
    row = findings.row(0, named=True)
    original, restated = (f["value"] for f in row["facts"])
    assert (row["entity_id"], row["check"], row["severity"]) == (ROLES["restated"], "restatement", "info")
    # the file by its name and line (the manifest lists the inputs with their full paths)
    assert re.fullmatch(r"revenue restated from [\d,]+ \(filed \d{4}-\d\d-\d\d, facts\.csv:\d+\) to [\d,]+ "
                        r"\(filed \d{4}-\d\d-\d\d, facts\.csv:\d+\)", row["message"]), row["message"]
    assert f"{original:,.0f}" in row["message"] and f"{restated:,.0f}" in row["message"]


def test_finding_records_give_each_finding_its_facts_by_name() -> None:
    facts = [{"name": "original_value", "value": 1.0}, {"name": "restated_value", "value": 2.0}]
    frame = pl.DataFrame([{"entity_id": "A", "fiscal_year": 2024, "fiscal_period": "FY", "check": "restatement",
                           "severity": "info", "message": "m", "facts": facts}])
    assert finding_records(frame) == [{"entity_id": "A", "fiscal_year": 2024, "fiscal_period": "FY",
                                       "check": "restatement", "severity": "info", "message": "m",
                                       "facts": {"original_value": 1.0, "restated_value": 2.0}}]


def test_reference_narrator_still_answers_every_question_of_the_sample(sample_run: Any) -> None:
    for _, answers in answer(sample_run, sample_run.entities, ReferenceNarrator()).values():
        assert [a.question_id for a in answers] == [q.id for q in catalogue() if not q.portfolio]
        assert answers[0].question_id == "executive_summary" and answers[0].text


def test_each_company_s_answers_are_given_its_own_findings(sample_run: Any) -> None:
    restated, kola = ROLES["restated"], ROLES["cash_cow"]
    answered = answer(sample_run, [restated, kola], questions=["restatements"])
    assert [f["check"] for f in answered[restated][0].findings] == ["restatement"]
    assert answered[kola][0].findings == []
    text = {e: next(a.text for a in answers if a.question_id == "restatements")
            for e, (_, answers) in answered.items()}
    assert text[restated] != text[kola]


def test_a_share_with_prices_alone_is_reported_on_its_market_and_the_index_is_not(sample_dir: Path,
                                                                                     tmp_path: Path) -> None:
    """ZETA has prices and no statements: it is a company of the run, asked the market questions alone; SMPLX, the
    index every share is measured against, is no company to report on."""
    shutil.copytree(sample_dir / "prices", tmp_path / "prices")
    closes = [(date(2025, 1, 2) + timedelta(days=i), 50.0 + (i % 7)) for i in range(400)]
    (tmp_path / "zeta.csv").write_text("entity_id,date,close\n" + "".join(f"ZETA,{d},{c}\n" for d, c in closes))
    (tmp_path / "zeta-sector.csv").write_text("entity_id,sector,benchmark\nZETA,Technology,SMPLX\n")
    run = build([sample_dir / "long", tmp_path], as_of=closes[-1][0])
    assert "ZETA" in run.entities and "SMPLX" not in run.entities
    assert (run.priced_only, run.benchmarks) == (["ZETA"], ["SMPLX"])
    context, answers = answer(run, ["ZETA"])["ZETA"]
    assert (context.company, context.sector, context.period, context.statements) == (
        "ZETA", "Technology", "at the last close", False)
    assert [a.question_id for a in answers] == ["market_performance", "valuation"]
    assert answers[0].text.startswith(f"Over the year to {context.as_of and present.day(context.as_of)} the share "
                                      "returned ")
    assert answers[1].text.startswith("No statements are in the inputs")
