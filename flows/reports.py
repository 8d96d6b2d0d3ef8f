"""Nightly and on-demand report runs: the stages of ``generator`` as Prefect tasks, mapped per company.

Whole-run stages (ingest, metrics, reasoning) are one task each: they are vectorised over every company,
and reasoning batches all companies' partitions into one JVM per two cores. Per-company stages (files and
answers, then charts and PDF) are mapped, so each company has its own task runs: one company that fails
is logged and listed in the manifest while the others complete. Only I/O errors are retried. Where the
per-company tasks run is ``FINREPORT_TASK_RUNNER`` (threads, processes or a Dask cluster), read as each run
starts (:func:`task_runner`); the reasoned graph stays in the flow's process, which hands the tasks plain data.

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
from contextlib import contextmanager, nullcontext
from datetime import date
from pathlib import Path
from typing import Any

from generator.settings import Settings, get_settings

# This machine may be offline: Prefect's usage telemetry would fail with an error line on every run.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# A busy 2-core machine can take longer than Prefect's 20 s to start the temporary local server.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

import polars as pl
from prefect import flow, get_run_logger, serve, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.deployments.runner import RunnerDeployment
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.schedules import Cron
from prefect.states import Completed, Failed, State
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from prefect.utilities.callables import ParameterSchema

from generator import changes, deliver, incremental, manifest, pack, pipeline, render, reports
from generator.answers import narrate
from generator.errors import FinreportError
from generator.graph import Graph
from generator.ingest import Ingested
from generator.metrics import Analysis
from generator.outputs import folder_names, write_atomic, write_json
from generator.pipeline import FactsRun, Progress
from generator.portfolio import Portfolio
from generator.reports import OnDemandRequest, ReportRequest

NIGHTLY_CRON = "0 5 * * *"
NIGHTLY_TIMEZONE = "America/New_York"

_listeners: list[Progress] = []


@contextmanager
def listening(listener: Progress) -> Iterator[None]:
    """``finreport run`` draws its progress bar from this; a served flow has no listener."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class _Told:
    """The run's progress, told to every listener."""

    def stage(self, name: str) -> None:
        for listener in _listeners:
            listener.stage(name)

    def start(self, total: int) -> None:
        for listener in _listeners:
            listener.start(total)

    def done(self, entity: str, ok: bool) -> None:
        for listener in _listeners:
            listener.done(entity, ok)


_PROGRESS = _Told()


# --- tasks ------------------------------------------------------------------------------------------------

def _io_error(task: Any, task_run: Any, state: State) -> bool:
    """Retry a disk or network hiccup; a bug or bad data fails the same way every time."""
    return isinstance(state.result(raise_on_failure=False), OSError)


_DELAYS = get_settings().io_retry_delays
IO_RETRIES: dict[str, Any] = {"retries": len(_DELAYS), "retry_delay_seconds": _DELAYS, "retry_condition_fn": _io_error}

# Owlready2's quadstore and rdflib serialisation are used from one thread at a time.
_GRAPH = threading.Lock()


@task(cache_policy=NO_CACHE, **IO_RETRIES)
def read_inputs(inputs: list[Path]) -> Ingested | State:
    """The reading stage as a task: an I/O error is retried; inputs that cannot be used fail it with their one-line
    reason, which becomes the run's."""
    try:
        return pipeline.read_inputs(inputs)
    except FinreportError as exc:  # says what to change: a failed state with that line, not a traceback
        return Failed(message=str(exc), data=exc)


@task(cache_policy=NO_CACHE)
def analyse(ingested: Ingested) -> tuple[Analysis, Any]:
    """The checks-and-metrics stage as a task: computation on data already read, so nothing is retried."""
    return pipeline.analyse(ingested)


@task(cache_policy=NO_CACHE)
def price(ingested: Ingested, as_of: date, benchmark: str | None) -> pl.DataFrame:
    """The market stage as a task: performance, risk and valuation at the as-of date, from prices already read."""
    return pipeline.price(ingested, as_of, benchmark)


@task(cache_policy=NO_CACHE)
def hold(ingested: Ingested, analysis: Analysis, market: pl.DataFrame, as_of: date,
         benchmark: str | None) -> pipeline.Portfolios:
    """The portfolio stage as a task: each portfolio valued, weighted and measured at the as-of date (one that
    cannot be is a failure of its own, not of the run)."""
    return pipeline.hold(ingested, analysis, market, as_of, benchmark)


@task(cache_policy=NO_CACHE)
def classify(analysis: Analysis, market: pl.DataFrame, as_of: date, portfolios: list[Portfolio],
             entities: list[str] | None) -> Graph | State:
    """The reasoning stage as a task: no Java, or HermiT refusing the ontology, fails it with the one-line reason rather
    than a traceback, and ends the run."""
    try:
        return pipeline.classify(analysis, market, as_of, portfolios, entities)
    except FinreportError as exc:  # no Java, or HermiT refused the ontology
        return Failed(message=str(exc), data=exc)


@task(cache_policy=NO_CACHE)
def answer(run: FactsRun, entities: list[str], portfolios: list[str],
           request: ReportRequest) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Every question of every company, then of every portfolio: a model is loaded once and generates in batches;
    then the reader's own questions of every company, by the translator's programs."""
    narrator, about = reports.narrator_for(run, request)
    answered = pipeline.answer(run, entities, narrator, request.questions)
    contexts = pack.portfolio_contexts(run)
    books = narrate({p: contexts[p] for p in portfolios}, narrator, request.questions)
    counts = reports.narrator_counts([a for part in (answered, books) for _, own in part.values() for a in own],
                                     narrator is not None)
    with _GRAPH:  # the flags a program reads are SPARQL over the world
        asked = reports.custom_answers(run, entities, request.custom_questions)
    if asked:
        answers = [a for own in asked.values() for a in own]
        counts |= {"custom_answers": len(answers), "custom_refused": sum(a.refused for a in answers)}
    return answered, books, about | counts, asked


@task(task_run_name="answer-{name}", cache_policy=NO_CACHE)
def answer_part(name: str, contexts: dict[str, Any], narrator: reports.NarratorSpec | None,
                questions: list[str]) -> dict[str, Any]:
    """Every question of some companies (or portfolios), from their contexts, where the task runs (a Dask worker, a
    process of the pool): the narrator is loaded once per process (:func:`generator.reports.loaded_narrator`) and
    generates in batches. The run's other task runners answer the whole run at once (:func:`answer`)."""
    return narrate(contexts, reports.loaded_narrator(narrator), questions)


@task(task_run_name="write-entity-{entity}", cache_policy=NO_CACHE, **IO_RETRIES)
def write_entity(files: pack.EntityFiles, entity: str, folder: Path, run_id: str, as_of: str,
                 answered: dict[str, Any], asked: Any) -> pack.Report:
    """One company's files as its own task run, named after it and retried on I/O errors: a company that fails leaves
    the others. What they hold comes as plain data, taken from the run by the flow (the graph's part under its lock),
    so the task runs in any process: a thread of the flow's, a Dask worker. ``answered``: its answers, by company."""
    return pack.write_files(files, folder, run_id, as_of, answered[entity], asked)


@task(task_run_name="print-report-{report.context.entity_id}", cache_policy=NO_CACHE, **IO_RETRIES)
def print_report(report: pack.Report, charts: list[render.Chart], record: dict[str, Any], target: Path,
                 pool: Any, due: incremental.Owed, threshold: float) -> dict[str, Any]:
    """What changed since the last run, then charts and PDF in a printing process (WeasyPrint and pyplot want a process
    each; ``pool`` None: in the task's own, a Dask worker's), then the edition that makes the report finished."""
    ctx = report.context
    digest, changed = incremental.follow(due, target.parent, (ctx.fiscal_year, ctx.fiscal_period), threshold)
    if not changed["first"]:
        report.changes, report.since = changes.lines(changed, threshold), changed["since"]
    timings = _print(pool, render.print_pdf, render.PrintJob(report, charts, record, target))
    mail = deliver.report_mail(ctx, report.answers, report.findings, target, report.asked, changed, report.changes)
    incremental.write_edition(target.parent, due.key, report.run_id, report.as_of, digest, changed, mail.record())
    return {"path": str(target), "timings": timings | report.timings, "mail": mail, "changes": changed}


@task(task_run_name="write-portfolio-{portfolio}", cache_policy=NO_CACHE, **IO_RETRIES)
def write_portfolio(files: pack.PortfolioFiles, portfolio: str, folder: Path, run_id: str, as_of: str,
                    answered: dict[str, Any]) -> pack.PortfolioReport:
    """One portfolio's files as its own task run, retried on I/O errors, from plain data the flow took from the run
    (its flags by value are SPARQL over the world), so in any process. ``answered``: its answers, by portfolio."""
    return pack.write_portfolio_files(files, folder, run_id, as_of, answered[portfolio])


@task(task_run_name="print-portfolio-{report.context.entity_id}", cache_policy=NO_CACHE, **IO_RETRIES)
def print_portfolio(report: pack.PortfolioReport, record: dict[str, Any], target: Path, pool: Any) -> dict[str, Any]:
    """A portfolio's charts and PDF, in a printing process (``pool`` None: in the task's own)."""
    timings = _print(pool, render.print_portfolio_pdf, render.PortfolioPrintJob(report, record, target))
    mail = deliver.portfolio_mail(report.context, report.answers, target)
    return {"path": str(target), "timings": timings | report.timings, "mail": mail}


def _print(pool: Executor | None, print_: Any, job: Any) -> dict[str, float]:
    """A report printed in the printing pool of the flow's process (threads), else in this task's process."""
    return pool.submit(print_, job).result() if pool is not None else render.print_here(print_, job)


@task(cache_policy=NO_CACHE, **IO_RETRIES)
def queue_mail(run_id: str, as_of: str, mails: list[deliver.ReportMail], email: bool,
               recipients: list[str]) -> dict[str, Any] | State:
    """Every message this run owes, written to the outbox before anything is sent."""
    try:
        return {"new": deliver.queue(run_id, as_of, mails, email, recipients, get_settings())}
    except FinreportError as exc:  # a missing or wrong subscriptions file: one line, the reports stand
        return Failed(message=str(exc), data=exc)


def _server_away(task: Any, task_run: Any, state: State) -> bool:
    return isinstance(state.result(raise_on_failure=False), deliver.DeliveryPending)


_MAIL_DELAYS = get_settings().mail_retry_delays


@task(cache_policy=NO_CACHE, retries=len(_MAIL_DELAYS), retry_delay_seconds=_MAIL_DELAYS,
      retry_condition_fn=_server_away)
def send_mail() -> dict[str, Any]:
    """Send what the outbox holds; while the server is away, retry with back-off (then `finreport deliver`)."""
    return deliver.send_waiting(get_settings())


@task(cache_policy=NO_CACHE, **IO_RETRIES)
def write_rejected(ingested: Ingested, out: Path) -> None:
    """rejected.csv, as a task of its own so that it is written while the companies are; retried on I/O errors."""
    write_atomic(out / "rejected.csv", ingested.rejected.write_csv())


@task(cache_policy=NO_CACHE, **IO_RETRIES)
def write_changes(since: dict[str, Any], out: Path) -> None:
    """changes.json: what changed in each company's report since the last run; retried on I/O errors."""
    write_json(out / "changes.json", since)


@task(cache_policy=NO_CACHE, **IO_RETRIES)
def write_manifest(record: dict[str, Any], out: Path) -> None:
    """manifest.json, written last, once everything it records is known; retried on I/O errors."""
    write_json(out / "manifest.json", record)


# --- the run -----------------------------------------------------------------------------------------------

def _stage(call: Any) -> Any:
    """A task as a pipeline stage: its result, or the error its failed state holds raised in the flow (the task
    itself fails with the one-line reason, not a traceback)."""

    def run(*args: Any) -> Any:
        state = call(*args, return_state=True)
        result = state.result(raise_on_failure=False)
        if not state.is_completed():
            raise result if isinstance(result, BaseException) else FinreportError(state.message or state.name)
        return result

    return run


_STAGES = pipeline.Stages(read=_stage(read_inputs), analyse=_stage(analyse), price=_stage(price),
                          hold=_stage(hold), classify=_stage(classify))


def report_pack(request: ReportRequest, kind: str) -> State:
    """Every stage for the requested companies; the final state says how many reports were written."""
    started = time.perf_counter()
    run_id = flow_run.get_id() or manifest.new_run_id()
    as_of, out = request.day(), request.folder()
    if problem := reports.missing_model(request):
        return Failed(message=str(problem), data=problem)
    # With threads, reports print in a pool of processes, which start (and import WeasyPrint) while the whole-run
    # stages work; on Dask or in a pool of processes each task prints in its own process.
    with render.printing_pool() if _tasks_here() else nullcontext() as pool:
        if pool is not None:
            render.warm_up(pool)
        incremental.sweep(out)  # what a killed run left half-written
        decided: dict[str, Any] = {}
        try:
            run = pipeline.build([Path(p) for p in request.inputs], _PROGRESS, _STAGES,
                                 as_of=date.fromisoformat(as_of), benchmark=request.benchmark,
                                 reasoned=lambda partial: _decide(partial, request, out, decided))
        except FinreportError as exc:  # the stage's own one-line reason becomes the run's
            return Failed(message=str(exc), data=exc)
        folders = folder_names(run.entities)
        selected, failures, keys, plan = (decided[k] for k in ("selected", "failures", "keys", "plan"))
        incremental.restore(run.graph, plan.reuse)
        books, book_failures = reports.select_portfolios(run, request)
        record = manifest.build_manifest(run, run_id, as_of, {e: folders[e] for e in selected})
        record["run"] = {"kind": kind, "flow_run": flow_run.get_name(), "request": request.model_dump(mode="json")}
        rejected = write_rejected.submit(run.ingested, out)
        planned = len(selected) + len(failures) + len(books) + len(book_failures)
        _PROGRESS.start(planned)
        for failure in failures:
            get_run_logger().warning("%s: no report (%s)", failure["entity_id"], failure["error"])
            _PROGRESS.done(failure["entity_id"], ok=False)
        for failure in book_failures:
            get_run_logger().warning("portfolio %s: no report (%s)", failure["portfolio_id"], failure["error"])
            _PROGRESS.done(failure["portfolio_id"], ok=False)
        reused = _reuse(plan, out, folders)
        computed = [e for e in selected if e not in plan.reuse]
        record["reuse"] = incremental.reuse_record(plan, keys, computed)
        owed = {e: incremental.owed(plan, keys, e) for e in computed}
        written, printed = _per_entity(run, computed, books, folders, record, request, out, pool, failures,
                                       book_failures, owed)
        written |= reused
        rejected.result()

    record["reports"] = [written[e]["path"] for e in selected if e in written]
    record["failures"] = sorted(failures, key=lambda f: f["entity_id"])
    record["portfolios"] |= {"reports": [printed[p.portfolio_id]["path"] for p in books if p.portfolio_id in printed],
                             "failures": sorted(book_failures, key=lambda f: f["portfolio_id"])}
    reports.add_timings(run, written | {f"portfolio {p}": r for p, r in printed.items()})
    run.timings["total_s"] = time.perf_counter() - started
    record["timings"] = {k: round(v, 3) for k, v in run.stage_timings().items()}
    if request.email or request.recipients:
        mails = [written[e]["mail"] for e in selected if e in written] + \
            [printed[p.portfolio_id]["mail"] for p in books if p.portfolio_id in printed]
        record["delivery"] = _deliver(record, mails, request)
    since = changes.run_record(record, {e: written[e]["changes"] for e in selected if e in written},
                               get_settings().change_threshold)
    record["changes"] = since["totals"]
    write_changes(since, out)
    write_manifest(record, out)
    create_table_artifact(reports.changes_table(since), key=f"{kind}-changes",
                          description=reports.changes_description(since))
    create_table_artifact(reports.overview(run, record, selected, folders), key=f"{kind}-reports",
                          description=f"{len(record['reports'])} reports as of {record['as_of']}")
    if books or book_failures:
        create_table_artifact(reports.portfolio_overview(run, books, record), key=f"{kind}-portfolios",
                              description=f"{len(record['portfolios']['reports'])} portfolio reports as of "
                                          f"{record['as_of']}")
    create_markdown_artifact(reports.pdf_page(record, selected, folders, out), key=f"{kind}-reports-pdfs",
                             description="Where the PDFs are")
    message = reports.outcome(record, planned, out)
    return (Completed if record["reports"] or record["portfolios"]["reports"] else Failed)(message=message, data=record)


def _deliver(record: dict[str, Any], mails: list[deliver.ReportMail], request: ReportRequest) -> dict[str, Any]:
    """Queue, then send. Delivery never fails the run: what was and was not delivered goes to the manifest,
    the final state's message and the artifacts."""
    _PROGRESS.stage("sending e-mail")
    logger = get_run_logger()
    queued = queue_mail(record["run_id"], record["as_of"], mails, request.email, request.recipients,
                        return_state=True)
    if not queued.is_completed():
        error = str(queued.result(raise_on_failure=False))
        logger.warning("e-mail not queued: %s", error)
        return {"queued": 0, "sent": [], "rejected": [], "waiting": [], "unconfirmed": [], "error": error}
    sent = send_mail(return_state=True)
    outcome = sent.result(raise_on_failure=False)
    outbox = deliver.Outbox(get_settings().outbox_dir)
    if isinstance(outcome, deliver.DeliveryPending):
        delivery = outcome.result.record()
    elif isinstance(outcome, BaseException):  # no server to try (a missing credentials block): all of it waits
        error = f"{type(outcome).__name__}: {outcome}"
        delivery = {"sent": [], "rejected": [], "error": error, "waiting": [
            {"id": m["id"], "recipient": m["recipient"], "error": error}
            for m in outbox.waiting()]}
    else:
        delivery = outcome
    delivery["queued"] = queued.result()["new"]
    delivery["unconfirmed"] = reports.unconfirmed(outbox)
    for item in delivery["rejected"]:
        logger.warning("e-mail to %s rejected: %s", item["recipient"], item["error"])
    for item in delivery["unconfirmed"]:
        logger.warning("e-mail %s to %s may have arrived (the server did not answer after it was sent): check with "
                       "the recipient; `finreport deliver --resend %s` sends it again", item["id"], item["recipient"],
                       item["id"])
    if delivery["waiting"]:
        logger.warning("%s waiting in the outbox (%s); `finreport deliver --retry` sends them",
                       deliver.emails(len(delivery["waiting"])), delivery["waiting"][0]["error"])
    return delivery


def _decide(run: FactsRun, request: ReportRequest, out: Path, decided: dict[str, Any]) -> list[str] | None:
    """Before reasoning: the companies the run reports on, their keys, the reports it can reuse (into ``decided``);
    returns the companies to reason over: those made again (every one when the reader asks questions of their own,
    which may read any company's flags)."""
    selected, failures = reports.select(run, request, manifest.unusable_entities(run.ingested))
    keys = incremental.keys(run, selected, incremental.fingerprint(request), bool(request.custom_questions))
    plan = incremental.plan(out, folder_names(run.entities), keys, request.full_run)
    decided.update(selected=selected, failures=failures, keys=keys, plan=plan)
    return None if request.custom_questions else [e for e in selected if e not in plan.reuse]


def _reuse(plan: incremental.Plan, out: Path, folders: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The reports reused from the last run, brought into tonight's folder, each with the e-mail it was sent with
    (saying it is unchanged)."""
    reused = {}
    for entity, edition in sorted(plan.reuse.items()):
        target = out / folders[entity]
        incremental.bring(edition, target)
        mail = deliver.ReportMail.reused(edition.record["mail"], target / "report.pdf")
        reused[entity] = {"path": str(target / "report.pdf"), "timings": {}, "mail": mail,
                          "changes": {"changed": False, "reused_from": edition.made}}
        _PROGRESS.done(entity, ok=True)
    return reused


def _per_entity(run: FactsRun, selected: list[str], books: list[Portfolio], folders: dict[str, str],
                record: dict[str, Any], request: ReportRequest, out: Path, pool: Executor | None,
                failures: list[dict[str, str]], book_failures: list[dict[str, str]],
                owed: dict[str, incremental.Owed]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Files and answers, then the PDF, for each company, then for each portfolio (its report reads the companies'
    flags); submitted in pairs, so printing starts with the first company rather than after the last. A failure
    is logged and added to ``failures`` (a portfolio's to ``book_failures``).

    What each company's tasks need from the run is taken here, in the flow's process, as plain data
    (:class:`generator.pack.EntityFiles`, the graph's part under its lock): the tasks only answer, write files and
    print, so they run wherever the task runner puts them. In threads, one task answers the whole run and the PDFs
    print in ``pool``; elsewhere (Dask, processes) chunks of companies are answered by tasks of their own and each
    task prints in its own process."""
    began = time.perf_counter()
    _PROGRESS.stage("answering")
    here = _tasks_here()
    if here:  # one task answers the whole run, its model loaded once, in batches across the companies
        answered, booked, record["narrator"], asked = answer(quote(run), selected, [p.portfolio_id for p in books],
                                                             request)
        run.timings["answers_s"] = time.perf_counter() - began
        parts: list[PrefectFuture[Any]] = []
    else:  # a task per chunk of companies, each answered where it runs: the flow keeps the graph
        answered, booked, asked, parts = _answer_parts(run, selected, books, request, record)
    t0 = time.perf_counter()
    threshold = get_settings().change_threshold
    with _GRAPH:
        ontology = pack.ontology_triples(run.graph)
    # quote() spares Prefect a walk through the data for futures; Dask would unpack it (it is a tuple) on the way
    keep: Any = quote if here else _as_is
    printing = keep(pool if here else None)
    pending: dict[PrefectFuture[Any], tuple[str, PrefectFuture[Any], bool]] = {}
    for entity in selected:
        try:  # what the company's tasks need from the run, as plain data: they may run in another process
            with _GRAPH:
                data = pack.entity_files(run, entity, ontology)
            charts = render.chart_data(run.analysis, entity)
        except Exception as exc:  # this company's data, not the run's: it fails alone
            _failed(failures, "entity_id", entity, "write_entity", f"{type(exc).__name__}: {exc}")
            continue
        files = write_entity.submit(keep(data), entity, out / folders[entity], record["run_id"], record["as_of"],
                                    _answers(answered, entity), keep(asked.get(entity, [])))
        printed = print_report.submit(files, keep(charts), record, out / folders[entity] / "report.pdf",
                                      printing, owed[entity], threshold)
        pending[printed] = (entity, files, False)
    book_folders = folder_names([p.portfolio_id for p in books])
    for book in books:
        folder = out / pack.PORTFOLIOS / book_folders[book.portfolio_id]
        try:
            with _GRAPH:
                data = pack.portfolio_files(run, book)
        except Exception as exc:
            _failed(book_failures, "portfolio_id", book.portfolio_id, "write_portfolio", f"{type(exc).__name__}: {exc}")
            continue
        files = write_portfolio.submit(keep(data), book.portfolio_id, folder, record["run_id"], record["as_of"],
                                       _answers(booked, book.portfolio_id))
        printed = print_portfolio.submit(files, record, folder / "report.pdf", printing)
        pending[printed] = (book.portfolio_id, files, True)
    if parts:
        _answered(parts, asked, record, run.timings, began)
    written: dict[str, dict[str, Any]] = {}
    portfolios: dict[str, dict[str, Any]] = {}
    for future in as_completed(list(pending)):
        name, files, is_book = pending[future]
        future.wait()
        files.wait()
        done = portfolios if is_book else written
        if future.state.is_completed():
            done[name] = future.result()
        else:
            kind = "portfolio" if is_book else "report"
            stage, state = (f"print_{kind}", future.state) if files.state.is_completed() else \
                (f"write_{'portfolio' if is_book else 'entity'}", files.state)
            if is_book:
                _failed(book_failures, "portfolio_id", name, stage, state.message or state.name, progress=False)
            else:
                _failed(failures, "entity_id", name, stage, state.message or state.name, progress=False)
        _PROGRESS.done(name, ok=name in done)
    run.timings["entities_s"] = time.perf_counter() - t0
    return written, portfolios


def _tasks_here() -> bool:
    """Whether the run's tasks run in threads of the flow's process, where they can be handed the run itself (its
    Owlready2 world cannot be pickled): not so on Dask workers or in a pool of processes."""
    context = FlowRunContext.get()
    return context is None or isinstance(context.task_runner, ThreadPoolTaskRunner)


def _slots() -> int:
    """How many tasks the run's task runner runs at once: a Dask cluster's worker threads, a pool's processes."""
    runner = FlowRunContext.get().task_runner  # type: ignore[union-attr]
    if hasattr(runner, "client"):  # prefect-dask's DaskTaskRunner
        return max(1, sum(runner.client.nthreads().values()))
    return getattr(runner, "_max_workers", None) or os.cpu_count() or 1


def _answer_parts(run: FactsRun, selected: list[str], books: list[Portfolio], request: ReportRequest,
                  record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[Any]]:
    """The answers as tasks that run elsewhere: what a narrator may use is taken from the graph here (its contexts,
    plain data), then each chunk of companies (one per worker thread), and the portfolios, are answered by a task
    of their own that loads the model once per process. Returns the future of each company's and each portfolio's
    answers, the reader's own questions answered here (the translator's programs read the graph) and the tasks."""
    with _GRAPH:
        contexts = pipeline.contexts(run, selected)
        book_contexts = pack.portfolio_contexts(run)
        spec = reports.narrator_spec(run, request)
        asked = reports.custom_answers(run, selected, request.custom_questions)
    record["narrator"] = reports.narrator_about(spec)
    count = max(1, min(len(selected), _slots()))
    chunks = [selected[k * len(selected) // count:(k + 1) * len(selected) // count] for k in range(count)]
    answered: dict[str, Any] = {}
    parts = []
    for k, chunk in enumerate(c for c in chunks if c):
        part = answer_part.submit(f"companies-{k + 1}-of-{count}", {e: contexts[e] for e in chunk}, spec,
                                  request.questions)
        answered |= dict.fromkeys(chunk, part)
        parts.append(part)
    booked: dict[str, Any] = {}
    if books:
        part = answer_part.submit("portfolios", {b.portfolio_id: book_contexts[b.portfolio_id] for b in books},
                                  spec, request.questions)
        booked = dict.fromkeys([b.portfolio_id for b in books], part)
        parts.append(part)
    return answered, booked, asked, parts


def _as_is(value: Any) -> Any:
    return value


def _answers(answered: dict[str, Any], subject: str) -> Any:
    """A write task's answers: the future of the task answering its chunk, or the run's answers (threads)."""
    found = answered.get(subject)
    return found if isinstance(found, PrefectFuture) else quote(answered)


def _answered(parts: list[PrefectFuture[Any]], asked: dict[str, Any], record: dict[str, Any],
              timings: dict[str, float], started: float) -> None:
    """Once every chunk is answered: the narrator's counts into the manifest (as :func:`answer` counts them), and
    how long answering took from the first chunk's start."""
    for part in parts:
        part.wait()
    timings["answers_s"] = time.perf_counter() - started
    answers = [a for part in parts if part.state.is_completed() for _, own in part.result().values() for a in own]
    record["narrator"] |= reports.narrator_counts(answers, record["narrator"]["narrator"] == "model")
    if asked:
        custom = [a for own in asked.values() for a in own]
        record["narrator"] |= {"custom_answers": len(custom), "custom_refused": sum(a.refused for a in custom)}


def _failed(failures: list[dict[str, str]], key: str, name: str, stage: str, error: str, progress: bool = True) -> None:
    """One company's (``key`` entity_id) or portfolio's (portfolio_id) failure: logged, listed, and told."""
    get_run_logger().error("%s%s: %s failed: %s", "portfolio " if key == "portfolio_id" else "", name, stage, error)
    failures.append({key: name, "stage": stage, "error": error})
    if progress:
        _PROGRESS.done(name, ok=False)


# --- the flows ---------------------------------------------------------------------------------------------

def task_runner(settings: Settings | None = None) -> TaskRunner[Any]:
    """The task runner ``FINREPORT_TASK_RUNNER`` names. ``threads`` (the default): threads of the flow's process,
    the reports printed in a pool of processes. ``processes``: Prefect's pool of processes, one per core. ``dask``:
    prefect-dask's, sending the per-company tasks to the scheduler at ``FINREPORT_DASK_ADDRESS``, else to a
    ``distributed.LocalCluster`` started for the run (a worker process per core, one thread each)."""
    settings = settings or get_settings()
    cores = os.cpu_count() or 1
    if settings.task_runner == "processes":
        return ProcessPoolTaskRunner(max_workers=cores)
    if settings.task_runner == "dask":
        from prefect_dask import DaskTaskRunner

        if settings.dask_address:
            return DaskTaskRunner(address=settings.dask_address)
        return DaskTaskRunner(cluster_kwargs={"n_workers": cores, "threads_per_worker": 1, "processes": True,
                                              "dashboard_address": None})
    return ThreadPoolTaskRunner(max_workers=cores + 2)


class ConfiguredTaskRunner(ThreadPoolTaskRunner):
    """The flows' task runner as declared: each flow run gets the one the settings name when it starts (Prefect starts
    a run with a ``duplicate()`` of its flow's runner), so a served deployment, ``finreport run`` and a flow called
    as a function all follow ``FINREPORT_TASK_RUNNER`` as it is at that moment. ``flow.with_options(task_runner=...)``
    still chooses another."""

    def duplicate(self) -> TaskRunner[Any]:  # type: ignore[override]
        """The runner :func:`task_runner` builds from the settings now."""
        return task_runner()


_RUNNER = ConfiguredTaskRunner()


@flow(name="nightly-reports", task_runner=_RUNNER, log_prints=True,
      description="Every company in the configured inputs: facts, flags, answers and a PDF report each.")
def nightly_reports(request: ReportRequest = ReportRequest()) -> State:  # noqa: B008 - the UI shows this default
    """The scheduled run over every company of the configured inputs (the deployment turns e-mail on); its final state
    says how many reports were written."""
    return report_pack(request, "nightly")


@flow(name="on-demand-report", task_runner=_RUNNER, log_prints=True,
      description="Reports for the companies a person picks, as of the date they pick.")
def on_demand_report(request: OnDemandRequest) -> State:
    """A run a person starts from the UI, for the companies they pick (at least one) as of the date they pick."""
    return report_pack(request, "on-demand")


CHOICE_TITLES = {"entities": "A company of the inputs", "portfolios": "A portfolio of the inputs"}
"""What the form calls the ids it offers, by field of the on-demand request."""


def on_demand_deployment() -> RunnerDeployment:
    """The on-demand deployment, its form offering the companies and the portfolios of the configured inputs
    (``reports.entity_choices``) as choices, so that a person picks ids rather than looks them up.

    A choice is one of two kinds of item, the ids of the inputs or any other id: a company the inputs gained since
    the deployment was served, or one in inputs the person names in the form, must still be accepted, and the
    run says which companies were not in its inputs. Without choices (no readable inputs) a field keeps its free
    text. Prefect 3.9 builds the form from the deployment's parameter schema, which ``to_deployment`` derives from
    the flow's signature and keeps in a private attribute; the request's fields are in its ``OnDemandRequest``
    definition."""
    deployment = on_demand_report.to_deployment(name="on-demand")
    schema = deployment._parameter_openapi_schema.model_dump()
    fields = schema["definitions"]["OnDemandRequest"]["properties"]
    for field, ids in reports.entity_choices(get_settings().inputs).items():
        if ids:
            fields[field]["items"] = {"anyOf": [{"type": "string", "enum": ids, "title": CHOICE_TITLES[field]},
                                                {"type": "string", "title": "Another id"}]}
    deployment._parameter_openapi_schema = ParameterSchema(**schema)
    return deployment


if __name__ == "__main__":
    serve(
        nightly_reports.to_deployment(name="nightly", schedules=[Cron(NIGHTLY_CRON, timezone=NIGHTLY_TIMEZONE)],
                                      parameters={"request": {"email": True}}),
        on_demand_deployment(),
    )
