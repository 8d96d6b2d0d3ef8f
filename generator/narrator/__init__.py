"""The analyst questions and the narrators that answer them from the facts.

``answer(question, context) -> Answer`` is the narrator interface. The reference narrator renders each
question's template from ``questions.toml``: deterministic, every number formatted from the facts.
The language-model narrator (:mod:`generator.narrator.model`) plugs into the same interface and falls back
to these answers when its own fail verification.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Protocol

from jinja2 import pass_context
from jinja2.sandbox import SandboxedEnvironment

from generator import present
from generator.metrics import definition, label
from generator.present import MARKET, MARKET_LABEL, PORTFOLIO, period_label


@dataclass(frozen=True)
class Question:
    """One analyst question of the catalogue (``questions.toml``): what it asks, the facts and flags its answer may use,
    the reference template, and how an answer is held to its subject."""

    id: str
    question: str
    facts: tuple[str, ...]
    flags: tuple[str, ...]
    template: str
    findings: str | None = None  # "quality" or "restatement": the findings of that kind are its facts
    peers: bool = False  # the company's rank among its sector peers is a fact
    moves: bool = False  # the facts are given in order of their relative change on a year earlier
    summary: bool = False  # the executive summary: always asked, shown above the answers
    market: bool = False  # about the share (prices): asked of a company with prices, and the only questions of one
    # with prices alone
    portfolio: bool = False  # about a portfolio: asked of portfolios only, and the only questions they are asked
    topic: tuple[str, ...] = ()  # an answer uses one of these words: it is about its question


@dataclass
class Context:
    """What a narrator may use for one company and period: facts, the same period a year earlier, flags,
    findings and peers. Nothing else reaches the text."""

    entity_id: str
    company: str
    sector: str | None
    currency: str
    fiscal_year: int
    fiscal_period: str
    metrics: dict[str, float | None]
    prior: dict[str, float | None]
    flags: list[dict[str, Any]] = field(default_factory=list)
    findings: list[dict[str, Any]] = field(default_factory=list)
    peers: dict[str, dict[str, float | None]] = field(default_factory=dict)
    as_of: str | None = None
    """The last close's date (ISO) the market figures in ``metrics`` are taken at; None without prices."""
    benchmark: str | None = None
    """The entity the share is measured against (beta, relative return), when one is set."""
    names: dict[str, str] = field(default_factory=dict)
    """A portfolio's words from the data an answer may write, by slot (``largest_holding``: its name)."""
    holdings: tuple[str, ...] = ()
    """A portfolio's holdings, by id and by name: an answer names one only through a slot of :attr:`names`."""
    carried: tuple[str, ...] = ()
    """The company flags a portfolio's holdings carry, by label: an answer may say how much of the value does."""

    @property
    def statements(self) -> bool:
        """Whether the company's statements are in the inputs (a company with prices alone, or a portfolio, has
        none)."""
        return self.fiscal_period not in (MARKET, PORTFOLIO)

    @property
    def portfolio(self) -> bool:
        """Whether this is a portfolio's context rather than a company's."""
        return self.fiscal_period == PORTFOLIO

    @property
    def period(self) -> str:
        """The period as every output names it: FY2025, Q3 FY2024."""
        return period_label(self.fiscal_year, self.fiscal_period)


@dataclass
class Answer:
    """One answer to one question for one company, as answers.json keeps it: the text, who wrote it (``reference`` or
    ``model``), how it was verified, and the facts it stands on."""

    question_id: str
    question: str
    text: str
    origin: str
    verification: dict[str, Any]
    facts_used: list[dict[str, Any]]

    def record(self) -> dict[str, Any]:
        """The answer as a row of answers.json."""
        return {"question_id": self.question_id, "question": self.question, "text": self.text, "origin": self.origin,
                "verification": self.verification, "facts_used": self.facts_used}


class Narrator(Protocol):
    """Whoever writes the answers, the reference templates or a language model: a run depends on nothing else, so either
    can answer any question."""

    def answer(self, question: Question, context: Context) -> Answer:
        """The answer to one question for one company and period, from the context alone. Callers expect an answer, not
        an exception (a run asks every company's questions in one call): a narrator that cannot write one gives the
        reference text."""
        ...

    def answer_all(self, jobs: Sequence[tuple[Question, Context]]) -> list[Answer]:
        """Every question of every company of a run at once (a model generates them in batches)."""
        ...


@cache
def catalogue() -> tuple[Question, ...]:
    """The analyst questions of ``questions.toml``, in catalogue order, read once: what every narrator answers and what
    a run's ``questions`` may name."""
    data = tomllib.loads(resources.files("generator.narrator").joinpath("questions.toml").read_text("utf-8"))
    return tuple(Question(q["id"], q["question"], tuple(q["facts"]), tuple(q["flags"]), q["template"].strip(),
                          q.get("findings"), q.get("peers", False), q.get("moves", False), q.get("summary", False),
                          q.get("market", False), q.get("portfolio", False), tuple(q.get("topic", ())))
                 for q in data["question"])


def asked(question: Question, context: Context) -> bool:
    """Whether a company is asked a question: a market question of a company with prices, any other of one with
    statements; a portfolio question of a portfolio, and nothing else of one."""
    if question.portfolio or context.portfolio:
        return question.portfolio and context.portfolio
    return context.as_of is not None if question.market else context.statements


def relevant_flags(question: Question, context: Context) -> list[dict[str, Any]]:
    """The period's flags a question looks at: named ones, or ``*severity`` for all of a severity; a market
    question the share's, a portfolio question the portfolio's, any other the statements'."""
    wanted = set(question.flags)
    severities = {w[1:] for w in wanted if w.startswith("*")}
    kind = PORTFOLIO if question.portfolio else MARKET if question.market else None
    return [f for f in context.flags if (f["flag"] in wanted or f["severity"] in severities)
            and (f["fiscal_period"] if f["fiscal_period"] in (MARKET, PORTFOLIO) else None) == kind]


LISTED_FINDINGS = 5
"""How many findings an answer lists; the rest are counted. A real filer has dozens of restatements: listed
in full they filled a page, and in a prompt they ran to 11,000 tokens, five times the model's context."""

_SEVERITY = {"error": 0, "warning": 1, "info": 2}


def question_findings(question: Question, context: Context) -> list[dict[str, Any]]:
    """The findings of the question's kind in the order a reader needs them: errors before warnings before
    notes, then the larger relative change (a restatement), then the later period."""
    if not question.findings:
        return []
    mine = [f for f in context.findings if (f["check"] == "restatement") == (question.findings == "restatement")]
    return sorted(mine, key=_priority)


def _priority(finding: dict[str, Any]) -> tuple[int, float, int, str]:
    facts = finding.get("facts", {})
    before, after = facts.get("original_value"), facts.get("restated_value")
    change = abs(after - before) / abs(before) if before and after is not None else 0.0
    return _SEVERITY.get(finding["severity"], len(_SEVERITY)), -change, -finding["fiscal_year"], \
        finding["fiscal_period"]


def facts_used(question: Question, context: Context) -> list[dict[str, Any]]:
    """The question's facts that have a value, each with its unit and display form: what answers.json cites as the
    ground of an answer."""
    out = []
    for name in question.facts:
        value = context.metrics.get(name)
        if value is not None:
            unit = definition(name).unit
            out.append({"metric": name, "value": value, "unit": unit,
                        "display": present.by_unit(value, unit, context.currency)})
    return out


def _change(value: float | None, up: str, down: str, flat: str) -> str:
    if value is None:
        return ""
    return up if value > 0 else down if value < 0 else flat


def _absent_safe(fn: Callable[[float], str]) -> Callable[[float | None], str]:
    """A template that formats an absent fact says n/a rather than failing the company's whole report."""
    return lambda value: "n/a" if value is None else fn(value)


@pass_context
def _money(ctx: Any, value: float | None) -> str:
    return "n/a" if value is None else present.money(value, ctx["currency"])


BOUND_WORDS = {"<": "below", "<=": "at most", ">": "above", ">=": "at least"}


@pass_context
def _because(ctx: Any, flag: dict[str, Any]) -> str:
    """A flag's conditions in words, with the report's formatting: "current ratio 0.41x, below 1.00x"."""
    own = period_label(flag["fiscal_year"], flag["fiscal_period"])
    parts = []
    for c in flag.get("conditions", []):
        unit = definition(c["metric"]).unit
        value = present.by_unit(c["value"], unit, ctx["currency"])
        bounds = " and ".join(f"{BOUND_WORDS[op]} {present.by_unit(t, unit, ctx['currency'])}"
                              for op, t in c["bounds"])
        name = label(c["metric"]) + (" over the last twelve months" if c["ttm"] else "")
        elsewhere = "" if c["period"] == own or c["metric"] == "holding_weight" else \
            f", {c['period']}" if c["period"] == MARKET_LABEL else f", in {c['period']}"
        parts.append(f"{name} {value}, {bounds}{elsewhere}")
    return "; ".join(parts)


def _environment() -> SandboxedEnvironment:
    """Sandboxed: templates are data and must not reach Python objects beyond the facts."""
    env = present.sandbox()
    env.filters |= {"money": _money, "pct": _absent_safe(present.percent), "x": _absent_safe(present.times),
                    "days": _absent_safe(present.days), "score": _absent_safe(present.score),
                    "because": _because, "day": present.day}
    env.globals |= {"change": _change, "period_label": period_label}
    return env


_ENV = _environment()


def ranks(question: Question, context: Context) -> dict[str, int | None]:
    """1 = best among the company and its peers, by the metric's favourable direction."""
    ranks: dict[str, int | None] = {}
    for name in question.facts:
        own = context.metrics.get(name)
        values = [v for p in context.peers.values() if (v := p.get(name)) is not None]
        if own is None or not values or definition(name).favourable == "neutral":
            ranks[name] = None
            continue
        better = sum(1 for v in values if (v > own if definition(name).favourable == "higher" else v < own))
        ranks[name] = better + 1
    return ranks


def changes(question: Question, context: Context) -> list[dict[str, Any]]:
    """The question's facts that moved, largest relative move first. A figure that reads the same as a year
    earlier did not move, whatever its digits beyond the rounding ("fell to $2.8bn from $2.8bn")."""
    moves = []
    for name in question.facts:
        after, before = context.metrics.get(name), context.prior.get(name)
        if after is None or before is None or before == 0 or after == before:
            continue
        unit = definition(name).unit
        if present.by_unit(after, unit, context.currency) == present.by_unit(before, unit, context.currency):
            continue
        moves.append({"metric": name, "label": name.replace("_", " "), "before": before, "after": after,
                      "delta": after - before, "relative": abs(after - before) / abs(before)})
    return sorted(moves, key=lambda c: -c["relative"])


class ReferenceNarrator:
    """Answers every question with its catalogue template: the deterministic baseline and the fallback."""

    def answer_all(self, jobs: Sequence[tuple[Question, Context]]) -> list[Answer]:
        """Each job answered in turn: rendering templates gains nothing from batches."""
        return [self.answer(q, c) for q, c in jobs]

    def answer(self, question: Question, context: Context) -> Answer:
        """The question's template rendered from the facts: deterministic, every number formatted from the data, so it
        is always an answer that can stand."""
        flags = relevant_flags(question, context)
        names = {f["flag"] for f in flags}
        findings = question_findings(question, context)
        text = _ENV.from_string(question.template).render(
            company=context.company, sector=context.sector, currency=context.currency, period=context.period,
            m=Values(context.metrics), prior=Values(context.prior), flags=flags,
            findings=findings[:LISTED_FINDINGS], finding_count=len(findings),
            peers=context.peers, rank=ranks(question, context), changes=changes(question, context),
            as_of=context.as_of, benchmark=context.benchmark, statements=context.statements, names=context.names,
            has=lambda flag: flag in names,
        )
        sentence = " ".join(text.split())
        return Answer(question.id, question.question, present.capitalised(sentence), "reference",
                      {"status": "reference", "detail": "every number is rendered from the facts"},
                      facts_used(question, context))


class Values:
    """``m.revenue`` in a template: the value, or None when the fact is absent (never an error)."""

    def __init__(self, values: dict[str, float | None]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> float | None:
        return self._values.get(name)
