"""``finreport``: the command line. ``facts`` calls the pipeline as it is; ``run`` and ``finetune`` run the Prefect
flows (on Prefect's local ephemeral server unless PREFECT_API_URL names one); ``deliver`` works the outbox."""

from __future__ import annotations

import os
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from generator import lifecycle, manifest, pipeline
from generator.errors import FinreportError
from generator.graph import JavaMissingError
from generator.settings import SHIPPED_NARRATOR, SHIPPED_TRANSLATOR, get_settings

if TYPE_CHECKING:
    from generator.deliver import Outbox

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Nightly, traceable financial report packs from periodic statements.",
)

EXIT_FAILED = 1
EXIT_USAGE = 2


def writable(folder: Path) -> None:
    """The output folder exists (or is made) and takes a file, before any work: a run that read, computed and
    reasoned for minutes must not fail on where to write."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".finreport-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise fail(f"output folder {folder}: cannot write there ({exc.strerror or exc}); give one you can write to") \
            from None


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """One line on stderr saying what to fix, and the exit to raise with it (``raise fail(...)``): code 2, a usage
    error, unless told otherwise."""
    typer.echo(f"finreport: error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def sample(
    out: Annotated[Path | None, typer.Option(help="Folder to write the sample inputs to")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed; the same seed gives byte-identical files")] = None,
    as_of: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Last day of the daily prices "
                                                   "(default: today)")] = None,
) -> None:
    """Write the deterministic sample data set: statements (long CSV + one wide CSV per company), daily prices of
    the companies and a market index, and three portfolios of them with the FX rates they need."""
    from generator.sample import write_sample

    settings = get_settings()
    result = write_sample(out or settings.sample_dir, seed=settings.sample_seed if seed is None else seed,
                          as_of=as_of.date() if as_of else None)
    typer.echo(f"{len(result.entities)} companies, {result.rows:,} rows: {result.long_csv} and "
               f"{len(result.wide_files)} wide files in {result.wide_files[0].parent}; "
               f"{result.price_rows:,} daily prices in {result.prices_csv}; {result.portfolios} portfolios in "
               f"{result.holdings_csv}")


BENCHMARK_HELP = ("Entity id whose prices every share is measured against (beta, relative return); default: "
                  "FINREPORT_BENCHMARK; a sectors file's benchmark column wins for its rows")


@app.command()
def facts(
    input: Annotated[list[Path], typer.Option("--input", "-i", help="Input file or folder (repeatable)")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default: FINREPORT_OUTPUT_DIR or output/)")] = None,
    as_of: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Date the market metrics and "
                                                   "valuations are taken at; default today")] = None,
    benchmark: Annotated[str | None, typer.Option(help=BENCHMARK_HELP)] = None,
) -> None:
    """Ingest and validate the inputs, compute every metric, classify each period with HermiT, answer the
    analyst questions, and write facts.json, findings.json, flags.json, answers.json, graph.ttl and, for a
    company with prices, market.json per entity; portfolio.json, flags.json and answers.json per portfolio."""
    out = out or get_settings().output_dir
    writable(out)
    run = pipeline.build(input, as_of=as_of.date() if as_of else None, benchmark=benchmark)
    for refused in run.ingested.refused:
        typer.echo(f"finreport: refused {refused}", err=True)
    typer.echo(manifest.summary(manifest.write_run(run, out), out))


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in English (quote it)")],
    input: Annotated[list[Path] | None, typer.Option("--input", "-i", help="Input file or folder (repeatable); "
                                                      "default: FINREPORT_INPUTS")] = None,
    as_of: Annotated[datetime | None, typer.Option(formats=["%Y-%m-%d"], help="Answer with what was known on this "
                                                   "date (fiscal years ended by then); default today")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object: question, text, value, unit, "
                                              "entities, program, refused, reason, sources")] = False,
    model: Annotated[Path | None, typer.Option(help="Translator checkpoint folder (default: "
                                               "FINREPORT_TRANSLATOR_DIR, the shipped one)")] = None,
) -> None:
    """Answer a question about the companies of the inputs: a model turns it into a program, finreport runs the
    program over the facts and the reasoned graph, and the answer says where every figure came from. A question
    the inputs cannot answer gets the reason, and no number."""
    import json

    from generator.ask import ask as answer_question
    from generator.ask.knowledge import from_run
    from generator.ask.translate import load

    translator = load(model)  # a missing checkpoint is a usage error before the inputs are read
    run = pipeline.build(input or get_settings().inputs, as_of=as_of.date() if as_of else None)
    for refused in run.ingested.refused:
        typer.echo(f"finreport: refused {refused}", err=True)
    answer = answer_question(question, from_run(run), translator)
    if json_output:
        typer.echo(json.dumps(answer.record(), ensure_ascii=False, indent=2))
        return
    typer.echo(answer.text)
    if answer.program_words:
        typer.echo(f"computed: {answer.program_words}")
    for read in answer.sources:
        typer.echo(f"  {read['entity_id']} {read['metric']} FY{read['fiscal_year']}: "
                   f"{', '.join(read['sources']) or 'no source line'}")


@app.command("run")
def run_reports(
    input: Annotated[list[Path] | None, typer.Option("--input", "-i", help="Input file or folder (repeatable); "
                                                      "default: FINREPORT_INPUTS")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: FINREPORT_OUTPUT_DIR/<as-of date>)")] = None,
    as_of: Annotated[str | None, typer.Option(help="As-of date (YYYY-MM-DD) printed on the reports and the "
                                              "market metrics are taken at; default today")] = None,
    benchmark: Annotated[str | None, typer.Option(help=BENCHMARK_HELP)] = None,
    entity: Annotated[list[str] | None, typer.Option("--entity", "-e", help="Report on this entity only "
                                                     "(repeatable); default: every company")] = None,
    portfolio: Annotated[list[str] | None, typer.Option("--portfolio", "-p", help="Report on this portfolio only "
                                                        "(repeatable); default: every portfolio of the holdings "
                                                        "inputs")] = None,
    question: Annotated[list[str] | None, typer.Option("--question", "-q", help="Answer this catalogue question "
                                                       "only (repeatable); default: all")] = None,
    ask: Annotated[list[str] | None, typer.Option("--ask", help="Your own question, answered in each company's "
                                                  "report (repeatable; see `finreport ask`)")] = None,
    narrator: Annotated[str, typer.Option(help="Who writes the answers: model (every answer verified, else the "
                                                "reference text) or reference")] = "model",
    model: Annotated[Path | None, typer.Option(help="Narrator checkpoint folder (default: FINREPORT_MODEL_DIR)")]
    = None,
    email: Annotated[bool, typer.Option("--email/--no-email", help="E-mail the reports to their subscribers")]
    = False,
    to: Annotated[list[str] | None, typer.Option("--to", help="Also e-mail a digest to this address "
                                                 "(repeatable)")] = None,
    full: Annotated[bool, typer.Option("--full", help="Make every report again (default: a company whose inputs, "
                                       "peers, prices, questions, model and code are unchanged since the last run "
                                       "keeps its report; FINREPORT_FULL_RUN)")] = False,
) -> None:
    """Everything `facts` does, plus one PDF report per company and per portfolio: the nightly flow (or, with
    --entity or --portfolio, the on-demand flow for those alone) run here, on Prefect's local ephemeral server
    unless PREFECT_API_URL names one."""
    lifecycle.guard()  # before anything starts: what the run starts is stopped even if it is killed
    if input:
        pipeline.check_inputs(input)  # before Prefect starts: a wrong path is a one-line error at once
    # The progress bar and the summary are this command's output; Prefect's logs of the run, tracebacks of
    # failed tasks included, stay with the run on the server (`prefect flow-run logs RUN_ID`).
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")
    from pydantic import ValidationError

    from flows.reports import listening, nightly_reports, on_demand_report
    from generator.reports import OnDemandRequest, ReportRequest

    picked = bool(entity or portfolio)
    fields: dict[str, object] = {"as_of": as_of, "entities": entity or [], "portfolios": portfolio or [],
                                 "questions": question or [], "custom_questions": ask or [],
                                 "email": email, "recipients": to or [], "narrator": narrator}
    if model:
        fields["model_path"] = str(model)
    if full:
        fields["full_run"] = True
    if benchmark:
        fields["benchmark"] = benchmark
    if input:
        fields["inputs"] = [str(p) for p in input]
    if out:
        fields |= {"output_dir": str(out), "dated_folder": False}
    try:
        request = (OnDemandRequest if picked else ReportRequest).model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(f"--{'-'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail(problems.replace("--as_of", "--as-of").replace("--entities", "--entity")
                   .replace("--questions", "--question").replace("--portfolios", "--portfolio")
                   .replace("--custom_questions", "--ask")
                   .replace("--recipients", "--to")) from None
    writable(request.folder())
    with _ProgressBar() as bar, listening(bar):
        flow = on_demand_report if picked else nightly_reports
        state = flow(request, return_state=True)
    result = state.result(raise_on_failure=False)
    if isinstance(result, BaseException):
        raise result
    typer.echo(manifest.summary(result, request.folder()))
    if result["failures"] or result["portfolios"].get("failures"):
        typer.echo(f"details of the failures: prefect flow-run logs {result['run_id']}")
    if not result["reports"] and not result["portfolios"].get("reports"):
        raise typer.Exit(EXIT_FAILED)


@app.command()
def finetune(
    out: Annotated[Path, typer.Option(help="Folder of the trained checkpoint and its model card (default: the "
                                      "package's shipped narrator, which this replaces)")] = SHIPPED_NARRATOR,
    mode: Annotated[str, typer.Option(help="scratch (a small model from a config) or lora (adapt --base)")]
    = "scratch",
    base: Annotated[Path | None, typer.Option(help="LoRA mode: local base checkpoint folder")] = None,
    family: Annotated[str, typer.Option(help="Scratch mode: gpt2 or llama")] = "gpt2",
    steps: Annotated[int, typer.Option(help="Optimiser steps")] = 4000,
    seed_company: Annotated[list[int] | None, typer.Option("--seed-company", help="Sample-generator seed of "
                                                           "training companies (repeatable)")] = None,
    companies: Annotated[int, typer.Option(help="Sample companies per seed")] = 28,
    real_like: Annotated[int, typer.Option(help="Companies per seed filed as real filers file")] = 56,
    corrections: Annotated[Path | None, typer.Option(help="Analysts' edited answers (JSONL), used if verified")]
    = None,
    input: Annotated[list[Path] | None, typer.Option("--input", "-i", help="Statements the corrections refer to "
                                                      "(repeatable)")] = None,
    checked_weight: Annotated[float, typer.Option(help="Loss weight of the words the verifier checks (direction "
                                                  "words, flag names); 1 is plain cross-entropy")] = 5.0,
    seed: Annotated[int, typer.Option(help="Seed of weights, targets and batch order")] = 0,
    resume: Annotated[bool, typer.Option("--resume/--fresh", help="Continue from the latest checkpoint")] = True,
) -> None:
    """Train the narrator: a corpus from generated companies (and verified analyst corrections), a small model
    from a config or LoRA on a local base, held-out evaluation and a model card beside the checkpoint."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from pydantic import ValidationError

    from flows.finetune import finetune_narrator
    from generator.finetune import FinetuneRequest

    fields: dict[str, object] = {"out": str(out), "mode": mode, "family": family, "steps": steps,
                                 "companies": companies, "real_like": real_like, "seed": seed, "resume": resume,
                                 "checked_weight": checked_weight,
                                 "progress": sys.stderr.isatty()}
    if base:
        fields["base"] = str(base)
    if seed_company:
        fields["seeds"] = seed_company
    if corrections:
        fields |= {"corrections": str(corrections), "inputs": [str(p) for p in input or []]}
    try:
        request = FinetuneRequest.model_validate(fields)
    except ValidationError as exc:
        raise fail("; ".join(f"--{'-'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
    if mode == "lora" and not (base and (base / "config.json").is_file()):
        raise fail("--base: LoRA mode needs a local base checkpoint folder with config.json")
    for name, result in finetune_narrator(request).items():
        typer.echo(f"held-out {name}: verified {result['verified_rate']:.1%} (greedy "
                   f"{result['greedy_verified_rate']:.1%}), number accuracy {result['number_accuracy']:.1%}, "
                   f"flag accuracy {result['flag_accuracy']:.1%}, {result['tokens_per_s']:.0f} tokens/s")
    typer.echo(f"model card: {out / 'README.md'}")


@app.command("finetune-ask")
def finetune_ask(
    out: Annotated[Path, typer.Option(help="Folder of the trained checkpoint and its model card (default: the "
                                      "package's shipped translator, which this replaces)")] = SHIPPED_TRANSLATOR,
    steps: Annotated[int, typer.Option(help="Optimiser steps")] = 5000,
    per_phrasing: Annotated[int, typer.Option(help="Training questions drawn per phrasing and seed")] = 18,
    seed: Annotated[int, typer.Option(help="Seed of weights, draws and batch order")] = 0,
    resume: Annotated[bool, typer.Option("--resume/--fresh", help="Continue from the latest checkpoint")] = True,
) -> None:
    """Train the translator of `finreport ask`: generated (question, program) pairs over renamed generated
    companies, a small model from a config, held-out evaluation and a model card beside the checkpoint."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    from flows.finetune import finetune_translator
    from generator.ask.training import TranslatorRequest

    request = TranslatorRequest(out=str(out), steps=steps, per_phrasing=per_phrasing, seed=seed, resume=resume,
                                progress=sys.stderr.isatty())
    for name, result in finetune_translator(request).items():
        typer.echo(f"held-out {name}: execution accuracy {result['execution']:.1%}, exact program "
                   f"{result['exact']:.1%}, refusals precision {result['refusal_precision']:.1%} recall "
                   f"{result['refusal_recall']:.1%} ({result['questions']} questions)")
    typer.echo(f"model card: {out / 'README.md'}")


@app.command()
def deliver(
    retry: Annotated[bool, typer.Option("--retry", help="Send what waits in the outbox (else: list it)")] = False,
    resend: Annotated[list[str] | None, typer.Option("--resend", help="Send again a message that may have "
                                                     "arrived (listed as unconfirmed), once you know it did not "
                                                     "(repeatable)")] = None,
) -> None:
    """The e-mail outbox: what waits, and with --retry, send it (each message once, however often you retry).
    A message the server may have stored before the connection broke is not sent again unless --resend says so."""
    from generator.deliver import Outbox, emails, smtp_settings

    settings = get_settings()
    outbox = Outbox(settings.outbox_dir)
    for mid in resend or []:
        outbox.resend(mid)
    if not retry and not resend:
        waiting = outbox.waiting()
        for meta in waiting:
            last = meta["attempts"][-1]["error"] if meta["attempts"] else "not tried yet"
            typer.echo(f"{meta['id']}  {meta['recipient']}  {meta['subject']}  ({last})")
        typer.echo(f"{emails(len(waiting))} waiting in {outbox.pending}")
        _maybe_sent(outbox)
        return
    result = outbox.send(smtp_settings(settings))
    typer.echo(f"e-mail via {result.server}: {len(result.sent)} sent, {len(result.waiting)} still waiting, "
               f"{len(result.rejected)} rejected")
    for item in result.rejected:
        typer.echo(f"rejected {item['recipient']}: {item['error']}")
    _maybe_sent(outbox)
    if result.waiting:
        raise fail(f"{emails(len(result.waiting))} still waiting in {outbox.pending}: {result.waiting[0]['error']}",
                   EXIT_FAILED)


def _maybe_sent(outbox: Outbox) -> None:
    """Each message that may have arrived, and what to do about it."""
    for meta in outbox.maybe_sent():
        typer.echo(f"maybe sent {meta['id']}  {meta['recipient']}  {meta['subject']}: the server did not answer "
                   f"after it was sent; check with the recipient, then `finreport deliver --resend {meta['id']}` "
                   "if it did not arrive")


class _ProgressBar:
    """A bar over companies on a terminal's stderr; nothing when the output is a file or a pipe."""

    def __enter__(self) -> _ProgressBar:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        self._bar = Progress(TextColumn("reports"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                             TextColumn("{task.description}"), console=console, transient=True,
                             disable=not console.is_terminal)
        self._bar.__enter__()
        self._task = self._bar.add_task("starting Prefect", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def stage(self, name: str) -> None:
        self._bar.update(self._task, description=name)

    def start(self, total: int) -> None:
        self._bar.update(self._task, total=total, description="")

    def done(self, entity: str, ok: bool) -> None:
        self._bar.update(self._task, advance=1, description=entity if ok else f"{entity} failed")


_SIGNALLED: list[int] = []
"""SIGTERM received: Prefect may turn the interrupt into its own exit, so the handler leaves a mark."""


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM raised where the run is, so that it unwinds as from Ctrl-C."""
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt


def run() -> None:
    """Project errors become one line and exit code 2 (no Java for the reasoner: 1, the run could not be done);
    a crash one line and exit code 1, never a traceback.

    SIGTERM (a scheduler, a service manager, ``kill``) stops a run as Ctrl-C does: Python unwinds, so the
    temporary Prefect server the run started is stopped with it rather than left running."""
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        app()
    except (KeyboardInterrupt, SystemExit) as exc:
        if not _SIGNALLED and not isinstance(exc, KeyboardInterrupt):
            raise  # typer's own exit: a usage error or a command's exit code
        typer.echo("finreport: stopped before the run finished (reports already written stay); run it again",
                   err=True)
        sys.exit(EXIT_FAILED)
    except JavaMissingError as exc:
        typer.echo(f"finreport: failed: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    except FinreportError as exc:
        typer.echo(f"finreport: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except Exception as exc:
        if os.environ.get("FINREPORT_DEBUG"):
            raise
        typer.echo(f"finreport: failed: {type(exc).__name__}: {exc} (set FINREPORT_DEBUG=1 to see the traceback)",
                   err=True)
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    run()
