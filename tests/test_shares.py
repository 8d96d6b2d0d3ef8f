"""Share figures on one basis, on real filings: Celsius's 3-for-1 split (November 2023) and Ondas's FY2025 10-K,
which tagged its diluted share counts in thousands."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import polars as pl

from generator import facts as facts_stage
from generator.ingest import Ingested, ingest

REAL = Path(__file__).parent / "fixtures" / "real-filings"
CELSIUS, ONDAS = "CIK0001341766", "CIK0001646188"


@cache
def read(name: str) -> tuple[Ingested, pl.DataFrame]:
    ingested = ingest([REAL / f"{name}_companyfacts.json"])
    return ingested, facts_stage.analyse(ingested)[1]


def value(ingested: Ingested, item: str, year: int) -> float:
    return ingested.facts.filter(item=item, fiscal_year=year, fiscal_period="FY")["value"].item()


def test_the_split_is_one_event_with_its_ratio_and_the_filing_that_first_shows_it() -> None:
    _, findings = read("celh")
    splits = findings.filter(check="stock_split")
    assert splits.height == 1
    event = splits.row(0, named=True)
    assert (event["entity_id"], event["severity"]) == (CELSIUS, "info")
    assert event["facts"] == [{"name": "ratio", "value": 3.0}]
    assert event["message"].startswith("3-for-1 stock split, first shown in the figures filed 2024-02-29 "
                                       "(0001341766-24-000015/")


def test_per_share_figures_and_counts_before_the_split_are_on_the_post_split_basis() -> None:
    ingested, _ = read("celh")
    assert value(ingested, "eps_diluted", 2022) == -0.88             # -2.63 as first filed, -0.88 after the split
    fy2020 = ingested.facts.filter(item="shares_diluted", fiscal_year=2020, fiscal_period="FY").row(0, named=True)
    assert fy2020["value"] == 74_444_000 * 3                          # never re-filed after the split
    assert fy2020["source"].endswith("(adjusted for the 3-for-1 stock split)")
    assert fy2020["filed"] == date(2023, 3, 1)


def test_the_split_restates_nothing() -> None:
    ingested, findings = read("celh")
    messages = findings.filter(check="restatement")["message"].to_list()
    assert not [m for m in messages if m.startswith("eps_diluted") and "-2.63" in m]
    annual = ingested.restatements().filter(pl.col("item").is_in(["eps_diluted", "shares_diluted"]),
                                            fiscal_period="FY")
    assert annual.is_empty(), annual


def test_share_counts_tagged_in_thousands_are_scaled_with_a_warning_naming_the_filing() -> None:
    ingested, findings = read("onds")
    assert value(ingested, "shares_diluted", 2025) == 221_769_000
    assert value(ingested, "shares_diluted", 2024) == 69_917_000
    warnings = findings.filter(check="share_count_scale").sort("fiscal_year")
    assert warnings["fiscal_year"].to_list() == [2024, 2025]
    assert warnings["severity"].unique().to_list() == ["warning"]
    assert warnings["entity_id"].unique().to_list() == [ONDAS]
    assert warnings["message"][1] == (
        "diluted shares reported as 221,769 (0001213900-26-035981/us-gaap:WeightedAverageNumberOfDilutedShares"
        "Outstanding): net income over diluted EPS gives 213,282,258, so the figure was tagged in thousands; "
        "read as 221,769,000")
    # FY2024 as first filed (69,917,062) and as re-filed in thousands are one figure, not a restatement.
    assert ingested.restatements().filter(item="shares_diluted", fiscal_year=2024, fiscal_period="FY").is_empty()


def test_a_reverse_split_is_found_too() -> None:
    _, findings = read("onds")
    splits = findings.filter(check="stock_split")
    assert splits["message"].to_list() == [
        "1-for-3 reverse stock split, first shown in the figures filed 2021-03-08 "
        "(0001213900-21-013984/us-gaap:EarningsPerShareBasicAndDiluted): share counts and per-share figures filed "
        "before then are restated on the post-split basis"]
