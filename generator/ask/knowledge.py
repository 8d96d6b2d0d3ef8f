"""What a question can be answered from: the companies of the inputs, every annual figure they have (with the reason
where one is absent), the flags HermiT inferred, and where each value came from.

:func:`from_run` builds it from a run's facts; :mod:`generator.ask.tables` builds one from a table (TAT-QA). A
fiscal year is known to a question when it ended on or before the as-of date: a question asked "as of" a past date
is answered with what was known then.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

import polars as pl

from generator import graph_queries
from generator.graph import flag_classes, flag_names
from generator.metrics import definition, label
from generator.pipeline import FactsRun
from generator.present import MARKET
from generator.provenance import Provenance

VALUES_SCHEMA: dict[str, pl.DataType] = {"entity_id": pl.String(), "fiscal_year": pl.Int32(), "metric": pl.String(),
                                          "value": pl.Float64(), "reason": pl.String()}
"""One row per company, fiscal year and figure: the value, or None with the reason it is absent."""

PERIODS_SCHEMA: dict[str, pl.DataType] = {"entity_id": pl.String(), "fiscal_year": pl.Int32(),
                                           "period_start": pl.Date(), "period_end": pl.Date()}
_SUFFIXES = re.compile(r"[,.]?\s+(?:inc|incorporated|corp|corporation|co|company|plc|ltd|limited|llc|lp|sa|se|ag|nv|"
                       r"holdings?|group|the)\.?$", re.IGNORECASE)


@dataclass(frozen=True)
class Company:
    """A company a question may name: by its id, ticker, CIK or name (``aliases`` are the shorter names people use:
    "Acme Robotics" for "Acme Robotics Inc.")."""

    entity_id: str
    name: str
    sector: str | None = None
    currency: str = "USD"
    ticker: str | None = None

    @property
    def cik(self) -> str | None:
        """The CIK's digits without leading zeros, when the id is one."""
        m = re.fullmatch(r"CIK0*(\d+)", self.entity_id)
        return m.group(1) if m else None

    @property
    def aliases(self) -> tuple[str, ...]:
        """The name without its legal form ("Acme Robotics Inc." → "Acme Robotics"), its first two words, its first
        word when that is a word of its own ("Acme"); "J&J" for "Johnson & Johnson"; the initials of a name of three
        words or more ("TSMC" for Taiwan Semiconductor Manufacturing Company Limited)."""
        out, short = [], re.sub(r"(?i)^the\s+", "", self.name)
        while (cut := _SUFFIXES.sub("", short).strip(" ,&")) != short and cut:
            short = cut
        out.append(short)
        words = short.split()
        if len(words) > 2:
            out.append(" ".join(words[:2]))  # "Nova Cloud" of Nova Cloud Systems
        if len(words) > 1 and len(words[0]) > 3:
            out.append(words[0])
        if "&" in words and len(words) == 3:
            out.append(f"{words[0][0]}&{words[2][0]}")
        capitals = [w for w in re.findall(r"[\w&]+", self.name) if w[0].isupper() and w.lower().rstrip(".") not in
                    ("inc", "incorporated", "ltd", "limited", "plc", "corp", "corporation", "llc", "lp", "sa", "se",
                     "ag", "nv", "the")]
        if len(capitals) >= 3:
            out.append("".join(w[0] for w in capitals).upper())  # TSMC, LPA
        return tuple(dict.fromkeys(a for a in out if a != self.name))


@dataclass(frozen=True)
class Figure:
    """A figure a question may ask for: its metric name, how reports name it, its unit, and other words for it."""

    name: str
    label: str
    unit: str
    words: tuple[str, ...] = ()


@dataclass
class Knowledge:
    """Everything a program reads. ``sources(entity, metric, year)`` gives the source lines of a value;
    ``flagged(flag)`` the (entity, fiscal year) snapshots the reasoner put in a flag class (``flags`` maps each class
    to its label)."""

    companies: dict[str, Company]
    values: pl.DataFrame
    periods: pl.DataFrame
    figures: dict[str, Figure]
    as_of: date
    sources: Callable[[str, str, int], list[str]]
    flags: dict[str, str] = field(default_factory=dict)
    flagged: Callable[[str], set[tuple[str, int | None]]] = lambda flag: set()
    market_flags: frozenset[str] = frozenset()
    """The flags of a share at the as-of date (high beta, rich valuation), not of a fiscal year: ``flagged`` gives
    them with the year None."""
    what: str = "companies"
    """What the entities are, in a refusal: "companies", or "tables"."""

    def __post_init__(self) -> None:
        self._values = {(e, y, m): (v, r) for e, y, m, v, r in self.values.iter_rows()}
        self._years: dict[str, list[int]] = {}
        for e, y in self.values.select("entity_id", "fiscal_year").unique().sort("fiscal_year").iter_rows():
            self._years.setdefault(e, []).append(y)
        self._ends = {(e, y): (s, end) for e, y, s, end in self.periods.iter_rows()}

    def years(self, entity_id: str) -> list[int]:
        """The company's fiscal years with figures, oldest first."""
        return self._years.get(entity_id, [])

    def value(self, entity_id: str, metric: str, year: int) -> tuple[float | None, str | None]:
        """(value, None), or (None, why it is absent)."""
        if (entity_id, year, metric) in self._values:
            return self._values[(entity_id, year, metric)]
        return None, None

    def span(self, entity_id: str, year: int) -> tuple[date | None, date | None]:
        """The fiscal year's first and last day, where the inputs give them."""
        return self._ends.get((entity_id, year), (None, None))

    def sectors(self) -> list[str]:
        """Every sector a company of the inputs is in."""
        return sorted({c.sector for c in self.companies.values() if c.sector})


def from_run(run: FactsRun) -> Knowledge:
    """The knowledge of a run: its annual figures known at the as-of date, its companies' names, sectors, tickers
    and currencies, the flags of its reasoned graph, and the provenance of every value."""
    base = run.analysis.base.filter((pl.col("fiscal_period") == "FY") & (pl.col("period_end") <= run.as_of))
    periods = base.select("entity_id", "fiscal_year", "period_start", "period_end").cast(PERIODS_SCHEMA)  # type: ignore[arg-type]
    values = run.analysis.metrics.filter(pl.col("fiscal_period") == "FY").join(
        periods.select("entity_id", "fiscal_year"), on=["entity_id", "fiscal_year"], how="semi"
    ).select(list(VALUES_SCHEMA)).cast(VALUES_SCHEMA)  # type: ignore[arg-type]
    tickers = {} if run.ingested.sectors.is_empty() else dict(
        run.ingested.sectors.filter(pl.col("ticker").is_not_null()).select("entity_id", "ticker").iter_rows())
    companies = {}
    for row in run.analysis.base.sort("period_end").unique("entity_id", keep="last").iter_rows(named=True):
        companies[row["entity_id"]] = Company(row["entity_id"], row["entity_name"] or row["entity_id"], row["sector"],
                                              row["currency"] or "USD", tickers.get(row["entity_id"]))
    provenance: dict[str, Provenance] = {}

    def sources(entity_id: str, metric: str, year: int) -> list[str]:
        if entity_id not in provenance:
            provenance[entity_id] = Provenance(run.analysis, run.ingested.facts, entity_id)
        return provenance[entity_id].of(metric, year, "FY")[1]

    @cache
    def flagged(flag: str) -> set[tuple[str, int | None]]:
        return {(e, None if p == MARKET else y) for e, y, p in graph_queries.snapshots_with(run.graph, flag)
                if p in ("FY", MARKET)}

    kinds = {c.name: _judged(c) for c in flag_classes(run.graph.tbox)}
    return Knowledge(companies, values, periods, figures(sorted(set(values["metric"].to_list()))), run.as_of, sources,
                     {k: v for k, v in flag_names(run.graph.tbox).items() if kinds.get(k) != "portfolio"}, flagged,
                     frozenset(k for k, kind in kinds.items() if kind == "market"))


def _judged(flag: Any) -> str:
    """What a flag class judges: a period of the statements, a share at the as-of date, or a portfolio (which no
    question of ``ask`` is about)."""
    definition = str(flag.equivalent_to[0])
    return "market" if "MarketSnapshot" in definition else "portfolio" if "Portfolio" in definition else "period"


def figures(names: list[str]) -> dict[str, Figure]:
    """The figures of these metric names, with their labels, units and the other words people use for them."""
    out = {}
    for name in names:
        if name.endswith("_ttm"):
            continue
        unit = definition(name).unit
        out[name] = Figure(name, label(name), unit, tuple(vocabulary()["figures"].get(name, ())))
    return out


@cache
def vocabulary() -> dict[str, dict[str, list[str]]]:
    """The other words people use for figures and sectors (``words.toml``)."""
    return tomllib.loads(resources.files("generator.ask").joinpath("words.toml").read_text("utf-8"))


def record(company: Company) -> dict[str, Any]:
    """A company as an answer names it."""
    return {"entity_id": company.entity_id, "name": company.name, "sector": company.sector}
