"""Malformed inputs: each names the exact rejected row (file, physical line, column, reason) or the refused file.

Every case also checks that nothing is lost: rows_in == accepted + rejected.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from generator.errors import FinreportError, InputFileError, MissingColumnsError
from generator.ingest import Ingested, ingest, read_file

HEADER = ["entity_id", "entity_name", "fiscal_year", "fiscal_period", "period_start", "period_end", "statement",
          "item", "value", "currency", "filed"]
NCOLS = len(HEADER)


def row(**changes: str) -> str:
    """One valid long-format CSV line (ACME, FY 2024 revenue = 1000), with some cells changed."""
    cells = {"entity_id": "ACME", "entity_name": "Acme Corp", "fiscal_year": "2024", "fiscal_period": "FY",
             "period_start": "2024-01-01", "period_end": "2024-12-31", "statement": "income", "item": "revenue",
             "value": "1000", "currency": "USD", "filed": "2025-02-01"} | changes
    return ",".join(quote(cells[c]) for c in HEADER)


def quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in ',"\n\r') else cell


def write(path: Path, *lines: str, header: str = ",".join(HEADER)) -> Path:
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def checked(paths: list[Path]) -> Ingested:
    """``ingest`` plus the bookkeeping invariant every case must keep: nothing lost, nothing counted twice."""
    ingested = ingest(paths)
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    return ingested


def rejected(ingested: Ingested) -> list[dict[str, Any]]:
    return ingested.rejected.to_dicts()


def reject(file: Path, line: int | None, column: str | None, reason: str, entity_id: str | None = "ACME",
           item: str | None = "revenue", value: str | None = "1000") -> dict[str, Any]:
    return {"file": str(file), "line": line, "column": column, "entity_id": entity_id, "item": item, "value": value,
            "reason": reason}


def refusal(file: Path, reason: str, line: int | None = None, column: str | None = None) -> dict[str, Any]:
    return reject(file, line, column, f"file refused: {reason}", entity_id=None, item=None, value=None)


def fact_lines(ingested: Ingested) -> list[tuple[str, int]]:
    return list(zip(ingested.facts["item"], ingested.facts["_line"], strict=True))


# --- whole-file refusals -------------------------------------------------------------------------------------------


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


@pytest.mark.parametrize("content", ["", "   \n\n", "\ufeff"], ids=["zero-bytes", "whitespace", "bom-only"])
def test_empty_file_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputFileError) as raised:
        read_file(path)
    assert (raised.value.reason, raised.value.line) == ("file is empty", None)
    ingested = checked([path])
    assert rejected(ingested) == [refusal(path, "file is empty")]
    assert ingested.rows_in == 1


def test_non_utf8_bytes_refuse_the_file_naming_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    data = (",".join(HEADER) + "\n" + row(entity_name="Société Générale") + "\n").encode("latin-1")
    path.write_bytes(data)
    line = data.splitlines()[1]
    column = len(line[:line.index(b"\xe9")].decode()) + 1
    reason = f"not UTF-8 text: byte b'\\xe9' at column {column} (Latin-1 or Windows-1252? save the file as UTF-8)"
    with pytest.raises(InputFileError) as raised:
        read_file(path)
    assert (raised.value.reason, raised.value.line) == (reason, 2)
    assert rejected(checked([path])) == [refusal(path, reason, line=2)]


def test_nul_bytes_refuse_a_csv(tmp_path: Path) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes((",".join(HEADER) + "\n").encode() + b"ACME\x00,x\n")
    assert rejected(checked([path])) == [refusal(path, "contains NUL bytes: not a text CSV file")]


def test_statement_table_without_meta_json_is_refused_saying_what_to_add(tmp_path: Path) -> None:
    path = tmp_path / "income.csv"
    path.write_text('Category,"Sep. 30, 2023","Sep. 24, 2022"\nNet sales,1000,900\n', encoding="utf-8")
    reason = "a statement table needs metadata: put meta.json (entity_id, entity_name, currency, scale) beside it"
    with pytest.raises(InputFileError) as raised:
        read_file(path)
    assert (raised.value.file, raised.value.reason) == (str(path), reason)
    ingested = checked([path])
    assert rejected(ingested) == [refusal(path, reason)]
    assert ingested.facts.height == 0


def test_jsonl_with_no_object_at_all_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lists.jsonl"
    path.write_text("[1]\n2\n", encoding="utf-8")
    reason = "no line is a JSON object (expected a JSON object, found list)"
    assert rejected(checked([path])) == [refusal(path, reason, line=1)]


def test_one_refused_file_does_not_stop_the_next(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.csv", "ACME,1000", header="entity_id,value")
    good = write(tmp_path / "good.csv", row(), row(item="net_income", value="50"))
    ingested = checked([bad, good])
    reason = ("missing required column(s) entity_name, fiscal_year, fiscal_period, period_end, item, currency; "
              "found entity_id, value")
    assert rejected(ingested) == [refusal(bad, reason, line=1)]
    assert [e.file for e in ingested.refused] == [str(bad)]
    assert [f.path for f in ingested.files] == [str(good)]
    assert ingested.facts["source"].to_list() == [f"{good}:2", f"{good}:3"]
    assert ingested.rows_in == 3


# --- one bad value on an otherwise valid line ----------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "column", "reason"), [
    ({"value": "12abc"}, "value", "unparseable number '12abc'"),
    ({"value": "1,23"}, "value", "unparseable number '1,23'"),
    ({"value": "1.2.3"}, "value", "unparseable number '1.2.3'"),
    ({"value": "inf"}, "value", "not a finite number: 'inf'"),
    ({"value": "-inf"}, "value", "not a finite number: '-inf'"),
    ({"value": "nan"}, "value", "not a finite number: 'nan'"),
    ({"value": "1e400"}, "value", "not a finite number: '1e400'"),
    ({"period_end": "2024-13-01"}, "period_end", "unparseable date '2024-13-01' (expected YYYY-MM-DD)"),
    ({"period_end": "31/03/2024"}, "period_end", "unparseable date '31/03/2024' (expected YYYY-MM-DD)"),
    ({"period_start": "31/03/2024"}, "period_start", "unparseable date '31/03/2024' (expected YYYY-MM-DD)"),
    ({"filed": "2025-02-30"}, "filed", "unparseable date '2025-02-30' (expected YYYY-MM-DD)"),
    ({"fiscal_year": "FY2024"}, "fiscal_year", "not a fiscal year: 'FY2024'"),
    ({"fiscal_year": "2024.5"}, "fiscal_year", "not a fiscal year: '2024.5'"),
    ({"fiscal_year": "1850"}, "fiscal_year", "not a fiscal year: '1850'"),
    ({"fiscal_period": "Q5"}, "fiscal_period", "unknown fiscal period 'Q5' (expected FY, Q1, Q2, Q3 or Q4)"),
    ({"currency": "XYZ"}, "currency", "unknown currency 'XYZ' (not an ISO 4217 code)"),
    ({"statement": "equity"}, "statement", "unknown statement 'equity' (expected income, balance or cashflow)"),
    ({"statement": "balance"}, "statement",
     "statement 'balance' does not match item 'revenue', which belongs to the income statement"),
    ({"period_start": "2025-01-01"}, "period_start", "period_start 2025-01-01 is after period_end 2024-12-31"),
    ({"entity_id": ""}, "entity_id", "required value is empty"),
    ({"entity_name": "   "}, "entity_name", "required value is empty"),
    ({"currency": ""}, "currency", "required value is empty"),
])
def test_bad_cell_rejects_its_line_only(tmp_path: Path, changes: dict[str, str], column: str, reason: str) -> None:
    path = write(tmp_path / "long.csv", row(item="net_income"), row(**changes), row(item="cost_of_revenue"))
    ingested = checked([path])
    entity_id = changes.get("entity_id", "ACME") or None
    value = changes.get("value", "1000")
    assert rejected(ingested) == [reject(path, 3, column, reason, entity_id=entity_id, value=value)]
    assert fact_lines(ingested) == [("net_income", 2), ("cost_of_revenue", 4)]


def test_required_value_empty(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", row(value=""), row(value="5", item=""))
    assert rejected(checked([path])) == [
        reject(path, 2, "value", "required value is empty", value=None),
        reject(path, 3, "item", "required value is empty", item=None, value="5"),
    ]


def test_unmapped_item_is_rejected_and_listed_by_unmapped(tmp_path: Path) -> None:
    path = write(tmp_path / "long.csv", row(item="Widget sales"), row(item="Revenue", fiscal_year="2023",
                 period_start="2023-01-01", period_end="2023-12-31"), row(item="Widget sales", fiscal_year="2022"))
    ingested = checked([path])
    assert rejected(ingested) == [
        reject(path, 2, "item", "unmapped item 'Widget sales'", item="Widget sales"),
        reject(path, 4, "item", "unmapped item 'Widget sales'", item="Widget sales"),
    ]
    assert ingested.unmapped().to_dicts() == [{"item": "Widget sales", "rows": 2, "first_seen": f"{path}:2"}]
    assert fact_lines(ingested) == [("revenue", 3)]


@pytest.mark.parametrize(("scale", "factor"), [("thousands", 1e3), ("Millions", 1e6), ("", 1.0)])
def test_unknown_scale_lakhs(tmp_path: Path, scale: str, factor: float) -> None:
    header = ",".join([*HEADER, "scale"])
    path = write(tmp_path / "scaled.csv", row() + ",lakhs", row(item="net_income") + f",{scale}", header=header)
    ingested = checked([path])
    assert rejected(ingested) == [
        reject(path, 2, "scale", "unknown scale 'lakhs' (expected units, thousands, millions or billions)"),
    ]
    assert ingested.facts["value"].to_list() == [1000 * factor]


# --- CSV structure: ragged lines, quoted newlines --------------------------------------------------------------------


def test_ragged_line_with_too_many_fields_is_rejected_and_the_others_kept(tmp_path: Path) -> None:
    path = write(tmp_path / "ragged.csv", row(), row(item="net_income") + ",extra,more", row(item="cost_of_revenue"))
    ingested = checked([path])
    assert rejected(ingested) == [
        reject(path, 3, None, f"expected {NCOLS} fields, found {NCOLS + 2}", item="net_income"),
    ]
    assert fact_lines(ingested) == [("revenue", 2), ("cost_of_revenue", 4)]


@pytest.mark.parametrize("short", [row(item="net_income").rsplit(",", 1)[0], "ACME,Acme Corp,2024"],
                         ids=["one-field-short", "three-fields"])
def test_ragged_line_with_too_few_fields_is_rejected(tmp_path: Path, short: str) -> None:
    path = write(tmp_path / "ragged.csv", row(), short, row(item="cost_of_revenue"))
    ingested = checked([path])
    found = short.count(",") + 1
    assert [(r["line"], r["column"], r["reason"]) for r in rejected(ingested)] == [
        (3, None, f"expected {NCOLS} fields, found {found}"),
    ]
    assert fact_lines(ingested) == [("revenue", 2), ("cost_of_revenue", 4)]


def test_quote_inside_an_unquoted_field_is_read_the_same_on_both_csv_paths(tmp_path: Path) -> None:
    lines = [row(item="cost_of_revenue"), row(entity_name="Acme, Inc.").replace(",2024,FY,", ',2024"x,"FY,'),
             row(entity_name="Acme, Inc.", item="net_income")]
    alone = checked([write(tmp_path / "alone.csv", *lines)])
    with_ragged = checked([write(tmp_path / "with_ragged.csv", *lines, row(item="rnd_expense") + ",extra")])

    def upto_line_4(ingested: Ingested) -> tuple[list[tuple[int | None, str | None]], list[tuple[str, int]]]:
        return ([(r["line"], r["reason"]) for r in rejected(ingested) if r["line"] <= 4], fact_lines(ingested))

    assert upto_line_4(alone) == upto_line_4(with_ragged)


@pytest.mark.parametrize("blank", [False, True], ids=["no-blank-line", "with-blank-line"])
def test_quoted_newline_keeps_physical_line_numbers(tmp_path: Path, blank: bool) -> None:
    lines = [row(entity_name="Acme\nCorp"), row(item="net_income", value="x"), *([""] if blank else []),
             row(item="cost_of_revenue")]
    path = write(tmp_path / "multiline.csv", *lines)
    ingested = checked([path])
    last = 6 if blank else 5
    assert rejected(ingested) == [reject(path, 4, "value", "unparseable number 'x'", item="net_income", value="x")]
    assert fact_lines(ingested) == [("revenue", 2), ("cost_of_revenue", last)]
    assert ingested.facts["entity_name"].to_list() == ["Acme Corp", "Acme Corp"]  # a line break in a name is a space
    assert ingested.facts["source"].to_list() == [f"{path}:2", f"{path}:{last}"]


def test_crlf_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "crlf.csv"
    path.write_bytes("\r\n".join([",".join(HEADER), row(), row(item="net_income", value="x"), ""]).encode())
    ingested = checked([path])
    assert rejected(ingested) == [reject(path, 3, "value", "unparseable number 'x'", item="net_income", value="x")]
    assert fact_lines(ingested) == [("revenue", 2)]


def test_cr_only_line_endings_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes("\r".join([",".join(HEADER), row(), row(item="net_income", value="x"), ""]).encode())
    ingested = checked([path])
    if ingested.refused:
        assert [e.file for e in ingested.refused] == [str(path)]
    else:
        assert rejected(ingested) == [reject(path, 3, "value", "unparseable number 'x'", item="net_income", value="x")]
        assert fact_lines(ingested) == [("revenue", 2)]


@pytest.mark.parametrize("extra", ["Value", " value", "VALUE "], ids=["case", "leading-space", "upper-trailing-space"])
def test_header_names_differing_only_in_case_or_spaces_refuse_the_file(tmp_path: Path, extra: str) -> None:
    path = write(tmp_path / "dupcols.csv", row() + ",5", header=",".join([*HEADER, extra]))
    ingested = checked([path])
    assert len(ingested.refused) == 1
    assert "'value'" in ingested.refused[0].reason.lower()


def test_empty_and_blank_header_cells_raise_only_project_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.csv", "1,2,3", header=" ,,item")
    ingested = checked([path])
    assert [type(e) for e in ingested.refused] == [MissingColumnsError]


# --- duplicates and restatements -----------------------------------------------------------------------------------


def test_conflicting_duplicates_are_both_rejected_naming_both_sources(tmp_path: Path) -> None:
    path = write(tmp_path / "conflict.csv", row(), row(item="net_income"), row(value="1001"))
    ingested = checked([path])
    reason = (f"conflicting values for the same entity, period, item and filed date: "
              f"{path}:2 = 1000; {path}:4 = 1001")
    assert rejected(ingested) == [
        reject(path, 2, "value", reason, value="1000"),
        reject(path, 4, "value", reason, value="1001"),
    ]
    assert fact_lines(ingested) == [("net_income", 3)]


def test_conflicting_duplicates_across_files(tmp_path: Path) -> None:
    first = write(tmp_path / "a.csv", row())
    second = write(tmp_path / "b.csv", row(value="999"))
    ingested = checked([first, second])
    reason = (f"conflicting values for the same entity, period, item and filed date: "
              f"{first}:2 = 1000; {second}:2 = 999")
    assert rejected(ingested) == [reject(first, 2, "value", reason, value="1000"),
                                  reject(second, 2, "value", reason, value="999")]
    assert ingested.facts.height == 0


def test_exact_duplicate_keeps_one_and_rejects_the_other(tmp_path: Path) -> None:
    path = write(tmp_path / "dup.csv", row(), row(item="net_income"), row(value="1,000"))
    ingested = checked([path])
    assert rejected(ingested) == [reject(path, 4, "value", f"duplicate of {path}:2 (same value)", value="1,000")]
    assert fact_lines(ingested) == [("revenue", 2), ("net_income", 3)]


def test_restatement_latest_filed_wins(tmp_path: Path) -> None:
    path = write(tmp_path / "restated.csv", row(filed="2025-03-01", value="1100"), row(), row(filed="", value="900"))
    ingested = checked([path])
    assert rejected(ingested) == []
    assert ingested.facts.select("value", "filed", "source").to_dicts() == [
        {"value": 1100.0, "filed": date(2025, 3, 1), "source": f"{path}:2"},
    ]
    assert ingested.superseded.select("value", "filed", "source").to_dicts() == [
        {"value": 1000.0, "filed": date(2025, 2, 1), "source": f"{path}:3"},
        {"value": 900.0, "filed": None, "source": f"{path}:4"},
    ]
    restatements = ingested.restatements()
    assert restatements.select("original_value", "original_source", "restated_value", "restated_source").to_dicts() \
        == [
            {"original_value": 900.0, "original_source": f"{path}:4", "restated_value": 1000.0,
             "restated_source": f"{path}:3"},
            {"original_value": 1000.0, "original_source": f"{path}:3", "restated_value": 1100.0,
             "restated_source": f"{path}:2"},
        ]  # a value without a filed date is the oldest: each value beside the one that replaced it
    assert ingested.accepted_count == 3


def test_a_figure_restated_and_restated_back_reads_as_two_restatements(tmp_path: Path) -> None:
    path = write(tmp_path / "back.csv", row(filed="2025-04-01", value="1000"), row(filed="2025-03-01", value="1100"),
                 row())
    ingested = checked([path])
    assert ingested.restatements().select("original_value", "original_filed", "restated_value", "restated_filed") \
        .to_dicts() == [
            {"original_value": 1000.0, "original_filed": date(2025, 2, 1), "restated_value": 1100.0,
             "restated_filed": date(2025, 3, 1)},
            {"original_value": 1100.0, "original_filed": date(2025, 3, 1), "restated_value": 1000.0,
             "restated_filed": date(2025, 4, 1)},
        ]


# --- JSON lines ------------------------------------------------------------------------------------------------------

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


# --- Parquet ---------------------------------------------------------------------------------------------------------


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


# --- wide layout -----------------------------------------------------------------------------------------------------

WIDE_HEADER = "entity_id,entity_name,fiscal_year,fiscal_period,period_end,currency,Revenue,Net income,Widget sales"


def test_wide_bad_cell_names_its_header_and_empty_line_is_reported(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.csv",
                 "ACME,Acme Corp,2024,FY,2024-12-31,USD,1000,12x,",
                 "ACME,Acme Corp,2023,FY,2023-12-31,USD,,,",
                 "ACME,Acme Corp,2022,FY,2022-12-31,USD,900,,5",
                 header=WIDE_HEADER)
    ingested = checked([path])
    assert ingested.files[0].adapter == "wide"
    assert rejected(ingested) == [
        reject(path, 2, "Net income", "unparseable number '12x'", item="Net income", value="12x"),
        reject(path, 3, None, "no item values on this line", item=None, value=None),
        reject(path, 4, "Widget sales", "unmapped item 'Widget sales'", item="Widget sales", value="5"),
    ]
    assert ingested.facts["source"].to_list() == [f"{path}:2 [Revenue]", f"{path}:4 [Revenue]"]


def test_wide_ragged_line_rejects_each_of_its_cells(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.csv",
                 "ACME,Acme Corp,2024,FY,2024-12-31,USD,1000,50,,oops",
                 "ACME,Acme Corp,2023,FY,2023-12-31,USD,900,,",
                 header=WIDE_HEADER)
    ingested = checked([path])
    reason = "expected 9 fields, found 10"
    assert rejected(ingested) == [
        reject(path, 2, None, reason, item="Revenue", value="1000"),
        reject(path, 2, None, reason, item="Net income", value="50"),
    ]
    assert ingested.facts["source"].to_list() == [f"{path}:3 [Revenue]"]


def test_wide_without_its_id_columns_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "wide.csv", "ACME,FY,1000", header="entity_id,fiscal_period,Revenue")
    reason = ("missing required column(s) entity_name, fiscal_year, period_end, currency; "
              "found entity_id, fiscal_period, Revenue")
    assert rejected(checked([path])) == [refusal(path, reason, line=1)]


# --- statement tables ------------------------------------------------------------------------------------------------

STATEMENT_HEADER = 'Category ($ in millions),"Sep. 30, 2023","Sep. 24, 2022"'


def statement_dir(tmp_path: Path, **meta: str) -> Path:
    (tmp_path / "meta.json").write_text(json.dumps(
        {"entity_id": "AAPL", "entity_name": "Apple Inc.", "currency": "USD"} | meta), encoding="utf-8")
    return tmp_path


def test_statement_bad_cell_names_the_period_header(tmp_path: Path) -> None:
    path = write(statement_dir(tmp_path) / "income.csv", "Net sales,1000,900", "Cost of sales,(600),abc",
                 "Foo bar,1,", header=STATEMENT_HEADER)
    ingested = checked([path])
    assert ingested.files[0].adapter == "statement"
    assert rejected(ingested) == [
        reject(path, 3, "Sep. 24, 2022", "unparseable number 'abc'", entity_id="AAPL", item="Cost of sales",
               value="abc"),
        reject(path, 4, "Sep. 30, 2023", "unmapped item 'Foo bar'", entity_id="AAPL", item="Foo bar", value="1"),
    ]
    assert ingested.facts.select("item", "value", "source").to_dicts() == [
        {"item": "revenue", "value": 900e6, "source": f"{path}:2 [Sep. 24, 2022]"},
        {"item": "revenue", "value": 1000e6, "source": f"{path}:2 [Sep. 30, 2023]"},
        {"item": "cost_of_revenue", "value": -600e6, "source": f"{path}:3 [Sep. 30, 2023]"},
    ]


def test_statement_meta_scale_lakhs_refuses_the_file_naming_meta_json(tmp_path: Path) -> None:
    path = write(statement_dir(tmp_path, scale="lakhs") / "income.csv", "Net sales,1000,900",
                 header='Category,"Sep. 30, 2023","Sep. 24, 2022"')
    ingested = checked([path])
    assert [(e.file, e.reason) for e in ingested.refused] == [
        (str(tmp_path / "meta.json"), "invalid statement metadata: scale: unknown scale 'lakhs' (expected units, "
                                      "thousands, millions or billions)")]
    assert ingested.facts.height == 0


def test_statement_meta_json_that_is_invalid_is_refused(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text(json.dumps({"entity_id": "AAPL", "currency": "USD"}), encoding="utf-8")
    path = write(tmp_path / "income.csv", "Net sales,1000,900", header=STATEMENT_HEADER)
    ingested = checked([path])
    assert [e.file for e in ingested.refused] == [str(tmp_path / "meta.json")]
    assert ingested.refused[0].reason == "invalid statement metadata: entity_name: Field required"


def test_statement_ragged_line_is_rejected_not_the_file(tmp_path: Path) -> None:
    path = write(statement_dir(tmp_path) / "income.csv", "Net sales,1000,900,77", "Cost of sales,600,500",
                 header=STATEMENT_HEADER)
    ingested = checked([path])
    assert ingested.refused == []
    assert {(r["line"], r["reason"]) for r in rejected(ingested)} == {(2, "expected 3 fields, found 4")}
    assert set(ingested.facts["_line"].to_list()) == {3}


def test_statement_duplicate_period_header_message_names_the_header(tmp_path: Path) -> None:
    path = write(statement_dir(tmp_path) / "income.csv", "Net sales,1000,900",
                 header='Category,"Sep. 30, 2023","Sep. 30, 2023"')
    ingested = checked([path])
    assert len(ingested.refused) == 1
    assert "_duplicated_" not in ingested.refused[0].reason
    assert "'Sep. 30, 2023'" in ingested.refused[0].reason


def test_a_statement_of_changes_in_equity_is_refused_saying_which_statements_are_read(tmp_path: Path) -> None:
    """Apple's equity statement (edgartools' table): components as columns, not periods."""
    path = write(statement_dir(tmp_path) / "equity.csv", '"Beginning balances at Sep. 26, 2020",65339,50779',
                 header="Category,Total,Common stock and additional paid-in capital")
    (refused,) = checked([path]).refused
    assert refused.line == 1
    assert refused.reason.startswith("missing required column(s) entity_id")
    assert refused.reason.endswith("found Category, Total, Common stock and additional paid-in capital (none of "
                                   "them a column of a long table; a statement table would have a label column, then "
                                   "one column per period end such as 'Sep. 30, 2023'; statements of changes in "
                                   "equity are not read, give the income statement, balance sheet and cash flow)")


def test_csv_with_empty_header_cells_is_not_taken_for_a_statement_table(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.csv", "1,2", header="foo,")
    ingested = checked([path])
    assert [type(e) for e in ingested.refused] == [MissingColumnsError]
    assert "meta.json" not in ingested.refused[0].reason
