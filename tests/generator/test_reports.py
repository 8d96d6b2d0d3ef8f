"""The rules of a report run apart from Prefect: what a run may be asked, which companies it reports on, what it
says at the end, and the text of its artifacts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from generator.narrator import Answer, catalogue
from generator.reports import (
    QUESTION_IDS,
    OnDemandRequest,
    ReportRequest,
    changes_description,
    changes_table,
    entity_choices,
    markdown_text,
    missing_model,
    narrator_counts,
    outcome,
    overview,
    pdf_page,
    portfolio_overview,
    select,
    select_portfolios,
)
from generator.sample import PORTFOLIOS, PROFILES, ROLES


def test_parameter_models_refuse_what_cannot_run() -> None:
    with pytest.raises(ValidationError, match="at least one entity or portfolio"):
        OnDemandRequest(entities=[])
    assert OnDemandRequest(portfolios=["GLOBAL"]).wanted() == (set(), {"GLOBAL"})
    with pytest.raises(ValidationError, match=r"unknown question id.*the catalogue has revenue_trend"):
        ReportRequest(questions=["revenue_trend", "horoscope"])
    with pytest.raises(ValidationError, match="not a single e-mail address"):
        OnDemandRequest(entities=["KOLA"], recipients=["desk@example.com\nBcc: all@example.com"])
    assert ReportRequest(questions=list(QUESTION_IDS)).questions == list(QUESTION_IDS)


def test_the_form_offers_the_catalogue_questions_and_names_them_when_refusing_one() -> None:
    schema = ReportRequest.model_json_schema()["properties"]["questions"]
    assert schema["type"] == "array"
    assert schema["items"] == {"type": "string", "enum": [q.id for q in catalogue() if not q.summary]}
    choices = ", ".join(QUESTION_IDS)
    with pytest.raises(ValidationError) as refused:
        ReportRequest(questions=["liquidity", "horoscope", "tarot"])
    (error,) = refused.value.errors()  # one line for the CLI, not one per id
    assert error["loc"] == ("questions",)
    assert error["msg"] == f"Value error, unknown question id(s) horoscope, tarot; the catalogue has {choices}"
    with pytest.raises(ValidationError, match=f"executive_summary is always answered; the questions to add are "
                                              f"{choices}"):
        ReportRequest(questions=["executive_summary"])
    request = ReportRequest(questions=["liquidity"])
    assert request.questions == ["liquidity"] and type(request.questions[0]) is str
    assert request.model_dump(mode="json")["questions"] == ["liquidity"]


def test_the_companies_and_portfolios_to_pick_are_those_of_the_inputs(sample_dir: Path, tmp_path: Path) -> None:
    choices = entity_choices([sample_dir / "long", sample_dir / "prices", sample_dir / "portfolios"])
    assert choices == {"entities": sorted(p.entity_id for p in PROFILES),  # not the index, which has prices alone
                       "portfolios": sorted(p[0] for p in PORTFOLIOS)}
    assert entity_choices([sample_dir / "wide" / f"{ROLES['cash_cow']}.csv"]) == {
        "entities": [ROLES["cash_cow"]], "portfolios": []}
    (tmp_path / "empty").mkdir()
    assert entity_choices([tmp_path / "missing"]) == entity_choices([tmp_path / "empty"]) == entity_choices([]) == {}


def test_a_run_writes_into_a_folder_named_by_its_date_unless_told_not_to(tmp_path: Path) -> None:
    dated = ReportRequest(output_dir=str(tmp_path), as_of=date(2026, 11, 28))
    assert (dated.day(), dated.folder()) == ("2026-11-28", tmp_path / "2026-11-28")
    assert ReportRequest(output_dir=str(tmp_path), dated_folder=False).folder() == tmp_path
    assert len(ReportRequest().day()) == 10  # today, in the configured time zone


def test_a_model_run_needs_a_checkpoint_folder(tmp_path: Path) -> None:
    error = missing_model(ReportRequest(narrator="model", model_path=str(tmp_path)))
    assert error is not None and str(error).startswith(f"no narrator checkpoint in {tmp_path} ")
    assert missing_model(ReportRequest(narrator="reference", model_path=str(tmp_path))) is None
    (tmp_path / "config.json").write_text("{}")
    assert missing_model(ReportRequest(narrator="model", model_path=str(tmp_path))) is None


def test_the_companies_asked_for_are_reported_and_those_not_in_the_inputs_fail(sample_run: Any) -> None:
    unusable = [{"entity_id": "BRKN", "stage": "ingest", "error": "none of its 3 rows is usable"}]
    everyone, failed = select(sample_run, ReportRequest(), unusable)
    assert everyone == sample_run.entities and failed == unusable
    kola = ROLES["cash_cow"]
    chosen, failed = select(sample_run, ReportRequest(entities=[kola, "NOPE"]), unusable)
    assert chosen == [kola]
    assert failed == [{"entity_id": "NOPE", "stage": "ingest", "error": "not in the inputs"}]


def test_the_last_line_of_a_run_counts_reports_failures_and_waiting_mail(tmp_path: Path) -> None:
    manifest: dict[str, Any] = {"reports": ["a", "b"], "failures": [{"entity_id": "NOPE"}]}
    assert outcome(manifest, 3, tmp_path) == f"2 of 3 reports written to {tmp_path}; failed: NOPE"
    manifest |= {"failures": [], "delivery": {"waiting": [{}, {}]}}
    assert outcome(manifest, 2, tmp_path) == f"2 of 2 reports written to {tmp_path}; 2 e-mails waiting in the outbox"


def _answer(origin: str, status: str, decoding: str | None = None) -> Answer:
    verification = {"status": status} | ({"decoding": decoding} if decoding else {})
    return Answer("q", "?", "text", origin, verification, [])


def test_narrator_counts_say_who_wrote_the_answers() -> None:
    answers = [_answer("model", "verified", "greedy"), _answer("model", "verified", "beam 2 of 8"),
               _answer("reference", "fallback", "not generated"), _answer("reference", "fallback", "greedy")]
    assert narrator_counts(answers, model=True) == {"fallback": 2, "verified": 2, "verified_by_beam": 1,
                                                    "not_generated": 1}
    assert narrator_counts([_answer("reference", "reference")], model=False) == {"reference": 1}


def test_data_in_a_markdown_artifact_stays_text(sample_run: Any, tmp_path: Path) -> None:
    assert markdown_text("[x](http://evil) <b>*a*</b>") == r"\[x\]\(http://evil\) \<b\>\*a\*\</b\>"
    kola = ROLES["cash_cow"]
    pdf = tmp_path / kola / "report.pdf"
    manifest = {"as_of": "2026-11-28", "run_id": "run-1", "reports": [str(pdf)], "counts": {"rows_rejected": 2},
                "failures": [{"entity_id": "<EVIL>", "stage": "ingest", "error": "not in the inputs"}]}
    page = pdf_page(manifest, [kola], {kola: kola}, tmp_path).splitlines()
    assert page[0] == "# Reports as of 2026-11-28"
    assert f"- [{kola}]({pdf.resolve().as_uri()})" in page
    assert r"- **\<EVIL\>** failed at ingest: not in the inputs" in page
    assert page[-1].startswith("2 input rows rejected: `")
    rows = overview(sample_run, manifest, [kola], {kola: kola})
    assert [r["entity"] for r in rows] == ["<EVIL>", kola]
    assert rows[0]["report"] == "failed (ingest): not in the inputs"
    assert rows[1]["report"] == str(pdf.resolve()) and rows[1]["period"] == "FY2025"



def test_the_portfolios_asked_for_are_reported_and_the_others_fail_with_why(sample_dir: Path,
                                                                           sample_as_of: date) -> None:
    from generator.pipeline import build

    run = build([sample_dir / "long", sample_dir / "prices", sample_dir / "portfolios"], as_of=sample_as_of)
    every, failed = select_portfolios(run, ReportRequest())
    assert [p.portfolio_id for p in every] == ["CONVICTION", "DIVERSIFIED", "GLOBAL"] and failed == []
    chosen, failed = select_portfolios(run, OnDemandRequest(portfolios=["GLOBAL", "NOPE"]))
    assert [p.portfolio_id for p in chosen] == ["GLOBAL"]
    assert failed == [{"portfolio_id": "NOPE", "stage": "ingest", "error": "not in the holdings inputs"}]
    assert select_portfolios(run, OnDemandRequest(entities=["KOLA"])) == ([], [])
    assert select(run, OnDemandRequest(portfolios=["GLOBAL"]), [])[0] == []
    manifest = {"portfolios": {"reports": ["/out/portfolios/GLOBAL/report.pdf"], "folders": {},
                               "failures": [{"portfolio_id": "NOPE", "stage": "ingest", "error": "not in the inputs"}]}}
    rows = portfolio_overview(run, chosen, manifest)
    assert rows[0]["portfolio"] == "GLOBAL" and rows[0]["market value"].startswith("€")
    assert rows[0]["flags"] == "concentrated portfolio; liquidity risk exposure"
    assert rows[0]["report"] == "/out/portfolios/GLOBAL/report.pdf"
    assert rows[1] == {"portfolio": "NOPE", "report": "failed (ingest): not in the inputs"}


def test_a_worker_loads_the_narrator_once_and_says_of_it_what_a_run_in_threads_says(sample_run: Any) -> None:
    """A task on a Dask worker gets the narrator as a spec (plain data) and loads it once per process; the manifest
    says of it what :func:`narrator_for` says of the one it loads."""
    import pickle

    from generator.reports import loaded_narrator, narrator_about, narrator_for, narrator_spec

    request = ReportRequest(narrator="model")
    spec = pickle.loads(pickle.dumps(narrator_spec(sample_run, request)))
    model = loaded_narrator(spec)
    assert model is not None and loaded_narrator(spec) is model
    assert narrator_about(spec) == narrator_for(sample_run, request)[1]
    reference = ReportRequest(narrator="reference")
    assert narrator_spec(sample_run, reference) is None and loaded_narrator(None) is None
    assert narrator_about(None) == narrator_for(sample_run, reference)[1]


def test_the_changes_artifact_lists_what_changed_and_first_reports_last() -> None:
    raised = {"flag": "LiquidityConcern", "label": "Liquidity concern", "severity": "concern", "period": "FY2025"}
    moved = [{"label": name} for name in ("net margin", "current ratio", "revenue", "roe")]
    since = {"companies": {
        "ACME": {"first": True, "since": None, "changed": True},
        "KOLA": {"changed": False, "reused_from": {"run_id": "r1", "as_of": "2026-11-30", "folder": "x"}},
        "VOLT": {"first": False, "changed": True, "since": {"run_id": "r1", "as_of": "2026-11-30"},
                 "new_periods": ["FY2025"], "flags_raised": [raised], "flags_cleared": [], "restatements": ["x"],
                 "moved": moved, "answers_changed": ["summary"]}},
        "totals": {"companies": 3, "changed": 1, "first": 1, "reused": 1, "risk_flags_raised": 1}}
    rows = changes_table(since)
    assert [r["entity"] for r in rows] == ["VOLT", "ACME"]
    assert rows[0] == {"entity": "VOLT", "since": "2026-11-30 (r1)", "new periods": "FY2025",
                       "flags raised": "Liquidity concern (FY2025)", "flags cleared": "", "restatements": 1,
                       "figures moved": "net margin, current ratio, revenue (+1)", "answers changed": 1}
    assert rows[1]["since"] == "first report"
    assert changes_description(since) == ("Since the last run: 1 of 3 reports changed, 1 new risk flag; 1 first "
                                          "report; 1 reused unchanged")
