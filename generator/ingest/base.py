"""What every adapter shares: the raw frame it produces, and the validation that turns it into facts.

An adapter only reads its format and maps it onto ``RAW_COLUMNS`` (all strings, plus where each
value came from). Validation, parsing, scaling and alias resolution happen here, once, vectorised
over all rows, so every format gets the same checks and the same error messages.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from generator.errors import InputFileError
from generator.schema import CANONICAL_SCHEMA, FISCAL_PERIODS, STATEMENTS, alias_table, currencies, item_statements

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
"""String columns an adapter fills (null where its format has no such field)."""

TRACE_COLUMNS: dict[str, pl.DataType] = {
    "_file": pl.String(),
    "_line": pl.Int64(),
    "_column": pl.String(),
    "_printed": pl.Boolean(),
    "__problem": pl.String(),
}
"""Where a value came from: file, line (1-based, as an editor shows it), the column holding the
value, whether the value is printed as in a statement (outflows negative), and a problem the
adapter already found with the line (a ragged CSV record, a line that is not JSON)."""

REJECTED_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),
    "column": pl.String(),
    "entity_id": pl.String(),
    "item": pl.String(),
    "value": pl.String(),
    "reason": pl.String(),
}

SCALES: dict[str, float] = {
    "": 1.0,
    "1": 1.0,
    "units": 1.0,
    "unit": 1.0,
    "ones": 1.0,
    "thousands": 1e3,
    "thousand": 1e3,
    "000": 1e3,
    "1000": 1e3,
    "millions": 1e6,
    "million": 1e6,
    "1000000": 1e6,
    "billions": 1e9,
    "billion": 1e9,
    "1000000000": 1e9,
}

REQUIRED_VALUES: tuple[str, ...] = (
    "entity_id",
    "entity_name",
    "fiscal_year",
    "fiscal_period",
    "period_end",
    "item",
    "value",
    "currency",
)


@dataclass(frozen=True)
class Adapter:
    """One input format: ``accepts`` looks at the path and header, ``read`` maps the file onto RAW_COLUMNS."""

    name: str
    accepts: Callable[[Path, list[str]], bool]
    read: Callable[[Path], pl.DataFrame]


def raw_frame(columns: dict[str, pl.Expr], height: int) -> pl.DataFrame:
    """Assemble an adapter's output with every RAW/TRACE column present and correctly typed."""
    types = {name: pl.String() for name in RAW_COLUMNS} | TRACE_COLUMNS
    base = pl.DataFrame({"__n": pl.int_range(height, eager=True)})
    return base.select(
        [columns.get(name, pl.lit(None, dtype)).cast(dtype).alias(name) for name, dtype in types.items()]
    )


def read_csv_strings(path: Path) -> tuple[pl.DataFrame, pl.Series]:
    """Every cell as a string (types are checked later, per row), plus each record's physical line.

    Files without quote characters take Polars' fast reader, where one line is one record; anything
    else goes through the csv module, so both readings of a file are the same by construction. Short
    or long lines become rows whose ``__problem`` says so; blank lines are not records.
    """
    try:
        data = path.read_bytes().removeprefix(codecs.BOM_UTF8)
    except OSError as exc:
        raise InputFileError(path, f"cannot read file: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(path, f"not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from exc
    if "\x00" in text:
        raise InputFileError(path, "contains NUL bytes: not a text CSV file")
    if not text.strip():
        raise InputFileError(path, "file is empty")
    if "\n" not in text:
        text = text.replace("\r", "\n")
        data = text.encode("utf-8")
    try:
        header = next(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputFileError(path, f"malformed CSV header: {exc}", line=1) from exc
    names = header_names(path, header)
    simple = b'"' not in data and data.count(b"\r") == data.count(b"\r\n")
    frame = _read_fast(data, names) if simple else None
    if frame is None:
        return _read_csv_module(path, text, names)
    if frame.height == 0:
        return pl.DataFrame(schema={n: pl.String for n in [*names, "__problem"]}), pl.Series([], dtype=pl.Int64)
    lines = pl.int_range(2, frame.height + 2, eager=True, dtype=pl.Int64)
    frame = frame.with_columns(__problem=_short_lines(frame, data, len(names)))
    blank = _blank_rows(frame, names)
    return frame.filter(~blank), lines.filter(~blank)


def _read_fast(data: bytes, names: list[str]) -> pl.DataFrame | None:
    """Polars' reader, or None when a line has more fields than the header (the csv module names it)."""
    try:
        return pl.read_csv(io.BytesIO(data), has_header=False, skip_rows=1, new_columns=names, infer_schema=False,
                           encoding="utf8", raise_if_empty=False)
    except (pl.exceptions.ComputeError, pl.exceptions.ShapeError, pl.exceptions.SchemaError):
        return None


def _short_lines(frame: pl.DataFrame, data: bytes, width: int) -> pl.Series:
    """Polars pads a short line with nulls; only rows whose last field is empty can be short, so only
    those lines are counted."""
    problem = pl.Series("__problem", [None] * frame.height, dtype=pl.String)
    candidates = frame.select(pl.arg_where(pl.col(frame.columns[-1]).is_null())).to_series().to_list()
    if not candidates:
        return problem
    lines = data.split(b"\n")
    found = {i: lines[i + 1].count(b",") + 1 for i in candidates if lines[i + 1].strip()}
    short = {i: f"expected {width} fields, found {n}" for i, n in found.items() if n != width}
    if short:
        problem = problem.scatter(list(short), list(short.values()))
    return problem


def _blank_rows(frame: pl.DataFrame, names: list[str]) -> pl.Series:
    first = pl.col(names[0]).str.strip_chars().fill_null("") == ""
    candidates = frame.select(first).to_series()
    if not candidates.any():
        return candidates
    every = pl.all_horizontal([pl.col(n).str.strip_chars().fill_null("") == "" for n in names])
    return frame.select(first & every).to_series()


def header_names(path: Path, header: list[str]) -> list[str]:
    """Column names as the adapters use them: known names in lower case, item labels as written.

    Two headers that mean the same column refuse the file rather than silently keeping one.
    """
    known = set(RAW_COLUMNS)
    names: list[str] = []
    for position, raw in enumerate(header, start=1):
        name = raw.strip()
        name = name.lower() if name.lower() in known else name or f"column {position}"
        if name in names:
            raise InputFileError(path, f"column {name!r} appears twice (columns {names.index(name) + 1} and "
                                       f"{position})", line=1, column=name)
        names.append(name)
    return names


def _read_csv_module(path: Path, text: str, names: list[str]) -> tuple[pl.DataFrame, pl.Series]:
    """The reference reading, for files with quotes or ragged lines."""
    width = len(names)
    records: list[list[str | None]] = []
    starts: list[int] = []
    problems: list[str | None] = []
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        next(reader)
        previous_end = reader.line_num
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if all(not f.strip() for f in record):
                continue
            starts.append(start)
            problems.append(None if len(record) == width else f"expected {width} fields, found {len(record)}")
            record = (record + [""] * width)[:width]
            records.append([f if f != "" else None for f in record])
    except csv.Error as exc:
        raise InputFileError(path, f"malformed CSV: {exc}", line=previous_end + 1) from exc
    frame = pl.DataFrame(
        {name: [r[i] for r in records] for i, name in enumerate(names)} | {"__problem": problems},
        schema={name: pl.String for name in [*names, "__problem"]},
    )
    return frame, pl.Series(starts, dtype=pl.Int64)


_STRICT_NUMBER = r"^-?\$?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$"


def _whole_number(col: pl.Expr) -> pl.Expr:
    """``2024`` or ``2024.0`` (spreadsheets and pandas write years as floats); never ``2024.5``."""
    number = col.cast(pl.Float64, strict=False)
    return pl.when(number.is_finite() & (number == number.floor()) & (number.abs() < 1e9)).then(
        number.cast(pl.Int32, strict=False))


def _parse_number(col: pl.Expr) -> pl.Expr:
    """Plain numbers cast directly; statement-style ``1,234``, ``$12.5`` and ``(1,234)`` are accepted too."""
    direct = col.cast(pl.Float64, strict=False)
    paren = col.str.starts_with("(") & col.str.ends_with(")")
    inner = pl.when(paren).then(pl.lit("-") + col.str.slice(1, col.str.len_chars() - 2)).otherwise(col)
    inner = inner.str.replace(r"^-\$|^\$-", "-$")
    cleaned = (
        pl.when(inner.str.contains(_STRICT_NUMBER))
        .then(inner.str.replace_all(r"[,$]", "").cast(pl.Float64, strict=False))
        .otherwise(None)
    )
    return pl.coalesce(direct, cleaned)


def validate(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Row-level checks on an adapter's frame → (typed accepted rows, rejected rows).

    The first failing check names the row's reason; a row either passes every check or is rejected.
    Balance-sheet items are instants, so their ``period_start`` is dropped; per-share amounts are never
    scaled, as statements print them ("in thousands, except per-share amounts").
    """
    aliases = alias_table()
    s = {c: pl.col(c).str.strip_chars() for c in RAW_COLUMNS}
    frame = raw.with_columns(
        [pl.when(s[c] == "").then(None).otherwise(s[c]).alias(c) for c in RAW_COLUMNS]
    ).with_columns(
        pl.col("item").map_batches(_normalise_keys, return_dtype=pl.String).alias("__key"),
        pl.col("fiscal_period").str.to_uppercase().alias("fiscal_period"),
        pl.col("currency").str.to_uppercase().alias("currency"),
        pl.col("statement").str.to_lowercase().alias("statement"),
    )
    frame = frame.join(aliases.rename({"item": "__item"}), left_on="__key", right_on="key", how="left")
    frame = frame.join(item_statements().rename({"item": "__item"}), on="__item", how="left")
    parsed = frame.with_columns(
        __year=_whole_number(pl.col("fiscal_year")),
        __end=pl.col("period_end").str.to_date("%Y-%m-%d", strict=False),
        __start=pl.col("period_start").str.to_date("%Y-%m-%d", strict=False),
        __filed=pl.col("filed").str.to_date("%Y-%m-%d", strict=False),
        __number=_parse_number(pl.col("value")),
        __scale=pl.col("scale").str.to_lowercase().replace_strict(SCALES, default=None, return_dtype=pl.Float64)
        .fill_null(pl.when(pl.col("scale").is_null()).then(1.0)),
    )

    def quoted(c: str) -> pl.Expr:
        return pl.lit("'") + pl.col(c) + pl.lit("'")

    checks: list[tuple[str, pl.Expr, pl.Expr]] = [("", pl.col("__problem").is_not_null(), pl.col("__problem"))]
    checks += [(c, pl.col(c).is_null(), pl.lit("required value is empty")) for c in REQUIRED_VALUES]
    checks += [
        ("fiscal_year", pl.col("__year").is_null() | ~pl.col("__year").is_between(1900, 2200),
         pl.lit("not a fiscal year: ") + quoted("fiscal_year")),
        ("fiscal_period", ~pl.col("fiscal_period").is_in(FISCAL_PERIODS),
         pl.lit("unknown fiscal period ") + quoted("fiscal_period") + pl.lit(" (expected FY, Q1, Q2, Q3 or Q4)")),
        ("period_end", pl.col("__end").is_null(),
         pl.lit("unparseable date ") + quoted("period_end") + pl.lit(" (expected YYYY-MM-DD)")),
        ("period_start", pl.col("period_start").is_not_null() & pl.col("__start").is_null(),
         pl.lit("unparseable date ") + quoted("period_start") + pl.lit(" (expected YYYY-MM-DD)")),
        ("filed", pl.col("filed").is_not_null() & pl.col("__filed").is_null(),
         pl.lit("unparseable date ") + quoted("filed") + pl.lit(" (expected YYYY-MM-DD)")),
        ("period_start", pl.col("__start") > pl.col("__end"),
         pl.lit("period_start ") + pl.col("period_start") + pl.lit(" is after period_end ") + pl.col("period_end")),
        ("value", pl.col("__number").is_null(), pl.lit("unparseable number ") + quoted("value")),
        ("value", pl.col("__number").is_infinite() | pl.col("__number").is_nan(),
         pl.lit("not a finite number: ") + quoted("value")),
        ("currency", ~pl.col("currency").is_in(sorted(currencies())),
         pl.lit("unknown currency ") + quoted("currency") + pl.lit(" (not an ISO 4217 code)")),
        ("scale", pl.col("__scale").is_null(),
         pl.lit("unknown scale ") + quoted("scale") + pl.lit(" (expected units, thousands, millions or billions)")),
        ("item", pl.col("__item").is_null(), pl.lit("unmapped item ") + quoted("item")),
        ("statement", pl.col("statement").is_not_null() & ~pl.col("statement").is_in(STATEMENTS),
         pl.lit("unknown statement ") + quoted("statement") + pl.lit(" (expected income, balance or cashflow)")),
        ("statement", pl.col("statement").is_not_null()
         & ~pl.col("allowed_statements").list.contains(pl.col("statement")),
         pl.lit("statement ") + quoted("statement") + pl.lit(" does not match item '") + pl.col("__item")
         + pl.lit("', which belongs to the ") + pl.col("item_statement") + pl.lit(" statement")),
    ]
    failed = pl.coalesce([pl.when(bad.fill_null(False)).then(pl.lit(i)) for i, (_, bad, _) in enumerate(checks)])
    parsed = parsed.with_columns(__check=failed)
    bad_rows = parsed.filter(pl.col("__check").is_not_null())
    rejected = bad_rows.select(
        file=pl.col("_file"),
        line=pl.col("_line"),
        column=pl.coalesce(
            [pl.when(pl.col("__check") == i).then(_where(c)) for i, (c, _, _) in enumerate(checks)]
        ),
        entity_id=pl.col("entity_id"),
        item=pl.col("item"),
        value=pl.col("value"),
        reason=pl.coalesce([pl.when(pl.col("__check") == i).then(r) for i, (_, _, r) in enumerate(checks)]),
    )
    good = parsed.filter(pl.col("__check").is_null())
    sign = pl.when(pl.col("_printed").fill_null(False)).then(pl.col("printed_sign")).otherwise(1).cast(pl.Float64)
    accepted = good.select(
        entity_id=pl.col("entity_id"),
        entity_name=pl.col("entity_name"),
        fiscal_year=pl.col("__year"),
        fiscal_period=pl.col("fiscal_period"),
        period_start=pl.when(pl.col("item_statement") != "balance").then(pl.col("__start")),
        period_end=pl.col("__end"),
        statement=pl.col("item_statement"),
        item=pl.col("__item"),
        value=pl.col("__number") * pl.when(pl.col("item_unit") == "currency_per_share").then(1.0)
        .otherwise(pl.col("__scale")) * sign + 0.0,
        currency=pl.col("currency"),
        filed=pl.col("__filed"),
        source=pl.col("_file") + pl.lit(":") + pl.col("_line").cast(pl.String)
        + (pl.lit(" [") + pl.col("_column") + pl.lit("]")).fill_null(""),
        sector=pl.col("sector"),
        _file=pl.col("_file"),
        _line=pl.col("_line"),
        _raw=pl.col("value"),
    )
    return accepted, rejected.cast(REJECTED_SCHEMA)  # type: ignore[arg-type]


def _where(column: str) -> pl.Expr:
    """The input column to point at: in layouts with one column per item, the cell's own header."""
    if not column:
        return pl.lit(None, pl.String)
    if column in ("value", "item"):
        return pl.col("_column").fill_null(column)
    return pl.lit(column)


def _normalise_keys(labels: pl.Series) -> pl.Series:
    return labels.str.to_lowercase().str.replace_all(r"[^0-9a-z]+", "")


def empty_accepted() -> pl.DataFrame:
    return pl.DataFrame(schema={**CANONICAL_SCHEMA, "sector": pl.String, "_file": pl.String, "_line": pl.Int64,
                                "_raw": pl.String})


def empty_rejected() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECTED_SCHEMA)
