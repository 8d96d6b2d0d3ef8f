"""XBRL fact tables (one row per fact of a filing): Nike's Q3 FY2023 10-Q, and malformed rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from generator.errors import InputFileError
from generator.ingest import Ingested, choose_adapter, ingest, read_file
from generator.ingest.xbrl import SEGMENT
from generator.metrics import compute_metrics
from generator.provenance import Provenance

NIKE = Path(__file__).resolve().parents[2] / "fixtures" / "xbrl-facts" / "nike_10Q_facts.csv"
HEADER = "namespace,fact,value,units,start_date,end_date,dimensions,period"
DEI = ["dei,EntityCentralIndexKey,0000000042,,2024-01-01,2024-03-31,,",
       "dei,EntityRegistrantName,Acme Corp,,2024-01-01,2024-03-31,,"]
TAG = "us-gaap:RevenueFromContractWithCustomerExcludingAssessedTax"


@pytest.fixture(scope="module")
def nike() -> Ingested:
    ingested = ingest([NIKE])
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    return ingested


def value(facts: pl.DataFrame, item: str, year: int, period: str) -> float:
    rows = facts.filter(item=item, fiscal_year=year, fiscal_period=period)
    assert rows.height == 1, rows
    return rows["value"][0]


def test_nike_is_read_by_the_xbrl_facts_adapter() -> None:
    assert choose_adapter(NIKE).name == "xbrl-facts"


def test_nike_quarter_is_its_total_not_the_sum_of_its_segments(nike: Ingested) -> None:
    quarter = (pl.col("start_date") == "2022-12-01") & (pl.col("end_date") == "2023-02-28")
    table = pl.read_csv(NIKE, infer_schema=False).filter(quarter & (pl.col("fact") == TAG.split(":")[1]))
    breakdowns = table.filter(pl.col("dimensions").is_not_null())
    assert breakdowns.height > 50
    assert breakdowns["value"].cast(pl.Float64).sum() > 10 * 12_390_000_000
    revenue = nike.facts.filter(item="revenue", fiscal_year=2023, fiscal_period="Q3").row(0, named=True)
    assert revenue["value"] == 12_390_000_000
    assert (revenue["period_start"], revenue["period_end"]) == (date(2022, 12, 1), date(2023, 2, 28))
    assert revenue["source"] == f"{NIKE}:32 [{TAG}]"
    assert NIKE.read_text().splitlines()[31].startswith("us-gaap,RevenueFromContractWithCustomerExcludingAssessedTax,"
                                                        "12390000000,USD,2022-12-01,2023-02-28,,")
    assert (revenue["entity_id"], revenue["entity_name"]) == ("CIK0000320187", "NIKE, Inc.")


def test_nike_fiscal_year_ends_in_may(nike: Ingested) -> None:
    facts = nike.facts
    assert value(facts, "revenue", 2022, "Q3") == 10_871_000_000
    assert value(facts, "total_assets", 2022, "FY") == 40_321_000_000
    assert facts.filter(item="total_assets", fiscal_year=2022, fiscal_period="FY")["period_end"][0] == date(2022, 5, 31)
    assert value(facts, "total_assets", 2023, "Q3") == 38_294_000_000


def test_nike_nine_months_to_date_are_no_quarter(nike: Ingested) -> None:
    """A 10-Q gives the cash-flow statement for nine months only; without the six months it is no quarter."""
    assert nike.facts.filter(pl.col("item") == "operating_cash_flow").height == 0
    assert read_as_statements(nike).is_empty()


def read_as_statements(ingested: Ingested) -> pl.DataFrame:
    """Rejected rows other than the facts no statement line is made of (unmapped tags, segment breakdowns)."""
    return ingested.rejected.filter(~pl.col("reason").str.starts_with("unmapped item") & (pl.col("reason") != SEGMENT))


def test_facts_no_statement_line_is_made_of_are_listed_not_lost(nike: Ingested) -> None:
    reasons = nike.rejected["reason"].to_list()
    assert "unmapped item 'us-gaap:Depreciation'" in reasons
    assert SEGMENT in reasons
    assert nike.rows_in == nike.accepted_count + nike.rejected.height
    listed = nike.unmapped().filter(item="us-gaap:Depreciation").row(0, named=True)
    first = nike.rejected.filter(item="us-gaap:Depreciation")["line"].min()
    assert (listed["rows"], listed["first_seen"]) == (2, f"{NIKE}:{first}")


def test_nike_ratios_and_derived_total_liabilities(nike: Ingested) -> None:
    analysis = compute_metrics(nike.facts)
    metrics = analysis.metrics.filter(entity_id="CIK0000320187", fiscal_year=2023, fiscal_period="Q3")
    by_name = dict(zip(metrics["metric"], metrics["value"], strict=True))
    assert by_name["current_ratio"] == pytest.approx(26_035 / 9_548)
    assert by_name["gross_margin"] == pytest.approx(5_371 / 12_390)
    assert by_name["net_margin"] == pytest.approx(1_240 / 12_390)
    assert by_name["debt_to_equity"] == pytest.approx((14 + 500 + 8_925) / 14_531)
    assert by_name["liabilities_to_equity"] == pytest.approx((38_294 - 14_531) / 14_531)
    _, sources = Provenance(analysis, nike.facts, "CIK0000320187").of("liabilities_to_equity", 2023, "Q3")
    assert sources[0].startswith("derived: total_liabilities = total_liabilities_and_equity − total_equity")


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *DEI, *lines]) + "\n", encoding="utf-8")
    return path


def test_bad_rows_are_rejected_naming_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path / "facts.csv",
                 "us-gaap,Revenues,1000,USD,2023-01-01,2023-12-31,,",
                 "us-gaap,Revenues,abc,USD,2024-01-01,2024-03-31,,",
                 "us-gaap,Revenues,5,USD,2024-01-01,2024-02-30,,",
                 "us-gaap,Revenues,7,shares,2024-01-01,2024-03-31,,",
                 "us-gaap,Assets,9,USD,2024-02-15,2024-02-15,,",
                 "us-gaap,Revenues,250,USD,2024-01-01,2024-03-31,,",
                 "us-gaap,Revenues,999,USD,2024-01-01,2024-03-31,{'srt:ProductOrServiceAxis': 'x'},")
    ingested = ingest([path])
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height == 7
    assert [(r["line"], r["column"], r["item"], r["value"], r["reason"]) for r in ingested.rejected.to_dicts()] == [
        (5, "value", "us-gaap:Revenues", "abc", "not a number: 'abc'"),
        (6, "end_date", "us-gaap:Revenues", "5", "unparseable date '2024-02-30' (expected YYYY-MM-DD)"),
        (7, "units", "us-gaap:Revenues", "7", "unit 'shares' does not fit revenue (expected USD)"),
        (8, "end_date", "us-gaap:Assets", "9", "2024-02-15 does not close a fiscal quarter"),
        (10, "dimensions", "us-gaap:Revenues", "999", SEGMENT),
    ]
    assert ingested.facts.select("fiscal_year", "fiscal_period", "value", "source").rows() == [
        (2023, "FY", 1000, f"{path}:4 [us-gaap:Revenues]"), (2024, "Q1", 250, f"{path}:9 [us-gaap:Revenues]")]


def test_facts_without_the_filer_s_identity_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "facts.csv"
    path.write_text(f"{HEADER}\nus-gaap,Revenues,1000,USD,2023-01-01,2023-12-31,,\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="no dei:EntityCentralIndexKey fact"):
        read_file(path)
