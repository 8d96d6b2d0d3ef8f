"""The facts stage: inputs → validated facts, metrics and findings → per-entity files and a manifest."""

from __future__ import annotations

import platform
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

import generator
from generator.answers import answer_entity
from generator.checks import FINDING_SCHEMA, accounting_checks
from generator.graph import Graph, flag_records, ontology_graph, reason, turtle
from generator.graph import build as build_graph
from generator.ingest import Ingested, ingest
from generator.metrics import Analysis, compute_metrics, definition
from generator.outputs import folder_names, write_atomic, write_json
from generator.periods import pivot
from generator.provenance import Provenance
from generator.render import Report, prepare, print_all
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


def build(inputs: Sequence[Path]) -> FactsRun:
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    ingested = ingest(inputs)
    timings["ingest_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    reported = pivot(ingested.facts)
    findings = pl.concat([accounting_checks(reported), restatement_findings(ingested)])
    timings["checks_s"] = time.perf_counter() - t1
    t2 = time.perf_counter()
    analysis = compute_metrics(ingested.facts, reported)
    timings["metrics_s"] = time.perf_counter() - t2
    t3 = time.perf_counter()
    knowledge = reason(build_graph(analysis))
    timings["graph_s"] = time.perf_counter() - t3
    timings |= {f"graph_{k}": v for k, v in knowledge.timings.items()}
    return FactsRun(ingested, analysis, findings, knowledge, timings)


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
    return f"filed {row[f'{which}_filed'] or 'unknown'}, {row[f'{which}_source']}"


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


def write(run: FactsRun, out: Path, run_id: str | None = None, reports: bool = False,
          as_of: str | None = None) -> dict[str, Any]:
    """Per-entity facts, findings, flags, answers and graph (and with ``reports`` the PDF), rejected.csv
    and manifest.json; returns the manifest. A company whose report fails is listed, the others go on."""
    t0 = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex[:12]
    as_of = as_of or datetime.now(UTC).date().isoformat()
    folders = folder_names(run.entities)
    tbox = ontology_graph(run.graph)
    pending: list[tuple[str, Report]] = []
    for entity, folder in folders.items():
        findings = finding_records(run.findings.filter(pl.col("entity_id") == entity))
        consistency = [f for f in run.graph.findings if f["entity_id"] == entity]
        facts = metric_records(run, entity)
        write_json(out / folder / "facts.json", facts)
        write_json(out / folder / "findings.json", findings)
        write_json(out / folder / "flags.json", flag_records(run.graph, entity) + consistency)
        context, answers = answer_entity(run.analysis, run.graph, findings + consistency, entity)
        write_json(out / folder / "answers.json", [a.record() for a in answers])
        write_atomic(out / folder / "graph.ttl", turtle(run.graph, entity, tbox))
        pending.append((entity, Report(context, answers, findings + consistency, facts, run_id, as_of)))
    write_atomic(out / "rejected.csv", run.ingested.rejected.write_csv())
    run.timings["write_s"] = time.perf_counter() - t0
    manifest = build_manifest(run, run_id, folders)
    manifest["as_of"] = as_of
    if reports:
        t1 = time.perf_counter()
        manifest["reports"], manifest["failures"] = _render_all(run, pending, folders, out, manifest)
        run.timings["render_s"] = time.perf_counter() - t1
        manifest["timings"] = {k: round(v, 3) for k, v in run.timings.items()}
    write_json(out / "manifest.json", manifest)
    return manifest


def _render_all(run: FactsRun, pending: list[tuple[str, Report]], folders: dict[str, str], out: Path,
                manifest: dict[str, Any]) -> tuple[list[str], list[dict[str, str]]]:
    jobs, failures = [], []
    for entity, report in pending:
        try:
            jobs.append(prepare(report, run.analysis, manifest, out / folders[entity] / "report.pdf"))
        except Exception as exc:
            failures.append({"entity_id": entity, "stage": "charts", "error": f"{type(exc).__name__}: {exc}"})
    written, printing = print_all(jobs) if jobs else ([], [])
    return written, failures + printing


def build_manifest(run: FactsRun, run_id: str, folders: dict[str, str]) -> dict[str, Any]:
    ing = run.ingested
    severity = run.findings.group_by("severity").len().rows()
    present = run.analysis.metrics.filter(pl.col("value").is_not_null()).height
    return {
        "run_id": run_id,
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
            "restatements": ing.superseded.height,
            "findings": {s: n for s, n in sorted(severity)},
            "metric_values": present,
            "metric_absent": run.analysis.metrics.height - present,
        },
        "ontology": {"iri": run.graph.tbox.base_iri.rstrip("#"), "version": run.graph.version,
                     "flags": len(run.graph.flags), "inconsistent_snapshots": len(run.graph.findings)},
        "unmapped_items": ing.unmapped().to_dicts(),
        "entity_folders": {e: f for e, f in folders.items() if e != f},
        "items": len(items()),
        "timings": {k: round(v, 3) for k, v in run.timings.items()},
    }


def summary(manifest: dict[str, Any], out: Path) -> str:
    """The few lines a person running ``finreport facts`` wants to read."""
    c = manifest["counts"]
    findings = ", ".join(f"{n} {s}" for s, n in c["findings"].items()) or "none"
    graph = manifest["ontology"]
    lines = [
        f"{c['entities']} entities · {c['rows_in']:,} rows read: {c['rows_accepted']:,} accepted "
        f"({c['rows_superseded']:,} superseded by restatements), {c['rows_rejected']:,} rejected",
        f"findings: {findings} · metrics: {c['metric_values']:,} values, {c['metric_absent']:,} absent with a reason",
        f"graph: {graph['flags']:,} flags inferred by HermiT (ontology {graph['version']}, "
        f"{manifest['timings'].get('graph_reason_s', 0):.1f} s)"
        + (f", {graph['inconsistent_snapshots']} inconsistent snapshots" if graph["inconsistent_snapshots"] else ""),
    ]
    if manifest["unmapped_items"]:
        lines.append(f"unmapped item labels: {len(manifest['unmapped_items'])} (listed in rejected.csv)")
    if c["rows_rejected"]:
        lines.append(f"rejected rows: {out / 'rejected.csv'}")
    if "reports" in manifest:
        lines.append(f"reports: {len(manifest['reports'])} PDFs written")
    for failure in manifest.get("failures", []):
        lines.append(f"FAILED {failure['entity_id']} ({failure['stage']}): {failure['error']}")
    lines.append(f"wrote {out}")
    return "\n".join(lines)
