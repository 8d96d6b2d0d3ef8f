"""Each metric against values computed by hand, and Apple's published FY2022 figures."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from generator.ingest import ingest
from generator.metrics import REGISTRY, compute_metrics, metric_names

from builders import FY2023, FY2024, facts_frame

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

QUARTER_REVENUE = {2023: (180, 190, 200, 230), 2024: (230, 240, 250, 280)}


@pytest.fixture(scope="module")
def metrics() -> pl.DataFrame:
    periods: dict[tuple[str, int, str], dict[str, float]] = {("T", 2023, "FY"): FY2023, ("T", 2024, "FY"): FY2024}
    for year, revenues in QUARTER_REVENUE.items():
        for q, revenue in enumerate(revenues, start=1):
            periods[("T", year, f"Q{q}")] = {"revenue": revenue, "net_income": revenue / 10}
    periods[("Z", 2024, "FY")] = {"total_debt": 10, "total_equity": 0, "revenue": 0, "net_income": 5}
    periods[("N", 2023, "FY")] = {"total_equity": 50}
    periods[("N", 2024, "FY")] = {"total_debt": 300, "total_liabilities": 500, "total_equity": -100,
                                  "net_income": -40, "total_assets": 400, "cash": 20, "operating_income": -60,
                                  "depreciation_amortization": 10, "operating_cash_flow": -34}
    return compute_metrics(facts_frame(periods)).metrics


def value(metrics: pl.DataFrame, metric: str, year: int = 2024, period: str = "FY", entity: str = "T") -> float:
    row = metrics.filter(entity_id=entity, fiscal_year=year, fiscal_period=period, metric=metric)
    assert row.height == 1, f"{metric} {period} {year}: {row.height} rows"
    result = row["value"][0]
    assert result is not None, f"{metric} absent: {row['reason'][0]}"
    return result


def reason(metrics: pl.DataFrame, metric: str, year: int, period: str, entity: str = "T") -> str:
    row = metrics.filter(entity_id=entity, fiscal_year=year, fiscal_period=period, metric=metric)
    assert row.height == 1 and row["value"][0] is None
    return row["reason"][0]


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("revenue_growth_yoy", (1000 - 800) / 800),
        ("net_income_growth_yoy", (140 - 100) / 100),
        ("gross_margin", 400 / 1000),
        ("operating_margin", 200 / 1000),
        ("net_margin", 140 / 1000),
        ("ebitda", 230),
        ("ebitda_margin", 230 / 1000),
        ("current_ratio", 400 / 250),
        ("quick_ratio", (100 + 50 + 120) / 250),
        ("cash_ratio", (100 + 50) / 250),
        ("total_debt", 300),
        ("debt_to_equity", 300 / 400),
        ("liabilities_to_equity", 600 / 400),
        ("debt_to_assets", 300 / 1000),
        ("interest_coverage", 200 / 20),
        ("net_debt", 300 - 100),
        ("net_debt_to_ebitda", 200 / 230),
        ("working_capital", 150),
        ("roe", 140 / 400),
        ("roe_avg", 140 / ((400 + 350) / 2)),
        ("roa", 140 / 1000),
        ("asset_turnover", 1000 / 1000),
        ("dso", 120 / 1000 * 366),
        ("inventory_turnover", 600 / 80),
        ("free_cash_flow", 180 - 50),
        ("fcf_margin", 130 / 1000),
        ("cash_conversion", 180 / 140),
        ("altman_z_double_prime", 6.56 * 0.15 + 3.26 * 0.2 + 6.72 * 0.2 + 1.05 * 400 / 600),
        ("piotroski_f_score", 8),
    ],
)
def test_metric_matches_hand_computation(metrics: pl.DataFrame, metric: str, expected: float) -> None:
    assert value(metrics, metric) == pytest.approx(expected, rel=1e-12)


def test_quarter_over_quarter_and_trailing_twelve_months(metrics: pl.DataFrame) -> None:
    assert value(metrics, "revenue_growth_qoq", 2024, "Q1") == pytest.approx(0.0)
    assert value(metrics, "revenue_growth_qoq", 2024, "Q2") == pytest.approx(240 / 230 - 1)
    assert value(metrics, "revenue_ttm", 2024, "Q4") == pytest.approx(1000)
    assert value(metrics, "revenue_ttm", 2024, "Q3") == pytest.approx(230 + 230 + 240 + 250)
    assert value(metrics, "revenue_growth_yoy_ttm", 2024, "Q4") == pytest.approx(0.25)
    assert value(metrics, "net_margin_ttm", 2024, "Q4") == pytest.approx(0.1)
    assert value(metrics, "revenue_growth_yoy", 2024, "Q2") == pytest.approx(240 / 190 - 1)


def test_absent_metrics_say_why(metrics: pl.DataFrame) -> None:
    assert reason(metrics, "revenue_ttm", 2023, "Q3") == "missing input: revenue"
    assert reason(metrics, "revenue_growth_qoq", 2023, "Q1") == "missing input: revenue_prior_quarter"
    assert reason(metrics, "debt_to_equity", 2024, "FY", "Z") == "total_equity is zero"
    assert reason(metrics, "net_margin", 2024, "FY", "Z") == "revenue is zero"
    assert reason(metrics, "current_ratio", 2024, "FY", "Z") == "missing input: current_assets, current_liabilities"


def test_ratios_over_negative_equity_are_not_meaningful(metrics: pl.DataFrame) -> None:
    """A loss over negative equity would read as a positive ROE, and debt over it as negative leverage."""
    for metric in ("roe", "roe_avg", "debt_to_equity", "liabilities_to_equity"):
        assert reason(metrics, metric, 2024, "FY", "N") == "total_equity is negative: not meaningful"
    assert value(metrics, "roa", 2024, "FY", "N") == pytest.approx(-40 / 400)  # equity plays no part


def test_ratios_outside_their_domain_are_not_meaningful(metrics: pl.DataFrame) -> None:
    """Net debt over negative EBITDA read as -5.60x (less leverage than none), and a loss-maker's operating cash
    outflow over its loss as 0.85x cash conversion (a good one)."""
    assert reason(metrics, "net_debt_to_ebitda", 2024, "FY", "N") == "ebitda is negative: not meaningful"
    assert reason(metrics, "cash_conversion", 2024, "FY", "N") == "net_income is negative: not meaningful"
    assert value(metrics, "cash_conversion") == 180 / 140
    assert value(metrics, "net_debt_to_ebitda") == (300 - 100) / (200 + 30)


def test_never_nan_or_inf(metrics: pl.DataFrame) -> None:
    present = metrics.filter(pl.col("value").is_not_null())["value"]
    assert all(math.isfinite(v) for v in present)
    assert metrics.filter(pl.col("value").is_null() & pl.col("reason").is_null()).height == 0


def test_trailing_twelve_months_needs_four_contiguous_quarters() -> None:
    quarters = {("G", 2024, q): {"revenue": 100} for q in ("Q1", "Q3", "Q4")}
    quarters[("G", 2023, "Q4")] = {"revenue": 100}
    out = compute_metrics(facts_frame(quarters)).metrics
    assert reason(out, "revenue_ttm", 2024, "Q4", "G") == "missing input: revenue"


def test_every_metric_has_a_unique_name_and_a_description() -> None:
    names = metric_names()
    assert len(names) == len(set(names))
    for required in (
        "revenue_growth_yoy", "revenue_growth_qoq", "net_income_growth_yoy", "gross_margin", "operating_margin",
        "net_margin", "ebitda_margin", "current_ratio", "quick_ratio", "cash_ratio", "debt_to_equity",
        "liabilities_to_equity", "debt_to_assets", "interest_coverage", "roe", "roe_avg", "roa", "asset_turnover",
        "dso", "inventory_turnover", "free_cash_flow", "fcf_margin", "cash_conversion", "altman_z_double_prime",
        "piotroski_f_score", "revenue_ttm", "net_margin_ttm", "roe_ttm",
    ):
        assert required in names
    assert all(m.description and m.formula and m.unit for m in REGISTRY)


def test_apple_fy2022_from_published_statements() -> None:
    ingested = ingest([FIXTURES / "apple"])
    out = compute_metrics(ingested.facts).metrics.filter(entity_id="AAPL")
    assert round(value(out, "current_ratio", 2022, entity="AAPL"), 2) == 0.88
    assert round(value(out, "current_ratio", 2023, entity="AAPL"), 2) == 0.99
    assert value(out, "revenue", 2022, entity="AAPL") == 394_328_000_000
    assert value(out, "gross_margin", 2022, entity="AAPL") == pytest.approx(170_782 / 394_328)
    assert value(out, "net_margin", 2022, entity="AAPL") == pytest.approx(99_803 / 394_328)
    assert value(out, "revenue_growth_yoy", 2022, entity="AAPL") == pytest.approx(394_328 / 365_817 - 1)
    assert value(out, "debt_to_equity", 2022, entity="AAPL") == pytest.approx(
        (9_982 + 11_128 + 98_959) / 50_672)
    assert value(out, "free_cash_flow", 2022, entity="AAPL") == pytest.approx((122_151 - 10_708) * 1e6)
    assert value(out, "eps_diluted", 2022, entity="AAPL") == pytest.approx(6.11)
    assert value(out, "shares_diluted", 2022, entity="AAPL") == pytest.approx(16_325_819_000)
    assert value(out, "roe_avg", 2023, entity="AAPL") == pytest.approx(96_995 / ((62_146 + 50_672) / 2))
