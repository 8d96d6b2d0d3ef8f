"""The run's record and its overview: manifest.json, the key figures of each company, and the summary a
person reads at the end of ``finreport facts`` or ``finreport run``."""

from __future__ import annotations

import platform
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

import generator
from generator.answers import period_row, period_values, report_period
from generator.ingest import NOT_STATEMENTS, Ingested
from generator.metrics import definition
from generator.outputs import folder_names, write_json
from generator.pack import write_all
from generator.pipeline import FactsRun
from generator.present import MARKET, OVERVIEW_KPIS, by_unit, period_label
from generator.schema import items


def key_figures(run: FactsRun, entity: str) -> dict[str, Any]:
    """One line of the run's overview: the report period's headline figures, formatted, and its flags (the
    market's too); a company with prices alone: its flags at the last close."""
    market = sorted(f.label for f in run.graph.flags if (f.entity_id, f.fiscal_period) == (entity, MARKET))
    if entity in run.priced_only:
        return {"entity": entity, "company": entity, "period": period_label(run.as_of.year, MARKET),
                **{m.replace("_", " "): "n/a" for m in OVERVIEW_KPIS}, "flags": "; ".join(market) or "none"}
    year, period = report_period(run.analysis, entity)
    attrs = period_row(run.analysis, entity, year, period)
    values = period_values(run.analysis, entity, year, period)
    flags = sorted(f.label for f in run.graph.flags
                   if (f.entity_id, f.fiscal_year, f.fiscal_period) == (entity, year, period)) + market
    figures = {m.replace("_", " "): by_unit(values.get(m), definition(m).unit, str(attrs["currency"]))
               for m in OVERVIEW_KPIS}
    return {"entity": entity, "company": str(attrs["entity_name"]), "period": period_label(year, period), **figures,
            "flags": "; ".join(flags) or "none"}


def write_run(run: FactsRun, out: Path, run_id: str | None = None, as_of: str | None = None) -> dict[str, Any]:
    """``finreport facts``: every company's pack (reference answers, no PDF), rejected.csv and manifest.json;
    returns the manifest."""
    run_id, as_of = run_id or new_run_id(), as_of or today()
    record = build_manifest(run, run_id, as_of, write_all(run, out, run_id, as_of))
    write_json(out / "manifest.json", record)
    return record


def new_run_id() -> str:
    """A run's id where Prefect gives none: twelve hex digits."""
    return uuid.uuid4().hex[:12]


def today() -> str:
    """The as-of date of a run that gives none: today, in UTC."""
    return datetime.now(UTC).date().isoformat()


def build_manifest(run: FactsRun, run_id: str, as_of: str, folders: dict[str, str]) -> dict[str, Any]:
    """manifest.json: what was read, with hashes, what came of it, the versions, the timings and the failures."""
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
        "market": {"as_of": run.as_of.isoformat(), "entities": run.market["entity_id"].n_unique(),
                   "benchmarks": run.benchmarks, "prices_only": run.priced_only,
                   "metric_values": run.market.filter(pl.col("value").is_not_null()).height,
                   "metric_absent": run.market.filter(pl.col("value").is_null()).height},
        "portfolios": {"as_of": run.as_of.isoformat(), "valued": [p.portfolio_id for p in run.portfolios],
                       "folders": {p: f for p, f in folder_names([b.portfolio_id for b in run.portfolios]).items()
                                   if p != f},
                       "failures": [vars(f) for f in run.portfolio_failures],
                       "flags": len(run.graph.portfolio_flags)},
        "items": len(items()),
        "timings": {k: round(v, 3) for k, v in run.stage_timings().items()},
        "failures": unusable_entities(ing),
    }


def unusable_entities(ingested: Ingested) -> list[dict[str, str]]:
    """Companies in the inputs none of whose statement rows could be used: each is a failed report, not a silent
    gap. (A company with prices and no statement rows at all gets a report of its market figures.)"""
    rejected = ingested.rejected.filter(pl.col("entity_id").is_not_null() & (pl.col("entity_id") != "")
                                        & ~pl.col("item").fill_null("").is_in(NOT_STATEMENTS))
    usable = set(ingested.facts["entity_id"].unique().to_list())
    counts = rejected.group_by("entity_id").len().sort("entity_id").rows()
    failed = [{"entity_id": e, "stage": "ingest", "error": f"none of its {n} rows is usable (see rejected.csv)"}
              for e, n in counts if e not in usable]
    return sorted(failed, key=lambda f: f["entity_id"])


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
    if (market := manifest.get("market")) and market["entities"]:
        against = f" against {', '.join(market['benchmarks'])}" if market["benchmarks"] else " (no benchmark set)"
        alone = f"; {len(market['prices_only'])} with prices alone" if market["prices_only"] else ""
        lines.append(f"market: {market['entities']:,} shares at {market['as_of']}{against}: "
                     f"{market['metric_values']:,} values, {market['metric_absent']:,} absent with a reason{alone}")
    if (books := manifest.get("portfolios")) and (books["valued"] or books["failures"]):
        failed = f", {len(books['failures'])} not valued" if books["failures"] else ""
        lines.append(f"portfolios: {len(books['valued'])} valued at {books['as_of']} ({books['flags']} flags "
                     f"inferred){failed}")
    if unmapped := manifest["unmapped_items"]:
        most = ", ".join(f"{u['item']} ({u['rows']:,})" for u in unmapped[:3])
        lines.append(f"unmapped items: {len(unmapped):,} labels or tags not read, most often {most}"
                     f"{', …' if len(unmapped) > 3 else ''} (every one in manifest.json, each value in rejected.csv)")
    if c["rows_rejected"]:
        lines.append(f"rejected rows: {out / 'rejected.csv'}")
    if "reports" in manifest:
        written = len(manifest["reports"])
        books = len(manifest.get("portfolios", {}).get("reports", []))
        reused = len(manifest.get("reuse", {}).get("reused", {}))
        lines.append(f"reports: {written} PDF{'' if written == 1 else 's'} written"
                     + (f" ({reused} reused unchanged from the last run)" if reused else "")
                     + (f", and {books} portfolio report{'' if books == 1 else 's'}" if books else ""))
    if totals := manifest.get("changes"):
        risks = totals["risk_flags_raised"]
        lines.append(f"since the last run: {totals['changed']} of {totals['companies']} reports changed"
                     + (f", {risks} new risk flag{'' if risks == 1 else 's'}" if risks else "")
                     + (f", {totals['first']} first report{'' if totals['first'] == 1 else 's'}"
                        if totals["first"] else "")
                     + f" ({out / 'changes.json'})")
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
    for failure in manifest.get("portfolios", {}).get("failures", []):
        lines.append(f"FAILED portfolio {failure['portfolio_id'][:60]}: {failure['error']}")
    lines.append(f"wrote {out}")
    return "\n".join(lines)
