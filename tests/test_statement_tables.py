"""Apple's published FY2023 10-K statement tables (one column per fiscal year): FY2021–FY2023 figures and ratios."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from generator.ingest import ingest
from generator.metrics import compute_metrics

APPLE = Path(__file__).parent / "fixtures" / "apple"
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
