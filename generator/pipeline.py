"""The run, stage by stage: inputs → ingest → checks and metrics → HermiT → answers.

The whole-run stages are vectorised over every company: one ingest, one Polars pass for the metrics, one
reasoner batch, one narrator call for every question of every company. The CLI calls :func:`build` as it is;
the Prefect flows call it with their tasks as the stages (:class:`Stages`), so both run the same sequence, time
it under the same names and report progress through the same callback.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import polars as pl

from generator.answers import contexts as entity_contexts
from generator.answers import narrate
from generator.checks import accounting_checks
from generator.errors import UsageError
from generator.graph import Graph, Held, add_portfolios, reason, reason_portfolios, set_liquidity_shares
from generator.graph import build as build_graph
from generator.graph_queries import flag_shares
from generator.ingest import NOT_STATEMENTS, Ingested, expand_inputs, ingest
from generator.market import market_table, total_return_levels
from generator.metrics import Analysis, compute_metrics
from generator.narrator import Answer, Context, Narrator
from generator.periods import pivot
from generator.portfolio import Portfolio, PortfolioFailure, analyse_portfolios
from generator.present import MARKET, amount
from generator.schema import FINDING_SCHEMA
from generator.settings import get_settings

Findings = tuple[list[dict[str, Any]], list[dict[str, Any]]]


class Progress(Protocol):
    """Told each stage as it starts, how many companies the run reports on, then each company as its report is
    done or has failed (the CLI's progress bar; a served flow has none)."""

    def stage(self, name: str) -> None:
        """A whole-run stage starts; ``name`` is what the bar shows (reading inputs, computing metrics, ...)."""
        ...

    def start(self, total: int) -> None:
        """The per-company stages start: ``total`` reports are planned, including companies that already failed."""
        ...

    def done(self, entity: str, ok: bool) -> None:
        """One company is finished: its report was written (``ok``) or it failed."""
        ...


@dataclass
class FactsRun:
    """What the whole-run stages produced: the ingested rows, every metric, the findings of the accounting
    checks and restatements, the reasoned graph, and how long each stage took."""

    ingested: Ingested
    analysis: Analysis
    findings: pl.DataFrame
    market: pl.DataFrame
    """Every market and valuation metric of every entity with prices (:data:`generator.market.MARKET_SCHEMA`)."""
    graph: Graph
    as_of: date
    timings: dict[str, float] = field(default_factory=dict)
    portfolios: list[Portfolio] = field(default_factory=list)
    """Every portfolio of the holdings inputs that could be valued at the as-of date (:mod:`generator.portfolio`)."""
    portfolio_failures: list[PortfolioFailure] = field(default_factory=list)
    """The portfolios that could not, each with why."""

    @property
    def entities(self) -> list[str]:
        """Every company reported on, sorted: those with at least one usable statement row, and those with prices
        alone (:attr:`priced_only`)."""
        return sorted(set(self.ingested.facts["entity_id"].unique().to_list()) | set(self.priced_only))

    @cached_property
    def priced_only(self) -> list[str]:
        """Companies with prices and no statements, which get a report of their market figures: not a benchmark
        (an index is measured against, not reported on), and not a company whose statement rows were all
        rejected (that is a failure to fix)."""
        stated = set(self.ingested.facts["entity_id"].unique().to_list())
        rejected = set(self.ingested.rejected.filter(~pl.col("item").fill_null("").is_in(NOT_STATEMENTS))["entity_id"]
                       .drop_nulls().to_list())
        priced = set(self.ingested.prices["entity_id"].unique().to_list())
        return sorted(priced - stated - set(self.benchmarks) - rejected)

    @cached_property
    def benchmarks(self) -> list[str]:
        """The entities others are measured against."""
        return sorted(set(self.market["benchmark"].drop_nulls().to_list()))

    @cached_property
    def levels(self) -> dict[str, pl.DataFrame]:
        """Each priced entity's total-return series (``market.total_return_levels``), computed once for the run
        rather than once per company's charts."""
        series = total_return_levels(self.ingested.prices)
        return {key[0]: frame for key, frame in series.partition_by("entity_id", as_dict=True).items()}

    def price_currencies(self) -> dict[str, str]:
        """Each priced company's currency as its prices give it."""
        prices = self.ingested.prices.filter(pl.col("currency").is_not_null())
        return dict(prices.group_by("entity_id").agg(pl.col("currency").last()).iter_rows())

    def entity_findings(self, entity: str) -> Findings:
        """(accounting checks and restatements, snapshots the reasoner found contradictory) of one company."""
        return (finding_records(self.findings.filter(pl.col("entity_id") == entity)),
                [f for f in self.graph.findings if f["entity_id"] == entity])

    def stage_timings(self) -> dict[str, float]:
        """The run's stage timings with the reasoner's own (``graph_reason_s``, ...)."""
        return self.timings | {f"graph_{k}": v for k, v in self.graph.timings.items()}


def check_inputs(inputs: Sequence[Path]) -> list[Path]:
    """The input files a run will read; a path that does not exist, or no input file at all, stops it."""
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise UsageError(f"no such input: {', '.join(missing)}")
    files = expand_inputs(inputs)
    if not files:
        raise UsageError(f"no input files (.csv, .parquet, .jsonl, .json) under {', '.join(map(str, inputs))}")
    return files


def read_inputs(inputs: Sequence[Path]) -> Ingested:
    """Ingest and validate; a run goes on with the files it could read, and stops when it could read none."""
    check_inputs(inputs)
    ingested = ingest(inputs)  # the folders as given: a link found in one must not lead out of it
    if not ingested.files:
        reasons = "; ".join(str(e) for e in ingested.refused)
        raise UsageError(f"every input file was refused ({reasons}); fix them and run again")
    if ingested.rows_in == len(ingested.refused):
        names = ", ".join(f.path for f in ingested.files)
        raise UsageError(f"the inputs hold no rows ({names}: a header only?); there is nothing to report")
    return ingested


def analyse(ingested: Ingested) -> tuple[Analysis, pl.DataFrame]:
    """Accounting checks and restatements as findings, and every metric of every entity and period."""
    reported = pivot(ingested.facts)
    findings = pl.concat([accounting_checks(reported), restatement_findings(ingested), ingested.events])
    return compute_metrics(ingested.facts, reported, ingested.sectors), findings


def price(ingested: Ingested, as_of: date, benchmark: str | None = None) -> pl.DataFrame:
    """Performance, risk and valuation of every entity with prices, at the as-of date. Each share is measured
    against the benchmark its sectors-file row names, else ``benchmark`` (the run's, or FINREPORT_BENCHMARK); the
    risk-free rate and the filing lags are settings."""
    settings = get_settings()
    benchmark = benchmark or settings.benchmark
    declared = ingested.declared("benchmark")
    priced = ingested.prices["entity_id"].unique().to_list()
    benchmarks = {e: b for e in priced if (b := declared.get(e, benchmark))}
    return market_table(ingested.prices, ingested.facts, ingested.superseded, as_of, benchmarks=benchmarks,
                        sectors=ingested.declared("sector") or None, risk_free=settings.risk_free_rate,
                        quarter_lag=settings.quarter_filing_lag_days, annual_lag=settings.annual_filing_lag_days)


Portfolios = tuple[list[Portfolio], list[PortfolioFailure]]


def hold(ingested: Ingested, analysis: Analysis, market: pl.DataFrame, as_of: date,
         benchmark: str | None = None) -> Portfolios:
    """Every portfolio of the holdings inputs at the as-of date, measured against the run's benchmark (else the one
    most of its holdings are), in its base currency (else FINREPORT_BASE_CURRENCY), or why it cannot be."""
    if ingested.holdings.is_empty() and not ingested.blocking:
        return [], []
    settings = get_settings()
    benchmark = benchmark or settings.benchmark
    wanted = set(ingested.holdings["entity_id"].to_list()) | set(market["benchmark"].drop_nulls().to_list()) \
        | ({benchmark} if benchmark else set())
    series = total_return_levels(ingested.prices.filter(pl.col("entity_id").is_in(list(wanted))))
    levels = {key[0]: frame for key, frame in series.partition_by("entity_id", as_dict=True).items()}
    return analyse_portfolios(ingested, analysis, market, levels, as_of, benchmark=benchmark,
                              base_currency=settings.base_currency, risk_free=settings.risk_free_rate,
                              quarter_lag=settings.quarter_filing_lag_days,
                              annual_lag=settings.annual_filing_lag_days)


def classify(analysis: Analysis, market: pl.DataFrame, as_of: date, portfolios: Sequence[Portfolio] = (),
             entities: Collection[str] | None = None) -> Graph:
    """The snapshots (and each company's market at the as-of date) as OWL individuals, classified by HermiT; then
    each portfolio, judged on its holdings' classified snapshots (the share of its value in liquidity concerns is a
    SPARQL sum over them), classified in turn. ``entities``: the companies to classify (with every portfolio's
    holdings); None: every one. Each company is in the graph either way: peers are found by their sectors."""
    held = {h["entity_id"] for p in portfolios for h in p.holdings}
    graph = reason(build_graph(analysis, market, as_of), entities=None if entities is None else set(entities) | held)
    if not portfolios:
        return graph
    priced = set(market["entity_id"].unique().to_list())

    def judged(holding: dict[str, Any]) -> tuple[tuple[str, int, str], ...]:
        """The holding's report period at the as-of date, and its share at the last close."""
        entity, period = holding["entity_id"], holding["report_period"]
        own = [(entity, period[0], period[1])] if period else []
        return tuple(own + ([(entity, as_of.year, MARKET)] if entity in priced else []))

    add_portfolios(graph, {p.portfolio_id: (p.name, p.concentration["effective_holdings"],
                                            [Held(h["entity_id"], h["weight"], judged(h)) for h in p.holdings])
                           for p in portfolios})
    set_liquidity_shares(graph, {p.portfolio_id: sum(s["share"] for s in flag_shares(graph, p.portfolio_id)
                                                     if s["flag"] == "LiquidityConcern") for p in portfolios})
    return reason_portfolios(graph, as_of)


@dataclass(frozen=True)
class Stages:
    """The whole-run stage functions :func:`build` calls: these, or Prefect tasks wrapping them."""

    read: Callable[[Sequence[Path]], Ingested] = read_inputs
    analyse: Callable[[Ingested], tuple[Analysis, pl.DataFrame]] = analyse
    price: Callable[[Ingested, date, str | None], pl.DataFrame] = price
    hold: Callable[[Ingested, Analysis, pl.DataFrame, date, str | None], Portfolios] = hold
    classify: Callable[[Analysis, pl.DataFrame, date, Sequence[Portfolio], Collection[str] | None], Graph] = classify


def build(inputs: Sequence[Path], progress: Progress | None = None, stages: Stages = Stages(), *,
          as_of: date | None = None, benchmark: str | None = None,
          reasoned: Callable[[FactsRun], Collection[str] | None] | None = None) -> FactsRun:
    """Every whole-run stage in order: ingest, checks and metrics, market metrics at the as-of date (default:
    today), portfolios, reasoning; each one timed. ``reasoned``: given the run before reasoning, the companies to
    classify (None: every one), so that a run that reuses reports reasons only over those it makes again."""
    as_of = as_of or date.today()
    timings: dict[str, float] = {}

    def timed(key: str, name: str, call: Callable[[], Any]) -> Any:
        if progress:
            progress.stage(name)
        start = time.perf_counter()
        result = call()
        timings[key] = time.perf_counter() - start
        return result

    ingested = timed("ingest_s", "reading inputs", lambda: stages.read(list(inputs)))
    analysis, findings = timed("metrics_s", "computing metrics", lambda: stages.analyse(ingested))
    market = timed("market_s", "market metrics", lambda: stages.price(ingested, as_of, benchmark))
    portfolios, failures = timed("portfolios_s", "portfolios",
                                 lambda: stages.hold(ingested, analysis, market, as_of, benchmark))
    run = FactsRun(ingested, analysis, findings, market, None, as_of, timings, portfolios,  # type: ignore[arg-type]
                   failures)
    chosen = reasoned(run) if reasoned else None
    run.graph = timed("graph_s", "reasoning (HermiT)",
                      lambda: stages.classify(analysis, market, as_of, portfolios, chosen))
    return run


def answer(run: FactsRun, entities: Sequence[str], narrator: Narrator | None = None,
           questions: Sequence[str] = ()) -> dict[str, tuple[Context, list[Answer]]]:
    """The answers stage for the whole run: one narrator (the reference one by default), every company's
    questions in one call."""
    return narrate(contexts(run, entities), narrator, questions)


def contexts(run: FactsRun, entities: Sequence[str]) -> dict[str, Context]:
    """What a narrator may use for each company: its report period, its findings, and its market figures at the
    run's as-of date."""
    findings = {e: [f for part in run.entity_findings(e) for f in part] for e in entities}
    return entity_contexts(run.analysis, run.graph, findings, entities, run.market, run.as_of,
                           run.price_currencies(), run.ingested.declared("sector"))


def restatement_findings(ingested: Ingested) -> pl.DataFrame:
    """Each restated value as an informational finding on its entity, with both values, dates and sources."""
    rows = [
        {
            "entity_id": r["entity_id"], "fiscal_year": r["fiscal_year"], "fiscal_period": r["fiscal_period"],
            "check": "restatement", "severity": "info",
            "message": f"{r['item']} restated from {amount(r['original_value'])} ({_filing(r, 'original')})"
                       f" to {amount(r['restated_value'])} ({_filing(r, 'restated')})",
            "facts": [{"name": "original_value", "value": r["original_value"]},
                      {"name": "restated_value", "value": r["restated_value"]}],
        }
        for r in ingested.restatements().iter_rows(named=True)
    ]
    return pl.DataFrame(rows, schema=FINDING_SCHEMA)


def _filing(row: dict[str, Any], which: str) -> str:
    """Filing date and source: an accession number and tag as they are, a file by its name (the manifest lists
    the inputs with their full paths)."""
    source = row[f"{which}_source"]
    return f"filed {row[f'{which}_filed'] or 'unknown'}, {source if ACCESSION.match(source) else Path(source).name}"


ACCESSION = re.compile(r"\d{10}-\d{2}-\d{6}/")
"""An SEC accession number (filer, year, sequence) opening a source: ``0001640147-24-000101/us-gaap:Assets``."""


def finding_records(findings: pl.DataFrame) -> list[dict[str, Any]]:
    """findings.json rows: each finding with its facts as a name → value mapping."""
    return [
        {**{k: row[k] for k in ("entity_id", "fiscal_year", "fiscal_period", "check", "severity", "message")},
         "facts": {f["name"]: f["value"] for f in row["facts"]}}
        for row in findings.iter_rows(named=True)
    ]
