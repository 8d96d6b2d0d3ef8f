"""Linking a question to the inputs: every name in it that comes from data becomes a placeholder before the translator
sees it.

"By how much did Acme's FCF change since FY22?" becomes "By how much did E1's M1 change since Y1?" with E1 = ACME
(matched by its name without the legal form), M1 = free_cash_flow (one of its other words) and Y1 = fiscal year
2022. The translator then only decides what to compute, never which company, figure or year: it cannot misspell a
company or move a year, and a company it never saw in training is as easy as one it did (what text-to-SQL systems
call schema linking). What is matched, in this order, longest first, a span never twice:

- years: "2022", "FY22", "FY 2022", "fiscal 2022" (fiscal years, as the company numbers them), "calendar 2022" (the
  fiscal year most of which lies in 2022), "last year" / "this year" / "two years ago" (relative to the as-of date);
- companies by id, ticker, CIK ("CIK 320193", "0000320193"), name or a shorter name ("Acme Robotics", "J&J"),
  exactly, then fuzzily (rapidfuzz) for a capitalised span that is close to one name only;
- flags by their labels ("liquidity concern", "loss-making"), figures by their labels, names and other words
  (``words.toml``), sectors by name, plural and other words;
- numbers: "10%", "$1.5bn", "2x", "3", "three";
- any other capitalised name ("Tesla", "ZZZZ") is a company the inputs do not have: ``U1``, so that the answer can
  say which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from generator.ask.knowledge import Knowledge, vocabulary

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "twelve": 12, "twenty": 20}
_SCALES = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "mm": 1e6, "million": 1e6, "millions": 1e6, "b": 1e9,
           "bn": 1e9, "billion": 1e9, "billions": 1e9, "t": 1e12, "tn": 1e12, "trillion": 1e12}
_YEARS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\bcalendar(?:\s+year)?\s+((?:19|20)\d{2})\b", re.I), "calendar"),
    (re.compile(r"\b(?:fiscal(?:\s+year)?|FY)\s?'?((?:19|20)?\d{2})\b", re.I), "fiscal"),
    (re.compile(r"(?<![\w$.])((?:19|20)\d{2})(?![\w%.]|\.\d)"), "fiscal"),
]
_RELATIVE = [(re.compile(r"\b(?:the\s+)?year\s+before\s+last\b", re.I), -2),
             (re.compile(r"\btwo\s+years\s+ago\b", re.I), -2),
             (re.compile(r"\b(?:three)\s+years\s+ago\b", re.I), -3),
             (re.compile(r"\blast\s+year\b(?!s)", re.I), -1),
             (re.compile(r"\b(?:this|the\s+current)\s+year\b", re.I), 0)]
_MONEY = re.compile(r"(?<![\w.])(?P<neg>-)?(?:\$|USD\s?|€|EUR\s?|£|GBP\s?)\s?(?P<num>\d[\d,]*(?:\.\d+)?)(?:\s*"
                    r"(?P<scale>thousand|millions?|billions?|trillion|bn|mn|mm|tn|k|m|b|t)\b)?", re.I)
_SCALED = re.compile(r"(?<![\w.$])(?P<neg>-)?(?P<num>\d[\d,]*(?:\.\d+)?)\s*(?P<scale>thousand|millions?|billions?|"
                     r"trillion|bn|mn|tn)\b(?:\s+(?:dollars|usd))?", re.I)
_PERCENT = re.compile(r"(?<![\w.])(?P<neg>-)?(?P<num>\d+(?:\.\d+)?)\s?(?:%|percent\b|per\s+cent\b)", re.I)
_MULTIPLE = re.compile(r"(?<![\w.])(?P<num>\d+(?:\.\d+)?)\s?(?:x|times)\b", re.I)
_PLAIN = re.compile(r"(?<![\w.$])(?P<neg>-)?(?P<num>\d[\d,]*(?:\.\d+)?)(?![\w.%]|\.\d)")
_WORD_NUMBER = re.compile(r"\b(" + "|".join(w for w in _NUMBER_WORDS if w != "one") + r"|one(?=\s+(?:fiscal\s+)?"
                          r"(?:years?|compan(?:y|ies)|firms?|names?|periods?)\b))\b", re.I)
"""Numbers in words; "one" only before what it counts ("which one's", "each one" count nothing)."""
_CAPITALISED = re.compile(r"\b(?:[A-Z][\w&.'-]*[\w&])(?:\s+(?:(?:&|and)\s+)?[A-Z][\w&.'-]*[\w&])*")
_CIK = re.compile(r"\b(?:CIK\s?#?\s?)?0*(\d{4,10})\b", re.I)
_NOT_NAMES = {
    "what", "which", "who", "how", "by", "compare", "rank", "list", "show", "give", "tell", "did", "does", "do", "is",
    "was", "were", "are", "has", "have", "had", "in", "for", "of", "the", "a", "an", "among", "across", "and", "or",
    "between", "from", "to", "since", "over", "during", "at", "on", "with", "its", "their", "top", "count", "name",
    "find", "please", "calculate", "compute", "sum", "average", "total", "fy", "q1", "q2", "q3", "q4", "i", "us",
    "usd", "eur", "gbp", "what's", "whats", "when", "why", "will", "would", "could", "can", "should", "predict",
    "forecast", "estimate", "expect", "project", "if", "all", "any", "each", "every", "many", "much", "companies",
    "company", "firms", "highest", "lowest", "largest", "smallest", "most", "least", "best", "worst", "ceo", "cfo",
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "calendar", "fiscal", "year", "years", "last", "latest", "this", "next", "change", "growth",
    "percentage", "percent", "ratio", "difference", "cagr", "yoy", "versus", "vs", "against", "than", "more", "less",
    "higher", "lower", "be", "been", "being", "so", "that", "these", "those", "there", "then", "also", "both",
}


@dataclass(frozen=True)
class Year:
    """A year as the question says it: the number, and whether it is a fiscal year, a calendar year, or one counted
    back from the as-of date."""

    year: int
    basis: str
    text: str

    def words(self) -> str:
        """How an answer names it."""
        if self.basis == "calendar":
            return f"calendar {self.year}"
        return f"FY{self.year}"


@dataclass(frozen=True)
class Number:
    """A number the question gives (a threshold, how many): its value in base units (a percentage as a fraction,
    money in units of the currency) and its kind (``fraction``, ``currency``, ``multiple``, ``count``)."""

    value: float
    kind: str
    text: str


@dataclass
class Linked:
    """The question with placeholders (``text``), what each stands for (an entity id, a metric name, a
    :class:`Year`, a sector, a flag class, a :class:`Number`, an unknown name), and what each matched in the
    question."""

    question: str
    text: str
    bindings: dict[str, Any] = field(default_factory=dict)
    matched: dict[str, str] = field(default_factory=dict)


@dataclass
class _Span:
    start: int
    end: int
    kind: str
    value: Any


def _free(spans: list[_Span], start: int, end: int) -> bool:
    return all(end <= s.start or start >= s.end for s in spans)


def _exact(text: str, names: dict[str, Any], kind: str, spans: list[_Span], case: bool = False,
           capital: bool = False) -> None:
    """Every whole-word occurrence of a name, longest names first: as written (``case``), in any case, or in any
    case but with a capital first letter (``capital``: "Walmart" for "WALMART", not "prime" for "Prime")."""
    if not names:
        return
    pattern = _alternation(tuple(sorted(names, key=lambda n: (-len(n), n))), case)
    lookup = names if case else {k.lower(): v for k, v in names.items()}
    for m in pattern.finditer(text):
        if capital and not m.group(0)[0].isupper():
            continue
        if _free(spans, m.start(), m.end()):
            spans.append(_Span(m.start(), m.end(), kind, lookup[m.group(0) if case else m.group(0).lower()]))


@lru_cache(maxsize=64)
def _alternation(names: tuple[str, ...], case: bool) -> re.Pattern[str]:
    """One pattern for every name (the longest first where several start at one place), compiled once per set of
    names: a question is linked in a millisecond, not one compile per name."""
    return re.compile(r"(?<![\w&])(?:" + "|".join(map(re.escape, names)) + r")(?![\w&]|-\w)", 0 if case else re.I)


def _years(text: str, as_of: date, spans: list[_Span]) -> None:
    for pattern, shift in _RELATIVE:
        for m in pattern.finditer(text):
            if _free(spans, m.start(), m.end()):
                spans.append(_Span(m.start(), m.end(), "Y", Year(as_of.year + shift, "relative", m.group(0))))
    for pattern, basis in _YEARS:
        for m in pattern.finditer(text):
            digits = m.group(1)
            year = int(digits) + (2000 if len(digits) == 2 else 0)
            if _free(spans, m.start(), m.end()):
                spans.append(_Span(m.start(), m.end(), "Y", Year(year, basis, m.group(0))))


def _number(m: re.Match[str], kind: str, scale: float = 1.0) -> Number:
    value = float(m.group("num").replace(",", "")) * scale
    return Number(-value if m.groupdict().get("neg") else value, kind, m.group(0))


def _numbers(text: str, spans: list[_Span]) -> None:
    found: list[tuple[re.Match[str], Number]] = []
    for m in _MONEY.finditer(text):
        found.append((m, _number(m, "currency", _SCALES.get((m.group("scale") or "").lower(), 1.0))))
    for m in _SCALED.finditer(text):
        found.append((m, _number(m, "currency", _SCALES[m.group("scale").lower()])))
    for m in _PERCENT.finditer(text):
        found.append((m, _number(m, "fraction", 0.01)))
    for m in _MULTIPLE.finditer(text):
        found.append((m, _number(m, "multiple")))
    for m in _PLAIN.finditer(text):
        found.append((m, _number(m, "count")))
    for m in _WORD_NUMBER.finditer(text):
        found.append((m, Number(_NUMBER_WORDS[m.group(1).lower()], "count", m.group(0))))
    for m, number in found:
        if _free(spans, m.start(), m.end()):
            spans.append(_Span(m.start(), m.end(), "N", number))


def company_names(knowledge: Knowledge) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(names matched in any case: full names and shorter names of two words or more; one-word names, matched with a
    capital: "Blue" or "Prime" is a name only when written as one; ids and tickers, matched as written) → entity
    id."""
    loose: dict[str, str] = {}
    capital: dict[str, str] = {}
    cased: dict[str, str] = {}
    for c in knowledge.companies.values():
        for name in (c.name, *c.aliases):
            (loose if " " in name or "&" in name else capital).setdefault(name, c.entity_id)
        cased[c.entity_id] = c.entity_id
        if c.ticker:
            cased[c.ticker] = c.entity_id
    return loose, capital, cased


def _entities(text: str, knowledge: Knowledge, spans: list[_Span]) -> None:
    loose, capital, cased = company_names(knowledge)
    _exact(text, loose, "E", spans)
    _exact(text, cased, "E", spans, case=True)
    _exact(text, capital, "E", spans, capital=True)
    _exact(text, {k.lower(): v for k, v in cased.items() if len(k) > 2 and not k.isalpha()}, "E", spans)
    _extend(text, knowledge, spans)
    ciks = {c.cik: c.entity_id for c in knowledge.companies.values() if c.cik}
    for m in _CIK.finditer(text):
        if m.group(1) in ciks and _free(spans, m.start(), m.end()):
            spans.append(_Span(m.start(), m.end(), "E", ciks[m.group(1)]))


def _extend(text: str, knowledge: Knowledge, spans: list[_Span]) -> None:
    """A shorter name followed by more words of the full name takes them too ("Carewell Health's" is one mention of
    Carewell Health Systems, not Carewell and a word "Health")."""
    for span in spans:
        if span.kind != "E":
            continue
        words = {w.lower().rstrip("s") for w in re.findall(r"[\w&]+", knowledge.companies[span.value].name)}
        while m := re.match(r"\s+([\w&]+?)(?:'s|’s|s)?\b", text[span.end:]):
            word = m.group(1).lower().rstrip("s")
            if word not in words or not _free([s for s in spans if s is not span], span.end, span.end + m.end()):
                break
            span.end += m.end()
            if text[span.end - 2:span.end] in ("'s", "’s"):
                span.end -= 2


def _fuzzy_entities(text: str, knowledge: Knowledge, spans: list[_Span]) -> None:
    """Capitalised spans close to one company's name ("Johnson and Johnson", "Acme Robotic"); the others are names
    of companies the inputs do not have (``U``)."""
    loose, capital, _ = company_names(knowledge)
    names = loose | capital
    for m in _CAPITALISED.finditer(text):
        start, words = m.start(), m.group(0).split()
        while words and words[0].lower().strip("'s") in _NOT_NAMES:  # "Compare Acme and ..." starts a sentence
            start += text[start:].index(words[0]) + len(words[0])
            start += len(text[start:]) - len(text[start:].lstrip())
            words = words[1:]
        name = " ".join(words).removesuffix("'s").removesuffix("’s")
        if not name or name.lower() in _NOT_NAMES or not _free(spans, start, start + len(name)):
            continue
        entity = _closest(name, names)
        if entity is None and _sentence_word(text, start, name):
            continue
        if entity is None and " and " in name:  # "Johnson and Johnson", else "Tesla and Ford": two names
            at = start
            for part in name.split(" and "):
                at = text.index(part, at)
                spans.append(_Span(at, at + len(part), *(("E", e) if (e := _closest(part, names)) else ("U", part))))
                at += len(part)
            continue
        spans.append(_Span(start, start + len(name), *(("E", entity) if entity else ("U", name))))


def _sentence_word(text: str, start: int, name: str) -> bool:
    """Whether a capitalised word is only capitalised for starting the question ("Relative change in ...",
    "Cumulative revenue of ..."): one word, no possessive, not in capitals. "Tesla's revenue" stays a name."""
    first = not text[:start].strip() or text[:start].rstrip()[-1] in ".?!:"
    after = text[start + len(name):start + len(name) + 2]
    return first and " " not in name and not name.isupper() and after not in ("'s", "’s")


def _closest(name: str, names: dict[str, str]) -> str | None:
    """The company a name is close to (rapidfuzz, 85 of 100 on sorted words, "and" read as "&"), if one alone is."""
    best = process.extract(name.replace(" and ", " & "), list(names), scorer=fuzz.token_sort_ratio, processor=str.lower,
                           limit=2) if names else []
    if best and best[0][1] >= 85 and (len(best) == 1 or best[1][1] < best[0][1] or
                                      names[best[1][0]] == names[best[0][0]]):
        return names[best[0][0]]
    return None


def figure_names(knowledge: Knowledge) -> dict[str, str]:
    """Every way a question may name a figure → its metric name: its label, name and other words, in the singular
    and the plural; and, where one figure alone has it, its label without what is in brackets or a footnote mark
    ("Net income (1)", "Order intake1" in a table)."""
    names: dict[str, str] = {}
    bare: dict[str, set[str]] = {}
    for f in knowledge.figures.values():
        for word in (f.label, f.name.replace("_", " "), *f.words):
            for form in _numbers_of(word.lower()):
                names.setdefault(form, f.name)
        plain = re.sub(r"\s*\([^)]*\)|(?<=[a-z])\d+\b|[:*]", "", f.label).strip(" ,-").lower()
        for form in _numbers_of(plain) if plain and plain != f.label.lower() else ():
            bare.setdefault(form, set()).add(f.name)
    return names | {form: found.pop() for form, found in bare.items() if len(found) == 1 and form not in names}


def _numbers_of(word: str) -> tuple[str, ...]:
    """A name in the singular and the plural: "net margins of ...", "total revenue" for a row "Total revenues"."""
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word, word[:-1]
    return (word, word + "s") if word[-1:].isalpha() else (word,)


def sector_names(knowledge: Knowledge) -> dict[str, str]:
    """Every way a question may name a sector of the inputs → the sector as the inputs write it."""
    words = vocabulary()["sectors"]
    names: dict[str, str] = {}
    for sector in knowledge.sectors():
        low = sector.lower()
        for word in (low, low + "s", low.rstrip("s"), *words.get(low, ()), *words.get(low + "s", ())):
            names.setdefault(word, sector)
    return names


def link(question: str, knowledge: Knowledge) -> Linked:
    """The question with every name from data replaced by a placeholder, and what each placeholder stands for."""
    text = " ".join(question.split())
    spans: list[_Span] = []
    _years(text, knowledge.as_of, spans)
    _entities(text, knowledge, spans)
    _exact(text, {label: name for name, label in knowledge.flags.items()} |
           {f"flagged for {label}": name for name, label in knowledge.flags.items()}, "F", spans)
    _exact(text, figure_names(knowledge), "M", spans)
    _exact(text, sector_names(knowledge), "S", spans)
    _numbers(text, spans)
    _fuzzy_entities(text, knowledge, spans)
    linked = Linked(question, "")
    seen: dict[tuple[str, Any], str] = {}
    out, at = [], 0
    for span in sorted(spans, key=lambda s: s.start):
        key = (span.kind, span.value)
        if key not in seen:
            seen[key] = f"{span.kind}{sum(1 for k in seen if k[0] == span.kind) + 1}"
            linked.bindings[seen[key]] = span.value
            linked.matched[seen[key]] = text[span.start:span.end]
        out += [text[at:span.start], seen[key]]
        at = span.end
    linked.text = "".join([*out, text[at:]])
    return linked
