"""XBRL facts as a table, one row per fact of one filing (as edgartools exports it):
``namespace, fact, value, units, start_date, end_date, dimensions[, period]``.

Whose facts they are comes from the filing's own ``dei`` facts (central index key, registrant name).
A fact with dimensions is a breakdown of a total (by segment, by geography, by class of stock), so it
is left out: the total it breaks down is its own, dimensionless fact. An instant fact has its date as
both start and end.
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

from generator.errors import InputFileError, MissingColumnsError
from generator.ingest.base import Adapter, Probe
from generator.ingest.csvread import read_csv_strings
from generator.ingest.xbrl import SEGMENT, Fact, Problem, Unusable, mapped_concepts, parse_date, to_raw, unmapped

COLUMNS = ("namespace", "fact", "value", "units", "start_date", "end_date", "dimensions")
IDENTITY = ("dei:EntityCentralIndexKey", "dei:EntityRegistrantName")
"""Facts that name the filer: used for the entity, not as figures."""


def _accepts(probe: Probe) -> bool:
    return {"namespace", "fact", "value"} <= probe.columns


def _entity(path: Path, rows: list[dict[str, str | None]]) -> tuple[str, str]:
    dei = {r["fact"]: (r["value"] or "").strip() for r in rows if r["namespace"] == "dei" and not r["dimensions"]}
    cik, name = (dei.get(concept.removeprefix("dei:"), "") for concept in IDENTITY)
    if not cik.isdigit():
        raise InputFileError(path, "no dei:EntityCentralIndexKey fact: cannot tell whose facts these are")
    return f"CIK{int(cik):010d}", name or f"CIK {int(cik)}"


def _fact(path: Path, line: int, row: dict[str, str | None]) -> Fact:
    concept = f"{row['namespace']}:{row['fact']}"
    text = (row["value"] or "").strip()
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise Unusable("value", f"not a number: {text!r}")
    start, end = parse_date(row["start_date"], "start_date"), parse_date(row["end_date"], "end_date")
    if start > end:
        raise Unusable("start_date", f"start_date {start} is after end_date {end}")
    return Fact(concept, value, text, (row["units"] or "").strip(), None if start == end else start, end, None,
                f"{path}:{line} [{concept}]", line, "value", ("units", "start_date", "end_date"))


def read_xbrl_facts(path: Path) -> pl.DataFrame:
    """An XBRL facts table (one filing) as raw rows, the filer named by its ``dei`` facts; breakdowns by dimension,
    unmapped concepts and unusable values are rejected with their lines."""
    frame, lines = read_csv_strings(path)
    frame = frame.rename({c: c.strip().lower() for c in frame.columns if c != "__problem"})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise MissingColumnsError(path, missing, [c for c in frame.columns if c != "__problem"])
    rows = frame.to_dicts()
    entity_id, entity_name = _entity(path, rows)
    facts: list[Fact] = []
    problems: list[Problem] = []
    for line, row in zip(lines.to_list(), rows, strict=True):
        concept = f"{row['namespace']}:{row['fact']}"
        if concept in IDENTITY:
            continue
        if concept not in mapped_concepts():
            problems.append(Problem(concept, row["value"] or "", line, "fact", unmapped(concept)))
            continue
        if (row["dimensions"] or "").strip():
            problems.append(Problem(concept, row["value"] or "", line, "dimensions", SEGMENT))
            continue
        if row["__problem"]:
            problems.append(Problem(concept, row["value"] or "", line, None, row["__problem"]))
            continue
        try:
            facts.append(_fact(path, line, row))
        except Unusable as bad:
            problems.append(Problem(concept, row["value"] or "", line, bad.column, bad.reason))
    return to_raw(path, entity_id, entity_name, facts, problems)


ADAPTER = Adapter(name="xbrl-facts", accepts=_accepts, read=read_xbrl_facts)
