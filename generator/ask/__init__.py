"""Ask: people's own questions about the companies of the inputs, answered by a verified program, never by a guess.

A question goes through four steps, as the best systems of financial question answering (TAT-QA's TagOp, FinQA)
do it: :mod:`~generator.ask.link` replaces the names that come from data with placeholders; a translator
(:mod:`~generator.ask.translate`, a small transformers model trained by ``finreport finetune-ask``) writes a program
in the query language of :mod:`~generator.ask.program`; :mod:`~generator.ask.execute` runs it over the knowledge,
recording every value it reads with its source lines; :mod:`~generator.ask.write` writes the answer with slots from
the executed values and checks it. The model never writes a number. A question the inputs cannot answer (a company
they do not have, a year they do not reach, a figure whose items are missing, a forecast) gets an answer that says
exactly why, and no number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from generator.ask.execute import Unanswerable, execute
from generator.ask.knowledge import Knowledge
from generator.ask.link import Linked, Number, Year, link
from generator.ask.program import PLACEHOLDER, SET, Node, ProgramError, parse, placeholders
from generator.ask.write import Writer, fill, unverified


class Translator(Protocol):
    """Writes programs for linked questions: for each text, its candidate programs, the likeliest first."""

    def programs(self, texts: Sequence[str]) -> list[list[str]]:
        """The candidate programs of each linked question, the likeliest first."""


@dataclass
class Asked:
    """One asked question and its answer. ``value``: the answer's figure (a fraction as a fraction, money in units of
    the currency; for a "which" question, the first chosen company's figure), None when there is none; ``entities``:
    the ids the answer is about, the chosen ones first; ``sources``: every value the program read, with its source
    lines."""

    question: str
    text: str
    value: float | None = None
    unit: str | None = None
    entities: list[str] = field(default_factory=list)
    program: Node | None = None
    program_words: str | None = None
    refused: bool = False
    reason: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)
    linked: str | None = None
    """The question as the translator saw it (placeholders for the names from data)."""
    candidates: list[str] = field(default_factory=list)
    """What the translator wrote, best first (kept for the evaluation and for a reader who doubts a program)."""
    bindings: dict[str, str] = field(default_factory=dict)
    """What each placeholder of the program stood for, as the grounded program writes it."""

    def grounded(self) -> Node | None:
        """The program with its placeholders replaced by what they stood for: ``(value KOLA free_cash_flow
        FY2025)``."""
        def ground(node: Node) -> Node:
            return Node(node.op, tuple(ground(a) if isinstance(a, Node) else self.bindings.get(a, a)
                                       for a in node.args))

        return ground(self.program) if self.program else None

    def record(self) -> dict[str, Any]:
        """The JSON object of ``finreport ask --json`` and of a "Your questions" answer in ``answers.json``: the
        program grounded (``program``, ``program_text``) and as the translator wrote it (``program_linked``) beside
        the question it read (``linked``)."""
        grounded = self.grounded()
        return {"question": self.question, "text": self.text, "value": self.value, "unit": self.unit,
                "entities": self.entities, "program": grounded.record() if grounded else None,
                "program_text": grounded.text() if grounded else None, "program_words": self.program_words,
                "refused": self.refused, "reason": self.reason, "sources": self.sources, "linked": self.linked,
                "program_linked": self.program.text() if self.program else None, "bindings": self.bindings}


def _fits(program: Node, linked: Linked, default: str | None) -> tuple[int, int, int]:
    """How well a candidate uses the question's names: (placeholders it uses that the question does not bind, names
    and years of the question it leaves out, numbers of the question it leaves out); lower is better. A refusal
    uses none and leaves none out: what it refuses is the question."""
    if program.op == "refuse":
        return 0, 0, 0
    used = set(placeholders(program))
    bound = {p for p in linked.bindings if PLACEHOLDER.match(p)}
    unbound = {p for p in used if p not in linked.bindings and not (p == "E1" and default)}
    left = bound - used
    return len(unbound), sum(p[0] != "N" for p in left), sum(p[0] == "N" for p in left)


def choose(candidates: list[str], linked: Linked, default: str | None) -> Node | None:
    """The candidate that parses and best fits the question's names (the translator's order breaks ties)."""
    parsed = []
    for i, text in enumerate(candidates):
        try:
            parsed.append((_fits(node := parse(text), linked, default), i, node))
        except ProgramError:
            continue
    return min(parsed, key=lambda t: (t[0], t[1]))[2] if parsed else None


def _currency(knowledge: Knowledge, linked: Linked) -> str:
    """The currency of the companies a question names, for its thresholds in the program's words."""
    named = {knowledge.companies[e].currency for e in linked.bindings.values() if isinstance(e, str)
             and e in knowledge.companies}
    return named.pop() if len(named) == 1 else "USD"


def _written(bindings: dict[str, Any]) -> dict[str, str]:
    """Each placeholder's binding as a grounded program writes it: an id, a metric, FY2025 or calendar 2024, a number,
    a sector, a flag class, an unknown name."""
    return {k: v.words() if isinstance(v, Year) else f"{v.value:g}" if isinstance(v, Number) else str(v)
            for k, v in bindings.items()}


def refusal(question: str, reason: str, **kwargs: Any) -> Asked:
    """An answer that gives no number and says why."""
    return Asked(question, f"This cannot be answered from the inputs: {reason}.", refused=True, reason=reason,
                 **kwargs)


def answer(question: str, linked: Linked, candidates: list[str], knowledge: Knowledge,
           default_entity: str | None = None) -> Asked:
    """The answer to one linked question from the translator's candidates."""
    program = choose(candidates, linked, default_entity)
    extra = {"linked": linked.text, "candidates": candidates}
    if program is None:
        return refusal(question, "the question could not be turned into a program (finreport answers look-ups, "
                                 "changes, sums, averages, growth rates, ratios, comparisons, rankings and counts of "
                                 "reported annual figures)", **extra)
    if default_entity and "E1" not in linked.bindings:
        linked.bindings["E1"] = default_entity
    extra["bindings"] = _written(linked.bindings)
    writer = Writer(knowledge, linked)
    words = Writer(knowledge, linked, inline=_currency(knowledge, linked)).words(program)
    try:
        result = execute(program, knowledge, linked)
        slotted = writer.text(program, result)
    except Unanswerable as exc:
        return refusal(question, str(exc), program=program, program_words=words, **extra)
    entities = [e for e, _ in result.rows] + [r.entity_id for r in result.reads] + list(result.table) + \
        result.missing + result.other_currency
    entities = list(dict.fromkeys(entities))
    text = fill(slotted, writer.slots, writer.currency(result))
    years = {r.fiscal_year for r in result.reads} | set(result.years.values()) | \
        {y for _, rows in result.table.items() for y, _ in rows} | \
        {b.year for b in linked.bindings.values() if isinstance(b, Year)}
    if problem := unverified(text, writer.slots, set(entities), knowledge, years):  # the writer's bug, not the model's
        return refusal(question, f"the answer failed its check ({problem})", program=program, program_words=words,
                       **extra)
    value = result.rows[0][1] if result.kind == SET and result.rows else result.value
    return Asked(question, text, value, result.unit if value is not None else None, entities,
                 program, words, sources=[r.record() for r in result.reads], **extra)


def ask_all(questions: Sequence[str], knowledge: Knowledge, translator: Translator,
            default_entity: str | None = None) -> list[Asked]:
    """Every question answered over one knowledge; the translator writes all their programs in one batch. With a
    ``default_entity`` (a report's company), a question that names no company is about it."""
    linked = [link(q, knowledge) for q in questions]
    candidates = translator.programs([lk.text for lk in linked]) if linked else []
    return [answer(q, lk, c, knowledge, default_entity) for q, lk, c in zip(questions, linked, candidates, strict=True)]


def ask(question: str, knowledge: Knowledge, translator: Translator, *, default_entity: str | None = None) -> Asked:
    """One question answered over the knowledge."""
    return ask_all([question], knowledge, translator, default_entity)[0]
