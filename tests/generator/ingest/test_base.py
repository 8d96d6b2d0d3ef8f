"""What every adapter shares: the raw frame it produces, each value located by its line or JSON path, or derived
and saying from what."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from generator.ingest import ADAPTERS
from generator.ingest.base import RAW_COLUMNS, TEXT_COLUMNS, TRACE_COLUMNS, raw_frame, raw_records

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize("adapter", ADAPTERS, ids=lambda a: a.name)
def test_adapter_output_has_the_raw_contract(sample_dir: Path, adapter: object) -> None:
    """Every value is located: a line below the header, or a JSON path; or it is derived and says from what."""
    path = {"long": sample_dir / "long" / "facts.csv", "wide": sample_dir / "wide" / "KOLA.csv",
            "statement": FIXTURES / "apple" / "apple_consolidated.csv",
            "companyfacts": FIXTURES / "sec-companyfacts" / "snow_facts.json",
            "xbrl-facts": FIXTURES / "xbrl-facts" / "nike_10Q_facts.csv"}[adapter.name]  # type: ignore[attr-defined]
    raw = adapter.read(path)  # type: ignore[attr-defined]
    assert raw.columns == [*RAW_COLUMNS, *TRACE_COLUMNS]
    assert raw.schema["_line"] == pl.Int64
    assert (raw["_line"].drop_nulls() >= 2).all()
    unlocated = raw.filter(pl.col("_line").is_null() & ~pl.col("_column").cast(pl.String).str.starts_with("facts."))
    assert unlocated["_source"].str.starts_with("derived: ").all()
    assert raw["_file"].unique().to_list() == [str(path)]


def test_every_raw_column_is_there_typed_whatever_an_adapter_fills() -> None:
    """Cells stay text (validation parses them); the repeated ones are categorical, the value a plain string."""
    frame = raw_records([{"entity_id": "ACME", "item": "Revenue", "value": "1,000", "_line": 2},
                         {"entity_id": "ACME", "item": "Net income", "value": "(5)", "_source": "derived: x"}])
    assert frame.columns == [*RAW_COLUMNS, *TRACE_COLUMNS]
    assert all(frame.schema[c] == pl.Categorical for c in TEXT_COLUMNS)
    assert frame.schema["value"] == pl.String and frame.schema["_line"] == pl.Int64
    assert frame["value"].to_list() == ["1,000", "(5)"] and frame["_line"].to_list() == [2, None]
    assert frame["currency"].null_count() == 2  # a field the format does not have is null, not absent
    cells = {"item": pl.lit(pl.Series(["Revenue", "Cash", "Capex"])), "value": pl.lit(pl.Series(["7", "8", "9"]))}
    built = raw_frame(cells, 3)
    assert built.schema == frame.schema and built["value"].to_list() == ["7", "8", "9"]
    assert built["entity_id"].null_count() == 3
