"""Holdings files: recognised by their columns, every row used or rejected with its line, column and reason, and the
rejections that change what a portfolio holds kept against it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from generator.ingest import Ingested, ingest
from generator.ingest.base import Probe
from generator.ingest.holdings import accepts

PRICES = "entity_id,date,close,currency\nAAA,2026-11-26,10,USD\nAAA,2026-11-27,11,USD\nBBB,2026-11-27,20,EUR\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def checked(paths: list[Path]) -> Ingested:
    ingested = ingest(paths)
    assert ingested.rows_in == ingested.accepted_count + ingested.rejected.height
    return ingested


def book(tmp_path: Path, rows: str, header: str = "portfolio_id,portfolio_name,entity_id,quantity,weight") -> Ingested:
    write(tmp_path / "prices.csv", PRICES)
    write(tmp_path / "holdings.csv", f"{header}\n{rows}")
    return checked([tmp_path / "prices.csv", tmp_path / "holdings.csv"])


def reasons(ingested: Ingested) -> list[tuple[int, str | None, str]]:
    rows = ingested.rejected.filter(pl.col("item") == "holding")
    return list(zip(rows["line"].to_list(), rows["column"].to_list(), rows["reason"].to_list(), strict=True))


@pytest.mark.parametrize(("header", "expected"), [
    ("portfolio_id,entity_id,quantity", True), ("Portfolio_ID,Entity_ID,Weight", True),
    ("portfolio_id,entity_id", False), ("entity_id,quantity", False), ("entity_id,sector", False),
])
def test_a_holdings_file_is_recognised_by_its_columns(tmp_path: Path, header: str, expected: bool) -> None:
    assert accepts(Probe(write(tmp_path / "h.csv", f"{header}\n"))) is expected


def test_good_rows_are_held_with_their_line(tmp_path: Path) -> None:
    ingested = book(tmp_path, "P,Main,AAA,100,\nP,Main,BBB,\"1,000\",\n")
    assert ingested.holdings.select("portfolio_id", "portfolio_name", "entity_id", "quantity").rows() == [
        ("P", "Main", "AAA", 100.0), ("P", "Main", "BBB", 1000.0)]
    assert ingested.holdings["source"].to_list() == [f"{tmp_path / 'holdings.csv'}:2", f"{tmp_path / 'holdings.csv'}:3"]
    assert ingested.blocking == {}
    assert [f.adapter for f in ingested.files if f.path.endswith("holdings.csv")] == ["holdings"]


def test_each_bad_row_is_rejected_with_its_column_and_reason(tmp_path: Path) -> None:
    ingested = book(tmp_path, "\n".join([
        "P,Main,AAA,-5,", "P,Main,,3,", "P,Main,AAA,abc,", "Q,W,AAA,,1.5", "Q,W,AAA,,", ",x,AAA,1,",
        "R,Z,AAA,0,", "S,Y,ZZZ,4,"]) + "\n")
    assert reasons(ingested) == [
        (2, "quantity", "quantity -5 is negative: short positions are not supported"),
        (3, "entity_id", "required value is empty"),
        (4, "quantity", "quantity 'abc' is not a number"),
        (5, "weight", "weight 1.5 is not a fraction from 0 to 1 (write 0.15 for 15%)"),
        (6, "quantity", "neither a quantity nor a weight"),
        (7, "portfolio_id", "required value is empty"),
        (8, "quantity", "a quantity of 0 holds nothing: not counted"),
        (9, "entity_id", "ZZZ is in no input file (no statements, no prices): the holding cannot be valued"),
    ]
    assert ingested.holdings.is_empty()
    # a zero holds nothing and blocks nothing; the others change what their portfolio holds
    assert sorted(ingested.blocking) == ["P", "Q", "S"]
    assert ingested.blocking["S"] == [f"{tmp_path / 'holdings.csv'}:9 entity_id: ZZZ is in no input file (no "
                                      "statements, no prices): the holding cannot be valued"]


def test_rows_that_disagree_with_their_portfolio_are_rejected(tmp_path: Path) -> None:
    ingested = book(tmp_path, "\n".join([
        "P,Main,AAA,10,,USD", "P,Main,AAA,10,,USD", "P,Main,BBB,,0.5,USD", "Q,Two,AAA,5,,USD", "Q,Two,BBB,6,,EUR",
        "Q,Two,AAA,7,,USD"]) + "\n", header="portfolio_id,portfolio_name,entity_id,quantity,weight,base_currency")
    file = tmp_path / "holdings.csv"
    assert reasons(ingested) == [
        (3, "entity_id", f"repeats {file}:2 (same quantity)"),
        (4, "weight", f"portfolio P is held by quantity ({file}:2); this row gives a weight"),
        (6, "base_currency", f"portfolio Q's base currency is USD ({file}:5)"),
        (7, "entity_id", f"AAA is already held at {file}:5 with another quantity: which is true cannot be told"),
    ]
    assert sorted(ingested.blocking) == ["P", "Q"]  # the repeat alone would not have blocked P
    assert len(ingested.blocking["P"]) == 1


def test_dates_codes_and_costs_are_checked(tmp_path: Path) -> None:
    ingested = book(tmp_path, "P,AAA,1,2026-13-01,,,\nP,AAA,1,,-3,,\nP,AAA,1,,,usd,\nP,AAA,1,,,,EURO\n",
                    header="portfolio_id,entity_id,quantity,as_of,cost,currency,base_currency")
    assert [(line, column) for line, column, _ in reasons(ingested)] == [
        (2, "as_of"), (3, "cost"), (5, "base_currency")]
    assert ingested.holdings["currency"].to_list() == ["USD"]  # a code in lower case is read in upper


def test_a_ticker_a_sectors_file_declares_becomes_its_company(tmp_path: Path) -> None:
    write(tmp_path / "facts.csv", "entity_id,entity_name,fiscal_year,fiscal_period,period_end,statement,item,value,"
                                  "currency\nCIK0000000042,Acme,2025,FY,2025-12-31,income,revenue,10,USD\n")
    write(tmp_path / "sectors.csv", "entity_id,sector,ticker\n42,Industrials,AAA\n")
    write(tmp_path / "prices.csv", PRICES)
    write(tmp_path / "holdings.csv", "portfolio_id,entity_id,quantity\nP,AAA,3\nP,CIK42,4\n")
    ingested = checked([tmp_path])
    assert ingested.holdings["entity_id"].to_list() == ["CIK0000000042", "CIK0000000042"]
    assert ingested.holdings["given"].to_list() == ["AAA", "CIK42"]


def test_parquet_holdings_are_read(tmp_path: Path) -> None:
    write(tmp_path / "prices.csv", PRICES)
    pl.DataFrame({"portfolio_id": ["P", "P"], "entity_id": ["AAA", "BBB"], "weight": [0.25, 0.75],
                  "as_of": [date(2026, 11, 27)] * 2}).write_parquet(tmp_path / "book.parquet")
    ingested = checked([tmp_path])
    assert ingested.holdings.select("entity_id", "weight", "as_of").rows() == [
        ("AAA", 0.25, date(2026, 11, 27)), ("BBB", 0.75, date(2026, 11, 27))]
    assert ingested.holdings["source"].to_list() == [f"{tmp_path / 'book.parquet'}:1", f"{tmp_path / 'book.parquet'}:2"]


def test_a_ragged_line_is_rejected_and_blocks_its_portfolio(tmp_path: Path) -> None:
    write(tmp_path / "prices.csv", PRICES)
    write(tmp_path / "h.csv", "portfolio_id,entity_id,quantity\nP,AAA,1\n")
    write(tmp_path / "ragged.csv", "portfolio_id,entity_id,quantity\nQ,AAA,1,extra,fields\n")
    ingested = checked([tmp_path])
    assert ingested.holdings["portfolio_id"].to_list() == ["P"]
    (line, column, reason), = reasons(ingested)
    assert (line, column) == (2, None) and "field" in reason
    assert list(ingested.blocking) == ["Q"]
