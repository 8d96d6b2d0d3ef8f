"""Running a program over the knowledge: every value it reads is recorded with its source lines, every step it
takes is arithmetic in Python on those values, and a question the inputs cannot answer stops it with the reason.

A fiscal year is resolved for each company: "FY2022" is the year the company numbers 2022; "calendar 2022" the fiscal
year most of which lies in 2022 (Walmart's fiscal 2023, February 2022 to January 2023); "last year" the fiscal year
numbered one before the as-of date's; ``latest`` the company's last fiscal year ended by the as-of date. A year that
had not ended by the as-of date is a forecast, and refused as one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from generator.ask.knowledge import Knowledge
from generator.ask.link import Linked, Number, Year
from generator.ask.program import RANKING, SCALAR, SET, TABLE, Node, check
from generator.errors import FinreportError


class Unanswerable(FinreportError):
    """The inputs cannot answer the question; the message says exactly why (and the answer gives no number)."""


@dataclass(frozen=True)
class Read:
    """One value a program read: whose, which figure, which fiscal year, the value and its source lines."""

    entity_id: str
    metric: str
    fiscal_year: int
    value: float
    sources: tuple[str, ...]

    def record(self) -> dict[str, Any]:
        """As ``sources`` in an answer's JSON."""
        return {"entity_id": self.entity_id, "metric": self.metric, "fiscal_year": self.fiscal_year,
                "value": self.value, "sources": list(self.sources)}


@dataclass
class Result:
    """What a program computed. A number: ``value`` and ``unit``; a set or a ranking: ``rows`` of (entity, value of
    the figure it was chosen by, or None), in order; a table: ``table`` of entity → [(fiscal year, value)]. ``reads``
    holds every value read; ``missing`` the companies a set left out because the inputs lack their figure."""

    kind: str
    value: float | None = None
    unit: str | None = None
    rows: list[tuple[str, float | None]] = field(default_factory=list)
    table: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    reads: list[Read] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    years: dict[str, int] = field(default_factory=dict)
    """The fiscal year each company's figure in ``rows`` is of."""
    considered: int = 0
    """How many companies a set chose from."""
    other_currency: list[str] = field(default_factory=list)
    """The companies a set or a ranking of money left out because they report in another currency."""


class Executor:
    """Runs one program against one knowledge with one question's bindings."""

    def __init__(self, knowledge: Knowledge, linked: Linked) -> None:
        self.k, self.b = knowledge, linked.bindings
        self.reads: list[Read] = []
        self.other_currency: list[str] = []

    # --- atoms -----------------------------------------------------------------------------------------------

    def entity(self, atom: str) -> str:
        """The company an entity placeholder stands for; an unknown name or none is refused."""
        if atom.startswith("U"):
            name = self.b.get(atom, atom)
            raise Unanswerable(f"no {self._one()} called {name!r} is in the inputs{self._known_names()}")
        if atom not in self.b:
            raise Unanswerable(f"the question names no {self._one()} of the inputs{self._known_names()}")
        return str(self.b[atom])

    def _one(self) -> str:
        return {"companies": "company", "tables": "table"}.get(self.k.what, self.k.what)

    def _known_names(self) -> str:
        names = [c.name for c in self.k.companies.values()]
        if not names or len(names) > 12:
            return f", which have {len(names)} {self.k.what}"
        return f", which have {', '.join(sorted(names))}"

    def metric(self, atom: str) -> str:
        """The metric a figure placeholder or name stands for; one the inputs lack is refused."""
        name = str(self.b.get(atom)) if atom.startswith("M") else atom
        if atom.startswith("M") and atom not in self.b:
            raise Unanswerable("the question names no figure the inputs have (such as revenue, net income, net margin, "
                               "free cash flow or the current ratio)")
        if name not in self.k.figures:
            raise Unanswerable(f"the inputs have no figure {name.replace('_', ' ')!r}")
        return name

    def name(self, entity_id: str) -> str:
        """How answers and refusals name a company."""
        return self.k.companies[entity_id].name if entity_id in self.k.companies else entity_id

    def year(self, entity_id: str, atom: str) -> int:
        """The company's fiscal year a period atom stands for; a year it has no figures for is refused with the
        years it has, a year not over at the as-of date as a forecast."""
        years = self.k.years(entity_id)
        if not years:
            raise Unanswerable(f"{self.name(entity_id)} has no annual figures in the inputs")
        if atom == "latest":
            return years[-1]
        if atom == "previous":
            if len(years) < 2:
                raise Unanswerable(f"{self.name(entity_id)} has one fiscal year in the inputs, FY{years[-1]}")
            return years[-2]
        if atom not in self.b or not isinstance(self.b[atom], Year):
            raise Unanswerable("the question names no year")
        y: Year = self.b[atom]
        year = self._calendar(entity_id, y.year) if y.basis == "calendar" else y.year
        if year not in years:
            if year > years[-1] and year >= self.k.as_of.year:
                raise Unanswerable(f"{y.words()} had not ended by {self.k.as_of.isoformat()} for "
                                   f"{self.name(entity_id)}: finreport reports filed figures and does not forecast")
            span = f"FY{years[0]}" + (f" to FY{years[-1]}" if len(years) > 1 else "")
            raise Unanswerable(f"{self.name(entity_id)} has no {y.words()} figures in the inputs (it has {span})")
        return year

    def _calendar(self, entity_id: str, year: int) -> int:
        for fy in self.k.years(entity_id):
            start, end = self.k.span(entity_id, fy)
            if start and end and (start + (end - start) / 2).year == year:
                return fy
        return year

    def number(self, atom: str, unit: str) -> float:
        """A threshold of the question in the figure's unit; one of another kind is refused."""
        if atom == "0":
            return 0.0
        n = self.b.get(atom)
        if not isinstance(n, Number):
            raise Unanswerable("the question gives no number to compare with")
        fits = {"fraction": ("fraction",), "currency": ("currency", "count"),
                "currency_per_share": ("currency", "count")}
        if n.kind not in fits.get(unit, ("count", "multiple")):
            raise Unanswerable(f"{n.text!r} is not a {unit.replace('_', ' ')} to compare "
                               f"{'a percentage' if unit == 'fraction' else 'this figure'} with")
        return n.value

    def count(self, atom: str) -> int:
        """A whole count of the question (how many years, how many companies)."""
        n = self.b.get(atom)
        if not isinstance(n, Number) or n.value != int(n.value) or n.value < 1:
            raise Unanswerable("the question gives no count")
        return int(n.value)

    # --- reading ---------------------------------------------------------------------------------------------

    def read(self, entity_id: str, metric: str, year: int) -> float:
        """One value, recorded with its source lines; an absent one is refused with its reason."""
        value, reason = self.k.value(entity_id, metric, year)
        if value is None or not math.isfinite(value):
            label = self.k.figures[metric].label
            raise Unanswerable(f"{self.name(entity_id)}'s {label} for FY{year} is not in the inputs"
                               + (f": {reason}" if reason else ""))
        self.reads.append(Read(entity_id, metric, year, value, tuple(self.k.sources(entity_id, metric, year))))
        return value

    def unit(self, metric: str) -> str:
        """The registry unit of a metric."""
        return self.k.figures[metric].unit

    # --- operations ------------------------------------------------------------------------------------------

    def run(self, node: Node) -> Result:
        """The program's result; :class:`Unanswerable` when the inputs cannot give it."""
        kind = check(node)
        if node.op == "count":  # a number, with the companies it counted
            rows, missing, years, considered = self.set(node.args[0])  # type: ignore[arg-type]
            return Result(SCALAR, float(len(rows)), "count", rows=rows, reads=self.reads, missing=missing, years=years,
                          considered=considered, other_currency=self.other_currency)
        if kind == SCALAR:
            value, unit = self.scalar(node)
            return Result(SCALAR, value, unit, reads=self.reads)
        if kind == SET:
            rows, missing, years, considered = self.set(node)
            unit = self.unit(self.metric(str(node.args[1]))) if node.op == "where" else None
            return Result(SET, unit=unit, rows=rows, reads=self.reads, missing=missing, years=years,
                          considered=considered, other_currency=self.other_currency)
        if kind == RANKING:
            return self.ranking(node)
        if kind == TABLE:
            return self.compare(node)
        raise Unanswerable(_REFUSALS[str(node.args[0])])

    def scalar(self, node: Node) -> tuple[float, str]:
        """(value, unit) of a program that returns a number."""
        op, a = node.op, node.args
        if op == "value":
            e, m = self.entity(str(a[0])), self.metric(str(a[1]))
            return self.read(e, m, self.year(e, str(a[2]))), self.unit(m)
        if op in ("change", "pct_change", "cagr"):
            e, m = self.entity(str(a[0])), self.metric(str(a[1]))
            first, last = sorted((self.year(e, str(a[2])), self.year(e, str(a[3]))))
            if first == last:
                raise Unanswerable(f"a {_WORDS[op]} needs two different years; the question gives FY{first} twice")
            old, new = self.read(e, m, first), self.read(e, m, last)
            if op == "change":
                return new - old, self.unit(m)
            if old <= 0 or (op == "cagr" and new <= 0):
                raise Unanswerable(f"a {_WORDS[op]} of {self.k.figures[m].label} from FY{first} is not meaningful: "
                                   f"it starts from {'zero' if old == 0 else 'a negative value'}"
                                   if old <= 0 else "it ends negative")
            if op == "pct_change":
                return new / old - 1, "fraction"
            return (new / old) ** (1 / (last - first)) - 1, "fraction"
        if op in ("add", "subtract", "multiply", "divide"):
            (x, ux), (y, uy) = self.scalar(a[0]), self.scalar(a[1])  # type: ignore[arg-type]
            money = sorted({r.entity_id for r in self.reads if "currency" in self.unit(r.metric)})
            if len({self.k.companies[e].currency for e in money if e in self.k.companies}) > 1:
                raise Unanswerable(self.currencies(money))
            if op in ("add", "subtract"):
                if ux != uy:
                    raise Unanswerable(f"cannot {op} a {ux} and a {uy}")
                return (x + y if op == "add" else x - y), ux
            if op == "multiply":
                return x * y, ux if uy == "count" else uy if ux == "count" else "plain"
            if y == 0:
                raise Unanswerable("the division is by zero")
            return x / y, "fraction" if ux == uy else "plain"
        if op in ("average", "sum"):
            pairs = self.series(a[0]) if len(a) == 1 else [self.scalar(x) for x in a]  # type: ignore[arg-type]
            units = {u for _, u in pairs}
            if len(units) > 1:
                raise Unanswerable(f"cannot {op} figures of different units ({', '.join(sorted(units))})")
            total = sum(v for v, _ in pairs)
            return (total / len(pairs) if op == "average" else total), units.pop()
        if op == "count":
            return float(len(self.set(a[0])[0])), "count"  # type: ignore[arg-type]
        raise Unanswerable(_REFUSALS["unsupported"])

    def series(self, node: Node) -> list[tuple[float, str]]:
        """The (value, unit) of each fiscal year of a series, oldest first."""
        e, m = self.entity(str(node.args[0])), self.metric(str(node.args[1]))
        return [(self.read(e, m, y), self.unit(m)) for y in self.years_of(e, node.args[2])]  # type: ignore[arg-type]

    def years_of(self, entity_id: str, spec: Node | str) -> list[int]:
        """The fiscal years of a period or a range, oldest first."""
        if isinstance(spec, str):
            return [self.year(entity_id, spec)]
        if spec.op == "recent":
            n = self.count(str(spec.args[0]))
            years = [y for y in self.k.years(entity_id)]
            if len(years) < n:
                raise Unanswerable(f"{self.name(entity_id)} has {len(years)} fiscal years in the inputs, not {n}")
            return years[-n:]
        first, last = sorted((self.year(entity_id, str(spec.args[0])), self.year(entity_id, str(spec.args[1]))))
        return [y for y in self.k.years(entity_id) if first <= y <= last]

    def members(self, node: Node) -> list[str]:
        """The companies of a set, in order."""
        if node.op == "companies":
            return sorted(e for e in self.k.companies if self.k.years(e))
        if node.op == "sector":
            sector = self.b.get(str(node.args[0]))
            if sector is None:
                raise Unanswerable("the question names no sector of the inputs "
                                   f"(they have {', '.join(self.k.sectors()) or 'none'})")
            return sorted(e for e, c in self.k.companies.items() if c.sector == sector and self.k.years(e))
        if node.op == "entities":
            return list(dict.fromkeys(self.entity(str(a)) for a in node.args))
        return [e for e, _ in self.set(node)[0]]

    def set(self, node: Node) -> tuple[list[tuple[str, float | None]], list[str], dict[str, int], int]:
        """(the companies chosen, each with the figure it was chosen by; those whose figure is unknown; the fiscal
        year each chosen one's figure is of; how many were considered)."""
        if node.op in ("companies", "sector", "entities"):
            members = self.members(node)
            return [(e, None) for e in members], [], {}, len(members)
        inner = self.members(node.args[0])  # type: ignore[arg-type]
        rows: list[tuple[str, float | None]] = []
        missing: list[str] = []
        years: dict[str, int] = {}
        if node.op == "flagged":
            flag = self.b.get(str(node.args[1]))
            if flag is None:
                raise Unanswerable("the question names no flag the reasoner infers")
            flagged = self.k.flagged(flag)
            if flag in self.k.market_flags:  # a share's flag at the as-of date, whatever year the question says
                rows = [(e, None) for e in inner if (e, None) in flagged]
                self.reads += [Read(e, flag, self.k.as_of.year, 1.0, (
                    f"reasoned graph: {e}'s share at the last close by {self.k.as_of} is a {flag} "
                    "(SPARQL SNAPSHOTS_WITH_FLAG)",)) for e, _ in rows]
                return rows, [], {}, len(inner)
            for e in inner:
                try:
                    years[e] = self.year(e, str(node.args[2]))
                except Unanswerable:
                    missing.append(e)
                    continue
                if (e, years[e]) in flagged:
                    rows.append((e, None))
                    self.reads.append(Read(e, flag, years[e], 1.0, (
                        f"reasoned graph: {e} FY{years[e]} is a {flag} (SPARQL SNAPSHOTS_WITH_FLAG)",)))
            return rows, missing, {e: years[e] for e, _ in rows}, len(inner)
        m = self.metric(str(node.args[1]))
        threshold = self.number(str(node.args[4]), self.unit(m))
        compare = {"gt": float.__gt__, "ge": float.__ge__, "lt": float.__lt__, "le": float.__le__}[str(node.args[3])]
        for e, value, year in self.values(inner, m, str(node.args[2]), missing, any_currency=node.args[4] == "0"):
            if compare(value, threshold):
                rows.append((e, value))
                years[e] = year
        return rows, missing, years, len(inner)

    def same_currency(self, entities: list[str], metric: str) -> list[str]:
        """The companies whose figure can be set beside the others': all of them, but for money those reporting in
        the currency most of them report in (the others are kept in ``other_currency``, and the answer says so)."""
        if "currency" not in self.unit(metric):
            return entities
        currencies = [self.k.companies[e].currency for e in entities if e in self.k.companies]
        main = max(sorted(set(currencies)), key=currencies.count) if currencies else None
        keep = [e for e in entities if e not in self.k.companies or self.k.companies[e].currency == main]
        self.other_currency += [e for e in entities if e not in keep]
        return keep

    def values(self, entities: list[str], metric: str, period: str, missing: list[str], any_currency: bool = False
               ) -> list[tuple[str, float, int]]:
        """Each company's figure for the period (money in one currency, unless ``any_currency``: a sign is a sign in
        any currency); a company without it is added to ``missing``."""
        out = []
        for e in entities if any_currency else self.same_currency(entities, metric):
            try:
                year = self.year(e, period)
                out.append((e, self.read(e, metric, year), year))
            except Unanswerable:
                missing.append(e)
        return out

    def ranking(self, node: Node) -> Result:
        """A ranking (``rank``) or its first ones (``top``), money in one currency."""
        a = node.args
        missing: list[str] = []
        m = self.metric(str(a[1]))
        found = self.values(self.members(a[0]), m, str(a[2]), missing)  # type: ignore[arg-type]
        if not found:
            raise Unanswerable(f"none of the {self.k.what} has its {self.k.figures[m].label} for that year "
                               "in the inputs")
        found.sort(key=lambda t: (-t[1] if a[3] == "desc" else t[1], t[0]))
        if node.op == "top":
            found = found[:self.count(str(a[4])) if len(a) == 5 else 1]
        return Result(RANKING, found[0][1], self.unit(m), rows=[(e, v) for e, v, _ in found], reads=self.reads,
                      missing=missing, years={e: y for e, _, y in found}, other_currency=self.other_currency)

    def compare(self, node: Node) -> Result:
        """Each company's figure for each year asked, money in one currency only."""
        m = self.metric(str(node.args[1]))
        members = self.members(node.args[0])  # type: ignore[arg-type]
        self.same_currency(members, m)
        if self.other_currency:
            raise Unanswerable(self.currencies(members))
        table = {e: [(y, self.read(e, m, y)) for y in self.years_of(e, node.args[2])] for e in members}
        return Result(TABLE, unit=self.unit(m), table=table, reads=self.reads)

    def currencies(self, entities: list[str]) -> str:
        """Why figures of these companies cannot be set side by side."""
        listed = ", ".join(f"{self.name(e)} in {self.k.companies[e].currency}" for e in entities
                           if e in self.k.companies)
        return f"the companies report in different currencies ({listed}) and the inputs give no exchange rates " \
               "for their figures"


_WORDS = {"change": "change", "pct_change": "percentage change", "cagr": "compound annual growth rate"}
_REFUSALS = {
    "forecast": "the question asks for a forecast: finreport reports what companies filed and does not predict",
    "unsupported": "finreport cannot answer this from the inputs: it answers look-ups, changes, sums, averages, "
                   "growth rates, ratios, comparisons, rankings and counts of reported annual figures and flags",
}


def execute(program: Node, knowledge: Knowledge, linked: Linked) -> Result:
    """Run a program; :class:`Unanswerable` says why the inputs cannot answer it."""
    return Executor(knowledge, linked).run(program)
