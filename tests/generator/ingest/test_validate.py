"""Row-level validation: one bad value on an otherwise valid line rejects that line only, naming its column and
why; unknown items are listed; scales apply.

Every case also checks that nothing is lost: rows_in == accepted + rejected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from builders import HEADER, checked, fact_lines, reject, rejected, row, write


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
