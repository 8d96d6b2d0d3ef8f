"""Share figures on one basis, on real filings: Celsius's 3-for-1 split (November 2023) and Ondas's FY2025 10-K,
which tagged its diluted share counts in thousands."""

from __future__ import annotations

import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from generator import pipeline
from generator.ingest import Ingested, ingest

REAL = Path(__file__).resolve().parents[2] / "fixtures" / "real-filings"
CELSIUS, ONDAS = "CIK0001341766", "CIK0001646188"


@cache
def read(name: str) -> tuple[Ingested, pl.DataFrame]:
    ingested = ingest([REAL / f"{name}_companyfacts.json"])
    return ingested, pipeline.analyse(ingested)[1]


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


def test_two_splits_apply_one_after_the_other_and_their_product_is_no_third(tmp_path: Path) -> None:
    """A 4-for-1 split first shown in 2021 and a 10-for-1 first shown in 2024 (as NVIDIA's): a FY2019 figure
    filed in 2020 and next in 2024 moved 40-fold, which is both splits, not a split of its own."""
    def year(val: float, end: str, filed: str, accn: str, instant: bool = False) -> dict[str, Any]:
        start = None if instant else f"{int(end[:4])}-01-01"
        return {**({"start": start} if start else {}), "end": end, "val": val, "accn": accn, "fy": 2024, "fp": "FY",
                "form": "10-K", "filed": filed}

    f20, f21, f22, f24 = ("0000000001-20-000001", "2020-02-15"), ("0000000001-21-000001", "2021-02-15"), \
        ("0000000001-22-000001", "2022-02-15"), ("0000000001-24-000001", "2024-02-15")
    eps = [year(4.0, "2019-12-31", f20[1], f20[0]), year(1.0, "2019-12-31", f21[1], f21[0]),
           year(0.1, "2019-12-31", f24[1], f24[0]), year(3.0, "2021-12-31", f22[1], f22[0]),
           year(0.3, "2021-12-31", f24[1], f24[0])]
    shares = [year(100, "2019-12-31", f20[1], f20[0]), year(400, "2019-12-31", f21[1], f21[0]),
              year(4000, "2019-12-31", f24[1], f24[0]), year(500, "2021-12-31", f22[1], f22[0]),
              year(5000, "2021-12-31", f24[1], f24[0]), year(600, "2020-12-31", f21[1], f21[0])]
    facts = {"us-gaap": {
        "EarningsPerShareDiluted": {"label": "EPS", "units": {"USD/shares": eps}},
        "WeightedAverageNumberOfDilutedSharesOutstanding": {"label": "shares", "units": {"shares": shares}},
        "Revenues": {"label": "Revenues", "units": {"USD": [year(1000, "2021-12-31", f22[1], f22[0])]}}}}
    path = tmp_path / "twice.json"
    path.write_text(json.dumps({"cik": 1, "entityName": "Twice Split Inc.", "facts": facts}), encoding="utf-8")
    ingested = ingest([path])
    findings = pipeline.analyse(ingested)[1]
    assert sorted(r["value"] for f in findings.filter(check="stock_split")["facts"] for r in f) == [4.0, 10.0]
    assert value(ingested, "shares_diluted", 2020) == 600 * 10      # filed once, between the two splits
    assert value(ingested, "eps_diluted", 2019) == 0.1
    assert ingested.restatements().is_empty()
