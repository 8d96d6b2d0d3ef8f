"""The verifier: every slot, number, direction word and flag of a narrator's answer checked against the facts
the narrator was given for that question. An answer that fails is replaced by the reference answer.

A narrator refers to facts by slot (``⟨current_ratio⟩``), and :func:`fill` writes each slot's value in the
report's format: digits come from the data, never from the model. A narrator that writes literal numbers is
checked number by number: each must be one of the prompt's facts within the rounding it was written with,
in the same kind (a fraction written as ``25.3%``, not ``0.253``; ``$1.2bn``, not ``$1.2m``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from typing import Any

from generator.metrics import BY_NAME, definition, label
from generator.narrator import (
    LISTED_FINDINGS,
    Context,
    Question,
    changes,
    formatting,
    question_findings,
    ranks,
    relevant_flags,
)
from generator.periods import period_label

SLOT = re.compile(r"⟨([a-z0-9_]+)⟩")
_IGNORED = re.compile(r"\b\d{4}-\d{2}-\d{2}\b|\S+\.(?:csv|parquet|jsonl|json)(?::\d+)?|\bFY\d{4}\b|\bQ[1-4]\b"
                      r"|(?<![\d.,$€£¥-])\b(?:19|20)\d{2}\b(?![\d.,%x])|Z''")
_NUMBER = re.compile(
    r"(?<![\w.])(?P<open>\()?(?P<sign>[-−–])?(?P<cur>[$€£¥])?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?P<suffix>%|\s?pp\b|x\b|bn\b|tn\b|m\b|k\b|\s(?:trillion|billion|million|thousand)\b)?(?P<close>\))?")
_SCALE = {"tn": 1e12, "trillion": 1e12, "bn": 1e9, "billion": 1e9, "m": 1e6, "million": 1e6, "k": 1e3,
          "thousand": 1e3}
_KINDS = {"fraction": "percent", "multiple": "multiple", "currency": "currency", "currency_per_share": "currency",
          "days": "plain", "score": "plain", "shares": "plain", "count": "plain", "amount": "plain"}
UP = ("rose", "risen", "increased", "increase", "grew", "grown", "up", "higher", "gained", "expanded", "climbed")
DOWN = ("fell", "fallen", "declined", "decline", "decreased", "decrease", "down", "lower", "dropped", "shrank",
        "contracted")
BETTER, WORSE = ("improved", "improvement", "strengthened"), ("deteriorated", "worsened", "weakened")
GAINS = ("kept", "earned", "retained", "generated")
"""Words that say a figure was gained: "kept -63.6% of revenue as net income" says a loss was a profit."""
_WORDS = re.compile(r"[a-z]+")
_LEADS = re.compile(r"\s*(?:(?:from|to|by|at|of)\s+)?\(?")


@dataclass(frozen=True)
class Fact:
    """One fact a narrator is given: a slot name, its value and its unit (a registry unit, ``count``, ``amount``,
    or ``text`` for the period and the findings' messages, which are written as they are)."""

    name: str
    value: float
    unit: str
    metric: str | None = None
    text: str | None = None
    cue: str | None = None  # what the prompt shows for a text fact (a finding's check), instead of the text

    def display(self, currency: str) -> str:
        if self.unit == "text":
            return self.text or ""
        if self.unit in ("count", "amount"):
            return f"{self.value:,.0f}"
        return formatting.by_unit(self.value, self.unit, currency)


def trend(facts: dict[str, Fact], name: str, currency: str) -> str | None:
    """up, down or flat: how a fact moved on a year earlier as the report shows it (two figures that read the
    same are flat); None without the earlier figure."""
    now, before = facts.get(name), facts.get(f"{name}_prior")
    if now is None or before is None:
        return None
    if now.display(currency) == before.display(currency) or now.value == before.value:
        return "flat"
    return "up" if now.value > before.value else "down"


def is_change(fact: Fact) -> bool:
    """A growth rate or a change: the direction an answer gives it is its own sign."""
    return bool(fact.metric) and ("growth" in fact.metric or fact.metric.endswith("_change"))


def move(facts: dict[str, Fact], name: str, currency: str) -> str | None:
    """The direction an answer gives a fact: a growth rate's (or a change's) own sign, flat where it reads as
    zero; any other figure's :func:`trend` on a year earlier."""
    fact = facts.get(name)
    if fact is not None and is_change(fact):
        if fact.display(currency).lstrip("-+").rstrip("%x").strip("0.") == "":
            return "flat"
        return "up" if fact.value > 0 else "down"
    return trend(facts, name, currency)


def prompt_facts(question: Question, context: Context) -> dict[str, Fact]:
    """The facts of one question for one company: the period, each metric and its value a year earlier
    (``_prior``), the values and thresholds behind the flags the question looks at, the counts an answer may
    state, and, where the question asks for them, the sector ranks and the data-quality findings."""
    facts: dict[str, Fact] = {"period": Fact("period", context.fiscal_year, "text", text=context.period)}

    def add(name: str, metric: str) -> None:
        unit = definition(metric).unit
        for slot, values in ((name, context.metrics), (f"{name}_prior", context.prior)):
            value = values.get(metric)
            if value is not None and math.isfinite(value) and slot not in facts:
                facts[slot] = Fact(slot, value, unit, metric)

    metrics = list(question.facts)
    if question.moves:  # largest relative move first, then the facts that did not move or lack a year earlier
        moved = [c["metric"] for c in changes(question, context)]
        metrics = moved + [m for m in metrics if m not in moved]
    for metric in metrics:
        add(metric, metric)
        if "growth" in metric and metric in facts:  # "down ⟨revenue_growth_yoy_abs⟩": the size of a change
            facts[f"{metric}_abs"] = Fact(f"{metric}_abs", abs(facts[metric].value), "fraction", metric)
    flags = relevant_flags(question, context)
    for flag in flags:
        for condition in flag.get("conditions", []):
            metric = condition["metric"]
            add(metric, metric)
            name = condition_slot(condition, context)
            if name not in facts and math.isfinite(condition["value"]):  # a trailing or another period's figure
                facts[name] = Fact(name, condition["value"], definition(metric).unit, metric)
            for op, threshold in condition["bounds"]:
                name = f"{metric}_{'min' if op.startswith('>') else 'max'}_threshold"
                facts[name] = Fact(name, threshold, definition(metric).unit, None)
    if question.flags:
        facts["flag_count"] = Fact("flag_count", len(flags), "count")
    if "piotroski_f_score" in facts:
        facts["piotroski_f_score_max"] = Fact("piotroski_f_score_max", 9, "score")
    if question.peers and context.peers:  # the company's rank among its sector, not every peer's value
        facts["sector_companies"] = Fact("sector_companies", len(context.peers) + 1, "count")
        for metric, rank in ranks(question, context).items():
            if rank is not None:
                facts[f"{metric}_rank"] = Fact(f"{metric}_rank", rank, "count")
    if question.peers and context.sector:
        facts["sector"] = Fact("sector", 0, "text", text=context.sector)
    if question.findings:
        chosen = question_findings(question, context)
        facts["finding_count"] = Fact("finding_count", len(chosen), "count")
        for i, finding in enumerate(chosen[:LISTED_FINDINGS]):
            facts[f"finding{i}"] = Fact(f"finding{i}", i, "text", text=finding["message"].rstrip("."),
                                        cue=finding["check"].replace("_", " "))
            own = period_label(finding["fiscal_year"], finding["fiscal_period"])
            facts[f"finding{i}_period"] = Fact(f"finding{i}_period", i, "text", text=own)
            for key, value in finding.get("facts", {}).items():
                if isinstance(value, int | float) and math.isfinite(value):
                    facts[f"finding{i}_{key}"] = Fact(f"finding{i}_{key}", value, "amount", None)
    return facts


def condition_slot(condition: dict[str, Any], context: Context) -> str:
    """The slot of the figure a flag's condition tested: the metric, its trailing-twelve-month value
    (``_ttm``), or its value in another period (``_q3_fy2024``)."""
    name = condition["metric"] + ("_ttm" if condition["ttm"] else "")
    if condition["period"] != context.period:
        name += "_" + condition["period"].lower().replace(" ", "_")
    return name


def fill(text: str, facts: dict[str, Fact], currency: str) -> str:
    """Each slot written as its fact's value, formatted as everywhere else in the report."""
    return _filled(text, facts, currency)[0]


@dataclass(frozen=True)
class Literal:
    text: str
    value: float
    kind: str
    tolerance: float
    signed: bool
    start: int


def literals(text: str) -> list[Literal]:
    """The numbers of a text, each with its kind, value in base units and the rounding it was written with;
    dates, years, quarters and file references are not figures and are skipped."""
    masked = _IGNORED.sub(lambda m: " " * len(m.group(0)), text)
    out = []
    for m in _NUMBER.finditer(masked):
        digits = m.group("num").replace(",", "")
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        value, step = float(digits), 0.5 * 10 ** -decimals
        suffix = (m.group("suffix") or "").strip()
        signed = bool(m.group("sign")) or bool(m.group("open") and m.group("close"))
        if suffix == "%":
            kind, value, step = "percent", value / 100, step / 100
        elif suffix == "pp":
            kind, value, step = "pp", value / 100, step / 100
        elif suffix == "x":
            kind = "multiple"
        elif suffix in _SCALE:
            kind, value, step = "currency", value * _SCALE[suffix], step * _SCALE[suffix]
        elif m.group("cur"):
            kind = "currency"
        else:
            kind = "plain"
        out.append(Literal(m.group(0), -value if signed else value, kind, step * 1.0000001, signed, m.start()))
    return out


def _matches(literal: Literal, fact: Fact) -> bool:
    if _KINDS.get(fact.unit) != literal.kind:
        return False
    if literal.signed:
        return abs(literal.value - fact.value) <= literal.tolerance
    return abs(abs(literal.value) - abs(fact.value)) <= literal.tolerance


@dataclass
class Verdict:
    ok: bool
    reason: str
    checked: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"status": "verified" if self.ok else "rejected", "detail": self.reason, "checked": self.checked}


def verify(text: str, question: Question, context: Context, flag_labels: Sequence[str],
           facts: dict[str, Fact] | None = None) -> Verdict:
    """Check a narrator's text (slots not yet filled) for one question; the first failure is the reason."""
    facts = prompt_facts(question, context) if facts is None else facts
    checked: list[dict[str, Any]] = []
    problem = _shape(_as_slots(text, facts))
    if problem:
        return Verdict(False, problem)
    unknown = [s for s in SLOT.findall(text) if s not in facts]
    if unknown:
        return Verdict(False, f"slot ⟨{unknown[0]}⟩ is not a fact of this question")
    problem = _repeated_slot(text, facts, context.currency) or _now_and_then(text, facts) \
        or _data_words(text, context, facts)
    if problem:
        return Verdict(False, problem)
    shown, spans = _filled(text, facts, context.currency)
    for start, clause in _clauses(shown):
        refs, problem = _references(clause, start, spans, facts, checked)
        if problem:
            return Verdict(False, problem, checked)
        problem = _directions(clause, [(pos, found[0]) for pos, found in refs], facts, context.currency) \
            or _names(clause, refs)
        if problem:
            return Verdict(False, problem, checked)
    problem = _flags(shown, question, context, flag_labels) or _largest(text, question, context) \
        or _topic(shown, question)
    if problem:
        return Verdict(False, problem, checked)
    comparable = not question.moves or any(n.endswith("_prior") for n in facts)  # moves need a year earlier
    if question.facts and comparable and any(f.metric in question.facts for f in facts.values()) and not checked:
        return Verdict(False, "off-topic: the answer uses none of the question's facts", checked)
    return Verdict(True, f"{len(checked)} figures checked against the facts", checked)


_PERIOD = re.compile(r"\b(?:Q[1-4]\s+)?FY\s?\d{4}\b|(?<![\d.,$€£¥-])\b(?:19|20)\d{2}\b(?![\d.,%x])")


@cache
def sector_names() -> frozenset[str]:
    """Every sector a company can be given: the shipped SIC table's and the sample's."""
    from generator.ingest.sectors import sic_table
    from generator.sample import PROFILES

    return frozenset({r.sector for r in sic_table()} | {p.sector for p in PROFILES})


def _data_words(text: str, context: Context, facts: dict[str, Fact]) -> str | None:
    """Sectors and periods a text states in its own words, outside the slots the data fills, must be the
    company's own: the model wrote "Among 2 companies in Healthcare" for a Technology company, and the
    numbers around it were all true."""
    own = SLOT.sub(" ", text)
    for name in sorted(sector_names()):
        if name != context.sector and re.search(rf"\b{re.escape(name)}\b", own):
            return f"names the sector {name!r}, not the company's own ({context.sector or 'none given'})"
    allowed = {context.period, *(f.text for f in facts.values() if f.unit == "text" and f.text)}
    for m in _PERIOD.finditer(own):
        period = " ".join(m.group(0).replace("FY ", "FY").split())
        if not any(period in text_ for text_ in allowed):
            return f"names the period {period!r}, which is not {context.period} nor a period of its facts"
    return None


def _topic(text: str, question: Question) -> str | None:
    lowered = text.lower()
    if question.topic and not any(word in lowered for word in question.topic):
        return f"off-topic: the answer says nothing of {', '.join(question.topic[:3])}"
    return None


def _largest(text: str, question: Question, context: Context) -> str | None:
    """"The largest moves" must name the largest, in order: a beam wrote the two smallest under that heading."""
    if not question.moves or not re.search(r"\b(largest|biggest|most)\b", text.lower()):
        return None
    named = list(dict.fromkeys(m.group(1).removesuffix("_prior") for m in SLOT.finditer(text)))
    ranked = [c["metric"] for c in changes(question, context)]
    named = [n for n in named if n in question.facts]
    if named != ranked[:len(named)]:
        return f"'largest' but names {', '.join(named) or 'no move'}; the largest relative moves are " \
               f"{', '.join(ranked[:max(len(named), 1)]) or 'none'}"
    return None


def _as_slots(text: str, facts: dict[str, Fact]) -> str:
    """A finding's words written out (a reference answer, an analyst's edit) as the slot they fill: their own
    colons and repeats are data, not the answer's shape."""
    for fact in sorted((f for f in facts.values() if f.unit == "text" and f.text and f.name.startswith("finding")),
                       key=lambda f: -len(f.text or "")):
        text = text.replace(fact.text or "", f"⟨{fact.name}⟩")
    return text


def _shape(text: str) -> str | None:
    words = _WORDS.findall(text.lower())
    if len(words) < 3:
        return "empty: fewer than three words"
    if not text.rstrip().endswith((".", "!", "?")):
        return "truncated: the answer does not end with a full sentence"
    sentences = [s.strip().lower() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip()]
    if len(sentences) != len(set(sentences)):
        return "repeated: the same sentence twice"
    tokens = text.lower().split()
    grams = [" ".join(tokens[i:i + 6]) for i in range(len(tokens) - 5)]
    if grams and max(grams.count(g) for g in set(grams)) >= 3:
        return "repeated: the same words over and over"
    return next((f"not a sentence ({why}): {sentence[:80]!r}" for sentence in re.split(r"(?<=[.!?])\s+", text.strip())
                 if (why := _broken(sentence))), None)


_MOVED = re.compile(r"\b(?:rose|fell|grew|declined|increased|decreased|climbed|dropped|slipped|moved|up|down|changed|"
                    r"restated|unchanged|went|improved|worsened|slowed|accelerated|swung|turned|eased|narrowed|widened|"
                    r"shrank|came|held|amounted|totalled|ran)\b", re.IGNORECASE)
_DANGLING = re.compile(r"\b(?:the|a|an|of|to|from|in|on|at|by|for|and|or|but|than|as|its|their|was|were|is|are)"
                       r"\s*[.!?]$", re.IGNORECASE)


def _broken(sentence: str) -> str | None:
    """What makes a sentence no sentence: words a model left half-written ("cash burn (up ⟨period⟩: …",
    "Among  companies in", "ranks ⟨net_margin⟩ of.", "Piotroski- "), no word of its own, the same words twice
    ("a loss, a loss"), one heading after another ("⟨finding_count⟩ zone: ⟨finding_count⟩ finding: …"), or a
    figure a move goes to or from with no verb to move it ("The largest moves on a year earlier to €8.2bn"; a
    list under a heading that names the moves may). Beams and samples found each of these."""
    if sentence.count("(") != sentence.count(")"):
        return "unbalanced parentheses"
    if re.search(r"\S\s{2,}\S|\s[.,;:)]", sentence):
        return "a gap where words are missing"
    if sentence[:1].islower():
        return "it starts in lower case"
    if _DANGLING.search(sentence):
        return "it ends mid-phrase"
    if re.search(r"\w- ", sentence):
        return "a word broken off"
    if not re.search(r"[A-Za-z]{3,}|⟨finding\d+⟩", SLOT.sub(lambda m: m.group(0) if re.fullmatch(
            r"finding\d+", m.group(1)) else " ", sentence)):
        return "no word of its own"  # a finding's text is words
    parts = [c.strip(" .").lower() for c in re.split(r"[;,:]\s+", sentence) if len(c.split()) >= 3]
    if len(parts) != len(set(parts)) or re.search(r"\b(\w+(?: \w+)+), \1\b", sentence):
        return "the same words twice"
    listed = re.sub(r"⟨finding\d+_period⟩: ⟨finding\d+⟩", "F", sentence)  # a finding under its period
    if any(c.count(": ") > 1 for c in re.split(r";\s+", listed)) or re.search(r"_period⟩: ⟨\w+_period⟩", sentence):
        return "one heading after another"
    head, colon, _ = sentence.partition(": ")
    clauses = re.split(r";\s+", head if colon and re.search(r"\b(?:moves|changes)\b", head, re.IGNORECASE)
                       else sentence)
    if any(re.search(r"\b(?:from|to)\s+⟨", c) and not _MOVED.search(c) for c in clauses):
        return "a figure moves to or from with no verb"
    return None


def _filled(text: str, facts: dict[str, Fact], currency: str) -> tuple[str, list[tuple[int, int, Fact]]]:
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


_CLAUSE_BREAK = re.compile(r"(?<=[.;:!?])\s+|,\s+(?=(?:and|but|while|whereas)\b)")


def _clauses(text: str) -> list[tuple[int, str]]:
    """(offset, clause): sentences, and their parts joined by a comma and a conjunction."""
    out, start = [], 0
    for m in _CLAUSE_BREAK.finditer(text):
        out.append((start, text[start:m.start()]))
        start = m.end()
    return [*out, (start, text[start:])]


_FROM = re.compile(r"\bfrom\s+⟨([a-z0-9_]+)⟩")
_TO = re.compile(rf"(?:\b(?:{'|'.join(UP + DOWN)})|\bfrom\s+⟨[a-z0-9_]+⟩)\s+to\s+⟨([a-z0-9_]+)_prior⟩")


def _now_and_then(text: str, facts: dict[str, Fact]) -> str | None:
    """A move runs from the year-earlier figure to the current one: "total debt rose from ⟨total_debt⟩" (or
    "fell to ⟨cash_prior⟩") gives the current figure as where it started, and is wrong whatever its direction."""
    for m in _FROM.finditer(text):
        if f"{m.group(1)}_prior" in facts:
            return f"'from ⟨{m.group(1)}⟩': a move starts from the year-earlier figure, ⟨{m.group(1)}_prior⟩"
    for m in _TO.finditer(text):
        if m.group(1) in facts:
            return f"'to ⟨{m.group(1)}_prior⟩': a move ends at the current figure, ⟨{m.group(1)}⟩"
    return None


def _repeated_slot(text: str, facts: dict[str, Fact], currency: str) -> str | None:
    """A figure stated three times in one sentence is a loop; twice within a few words, where its year-earlier
    twin reads differently, a confusion of now and then ("rose from ⟨cash_prior⟩ to ⟨cash_prior⟩"). Counts
    (ranks, the sector's size) may repeat: "ranks 2 of 5 … among 5 companies"."""
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        found = [(m.group(1), m.start()) for m in SLOT.finditer(sentence) if facts[m.group(1)].unit != "count"]
        for slot in sorted({name for name, _ in found}):
            at = [pos for name, pos in found if name == slot]
            twin = facts.get(slot.removesuffix("_prior") if slot.endswith("_prior") else f"{slot}_prior")
            confused = twin is not None and twin.display(currency) != facts[slot].display(currency)
            close = any(len(sentence[a:b].split()) <= 6 for a, b in pairwise(at))
            if len(at) >= 3 or (close and confused):
                return f"repeated: ⟨{slot}⟩ {len(at)} times in one sentence"
    return None


def _references(clause: str, offset: int, spans: list[tuple[int, int, Fact]], facts: dict[str, Fact],
                checked: list[dict[str, Any]]) -> tuple[list[tuple[int, list[Fact]]], str | None]:
    """(position, facts it may be) for every figure of the clause, the likeliest first; or the first figure
    that is no fact of the prompt."""
    refs = []
    for literal in literals(clause):
        at = offset + literal.start
        slot = next((f for start, end, f in spans if start <= at < end), None)
        if slot is not None and slot.unit == "text":  # a finding's own words, filled from the data verbatim
            continue
        if slot is not None and _matches(literal, slot):
            found = [slot]
        elif literal.kind == "pp":
            found = [f for f in facts.values() if f.unit == "fraction" and f"{f.name}_prior" in facts
                     and abs(abs(f.value - facts[f"{f.name}_prior"].value) - abs(literal.value)) <= literal.tolerance]
        else:
            found = [f for f in facts.values() if _matches(literal, f)]
        if not found:
            return refs, f"{literal.text.strip()} is not a figure of the facts given (nor within its rounding)"
        found.sort(key=lambda f: (f.name.endswith("_prior"), "threshold" in f.name, f.name))
        checked.append({"text": literal.text.strip(), "fact": found[0].name, "value": found[0].value})
        refs.append((literal.start, found))
    return refs, None


@cache
def _mentions() -> tuple[re.Pattern[str], dict[str, str]]:
    """Every metric's and statement item's name as a report writes it, longest first ("net debt to EBITDA"
    before "EBITDA"), and the metric each names."""
    names = {label(name).lower(): name for name in BY_NAME}
    pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w&-])(?:{pattern})(?![\w&-])"), names


def _names(clause: str, refs: list[tuple[int, list[Fact]]]) -> str | None:
    """A figure must be the one the words before it name: the metric named last between the previous figure
    and this one is the figure's own metric, an item it is computed from ("receivables took ⟨dso⟩", "operating
    income covered interest ⟨interest_coverage⟩") or part of its name ("net debt was ⟨net_debt_to_ebitda⟩
    EBITDA"); "gross margin was ⟨operating_margin⟩" fails."""
    pattern, names = _mentions()
    lowered, start = clause.lower(), 0
    for pos, found in refs:
        named = [names[m.group(0)] for m in pattern.finditer(lowered, start, pos)]
        start = pos + 1
        own = [f for f in found if f.metric]
        if not named or not own:
            continue
        if not any(named[-1] == f.metric.removesuffix("_ttm") or named[-1] in _sources(f.metric)
                   or re.search(rf"\b{re.escape(label(named[-1]))}\b", label(f.metric)) for f in own):
            return f"'{label(named[-1])}' names the figure of {own[0].name}"
    return None


def _sources(metric: str) -> set[str]:
    """The statement items a metric is computed from (a year or a quarter earlier too); an item: itself."""
    base = metric.removesuffix("_ttm")
    return {i.split("_prior_")[0] for i in definition(base).inputs} if base in BY_NAME else {base}


def _directions(clause: str, refs: list[tuple[int, Fact]], facts: dict[str, Fact], currency: str) -> str | None:
    """A direction word must agree with the sign of the change it describes, and a figure that reads the same as
    a year earlier did not move ("total debt rose from $3.8bn to $3.8bn"); above and below with the order of the
    two figures around them."""
    lowered = clause.lower()
    for m in re.finditer(r"\b(above|below)\b", lowered):
        before = [f for pos, f in refs if pos < m.start()]
        after = [f for pos, f in refs if pos > m.end()]
        if before and after:
            a, b = before[-1].value, after[0].value
            if (m.group(1) == "above") != (a > b):
                return f"'{m.group(1)}' contradicts the figures ({a:g} vs {b:g})"
    for m in _WORDS.finditer(lowered):
        word = m.group(0)
        following = [(pos, f) for pos, f in refs if pos > m.end()]
        if word in GAINS and following and _LEADS.fullmatch(lowered[m.end():following[0][0]]) \
                and following[0][1].value < 0 and following[0][1].unit not in ("count", "text"):
            return f"'{word}' a negative figure (⟨{following[0][1].name}⟩): a loss is not a gain"
        if word not in UP + DOWN + BETTER + WORSE or not refs:
            continue
        before = [f for pos, f in refs if pos < m.start()]
        after = [(pos, f) for pos, f in refs if pos > m.end()]
        if after and _LEADS.fullmatch(lowered[m.end():after[0][0]]):  # "up 5.0%", "down from 0.52x"
            fact = after[0][1]
        else:  # "cash rose": the figure just before the word
            fact = before[-1] if before else refs[0][1]
        change = _change(fact, facts)
        if change is None or change == 0 or fact.metric is None:
            continue
        if word in UP + DOWN and not is_change(fact) and \
                trend(facts, fact.name.removesuffix("_prior"), currency) == "flat":
            return f"'{word}' but ⟨{fact.name.removesuffix('_prior')}⟩ reads the same as a year earlier: unchanged"
        if (word in UP and change < 0) or (word in DOWN and change > 0):
            return f"'{word}' contradicts the change of {fact.name} ({change:+.4g})"
        favourable = definition(fact.metric).favourable
        if favourable != "neutral" and word in BETTER + WORSE and \
                (word in BETTER) != ((change > 0) == (favourable == "higher")):
            return f"'{word}' contradicts the change of {fact.name} ({change:+.4g})"
    return None


def _change(fact: Fact, facts: dict[str, Fact]) -> float | None:
    """The change a direction word may describe: a growth rate's own sign, or now minus a year earlier (from
    either figure: "rose from ⟨cash_prior⟩ to ⟨cash⟩" is about cash)."""
    if is_change(fact):
        return facts[fact.metric].value if fact.name.endswith("_abs") else fact.value
    if fact.name.endswith("_prior"):
        now = facts.get(fact.name.removesuffix("_prior"))
        return None if now is None else now.value - fact.value
    prior = facts.get(f"{fact.name}_prior")
    return None if prior is None else fact.value - prior.value


# What a flag says in words: a sentence that claims it needs the flag as much as one that names it
# ("Current assets cover current liabilities at least twice" with a current ratio of 0.85x is false).
CLAIMS = {"at least twice": "strong liquidity", "exceed current assets": "liquidity concern",
          "cannot cover its current liabilities": "liquidity concern", "net debt exceeds four": "excessive net debt",
          "more than four times ebitda": "excessive net debt", "interest coverage is weak": "weak interest coverage",
          "burning cash": "cash burn", "made a net loss": "loss-making", "ended in a net loss": "loss-making",
          "three consecutive": "sustained revenue decline", "third consecutive fall": "sustained revenue decline",
          "distress zone": "altman z'' distress zone", "grey zone": "altman z'' grey zone",
          "safe zone": "altman z'' safe zone", "leverage is high": "high leverage"}


def named_flags(text: str, flag_labels: Sequence[str]) -> set[str]:
    """The flags a text names (lower case), longest label first: "severe liquidity concern" is not also
    "liquidity concern"."""
    remaining, named = text.lower(), set()
    for flag_label in sorted(flag_labels, key=len, reverse=True):
        if flag_label.lower() in remaining:
            named.add(flag_label.lower())
            remaining = remaining.replace(flag_label.lower(), " ")
    return named


def _flags(text: str, question: Question, context: Context, flag_labels: Sequence[str]) -> str | None:
    """Flags named or claimed must be flags the reasoner inferred for the period; the risk answer must name all
    of them."""
    inferred = {f["label"].lower() for f in context.flags}
    claimed = sorted({flag for words, flag in CLAIMS.items() if words in text.lower() and flag not in inferred})
    if claimed:
        return f"claims a flag the reasoner did not infer: {claimed[0]}"
    named = named_flags(text, flag_labels)
    extra = named - inferred
    if extra:
        return f"names a flag the reasoner did not infer: {sorted(extra)[0]}"
    if any(f.startswith("*") for f in question.flags):  # the risk question: every inferred flag, by name
        expected = {f["label"].lower() for f in relevant_flags(question, context)}
        missing = expected - named
        if missing:
            return f"misses a flag the reasoner inferred: {sorted(missing)[0]}"
    return None
