"""The narrator's training companies filed as real filers file: what real filings lack and carry is there,
every figure still goes through the real pipeline, and the same seed gives the same corpus."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import polars as pl
import pytest

from generator.corpus import company_periods, write_companies
from generator.pipeline import FactsRun, build


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], FactsRun]:
    inputs = write_companies(11, 40, tmp_path_factory.mktemp("corpus"))
    return inputs, build(inputs)


def test_every_row_is_used_and_the_same_seed_writes_the_same_files(corpus: tuple[list[Path], FactsRun],
                                                                   tmp_path: Path) -> None:
    inputs, run = corpus
    ingested = run.ingested
    assert ingested.refused == [] and ingested.rejected.height == 0
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    assert ingested.rows_in == sum(1 for p in inputs for _ in p.open()) - len(inputs)  # every line but headers
    again = write_companies(11, 40, tmp_path)
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in inputs]


def test_companies_look_like_real_filers(corpus: tuple[list[Path], FactsRun]) -> None:
    _, run = corpus
    facts = run.ingested.facts
    periods = facts.group_by("entity_id").agg((pl.col("fiscal_period") == "FY").any().alias("years"),
                                              (pl.col("fiscal_period") != "FY").any().alias("quarters"))
    assert periods.filter(~pl.col("quarters")).height > 0  # annual reports only
    assert periods.filter(~pl.col("years")).height > 0  # quarters only
    items = facts.group_by("entity_id").agg(pl.col("item").n_unique().alias("items"))["items"]
    assert items.min() < items.max()  # items never reported by some
    assert facts.filter(pl.col("item") == "inventory")["entity_id"].n_unique() < 40
    assert facts["currency"].n_unique() >= 3
    revenue = facts.filter(pl.col("item") == "revenue", pl.col("fiscal_period") == "FY")["value"].abs()
    assert math.log10(revenue.max() / revenue.min()) >= 4  # from thousands to billions
    assert run.ingested.restatements()["entity_id"].value_counts()["count"].max() >= 10

    contexts = company_periods(run)
    assert Counter(c.sector is None for c in contexts)[True] > 0
    assert max(len(c.flags) for c in contexts) >= 4  # a company in distress raises many flags at once
    industries = dict(run.analysis.industries.select("entity_id", "industry").iter_rows())
    assert "bank" in industries.values()
