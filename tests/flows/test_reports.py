"""The nightly and on-demand flows end to end on a real temporary Prefect server (``prefect_test_harness``).

The sample data (its three portfolios too) plus two broken companies: BRKN, none of whose rows is usable, and
SOLR, whose output folder is blocked by a file so that every write fails (an I/O error, retried, then failed);
and a broken portfolio, BAD, holding a company no input has. Each fails alone; the portfolio holding SOLR is
reported (it reads SOLR's figures, not its files). The on-demand deployment's form is checked on the deployment
object alone, which needs no server.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zoneinfo
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.artifacts import Artifact
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
from prefect.flows import load_flow_from_entrypoint
from prefect.states import State
from prefect.testing.utilities import prefect_test_harness
from prefect.utilities.schema_tools import validate
from pypdf import PdfReader

from flows.reports import (
    NIGHTLY_CRON,
    NIGHTLY_TIMEZONE,
    nightly_reports,
    on_demand_deployment,
    on_demand_report,
    task_runner,
)
from generator import present
from generator.graph import flag_labels
from generator.narrator import catalogue
from generator.narrator.model import PROMPT_FORMAT
from generator.narrator.parts import plan
from generator.narrator.slots import fill, prompt_facts
from generator.narrator.verify import verify
from generator.pack import portfolio_contexts
from generator.pipeline import answer, build
from generator.present import REPORT_KPIS
from generator.reports import QUESTION_IDS, OnDemandRequest, ReportRequest
from generator.sample import PORTFOLIOS, PROFILES, ROLES

from loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
AS_OF = date(2026, 11, 28)
BROKEN = ("entity_id,entity_name,fiscal_year,fiscal_period,period_end,item,value,currency\n"
          "BRKN,Broken Co,2025,FY,2025-12-31,revenue,n/a,USD\n"
          "BRKN,Broken Co,2025,FY,2025-12-31,net_income,12,XXX\n"
          "BRKN,Broken Co,2025,FY,2025-13-31,total_assets,100,USD\n")


@pytest.fixture(scope="module")
def server() -> Any:
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="module")
def nightly(server: Any, sample_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[State, Path]:
    root = tmp_path_factory.mktemp("flow")
    (root / "broken.csv").write_text(BROKEN)
    (root / "bad_book.csv").write_text("portfolio_id,entity_id,quantity\nBAD,KOLA,10\nBAD,NOPE,5\n")
    out = root / "out"
    (out / AS_OF.isoformat()).mkdir(parents=True)
    (out / AS_OF.isoformat() / ROLES["non_usd"]).write_text("a file where the company's folder should be\n")
    inputs = [sample_dir / "long", sample_dir / "prices", sample_dir / "portfolios", root / "broken.csv",
              root / "bad_book.csv"]
    request = ReportRequest(inputs=[str(p) for p in inputs],
                            as_of=AS_OF, output_dir=str(out))
    return nightly_reports(request, return_state=True), out / AS_OF.isoformat()


def text_of(pdf: Path) -> str:
    return " ".join(" ".join(page.extract_text() or "" for page in PdfReader(pdf).pages).split())


def printed(text: str, pdf_text: str) -> bool:
    """Whether a text is in the PDF's text, line breaks aside: a long token ("facts.csv:5284") may wrap inside
    itself, and the extracted text then has a space there."""
    return "".join(text.split()) in "".join(pdf_text.split())


@pytest.mark.slow
@pytest.mark.integration
def test_final_state_says_how_many_succeeded(nightly: tuple[State, Path]) -> None:
    state, out = nightly
    assert state.is_completed()
    assert state.message == f"16 of 19 reports written to {out}; failed: BRKN, {ROLES['non_usd']}, portfolio BAD"
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["reports"]) == 13 and all(Path(p).is_file() for p in manifest["reports"])
    assert manifest["as_of"] == "2026-11-28" and manifest["run"]["kind"] == "nightly"


@pytest.mark.slow
@pytest.mark.integration
def test_a_broken_company_fails_alone(nightly: tuple[State, Path]) -> None:
    _, out = nightly
    failures = {f["entity_id"]: f for f in json.loads((out / "manifest.json").read_text())["failures"]}
    assert failures["BRKN"] == {"entity_id": "BRKN", "stage": "ingest",
                                "error": "none of its 3 rows is usable (see rejected.csv)"}
    assert failures[ROLES["non_usd"]]["stage"] == "write_entity"
    assert "FileExistsError" in failures[ROLES["non_usd"]]["error"]
    rejected = (out / "rejected.csv").read_text()
    assert rejected.count("BRKN") == 3
    others = [e for e in ROLES.values() if e != ROLES["non_usd"]]
    for entity in others:
        assert (out / entity / "report.pdf").read_bytes().startswith(b"%PDF-"), entity


@pytest.mark.slow
@pytest.mark.integration
def test_only_io_errors_are_retried(nightly: tuple[State, Path]) -> None:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(
            any_=[f"write-entity-{ROLES['non_usd']}", "write-entity-KOLA"])))
    attempts = {r.name: r.run_count for r in runs}
    assert attempts == {f"write-entity-{ROLES['non_usd']}": 3, "write-entity-KOLA": 1}


@pytest.mark.slow
@pytest.mark.integration
def test_pdf_answers_and_facts_agree(nightly: tuple[State, Path]) -> None:
    """Every KPI of the report period is in the PDF as the KPI table formats it, every answer is in the PDF
    word for word, and every figure an answer used is the facts.json value of that period."""
    _, out = nightly
    for entity in (ROLES["loss_maker"], ROLES["cash_cow"], ROLES["non_calendar"], ROLES["restated"]):
        text = text_of(out / entity / "report.pdf")
        answers = json.loads((out / entity / "answers.json").read_text())
        facts = json.loads((out / entity / "facts.json").read_text())
        revenue = next(f["value"] for f in answers[0]["facts_used"] if f["metric"] == "revenue")
        (period,) = {(r["fiscal_year"], r["fiscal_period"]) for r in facts
                     if r["metric"] == "revenue" and r["value"] == revenue}
        current = {r["metric"]: r for r in facts if (r["fiscal_year"], r["fiscal_period"]) == period}
        shown = [m for m in REPORT_KPIS if m in current and current[m]["value"] is not None]
        assert len(shown) >= 8, entity
        for metric in shown:
            fact = current[metric]
            assert present.by_unit(fact["value"], fact["unit"], fact["currency"] or "USD") in text, (entity, metric)
        for given in answers:
            assert printed(given["text"], text), (entity, given["question_id"])
            for used in given["facts_used"]:
                if used["metric"] in current:
                    assert used["value"] == pytest.approx(current[used["metric"]]["value"]), (entity, used)


@pytest.mark.slow
@pytest.mark.integration
def test_each_share_is_measured_against_the_index_and_reported(nightly: tuple[State, Path]) -> None:
    """The market stage runs in the flow: every company's market.json at the as-of date against SMPLX (the
    sample's benchmarks file), a market section in its PDF, and the index itself is no report."""
    _, out = nightly
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["market"]["as_of"], manifest["market"]["benchmarks"]) == (AS_OF.isoformat(), ["SMPLX"])
    assert manifest["timings"]["market_s"] > 0 and not (out / "SMPLX").exists()
    for entity in (ROLES["loss_maker"], ROLES["grower"]):
        records = {r["metric"]: r for r in json.loads((out / entity / "market.json").read_text())}
        assert records["beta_1y"]["benchmark"] == "SMPLX" and records["beta_1y"]["end"] <= AS_OF.isoformat()
        text = text_of(out / entity / "report.pdf")
        assert printed("measured against SMPLX", text) and printed("Valuation at the last close", text)
        answered = [a["question_id"] for a in json.loads((out / entity / "answers.json").read_text())]
        assert answered[-2:] == ["market_performance", "valuation"]


@pytest.mark.slow
@pytest.mark.integration
def test_facts_travel_inside_the_pdf(nightly: tuple[State, Path]) -> None:
    _, out = nightly
    pdf = out / ROLES["grower"] / "report.pdf"
    attached = PdfReader(pdf).attachments["facts.json"][0]
    assert json.loads(attached) == json.loads((pdf.parent / "facts.json").read_text())


@pytest.mark.slow
@pytest.mark.integration
def test_pages_render_to_png(nightly: tuple[State, Path], tmp_path: Path) -> None:
    _, out = nightly
    pdf = out / ROLES["cash_cow"] / "report.pdf"
    pages = len(PdfReader(pdf).pages)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert 6 <= pages <= 20 and len(images) == pages
    for image in images:
        data = image.read_bytes()
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (331, 468), image.name  # A4 portrait at 40 dpi
        assert len(data) > 3_000, image.name  # not a blank page


@pytest.mark.slow
@pytest.mark.integration
def test_artifacts_list_every_company_with_its_figures(nightly: tuple[State, Path]) -> None:
    table = Artifact.get("nightly-reports")
    assert table is not None and table.type == "table"
    rows = {r["entity"]: r for r in json.loads(table.data)}
    assert len(rows) == 15
    assert rows["KOLA"]["report"].endswith("KOLA/report.pdf")
    assert rows["BRKN"]["report"].startswith("failed (ingest)")
    assert rows[ROLES["loss_maker"]]["current ratio"].endswith("x")
    links = Artifact.get("nightly-reports-pdfs")
    assert links is not None and links.type == "markdown"
    assert links.data.count("report.pdf)") == 16
    assert "**BAD** failed at portfolio" in links.data
    books = Artifact.get("nightly-portfolios")
    assert books is not None and [r["portfolio"] for r in json.loads(books.data)] == [
        "CONVICTION", "DIVERSIFIED", "GLOBAL", "BAD"]


@pytest.mark.slow
@pytest.mark.integration
def test_portfolio_reports_follow_the_companies_they_hold(nightly: tuple[State, Path]) -> None:
    """Each sample portfolio has its folder under portfolios/: portfolio.json, flags.json (its own flags and its
    holdings' by value), answers.json and a PDF that prints them; the broken one is a failure with why."""
    _, out = nightly
    manifest = json.loads((out / "manifest.json").read_text())
    books = manifest["portfolios"]
    assert books["valued"] == ["CONVICTION", "DIVERSIFIED", "GLOBAL"]
    assert [Path(p).parent.name for p in books["reports"]] == ["CONVICTION", "DIVERSIFIED", "GLOBAL"]
    (failure,) = books["failures"]
    assert (failure["portfolio_id"], failure["stage"]) == ("BAD", "portfolio")
    assert "NOPE is in no input file" in failure["error"]
    folder = out / "portfolios" / "GLOBAL"
    record = json.loads((folder / "portfolio.json").read_text())
    assert record["base_currency"] == "EUR" and sum(h["weight"] for h in record["holdings"]) == pytest.approx(1)
    one_year = [c["contribution"] for c in record["contributions"] if c["window"] == "1y"]
    volatility = next(r["value"] for r in record["risk"] if r["metric"] == "volatility_1y")
    assert sum(one_year) == pytest.approx(volatility, rel=1e-12)
    flags = json.loads((folder / "flags.json").read_text())
    assert {f["flag"] for f in flags if f["kind"] == "portfolio"} == {"ConcentratedPortfolio", "LiquidityRiskExposure"}
    liquidity = next(f for f in flags if f["kind"] == "holdings" and f["flag"] == "LiquidityConcern")
    assert liquidity["holdings"] == ["GRDN", ROLES["non_usd"]] and liquidity["share"] == pytest.approx(0.5, abs=0.01)
    answers = json.loads((folder / "answers.json").read_text())
    assert [a["question_id"] for a in answers] == ["portfolio_holdings", "portfolio_risk", "portfolio_flags"]
    text = text_of(folder / "report.pdf")
    assert printed("Global income (EUR)", text) and printed("Liquidity risk exposure", text)
    for given in answers:
        assert printed(given["text"], text), given["question_id"]
    assert manifest["timings"]["portfolios_s"] > 0 and manifest["timings"]["graph_portfolio_reason_s"] > 0


@pytest.mark.slow
@pytest.mark.integration
def test_on_demand_run_for_chosen_companies_and_questions(server: Any, nightly: tuple[State, Path],
                                                          tmp_path: Path) -> None:
    _, out = nightly
    inputs = json.loads((out / "manifest.json").read_text())["run"]["request"]["inputs"]
    mine = ["What was the free cash flow in FY2025?", "Which consumer companies had a net loss in 2025?",
            "What was Tesla's revenue last year?"]
    request = OnDemandRequest(inputs=inputs, entities=["KOLA", "NOPE"], questions=["liquidity", "leverage"],
                              custom_questions=mine, as_of=AS_OF, output_dir=str(tmp_path), dated_folder=False)
    state = on_demand_report(request, return_state=True)
    assert state.message == f"1 of 2 reports written to {tmp_path}; failed: NOPE"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["KOLA"]
    answers = json.loads((tmp_path / "KOLA" / "answers.json").read_text())
    assert [a["question_id"] for a in answers] == ["executive_summary", "liquidity", "leverage", "custom-1",
                                                   "custom-2", "custom-3"]
    fcf, losses, tesla = answers[3:]
    facts = {(f["metric"], f["fiscal_year"], f["fiscal_period"]): f["value"]
             for f in json.loads((tmp_path / "KOLA" / "facts.json").read_text())}
    assert fcf["value"] == facts[("free_cash_flow", 2025, "FY")] and fcf["entities"] == ["KOLA"]  # the report's
    assert fcf["origin"] == "program" and fcf["facts_used"][0]["sources"]
    assert not losses["refused"] and losses["program_text"].startswith("(where (sector Consumer) net_income FY2025")
    assert tesla["refused"] and "'Tesla'" in tesla["reason"] and tesla["value"] is None
    pdf = text_of(tmp_path / "KOLA" / "report.pdf")
    assert "Your questions" in pdf and "Tesla" in pdf
    narrator = json.loads((tmp_path / "manifest.json").read_text())["narrator"]
    assert narrator["custom_answers"] == 3 and narrator["custom_refused"] == 1
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["failures"] == [{"entity_id": "NOPE", "stage": "ingest", "error": "not in the inputs"}]
    assert manifest["portfolios"]["reports"] == []  # companies picked: no portfolio unless picked too


@pytest.mark.slow
@pytest.mark.integration
def test_on_demand_run_for_a_portfolio_alone(server: Any, nightly: tuple[State, Path], tmp_path: Path) -> None:
    _, out = nightly
    inputs = json.loads((out / "manifest.json").read_text())["run"]["request"]["inputs"]
    request = OnDemandRequest(inputs=inputs, portfolios=["CONVICTION", "NONE"], as_of=AS_OF,
                              output_dir=str(tmp_path), dated_folder=False)
    state = on_demand_report(request, return_state=True)
    assert state.message == f"1 of 2 reports written to {tmp_path}; failed: portfolio NONE"
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["portfolios"]
    assert (tmp_path / "portfolios" / "CONVICTION" / "report.pdf").is_file()


def test_the_ui_form_has_a_description_for_every_field() -> None:
    for flow, model in ((nightly_reports, "ReportRequest"), (on_demand_report, "OnDemandRequest")):
        schema = flow.parameters.model_dump()
        fields = schema["definitions"][model]["properties"]
        assert set(fields) == {"inputs", "as_of", "benchmark", "entities", "portfolios", "questions", "output_dir",
                               "dated_folder", "narrator", "model_path", "custom_questions", "full_run", "email",
                               "recipients"}
        assert all(f.get("description") for f in fields.values()), model
    assert "request" in on_demand_report.parameters.required


def test_the_on_demand_form_offers_the_companies_of_the_inputs_and_takes_any_other_id(
        sample_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINREPORT_INPUTS", json.dumps([str(sample_dir / d) for d in ("long", "prices", "portfolios")]))
    deployment = on_demand_deployment()
    schema = deployment._parameter_openapi_schema.model_dump(exclude_unset=True)  # what serving sends the server
    fields = schema["definitions"]["OnDemandRequest"]["properties"]
    for field, ids, title in (("entities", sorted(p.entity_id for p in PROFILES), "A company of the inputs"),
                              ("portfolios", sorted(p[0] for p in PORTFOLIOS), "A portfolio of the inputs")):
        assert fields[field]["type"] == "array" and fields[field]["description"]
        assert fields[field]["items"] == {"anyOf": [{"type": "string", "enum": ids, "title": title},
                                                    {"type": "string", "title": "Another id"}]}
    assert fields["questions"]["items"]["enum"] == list(QUESTION_IDS)

    def refused(request: dict[str, Any]) -> list[Any]:
        """What the server says of a run's parameters before it starts (Prefect's own check of the schema)."""
        return validate({"request": request}, schema, preprocess=True)

    assert refused({"entities": [ROLES["cash_cow"], "NEWCO"], "portfolios": ["GLOBAL", "NEWBOOK"],
                    "questions": ["liquidity"]}) == []
    assert refused({"entities": [7]}) and refused({"entities": ["KOLA"], "questions": ["horoscope"]})

    monkeypatch.setenv("FINREPORT_INPUTS", json.dumps([str(tmp_path / "missing")]))
    fields = on_demand_deployment()._parameter_openapi_schema.model_dump()["definitions"]["OnDemandRequest"]
    assert fields["properties"]["entities"]["items"] == fields["properties"]["portfolios"]["items"] == {
        "type": "string"}


def test_prefect_yaml_declares_both_deployments() -> None:
    config = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    deployments = {d["name"]: d for d in config["deployments"]}
    assert set(deployments) == {"nightly", "on-demand"}
    for deployment, flow in ((deployments["nightly"], nightly_reports), (deployments["on-demand"], on_demand_report)):
        assert load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"])).name == flow.name
    (schedule,) = deployments["nightly"]["schedules"]
    assert (schedule["cron"], schedule["timezone"]) == (NIGHTLY_CRON, NIGHTLY_TIMEZONE)
    zoneinfo.ZoneInfo(schedule["timezone"])
    assert not deployments["on-demand"].get("schedules")


def _digest_waits(nightly: tuple[State, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """KOLA's report on demand with a digest to one reader, while the mail cannot go: the run completes, says one
    e-mail waits, and the message is in the outbox. Returns the manifest's delivery record."""
    _, out = nightly
    monkeypatch.setenv("FINREPORT_OUTBOX_DIR", str(tmp_path / "outbox"))
    inputs = json.loads((out / "manifest.json").read_text())["run"]["request"]["inputs"]
    request = OnDemandRequest(inputs=inputs, entities=["KOLA"], as_of=AS_OF, output_dir=str(tmp_path / "out"),
                              dated_folder=False, recipients=["desk@example.com"])
    state = on_demand_report(request, return_state=True)
    assert state.is_completed()
    assert state.message == f"1 of 1 reports written to {tmp_path / 'out'}; 1 e-mail waiting in the outbox"
    delivery = json.loads((tmp_path / "out" / "manifest.json").read_text())["delivery"]
    assert delivery["sent"] == [] and delivery["queued"] == 1
    assert len(list((tmp_path / "outbox" / "pending").glob("*.eml"))) == 1
    return delivery


@pytest.mark.slow
@pytest.mark.integration
def test_delivery_trouble_never_fails_the_run(server: Any, nightly: tuple[State, Path], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """No SMTP server listening: the report is written, the e-mail waits in the outbox, the run says so."""
    port = free_port()
    for name, value in {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_SECURITY": "insecure"}.items():
        monkeypatch.setenv(f"FINREPORT_{name}", value)
    delivery = _digest_waits(nightly, tmp_path, monkeypatch)
    assert delivery["waiting"][0]["recipient"] == "desk@example.com"
    assert "ConnectionRefusedError" in delivery["waiting"][0]["error"]
    links = Artifact.get("on-demand-reports-pdfs")
    assert links is not None and "E-mail: 0 sent, 1 waiting in the outbox, 0 rejected" in links.data


@pytest.mark.slow
@pytest.mark.integration
def test_no_server_to_send_with_never_fails_the_run(server: Any, nightly: tuple[State, Path], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A credentials block that does not exist is no server at all: the report stands, the e-mail waits in the
    outbox with the reason, and the run says so (it raised a TypeError in the flow before)."""
    monkeypatch.setenv("FINREPORT_SMTP_BLOCK", "no-such-block")
    delivery = _digest_waits(nightly, tmp_path, monkeypatch)
    assert "no-such-block" in delivery["error"]
    assert [w["recipient"] for w in delivery["waiting"]] == ["desk@example.com"]


@pytest.mark.integration
def test_a_model_run_without_a_checkpoint_fails_in_one_line(server: Any, tmp_path: Path) -> None:
    request = ReportRequest(inputs=[str(tmp_path)], narrator="model", model_path=str(tmp_path / "none"),
                            output_dir=str(tmp_path / "out"))
    state = nightly_reports(request, return_state=True)
    assert state.is_failed()
    assert state.message == (f"no narrator checkpoint in {tmp_path / 'none'} (a Hugging Face model folder with "
                             "config.json); give its folder, or use the reference narrator")
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.integration
def test_no_unverified_number_reaches_a_pdf(nightly: tuple[State, Path]) -> None:
    """The nightly run uses the shipped model: every answer in every PDF is either the model's text that the
    verifier passed (checked again here, independently, against the run's own facts) or the reference text."""
    _, out = nightly
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["narrator"]["narrator"] == "model" and manifest["narrator"]["prompt_format"] == PROMPT_FORMAT
    run = build([Path(p) for p in manifest["run"]["request"]["inputs"]], as_of=AS_OF)  # the shares as measured then
    contexts = {e: ctx for e, (ctx, _) in answer(run, run.entities).items()}
    folders = {e: out / e for e in contexts}
    books = portfolio_contexts(run)  # the portfolios' answers too, each against its own context
    contexts |= {f"portfolio {p}": ctx for p, ctx in books.items()}
    folders |= {f"portfolio {p}": out / "portfolios" / p for p in books}
    labels = flag_labels(run.graph.tbox)
    questions = {q.id: q for q in catalogue()}
    origins, decodings = [], []
    for entity in contexts:
        if not (folders[entity] / "answers.json").exists():
            continue
        text = text_of(folders[entity] / "report.pdf")
        for a in json.loads((folders[entity] / "answers.json").read_text()):
            origins.append(a["origin"])
            assert printed(a["text"], text)
            if a["origin"] == "model":
                question, ctx = questions[a["question_id"]], contexts[entity]
                facts = prompt_facts(question, ctx)
                verdict = verify(a["verification"]["model_text"], question, ctx, labels,
                                 joined=len(plan(question, ctx, facts)) > 1)  # an answer written in parts
                assert verdict.ok, (entity, a)
                assert a["text"] == fill(a["verification"]["model_text"], facts, contexts[entity].currency)
                decodings.append(a["verification"]["decoding"])
            else:
                assert a["origin"] == "reference" and a["verification"]["status"] in ("reference", "fallback")
    assert origins.count("model") >= 0.6 * len(origins), origins  # the shipped model writes most of them
    redrawn = [d for d in decodings if d != "greedy"]
    assert all(d.startswith("beam ") or (d.startswith("parts: ") and "beam " in d) for d in redrawn)  # a beam
    # replaced a greedy text that failed (in an answer written in parts, a part's)
    assert len(redrawn) <= manifest["narrator"]["verified_by_beam"] <= manifest["narrator"]["verified"]


def test_the_task_runner_is_the_one_the_settings_name_when_a_run_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    monkeypatch.delenv("FINREPORT_TASK_RUNNER", raising=False)
    monkeypatch.delenv("FINREPORT_DASK_ADDRESS", raising=False)
    for flow in (nightly_reports, on_demand_report):
        assert type(flow.task_runner.duplicate()) is ThreadPoolTaskRunner  # what a run starts with
    monkeypatch.setenv("FINREPORT_TASK_RUNNER", "processes")
    assert isinstance(nightly_reports.task_runner.duplicate(), ProcessPoolTaskRunner)
    monkeypatch.setenv("FINREPORT_TASK_RUNNER", "dask")
    local = on_demand_report.task_runner.duplicate()
    assert isinstance(local, DaskTaskRunner) and local.address is None  # a LocalCluster for the run
    assert local.cluster_kwargs["threads_per_worker"] == 1 and local.cluster_kwargs["processes"]
    monkeypatch.setenv("FINREPORT_DASK_ADDRESS", "tcp://10.0.0.5:8786")
    remote = task_runner()
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://10.0.0.5:8786"


@pytest.fixture(scope="module")
def dask_cluster() -> Any:
    """One local Dask cluster for the module (two worker processes, a thread each): a new one costs 15-20 s."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def nightly_on_dask(server: Any, nightly: tuple[State, Path], dask_cluster: Any,
                    tmp_path_factory: pytest.TempPathFactory) -> tuple[State, Path]:
    """The nightly run of :func:`nightly` again, on the same inputs and with SOLR's folder blocked the same way, its
    tasks on the Dask cluster (FINREPORT_TASK_RUNNER=dask, FINREPORT_DASK_ADDRESS its scheduler)."""
    _, threads = nightly
    made = json.loads((threads / "manifest.json").read_text())["run"]["request"]
    out = tmp_path_factory.mktemp("dask") / "out"
    (out / AS_OF.isoformat()).mkdir(parents=True)
    (out / AS_OF.isoformat() / ROLES["non_usd"]).write_text("a file where the company's folder should be\n")
    request = ReportRequest(inputs=made["inputs"], as_of=AS_OF, output_dir=str(out))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FINREPORT_TASK_RUNNER", "dask")
        env.setenv("FINREPORT_DASK_ADDRESS", dask_cluster.scheduler_address)
        return nightly_reports(request, return_state=True), out / AS_OF.isoformat()


@pytest.mark.slow
@pytest.mark.integration
def test_a_run_on_dask_writes_what_a_run_in_threads_writes(nightly: tuple[State, Path],
                                                           nightly_on_dask: tuple[State, Path]) -> None:
    """Every company's facts, findings, flags, market figures and answers (the shipped model's, answered by chunks
    of companies on the workers) are the threads run's, byte for byte; the PDFs say the same; the broken companies
    and portfolio fail alike, SOLR's writes retried on a worker as in a thread."""
    (state, threads), (on_dask, dask) = nightly, nightly_on_dask
    assert on_dask.is_completed() and on_dask.message == state.message.replace(str(threads), str(dask))
    ours, theirs = (json.loads((d / "manifest.json").read_text()) for d in (threads, dask))
    for key in ("failures", "portfolios"):  # SOLR's error names its folder
        assert json.dumps(ours[key]["failures"] if key == "portfolios" else ours[key]).replace(str(threads), "OUT") \
            == json.dumps(theirs[key]["failures"] if key == "portfolios" else theirs[key]).replace(str(dask), "OUT")
    assert ours["narrator"] == theirs["narrator"]
    folders = [p.parent.relative_to(threads) for p in threads.rglob("answers.json")]
    assert len(folders) == 13 + 3
    for folder in folders:
        for name in ("facts.json", "findings.json", "flags.json", "answers.json", "market.json"):
            if name == "answers.json" and folder.parts[0] == "portfolios":
                continue  # a portfolio's risk figures may differ in the last bit from run to run (Polars sums)
            mine = threads / folder / name
            assert mine.exists() == (dask / folder / name).exists(), (folder, name)
            if mine.exists():
                assert mine.read_bytes() == (dask / folder / name).read_bytes(), (folder, name)
    for folder in folders:
        said = [(a["question_id"], a["text"]) for a in json.loads((threads / folder / "answers.json").read_text())]
        assert said == [(a["question_id"], a["text"])
                        for a in json.loads((dask / folder / "answers.json").read_text())], folder

    def text(run: Path, manifest: dict[str, Any], folder: Path) -> str:
        return text_of(run / folder / "report.pdf").replace(manifest["run_id"], "RUN").replace(
            manifest["created_at"], "CREATED")

    for folder in (Path(ROLES["loss_maker"]), Path(ROLES["cash_cow"]), Path("portfolios/GLOBAL")):
        assert text(threads, ours, folder) == text(dask, theirs, folder), folder
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(
            any_=["answer-companies-1-of-2", "answer-companies-2-of-2", "answer-portfolios",
                  f"write-entity-{ROLES['non_usd']}"])))
    assert sorted((r.name, r.run_count) for r in runs if str(r.flow_run_id) == theirs["run_id"]) == [
        ("answer-companies-1-of-2", 1), ("answer-companies-2-of-2", 1), ("answer-portfolios", 1),
        (f"write-entity-{ROLES['non_usd']}", 3)]


def _restated(source: Path, target: Path, entity: str, factor: float) -> None:
    """The sample's long table with one company's revenue of its last fiscal year restated by a later filing: a
    line added at the end, so no other line (and no other company's sources) moves."""
    target.mkdir(parents=True, exist_ok=True)
    lines = (source / "facts.csv").read_text().splitlines()
    col = {c: i for i, c in enumerate(lines[0].split(","))}
    rows = [line.split(",") for line in lines[1:]]
    last = max((r for r in rows if r[0] == entity and r[col["item"]] == "revenue" and r[col["fiscal_period"]] == "FY"),
               key=lambda r: int(r[col["fiscal_year"]]))
    again = list(last)
    again[col["value"]] = str(round(float(last[col["value"]]) * factor))
    again[col["filed"]] = (date.fromisoformat(last[col["filed"]]) + timedelta(days=200)).isoformat()
    (target / "facts.csv").write_text("\n".join([*lines, ",".join(again)]) + "\n")


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.name not in ("report.pdf", "edition.json") and not p.name.startswith(".")}


@pytest.mark.slow
@pytest.mark.integration
def test_a_second_night_makes_again_only_what_changed_and_says_what_did(server: Any, sample_dir: Path,
                                                                        tmp_path: Path) -> None:
    """Night 1 on the sample's statements; night 2 after one company restated its revenue: the reports whose keys
    held are last night's files, linked; the restated company's report opens with what changed; changes.json, the
    artifact and the manifest say the same; and a full run of night 2 writes the same files."""
    shutil.copytree(sample_dir / "long", tmp_path / "inputs")  # the inputs a deployment reads, night after night
    out = tmp_path / "out"

    def night(day: date, full: bool = False, folder: Path = out) -> dict[str, Any]:
        request = ReportRequest(inputs=[str(tmp_path / "inputs")], as_of=day, output_dir=str(folder),
                                narrator="reference", full_run=full)
        state = nightly_reports(request, return_state=True)
        assert state.is_completed(), state.message
        return state.result()

    first = night(AS_OF)
    assert first["reuse"]["reused"] == {} and first["changes"]["first"] == 14
    _restated(sample_dir / "long", tmp_path / "inputs", "ACME", 1.5)
    second = night(AS_OF + timedelta(days=1))
    made, reused = second["reuse"]["computed"], second["reuse"]["reused"]
    assert "ACME" in made and len(reused) >= 10 and set(made) | set(reused) == set(first["reuse"]["computed"])
    tonight, last = out / (AS_OF + timedelta(days=1)).isoformat(), out / AS_OF.isoformat()
    for entity, source in reused.items():
        assert source == {"run_id": first["run_id"], "as_of": AS_OF.isoformat(), "folder": str(last)}
        assert (tonight / entity / "report.pdf").stat().st_ino == (last / entity / "report.pdf").stat().st_ino
    since = json.loads((tonight / "changes.json").read_text())
    acme = since["companies"]["ACME"]
    assert acme["changed"] and acme["since"] == {"run_id": first["run_id"], "as_of": AS_OF.isoformat()}
    assert acme["restatements"] and re.match(r"FY\d{4} revenue restated from", acme["restatements"][0])
    assert "revenue" in [m["metric"] for m in acme["moved"]]
    assert all(since["companies"][e] == {"changed": False, "reused_from": reused[e]} for e in reused)
    assert second["changes"]["reused"] == len(reused) and second["changes"]["changed"] >= 1
    text = text_of(tonight / "ACME" / "report.pdf")
    assert printed("Since the last run", text) and printed(f"Compared with the report of {AS_OF.isoformat()}", text)
    assert printed(acme["restatements"][0], text)
    artifact = Artifact.get("nightly-changes")
    assert artifact is not None and "ACME" in [r["entity"] for r in json.loads(artifact.data)]
    # the same night made in full: the same files, company by company
    full = night(AS_OF + timedelta(days=1), full=True, folder=tmp_path / "full")
    assert full["reuse"]["reused"] == {}
    again = tmp_path / "full" / (AS_OF + timedelta(days=1)).isoformat()
    for entity in made + list(reused):
        assert _files(tonight / entity) == _files(again / entity), entity
        digests = [json.loads((f / entity / "edition.json").read_text())["digest"] for f in (tonight, again)]
        assert digests[0] == digests[1], entity


@pytest.mark.slow
@pytest.mark.integration
def test_a_run_killed_midway_and_started_again_writes_what_an_uninterrupted_run_does(sample_dir: Path,
                                                                                   tmp_path: Path) -> None:
    """``finreport run`` killed (SIGKILL, its whole process group) once some reports are finished and others are
    not, then started again: every company's files are those of a run that was never interrupted (the reports
    the killed run finished are kept, the others made), nothing half-written is left, and the run says so."""
    def command(out: Path) -> list[str]:
        return [sys.executable, "-m", "flows.cli", "run", "--input", str(sample_dir / "long"), "--out", str(out),
                "--as-of", AS_OF.isoformat(), "--narrator", "reference"]

    env = os.environ | {"PREFECT_HOME": str(tmp_path / "prefect"), "FINREPORT_OUTBOX_DIR": str(tmp_path / "outbox")}
    # apart: a run reuses the reports of a finished run beside its folder
    whole, killed = tmp_path / "whole" / "out", tmp_path / "killed" / "out"
    subprocess.run(command(whole), cwd=ROOT, env=env, check=True, capture_output=True, timeout=900)
    victim = subprocess.Popen(command(killed), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while len(list(killed.glob("*/edition.json"))) < 3 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    finished = {p.parent.name for p in killed.glob("*/edition.json")}
    assert 3 <= len(finished) < 14 and not (killed / "manifest.json").exists()
    again = subprocess.run(command(killed), cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Traceback" not in again.stdout + again.stderr
    manifest = json.loads((killed / "manifest.json").read_text())
    assert set(manifest["reuse"]["reused"]) == finished  # kept from the killed run, in place
    assert not [p for p in killed.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]
    entities = sorted(p.parent.name for p in whole.glob("*/report.pdf"))
    assert sorted(p.parent.name for p in killed.glob("*/report.pdf")) == entities and len(entities) == 14
    made = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # the run's id and time
                      r"|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")
    for entity in entities:
        assert _files(whole / entity) == _files(killed / entity), entity
        texts = [made.sub("RUN", text_of(f / entity / "report.pdf")) for f in (whole, killed)]
        assert texts[0] == texts[1], entity
    assert (whole / "rejected.csv").read_bytes() == (killed / "rejected.csv").read_bytes()
