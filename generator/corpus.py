"""The narrator's training corpus and held-out questions: companies through the real pipeline, every period.

Two kinds of companies: the sample generator's, and those that look like real filings, not like the sample.

The sample's companies report every line item, every quarter and year, carry a sector, earn money more often
than not and restate one figure. A narrator trained on them alone met real filers as strangers: it wrote
slots for facts the filing lacks, listed flags in a loop for a company with seven of them, and lost its way
in a restatements list of dozens. Each company here is one of the sample's economies redrawn (margins,
growth, leverage, size from thousands to hundreds of billions, currency) and then filed the way real
companies file: some items never reported (a services firm has no inventory or cost of sales, a bank no
current assets), gaps in others, annual reports only or quarters only, no sector, a bank's SIC code, and late
refilings that restate earlier figures (a fraction of them by the factor of a unit error or a sign). The
figures still come from the simulation, so every fact, flag and finding is computed by the real pipeline.

Both kinds trade: their daily prices (``generator.sample.write_prices``) run to :data:`PRICES_TO`, and their
shares are measured at several dates (:data:`TRAIN_AS_OF`), each a market context of its own: the market
questions are asked of one date per company and run, and at a handful of dates they see shares up and down,
ahead of the index and behind it, rich and cheap. The held-out shares are measured at other dates, and real
prices (20 S&P 500 stocks and the index, ``tests/fixtures/prices``) at the year-ends of :data:`REAL_AS_OF`.

Both kinds are also held: random books of them (:func:`write_books`: two holdings to thirty, by quantity or by
weight, in dollars, euros or pounds, with the FX rates they need) are valued at the same dates, each a
portfolio context; the held-out books are the evaluation seed's, and books of the real prices.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from generator.answers import context
from generator.ingest import expand_inputs
from generator.ingest.base import Probe
from generator.ingest.prices import layout as prices_layout
from generator.ingest.prices import read_all as read_prices
from generator.narrator import Context, Question, asked, catalogue
from generator.narrator.training import Example, balanced, corrections, examples_for
from generator.pack import portfolio_contexts
from generator.pipeline import FactsRun, build, contexts
from generator.sample import (
    MARKET_INDEX,
    PROFILES,
    Company,
    Filing,
    Profile,
    simulate,
    write_long,
    write_prices,
    write_sample,
)

CURRENCIES = ("USD",) * 6 + ("EUR", "GBP", "JPY", "CHF", "CAD", "TWD")
SECTORS = ("Technology", "Industrials", "Consumer", "Healthcare", "Energy", "Financials", "Utilities")

OMITTED: dict[str, tuple[str, ...]] = {
    "complete": (),
    "services": ("inventory", "cost_of_revenue", "gross_profit"),
    "no capex": ("capex", "depreciation_amortization"),
    "bank": ("current_assets", "current_liabilities", "inventory", "receivables", "payables", "cost_of_revenue",
             "gross_profit", "short_term_investments"),
    "no split": ("current_assets", "current_liabilities"),
    "lean": ("inventory", "short_term_investments", "goodwill", "dividends_paid", "share_repurchases",
             "noncontrolling_interest", "rnd_expense", "retained_earnings"),
}
"""Line items a kind of filer never reports."""

BANK_SIC = "6022"
"""State commercial banks: a sectors file with this code makes the company a bank (``generator.industry``)."""


def economy(base: Profile, index: int, rng: random.Random) -> Profile:
    """One of the sample's companies redrawn: margins, growth, leverage and cash anywhere from thriving to
    insolvent (about a third lose money), and a size from a shell's to a giant's."""
    losing = rng.random() < 0.35
    gross = rng.uniform(0.02, 0.45) if losing else rng.uniform(0.2, 0.85)
    sga = rng.uniform(0.1, 0.6) if losing else rng.uniform(0.05, max(0.06, gross - 0.08))
    size = 10 ** rng.uniform(-3.3, 2.3)
    return replace(
        base, entity_id=f"C{index:04d}", entity_name=f"{base.entity_name.split()[0]} {index} Holdings", roles=(),
        sector=rng.choice(SECTORS), currency=rng.choice(CURRENCIES), size=size,
        growth=tuple(rng.uniform(-0.35, 1.2) if rng.random() < 0.3 else rng.uniform(-0.1, 0.35)
                     for _ in range(3)),  # type: ignore[arg-type]
        gross_margin=gross, sga=sga, rnd=rng.choice((0.0, 0.0, rng.uniform(0.0, 0.5 if losing else 0.15))),
        interest_rate=rng.uniform(0.0, 0.12), ltd=base.ltd * rng.choice((0.0, rng.uniform(0.1, 4.0))),
        ltd_drift=rng.uniform(-0.05, 0.08), retained=-abs(base.retained) * rng.uniform(0.5, 4.0)
        if losing and rng.random() < 0.5 else base.retained, cash=base.cash * rng.uniform(0.1, 2.0),
        sti_drift=rng.uniform(-0.3, 0.05), payout=0.0 if losing else base.payout,
        buyback=0.0 if losing else base.buyback, missing_quarter=None, restated=None,
    )


def filed_like_real(company: Company, rng: random.Random) -> tuple[Company, str | None]:
    """The company's reports as a real filer would leave them: items it never reports, gaps, only years or
    only quarters, no sector, late restatements. Returns the company and the SIC code a sectors file would
    give it (a bank's, or none)."""
    kind = rng.choice(tuple(OMITTED))
    never = set(OMITTED[kind]) | {item for item in company.reports[0].values if rng.random() < 0.08}
    periods = rng.choice(("both", "both", "years", "quarters"))
    reports = []
    for report in company.reports:
        annual = report.fiscal_period == "FY"
        if (periods == "years" and not annual) or (periods == "quarters" and annual):
            continue
        values = {k: v for k, v in report.values.items() if k not in never and rng.random() > 0.03}
        if values:
            reports.append(replace(report, values=values))
    reports += restated_originals(reports, rng)
    profile = company.profile
    if rng.random() < 0.45:
        profile = replace(profile, sector="")
    return Company(profile, reports), BANK_SIC if kind == "bank" and rng.random() < 0.7 else None


def restated_originals(reports: Sequence[Filing], rng: random.Random) -> list[Filing]:
    """Earlier-filed originals of some figures, which the later report restates: none for half the filers,
    up to dozens for the others; most by a few percent to half, some by a unit error or a sign."""
    if rng.random() < 0.5 or not reports:
        return []
    count = rng.choice((1, 2, 3, 6, 12, 30, 60))
    out = []
    for report in rng.sample(list(reports), min(len(reports), max(1, count // 3))):
        items = rng.sample(sorted(report.values), min(len(report.values), rng.randint(1, 4)))
        factor = rng.choice((rng.uniform(0.5, 1.5), rng.uniform(0.9, 1.1), 0.001, -1.0))
        original = {item: changed for item in items
                    if (changed := round(report.values[item] * factor)) != report.values[item]}
        if original:
            out.append(replace(report, filed=report.filed - timedelta(days=rng.randint(30, 400)), values=original))
    return out


PRICES_TO = date(2026, 5, 29)
"""The last close of the generated companies' prices: fixed, so that a corpus does not change with the day it is
built."""
TRAIN_AS_OF = (date(2023, 6, 30), date(2024, 3, 28), date(2024, 11, 29), date(2025, 8, 29), PRICES_TO)
"""The dates the training companies' shares are measured at: three and five years of history, or less."""
EVAL_AS_OF = (date(2024, 8, 30), date(2026, 2, 27))
"""The dates the held-out companies' shares are measured at: none of the training dates."""
REAL_AS_OF = tuple(date(year, 12, 28) for year in range(2016, 2023))
"""The year-ends the real prices are measured at (their last close is 28 December 2022)."""


BOOKS = 16
"""Random portfolios written over each run's companies (:func:`write_books`)."""
FX_TO_USD = {"EUR": 1.10, "GBP": 1.27, "JPY": 0.0070, "CHF": 1.08, "CAD": 0.75, "TWD": 0.033}
"""What one unit of each currency the corpus's companies report in is worth in dollars on the first day of the
books' rates."""


def write_books(prices: Sequence[Path], folder: Path, seed: int, benchmark: str,
                bases: Sequence[str] = ("USD", "USD", "USD", "EUR", "GBP")) -> list[Path]:
    """:data:`BOOKS` random portfolios over the companies of price files (not their index): two holdings to
    thirty, concentrated or spread, by quantity (most) or by weight, valued in one of ``bases``; and every currency
    of :data:`FX_TO_USD` in dollars on each day of the prices (random walks of 0.4% a day). Returns the holdings
    and FX files, written in ``folder``."""
    quoted = read_prices([p for p in prices if prices_layout(Probe(p))]).prices
    companies = quoted.filter(pl.col("entity_id") != benchmark).group_by("entity_id", maintain_order=True).agg(
        pl.col("close").last()).sort("entity_id")
    rng = random.Random(f"{seed}/books")
    rows = []
    for k in range(BOOKS):
        held = rng.sample(companies.rows(), min(companies.height, rng.choice((2, 3, 4, 6, 9, 12, 15, 20, 30))))
        by_weight, base = rng.random() < 0.25, rng.choice(bases)
        weights = [rng.paretovariate(1.2) if rng.random() < 0.5 else rng.uniform(0.5, 1.5) for _ in held]
        total = sum(weights)
        for (entity, close), weight in zip(held, weights, strict=True):
            amount = f"{weight / total:.4f}" if by_weight else str(max(1, round(1e6 * weight / total / close)))
            rows.append(f"B{k:02d},Book {k},{entity},{'' if by_weight else amount},{amount if by_weight else ''},"
                        f"{base}\n")
    folder.mkdir(parents=True, exist_ok=True)
    holdings = folder / "holdings.csv"
    holdings.write_text("portfolio_id,portfolio_name,entity_id,quantity,weight,base_currency\n" + "".join(rows),
                        encoding="utf-8")
    walks = []
    for code, start in FX_TO_USD.items():
        rate = start
        for day in quoted["date"].unique().sort().to_list():
            walks.append(f"{day},{code},{rate:.6g}\n")
            rate *= math.exp(rng.gauss(0.0, 0.004))
    fx = folder / "fx_rates.csv"
    fx.write_text("date,currency,rate_to_usd\n" + "".join(walks), encoding="utf-8")
    return [holdings, fx]


MARKET_REPEATS = 3
"""How many times each market (and portfolio) example enters the corpus. A company gives a context per period and
a share one per
date, so the market questions had a fifth of the examples of the others: a model trained once over them wrote
"the Sharpe ratio was ⟨volatility_1y⟩" for most real shares."""


def write_companies(seed: int, companies: int, folder: Path) -> list[Path]:
    """``companies`` redrawn and filed like real ones, as a long CSV, a sectors file and their daily prices (to
    :data:`PRICES_TO`, against the sample's index); returns the inputs."""
    rng = random.Random(f"{seed}/real-like")
    out, sics = [], {}
    for index in range(companies):
        profile = economy(PROFILES[index % len(PROFILES)], index, rng)
        company, sic = filed_like_real(simulate(profile, random.Random(f"{seed}/{index}")), rng)
        out.append(company)
        if sic:
            sics[profile.entity_id] = sic
    folder.mkdir(parents=True, exist_ok=True)
    write_long(out, folder / "facts.csv")
    write_prices(out, folder / "prices.csv", seed, PRICES_TO)
    inputs = [folder / "facts.csv", folder / "prices.csv"]
    if sics:
        (folder / "sectors.csv").write_text("entity_id,sic\n" + "".join(f"{e},{s}\n" for e, s in sics.items()),
                                           encoding="utf-8")
        inputs.append(folder / "sectors.csv")
    return inputs


def company_periods(run: FactsRun) -> list[Context]:
    """A narrator's context for every company and period of a run (not only the report period)."""
    out = []
    periods = run.analysis.base.select("entity_id", "fiscal_year", "fiscal_period").unique().sort(pl.all())
    for entity, rows in periods.group_by("entity_id", maintain_order=True):
        findings = [f for part in run.entity_findings(entity[0]) for f in part]
        for _, year, period in rows.iter_rows():
            out.append(context(run.analysis, run.graph, findings, entity[0], (year, str(period))))
    return out


def generated_run(seed: int, companies: int, folder: Path) -> FactsRun:
    """The sample generator's companies for one seed (prices to :data:`PRICES_TO`), through ingest, metrics and
    the reasoner."""
    write_sample(folder, seed=seed, n_companies=companies, as_of=PRICES_TO)
    return build([folder / "long"])


def dated_contexts(inputs: Sequence[Path], dates: Sequence[date], benchmark: str) -> tuple[list[Context],
                                                                                       list[Context]]:
    """(the market questions' contexts of every company with prices, the portfolios' contexts of every book the
    inputs hold), each share and book measured at each date against ``benchmark`` (the valuation on the
    statements known then): one run of the pipeline per date."""
    shares: list[Context] = []
    books: list[Context] = []
    for as_of in dates:
        run = build(list(inputs), as_of=as_of, benchmark=benchmark)
        shares += [c for c in contexts(run, run.entities).values() if c.as_of]
        books += list(portfolio_contexts(run).values())
    return shares, books


def market_jobs(found: Sequence[Context]) -> list[tuple[Question, Context]]:
    """Every market (or portfolio) question of every market (or portfolio) context: a held-out set small enough to
    ask in full."""
    return [(q, c) for c in found for q in catalogue() if (q.market or q.portfolio) and asked(q, c)]


def real_inputs(patterns: Sequence[str]) -> list[Path]:
    """The held-out real filings: each pattern a file, a folder or a glob pattern, in order, once each."""
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(Path().glob(pattern)) if any(c in pattern for c in "*?[") else [Path(pattern)]
        found += [m for m in matches if m.exists() and m not in found]
    return found


def sampled(found: Sequence[Context], seed: int, answers: int) -> list[tuple[Question, Context]]:
    """A seeded sample of every question of every company-period that the company is asked."""
    jobs = [(q, c) for c in found for q in catalogue() if asked(q, c)]
    return random.Random(seed).sample(jobs, min(answers, len(jobs)))


@dataclass
class Corpus:
    """Training examples, the held-out questions by set ("synthetic", "real"), and what the card says of both."""

    examples: list[Example]
    held_out: dict[str, list[tuple[Question, Context]]]
    about: dict[str, Any] = field(default_factory=dict)


def build_corpus(*, seeds: Sequence[int], companies: int, real_like: int, labels: Sequence[str], seed: int,
                 eval_seed: int, eval_companies: int, eval_answers: int, real: Sequence[str] = (),
                 real_prices: Sequence[str] = (), real_benchmark: str = "SP500", corrected: Path | None = None,
                 inputs: Sequence[Path] = (), log: Any = None) -> Corpus:
    """Training examples from the seeds' companies (every period, and their shares at each of
    :data:`TRAIN_AS_OF`): the sample's and those filed like real ones; the analysts' accepted corrections
    (``corrected``, about the statements in ``inputs``); and the held-out questions: the evaluation seed's
    companies (both kinds), their shares at :data:`EVAL_AS_OF`, the real filings, and the real prices
    (``real_prices``, against ``real_benchmark``) at :data:`REAL_AS_OF`, apart. ``log`` (a logger) hears of each
    seed and of each refused correction."""
    rng = random.Random(seed)
    stats: Counter[str] = Counter()
    examples: list[Example] = []
    refused: list[str] = []
    markets = [q for q in catalogue() if q.market]
    portfolios = [q for q in catalogue() if q.portfolio]
    with tempfile.TemporaryDirectory() as tmp:
        for s in seeds:
            folder = Path(tmp) / f"seed{s}"
            examples += examples_for(company_periods(generated_run(s, companies, folder)), labels, rng, stats)
            like = write_companies(s, real_like, Path(tmp) / f"real-like{s}")
            examples += examples_for(company_periods(build(like)), labels, rng, stats)
            sample_books = write_books([folder / "prices" / "prices.csv"], folder / "books", s, MARKET_INDEX)
            like_books = write_books(like, like[0].parent / "books", s, MARKET_INDEX)
            for inputs in ([folder / "long", folder / "prices", *sample_books], [*like, *like_books]):
                shares, books = dated_contexts(inputs, TRAIN_AS_OF, MARKET_INDEX)
                examples += examples_for(shares, labels, rng, stats, markets) * MARKET_REPEATS
                examples += examples_for(books, labels, rng, stats, portfolios) * MARKET_REPEATS
            alone, _ = dated_contexts([folder / "prices"], TRAIN_AS_OF[-1:], MARKET_INDEX)  # prices alone
            examples += examples_for(alone, labels, rng, stats, markets) * MARKET_REPEATS
            if log:
                log.info("seed %s: %s sample and %s real-like companies, %s examples so far", s, companies,
                         real_like, len(examples))
        if corrected:
            found = {(c.entity_id, c.period): c for c in company_periods(build(list(inputs)))}
            accepted, refused = corrections(corrected, found, labels)
            examples += accepted * 4  # an analyst's edit outweighs one generated phrasing
            stats["corrections accepted"] = len(accepted)
            if log:
                for line in refused:
                    log.warning(line)
        folder = Path(tmp) / "eval"
        held_out = company_periods(generated_run(eval_seed, eval_companies, folder))
        like = write_companies(eval_seed, eval_companies, Path(tmp) / "eval-real")
        held_out += company_periods(build(like))
        sample_books = write_books([folder / "prices" / "prices.csv"], folder / "books", eval_seed, MARKET_INDEX)
        like_books = write_books(like, like[0].parent / "books", eval_seed, MARKET_INDEX)
        shares, books = dated_contexts([folder / "long", folder / "prices", *sample_books], EVAL_AS_OF, MARKET_INDEX)
        more_shares, more_books = dated_contexts([*like, *like_books], EVAL_AS_OF, MARKET_INDEX)
        quoted = real_inputs(real_prices)
        if quoted:
            books_at = write_books(expand_inputs(quoted), Path(tmp) / "real-books", eval_seed, real_benchmark,
                                   ("USD",))  # the real prices are dollars that say no currency
            real_shares, real_books = dated_contexts([*quoted, *books_at], REAL_AS_OF, real_benchmark)
    jobs = {"synthetic": sampled(held_out, eval_seed, eval_answers), "market": market_jobs(shares + more_shares),
            "portfolios": market_jobs(books + more_books)}
    filings = real_inputs(real)
    if filings:
        jobs["real"] = sampled(company_periods(build(filings)), eval_seed, eval_answers)
    if quoted:
        jobs["real prices"] = market_jobs(real_shares)
        jobs["real portfolios"] = market_jobs(real_books)
    examples, repeated = balanced(examples)
    about = {"examples": len(examples), "by_source": {k: v for k, v in stats.items() if not k.startswith("refused")},
             "repeated": repeated,
             "refused_targets": sum(v for k, v in stats.items() if k.startswith("refused")),
             "refused_corrections": refused, "held_out_answers": {k: len(v) for k, v in jobs.items()},
             "real_inputs": [str(p) for p in filings], "real_prices": [str(p) for p in quoted]}
    return Corpus(examples, jobs, about)
