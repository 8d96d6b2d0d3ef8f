"""One company's pack: facts.json, findings.json, flags.json, answers.json and graph.ttl, and what its report
shows (:class:`Report`), which :mod:`generator.render` prints."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import rdflib

from generator.answers import narrate
from generator.ask import Asked
from generator.graph import NAMESPACE, Graph, flag_names, flag_records
from generator.graph_queries import FLAG_SHARES, flag_shares
from generator.incremental import discard
from generator.metrics import definition
from generator.narrator import Answer, Context
from generator.outputs import folder_names, write_atomic, write_json
from generator.pipeline import FactsRun, answer
from generator.portfolio import Portfolio, portfolio_context
from generator.provenance import Provenance


@dataclass(frozen=True)
class Levels:
    """One total-return series (dividends reinvested, splits undone), as plain lists: what a market chart draws,
    small enough to be pickled to a printing process with the report."""

    entity_id: str
    dates: list[date]
    levels: list[float]


@dataclass(frozen=True)
class MarketView:
    """What the report's market section shows: the company's market.json rows at the as-of date, the benchmark they
    are measured against, and the share's and the benchmark's total-return series over the longest window the
    share has (five years at most; no dates where no window ends at the as-of date)."""

    as_of: date
    benchmark: str | None
    records: list[dict[str, Any]]
    share: Levels
    index: Levels | None


@dataclass
class Report:
    """Everything one company's report shows: its report period's context, the answers, the findings and every
    facts.json row (the provenance of each printed figure), its market (None without prices), with the run it
    belongs to and the seconds its files took."""

    context: Context
    answers: list[Answer]
    findings: list[dict[str, Any]]
    facts: list[dict[str, Any]]
    run_id: str
    as_of: str
    timings: dict[str, float] = field(default_factory=dict)
    market: MarketView | None = None
    asked: list[dict[str, Any]] = field(default_factory=list)
    """The reader's own questions (a run's ``custom_questions``), answered by programs: their answers.json records."""
    changes: list[str] = field(default_factory=list)
    """What changed since the last run (:func:`generator.changes.lines`): the report's first section."""
    since: dict[str, str] | None = None
    """The run the changes are counted from (``run_id``, ``as_of``); None for a company's first report."""


def metric_records(run: FactsRun, entity_id: str) -> list[dict[str, Any]]:
    """facts.json rows: the figure, how it is defined, the inputs it used and where each came from."""
    provenance = Provenance(run.analysis, run.ingested.facts, entity_id)
    out = []
    for row in run.analysis.metrics.filter(pl.col("entity_id") == entity_id).iter_rows(named=True):
        m = definition(row["metric"])
        if row["value"] is None and m.category.startswith("line_item"):
            continue
        period = provenance.period(row["fiscal_year"], row["fiscal_period"])
        inputs, sources = provenance.of(row["metric"], row["fiscal_year"], row["fiscal_period"])
        record: dict[str, Any] = {
            "entity_id": entity_id,
            "fiscal_year": row["fiscal_year"],
            "fiscal_period": row["fiscal_period"],
            "period_end": period["period_end"],
            "metric": row["metric"],
            "value": row["value"],
            "unit": m.unit,
            "currency": period["currency"] if m.unit in ("currency", "currency_per_share") else None,
            "category": m.category,
            "favourable": m.favourable,
            "formula": m.formula + (" (trailing twelve months)" if row["metric"].endswith("_ttm") else ""),
            "inputs": inputs,
            "sources": sources,
        }
        if row["value"] is None:
            record["reason"] = row["reason"]
        out.append(record)
    return out


def market_records(run: FactsRun, entity_id: str) -> list[dict[str, Any]]:
    """market.json rows: each market and valuation metric at the as-of date, the value or null and the reason, the
    window or the statements it used, and the price-file lines and filings it comes from (empty for a company
    with no prices)."""
    rows = run.market.filter(pl.col("entity_id") == entity_id)
    window = ("measure", "window", "start", "end", "observations", "benchmark")
    valued = ("price", "price_date", "period", "known", "shares", "split_factor")
    out = []
    for row in rows.iter_rows(named=True):
        keep = ("entity_id", "metric", "value", "unit", "reason",
                *(window if row["window"] else valued),
                *(("peak_date", "trough_date") if row["measure"] == "max_drawdown" else ()),
                *(("sector_median", "sector_companies") if row["metric"].endswith("_vs_sector") else ()), "sources")
        record = {k: row[k] for k in keep}
        record["as_of"] = run.as_of
        out.append(record)
    return out


def market_view(run: FactsRun, entity_id: str, records: list[dict[str, Any]]) -> MarketView | None:
    """The market section of one company's report from its market.json rows, with the series its charts draw: from
    the first close of its longest window to the as-of date, its own and its benchmark's (None without prices)."""
    if not records:
        return None
    benchmark = next((r["benchmark"] for r in records if r.get("benchmark")), None)
    first = min((r["start"] for r in records if r.get("start")), default=None)
    def series(entity: str) -> Levels:
        own = run.levels.get(entity)
        rows = own.filter(pl.col("date").is_between(first, run.as_of)) if own is not None and first else None
        return Levels(entity, [] if rows is None else rows["date"].to_list(),
                      [] if rows is None else rows["level"].to_list())

    return MarketView(run.as_of, benchmark, records, series(entity_id), series(benchmark) if benchmark else None)


def asked_records(asked: Sequence[Asked]) -> list[dict[str, Any]]:
    """answers.json records of the reader's own questions: ``question_id`` ``custom-1``, ``custom-2``..., the origin
    ``program``, the program and what it read (``facts_used``), and the answer's fields of ``finreport ask --json``."""
    return [{"question_id": f"custom-{i}", "question": a.question, "text": a.text, "origin": "program",
             "verification": {"verified": not a.refused, "refused": a.refused, "reason": a.reason},
             "facts_used": a.sources} | a.record() for i, a in enumerate(asked, 1)]


def ontology_triples(graph: Graph) -> str:
    """The ontology alone as N-Triples text: taken from the world once per run and handed to every company's
    :class:`GraphExport` (parsed once per process by :func:`_ontology`)."""
    data = io.BytesIO()
    graph.tbox.save(data, format="ntriples")
    return data.getvalue().decode("utf-8")


@lru_cache(maxsize=4)
def _ontology(triples: str) -> rdflib.Graph:
    """The ontology's N-Triples parsed, once per process and text (a run's companies share it); only read after."""
    return rdflib.Graph().parse(data=triples, format="nt")


_RDF = threading.Lock()
"""rdflib's parsing and serialisation are used from one thread of a process at a time."""


@dataclass(frozen=True)
class GraphExport:
    """One company's reasoned graph as plain text, taken from the Owlready2 world in the process that holds it: the
    ontology, the company's individuals and the categories HermiT put its snapshots in. Picklable, so graph.ttl can
    be written in any process (:meth:`turtle`)."""

    ontology: str
    """The ontology's N-Triples (:func:`ontology_triples`), the same text for every company of a run."""
    individuals: str
    """The company's individuals, N-Triples."""
    types: tuple[tuple[str, str], ...]
    """(snapshot IRI, category IRI) of each inferred flag."""
    base_iri: str

    def turtle(self) -> str:
        """The company's reasoned graph, self-contained (ontology included), for Protégé or any RDF tool: the text
        :func:`generator.graph.turtle` writes from the world."""
        with _RDF:
            out = rdflib.Graph()
            out += _ontology(self.ontology)
            out.parse(data=self.individuals, format="nt")
            for snapshot, category in self.types:
                out.add((rdflib.URIRef(snapshot), rdflib.RDF.type, rdflib.URIRef(category)))
            out.bind("fr", NAMESPACE)
            out.bind("data", self.base_iri)
            return out.serialize(format="turtle")


def graph_export(graph: Graph, entity: str, ontology: str | None = None) -> GraphExport:
    """What graph.ttl holds for one company, read from the world (the caller holds it: one thread at a time);
    ``ontology`` is :func:`ontology_triples` when the caller exports several companies (taken once)."""
    data = io.BytesIO()
    graph.companies[entity].save(data, format="ntriples")
    types = tuple((graph.snapshots[(f.entity_id, f.fiscal_year, f.fiscal_period)].iri, NAMESPACE + f.flag)
                  for f in graph.flags if f.entity_id == entity)
    return GraphExport(ontology if ontology is not None else ontology_triples(graph), data.getvalue().decode("utf-8"),
                       types, graph.companies[entity].base_iri)


@dataclass(frozen=True)
class EntityFiles:
    """Everything one company's files hold, taken from the run in the process that holds it (the graph's part under
    its lock): plain data, picklable, so that the files are written, and the report printed, in any process (a thread
    of the flow's, a Dask worker)."""

    entity: str
    facts: list[dict[str, Any]]
    findings: list[dict[str, Any]]
    """Accounting checks and restatements (findings.json)."""
    consistency: list[dict[str, Any]]
    """Snapshots the reasoner found contradictory: in flags.json after the flags, and in the report's findings."""
    flags: list[dict[str, Any]]
    market: list[dict[str, Any]]
    view: MarketView | None
    graph: GraphExport
    timings: dict[str, float] = field(default_factory=dict)


def entity_files(run: FactsRun, entity: str, ontology: str | None = None) -> EntityFiles:
    """One company's :class:`EntityFiles` from the run: its facts, findings, flags and market rows, and its graph's
    text. Reads the Owlready2 world: the caller holds it (one thread at a time)."""
    t0 = time.perf_counter()
    findings, consistency = run.entity_findings(entity)
    facts = metric_records(run, entity)
    market = market_records(run, entity)
    t1 = time.perf_counter()
    export = graph_export(run.graph, entity, ontology)
    return EntityFiles(entity, facts, findings, consistency, flag_records(run.graph, entity), market,
                       market_view(run, entity, market), export,
                       {"facts_s": t1 - t0, "graph_export_s": time.perf_counter() - t1})


def write_files(files: EntityFiles, folder: Path, run_id: str, as_of: str, answered: tuple[Context, list[Answer]],
                asked: Sequence[Asked] = ()) -> Report:
    """One company's facts, findings, flags, answers (the catalogue's, then the reader's own questions) and graph
    files from its :class:`EntityFiles`, in whatever process this runs; returns what its report shows."""
    t0 = time.perf_counter()
    discard(folder)  # a finished report no more, until its new edition is written
    write_json(folder / "facts.json", files.facts)
    write_json(folder / "findings.json", files.findings)
    write_json(folder / "flags.json", files.flags + files.consistency)
    context, answers = answered
    custom = asked_records(asked)
    write_json(folder / "answers.json", [a.record() for a in answers] + custom)
    if files.market:
        write_json(folder / "market.json", files.market)
    t1 = time.perf_counter()
    write_atomic(folder / "graph.ttl", files.graph.turtle())
    spent = {"facts_s": t1 - t0, "graph_export_s": time.perf_counter() - t1}
    timings = {k: files.timings.get(k, 0.0) + spent.get(k, 0.0) for k in files.timings | spent}
    return Report(context, answers, files.findings + files.consistency, files.facts, run_id, as_of, timings,
                  files.view, custom)


def write_entity(run: FactsRun, entity: str, folder: Path, run_id: str, as_of: str,
                 answered: tuple[Context, list[Answer]], ontology: str | None = None,
                 asked: Sequence[Asked] = ()) -> Report:
    """One company's facts, findings, flags, answers (the catalogue's, then the reader's own questions) and graph
    files, from the run in this process (:func:`entity_files`, then :func:`write_files`); ``ontology`` is
    :func:`ontology_triples` when the caller writes several companies. Returns what its report shows."""
    return write_files(entity_files(run, entity, ontology), folder, run_id, as_of, answered, asked)


def write_all(run: FactsRun, out: Path, run_id: str, as_of: str) -> dict[str, str]:
    """Every company's and portfolio's pack, answered by the reference narrator, and rejected.csv (``finreport
    facts``: no model, no PDF); returns the folder of each company."""
    t0 = time.perf_counter()
    folders = folder_names(run.entities)
    answered = answer(run, run.entities)
    run.timings["answers_s"] = time.perf_counter() - t0
    ontology = ontology_triples(run.graph)
    for entity, folder in folders.items():
        write_entity(run, entity, out / folder, run_id, as_of, answered[entity], ontology)
    books = narrate(portfolio_contexts(run))
    book_folders = folder_names([p.portfolio_id for p in run.portfolios])
    for portfolio in run.portfolios:
        write_portfolio(run, portfolio, out / PORTFOLIOS / book_folders[portfolio.portfolio_id], run_id, as_of,
                        books[portfolio.portfolio_id])
    write_atomic(out / "rejected.csv", run.ingested.rejected.write_csv())
    run.timings["write_s"] = time.perf_counter() - t0
    return folders


PORTFOLIOS = "portfolios"
"""The folder of the run's output that holds a folder per portfolio."""


@dataclass
class PortfolioReport:
    """Everything one portfolio's report shows: portfolio.json's record, its flags and its holdings' flags by value
    (flags.json), the answers, the value series of the buy-and-hold portfolio and its benchmark's over the longest
    window it has, with the run it belongs to."""

    context: Context
    answers: list[Answer]
    record: dict[str, Any]
    flags: list[dict[str, Any]]
    """flags.json: the portfolio's own categories (``kind`` "portfolio", explained), then each company flag its
    holdings carry with the share of the value that does (``kind`` "holdings", from :data:`FLAG_SHARES`)."""
    series: Levels
    index: Levels | None
    run_id: str
    as_of: str
    timings: dict[str, float] = field(default_factory=dict)


def portfolio_flags(run: FactsRun, portfolio_id: str) -> list[dict[str, Any]]:
    """flags.json rows of one portfolio: its own categories, then its holdings' company flags by value, the
    largest share first, each labelled as the ontology labels it."""
    labels = flag_names(run.graph.tbox)
    own = [{"kind": "portfolio", **vars(f)} for f in run.graph.portfolio_flags if f.entity_id == portfolio_id]
    held = [{"kind": "holdings", "flag": s["flag"], "label": labels.get(s["flag"], s["flag"]),
             "severity": s["severity"], "share": s["share"], "holdings": s["holdings"]}
            for s in flag_shares(run.graph, portfolio_id)]
    return own + sorted(held, key=lambda f: (-f["share"], f["flag"]))


def portfolio_contexts(run: FactsRun) -> dict[str, Context]:
    """What a narrator may use for each portfolio of the run (:func:`generator.portfolio.portfolio_context`)."""
    labels = flag_names(run.graph.tbox)
    return {p.portfolio_id: portfolio_context(
        p, [vars(f) for f in run.graph.portfolio_flags if f.entity_id == p.portfolio_id],
        flag_shares(run.graph, p.portfolio_id), labels) for p in run.portfolios}


@dataclass(frozen=True)
class PortfolioFiles:
    """Everything one portfolio's files and charts hold, taken from the run in the process that holds it (its flags
    by value are SPARQL over the world): plain data, picklable, like :class:`EntityFiles`."""

    portfolio_id: str
    record: dict[str, Any]
    flags: list[dict[str, Any]]
    series: Levels
    index: Levels | None
    timings: dict[str, float] = field(default_factory=dict)


def portfolio_files(run: FactsRun, portfolio: Portfolio) -> PortfolioFiles:
    """One portfolio's :class:`PortfolioFiles`: portfolio.json's record, its flags, and the value series of the
    buy-and-hold portfolio and its benchmark's over the longest window it has. Reads the Owlready2 world: the caller
    holds it (one thread at a time)."""
    t0 = time.perf_counter()
    flags = portfolio_flags(run, portfolio.portfolio_id)
    record = portfolio.record(run.as_of) | {"flags_query": FLAG_SHARES.strip()}
    first = min((r["start"] for r in portfolio.risk if r["start"] and r["value"] is not None), default=None)
    series = portfolio.series.filter(pl.col("date") >= first) if first else portfolio.series.clear()
    index = None
    if portfolio.benchmark and (own := run.levels.get(portfolio.benchmark)) is not None and first:
        rows = own.filter(pl.col("date").is_between(first, run.as_of))
        index = Levels(portfolio.benchmark, rows["date"].to_list(), rows["level"].to_list())
    return PortfolioFiles(portfolio.portfolio_id, record, flags,
                          Levels(portfolio.portfolio_id, series["date"].to_list(), series["value"].to_list()), index,
                          {"portfolio_files_s": time.perf_counter() - t0})


def write_portfolio_files(files: PortfolioFiles, folder: Path, run_id: str, as_of: str,
                          answered: tuple[Context, list[Answer]]) -> PortfolioReport:
    """One portfolio's portfolio.json, flags.json and answers.json from its :class:`PortfolioFiles`, in whatever
    process this runs; returns what its report shows."""
    t0 = time.perf_counter()
    write_json(folder / "portfolio.json", files.record)
    write_json(folder / "flags.json", files.flags)
    context, answers = answered
    write_json(folder / "answers.json", [a.record() for a in answers])
    seconds = files.timings.get("portfolio_files_s", 0.0) + time.perf_counter() - t0
    return PortfolioReport(context, answers, files.record, files.flags, files.series, files.index, run_id, as_of,
                           files.timings | {"portfolio_files_s": seconds})


def write_portfolio(run: FactsRun, portfolio: Portfolio, folder: Path, run_id: str, as_of: str,
                    answered: tuple[Context, list[Answer]]) -> PortfolioReport:
    """One portfolio's portfolio.json, flags.json and answers.json from the run in this process; returns what its
    report shows."""
    return write_portfolio_files(portfolio_files(run, portfolio), folder, run_id, as_of, answered)
