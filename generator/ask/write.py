"""The answer to an asked question, in words: written with slots from the executed values (``⟨v1⟩``), filled in the
report's formats, then checked as the narrator's answers are: every figure in the text must be one the program
computed or read (or a number the question itself gave), within the rounding it is written with, in the same kind
(a percentage, a multiple, money); every company it names must be one the answer is about.

Also the program in words, which the report prints beside the answer ("the change in Acme Robotics Inc.'s free cash
flow from FY2023 to its latest fiscal year").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from generator import present
from generator.ask.execute import Result
from generator.ask.knowledge import Knowledge
from generator.ask.link import Linked, Number, Year
from generator.ask.program import RANKING, SCALAR, SET, TABLE, Node
from generator.narrator.verify import figures

_SLOT = re.compile(r"⟨(v\d+)⟩")
_KIND = {"fraction": "percent", "pp": "pp", "multiple": "multiple", "currency": "currency",
         "currency_per_share": "currency"}
_CONDITIONS = {"gt": "above", "ge": "at least", "lt": "below", "le": "at most"}


@dataclass(frozen=True)
class Shown:
    """A value the answer writes: the value and the unit it is written in (``pp``: a change of a fraction, in
    percentage points)."""

    value: float
    unit: str
    currency: str | None = None
    """The currency of this value where it is not the answer's (a set of companies reporting in several)."""

    def display(self, currency: str) -> str:
        """The value as the report writes it (money in its own currency, else in the answer's)."""
        currency = self.currency or currency
        if self.unit == "pp":
            return f"{self.value * 100:.1f}pp"
        if self.unit in ("count",):
            return f"{self.value:,.0f}"
        if self.unit in ("plain", "amount"):
            return present.score(self.value)
        return present.by_unit(self.value, self.unit, currency)


class Writer:
    """Writes one answer; each value goes through :meth:`slot`, so the check knows every figure the text may hold."""

    def __init__(self, knowledge: Knowledge, linked: Linked, inline: str | None = None) -> None:
        self.k, self.b = knowledge, linked.bindings
        self.slots: dict[str, Shown] = {}
        self.inline = inline
        """A currency: values are written in it at once (the program in words), not as slots."""

    def slot(self, value: float, unit: str, currency: str | None = None) -> str:
        """A slot for a value (or, for the program in words, the value written at once); ``currency``: the value's
        own, where it may not be the answer's."""
        if self.inline:
            return Shown(value, unit, currency).display(self.inline)
        name = f"v{len(self.slots) + 1}"
        self.slots[name] = Shown(value, unit, currency)
        return f"⟨{name}⟩"

    def name(self, entity_id: str) -> str:
        """How the answer names a company."""
        return self.k.companies[entity_id].name if entity_id in self.k.companies else entity_id

    def label(self, atom: str) -> str:
        """How the answer names a figure."""
        figure = self.k.figures.get(str(self.b.get(atom, atom)) if atom.startswith("M") else atom)
        return figure.label if figure else "a figure the question does not name"

    def currency(self, result: Result) -> str:
        """The currency the answer's money is in (its companies all report in one)."""
        entities = [r.entity_id for r in result.reads if "currency" in self.k.figures[r.metric].unit] \
            if result.reads and all(r.metric in self.k.figures for r in result.reads) else []
        currencies = {self.k.companies[e].currency for e in entities if e in self.k.companies}
        return currencies.pop() if len(currencies) == 1 else "USD"

    def number(self, atom: str) -> str:
        """A number the question gave, as a slot (zero in words)."""
        if atom == "0":
            return "zero"
        n = self.b.get(atom)
        if not isinstance(n, Number):
            return "a number the question does not give"
        return self.slot(n.value, {"count": "plain"}.get(n.kind, n.kind))

    # --- the answer ------------------------------------------------------------------------------------------

    def text(self, program: Node, result: Result) -> str:
        """The answer with slots."""
        if result.kind == SCALAR:
            return self.scalar(program, result)
        if result.kind == SET:
            return self.chosen(program, result)
        if result.kind == RANKING:
            return self.ranking(program, result)
        if result.kind == TABLE:
            return self.table(program, result)
        raise ValueError(result.kind)

    def scalar(self, program: Node, result: Result) -> str:
        """The answer of a program that returns a number."""
        op, a = program.op, program.args
        assert result.value is not None and result.unit is not None
        if op == "value":
            r = result.reads[0]
            return f"{self.name(r.entity_id)}'s {self.label(r.metric)} was {self.slot(r.value, result.unit)} " \
                   f"in FY{r.fiscal_year}."
        if op in ("change", "pct_change", "cagr"):
            old, new = result.reads[0], result.reads[1]
            unit = self.k.figures[old.metric].unit
            subject = f"{self.name(old.entity_id)}'s {self.label(old.metric)}"
            span = f"from {self.slot(old.value, unit)} in FY{old.fiscal_year} to {self.slot(new.value, unit)} " \
                   f"in FY{new.fiscal_year}"
            if op == "cagr":
                return f"{subject} grew at a compound annual rate of {self.slot(result.value, 'fraction')} {span}."
            if result.value == 0:
                return f"{subject} was unchanged, {span}."
            verb = "rose" if result.value > 0 else "fell"
            if op == "pct_change":
                return f"{subject} {verb} {self.slot(abs(result.value), 'fraction')}, {span}."
            size = self.slot(abs(result.value), "pp" if result.unit == "fraction" else result.unit)
            return f"{subject} {verb} by {size}, {span}."
        if op == "count":
            return self.chosen(a[0], result)  # type: ignore[arg-type]
        one = len({(r.entity_id, r.fiscal_year) for r in result.reads}) == 1
        inputs = "; ".join(("" if one else f"{self.name(r.entity_id)}'s ") + self.label(r.metric)
                           + ("" if one else f" in FY{r.fiscal_year}")
                           + f" {self.slot(r.value, self.k.figures[r.metric].unit)}" for r in result.reads)
        return f"{present.capitalised(self.words(program))} was {self.slot(result.value, result.unit)} ({inputs})."

    def noun(self, node: Node) -> tuple[str, str | None]:
        """A set as (what its members are, the clause they were chosen by): ("Industrials companies", "carried the
        loss-making flag in FY2024")."""
        op, a = node.op, node.args
        if op == "companies":
            return self.k.what, None
        if op == "sector":
            return f"{self.b.get(str(a[0]), 'unnamed sector')} {self.k.what}", None
        if op == "entities":
            return " and ".join(self.name(str(self.b.get(str(e), e))) for e in a), None
        inner, clause = self.noun(a[0])  # type: ignore[arg-type]
        period = self.period_words(str(a[2]))
        if op == "flagged" and str(self.b.get(str(a[1]))) in self.k.market_flags:
            mine = f"carried the {self.k.flags[str(self.b.get(str(a[1])))]} flag at the last close by " \
                   f"{self.k.as_of.isoformat()}"
        elif op == "flagged":
            mine = f"carried the {self.k.flags.get(str(self.b.get(str(a[1]))), 'unnamed')} flag {period}"
        else:
            mine = f"had {self.label(str(a[1]))} {_CONDITIONS[str(a[3])]} {self.number(str(a[4]))} {period}"
        return inner, mine if clause is None else f"{clause} and {mine}"

    def set_words(self, node: Node) -> str:
        """A set in words: its members and the clause they were chosen by."""
        noun, clause = self.noun(node)
        return noun if clause is None else f"{noun} that {clause}"

    def period_words(self, atom: str) -> str:
        """A period in words: "in FY2024", "in their latest fiscal year"."""
        if atom == "latest":
            return "in their latest fiscal year"
        if atom == "previous":
            return "in the fiscal year before their latest"
        y = self.b.get(atom)
        return f"in {y.words()}" if isinstance(y, Year) else ""

    def chosen(self, program: Node, result: Result) -> str:
        """Which companies a set holds, or how many: "1 of the 3 Industrials companies carried the loss-making flag in
        FY2024: Voltaris Motors Inc."."""
        noun, clause = self.noun(program)
        unit = self.k.figures[str(self.b.get(str(program.args[1]), program.args[1]))].unit \
            if program.op == "where" else None
        listed = "; ".join(self.name(e) + (f" {self.slot(v, unit, self.own_currency(e))}" if v is not None and unit
                                           else "")
                           + (f" (FY{result.years[e]})" if e in result.years and self._mixed(result) else "")
                           for e, v in result.rows)
        k = self.slot(len(result.rows), "count")
        if clause is None:
            text = f"{k} {noun} are in the inputs" + (f": {listed}" if listed else "")
        elif not result.rows:
            text = f"None of the {self.slot(result.considered, 'count')} {noun} {clause}"
        else:
            text = f"{k} of the {self.slot(result.considered, 'count')} {noun} {clause}: {listed}"
        return self.left_out(text, result)

    def own_currency(self, entity_id: str) -> str | None:
        """A company's reporting currency (a set chosen against zero holds companies of several)."""
        return self.k.companies[entity_id].currency if entity_id in self.k.companies else None

    def left_out(self, text: str, result: Result) -> str:
        """The answer's last sentences: the companies whose figure the inputs lack, and those in another currency."""
        if result.missing:
            text += f". Not known for {'; '.join(self.name(e) for e in result.missing)}"
        if result.other_currency:
            text += ". Left out, reporting in another currency: " + "; ".join(
                f"{self.name(e)} ({self.k.companies[e].currency})" for e in result.other_currency)
        return text.rstrip(".") + "."

    def _mixed(self, result: Result) -> bool:
        return len(set(result.years.values())) > 1

    def ranking(self, program: Node, result: Result) -> str:
        """A ranking's answer: the higher of two, the first, or the list."""
        a = program.args
        label, period = self.label(str(a[1])), self.period_words(str(a[2]))
        higher = "highest" if a[3] == "desc" else "lowest"
        unit = result.unit or "plain"

        def row(e: str, v: float | None) -> str:
            year = f" (FY{result.years[e]})" if self._mixed(result) else ""
            return f"{self.name(e)} {self.slot(v, unit) if v is not None else 'n/a'}{year}"

        if a[0].op == "entities" and len(result.rows) == 2 and program.op == "rank":  # type: ignore[union-attr]
            (e1, v1), (e2, v2) = result.rows
            more = "higher" if a[3] == "desc" else "lower"
            return f"{self.name(e1)} had the {more} {label} {period}: {self.slot(v1, unit)} " \
                   f"against {self.slot(v2, unit)} for {self.name(e2)}." if v1 != v2 else \
                f"{self.name(e1)} and {self.name(e2)} had the same {label} {period}, {self.slot(v1, unit)}."
        if program.op == "top" and len(result.rows) == 1 and len(a) == 4:
            e, v = result.rows[0]
            return self.left_out(f"{self.name(e)} had the {higher} {label} of the {self.set_words(a[0])} {period}, "
                                 f"{self.slot(v, unit)}", result)  # type: ignore[arg-type]
        listed = "; ".join(f"{self.slot(i, 'count')}. {row(e, v)}" for i, (e, v) in enumerate(result.rows, 1))
        text = f"The {self.set_words(a[0])} by {label} {period}, {higher} first: {listed}"  # type: ignore[arg-type]
        return self.left_out(text, result)

    def table(self, program: Node, result: Result) -> str:
        """A comparison's answer: each company's figures by year, and which was highest."""
        label, unit = self.label(str(program.args[1])), result.unit or "plain"
        lines = [f"{self.name(e)}: " + ", ".join(f"{self.slot(v, unit)} in FY{y}" for y, v in rows)
                 for e, rows in result.table.items()]
        text = f"{present.capitalised(label)}: " + "; ".join(lines) + "."
        latest = {e: rows[-1] for e, rows in result.table.items() if rows}
        years = {y for y, _ in latest.values()}
        if len(latest) >= 2 and len(years) == 1:
            best = max(latest, key=lambda e: latest[e][1])
            if sum(1 for e in latest if latest[e][1] == latest[best][1]) == 1:
                text += f" {self.name(best)}'s was the {'higher' if len(latest) == 2 else 'highest'} in " \
                        f"FY{years.pop()}."
        return text

    # --- the program in words --------------------------------------------------------------------------------

    def words(self, node: Node | str) -> str:
        """The program as a sentence a reader can check against the question."""
        if isinstance(node, str):
            return node
        op, a = node.op, node.args
        if op == "value":
            return f"{self.name(str(self.b.get(str(a[0]), a[0])))}'s {self.label(str(a[1]))} " \
                   f"{self.period_words(str(a[2])).replace('their', 'its')}"
        if op in ("change", "pct_change", "cagr"):
            what = {"change": "the change in", "pct_change": "the percentage change in",
                    "cagr": "the compound annual growth rate of"}[op]
            return f"{what} {self.name(str(self.b.get(str(a[0]), a[0])))}'s {self.label(str(a[1]))} between " \
                   f"{self.period_words(str(a[2])).removeprefix('in ')} and " \
                   f"{self.period_words(str(a[3])).removeprefix('in ')}".replace("their", "its")
        if op in ("add", "subtract", "multiply", "divide"):
            joint = {"add": "plus", "subtract": "minus", "multiply": "times", "divide": "divided by"}[op]
            x, y = a
            if isinstance(x, Node) and isinstance(y, Node) and x.op == y.op == "value" and x.args[0] == y.args[0]:
                name = self.name(str(self.b.get(str(x.args[0]), x.args[0])))
                when = self.period_words(str(x.args[2])).replace("their", "its")
                if x.args[2] == y.args[2]:  # one company, one year: "Acme's R&D divided by its revenue in FY2025"
                    return f"{name}'s {self.label(str(x.args[1]))} {joint} its {self.label(str(y.args[1]))} {when}"
            return f"{self.words(x)} {joint} {self.words(y)}"
        if op in ("average", "sum"):
            what = "the average of" if op == "average" else "the sum of"
            return f"{what} " + " and ".join(self.words(x) for x in a)
        if op == "series":
            return f"{self.name(str(self.b.get(str(a[0]), a[0])))}'s {self.label(str(a[1]))} " \
                   f"{self.range_words(a[2])}"  # type: ignore[arg-type]
        if op == "count":
            return f"the number of {self.set_words(a[0])}"  # type: ignore[arg-type]
        if op in ("rank", "top"):
            how = "highest" if a[3] == "desc" else "lowest"
            first = "all" if op == "rank" else f"the first {self.number(str(a[4]))}" if len(a) == 5 else "the first"
            the = "" if a[0].op == "entities" else "the "  # type: ignore[union-attr]
            return f"{the}{self.set_words(a[0])} ranked by {self.label(str(a[1]))} " \
                   f"{self.period_words(str(a[2]))}, {how} first ({first})"  # type: ignore[arg-type]
        if op == "compare":
            spec = a[2]
            when = self.period_words(spec) if isinstance(spec, str) else self.range_words(spec)
            return f"{self.label(str(a[1]))} of {self.set_words(a[0])} {when}"  # type: ignore[arg-type]
        if op == "refuse":
            return "no program: " + ("a forecast" if a[0] == "forecast" else "not a question the inputs answer")
        return f"the {self.set_words(node)}"

    def range_words(self, spec: Node) -> str:
        """A range of years in words."""
        if spec.op == "recent":
            return f"over the last {self.number(str(spec.args[0]))} fiscal years"
        return f"from {self.period_words(str(spec.args[0])).removeprefix('in ')} to " \
               f"{self.period_words(str(spec.args[1])).removeprefix('in ')}"


def fill(text: str, slots: dict[str, Shown], currency: str) -> str:
    """Each slot written as its value (and a name's own full stop not doubled by the sentence's)."""
    return re.sub(r"\.\.(?=\s|$)", ".", _SLOT.sub(lambda m: slots[m.group(1)].display(currency), text))


def unverified(text: str, slots: dict[str, Shown], names: set[str], knowledge: Knowledge, years: set[int]
               ) -> str | None:
    """Why a filled answer fails the check, or None: a figure that is no slot's value (as written, in its kind), or a
    company the answer is not about. ``years`` are the years the answer may name (those it read, those the question
    gave)."""
    masked = re.sub(r"(?<![\d.,$€£¥-])\b(?:19|20)\d{2}\b(?![\d%x]|\.\d)",
                    lambda m: m.group(0) if int(m.group(0)) not in years else " " * 4, text)
    for figure in figures(masked):
        kinds = [(s.value, _KIND.get(s.unit, "plain")) for s in slots.values()]
        if not any(kind == figure.kind and (abs(figure.value - v) <= figure.tolerance if figure.signed
                                            else abs(abs(figure.value) - abs(v)) <= figure.tolerance)
                   for v, kind in kinds):
            return f"{figure.text!r} is no value the program computed"
    for company in knowledge.companies.values():
        if company.entity_id not in names and re.search(r"(?<!\w)" + re.escape(company.name) + r"(?!\w)", text):
            return f"names {company.name}, which the answer is not about"
    return None
