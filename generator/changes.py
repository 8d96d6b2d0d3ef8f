"""What changed in a company's report since its last edition: new periods, flags raised and cleared, restatements,
figures that moved beyond a threshold, answers that read differently.

Each edition keeps a digest of what its report said (:func:`digest`, from the files beside the PDF); the next
edition compares its own with it (:func:`compare`). The comparison is what the report's "Since the last run" section,
``changes.json``, the run's changes artifact and the e-mails say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from generator.metrics import label
from generator.present import by_unit, capitalised, period_label

RISK = "concern"
"""The severity of the flags an e-mail counts as risk flags ("2 new risk flags")."""

FIRST = "first report"
"""The headline of a company's first report."""

SHOWN = 6
"""How many moved figures the report lists (the largest moves); ``changes.json`` has them all."""


def _read(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text("utf-8")) if path.is_file() else []


def digest(folder: Path, period: tuple[int, str]) -> dict[str, Any]:
    """What a report said, as the next edition compares it: its periods, its report period's figures and flags, the
    market's flags, its restatements and its answers' text (from the files the run wrote in ``folder``)."""
    facts = _read(folder / "facts.json")
    flags = [f for f in _read(folder / "flags.json") if "flag" in f]
    year, name = period
    return {
        "period": [year, name],
        "periods": sorted({(r["fiscal_year"], r["fiscal_period"]) for r in facts}),
        "figures": {r["metric"]: [r["value"], r["unit"], r.get("currency")] for r in facts
                    if (r["fiscal_year"], r["fiscal_period"]) == (year, name) and r["value"] is not None},
        "flags": sorted([f["flag"], f["label"], f["severity"], f["fiscal_year"], f["fiscal_period"]] for f in flags
                        if (f["fiscal_year"], f["fiscal_period"]) == (year, name) or f["fiscal_period"] == "market"),
        "restatements": sorted(f"{period_label(f['fiscal_year'], f['fiscal_period'])} {f['message']}"
                               for f in _read(folder / "findings.json") if f["check"] == "restatement"),
        "answers": {a["question_id"]: a["text"] for a in _read(folder / "answers.json")},
    }


def _moved(before: float, after: float, threshold: float) -> float | None:
    """The relative move from ``before`` to ``after`` when it is at least ``threshold`` (a change of sign always is;
    from zero, any change is); None when the figure did not move that far."""
    if before == after:
        return None
    if before == 0 or (before < 0) != (after < 0):
        return (after - before) / abs(before) if before else float("inf")
    change = (after - before) / abs(before)
    return change if abs(change) >= threshold else None


def compare(before: dict[str, Any] | None, now: dict[str, Any], threshold: float,
            since: dict[str, str] | None = None) -> dict[str, Any]:
    """What changed between two digests (``before`` None: the first report of the company). ``threshold``: the
    relative move from which a figure counts as moved (0.10: 10%); ``since``: the run compared with."""
    if before is None:
        return {"first": True, "since": None, "changed": True}
    periods = [tuple(p) for p in now["periods"]]
    new_periods = [p for p in periods if p not in {tuple(p) for p in before["periods"]}]
    was = {(f[0], f[4] == "market"): f for f in before["flags"]}
    now_flags = {(f[0], f[4] == "market"): f for f in now["flags"]}
    raised = [_flag(now_flags[k]) for k in sorted(now_flags) if k not in was]
    cleared = [_flag(was[k]) for k in sorted(was) if k not in now_flags]
    moved = []
    for metric, (value, unit, currency) in sorted(now["figures"].items()):
        old = before["figures"].get(metric)
        if old is None or (change := _moved(old[0], value, threshold)) is None:
            continue
        moved.append({"metric": metric, "label": label(metric), "before": old[0], "after": value, "unit": unit,
                      "currency": currency, "change": None if change == float("inf") else round(change, 6),
                      "period_before": period_label(*before["period"]), "period_after": period_label(*now["period"])})
    moved.sort(key=lambda m: -abs(m["change"]) if m["change"] is not None else float("-inf"))
    answers = [q for q, text in now["answers"].items() if before["answers"].get(q, text) != text]
    changes = {
        "first": False,
        "since": since,
        "period": {"before": period_label(*before["period"]), "after": period_label(*now["period"])},
        "new_periods": [period_label(*p) for p in new_periods],
        "flags_raised": raised,
        "flags_cleared": cleared,
        "restatements": [r for r in now["restatements"] if r not in set(before["restatements"])],
        "moved": moved,
        "answers_changed": answers,
    }
    changes["changed"] = any(changes[k] for k in ("new_periods", "flags_raised", "flags_cleared", "restatements",
                                                  "moved", "answers_changed"))
    return changes


def _flag(row: Sequence[Any]) -> dict[str, Any]:
    return {"flag": row[0], "label": row[1], "severity": row[2], "period": period_label(row[3], row[4])}


def risk_flags(changes: dict[str, Any]) -> int:
    """How many risk flags (severity "concern") the report raised since the last run."""
    return sum(f["severity"] == RISK for f in changes.get("flags_raised", []))


def lines(changes: dict[str, Any], threshold: float) -> list[str]:
    """The report's "Since the last run" section, one sentence per kind of change (plain text: the template escapes
    it)."""
    if changes.get("first"):
        return ["First report of this company: there is no earlier one to compare with."]
    out = []
    if changes["new_periods"]:
        out.append(f"New period{'s' if len(changes['new_periods']) > 1 else ''}: {', '.join(changes['new_periods'])}.")
    for key, verb in (("flags_raised", "raised"), ("flags_cleared", "cleared")):
        if flags := changes[key]:
            named = ", ".join(f"{f['label']} ({f['period']})" for f in flags)
            out.append(f"{_count(len(flags), 'flag')} {verb}: {named}.")
    out += [f"{r}." for r in changes["restatements"]]
    if moved := changes["moved"]:
        shown = "; ".join(f"{m['label']} {by_unit(m['before'], m['unit'], m['currency'])} → "
                          f"{by_unit(m['after'], m['unit'], m['currency'])}" for m in moved[:SHOWN])
        more = f" (and {len(moved) - SHOWN} more, in changes.json)" if len(moved) > SHOWN else ""
        basis = changes["period"]
        periods = basis["after"] if basis["before"] == basis["after"] else f"{basis['before']} to {basis['after']}"
        out.append(f"{capitalised(_count(len(moved), 'figure'))} moved by {threshold:.0%} or more ({periods}): "
                   f"{shown}{more}.")
    if changes["answers_changed"]:
        out.append(f"{capitalised(_count(len(changes['answers_changed']), 'answer'))} "
                   f"read{'s' if len(changes['answers_changed']) == 1 else ''} differently.")
    return out or ["Nothing changed in the figures, flags, restatements or answers."]


def headline(changes: dict[str, Any]) -> str:
    """The few words an e-mail's subject gives a report's changes: "2 new risk flags", "new period FY2025",
    "restated", "changed", "first report"; empty when nothing changed."""
    if changes.get("first"):
        return FIRST
    if not changes.get("changed"):
        return ""
    if risks := risk_flags(changes):
        return f"{risks} new risk flag{'s' if risks > 1 else ''}"
    if changes["new_periods"]:
        return f"new period {changes['new_periods'][-1]}"
    if changes["restatements"]:
        return "restated"
    return "changed"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def run_record(manifest: dict[str, Any], companies: dict[str, dict[str, Any]], threshold: float) -> dict[str, Any]:
    """changes.json: each company's changes since the last run (a reused report's: none, and the run it comes from),
    with the run's totals."""
    made = [c for c in companies.values() if "reused_from" not in c]
    totals = {
        "companies": len(companies),
        "changed": sum(bool(c.get("changed")) and not c.get("first") for c in companies.values()),
        "first": sum(bool(c.get("first")) for c in companies.values()),
        "unchanged": sum(not c.get("changed") for c in companies.values()),
        "reused": len(companies) - len(made),
        **{key: sum(len(c.get(key, [])) for c in made)
           for key in ("new_periods", "flags_raised", "flags_cleared", "restatements", "moved", "answers_changed")},
        "risk_flags_raised": sum(risk_flags(c) for c in made),
    }
    return {"run_id": manifest["run_id"], "as_of": manifest["as_of"], "threshold": threshold, "totals": totals,
            "companies": dict(sorted(companies.items()))}
