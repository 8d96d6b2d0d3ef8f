"""Price tables: recognised by their columns, every row used or rejected with its line, column and reason, a day
given twice resolved, splits nobody declared read as splits, gaps said."""

from __future__ import annotations

import gzip
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from generator.ingest.base import Probe
from generator.ingest.prices import adjusted, layout, read_all
from generator.market import total_return_levels

FIXTURES = Path(__file__).parents[2] / "fixtures"

HOSTILE = """entity_id,date,close,dividend,split_ratio,currency
ACME,2024-01-03,100,,,usd
ACME,2024-01-02,99,,,usd
ACME,2024-01-04,101,,,usd
ACME,2024-01-05,x,,,usd
ACME,2024-01-08,-3,,,usd
ACME,2024-01-09,102,,,usd
ACME,2024-01-09,102,,,usd
ACME,2024-01-10,52,,,usd
ACME,2024-01-10,53,,,usd
,2024-01-11,52,,,usd
ACME,2024-13-11,52,,,usd
ACME,2024-01-30,104,0.5,,usd
ACME,2024-01-31,105,-1,,usd
BETA,2024-01-02,10,,,
BETA,2024-01-03,30.1,,,
BETA,2024-01-04,30.3,,,
"""


def test_every_row_is_used_or_rejected_with_its_line_column_and_reason(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HOSTILE)
    out = read_all([path])
    assert out.rows == {path: 16}
    assert out.prices.height + out.rejected.height == 16
    assert [(r["line"], r["column"], r["value"], r["reason"]) for r in out.rejected.iter_rows(named=True)] == [
        (5, "close", "x", "close 'x' is not a number"),
        (6, "close", "-3", "close -3 is not positive"),
        (11, "entity_id", "52", "no entity_id"),
        (12, "date", "52", "date '2024-13-11' is not a date (YYYY-MM-DD)"),
        (14, "dividend", "105", "dividend -1 is negative"),
        (8, "date", "102", f"repeats {path}:7: ACME on 2024-01-09"),
        (9, "close", "52", f"ACME has 2 different closes on 2024-01-10 ({path}:9, {path}:10): which is true cannot "
                           "be told"),
        (10, "close", "53", f"ACME has 2 different closes on 2024-01-10 ({path}:9, {path}:10): which is true "
                            "cannot be told"),
    ]
    acme = out.prices.filter(pl.col("entity_id") == "ACME")
    assert acme["date"].to_list() == [date(2024, 1, d) for d in (2, 3, 4, 9, 30)]  # sorted, not rejected
    assert acme["source"].to_list() == [f"{path}:{n}" for n in (3, 2, 4, 7, 13)]
    assert acme["currency"].unique().to_list() == ["USD"] and acme["dividend"].to_list()[-1] == 0.5


def test_a_split_nobody_declared_is_read_as_one_and_a_gap_is_said(tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(HOSTILE)
    out = read_all([path])
    findings = {(r["entity_id"], r["check"]): r for r in out.findings.iter_rows(named=True)}
    split = findings[("BETA", "split_detected")]
    assert split["date"] == date(2024, 1, 3)
    assert split["message"] == ("the close moved from 10.0 to 30.1 on 2024-01-03 with no split declared: read as a "
                                "split of 0.3333 new shares per old (declare split_ratio to confirm or correct it)")
    assert findings[("ACME", "price_gap")]["message"] == "no close between 2024-01-09 and 2024-01-30 (21 days)"
    beta = total_return_levels(out.prices.filter(pl.col("entity_id") == "BETA"))["level"].to_list()
    assert beta[1] / beta[0] - 1 == pytest.approx(30.1 / 30 - 1)  # a reverse split, not a 201% day
    declared = tmp_path / "declared.csv"
    declared.write_text("entity_id,date,close,split_ratio\nBETA,2024-01-02,10,\nBETA,2024-01-03,30.1,0.5\n")
    assert read_all([declared]).findings.height == 0  # a declared ratio is taken as it is


def test_a_wide_table_of_closes_keeps_its_tickers_and_cites_their_column(tmp_path: Path) -> None:
    path = tmp_path / "sp500_index.csv"
    with gzip.open(FIXTURES / "prices" / "sp500_index.csv.gz", "rb") as source, path.open("wb") as target:
        shutil.copyfileobj(source, target)
    assert layout(Probe(path)) == "wide"
    out = read_all([path])
    assert out.rows == {path: 8313} and out.rejected.height == 0 and out.findings.height == 0
    first = out.prices.row(0, named=True)
    assert (first["entity_id"], first["date"], first["close"]) == ("SP500", date(1990, 1, 2), 359.69)
    assert first["source"] == f"{path}:2 SP500"


def test_parquet_and_json_lines_tables_are_read_like_csv(tmp_path: Path) -> None:
    frame = pl.DataFrame({"ticker": ["X", "X"], "date": ["2024-01-02", "2024-01-03"], "close": [10.0, 0.0]})
    frame.write_parquet(tmp_path / "p.parquet")
    frame.write_ndjson(tmp_path / "p.jsonl")
    for name in ("p.parquet", "p.jsonl"):
        path = tmp_path / name
        assert layout(Probe(path)) == "long"
        out = read_all([path])
        assert out.prices["close"].to_list() == [10.0]
        assert out.rejected.select("line", "column", "reason").row(0) == (2, "close", "close 0.0 is not positive")


def test_statements_and_sectors_are_not_prices(tmp_path: Path) -> None:
    files = {"long.csv": "entity_id,fiscal_year,fiscal_period,item,value\n",
             "wide.csv": "entity_id,fiscal_year,fiscal_period,period_end,revenue\n",
             "sectors.csv": "entity_id,sector\n", "statement.csv": "Label,Sep. 30 2023\n"}
    for name, header in files.items():
        (tmp_path / name).write_text(header)
        assert layout(Probe(tmp_path / name)) is None, name


def test_a_file_that_cannot_be_read_is_refused_and_the_others_go_on(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text("entity_id,date,close\nX,2024-01-02,10\n")
    bad.write_text("entity_id,date\nX,2024-01-02\n")
    out = read_all([bad, good])
    assert [e.reason for e in out.refused] == ["a price table needs the columns entity_id, date and close; close "
                                               "missing"]
    assert out.prices.height == 1 and out.rejected["reason"].to_list() == [f"file refused: {out.refused[0].reason}"]


def test_a_real_adjusted_series_with_an_unadjusted_split_is_caught() -> None:
    """The curated S&P 500 constituents' adjusted closes still hold one 3-for-1 split: RRC on 1990-04-10."""
    path = FIXTURES / "prices" / "sp500_dataset.csv.gz"
    wide = pl.read_csv(path, try_parse_dates=True)
    long = wide.unpivot(index="Date", variable_name="entity_id", value_name="close").rename({"Date": "date"})
    prices = long.with_columns(adj_close=pl.lit(None, pl.Float64), dividend=pl.lit(None, pl.Float64),
                               split_ratio=pl.lit(None, pl.Float64))
    _, findings = adjusted(prices)
    assert findings.select("entity_id", "date", "check").rows() == [("RRC", date(1990, 4, 10), "split_detected")]
