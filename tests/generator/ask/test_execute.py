"""Running programs over the sample: each value is the metric table's, each step plain arithmetic on them, every
value read names its source lines, and what the inputs cannot answer is refused with the reason."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from generator.ask.execute import Unanswerable, execute
from generator.ask.knowledge import Knowledge, from_run
from generator.ask.link import Linked, Number, Year
from generator.ask.program import parse


@pytest.fixture(scope="module")
def knowledge(sample_run: Any) -> Knowledge:
    return from_run(sample_run)


def value(run: Any, entity: str, metric: str, year: int) -> float:
    rows = run.analysis.metrics.filter((pl.col("entity_id") == entity) & (pl.col("metric") == metric)
                                       & (pl.col("fiscal_year") == year) & (pl.col("fiscal_period") == "FY"))
    return rows["value"].item()


def run(program: str, knowledge: Knowledge, **bindings: Any) -> Any:
    return execute(parse(program), knowledge, Linked("", "", bindings))


FY = {y: Year(y, "fiscal", str(y)) for y in range(2015, 2031)}


def test_a_value_is_the_metric_tables_and_names_its_source_lines(sample_run: Any, knowledge: Knowledge) -> None:
    result = run("(value E1 M1 Y1)", knowledge, E1="ACME", M1="free_cash_flow", Y1=FY[2024])
    assert result.value == value(sample_run, "ACME", "free_cash_flow", 2024)
    assert result.unit == "currency"
    [read] = result.reads
    assert (read.entity_id, read.metric, read.fiscal_year) == ("ACME", "free_cash_flow", 2024)
    assert read.sources and all("facts.csv:" in s for s in read.sources)


@pytest.mark.parametrize(("program", "expected"), [
    ("(change E1 M1 Y1 Y2)", lambda a, b: b - a),
    ("(change E1 M1 Y2 Y1)", lambda a, b: b - a),  # from the earlier year to the later, as written or not
    ("(pct_change E1 M1 Y1 Y2)", lambda a, b: b / a - 1),
    ("(cagr E1 M1 Y1 Y2)", lambda a, b: (b / a) ** 0.5 - 1),
    ("(average (value E1 M1 Y1) (value E1 M1 Y2))", lambda a, b: (a + b) / 2),
    ("(subtract (value E1 M1 Y2) (value E1 M1 Y1))", lambda a, b: b - a),
    ("(divide (value E1 M1 Y2) (value E1 M1 Y1))", lambda a, b: b / a),
])
def test_arithmetic_on_the_values_read(sample_run: Any, knowledge: Knowledge, program: str, expected: Any) -> None:
    a, b = value(sample_run, "KOLA", "revenue", 2023), value(sample_run, "KOLA", "revenue", 2025)
    result = run(program, knowledge, E1="KOLA", M1="revenue", Y1=FY[2023], Y2=FY[2025])
    assert result.value == pytest.approx(expected(a, b), rel=1e-12)
    assert {r.fiscal_year for r in result.reads} == {2023, 2025}


def test_a_series_and_the_latest_years(sample_run: Any, knowledge: Knowledge) -> None:
    years = knowledge.years("NOVA")
    values = [value(sample_run, "NOVA", "net_margin", y) for y in years]
    total = run("(sum (series E1 M1 (range Y1 latest)))", knowledge, E1="NOVA", M1="net_margin", Y1=FY[years[0]])
    assert total.value == pytest.approx(sum(values))
    recent = run("(average (series E1 M1 (recent N1)))", knowledge, E1="NOVA", M1="net_margin",
                 N1=Number(2, "count", "two"))
    assert recent.value == pytest.approx(sum(values[-2:]) / 2)


def test_sets_rankings_and_counts_match_the_metric_table(sample_run: Any, knowledge: Knowledge) -> None:
    margins = sample_run.analysis.metrics.filter((pl.col("metric") == "net_margin") & (pl.col("fiscal_year") == 2025)
                                                 & (pl.col("fiscal_period") == "FY") & pl.col("value").is_not_null())
    expected = dict(zip(margins["entity_id"].to_list(), margins["value"].to_list(), strict=True))
    above = run("(where (companies) M1 Y1 gt N1)", knowledge, M1="net_margin", Y1=FY[2025],
                N1=Number(0.1, "fraction", "10%"))
    assert {e for e, _ in above.rows} == {e for e, v in expected.items() if v > 0.1}
    ranked = run("(rank (companies) M1 Y1 desc)", knowledge, M1="net_margin", Y1=FY[2025])
    assert [e for e, _ in ranked.rows] == sorted(expected, key=lambda e: -expected[e])
    assert ranked.value == max(expected.values())
    count = run("(count (where (companies) M1 Y1 gt N1))", knowledge, M1="net_margin", Y1=FY[2025],
                N1=Number(0.1, "fraction", "10%"))
    assert count.value == len(above.rows)
    sector = {e for e, c in knowledge.companies.items() if c.sector == "Healthcare"}
    top = run("(top (sector S1) M1 Y1 asc N1)", knowledge, S1="Healthcare", M1="net_margin", Y1=FY[2025],
              N1=Number(2, "count", "2"))
    assert [e for e, _ in top.rows] == sorted(sector & set(expected), key=lambda e: expected[e])[:2]


def test_flags_come_from_the_reasoned_graph(sample_run: Any, knowledge: Knowledge) -> None:
    flagged = {(f.entity_id, f.fiscal_year) for f in sample_run.graph.flags
               if f.flag == "LiquidityConcern" and f.fiscal_period == "FY"}
    result = run("(flagged (companies) F1 Y1)", knowledge, F1="LiquidityConcern", Y1=FY[2025])
    assert {e for e, _ in result.rows} == {e for e, y in flagged if y == 2025}
    assert result.rows, "the sample has liquidity concerns in FY2025"
    assert all("SNAPSHOTS_WITH_FLAG" in r.sources[0] for r in result.reads)


def test_money_of_other_currencies_is_left_out_of_a_ranking_and_said(knowledge: Knowledge) -> None:
    result = run("(rank (companies) M1 Y1 desc)", knowledge, M1="revenue", Y1=FY[2025])
    currencies = {knowledge.companies[e].currency for e, _ in result.rows}
    assert currencies == {"USD"}
    assert {knowledge.companies[e].currency for e in result.other_currency} == {"EUR", "GBP", "JPY"}
    with pytest.raises(Unanswerable, match="different currencies"):
        run("(subtract (value E1 M1 Y1) (value E2 M1 Y1))", knowledge, E1="ACME", E2="KAIZ", M1="revenue",
            Y1=FY[2025])


def test_a_sign_is_a_sign_in_any_currency(knowledge: Knowledge) -> None:
    """Loss-makers are every company with a net loss, whatever it reports in: the same set as the reasoner's
    loss-making flag, nothing left out."""
    losses = run("(where (companies) net_income Y1 lt 0)", knowledge, Y1=FY[2024])
    flagged = run("(flagged (companies) F1 Y1)", knowledge, F1="LossMaking", Y1=FY[2024])
    assert {e for e, _ in losses.rows} == {e for e, _ in flagged.rows} and not losses.other_currency
    assert all(v is not None and v < 0 for _, v in losses.rows)
    positive = run("(where (companies) net_income Y1 gt 0)", knowledge, Y1=FY[2024])
    assert {knowledge.companies[e].currency for e, _ in positive.rows} >= {"USD", "EUR", "GBP", "JPY"}


@pytest.mark.parametrize(("program", "bindings", "why"), [
    ("(value U1 M1 Y1)", {"U1": "Tesla", "M1": "revenue", "Y1": FY[2024]},
     "no company called 'Tesla' is in the inputs, which have 14 companies"),
    ("(value E1 M1 Y1)", {"E1": "ACME", "M1": "revenue", "Y1": FY[2015]},
     "Acme Robotics Inc. has no FY2015 figures in the inputs \\(it has FY2023 to FY2025\\)"),
    ("(value E1 M1 Y1)", {"E1": "ACME", "M1": "revenue", "Y1": FY[2030]},
     "FY2030 had not ended by .* does not forecast"),
    ("(value E1 M1 Y1)", {"M1": "revenue", "Y1": FY[2024]}, "the question names no company of the inputs"),
    ("(value E1 M1 Y1)", {"E1": "ACME", "Y1": FY[2024]}, "names no figure"),
    ("(refuse forecast)", {}, "asks for a forecast"),
    ("(refuse unsupported)", {}, "look-ups, changes"),
    ("(change E1 M1 Y1 Y1)", {"E1": "ACME", "M1": "revenue", "Y1": FY[2024]}, "two different years"),
    ("(where (companies) M1 Y1 gt N1)", {"M1": "net_margin", "Y1": FY[2025], "N1": Number(5e6, "currency", "$5m")},
     "'\\$5m' is not a fraction"),
    ("(compare (entities E1 E2) M1 Y1)", {"E1": "ACME", "E2": "KAIZ", "M1": "revenue", "Y1": FY[2025]},
     "different currencies"),
])
def test_what_the_inputs_cannot_answer_is_refused_with_the_reason(knowledge: Knowledge, program: str,
                                                                   bindings: dict[str, Any], why: str) -> None:
    with pytest.raises(Unanswerable, match=why):
        run(program, knowledge, **bindings)


def test_an_absent_metric_gives_the_metric_tables_reason(sample_run: Any, knowledge: Knowledge) -> None:
    absent = knowledge.values.filter(pl.col("value").is_null() & pl.col("reason").is_not_null()).row(0, named=True)
    with pytest.raises(Unanswerable, match="is not in the inputs: " + absent["reason"][:20]):
        run("(value E1 M1 Y1)", knowledge, E1=absent["entity_id"], M1=absent["metric"],
            Y1=FY[absent["fiscal_year"]])


def test_a_calendar_year_is_the_fiscal_year_most_of_which_lies_in_it(knowledge: Knowledge) -> None:
    for entity in knowledge.companies:
        for fy in knowledge.years(entity):
            start, end = knowledge.span(entity, fy)
            result = run("(value E1 M1 Y1)", knowledge, E1=entity, M1="revenue",
                         Y1=Year((start + (end - start) / 2).year, "calendar", ""))
            assert result.reads[0].fiscal_year == fy


def test_questions_as_of_an_earlier_date_see_only_the_years_ended_by_then(sample_run: Any) -> None:
    from dataclasses import replace

    earlier = from_run(replace(sample_run, as_of=sample_run.analysis.base["period_end"].max().replace(year=2024)))
    assert max(earlier.years("ACME")) < max(from_run(sample_run).years("ACME"))


def test_a_shares_flag_is_of_the_last_close_whatever_year_is_asked(sample_run: Any, knowledge: Knowledge) -> None:
    high_beta = {f.entity_id for f in sample_run.graph.flags if f.flag == "HighBeta"}
    assert high_beta and "HighBeta" in knowledge.market_flags and "ConcentratedPortfolio" not in knowledge.flags
    for period in ("latest", "Y1"):
        result = run(f"(flagged (companies) F1 {period})", knowledge, F1="HighBeta", Y1=FY[2024])
        assert {e for e, _ in result.rows} == high_beta
        assert all("last close" in r.sources[0] for r in result.reads)
