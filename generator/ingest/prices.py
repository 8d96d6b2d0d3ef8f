"""Daily prices: a long table (``entity_id, date, close``; optional ``adj_close, open, high, low, volume,
dividend, split_ratio, currency``) in CSV, Parquet or JSON Lines, or a wide one (a ``date`` column and one column of
closes per ticker), recognised by its columns as the statements' layouts are.

Validation is as for statements: a row that cannot be used is rejected with its file, line, column and reason,
and every row is used or rejected. Dates out of order are sorted, not rejected; the same date twice with the same
close keeps the first and lists the other as a repeat; with different closes both are rejected (which one is
true cannot be told). A close that moves by a split ratio (a half, a third, ten times) on a day with no split
declared is read as that split, and said so: a 2-for-1 split is not a 50% loss. A gap of more than a week between
closes is a finding.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from generator.errors import InputFileError
from generator.ingest.base import REJECTED_SCHEMA, Probe, format_suffix, refused_row
from generator.ingest.csvread import read_csv_strings

PRICES_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "date": pl.Date(),
    "close": pl.Float64(),
    "adj_close": pl.Float64(),
    "dividend": pl.Float64(),
    "split_ratio": pl.Float64(),
    "currency": pl.String(),
    "source": pl.String(),
}
"""One row per entity and day: the close, the adjusted close where given, the dividend going ex and the split ratio
(new shares per old) that day, the currency, and where the row is (``file:line``, and the column of a wide table)."""

PRICE_FINDING_SCHEMA: dict[str, pl.DataType] = {
    "entity_id": pl.String(),
    "date": pl.Date(),
    "check": pl.String(),
    "severity": pl.String(),
    "message": pl.String(),
}
"""What reading prices found: a split detected, a gap in the closes, a repeated date."""

GAP_DAYS = 7
"""Calendar days between two closes beyond which the series has a gap worth saying (a long weekend is not one)."""

SPLIT_RATIOS = (2.0, 3.0, 4.0, 5.0, 10.0, 20.0, 1.5, 0.5, 0.1, 0.2, 0.25, 1 / 3, 0.05)
"""Ratios (new shares per old) a close that moves by their inverse is read as: forward and reverse splits."""
SPLIT_TOLERANCE = 0.01
"""How near a day's move must come to a split's: within 1% of 1/ratio."""

_NUMBERS = ("close", "adj_close", "open", "high", "low", "volume", "dividend", "split_ratio")
_POSITIVE = ("close", "adj_close", "open", "high", "low", "split_ratio")
_ALIASES = {"ticker": "entity_id", "symbol": "entity_id", "adjclose": "adj_close", "adj close": "adj_close",
            "adjusted_close": "adj_close", "price": "close"}
_STATEMENT_COLUMNS = {"item", "value", "fiscal_year", "fiscal_period", "period_end", "sector", "sic", "label"}


def _names(columns: Sequence[str]) -> list[str]:
    return [_ALIASES.get(c.strip().lower(), c.strip().lower()) for c in columns]


def _columns(probe: Probe) -> list[str]:
    """The file's column names, for CSV from its header, for Parquet from its schema, for JSON Lines from its first
    object; none when it cannot be told."""
    try:
        if probe.suffix in (".parquet", ".pq"):
            return list(pl.read_parquet_schema(probe.path))
        if probe.suffix in (".jsonl", ".ndjson"):
            with probe.path.open(encoding="utf-8") as handle:
                first = json.loads(next((line for line in handle if line.strip()), "{}"))
            return list(first) if isinstance(first, dict) else []
        return probe.header
    except (OSError, ValueError, UnicodeDecodeError, pl.exceptions.PolarsError, InputFileError):
        return []


def layout(probe: Probe) -> str | None:
    """``long`` or ``wide`` for a price table, None for any other file: a long one names an entity, a date and a
    close; a wide one (CSV) a date and no column a statement table has."""
    names = set(_names(_columns(probe)))
    if {"entity_id", "date", "close"} <= names and not names & _STATEMENT_COLUMNS:
        return "long"
    if probe.suffix == ".csv" and "date" in names and len(names) > 1 and not names & (_STATEMENT_COLUMNS |
                                                                                       {"entity_id", "close"}):
        return "wide"
    return None


@dataclass
class Prices:
    """What the price files gave: the prices, the rows each file held, files refused, rows rejected, findings."""

    prices: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PRICES_SCHEMA))
    rows: dict[Path, int] = field(default_factory=dict)
    refused: list[InputFileError] = field(default_factory=list)
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECTED_SCHEMA))
    findings: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PRICE_FINDING_SCHEMA))


def _raw(path: Path, kind: str) -> pl.DataFrame:
    """Every value as text with its line and column: ``entity_id, date, <numbers>, currency, _line, _column,
    _problem``."""
    if format_suffix(path) in (".parquet", ".pq", ".jsonl", ".ndjson"):
        try:
            frame = pl.read_parquet(path) if path.suffix.lower() in (".parquet", ".pq") else pl.read_ndjson(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise InputFileError(path, f"cannot read it as {path.suffix[1:]}: {exc}") from exc
        frame = frame.rename(dict(zip(frame.columns, _names(frame.columns), strict=True)))
        lines = pl.int_range(1, frame.height + 1, eager=True, dtype=pl.Int64)
        frame = frame.select(pl.all().cast(pl.String)).with_columns(_problem=pl.lit(None, pl.String))
    else:
        frame, lines = read_csv_strings(path)
        names = {c: n for c, n in zip(frame.columns, _names(frame.columns), strict=False) if not c.startswith("__")}
        if kind == "wide":  # the tickers keep their case
            names = {c: n for c, n in names.items() if n == "date"}
        frame = frame.rename(names).rename({"__problem": "_problem"})
    frame = frame.with_columns(_line=lines)
    if kind == "wide":
        tickers = [c for c in frame.columns if c not in ("date", "_line", "_problem")]
        frame = frame.unpivot(index=["date", "_line", "_problem"], on=tickers, variable_name="entity_id",
                              value_name="close").filter(pl.col("close").str.strip_chars() != "") \
            .with_columns(_column=pl.col("entity_id"))
    else:
        frame = frame.with_columns(_column=pl.lit(None, pl.String))
    missing = [c for c in ("entity_id", "date", "close") if c not in frame.columns]
    if missing:
        raise InputFileError(path, f"a price table needs the columns entity_id, date and close; {', '.join(missing)} "
                                   "missing")
    return frame.with_columns(pl.lit(None, pl.String).alias(c) for c in (*_NUMBERS, "currency")
                              if c not in frame.columns)


def read_prices(path: Path, kind: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """One price file: (the rows that parse, with their file, line and column; rejected rows; rows read)."""
    raw = _raw(path, kind).with_row_index("_n")
    text = {c: pl.col(c).cast(pl.String).str.strip_chars() for c in ("entity_id", "date", *_NUMBERS, "currency")}
    parsed = raw.with_columns(
        entity_id=text["entity_id"], currency=text["currency"].str.to_uppercase(),
        day=text["date"].str.to_date("%Y-%m-%d", strict=False).fill_null(text["date"].str.slice(0, 10).str.to_date(
            "%Y-%m-%d", strict=False)),
        **{f"_{c}": text[c].str.replace_all(",", "").cast(pl.Float64, strict=False) for c in _NUMBERS})
    problems = [(pl.col("_problem").is_not_null(), None, pl.col("_problem")),
                (pl.col("entity_id").fill_null("") == "", pl.lit("entity_id"), pl.lit("no entity_id")),
                (pl.col("day").is_null(), pl.lit("date"),
                 pl.format("date '{}' is not a date (YYYY-MM-DD)", text["date"].fill_null("")))]
    for name in _NUMBERS:
        given = text[name].fill_null("") != ""
        problems.append((given & pl.col(f"_{name}").is_null(), pl.lit(name),
                         pl.format("{} '{}' is not a number", pl.lit(name), text[name])))
        if name in _POSITIVE:
            problems.append((pl.col(f"_{name}") <= 0, pl.lit(name),
                             pl.format("{} {} is not positive", pl.lit(name), text[name])))
        elif name in ("dividend", "volume"):
            problems.append((pl.col(f"_{name}") < 0, pl.lit(name),
                             pl.format("{} {} is negative", pl.lit(name), text[name])))
    reason = pl.lit(None, pl.String)
    column = pl.lit(None, pl.String)
    for failed, where, why in reversed(problems):
        reason = pl.when(failed.fill_null(False)).then(why).otherwise(reason)
        column = pl.when(failed.fill_null(False)).then(where).otherwise(column)
    checked = parsed.with_columns(_reason=reason, _where=pl.coalesce(pl.col("_column"), column),
                                  _file=pl.lit(str(path)), _text=text["close"])
    good = checked.filter(pl.col("_reason").is_null()).select(
        "_file", "_line", "_column", "_n", "entity_id", "day", "_close", "_adj_close", "_dividend", "_split_ratio",
        "currency", "_text")
    return good, _rejected(checked.filter(pl.col("_reason").is_not_null())), raw.height


def _rejected(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.sort("_file", "_n").select(
        file="_file", line="_line", column="_where", entity_id="entity_id", item=pl.lit("price"),
        value="_text", reason="_reason").cast(REJECTED_SCHEMA)  # type: ignore[arg-type]


def _one_close_a_day(good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The same day twice, in one file or two: the same close is a repeat (the first kept, the other listed),
    different closes cannot both be true (all rejected)."""
    key = ["entity_id", "day"]
    good = good.with_columns(_closes=pl.col("_close").n_unique().over(key), _rank=pl.int_range(pl.len()).over(key),
                             _first=pl.format("{}:{}", pl.col("_file"), pl.col("_line")).first().over(key))
    lines = pl.format("{}:{}", pl.col("_file"), pl.col("_line")).str.join(", ").over(key)
    conflict = good.filter(pl.col("_closes") > 1).with_columns(
        _reason=pl.format("{} has {} different closes on {} ({}): which is true cannot be told", pl.col("entity_id"),
                          pl.col("_closes"), pl.col("day"), lines), _where=pl.lit("close"))
    repeat = good.filter((pl.col("_closes") == 1) & (pl.col("_rank") > 0)).with_columns(
        _reason=pl.format("repeats {}: {} on {}", pl.col("_first"), pl.col("entity_id"), pl.col("day")),
        _where=pl.lit("date"))
    kept = good.filter((pl.col("_closes") == 1) & (pl.col("_rank") == 0))
    where = pl.format("{}:{}", pl.col("_file"), pl.col("_line"))
    prices = kept.select(
        entity_id="entity_id", date="day", close="_close", adj_close="_adj_close", dividend="_dividend",
        split_ratio="_split_ratio", currency=pl.col("currency").replace("", None),
        source=pl.when(pl.col("_column").is_not_null()).then(pl.format("{} {}", where, pl.col("_column")))
        .otherwise(where)).cast(PRICES_SCHEMA)  # type: ignore[arg-type]
    return prices, _rejected(pl.concat([conflict, repeat], how="diagonal_relaxed"))


def adjusted(prices: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The prices in date order with splits the closes show but nobody declared read as splits, and the findings:
    each split detected, each gap of more than :data:`GAP_DAYS` days between closes."""
    frame = prices.sort("entity_id", "date")
    move = pl.col("close") / pl.col("close").shift(1).over("entity_id")
    declared = pl.col("split_ratio").is_not_null() & (pl.col("split_ratio") != 1.0)
    guess = pl.lit(None, pl.Float64)
    for ratio in reversed(SPLIT_RATIOS):
        guess = pl.when((move * ratio - 1).abs() < SPLIT_TOLERANCE).then(pl.lit(ratio)).otherwise(guess)
    no_adjusted = pl.col("adj_close").is_null().all().over("entity_id")
    frame = frame.with_columns(_guess=pl.when(~declared & no_adjusted).then(guess),
                               _before=pl.col("close").shift(1).over("entity_id"))
    detected = frame.filter(pl.col("_guess").is_not_null()).select(
        "entity_id", "date", check=pl.lit("split_detected"), severity=pl.lit("warning"),
        message=pl.format("the close moved from {} to {} on {} with no split declared: read as a split of {} new "
                          "shares per old (declare split_ratio to confirm or correct it)",
                          pl.col("_before"), pl.col("close"), pl.col("date"), pl.col("_guess").round(4)))
    gap = (pl.col("date") - pl.col("date").shift(1).over("entity_id")).dt.total_days()
    gaps = frame.with_columns(_gap=gap, _from=pl.col("date").shift(1).over("entity_id")).filter(
        pl.col("_gap") > GAP_DAYS).select(
        "entity_id", "date", check=pl.lit("price_gap"), severity=pl.lit("warning"),
        message=pl.format("no close between {} and {} ({} days)", pl.col("_from"), pl.col("date"), pl.col("_gap")))
    frame = frame.with_columns(split_ratio=pl.coalesce(pl.col("_guess"), pl.col("split_ratio"))).drop(
        "_guess", "_before")
    return frame, pl.concat([detected, gaps]).cast(PRICE_FINDING_SCHEMA)  # type: ignore[arg-type]


def read_all(paths: Sequence[Path]) -> Prices:
    """Every price file: a file that cannot be read is refused (one rejected row naming it), the others go on; a
    day given twice is resolved across all of them."""
    out = Prices()
    frames, rejected = [], [out.rejected]
    for path in paths:
        kind = layout(Probe(path)) or "long"
        try:
            good, refused_rows, rows = read_prices(path, kind)
        except InputFileError as error:
            out.refused.append(error)
            rejected.append(refused_row(error))
            continue
        out.rows[path] = rows
        frames.append(good)
        rejected.append(refused_rows)
    if frames:
        prices, repeats = _one_close_a_day(pl.concat(frames, how="vertical_relaxed"))
        out.prices, out.findings = adjusted(prices)
        rejected.append(repeats)
    out.rejected = pl.concat(rejected)
    return out
