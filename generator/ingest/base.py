"""What every adapter shares: the raw frame it produces.

An adapter only reads its format and maps it onto ``RAW_COLUMNS`` (text, plus where each value came
from). Validation, parsing, scaling and alias resolution happen once, in ``validate``, so every
format gets the same checks and the same error messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

RAW_COLUMNS: tuple[str, ...] = (
    "entity_id",
    "entity_name",
    "sector",
    "fiscal_year",
    "fiscal_period",
    "period_start",
    "period_end",
    "statement",
    "item",
    "value",
    "currency",
    "filed",
    "scale",
)
"""Text columns an adapter fills (null where its format has no such field)."""

TEXT_COLUMNS: tuple[str, ...] = tuple(c for c in RAW_COLUMNS if c != "value")
"""Columns that repeat a few distinct values: categorical, so validation parses each value once."""

TRACE_COLUMNS: dict[str, pl.DataType] = {
    "_file": pl.Categorical(),
    "_line": pl.Int64(),
    "_column": pl.Categorical(),
    "_printed": pl.Boolean(),
    "_source": pl.String(),
    "__problem": pl.String(),
    "__problem_at": pl.String(),
}
"""Where a value came from: file, line (1-based, as an editor shows it), the column holding the
value (or its JSON path), whether the value is printed as in a statement (outflows negative), its
provenance where file and line do not tell it (an accession number and tag, a derivation), and a
problem the adapter already found with the line (a ragged CSV record, a line that is not JSON, a
period that is no fiscal quarter) with the column or JSON path it concerns."""

REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "column": pl.String(),
    "entity_id": pl.String(),
    "item": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
}

@dataclass(frozen=True)
class Adapter:
    """One input format: ``accepts`` looks at the path and header, ``read`` maps the file onto RAW_COLUMNS."""

    name: str
    accepts: Callable[[Path, list[str]], bool]
    read: Callable[[Path], pl.DataFrame]


def _types() -> dict[str, pl.DataType]:
    return {name: pl.String() if name == "value" else pl.Categorical() for name in RAW_COLUMNS} | TRACE_COLUMNS


def raw_frame(columns: dict[str, pl.Expr], height: int) -> pl.DataFrame:
    """Assemble an adapter's output with every RAW/TRACE column present and correctly typed."""
    base = pl.DataFrame({"__n": pl.int_range(height, eager=True)})
    return base.select(
        [columns.get(name, pl.lit(None, dtype)).cast(dtype).alias(name) for name, dtype in _types().items()]
    )


def raw_records(records: list[dict[str, object]]) -> pl.DataFrame:
    """An adapter's output from one dict per value (text cells; a missing key is null)."""
    types = _types()
    text = {name: pl.String() if dtype == pl.Categorical() else dtype for name, dtype in types.items()}
    frame = pl.DataFrame({name: [r.get(name) for r in records] for name in types}, schema=text)
    return frame.cast(types)  # type: ignore[arg-type]
