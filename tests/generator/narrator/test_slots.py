"""The slots of a question: what a narrator is given, the direction each fact moved as the reader sees it, and an
answer in slots filled with the values as the report writes them."""

from __future__ import annotations

import pytest

from generator.narrator import Context, catalogue
from generator.narrator.slots import SLOT, Slot, condition_slot, fill, filled, move, prompt_facts, trend

Q = {q.id: q for q in catalogue()}
CTX = Context(
    entity_id="VOLT", company="Voltaris Motors Inc.", sector="Industrials", currency="USD", fiscal_year=2025,
    fiscal_period="FY",
    metrics={"current_ratio": 0.4132, "quick_ratio": 0.15, "working_capital": -300e6, "revenue": 682.5e6,
             "revenue_growth_yoy": -0.0004},
    prior={"current_ratio": 0.80, "quick_ratio": 0.15, "working_capital": -100e6, "revenue": 682.6e6},
    flags=[{"flag": "LiquidityConcern", "label": "liquidity concern", "severity": "concern", "fiscal_year": 2025,
            "fiscal_period": "FY", "conditions": [{"metric": "current_ratio", "value": 0.4132, "period": "FY2025",
                                                   "ttm": False, "bounds": [["<", 1.0]]}]}],
)


def test_a_question_is_given_its_facts_their_year_earlier_values_and_its_flags_thresholds() -> None:
    facts = prompt_facts(Q["liquidity"], CTX)
    assert facts["period"].display("USD") == "FY2025"
    assert (facts["current_ratio"].value, facts["current_ratio_prior"].value) == (0.4132, 0.80)
    assert facts["current_ratio_max_threshold"].value == 1.0
    assert all(SLOT.fullmatch(f"⟨{name}⟩") for name in facts)
    assert "revenue" not in facts  # another question's fact


def test_slots_are_filled_as_the_report_writes_figures_and_an_unknown_slot_stays() -> None:
    facts = prompt_facts(Q["liquidity"], CTX)
    assert fill("⟨current_ratio⟩ from ⟨current_ratio_prior⟩; ⟨working_capital⟩; ⟨nope⟩", facts, "USD") == \
        "0.41x from 0.80x; -$300.0m; ⟨nope⟩"
    text, spans = filled("Ratio ⟨current_ratio⟩.", facts, "USD")
    assert text == "Ratio 0.41x." and [(a, b, s.name) for a, b, s in spans] == [(6, 11, "current_ratio")]


def test_a_figure_moved_as_the_reader_sees_it() -> None:
    facts = {"current_ratio": Slot("current_ratio", 0.4132, "multiple", "current_ratio"),
             "current_ratio_prior": Slot("current_ratio_prior", 0.80, "multiple", "current_ratio"),
             "quick_ratio": Slot("quick_ratio", 0.1504, "multiple", "quick_ratio"),
             "quick_ratio_prior": Slot("quick_ratio_prior", 0.1496, "multiple", "quick_ratio"),
             "revenue_growth_yoy": Slot("revenue_growth_yoy", -0.0004, "fraction", "revenue_growth_yoy"),
             "cash": Slot("cash", 5.0, "currency", "cash")}
    assert move(facts, "current_ratio", "USD") == "down"
    assert move(facts, "quick_ratio", "USD") == trend(facts, "quick_ratio", "USD") == "flat"  # both read 0.15x
    assert move(facts, "revenue_growth_yoy", "USD") == "flat"  # -0.0% is no fall
    assert move(facts, "cash", "USD") is None  # no year earlier to move from


@pytest.mark.parametrize(("condition", "slot"), [
    ({"metric": "net_income", "ttm": True, "period": "Q3 FY2024"}, "net_income_ttm"),
    ({"metric": "revenue_growth_yoy", "ttm": False, "period": "FY2023"}, "revenue_growth_yoy_fy2023"),
    ({"metric": "current_ratio", "ttm": False, "period": "Q3 FY2024"}, "current_ratio"),
])
def test_a_flag_s_figure_is_named_by_its_period_when_it_is_another(condition: dict[str, object], slot: str) -> None:
    quarter = Context("E", "E", None, "USD", 2024, "Q3", {}, {})
    assert condition_slot(condition, quarter) == slot


def test_counts_and_texts_are_written_as_they_are() -> None:
    assert Slot("flag_count", 3, "count").display("EUR") == "3"
    assert Slot("finding0_original_value", 217395.0, "amount").display("EUR") == "217,395"
    assert Slot("period", 2025, "text", text="Q3 FY2025").display("EUR") == "Q3 FY2025"
    assert Slot("revenue", 1.2e9, "currency", "revenue").display("EUR") == "€1.2bn"
