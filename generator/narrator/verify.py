"""The verifier: every slot, number, direction word and flag of a narrator's answer checked against the facts
the narrator was given for that question. An answer that fails is replaced by the reference answer.

A narrator refers to facts by slot (``⟨current_ratio⟩``), and :func:`fill` writes each slot's value in the
report's format: digits come from the data, never from the model. A narrator that writes literal numbers is
checked number by number: each must be one of the prompt's facts within the rounding it was written with,
in the same kind (a fraction written as ``25.3%``, not ``0.253``; ``$1.2bn``, not ``$1.2m``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from typing import Any

from generator.metrics import BY_NAME, definition, label
from generator.narrator import (
    Context,
    Question,
    changes,
    relevant_flags,
)
from generator.narrator.parts import Part
from generator.narrator.slots import SLOT, Slot, filled, is_change, prompt_facts, trend

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
AHEAD = ("outperformed", "outperforming", "outperform", "beat", "ahead")
BEHIND = ("underperformed", "underperforming", "underperform", "trailed", "lagged", "behind")
"""Words that say how a share did against its benchmark: they must agree with the sign of its relative return."""
PREMIUM, DISCOUNT = ("premium", "richer", "dearer"), ("discount", "cheaper")
"""Words that say how a valuation stands against its sector: they must agree with the ratio to the median."""
GAINS = ("kept", "earned", "retained", "generated")
"""Words that say a figure was gained: "kept -63.6% of revenue as net income" says a loss was a profit."""
_WORDS = re.compile(r"[a-z]+")
_LEADS = re.compile(r"\s*(?:(?:from|to|by|at|of)\s+)?\(?")


@dataclass(frozen=True)
class Figure:
    """A number written in an answer: as written, its value in base units, its kind (percent, multiple, currency,
    plain), the rounding it was written with, whether it carries a sign, and where it starts."""

    text: str
    value: float
    kind: str
    tolerance: float
    signed: bool
    start: int


def figures(text: str) -> list[Figure]:
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
        out.append(Figure(m.group(0), -value if signed else value, kind, step * 1.0000001, signed, m.start()))
    return out


def matches(figure: Figure, fact: Slot) -> bool:
    """Whether a written figure can be this fact: the same kind, and equal within the rounding it was written with; an
    unsigned figure is compared by size, since the words around it give its direction."""
    if _KINDS.get(fact.unit) != figure.kind:
        return False
    if figure.signed:
        return abs(figure.value - fact.value) <= figure.tolerance
    return abs(abs(figure.value) - abs(fact.value)) <= figure.tolerance


@dataclass
class Verdict:
    """The verifier's judgement of one answer: whether it passed, the first failure as the reason, and the figures
    checked on the way."""

    ok: bool
    reason: str
    checked: list[dict[str, Any]] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        """The judgement as answers.json keeps it: ``verified`` or ``rejected``, the reason, the figures checked."""
        return {"status": "verified" if self.ok else "rejected", "detail": self.reason, "checked": self.checked}


def verify(text: str, question: Question, context: Context, flag_labels: Sequence[str],
           facts: dict[str, Slot] | None = None, part: Part | None = None, joined: bool = False) -> Verdict:
    """Check a narrator's text (slots not yet filled) for one question; the first failure is the reason. A
    ``part`` of an answer (one sentence of a list) is held to its own facts and flags, and not yet to what only a
    whole answer must do (be on its topic, name every flag the question asks for). An answer ``joined`` from parts
    that passed one by one may repeat words from part to part ("over the last twelve months" of each flag): a
    list's, not a loop's."""
    facts = prompt_facts(question, context) if facts is None else facts
    text = _dates_and_names(text, facts)
    checked: list[dict[str, Any]] = []
    problem = _shape(_as_slots(text, facts), loops=not joined)
    if problem:
        return Verdict(False, problem)
    unknown = [s for s in SLOT.findall(text) if s not in facts]
    if unknown:
        return Verdict(False, f"slot ⟨{unknown[0]}⟩ is not a fact of this question")
    problem = _repeated_slot(text, facts, context.currency) or _now_and_then(text, facts) \
        or _data_words(text, context, facts) or _placed(text)
    if problem:
        return Verdict(False, problem)
    shown, spans = filled(text, facts, context.currency)
    for start, clause in _clauses(shown):
        refs, problem = _references(clause, start, spans, facts, checked)
        if problem:
            return Verdict(False, problem, checked)
        problem = _directions(clause, [(pos, found[0]) for pos, found in refs], facts, context.currency) \
            or _names(clause, refs)
        if problem:
            return Verdict(False, problem, checked)
    if part is not None:
        problem = _part_flags(shown, part, context, flag_labels) or _largest(text, question, context) \
            or _about_its_item(text, part)
        if problem:
            return Verdict(False, problem, checked)
        return Verdict(True, f"{len(checked)} figures checked against the facts", checked)
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


def _data_words(text: str, context: Context, facts: dict[str, Slot]) -> str | None:
    """Sectors and periods a text states in its own words, outside the slots the data fills, must be the
    company's own: the model wrote "Among 2 companies in Healthcare" for a Technology company, and the
    numbers around it were all true."""
    own = SLOT.sub(" ", text)
    for name in sorted(context.holdings, key=len, reverse=True):  # a portfolio's holdings: named through a slot
        if re.search(rf"(?<![\w&-]){re.escape(name)}(?![\w&-])", own):
            return f"names the holding {name!r} outside the slots that name the data's choices"
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


WRITTEN_OUT = ("as_of", "benchmark", "largest_holding", "top_sector", "top_contributor")
"""Text facts a reference answer or an analyst writes out ("27 November 2026", "SP500", a holding's name): their
digits and words are data."""


def _dates_and_names(text: str, facts: dict[str, Slot]) -> str:
    """The date of the last close and the benchmark, written out, as the slots they fill: "SP500" is no figure of
    500, and "27 November 2026" the data's date, where any other date is a figure nothing backs."""
    for name in sorted(WRITTEN_OUT, key=lambda n: -len(facts[n].text or "") if n in facts else 0):
        if (fact := facts.get(name)) is not None and fact.text:
            text = re.sub(rf"(?<![\w⟨]){re.escape(fact.text)}(?![\w⟩])", f"⟨{name}⟩", text)
    return text


def _as_slots(text: str, facts: dict[str, Slot]) -> str:
    """A finding's words written out (a reference answer, an analyst's edit) as the slot they fill: their own
    colons and repeats are data, not the answer's shape."""
    for fact in sorted((f for f in facts.values() if f.unit == "text" and f.text and f.name.startswith("finding")),
                       key=lambda f: -len(f.text or "")):
        text = text.replace(fact.text or "", f"⟨{fact.name}⟩")
    return text


def _shape(text: str, loops: bool = True) -> str | None:
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
    if loops and grams and max(grams.count(g) for g in set(grams)) >= 3:
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
    if not re.search(r"[A-Za-z]{3,}|⟨finding\d*⟩", SLOT.sub(lambda m: m.group(0) if re.fullmatch(
            r"finding\d*", m.group(1)) else " ", sentence)):
        return "no word of its own"  # a finding's text is words
    parts = [c.strip(" .").lower() for c in re.split(r"[;,:]\s+", sentence) if len(c.split()) >= 3]
    if len(parts) != len(set(parts)) or re.search(r"\b(\w+(?: \w+)+), \1\b", sentence):
        return "the same words twice"
    listed = re.sub(r"⟨finding\d*_period⟩: ⟨finding\d*⟩", "F", sentence)  # a finding under its period
    if any(c.count(": ") > 1 for c in re.split(r";\s+", listed)) or re.search(r"_period⟩: ⟨\w+_period⟩", sentence):
        return "one heading after another"
    head, colon, _ = sentence.partition(": ")
    clauses = re.split(r";\s+", head if colon and re.search(r"\b(?:moves|changes)\b", head, re.IGNORECASE)
                       else sentence)
    if any(re.search(r"\b(?:from|to)\s+⟨(?!as_of⟩|benchmark⟩)", c) and not _MOVED.search(c) for c in clauses):
        # a date is where a span of time ends, and a benchmark what a return is measured against: no figure moved
        return "a figure moves to or from with no verb"
    return None


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


def _now_and_then(text: str, facts: dict[str, Slot]) -> str | None:
    """A move runs from the year-earlier figure to the current one: "total debt rose from ⟨total_debt⟩" (or
    "fell to ⟨cash_prior⟩") gives the current figure as where it started, and is wrong whatever its direction."""
    for m in _FROM.finditer(text):
        if f"{m.group(1)}_prior" in facts:
            return f"'from ⟨{m.group(1)}⟩': a move starts from the year-earlier figure, ⟨{m.group(1)}_prior⟩"
    for m in _TO.finditer(text):
        if m.group(1) in facts:
            return f"'to ⟨{m.group(1)}_prior⟩': a move ends at the current figure, ⟨{m.group(1)}⟩"
    return None


def _repeated_slot(text: str, facts: dict[str, Slot], currency: str) -> str | None:
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


def _references(clause: str, offset: int, spans: list[tuple[int, int, Slot]], facts: dict[str, Slot],
                checked: list[dict[str, Any]]) -> tuple[list[tuple[int, list[Slot]]], str | None]:
    """(position, facts it may be) for every figure of the clause, the likeliest first; or the first figure
    that is no fact of the prompt."""
    refs = []
    for figure in figures(clause):
        at = offset + figure.start
        slot = next((f for start, end, f in spans if start <= at < end), None)
        if slot is not None and slot.unit == "text":  # a finding's own words, filled from the data verbatim
            continue
        if slot is not None:  # the data wrote it: "CHF 0" is the threshold, whatever the digits alone look like
            found = [slot]
        elif figure.kind == "pp":
            found = [f for f in facts.values() if f.unit == "fraction" and f"{f.name}_prior" in facts
                     and abs(abs(f.value - facts[f"{f.name}_prior"].value) - abs(figure.value)) <= figure.tolerance]
        else:
            found = [f for f in facts.values() if matches(figure, f)]
        if not found:
            return refs, f"{figure.text.strip()} is not a figure of the facts given (nor within its rounding)"
        found.sort(key=lambda f: (f.name.endswith("_prior"), "threshold" in f.name, f.name))
        checked.append({"text": figure.text.strip(), "fact": found[0].name, "value": found[0].value})
        refs.append((figure.start, found))
    return refs, None


MARKET_NAMES = {"volatility": "volatility", "drawdown": "max_drawdown", "beta": "beta", "sharpe ratio": "sharpe",
                "sortino ratio": "sortino", "total return": "return", "relative return": "relative_return",
                "p/e": "pe_ttm", "p/b": "pb", "price to book": "pb", "ev/ebitda": "ev_ebitda", "ev/sales": "ev_sales",
                "market capitalisation": "market_cap", "market value": "market_cap", "dividend yield": "dividend_yield",
                "earnings yield": "earnings_yield", "fcf yield": "fcf_yield"}
"""How answers name the market measures, and the measure each names: "volatility" is the figure of any window's
volatility (``volatility_1y``), "P/E" of the company's and its sector's median."""

PORTFOLIO_NAMES = {"effective number of holdings": "effective_holdings", "equal holdings": "effective_holdings",
                   "herfindahl": "herfindahl", "five largest": "top_5", "ten largest": "top_10",
                   "largest sector": "largest_sector_weight", "harmonic p/e": "harmonic_pe",
                   "weighted net margin": "weighted_net_margin", "weighted current ratio": "weighted_current_ratio",
                   "weighted debt to equity": "weighted_debt_to_equity", "deep drawdown": "deep_drawdown_share",
                   "high volatility": "high_volatility_share"}
"""How answers name a portfolio's figures (a flag's name, the share of the value carrying it)."""

SAME_FIGURE = {"market_cap": ("market_value",), "net_margin": ("weighted_net_margin",),
               "current_ratio": ("weighted_current_ratio",), "debt_to_equity": ("weighted_debt_to_equity",),
               "pe_ttm": ("harmonic_pe",), "deep_drawdown_share": ("max_drawdown",),
               "high_volatility_share": ("volatility",)}
"""Other figures a name answers to, by their metric or its prefix: a portfolio's "market value" is its
``market_value`` (a share's is its capitalisation), its "net margin" the holdings' weighted one; a share's "deep
drawdown" its ``max_drawdown_1y``."""


@cache
def _mentions() -> tuple[re.Pattern[str], dict[str, str]]:
    """Every metric's and statement item's name as a report writes it, longest first ("net debt to EBITDA"
    before "EBITDA"), and the metric each names; the market measures by their short names; a portfolio's figures
    by theirs."""
    names = {label(name).lower(): name for name in BY_NAME} | MARKET_NAMES | PORTFOLIO_NAMES
    pattern = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<![\w&-])(?:{pattern})(?![\w&-])"), names


def _names(clause: str, refs: list[tuple[int, list[Slot]]]) -> str | None:
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
                   or any(f.metric == m or f.metric.startswith(m + "_") for m in SAME_FIGURE.get(named[-1], ()))
                   or f.metric.startswith(named[-1] + "_")  # a market measure's window, median or ratio to it
                   or re.search(rf"\b{re.escape(label(named[-1]))}\b", label(f.metric)) for f in own):
            return f"'{label(named[-1])}' names the figure of {own[0].name}"
    return None


_LEADS_TO = {"benchmark": re.compile(r"\b(?:against|than|to|ahead of|behind|outperformed|underperformed|beat|trailed"
                                      r"|lagged|index|benchmark|with)\s+(?:its\s+benchmark\s+|the\s+index\s+)?$"),
             "as_of": re.compile(r"\b(?:to|at|on|of|until|by|as of)\s+(?:the\s+last\s+close\s+on\s+)?$"),
             "threshold": re.compile(r"\b(?:below|above|under|over|beyond|exceeds?|at most|at least|than|ceiling of"
                                     r"|floor of|threshold of|limit of)\s+(?:a\s+|the\s+)?$")}
"""What must come right before a benchmark, a date or a threshold written as a slot: "returned ⟨benchmark⟩" and
"an earnings yield of ⟨earnings_yield_max_threshold⟩" give a figure a meaning the data does not."""


def _placed(text: str) -> str | None:
    """The benchmark after a word that compares with it, the last close's date after a preposition, a threshold
    after a word that bounds."""
    for m in SLOT.finditer(text):
        kind = "threshold" if m.group(1).endswith("_threshold") else m.group(1)
        if kind in _LEADS_TO and not _LEADS_TO[kind].search(text[max(0, m.start() - 40):m.start()].lower()):
            return f"⟨{m.group(1)}⟩ stands where its words do not lead to it: " \
                   f"'{text[max(0, m.start() - 30):m.end()].strip()}'"
    return None


def _sources(metric: str) -> set[str]:
    """The statement items a metric is computed from (a year or a quarter earlier too); an item: itself."""
    base = metric.removesuffix("_ttm")
    return {i.split("_prior_")[0] for i in definition(base).inputs} if base in BY_NAME else {base}


def _directions(clause: str, refs: list[tuple[int, Slot]], facts: dict[str, Slot], currency: str) -> str | None:
    """A direction word must agree with the sign of the change it describes, and a figure that reads the same as
    a year earlier did not move ("total debt rose from $3.8bn to $3.8bn"); above and below with the order of the
    two figures around them."""
    lowered = clause.lower()
    for m in re.finditer(r"\b(above|below)\b", lowered):
        before = [f for pos, f in refs if pos < m.start()]
        after = [f for pos, f in refs if pos > m.end()]
        if before and after:
            a, b = before[-1].value, after[0].value
            if not (a > b if m.group(1) == "above" else a < b):  # a figure is not above or below itself
                return f"'{m.group(1)}' contradicts the figures ({a:g} vs {b:g})"
    for m in _WORDS.finditer(lowered):
        word = m.group(0)
        if word in AHEAD + BEHIND + PREMIUM + DISCOUNT:
            if problem := _against(word, refs, facts):
                return problem
            continue
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


def _against(word: str, refs: list[tuple[int, Slot]], facts: dict[str, Slot]) -> str | None:
    """Ahead of or behind the benchmark by the sign of the relative return in the clause; at a premium or a
    discount to the sector by a ratio to its median (or a figure and its sector's median); a clause that gives
    neither says what nothing checks."""
    named = [f for _, f in refs if f.metric]
    if word in AHEAD + BEHIND:  # "behind by ⟨relative_return_1y_abs⟩": the sign is the relative return's own
        relative = [facts[f.metric].value if f.metric in facts else f.value for f in named
                    if f.metric.startswith("relative_return_")]
        if not relative:
            return f"'{word}' says how the share did against its benchmark: give ⟨relative_return_…⟩"
        if (word in AHEAD) != (relative[0] > 0):
            return f"'{word}' contradicts the relative return {relative[0]:+.4g}"
        return None
    ratios = [f.value for f in named if f.metric.endswith("_vs_sector")]
    medians = {f.metric.removesuffix("_sector_median"): f.value for f in named if f.metric.endswith("_sector_median")}
    ratios += [f.value / medians[f.metric] for f in named if medians.get(f.metric)]
    if not ratios:
        return f"'{word}' says how the valuation stands against its sector: give the ratio to the sector median"
    if (word in PREMIUM) != (ratios[0] > 1):
        return f"'{word}' contradicts the ratio to the sector median ({ratios[0]:.4g})"
    return None


def _change(fact: Slot, facts: dict[str, Slot]) -> float | None:
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


def _inferred(context: Context) -> set[str]:
    """The flags a text may name: the reasoner's for the period; for a portfolio, its own and those its holdings
    carry (an answer says how much of the value carries them)."""
    return {f["label"].lower() for f in context.flags} | {label.lower() for label in context.carried}


def _claimed(text: str, context: Context) -> str | None:
    """A flag a text claims in words (:data:`CLAIMS`) that the reasoner did not infer."""
    inferred = _inferred(context)
    claimed = sorted({flag for words, flag in CLAIMS.items() if words in text.lower() and flag not in inferred})
    return f"claims a flag the reasoner did not infer: {claimed[0]}" if claimed else None


def _flags(text: str, question: Question, context: Context, flag_labels: Sequence[str]) -> str | None:
    """Flags named or claimed must be flags the reasoner inferred for the period; the risk answer must name all
    of them."""
    problem = _claimed(text, context)
    if problem:
        return problem
    inferred = _inferred(context)
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


def _about_its_item(text: str, part: Part) -> str | None:
    """A part says what it is for: its move, finding, count or flag's figures (a finding's sentence that wrote "No
    sector peers are in this run" passed every other check), and the first of the moves says it is the largest."""
    written = set(SLOT.findall(text))
    missing = [slot for slot in part.required if slot not in written]
    if missing:
        return f"it does not give ⟨{missing[0]}⟩, what this part is about"
    if part.says and part.says not in text.lower():
        return f"it says nothing of {part.says}, what this part is about"
    if part.role == "move" and part.index == 0 and not re.search(r"\b(largest|biggest|most)\b", text.lower()):
        return "the first move does not say it is the largest"
    return None


def _part_flags(text: str, part: Part, context: Context, flag_labels: Sequence[str]) -> str | None:
    """A part claims only flags the reasoner inferred, and names exactly its own: a flag's sentence its flag, the
    summary's flag sentence every flag it was given, any other part none."""
    problem = _claimed(text, context)
    if problem:
        return problem
    named = named_flags(text, flag_labels)
    own = {f["label"].lower() for f in part.flags} if part.names_flags else set()
    if named - own:
        return f"names a flag that is not this part's: {sorted(named - own)[0]}"
    if own - named:
        return f"misses its flag: {sorted(own - named)[0]}"
    return None
