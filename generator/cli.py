"""``finreport``: the command line over the same stage functions the flows call."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from generator import facts as facts_stage
from generator.errors import FinreportError
from generator.graph import JavaMissingError
from generator.ingest import expand_inputs
from generator.settings import get_settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Nightly, traceable financial report packs from periodic statements.",
)

EXIT_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    typer.echo(f"finreport: error: {message}", err=True)
    return typer.Exit(code)


@app.command()
def sample(
    out: Annotated[Path | None, typer.Option(help="Folder to write the sample inputs to")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed; the same seed gives byte-identical files")] = None,
) -> None:
    """Write the deterministic sample data set (long CSV + one wide CSV per company)."""
    from generator.sample import write_sample

    settings = get_settings()
    result = write_sample(out or settings.sample_dir, seed=settings.sample_seed if seed is None else seed)
    typer.echo(f"{len(result.entities)} companies, {result.rows:,} rows: {result.long_csv} and "
               f"{len(result.wide_files)} wide files in {result.wide_files[0].parent}")


def _build(inputs: list[Path]) -> facts_stage.FactsRun:
    """The stages both commands share; unusable inputs are one-line usage errors, refused files are named."""
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise fail(f"no such input: {', '.join(missing)}")
    if not expand_inputs(inputs):
        raise fail(f"no input files (.csv, .parquet, .jsonl) under {', '.join(map(str, inputs))}")
    result = facts_stage.build(inputs)
    for refused in result.ingested.refused:
        typer.echo(f"finreport: refused {refused}", err=True)
    if not result.ingested.files:
        raise fail("every input file was refused; fix the files named above and run again")
    return result


@app.command()
def facts(
    input: Annotated[list[Path], typer.Option("--input", "-i", help="Input file or folder (repeatable)")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default: FINREPORT_OUTPUT_DIR or output/)")] = None,
) -> None:
    """Ingest and validate the inputs, compute every metric, classify each period with HermiT, answer the
    analyst questions, and write facts.json, findings.json, flags.json, answers.json and graph.ttl per entity."""
    out = out or get_settings().output_dir
    manifest = facts_stage.write(_build(input), out)
    typer.echo(facts_stage.summary(manifest, out))


@app.command("run")
def run_reports(
    input: Annotated[list[Path], typer.Option("--input", "-i", help="Input file or folder (repeatable)")],
    out: Annotated[Path | None, typer.Option(help="Output folder (default: FINREPORT_OUTPUT_DIR or output/)")] = None,
    as_of: Annotated[str | None, typer.Option(help="As-of date printed on the reports (default: today)")] = None,
) -> None:
    """Everything `facts` does, plus one PDF report per company."""
    out = out or get_settings().output_dir
    manifest = facts_stage.write(_build(input), out, reports=True, as_of=as_of)
    typer.echo(facts_stage.summary(manifest, out))
    if manifest["failures"] and not manifest["reports"]:
        raise typer.Exit(EXIT_FAILED)


def run() -> None:
    """Project errors become one line and exit code 2; a crash one line and exit code 1, never a traceback."""
    try:
        app()
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
