"""Nightly and on-demand report runs: the stages of ``generator`` as Prefect tasks, mapped per company.

Whole-run stages (ingest, metrics, reasoning) are one task each: they are vectorised over every company,
and reasoning batches all companies' partitions into one JVM per two cores. Per-company stages (files and
answers, then charts and PDF) are mapped, so each company has its own task runs: one company that fails
is logged and listed in the manifest while the others complete. Only I/O errors are retried.

``python flows/reports.py`` serves both deployments (nightly on a cron schedule, on-demand from the UI)
against the configured Prefect server; called as functions, the flows run on Prefect's local ephemeral
server with nothing to start by hand.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from generator.settings import get_settings

# This machine may be offline: Prefect's usage telemetry would fail with an error line on every run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A busy 2-core machine can take longer than Prefect's 20 s to start the temporary local server.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from prefect import flow, get_run_logger, serve, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.schedules import Cron
from prefect.states import Completed, Failed, State
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field, field_validator

from generator import deliver, render
from generator import facts as stages
from generator.errors import FinreportError, UsageError
from generator.facts import FactsRun
from generator.graph import Graph, flag_labels
from generator.ingest import Ingested
from generator.metrics import Analysis
from generator.narrator import Narrator, catalogue
from generator.outputs import folder_names, write_atomic, write_json

NIGHTLY_CRON = "0 5 * * *"
NIGHTLY_TIMEZONE = "America/New_York"


class ReportRequest(BaseModel):
    """What a run reports on. The Prefect UI shows these fields, with their descriptions, as the run's form."""

    inputs: list[str] = Field(default_factory=lambda: [str(p) for p in get_settings().inputs],
                              description="Input files or folders (.csv, .parquet, .jsonl; folders are searched)")
    as_of: date | None = Field(None, description="Date printed on the reports and naming their folder; "
                                                 "empty: today in FINREPORT_TIMEZONE")
    entities: list[str] = Field(default_factory=list, description="Entity ids to report on; empty: every company")
    questions: list[str] = Field(default_factory=list,
                                 description="Question ids of the catalogue to answer; empty: all of them")
    output_dir: str = Field(default_factory=lambda: str(get_settings().output_dir),
                            description="Folder the run writes to")
    dated_folder: bool = Field(True, description="Write into OUTPUT_DIR/<as-of date>/ rather than OUTPUT_DIR")
    narrator: Literal["reference", "model"] = Field(
        "model", description="Who writes the answers: the reference templates, or the language model "
                                 "(every model answer verified against the facts, else the reference text)")
    model_path: str = Field(default_factory=lambda: str(get_settings().model_dir),
                            description="Folder of the narrator checkpoint (Hugging Face format)")
    email: bool = Field(False, description="E-mail the reports to their subscribers (FINREPORT_SUBSCRIPTIONS)")
    recipients: list[str] = Field(default_factory=list,
                                  description="Also e-mail one digest of this run's reports to these addresses")

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        return [deliver.check_address(v) for v in value]

    @field_validator("questions")
    @classmethod
    def _known_questions(cls, value: list[str]) -> list[str]:
        unknown = [q for q in value if q not in {q.id for q in catalogue()}]
        if unknown:
            choices = ", ".join(q.id for q in catalogue() if not q.summary)  # the summary is always written
            raise ValueError(f"unknown question id(s) {', '.join(unknown)}; the catalogue has {choices}")
        return value

    def day(self) -> str:
        return (self.as_of or datetime.now(ZoneInfo(get_settings().timezone)).date()).isoformat()

    def folder(self) -> Path:
        return Path(self.output_dir) / self.day() if self.dated_folder else Path(self.output_dir)


class OnDemandRequest(ReportRequest):
    """A run started by a person for chosen companies."""

    entities: list[str] = Field(..., min_length=1, description="Entity ids to report on (at least one)")


class Progress(Protocol):
    """Told each whole-run stage as it starts, how many companies the run reports on, then each company as
    its report is done or has failed."""

    def stage(self, name: str) -> None: ...

    def start(self, total: int) -> None: ...

    def done(self, entity: str, ok: bool) -> None: ...


_listeners: list[Progress] = []


@contextmanager
def listening(listener: Progress) -> Iterator[None]:
    """``finreport run`` draws its progress bar from this; a served flow has no listener."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


# --- tasks ------------------------------------------------------------------------------------------------

def _io_error(task: Any, task_run: Any, state: State) -> bool:
    """Retry a disk or network hiccup; a bug or bad data fails the same way every time."""
    return isinstance(state.result(raise_on_failure=False), OSError)


_DELAYS = get_settings().io_retry_delays
IO_RETRIES: dict[str, Any] = {"retries": len(_DELAYS), "retry_delay_seconds": _DELAYS, "retry_condition_fn": _io_error}

# Owlready2's quadstore and rdflib serialisation are used from one thread at a time.
_GRAPH = threading.Lock()


@task(name="ingest", cache_policy=NO_CACHE, **IO_RETRIES)
def load_inputs(inputs: list[str]) -> Ingested | State:
    try:
        return stages.read_inputs([Path(p) for p in inputs])
    except FinreportError as exc:  # says what to change: a failed state with that line, not a traceback
        return Failed(message=str(exc), data=exc)


@task(name="metrics", cache_policy=NO_CACHE)
def compute(ingested: Ingested) -> tuple[Analysis, Any]:
    return stages.analyse(ingested)


@task(name="reasoning", cache_policy=NO_CACHE)
def classify(analysis: Analysis) -> Graph | State:
    try:
        return stages.classify(analysis)
    except FinreportError as exc:  # no Java, or HermiT refused the ontology
        return Failed(message=str(exc), data=exc)


@task(name="answers", cache_policy=NO_CACHE)
def answer_questions(run: FactsRun, entities: list[str], narrator: str, model_path: str,
                     questions: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every question of every company in one call: a model is loaded once and generates in batches."""
    chosen: Narrator | None = None
    about: dict[str, Any] = {"narrator": narrator}
    if narrator == "model":
        from generator.narrator.model import PROMPT_FORMAT, ModelNarrator

        chosen = ModelNarrator(Path(model_path), flag_labels(run.graph.tbox))
        about |= {"model": model_path, "prompt_format": PROMPT_FORMAT, "beams": chosen.beams}
    answered = stages.answer(run, entities, chosen, questions)
    answers = [a for _, of_entity in answered.values() for a in of_entity]
    origins = [a.verification.get("status", a.origin) for a in answers]
    about |= {status: origins.count(status) for status in sorted(set(origins))}
    if chosen is not None:  # verified answers a beam wrote after the greedy text failed; prompts never generated
        about["verified_by_beam"] = sum(a.origin == "model" and a.verification["decoding"] != "greedy" for a in answers)
        about["not_generated"] = sum(a.verification.get("decoding") == "not generated" for a in answers)
    return answered, about


@task(name="facts-and-answers", task_run_name="facts-and-answers-{entity}", cache_policy=NO_CACHE, **IO_RETRIES)
def entity_files(run: FactsRun, entity: str, folder: Path, run_id: str, as_of: str, tbox: Any,
                 answered: Any) -> render.Report:
    with _GRAPH:
        return stages.write_entity(run, entity, folder, run_id, as_of, tbox, answered)


@task(name="report", task_run_name="report-{report.context.entity_id}", cache_policy=NO_CACHE, **IO_RETRIES)
def entity_report(report: render.Report, analysis: Analysis, manifest: dict[str, Any], target: Path,
                  pool: Any) -> dict[str, Any]:
    """Charts and PDF, in a printing process (WeasyPrint and pyplot want a process each)."""
    timings = pool.submit(render.print_pdf, render.job(report, analysis, manifest, target)).result()
    mail = deliver.report_mail(report.context, report.answers, report.findings, target)
    return {"path": str(target), "timings": timings | report.timings, "mail": mail}


@task(name="queue-mail", cache_policy=NO_CACHE, **IO_RETRIES)
def queue_mail(run_id: str, as_of: str, mails: list[deliver.ReportMail], email: bool,
               recipients: list[str]) -> dict[str, Any] | State:
    """Every message this run owes, written to the outbox before anything is sent."""
    settings = get_settings()
    try:
        subscriptions = deliver.load_subscriptions(settings.subscriptions) if email else deliver.Subscriptions()
    except FinreportError as exc:  # a missing or wrong subscriptions file: one line, the reports stand
        return Failed(message=str(exc), data=exc)
    drafts = deliver.plan(run_id, as_of, mails, subscriptions, recipients)
    outbox = deliver.Outbox(settings.outbox_dir)
    return {"drafts": len(drafts), "new": sum(outbox.put(d) for d in drafts)}


def _server_away(task: Any, task_run: Any, state: State) -> bool:
    return isinstance(state.result(raise_on_failure=False), deliver.DeliveryPending)


_MAIL_DELAYS = get_settings().mail_retry_delays


@task(name="send-mail", cache_policy=NO_CACHE, retries=len(_MAIL_DELAYS), retry_delay_seconds=_MAIL_DELAYS,
      retry_condition_fn=_server_away)
def send_mail() -> dict[str, Any]:
    """Send what the outbox holds; while the server is away, retry with back-off (then `finreport deliver`)."""
    settings = get_settings()
    result = deliver.Outbox(settings.outbox_dir).send(deliver.smtp_settings(settings))
    if result.waiting:
        raise deliver.DeliveryPending(result)
    return result.record()


@task(name="rejected-rows", cache_policy=NO_CACHE, **IO_RETRIES)
def write_rejected(ingested: Ingested, out: Path) -> None:
    write_atomic(out / "rejected.csv", ingested.rejected.write_csv())


@task(name="manifest", cache_policy=NO_CACHE, **IO_RETRIES)
def write_manifest(manifest: dict[str, Any], out: Path) -> None:
    write_json(out / "manifest.json", manifest)


# --- the run -----------------------------------------------------------------------------------------------

def report_pack(request: ReportRequest, kind: str) -> State:
    """Every stage for the requested companies; the final state says how many reports were written."""
    started = time.perf_counter()
    run_id = flow_run.get_id() or stages.new_run_id()
    as_of, out = request.day(), request.folder()
    if request.narrator == "model" and not (Path(request.model_path) / "config.json").is_file():
        problem = UsageError(f"no narrator checkpoint in {request.model_path} (a Hugging Face model folder with "
                             "config.json); give its folder, or use the reference narrator")
        return Failed(message=str(problem), data=problem)
    with render.printing_pool() as pool:
        # The printing processes start (and import WeasyPrint) while the whole-run stages work.
        render.warm_up(pool)
        run = _whole_run(request)
        if isinstance(run, State):  # the stage's own one-line reason becomes the run's
            return Failed(message=run.message, data=run.result(raise_on_failure=False))
        folders = folder_names(run.entities)
        wanted = set(request.entities or run.entities)
        selected = [e for e in run.entities if e in wanted]
        manifest = stages.build_manifest(run, run_id, as_of, {e: folders[e] for e in selected})
        manifest["run"] = {"kind": kind, "flow_run": flow_run.get_name(), "request": request.model_dump(mode="json")}
        failures = [f for f in manifest["failures"] if not request.entities or f["entity_id"] in wanted]
        failures += [{"entity_id": e, "stage": "ingest", "error": "not in the inputs"}
                     for e in sorted(wanted - set(run.entities) - {f["entity_id"] for f in failures})]
        rejected = write_rejected.submit(run.ingested, out)
        planned = len(selected) + len(failures)
        for listener in _listeners:
            listener.start(planned)
        for failure in failures:
            get_run_logger().warning("%s: no report (%s)", failure["entity_id"], failure["error"])
            _tell(failure["entity_id"], ok=False)
        reports = _per_entity(run, selected, folders, manifest, request, out, pool, failures)
        rejected.result()

    manifest["reports"] = [reports[e]["path"] for e in selected if e in reports]
    manifest["failures"] = sorted(failures, key=lambda f: f["entity_id"])
    for result in reports.values():
        for stage, seconds in result["timings"].items():
            run.timings[f"sum_{stage}"] = run.timings.get(f"sum_{stage}", 0.0) + seconds
    run.timings["total_s"] = time.perf_counter() - started
    manifest["timings"] = {k: round(v, 3) for k, v in stages.timings(run).items()}
    if request.email or request.recipients:
        manifest["delivery"] = _deliver(manifest, [reports[e]["mail"] for e in selected if e in reports], request)
    write_manifest(manifest, out)
    _artifacts(kind, run, manifest, selected, folders, out)

    message = f"{len(manifest['reports'])} of {planned} reports written to {out}"
    if manifest["failures"]:
        message += "; failed: " + ", ".join(f["entity_id"] for f in manifest["failures"])
    if manifest.get("delivery", {}).get("waiting"):
        message += f"; {deliver.emails(len(manifest['delivery']['waiting']))} waiting in the outbox"
    return (Completed if manifest["reports"] else Failed)(message=message, data=manifest)


def _deliver(manifest: dict[str, Any], mails: list[deliver.ReportMail], request: ReportRequest) -> dict[str, Any]:
    """Queue, then send. Delivery never fails the run: what was and was not delivered goes to the manifest,
    the final state's message and the artifacts."""
    _stage("sending e-mail")
    logger = get_run_logger()
    queued = queue_mail(manifest["run_id"], manifest["as_of"], mails, request.email, request.recipients,
                        return_state=True)
    if not queued.is_completed():
        error = str(queued.result(raise_on_failure=False))
        logger.warning("e-mail not queued: %s", error)
        return {"queued": 0, "sent": [], "rejected": [], "waiting": [], "unconfirmed": [], "error": error}
    sent = send_mail(return_state=True)
    outcome = sent.result(raise_on_failure=False)
    record = outcome.result.record() if isinstance(outcome, deliver.DeliveryPending) else outcome
    record["queued"] = queued.result()["new"]
    record["unconfirmed"] = [{"id": m["id"], "recipient": m["recipient"], "error": m["attempts"][-1]["unanswered"]}
                             for m in deliver.Outbox(get_settings().outbox_dir).maybe_sent()]
    for item in record["rejected"]:
        logger.warning("e-mail to %s rejected: %s", item["recipient"], item["error"])
    for item in record["unconfirmed"]:
        logger.warning("e-mail %s to %s may have arrived (the server did not answer after it was sent): check with "
                       "the recipient; `finreport deliver --resend %s` sends it again", item["id"], item["recipient"],
                       item["id"])
    if record["waiting"]:
        logger.warning("%s waiting in the outbox (%s); `finreport deliver --retry` sends them",
                       deliver.emails(len(record["waiting"])), record["waiting"][0]["error"])
    return record


def _whole_run(request: ReportRequest) -> FactsRun | State:
    """Ingest, metrics, reasoning; the failed state of a stage that cannot go on (no input, no Java)."""
    t0 = time.perf_counter()
    _stage("reading inputs")
    ingested = load_inputs(request.inputs, return_state=True)
    if not ingested.is_completed():
        return ingested
    t1 = time.perf_counter()
    _stage("computing metrics")
    analysis, findings = compute(ingested.result())
    t2 = time.perf_counter()
    _stage("reasoning (HermiT)")
    graph = classify(analysis, return_state=True)
    if not graph.is_completed():
        return graph
    timings = {"ingest_s": t1 - t0, "metrics_s": t2 - t1, "graph_s": time.perf_counter() - t2}
    return FactsRun(ingested.result(), analysis, findings, graph.result(), timings)


def _per_entity(run: FactsRun, selected: list[str], folders: dict[str, str], manifest: dict[str, Any],
                request: ReportRequest, out: Path, pool: Executor,
                failures: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
    """Files and answers, then the PDF, for each company; submitted in pairs, so printing starts with the
    first company rather than after the last. A failure is logged and added to ``failures``."""
    t0 = time.perf_counter()
    _stage("answering")
    answered, manifest["narrator"] = answer_questions(quote(run), selected, request.narrator, request.model_path,
                                                      request.questions)
    run.timings["answers_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    tbox = stages.ontology_graph(run.graph)
    pending: dict[PrefectFuture[Any], tuple[str, PrefectFuture[Any]]] = {}
    for entity in selected:
        files = entity_files.submit(quote(run), entity, out / folders[entity], manifest["run_id"], manifest["as_of"],
                                    quote(tbox), quote(answered[entity]))
        printed = entity_report.submit(files, quote(run.analysis), manifest, out / folders[entity] / "report.pdf",
                                       quote(pool))
        pending[printed] = (entity, files)
    reports: dict[str, dict[str, Any]] = {}
    for future in as_completed(list(pending)):
        entity, files = pending[future]
        future.wait()
        files.wait()
        if future.state.is_completed():
            reports[entity] = future.result()
        else:
            stage, state = ("report", future.state) if files.state.is_completed() else \
                ("facts-and-answers", files.state)
            error = state.message or state.name
            get_run_logger().error("%s: %s failed: %s", entity, stage, error)
            failures.append({"entity_id": entity, "stage": stage, "error": error})
        _tell(entity, ok=entity in reports)
    run.timings["entities_s"] = time.perf_counter() - t0
    return reports


def _stage(name: str) -> None:
    for listener in _listeners:
        listener.stage(name)


def _tell(entity: str, ok: bool) -> None:
    for listener in _listeners:
        listener.done(entity, ok)


def _artifacts(kind: str, run: FactsRun, manifest: dict[str, Any], selected: list[str], folders: dict[str, str],
               out: Path) -> None:
    """A table of the companies with their key figures and flags, and a page linking the PDFs."""
    failed = {f["entity_id"]: f for f in manifest["failures"]}
    written = {Path(p).parent.name: Path(p) for p in manifest["reports"]}
    rows = []
    for entity in sorted(set(selected) | set(failed)):
        row = stages.key_figures(run, entity) if entity in selected else {"entity": entity}
        pdf = written.get(folders.get(entity, ""))
        row["report"] = str(pdf.resolve()) if pdf else f"failed ({failed[entity]['stage']}): {failed[entity]['error']}"
        rows.append(row)
    create_table_artifact(rows, key=f"{kind}-reports",
                          description=f"{len(manifest['reports'])} reports as of {manifest['as_of']}")
    lines = [f"# Reports as of {manifest['as_of']}", "",
             f"{len(manifest['reports'])} written, {len(failed)} failed, in `{_md(str(out.resolve()))}`; "
             f"run `{manifest['run_id']}`.", ""]
    lines += [f"- [{_md(entity)}]({pdf.resolve().as_uri()})" for entity in selected
              if (pdf := written.get(folders[entity]))]
    lines += [f"- **{_md(e)}** failed at {f['stage']}: {_md(f['error'])}" for e, f in sorted(failed.items())]
    if "delivery" in manifest:
        d = manifest["delivery"]
        lines += ["", f"E-mail: {len(d['sent'])} sent, {len(d['waiting'])} waiting in the outbox, "
                      f"{len(d['rejected'])} rejected" + (f" ({_md(d['error'])})" if d.get("error") else "")]
        lines += [f"- {_md(r['recipient'])}: {_md(r['error'])}"
                  for r in d["rejected"] + d["waiting"] + d.get("unconfirmed", [])]
    if manifest["counts"]["rows_rejected"]:
        lines += ["", f"{manifest['counts']['rows_rejected']:,} input rows rejected: "
                      f"`{_md(str((out / 'rejected.csv').resolve()))}`"]
    create_markdown_artifact("\n".join(lines), key=f"{kind}-reports-pdfs", description="Where the PDFs are")


def _md(text: str) -> str:
    """Data shown in a markdown artifact stays text: no HTML, no links, no emphasis."""
    return "".join(f"\\{c}" if c in "\\`*_{}[]()<>#+-.!|" else c for c in text)


# --- the flows ---------------------------------------------------------------------------------------------

_RUNNER = ThreadPoolTaskRunner(max_workers=(os.cpu_count() or 1) + 2)


@flow(name="nightly-reports", task_runner=_RUNNER, log_prints=True,
      description="Every company in the configured inputs: facts, flags, answers and a PDF report each.")
def nightly_reports(request: ReportRequest = ReportRequest()) -> State:  # noqa: B008 - the UI shows this default
    return report_pack(request, "nightly")


@flow(name="on-demand-report", task_runner=_RUNNER, log_prints=True,
      description="Reports for the companies a person picks, as of the date they pick.")
def on_demand_report(request: OnDemandRequest) -> State:
    return report_pack(request, "on-demand")


if __name__ == "__main__":
    serve(
        nightly_reports.to_deployment(name="nightly", schedules=[Cron(NIGHTLY_CRON, timezone=NIGHTLY_TIMEZONE)],
                                      parameters={"request": {"email": True}}),
        on_demand_report.to_deployment(name="on-demand"),
    )
