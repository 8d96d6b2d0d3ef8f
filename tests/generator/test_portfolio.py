"""Portfolio analytics against oracles: pandas and numpy, written out here, on real prices (20 S&P 500 shares and the
index) for market value, weights, volatility, drawdown and beta; exact sums (weights to one, contributions to the
volatility) on random books; FX conversion by hand; and each portfolio that cannot be valued, with why."""

from __future__ import annotations

import math
import shutil
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from generator import pipeline
from generator.ingest import Ingested
from generator.portfolio import Portfolio, PortfolioFailure

FIXTURES = Path(__file__).parents[1] / "fixtures" / "prices"
AS_OF = date(2022, 12, 28)
TICKERS = ("AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT", "PEP", "PFE",
           "PG", "RRC", "UNH", "WMT", "XOM")


@pytest.fixture(scope="module")
def closes() -> pd.DataFrame:
    """The oracle's view of the prices: pandas, straight from the files."""
    shares = pd.read_csv(FIXTURES / "sp500_dataset.csv.gz", parse_dates=["Date"], index_col="Date")
    index = pd.read_csv(FIXTURES / "sp500_index.csv.gz", parse_dates=["Date"], index_col="Date")
    return shares.join(index)


def run_book(folder: Path, holdings: str, *extra: tuple[str, str], as_of: date = AS_OF,
             benchmark: str | None = "SP500") -> tuple[list[Portfolio], list[PortfolioFailure], Ingested]:
    """Ingest the real prices and a holdings file (and any other files), then value every portfolio."""
    shutil.copy(FIXTURES / "sp500_dataset.csv.gz", folder)
    shutil.copy(FIXTURES / "sp500_index.csv.gz", folder)
    (folder / "holdings.csv").write_text(holdings, encoding="utf-8")
    for name, text in extra:
        (folder / name).write_text(text, encoding="utf-8")
    ingested = pipeline.read_inputs([folder])
    analysis, _ = pipeline.analyse(ingested)
    market = pipeline.price(ingested, as_of, benchmark)
    done, failed = pipeline.hold(ingested, analysis, market, as_of, benchmark)
    return done, failed, ingested


def risk(portfolio: Portfolio, metric: str) -> float | None:
    return next(r["value"] for r in portfolio.risk if r["metric"] == metric)


QUANTITIES = {"AAPL": 120, "MSFT": 45, "JNJ": 80, "XOM": 200, "JPM": 60, "RRC": 500}


def test_value_weights_volatility_drawdown_and_beta_match_an_independent_computation(
        tmp_path: Path, closes: pd.DataFrame) -> None:
    rows = "".join(f"BOOK,Real book,{t},{q}\n" for t, q in QUANTITIES.items())
    (book,), failed, _ = run_book(tmp_path, "portfolio_id,portfolio_name,entity_id,quantity\n" + rows)
    assert failed == []
    value = sum(q * closes[t] for t, q in QUANTITIES.items())  # buy and hold: the quantities never change
    assert book.market_value == pytest.approx(value.iloc[-1], rel=1e-12)
    for h in book.holdings:
        assert h["weight"] == pytest.approx(QUANTITIES[h["entity_id"]] * closes[h["entity_id"]].iloc[-1]
                                            / value.iloc[-1], rel=1e-12)
    assert math.fsum(h["weight"] for h in book.holdings) == pytest.approx(1.0, abs=1e-15)
    for window, size in (("1y", 252), ("3y", 756), ("5y", 1260)):
        span = value.iloc[-size - 1:]
        returns = span.pct_change().dropna()
        market = closes["SP500"].iloc[-size - 1:].pct_change().dropna()
        assert risk(book, f"volatility_{window}") == pytest.approx(returns.std(ddof=1) * math.sqrt(252), rel=1e-9)
        assert risk(book, f"max_drawdown_{window}") == pytest.approx((span / span.cummax() - 1).min(), rel=1e-9)
        assert risk(book, f"return_{window}") == pytest.approx(span.iloc[-1] / span.iloc[0] - 1, rel=1e-9)
        assert risk(book, f"beta_{window}") == pytest.approx(returns.cov(market) / market.var(), rel=1e-9)
        tail = np.percentile(returns, 5)
        assert risk(book, f"var_95_{window}") == pytest.approx(-tail, rel=1e-9)
        assert risk(book, f"cvar_95_{window}") == pytest.approx(-returns[returns <= tail].mean(), rel=1e-9)


def test_risk_contributions_add_up_to_the_volatility_and_match_their_definition(
        tmp_path: Path, closes: pd.DataFrame) -> None:
    rows = "".join(f"BOOK,Real book,{t},{q}\n" for t, q in QUANTITIES.items())
    (book,), _, _ = run_book(tmp_path, "portfolio_id,entity_id,quantity\n" + "".join(
        r.replace("BOOK,Real book,", "BOOK,") for r in rows.splitlines(keepends=True)))
    span = closes[list(QUANTITIES)].iloc[-253:] * pd.Series(QUANTITIES)
    total = span.sum(axis=1)
    parts = span.diff().iloc[1:].div(total.shift(1).iloc[1:], axis=0)  # each holding's part of each day's return
    daily = parts.sum(axis=1)
    one_year = {c["entity_id"]: c for c in book.contributions if c["window"] == "1y"}
    for ticker in QUANTITIES:
        expected = parts[ticker].cov(daily) / daily.std() * math.sqrt(252)
        assert one_year[ticker]["contribution"] == pytest.approx(expected, rel=1e-9)
    assert math.fsum(c["contribution"] for c in one_year.values()) == pytest.approx(risk(book, "volatility_1y"),
                                                                                    rel=1e-12)
    assert math.fsum(c["share"] for c in one_year.values()) == pytest.approx(1.0, rel=1e-12)


def test_concentration_and_exposures(tmp_path: Path) -> None:
    (book,), _, _ = run_book(tmp_path, "portfolio_id,entity_id,weight\nW,AAPL,0.5\nW,MSFT,0.3\nW,KO,0.2\n",
                             ("sectors.csv", "entity_id,sector,country\nAAPL,Technology,United States\n"
                                             "MSFT,Technology,United States\nKO,Consumer,United States\n"))
    assert book.basis == "weight" and book.market_value is None
    assert book.concentration == pytest.approx({
        "top_1": 0.5, "top_5": 1.0, "top_10": 1.0, "herfindahl": 0.38, "effective_holdings": 1 / 0.38,
        "holdings": 3, "largest": "AAPL"})
    assert [(g["name"], g["weight"], g["holdings"]) for g in book.exposures["sector"]] == [
        ("Technology", pytest.approx(0.8), ["AAPL", "MSFT"]), ("Consumer", pytest.approx(0.2), ["KO"])]
    assert book.exposures["country"][0]["name"] == "United States"
    assert [f["message"] for f in book.findings] == [  # the real prices carry no currency
        "neither the prices nor the holdings of AAPL, MSFT, KO give a currency: taken to be the base currency, USD"]


def test_weights_off_by_more_than_half_a_percent_are_scaled_and_said(tmp_path: Path) -> None:
    (tmp_path / "off").mkdir()
    (tmp_path / "near").mkdir()
    (book,), _, _ = run_book(tmp_path / "off", "portfolio_id,entity_id,weight\nW,AAPL,0.6\nW,MSFT,0.5\n")
    assert [h["weight"] for h in book.holdings] == pytest.approx([0.6 / 1.1, 0.5 / 1.1])
    assert [f["check"] for f in book.findings] == ["currency_assumed", "weights_sum"]
    assert "add up to 1.1000" in book.findings[1]["message"]
    (near,), _, _ = run_book(tmp_path / "near", "portfolio_id,entity_id,weight\nW,AAPL,0.5\nW,MSFT,0.503\n")
    assert [f["check"] for f in near.findings] == ["currency_assumed"]


def test_holdings_in_other_currencies_are_converted_at_each_days_rate(tmp_path: Path, closes: pd.DataFrame) -> None:
    days = closes.index[-300:]
    rates = "date,currency,rate_to_usd\n" + "".join(f"{d.date()},EUR,{1 + i / 10_000:.4f}\n"
                                                    for i, d in enumerate(days))
    sectors = "entity_id,sector\n"
    prices = "entity_id,date,close,currency\n" + "".join(f"EUCO,{d.date()},{50 + i / 100:.2f},EUR\n"
                                                         for i, d in enumerate(days))
    (book,), failed, _ = run_book(tmp_path, "portfolio_id,entity_id,quantity,base_currency\nB,AAPL,10,USD\n"
                                            "B,EUCO,20,USD\n", ("fx.csv", rates), ("euco.csv", prices),
                                  ("s.csv", sectors))
    assert failed == []
    euco = next(h for h in book.holdings if h["entity_id"] == "EUCO")
    last = len(days) - 1
    assert euco["fx_rate"] == pytest.approx(1 + last / 10_000)
    assert euco["market_value"] == pytest.approx(20 * (50 + last / 100) * (1 + last / 10_000))
    eur = pd.Series([(50 + i / 100) * (1 + i / 10_000) for i in range(len(days))], index=days)
    value = 10 * closes["AAPL"].loc[days] + 20 * eur
    span = value.iloc[-253:]
    assert risk(book, "volatility_1y") == pytest.approx(span.pct_change().dropna().std() * math.sqrt(252), rel=1e-9)
    assert risk(book, "volatility_3y") is None
    reason = next(r["reason"] for r in book.risk if r["metric"] == "volatility_3y")
    assert reason.endswith(f"(the series starts on {days[0].date()}, with EUCO's closes and EUR/USD rates)")


def test_a_portfolio_that_cannot_be_valued_fails_alone_with_why(tmp_path: Path) -> None:
    done, failed, _ = run_book(tmp_path, "portfolio_id,entity_id,quantity,currency\nGOOD,AAPL,1,\nFX,AAPL,1,\n"
                                         "FX,EUCO,1,\nSHORT,AAPL,-1,\nOLD,STALE,1,\n",
                               ("euco.csv", "entity_id,date,close,currency\nEUCO,2022-12-28,10,EUR\n"
                                            "STALE,2022-11-01,5,USD\n"))
    assert [p.portfolio_id for p in done] == ["GOOD"]
    assert [(f.portfolio_id, f.error) for f in failed] == [
        ("FX", "EUCO is priced in EUR and the portfolio is in USD: no EUR/USD rate in the FX inputs; add the rate to "
               "the FX inputs"),
        ("OLD", "STALE's last close is on 2022-11-01, more than 7 days before 2022-12-28: it cannot be valued at the "
                "as-of date; add its prices"),
        ("SHORT", f"1 row of its holdings rejected ({tmp_path / 'holdings.csv'}:5 quantity: quantity -1 is negative: "
                  "short positions are not supported); fix the holdings file and run again"),
    ]


def test_the_latest_holdings_on_or_before_the_as_of_date_are_used(tmp_path: Path) -> None:
    (book,), _, _ = run_book(tmp_path, "portfolio_id,entity_id,quantity,as_of\nP,AAPL,1,2022-11-30\n"
                                       "P,AAPL,2,2022-12-23\nP,MSFT,3,2022-12-23\nP,KO,9,2023-01-31\n")
    assert book.holdings_as_of == date(2022, 12, 23)
    assert {h["entity_id"]: h["quantity"] for h in book.holdings} == {"AAPL": 2.0, "MSFT": 3.0}


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.sampled_from(TICKERS), st.integers(1, 10_000), min_size=1, max_size=12))
def test_weights_add_to_one_and_contributions_to_the_volatility_for_any_book(
        tmp_path_factory: pytest.TempPathFactory, quantities: dict[str, int]) -> None:
    folder = tmp_path_factory.mktemp("book")
    rows = "".join(f"P,{t},{q}\n" for t, q in quantities.items())
    (book,), _, _ = run_book(folder, "portfolio_id,entity_id,quantity\n" + rows, benchmark=None)
    assert math.fsum(h["weight"] for h in book.holdings) == pytest.approx(1.0, abs=1e-12)
    for window in ("1m", "1y", "5y"):
        volatility = risk(book, f"volatility_{window}")
        parts = [c["contribution"] for c in book.contributions if c["window"] == window]
        assert len(parts) == len(quantities)
        assert math.fsum(parts) == pytest.approx(volatility, rel=1e-9, abs=1e-15)
    assert book.benchmark is None and risk(book, "beta_1y") is None
    assert book.concentration["effective_holdings"] <= len(quantities) + 1e-9


def test_the_value_series_starts_where_every_holding_has_a_close(tmp_path: Path) -> None:
    late = "entity_id,date,close\n" + "".join(f"NEWCO,{d},{10 + i}\n" for i, d in enumerate(
        ("2022-12-20", "2022-12-21", "2022-12-22", "2022-12-23", "2022-12-27", "2022-12-28")))
    (book,), _, _ = run_book(tmp_path, "portfolio_id,entity_id,quantity\nP,AAPL,1\nP,NEWCO,1\n", ("new.csv", late))
    assert book.series["date"].to_list()[0] == date(2022, 12, 20)
    assert risk(book, "return_1m") is None
    assert pl.Series(book.series["value"]).len() == 6


def test_holdings_are_judged_on_the_statements_reported_by_the_as_of_date(tmp_path: Path) -> None:
    """A book valued at the end of 2022 reads its holdings' FY2021 statements, filed in February 2022, not their
    FY2022 ones, filed in 2023; a company whose first statements came later has no fundamentals yet."""
    header = ("entity_id,entity_name,fiscal_year,fiscal_period,period_start,period_end,statement,item,value,currency,"
              "filed\n")
    rows = []
    for year, filed, revenue, income in ((2021, "2022-02-15", 1000, 100), (2022, "2023-02-15", 1000, -50)):
        rows += [f"ACO,Aco,{year},FY,{year}-01-01,{year}-12-31,income,revenue,{revenue},USD,{filed}",
                 f"ACO,Aco,{year},FY,{year}-01-01,{year}-12-31,income,net_income,{income},USD,{filed}"]
    rows.append("LATE,Late Co,2024,FY,2024-01-01,2024-12-31,income,revenue,500,USD,2025-03-01")
    closes = "entity_id,date,close,currency\n" + "".join(f"{e},2022-12-{d},{10 + d},USD\n" for e in ("ACO", "LATE")
                                                         for d in range(19, 29) if date(2022, 12, d).weekday() < 5)
    (book,), _, _ = run_book(tmp_path, "portfolio_id,entity_id,quantity\nP,ACO,10\nP,LATE,10\nP,AAPL,1\n",
                             ("facts.csv", header + "\n".join(rows) + "\n"), ("closes.csv", closes))
    periods = {h["entity_id"]: h["report_period"] for h in book.holdings}
    assert periods == {"ACO": [2021, "FY"], "LATE": None, "AAPL": None}
    margin = next(f for f in book.fundamentals if f["metric"] == "weighted_net_margin")
    assert (margin["value"], margin["holdings"], margin["periods"]) == (pytest.approx(0.1), ["ACO"], {"ACO": "FY2021"})
    assert next(f for f in book.fundamentals if f["metric"] == "loss_share")["value"] == 0.0  # FY2022's loss: later
