"""FX rates: what one unit of a currency is worth in another, by day, so that holdings priced in several currencies
add up in their portfolio's base currency.

Two layouts, recognised by their columns (CSV, or Parquet):

- ``date, currency, rate_to_<base>``: one unit of ``currency`` is ``rate`` units of the base (``rate_to_usd``);
  several ``rate_to_*`` columns give several bases;
- ``date, base, quote, rate``: one unit of ``base`` is ``rate`` units of ``quote``, as FX quotes are written
  (EUR/USD 1.08 is ``base`` EUR, ``quote`` USD).

Every row becomes ``date, currency, base, rate``: one ``currency`` is ``rate`` ``base``. Each row is used or
rejected with its file, line, column and reason; the same pair and day twice with the same rate is a repeat,
with two rates both are rejected. A rate is looked up on the day or the last day before it within
:data:`STALE_DAYS`, directly, as the inverse of the opposite pair, or crossed through a currency both are quoted
against; nothing else, and never a silent 1.0.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from generator.errors import InputFileError
from generator.ingest.base import REJECTED_SCHEMA, Probe, format_suffix, refused_row
from generator.ingest.csvread import read_csv_strings

FX_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "currency": pl.String(),
    "base": pl.String(),
    "rate": pl.Float64(),
    "source": pl.String(),
}
"""One row per day and pair: one unit of ``currency`` is ``rate`` units of ``base``; ``source`` is ``file:line``
(and the column, for a ``rate_to_*`` one)."""

STALE_DAYS = 7
"""A rate older than this many calendar days does not convert a price (a long weekend has none; a month has)."""

_RATE_TO = re.compile(r"^rate_to_([a-z]{3})$")
_ISO = re.compile(r"^[A-Z]{3}$")


def _names(probe: Probe) -> set[str]:
    try:
        names = pl.read_parquet_schema(probe.path) if probe.suffix in (".parquet", ".pq") else probe.columns
    except (OSError, pl.exceptions.PolarsError, InputFileError):
        return set()
    return {n.strip().lower() for n in names}


def layout(probe: Probe) -> str | None:
    """``to_base`` (``date, currency, rate_to_<base>``), ``pairs`` (``date, base, quote, rate``) or None."""
    names = _names(probe)
    if "date" in names and "currency" in names and any(_RATE_TO.match(n) for n in names):
        return "to_base"
    if {"date", "base", "quote", "rate"} <= names:
        return "pairs"
    return None


@dataclass
class Rates:
    """What the FX files gave: the rates, the rows each file held, files refused, rows rejected."""

    rates: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=FX_SCHEMA))
    rows: dict[Path, int] = field(default_factory=dict)
    refused: list[InputFileError] = field(default_factory=list)
    rejected: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=REJECTED_SCHEMA))


def _text_frame(path: Path) -> tuple[pl.DataFrame, pl.Series]:
    """Every cell as text under its lower-case column name, and each record's line."""
    if format_suffix(path) in (".parquet", ".pq"):
        try:
            frame = pl.read_parquet(path)
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise InputFileError(path, f"cannot read it as parquet: {exc}") from exc
        frame = frame.select(pl.all().cast(pl.String)).with_columns(__problem=pl.lit(None, pl.String))
        lines = pl.int_range(1, frame.height + 1, eager=True, dtype=pl.Int64)
    else:
        frame, lines = read_csv_strings(path)
    return frame.rename({c: c.strip().lower() for c in frame.columns if c != "__problem"}), lines


def read_rates(path: Path, kind: str) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """One FX file: (rows that parse, rows rejected, rows read: a ``rate_to_*`` file's rates, one per cell)."""
    frame, lines = _text_frame(path)
    frame = frame.with_columns(_line=lines)
    if kind == "to_base":  # one rate per cell; a line with none is one row, rejected
        columns = [c for c in frame.columns if _RATE_TO.match(c)]
        long = frame.unpivot(index=["date", "currency", "_line", "__problem"], on=columns, variable_name="_column",
                             value_name="rate")
        long = long.with_columns(_given=pl.col("rate").fill_null("").str.strip_chars() != "")
        long = long.filter(pl.col("_given") | (~pl.col("_given").any().over("_line")
                                               & (pl.col("_column") == columns[0])))
        long = long.with_columns(base=pl.col("_column").str.slice(8).str.to_uppercase()).sort("_line",
                                                                                             maintain_order=True)
    else:
        long = frame.select("date", "_line", "__problem", currency="base", base="quote", rate="rate",
                            _column=pl.lit("rate"), _given=pl.col("rate").fill_null("").str.strip_chars() != "")
    text = {c: pl.col(c).cast(pl.String).str.strip_chars() for c in ("date", "currency", "base", "rate")}
    parsed = long.with_columns(
        day=text["date"].str.to_date("%Y-%m-%d", strict=False), _currency=text["currency"].str.to_uppercase(),
        _base=text["base"].str.to_uppercase(), _rate=text["rate"].str.replace_all(",", "").cast(pl.Float64,
                                                                                                strict=False))
    first = "currency" if kind == "to_base" else "base"
    second = "rate_to_*" if kind == "to_base" else "quote"
    problems = [
        (pl.col("__problem").is_not_null(), pl.lit(None, pl.String), pl.col("__problem")),
        (pl.col("day").is_null(), pl.lit("date"), pl.format("date '{}' is not a date (YYYY-MM-DD)",
                                                             text["date"].fill_null(""))),
        (~pl.col("_currency").fill_null("").str.contains(_ISO.pattern), pl.lit(first),
         pl.format("'{}' is not an ISO 4217 code (USD, EUR, ...)", text["currency"].fill_null(""))),
        (~pl.col("_base").fill_null("").str.contains(_ISO.pattern), pl.lit(second),
         pl.format("'{}' is not an ISO 4217 code (USD, EUR, ...)", text["base"].fill_null(""))),
        (~pl.col("_given"), pl.col("_column"), pl.lit("no rate given")),
        (pl.col("_rate").is_null(), pl.col("_column"), pl.format("rate '{}' is not a number", text["rate"])),
        (pl.col("_rate") <= 0, pl.col("_column"), pl.format("rate {} is not positive", text["rate"])),
        (pl.col("_currency") == pl.col("_base"), pl.col("_column"),
         pl.format("a rate of {} to itself", pl.col("_currency"))),
    ]
    reason, column = pl.lit(None, pl.String), pl.lit(None, pl.String)
    for failed, where, why in reversed(problems):
        reason = pl.when(failed.fill_null(False)).then(why).otherwise(reason)
        column = pl.when(failed.fill_null(False)).then(where).otherwise(column)
    checked = parsed.with_columns(_reason=reason, _where=column, _file=pl.lit(str(path)))
    good = checked.filter(pl.col("_reason").is_null()).select(
        date="day", currency="_currency", base="_base", rate="_rate",
        source=pl.when(pl.lit(kind == "to_base")).then(pl.format("{}:{} {}", "_file", "_line", "_column"))
        .otherwise(pl.format("{}:{}", "_file", "_line")), _file="_file", _line="_line")
    bad = checked.filter(pl.col("_reason").is_not_null()).select(
        file="_file", line="_line", column="_where", entity_id=pl.lit(None, pl.String), item=pl.lit("fx rate"),
        value=text["rate"], reason="_reason").cast(REJECTED_SCHEMA)  # type: ignore[arg-type]
    return good, bad, long.height


def _one_rate_a_day(good: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A pair and day given twice: the same rate is a repeat (the first kept), two rates are both rejected."""
    key = ["date", "currency", "base"]
    good = good.with_columns(_rates=pl.col("rate").n_unique().over(key), _rank=pl.int_range(pl.len()).over(key),
                             _first=pl.col("source").first().over(key), _all=pl.col("source").str.join(", ").over(key))
    bad = good.filter((pl.col("_rates") > 1) | (pl.col("_rank") > 0)).select(
        file="_file", line="_line", column=pl.lit("rate"), entity_id=pl.lit(None, pl.String), item=pl.lit("fx rate"),
        value=pl.col("rate").cast(pl.String),
        reason=pl.when(pl.col("_rates") > 1).then(pl.format(
            "{}/{} has {} different rates on {} ({}): which is true cannot be told", "currency", "base", "_rates",
            "date", "_all")).otherwise(pl.format("repeats {}", "_first"))).cast(REJECTED_SCHEMA)  # type: ignore[arg-type]
    kept = good.filter((pl.col("_rates") == 1) & (pl.col("_rank") == 0)).select(list(FX_SCHEMA))
    return kept.sort("currency", "base", "date"), bad


def read_all(paths: Sequence[Path]) -> Rates:
    """Every FX file: one that cannot be read is refused (one rejected row naming it), the others go on."""
    out = Rates()
    frames, rejected = [], [out.rejected]
    for path in paths:
        try:
            good, bad, rows = read_rates(path, layout(Probe(path)) or "pairs")
        except InputFileError as error:
            out.refused.append(error)
            rejected.append(refused_row(error))
            continue
        out.rows[path] = rows
        frames.append(good)
        rejected.append(bad)
    if frames:
        out.rates, repeats = _one_rate_a_day(pl.concat(frames, how="vertical_relaxed"))
        rejected.append(repeats)
    out.rejected = pl.concat(rejected)
    return out


def _pair(rates: pl.DataFrame, currency: str, base: str) -> pl.DataFrame:
    """``date, rate, source``: one ``currency`` in ``base`` by day, given directly or as the inverse of the opposite
    pair (both on one day: the direct one)."""
    direct = rates.filter((pl.col("currency") == currency) & (pl.col("base") == base)).select(
        "date", "rate", "source", _order=pl.lit(0))
    inverse = rates.filter((pl.col("currency") == base) & (pl.col("base") == currency)).select(
        "date", rate=1 / pl.col("rate"), source=pl.format("1 / {}", "source"), _order=pl.lit(1))
    return pl.concat([direct, inverse]).sort("date", "_order").unique("date", keep="first", maintain_order=True) \
        .drop("_order")


def _on(days: pl.DataFrame, table: pl.DataFrame) -> pl.DataFrame:
    """``date, rate, rate_source`` for each day: the table's rate on the day or the last before it within
    :data:`STALE_DAYS`, else null."""
    joined = days.join_asof(table.rename({"date": "_rate_date"}), left_on="date", right_on="_rate_date",
                            strategy="backward")
    fresh = (pl.col("date") - pl.col("_rate_date")).dt.total_days() <= STALE_DAYS
    return joined.select("date", rate=pl.when(fresh).then(pl.col("rate")),
                         rate_source=pl.when(fresh).then(pl.col("source")))


def converted(rates: pl.DataFrame, currency: str, base: str, days: pl.Series) -> pl.DataFrame:
    """``date, rate, rate_source`` for each of ``days`` (sorted): one ``currency`` in ``base`` on the day or the last
    day before it within :data:`STALE_DAYS`; null where there is none; 1.0 for the base itself. The pair is given
    directly or as its inverse; without either, it is crossed through a currency both are quoted against
    (GBP in EUR from GBP and EUR in USD: GBP/USD over EUR/USD), and ``rate_source`` names both rows."""
    frame = pl.DataFrame({"date": days}).with_columns(pl.col("date").cast(pl.Date)).sort("date")
    if currency == base:
        return frame.with_columns(rate=pl.lit(1.0), rate_source=pl.lit(None, pl.String))
    table = _pair(rates, currency, base)
    if not table.is_empty():
        return _on(frame, table)
    for via in sorted((set(rates["currency"].to_list()) | set(rates["base"].to_list())) - {currency, base}):
        leg, other = _pair(rates, currency, via), _pair(rates, base, via)
        if leg.is_empty() or other.is_empty():
            continue
        a, b = _on(frame, leg), _on(frame, other)
        return frame.with_columns(rate=a["rate"] / b["rate"], rate_source=pl.format(
            "{} over {}", a["rate_source"], b["rate_source"]))
    return frame.with_columns(rate=pl.lit(None, pl.Float64), rate_source=pl.lit(None, pl.String))


def missing_rate(rates: pl.DataFrame, currency: str, base: str, day: date) -> str:
    """Why ``currency`` cannot be converted into ``base`` on ``day``: what the rates hold for the pair, if any."""
    pair = _pair(rates, currency, base)
    if pair.is_empty():
        quoted = sorted(set(rates.filter(pl.col("currency") == currency)["base"].to_list())
                        | set(rates.filter(pl.col("base") == currency)["currency"].to_list()))
        return f"no {currency}/{base} rate in the FX inputs" + (
            f" (nor, within {STALE_DAYS} days before {day}, one crossed through {', '.join(quoted)})" if quoted else "")
    before = pair.filter(pl.col("date") <= day)["date"]
    if before.is_empty():
        return f"no {currency}/{base} rate on or before {day} (the first is on {pair['date'].min()})"
    return f"no {currency}/{base} rate within {STALE_DAYS} days before {day} (the last is on {before.max()})"
