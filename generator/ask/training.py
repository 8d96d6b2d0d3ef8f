"""Training and evaluating the translator on generated (question, program) pairs.

Each pair is drawn from an intent of ``phrasings.toml``: a phrasing with its roles filled from a knowledge (a
company by its name, a shorter name, its id, ticker or CIK; a figure by its label or another word for it; years as
"2024", "FY24", "fiscal 2024", "calendar 2024" or "last year"; a sector, a flag, a threshold in the figure's unit),
then linked (:func:`generator.ask.link.link`) exactly as a user's question is, and the intent's program written
with the linker's placeholders. A pair whose names the linker does not find as drawn is not used (and counted).

The companies are the sample generator's and those filed like real ones (:mod:`generator.corpus`), renamed from
two disjoint lists of names so that training and evaluation never share a company, and so that names hold words
of figures and sectors ("Harbor Energy Holdings", "Cash & Carry Stores") as real ones do. Every phrasing of
``phrasings.toml`` is trained on; the held-out phrasings are those of ``held_out.toml``, written apart from them by
someone who had not read them. :func:`evaluate` measures, on held-out phrasings over held-out companies: exact
program match, execution accuracy (the predicted program's answer is the gold program's, or both refuse), and the
precision and recall of refusals.
"""

from __future__ import annotations

import json
import platform
import random
import re
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, Field

from generator.ask import Asked, Translator, answer
from generator.ask.execute import Unanswerable, execute
from generator.ask.knowledge import Company, Knowledge, from_run
from generator.ask.link import Linked, Number, Year, link, sector_names
from generator.ask.program import RANKING, SET, TABLE, parse
from generator.ask.translate import BEAMS, PROMPT_FORMAT, SHIPPED, ModelTranslator, prompt
from generator.corpus import PRICES_TO, real_inputs, write_companies
from generator.finetune import work
from generator.narrator.training import Example, loss_curve, scratch, train
from generator.pipeline import build
from generator.sample import write_sample

_FIRST = {
    "train": ["Northwind", "Globex", "Initech", "Hooli", "Vandelay", "Soylent", "Cyberdyne", "Tyrell", "Oscorp",
              "Wonka", "Gekko", "Stark", "Wayne", "Umbrella", "Aperture", "Monarch", "Blue Harbor", "Red Rock",
              "Silver Lake", "Iron Bridge", "Golden Gate", "Pioneer", "Summit", "Evergreen", "Atlas", "Orion",
              "Beacon", "Cedar", "Falcon", "Granite", "Horizon", "Juniper", "Keystone", "Lakeside", "Meridian",
              "Nimbus", "Oakmont", "Pinnacle", "Quarry", "Riverside", "Sapphire", "Trident", "Unity", "Vertex",
              "Willow", "Zephyr", "Cash", "Capital", "Prime", "Heritage", "Johnson", "Miller", "Baker", "Carter"],
    "eval": ["Ashford", "Brightwater", "Coldstream", "Dovetail", "Elmhurst", "Foxglove", "Greystone", "Hawthorn",
             "Ironwood", "Jasper", "Kingsbridge", "Larkspur", "Marlow", "Northgate", "Oxbow", "Pemberton", "Quill",
             "Redfern", "Stonebridge", "Thornbury", "Upland", "Valemont", "Westbrook", "Yardley", "Alder",
             "Bramble", "Cobalt", "Delta", "Ember", "Fairview", "Value", "Growth", "Wells", "Harper", "Hughes"],
}
_SECOND = ["Industries", "Holdings", "Systems", "Foods", "Energy", "Pharma", "Motors", "Bank", "Technologies",
           "Retail", "Logistics", "Media", "Networks", "Health", "Materials", "Robotics", "Airlines", "Brands"]
_LEGAL = ["Inc.", "Corp.", "Corporation", "plc", "SE", "Co.", "Ltd", "AG", "Group", "Company", ""]
_UNKNOWN = {
    "train": ["Tesla", "Zentrix Labs", "Quantum Dynamics", "Orbital Freight", "Maple Leaf Mining", "Nordic Rail",
              "Sunbeam Solar", "Crescent Bank", "Halcyon Media", "Obsidian Networks", "ZZZZ", "Globetrotter Air",
              "Palisade Foods", "Rainier Health", "Starling Pharma"],
    "eval": ["Boeing", "Acorn Software", "Blackwater Shipping", "Copperfield Mines", "Driftwood Hotels", "QXQX",
             "Emberline Gas", "Frostbite Foods", "Gullwing Motors", "Kestrel Air"],
}
_LATEST = ["", " most recently", " in the latest fiscal year", " in the latest year", " in its latest year",
           " last fiscal year", " in the most recent year", " currently", " now"]
_SET_LATEST = ["", " most recently", " in their latest fiscal year", " in the latest year", " last fiscal year"]
_COMMON = ("revenue", "net_income", "operating_income", "gross_profit", "free_cash_flow", "net_margin",
           "gross_margin", "operating_margin", "current_ratio", "debt_to_equity", "total_debt", "cash", "capex",
           "operating_cash_flow", "total_assets", "total_equity", "roe", "roa", "eps_diluted", "rnd_expense",
           "sga_expense", "interest_coverage", "revenue_growth_yoy", "ebitda", "ebitda_margin", "dividends_paid",
           "total_liabilities", "inventory", "receivables", "current_assets", "current_liabilities", "quick_ratio",
           "long_term_debt", "cost_of_revenue", "income_tax", "share_repurchases", "fcf_margin", "dso",
           "net_debt", "working_capital", "pretax_income", "interest_expense", "asset_turnover")
_STATEMENT_FLAGS = ("LiquidityConcern", "SevereLiquidityConcern", "HighLeverage", "ExcessiveNetDebt",
                    "NegativeEquity", "LossMaking", "DecliningRevenue", "SustainedRevenueDecline", "CashBurn",
                    "WeakInterestCoverage", "AltmanDistressZone", "AltmanGreyZone", "AltmanSafeZone",
                    "WeakPiotroskiScore", "StrongPiotroskiScore", "HighGrowth", "ProfitableGrower", "StrongLiquidity")


@dataclass(frozen=True)
class Intent:
    """What a question asks for: its program (with roles) and its phrasings."""

    name: str
    program: str
    phrasings: tuple[str, ...]
    implicit: bool = False


def _toml(name: str) -> list[dict[str, Any]]:
    return tomllib.loads(resources.files("generator.ask").joinpath(name).read_text("utf-8"))["intent"]


@cache
def intents() -> tuple[Intent, ...]:
    """The intents of ``phrasings.toml``: the translator is trained on all their phrasings."""
    return tuple(Intent(i["name"], i["program"], tuple(i["phrasings"]), i.get("implicit", False))
                 for i in _toml("phrasings.toml"))


def _said(phrasing: str) -> str:
    return " ".join(phrasing.lower().rstrip("?.! ").split())


HELD_OUT, VALIDATION = "held_out.toml", "validation.toml"
"""Phrasings never trained on, each file written by someone who had read neither the training phrasings nor the
other file: the validation set chose how the translator decodes; the held-out set is its figure."""


@cache
def written(file: str = HELD_OUT) -> tuple[Intent, ...]:
    """The intents of a file of phrasings written apart (:data:`HELD_OUT`, :data:`VALIDATION`), with the program of
    the training intent of the same name; a phrasing its writer happened to write as a training one has it (but for
    case and the closing mark: "What was {company}'s {figure}{when}?"), or the held-out one as a validation one, is
    left out."""
    trained = {i.name: i for i in intents()}
    seen = {_said(p) for i in intents() for p in i.phrasings}
    if file == HELD_OUT:
        seen |= {_said(p) for i in _toml(VALIDATION) for p in i["phrasings"]}
    return tuple(Intent(i["name"], trained[i["name"]].program, tuple(p for p in i["phrasings"] if _said(p) not in seen),
                        trained[i["name"]].implicit) for i in _toml(file))


@dataclass(frozen=True)
class Pair:
    """A question, its linked text, its program in the linker's placeholders, and what it was drawn from."""

    intent: str
    phrasing: int
    question: str
    linked: Linked
    program: str
    default: str | None
    """The company an implicit question is about (the report's)."""


def renamed(knowledge: Knowledge, part: str, rng: random.Random) -> Knowledge:
    """The knowledge with every company renamed from one list of names (``train`` or ``eval``), with a ticker or a
    CIK for an id: the translator and the linker meet names they have never seen."""
    firsts = rng.sample(_FIRST[part], len(_FIRST[part]))
    mapping, companies = {}, {}
    for i, (old, c) in enumerate(sorted(knowledge.companies.items())):
        first = firsts[i % len(firsts)] + ("" if i < len(firsts) else f" {i // len(firsts) + 1}")
        if rng.random() < 0.12:
            name = f"{first} & {rng.choice(_FIRST[part])}"
        else:
            name = " ".join(w for w in (first, rng.choice(_SECOND), rng.choice(_LEGAL)) if w)
        ticker = "".join(w[0] for w in name.split() if w[0].isalpha()).upper()[:3] + first[1].upper() + str(i % 10)
        new_id = f"CIK{rng.randrange(10**5, 10**7):010d}" if rng.random() < 0.3 else ticker
        mapping[old] = new_id
        companies[new_id] = Company(new_id, name, c.sector, c.currency, ticker if new_id != ticker else None)

    def ids(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.with_columns(pl.col("entity_id").replace(mapping))

    back = {v: k for k, v in mapping.items()}
    return Knowledge(companies, ids(knowledge.values), ids(knowledge.periods), knowledge.figures, knowledge.as_of,
                     lambda e, m, y: knowledge.sources(back.get(e, e), m, y),
                     {k: v for k, v in knowledge.flags.items() if k in _STATEMENT_FLAGS},
                     lambda flag: {(mapping.get(e, e), y) for e, y in knowledge.flagged(flag)})


class _Draw:
    """Draws the roles of one phrasing from a knowledge."""

    def __init__(self, knowledge: Knowledge, rng: random.Random, part: str) -> None:
        self.k, self.rng, self.part = knowledge, rng, part
        self.companies = [e for e in sorted(knowledge.companies) if knowledge.years(e)]
        self.figures = [f for f in _COMMON if f in knowledge.figures]
        self.sectors = sector_names(knowledge)

    def company(self, entity_id: str) -> str:
        c = self.k.companies[entity_id]
        forms = [c.name, c.name, *c.aliases, *c.aliases, c.entity_id if not c.cik else f"CIK {c.cik}"]
        if c.ticker:
            forms.append(c.ticker)
        if c.cik:
            forms.append(c.cik.zfill(10))
        return self.rng.choice(forms)

    def figure(self, name: str) -> str:
        f = self.k.figures[name]
        forms = [f.label, f.label, f.name.replace("_", " "), *f.words]
        return self.rng.choice(forms)

    def year(self, year: int) -> tuple[str, Year]:
        basis = self.rng.choices(["fiscal", "calendar", "relative"], [0.85, 0.08, 0.07])[0]
        if basis == "relative" and year == self.k.as_of.year - 1:
            return "last year", Year(year, "relative", "last year")
        if basis == "calendar":
            return self.rng.choice([f"calendar {year}", f"calendar year {year}"]), Year(year, "calendar", "")
        text = self.rng.choice([str(year), str(year), f"FY{year}", f"FY{year % 100:02d}", f"FY {year}",
                                f"fiscal {year}", f"fiscal year {year}", f"FY'{year % 100:02d}"])
        return text, Year(year, "fiscal", text)

    def number(self, unit: str) -> tuple[str, Number]:
        rng = self.rng
        if unit == "fraction":
            v = rng.choice([1, 2, 5, 8, 10, 12, 15, 20, 25, 30, 40, 50])
            return rng.choice([f"{v}%", f"{v} percent", f"{v}.5%"]) if v < 50 else f"{v}%", Number(0, "fraction", "")
        if unit in ("currency", "currency_per_share"):
            v = rng.choice([1, 2, 5, 10, 50, 100, 250, 500])
            return rng.choice([f"${v}bn", f"${v} billion", f"${v}m", f"${v} million", f"{v} million dollars",
                               f"${v}"]), Number(0, "currency", "")
        v = rng.choice([1, 1.5, 2, 3, 0.5, 5, 10])
        return rng.choice([f"{v}x", f"{v}", f"{v} times"]) if unit == "multiple" else f"{v}", Number(0, "count", "")


def draw(intent: Intent, index: int, knowledge: Knowledge, rng: random.Random, part: str) -> Pair | None:
    """One pair of a phrasing, or None when the linker does not find its names as drawn."""
    d = _Draw(knowledge, rng, part)
    phrasing = intent.phrasings[index]
    roles: dict[str, str] = {}
    wanted: dict[str, Any] = {}  # program role → the binding the linker should find
    program = intent.program
    if len(d.companies) < ("{company2}" in phrasing) + 1 or len(d.figures) < 2:
        return None  # a knowledge of one company (a real filer alone) asks nothing of two
    e1, e2 = rng.sample(d.companies, 2) if len(d.companies) > 1 else (d.companies[0], d.companies[0])
    unknown = "{company}" in phrasing and "refuse" not in program and rng.random() < 0.1
    if unknown:
        name = rng.choice(_UNKNOWN[part])
        roles["company"], wanted["E"] = name, ("U", name)
    else:
        roles["company"], wanted["E"] = d.company(e1), ("E", e1)
    roles["company2"], wanted["E2"] = d.company(e2), ("E", e2)
    m1, m2 = rng.sample(d.figures, 2)
    if "net_income" in program and "{M}" not in program:
        m1 = rng.choice([f for f in d.figures if f != "net_income"])
    roles["figure"], wanted["M"] = d.figure(m1), ("M", m1)
    roles["figure2"], wanted["M2"] = d.figure(m2), ("M", m2)
    years = knowledge.years(e1) or [knowledge.as_of.year - 1]
    if rng.random() < 0.1:  # a year the inputs may not reach
        y1, y2 = sorted(rng.sample(range(years[0] - 4, knowledge.as_of.year + 3), 2))
    elif len(years) >= 2:
        y1, y2 = sorted(rng.sample(years, 2))
    else:
        y1, y2 = years[0] - 1, years[0]
    if rng.random() < 0.15:
        y1, y2 = y2, y1
    (roles["year"], wanted["Y"]), (roles["year2"], wanted["Y2"]) = d.year(y1), d.year(y2)
    if roles["year"] == roles["year2"] or wanted["Y"].year == wanted["Y2"].year:
        return None
    if rng.random() < 0.3:
        roles["when"], wanted["P"] = rng.choice(_SET_LATEST if "{sector}" in phrasing or "(companies)" in program
                                                else _LATEST), "latest"
    else:
        text, year = d.year(rng.choice(years))
        roles["when"] = text if text == "last year" else \
            rng.choice([" in ", " in ", " for ", " during ", " in "]) + text
        roles["when"] = " " + roles["when"].strip()
        wanted["P"] = year
    sectors = sorted(set(d.sectors.values()))
    if sectors:
        sector = rng.choice(sectors)
        forms = [w for w, s in d.sectors.items() if s == sector]
        roles["sector"], wanted["S"] = rng.choice(forms), ("S", sector)
    flags = sorted(knowledge.flags)
    if flags:
        flag = rng.choice(flags)
        roles["flag"], wanted["F"] = knowledge.flags[flag], ("F", flag)
    roles["number"], _ = d.number(knowledge.figures[m1].unit)
    count = rng.choice([2, 3, 3, 4, 5])
    roles["count"] = rng.choice([str(count), ["two", "three", "three", "four", "five"][[2, 3, 3, 4, 5].index(count)]])
    try:
        question = phrasing.format(**roles)
    except KeyError:
        return None
    question = question[0].upper() + question[1:]
    linked = link(question, knowledge)
    return _program(intent, index, question, linked, wanted, e1 if intent.implicit else None)


def _program(intent: Intent, index: int, question: str, linked: Linked, wanted: dict[str, Any],
             default: str | None) -> Pair | None:
    """The intent's program with the linker's placeholders; None if the linker did not find a drawn name."""
    def placeholder(kind: str, value: Any) -> str | None:
        for name, bound in linked.bindings.items():
            if name[0] != kind:
                continue
            if isinstance(value, Year) and isinstance(bound, Year):
                if (bound.year, bound.basis) == (value.year, value.basis):
                    return name
            elif bound == value:
                return name
        return None

    out = intent.program
    for role in sorted(re.findall(r"\{(\w+)\}", intent.program), key=len, reverse=True):
        value = wanted.get(role)
        if role == "N":
            found = next((n for n, b in linked.bindings.items() if n[0] == "N"), None)
        elif role == "P" and value == "latest":
            found = "latest"
        elif role in ("Y", "Y2", "P"):
            found = placeholder("Y", value)
        elif role == "E" and intent.implicit:
            found = "E1"
        else:
            found = placeholder(*value) if value else None
        if found is None:
            return None
        out = out.replace("{" + role + "}", found)
    if intent.implicit and any(n[0] in "EU" for n in linked.bindings):
        return None  # an implicit question names no company
    try:
        parse(out)
    except Exception:
        return None
    return Pair(intent.name, index, question, linked, out, default)


def pairs(knowledge: Knowledge, rng: random.Random, part: str, per_phrasing: int, of: Sequence[Intent]
          ) -> tuple[list[Pair], int]:
    """Pairs of every phrasing of the intents ``of`` (:func:`intents`, trained on, or :func:`written`, held out),
    ``per_phrasing`` each; and how many draws the linker did not link as drawn."""
    out, lost = [], 0
    for intent in of:
        for index in range(len(intent.phrasings)):
            for _ in range(per_phrasing):
                pair = draw(intent, index, knowledge, rng, part)
                if pair is None:
                    lost += 1
                else:
                    out.append(pair)
    return out, lost


_SYNONYMS = {
    "companies": ("firms", "businesses", "issuers", "names", "corporates", "constituents"),
    "company": ("firm", "business", "issuer", "name", "corporate"),
    "had": ("reported", "posted", "showed", "recorded", "booked", "delivered", "generated"),
    "highest": ("largest", "biggest", "greatest", "top", "strongest", "best", "maximum", "leading", "peak"),
    "lowest": ("smallest", "least", "weakest", "worst", "bottom", "minimum", "poorest"),
    "had the highest": ("led on", "ranked first on", "came first on", "topped the table on", "was the leader in"),
    "had the lowest": ("trailed on", "ranked last on", "came last on", "lagged on", "was at the bottom on"),
    "higher": ("larger", "bigger", "greater", "more"), "lower": ("smaller", "less"),
    "change": ("movement", "shift", "variation", "difference", "delta", "swing", "move"),
    "percentage": ("percent", "relative", "%"), "average": ("mean", "avg", "typical"),
    "total": ("cumulative", "combined", "aggregate", "overall"), "compare": ("contrast", "set against", "benchmark"),
    "rank": ("order", "sort", "rate", "list", "league table of", "arrange"),
    "above": ("over", "more than", "greater than", "exceeding", "beyond", "in excess of", "north of", "higher than",
              "topping"),
    "below": ("under", "less than", "beneath", "short of", "lower than", "south of", "falling short of"),
    "at least": ("no less than", "not below", "a minimum of", "not under"),
    "at most": ("no more than", "not above", "a maximum of", "not over", "up to"),
    "how many": ("what number of", "count of", "the number of", "number of"),
    "what was": ("what's", "tell me", "give me", "what were", "report"), "what is": ("what's", "tell me", "give me"),
    "show": ("list", "give me", "display", "pull up", "bring up"), "which": ("what",),
    "lowest first": ("in ascending order", "in increasing order", "from the bottom", "smallest first",
                     "worst first"),
    "highest first": ("in descending order", "in decreasing order", "from the top", "largest first", "best first"),
    "divided by": ("over", "per unit of", "relative to", "as a ratio of", "as a multiple of", "against"),
    "plus": ("and", "together with", "+", "added to"),
    "minus": ("less", "net of", "-", "after deducting", "excluding"),
    "made a profit": ("earned money", "made money", "turned a profit", "were in the black", "earned a profit",
                      "had positive earnings"),
    "lost money": ("made a loss", "ran a loss", "was loss-bearing", "were in the red", "posted a loss",
                   "had negative earnings", "were unprofitable"),
    "grow": ("increase", "rise", "climb", "expand", "go up"),
    "next year": ("in the coming year", "going forward", "in the future", "next quarter", "over the next year",
                  "in the years ahead"),
}
_SYNONYM = re.compile(r"\b(" + "|".join(sorted(_SYNONYMS, key=len, reverse=True)) + r")\b", re.IGNORECASE)
_DROPPABLE = {"the", "a", "an", "was", "were", "did", "is", "please", "of"}


def varied(text: str, rng: random.Random) -> str:
    """A training question said a little differently: some words swapped for others that mean the same, a word that
    carries nothing dropped, a polite opening or ending; so the translator learns the words that decide a program,
    not whole sentences (the held-out phrasings are whole sentences it never saw)."""
    text = _SYNONYM.sub(lambda m: rng.choice(_SYNONYMS[m.group(1).lower()]) if rng.random() < 0.4 else m.group(1),
                        text)
    words = [w for w in text.split() if not (w.lower() in _DROPPABLE and rng.random() < 0.15)]
    opening = rng.choice(["", "", "", "please, ", "quick question: ", "can you tell me ", "i'd like to know: "])
    ending = rng.choice(["", "", "", " please", " thanks", " exactly"])
    return opening + " ".join(words) + ending


def examples(found: Sequence[Pair], rng: random.Random | None = None, share: float = 0.5) -> list[Example]:
    """The pairs as training examples of the narrator's trainer (prompt, target program); with ``rng``, a ``share``
    of them :func:`varied`."""
    def text(pair: Pair) -> str:
        return varied(pair.linked.text, rng) if rng is not None and rng.random() < share else pair.linked.text

    return [Example("", "", p.intent, prompt(text(p)), p.program, f"{p.intent}/{p.phrasing}") for p in found]


TOKENS = tuple(f"{k}{n}" for k in "EMYSFNU" for n in range(1, 6))
"""The placeholders, each one token of the translator's vocabulary."""


@dataclass
class AskEvaluation:
    """A translator's figures on one held-out set."""

    questions: int
    exact: float
    execution: float
    refusal_precision: float
    refusal_recall: float
    answers_per_s: float
    same_reason: float = 0.0
    """Of the questions both refused, the share whose reasons are the same."""
    by_intent: dict[str, float] = field(default_factory=dict)
    misses: list[dict[str, str]] = field(default_factory=list)
    unlinked: int = 0

    def record(self) -> dict[str, Any]:
        """As ``evaluation.json`` keeps it (the first misses only)."""
        return self.__dict__ | {"misses": self.misses[:25]}


def gold(pair: Pair, knowledge: Knowledge) -> Asked:
    """The answer of the pair's own program."""
    return answer(pair.question, _linked(pair), [pair.program], knowledge, pair.default)


def _linked(pair: Pair) -> Linked:
    """A copy of the pair's linked question (answering one binds the report's company to it)."""
    return Linked(pair.linked.question, pair.linked.text, dict(pair.linked.bindings), dict(pair.linked.matched))


def denotation(asked: Asked, pair: Pair, knowledge: Knowledge) -> tuple[Any, ...]:
    """What an answer denotes, as execution accuracy compares it (what text-to-SQL calls the result): a refusal; a
    number with the companies it was read from; the companies a set chose, in any order ("which were loss-making"
    by the net income's sign or by the reasoner's loss-making flag is one answer); a ranking's companies in order;
    a table's values."""
    if asked.refused or asked.program is None:
        return ("refused",)
    linked = _linked(pair)
    if pair.default and "E1" not in linked.bindings:
        linked.bindings["E1"] = pair.default
    result = execute(asked.program, knowledge, linked)
    if result.kind == SET:
        return ("set", frozenset(e for e, _ in result.rows))
    if result.kind == RANKING:
        return ("ranking", tuple(e for e, _ in result.rows))
    if result.kind == TABLE:
        return ("table", tuple(sorted((e, tuple(rows)) for e, rows in result.table.items())))
    return ("number", result.value, frozenset(r.entity_id for r in result.reads) if asked.program.op != "count"
            else frozenset())


def agree(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    """Whether two denotations are one (numbers to 1e-9 relative)."""
    if a[0] == b[0] == "number":
        return a[2] == b[2] and abs(a[1] - b[1]) <= 1e-9 * max(1.0, abs(b[1]))
    return a == b


def evaluate(translator: Translator, found: Sequence[Pair], knowledge: Knowledge, unlinked: int = 0
             ) -> AskEvaluation:
    """Exact program match, execution accuracy and refusal precision and recall of a translator on pairs."""
    started = time.perf_counter()
    candidates = translator.programs([p.linked.text for p in found])
    seconds = time.perf_counter() - started
    exact = executed = same_reason = 0
    refused_right = refused_predicted = refused_gold = 0
    per: dict[str, list[bool]] = {}
    misses = []
    for pair, cands in zip(found, candidates, strict=True):
        predicted = answer(pair.question, _linked(pair), cands, knowledge, pair.default)
        expected = gold(pair, knowledge)
        exact += predicted.program is not None and predicted.program.text() == pair.program
        ok = agree(denotation(predicted, pair, knowledge), denotation(expected, pair, knowledge))
        executed += ok
        refused_predicted += predicted.refused
        refused_gold += expected.refused
        refused_right += predicted.refused and expected.refused
        same_reason += predicted.refused and expected.refused and predicted.reason == expected.reason
        per.setdefault(pair.intent, []).append(ok)
        if not ok:
            misses.append({"question": pair.question, "linked": pair.linked.text, "gold": pair.program,
                           "predicted": cands[0] if cands else ""})
    n = max(1, len(found))
    return AskEvaluation(len(found), exact / n, executed / n, refused_right / max(1, refused_predicted),
                         refused_right / max(1, refused_gold), len(found) / max(seconds, 1e-9),
                         same_reason / max(1, refused_right), {k: sum(v) / len(v) for k, v in sorted(per.items())},
                         misses, unlinked)


def refusal_reasons(found: Sequence[Pair], knowledge: Knowledge) -> Counter[str]:
    """Why the gold programs of the pairs refuse (a check that the held-out set holds each kind of refusal)."""
    reasons: Counter[str] = Counter()
    for pair in found:
        try:
            execute(parse(pair.program), knowledge, pair.linked)
        except Unanswerable as exc:
            reasons[re.sub(r"[A-Z][\w&.' -]+|\d+", "…", str(exc))[:60]] += 1
    return reasons


class TranslatorRequest(BaseModel):
    """How to train the translator. The Prefect UI shows these fields, with their descriptions, as the flow's form."""

    out: str = Field(str(SHIPPED), description="Folder the checkpoint, its tokenizer and model card go to (default: "
                                               "the one shipped with the package)")
    seeds: list[int] = Field([101, 102], description="Sample-generator seeds of the training companies")
    companies: int = Field(14, description="Sample companies per seed")
    real_like: int = Field(14, description="Companies per seed filed as real filers file (generator.corpus)")
    eval_seed: int = Field(9001, description="Seed of the held-out companies (never in training)")
    per_phrasing: int = Field(18, description="Training questions drawn per phrasing and seed")
    eval_per_phrasing: int = Field(4, description="Held-out questions drawn per phrasing")
    real_inputs: list[str] = Field(
        ["tests/fixtures/real-filings/*.json", "tests/fixtures/sec-companyfacts/*.json", "tests/fixtures/apple"],
        description="Real filings the held-out questions are also asked of (files, folders or glob patterns)")
    width: int = Field(192, description="Hidden size")
    layers: int = Field(3, description="Transformer layers")
    heads: int = Field(4, description="Attention heads")
    vocab_size: int = Field(1200, description="Size of the tokenizer trained on the corpus")
    steps: int = Field(5000, description="Optimiser steps")
    batch_size: int = Field(32, description="Examples per step")
    learning_rate: float = Field(2e-3, description="Peak learning rate (cosine schedule)")
    beams: int = Field(BEAMS, description="Beams (candidate programs) per question when evaluating (as `finreport "
                                          "ask` decodes)")
    save_steps: int = Field(500, description="Checkpoint every this many steps")
    seed: int = Field(0, description="Seed of the weights, the draws and the batch order")
    resume: bool = Field(True, description="Continue from the latest checkpoint in the work folder if there is one")
    progress: bool = Field(False, description="Progress bars on the terminal")


def knowledge_of(seed: int, companies: int, real_like: int, folder: Path) -> Knowledge:
    """The knowledge of one seed's generated companies and of those filed like real ones, as of the corpus' date."""
    sample = folder / "sample"
    write_sample(sample, seed=seed, n_companies=companies, as_of=PRICES_TO)
    inputs = [sample / "long", *write_companies(seed, real_like, folder / "real-like")]
    return from_run(build([p for p in inputs if p.name != "prices.csv"], as_of=PRICES_TO))


@dataclass
class TranslatorCorpus:
    """Training pairs, the held-out sets (pairs and the knowledge they are asked of), and what the card reports."""

    train: list[Pair]
    held: dict[str, tuple[list[Pair], Knowledge, int]]
    about: dict[str, Any]


HELD = {"held-out phrasings": "held-out phrasings over held-out companies",
        "validation phrasings": "validation phrasings over held-out companies (they chose the decoding)",
        "trained phrasings": "trained phrasings over held-out companies",
        "real filings": "held-out phrasings over real filings"}
"""What each held-out set is, as the card titles it."""


def translator_corpus(request: TranslatorRequest, log: Any = None) -> TranslatorCorpus:
    """The training pairs of each seed's renamed companies, and the held-out sets."""
    rng = random.Random(request.seed)
    train: list[Pair] = []
    lost = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in request.seeds:
            knowledge = renamed(knowledge_of(seed, request.companies, request.real_like, Path(tmp) / str(seed)),
                                "train", rng)
            found, missed = pairs(knowledge, rng, "train", request.per_phrasing, intents())
            train += found
            lost += missed
            if log:
                log.info("seed %s: %d pairs (%d draws the linker did not link as drawn)", seed, len(found), missed)
        held_knowledge = renamed(knowledge_of(request.eval_seed, request.companies, request.real_like,
                                              Path(tmp) / "eval"), "eval", rng)
    held = {"held-out phrasings": pairs(held_knowledge, rng, "eval", request.eval_per_phrasing, written()),
            "validation phrasings": pairs(held_knowledge, rng, "eval", request.eval_per_phrasing, written(VALIDATION)),
            "trained phrasings": pairs(held_knowledge, rng, "eval", 1, intents())}
    sets = {name: (found, held_knowledge, missed) for name, (found, missed) in held.items()}
    real = real_inputs(request.real_inputs)
    if real:
        run = build(real)
        knowledge = from_run(run)
        knowledge = Knowledge(knowledge.companies, knowledge.values, knowledge.periods, knowledge.figures,
                              knowledge.as_of, knowledge.sources,
                              {k: v for k, v in knowledge.flags.items() if k in _STATEMENT_FLAGS}, knowledge.flagged)
        found, missed = pairs(knowledge, rng, "eval", 2, written())
        sets["real filings"] = (found, knowledge, missed)
    about = {"pairs": len(train), "unlinked": lost, "intents": len(intents()),
             "phrasings": sum(len(i.phrasings) for i in intents()),
             "held_out_phrasings": sum(len(i.phrasings) for i in written()),
             "held_out_written": sum(len(i["phrasings"]) for i in _toml(HELD_OUT)),
             "validation_phrasings": sum(len(i.phrasings) for i in written(VALIDATION)),
             "held_out": {name: len(found) for name, (found, _, _) in sets.items()},
             "refusals": {name: dict(refusal_reasons(found, k).most_common(8)) for name, (found, k, _) in sets.items()},
             "real_inputs": [str(p) for p in real]}
    return TranslatorCorpus(train, sets, about)


def translator_model(request: TranslatorRequest, found: list[Example]) -> tuple[Any, Any]:
    """A translator to train from nothing (tokenizer trained on the corpus, made once and reloaded from the work
    folder, so a resumed run trains the same weights)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    init = work(request) / "init"
    if not (init / "config.json").exists():
        scratch(init, [f"{e.prompt} {e.target}" for e in found], vocab_size=request.vocab_size, width=request.width,
                layers=request.layers, heads=request.heads, seed=request.seed, tokens=TOKENS)
    return AutoModelForCausalLM.from_pretrained(init, local_files_only=True), \
        AutoTokenizer.from_pretrained(init, local_files_only=True)


def fit(request: TranslatorRequest, model: Any, tokenizer: Any, found: list[Example]) -> list[dict[str, Any]]:
    """Train (checkpointed, resumable) and save the model and tokenizer in ``out``; the trainer's log history."""
    history = train(model, tokenizer, found, work(request), steps=request.steps, batch_size=request.batch_size,
                    learning_rate=request.learning_rate, seed=request.seed, save_steps=request.save_steps,
                    progress=request.progress, resume=request.resume)
    out = Path(request.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return history


def held_out_results(request: TranslatorRequest, made: TranslatorCorpus) -> dict[str, AskEvaluation]:
    """The trained translator on each held-out set."""
    translator = ModelTranslator(Path(request.out), beams=request.beams)
    return {name: evaluate(translator, found, knowledge, missed) for name, (found, knowledge, missed) in
            made.held.items()}


def write_card(request: TranslatorRequest, made: TranslatorCorpus, history: list[dict[str, Any]],
               evaluations: dict[str, AskEvaluation], seconds: float) -> dict[str, Any]:
    """The model card and evaluation.json beside the checkpoint; returns each held-out set's figures."""
    import torch

    out = Path(request.out)
    curve = loss_curve(history)
    params = sum(p.numel() for p in ModelTranslator(out).model.parameters())
    command = ["finreport finetune-ask", *([] if out == SHIPPED else [f"--out {out}"]), f"--steps {request.steps}"]
    lines = [
        "---", "library_name: transformers", "pipeline_tag: text-generation", "tags: [finreport, semantic-parsing]",
        "---", "", "# finreport translator", "",
        "Turns an analyst's question, its names from data already replaced by placeholders (`What was E1's M1 in "
        "Y1?`), into a program of finreport's query language (`(value E1 M1 Y1)`; `generator/ask/program.py`), which "
        "finreport executes over the facts: the model never writes a number. Beam search, constrained to the "
        "language (each beam stays the beginning of a well-typed program using only the question's placeholders; "
        f"`generator/ask/grammar.py`), gives {request.beams} candidates; the one that best uses the question's "
        f"names is run, the model's order breaking ties. Prompt format `{PROMPT_FORMAT}` (lower case, words "
        "stemmed).", "",
        "## Data", "",
        f"- {made.about['intents']} intents, {made.about['phrasings']} phrasings (`generator/ask/phrasings.toml`), "
        "every one trained on. Never trained on, each written by someone who had read neither the training "
        "phrasings nor the other file: validation, "
        f"{made.about['validation_phrasings']} phrasings (`generator/ask/validation.toml`), whose results chose the "
        "decoding (grammar-constrained, eight beams, a refusal not ranked below programs for the names it leaves "
        f"out); held out, {made.about['held_out_phrasings']} phrasings (`generator/ask/held_out.toml`: "
        f"{made.about['held_out_written']} written, less those that happened to be training or validation ones), "
        "measured once the rest was settled.",
        f"- Training: {made.about['pairs']} questions over the companies of seeds {request.seeds} "
        f"({request.companies} sample companies and {request.real_like} filed like real ones each), renamed from "
        "one list of names, with ids, tickers and CIKs; years as 2024, FY24, fiscal 2024, calendar 2024, last "
        f"year; {made.about['unlinked']} draws the linker did not link as drawn were left out.",
        f"- Held out: seed {request.eval_seed}'s companies renamed from a second, disjoint list; sets: "
        + "; ".join(f"{HELD[n]} ({c} questions)" for n, c in made.about["held_out"].items()) + ".",
        "- Refusals the held-out gold programs make (the inputs cannot answer them): "
        + json.dumps(made.about["refusals"].get("held-out phrasings", {})), "",
        "## Model and training", "",
        f"- GPT-2, {request.layers} layers, width {request.width}, {request.heads} heads, vocabulary "
        f"{request.vocab_size} (BPE trained on the corpus; placeholders one token each); {params:,} parameters.",
        f"- {curve[-1][0] if curve else 0} steps, batch {request.batch_size}, peak learning rate "
        f"{request.learning_rate:g}; corpus, training and evaluation took {seconds / 60:.1f} min on "
        f"{'CUDA' if torch.cuda.is_available() else f'CPU ({torch.get_num_threads()} threads)'}, torch "
        f"{torch.__version__}, Python {platform.python_version()}.",
        "- Training loss: " + " → ".join(f"{loss:.3f} (step {step})"
                                         for step, loss in [*curve[:: max(1, len(curve) // 6)], *curve[-1:]]), "",
    ]
    for name, e in evaluations.items():
        lines += [f"## Held-out results: {HELD[name]}", "", "| measure | value |", "|---|---|",
                  f"| questions | {e.questions} |", f"| exact program match | {e.exact:.1%} |",
                  f"| execution accuracy (what the answer denotes, a number, the companies chosen, a ranking or a "
                  f"table, is the gold program's; or both refuse) | {e.execution:.1%} |",
                  f"| refusal precision | {e.refusal_precision:.1%} |", f"| refusal recall | {e.refusal_recall:.1%} |",
                  f"| refusals giving the gold program's reason | {e.same_reason:.1%} |",
                  f"| speed | {e.answers_per_s:.1f} questions/s |", "",
                  "Execution accuracy by intent: " + ", ".join(f"{k} {v:.0%}" for k, v in e.by_intent.items()), ""]
    lines += ["## Reproduce", "", "```", " ".join(command), "```", ""]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")
    record = {name: e.record() for name, e in evaluations.items()}
    (out / "evaluation.json").write_text(json.dumps(record | {"corpus": made.about, "seconds": seconds}, indent=2),
                                         encoding="utf-8")
    return record
