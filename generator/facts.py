"""The facts stage: inputs → validated facts, metrics and findings → per-entity files and a manifest."""

from __future__ import annotations

import platform
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import rdflib

import generator
from generator.answers import narrate, period_row, period_values, report_period
from generator.checks import FINDING_SCHEMA, accounting_checks
from generator.errors import UsageError
from generator.graph import Graph, flag_records, ontology_graph, reason, turtle
from generator.graph import build as build_graph
from generator.ingest import Ingested, expand_inputs, ingest
from generator.metrics import Analysis, compute_metrics, definition
from generator.narrator import Answer, Context, Narrator, formatting
from generator.outputs import folder_names, write_atomic, write_json
from generator.periods import pivot
from generator.provenance import Provenance
from generator.render import Report
from generator.schema import items


@dataclass
class FactsRun:
    ingested: Ingested
    analysis: Analysis
    findings: pl.DataFrame
    graph: Graph
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def entities(self) -> list[str]:
        return sorted(self.ingested.facts["entity_id"].unique().to_list())


def check_inputs(inputs: Sequence[Path]) -> list[Path]:
    """The input files a run will read; a path that does not exist, or no input file at all, stops it."""
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise UsageError(f"no such input: {', '.join(missing)}")
    files = expand_inputs(inputs)
    if not files:
        raise UsageError(f"no input files (.csv, .parquet, .jsonl, .json) under {', '.join(map(str, inputs))}")
    return files


def read_inputs(inputs: Sequence[Path]) -> Ingested:
    """Ingest and validate; a run goes on with the files it could read, and stops when it could read none."""
    check_inputs(inputs)
    ingested = ingest(inputs)  # the folders as given: a link found in one must not lead out of it
    if not ingested.files:
        reasons = "; ".join(str(e) for e in ingested.refused)
        raise UsageError(f"every input file was refused ({reasons}); fix them and run again")
    if ingested.rows_in == len(ingested.refused):
        names = ", ".join(f.path for f in ingested.files)
        raise UsageError(f"the inputs hold no rows ({names}: a header only?); there is nothing to report")
    return ingested


def build(inputs: Sequence[Path]) -> FactsRun:
    """Every whole-run stage in order: ingest, checks and metrics, reasoning."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ingested = read_inputs(inputs)
    timings["ingest_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    analysis, findings = analyse(ingested)
    timings["metrics_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    knowledge = classify(analysis)
    timings["graph_s"] = time.perf_counter() - t2
    return FactsRun(ingested, analysis, findings, knowledge, timings)


def analyse(ingested: Ingested) -> tuple[Analysis, pl.DataFrame]:
    """Accounting checks and restatements as findings, and every metric of every entity and period."""
    reported = pivot(ingested.facts)
    findings = pl.concat([accounting_checks(reported), restatement_findings(ingested), ingested.events])
    return compute_metrics(ingested.facts, reported, ingested.sectors), findings


def classify(analysis: Analysis) -> Graph:
    """The snapshots as OWL individuals, classified by HermiT."""
    return reason(build_graph(analysis))


def restatement_findings(ingested: Ingested) -> pl.DataFrame:
    """Each restated value as an informational finding on its entity, with both values, dates and sources."""
    rows = [
        {
            "entity_id": r["entity_id"], "fiscal_year": r["fiscal_year"], "fiscal_period": r["fiscal_period"],
            "check": "restatement", "severity": "info",
            "message": f"{r['item']} restated from {_amount(r['original_value'])} ({_filing(r, 'original')})"
                       f" to {_amount(r['restated_value'])} ({_filing(r, 'restated')})",
            "facts": [{"name": "original_value", "value": r["original_value"]},
                      {"name": "restated_value", "value": r["restated_value"]}],
        }
        for r in ingested.restatements().iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=FINDING_SCHEMA)


def _filing(row: dict[str, Any], which: str) -> str:
    """Filing date and source: an accession number and tag as they are, a file by its name (the manifest lists
    the inputs with their full paths)."""
    source = row[f"{which}_source"]
    return f"filed {row[f'{which}_filed'] or 'unknown'}, {source if ACCESSION.match(source) else Path(source).name}"


ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}/")
"""An SEC accession number (filer, year, sequence) opening a source: ``0001640147-24-000101/us-gaap:Assets``."""


def _amount(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def metric_records(run: FactsRun, entity_id: str) -> list[dict[str, Any]]:
    """facts.json rows: the figure, how it is defined, the inputs it used and where each came from."""
    provenance = Provenance(run.analysis, run.ingested.facts, entity_id)
    out = []
    for row in run.analysis.metrics.filter(pl.col("entity_id") == entity_id).iter_rows(named=True):
        m = definition(row["metric"])
        if row["value"] is None and m.category.startswith("line_item"):
            continue
        period = provenance.period(row["fiscal_year"], row["fiscal_period"])
        inputs, sources = provenance.of(row["metric"], row["fiscal_year"], row["fiscal_period"])
        record: dict[str, Any] = {
            "entity_id": entity_id,
            "fiscal_year": row["fiscal_year"],
            "fiscal_period": row["fiscal_period"],
            "period_end": period["period_end"],
            "metric": row["metric"],
            "value": row["value"],
            "unit": m.unit,
            "currency": period["currency"] if m.unit in ("currency", "currency_per_share") else None,
            "category": m.category,
            "favourable": m.favourable,
            "formula": m.formula + (" (trailing twelve months)" if row["metric"].endswith("_ttm") else ""),
            "inputs": inputs,
            "sources": sources,
        }
        if row["value"] is None:
            record["reason"] = row["reason"]
        out.append(record)
    return out


def finding_records(findings: pl.DataFrame) -> list[dict[str, Any]]:
    return [
        {**{k: row[k] for k in ("entity_id", "fiscal_year", "fiscal_period", "check", "severity", "message")},
         "facts": {f["name"]: f["value"] for f in row["facts"]}}
        for row in findings.iter_rows(named=True)
    ]


def entity_findings(run: FactsRun, entity: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(accounting checks and restatements, snapshots the reasoner found contradictory) of one company."""
    return (finding_records(run.findings.filter(pl.col("entity_id") == entity)),
            [f for f in run.graph.findings if f["entity_id"] == entity])


def answer(run: FactsRun, entities: Sequence[str], narrator: Narrator | None = None,
           questions: Sequence[str] = ()) -> dict[str, tuple[Context, list[Answer]]]:
    """The answers stage for the whole run: one narrator, every company's questions in one call."""
    findings = {e: [f for part in entity_findings(run, e) for f in part] for e in entities}
    return narrate(run.analysis, run.graph, findings, entities, narrator, questions)


def write_entity(run: FactsRun, entity: str, folder: Path, run_id: str, as_of: str,
                 tbox: rdflib.Graph | None = None, answered: tuple[Context, list[Answer]] | None = None) -> Report:
    """One company's facts, findings, flags, answers and graph files; returns what its report shows.
    Without ``answered``, the reference narrator answers every question."""
    t0 = time.perf_counter()
    findings, consistency = entity_findings(run, entity)
    facts = metric_records(run, entity)
    write_json(folder / "facts.json", facts)
    write_json(folder / "findings.json", findings)
    write_json(folder / "flags.json", flag_records(run.graph, entity) + consistency)
    t1 = time.perf_counter()
    context, answers = answered or answer(run, [entity])[entity]
    write_json(folder / "answers.json", [a.record() for a in answers])
    t2 = time.perf_counter()
    write_atomic(folder / "graph.ttl", turtle(run.graph, entity, tbox))
    timings = {"facts_s": t1 - t0, "answers_s": t2 - t1, "graph_export_s": time.perf_counter() - t2}
    return Report(context, answers, findings + consistency, facts, run_id, as_of, timings)


def write(run: FactsRun, out: Path, run_id: str | None = None, as_of: str | None = None) -> dict[str, Any]:
    """Every entity's files, rejected.csv and manifest.json, without reports; returns the manifest."""
    t0 = time.perf_counter()
    run_id = run_id or new_run_id()
    as_of = as_of or today()
    folders = folder_names(run.entities)
    tbox = ontology_graph(run.graph)
    for entity, folder in folders.items():
        write_entity(run, entity, out / folder, run_id, as_of, tbox)
    write_atomic(out / "rejected.csv", run.ingested.rejected.write_csv())
    run.timings["write_s"] = time.perf_counter() - t0
    manifest = build_manifest(run, run_id, as_of, folders)
    write_json(out / "manifest.json", manifest)
    return manifest


ARTIFACT_KPIS = ("revenue", "net_margin", "current_ratio", "debt_to_equity", "interest_coverage")


def key_figures(run: FactsRun, entity: str) -> dict[str, Any]:
    """One line of the run's overview: the report period's headline figures, formatted, and its flags."""
    year, period = report_period(run.analysis, entity)
    attrs = period_row(run.analysis, entity, year, period)
    values = period_values(run.analysis, entity, year, period)
    flags = sorted(f.label for f in run.graph.flags
                   if (f.entity_id, f.fiscal_year, f.fiscal_period) == (entity, year, period))
    figures = {m.replace("_", " "): formatting.by_unit(values.get(m), definition(m).unit, str(attrs["currency"]))
               for m in ARTIFACT_KPIS}
    return {"entity": entity, "company": str(attrs["entity_name"]), "period": f"{period} {year}", **figures,
            "flags": "; ".join(flags) or "none"}


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def build_manifest(run: FactsRun, run_id: str, as_of: str, folders: dict[str, str]) -> dict[str, Any]:
    ing = run.ingested
    severity = run.findings.group_by("severity").len().rows()
    present = run.analysis.metrics.filter(pl.col("value").is_not_null()).height
    return {
        "run_id": run_id,
        "as_of": as_of,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": {"finreport": generator.__version__, "polars": pl.__version__,
                     "python": platform.python_version()},
        "inputs": [vars(f) for f in ing.files],
        "refused_files": [{"file": e.file, "line": e.line, "reason": e.reason} for e in ing.refused],
        "counts": {
            "entities": len(run.entities),
            "rows_in": ing.rows_in,
            "rows_accepted": ing.accepted_count,
            "rows_superseded": ing.superseded.height,
            "rows_rejected": ing.rejected.height,
            "restatements": ing.restatements().height,
            "findings": {s: n for s, n in sorted(severity)},
            "metric_values": present,
            "metric_absent": run.analysis.metrics.height - present,
        },
        "ontology": {"iri": run.graph.tbox.base_iri.rstrip("#"), "version": run.graph.version,
                     "flags": len(run.graph.flags), "inconsistent_snapshots": len(run.graph.findings)},
        "unmapped_items": ing.unmapped().to_dicts(),
        "sectors": [] if ing.sectors is None else ing.sectors.select("entity_id", "sector", "sic", "basis").to_dicts(),
        "industries": run.analysis.industries.to_dicts(),
        "entity_folders": {e: f for e, f in folders.items() if e != f},
        "items": len(items()),
        "timings": {k: round(v, 3) for k, v in timings(run).items()},
        "failures": unusable_entities(ing),
    }


def timings(run: FactsRun) -> dict[str, float]:
    return run.timings | {f"graph_{k}": v for k, v in run.graph.timings.items()}


def unusable_entities(ingested: Ingested) -> list[dict[str, str]]:
    """Companies in the inputs none of whose rows could be used: each is a failed report, not a silent gap."""
    rejected = ingested.rejected.filter(pl.col("entity_id").is_not_null() & (pl.col("entity_id") != ""))
    usable = set(ingested.facts["entity_id"].unique().to_list())
    counts = rejected.group_by("entity_id").len().sort("entity_id").rows()
    return [{"entity_id": e, "stage": "ingest", "error": f"none of its {n} rows is usable (see rejected.csv)"}
            for e, n in counts if e not in usable]


def summary(manifest: dict[str, Any], out: Path) -> str:
    """The few lines a person running ``finreport facts`` wants to read."""
    c = manifest["counts"]
    findings = ", ".join(f"{n} {s}" for s, n in c["findings"].items()) or "none"
    graph = manifest["ontology"]
    unread = sum(u["rows"] for u in manifest["unmapped_items"])
    lines = [
        f"{c['entities']} entities · {c['rows_in']:,} rows read: {c['rows_accepted']:,} accepted "
        f"({c['rows_superseded']:,} superseded by later filings, {c['restatements']:,} of them restatements), "
        f"{c['rows_rejected']:,} rejected" + (f" ({unread:,} of them facts of unmapped items)" if unread else ""),
        f"findings: {findings} · metrics: {c['metric_values']:,} values, {c['metric_absent']:,} absent with a reason",
        f"graph: {graph['flags']:,} flags inferred by HermiT (ontology {graph['version']}, "
        f"{manifest['timings'].get('graph_reason_s', 0):.1f} s)"
        + (f", {graph['inconsistent_snapshots']} inconsistent snapshots" if graph["inconsistent_snapshots"] else ""),
    ]
    if unmapped := manifest["unmapped_items"]:
        most = ", ".join(f"{u['item']} ({u['rows']:,})" for u in unmapped[:3])
        lines.append(f"unmapped items: {len(unmapped):,} labels or tags not read, most often {most}"
                     f"{', …' if len(unmapped) > 3 else ''} (every one in manifest.json, each value in rejected.csv)")
    if c["rows_rejected"]:
        lines.append(f"rejected rows: {out / 'rejected.csv'}")
    if "reports" in manifest:
        written = len(manifest["reports"])
        lines.append(f"reports: {written} PDF{'' if written == 1 else 's'} written")
    if "delivery" in manifest:
        d = manifest["delivery"]
        lines.append(f"e-mail: {len(d['sent'])} sent, {len(d['waiting'])} waiting in the outbox, "
                     f"{len(d['rejected'])} rejected" + (f" ({d['error']})" if d.get("error") else ""))
        lines += [f"e-mail to {r['recipient']} rejected: {r['error']}" for r in d["rejected"]]
        lines += [f"e-mail {u['id']} to {u['recipient']} maybe sent ({u['error']}): check with the recipient, then "
                  f"`finreport deliver --resend {u['id']}` if it did not arrive" for u in d.get("unconfirmed", [])]
        if d["waiting"]:
            lines.append(f"e-mail waiting ({d['waiting'][0]['error']}): `finreport deliver --retry` sends it")
    for failure in manifest.get("failures", []):
        entity = failure["entity_id"]
        shown = re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group(0))[1:-1], entity[:60])  # one short line
        shown += f"… ({len(entity):,} characters)" if len(entity) > 60 else ""
        lines.append(f"FAILED {shown} ({failure['stage']}): {failure['error']}")
    lines.append(f"wrote {out}")
    return "\n".join(lines)
