"""Inputs built directly: canonical facts for the stages after ingest, and the files ingest reads (long CSV lines,
SEC companyfacts JSON) with the rows it should reject, for the ingest tests."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from generator.ingest import Ingested, ingest
from generator.schema import CANONICAL_SCHEMA, items

QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))
QUARTER_STARTS = ((1, 1), (4, 1), (7, 1), (10, 1))


# Two fiscal years of one company "T", every figure round, so that each metric can be worked out by hand.
FY2023: dict[str, float] = {
    "revenue": 800, "cost_of_revenue": 500, "gross_profit": 300, "net_income": 100, "total_equity": 350,
    "total_assets": 900, "long_term_debt": 250, "current_assets": 330, "current_liabilities": 250,
    "shares_outstanding": 105,
}
FY2024: dict[str, float] = {
    "revenue": 1000, "cost_of_revenue": 600, "gross_profit": 400, "sga_expense": 150, "rnd_expense": 50,
    "operating_income": 200, "interest_expense": 20, "pretax_income": 180, "income_tax": 40, "net_income": 140,
    "depreciation_amortization": 30, "cash": 100, "short_term_investments": 50, "receivables": 120,
    "inventory": 80, "current_assets": 400, "total_assets": 1000, "ppe_net": 300, "payables": 90,
    "short_term_debt": 60, "current_liabilities": 250, "long_term_debt": 240, "total_liabilities": 600,
    "total_equity": 400, "retained_earnings": 200, "shares_outstanding": 110, "operating_cash_flow": 180,
    "capex": 50,
}


def facts_frame(periods: dict[tuple[str, int, str], dict[str, float]]) -> pl.DataFrame:
    """Canonical facts for (entity, fiscal_year, fiscal_period) → {item: value}, calendar fiscal years."""
    rows = []
    for (entity, year, period), values in periods.items():
        if period == "FY":
            start, end = date(year, 1, 1), date(year, 12, 31)
        else:
            q = int(period[1]) - 1
            start, end = date(year, *QUARTER_STARTS[q]), date(year, *QUARTER_ENDS[q])
        for item, value in values.items():
            statement = items()[item].statement
            rows.append({
                "entity_id": entity, "entity_name": f"{entity} Corp", "fiscal_year": year, "fiscal_period": period,
                "period_start": None if statement == "balance" else start, "period_end": end,
                "statement": statement, "item": item, "value": float(value), "currency": "USD", "filed": None,
                "source": f"test:{entity}:{year}{period}:{item}", "sector": "Test",
            })
    return pl.DataFrame(rows, schema={**CANONICAL_SCHEMA, "sector": pl.String})


# --- ingest: what goes in, and what should come out -----------------------------------------------------------------


def checked(paths: list[Path]) -> Ingested:
    """``ingest`` plus the bookkeeping invariant every case must keep: nothing lost, nothing counted twice."""
    ingested = ingest(paths)
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    return ingested


HEADER = ["entity_id", "entity_name", "fiscal_year", "fiscal_period", "period_start", "period_end", "statement",
          "item", "value", "currency", "filed"]
"""The columns of the long CSV files :func:`row` writes lines of."""
NCOLS = len(HEADER)


def row(**changes: str) -> str:
    """One valid long-format CSV line (ACME, FY 2024 revenue = 1000), with some cells changed."""
    cells = {"entity_id": "ACME", "entity_name": "Acme Corp", "fiscal_year": "2024", "fiscal_period": "FY",
             "period_start": "2024-01-01", "period_end": "2024-12-31", "statement": "income", "item": "revenue",
             "value": "1000", "currency": "USD", "filed": "2025-02-01"} | changes
    return ",".join(quote(cells[c]) for c in HEADER)


def quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in ',"\n\r') else cell


def write(path: Path, *lines: str, header: str = ",".join(HEADER)) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def rejected(ingested: Ingested) -> list[dict[str, Any]]:
    return ingested.rejected.to_dicts()


def reject(file: Path, line: int | None, column: str | None, reason: str, entity_id: str | None = "ACME",
           item: str | None = "revenue", value: str | None = "1000") -> dict[str, Any]:
    """A rejected row as ingest reports it (by default one of :func:`row`'s cells)."""
    return {"file": str(file), "line": line, "column": column, "entity_id": entity_id, "item": item, "value": value,
            "reason": reason}


def refusal(file: Path, reason: str, line: int | None = None, column: str | None = None) -> dict[str, Any]:
    """The rejected row that stands for a refused file."""
    return reject(file, line, column, f"file refused: {reason}", entity_id=None, item=None, value=None)


def fact_lines(ingested: Ingested) -> list[tuple[str, int]]:
    """(item, physical line) of each accepted fact."""
    return list(zip(ingested.facts["item"], ingested.facts["_line"], strict=True))


def fact(facts: pl.DataFrame, item: str, year: int, period: str) -> dict[str, Any]:
    """The one fact of an item and period."""
    rows = facts.filter(item=item, fiscal_year=year, fiscal_period=period)
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def entry(val: object, end: str, start: str | None = None, accn: str = "0000000001-25-000001",
          filed: str = "2025-02-15") -> dict[str, Any]:
    """One companyfacts value as EDGAR serves it; ``fy``/``fp`` deliberately describe the filing, not the period."""
    return {**({"start": start} if start else {}), "end": end, "val": val, "accn": accn, "fy": 2025, "fp": "FY",
            "form": "10-K", "filed": filed}


def companyfacts(path: Path, concepts: dict[str, dict[str, list[dict[str, Any]]]], cik: object = 1,
                 name: str = "Acme Corp") -> Path:
    """A companyfacts file; ``concepts``: ``us-gaap:Revenues`` → unit → entries (:func:`entry`)."""
    facts: dict[str, dict[str, Any]] = {}
    for concept, units in concepts.items():
        taxonomy, tag = concept.split(":")
        facts.setdefault(taxonomy, {})[tag] = {"label": tag, "units": units}
    path.write_text(json.dumps({"cik": cik, "entityName": name, "facts": facts}), encoding="utf-8")
    return path
