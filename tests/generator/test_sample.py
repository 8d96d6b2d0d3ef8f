"""The sample data is what every later stage is tested against, so its accounting must be exact."""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import polars as pl
import pytest

from generator.ingest import Ingested, ingest
from generator.market import known_facts, total_return_levels, valuation
from generator.sample import (
    COUNTRIES,
    LABELS,
    LONG_COLUMNS,
    MARKET_INDEX,
    PROFILES,
    ROLES,
    WIDE_ID_COLUMNS,
    generate,
    write_sample,
)
from generator.schema import canonical_items, currencies, items, resolve_label

CURRENCY_FLOWS = [i for i in LABELS if items()[i].kind == "flow" and items()[i].unit == "currency"]
BALANCES = [i for i in LABELS if items()[i].statement == "balance"]


@dataclass(frozen=True)
class Period:
    entity_id: str
    fiscal_year: int
    fiscal_period: str
    start: date
    end: date
    values: dict[str, float]


def _periods(rows: list[dict]) -> dict[tuple[str, int, str], Period]:
    """Latest filed value per item, as the ingest would resolve restatements."""
    latest: dict[tuple[str, int, str], dict[str, tuple[date, float]]] = defaultdict(dict)
    spans: dict[tuple[str, int, str], tuple[date, date]] = {}
    for r in rows:
        key = (r["entity_id"], r["fiscal_year"], r["fiscal_period"])
        seen = latest[key].get(r["item"])
        if seen is None or r["filed"] > seen[0]:
            latest[key][r["item"]] = (r["filed"], r["value"])
        if r["period_start"] is not None:
            spans[key] = (r["period_start"], r["period_end"])
    return {
        key: Period(*key, *spans[key], {item: value for item, (_, value) in values.items()})
        for key, values in latest.items()
    }


def _previous(periods: dict[tuple[str, int, str], Period]) -> list[tuple[Period, Period]]:
    """Pairs of (period, the same-length period just before it) where both were reported."""
    by_end = {(p.entity_id, p.fiscal_period == "FY", p.end): p for p in periods.values()}
    pairs = []
    for p in periods.values():
        before = by_end.get((p.entity_id, p.fiscal_period == "FY", p.start - timedelta(days=1)))
        if before is not None:
            pairs.append((p, before))
    return pairs


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return generate()


@pytest.fixture(scope="module")
def periods(rows: list[dict]) -> dict[tuple[str, int, str], Period]:
    return _periods(rows)


@pytest.fixture(scope="module")
def peer_periods() -> dict[tuple[str, int, str], Period]:
    """Two rounds of resized peers, so the identities are checked beyond the hand-tuned companies."""
    return _periods(generate(seed=11, n_companies=3 * len(PROFILES)))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _fy(periods: dict[tuple[str, int, str], Period], role: str, year: int) -> dict[str, float]:
    return periods[(ROLES[role], year, "FY")].values


def _current_ratio(v: dict[str, float]) -> float:
    return v["current_assets"] / v["current_liabilities"]


def test_same_seed_writes_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a", seed=3, as_of=AS_OF)
    write_sample(tmp_path / "b", seed=3, as_of=AS_OF)
    write_sample(tmp_path / "c", seed=4, as_of=AS_OF)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert (tmp_path / "a" / "long" / "facts.csv").read_bytes() != (tmp_path / "c" / "long" / "facts.csv").read_bytes()
    assert first.long_csv == tmp_path / "a" / "long" / "facts.csv"
    assert [p.stem for p in first.wide_files] == first.entities
    assert first.rows == len(generate(seed=3))


def test_more_companies_keep_the_first_ones_and_stale_wide_files_go(tmp_path: Path) -> None:
    big = write_sample(tmp_path, n_companies=20)
    assert len(set(big.entities)) == 20
    small = write_sample(tmp_path, n_companies=14)
    assert sorted(p.name for p in (tmp_path / "wide").iterdir()) == sorted(f"{e}.csv" for e in small.entities)
    first = [r for r in generate(n_companies=20) if r["entity_id"] in small.entities]
    assert first == generate(n_companies=14)


def test_companies_sectors_currencies(rows: list[dict]) -> None:
    entities = {r["entity_id"] for r in rows}
    assert len(entities) >= 14
    assert len({r["sector"] for r in rows}) >= 4
    assert {r["currency"] for r in rows} <= currencies()
    assert len({r["currency"] for r in rows}) >= 3
    assert set(ROLES) >= {"cash_cow", "loss_maker", "non_calendar", "missing_quarter", "restated", "non_usd", "grower"}
    assert set(ROLES.values()) <= entities


def test_twelve_quarters_and_three_years_except_the_missing_quarter(periods: dict) -> None:
    expected = {(y, q) for y in (2023, 2024, 2025) for q in ("Q1", "Q2", "Q3", "Q4", "FY")}
    by_entity: dict[str, set[tuple[int, str]]] = defaultdict(set)
    for entity, year, period in periods:
        by_entity[entity].add((year, period))
    for entity, reported in by_entity.items():
        missing = {(2024, "Q2")} if entity == ROLES["missing_quarter"] else set()
        assert reported == expected - missing, entity


def test_every_period_reports_every_canonical_item_but_total_debt(periods: dict) -> None:
    expected = (set(canonical_items()) - {"total_debt"}) | {"net_change_in_cash"}
    for key, p in periods.items():
        assert set(p.values) == expected, key


def test_long_csv_layout(sample_dir: Path) -> None:
    with (sample_dir / "long" / "facts.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == LONG_COLUMNS
        records = list(reader)
    number = re.compile(r"^-?\d+(\.\d\d)?$")
    iso = re.compile(r"^\d{4}-\d\d-\d\d$")
    for r in records:
        assert number.match(r["value"]), r
        assert iso.match(r["period_end"]) and iso.match(r["filed"]), r
        assert (r["period_start"] == "") == (r["statement"] == "balance"), r
        assert r["statement"] == items()[r["item"]].statement, r


@pytest.mark.parametrize("fixture", ["periods", "peer_periods"])
def test_income_statement_identities(fixture: str, request: pytest.FixtureRequest) -> None:
    for key, p in request.getfixturevalue(fixture).items():
        v = p.values
        assert v["gross_profit"] == v["revenue"] - v["cost_of_revenue"], key
        assert v["operating_income"] == v["gross_profit"] - v["sga_expense"] - v["rnd_expense"], key
        assert v["pretax_income"] == v["operating_income"] - v["interest_expense"], key
        assert v["net_income"] == v["pretax_income"] - v["income_tax"], key
        if p.fiscal_period != "FY":
            if v["pretax_income"] <= 0:
                assert v["income_tax"] == 0, key
            else:
                assert 0.2 <= v["income_tax"] / v["pretax_income"] <= 0.26, key
        assert abs(v["net_income_parent"]) <= abs(v["net_income"]), key
        assert 1.0 <= v["shares_diluted"] / v["shares_outstanding"] <= 1.03, key
        assert abs(v["eps_diluted"] - v["net_income_parent"] / v["shares_diluted"]) <= 0.005 + 1e-9, key
        assert v["eps_diluted"] == round(v["eps_diluted"], 2), key


@pytest.mark.parametrize("fixture", ["periods", "peer_periods"])
def test_balance_sheet_identities(fixture: str, request: pytest.FixtureRequest) -> None:
    for key, p in request.getfixturevalue(fixture).items():
        v = p.values
        assert v["total_assets"] == v["total_liabilities"] + v["total_equity"] + v["noncontrolling_interest"], key
        assert v["total_assets"] >= v["current_assets"], key
        assert v["total_liabilities"] >= v["current_liabilities"] + v["long_term_debt"], key
        parts = v["cash"] + v["short_term_investments"] + v["receivables"] + v["inventory"]
        assert v["current_assets"] >= parts, key
        assert v["current_liabilities"] >= v["payables"] + v["short_term_debt"], key
        assert v["cash"] > 0, key
        assert min(v["capex"], v["dividends_paid"], v["share_repurchases"]) >= 0, key
        assert v["net_change_in_cash"] == (
            v["operating_cash_flow"] + v["investing_cash_flow"] + v["financing_cash_flow"]
        ), key


@pytest.mark.parametrize("fixture", ["periods", "peer_periods"])
def test_period_to_period_roll_forwards(fixture: str, request: pytest.FixtureRequest) -> None:
    pairs = _previous(request.getfixturevalue(fixture))
    assert len(pairs) > 10 * len(PROFILES)
    for p, before in pairs:
        v, b, key = p.values, before.values, (p.entity_id, p.fiscal_year, p.fiscal_period)

        def delta(item: str, v: dict[str, float] = v, b: dict[str, float] = b) -> float:
            return v[item] - b[item]

        assert delta("cash") == v["net_change_in_cash"], key
        assert v["operating_cash_flow"] == (
            v["net_income"] + v["depreciation_amortization"]
            - delta("receivables") - delta("inventory") + delta("payables")
        ), key
        assert v["investing_cash_flow"] == -v["capex"] - delta("short_term_investments"), key
        assert v["financing_cash_flow"] == (
            delta("short_term_debt") + delta("long_term_debt") - v["dividends_paid"] - v["share_repurchases"]
        ), key
        assert delta("total_equity") == v["net_income_parent"] - v["dividends_paid"] - v["share_repurchases"], key
        assert delta("retained_earnings") == v["net_income_parent"] - v["dividends_paid"], key
        assert delta("noncontrolling_interest") == v["net_income"] - v["net_income_parent"], key
        assert delta("ppe_net") == v["capex"] - v["depreciation_amortization"], key


@pytest.mark.parametrize("fixture", ["periods", "peer_periods"])
def test_fiscal_years_add_up_their_quarters(fixture: str, request: pytest.FixtureRequest) -> None:
    periods = request.getfixturevalue(fixture)
    checked = 0
    for (entity, year, period), fy in periods.items():
        quarters = [periods.get((entity, year, q)) for q in ("Q1", "Q2", "Q3", "Q4")]
        if period != "FY" or None in quarters:
            continue
        assert fy.start == quarters[0].start and fy.end == quarters[-1].end
        for item in CURRENCY_FLOWS:
            assert fy.values[item] == sum(q.values[item] for q in quarters), (entity, year, item)
        for item in BALANCES:
            assert fy.values[item] == quarters[-1].values[item], (entity, year, item)
        checked += 1
    assert checked >= 3 * len(PROFILES) - 1


def test_loss_maker_burns_cash_and_is_in_distress(periods: dict) -> None:
    entity = ROLES["loss_maker"]
    mine = [p for (e, _, _), p in periods.items() if e == entity]
    for p in mine:
        assert p.values["operating_income"] < 0 and p.values["net_income"] < 0
        assert p.values["operating_cash_flow"] < 0
        assert p.values["cash"] > 0
    years = [_fy(periods, "loss_maker", y) for y in (2023, 2024, 2025)]
    assert _current_ratio(years[-1]) < 1
    equity = [v["total_equity"] for v in years]
    debt = [v["short_term_debt"] for v in years]
    leverage = [(v["short_term_debt"] + v["long_term_debt"]) / v["total_equity"] for v in years]
    assert equity == sorted(equity, reverse=True) and equity[-1] > 0
    assert debt == sorted(debt) and debt[0] < debt[-1]
    assert leverage == sorted(leverage)
    v = years[-1]
    z = (
        6.56 * (v["current_assets"] - v["current_liabilities"]) / v["total_assets"]
        + 3.26 * v["retained_earnings"] / v["total_assets"]
        + 6.72 * v["operating_income"] / v["total_assets"]
        + 1.05 * v["total_equity"] / v["total_liabilities"]
    )
    assert z < 1.1


def test_cash_cow_is_flat_profitable_liquid_and_pays_out(periods: dict) -> None:
    entity = ROLES["cash_cow"]
    years = [_fy(periods, "cash_cow", y) for y in (2023, 2024, 2025)]
    for v in years:
        assert _current_ratio(v) > 1.5
        assert v["operating_income"] / v["revenue"] > 0.25
        assert v["dividends_paid"] > 0 and v["share_repurchases"] > 0
        assert (v["short_term_debt"] + v["long_term_debt"]) / v["total_equity"] < 0.5
    assert abs(years[-1]["revenue"] / years[0]["revenue"] - 1) < 0.05
    assert all(p.values["operating_cash_flow"] > 0 for (e, _, _), p in periods.items() if e == entity)


def test_grower_grows_20_to_40_percent_profitably(periods: dict) -> None:
    years = [_fy(periods, "grower", y) for y in (2023, 2024, 2025)]
    for before, after in pairwise(years):
        assert 0.2 <= after["revenue"] / before["revenue"] - 1 <= 0.4
    assert all(v["net_income"] > 0 for v in years)


def test_non_calendar_year_ends_in_january(periods: dict) -> None:
    fy2025 = periods[(ROLES["non_calendar"], 2025, "FY")]
    assert (fy2025.start, fy2025.end) == (date(2024, 2, 1), date(2025, 1, 31))
    for (entity, _, period), p in periods.items():
        if entity == ROLES["non_calendar"] and period in ("FY", "Q4"):
            assert p.end.month == 1 and p.end.year == p.fiscal_year


def test_non_usd_and_minority_interest(rows: list[dict], periods: dict) -> None:
    assert {r["currency"] for r in rows if r["entity_id"] == ROLES["non_usd"]} == {"EUR"}
    for (entity, _, _), p in periods.items():
        v = p.values
        if entity == ROLES["nci"]:
            assert v["noncontrolling_interest"] > 0 and v["net_income_parent"] < v["net_income"]
        else:
            assert v["noncontrolling_interest"] == 0 and v["net_income_parent"] == v["net_income"]


def test_restated_figure_has_an_earlier_different_original(rows: list[dict], periods: dict, sample_dir: Path) -> None:
    entity = ROLES["restated"]
    pair = sorted(
        (r for r in rows if r["entity_id"] == entity and r["item"] == "revenue"
         and (r["fiscal_year"], r["fiscal_period"]) == (2024, "Q1")),
        key=lambda r: r["filed"],
    )
    assert len(pair) == 2
    original, corrected = pair
    assert original["filed"] < corrected["filed"] and original["value"] != corrected["value"]
    v = periods[(entity, 2024, "Q1")].values
    assert corrected["value"] == v["gross_profit"] + v["cost_of_revenue"]
    assert sum(1 for r in rows if r["entity_id"] == entity and r["item"] != "revenue"
               and (r["fiscal_year"], r["fiscal_period"]) == (2024, "Q1")) == len(LABELS) - 1

    with (sample_dir / "wide" / f"{entity}.csv").open(newline="", encoding="utf-8") as f:
        lines = [r for r in csv.DictReader(f) if (r["fiscal_year"], r["fiscal_period"]) == ("2024", "Q1")]
    early = next(r for r in lines if r["filed"] == original["filed"].isoformat())
    assert [label for label in LABELS.values() if early[label]] == [LABELS["revenue"]]
    assert len(lines) == 2


def test_missing_quarter_is_absent_from_both_formats(sample_dir: Path) -> None:
    entity = ROLES["missing_quarter"]
    for path in (sample_dir / "long" / "facts.csv", sample_dir / "wide" / f"{entity}.csv"):
        with path.open(newline="", encoding="utf-8") as f:
            mine = [r for r in csv.DictReader(f) if r["entity_id"] == entity]
        assert not [r for r in mine if (r["fiscal_year"], r["fiscal_period"]) == ("2024", "Q2")]
        assert [r for r in mine if (r["fiscal_year"], r["fiscal_period"]) == ("2024", "FY")]


def test_wide_headers_resolve_through_the_alias_table(sample_dir: Path) -> None:
    for path in sorted((sample_dir / "wide").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            header = next(csv.reader(f))
        assert tuple(header[: len(WIDE_ID_COLUMNS)]) == WIDE_ID_COLUMNS
        assert [resolve_label(label) for label in header[len(WIDE_ID_COLUMNS):]] == list(LABELS)


def test_long_and_wide_hold_the_same_facts(sample_dir: Path) -> None:
    """Wide cells are thousands (shares too); per-share amounts are not scaled, as in printed statements."""
    long_facts: dict[tuple[str, ...], Decimal] = {}
    with (sample_dir / "long" / "facts.csv").open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            key = (r["entity_id"], r["entity_name"], r["sector"], r["currency"], r["fiscal_year"], r["fiscal_period"],
                   r["period_end"], r["filed"], r["item"])
            assert key not in long_facts
            long_facts[key] = Decimal(r["value"])
    wide_facts: dict[tuple[str, ...], Decimal] = {}
    for path in sorted((sample_dir / "wide").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                assert r["scale"] == "thousands" and r["period_start"] and r["period_end"]
                for item, label in LABELS.items():
                    if r[label] == "":
                        continue
                    factor = 1 if items()[item].unit == "currency_per_share" else 1000
                    key = (r["entity_id"], r["entity_name"], r["sector"], r["currency"], r["fiscal_year"],
                           r["fiscal_period"], r["period_end"], r["filed"], item)
                    wide_facts[key] = Decimal(r[label]) * factor
    assert wide_facts == long_facts


def test_generate_matches_the_long_csv(rows: list[dict], sample_dir: Path) -> None:
    with (sample_dir / "long" / "facts.csv").open(newline="", encoding="utf-8") as f:
        written = list(csv.DictReader(f))
    assert len(written) == len(rows)
    for w, r in zip(written, rows, strict=True):
        assert w["entity_id"] == r["entity_id"] and w["item"] == r["item"]
        assert float(w["value"]) == r["value"]
        assert w["filed"] == r["filed"].isoformat() and int(w["fiscal_year"]) == r["fiscal_year"]
        assert w["period_start"] == ("" if r["period_start"] is None else r["period_start"].isoformat())


AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def priced(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """The sample's statements and daily prices to the as-of date, ingested together."""
    root = tmp_path_factory.mktemp("priced")
    write_sample(root, as_of=AS_OF)
    return ingest([root / "long", root / "prices"])


def test_every_company_and_the_index_have_daily_prices_read_without_a_rejection(priced: Ingested) -> None:
    prices = priced.prices
    assert set(prices["entity_id"]) == {p.entity_id for p in PROFILES} | {MARKET_INDEX}
    assert priced.rejected.height == 0 and priced.rows_in == priced.accepted_count
    assert (prices["date"].min(), prices["date"].max()) == (date(2020, 1, 2), AS_OF)
    closed = prices.filter(pl.col("date").is_between(date(2024, 12, 24), date(2024, 12, 26)))
    assert closed.height == 0  # the holiday closure: no close for anyone, and no gap worth a finding
    assert priced.price_findings.select("entity_id", "check").rows() == [(ROLES["loss_maker"], "price_gap")]
    assert "(17 days)" in priced.price_findings["message"][0]  # the two-week halt
    currencies = dict(prices.group_by("entity_id").agg(pl.col("currency").first()).iter_rows())
    assert all(currencies[p.entity_id] == p.currency for p in PROFILES)
    declared = priced.sectors.select("entity_id", "sector", "benchmark", "country").rows()  # benchmarks.csv
    assert sorted(declared) == sorted((p.entity_id, p.sector, MARKET_INDEX, COUNTRIES[p.currency]) for p in PROFILES)


def test_three_portfolios_and_the_fx_rates_they_need_are_read_without_a_rejection(tmp_path: Path) -> None:
    """A diversified book, a concentrated one and one in euros holding shares priced in three currencies; the FX
    rates cover every trading day, so each holding converts on every day of its prices."""
    write_sample(tmp_path, as_of=AS_OF)
    ingested = ingest([tmp_path / "long", tmp_path / "prices", tmp_path / "portfolios"])
    assert ingested.rejected.height == 0 and ingested.blocking == {}
    holdings = ingested.holdings
    assert holdings["as_of"].unique().to_list() == [None]  # the books as they stand, at any as-of date
    sizes = dict(holdings.group_by("portfolio_id").len().iter_rows())
    assert sizes == {"DIVERSIFIED": 11, "CONVICTION": 4, "GLOBAL": 4}
    bases = dict(holdings.select("portfolio_id", "base_currency").unique().iter_rows())
    assert bases == {"DIVERSIFIED": "USD", "CONVICTION": "USD", "GLOBAL": "EUR"}
    assert sorted(holdings.filter(pl.col("portfolio_id") == "GLOBAL")["currency"].unique()) == ["EUR", "GBP", "USD"]
    days = ingested.prices.filter(pl.col("entity_id") == MARKET_INDEX)["date"]
    for currency in ("EUR", "GBP", "JPY"):
        assert ingested.fx.filter(pl.col("currency") == currency)["date"].to_list() == days.to_list()


def test_the_grower_splits_2_for_1_and_no_holder_loses_half(priced: Ingested) -> None:
    grower = priced.prices.filter(pl.col("entity_id") == ROLES["grower"])
    split = grower.filter(pl.col("split_ratio") == 2.0)
    assert split["date"].to_list() == [date(2026, 6, 15)]
    before = grower.filter(pl.col("date") < date(2026, 6, 15))["close"][-1]
    assert split["close"][0] / before == pytest.approx(0.5, abs=0.1)
    levels = total_return_levels(grower)["level"]
    assert (levels / levels.shift(1) - 1).abs().max() < 0.2


def test_prices_meet_plausible_valuations(priced: Ingested) -> None:
    """Each price meets the sector's P/E at every quarter's filing (1.2 times book value over a loss)."""
    values = valuation(priced.prices, known_facts(priced.facts, priced.superseded, AS_OF), AS_OF)
    pe = dict(values.filter(pl.col("metric") == "pe_ttm").select("entity_id", "value").iter_rows())
    assert pe.pop(ROLES["loss_maker"]) is None
    assert all(5 < v < 80 for v in pe.values()), pe
    pb = dict(values.filter(pl.col("metric") == "pb").select("entity_id", "value").iter_rows())
    assert 0.5 < pb[ROLES["loss_maker"]] < 3
    dividend = dict(values.filter(pl.col("metric") == "dividend_yield").select("entity_id", "value").iter_rows())
    assert dividend[ROLES["cash_cow"]] > 0.005 and dividend[ROLES["grower"]] == 0.0
