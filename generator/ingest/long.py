"""The canonical long format: one row per reported value, as CSV, Parquet or JSON lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from generator.errors import InputFileError, MissingColumnsError, not_utf8
from generator.ingest.base import RAW_COLUMNS, TEXT_COLUMNS, Adapter, Probe, format_suffix, raw_frame
from generator.ingest.csvread import header_names, read_csv_strings
from generator.schema import REQUIRED_COLUMNS

SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def _accepts(probe: Probe) -> bool:
    """Parquet and JSON Lines files, and a CSV that names an item or a value column (a long table missing the
    other is still one, and its reader says what is missing)."""
    return probe.suffix in (".parquet", ".pq", ".jsonl", ".ndjson") or bool({"item", "value"} & probe.columns)


_NOT_A_STATEMENT = ("none of them a column of a long table; a statement table would have a label column, then one "
                    "column per period end such as 'Sep. 30, 2023'; statements of changes in equity are not read, "
                    "give the income statement, balance sheet and cash flow")


def _check_columns(path: Path, columns: list[str]) -> None:
    """A long table has every required column; a file with none of them, whose first column is followed by
    others that are not period ends, is most likely a statement table finreport does not read, and says so."""
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        separator = next((s for s in (";", "\t", "|") if len(columns) == 1 and s in columns[0]
                          and set(REQUIRED_COLUMNS) <= {c.strip().lower() for c in columns[0].split(s)}), None)
        hint = f"the columns are separated by {separator!r}: a long table separates them by commas" if separator \
            else _NOT_A_STATEMENT if len(missing) == len(REQUIRED_COLUMNS) and len(columns) > 1 else ""
        raise MissingColumnsError(path, missing, columns, hint)


def _to_raw(path: Path, frame: pl.DataFrame, lines: pl.Series) -> pl.DataFrame:
    _check_columns(path, [c for c in frame.columns if c != "__problem"])
    columns: dict[str, pl.Expr] = {c: pl.lit(frame[c]) for c in RAW_COLUMNS if c in frame.columns}
    columns |= {"_file": pl.lit(str(path)), "_line": pl.lit(lines)}
    if "__problem" in frame.columns:
        columns["__problem"] = pl.lit(frame["__problem"])
    return raw_frame(columns, frame.height)


def read_long_csv(path: Path) -> pl.DataFrame:
    """A long CSV as raw text rows with their file and line; a file without the required columns is refused, naming what
    it has and what it most likely is."""
    frame, lines = read_csv_strings(path, categorical=TEXT_COLUMNS)
    return _to_raw(path, frame, lines)


def read_long_parquet(path: Path) -> pl.DataFrame:
    """Typed Parquet columns are rendered as text so they pass the same checks; "line" is the 1-based row.

    pyarrow reads and fully validates the file (UTF-8 included): on a damaged file it raises, where
    Polars' reader can panic.
    """
    try:
        table = pq.read_table(path)
        table.validate(full=True)
        frame = cast(pl.DataFrame, pl.from_arrow(table))
    except (OSError, ValueError, pa.ArrowException, pl.exceptions.PolarsError) as exc:
        raise InputFileError(path, f"not a readable Parquet file: {exc}") from exc
    frame = frame.rename(dict(zip(frame.columns, header_names(path, frame.columns), strict=True)))
    nested = [f"{c} ({t})" for c, t in frame.schema.items() if t.is_nested() or t == pl.Binary]
    if nested:
        raise InputFileError(path, f"column(s) {', '.join(nested)} hold nested or binary values; expected text, "
                                   "numbers or dates")
    frame = frame.with_columns(
        [_as_text(pl.col(c), t) for c, t in frame.schema.items()]
    )
    return _to_raw(path, frame, pl.int_range(1, frame.height + 1, eager=True, dtype=pl.Int64))


def read_long_jsonl(path: Path) -> pl.DataFrame:
    """One JSON object per line; a line that is not an object is rejected by name, not the whole file."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise not_utf8(path, data, exc) from exc
    records: list[dict[str, str | None]] = []
    lines: list[int] = []
    broken: list[str | None] = []
    keys: set[str] = set()
    for number, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        lines.append(number)
        try:
            obj = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            broken.append(f"not valid JSON: {getattr(exc, 'msg', 'nested too deeply')}")
            records.append({})
            continue
        if not isinstance(obj, dict):
            broken.append(f"expected a JSON object, found {type(obj).__name__}")
            records.append({})
            continue
        broken.append(None)
        row = {str(k).strip().lower(): _text(v) for k, v in obj.items()}
        keys |= row.keys()
        records.append(row)
    if not records:
        raise InputFileError(path, "file is empty")
    columns = sorted(keys | {c for c in REQUIRED_COLUMNS})
    if all(b is not None for b in broken):
        raise InputFileError(path, f"no line is a JSON object ({broken[0]})", line=lines[0])
    _check_columns(path, sorted(keys))
    frame = pl.DataFrame(
        {c: [r.get(c) for r in records] for c in columns} | {"__problem": broken},
        schema={c: pl.String for c in [*columns, "__problem"]},
    )
    return _to_raw(path, frame, pl.Series(lines, dtype=pl.Int64))


def _as_text(col: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Dates as ISO text, whole floats without ``.0`` (a pandas-written year is a float when it has nulls)."""
    if dtype in (pl.Date, pl.Datetime):
        return col.dt.strftime("%Y-%m-%d")
    if dtype.is_float():
        whole = col.is_finite() & (col == col.round(0)) & (col.abs() < 1e15)
        return pl.when(whole).then(col.cast(pl.Int64, strict=False).cast(pl.String)).otherwise(col.cast(pl.String))
    return col.cast(pl.String)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _read(path: Path) -> pl.DataFrame:
    kind = SUFFIXES.get(format_suffix(path), "csv")
    return {"csv": read_long_csv, "parquet": read_long_parquet, "jsonl": read_long_jsonl}[kind](path)


ADAPTER = Adapter(name="long", accepts=_accepts, read=_read)
