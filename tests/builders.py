"""Canonical facts built directly, for tests of the stages after ingest."""

from __future__ import annotations

from datetime import date

import polars as pl

from generator.schema import CANONICAL_SCHEMA, items

QUARTER_ENDS = ((3, 31), (6, 30), (9, 30), (12, 31))
QUARTER_STARTS = ((1, 1), (4, 1), (7, 1), (10, 1))


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
