"""What changed in a company's report since its last edition, from the files of two editions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from generator import changes
from generator.metrics import definition


def edition(folder: Path, period: tuple[int, str], figures: dict[str, float], flags: list[tuple[str, str, int, str]],
            restated: list[str] = (), answers: dict[str, str] | None = None,
            periods: list[tuple[int, str]] = ()) -> dict[str, Any]:
    """The files one edition of a report leaves (only what a digest reads), and its digest."""
    folder.mkdir(parents=True, exist_ok=True)
    facts = [{"fiscal_year": y, "fiscal_period": p, "metric": "revenue", "value": 1.0, "unit": "currency",
              "currency": "USD"} for y, p in periods]
    facts += [{"fiscal_year": period[0], "fiscal_period": period[1], "metric": m, "value": v,
               "unit": definition(m).unit, "currency": "USD"} for m, v in figures.items()]
    labels = {"LiquidityConcern": "Liquidity concern", "HighLeverage": "High leverage", "Profitable": "Profitable"}
    (folder / "facts.json").write_text(json.dumps(facts))
    (folder / "flags.json").write_text(json.dumps(
        [{"flag": f, "label": labels.get(f, f), "severity": s, "fiscal_year": y, "fiscal_period": p}
         for f, s, y, p in flags] + [{"check": "inconsistent", "entity_id": "X"}]))
    (folder / "findings.json").write_text(json.dumps(
        [{"check": "restatement", "message": m, "fiscal_year": 2024, "fiscal_period": "FY"} for m in restated]
        + [{"check": "balance", "message": "off by 3", "fiscal_year": 2025, "fiscal_period": "FY"}]))
    (folder / "answers.json").write_text(json.dumps([{"question_id": q, "text": t}
                                                     for q, t in (answers or {"summary": "Fine."}).items()]))
    return changes.digest(folder, period)


def test_a_first_report_has_nothing_to_compare_with(tmp_path: Path) -> None:
    now = edition(tmp_path, (2025, "FY"), {"current_ratio": 1.2}, [])
    compared = changes.compare(None, now, 0.1)
    assert compared == {"first": True, "since": None, "changed": True}
    assert changes.headline(compared) == changes.FIRST
    assert changes.lines(compared, 0.1) == ["First report of this company: there is no earlier one to compare with."]


def test_a_new_year_raises_and_clears_flags_and_moves_figures(tmp_path: Path) -> None:
    before = edition(tmp_path / "a", (2024, "FY"), {"current_ratio": 1.2, "net_margin": 0.05, "roe": 0.1},
                     [("HighLeverage", "watch", 2024, "FY"), ("Profitable", "profile", 2024, "FY"),
                      ("HighLeverage", "watch", 2023, "FY")], periods=[(2023, "FY"), (2024, "FY")])
    now = edition(tmp_path / "b", (2025, "FY"), {"current_ratio": 0.88, "net_margin": -0.01, "roe": 0.105},
                  [("LiquidityConcern", "concern", 2025, "FY"), ("HighLeverage", "watch", 2025, "FY")],
                  periods=[(2023, "FY"), (2024, "FY"), (2025, "FY")])
    compared = changes.compare(before, now, 0.1, {"run_id": "r1", "as_of": "2026-11-30"})
    assert compared["changed"] and compared["since"] == {"run_id": "r1", "as_of": "2026-11-30"}
    assert compared["new_periods"] == ["FY2025"]
    assert [(f["flag"], f["period"]) for f in compared["flags_raised"]] == [("LiquidityConcern", "FY2025")]
    assert [(f["flag"], f["period"]) for f in compared["flags_cleared"]] == [("Profitable", "FY2024")]
    # roe moved 5%, under the threshold; net margin changed sign: the larger move first
    assert [m["metric"] for m in compared["moved"]] == ["net_margin", "current_ratio"]
    assert compared["moved"][1]["change"] == pytest.approx(-0.2667, abs=1e-4)
    assert changes.risk_flags(compared) == 1 and changes.headline(compared) == "1 new risk flag"
    said = changes.lines(compared, 0.1)
    assert said[0] == "New period: FY2025."
    assert said[1] == "1 flag raised: Liquidity concern (FY2025)."
    assert said[2] == "1 flag cleared: Profitable (FY2024)."
    assert said[3] == "2 figures moved by 10% or more (FY2024 to FY2025): net margin 5.0% → -1.0%; current ratio " \
                      "1.20x → 0.88x."


def test_restatements_and_rewritten_answers_count_and_an_unchanged_report_says_so(tmp_path: Path) -> None:
    flags = [("HighLeverage", "watch", 2025, "FY")]
    before = edition(tmp_path / "a", (2025, "FY"), {"current_ratio": 1.2}, flags,
                     ["revenue restated from $1.0bn to $1.1bn"], {"summary": "Fine.", "liquidity": "Ample."})
    same = edition(tmp_path / "b", (2025, "FY"), {"current_ratio": 1.25}, flags,
                   ["revenue restated from $1.0bn to $1.1bn"], {"summary": "Fine.", "liquidity": "Ample."})
    compared = changes.compare(before, same, 0.1)
    assert not compared["changed"] and changes.headline(compared) == ""
    assert changes.lines(compared, 0.1) == ["Nothing changed in the figures, flags, restatements or answers."]
    restated = edition(tmp_path / "c", (2025, "FY"), {"current_ratio": 1.2}, flags,
                       ["revenue restated from $1.0bn to $1.1bn", "cash restated from $5m to $4m"],
                       {"summary": "Fine.", "liquidity": "Tight."})
    compared = changes.compare(before, restated, 0.1)
    assert compared["restatements"] == ["FY2024 cash restated from $5m to $4m"]
    assert compared["answers_changed"] == ["liquidity"] and changes.headline(compared) == "restated"
    assert changes.lines(compared, 0.1) == ["FY2024 cash restated from $5m to $4m.",
                                            "1 answer reads differently."]


def test_the_run_s_record_counts_each_kind_of_change(tmp_path: Path) -> None:
    before = edition(tmp_path / "a", (2024, "FY"), {"current_ratio": 1.2}, [])
    now = edition(tmp_path / "b", (2025, "FY"), {"current_ratio": 0.8}, [("LiquidityConcern", "concern", 2025, "FY")])
    companies = {"B": changes.compare(before, now, 0.1), "A": changes.compare(None, now, 0.1),
                 "C": {"changed": False, "reused_from": {"run_id": "r1", "as_of": "2026-11-30", "folder": "x"}},
                 "D": changes.compare(now, now, 0.1)}
    record = changes.run_record({"run_id": "r2", "as_of": "2026-12-01"}, companies, 0.1)
    assert list(record["companies"]) == ["A", "B", "C", "D"]
    assert record["totals"] == {"companies": 4, "changed": 1, "first": 1, "unchanged": 2, "reused": 1,
                                "new_periods": 1, "flags_raised": 1, "flags_cleared": 0, "restatements": 0,
                                "moved": 1, "answers_changed": 0, "risk_flags_raised": 1}
