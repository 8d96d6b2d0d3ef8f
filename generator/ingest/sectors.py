"""Sectors file: which sector (or SIC code) each company belongs to, where the filings do not say.

SEC companyfacts carry no sector, so without this every peer comparison of SEC filers falls back to
the whole run. The file is a CSV with ``entity_id`` and ``sector`` and/or ``sic``, recognised by those
columns (it has no period, item or value). A SIC code is mapped to a sector by the shipped table
``data/sic_sectors.csv`` (the SEC's SIC divisions and major groups, split where one major group holds
several sectors); for banks, insurance carriers and REITs it also fixes the industry (see ``industry``).
A sector named in the file wins over the one the SIC code implies: it is the user's own grouping.

``entity_id`` is matched as written; a CIK, as a number or as ``CIK0001818874``, is the id the
companyfacts adapter gives that company. A row that cannot be used is rejected with its line, column
and reason, as every input row is; a company named twice keeps its first row.
"""

from __future__ import annotations

import csv
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from itertools import pairwise
from pathlib import Path

import polars as pl

from generator.errors import InputFileError
from generator.ingest.base import REJECTED_SCHEMA, Probe, refused_record
from generator.ingest.csvread import read_csv_strings

SECTORS_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "given": pl.String(),
    "sector": pl.String(),
    "sic": pl.Int32(),
    "industry": pl.String(),
    "basis": pl.String(),
    "benchmark": pl.String(),
    "ticker": pl.String(),
    "country": pl.String(),
}
"""One row per company: ``entity_id`` as the facts name it, ``given`` as the file wrote it, the sector, the SIC
code, the industry a SIC code fixes, ``basis``: where the row is and how the sector was found, and the entity its
share is measured against and the ticker its prices are quoted under (optional ``benchmark`` and ``ticker``
columns: SEC filings name a company by its CIK, price files by its ticker), and the country a portfolio's
exposure puts it in (optional ``country``, as written)."""

_NOT_SECTORS = {"fiscal_year", "fiscal_period", "period_end", "item", "value"}
_CIK = re.compile(r"(?i)^(?:cik)?0*(\d{1,10})$")
_SIC = re.compile(r"^(\d{1,4})(?:\.0*)?$")


@dataclass(frozen=True)
class SicRange:
    """One row of the shipped SIC table: the codes it spans, their sector, the industry they fix (a bank, an insurer, a
    REIT; None for the rest) and the SEC's description."""

    first: int
    last: int
    sector: str
    industry: str | None
    description: str


@cache
def sic_table() -> tuple[SicRange, ...]:
    """The shipped SIC ranges, in order; they must not overlap."""
    text = resources.files("generator.data").joinpath("sic_sectors.csv").read_text(encoding="utf-8")
    ranges = tuple(SicRange(int(r["sic_from"]), int(r["sic_to"]), r["sector"], r["industry"] or None,
                            r["description"]) for r in csv.DictReader(text.splitlines()))
    for before, after in pairwise(ranges):
        if not before.first <= before.last < after.first:
            raise ValueError(f"sic_sectors.csv: {before.first}-{before.last} overlaps or precedes {after.first}")
    return ranges


def sic_range(code: int) -> SicRange | None:
    """The shipped range holding a SIC code; None for a code the SIC system does not have (or has no sector)."""
    table = sic_table()
    at = bisect_right([r.first for r in table], code) - 1
    return table[at] if at >= 0 and code <= table[at].last else None


def accepts(probe: Probe) -> bool:
    """A CSV whose header names ``entity_id`` and ``sector`` or ``sic``, and none of a fact table's columns. A file
    that cannot be opened is none: read as an input, it is refused with the reason."""
    if probe.suffix != ".csv":
        return False
    try:
        header = probe.columns
    except InputFileError:
        return False
    return "entity_id" in header and bool(header & {"sector", "sic"}) and not header & _NOT_SECTORS


def entity_key(text: str) -> str:
    """A CIK as the companyfacts adapter writes it; any other id as written."""
    cik = _CIK.match(text)
    return f"CIK{int(cik.group(1)):010d}" if cik else text


@dataclass
class Declared:
    """What the sectors files said: the table, the rows it could not use, and each file read or refused."""

    table: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=SECTORS_SCHEMA))
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECTED_SCHEMA))
    rows: dict[Path, int] = field(default_factory=dict)
    refused: list[InputFileError] = field(default_factory=list)


def _columns(frame: pl.DataFrame) -> dict[str, str]:
    """Our column name → the file's (headers are matched without regard to case)."""
    return {name.strip().lower(): name for name in frame.columns if name != "__problem"}


def _sic(text: str | None) -> tuple[int | None, SicRange | None, str | None]:
    """(code, its range, the problem) of a SIC cell; an empty cell is no code and no problem."""
    if not text:
        return None, None, None
    match = _SIC.match(text)
    if not match:
        return None, None, f"not a SIC code: '{text}' (expected a number of up to four digits)"
    code = int(match.group(1))
    found = sic_range(code)
    if found is None:
        return code, None, f"unknown SIC code {code:04d}: no sector for it in the shipped SIC table"
    return code, found, None


def _problem(cells: dict[str, str | None], named: dict[str, str], found: SicRange | None,
             sic_problem: str | None) -> tuple[str | None, str, str | None] | None:
    """(column, reason, value shown) of a row that cannot be used, judged in this order; None for a good row."""
    if cells["__problem"]:
        return None, cells["__problem"], None
    if not cells["entity_id"]:
        return named["entity_id"], "required value is empty", None
    if sic_problem:
        return named.get("sic", "sic"), sic_problem, cells["sic"]
    if not (cells["sector"] or found):
        return named.get("sector", named.get("sic")), "neither a sector nor a SIC code", None
    return None


def _rows(path: Path) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(declarations, rejected rows) of one file, in line order."""
    frame, lines = read_csv_strings(path)
    named = _columns(frame)
    good: list[dict[str, object]] = []
    bad: list[dict[str, object]] = []
    for row, line in zip(frame.iter_rows(named=True), lines, strict=True):
        cells = {name: _text(row.get(named[name])) if name in named else None
                 for name in ("entity_id", "sector", "sic", "benchmark", "ticker", "country")}
        cells["__problem"] = row.get("__problem")
        code, found, sic_problem = _sic(cells["sic"])
        where = f"{path}:{line}"
        problem = _problem(cells, named, found, sic_problem)
        if problem:
            column, reason, value = problem
            bad.append({"file": str(path), "line": line, "column": column, "entity_id": cells["entity_id"],
                        "item": None, "value": value, "reason": reason})
            continue
        given, sector = str(cells["entity_id"]), cells["sector"]
        good.append({"entity_id": entity_key(given), "given": given, "sector": sector or (found and found.sector),
                     "sic": code, "industry": found and found.industry, "basis": _basis(sector, code, found, where),
                     "benchmark": cells["benchmark"] and entity_key(str(cells["benchmark"])),
                     "ticker": cells["ticker"], "country": cells["country"],
                     "__line": line, "__where": where})
    return good, bad


def _basis(sector: str | None, code: int | None, found: SicRange | None, where: str) -> str:
    """Where the row is, and how its sector was found: named by the user, or mapped from the SIC code."""
    if found is None or code is None:
        return f"sector named in {where}"
    sic = f"SIC {code:04d} ({found.description})"
    return f"sector named in {where}; {sic}" if sector else f"{sic} is {found.sector} in the shipped SIC table; {where}"


def _text(value: object) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def read_all(paths: Sequence[Path]) -> Declared:
    """Every sectors file in turn; a company already given keeps its first row, and the repeat is rejected."""
    out = Declared()
    good: list[dict[str, object]] = []
    bad: list[dict[str, object]] = []
    first: dict[str, str] = {}
    for path in paths:
        try:
            rows, rejected = _rows(path)
        except InputFileError as exc:
            out.refused.append(exc)
            bad.append(refused_record(exc))
            continue
        out.rows[path] = len(rows) + len(rejected)
        bad += rejected
        for row in rows:
            key = str(row["entity_id"])
            if key in first:
                bad.append({"file": str(path), "line": row["__line"], "column": "entity_id", "entity_id": row["given"],
                            "item": None, "value": None, "reason": f"company already given at {first[key]}"})
                continue
            first[key] = str(row["__where"])
            good.append({k: v for k, v in row.items() if not k.startswith("__")})
    out.table = pl.DataFrame(good, schema=SECTORS_SCHEMA)
    out.rejected = pl.DataFrame(bad, schema=REJECTED_SCHEMA)
    return out


def quoted_as(prices: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """Prices (or price findings) under the ids of the companies whose tickers they are quoted under; a ticker no
    company declares keeps its name (an index, or a company with prices alone)."""
    tickers = dict(table.filter(pl.col("ticker").is_not_null()).select("ticker", "entity_id").iter_rows())
    if not tickers or prices.is_empty():
        return prices
    return prices.with_columns(pl.col("entity_id").replace(tickers))


def attach(facts: pl.DataFrame, table: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Facts with the declared sectors, and the table keyed by the facts' own ids: a company is matched by its
    CIK, or by its id as written when the facts use that (an internal code that happens to be a number)."""
    if table.is_empty():
        return facts, table
    ids = facts.get_column("entity_id").cast(pl.String).unique().implode()
    keyed = table.with_columns(
        entity_id=pl.when(~pl.col("entity_id").is_in(ids) & pl.col("given").is_in(ids))
        .then(pl.col("given")).otherwise(pl.col("entity_id"))
    )
    sectors = keyed.select("entity_id", __declared="sector")
    with_sector = facts.join(sectors, on="entity_id", how="left", maintain_order="left").with_columns(
        sector=pl.coalesce("__declared", "sector")).drop("__declared")
    return with_sector, keyed
