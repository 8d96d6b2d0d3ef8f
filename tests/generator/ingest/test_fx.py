"""FX rates: both layouts read onto one shape, bad rows rejected with their line, and a rate looked up on the day or
shortly before, directly, inverted or crossed, and never made up."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from generator.ingest import ingest
from generator.ingest.base import Probe
from generator.ingest.fx import FX_SCHEMA, STALE_DAYS, converted, layout, missing_rate


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("header", "expected"), [
    ("date,currency,rate_to_usd", "to_base"), ("Date,Currency,Rate_to_EUR,rate_to_usd", "to_base"),
    ("date,base,quote,rate", "pairs"), ("date,currency,rate", None), ("date,AAPL,MSFT", None),
])
def test_an_fx_file_is_recognised_by_its_columns(tmp_path: Path, header: str, expected: str | None) -> None:
    assert layout(Probe(write(tmp_path / "fx.csv", f"{header}\n"))) == expected


def test_both_layouts_become_one_rate_a_day_with_bad_rows_rejected(tmp_path: Path) -> None:
    write(tmp_path / "to_usd.csv", "date,currency,rate_to_usd,rate_to_gbp\n2026-11-27,EUR,1.05,0.83\n"
                                   "2026-11-27,eur,abc,\n2026-13-01,JPY,0.0067,\n2026-11-27,EURO,1.1,\n")
    write(tmp_path / "pairs.csv", "date,base,quote,rate\n2026-11-27,GBP,USD,1.27\n2026-11-27,GBP,USD,1.27\n"
                                  "2026-11-26,USD,USD,1\n2026-11-26,CHF,USD,-1\n")
    ingested = ingest([tmp_path])
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    assert ingested.fx.select("date", "currency", "base", "rate").rows() == [
        (date(2026, 11, 27), "EUR", "GBP", 0.83), (date(2026, 11, 27), "EUR", "USD", 1.05),
        (date(2026, 11, 27), "GBP", "USD", 1.27)]
    assert ingested.fx.schema == pl.Schema(FX_SCHEMA)
    rejected = ingested.rejected.filter(pl.col("item") == "fx rate").sort("file", "line")
    assert list(zip(rejected["file"].map_elements(lambda f: Path(f).name, return_dtype=pl.String).to_list(),
                    rejected["line"].to_list(), rejected["column"].to_list(), rejected["reason"].to_list(),
                    strict=True)) == [
        ("pairs.csv", 3, "rate", f"repeats {tmp_path / 'pairs.csv'}:2"),
        ("pairs.csv", 4, "rate", "a rate of USD to itself"),
        ("pairs.csv", 5, "rate", "rate -1 is not positive"),
        ("to_usd.csv", 3, "rate_to_usd", "rate 'abc' is not a number"),
        ("to_usd.csv", 4, "date", "date '2026-13-01' is not a date (YYYY-MM-DD)"),
        ("to_usd.csv", 5, "currency", "'EURO' is not an ISO 4217 code (USD, EUR, ...)"),
    ]


def test_two_rates_for_one_day_are_both_rejected(tmp_path: Path) -> None:
    write(tmp_path / "fx.csv", "date,base,quote,rate\n2026-11-27,EUR,USD,1.05\n2026-11-27,EUR,USD,1.06\n")
    ingested = ingest([tmp_path])
    assert ingested.fx.is_empty()
    assert ingested.rejected["reason"].str.contains("2 different rates on 2026-11-27").all()


def rates(*rows: tuple[str, str, str, float]) -> pl.DataFrame:
    return pl.DataFrame([(date.fromisoformat(d), c, b, r, f"fx.csv:{i + 2}") for i, (d, c, b, r) in enumerate(rows)],
                        schema=FX_SCHEMA, orient="row")


DAYS = pl.Series([date(2026, 11, 20), date(2026, 11, 27), date(2026, 12, 10)])


def test_a_rate_is_the_days_or_the_last_within_a_week() -> None:
    table = rates(("2026-11-20", "EUR", "USD", 1.05), ("2026-11-25", "EUR", "USD", 1.07))
    got = converted(table, "EUR", "USD", DAYS)
    assert got["rate"].to_list() == [1.05, 1.07, None]  # 2026-12-10 is 15 days after the last rate
    assert got["rate_source"].to_list() == ["fx.csv:2", "fx.csv:3", None]
    assert STALE_DAYS == 7
    assert missing_rate(table, "EUR", "USD", date(2026, 12, 10)) == \
        "no EUR/USD rate within 7 days before 2026-12-10 (the last is on 2026-11-25)"
    assert missing_rate(table, "EUR", "USD", date(2026, 11, 1)) == \
        "no EUR/USD rate on or before 2026-11-01 (the first is on 2026-11-20)"


def test_a_rate_is_inverted_or_crossed_but_never_invented() -> None:
    table = rates(("2026-11-27", "USD", "EUR", 0.8), ("2026-11-27", "GBP", "USD", 1.25))
    assert converted(table, "EUR", "USD", DAYS[1:2])["rate"].to_list() == [1.25]  # 1 / 0.8
    crossed = converted(table, "GBP", "EUR", DAYS[1:2]).row(0, named=True)
    assert crossed["rate"] == pytest.approx(1.25 * 0.8)  # GBP in USD over EUR in USD
    assert crossed["rate_source"] == "fx.csv:3 over 1 / fx.csv:2"
    assert converted(table, "EUR", "EUR", DAYS)["rate"].to_list() == [1.0, 1.0, 1.0]
    assert converted(table, "JPY", "USD", DAYS)["rate"].to_list() == [None, None, None]
    assert missing_rate(table, "JPY", "USD", date(2026, 11, 27)) == "no JPY/USD rate in the FX inputs"
