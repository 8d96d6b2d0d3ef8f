"""Market analytics against oracles: PerformanceAnalytics' figures for Bacon (2008)'s portfolio to the last printed
digit; the curator's figures for AAPL on real prices; numpy, written out here, for every measure of every window
of real tickers; windows that cannot be taken are absent with the reason; dividends and splits are undone."""

from __future__ import annotations

import json
import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from generator.ingest.prices import PRICES_SCHEMA
from generator.market import (
    MARKET_SCHEMA,
    MEASURES,
    WINDOWS,
    known_facts,
    market_metrics,
    market_table,
    metric_names,
    total_return_levels,
    valuation,
    window_measures,
)

from builders import facts_frame

FIXTURES = Path(__file__).parents[1] / "fixtures"
AS_OF = date(2022, 12, 28)


@pytest.fixture(scope="module")
def wide() -> pl.DataFrame:
    """The real prices: 20 tickers' adjusted closes and the S&P 500 on the same 8,313 days."""
    prices = pl.read_csv(FIXTURES / "prices" / "sp500_dataset.csv.gz", try_parse_dates=True)
    index = pl.read_csv(FIXTURES / "prices" / "sp500_index.csv.gz", try_parse_dates=True)
    return prices.join(index, on="Date")


@pytest.fixture(scope="module")
def levels(wide: pl.DataFrame) -> pl.DataFrame:
    long = wide.unpivot(index="Date", variable_name="entity_id", value_name="close").rename({"Date": "date"})
    return total_return_levels(long)


def test_bacon_2008_matches_performance_analytics_to_the_last_digit() -> None:
    bacon = json.loads((FIXTURES / "market" / "bacon2008.json").read_text())
    returns = bacon["returns"]
    months = [date(2000 + i // 12, i % 12 + 1, 1) for i in range(len(returns) + 1)]
    closes = pl.DataFrame({"entity_id": "BACON", "window": "all", "date": months,
                           "level": np.cumprod([1.0, *(1 + r for r in returns)]), "r": [None, *returns]})
    (row,) = window_measures(closes, periods=bacon["periods"]).iter_rows(named=True)
    for measure, expected in bacon["expected"].items():
        assert row[measure] == expected["value"], (measure, row[measure], expected)
    assert row["peak_date"] < row["trough_date"]


def test_aapl_against_the_index_matches_the_curators_figures(levels: pl.DataFrame) -> None:
    span = levels.filter(pl.col("date").is_between(date(2018, 1, 2), AS_OF))
    own = span.filter(pl.col("entity_id") == "AAPL").with_columns(window=pl.lit("2018-2022"))
    bench = span.filter(pl.col("entity_id") == "SP500").select("date", bench_level="level")
    (row,) = window_measures(own.join(bench, on="date", how="left")).iter_rows(named=True)
    assert row["volatility"] == pytest.approx(0.3348938836, abs=1e-9)
    assert row["max_drawdown"] == pytest.approx(-0.3851545651, abs=1e-9)
    assert (row["peak_date"], row["trough_date"]) == (date(2018, 10, 3), date(2019, 1, 3))
    assert row["beta"] == pytest.approx(1.2275929886, abs=1e-9)
    assert row["correlation"] == pytest.approx(0.8017439679, abs=1e-9)
    assert row["return"] == pytest.approx(2.0778311129, abs=1e-9)
    assert row["returns"] == 1256


def _numpy(close: np.ndarray, bench: np.ndarray) -> dict[str, float]:
    """Every measure of one window, from its closes, the way a careful analyst writes it in numpy."""
    r, m = close[1:] / close[:-1] - 1, bench[1:] / bench[:-1] - 1
    wealth = close / close[0]
    drawdown = wealth / np.maximum.accumulate(wealth) - 1
    tail = np.percentile(r, 5)
    total = close[-1] / close[0] - 1
    return {"return": total, "return_ann": (1 + total) ** (252 / len(r)) - 1,
            "volatility": r.std(ddof=1) * math.sqrt(252), "max_drawdown": drawdown.min(),
            "beta": np.cov(r, m, ddof=1)[0, 1] / m.var(ddof=1), "correlation": np.corrcoef(r, m)[0, 1],
            "sharpe": r.mean() / r.std(ddof=1) * math.sqrt(252),
            "sortino": r.mean() / math.sqrt((np.minimum(r, 0) ** 2).mean()) * math.sqrt(252),
            "var_95": -tail, "cvar_95": -r[r <= tail].mean(),
            "relative_return": total - (bench[-1] / bench[0] - 1)}


@pytest.mark.parametrize("ticker", ["AAPL", "GE", "JPM", "RRC", "XOM"])
def test_every_measure_of_every_window_matches_numpy_on_real_prices(wide: pl.DataFrame, levels: pl.DataFrame,
                                                                    ticker: str) -> None:
    metrics = market_metrics(levels, AS_OF, benchmarks={ticker: "SP500"}).filter(pl.col("entity_id") == ticker)
    assert metrics["metric"].to_list() == metric_names()
    rows = wide.filter(pl.col("Date") <= AS_OF)
    for window, size in WINDOWS.items():
        part = rows.filter(pl.col("Date") >= rows.filter(pl.col("Date") < date(2022, 1, 1))["Date"].max()) \
            if size is None else rows.tail(size + 1)
        expected = _numpy(part[ticker].to_numpy(), part["SP500"].to_numpy())
        for measure in MEASURES:
            if window not in measure.windows:
                continue
            got = metrics.filter(pl.col("metric") == f"{measure.name}_{window}").row(0, named=True)
            assert got["reason"] is None, got
            assert got["value"] == pytest.approx(expected[measure.name], rel=1e-9, abs=1e-12), (measure.name, window)
            assert (got["start"], got["end"]) == (part["Date"][0], part["Date"][-1])


def test_windows_that_cannot_be_taken_are_absent_with_the_reason(levels: pl.DataFrame) -> None:
    young = levels.filter((pl.col("entity_id") == "AAPL") & (pl.col("date") >= date(2020, 6, 1)))
    gone = levels.filter((pl.col("entity_id") == "GE") & (pl.col("date") <= date(2022, 12, 1)))
    fresh = levels.filter((pl.col("entity_id") == "KO") & (pl.col("date") >= date(2022, 3, 1)))
    metrics = market_metrics(pl.concat([young, gone, fresh]), AS_OF)
    reasons = {(r["entity_id"], r["metric"]): r["reason"] for r in metrics.iter_rows(named=True)}
    assert reasons[("AAPL", "volatility_1y")] is None
    closes = young.height
    assert reasons[("AAPL", "volatility_3y")] == f"needs 756 daily returns (757 closes) up to {AS_OF}; there are " \
                                                 f"{closes} closes"
    assert reasons[("AAPL", "return_ann_5y")] == reasons[("AAPL", "volatility_5y")] is not None
    assert reasons[("AAPL", "beta_1y")].startswith("no benchmark is set")
    last = gone["date"].max()
    assert all(reasons[("GE", name)] == f"the last close is on {last}, more than 7 days before {AS_OF}"
               for name in metric_names())
    assert reasons[("KO", "return_ytd")] == "no close before 2022-01-01 to start the year from"
    assert reasons[("KO", "return_1m")] is None
    assert metrics.filter(pl.col("reason").is_not_null())["value"].null_count() == \
        metrics.filter(pl.col("reason").is_not_null()).height


def test_the_benchmark_itself_has_no_beta_nor_has_a_benchmark_without_prices(levels: pl.DataFrame) -> None:
    metrics = market_metrics(levels.filter(pl.col("entity_id").is_in(["SP500", "MSFT", "KO"])), AS_OF,
                             benchmarks={"SP500": "SP500", "MSFT": "SP500", "KO": "NDX"})
    beta = {r["entity_id"]: r for r in metrics.filter(pl.col("metric") == "beta_1y").iter_rows(named=True)}
    assert beta["SP500"]["reason"] == "it is the benchmark" and beta["SP500"]["value"] is None
    assert beta["MSFT"]["value"] is not None and beta["MSFT"]["benchmark"] == "SP500"
    assert beta["KO"]["reason"] == f"the benchmark NDX has no prices up to {AS_OF}"


def test_a_share_that_never_moved_has_no_volatility_and_no_negative_zero() -> None:
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(30)]
    flat = total_return_levels(pl.DataFrame({"entity_id": "FLAT", "date": days, "close": [10.0] * 30}))
    rows = {r["metric"]: r for r in market_metrics(flat, days[-1]).iter_rows(named=True)}
    assert rows["volatility_1m"]["reason"] == rows["sharpe_1m"]["reason"] == "the price never moved in the window"
    assert rows["var_95_1m"]["value"] == 0.0 and math.copysign(1, rows["var_95_1m"]["value"]) == 1.0
    assert rows["max_drawdown_1m"]["value"] == 0.0 and rows["max_drawdown_1m"]["peak_date"] is None


def test_dividends_are_reinvested_and_a_split_is_no_fall() -> None:
    """A 2-for-1 split halves the close and a dividend is paid out of it: neither is a loss to the holder."""
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(5)]
    prices = pl.DataFrame({"entity_id": "X", "date": days, "close": [100.0, 102.0, 51.0, 50.0, 52.0],
                           "dividend": [0.0, 0.0, 0.0, 1.0, 0.0], "split_ratio": [1.0, 1.0, 2.0, 1.0, 1.0]})
    levels = total_return_levels(prices)
    r = (levels["level"] / levels["level"].shift(1) - 1).to_list()[1:]
    assert r == pytest.approx([0.02, 0.0, 0.0, 0.04])  # the split day and the dividend day: nothing lost
    assert levels["level"][0] == 100.0
    (row,) = window_measures(levels.with_columns(window=pl.lit("all"))).iter_rows(named=True)
    assert row["return"] == pytest.approx(1.02 * 1.04 - 1)
    assert row["max_drawdown"] == 0.0 and row["peak_date"] is None


QUARTER = {"revenue": 250.0, "net_income": 25.0, "operating_income": 40.0, "depreciation_amortization": 10.0,
           "operating_cash_flow": 35.0, "capex": 15.0}
BALANCE = {"shares_outstanding": 100.0, "total_equity": 500.0, "total_debt": 200.0, "cash": 50.0}


def statements(entity: str = "ACME", **changes: float) -> pl.DataFrame:
    """Four quarters of 2024 and Q1 2025, each filed 30 days after its end; ``changes`` override Q1 2025."""
    periods = {(entity, 2024, q): QUARTER | BALANCE for q in ("Q1", "Q2", "Q3", "Q4")}
    periods[(entity, 2025, "Q1")] = QUARTER | BALANCE | changes
    facts = facts_frame(periods)
    return facts.with_columns(filed=pl.col("period_end") + timedelta(days=30))


def quotes(entity: str = "ACME", close: float = 20.0, **columns: list) -> pl.DataFrame:
    days = [date(2025, 6, 2) + timedelta(days=i) for i in range(5)]
    return pl.DataFrame({"entity_id": entity, "date": days, "close": [close] * 5, "adj_close": None,
                         "dividend": columns.get("dividend"), "split_ratio": columns.get("split_ratio"),
                         "currency": "USD", "source": [f"prices.csv:{i + 2}" for i in range(5)]},
                        schema=PRICES_SCHEMA)


def values(frame: pl.DataFrame, entity: str = "ACME") -> dict[str, tuple[float | None, str | None]]:
    return {r["metric"]: (r["value"], r["reason"]) for r in frame.filter(pl.col("entity_id") == entity).iter_rows(
        named=True)}


def test_valuation_uses_the_statements_known_at_the_price_date_only() -> None:
    """Q1 2025 (filed 2025-04-30) is known on 2025-06-06; a restatement of its net income filed on 2025-07-15 is
    not, and neither is Q2 2025, filed 2025-07-30: the price date sees the figures as filed then."""
    facts = statements()
    restated = facts.filter((pl.col("fiscal_year") == 2025) & (pl.col("item") == "net_income")).with_columns(
        value=pl.lit(-80.0), filed=pl.lit(date(2025, 7, 15)), source=pl.lit("restated"))
    original = facts.filter((pl.col("fiscal_year") == 2025) & (pl.col("item") == "net_income"))
    current = pl.concat([facts.filter(~((pl.col("fiscal_year") == 2025) & (pl.col("item") == "net_income"))),
                         restated, facts_frame({("ACME", 2025, "Q2"): QUARTER | BALANCE}).with_columns(
                             filed=pl.lit(date(2025, 7, 30)), value=pl.col("value") * 10)])
    as_of = date(2025, 6, 6)
    known = known_facts(current, original, as_of)
    assert known.filter((pl.col("fiscal_year") == 2025) & (pl.col("fiscal_period") == "Q2")).height == 0
    assert known.filter((pl.col("fiscal_year") == 2025) & (pl.col("item") == "net_income"))["value"].to_list() == [25.0]
    got = values(valuation(quotes(), known, as_of))
    assert got["market_cap"] == (2000.0, None)
    assert got["pe_ttm"] == (pytest.approx(2000.0 / 100.0), None)  # four quarters of 25, not the restated loss
    assert got["enterprise_value"] == (2000.0 + 200.0 - 50.0, None)
    assert got["ev_ebitda"] == (pytest.approx(2150.0 / 200.0), None)
    assert got["ev_sales"] == (pytest.approx(2150.0 / 1000.0), None)
    assert got["fcf_yield"] == (pytest.approx(80.0 / 2000.0), None)
    assert got["pb"] == (pytest.approx(4.0), None)
    later = values(valuation(quotes(), known_facts(current, original, date(2025, 8, 1)), date(2025, 8, 1)))
    assert later["market_cap"][1] == "the last close is on 2025-06-06, more than 7 days before 2025-08-01"


def test_a_figure_without_a_filing_date_is_known_after_the_lag() -> None:
    facts = statements().with_columns(filed=pl.lit(None, pl.Date))  # Q1 2025 ends 2025-03-31: known 2025-05-30
    early, late = date(2025, 5, 29), date(2025, 5, 30)
    assert known_facts(facts, facts.clear(), early)["fiscal_year"].max() == 2024
    assert known_facts(facts, facts.clear(), late)["fiscal_year"].max() == 2025


def test_ratios_outside_their_domain_are_absent_with_the_reason() -> None:
    losses = statements(net_income=-400.0, total_equity=-10.0, operating_income=-300.0)
    got = values(valuation(quotes(), known_facts(losses, losses.clear(), date(2025, 6, 6)), date(2025, 6, 6)))
    assert got["pe_ttm"] == (None, "not meaningful: net income over the last twelve months is a loss")
    assert got["pb"] == (None, "not meaningful: equity is negative")
    assert got["ev_ebitda"] == (None, "not meaningful: EBITDA over the last twelve months is negative")
    assert got["earnings_yield"][0] == pytest.approx((75.0 - 400.0) / 2000.0)  # a negative yield says a loss


def test_a_split_after_the_balance_sheet_puts_the_shares_on_todays_basis() -> None:
    facts = statements()
    split = quotes(close=10.0, split_ratio=[None, 2.0, None, None, None])
    got = valuation(split, known_facts(facts, facts.clear(), date(2025, 6, 6)), date(2025, 6, 6))
    cap = got.filter(pl.col("metric") == "market_cap").row(0, named=True)
    assert (cap["value"], cap["shares"], cap["split_factor"]) == (2000.0, 200.0, 2.0)
    assert cap["price_source"] == "prices.csv:6" and cap["period"] == "Q1 FY2025" and "test:ACME:2025Q1:" in \
        " ".join(cap["sources"])


def test_each_ratio_is_set_against_its_sectors_median() -> None:
    facts = pl.concat([statements("A"), statements("B"), statements("C", net_income=50.0)])
    prices = pl.concat([quotes("A", 20.0), quotes("B", 30.0), quotes("C", 40.0)])
    known = known_facts(facts, facts.clear(), date(2025, 6, 6))
    got = valuation(prices, known, date(2025, 6, 6), sectors={"A": "Tech", "B": "Tech", "C": "Energy"})
    pe = {e: values(got, e)["pe_ttm"][0] for e in "ABC"}
    assert values(got, "A")["pe_ttm_vs_sector"][0] == pytest.approx(pe["A"] / ((pe["A"] + pe["B"]) / 2))
    assert values(got, "C")["pe_ttm_vs_sector"] == (None, "fewer than two companies of Energy have a pe_ttm")


def test_a_sector_median_needs_two_companies_and_a_ratio_of_opposite_signs_says_nothing() -> None:
    """One company's own figure is no sector median; an FCF yield of -87% against a median of +1.3% is no
    "-69 times the median"."""
    facts = pl.concat([statements("A"), statements("B"), statements("C", operating_cash_flow=-500.0),
                       statements("D")])
    prices = pl.concat([quotes("A", 20.0), quotes("B", 30.0), quotes("C", 40.0), quotes("D", 25.0)])
    known = known_facts(facts, facts.clear(), date(2025, 6, 6))
    got = valuation(prices, known, date(2025, 6, 6), sectors={"A": "Tech", "B": "Tech", "C": "Tech", "D": "Energy"})
    rows = {(r["entity_id"], r["metric"]): r for r in got.iter_rows(named=True)}
    alone = rows[("D", "pe_ttm_vs_sector")]
    assert (alone["value"], alone["sector_median"], alone["sector_companies"]) == (None, None, 1)
    crossed = rows[("C", "fcf_yield_vs_sector")]
    assert rows[("C", "fcf_yield")]["value"] < 0 < crossed["sector_median"]
    assert (crossed["value"], crossed["reason"]) == (
        None, "not meaningful: the figure and the sector's median have opposite signs")
    assert rows[("A", "pe_ttm_vs_sector")]["sector_companies"] == 3


def test_a_valuation_names_the_close_and_the_filing_lines_of_the_items_it_read() -> None:
    """P/B reads the shares and the equity of the latest balance sheet, not its revenue; a flow over the last
    twelve months reads the four quarters it adds up."""
    facts = statements()
    got = valuation(quotes(), known_facts(facts, facts.clear(), date(2025, 6, 6)), date(2025, 6, 6))
    sources = {r["metric"]: r["sources"] for r in got.iter_rows(named=True)}
    balance = {s for s in sources["pb"] if s.startswith("test:")}
    assert sources["pb"][0] == "prices.csv:6"
    assert all(":2025Q1:" in s for s in balance) and {s.rsplit(":", 1)[-1] for s in balance} == {
        "shares_outstanding", "total_equity"}
    revenue = [s for s in sources["ev_sales"] if s.endswith(":revenue")]
    assert len(revenue) == 4  # Q2 2024 to Q1 2025


def test_market_table_holds_every_metric_with_its_window_unit_and_sources() -> None:
    """One table for market.json: measures with their windows and the price lines of each window's ends (the
    benchmark's too), valuations with theirs, each with its unit."""
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(40)]
    closes = [100.0 * (1.01 if i % 3 else 0.99) ** i for i in range(40)]
    prices = pl.DataFrame({"entity_id": ["ACME"] * 40 + ["IDX"] * 40, "date": days * 2,
                           "close": closes + [1000.0 + i for i in range(40)], "adj_close": None, "dividend": None,
                           "split_ratio": None, "currency": "USD",
                           "source": [f"p.csv:{i + 2}" for i in range(80)]}, schema=PRICES_SCHEMA)
    facts = statements()
    table = market_table(prices, facts, facts.clear(), days[-1], benchmarks={"ACME": "IDX"})
    assert set(table.columns) == set(MARKET_SCHEMA)
    rows = {(r["entity_id"], r["metric"]): r for r in table.iter_rows(named=True)}
    beta = rows[("ACME", "beta_1m")]
    assert (beta["unit"], beta["window"], beta["benchmark"], beta["observations"]) == ("ratio", "1m", "IDX", 21)
    assert beta["sources"] == ["p.csv:20", "p.csv:41", "p.csv:60", "p.csv:81"]  # share's ends, then the index's
    assert rows[("ACME", "volatility_1m")]["sources"] == ["p.csv:20", "p.csv:41"]
    assert rows[("ACME", "return_1y")]["reason"].startswith("needs 252 daily returns")
    assert rows[("ACME", "pe_ttm")]["unit"] == "multiple" and rows[("ACME", "market_cap")]["unit"] == "currency"
    assert rows[("IDX", "beta_1m")]["reason"].startswith("no benchmark is set for it")
    assert (rows[("IDX", "pe_ttm")]["value"], rows[("IDX", "pe_ttm")]["reason"]) == (
        None, "no statements are in the inputs")
    late = market_table(prices, facts.with_columns(filed=pl.lit(date(2025, 3, 1))), facts.clear(), days[-1])
    assert late.filter(pl.col("metric") == "pb").rows(named=True)[0]["reason"] == (
        "no statement is known by 2025-02-09 (the first was filed on 2025-03-01)")  # filed after the last close
