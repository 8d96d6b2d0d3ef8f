"""The slots of a question: what a narrator is given for one company and period (:func:`prompt_facts`), the
direction each fact moved (:func:`move`), and the text an answer in slots becomes once every slot is written as
its value (:func:`fill`). The verifier checks answers against these; the model's prompt lists them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from generator import present
from generator.metrics import definition
from generator.narrator import LISTED_FINDINGS, Context, Question, changes, question_findings, ranks, relevant_flags
from generator.present import MARKET_LABEL, day, period_label

SLOT = re.compile(r"⟨([a-z0-9_]+)⟩")
"""A slot as an answer writes it: ``⟨current_ratio⟩``."""


@dataclass(frozen=True)
class Slot:
    """One fact a narrator is given: a slot name, its value and its unit (a registry unit, ``count``, ``amount``,
    or ``text`` for the period and the findings' messages, which are written as they are)."""

    name: str
    value: float
    unit: str
    metric: str | None = None
    text: str | None = None
    cue: str | None = None  # what the prompt shows for a text fact (a finding's check), instead of the text

    def display(self, currency: str) -> str:
        """The fact as the report writes it (``0.41x``, ``$1.2bn``), so the prompt shows what the reader will see: a
        text as it is, counts and amounts in whole units."""
        if self.unit == "text":
            return self.text or ""
        if self.unit in ("count", "amount"):
            return f"{self.value:,.0f}"
        return present.by_unit(self.value, self.unit, currency)


def trend(facts: dict[str, Slot], name: str, currency: str) -> str | None:
    """up, down or flat: how a fact moved on a year earlier as the report shows it (two figures that read the
    same are flat); None without the earlier figure."""
    now, before = facts.get(name), facts.get(f"{name}_prior")
    if now is None or before is None:
        return None
    if now.display(currency) == before.display(currency) or now.value == before.value:
        return "flat"
    return "up" if now.value > before.value else "down"


CHANGES = ("return_", "relative_return_", "max_drawdown_")
"""Market figures that are changes themselves: a return, a fall from a peak."""


def is_change(fact: Slot) -> bool:
    """A growth rate or a change (a share's return, its drawdown): the direction an answer gives it is its own
    sign."""
    return bool(fact.metric) and ("growth" in fact.metric or fact.metric.endswith("_change")
                                  or fact.metric.startswith(CHANGES))


def move(facts: dict[str, Slot], name: str, currency: str) -> str | None:
    """The direction an answer gives a fact: a growth rate's (or a change's) own sign, flat where it reads as
    zero; any other figure's :func:`trend` on a year earlier."""
    fact = facts.get(name)
    if fact is not None and is_change(fact):
        if fact.display(currency).lstrip("-+").rstrip("%x").strip("0.") == "":
            return "flat"
        return "up" if fact.value > 0 else "down"
    return trend(facts, name, currency)


def prompt_facts(question: Question, context: Context) -> dict[str, Slot]:
    """The facts of one question for one company: the period, each metric and its value a year earlier
    (``_prior``), the values and thresholds behind the flags the question looks at, the counts an answer may
    state, and, where the question asks for them, the sector ranks and the data-quality findings."""
    facts: dict[str, Slot] = {"period": Slot("period", context.fiscal_year, "text", text=context.period)}

    def add(name: str, metric: str) -> None:
        unit = definition(metric).unit
        for slot, values in ((name, context.metrics), (f"{name}_prior", context.prior)):
            value = values.get(metric)
            if value is not None and math.isfinite(value) and slot not in facts:
                facts[slot] = Slot(slot, value, unit, metric)

    metrics = list(question.facts)
    if question.moves:  # largest relative move first, then the facts that did not move or lack a year earlier
        moved = [c["metric"] for c in changes(question, context)]
        metrics = moved + [m for m in metrics if m not in moved]
    for metric in metrics:
        add(metric, metric)
        if ("growth" in metric or metric.startswith(CHANGES)) and metric in facts:
            # "down ⟨revenue_growth_yoy_abs⟩", "fell ⟨return_1y_abs⟩": the size of a change
            facts[f"{metric}_abs"] = Slot(f"{metric}_abs", abs(facts[metric].value), "fraction", metric)
    flags = relevant_flags(question, context)
    for flag in flags:
        for condition in flag.get("conditions", []):
            metric = condition["metric"]
            add(metric, metric)
            name = condition_slot(condition, context)
            if name not in facts and math.isfinite(condition["value"]):  # a trailing or another period's figure
                facts[name] = Slot(name, condition["value"], definition(metric).unit, metric)
            for op, threshold in condition["bounds"]:
                name = f"{metric}_{'min' if op.startswith('>') else 'max'}_threshold"
                facts[name] = Slot(name, threshold, definition(metric).unit, None)
    if question.flags:
        facts["flag_count"] = Slot("flag_count", len(flags), "count")
    if question.summary and flags:  # the summary lists them: the data writes the names, in the reasoner's order
        facts["flag_names"] = Slot("flag_names", len(flags), "text", text=", ".join(f["label"] for f in flags))
    if "piotroski_f_score" in facts:
        facts["piotroski_f_score_max"] = Slot("piotroski_f_score_max", 9, "score")
    if question.peers and context.peers:  # the company's rank among its sector, not every peer's value
        facts["sector_companies"] = Slot("sector_companies", len(context.peers) + 1, "count")
        for metric, rank in ranks(question, context).items():
            if rank is not None:
                facts[f"{metric}_rank"] = Slot(f"{metric}_rank", rank, "count")
    if (question.market or question.portfolio) and context.as_of:  # the last close's date, the benchmark's name
        facts["as_of"] = Slot("as_of", 0, "text", text=day(context.as_of))
        if context.benchmark:
            facts["benchmark"] = Slot("benchmark", 0, "text", text=context.benchmark)
    if question.portfolio:  # a portfolio's largest holding, sector and contributor, named as the data names them
        for name, text in context.names.items():
            facts[name] = Slot(name, 0, "text", text=text)
    if question.peers and context.sector:
        facts["sector"] = Slot("sector", 0, "text", text=context.sector)
    if question.findings:
        chosen = question_findings(question, context)
        facts["finding_count"] = Slot("finding_count", len(chosen), "count")
        for i, finding in enumerate(chosen[:LISTED_FINDINGS]):
            facts[f"finding{i}"] = Slot(f"finding{i}", i, "text", text=finding["message"].rstrip("."),
                                        cue=finding["check"].replace("_", " "))
            own = period_label(finding["fiscal_year"], finding["fiscal_period"])
            facts[f"finding{i}_period"] = Slot(f"finding{i}_period", i, "text", text=own)
            for key, value in finding.get("facts", {}).items():
                if isinstance(value, int | float) and math.isfinite(value):
                    facts[f"finding{i}_{key}"] = Slot(f"finding{i}_{key}", value, "amount", None)
    return facts


def condition_slot(condition: dict[str, Any], context: Context) -> str:
    """The slot of the figure a flag's condition tested: the metric, its trailing-twelve-month value
    (``_ttm``), or its value in another period (``_q3_fy2024``)."""
    if condition["metric"] == "holding_weight":  # a portfolio's largest holding: its weight is the top one's
        return "top_1"
    name = condition["metric"] + ("_ttm" if condition["ttm"] else "")
    if condition["period"] not in (context.period, MARKET_LABEL):  # a market figure is the same at any period
        name += "_" + condition["period"].lower().replace(" ", "_")
    return name


def fill(text: str, facts: dict[str, Slot], currency: str) -> str:
    """Each slot written as its fact's value, formatted as everywhere else in the report."""
    return filled(text, facts, currency)[0]


def filled(text: str, facts: dict[str, Slot], currency: str) -> tuple[str, list[tuple[int, int, Slot]]]:
    """The text with its slots filled, and where each slot's value stands: a figure written through a slot
    is that fact, even where another fact reads the same."""
    parts, spans, at, end = [], [], 0, 0
    for m in SLOT.finditer(text):
        fact = facts.get(m.group(1))
        shown = m.group(0) if fact is None else fact.display(currency)  # an unknown slot stays as written
        parts.append(text[end:m.start()])
        at += m.start() - end
        if fact is not None:
            spans.append((at, at + len(shown), fact))
        parts.append(shown)
        at += len(shown)
        end = m.end()
    parts.append(text[end:])
    return "".join(parts), spans
