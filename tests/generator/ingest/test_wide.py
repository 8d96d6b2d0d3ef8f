"""The wide layout: one line per company and period, one column per item; a bad cell names its header."""

from __future__ import annotations

from pathlib import Path

from builders import checked, refusal, reject, rejected, write

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
