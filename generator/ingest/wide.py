"""Wide rows: one line per entity and period, one column per item (labels resolved through the alias table)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from generator.errors import MissingColumnsError
from generator.ingest.base import RAW_COLUMNS, Adapter, Probe, raw_frame
from generator.ingest.csvread import read_csv_strings
from generator.schema import REQUIRED_COLUMNS

ID_COLUMNS: tuple[str, ...] = tuple(c for c in RAW_COLUMNS if c not in ("item", "value", "statement"))
REQUIRED_IDS: tuple[str, ...] = tuple(c for c in REQUIRED_COLUMNS if c not in ("item", "value"))


def _accepts(probe: Probe) -> bool:
    return "item" not in probe.columns and {"entity_id", "fiscal_period"} <= probe.columns


def read_wide(path: Path) -> pl.DataFrame:
    """Each non-empty cell becomes one raw value; a line with no value at all is reported, not dropped."""
    frame, lines = read_csv_strings(path, categorical=ID_COLUMNS)
    missing = [c for c in REQUIRED_IDS if c not in frame.columns]
    if missing:
        raise MissingColumnsError(path, missing, [c for c in frame.columns if c != "__problem"])
    ids = [c for c in ID_COLUMNS if c in frame.columns]
    item_columns = [c for c in frame.columns if c not in ids and c != "__problem"]
    frame = frame.with_columns(_line=lines)
    cells = frame.unpivot(index=[*ids, "_line", "__problem"], on=item_columns, variable_name="_column",
                          value_name="value")
    cells = cells.filter(pl.col("value").str.strip_chars().fill_null("") != "")
    empty_lines = frame.filter(~pl.col("_line").is_in(cells["_line"].unique().implode())).with_columns(
        __problem=pl.coalesce(pl.col("__problem"), pl.lit("no item values on this line")),
        _column=pl.lit(None, pl.String),
        value=pl.lit(None, pl.String),
    )
    cells = pl.concat([cells, empty_lines.select(cells.columns)]).sort("_line", maintain_order=True)
    columns: dict[str, pl.Expr] = {c: pl.lit(cells[c]) for c in ids}
    columns |= {
        "item": pl.lit(cells["_column"]),
        "value": pl.lit(cells["value"]),
        "_file": pl.lit(str(path)),
        "_line": pl.lit(cells["_line"]),
        "_column": pl.lit(cells["_column"]),
        "__problem": pl.lit(cells["__problem"]),
    }
    return raw_frame(columns, cells.height)


ADAPTER = Adapter(name="wide", accepts=_accepts, read=read_wide)
