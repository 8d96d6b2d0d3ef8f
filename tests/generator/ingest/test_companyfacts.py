"""SEC companyfacts JSON: real filings (Snowflake, an IFRS filer) and small hand-made files for each rule."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from generator import pipeline
from generator.checks import accounting_checks
from generator.ingest import Ingested, choose_adapter
from generator.ingest.companyfacts import NOT_COMPANYFACTS
from generator.periods import derive, pivot
from generator.provenance import Provenance

from builders import checked, companyfacts, entry, fact

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sec-companyfacts"
SNOWFLAKE = FIXTURES / "snow_facts.json"
LPA = FIXTURES / "lpa_facts.json"


# --- Snowflake: the acceptance figures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def snowflake() -> Ingested:
    return checked([SNOWFLAKE])


def test_snowflake_is_read_by_its_own_adapter() -> None:
    assert choose_adapter(SNOWFLAKE).name == "companyfacts"


def test_snowflake_fiscal_2024_ends_in_january(snowflake: Ingested) -> None:
    revenue = fact(snowflake.facts, "revenue", 2024, "FY")
    assert (revenue["entity_id"], revenue["entity_name"]) == ("CIK0001640147", "SNOWFLAKE INC.")
    assert (revenue["period_start"], revenue["period_end"]) == (date(2023, 2, 1), date(2024, 1, 31))
    assert revenue["value"] == 2_806_489_000
    assert revenue["currency"] == "USD"
    assert revenue["source"] == "0001640147-24-000101/us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"
    assert fact(snowflake.facts, "net_income_parent", 2024, "FY")["value"] == -836_097_000
    assert fact(snowflake.facts, "total_assets", 2024, "FY")["value"] == 8_223_383_000


def test_snowflake_balance_sheet_identity_holds_exactly_with_noncontrolling_interest(snowflake: Ingested) -> None:
    year = {i: fact(snowflake.facts, i, 2024, "FY")["value"]
            for i in ("total_assets", "total_liabilities", "total_equity", "noncontrolling_interest")}
    assert (year["total_liabilities"], year["total_equity"], year["noncontrolling_interest"]) == (
        3_032_789_000, 5_180_308_000, 10_286_000)
    assert year["total_assets"] == year["total_liabilities"] + year["total_equity"] + year["noncontrolling_interest"]


def test_snowflake_negative_equity_is_held_by_temporary_equity_not_an_identity_error() -> None:
    run = pipeline.build([SNOWFLAKE])
    facts = run.ingested.facts
    equity = fact(facts, "total_equity", 2020, "FY")
    assert (equity["period_end"], equity["value"]) == (date(2020, 1, 31), -544_757_000)
    temporary = fact(facts, "temporary_equity", 2020, "FY")["value"]
    assert temporary == 936_474_000
    assert fact(facts, "total_assets", 2020, "FY")["value"] == (
        fact(facts, "total_liabilities", 2020, "FY")["value"] + equity["value"] + temporary)
    assert run.findings.filter(pl.col("severity") == "error").height == 0
    assert run.graph.findings == []
    flagged = {(f.fiscal_year, f.fiscal_period) for f in run.graph.flags if f.flag == "NegativeEquity"}
    assert (2020, "FY") in flagged
    assert (2024, "FY") not in flagged


def test_snowflake_quarters_of_a_cash_flow_come_from_its_year_to_date_figures(snowflake: Ingested) -> None:
    rows = {p: fact(snowflake.facts, "operating_cash_flow", 2024, p) for p in ("Q1", "Q2", "Q3", "Q4", "FY")}
    six_months, nine_months = 382_635_000, 503_542_000  # 10-Q figures for 2023-02-01..07-31 and ..10-31
    assert rows["Q1"]["value"] == 299_444_000
    assert rows["Q2"]["value"] == six_months - 299_444_000
    assert rows["Q3"]["value"] == nine_months - six_months
    assert rows["Q4"]["value"] == 848_122_000 - nine_months
    assert sum(rows[q]["value"] for q in ("Q1", "Q2", "Q3", "Q4")) == rows["FY"]["value"]
    assert [(rows[q]["period_start"], rows[q]["period_end"]) for q in ("Q2", "Q3", "Q4")] == [
        (date(2023, 5, 1), date(2023, 7, 31)), (date(2023, 8, 1), date(2023, 10, 31)),
        (date(2023, 11, 1), date(2024, 1, 31))]
    tag = "us-gaap:NetCashProvidedByUsedInOperatingActivities"
    assert rows["Q1"]["source"] == f"0001640147-23-000102/{tag}"
    assert rows["Q2"]["source"] == (f"derived: Q2 = 6 months to date − Q1: 0001640147-23-000199/{tag} − "
                                    f"0001640147-23-000102/{tag}")
    assert rows["Q4"]["source"] == (f"derived: Q4 = FY − 9 months to date: 0001640147-24-000101/{tag} − "
                                    f"0001640147-23-000260/{tag}")


def test_snowflake_share_counts_rounded_to_the_thousand_by_a_later_filing_are_no_restatement(
        snowflake: Ingested) -> None:
    """The FY2022 10-K gives 300,273,227 diluted shares, the FY2023 10-K 300,273,000 for the same year: the same
    figure rounded to the thousand. The later filing's value stands, and nothing is reported as restated."""
    superseded = snowflake.superseded.filter(fiscal_year=2022, fiscal_period="FY").row(0, named=True)
    current = fact(snowflake.facts, "shares_diluted", 2022, "FY")
    tag = "us-gaap:WeightedAverageNumberOfDilutedSharesOutstanding"
    assert (superseded["value"], superseded["source"]) == (300_273_227, f"0001640147-22-000023/{tag}")
    assert (current["value"], current["source"]) == (300_273_000, f"0001640147-23-000030/{tag}")
    assert snowflake.superseded.height == 4
    assert snowflake.restatements().is_empty()
    assert pipeline.restatement_findings(snowflake).is_empty()


def test_snowflake_sga_is_the_sum_of_its_two_reported_lines(snowflake: Ingested) -> None:
    row = fact(snowflake.facts, "sga_expense", 2024, "FY")
    assert row["source"] == ("derived: 0001640147-24-000101/us-gaap:SellingAndMarketingExpense + "
                             "0001640147-24-000101/us-gaap:GeneralAndAdministrativeExpense")
    data = json.loads(SNOWFLAKE.read_text())["facts"]["us-gaap"]

    def reported(tag: str) -> float:
        return next(e["val"] for e in data[tag]["units"]["USD"]
                    if (e.get("start"), e["end"]) == ("2023-02-01", "2024-01-31"))

    assert row["value"] == reported("SellingAndMarketingExpense") + reported("GeneralAndAdministrativeExpense")


def test_unmapped_concepts_are_not_read_but_listed(snowflake: Ingested) -> None:
    assert not any("AccruedLiabilitiesCurrent" in s or "dei:" in s for s in snowflake.facts["source"])
    assert set(snowflake.rejected["reason"]) == {"unmapped item 'us-gaap:AccruedLiabilitiesCurrent'",
                                                  "unmapped item 'dei:EntityCommonStockSharesOutstanding'"}
    listed = snowflake.unmapped().row(0, named=True)
    assert listed["rows"] == snowflake.rejected.filter(item=listed["item"]).height
    assert listed["first_seen"].startswith(f"{SNOWFLAKE} facts.")


def test_every_fact_of_a_tag_the_map_does_not_name_is_listed_with_its_count() -> None:
    """The issue's bank run listed no unmapped tag at all; SoFi's other comprehensive income is one."""
    ingested = checked([REAL / "sofi_companyfacts.json"])
    listed = ingested.unmapped().filter(item="us-gaap:AccumulatedOtherComprehensiveIncomeLossNetOfTax").row(
        0, named=True)
    assert listed["rows"] == 38
    assert listed["first_seen"].startswith(
        f"{REAL / 'sofi_companyfacts.json'} facts.us-gaap.AccumulatedOtherComprehensiveIncomeLossNetOfTax.units.USD[")


# --- an IFRS filer --------------------------------------------------------------------------------------------------


def test_ifrs_filer_maps_ifrs_full_concepts() -> None:
    ingested = checked([LPA])
    facts = ingested.facts
    revenue = fact(facts, "revenue", 2024, "FY")
    assert (revenue["entity_id"], revenue["entity_name"]) == ("CIK0001997711", "Logistic Properties of the Americas")
    assert (revenue["value"], revenue["source"]) == (43_862_372, "0001997711-25-000030/ifrs-full:Revenue")
    assert fact(facts, "net_income", 2024, "FY")["value"] == -19_426_051
    assert fact(facts, "noncontrolling_interest", 2024, "FY")["value"] == 41_836_542
    assert fact(facts, "total_equity", 2024, "FY")["value"] == 228_964_876
    restated = ingested.restatements().filter(item="eps_diluted", fiscal_year=2022).row(0, named=True)
    assert (restated["original_value"], restated["restated_value"]) == (0.048, 0.28)
    assert restated["original_source"] == "0001493152-24-016772/ifrs-full:DilutedEarningsLossPerShare"


def test_a_balance_at_a_date_that_closes_no_quarter_is_rejected_by_its_json_path() -> None:
    rejected = checked([LPA]).rejected.filter(~pl.col("reason").str.starts_with("unmapped item")).to_dicts()
    assert rejected == [{
        "file": str(LPA), "line": None, "column": "facts.ifrs-full.CashAndCashEquivalents.units.USD[7].end",
        "entity_id": "CIK0001997711", "item": "ifrs-full:CashAndCashEquivalents", "value": "1121150",
        "reason": "2024-03-26 does not close a fiscal quarter"}]


# --- the rules, one hand-made file each -----------------------------------------------------------------------------

YEAR = "2024-01-01"


def test_total_liabilities_is_derived_when_not_reported_and_the_derivation_is_recorded(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", {
        "us-gaap:Revenues": {"USD": [entry(1000, "2024-12-31", YEAR)]},
        "us-gaap:Assets": {"USD": [entry(500, "2024-12-31")]},
        "us-gaap:LiabilitiesAndStockholdersEquity": {"USD": [entry(500, "2024-12-31")]},
        "us-gaap:StockholdersEquity": {"USD": [entry(150, "2024-12-31")]},
        "us-gaap:StockholdersEquityIncludingPortionAttributableToNoncontrollingInterest": {
            "USD": [entry(170, "2024-12-31")]},
        "us-gaap:TemporaryEquityCarryingAmountAttributableToParent": {"USD": [entry(30, "2024-12-31")]},
    })
    ingested = checked([path])
    minority = fact(ingested.facts, "noncontrolling_interest", 2024, "FY")
    assert minority["value"] == 20
    assert minority["source"] == ("derived: 0000000001-25-000001/us-gaap:StockholdersEquityIncludingPortionAttributable"
                                  "ToNoncontrollingInterest − 0000000001-25-000001/us-gaap:StockholdersEquity")
    reported = pivot(ingested.facts)
    assert reported["total_liabilities"].to_list() == [None]
    assert derive(reported)["total_liabilities"].to_list() == [500 - 150 - 20 - 30]
    assert accounting_checks(reported).height == 0
    analysis, _ = pipeline.analyse(ingested)
    _, sources = Provenance(analysis, ingested.facts, "CIK0000000001").of("liabilities_to_equity", 2024, "FY")
    assert sources[0] == ("derived: total_liabilities = total_liabilities_and_equity − total_equity − "
                          "noncontrolling_interest − temporary_equity")


def test_a_folder_of_companyfacts_files_reads_each_company(tmp_path: Path) -> None:
    companyfacts(tmp_path / "a.json", {"us-gaap:Revenues": {"USD": [entry(1, "2024-12-31", YEAR)]}}, cik=7)
    companyfacts(tmp_path / "b.json", {"us-gaap:Revenues": {"USD": [entry(2, "2024-12-31", YEAR)]}}, cik="0000000008",
                 name="Beta")
    (tmp_path / "meta.json").write_text("{}", encoding="utf-8")
    ingested = checked([tmp_path])
    assert [f.adapter for f in ingested.files] == ["companyfacts", "companyfacts"]
    assert ingested.facts.select("entity_id", "entity_name", "value").rows() == [
        ("CIK0000000007", "Acme Corp", 1), ("CIK0000000008", "Beta", 2)]


# --- bad input: file, JSON path and reason ----------------------------------------------------------------------------


def test_bad_entries_are_rejected_naming_their_json_path(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", {
        "us-gaap:Revenues": {
            "USD": [entry(1000, "2024-12-31", YEAR), entry("abc", "2024-09-30", YEAR), entry(5, "2024-13-31", YEAR),
                    entry(7, "2024-06-30", "2024-02-01"), "oops"],
            "shares": [entry(9, "2024-12-31", YEAR)]},
        "us-gaap:Assets": {"USD": [entry(10, "2024-12-31", YEAR), {"end": "2024-12-31", "val": 3}]},
    })
    ingested = checked([path])
    where = "facts.us-gaap.Revenues.units"
    assert [(r["line"], r["column"], r["item"], r["value"], r["reason"]) for r in ingested.rejected.to_dicts()] == [
        (None, f"{where}.USD[1].val", "us-gaap:Revenues", '"abc"', 'not a number: "abc"'),
        (None, f"{where}.USD[2].end", "us-gaap:Revenues", "5", "unparseable date '2024-13-31' (expected YYYY-MM-DD)"),
        (None, f"{where}.USD[4]", "us-gaap:Revenues", '"oops"', "expected an object with end, val, accn and filed"),
        (None, "facts.us-gaap.Assets.units.USD[1].accn", "us-gaap:Assets", "3", "no accession number"),
        (None, f"{where}.USD[3].start", "us-gaap:Revenues", "7",
         "2024-02-01..2024-06-30 does not span whole quarters of one fiscal year"),
        (None, f"{where}.shares[0]", "us-gaap:Revenues", "9", "unit 'shares' does not fit revenue (expected USD)"),
        (None, "facts.us-gaap.Assets.units.USD[0].start", "us-gaap:Assets", "10",
         "total_assets is a balance at a date, not an amount over 2024-01-01..2024-12-31"),
    ]
    assert ingested.facts.select("item", "value").rows() == [("revenue", 1000)]


@pytest.mark.parametrize(("text", "line", "reason"), [
    ('{"cik": 1,\n "facts": {', 2, "not valid JSON: Expecting property name enclosed in double quotes (column 12)"),
    ("[1, 2]", None, NOT_COMPANYFACTS),
    ('{"cik": 1, "entityName": "Acme"}', None, NOT_COMPANYFACTS),
    ('{"cik": "ACME", "entityName": "Acme", "facts": {}}', None, "cik 'ACME' is not a CIK number (at most 10 digits)"),
], ids=["broken-json", "a-list", "no-facts", "bad-cik"])
def test_a_file_that_is_not_companyfacts_is_refused(tmp_path: Path, text: str, line: int | None, reason: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text, encoding="utf-8")
    ingested = checked([path])
    assert [(e.file, e.line, e.reason) for e in ingested.refused] == [(str(path), line, reason)]
    assert ingested.rejected["reason"].to_list() == [f"file refused: {reason}"]


# --- what real filings do: debt, equity, forms -----------------------------------------------------------------------

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real-filings"
A, B = "0000000001-24-000010", "0000000001-25-000001"


def balance(val: float, accn: str, filed: str, end: str = "2024-12-31") -> dict[str, Any]:
    return entry(val, end, accn=accn, filed=filed)


def with_year(concepts: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """A fiscal year for the calendar to stand on."""
    return {"us-gaap:Revenues": {"USD": [entry(1000, "2024-12-31", YEAR)]}, **concepts}


def test_long_term_debt_includes_its_current_portion_as_the_taxonomy_defines_it() -> None:
    """Rocket Lab's FY2025 10-K: LongTermDebt 345,392,000 for 31 December 2024, of which LongTermDebtCurrent
    12,045,000; LongTermDebtNoncurrent (44,049,000) leaves out the convertible notes, which carry a company tag."""
    ingested = checked([REAL / "rklb_companyfacts.json"])
    row = fact(ingested.facts, "long_term_debt", 2024, "FY")
    assert row["value"] == 345_392_000 - 12_045_000
    assert row["source"] == ("derived: 0001819994-26-000013/us-gaap:LongTermDebt − "
                             "0001819994-26-000013/us-gaap:LongTermDebtCurrent")
    base = pipeline.analyse(ingested)[0].base.filter(fiscal_year=2024, fiscal_period="FY")
    assert base["total_debt"].item() == 345_392_000


def test_long_term_debt_alone_is_the_debt_of_a_filer_that_tags_no_short_term_borrowings(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", with_year({
        "us-gaap:LongTermDebt": {"USD": [balance(900, B, "2025-02-15")]},
        "us-gaap:LiabilitiesCurrent": {"USD": [balance(400, B, "2025-02-15")]},
        "us-gaap:StockholdersEquity": {"USD": [balance(3000, B, "2025-02-15")]},
    }))
    analysis = pipeline.analyse(checked([path]))[0]
    row = analysis.metrics.filter(metric="debt_to_equity", fiscal_year=2024, fiscal_period="FY").row(0, named=True)
    assert row["value"] == 0.3
    _, sources = Provenance(analysis, checked([path]).facts, "CIK0000000001").of("total_debt", 2024, "FY")
    assert sources == ["derived: total_debt = long_term_debt (no short-term borrowings reported)",
                       f"{B}/us-gaap:LongTermDebt"]


def test_reported_short_term_borrowings_are_added_to_long_term_debt(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", with_year({
        "us-gaap:LongTermDebt": {"USD": [balance(900, B, "2025-02-15")]},
        "us-gaap:CommercialPaper": {"USD": [balance(50, B, "2025-02-15")]},
    }))
    base = pipeline.analyse(checked([path]))[0].base
    assert (base["long_term_debt"].item(), base["total_debt"].item()) == (900, 950)


def test_ifrs_equity_includes_noncontrolling_interests_and_is_split_the_same_way_as_profit(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "ifrs.json", {
        "ifrs-full:Revenue": {"EUR": [entry(1000, "2024-12-31", YEAR)]},
        "ifrs-full:ProfitLoss": {"EUR": [entry(120, "2024-12-31", YEAR)]},
        "ifrs-full:Equity": {"EUR": [balance(5000, B, "2025-02-15")]},
        "ifrs-full:NoncontrollingInterests": {"EUR": [balance(400, B, "2025-02-15")]},
    })
    facts = checked([path]).facts
    assert fact(facts, "total_equity", 2024, "FY")["value"] == 4600
    assert fact(facts, "noncontrolling_interest", 2024, "FY")["value"] == 400


def test_ifrs_equity_alone_is_the_equity_of_a_filer_without_noncontrolling_interests(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "ifrs.json", {
        "ifrs-full:Revenue": {"EUR": [entry(1000, "2024-12-31", YEAR)]},
        "ifrs-full:ProfitLoss": {"EUR": [entry(120, "2024-12-31", YEAR)]},
        "ifrs-full:Equity": {"EUR": [balance(5000, B, "2025-02-15")]},
    })
    ingested = checked([path])
    assert fact(ingested.facts, "total_equity", 2024, "FY")["value"] == 5000
    roe = pipeline.analyse(ingested)[0].metrics.filter(metric="roe", fiscal_year=2024, fiscal_period="FY")
    assert roe["value"].item() == 120 / 5000


def test_a_proxy_statement_is_not_a_financial_report() -> None:
    """SoundHound's 2026 proxy tags FY2025 net income as -14,006 (thousands) in its pay-versus-performance table;
    the 10-K's -14,006,000 stands, and the proxy's facts are listed with their reason."""
    ingested = checked([REAL / "soun_companyfacts.json"])
    row = fact(ingested.facts, "net_income_parent", 2025, "FY")
    assert (row["value"], row["source"]) == (-14_006_000, "0001840856-26-000006/us-gaap:NetIncomeLoss")
    proxy = ingested.rejected.filter(pl.col("reason").str.contains("DEF 14A"))
    assert proxy.height > 0
    assert proxy["reason"].unique().to_list() == ["reported in a DEF 14A filing, not in a financial report"]
    assert proxy["column"].str.ends_with(".form").all()


def test_redeemable_noncontrolling_interest_sits_between_liabilities_and_equity(tmp_path: Path) -> None:
    path = companyfacts(tmp_path / "acme.json", with_year({
        "us-gaap:Assets": {"USD": [balance(10_000, B, "2025-02-15")]},
        "us-gaap:Liabilities": {"USD": [balance(6_000, B, "2025-02-15")]},
        "us-gaap:StockholdersEquity": {"USD": [balance(3_500, B, "2025-02-15")]},
        "us-gaap:RedeemableNoncontrollingInterestEquityCarryingAmount": {"USD": [balance(500, B, "2025-02-15")]},
    }))
    findings = pipeline.analyse(checked([path]))[1]
    assert findings.filter(pl.col("check").str.starts_with("balance_sheet")).is_empty()


def test_a_balanced_statement_with_an_untagged_mezzanine_line_is_a_warning_not_an_error() -> None:
    """Celsius's FY2025 10-K: assets 5,119,621,000 = liabilities and equity; liabilities 2,178,179,000 and equity
    1,181,467,000 leave 1,759,975,000 between them under a company-specific tag."""
    findings = pipeline.analyse(checked([REAL / "celh_companyfacts.json"]))[1]
    assert findings.filter(check="balance_sheet_identity").is_empty()
    fy2025 = findings.filter(check="balance_sheet_components", fiscal_year=2025, fiscal_period="FY")
    assert fy2025["severity"].to_list() == ["warning"]
    assert {f["name"]: f["value"] for f in fy2025["facts"][0]}["total_liabilities_and_equity"] == 5_119_621_000


def test_the_exchange_rate_effect_of_a_filer_with_discontinued_operations_reconciles_its_cash() -> None:
    """Celsius tags its FX effect with the concept that includes disposal groups (FY2025: 3,271,000); without it
    every period from 2022 on read as a cash-flow statement that does not add up."""
    findings = pipeline.analyse(checked([REAL / "celh_companyfacts.json"]))[1]
    failing = findings.filter(check="cash_flow_reconciliation")
    assert failing.filter(pl.col("fiscal_year") >= 2019).is_empty(), failing
