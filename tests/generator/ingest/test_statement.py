"""Published statement tables: Apple's FY2023 10-K (one column per fiscal year, FY2021–FY2023 figures and ratios),
and what refuses a table or rejects one of its cells: no meta.json, a bad cell, a bad scale, a period twice."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from generator.errors import InputFileError, MissingColumnsError
from generator.ingest import ingest, read_file
from generator.ingest.statement import period_starts
from generator.metrics import compute_metrics

from builders import checked, refusal, reject, rejected, write

APPLE = Path(__file__).resolve().parents[2] / "fixtures" / "apple"
REVENUE = {2021: 365_817, 2022: 394_328, 2023: 383_285}
NET_INCOME = {2021: 94_680, 2022: 99_803, 2023: 96_995}
GROSS_PROFIT = {2021: 152_836, 2022: 170_782, 2023: 169_148}
OPERATING_CASH_FLOW = {2021: 104_038, 2022: 122_151, 2023: 110_543}
CAPEX = {2021: 11_085, 2022: 10_708, 2023: 10_959}


@pytest.fixture(scope="module")
def metrics() -> pl.DataFrame:
    return compute_metrics(ingest([APPLE]).facts).metrics.filter(entity_id="AAPL", fiscal_period="FY")


def metric(metrics: pl.DataFrame, name: str, year: int) -> tuple[float | None, str | None]:
    row = metrics.filter(metric=name, fiscal_year=year).row(0, named=True)
    return row["value"], row["reason"]


@pytest.mark.parametrize("year", [2021, 2022, 2023])
def test_each_fiscal_year_of_the_income_and_cash_flow_statements(metrics: pl.DataFrame, year: int) -> None:
    assert metric(metrics, "revenue", year)[0] == REVENUE[year] * 1e6
    assert metric(metrics, "net_income", year)[0] == NET_INCOME[year] * 1e6
    assert metric(metrics, "gross_margin", year)[0] == pytest.approx(GROSS_PROFIT[year] / REVENUE[year])
    assert metric(metrics, "net_margin", year)[0] == pytest.approx(NET_INCOME[year] / REVENUE[year])
    assert metric(metrics, "free_cash_flow", year)[0] == (OPERATING_CASH_FLOW[year] - CAPEX[year]) * 1e6
    assert metric(metrics, "cash_conversion", year)[0] == pytest.approx(OPERATING_CASH_FLOW[year] / NET_INCOME[year])


def test_growth_needs_the_year_before(metrics: pl.DataFrame) -> None:
    assert metric(metrics, "revenue_growth_yoy", 2023)[0] == pytest.approx(383_285 / 394_328 - 1)
    value, reason = metric(metrics, "revenue_growth_yoy", 2021)
    assert value is None and reason


def test_balance_sheet_ratios_for_the_two_balance_sheet_dates(metrics: pl.DataFrame) -> None:
    assert round(metric(metrics, "current_ratio", 2022)[0], 2) == 0.88  # type: ignore[arg-type]
    assert round(metric(metrics, "current_ratio", 2023)[0], 2) == 0.99  # type: ignore[arg-type]
    assert metric(metrics, "debt_to_equity", 2023)[0] == pytest.approx((5_985 + 9_822 + 95_281) / 62_146)
    value, reason = metric(metrics, "current_ratio", 2021)
    assert value is None and reason, "no FY2021 balance sheet in a FY2023 10-K: absent, with the reason"


def test_periods_follow_the_column_headers() -> None:
    facts = ingest([APPLE]).facts
    revenue = facts.filter(item="revenue").sort("fiscal_year")
    assert revenue.select("fiscal_year", "period_start", "period_end").rows() == [
        (2021, None, date(2021, 9, 25)), (2022, date(2021, 9, 26), date(2022, 9, 24)),
        (2023, date(2022, 9, 25), date(2023, 9, 30))]
    assert facts.filter(item="shares_diluted", fiscal_year=2023)["value"][0] == 15_812_547_000
    assert facts.filter(item="eps_diluted", fiscal_year=2023)["value"][0] == 6.13


def test_a_period_starts_after_the_previous_column_only_when_it_is_one_period_earlier() -> None:
    """Apple's 52- and 53-week years follow each other; a year skipped between two columns, or a quarter table's
    columns a year apart, leave the start unknown rather than a two-year or twelve-month quarter."""
    years = [date(2021, 9, 25), date(2022, 9, 24), date(2023, 9, 30)]
    assert period_starts(years, "FY") == {date(2021, 9, 25): None, date(2022, 9, 24): date(2021, 9, 26),
                                          date(2023, 9, 30): date(2022, 9, 25)}
    assert period_starts([date(2021, 9, 25), date(2023, 9, 30)], "FY") == {date(2021, 9, 25): None,
                                                                           date(2023, 9, 30): None}
    quarters = [date(2023, 7, 1), date(2023, 9, 30), date(2024, 9, 28)]
    assert period_starts(quarters, "Q3") == {date(2023, 7, 1): None, date(2023, 9, 30): date(2023, 7, 2),
                                             date(2024, 9, 28): None}


def test_scale_declared_in_the_statement_heading(tmp_path: Path) -> None:
    """As an SEC viewer copies a table: the heading cell says the scale, the metadata need not."""
    meta = json.loads((APPLE / "meta.json").read_text(encoding="utf-8"))
    (tmp_path / "meta.json").write_text(json.dumps({k: v for k, v in meta.items() if "scale" not in k}),
                                        encoding="utf-8")
    lines = (APPLE / "apple_consolidated.csv").read_text(encoding="utf-8").splitlines()
    heading = '"CONSOLIDATED STATEMENTS OF OPERATIONS - USD ($) shares in Thousands, $ in Millions"'
    (tmp_path / "apple_consolidated.csv").write_text("\n".join([heading + lines[0][len("Category"):], *lines[1:]]),
                                                     encoding="utf-8")
    declared = ingest([tmp_path / "apple_consolidated.csv"]).facts
    original = ingest([APPLE / "apple_consolidated.csv"]).facts
    assert declared.select("item", "fiscal_year", "value").equals(original.select("item", "fiscal_year", "value"))
    assert declared.filter(item="shares_diluted", fiscal_year=2023)["value"][0] == 15_812_547_000


# --- what refuses a table or rejects one of its cells ---------------------------------------------------------------

STATEMENT_HEADER = 'Category ($ in millions),"Sep. 30, 2023","Sep. 24, 2022"'


def statement_dir(tmp_path: Path, **meta: str) -> Path:
    (tmp_path / "meta.json").write_text(json.dumps(
        {"entity_id": "AAPL", "entity_name": "Apple Inc.", "currency": "USD"} | meta), encoding="utf-8")
    return tmp_path


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
