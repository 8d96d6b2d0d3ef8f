"""Answers written a sentence at a time: the data plans the content, the model words each piece.

A small model loses its place in a long list: it named the fifth finding forty times, listed "cash burn" five
times among six flags, and swapped the order of the largest moves. For the questions that list things (the
moves on a year earlier, the data-quality findings, the restatements, the risk flags) and for the executive
summary, the data decides what is said and in which order (:func:`plan`); each :class:`Part` is one sentence,
prompted with its own facts alone and verified on its own; the answer is the parts in order, verified as a whole.
Every other question is one part, the whole answer, prompted with all of its facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from generator.narrator import LISTED_FINDINGS, Context, Question, changes, question_findings, relevant_flags
from generator.narrator.slots import SLOT, Slot, condition_slot, trend

WHOLE = "whole"
"""The role of an answer written in one piece."""

MOVES_LISTED = 3
"""How many moves a "what changed" answer names, largest first."""

_SUMMARY = (("revenue", ("revenue", "revenue_growth_yoy", "net_margin")),
            ("balance", ("current_ratio", "debt_to_equity")),
            ("cash", ("free_cash_flow",)))
"""The executive summary's sentences and the figures each is about; the flags come last."""


@dataclass(frozen=True)
class Part:
    """One piece of an answer: its role (``whole``, or a sentence's: ``move``, ``opening``, ``finding``, ``flag``,
    ``revenue`` …), the facts and flags it is given, and, for an item of a list, which item of how many."""

    role: str
    facts: dict[str, Slot]
    flags: tuple[dict[str, Any], ...]
    index: int = 0
    count: int = 1
    item: Any = None  # a move's metric, a finding's number, a flag
    required: tuple[str, ...] = ()  # the slots its sentence must write: what it is about
    says: str | None = None  # a word its sentence must use where it has no figure to give ("no revenue")
    answer_slots: dict[str, str] = field(default_factory=dict)
    """The answer's names of slots the part names its own way: every finding's sentence is prompted and written
    with ⟨finding⟩ and ⟨finding_period⟩, so the model learns one sentence, not one per place in the list."""

    def in_answer(self, text: str) -> str:
        """The part's text with its own slot names turned into the answer's (⟨finding⟩ → ⟨finding2⟩)."""
        return SLOT.sub(lambda m: f"⟨{self.answer_slots.get(m.group(1), m.group(1))}⟩", text) if self.answer_slots \
            else text

    def in_part(self, text: str) -> str:
        """An answer's sentence with the part's own slot names (⟨finding2⟩ → ⟨finding⟩)."""
        own = {answer: name for name, answer in self.answer_slots.items()}
        return SLOT.sub(lambda m: f"⟨{own.get(m.group(1), m.group(1))}⟩", text) if own else text

    def header(self) -> str | None:
        """What the prompt says of the part (``part: move 2 of 3``); none for a whole answer."""
        if self.role == WHOLE:
            return None
        return f"part: {self.role}" + (f" {self.index + 1} of {self.count}" if self.count > 1 else "")

    @property
    def names_flags(self) -> bool:
        """A part that names flags names exactly its own (a flag's sentence, the summary's flag sentence)."""
        return self.role in ("flag", "flags")


def moved(question: Question, context: Context, facts: dict[str, Slot]) -> list[str]:
    """The question's figures that moved on a year earlier as the report shows them, largest relative move first."""
    return [c["metric"] for c in changes(question, context) if c["metric"] in facts
            and f"{c['metric']}_prior" in facts and trend(facts, c["metric"], context.currency) != "flat"]


def _about(facts: dict[str, Slot], metrics: set[str], thresholds: bool = False) -> dict[str, Slot]:
    """The period and the facts about some figures (their year-earlier values, sizes of change, trailing or
    other periods' values, and with ``thresholds`` the flags' limits on them)."""
    out = {"period": facts["period"]}
    for name, fact in facts.items():
        limit = name.endswith(("_min_threshold", "_max_threshold")) and \
            name.removesuffix("_min_threshold").removesuffix("_max_threshold") in metrics
        if fact.metric in metrics or (thresholds and limit):
            out[name] = fact
    return out


def _flag_facts(flag: dict[str, Any], context: Context, facts: dict[str, Slot]) -> dict[str, Slot]:
    """The figures a flag's conditions tested, with their limits: what one flag's sentence may state."""
    metrics = {c["metric"] for c in flag.get("conditions", [])}
    wanted = {condition_slot(c, context) for c in flag.get("conditions", [])}
    wanted |= {f"{name}_prior" for name in wanted if name in metrics}
    return {"period": facts["period"], **{n: f for n, f in facts.items() if n in wanted or (
        f.metric is None and n.removesuffix("_min_threshold").removesuffix("_max_threshold") in metrics)}}


def _finding(facts: dict[str, Slot], index: int, count: int) -> Part:
    """A finding's sentence: its text and period under the part's own names, ⟨finding⟩ and ⟨finding_period⟩."""
    names = {"finding": f"finding{index}", "finding_period": f"finding{index}_period"}
    own = {name: replace(facts[answer], name=name) for name, answer in names.items()}
    return Part("finding", {"period": facts["period"], **own}, (), index, count, index, ("finding",),
                answer_slots=names)


def _tested(flag: dict[str, Any], context: Context, facts: dict[str, Slot]) -> tuple[str, ...]:
    """The figures a flag's conditions tested, as slots of its part: its sentence must give them."""
    slots = (condition_slot(c, context) for c in flag.get("conditions", []))
    return tuple(dict.fromkeys(s for s in slots if s in facts))


def plan(question: Question, context: Context, facts: dict[str, Slot]) -> list[Part]:
    """The parts of one answer, in the order the answer gives them. A list question with nothing to list, and
    every question that is not a list, is one whole part."""
    flags = tuple(relevant_flags(question, context))
    whole = [Part(WHOLE, facts, flags)]
    if question.moves:
        names = moved(question, context, facts)[:MOVES_LISTED]
        return [Part("move", _about(facts, {n}), (), i, len(names), n, (n, f"{n}_prior"))
                for i, n in enumerate(names)] or whole
    if question.findings:  # data-quality findings or restatements
        listed = question_findings(question, context)[:LISTED_FINDINGS]
        if not listed:
            return whole
        opening = Part("opening", {"period": facts["period"], "finding_count": facts["finding_count"]}, (),
                       required=("finding_count",))
        return [opening, *(_finding(facts, i, len(listed)) for i in range(len(listed)))]
    if question.summary:
        parts = []
        for role, metrics in _SUMMARY:  # a sentence for each figure the filing has (revenue: or says it has none)
            about = _about(facts, set(metrics))
            given = [slot for m in metrics for slot in (m, f"{m}_ttm") if slot in about]
            if given or role == "revenue":
                parts.append(Part(role, about, (), required=tuple(given[:1]), says=None if given else role))
        named = {n: facts[n] for n in ("flag_count", "flag_names") if n in facts}
        return [*parts, Part("flags", {"period": facts["period"], **named}, flags,
                             required=("flag_names",) if "flag_names" in named else ())]
    if question.flags and any(f.startswith("*") for f in question.flags) and flags:
        opening = Part("opening", {"period": facts["period"], "flag_count": facts["flag_count"]}, (),
                       required=("flag_count",))
        return [opening, *(Part("flag", own, (f,), i, len(flags), f, _tested(f, context, own))
                           for i, f in enumerate(flags) for own in [_flag_facts(f, context, facts)])]
    return whole


def joined(texts: list[str], parts: list[Part] | None = None) -> str:
    """The answer the parts make, in their order, each part's slots under the answer's names."""
    return " ".join((part.in_answer(t) if part else t).strip()
                    for t, part in zip(texts, parts or [None] * len(texts), strict=True))
