"""The long layout as CSV, JSON lines and Parquet: missing columns refuse the file, each broken line or row is
rejected by its number, and nested or binary columns raise only project errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from generator.errors import FinreportError, MissingColumnsError
from generator.ingest import read_file

from builders import checked, fact_lines, refusal, reject, rejected, write

# --- CSV: the columns -----------------------------------------------------------------------------------------------


def test_missing_required_columns_refuses_the_file_naming_missing_and_found(tmp_path: Path) -> None:
    path = write(tmp_path / "short.csv", "ACME,revenue,1000", header="entity_id,item,value")
    reason = ("missing required column(s) entity_name, fiscal_year, fiscal_period, period_end, currency; "
              "found entity_id, item, value")
    with pytest.raises(MissingColumnsError) as raised:
        read_file(path)
    error = raised.value
    assert (error.file, error.line, error.column, error.reason) == (str(path), 1, None, reason)
    assert error.missing == ["entity_name", "fiscal_year", "fiscal_period", "period_end", "currency"]
    assert error.found == ["entity_id", "item", "value"]
    ingested = checked([path])
    assert [type(e) for e in ingested.refused] == [MissingColumnsError]
    assert str(ingested.refused[0]) == f"{path}:1: {reason}"
    assert rejected(ingested) == [refusal(path, reason, line=1)]
    assert ingested.files == []


# --- JSON lines -----------------------------------------------------------------------------------------------------


def test_jsonl_with_no_object_at_all_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lists.jsonl"
    path.write_text("[1]\n2\n", encoding="utf-8")
    reason = "no line is a JSON object (expected a JSON object, found list)"
    assert rejected(checked([path])) == [refusal(path, reason, line=1)]


RECORD = {"entity_id": "ACME", "entity_name": "Acme Corp", "fiscal_year": 2024, "fiscal_period": "FY",
          "period_end": "2024-12-31", "item": "revenue", "value": 1000, "currency": "USD"}


def test_jsonl_broken_line_is_rejected_by_line(tmp_path: Path) -> None:
    path = tmp_path / "facts.jsonl"
    lines = [json.dumps(RECORD), '{"entity_id": "ACME", "value": 12', "", json.dumps(RECORD | {"item": "net_income"}),
             "[1, 2]", json.dumps(RECORD | {"item": "cost_of_revenue", "value": None}),
             json.dumps(RECORD | {"item": "cash", "value": "NaN"})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingested = checked([path])
    assert rejected(ingested) == [
        reject(path, 2, None, "not valid JSON: Expecting ',' delimiter", entity_id=None, item=None, value=None),
        reject(path, 5, None, "expected a JSON object, found list", entity_id=None, item=None, value=None),
        reject(path, 6, "value", "required value is empty", item="cost_of_revenue", value=None),
        reject(path, 7, "value", "not a finite number: 'NaN'", item="cash", value="NaN"),
    ]
    assert fact_lines(ingested) == [("revenue", 1), ("net_income", 4)]


@pytest.mark.parametrize("separator", ["\u2028", "\u0085"], ids=["U+2028", "U+0085"])
def test_jsonl_line_numbers_count_only_newlines(tmp_path: Path, separator: str) -> None:
    path = tmp_path / "facts.jsonl"
    first = json.dumps(RECORD | {"entity_name": f"Acme{separator}Corp"}, ensure_ascii=False)
    path.write_text(first + "\n" + json.dumps(RECORD | {"item": "net_income", "value": "x"}) + "\n", encoding="utf-8")
    ingested = checked([path])
    assert rejected(ingested) == [reject(path, 2, "value", "unparseable number 'x'", item="net_income", value="x")]
    assert fact_lines(ingested) == [("revenue", 1)]
    assert ingested.facts["entity_name"].to_list() == [f"Acme{separator}Corp"]


# --- Parquet --------------------------------------------------------------------------------------------------------


def test_parquet_rows_are_numbered_from_one(tmp_path: Path) -> None:
    path = tmp_path / "facts.parquet"
    pl.DataFrame([RECORD, RECORD | {"item": "net_income", "value": None}]).write_parquet(path)
    ingested = checked([path])
    assert rejected(ingested) == [reject(path, 2, "value", "required value is empty", item="net_income", value=None)]
    assert fact_lines(ingested) == [("revenue", 1)]


def test_unreadable_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "facts.parquet"
    path.write_bytes(b"hello")
    ingested = checked([path])
    assert len(ingested.refused) == 1
    assert ingested.refused[0].reason.startswith("not a readable Parquet file: ")
    assert ingested.rejected["reason"].to_list() == [f"file refused: {ingested.refused[0].reason}"]


def test_parquet_with_a_list_column_raises_only_project_errors(tmp_path: Path) -> None:
    path = tmp_path / "nested.parquet"
    pl.DataFrame([RECORD | {"value": [1.0, 2.0]}]).write_parquet(path)
    ingested = checked([path])
    assert ingested.facts.height == 0
    assert ingested.rows_in == 1


def test_parquet_columns_differing_only_in_case_refuse_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dupcols.parquet"
    pl.DataFrame([RECORD | {"Entity_ID": "OTHER"}]).write_parquet(path)
    ingested = checked([path])
    assert len(ingested.refused) == 1
    assert isinstance(ingested.refused[0], FinreportError)
