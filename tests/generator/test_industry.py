"""Banks, insurers and REITs: recognised from their filings (or a SIC code) and given their own ratios.

SoFi Technologies (a bank holding company since 2022) is the real case; the insurer and the REIT are small
hand-made companyfacts files with the concepts those filers tag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from generator.industry import classify
from generator.ingest import Ingested, ingest
from generator.metrics import Analysis, compute_metrics
from generator.provenance import Provenance

SOFI = Path(__file__).resolve().parents[1] / "fixtures" / "real-filings" / "sofi_companyfacts.json"
SOFI_ID = "CIK0001818874"
YEAR = {"start": "2024-01-01", "end": "2024-12-31"}
YEAR_END = {"end": "2024-12-31"}


def checked(paths: list[Path]) -> Ingested:
    ingested = ingest(paths)
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    return ingested


def analysed(paths: list[Path]) -> Analysis:
    ingested = checked(paths)
    return compute_metrics(ingested.facts, sectors=ingested.sectors)


def companyfacts(path: Path, cik: int, name: str, values: dict[str, tuple[dict[str, str], float]]) -> Path:
    """A companyfacts file with one FY2024 value per concept: ``us-gaap:Tag`` → (period, value); share counts
    in shares, every other value in USD."""
    facts: dict[str, dict[str, Any]] = {}
    for concept, (period, value) in values.items():
        taxonomy, tag = concept.split(":")
        entry = {**period, "val": value, "accn": f"{cik:010d}-25-000001", "fy": 2024, "fp": "FY", "form": "10-K",
                 "filed": "2025-02-20"}
        unit = "shares" if tag.endswith("SharesOutstanding") else "USD"
        facts.setdefault(taxonomy, {})[tag] = {"label": tag, "units": {unit: [entry]}}
    path.write_text(json.dumps({"cik": cik, "entityName": name, "facts": facts}), encoding="utf-8")
    return path


def row(analysis: Analysis, entity: str, metric: str, year: int = 2024, period: str = "FY") -> dict[str, Any]:
    rows = analysis.metrics.filter(entity_id=entity, fiscal_year=year, fiscal_period=period, metric=metric)
    assert rows.height == 1, f"{metric}: {rows.height} rows"
    return rows.row(0, named=True)


def value(analysis: Analysis, entity: str, metric: str, year: int = 2024) -> float:
    found = row(analysis, entity, metric, year)
    assert found["value"] is not None, found["reason"]
    return found["value"]


def reason(analysis: Analysis, entity: str, metric: str, year: int = 2024) -> str:
    found = row(analysis, entity, metric, year)
    assert found["value"] is None
    return found["reason"]


def metrics_of(analysis: Analysis, entity: str) -> set[str]:
    return set(analysis.metrics.filter(entity_id=entity)["metric"].unique().to_list())


BANK_METRICS = {"net_interest_margin_proxy", "loans_to_deposits", "efficiency_ratio", "cost_of_risk"}
INSURER_METRICS = {"loss_ratio", "expense_ratio", "combined_ratio"}
REIT_METRICS = {"ffo", "ffo_per_share"}


# --- SoFi: a real bank holding company ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sofi() -> Analysis:
    return analysed([SOFI])


def test_sofi_is_recognised_as_a_bank_by_its_deposits(sofi: Analysis) -> None:
    assert sofi.industries.to_dicts() == [
        {"entity_id": SOFI_ID, "industry": "bank", "basis": "deposits = 74% of total_assets (FY 2025)"}]


def test_sofi_bank_ratios_match_its_fy2025_10k(sofi: Analysis) -> None:
    """From the FY2025 10-K (filed 2026-02-17) as companyfacts gives it: deposits 37,505,395,000; loans held
    for sale 22,862,749,000 and held for investment 1,516,736,000; equity 10,489,495,000; assets 50,660,478,000;
    net interest income 2,218,956,000, noninterest income 1,394,398,000, noninterest expense 3,057,178,000;
    credit loss expense 30,319,000."""
    expected = {"loans_to_deposits": 0.6500, "equity_to_assets": 0.2071, "efficiency_ratio": 0.8461,
                "net_interest_margin_proxy": 0.04380, "cost_of_risk": 0.01999}
    measured = {m: float(f"{value(sofi, SOFI_ID, m, 2025):.4g}") for m in expected}
    assert measured == expected


def test_sofi_loans_to_deposits_names_both_loan_lines_and_their_filing(sofi: Analysis) -> None:
    ingested = checked([SOFI])
    inputs, sources = Provenance(sofi, ingested.facts, SOFI_ID).of("loans_to_deposits", 2025, "FY")
    assert inputs == {"loans": 1_516_736_000.0, "loans_held_for_sale": 22_862_749_000.0,
                      "deposits": 37_505_395_000.0}
    assert sources == [
        "0001818874-26-000013/us-gaap:FinancingReceivableExcludingAccruedInterestAfterAllowanceForCreditLoss",
        "0001818874-26-000013/us-gaap:LoansReceivableHeldForSaleAmount",
        "0001818874-26-000013/us-gaap:Deposits",
    ]


@pytest.mark.parametrize(("metric", "why"), [
    ("current_ratio", "no classified balance sheet"),
    ("altman_z_double_prime", "no classified balance sheet"),
    ("gross_margin", "no cost of goods sold, inventory or trade receivables"),
    ("interest_coverage", "interest is its cost of funds, not a financing charge"),
    ("fcf_margin", "its operating cash flow moves with loans and deposits"),
])
def test_sofi_industrial_ratios_are_absent_as_not_meaningful(sofi: Analysis, metric: str, why: str) -> None:
    assert reason(sofi, SOFI_ID, metric, 2025) == f"not meaningful for a bank ({why})"


def test_sofi_gets_no_insurer_or_reit_rows_and_keeps_ratios_that_hold_for_banks(sofi: Analysis) -> None:
    names = metrics_of(sofi, SOFI_ID)
    assert names >= BANK_METRICS
    assert not (INSURER_METRICS | REIT_METRICS) & names
    assert value(sofi, SOFI_ID, "roa", 2025) == pytest.approx(481_320_000 / 50_660_478_000)


# --- an insurer and a REIT, hand-made --------------------------------------------------------------------------------


INSURER = {
    "us-gaap:Revenues": (YEAR, 1_200.0), "us-gaap:PremiumsEarnedNet": (YEAR, 1_000.0),
    "us-gaap:PolicyholderBenefitsAndClaimsIncurredNet": (YEAR, 650.0),
    "us-gaap:DeferredPolicyAcquisitionCostAmortizationExpense": (YEAR, 180.0),
    "us-gaap:OtherUnderwritingExpense": (YEAR, 90.0), "us-gaap:NetIncomeLoss": (YEAR, 110.0),
    "us-gaap:Assets": (YEAR_END, 5_000.0), "us-gaap:StockholdersEquity": (YEAR_END, 1_250.0),
}
REIT = {
    "us-gaap:Revenues": (YEAR, 400.0), "us-gaap:NetIncomeLoss": (YEAR, 120.0),
    "us-gaap:DepreciationDepletionAndAmortization": (YEAR, 150.0),
    "us-gaap:GainLossOnSaleOfRealEstateInvestmentProperty": (YEAR, 30.0),
    "us-gaap:WeightedAverageNumberOfDilutedSharesOutstanding": (YEAR, 60.0),
    "us-gaap:RealEstateInvestmentPropertyNet": (YEAR_END, 3_000.0), "us-gaap:Assets": (YEAR_END, 4_000.0),
    "us-gaap:AssetsCurrent": (YEAR_END, 200.0), "us-gaap:LiabilitiesCurrent": (YEAR_END, 150.0),
}


def test_an_insurer_gets_loss_expense_and_combined_ratios(tmp_path: Path) -> None:
    analysis = analysed([companyfacts(tmp_path / "ins.json", 11, "Harbor Mutual", INSURER)])
    entity = "CIK0000000011"
    assert analysis.industries.row(0, named=True)["basis"] == "premiums_earned = 83% of revenue (FY 2024)"
    assert value(analysis, entity, "loss_ratio") == pytest.approx(0.65)
    assert value(analysis, entity, "expense_ratio") == pytest.approx(0.27)
    assert value(analysis, entity, "combined_ratio") == pytest.approx(0.92)
    assert value(analysis, entity, "equity_to_assets") == pytest.approx(0.25)
    assert reason(analysis, entity, "current_ratio") == "not meaningful for an insurer (no classified balance sheet)"
    assert not (BANK_METRICS | REIT_METRICS) & metrics_of(analysis, entity)


def test_an_insurer_without_other_underwriting_expense_has_no_expense_ratio_and_says_why(tmp_path: Path) -> None:
    partial = {k: v for k, v in INSURER.items() if k != "us-gaap:OtherUnderwritingExpense"}
    analysis = analysed([companyfacts(tmp_path / "ins.json", 12, "Harbor Mutual", partial)])
    entity = "CIK0000000012"
    assert value(analysis, entity, "loss_ratio") == pytest.approx(0.65)
    assert reason(analysis, entity, "expense_ratio") == "missing input: other_underwriting_expense"
    assert reason(analysis, entity, "combined_ratio") == "missing input: other_underwriting_expense"


def test_a_reit_gets_funds_from_operations(tmp_path: Path) -> None:
    analysis = analysed([companyfacts(tmp_path / "reit.json", 21, "Granite Realty Trust", REIT)])
    entity = "CIK0000000021"
    assert analysis.industries.row(0, named=True)["industry"] == "reit"
    assert value(analysis, entity, "ffo") == 120 + 150 - 30
    assert value(analysis, entity, "ffo_per_share") == pytest.approx(240 / 60)
    assert reason(analysis, entity, "current_ratio") == "not meaningful for a REIT (no classified balance sheet)"
    assert value(analysis, entity, "net_margin") == pytest.approx(120 / 400)


def test_a_reit_that_sold_no_property_adds_back_depreciation_only(tmp_path: Path) -> None:
    unsold = {k: v for k, v in REIT.items() if k != "us-gaap:GainLossOnSaleOfRealEstateInvestmentProperty"}
    analysis = analysed([companyfacts(tmp_path / "reit.json", 22, "Granite Realty Trust", unsold)])
    assert value(analysis, "CIK0000000022", "ffo") == 120 + 150


def test_an_industrial_company_gets_no_industry_rows_and_keeps_its_ratios(tmp_path: Path) -> None:
    """Owning a building (a tenth of its assets) or a finance arm's loans does not make a REIT or a bank."""
    plain = {"us-gaap:Revenues": (YEAR, 900.0), "us-gaap:NetIncomeLoss": (YEAR, 45.0),
             "us-gaap:RealEstateInvestmentPropertyNet": (YEAR_END, 100.0), "us-gaap:Assets": (YEAR_END, 1_000.0),
             "us-gaap:LoansAndLeasesReceivableNetReportedAmount": (YEAR_END, 150.0),
             "us-gaap:AssetsCurrent": (YEAR_END, 300.0), "us-gaap:LiabilitiesCurrent": (YEAR_END, 200.0)}
    analysis = analysed([companyfacts(tmp_path / "plain.json", 31, "Plain Tools Inc.", plain)])
    entity = "CIK0000000031"
    assert analysis.industries.row(0, named=True)["industry"] == "industrial"
    assert not (BANK_METRICS | INSURER_METRICS | REIT_METRICS | {"equity_to_assets"}) & metrics_of(analysis, entity)
    assert value(analysis, entity, "current_ratio") == pytest.approx(1.5)


# --- a declared SIC code ---------------------------------------------------------------------------------------------


def test_a_sic_code_names_the_sector_and_keeps_the_tags_where_it_fixes_no_industry(tmp_path: Path) -> None:
    """SoFi files under SIC 6199 (finance services): a sector, but not an industry; its deposits make it a bank."""
    sectors = tmp_path / "sectors.csv"
    sectors.write_text("entity_id,sic\n1818874,6199\n", encoding="utf-8")
    ingested = checked([SOFI, sectors])
    assert ingested.facts["sector"].unique().to_list() == ["Financials"]
    assert ingested.sectors.select("entity_id", "sector", "sic", "basis").to_dicts() == [
        {"entity_id": SOFI_ID, "sector": "Financials", "sic": 6199,
         "basis": f"SIC 6199 (Nondepository credit institutions) is Financials in the shipped SIC table; {sectors}:2"}]
    industries = compute_metrics(ingested.facts, sectors=ingested.sectors).industries
    assert industries["industry"].to_list() == ["bank"]


def test_a_sic_code_that_fixes_the_industry_overrides_the_tags(tmp_path: Path) -> None:
    """A mortgage REIT holds loans, not property: its tags say nothing, SIC 6798 says REIT."""
    mortgage = {"us-gaap:NetIncomeLoss": (YEAR, 80.0), "us-gaap:DepreciationDepletionAndAmortization": (YEAR, 5.0),
                "us-gaap:Assets": (YEAR_END, 9_000.0)}
    facts_file = companyfacts(tmp_path / "mreit.json", 41, "Annaly-like Capital", mortgage)
    sectors = tmp_path / "sectors.csv"
    sectors.write_text("entity_id,sector,sic\nCIK41,,6798\n", encoding="utf-8")
    analysis = analysed([facts_file, sectors])
    assert analysis.industries.to_dicts() == [{
        "entity_id": "CIK0000000041", "industry": "reit",
        "basis": f"SIC 6798 (Real estate investment trusts) is Real Estate in the shipped SIC table; {sectors}:2"}]
    assert value(analysis, "CIK0000000041", "ffo") == 85


def test_classify_judges_the_latest_annual_report() -> None:
    """A company that took deposits only in its latest year is a bank now, and its history reads as a bank's."""
    periods = pl.DataFrame({
        "entity_id": ["B", "B", "B"], "fiscal_year": [2023, 2024, 2025], "fiscal_period": ["FY", "FY", "Q1"],
        "period_end": pl.Series(["2023-12-31", "2024-12-31", "2025-03-31"]).str.to_date(),
        "deposits": [None, 600.0, None], "total_assets": [800.0, 1_000.0, 1_100.0], "revenue": [50.0, 60.0, 15.0],
        "premiums_earned": [None, None, None], "real_estate_investments": [None, None, None],
    })
    assert classify(periods).to_dicts() == [
        {"entity_id": "B", "industry": "bank", "basis": "deposits = 60% of total_assets (FY 2024)"}]
