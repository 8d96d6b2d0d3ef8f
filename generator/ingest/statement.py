"""Published statement tables: one row per line item, one column per period (``"Sep. 30, 2023"``).

Such a table says neither whose it is nor its currency, so a ``meta.json`` beside it (or
``<file>.meta.json``) declares the entity, currency and scale; a scale printed in the first header
cell (``... $ in Millions``, ``shares in Thousands``) is honoured as well.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from generator.errors import InputFileError
from generator.ingest.base import Adapter, Probe, raw_frame
from generator.ingest.csvread import read_csv_strings
from generator.ingest.fiscal import fiscal_year_of
from generator.ingest.validate import SCALES
from generator.schema import alias_table, items, normalize_label

_DATE_FORMATS = ("%b. %d, %Y", "%b %d, %Y", "%B %d, %Y", "%Y-%m-%d", "%d %b %Y", "%d %B %Y")
_SCALE_WORDS = re.compile(r"(?<!shares )in (thousands|millions|billions)", re.IGNORECASE)
_SHARE_SCALE = re.compile(r"shares in (thousands|millions|billions)", re.IGNORECASE)


class StatementMeta(BaseModel):
    """What a statement table does not say about itself."""

    model_config = ConfigDict(extra="forbid")

    entity_id: str = Field(min_length=1)
    entity_name: str = Field(min_length=1)
    currency: str = Field(min_length=3, max_length=3)
    sector: str | None = None
    scale: str | None = Field(None, description="units, thousands, millions or billions (money amounts)")
    share_scale: str | None = Field(None, description="scale of share counts, when it differs from scale")
    fiscal_period: str = "FY"
    statements: dict[str, str] = Field(default_factory=dict, description="file name → income, balance, cashflow")

    @field_validator("scale", "share_scale")
    @classmethod
    def _known_scale(cls, value: str | None) -> str | None:
        if value is not None and value.strip().lower() not in SCALES:
            raise ValueError(f"unknown scale {value!r} (expected units, thousands, millions or billions)")
        return value


def parse_period_header(text: str) -> date | None:
    """The period end a column header names (``Sep. 30, 2023``, ``2023-09-30``, ``30 Sep 2023``); None for any other
    header, which is how a statement table is told from other CSVs."""
    cleaned = text.strip().replace("Sept.", "Sep.")
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    return None


def _accepts(probe: Probe) -> bool:
    periods = [h for h in probe.header[1:] if h.strip()]
    return bool(periods) and all(parse_period_header(h) is not None for h in periods)


def is_metadata(path: Path) -> bool:
    """A statement table's ``meta.json`` (or ``<file>.meta.json``): read with its table, never as an input itself."""
    return path.name == "meta.json" or path.name.endswith(".meta.json")


def load_meta(path: Path) -> StatementMeta:
    """A statement table's metadata: ``<file>.meta.json``, else the folder's ``meta.json``. Without either the table is
    refused: it says neither whose it is nor its currency."""
    for candidate in (path.with_name(path.name + ".meta.json"), path.with_name("meta.json")):
        if candidate.exists():
            try:
                return StatementMeta.model_validate(json.loads(candidate.read_text(encoding="utf-8")))
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise InputFileError(candidate, f"not valid JSON: {exc}") from exc
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                                     for e in exc.errors())
                raise InputFileError(candidate, f"invalid statement metadata: {problems}") from exc
    raise InputFileError(
        path,
        "a statement table needs metadata: put meta.json (entity_id, entity_name, currency, scale) beside it",
    )


PERIOD_DAYS = {"FY": (350, 380), "Q1": (80, 100), "Q2": (80, 100), "Q3": (80, 100), "Q4": (80, 100)}
"""How many days a fiscal year or quarter runs (52/53-week years, 13/14-week quarters, month-end calendars)."""


def period_starts(ends: list[date], fiscal_period: str) -> dict[date, date | None]:
    """Each column's period start: the day after the previous column's end, where the two are one period of the
    table's kind apart (consecutive fiscal years of 52 or 53 weeks). Where they are not (a year skipped, a
    quarter beside a year), and for the oldest column, the start is unknown: a table names only period ends."""
    low, high = PERIOD_DAYS.get(fiscal_period, (0, 0))
    return {end: ends[i - 1] + timedelta(days=1) if i and low <= (end - ends[i - 1]).days <= high else None
            for i, end in enumerate(ends)}


def read_statement(path: Path) -> pl.DataFrame:
    """A statement table as raw rows, one per line item and period: dated by its column header, scaled as its header or
    metadata says, signs as printed; a flow's period starts the day after the previous column's end when that is
    one period earlier (:func:`period_starts`)."""
    meta = load_meta(path)
    frame, lines = read_csv_strings(path)
    label_column, *period_columns = [c for c in frame.columns if c != "__problem"]
    periods = {c: parse_period_header(c) for c in period_columns}
    undated = [c for c, d in periods.items() if d is None]
    if undated:
        raise InputFileError(path, f"period header {undated[0]!r} is not a date", line=1, column=undated[0])
    scale = _declared(label_column, _SCALE_WORDS) or meta.scale or "units"
    share_scale = _declared(label_column, _SHARE_SCALE) or meta.share_scale or scale
    starts = period_starts(sorted(d for d in periods.values() if d is not None), meta.fiscal_period)

    labels = frame.with_columns(_line=lines, __key=pl.col(label_column).map_elements(normalize_label,
                                                                                      return_dtype=pl.String))
    labels = labels.join(alias_table(), left_on="__key", right_on="key", how="left")
    statement = meta.statements.get(path.name) or _majority_statement(labels["item"].drop_nulls().to_list())
    units = {name: item.unit for name, item in items().items()}
    labels = labels.with_columns(
        scale=pl.col("item").replace_strict(units, default="currency", return_dtype=pl.String)
        .replace_strict({"currency": scale, "shares": share_scale, "currency_per_share": "units"},
                        return_dtype=pl.String)
    )
    cells = labels.unpivot(index=[label_column, "_line", "scale", "__problem"], on=period_columns,
                           variable_name="_column", value_name="value")
    cells = cells.filter((pl.col("value").str.strip_chars().fill_null("") != "") | pl.col("__problem").is_not_null())
    end_of = {c: periods[c].isoformat() for c in period_columns}  # type: ignore[union-attr]
    start_of = {c: (s.isoformat() if (s := starts[periods[c]]) else None) for c in period_columns}  # type: ignore[index]
    year_of = {c: str(fiscal_year_of(periods[c])) for c in period_columns}  # type: ignore[arg-type]
    columns: dict[str, pl.Expr] = {
        "entity_id": pl.lit(meta.entity_id),
        "entity_name": pl.lit(meta.entity_name),
        "sector": pl.lit(meta.sector, pl.String),
        "currency": pl.lit(meta.currency),
        "fiscal_period": pl.lit(meta.fiscal_period),
        "statement": pl.lit(statement, pl.String),
        "fiscal_year": pl.lit(cells["_column"].replace_strict(year_of)),
        "period_end": pl.lit(cells["_column"].replace_strict(end_of)),
        "period_start": pl.lit(cells["_column"].replace_strict(start_of, return_dtype=pl.String)),
        "item": pl.lit(cells[label_column]),
        "value": pl.lit(cells["value"]),
        "scale": pl.lit(cells["scale"]),
        "_file": pl.lit(str(path)),
        "_line": pl.lit(cells["_line"]),
        "_column": pl.lit(cells["_column"]),
        "_printed": pl.lit(True),
        "__problem": pl.lit(cells["__problem"]),
    }
    out = raw_frame(columns, cells.height)
    return out.with_columns(
        period_start=pl.when(pl.col("statement").is_in(["income", "cashflow"])).then(pl.col("period_start"))
    ).sort("_line", "_column", maintain_order=True)


def _declared(header: str, pattern: re.Pattern[str]) -> str | None:
    found = pattern.search(header)
    word = found.group(1).lower() if found else None
    return word if word in SCALES else None


def _majority_statement(mapped: list[str]) -> str | None:
    counts: dict[str, int] = {}
    for name in mapped:
        counts[items()[name].statement] = counts.get(items()[name].statement, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else None


ADAPTER = Adapter(name="statement", accepts=_accepts, read=read_statement)
