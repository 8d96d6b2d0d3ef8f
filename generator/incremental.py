"""Incremental runs: each company's report carries a key made of everything it was made from, and a run reuses the
last report of a company whose key has not changed instead of making it again.

A company's key hashes its own input rows (statements, superseded values, events, prices, what the sectors files
declare), what it reads of its sector peers (its rank among them, their number: not their rows, or any change in a
sector would make the whole sector again), its market rows, its benchmark's prices and the as-of date when it has
prices (its market figures are measured to that day), and what every report of the run depends on: the
question catalogue and the questions asked, the narrator (and translator) checkpoints, the ontology, finreport's own
code and version, and the settings that change figures. The key and what the report said are kept beside the report
in ``edition.json``, written last: a report folder without it is unfinished (a run killed while writing it), and the
next run makes it again. Portfolios are always made again: they are few, and each depends on many companies.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

import generator
from generator import changes
from generator.graph import Flag, Graph
from generator.metrics import definition
from generator.narrator import catalogue
from generator.outputs import write_json
from generator.pipeline import FactsRun
from generator.settings import get_settings

EDITION = "edition.json"
"""The file, in each company's folder, that says what its report was made from; written after everything else."""

REPORT_FILES = ("facts.json", "findings.json", "flags.json", "answers.json", "market.json", "graph.ttl",
                "report.pdf")
"""What a company's folder holds besides its edition: what a reused report brings along."""

_CODE = ("*.py", "*.j2", "*.css", "*.owl", "*.toml", "*.csv", "*.txt")
"""The files of finreport's own code and data whose content goes into every key (checkpoints are hashed apart,
when the run uses them)."""


@dataclass(frozen=True)
class Edition:
    """One company's report as a run left it: its folder, the run, and what ``edition.json`` says (the key, the
    digest of what the report said, the changes it showed and its e-mail's fields)."""

    folder: Path
    record: dict[str, Any]

    @property
    def key(self) -> str:
        """What the report was made from."""
        return str(self.record["key"])

    @property
    def made(self) -> dict[str, str]:
        """The run that made the report: its id, as-of date and folder."""
        return {"run_id": self.record["run_id"], "as_of": self.record["as_of"], "folder": str(self.folder.parent)}


@dataclass(frozen=True)
class Plan:
    """What a run does with each company: the editions it reuses, and for the others, the last edition there is
    (what their "Since the last run" compares with; none for a company reported for the first time)."""

    reuse: dict[str, Edition]
    previous: dict[str, Edition]


# --- keys --------------------------------------------------------------------------------------------------

def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _rows_by_entity(frame: pl.DataFrame | None) -> dict[str, list[int]]:
    """Each entity's rows of one table as hashes, sorted (the rows' order in a file is in their sources already)."""
    if frame is None or frame.is_empty() or "entity_id" not in frame.columns:
        return {}
    plain = frame.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
    hashed = plain.select(pl.col("entity_id").cast(pl.String), h=plain.hash_rows(seed=0))
    grouped = hashed.group_by("entity_id").agg(pl.col("h").sort())
    return dict(zip(grouped["entity_id"].to_list(), grouped["h"].to_list(), strict=True))


def own_hashes(run: FactsRun) -> dict[str, str]:
    """Each entity's own input rows as one hash: statements, superseded values, events, prices, price findings and
    what the sectors files declare of it."""
    ing = run.ingested
    tables = [_rows_by_entity(t) for t in (ing.facts, ing.superseded, ing.events, ing.prices, ing.price_findings,
                                           ing.sectors)]
    entities = sorted({e for table in tables for e in table})
    return {e: _digest([table.get(e, []) for table in tables]) for e in entities}


def sectors(run: FactsRun) -> dict[str, set[str]]:
    """Each company's sectors, as its statements (and the sectors files) put it in them: its peers are the companies
    sharing one (``graph_queries.PEERS_IN_SECTOR`` matches them by name)."""
    base = run.analysis.base.select(pl.col("entity_id").cast(pl.String), pl.col("sector").cast(pl.String))
    grouped = base.drop_nulls("sector").group_by("entity_id").agg(pl.col("sector").unique())
    return {e: set(s) for e, s in grouped.iter_rows()}


@cache
def code_hash() -> str:
    """finreport's version and the content of its code, templates, ontology and data files: a new release, or an
    edited template, makes every report again."""
    root = Path(generator.__file__).resolve().parent
    files = sorted(p for pattern in _CODE for p in root.rglob(pattern) if "checkpoint" not in p.parts)
    flows = Path(__file__).resolve().parent.parent / "flows"
    files += sorted(flows.glob("*.py")) if flows.is_dir() else []
    digest = hashlib.sha256(generator.__version__.encode())
    for path in files:
        digest.update(str(path.relative_to(root.parent)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@cache
def checkpoint_hash(folder: Path) -> str:
    """The content of a model checkpoint's files: a retrained narrator makes every report again."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        with path.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def fingerprint(request: Any) -> str:
    """What every report of a run depends on besides its companies' rows: finreport's code, the questions and who
    answers them (the checkpoint's content, not its path), the benchmark and the settings that change figures."""
    settings = get_settings()
    narrator = checkpoint_hash(Path(request.model_path)) if request.narrator == "model" else "reference"
    translator = checkpoint_hash(settings.translator_dir) if request.custom_questions else None
    return _digest(code_hash(), pl.__version__, sorted(request.questions), request.narrator, narrator,
                   list(request.custom_questions), translator, request.benchmark, settings.benchmark,
                   settings.risk_free_rate, settings.quarter_filing_lag_days, settings.annual_filing_lag_days)


def peer_facts(run: FactsRun, member: dict[str, set[str]]) -> dict[str, list[Any]]:
    """What a company's report reads of its sector peers, by period: its rank among them on each metric the peer
    questions rank (with how many have a value) and how many companies the sector has. A peer's restated figure
    changes a company's report only when it changes these. Companies in one sector only (one in several is keyed on
    its peers' rows instead)."""
    ranked = sorted({m for q in catalogue() if q.peers for m in q.facts if definition(m).favourable != "neutral"})
    single = {e: next(iter(s)) for e, s in member.items() if len(s) == 1}
    if not single:
        return {}
    sector = pl.DataFrame({"entity_id": list(single), "sector": list(single.values())})
    period = ["sector", "fiscal_year", "fiscal_period"]
    rows = run.analysis.metrics.select(pl.col("entity_id").cast(pl.String), "fiscal_year",
                                       pl.col("fiscal_period").cast(pl.String), pl.col("metric").cast(pl.String),
                                       "value").join(sector, on="entity_id")
    companies = rows.group_by(period).agg(companies=pl.col("entity_id").n_unique())
    higher = pl.col("metric").is_in([m for m in ranked if definition(m).favourable == "higher"])
    group = [*period, "metric"]
    ranks = rows.filter(pl.col("metric").is_in(ranked) & pl.col("value").is_not_null()).with_columns(
        rank=pl.when(higher).then(pl.col("value").rank("min", descending=True).over(group))
        .otherwise(pl.col("value").rank("min").over(group)),
        valued=pl.len().over(group)).join(companies, on=period)
    out: dict[str, list[Any]] = {}
    for entity, year, name, metric, rank, valued, count in ranks.select(
            "entity_id", "fiscal_year", "fiscal_period", "metric", "rank", "valued", "companies").sort(
            "entity_id", "fiscal_year", "fiscal_period", "metric").iter_rows():
        out.setdefault(entity, []).append((year, name, metric, rank, valued, count))
    for entity, year, name, count in rows.select("entity_id", "fiscal_year", "fiscal_period").unique().join(
            sector, on="entity_id").join(companies, on=period).select(
            "entity_id", "fiscal_year", "fiscal_period", "companies").sort(pl.all()).iter_rows():
        out.setdefault(entity, []).append((year, name, count))
    return out


def keys(run: FactsRun, entities: Iterable[str], run_wide: str, asks_across: bool = False) -> dict[str, str]:
    """Each company's key: its own rows, what it reads of its sector peers (:func:`peer_facts`), its market rows (the
    sector's median valuation among them), its benchmark's prices and the as-of date when it has prices, and
    ``run_wide`` (:func:`fingerprint`). ``asks_across``: the reader's own questions may read every company (``which
    companies were loss-making``), so every company's rows go into every key."""
    own = own_hashes(run)
    member = sectors(run)
    peers = peer_facts(run, member)
    by_sector: dict[str, list[str]] = {}
    for entity, names in member.items():
        for name in names:
            by_sector.setdefault(name, []).append(entity)
    sector_hash = {s: _digest(sorted(own.get(e, "") for e in members)) for s, members in by_sector.items()}
    everyone = _digest(sorted(own.items())) if asks_across else None
    market = _rows_by_entity(run.market)
    benchmark = dict(run.market.select("entity_id", "benchmark").drop_nulls().unique("entity_id").iter_rows())
    as_of = run.as_of.isoformat()
    return {e: _digest(run_wide, own.get(e), peers.get(e),
                       sorted(sector_hash[s] for s in member.get(e, ())) if len(member.get(e, ())) > 1 else None,
                       everyone, (as_of, market[e], own.get(benchmark.get(e, ""))) if e in market else None)
            for e in entities}


# --- editions ----------------------------------------------------------------------------------------------

def read_edition(folder: Path) -> Edition | None:
    """The edition a folder holds, or None: no report finished there (or an edition file nobody can read)."""
    try:
        record = json.loads((folder / EDITION).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or "key" not in record or not (folder / "report.pdf").is_file():
        return None
    return Edition(folder, record)


def last_run(out: Path) -> Path | None:
    """The latest finished run beside ``out`` (the other dated folders of the output folder), by its manifest's
    time of creation; None when there is none."""
    if not out.parent.is_dir():
        return None
    runs = []
    for manifest in out.parent.glob("*/manifest.json"):
        if manifest.parent.resolve() == out.resolve():
            continue
        try:
            runs.append((json.loads(manifest.read_text("utf-8"))["created_at"], manifest.parent))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return max(runs)[1] if runs else None


def plan(out: Path, folders: dict[str, str], wanted: dict[str, str], full: bool = False) -> Plan:
    """For each company (``wanted``: entity → key), its latest edition: in tonight's folder (a run of the same day,
    or one killed before it finished) or in the last finished run's. One with tonight's key is reused, unless
    ``full``; the others are made again and compared with it."""
    before = last_run(out)
    reuse: dict[str, Edition] = {}
    previous: dict[str, Edition] = {}
    for entity, key in wanted.items():
        found = [e for e in (read_edition(out / folders[entity]),
                             read_edition(before / folders[entity]) if before else None) if e]
        if not found:
            continue
        latest = max(found, key=lambda e: str(e.record.get("created_at", "")))
        if latest.key == key and not full:
            reuse[entity] = latest
        else:
            previous[entity] = latest
    return Plan(reuse, previous)


def bring(edition: Edition, target: Path) -> None:
    """A reused report's files into tonight's folder: hard links where the file system allows (the files are never
    written in place, so a link is as good as a copy), copies elsewhere; the edition last."""
    if edition.folder.resolve() == target.resolve():
        return
    target.mkdir(parents=True, exist_ok=True)
    discard(target)
    for name in (*REPORT_FILES, EDITION):
        source = edition.folder / name
        if not source.is_file():
            (target / name).unlink(missing_ok=True)
            continue
        _link(source, target / name)


def _link(source: Path, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.link.tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(source, temporary)
    except OSError:  # another file system, or one without hard links
        shutil.copy2(source, temporary)
    os.replace(temporary, target)


def discard(folder: Path) -> None:
    """Before a company's files are written: its folder no longer holds a finished report until the new edition is
    written, so a run killed in between leaves nothing a later run would take as finished."""
    with suppress(NotADirectoryError):  # a file where the folder should be holds no edition (writing there fails)
        (folder / EDITION).unlink(missing_ok=True)


def write_edition(folder: Path, key: str, run_id: str, as_of: str, digest: dict[str, Any],
                  changes: dict[str, Any], mail: dict[str, Any]) -> None:
    """The edition, once the report is printed: what it was made from, what it said, what changed and its e-mail."""
    write_json(folder / EDITION, {"key": key, "run_id": run_id, "as_of": as_of,
                                  "created_at": datetime.now(UTC).isoformat(timespec="microseconds"),
                                  "digest": digest, "changes": changes, "mail": mail})


def restore(graph: Graph, editions: dict[str, Edition]) -> list[str]:
    """The flags (and contradictory snapshots) of reused reports whose companies were not reasoned over again, as
    their flags.json gives them, so that the run's overview and counts hold every company; returns those restored.
    Same key, same metrics, same ontology: the reasoner would find the same."""
    reasoned = {f.entity_id for f in graph.flags} | {f["entity_id"] for f in graph.findings}
    fields = set(Flag.__dataclass_fields__)
    restored = []
    for entity, edition in sorted(editions.items()):
        if entity in reasoned:
            continue
        for record in json.loads((edition.folder / "flags.json").read_text("utf-8")):
            if set(record) == fields:
                graph.flags.append(Flag(**record))
            else:
                graph.findings.append(record)
        restored.append(entity)
    return restored


def sweep(out: Path) -> int:
    """Temporary files a killed run left half-written in the run's folder (``write_atomic`` names them
    ``.<name>.<random>.tmp``); returns how many were removed."""
    if not out.is_dir():
        return 0
    stale = [p for p in out.rglob(".*.tmp") if p.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def reuse_record(plan: Plan, keys: dict[str, str], computed: Sequence[str]) -> dict[str, Any]:
    """The manifest's account of reuse: each company's key, and where each reused report comes from."""
    return {"keys": keys, "computed": sorted(computed),
            "reused": {e: plan.reuse[e].made for e in sorted(plan.reuse)}}


@dataclass(frozen=True)
class Owed:
    """What finishing one company's new edition needs: its key, and the edition it follows (its record; None for the
    company's first report)."""

    key: str
    previous: dict[str, Any] | None = None


def owed(plan: Plan, keys: dict[str, str], entity: str) -> Owed:
    """The new edition one company's report task is to write."""
    before = plan.previous.get(entity)
    return Owed(keys[entity], before.record if before else None)


def follow(due: Owed, folder: Path, period: tuple[int, str], threshold: float) -> tuple[dict[str, Any],
                                                                                        dict[str, Any]]:
    """(the digest of the report just written in ``folder``, what changed since the edition it follows)."""
    now = changes.digest(folder, period)
    before = due.previous
    since = {"run_id": before["run_id"], "as_of": before["as_of"]} if before else None
    return now, changes.compare(before.get("digest") if before else None, now, threshold, since)
