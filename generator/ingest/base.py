"""What every adapter shares: the raw frame it produces.

An adapter only reads its format and maps it onto ``RAW_COLUMNS`` (text, plus where each value came
from). Validation, parsing, scaling and alias resolution happen once, in ``validate``, so every
format gets the same checks and the same error messages.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import polars as pl

from generator.errors import InputFileError

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

def refused_record(error: InputFileError) -> dict[str, object]:
    """The rejected row that stands for a file refused whole: nothing of it is lost without a line saying why."""
    return {"file": error.file, "line": error.line, "column": error.column, "entity_id": None, "item": None,
            "value": None, "reason": f"file refused: {error.reason}"}


def refused_row(error: InputFileError) -> pl.DataFrame:
    """:func:`refused_record` as a rejected-rows frame."""
    return pl.DataFrame([refused_record(error)], schema=REJECTED_SCHEMA)


NOT_CSV = (".parquet", ".pq", ".jsonl", ".ndjson", ".json")
"""Input suffixes whose first line is no CSV header."""


def format_suffix(path: Path) -> str:
    """The suffix that says a file's format: ``.csv`` for a gzip-compressed CSV (``prices.csv.gz``, as price
    vendors and dataset packages ship them), else the file's own suffix, lower-case."""
    return ".csv" if path.name.lower().endswith(".csv.gz") else path.suffix.lower()


class Probe:
    """What an adapter looks at to say whether a file is its format: the path, its suffix, and a CSV's first
    line, as written and as column names (stripped, lower-case). The first line is read once, when an adapter
    first asks for it; a file that has none (binary, not UTF-8, not CSV) has an empty header."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.suffix = format_suffix(path)

    @cached_property
    def header(self) -> list[str]:
        """The first line's fields as written (a statement table's period headers keep their case)."""
        if self.suffix in NOT_CSV:
            return []
        try:
            opener = gzip.open if self.path.name.lower().endswith(".gz") else open
            with opener(self.path, "rt", encoding="utf-8-sig", newline="") as handle:
                return next(csv.reader(handle), [])
        except FileNotFoundError as exc:
            raise InputFileError(self.path, "no such file") from exc
        except IsADirectoryError as exc:
            raise InputFileError(self.path, "is a directory") from exc
        except (OSError, EOFError, UnicodeDecodeError, csv.Error):
            return []

    @cached_property
    def columns(self) -> set[str]:
        """The header's column names, stripped and lower-case."""
        return {h.strip().lower() for h in self.header}


@dataclass(frozen=True)
class Adapter:
    """One input format. ``accepts`` says from a :class:`Probe` whether a file is in it; ``read`` maps the file
    onto RAW_COLUMNS (validation comes after, the same for every format). Ingest asks the adapters in turn
    (``generator.ingest.ADAPTERS``); the first that accepts a file reads it."""

    name: str
    accepts: Callable[[Probe], bool]
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
